"""Reading labels.csv: every row checked, problems collected, nothing raised for bad rows."""
from __future__ import annotations

import csv
from pathlib import Path

from hfecg_bench.data.validate import check_label
from hfecg_bench.errors import HfecgError, Problem


def read_labels(path: Path, key: str, required: tuple[str, ...]) -> tuple[dict[str, dict], list[Problem]]:
    """Read ``path`` into ``{row[key]: row}`` with ``row["label"]`` parsed to 0/1.

    Parameters
    ----------
    path : Path
        The CSV file; its header must contain every column of ``required``.
    key : str
        Column identifying a row (``record`` or ``patient_id``).
    required : tuple of str
        Columns that must be present.

    Returns
    -------
    rows : dict
        Key -> row dict for every row with a key (the first of duplicated keys); ``row["label"]``
        is 0 or 1, or None when the label is bad (a problem names it, and the loader still reads
        the record's signal, so that every problem of the record is found in one pass);
        ``row["_line"]`` is the row's line number in the file.
    problems : list of Problem
        Bad labels, duplicate keys and rows with more fields than the header, each naming the row's key.

    Raises
    ------
    HfecgError
        If the file is missing, unreadable or lacks a required column (nothing else can be checked then).
    """
    path = Path(path)
    if not path.exists():
        raise HfecgError(f"labels file not found: {path}")
    try:
        with open(path, newline="", encoding="utf-8-sig") as f:
            reader = csv.DictReader(f)
            header = [h.strip() for h in (reader.fieldnames or [])]
            rows = [_clean(r) for r in reader]
    except (OSError, UnicodeDecodeError, csv.Error) as exc:
        raise HfecgError(f"labels file {path} is unreadable: {exc}") from None
    missing = [c for c in required if c not in header]
    if missing:
        raise HfecgError(f"labels file {path} lacks column(s) {missing}; it has {header}, needs {list(required)}")
    out: dict[str, dict] = {}
    problems: list[Problem] = []
    for i, row in enumerate(rows, start=2):
        k = row.get(key, "")
        if not k:
            problems.append(Problem(f"{path.name} line {i}", f"empty {key!r} cell"))
            continue
        if k in out:
            problems.append(Problem(k, f"duplicate {key} {k!r} in {path.name} (line {i})"))
            continue
        extra = row.pop(None, None)
        if extra is not None:
            problems.append(Problem(k, f"{path.name} line {i} has {len(header) + len(extra)} fields, the header "
                                       f"{len(header)} ({', '.join(header)}): extra value(s) {extra}"))
        label, reason = check_label(row.get("label", ""))
        if reason:
            problems.append(Problem(k, f"{reason} in {path.name} line {i}"))
        row["label"] = label
        row["_line"] = i
        out[k] = row
    return out, problems


def _clean(row: dict) -> dict:
    """Cells stripped; a row's surplus values (``csv.DictReader`` puts them under None) kept as a list."""
    out = {}
    for k, v in row.items():
        if k is None:
            out[None] = [str(x).strip() for x in (v or [])]
        else:
            out[k.strip()] = (v or "").strip()
    return out
