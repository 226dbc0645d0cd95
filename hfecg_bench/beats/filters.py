"""Zero-phase Butterworth filters over an axis (design cached per rate, band and order)."""
from __future__ import annotations

from functools import lru_cache

import numpy as np
from scipy.signal import butter, sosfilt, sosfiltfilt

from hfecg_bench.errors import ParameterError


@lru_cache(maxsize=64)
def butter_sos(fs: float, low: float | None, high: float | None, order: int) -> np.ndarray:
    """Second-order sections of a Butterworth band-, high- or low-pass (``None`` leaves that edge open).

    The upper edge must stay below Nyquist; a band-pass whose upper edge is at or above Nyquist
    raises :class:`ParameterError` naming the band and the rate.
    """
    nyq = fs / 2.0
    if high is not None and high >= nyq:
        raise ParameterError("filter band", (low, high), f"upper edge must be below Nyquist ({nyq:g} Hz at fs={fs:g} Hz)")
    if low is not None and high is not None:
        return butter(order, [low, high], btype="bandpass", fs=fs, output="sos")
    if low is not None:
        return butter(order, low, btype="highpass", fs=fs, output="sos")
    if high is not None:
        return butter(order, high, btype="lowpass", fs=fs, output="sos")
    raise ParameterError("filter band", (low, high), "give at least one edge")


def bandpass(x: np.ndarray, fs: float, band: tuple[float | None, float | None], order: int = 2,
             axis: int = 0, zero_phase: bool = True) -> np.ndarray:
    """Filter ``x`` along ``axis`` with a Butterworth filter; zero-phase (forward-backward) by default.

    Forward-backward filtering doubles the effective order and has no group delay, so
    fiducial points and QRS boundaries keep their timing.
    """
    sos = butter_sos(float(fs), None if band[0] is None else float(band[0]),
                     None if band[1] is None else float(band[1]), int(order))
    x = np.asarray(x, dtype=np.float64)
    if not zero_phase:
        return sosfilt(sos, x, axis=axis)
    n = x.shape[axis]
    # ten times scipy's default odd-extension padding, so edge transients settle before the data;
    # never more than the signal allows (short pre-cut beat windows)
    padlen = min(3 * (2 * len(sos) + 1) * 10, n - 1)
    return sosfiltfilt(sos, x, axis=axis, padlen=max(padlen, 0))
