"""How each patient's recordings were made: the acquisition properties a label could hide behind.

:func:`recording_properties` measures, per record, what the recording device and protocol
decide rather than the heart (sampling rate, length, noise floor, mains interference,
amplitude scale, ADC quantisation, lead set, device/site fields of ``Record.meta``) and
averages them per patient. :mod:`hfecg_bench.diagnostics.confound` then asks whether the
label is predictable from them alone.

Methods (one Welch spectrum per record, all leads at once; one beat detection per record):

- ``n_beats``: QRS complexes found by :func:`hfecg_bench.beats.detect.beats_detect` (spatial
  QRS energy of all leads); it follows duration x heart rate. Pre-cut beats: their count.
- ``hf_noise_uv``: RMS in 300-450 Hz (above the HF-QRS band, below the anti-alias roll-off)
  from the MEDIAN power spectral density of the band x its width, so mains harmonics and other
  lines do not count; median over leads. For white noise of RMS s at 1000 Hz this is
  ``s * sqrt(150 / 500)``. Below 1000 Hz the band is 0.6-0.9 x Nyquist.
- ``mains_hz`` / ``mains_uv``: the line power at 50 and 60 Hz (PSD over +-2 bins minus the
  median PSD 3-8 bins away, summed over leads); the larger is the mains frequency, 0 when
  neither line rises above its background; ``mains_uv`` is that line's sinusoid amplitude
  ``sqrt(2 * power)``, median over leads.
- ``qrs_ptp_mv``: peak-to-peak within +-60 ms of each detected QRS, median over beats, then
  over leads (pre-cut beats: over the whole window). NaN when no beat is found.
- ``quant_step_uv``: the ADC step, recovered from the samples (records keep mV, not the
  header's gain): the smallest gap between distinct values near zero, refined by least squares
  and accepted only if 99.9 % of the first 5 s of samples lie on that grid; 0 for continuous
  (synthetic, resampled) data.
- ``n_leads``; ``lead_<name>``: 1 if the record has that lead (only leads some records lack).
- ``meta_<field>=<value>``: one-hot of each ``Record.meta`` field with 2 to 20 distinct values
  (missing counts as a value); fields that restate the label (:data:`LABEL_META_FIELDS`) are left out.

Examples
--------
>>> import numpy as np
>>> from hfecg_bench.cohort import Cohort, Record
>>> t = np.arange(10_000) / 1000.0
>>> noise = np.random.default_rng(0).normal(0, 0.010, (10_000, 2))            # 10 uV white noise
>>> sig = (noise + 0.02 * np.sin(2 * np.pi * 60 * t)[:, None]).astype(np.float32)   # 20 uV at 60 Hz
>>> rec = Record("r1", "p1", label=0, fs=1000.0, lead_names=("I", "II"), signal=sig, meta={"site": "A"})
>>> props = recording_properties(Cohort([rec], dataset="memory"))
>>> props.loc["p1", ["fs_hz", "duration_s", "mains_hz", "n_leads", "records_per_patient"]].tolist()
[1000.0, 10.0, 60.0, 2.0, 1.0]
>>> round(props.loc["p1", "mains_uv"]), round(props.loc["p1", "hf_noise_uv"] / np.sqrt(150 / 500))
(20, 10)
>>> property_label("duration_s"), property_label("meta_site=A")
('duration (s)', 'site = A (fraction of records)')
"""
from __future__ import annotations

import numpy as np
import pandas as pd
from scipy.signal import welch

from hfecg_bench.beats.detect import beats_detect
from hfecg_bench.errors import HfecgError

#: Record.meta fields that restate the label (synthetic truth, PTB diagnosis): the label, not the acquisition.
LABEL_META_FIELDS = frozenset({"label", "true_label", "flipped", "diagnosis", "reason for admission"})
MAX_META_LEVELS = 20            # more distinct values than this is an identifier or a measurement, not a device/site
NOISE_BAND_HZ = (300.0, 450.0)
MAINS_HZ = (50.0, 60.0)
QRS_HALF_WIDTH_S = 0.060
QUANT_PROBE_S = 5.0             # seconds of samples checked for an ADC grid

