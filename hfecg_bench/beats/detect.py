"""R-peak (QRS fiducial) detection on the spatial QRS energy of all leads at once.

Why not NeuroKit2 ``ecg_peaks``: its detectors work on one lead at a time, so a lead with a
small or biphasic QRS, or one noisy lead, decides the fiducials. Here every lead contributes:
the band-passed leads are squared and summed (spatial energy), integrated over a QRS-length
window (Pan-Tompkins style) and peaks are taken with scipy ``find_peaks`` under a refractory
period and an adaptive threshold. This is one vectorised pass over the recording (a few
milliseconds for 10 s x 12 leads), the fiducial is then refined to sub-sample precision by
cross-correlation (:mod:`hfecg_bench.beats.align`), and ectopic or false detections are
rejected against the median template (:mod:`hfecg_bench.beats.average`).
"""
from __future__ import annotations

import numpy as np
from scipy.ndimage import uniform_filter1d
from scipy.signal import find_peaks

from hfecg_bench.beats.config import BeatConfig
from hfecg_bench.beats.filters import bandpass

# mV^2: below this the detect-band energy is rounding error (a constant or flat recording), not a QRS;
# real QRS complexes give 1e-3..1 mV^2, so the floor never touches a real recording
MIN_QRS_ENERGY_MV2 = 1e-12


def qrs_energy(signal: np.ndarray, fs: float, config: BeatConfig) -> np.ndarray:
    """Integrated spatial QRS energy: sum over leads of the squared ``detect_band`` signal,
    moving-averaged over 80 ms; shape ``(n_samples,)``."""
    x = bandpass(signal, fs, config.detect_band, order=2, axis=0)
    energy = np.einsum("ij,ij->i", x, x)
    width = max(1, int(round(0.08 * fs)))
    return uniform_filter1d(energy, size=width, mode="nearest")


def beats_detect(signal: np.ndarray, fs: float, config: BeatConfig | None = None) -> tuple[np.ndarray, dict]:
    """Detect QRS complexes in a continuous ``(n_samples, n_leads)`` recording.

    Parameters
    ----------
    signal : ndarray, shape (n_samples, n_leads)
        mV, time first.
    fs : float
        Sampling rate in Hz.
    config : BeatConfig, optional

    Returns
    -------
    r_peaks : ndarray of int64
        Sample index of each QRS fiducial (peak of the integrated spatial energy).
    info : dict
        ``method``, ``threshold`` and the number of candidates.

    Example
    -------
    >>> import numpy as np
    >>> fs = 1000; t = np.arange(5000)
    >>> sig = np.zeros((5000, 2)); sig[500::800] = 1.0
    >>> r, _ = beats_detect(sig, fs)
    >>> len(r)
    6
    >>> len(beats_detect(np.full((5000, 2), 0.01), fs)[0])    # a constant recording has no beats
    0
    """
    config = config or BeatConfig()
    signal = np.asarray(signal, dtype=np.float64)
    if signal.ndim == 1:
        signal = signal[:, None]
    energy = qrs_energy(signal, fs, config)
    distance = max(1, int(round(config.min_rr_ms * fs / 1000.0)))
    cand, props = find_peaks(energy, distance=distance)
    info = {"method": "spatial-energy find_peaks", "n_candidates": int(len(cand))}
    if len(cand) == 0:
        info["threshold"] = float("nan")
        return np.zeros(0, dtype=np.int64), info
    heights = energy[cand]
    ref = float(np.percentile(heights, 90))
    threshold = config.detect_threshold * ref
    r = cand[(heights >= threshold) & (heights > MIN_QRS_ENERGY_MV2)]
    info["threshold"] = threshold
    return r.astype(np.int64), info
