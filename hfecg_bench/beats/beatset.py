"""BeatSet: aligned kept beats of a whole cohort, the deep models' input.

Examples
--------
>>> from hfecg_bench.data import generate_cohort
>>> cohort = generate_cohort(preset="hf_effect", n_patients=2, duration_s=10, seed=1)
>>> wide = extract_beatset(cohort, cache_dir=False)
>>> hf = extract_beatset(cohort, band="hf", hf_band=(150.0, 250.0), cache_dir=False)
>>> wide.X.shape[1:], wide.X.shape == hf.X.shape, sorted(map(str, set(hf.record_ids))), hf.info["hf_band"]
((400, 12), True, ['syn001', 'syn002'], [150.0, 250.0])
>>> bool(abs(hf.X).max() < 0.1 * abs(wide.X).max())     # microvolt HF content of millivolt beats
True
"""
from __future__ import annotations

import hashlib
import io
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from hfecg_bench.bands import HF_BAND_HZ, check_band
from hfecg_bench.beats.config import BeatConfig
from hfecg_bench.beats.filters import bandpass
from hfecg_bench.beats.pipeline import aligned_windows, beats_from_record
from hfecg_bench.cohort import Excluded
from hfecg_bench.errors import HfecgError, ParameterError
from hfecg_bench.io import write_atomic
from hfecg_bench.leads import STANDARD_LEADS
from hfecg_bench.paths import cache_unwritable, resolve_cache_dir

BANDS = ("wideband", "hf")
_VERSION = "beatset-2"


