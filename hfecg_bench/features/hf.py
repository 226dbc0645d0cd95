"""HF-QRS features: RMS, envelope peak, RAZ, kurtosis and noise of the 150-250 Hz averaged QRS."""
from __future__ import annotations

import numpy as np
from scipy.ndimage import maximum_filter1d
from scipy.signal import hilbert

from hfecg_bench.beats.filters import bandpass
from hfecg_bench.errors import ParameterError
from hfecg_bench.features.config import FeatureConfig
from hfecg_bench.features.context import BeatContext, GroupResult
from hfecg_bench.leads import TERRITORIES


def hf_band_for(fs: float, config: FeatureConfig) -> tuple[float, float]:
    """The HF band used at ``fs``: ``config.hf_band``, its upper edge lowered to 0.45 x fs when it lies
    between 0.45 fs and the Nyquist frequency 0.5 fs (e.g. 150-250 Hz at 500 Hz with ``allow_low_fs``).

    Raises
    ------
    ParameterError
        Naming ``hf_band`` and ``fs`` when the upper edge is above Nyquist (0.5 x fs) or the
        lower edge is not below 0.45 x fs: the band cannot be measured at that rate.

    Examples
    --------
    >>> hf_band_for(1000.0, FeatureConfig()), hf_band_for(500.0, FeatureConfig())
    ((150.0, 250.0), (150.0, 225.0))
    >>> hf_band_for(1000.0, FeatureConfig(hf_band=(150, 600)))
    Traceback (most recent call last):
    ...
    hfecg_bench.errors.ParameterError: invalid hf_band=(150.0, 600.0): upper edge 600 Hz is above the Nyquist frequency 500 Hz of records sampled at fs=1000 Hz; choose an hf_band below 0.5 x fs (upsampling cannot add content above a record's Nyquist)
    """
    lo, hi = config.hf_band
    if hi > 0.5 * fs or lo >= 0.45 * fs:
        raise ParameterError("hf_band", config.hf_band,
                             f"upper edge {hi:g} Hz is above the Nyquist frequency {0.5 * fs:g} Hz of records sampled "
                             f"at fs={fs:g} Hz; choose an hf_band below 0.5 x fs (upsampling cannot add content above a record's Nyquist)"
                             if hi > 0.5 * fs else
                             f"lower edge {lo:g} Hz is not below 0.45 x fs = {0.45 * fs:g} Hz at fs={fs:g} Hz")
    return lo, min(hi, 0.45 * fs)


def hf_signal(average: np.ndarray, fs: float, config: FeatureConfig) -> np.ndarray:
    """The averaged beat band-passed to the HF band (Butterworth, ``config.hf_order``), mV, all leads."""
    lo, hi = hf_band_for(fs, config)
    return bandpass(average, fs, (lo, hi), order=config.hf_order, axis=0, zero_phase=config.zero_phase)


