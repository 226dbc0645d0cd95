"""Beat windows and their sub-sample alignment, vectorised over beats and leads.

Alignment: every beat's QRS segment is cross-correlated with the median template (FFT
cross-correlation of all beats and leads at once, summed over leads), the best integer lag
is refined by a parabola through the peak and its two neighbours, and the beats are shifted
by that fractional lag with an FFT phase ramp (after removing the straight line between the
window's end points, so the circular shift has no edge jump). Repeating the estimate on the
shifted beats removes the small bias of the parabolic fit, giving errors of a few hundredths
of a sample on 1000 Hz ECG, which matters because a 1 ms jitter already attenuates a 200 Hz
component of the average by about 20 %.
"""
from __future__ import annotations

import numpy as np
from scipy import fft as sfft


def cut_windows(x: np.ndarray, centers: np.ndarray, start: int, stop: int) -> np.ndarray:
    """Windows ``x[c + start : c + stop]`` for every centre, shape ``(n_centers, stop - start, ...)``.

    ``x`` is time first; centres must leave the window inside ``x`` (callers drop the others).
    """
    idx = np.asarray(centers, dtype=np.int64)[:, None] + np.arange(start, stop)[None, :]
    return x[idx]


def fractional_shift(windows: np.ndarray, shifts: np.ndarray) -> np.ndarray:
    """Advance each window by ``shifts[b]`` samples (``y[t] = x[t + d]``), fractional, along axis 1.

    Parameters
    ----------
    windows : ndarray, shape (n_beats, n, n_leads)
    shifts : ndarray, shape (n_beats,)
        Positive values move the content earlier. The first/last ``ceil(|d|)`` samples wrap
        around and must be treated as padding by the caller.
    """
    w = np.asarray(windows, dtype=np.float64)
    d = np.asarray(shifts, dtype=np.float64)
    nb, n = w.shape[:2]
    if nb == 0 or not np.any(d):
        return w.copy()
    t = np.arange(n, dtype=np.float64)
    first, last = w[:, :1], w[:, -1:]
    slope = (last - first) / max(n - 1, 1)                       # (nb, 1, nl)
    nfft = sfft.next_fast_len(n + 8, real=True)                  # zero padding: the detrended ends are 0
    spec = sfft.rfft(w - (first + slope * t[None, :, None]), n=nfft, axis=1)
    f = np.fft.rfftfreq(nfft)                                    # cycles per sample
    spec *= np.exp(2j * np.pi * f[None, :] * d[:, None])[:, :, None]
    shifted = sfft.irfft(spec, n=nfft, axis=1)[:, :n]
    return shifted + first + slope * (t[None, :, None] + d[:, None, None])


def xcorr_lag(segments: np.ndarray, template: np.ndarray, max_lag: int) -> tuple[np.ndarray, np.ndarray]:
    """Fractional lag of each beat segment against the template, by FFT cross-correlation.

    Parameters
    ----------
    segments : ndarray, shape (n_beats, m + 2 * max_lag, n_leads)
        The matched part of each beat plus ``max_lag`` samples either side.
    template : ndarray, shape (m, n_leads)
    max_lag : int

    Returns
    -------
    lag : ndarray, shape (n_beats,)
        Delay of the beat relative to the template in samples (parabolic sub-sample peak);
        shift the beat by ``+lag`` with :func:`fractional_shift` to align it.
    at_edge : ndarray of bool
        True where the best integer lag is at the search limit (alignment unreliable).
    """
    nb, n, _ = segments.shape
    m = template.shape[0]
    nfft = sfft.next_fast_len(n + m, real=True)
    s = sfft.rfft(segments, n=nfft, axis=1)
    tp = np.conj(sfft.rfft(template, n=nfft, axis=0))
    cc = sfft.irfft(np.einsum("bfl,fl->bf", s, tp), n=nfft, axis=1)[:, : 2 * max_lag + 1]
    k = np.argmax(cc, axis=1)
    at_edge = (k == 0) | (k == 2 * max_lag)
    kc = np.clip(k, 1, 2 * max_lag - 1)
    rows = np.arange(nb)
    y0, y1, y2 = cc[rows, kc - 1], cc[rows, kc], cc[rows, kc + 1]
    den = y0 - 2.0 * y1 + y2
    with np.errstate(divide="ignore", invalid="ignore"):
        frac = np.where(den < 0, 0.5 * (y0 - y2) / den, 0.0)
    frac = np.clip(frac, -1.0, 1.0)
    lag = np.where(at_edge, k - max_lag, kc + frac - max_lag)
    return lag.astype(np.float64), at_edge


def align_beats(align_windows: np.ndarray, seg: slice, max_lag: int,
                iterations: int = 2) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Sub-sample alignment of beats to their median template.

    Parameters
    ----------
    align_windows : ndarray, shape (n_beats, n, n_leads)
        Beats in the alignment band, with at least ``max_lag`` samples of margin around ``seg``.
    seg : slice
        The matched segment (QRS) inside the window.
    max_lag : int
        Search half-width in samples.
    iterations : int
        Estimate/shift rounds; the template is the median of the beats shifted so far.

    Returns
    -------
    shifts : ndarray (n_beats,)
        Total fractional shift per beat (apply with :func:`fractional_shift`).
    at_edge : ndarray of bool
        Beats whose lag hit the search limit in any round.
    aligned : ndarray, like ``align_windows``
        The windows shifted by ``shifts``.
    template : ndarray (seg length, n_leads)
        The final median template of the segment.
    """
    nb = align_windows.shape[0]
    shifts = np.zeros(nb)
    at_edge = np.zeros(nb, dtype=bool)
    wide = slice(seg.start - max_lag, seg.stop + max_lag)
    current = align_windows
    template = np.median(current[:, seg], axis=0)
    for it in range(max(1, iterations)):
        lag, edge = xcorr_lag(current[:, wide], template, max_lag)
        at_edge |= edge
        # keep the template's own timing: remove the median lag so the fiducial does not drift
        lag = lag - np.median(lag[~edge]) if np.any(~edge) else lag
        shifts += lag
        shifts = np.clip(shifts, -max_lag, max_lag)
        current = fractional_shift(align_windows, shifts)
        template = np.median(current[:, seg], axis=0)
    return shifts, at_edge, current, template
