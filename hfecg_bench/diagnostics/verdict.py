"""The verdict: is the ceiling the data or the model? Decided from findings that are tests with stated
error rates, naming every cause it finds.

Each cause is ``{"cause", "evidence", "p_value"}``; the verdict is the most basic of them:

1. ``undetermined``   a finding the decision needs failed or was skipped: it is named, never replaced by
                      a default number.
2. no significant signal (refitting permutation test, :mod:`~hfecg_bench.diagnostics.signal`):
   ``data_limited``   when that test could not detect a moderate effect in this cohort (power below the
                      target; cause ``sample_size``) or the label is predictable from how the records were
                      made (cause ``acquisition_confound``); otherwise ``no_signal``.
3. signal:
   ``data_limited``   an acquisition confound, a significant excess of contradicted labels that costs more
                      than 0.03 AUROC (``label_noise``), or a cohort underpowered for a moderate effect
                      (``sample_size``);
   ``model_limited``  a model family's best falls short of another family's, with significance after
                      re-picking each family's best in every bootstrap resample (``model_family``);
   ``data_limited``   more patients would help (``sample_size``): the learning curve's projected gain at four
                      times the patients exceeds 0.03 AUROC, the definition of data_limited in
                      ``benchmarks/bench_verdict.py`` (see :mod:`~hfecg_bench.diagnostics.learning`);
   ``near_ceiling``   none of these.
"""
from __future__ import annotations

import numpy as np
import pandas as pd
from hfecg_bench.evaluation.bootstrap import draw_resamples
from hfecg_bench.evaluation.metrics import auroc_rows

VERDICTS = ("no_signal", "data_limited", "model_limited", "near_ceiling", "undetermined")
DATA_CAUSES = ("acquisition_confound", "label_noise", "sample_size")


def family_comparison(pred: pd.DataFrame, metrics: pd.DataFrame, families: dict[str, str], *, seed: int,
                      n_bootstrap: int = 1000, alpha: float = 0.05) -> dict:
    """Family bests compared with selection accounted for: in every patient bootstrap resample each family's
    best model is picked again, and the difference between family bests is recomputed.

    A family "misses what another finds" when the difference's (1 - alpha) percentile interval excludes 0
    and the winner's best model is above chance (AUROC CI lower bound > 0.5). ``blind`` adds whether no
    member of the losing family is above chance (it misses the signal outright rather than part of it).
    """
    m = metrics.set_index("model")
    fams: dict[str, list[str]] = {}
    for name, fam in families.items():
        if fam != "baseline" and name in m.index and np.isfinite(m.loc[name, "auroc"]):
            fams.setdefault(fam, []).append(name)
    models = [x for f in sorted(fams) for x in fams[f]]
    wide = pred[pred["model"].isin(models)].pivot(index="patient_id", columns="model", values="prob")[models].dropna()
    y = pred.drop_duplicates("patient_id").set_index("patient_id")["label"].loc[wide.index].to_numpy(int)
    idx = draw_resamples(y, n_bootstrap, seed)
    boot = {name: auroc_rows(y[idx], wide[name].to_numpy()[idx]) for name in models}   # (n_bootstrap,) each
    fam_best = {}
    for fam, names in sorted(fams.items()):
        best = max(names, key=lambda k: (m.loc[k, "auroc"], k))
        fam_best[fam] = {"model": best, "auroc": round(float(m.loc[best, "auroc"]), 4),
                         "auroc_lo": round(float(m.loc[best, "auroc_lo"]), 4),
                         "above_chance": bool(m.loc[best, "auroc_lo"] > 0.5),
                         "any_above_chance": bool((m.loc[names, "auroc_lo"] > 0.5).any()), "members": names,
                         "boot_best": np.max(np.column_stack([boot[k] for k in names]), axis=1)}
    pairs, misses = [], []
    order = sorted(fam_best)
    for i, a in enumerate(order):
        for b in order[i + 1:]:
            diff_obs = fam_best[a]["auroc"] - fam_best[b]["auroc"]
            d = fam_best[a]["boot_best"] - fam_best[b]["boot_best"]
            lo, hi = np.quantile(d, [alpha / 2, 1 - alpha / 2])
            p = float(min(1.0, 2 * min(np.mean(d <= 0), np.mean(d >= 0))))
            pairs.append({"family_a": a, "family_b": b, "model_a": fam_best[a]["model"], "model_b": fam_best[b]["model"],
                          "auroc_diff": round(diff_obs, 4), "diff_lo": round(float(lo), 4), "diff_hi": round(float(hi), 4),
                          "p_value": round(p, 5), "significant": bool(lo > 0 or hi < 0)})
            winner, loser = (a, b) if diff_obs > 0 else (b, a)
            if pairs[-1]["significant"] and fam_best[winner]["above_chance"]:
                misses.append({"finds": winner, "misses": loser, "models_missing": fam_best[loser]["members"],
                               "blind": not fam_best[loser]["any_above_chance"],
                               "auroc_diff": round(abs(diff_obs), 4), "diff_ci": [round(float(min(abs(lo), abs(hi))), 4),
                                                                                round(float(max(abs(lo), abs(hi))), 4)],
                               "p_value": round(p, 5)})
    for v in fam_best.values():
        v.pop("boot_best")
    if misses:
        mm = misses[0]
        how = "misses" if mm["blind"] else "misses part of"
        summary = (f"the {mm['misses']} family ({', '.join(mm['models_missing'])}) {how} what the {mm['finds']} family "
                   f"finds{' (none of its models is above chance)' if mm['blind'] else ''}: family bests differ by {mm['auroc_diff']:.3f} AUROC (95% CI {mm['diff_ci'][0]:.3f} to "
                   f"{mm['diff_ci'][1]:.3f}, each family's best re-picked in every bootstrap resample), p = {mm['p_value']:.4f}")
    elif len(fam_best) < 2:
        summary = "one model family in this run: nothing to compare"
    else:
        summary = "no model family misses, with significance after selection, what another finds: " + "; ".join(
            f"{f} best {v['model']} {v['auroc']:.3f}" for f, v in fam_best.items())
    return {"kind": "model_comparison", "status": "ok", "significant": bool(misses), "summary": summary,
            "families": fam_best, "pairs": pairs, "misses": misses, "n_bootstrap": int(n_bootstrap),
            "not_applicable": len(fam_best) < 2,
            "method": "patient bootstrap with each family's best re-picked in every resample; percentile interval"}


