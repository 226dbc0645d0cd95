"""`--dataset wfdb`: any folder of WFDB records plus labels.csv (`record,patient_id,label`)."""
from __future__ import annotations

from pathlib import Path

from hfecg_bench.cohort import Cohort, Record
from hfecg_bench.data.assemble import assemble, validate_record
from hfecg_bench.data.labels import read_labels
from hfecg_bench.data.validate import LoadOptions
from hfecg_bench.data.wfdb_io import read_wfdb
from hfecg_bench.errors import HfecgError, Problem
from hfecg_bench.leads import normalize_leads


def find_records(folder: Path) -> dict[str, Path]:
    """Record name -> path without extension, for every ``.hea`` under ``folder`` (recursively)."""
    found: dict[str, Path] = {}
    for hea in sorted(Path(folder).rglob("*.hea")):
        rel = hea.relative_to(folder).with_suffix("")
        found.setdefault(hea.stem, hea.with_suffix(""))
        found.setdefault(rel.as_posix(), hea.with_suffix(""))
    return found


def load_wfdb_folder(folder: Path, labels: Path | None, options: LoadOptions, dataset: str = "wfdb",
                     progress=None) -> Cohort:
    """Read every record named in ``labels`` (default ``folder/labels.csv``) and check all of them.

    The ``record`` column is the record name (file stem) or its path relative to ``folder``.
    Problems found: rows with no record, records with no row, unreadable/truncated files,
    header/signal mismatch, bad labels, NaN runs, flat or missing leads, low sampling rate.
    """
    folder = Path(folder)
    if not folder.is_dir():
        raise HfecgError(f"data folder not found: {folder}")
    labels = Path(labels) if labels else folder / "labels.csv"
    rows, problems = read_labels(labels, key="record", required=("record", "patient_id", "label"))
    on_disk = find_records(folder)
    bad_rows = {p.record for p in problems}
    listed_paths = set()
    records: list[Record] = []
    for i, (rid, row) in enumerate(rows.items()):
        if progress:
            progress(i, len(rows), rid)
        path = on_disk.get(rid)
        if path is None:
            problems.append(Problem(rid, f"labels.csv row with no record: no {rid}.hea under {folder}"))
            continue
        listed_paths.add(path)
        pid = row.get("patient_id") or rid
        sig, reason = read_wfdb(path)
        if reason:
            problems.append(Problem(rid, reason))
            continue
        issues = validate_record(rid, sig.signal, sig.fs, sig.lead_names, options)
        problems.extend(issues)
        meta = {k: v for k, v in row.items() if k not in ("record", "patient_id", "label") and v}
        records.append(Record(record_id=rid, patient_id=str(pid), label=int(row["label"]), fs=sig.fs,
                              lead_names=normalize_leads(sig.lead_names), signal=sig.signal,
                              source=str(path), meta=meta))
    for name, path in sorted(on_disk.items()):
        if path not in listed_paths and name == path.stem and name not in bad_rows:
            problems.append(Problem(name, f"record with no row in {labels.name}"))
    return assemble(dataset, str(folder), records, problems, options, info={"labels_file": str(labels)})
