"""Patient-level metrics of every model of a run, with confidence intervals and DeLong p-values.

AUROC intervals are Newcombe's score-type interval (informative at AUROC 1, where a bootstrap collapses);
every other metric gets a BCa interval over one set of patient bootstrap resamples drawn once and used
for every model, so that the intervals of two models are paired (helme/ecg_ptbxl_benchmarking does the same); DeLong's test
compares each model's AUROC with the best model's on the same patients.

Examples
--------
>>> import numpy as np, pandas as pd
>>> rng = np.random.default_rng(0)
>>> y = np.repeat([0, 1], 20)
>>> pred = pd.concat([pd.DataFrame({"model": m, "patient_id": [f"P{i:02d}" for i in range(40)], "fold": 0,
...                                 "label": y, "prob": p, "threshold": 0.5})
...                   for m, p in (("good", y * 0.6 + rng.uniform(0, 0.4, 40)), ("coin", rng.uniform(0, 1, 40)))])
>>> m = evaluate_predictions(pred, n_bootstrap=200, seed=1)
>>> list(m["model"]), float(m.loc[0, "auroc"]), bool(m.loc[1, "delong_p"] < 0.01)
(['good', 'coin'], 1.0, True)
"""
from __future__ import annotations

import numpy as np
import pandas as pd

from hfecg_bench.errors import HfecgError
from hfecg_bench.evaluation.bootstrap import bootstrap_ci, draw_resamples, newcombe_auroc_ci
from hfecg_bench.evaluation.delong import delong_test
from hfecg_bench.evaluation.metrics import METRICS, patient_metrics, safe_auroc

#: Columns of metrics.csv after the metric triples (value, lower, upper).
SUMMARY_COLUMNS = ["auroc_fold_mean", "train_auroc", "inner_auroc", "auroc_gap", "delong_p", "best", "fit_seconds", "n_patients",
                   "n_positive", "n_folds", "n_trials"]


def _fit_summary(scores: pd.DataFrame, model: str) -> dict:
    s = scores[scores["model"] == model] if len(scores) else scores
    if not len(s):
        return {"train_auroc": float("nan"), "inner_auroc": float("nan"), "fit_seconds": float("nan"), "n_trials": 0}
    return {"train_auroc": float(s["train_auroc"].mean()), "inner_auroc": float(s["inner_auroc"].mean()),
            "fit_seconds": round(float(s["fit_seconds"].sum()), 2), "n_trials": int(s["n_trials"].sum())}


def evaluate_predictions(pred: pd.DataFrame, scores: pd.DataFrame | None = None, *, n_bootstrap: int = 1000,
                         ci_level: float = 0.95, seed: int = 0) -> pd.DataFrame:
    """One row per model: metrics, bootstrap CIs, train/inner AUROC, DeLong p against the best, sorted by AUROC.

    Parameters
    ----------
    pred : pandas.DataFrame
        ``predictions.csv``: ``model, patient_id, fold, label, prob, threshold``, one row per model and patient.
    scores : pandas.DataFrame, optional
        ``train_scores.csv``: per model and fold ``train_auroc, inner_auroc, fit_seconds, n_trials``.
    n_bootstrap : int, default 1000
        Patient resamples (stratified by label), shared by every model.
    ci_level : float, default 0.95
    seed : int
        Seed of the resamples (the run's ``bootstrap`` seed).

    Returns
    -------
    pandas.DataFrame
        Columns ``model``, then ``<metric>, <metric>_lo, <metric>_hi`` for each metric, then
        :data:`SUMMARY_COLUMNS`.
    """
    if pred.empty:
        raise HfecgError("no predictions to evaluate")
    scores = scores if scores is not None else pd.DataFrame()
    models = list(dict.fromkeys(pred["model"]))
    patients = sorted(set(pred["patient_id"]))
    labels = pred.drop_duplicates("patient_id").set_index("patient_id")["label"].reindex(patients).astype(int)
    shared = draw_resamples(labels.to_numpy(), n_bootstrap, seed)
    complete, rows = {}, []
    for m in models:
        d = pred[pred["model"] == m].set_index("patient_id").reindex(patients)
        if d["prob"].isna().any():  # a model that scored a subset: its own resamples, no DeLong
            d = d.dropna(subset=["prob"])
            idx = draw_resamples(d["label"].to_numpy(), n_bootstrap, seed)
        else:
            idx = shared
            complete[m] = d["prob"].to_numpy()
        y, p, thr = d["label"].astype(int).to_numpy(), d["prob"].to_numpy(), d["threshold"].to_numpy()
        row = {"model": m, **patient_metrics(y, p, thr)}
        for k, (lo, hi) in bootstrap_ci(y, p, thr, idx, ci_level).items():
            row[f"{k}_lo"], row[f"{k}_hi"] = lo, hi
        row["auroc_lo"], row["auroc_hi"] = newcombe_auroc_ci(row["auroc"], int(y.sum()), int(len(y) - y.sum()), ci_level)
        row["auroc_fold_mean"] = fold_mean_auroc(d)
        row.update(_fit_summary(scores, m))
        row["auroc_gap"] = row["train_auroc"] - row["auroc"]
        row.update(n_folds=int(d["fold"].nunique()), n_patients=len(d), n_positive=int(y.sum()))
        rows.append(row)
    out = pd.DataFrame(rows)
    best = out.loc[out["auroc"].idxmax(), "model"]
    out["best"] = out["model"] == best
    out["delong_p"] = [_delong_p(labels, complete, m, best) for m in out["model"]]
    first = ["model"] + [c for k in METRICS for c in (k, f"{k}_lo", f"{k}_hi")]
    return out[first + SUMMARY_COLUMNS].sort_values("auroc", ascending=False, kind="mergesort").reset_index(drop=True)


def fold_mean_auroc(d: pd.DataFrame) -> float:
    """Mean of the per-fold AUROCs (folds holding both classes), beside the pooled out-of-fold AUROC.

    Pooling scores across folds mixes models fitted on different training sides; without signal that
    pulls the pooled AUROC below 0.5 (see :func:`hfecg_bench.diagnostics.signal.pooled_auroc_note`).
    """
    vals = [safe_auroc(g["label"].astype(int), g["prob"]) for _, g in d.groupby("fold") if g["label"].nunique() == 2]
    vals = [v for v in vals if np.isfinite(v)]
    return float(np.mean(vals)) if vals else float("nan")


def _delong_p(labels: pd.Series, complete: dict, model: str, best: str) -> float:
    if model == best:
        return 1.0
    if model not in complete or best not in complete:
        return float("nan")
    try:
        return delong_test(labels.to_numpy(), complete[model], complete[best])[2]
    except HfecgError:
        return float("nan")
