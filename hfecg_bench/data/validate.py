"""Checks of one record's samples, run once when a source is loaded.

Each check returns a list of reasons (strings) rather than raising, so that a
loader can report every problem of a folder in one pass.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from hfecg_bench.leads import STANDARD_LEADS

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
    """

    skip_bad: bool = False
    allow_low_fs: bool = False
    required_leads: tuple[str, ...] = STANDARD_LEADS
    flat_tolerance_mv: float = 1e-6
    ptb_positive: tuple[str, ...] = ("Myocardial infarction",)
    ptb_negative: tuple[str, ...] = ("Healthy control",)
    extra: dict = field(default_factory=dict)


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
        reasons.append(f"missing required lead(s) {missing} (has {list(lead_names)})")
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