def _usable(f: dict | None) -> bool:
    return bool(f) and (f.get("status") == "ok" or f.get("not_applicable"))


def _missing(f: dict | None, kind: str) -> str:
    if not f:
        return f"{kind}: not computed"
    return f"{kind}: {f.get('status', 'failed')} ({f.get('summary') or f.get('reason') or 'no reason recorded'})"


def decide(findings: list[dict]) -> tuple[str, list[str], list[dict]]:
    """The verdict, its reasons (one line each) and its causes, by the rules of the module docstring."""
    by = {f["kind"]: f for f in findings}
    signal, confound = by.get("signal"), by.get("acquisition_confound")
    missing = [_missing(by.get(k), k) for k in ("signal", "acquisition_confound") if not _usable(by.get(k))]
    if missing:
        return "undetermined", ["the verdict needs findings that are missing: " + "; ".join(missing)], []
    causes: list[dict] = []
    if confound.get("significant"):
        causes.append({"cause": "acquisition_confound", "evidence": confound["summary"], "p_value": confound.get("p_value")})
    powered = signal.get("powered")
    if powered is None:
        return "undetermined", ["the signal test's power was not computed"], causes
    power_text = (f"the signal test detects a moderate effect (AUROC {signal['moderate_auroc']}) with power only "
                  f"{signal['power']:.2f} in this cohort (target {signal['target_power']})")
    if not signal["significant"]:
        reasons = [f"no significant signal: {signal['summary']}"]
        if not powered:
            causes.append({"cause": "sample_size", "evidence": power_text, "p_value": None})
        if causes:
            return "data_limited", reasons + [c["evidence"] for c in causes], causes
        return "no_signal", reasons + [f"the cohort was large enough: {power_text.replace('only ', '')}"], causes
    reasons = [f"signal: {signal['summary']}"]
    if confound.get("significant"):
        reasons.append("but the label is also predictable from how the records were made: " + confound["summary"])
    noise, curve, comp = by.get("label_noise"), by.get("learning_curve"), by.get("model_comparison")
    missing = [_missing(f, k) for k, f in (("label_noise", noise), ("learning_curve", curve), ("model_comparison", comp))
               if not _usable(f)]
    if missing:
        return "undetermined", reasons + ["the verdict needs findings that are missing: " + "; ".join(missing)], causes
    if noise.get("significant") and noise.get("material", True):      # an immaterial excess is no limit
        causes.append({"cause": "label_noise", "evidence": noise["summary"], "p_value": noise.get("p_value")})
    if not powered:
        causes.append({"cause": "sample_size", "evidence": power_text, "p_value": None})
    model_cause = ({"cause": "model_family", "evidence": comp["summary"], "p_value": comp["misses"][0]["p_value"]}
                   if comp.get("misses") else None)
    curve_cause = ({"cause": "sample_size", "evidence": curve["summary"], "p_value": None}
                   if curve.get("more_patients_help", curve.get("rising")) else None)
    if any(c["cause"] in DATA_CAUSES for c in causes):
        verdict = "data_limited"
    elif model_cause:
        verdict = "model_limited"
    elif curve_cause:
        verdict = "data_limited"
    else:
        verdict = "near_ceiling"
    for extra in (model_cause, curve_cause):
        if extra and not any(c["cause"] == extra["cause"] and c["evidence"] == extra["evidence"] for c in causes):
            causes.append(extra)
    if verdict == "model_limited":                      # the primary cause first
        causes.sort(key=lambda c: c["cause"] != "model_family")
    reasons += [c["evidence"] for c in causes]
    if verdict == "near_ceiling":
        reasons.append(f"near this cohort's ceiling: {curve['summary']}; {comp['summary']}")
    if noise.get("identifiable") is False:     # not a cause, but the ceiling may be the labels': say so
        reasons.append(f"label noise can be neither claimed nor excluded here: {noise['summary']}")
    return verdict, reasons, causes