#: Column -> readable name with unit, for reports.
PROPERTY_LABELS = {
    "fs_hz": "sampling rate (Hz)",
    "duration_s": "duration (s)",
    "n_beats": "detected beats",
    "hf_noise_uv": "300-450 Hz noise (uV RMS)",
    "mains_hz": "mains frequency (Hz)",
    "mains_uv": "mains amplitude (uV)",
    "qrs_ptp_mv": "QRS peak-to-peak (mV)",
    "quant_step_uv": "ADC quantisation step (uV)",
    "n_leads": "number of leads",
    "records_per_patient": "records per patient",
}
BASE_COLUMNS = tuple(k for k in PROPERTY_LABELS if k != "records_per_patient")


def property_label(name: str) -> str:
    """Readable name (with unit) of a property column, e.g. ``"duration_s"`` -> ``"duration (s)"``."""
    if name in PROPERTY_LABELS:
        return PROPERTY_LABELS[name]
    if name.startswith("lead_"):
        return f"lead {name[5:]} present (fraction of records)"
    if name.startswith("meta_") and "=" in name:
        field, value = name[5:].split("=", 1)
        return f"{field} = {value} (fraction of records)"
    return name


def _spectrum(record) -> tuple[np.ndarray, np.ndarray]:
    """Welch PSD (mV^2/Hz) of every lead, shape ``(n_freq, n_leads)``, ~1 Hz resolution, non-overlapping Hann segments."""
    fs = float(record.fs)
    if record.signal is not None:
        x, axis = record.signal, 0
    else:
        x, axis = record.beats, 1
    x = np.nan_to_num(np.asarray(x, dtype=np.float32))
    n = x.shape[axis]
    nperseg = int(min(n, round(fs)))
    f, p = welch(x, fs=fs, nperseg=nperseg, noverlap=0, axis=axis, detrend="constant")
    if axis == 1:
        p = p.mean(axis=0)              # pre-cut beats: average the per-beat spectra
    return f, np.asarray(p, dtype=np.float64)


def _hf_noise_uv(f: np.ndarray, p: np.ndarray, fs: float) -> float:
    nyq = fs / 2.0
    lo, hi = min(NOISE_BAND_HZ[0], 0.6 * nyq), min(NOISE_BAND_HZ[1], 0.9 * nyq)
    band = (f >= lo) & (f <= hi)
    if not band.any():
        return float("nan")
    # median, not mean, PSD: lines (mains harmonics) occupy few bins and do not move it
    return float(np.median(np.sqrt(np.median(p[band], axis=0) * (hi - lo))) * 1000.0)


def _line(f: np.ndarray, p: np.ndarray, f0: float) -> tuple[np.ndarray, np.ndarray]:
    """(excess power, background power) of a spectral line at ``f0`` per lead, mV^2."""
    df = float(f[1] - f[0]) if len(f) > 1 else np.inf
    dist = np.abs(f - f0) / df
    near = dist <= 2.0
    ring = (dist >= 3.0) & (dist <= 8.0)
    if not near.any() or not ring.any():
        z = np.zeros(p.shape[1])
        return z, z
    background = np.median(p[ring], axis=0) * near.sum() * df
    return p[near].sum(axis=0) * df - background, background


def _mains(f: np.ndarray, p: np.ndarray) -> tuple[float, float]:
    lines = [_line(f, p, f0) for f0 in MAINS_HZ]
    excess = np.array([ex.sum() for ex, _ in lines])
    k = int(np.argmax(excess))
    ex, bg = lines[k]
    detected = excess[k] > bg.sum()       # the line carries more power than the spectrum under it
    amp_uv = float(np.median(np.sqrt(2.0 * np.maximum(ex, 0.0)))) * 1000.0
    return (MAINS_HZ[k] if detected else 0.0), amp_uv


