"""The verdict: is the ceiling the data or the model? Rules over findings, each rule citing its evidence.

Order of the rules (first match wins):

1. ``no_signal``      the selection-aware permutation test finds nothing (p >= alpha) AND the cohort
                      could have detected a moderate effect (detectable AUROC <= ``moderate_auroc``).
2. ``data_limited``   no significant signal but the cohort is too small to detect a moderate effect;
                      or signal, but the cohort is underpowered, or label-noise candidates are many,
                      or the learning curve is still rising / the best CI is wide (checked after 3).
3. ``model_limited``  one family's best model is above chance while another family's best is not,
                      and the gap between them is significant (DeLong p < alpha).
4. ``near_ceiling``   none of the above: models agree, curve flat, little left to gain.
"""
from __future__ import annotations

import numpy as np
import pandas as pd

from hfecg_bench.evaluation.delong import delong_test

VERDICTS = ("no_signal", "data_limited", "model_limited", "near_ceiling")


def family_comparison(pred: pd.DataFrame, metrics: pd.DataFrame, families: dict[str, str], *, alpha: float = 0.05) -> dict:
    """Best model per family, whether it is above chance (CI lower bound > 0.5), and DeLong p between family bests."""
    m = metrics.set_index("model")
    fam_best = {}
    for fam in sorted(set(families.values()) - {"baseline"}):
        names = [k for k, f in families.items() if f == fam and k in m.index and np.isfinite(m.loc[k, "auroc"])]
        if names:
            best = max(names, key=lambda k: (m.loc[k, "auroc"], k))
            fam_best[fam] = {"model": best, "auroc": round(float(m.loc[best, "auroc"]), 4),
                             "auroc_lo": round(float(m.loc[best, "auroc_lo"]), 4),
                             "above_chance": bool(m.loc[best, "auroc_lo"] > 0.5), "members": names}
    pairs = []
    fams = sorted(fam_best)
    for i, a in enumerate(fams):
        for b in fams[i + 1:]:
            pa = pred[pred["model"] == fam_best[a]["model"]].set_index("patient_id")
            pb = pred[pred["model"] == fam_best[b]["model"]].set_index("patient_id").loc[pa.index]
            _, _, p = delong_test(pa["label"].to_numpy(int), pa["prob"].to_numpy(), pb["prob"].to_numpy())
            pairs.append({"family_a": a, "family_b": b, "model_a": fam_best[a]["model"], "model_b": fam_best[b]["model"],
                          "auroc_diff": round(fam_best[a]["auroc"] - fam_best[b]["auroc"], 4), "delong_p": round(float(p), 5)})
    misses = []
    for pr in pairs:
        a, b = pr["family_a"], pr["family_b"]
        winner, loser = (a, b) if pr["auroc_diff"] > 0 else (b, a)
        if (pr["delong_p"] < alpha and fam_best[winner]["above_chance"] and not fam_best[loser]["above_chance"]):
            misses.append({"finds": winner, "misses": loser, "models_missing": fam_best[loser]["members"],
                           "auroc_diff": abs(pr["auroc_diff"]), "delong_p": pr["delong_p"]})
    if misses:
        mm = misses[0]
        summary = (f"the {mm['misses']} family ({', '.join(mm['models_missing'])}) misses what the {mm['finds']} family "
                   f"finds: best AUROC differs by {mm['auroc_diff']:.3f}, DeLong p = {mm['delong_p']:.4f}")
    else:
        summary = "no model family misses, with significance, what another finds: " + (
            "; ".join(f"{f} best {v['model']} {v['auroc']:.3f}" for f, v in fam_best.items()))
    return {"kind": "model_comparison", "summary": summary, "families": fam_best, "pairs": pairs, "misses": misses}


def decide(findings: list[dict], *, alpha: float = 0.05, moderate_auroc: float = 0.75,
           label_noise_fraction: float = 0.15, wide_ci: float = 0.25) -> tuple[str, list[str]]:
    """The verdict and the reasons (one line each) from the findings, by the rules of the module docstring.

    ``label_noise_fraction``: on the 120-patient synthetic cohorts, clean labels gave 3% (hf_effect) and
    7% (averaging_required) candidates and 25% flipped labels gave 23%; 0.15 sits between them.
    """
    by = {f["kind"]: f for f in findings}
    perm, power = by.get("permutation", {}), by.get("power", {})
    signal = perm.get("p_value", 1.0) < alpha
    detectable = power.get("detectable_auroc", 0.0)
    underpowered = detectable > moderate_auroc
    reasons = []
    if not signal:
        if underpowered:
            return "data_limited", [f"no significant signal (permutation p = {perm.get('p_value')}), but with "
                                    f"{power.get('n_positive')} positive / {power.get('n_negative')} negative patients the "
                                    f"cohort could only detect AUROC >= {detectable:.2f} (80% power): a moderate effect "
                                    f"(AUROC {moderate_auroc}) would go unseen"]
        return "no_signal", [f"no model beats chance after picking the best of {perm.get('n_models')} "
                             f"(permutation p = {perm.get('p_value')}), although the cohort could detect AUROC >= {detectable:.2f}"]
    reasons.append(f"signal: best model {perm.get('best_model')} AUROC {perm.get('observed_auroc')} "
                   f"(permutation p = {perm.get('p_value')}, picking among {perm.get('n_models')} models accounted for)")
    if underpowered:
        return "data_limited", reasons + [f"the cohort is underpowered: it could only detect AUROC >= {detectable:.2f}; "
                                          "more patients would tighten every estimate"]
    noise = by.get("label_noise", {})
    if noise.get("fraction", 0.0) >= label_noise_fraction:
        return "data_limited", reasons + [f"{noise['n_candidates']} patients ({noise['fraction']:.0%}) are label-noise "
                                          "candidates: cleaner labels are what would help"]
    comp = by.get("model_comparison", {})
    if comp.get("misses"):
        return "model_limited", reasons + [comp["summary"]]
    curve = by.get("learning_curve", {})
    ci_width = power.get("best_ci_width", 0.0)
    if curve.get("rising") or ci_width > wide_ci:
        why = []
        if curve.get("rising"):
            why.append(f"the learning curve is still rising ({curve.get('slope_per_10pct'):+.3f} AUROC per +10% patients)")
        if ci_width > wide_ci:
            why.append(f"the best model's 95% CI is {ci_width:.2f} wide")
        return "data_limited", reasons + why
    fams = comp.get("families") or {}
    bests = "; ".join(f"{f} best {v['model']} AUROC {v['auroc']:.3f}" for f, v in sorted(fams.items(),
                                                                                    key=lambda kv: -kv[1]["auroc"]))
    return "near_ceiling", reasons + [
        f"the learning curve is flat and the best model's 95% CI is {ci_width:.2f} wide: more patients would "
        "change little" + (f"; every family is above chance ({bests}), so none misses the signal outright, "
                           "though a weaker family may still gain from better training" if bests else "")]
