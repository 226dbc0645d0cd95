"""Wavelet features: DWT energy per level of the averaged beat, all leads at once."""
from __future__ import annotations

import numpy as np
import pywt

from hfecg_bench.features.config import FeatureConfig
from hfecg_bench.features.context import BeatContext, GroupResult, safe_log10


def wavelet_levels(n_samples: int, config: FeatureConfig) -> int:
    """Levels used: ``config.wavelet_levels`` clamped to the maximum the beat length allows."""
    max_level = pywt.dwt_max_level(n_samples, pywt.Wavelet(config.wavelet).dec_len)
    return max(1, min(config.wavelet_levels, max_level))


def wavelet_features(ctx: BeatContext, config: FeatureConfig) -> GroupResult:
    """Discrete wavelet decomposition (``pywt.wavedec`` along time, every lead in one call).

    Per lead, for each detail level ``d1..dL`` and the approximation ``aL``:
    ``<level>_log_energy_uv2`` (log10 of the summed squared coefficients, uV^2) and
    ``<level>_rel_energy`` (fraction of the total); plus ``entropy`` (Shannon entropy, in bits,
    of the relative energies). Coefficients are of the whole averaged beat in uV.
    """
    out = GroupResult()
    x = np.asarray(ctx.average, dtype=np.float64) * 1000.0          # uV
    level = wavelet_levels(x.shape[0], config)
    coeffs = pywt.wavedec(x, config.wavelet, level=level, axis=0, mode="symmetric")
    names = [f"a{level}"] + [f"d{k}" for k in range(level, 0, -1)]
    energy = np.stack([np.sum(c ** 2, axis=0) for c in coeffs])    # (n_sets, n_leads)
    total = energy.sum(axis=0)
    with np.errstate(invalid="ignore", divide="ignore"):
        rel = np.where(total > 0, energy / np.where(total > 0, total, 1.0), np.nan)
        plogp = np.where(rel > 0, rel * np.log2(np.where(rel > 0, rel, 1.0)), 0.0)
    entropy = np.where(total > 0, -plogp.sum(axis=0), np.nan)
    for name, e, r in zip(names, energy, rel):
        out.per_lead[f"{name}_log_energy_uv2"] = safe_log10(e)
        out.per_lead[f"{name}_rel_energy"] = r
        out.reasons[f"{name}_log_energy_uv2"] = "zero wavelet energy at this level (flat lead)"
        out.reasons[f"{name}_rel_energy"] = "zero total wavelet energy (flat lead)"
    out.per_lead["entropy"] = entropy
    out.reasons["entropy"] = "zero total wavelet energy (flat lead)"
    return out