def _qrs_ptp_mv(record, r_peaks: np.ndarray) -> float:
    if record.signal is None:
        return float(np.median(np.median(np.ptp(record.beats, axis=1), axis=0)))
    half = int(round(QRS_HALF_WIDTH_S * float(record.fs)))
    n = record.signal.shape[0]
    r = r_peaks[(r_peaks >= half) & (r_peaks < n - half)]
    if len(r) == 0:
        return float("nan")
    windows = record.signal[r[:, None] + np.arange(-half, half + 1)[None, :]]      # (n_beats, n_win, n_leads)
    return float(np.median(np.median(np.ptp(windows, axis=1), axis=0)))


def _quant_step_uv(record) -> float:
    """The ADC step in uV if the samples lie on a grid k * step, else 0 (continuous data)."""
    data = record.signal if record.signal is not None else record.beats.reshape(-1, record.beats.shape[-1])
    m = int(min(data.shape[0], round(QUANT_PROBE_S * float(record.fs))))
    x = np.asarray(data[:m], dtype=np.float64)
    x = x[:, np.isfinite(x).all(axis=0)]
    if x.size < 100:
        return 0.0
    s = np.sort(x, axis=0)
    gaps = np.diff(s, axis=0)
    near_zero = np.abs(s[:-1]) <= np.median(np.abs(x), axis=0)[None, :]
    cand = gaps[(gaps > 1e-9) & near_zero]          # gaps below 1e-9 mV are float32 rounding of one level
    if cand.size == 0:
        return 0.0
    q = float(cand.min())
    # refine by least squares on the small levels (where float32 rounding is smallest), then verify all samples
    k = np.round(x / q)
    small = np.abs(k) <= 1000
    if not small.any() or not np.any(k[small]):
        return 0.0
    q = float((k[small] * x[small]).sum() / (k[small] ** 2).sum())
    frac = np.abs(x / q - np.round(x / q))
    return q * 1000.0 if np.mean(frac < 0.02) >= 0.999 else 0.0


def record_properties(record) -> dict:
    """The numeric acquisition properties of one record (see the module notes for each method).

    Parameters
    ----------
    record : Record
        Continuous ``signal (n_samples, n_leads)`` or pre-cut ``beats (n_beats, n_window, n_leads)``, mV.

    Returns
    -------
    dict
        :data:`BASE_COLUMNS` -> float.
    """
    fs = float(record.fs)
    if record.signal is not None:
        r_peaks, _ = beats_detect(np.nan_to_num(record.signal), fs)
        n_beats = float(len(r_peaks))
    else:
        r_peaks, n_beats = np.zeros(0, np.int64), float(record.beats.shape[0])
    f, p = _spectrum(record)
    mains_hz, mains_uv = _mains(f, p)
    return {"fs_hz": fs, "duration_s": float(record.duration_s), "n_beats": n_beats,
            "hf_noise_uv": _hf_noise_uv(f, p, fs), "mains_hz": float(mains_hz), "mains_uv": mains_uv,
            "qrs_ptp_mv": _qrs_ptp_mv(record, r_peaks), "quant_step_uv": _quant_step_uv(record),
            "n_leads": float(len(record.lead_names))}


def _scalar(v) -> bool:
    return isinstance(v, (str, bool, int, float, np.integer, np.floating)) and not (isinstance(v, float) and np.isnan(v))


