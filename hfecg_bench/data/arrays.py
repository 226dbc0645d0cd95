"""Sources of pre-cut beats: `--dataset npz` (one .npz of arrays) and `--dataset beats` (a folder of .npy files).

Both give one :class:`~hfecg_bench.cohort.Record` per patient whose ``beats`` is
``(n_beats, n_window, n_leads)`` float32 mV; the record id is the patient id.
"""
from __future__ import annotations

import re
import warnings
from collections import defaultdict
from pathlib import Path

import numpy as np

from hfecg_bench.cohort import Cohort, Record
from hfecg_bench.data.assemble import assemble, validate_record
from hfecg_bench.data.labels import read_labels
from hfecg_bench.data.validate import LoadOptions
from hfecg_bench.errors import HfecgError, HfecgWarning, Problem
from hfecg_bench.leads import STANDARD_LEADS, normalize_leads

DEFAULT_BEATS_FS = 1000.0
BEAT_FILE = re.compile(r"^(?P<patient>.+)_beat_(?P<index>\d+)\.npy$")


MAX_LEADS = 64   # more "leads" than this, with a window no longer than that, is an array stored leads first


def _default_leads(n_leads: int) -> tuple[str, ...]:
    return STANDARD_LEADS if n_leads == len(STANDARD_LEADS) else tuple(f"L{i + 1}" for i in range(n_leads))


def _transposed(n_window: int, n_leads: int) -> bool:
    """True when ``(…, n_window, n_leads)`` looks like ``(…, n_leads, n_window)`` stored the wrong way round."""
    return n_leads > MAX_LEADS and n_window <= MAX_LEADS


def parse_fs(value, what: str) -> tuple[float | None, str | None]:
    """A sampling rate from an array or a CSV cell: ``(Hz, None)`` or ``(None, reason naming what)``.

    >>> parse_fs("1000", "fs"), parse_fs("1kHz", "fs")[1]
    ((1000.0, None), "fs '1kHz' is not a sampling rate in Hz (a number such as 1000)")
    """
    arr = np.asarray(value)
    if arr.size != 1:
        return None, f"{what} holds {arr.size} values {arr.ravel()[:5].tolist()}; expected one sampling rate in Hz"
    item = arr.ravel()[0].item() if hasattr(arr.ravel()[0], "item") else arr.ravel()[0]
    try:
        fs = float(item)
    except (TypeError, ValueError):
        return None, f"{what} {item!r} is not a sampling rate in Hz (a number such as 1000)"
    if not (np.isfinite(fs) and fs > 0):
        return None, f"{what} {fs!r} is not a sampling rate in Hz (a positive number such as 1000)"
    return fs, None


def load_npz(path: Path, options: LoadOptions) -> Cohort:
    """Read ``X (n_beats, n_window, n_leads)``, ``y``, ``patient_ids``, ``fs`` and optional ``lead_names``.

    ``y`` is per beat; a patient whose beats disagree on the label is a problem.
    """
    path = Path(path)
    if not path.is_file():
        raise HfecgError(f"npz file not found: {path}")
    try:
        with np.load(path, allow_pickle=False) as z:
            arrays = {k: z[k] for k in z.files}
    except Exception as exc:
        raise HfecgError(f"cannot read {path} as .npz ({type(exc).__name__}: {exc})") from None
    missing = [k for k in ("X", "y", "patient_ids", "fs") if k not in arrays]
    if missing:
        raise HfecgError(f"{path.name} lacks array(s) {missing}; has {sorted(arrays)}; "
                         "needs X (n_beats, n_window, n_leads), y, patient_ids, fs")
    X, y, pids = arrays["X"], np.asarray(arrays["y"]).ravel(), np.asarray(arrays["patient_ids"]).astype(str).ravel()
    if X.ndim != 3:
        raise HfecgError(f"{path.name}: X must be (n_beats, n_window, n_leads), got shape {X.shape}")
    if X.shape[0] == 0:
        raise HfecgError(f"{path.name}: X holds 0 beats (shape {X.shape}): nothing to read")
    if "lead_names" not in arrays and _transposed(X.shape[1], X.shape[2]):
        raise HfecgError(f"{path.name}: X of shape {X.shape} looks transposed (leads first): expected "
                         f"(n_beats, n_window, n_leads); store np.swapaxes(X, 1, 2)")
    if not np.issubdtype(X.dtype, np.number) or np.issubdtype(X.dtype, np.complexfloating):
        raise HfecgError(f"{path.name}: X has dtype {X.dtype}; expected real numbers (mV)")
    if not (len(y) == len(pids) == X.shape[0]):
        raise HfecgError(f"{path.name}: X has {X.shape[0]} beats but y has {len(y)} and patient_ids {len(pids)}")
    fs, reason = parse_fs(arrays["fs"], f"{path.name}: fs")
    if reason:
        raise HfecgError(reason)
    names = (normalize_leads(np.asarray(arrays["lead_names"]).astype(str)) if "lead_names" in arrays
             else _default_leads(X.shape[2]))
    if len(names) != X.shape[2]:
        raise HfecgError(f"{path.name}: {len(names)} lead_names for {X.shape[2]} leads")
    problems: list[Problem] = []
    records: list[Record] = []
    for pid in dict.fromkeys(pids):
        idx = np.flatnonzero(pids == pid)
        beats = X[idx].astype(np.float32)
        problems.extend(validate_record(pid, beats, fs, names, options))
        labels = {_label_value(v) for v in np.unique(y[idx]).tolist()}
        if not labels <= {0, 1}:
            problems.append(Problem(pid, f"label(s) {sorted(map(str, labels))} not 0 or 1"))
            continue
        if len(labels) > 1:
            problems.append(Problem(pid, f"beats of patient {pid} disagree on the label ({sorted(labels)})"))
            continue
        records.append(Record(record_id=pid, patient_id=pid, label=int(labels.pop()), fs=fs, lead_names=names,
                              beats=beats, source=str(path)))
    return assemble("npz", str(path), records, problems, options)


