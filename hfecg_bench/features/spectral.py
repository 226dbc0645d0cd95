"""Spectral features: Welch PSD of the QRS and of the whole averaged beat, all leads at once."""
from __future__ import annotations

import numpy as np
from scipy.signal import welch

from hfecg_bench.features.config import FeatureConfig
from hfecg_bench.features.context import BeatContext, GroupResult, safe_log10


def _band_name(lo: float, hi: float) -> str:
    fmt = lambda v: f"{v:g}".replace(".", "p")  # noqa: E731
    return f"{fmt(lo)}_{fmt(hi)}"


def psd_summary(f: np.ndarray, p: np.ndarray, config: FeatureConfig, fs: float) -> tuple[dict, dict]:
    """Band powers, centroid, edge frequency and normalised entropy of PSDs ``p (n_freqs, n_leads)``."""
    feats, reasons = {}, {}
    df = f[1] - f[0] if len(f) > 1 else 1.0
    total = p.sum(axis=0) * df
    pos = total > 0
    safe_total = np.where(pos, total, 1.0)
    for lo, hi in config.spectral_bands:
        name = _band_name(lo, hi)
        if hi > fs / 2:
            feats[f"bp_{name}_rel"] = np.full(p.shape[1], np.nan)
            reasons[f"bp_{name}_rel"] = f"band {lo:g}-{hi:g} Hz above Nyquist ({fs / 2:g} Hz)"
            continue
        band = (f >= lo) & (f < hi)
        feats[f"bp_{name}_rel"] = np.where(pos, p[band].sum(axis=0) * df / safe_total, np.nan)
        reasons[f"bp_{name}_rel"] = "zero spectral power (flat lead)"
    feats["log_power_uv2"] = safe_log10(total)
    feats["centroid_hz"] = np.where(pos, (f[:, None] * p).sum(axis=0) * df / safe_total, np.nan)
    cum = np.cumsum(p, axis=0) * df / safe_total
    edge_idx = np.argmax(cum >= config.edge_fraction, axis=0)
    feats[f"edge{int(round(100 * config.edge_fraction))}_hz"] = np.where(pos, f[edge_idx], np.nan)
    pn = p / np.where(pos, p.sum(axis=0), 1.0)
    with np.errstate(divide="ignore", invalid="ignore"):
        ent = -np.where(pn > 0, pn * np.log(np.where(pn > 0, pn, 1.0)), 0.0).sum(axis=0) / np.log(len(f))
    feats["entropy"] = np.where(pos, ent, np.nan)
    for k in ("log_power_uv2", "centroid_hz", "entropy", f"edge{int(round(100 * config.edge_fraction))}_hz"):
        reasons[k] = "zero spectral power (flat lead)"
    return feats, reasons


def spectral_features(ctx: BeatContext, config: FeatureConfig) -> GroupResult:
    """Welch power spectra (``scipy.signal.welch`` along time, every lead at once), in uV^2/Hz.

    ``qrs_*``: one Hann-windowed segment spanning the QRS (onset..offset), zero-padded to
    ``config.nfft``. ``beat_*``: the whole averaged beat, Welch segments of
    ``config.welch_nperseg_ms`` with 50 % overlap. For each: relative band powers
    ``bp_<lo>_<hi>_rel`` (bands of ``config.spectral_bands``, including 150-250 Hz),
    ``log_power_uv2``, ``centroid_hz``, ``edge95_hz`` and ``entropy`` (normalised Shannon entropy of the PSD).
    """
    out = GroupResult()
    x = np.asarray(ctx.average, dtype=np.float64) * 1000.0
    q = x[ctx.qrs]
    q = q - q.mean(axis=0)
    nq = q.shape[0]
    f, p = welch(q, fs=ctx.fs, window="hann", nperseg=nq, noverlap=0, nfft=max(config.nfft, nq),
                 detrend=False, axis=0)
    feats, reasons = psd_summary(f, p, config, ctx.fs)
    out.per_lead.update({f"qrs_{k}": v for k, v in feats.items()})
    out.reasons.update({f"qrs_{k}": v for k, v in reasons.items()})
    nper = min(x.shape[0], max(8, ctx.samples(config.welch_nperseg_ms)))
    f, p = welch(x, fs=ctx.fs, window="hann", nperseg=nper, noverlap=nper // 2,
                 nfft=max(config.nfft, nper), detrend="constant", axis=0)
    feats, reasons = psd_summary(f, p, config, ctx.fs)
    out.per_lead.update({f"beat_{k}": v for k, v in feats.items()})
    out.reasons.update({f"beat_{k}": v for k, v in reasons.items()})
    return out