def _meta_onehot(records, meta_fields=None) -> pd.DataFrame:
    """One-hot columns ``meta_<field>=<value>`` for categorical meta fields with 2..MAX_META_LEVELS values."""
    fields = sorted({k for r in records for k in r.meta
                     if str(k).strip().lower() not in LABEL_META_FIELDS
                     and (meta_fields is None or k in meta_fields)})
    cols = {}
    for key in fields:
        values = [r.meta.get(key) for r in records]
        if any(v is not None and not _scalar(v) for v in values):
            continue                                   # lists, dicts: not a category
        text = [None if v is None or not _scalar(v) else str(v) for v in values]
        levels = sorted({t for t in text if t is not None})
        n_levels = len(levels) + (None in text)
        if not 2 <= n_levels <= MAX_META_LEVELS:
            continue
        for lv in levels:
            cols[f"meta_{key}={lv}"] = np.array([t == lv for t in text], dtype=float)
    return pd.DataFrame(cols, index=range(len(records)))


def recording_properties(cohort, *, meta_fields=None) -> pd.DataFrame:
    """Acquisition properties of every patient: one row per patient, records averaged.

    Parameters
    ----------
    cohort : Cohort
        Any cohort (labels are not read); records may differ in rate, length and leads.
    meta_fields : sequence of str, optional
        ``Record.meta`` fields to one-hot (e.g. ``("site", "device")``); default every categorical
        field with 2..20 values except :data:`LABEL_META_FIELDS`, which may include demographic
        columns of a labels.csv (``sex``): restrict it to keep the test about the acquisition.

    Returns
    -------
    pandas.DataFrame
        Index ``patient_id`` (str, sorted); float columns :data:`BASE_COLUMNS` (``fs_hz`` Hz,
        ``duration_s`` s, ``n_beats``, ``hf_noise_uv`` uV, ``mains_hz`` Hz (0 = no mains line),
        ``mains_uv`` uV, ``qrs_ptp_mv`` mV, ``quant_step_uv`` uV (0 = continuous), ``n_leads``),
        then ``lead_<name>`` and ``meta_<field>=<value>`` fractions, then ``records_per_patient``.
        Each column is the mean over the patient's records (NaN only when every record is NaN).
        ``attrs["labels"]`` maps columns to :func:`property_label`.

    Raises
    ------
    HfecgError
        For an empty cohort, or naming the record whose properties could not be measured.

    Examples
    --------
    >>> from hfecg_bench.data import generate_cohort
    >>> props = recording_properties(generate_cohort(preset="null", n_patients=4, duration_s=10, seed=1))
    >>> props.shape, props.index[0], props["duration_s"].tolist(), props["mains_hz"].tolist()
    ((4, 10), 'P001', [10.0, 10.0, 10.0, 10.0], [50.0, 50.0, 50.0, 50.0])
    """
    records = list(cohort.records)
    if not records:
        raise HfecgError("recording properties need at least one record; the cohort is empty")
    rows = []
    for rec in records:
        try:
            rows.append(record_properties(rec))
        except Exception as exc:  # noqa: BLE001  (named, never a bare traceback)
            raise HfecgError(f"record {rec.record_id}: recording properties could not be measured "
                             f"({type(exc).__name__}: {exc})") from None
    table = pd.DataFrame(rows, columns=list(BASE_COLUMNS))
    all_leads = list(dict.fromkeys(name for r in records for name in r.lead_names))
    partial = [name for name in all_leads if not all(name in r.lead_names for r in records)]
    for name in partial:
        table[f"lead_{name}"] = [float(name in r.lead_names) for r in records]
    table = pd.concat([table, _meta_onehot(records, None if meta_fields is None else set(meta_fields))], axis=1)
    table["patient_id"] = [str(r.patient_id) for r in records]
    grouped = table.groupby("patient_id", sort=True)
    out = grouped.mean()
    out["records_per_patient"] = grouped.size().astype(float)
    out.index.name = "patient_id"
    out.columns.name = None
    out.attrs["labels"] = {c: property_label(c) for c in out.columns}
    return out


__all__ = ["BASE_COLUMNS", "LABEL_META_FIELDS", "PROPERTY_LABELS", "property_label", "record_properties",
           "recording_properties"]