@dataclass(eq=False)
class BeatSet:
    """Beats of a cohort, one row per beat.

    Attributes
    ----------
    X : ndarray of float32, (n_beats, n_window, n_leads)
        Aligned kept beats in mV (``band="hf"``: zero-phase band-passed to ``info["hf_band"]``).
    record_ids, patient_ids : ndarray of str, (n_beats,)
    labels : ndarray of int, (n_beats,)
        The records' labels (-1 for a record without a label).
    fs : float
    lead_names : tuple of str
    excluded : list of Excluded
        Records with too few usable beats (and the cohort's own exclusions).
    band : str
    info : dict
        Beats per record, the beat configuration and, for ``band="hf"``, the band in Hz.
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


def cap_beats(rows: np.ndarray, beat_patients: np.ndarray, cap: int, rng: np.random.Generator) -> np.ndarray:
    """A seeded random subset of at most ``cap`` of ``rows`` per patient, in ascending order.

    The one beat cap of the package (deep-model training, the split-leakage diagnostic): patients
    with many beats must not dominate a fit.

    Parameters
    ----------
    rows : ndarray of int
        Candidate beat rows.
    beat_patients : ndarray, (n_beats,)
        Patient of every beat of the set (indexed by ``rows``).
    cap : int
        Most beats kept per patient.
    rng : numpy.random.Generator

    Examples
    --------
    >>> pids = np.repeat(np.array(["a", "b"]), [6, 2])
    >>> rows = cap_beats(np.arange(8), pids, 3, np.random.default_rng(0))
    >>> [int((pids[rows] == p).sum()) for p in ("a", "b")], bool(np.all(np.diff(rows) > 0))
    ([3, 2], True)
    """
    rows = np.asarray(rows)
    perm = rows[rng.permutation(rows.size)]
    rank = pd.Series(beat_patients[perm]).groupby(beat_patients[perm], sort=False).cumcount().to_numpy()
    return np.sort(perm[rank < cap])


def beat_cache_key(record, config: BeatConfig, band: str, leads, hf_band=HF_BAND_HZ) -> str:
    """Name of one record's cached beats: hash of its content, the configuration, band (with the
    HF edges when ``band="hf"``) and leads."""
    band_text = f"hf{list(check_band('hf_band', hf_band))}" if band == "hf" else band
    h = hashlib.sha256(f"{_VERSION}|{record.content_hash()}|{config.key()}|{band_text}|{list(leads)}".encode())
    return h.hexdigest()[:32]


def record_beats(record, config: BeatConfig, band: str = "wideband", leads: tuple[str, ...] = STANDARD_LEADS,
                 hf_band: tuple[float, float] = HF_BAND_HZ) -> tuple[np.ndarray, str | None]:
    """Aligned kept beats of one record restricted to ``leads``; ``(X, None)`` or ``(empty, reason)``.

    ``X`` is float32 ``(n_kept, n_window, len(leads))`` in mV, band-passed to ``hf_band`` (Hz)
    when ``band="hf"``.
    """
    res = beats_from_record(record, config)
    cols = [record.lead_index(lead) for lead in leads]
    if res.info.get("no_ecg"):
        return np.zeros((0, res.windows.shape[1], len(cols)), np.float32), res.info["no_ecg"]
    if res.n_kept < config.min_beats:
        why = res.info.get("error") or f"rejected: {res.rejection_summary()}"
        return np.zeros((0, res.windows.shape[1], len(cols)), np.float32), (
            f"only {res.n_kept} usable beat(s) (< min_beats={config.min_beats}) of "
            f"{res.info.get('n_detected', 0)} detected; {why}")
    if band == "wideband":
        return res.windows[..., cols], None
    lo, hi = check_band("hf_band", hf_band)
    if record.is_beats:
        hf = bandpass(res.windows[..., cols], record.fs, (lo, hi), order=config.hf_order, axis=1)
        return hf.astype(np.float32), None
    sig = bandpass(record.signal[:, cols], record.fs, (lo, hi), order=config.hf_order, axis=0)
    return aligned_windows(sig, res, config), None


def extract_beatset(cohort, config: BeatConfig | None = None, *, band: str = "wideband",
                    hf_band: tuple[float, float] = HF_BAND_HZ, cache_dir=False, progress=None,
                    leads: tuple[str, ...] = STANDARD_LEADS) -> BeatSet:
    """Beats of every record of ``cohort``, aligned and cleaned, stacked into one :class:`BeatSet`.

    Parameters
    ----------
    cohort : Cohort
    config : BeatConfig, optional
    band : {"wideband", "hf"}
        ``hf``: the beats band-passed to ``hf_band`` with a zero-phase Butterworth of order
        ``config.hf_order``, filtered on the continuous recording before cutting.
    hf_band : (float, float), default :data:`hfecg_bench.bands.HF_BAND_HZ` (150, 250)
        Band in Hz of ``band="hf"`` (a run passes ``FeatureConfig.hf_band``); unused for wideband.
    cache_dir : Path, None or False, default False
        Per-record ``.npz`` cache keyed by the record's content hash, the beat configuration,
        band (with ``hf_band``) and leads: ``False`` no cache, ``None`` the default folder
        (:func:`hfecg_bench.paths.cache_dir` ``("beats")``), a path that folder.
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
    hf_band = check_band("hf_band", hf_band)
    directory = resolve_cache_dir(cache_dir, "beats")
    rates = sorted({float(r.fs) for r in cohort.records})
    if len(rates) > 1:
        raise HfecgError(f"records have different sampling rates {rates}; resample them to one rate first")
    if band == "hf" and rates and hf_band[1] >= 0.5 * rates[0]:
        raise ParameterError("hf_band", hf_band, f"upper edge {hf_band[1]:g} Hz is not below the Nyquist frequency "
                                                 f"{0.5 * rates[0]:g} Hz of records sampled at fs={rates[0]:g} Hz")
    excluded = list(cohort.excluded)
    xs, rids, pids, labels, per_record = [], [], [], [], {}
    n = len(cohort.records)
    for i, rec in enumerate(cohort.records):
        path = directory / f"{beat_cache_key(rec, config, band, leads, hf_band)}.npz" if directory else None
        if path is not None and path.is_file():
            with np.load(path, allow_pickle=False) as z:
                X, reason = z["X"], (str(z["reason"]) or None)
        else:
            X, reason = record_beats(rec, config, band, leads, hf_band)
            if path is not None:
                buf = io.BytesIO()
                np.savez(buf, X=X, reason=np.array(reason or ""))
                try:
                    path.parent.mkdir(parents=True, exist_ok=True)
                    write_atomic(path, buf.getvalue())
                except OSError as exc:
                    cache_unwritable(directory, exc)
                    directory = None                  # go on without the cache
        if reason:
            excluded.append(Excluded(rec.record_id, reason))
        else:
            xs.append(X)
            rids += [rec.record_id] * len(X)
            pids += [rec.patient_id] * len(X)
            labels += [-1 if rec.label is None else rec.label] * len(X)
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
                         "n_records": len(per_record), "hf_band": list(hf_band) if band == "hf" else None})
