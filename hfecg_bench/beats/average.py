"""Beat rejection against the median template, signal averaging and QRS onset/offset."""
from __future__ import annotations

import numpy as np
from scipy.ndimage import uniform_filter1d

from hfecg_bench.beats.config import BeatConfig


def template_correlation(beats: np.ndarray, template: np.ndarray) -> np.ndarray:
    """Pearson correlation of each beat with the template over time x leads (lead means removed).

    ``beats`` (n_beats, m, n_leads), ``template`` (m, n_leads) -> (n_beats,). A flat beat gives 0.
    """
    b = beats - beats.mean(axis=1, keepdims=True)
    t = template - template.mean(axis=0, keepdims=True)
    num = np.einsum("bml,ml->b", b, t)
    den = np.sqrt(np.einsum("bml,bml->b", b, b) * float(np.sum(t * t)))
    with np.errstate(divide="ignore", invalid="ignore"):
        r = np.where(den > 0, num / den, 0.0)
    return r


def reject_beats(corr: np.ndarray, residual: np.ndarray, r_peaks: np.ndarray | None, at_edge: np.ndarray,
                 config: BeatConfig, fs: float) -> tuple[np.ndarray, list[tuple[int, str]], dict]:
    """Decide which aligned beats to keep; one reason per rejected beat.

    Tests, in order: alignment at the search limit; QRS correlation with the median template
    below ``min(config.min_corr, median(corr) - 0.1)`` (ectopic or noisy; the relative floor keeps a
    uniformly noisy record from losing every beat); preceding RR (to the previous beat that passed
    the correlation test) shorter than ``(1 - premature_fraction)`` x median RR; residual RMS against
    the template above ``median + noise_mad_factor x 1.4826 MAD`` (and above 1.5 x median).

    Returns ``kept`` (bool mask), ``rejected`` [(beat index, reason)], and thresholds used.
    """
    n = len(corr)
    kept = np.ones(n, dtype=bool)
    reasons: dict[int, str] = {}

    def drop(mask, text):
        for i in np.flatnonzero(mask & kept):
            reasons[int(i)] = text(int(i))
        kept[mask] = False

    drop(at_edge, lambda i: f"alignment lag at the +/-{config.align_search_ms:g} ms search limit")
    med_corr = float(np.median(corr[kept])) if kept.any() else float("nan")
    corr_thr = float(min(config.min_corr, med_corr - 0.1)) if np.isfinite(med_corr) else config.min_corr
    drop(corr < corr_thr, lambda i: f"QRS correlation with template {corr[i]:.3f} < {corr_thr:.3f} (ectopic or noisy)")
    info = {"corr_threshold": corr_thr, "median_corr": med_corr}
    if r_peaks is not None and n > 2 and kept.sum() > 2:
        idx = np.flatnonzero(kept)
        rr = np.diff(r_peaks[idx]).astype(np.float64)
        med_rr = float(np.median(rr))
        prem = np.zeros(n, dtype=bool)
        prem[idx[1:]] = rr < (1.0 - config.premature_fraction) * med_rr
        rr_of = dict(zip(idx[1:].tolist(), rr.tolist()))
        drop(prem, lambda i: f"premature: RR {1000 * rr_of[i] / fs:.0f} ms < "
                             f"{100 * (1 - config.premature_fraction):.0f}% of median {1000 * med_rr / fs:.0f} ms")
        info["median_rr_ms"] = 1000.0 * med_rr / fs
    if kept.sum() > 2:
        res = residual[kept]
        med = float(np.median(res))
        mad = 1.4826 * float(np.median(np.abs(res - med)))
        noise_thr = max(med + config.noise_mad_factor * mad, 1.5 * med)
        drop(residual > noise_thr, lambda i: f"noisy: residual RMS {1000 * residual[i]:.1f} uV > {1000 * noise_thr:.1f} uV")
        info["noise_threshold_uv"] = 1000.0 * noise_thr
    if config.max_beats is not None and kept.sum() > config.max_beats:
        order = np.flatnonzero(kept)[np.argsort(-corr[kept], kind="stable")]
        extra = np.zeros(n, dtype=bool)
        extra[order[config.max_beats:]] = True
        drop(extra, lambda i: f"beyond max_beats={config.max_beats} (lower correlation)")
    rejected = sorted(reasons.items())
    return kept, rejected, info


def qrs_bounds(average: np.ndarray, fs: float, fiducial: int) -> tuple[int, int, dict]:
    """QRS onset and offset (sample indices in ``average``) from the spatial velocity of the averaged beat.

    The averaged beat is smoothed over 5 ms and differentiated; the spatial velocity (root sum of
    squares over leads) is smoothed over 10 ms. The threshold is the larger of the baseline level
    (median + 3 x 1.4826 MAD of the velocity from the window start to 100 ms before the fiducial)
    and 10 % of the QRS peak velocity. The QRS is the above-threshold run containing (or nearest)
    the fiducial, gaps shorter than 20 ms bridged, searched within -150..+200 ms of it. Durations
    outside 40-220 ms fall back to -50/+70 ms around the fiducial (noted in ``info``).
    """
    n = average.shape[0]
    ms = fs / 1000.0
    x = uniform_filter1d(np.asarray(average, dtype=np.float64), size=max(1, int(round(5 * ms))), axis=0, mode="nearest")
    vel = np.sqrt(np.sum(np.gradient(x, axis=0) ** 2, axis=1))
    vel = uniform_filter1d(vel, size=max(1, int(round(10 * ms))), mode="nearest")
    lo = max(0, fiducial - int(round(150 * ms)))
    hi = min(n, fiducial + int(round(200 * ms)))
    base = vel[: max(1, fiducial - int(round(100 * ms)))]
    base_level = float(np.median(base) + 3.0 * 1.4826 * np.median(np.abs(base - np.median(base))))
    peak = float(vel[max(lo, fiducial - int(round(60 * ms))): min(hi, fiducial + int(round(60 * ms))) + 1].max())
    thr = max(base_level, 0.1 * peak)
    above = vel[lo:hi] > thr
    gap = int(round(20 * ms))
    idx = np.flatnonzero(above)
    info = {"qrs_threshold": thr, "qrs_method": "spatial velocity"}
    onset = offset = None
    if idx.size:
        runs = np.split(idx, np.flatnonzero(np.diff(idx) > gap) + 1)
        f = fiducial - lo
        best = min(runs, key=lambda r: 0 if r[0] <= f <= r[-1] else min(abs(r[0] - f), abs(r[-1] - f)))
        onset, offset = lo + int(best[0]), lo + int(best[-1])
    dur = (offset - onset) / ms if onset is not None else -1
    if not 40 <= dur <= 220:
        info["qrs_fallback"] = f"detected duration {dur:.0f} ms outside 40-220 ms; using -50/+70 ms around R"
        onset, offset = max(0, fiducial - int(round(50 * ms))), min(n - 1, fiducial + int(round(70 * ms)))
    return int(onset), int(offset), info