def load_beat_files(folder: Path, labels: Path | None, options: LoadOptions, fs: float | None = None) -> Cohort:
    """Read ``<patient>_beat_<i>.npy`` files (each ``(n_window, n_leads)``) and ``labels.csv`` (``patient_id,label``).

    The sampling rate comes from ``fs``, else an ``fs`` column of labels.csv, else
    1000 Hz (said in ``Cohort.info['fs_source']``). Beats are stacked in index order.
    """
    folder = Path(folder)
    if not folder.is_dir():
        raise HfecgError(f"beat folder not found: {folder}")
    labels = Path(labels) if labels else folder / "labels.csv"
    rows, problems = read_labels(labels, key="patient_id", required=("patient_id", "label"))
    subfolders = sorted(d.name for d in folder.iterdir() if d.is_dir())
    if subfolders:
        warnings.warn(f"beats: subfolder(s) {subfolders} of {folder} ignored: beat files are read from the top "
                      "level only (<patient>_beat_<i>.npy)", HfecgWarning, stacklevel=2)
    files: dict[str, list[tuple[int, Path]]] = defaultdict(list)
    for f in sorted(folder.glob("*.npy")):
        m = BEAT_FILE.match(f.name)
        if m is None:
            problems.append(Problem(f.name, "file name does not match <patient>_beat_<i>.npy"))
            continue
        files[m.group("patient")].append((int(m.group("index")), f))
    fs_source = "--fs" if fs else None
    records: list[Record] = []
    for pid, row in rows.items():
        if pid not in files:
            problems.append(Problem(pid, f"{labels.name} row with no beat files ({pid}_beat_<i>.npy)"))
            continue
        rec_fs = fs
        if rec_fs is None and row.get("fs"):
            rec_fs, reason = parse_fs(row["fs"], f"{labels.name} line {row['_line']} fs")
            if reason:
                problems.append(Problem(pid, reason))
                rec_fs = DEFAULT_BEATS_FS     # go on with the other checks of this patient's beats
        if rec_fs is None:
            rec_fs, fs_source = DEFAULT_BEATS_FS, f"assumed {DEFAULT_BEATS_FS:g} Hz (no --fs, no fs column)"
        beats, reason = _stack(sorted(files[pid]))
        if reason:
            problems.append(Problem(pid, reason))
            continue
        names = _default_leads(beats.shape[2])
        problems.extend(validate_record(pid, beats, rec_fs, names, options))
        if row["label"] is None:
            continue                            # the bad label is listed; nothing to build
        records.append(Record(record_id=pid, patient_id=pid, label=int(row["label"]), fs=rec_fs,
                              lead_names=names, beats=beats, source=str(folder)))
    for pid in sorted(set(files) - set(rows)):
        if pid not in {p.record for p in problems}:
            problems.append(Problem(pid, f"beat files with no row in {labels.name}"))
    return assemble("beats", str(folder), records, problems, options,
                    info={"fs_source": fs_source or "labels.csv fs column"})


def _label_value(v):
    """A label of an npz ``y`` as 0/1 where it is one (``1``, ``1.0``, ``"1"``), else as given."""
    try:
        f = float(v)
    except (TypeError, ValueError):
        return v
    return int(f) if f in (0.0, 1.0) else v


def _stack(items: list[tuple[int, Path]]) -> tuple[np.ndarray | None, str | None]:
    by_index: dict[int, list[str]] = defaultdict(list)
    for i, f in items:
        by_index[i].append(f.name)
    clash = [names for names in by_index.values() if len(names) > 1]
    if clash:
        return None, ("ambiguous beat numbering: " + "; ".join(" and ".join(n) for n in clash)
                      + " have the same index (keep one of each)")
    arrays = []
    for _, f in items:
        try:
            a = np.load(f, allow_pickle=False)
        except Exception as exc:
            return None, f"unreadable beat file {f.name} ({type(exc).__name__})"
        if a.ndim != 2:
            return None, f"beat file {f.name} has shape {a.shape}, expected (n_window, n_leads)"
        if _transposed(*a.shape):
            return None, (f"beat file {f.name} of shape {a.shape} looks transposed (leads first): "
                          "expected (n_window, n_leads)")
        if not np.issubdtype(a.dtype, np.number) or np.issubdtype(a.dtype, np.complexfloating):
            return None, f"beat file {f.name} has dtype {a.dtype}; expected real numbers (mV)"
        arrays.append(a)
    shapes = {a.shape for a in arrays}
    if len(shapes) > 1:
        return None, f"beat files differ in shape: {sorted(shapes)}"
    return np.stack(arrays).astype(np.float32), None
