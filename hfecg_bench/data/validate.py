"""Checks of one record's samples, run once when a source is loaded.

Each check returns a list of reasons (strings) rather than raising, so that a
loader can report every problem of a folder in one pass.
"""
from __future__ import annotations

import warnings
from dataclasses import dataclass, field

import numpy as np

from hfecg_bench.errors import ParameterError
from hfecg_bench.leads import STANDARD_LEADS

# mV: the largest lead's robust peak-to-peak (0.1-99.9th percentile of the median-removed signal) of a
# real ECG lies well within this range (PTB sample: 1.5-7.8 mV; synthetic presets 1.6-5.6 mV); outside it the unit is wrong
AMPLITUDE_RANGE_MV = (0.05, 50.0)
HF_MIN_FS = 1000.0   # Hz: HF-QRS (150-250 Hz) needs >= 4 samples per cycle of the top frequency
LOW_FS_FLOOR = 500.0  # Hz: the lowest rate --allow-low-fs accepts (Nyquist 250 Hz)


@dataclass(frozen=True)
class LoadOptions:
    """What a loader accepts.

    Parameters
    ----------
    skip_bad : bool
        Exclude problem records (listed with their reasons) instead of failing.
    allow_low_fs : bool
        Accept sampling rates in [500, 1000) Hz with a warning.
    required_leads : tuple of str
        Leads every record must have (normalised names).
    flat_tolerance_mv : float
        A lead whose peak-to-peak range is at or below this is flat (constant).
    resample_to : float or None
        Resample every record to this rate (Hz) at load time (``--resample-to``); None keeps each
        record's rate, and records at different rates are then a problem.
    same_patient : tuple of tuple of str
        Groups of record ids that are one person (``--same-patient A,B``): put under the first
        record's patient id before the same-heart check.
    """

    skip_bad: bool = False
    allow_low_fs: bool = False
    required_leads: tuple[str, ...] = STANDARD_LEADS
    flat_tolerance_mv: float = 1e-6
    ptb_positive: tuple[str, ...] = ("Myocardial infarction",)
    ptb_negative: tuple[str, ...] = ("Healthy control",)
    extra: dict = field(default_factory=dict)
    resample_to: float | None = None
    same_patient: tuple = ()

    def __post_init__(self):
        if self.resample_to is None:
            return
        try:
            hz = float(self.resample_to)
        except (TypeError, ValueError):
            raise ParameterError("resample_to", self.resample_to, "a sampling rate in Hz") from None
        floor = LOW_FS_FLOOR if self.allow_low_fs else HF_MIN_FS
        if not (np.isfinite(hz) and hz >= floor):
            raise ParameterError("resample_to", self.resample_to,
                                 f"a sampling rate in Hz >= {floor:g} (HF-QRS needs >= {HF_MIN_FS:g} Hz"
                                 f"{'' if self.allow_low_fs else '; --allow-low-fs accepts >= 500'})")
        object.__setattr__(self, "resample_to", hz)


def check_fs(fs: float, options: LoadOptions) -> list[str]:
    """Reasons the sampling rate ``fs`` (Hz) is unusable for HF-QRS, or [] if it is fine."""
    if fs >= HF_MIN_FS:
        return []
    if options.allow_low_fs and fs >= LOW_FS_FLOOR:
        return []
    if options.allow_low_fs:
        return [f"sampling rate {fs:g} Hz is below {LOW_FS_FLOOR:g} Hz, the floor even with allow_low_fs (--allow-low-fs)"]
    return [f"sampling rate {fs:g} Hz is below the {HF_MIN_FS:g} Hz HF-QRS (150-250 Hz) needs "
            f"(set allow_low_fs, --allow-low-fs, to go on at >= {LOW_FS_FLOOR:g} Hz)"]


def check_leads(lead_names: tuple[str, ...], options: LoadOptions) -> list[str]:
    """Reasons about missing required leads or duplicated lead names."""
    reasons = []
    missing = [lead for lead in options.required_leads if lead not in lead_names]
    if missing:
        has = list(lead_names) if len(lead_names) <= 20 else f"{len(lead_names)} leads {list(lead_names[:5])}..."
        reasons.append(f"missing required lead(s) {missing} (has {has})")
    dup = sorted({n for n in lead_names if lead_names.count(n) > 1})
    if dup:
        reasons.append(f"lead name(s) {dup} appear more than once")
    return reasons