def raz_scan(env: np.ndarray, fs: float, noise: np.ndarray, config: FeatureConfig) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Reduced amplitude zones in the HF envelope of the QRS, per lead.

    Criterion (after Abboud et al., who call a local maximum an envelope point higher than the
    envelope points around it): on the Hilbert envelope of the HF-QRS inside the QRS interval,
    a *local maximum* is a sample that is the largest within +/- ``config.raz_neighbour_ms``
    (not on the QRS edge) and at least ``config.raz_min_peak_fraction`` of the QRS envelope peak
    (so that noise ripples on the low QRS edges do not count). Between each pair of consecutive local maxima the envelope
    minimum is taken; that dip is a **RAZ** when **both** maxima exceed the minimum by at least
    ``config.raz_min_depth`` x the smaller maximum **and** by at least
    ``config.raz_noise_factor`` x the HF noise RMS of the averaged beat.

    Parameters
    ----------
    env : ndarray (n_qrs, n_leads)
        Envelope inside the QRS, mV.
    noise : ndarray (n_leads,)
        HF noise RMS per lead (mV); NaN disables the noise condition for that lead.

    Returns
    -------
    count : ndarray of int (n_leads,)
        RAZs found.
    depth : ndarray (n_leads,)
        Deepest relative dip ``1 - min / smaller max`` between any two consecutive local maxima
        (0 when fewer than two maxima).
    n_max : ndarray of int (n_leads,)
        Local maxima found.
    """
    n_leads = env.shape[1]
    count = np.zeros(n_leads, dtype=np.int64)
    depth = np.zeros(n_leads)
    n_max = np.zeros(n_leads, dtype=np.int64)
    for j, peaks, _, rel, ok in raz_dips_by_lead(env, fs, noise, config):
        n_max[j] = len(peaks)
        depth[j] = float(rel.max(initial=0.0))
        count[j] = int(ok.sum())
    return count, depth, n_max


def raz_dips_by_lead(env: np.ndarray, fs: float, noise: np.ndarray, config: FeatureConfig):
    """The RAZ criterion of :func:`raz_scan`, lead by lead: yields ``(lead, local maxima, dip samples, relative
    dips, passes)`` for every lead, the dips being the envelope minima between consecutive maxima (empty arrays
    with fewer than two maxima). :func:`raz_scan` counts them; the report draws where they are.
    """
    half = max(1, int(round(config.raz_neighbour_ms * fs / 1000.0)))
    local = maximum_filter1d(env, size=2 * half + 1, axis=0, mode="constant", cval=np.inf) == env
    local[0] = local[-1] = False
    local &= env >= config.raz_min_peak_fraction * env.max(axis=0, keepdims=True)
    for j in range(env.shape[1]):                                 # a loop over leads (<= 15), not samples
        peaks = np.flatnonzero(local[:, j])
        if len(peaks) < 2:
            yield j, peaks, np.zeros(0, dtype=np.int64), np.zeros(0), np.zeros(0, dtype=bool)
            continue
        e = env[:, j]
        where = peaks[:-1] + np.array([int(np.argmin(e[a:b])) for a, b in zip(peaks[:-1], peaks[1:])])
        smaller = np.minimum(e[peaks[:-1]], e[peaks[1:]])
        rel = 1.0 - e[where] / np.where(smaller > 0, smaller, np.inf)
        ok = rel >= config.raz_min_depth
        if np.isfinite(noise[j]):
            ok &= (smaller - e[where]) >= config.raz_noise_factor * noise[j]
        yield j, peaks, where, rel, ok


def hf_features(ctx: BeatContext, config: FeatureConfig) -> GroupResult:
    """HF-QRS features of the averaged beat, per lead (amplitudes in uV).

    - ``rms_uv``: RMS of the HF signal over the QRS (onset..offset).
    - ``peak_env_uv``: largest Hilbert envelope value inside the QRS.
    - ``raz``, ``raz_count``, ``raz_depth``: RAZ present (0/1), number and deepest relative dip
      (criterion in :func:`raz_scan`).
    - ``kurtosis``: excess kurtosis of the HF samples inside the QRS.
    - ``noise_uv``: HF RMS over the non-QRS segment from 20 ms after the window start to 30 ms
      before QRS onset (residual noise of the average; falls as 1/sqrt(n_beats)).
    - ``n_beats``: beats averaged.

    - ``rel_rms``: log of the lead's ``rms_uv`` over the median ``rms_uv`` of the record's leads: the
      lead's HF-QRS relative to the same patient's other leads (a regional reduction shows up here
      even when patients differ several-fold in overall HF amplitude, as they do).

    Across leads (``all``): ``sum_rms_uv``, ``mean_rms_uv``, ``n_raz_leads``, ``min_rms_uv``, and per
    coronary territory (:data:`TERRITORIES`) the mean ``rel_rms`` and RAZ count, with the lowest
    territory mean (``min_territory_rel_rms``) and the RAZ count of that territory.
    """
    out = GroupResult()
    hf = hf_signal(ctx.average, ctx.fs, config)
    q = hf[ctx.qrs]
    env = np.abs(hilbert(hf, axis=0))
    rms = np.sqrt(np.mean(q ** 2, axis=0))
    n0, n1 = ctx.samples(20), ctx.onset - ctx.samples(30)
    if n1 - n0 >= ctx.samples(20):
        noise = np.sqrt(np.mean(hf[n0:n1] ** 2, axis=0))
    else:
        noise = np.full(ctx.n_leads, np.nan)
        out.reasons["noise_uv"] = f"fewer than 20 ms of signal before the QRS onset ({(n1 - n0) / ctx.fs * 1000:.0f} ms)"
    count, depth, _ = raz_scan(env[ctx.qrs], ctx.fs, noise, config)
    flat = rms <= 0
    dev = q - q.mean(axis=0)
    m2 = np.mean(dev ** 2, axis=0)
    with np.errstate(invalid="ignore", divide="ignore"):
        kurt = np.where(flat | (m2 <= 0), np.nan, np.mean(dev ** 4, axis=0) / np.where(m2 > 0, m2, 1.0) ** 2 - 3.0)
    out.reasons["kurtosis"] = "HF signal is flat inside the QRS (zero variance)"
    out.per_lead = {
        "rms_uv": 1000.0 * rms,
        "peak_env_uv": 1000.0 * env[ctx.qrs].max(axis=0),
        "raz": (count > 0).astype(np.float64),
        "raz_count": count.astype(np.float64),
        "raz_depth": depth,
        "kurtosis": kurt,
        "noise_uv": 1000.0 * noise,
        "n_beats": np.full(ctx.n_leads, float(ctx.n_beats)),
    }
    with np.errstate(divide="ignore", invalid="ignore"):
        rel = np.log(rms / np.median(rms)) if np.median(rms) > 0 else np.full(ctx.n_leads, np.nan)
    out.per_lead["rel_rms"] = rel
    out.reasons["rel_rms"] = "HF RMS of the lead or the median over leads is zero"
    out.across = territory_features(rel, count, ctx.lead_names)
    out.across.update({
        "sum_rms_uv": float(1000.0 * rms.sum()),
        "mean_rms_uv": float(1000.0 * rms.mean()),
        "min_rms_uv": float(1000.0 * rms.min()),
        "n_raz_leads": float((count > 0).sum()),
    })
    return out




def territory_features(rel: np.ndarray, raz_count: np.ndarray, lead_names) -> dict:
    """Mean relative HF RMS and RAZ count per territory, and the values of the lowest territory.

    ``rel`` and ``raz_count`` have one value per lead of ``lead_names``; a territory with none of
    its leads present is NaN.
    """
    names = list(lead_names)
    out, means = {}, {}
    for terr, leads in TERRITORIES.items():
        idx = [names.index(lead) for lead in leads if lead in names]
        vals = rel[idx] if idx else np.array([np.nan])
        means[terr] = float(np.nanmean(vals)) if np.isfinite(vals).any() else float("nan")
        out[f"{terr}_rel_rms"] = means[terr]
        out[f"{terr}_raz_leads"] = float((raz_count[idx] > 0).sum()) if idx else float("nan")
    finite = {k: v for k, v in means.items() if np.isfinite(v)}
    low = min(finite, key=finite.get) if finite else None
    out["min_territory_rel_rms"] = finite[low] if low else float("nan")
    out["min_territory_raz_leads"] = out[f"{low}_raz_leads"] if low else float("nan")
    return out
