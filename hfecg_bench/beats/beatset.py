"""BeatSet: aligned kept beats of a whole cohort, the deep models' input."""
from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from hfecg_bench.beats.config import BeatConfig
from hfecg_bench.beats.filters import bandpass
from hfecg_bench.beats.pipeline import aligned_windows, beats_from_record
from hfecg_bench.cohort import Excluded
from hfecg_bench.errors import HfecgError, ParameterError
from hfecg_bench.leads import STANDARD_LEADS

BANDS = ("wideband", "hf")
_VERSION = "beatset-1"


@dataclass(eq=False)
class BeatSet:
    """Beats of a cohort, one row per beat.

    Attributes
    ----------
    X : ndarray of float32, (n_beats, n_window, n_leads)
        Aligned kept beats in mV (``band="hf"``: 150-250 Hz zero-phase band-passed).
    record_ids, patient_ids : ndarray of str, (n_beats,)
    labels : ndarray of int, (n_beats,)
    fs : float
    lead_names : tuple of str
    excluded : list of Excluded
        Records with too few usable beats (and the cohort's own exclusions).
    band : str
    info : dict
        Beats per record and the beat configuration.
    """

    X: np.ndarray
    record_ids: np.ndarray
    patient_ids: np.ndarray
    labels: np.ndarray
    fs: float
    lead_names: tuple
    excluded: list = field(default_factory=list)
    band: str = "wideband"
    info: dict = field(default_factory=dict)

    def __len__(self) -> int:
        return int(self.X.shape[0])


def _cache_path(cache_dir: Path, record, config: BeatConfig, band: str, leads) -> Path:
    h = hashlib.sha256(f"{_VERSION}|{record.content_hash()}|{config.key()}|{band}|{list(leads)}".encode())
    return Path(cache_dir) / f"{h.hexdigest()[:32]}.npz"


def record_beats(record, config: BeatConfig, band: str = "wideband",
                 leads: tuple[str, ...] = STANDARD_LEADS) -> tuple[np.ndarray, str | None]:
    """Aligned kept beats of one record restricted to ``leads``; ``(X, None)`` or ``(empty, reason)``."""
    res = beats_from_record(record, config)
    cols = [record.lead_index(lead) for lead in leads]
    if res.n_kept < config.min_beats:
        why = res.info.get("error") or f"rejected: {res.rejection_summary()}"
        return np.zeros((0, res.windows.shape[1], len(cols)), np.float32), (
            f"only {res.n_kept} usable beat(s) (< min_beats={config.min_beats}) of "
            f"{res.info.get('n_detected', 0)} detected; {why}")
    if band == "wideband":
        return res.windows[..., cols], None
    lo, hi = config.hf_band
    if record.is_beats:
        hf = bandpass(res.windows[..., cols], record.fs, (lo, hi), order=config.hf_order, axis=1)
        return hf.astype(np.float32), None
    sig = bandpass(record.signal[:, cols], record.fs, (lo, hi), order=config.hf_order, axis=0)
    return aligned_windows(sig, res, config), None


def extract_beatset(cohort, config: BeatConfig | None = None, band: str = "wideband", cache_dir=None,
                    progress=None, leads: tuple[str, ...] = STANDARD_LEADS) -> BeatSet:
    """Beats of every record of ``cohort``, aligned and cleaned, stacked into one :class:`BeatSet`.

    Parameters
    ----------
    cohort : Cohort
    config : BeatConfig, optional
    band : {"wideband", "hf"}
        ``hf``: the beats band-passed ``config.hf_band`` (150-250 Hz) with a zero-phase Butterworth
        of order ``config.hf_order``, filtered on the continuous recording before cutting.
    cache_dir : Path, optional
        When given, each record's beats are stored there as ``.npz`` keyed by the record's
        content hash, the beat configuration, band and leads.
    progress : callable(i, n, name), optional
    leads : tuple of str
        Leads exported, in order (default the 12 standard leads).

    Raises
    ------
    HfecgError
        When the records disagree on the sampling rate, or no record has enough beats.
    """
    config = config or BeatConfig()
    if band not in BANDS:
        raise ParameterError("band", band, f"choose one of {list(BANDS)}")
    rates = sorted({float(r.fs) for r in cohort.records})
    if len(rates) > 1:
        raise HfecgError(f"records have different sampling rates {rates}; resample them to one rate first")
    excluded = list(cohort.excluded)
    xs, rids, pids, labels, per_record = [], [], [], [], {}
    n = len(cohort.records)
    for i, rec in enumerate(cohort.records):
        path = _cache_path(cache_dir, rec, config, band, leads) if cache_dir else None
        if path is not None and path.exists():
            with np.load(path, allow_pickle=False) as z:
                X, reason = z["X"], (str(z["reason"]) or None)
        else:
            X, reason = record_beats(rec, config, band, leads)
            if path is not None:
                path.parent.mkdir(parents=True, exist_ok=True)
                tmp = path.with_suffix(".tmp.npz")
                np.savez(tmp, X=X, reason=np.array(reason or ""))
                tmp.replace(path)
        if reason:
            excluded.append(Excluded(rec.record_id, reason))
        else:
            xs.append(X)
            rids += [rec.record_id] * len(X)
            pids += [rec.patient_id] * len(X)
            labels += [rec.label] * len(X)
            per_record[rec.record_id] = int(len(X))
        if progress:
            progress(i, n, rec.record_id)
    if not xs:
        reasons = "; ".join(f"{e.record}: {e.reason}" for e in excluded[-5:])
        raise HfecgError(f"no record of the cohort has {config.min_beats} usable beats ({reasons})")
    lens = {x.shape[1] for x in xs}
    if len(lens) > 1:
        raise HfecgError(f"beat windows of different lengths {sorted(lens)} samples; use one sampling rate and window")
    return BeatSet(X=np.concatenate(xs).astype(np.float32, copy=False), record_ids=np.array(rids),
                   patient_ids=np.array(pids), labels=np.array(labels, dtype=np.int64), fs=rates[0],
                   lead_names=tuple(leads), excluded=excluded, band=band,
                   info={"beats_per_record": per_record, "beat_config": config.as_dict(),
                         "n_records": len(per_record)})