def _longest_nan_run(mask: np.ndarray) -> tuple[int, int]:
    """Length and start index of the longest True run in a 1-D boolean mask."""
    padded = np.concatenate(([False], mask, [False])).astype(np.int8)
    edges = np.flatnonzero(np.diff(padded))
    starts, stops = edges[::2], edges[1::2]
    k = int(np.argmax(stops - starts))
    return int(stops[k] - starts[k]), int(starts[k])


def check_samples(data: np.ndarray, fs: float, lead_names: tuple[str, ...], options: LoadOptions) -> list[str]:
    """Reasons about NaN runs and flat leads in ``data`` (time on axis -2 or 0, leads last).

    ``data`` is ``(n_samples, n_leads)`` or ``(n_beats, n_window, n_leads)``; only the
    required leads and any lead present are checked for NaN, only present leads for flatness.
    """
    flat2d = data.reshape(-1, data.shape[-1])
    reasons = []
    nan = np.isnan(flat2d)
    if nan.any():
        for j in np.flatnonzero(nan.any(axis=0)):
            n, start = _longest_nan_run(nan[:, j])
            total = int(nan[:, j].sum())
            reasons.append(f"NaN run in lead {lead_names[j]}: {total} invalid samples, longest {n} "
                           f"starting at {start / fs:.3f} s")
    with np.errstate(invalid="ignore"):
        ptp = np.nanmax(flat2d, axis=0) - np.nanmin(flat2d, axis=0) if flat2d.size else np.zeros(0)
    for j in np.flatnonzero(~(ptp > options.flat_tolerance_mv)):
        reasons.append(f"flat lead {lead_names[j]}: constant over the whole record "
                       f"(range {0.0 if not np.isfinite(ptp[j]) else ptp[j]:.3g} mV)")
    return reasons


def check_label(value) -> tuple[int | None, str | None]:
    """Parse a label cell: (0 or 1, None), or (None, reason)."""
    text = str(value).strip()
    if text in ("0", "1", "0.0", "1.0"):
        return int(float(text)), None
    return None, f"label {text!r} is not 0 or 1"


def check_amplitude(data: np.ndarray, lead_names: tuple[str, ...]) -> list[str]:
    """Reasons the signal's scale is implausible for ECG in mV, naming the likely unit.

    The amplitude of a lead is the robust peak-to-peak (0.1th to 99.9th percentile) of its
    samples; the record's amplitude is that of its largest lead (flat or missing leads do not
    count). Above ``AMPLITUDE_RANGE_MV[1]`` the values are likely µV (or a wrong gain); below
    ``AMPLITUDE_RANGE_MV[0]`` likely V. NaN samples are ignored.

    Examples
    --------
    >>> x = np.sin(np.linspace(0, 60, 3000))[:, None] * np.array([1.5, 0.8])
    >>> check_amplitude(x, ("I", "II")), check_amplitude(x * 1000, ("I", "II"))[0][:50]
    ([], 'QRS amplitude 3000 mV is implausible for ECG in mV')
    >>> check_amplitude(x / 1000, ("I", "II"))[0][-37:]
    'look like volts (V): multiply by 1000'
    """
    flat2d = data.reshape(-1, data.shape[-1])
    if not flat2d.size or np.isnan(flat2d).all():
        return []
    with np.errstate(invalid="ignore"), warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)     # all-NaN leads: reported by check_samples
        lo, hi = np.nanpercentile(flat2d, [0.1, 99.9], axis=0)
    amp = np.nan_to_num(hi - lo)
    top = float(amp.max())
    low_mv, high_mv = AMPLITUDE_RANGE_MV
    if top > high_mv:
        big = [lead_names[j] for j in np.flatnonzero(amp > high_mv)]
        where = "" if len(big) == len(lead_names) else f" in lead(s) {', '.join(big)}"
        factor = top / 3.0                                     # a typical largest-lead QRS is ~1-5 mV
        unit = ("values look like µV (microvolts): divide by 1000" if factor > 200
                else f"values look about {factor:.0f}x too large: check the header gain (a gain of 0 is read as "
                     "200 ADC units per mV) or the unit")
        return [f"QRS amplitude {top:.0f} mV{where} is implausible for ECG in mV (expected "
                f"{low_mv:g}-{high_mv:g} mV): {unit}"]
    if 0 < top < low_mv:
        unit = ("values look like volts (V): multiply by 1000" if top < low_mv / 5
                else "values look too small: check the header gain or the unit")
        return [f"QRS amplitude {top * 1000:.2g} µV is implausible for ECG in mV (expected "
                f"{low_mv:g}-{high_mv:g} mV, the unit may be wrong): {unit}"]
    return []
