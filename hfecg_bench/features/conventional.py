"""Conventional ECG measures of the averaged beat: QRS duration, R/S/T amplitudes, ST level, rhythm."""
from __future__ import annotations

import numpy as np

from hfecg_bench.beats.filters import bandpass
from hfecg_bench.features.config import FeatureConfig
from hfecg_bench.features.context import BeatContext, GroupResult


def conventional_features(ctx: BeatContext, config: FeatureConfig) -> GroupResult:
    """Per lead (uV, relative to the PR baseline = mean over QRS onset -30..-10 ms):

    - ``r_amp_uv``: largest value inside the QRS (0 when the QRS never rises above baseline);
      ``s_amp_uv``: depth (positive, 0 if none) of the lowest value between the R peak and QRS offset; ``qrs_pp_uv``: peak-to-peak inside the QRS;
    - ``st60_uv``: level at J + 60 ms (J = QRS offset) of the 40 Hz low-passed beat;
    - ``t_amp_uv``: signed extreme of the 40 Hz low-passed beat from J + 80 ms to the end of the
      averaged window (at most J + 450 ms).

    Per record (lead ``all``): ``qrs_ms``, ``hr_bpm`` (60000 / median NN), ``hrv_sdnn_ms``,
    ``hrv_rmssd_ms`` (from RR of consecutive kept beats; NaN for pre-cut beats).
    """
    out = GroupResult()
    x = np.asarray(ctx.average, dtype=np.float64) * 1000.0
    n = x.shape[0]
    b0, b1 = max(0, ctx.onset - ctx.samples(30)), max(1, ctx.onset - ctx.samples(10))
    base = x[b0:b1].mean(axis=0) if b1 > b0 else x[:1].mean(axis=0)
    q = x[ctx.qrs] - base
    r_idx = np.argmax(q, axis=0)
    r_amp = q[r_idx, np.arange(q.shape[1])]
    after = np.arange(q.shape[0])[:, None] >= r_idx[None, :]
    s_amp = -np.where(after, q, np.inf).min(axis=0)
    low = bandpass(x, ctx.fs, (None, min(40.0, 0.45 * ctx.fs)), order=2, axis=0) - base
    j60 = ctx.offset + ctx.samples(60)
    if j60 < n:
        st60 = low[j60]
    else:
        st60 = np.full(ctx.n_leads, np.nan)
        out.reasons["st60_uv"] = "J + 60 ms lies beyond the averaged window"
    t0, t1 = ctx.offset + ctx.samples(80), min(n, ctx.offset + ctx.samples(450))
    if t1 - t0 >= ctx.samples(40):
        seg = low[t0:t1]
        t_amp = seg[np.argmax(np.abs(seg), axis=0), np.arange(seg.shape[1])]
    else:
        t_amp = np.full(ctx.n_leads, np.nan)
        out.reasons["t_amp_uv"] = "less than 40 ms of averaged window after J + 80 ms (no T wave)"
    out.per_lead = {"r_amp_uv": np.maximum(r_amp, 0.0), "s_amp_uv": np.maximum(s_amp, 0.0), "qrs_pp_uv": np.ptp(q, axis=0),
                    "st60_uv": st60, "t_amp_uv": t_amp}
    nn = np.asarray(ctx.nn_ms, dtype=np.float64)
    out.across["qrs_ms"] = (ctx.offset - ctx.onset) * 1000.0 / ctx.fs
    why = "pre-cut beats carry no RR intervals" if ctx.precut else None
    out.across["hr_bpm"] = 60000.0 / float(np.median(nn)) if nn.size >= 1 else np.nan
    out.reasons["hr_bpm"] = why or "no pair of consecutive kept beats"
    out.across["hrv_sdnn_ms"] = float(np.std(nn, ddof=1)) if nn.size >= 2 else np.nan
    out.reasons["hrv_sdnn_ms"] = why or "fewer than 2 NN intervals"
    out.across["hrv_rmssd_ms"] = float(np.sqrt(np.mean(np.diff(nn) ** 2))) if nn.size >= 2 else np.nan
    out.reasons["hrv_rmssd_ms"] = why or "fewer than 2 NN intervals"
    return out
