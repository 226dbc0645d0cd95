"""Run every diagnostic of a finished run and write ``diagnostics.json`` with the verdict and its causes.

Everything here reads the run's saved files (predictions, metrics, features, folds, recording
properties) or refits at default parameters; nothing refits the tuned models, so ``diagnose RUN_DIR``
can recompute it all from a run directory.
"""
from __future__ import annotations

import time
from pathlib import Path

import pandas as pd

from hfecg_bench.bands import HF_BAND_HZ
from hfecg_bench.diagnostics import leakage, refit
from hfecg_bench.diagnostics.agreement import model_agreement, train_test_gaps
from hfecg_bench.diagnostics.confound import acquisition_confound
from hfecg_bench.diagnostics.label_noise import label_noise_test
from hfecg_bench.diagnostics.noise_score import screening_score
from hfecg_bench.diagnostics.learning import learning_curve
from hfecg_bench.diagnostics.signal import pooled_auroc_note, signal_test
from hfecg_bench.diagnostics.verdict import decide, family_comparison
from hfecg_bench.evaluation.seeds import derive_seed
from hfecg_bench.io import jsonable, write_json
from hfecg_bench.models.registry import get_spec


def consensus_models(metrics: pd.DataFrame, competing: list[str], families: dict[str, str]) -> list[str]:
    """Models whose out-of-fold probabilities are averaged for the label-noise test.

    The best model's family, restricted to members whose AUROC CI lies above chance: a weaker family
    that misses the signal would only blur the consensus.
    """
    m = metrics.set_index("model").loc[competing].sort_values("auroc", ascending=False)
    best = m.index[0]
    fam = families.get(best)
    pool = [k for k in m.index if families.get(k) == fam and m.loc[k, "auroc_lo"] > 0.5]
    return pool or [best]


def consensus_probability(pred: pd.DataFrame, models: list[str]) -> pd.Series:
    """Patient id -> mean out-of-fold probability over ``models``."""
    return pred[pred["model"].isin(models)].groupby("patient_id")["prob"].mean().sort_index()


def pooled_auroc_finding(metrics: pd.DataFrame, competing: list[str]) -> dict:
    """Pooled vs per-fold mean AUROC of every model, and why a pooled AUROC below 0.5 is no anti-signal."""
    m = metrics.set_index("model").loc[competing]
    rows = {k: {"pooled": round(float(m.loc[k, "auroc"]), 4), "fold_mean": round(float(m.loc[k, "auroc_fold_mean"]), 4)}
            for k in competing if "auroc_fold_mean" in m.columns}
    notes = {k: pooled_auroc_note(v["fold_mean"], v["pooled"]) for k, v in rows.items()}
    below = sorted(k for k, n in notes.items() if n)
    summary = (notes[below[0]] + (f" ({', '.join(below)})" if len(below) > 1 else "")) if below else \
        "every model's pooled out-of-fold AUROC is at or above 0.5; per-fold means are listed beside them"
    return {"kind": "pooled_auroc", "status": "ok", "summary": summary, "models": rows, "below_half": below}


def _label_noise(data, plan, pred, metrics, competing, families, seed) -> dict:
    """The label-noise test on the one-feature screening score (:mod:`~hfecg_bench.diagnostics.noise_score`);
    on the best family's consensus probability when the run has no feature table."""
    if data.features is not None:
        score = screening_score(data.features, plan)
        return {**label_noise_test(score, plan.labels, seed=derive_seed(seed, "label-noise"), is_probability=False),
                "judged_by": "out-of-fold one-feature screening score"}
    pool = consensus_models(metrics, competing, families)
    return {**label_noise_test(consensus_probability(pred, pool), plan.labels, seed=derive_seed(seed, "label-noise")),
            "judged_by": "consensus out-of-fold probability", "models": pool}


def _finding_or_failure(name: str, fn, log) -> tuple[dict, float]:
    t = time.monotonic()
    log(f"diagnostics: {name} ...")
    try:
        out = fn()
    except Exception as exc:  # reported as failed, never read as evidence: the verdict becomes undetermined
        out = {"kind": name, "status": "failed", "significant": None,
               "summary": f"not computed: {type(exc).__name__}: {exc}", "error": f"{type(exc).__name__}: {exc}"}
    return out, round(time.monotonic() - t, 2)


