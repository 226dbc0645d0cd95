"""Run every diagnostic of a finished run and write ``diagnostics.json`` with the verdict."""
from __future__ import annotations

import time
from pathlib import Path

import pandas as pd

from hfecg_bench.bands import HF_BAND_HZ
from hfecg_bench.diagnostics import leakage, refit
from hfecg_bench.diagnostics.agreement import label_noise_candidates, model_agreement, train_test_gaps
from hfecg_bench.diagnostics.permutation import max_auroc_permutation
from hfecg_bench.diagnostics.power import detectable_auroc
from hfecg_bench.diagnostics.verdict import decide, family_comparison
from hfecg_bench.evaluation.seeds import derive_seed
from hfecg_bench.io import jsonable, write_json
from hfecg_bench.models.registry import get_spec


def power_finding(plan, metrics: pd.DataFrame, moderate_auroc: float = 0.75) -> dict:
    """Sample size, the AUROC detectable with 80% power, and the width of the best model's CI."""
    n1 = int(plan.labels.sum())
    n0 = int(len(plan.labels) - n1)
    det = detectable_auroc(n1, n0)
    m = metrics[metrics["model"] != "dummy"].sort_values("auroc", ascending=False)
    width = float(m.iloc[0]["auroc_hi"] - m.iloc[0]["auroc_lo"]) if len(m) else float("nan")
    return {"kind": "power",
            "summary": (f"{n1} positive and {n0} negative patients: AUROC >= {det:.2f} detectable with 80% power at "
                        f"alpha 0.05 ({'cannot' if det > moderate_auroc else 'can'} detect a moderate effect, AUROC "
                        f"{moderate_auroc}); best model's 95% CI is {width:.2f} wide"),
            "n_positive": n1, "n_negative": n0, "detectable_auroc": det, "moderate_auroc": moderate_auroc,
            "best_ci_width": round(width, 4)}


def consensus_models(metrics: pd.DataFrame, competing: list[str], families: dict[str, str]) -> list[str]:
    """Models whose out-of-fold probabilities are pooled for label-noise candidates.

    The best model's family, restricted to members whose AUROC CI lies above chance: a weaker family
    that misses the signal would only blur the consensus (on the planted label-noise cohort, pooling
    the best family gave candidate precision 0.50 against 0.46 with every above-chance model).
    """
    m = metrics.set_index("model").loc[competing].sort_values("auroc", ascending=False)
    best = m.index[0]
    fam = families.get(best)
    pool = [k for k in m.index if families.get(k) == fam and m.loc[k, "auroc_lo"] > 0.5]
    return pool or [best]


def run_diagnostics(run_dir: Path, data, plan, *, seed: int, profile: str, families: dict[str, str],
                    hf_band=HF_BAND_HZ, n_permutations: int = 2000, log=print) -> dict:
    """Compute every finding from the saved predictions (and refits at default parameters), decide, save.

    Parameters
    ----------
    run_dir : Path
        Holds ``predictions.csv`` and ``metrics.csv``; ``diagnostics.json`` is written there.
    data : ModelData
        The run's features (and beats, for the split-leakage gap).
    plan : FoldPlan
        The run's patient-wise fold plan.
    families : dict
        Model name -> family (``baseline``, ``classical``, ``deep``).
    hf_band : (float, float)
        Hz: the run's HF-QRS band (the split-leakage diagnostic's per-beat HF descriptor).
    """
    run_dir = Path(run_dir)
    pred = pd.read_csv(run_dir / "predictions.csv", dtype={"patient_id": str})
    metrics = pd.read_csv(run_dir / "metrics.csv")
    competing = [m for m in metrics["model"] if families.get(m) != "baseline"]
    findings, timings = [], {}

    def step(name, fn):
        t = time.monotonic()
        log(f"diagnostics: {name} ...")
        try:
            out = fn()
        except Exception as exc:  # a diagnostic that cannot run is reported, never fatal to the report
            out = {"kind": name, "summary": f"not computed: {type(exc).__name__}: {exc}", "error": str(exc)}
        timings[name] = round(time.monotonic() - t, 2)
        if out is not None:
            findings.append(out)

    step("permutation", lambda: max_auroc_permutation(pred, competing, n_permutations=n_permutations,
                                                      seed=derive_seed(seed, "permutation")))
    step("power", lambda: power_finding(plan, metrics))
    step("train_test_gap", lambda: train_test_gaps(metrics))
    step("agreement", lambda: model_agreement(pred, competing))
    step("label_noise", lambda: label_noise_candidates(pred, consensus_models(metrics, competing, families)))
    step("model_comparison", lambda: family_comparison(pred, metrics, families))
    classical = metrics[metrics["model"].map(families.get) == "classical"].sort_values("auroc", ascending=False)
    if data.features is not None and len(classical):
        spec = get_spec(str(classical.iloc[0]["model"]))
        step("learning_curve", lambda: refit.learning_curve(spec, data, plan, seed, profile))
        step("ablation", lambda: refit.ablation(spec, data, plan, seed, profile))
    if data.beats is not None:
        step("split_leakage", lambda: leakage.split_leakage(data.beats, plan, seed, hf_band=hf_band))
    else:
        findings.append({"kind": "split_leakage", "summary": "not computed: no beat windows in this run "
                         "(run a deep model or `run all` to get the beat-wise vs patient-wise split gap)"})
    verdict, reasons = decide(findings)
    out = jsonable({"verdict": verdict, "reasons": reasons, "findings": findings, "timings_s": timings})
    write_json(run_dir / "diagnostics.json", out)
    return out