def run_diagnostics(run_dir: Path, data, plan, *, seed: int, profile: str, families: dict[str, str],
                    hf_band=HF_BAND_HZ, properties: pd.DataFrame | None = None, n_permutations: int = 1000,
                    n_power: int = 100, previous: dict | None = None, executor=None, log=print) -> dict:
    """Compute every finding, decide the verdict and its causes, save ``diagnostics.json``.

    Parameters
    ----------
    run_dir : Path
        Holds ``predictions.csv`` and ``metrics.csv``; ``diagnostics.json`` is written there.
    data : ModelData
        The run's features (and beats, for the split-leakage gap; None when recomputed from files).
    plan : FoldPlan
        The run's patient-wise fold plan.
    families : dict
        Model name -> family (``baseline``, ``classical``, ``deep``, ...).
    hf_band : (float, float)
        Hz: the run's HF-QRS band (the split-leakage diagnostic's per-beat HF descriptor).
    properties : DataFrame, optional
        Recording properties per patient (:func:`hfecg_bench.data.properties.recording_properties`).
    previous : dict, optional
        An earlier ``diagnostics.json``: findings that need data no longer at hand (beats) are carried over.
    executor : object with ``map``, optional
        Spreads the learning curve's refits.
    """
    run_dir = Path(run_dir)
    pred = pd.read_csv(run_dir / "predictions.csv", dtype={"patient_id": str})
    metrics = pd.read_csv(run_dir / "metrics.csv")
    competing = [m for m in metrics["model"] if families.get(m) != "baseline"]
    findings, timings = [], {}

    def step(name, fn):
        out, timings[name] = _finding_or_failure(name, fn, log)
        findings.append(out)
        return out

    signal = step("signal", lambda: signal_test(data.features, None, plan, seed=derive_seed(seed, "signal"),
                                                n_permutations=n_permutations, n_power=n_power))
    if properties is not None:
        step("acquisition_confound", lambda: acquisition_confound(properties, plan.labels, plan,
                                                                  seed=derive_seed(seed, "confound"),
                                                                  features=data.features))
    else:
        findings.append({"kind": "acquisition_confound", "status": "skipped", "significant": None,
                         "summary": "skipped: no recording properties for this run (the cohort had no records, or the "
                                    "run predates them): the label's dependence on how records were made is untested"})
    if signal.get("significant"):
        step("label_noise", lambda: _label_noise(data, plan, pred, metrics, competing, families, seed))
    else:   # without signal no score can tell a flipped label from a correct one: "cannot tell", by definition
        findings.append({"kind": "label_noise", "status": "ok", "significant": False, "identifiable": False,
                         "material": False, "patients": [], "p_value": None,
                         "summary": "cannot tell: the signal test found no signal, so no score separates the classes "
                                    "and a flipped label looks like any other"})
    step("model_comparison", lambda: family_comparison(pred, metrics, families, seed=derive_seed(seed, "families")))
    step("pooled_auroc", lambda: pooled_auroc_finding(metrics, competing))
    step("train_test_gap", lambda: train_test_gaps(metrics))
    step("agreement", lambda: model_agreement(pred, competing))
    classical = metrics[metrics["model"].map(families.get) == "classical"].sort_values("auroc", ascending=False)
    if data.features is not None and len(classical):
        spec = get_spec(str(classical.iloc[0]["model"]))
        step("learning_curve", lambda: learning_curve(spec, data, plan, seed, profile, executor=executor))
        step("ablation", lambda: {"status": "ok", **refit.ablation(spec, data, plan, seed, profile, executor=executor)})
    else:
        findings.append({"kind": "learning_curve", "status": "skipped", "significant": None,
                         "summary": "skipped: the learning curve refits a classical model, and this run has none"})
    if data.beats is not None:
        step("split_leakage", lambda: {"status": "ok", **leakage.split_leakage(data.beats, plan, seed, hf_band=hf_band)})
    else:
        old = next((f for f in (previous or {}).get("findings", []) if f.get("kind") == "split_leakage"), None)
        findings.append({**old, "carried_over": True} if old else
                        {"kind": "split_leakage", "status": "skipped",
                         "summary": "not computed: no beat windows in this run (run a deep model or `run all` to "
                                    "get the beat-wise vs patient-wise split gap)"})
    verdict, reasons, causes = decide(findings)
    out = jsonable({"verdict": verdict, "reasons": reasons, "causes": causes, "findings": findings,
                    "timings_s": timings})
    write_json(run_dir / "diagnostics.json", out)
    return out


__all__ = ["consensus_models", "consensus_probability", "run_diagnostics"]
