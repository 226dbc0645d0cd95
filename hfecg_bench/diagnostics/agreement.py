"""Agreement between models, patients every model gets wrong, and train/test AUROC gaps.

All functions read the saved out-of-fold ``predictions.csv`` table
(``model, patient_id, fold, label, prob, threshold``), never refit.
"""
from __future__ import annotations

import numpy as np
import pandas as pd
from sklearn.metrics import cohen_kappa_score


def _wide(pred: pd.DataFrame, models: list[str]) -> tuple[pd.DataFrame, pd.DataFrame, pd.Series]:
    """Probabilities and thresholded calls, patients x models, and the labels."""
    p = pred[pred["model"].isin(models)]
    prob = p.pivot(index="patient_id", columns="model", values="prob")[models]
    thr = p.pivot(index="patient_id", columns="model", values="threshold")[models] if "threshold" in p else 0.5
    labels = p.drop_duplicates("patient_id").set_index("patient_id")["label"].loc[prob.index].astype(int)
    return prob, (prob >= thr).astype(int), labels


def model_agreement(pred: pd.DataFrame, models: list[str]) -> dict:
    """Pairwise agreement (fraction of patients with the same call, Cohen's kappa) and shared errors.

    Returns a finding of kind ``agreement`` with ``pairs`` (model_a, model_b, agreement, kappa),
    ``patients`` (ids every listed model misclassifies) and the error rate such a set would have
    if the models erred independently.
    """
    prob, calls, labels = _wide(pred, models)
    pairs = []
    for i, a in enumerate(models):
        for b in models[i + 1:]:
            agree = float((calls[a] == calls[b]).mean())
            kappa = float(cohen_kappa_score(calls[a], calls[b])) if calls[a].nunique() > 1 or calls[b].nunique() > 1 else 1.0
            pairs.append({"model_a": a, "model_b": b, "agreement": round(agree, 4),
                          "kappa": round(kappa, 4) if np.isfinite(kappa) else None})
    wrong = calls.ne(labels, axis=0)
    all_wrong = sorted(map(str, wrong.index[wrong.all(axis=1)]))
    expected = float(np.prod(wrong.mean(axis=0))) * len(wrong)
    mean_agree = float(np.mean([p["agreement"] for p in pairs])) if pairs else 1.0
    return {
        "kind": "agreement",
        "summary": (f"{len(models)} models agree on {mean_agree:.0%} of calls on average; {len(all_wrong)} patient(s) "
                    f"are misclassified by every model ({expected:.1f} expected if errors were independent)"),
        "models": list(models),
        "mean_agreement": round(mean_agree, 4),
        "pairs": pairs,
        "n_all_wrong": len(all_wrong),
        "n_all_wrong_if_independent": round(expected, 2),
        "patients": all_wrong,
    }


def train_test_gaps(metrics: pd.DataFrame) -> dict:
    """Train AUROC minus out-of-fold AUROC per model (overfitting)."""
    m = metrics.set_index("model")
    gaps = (m["train_auroc"] - m["auroc"]).dropna()
    rows = {k: {"train_auroc": round(float(m.loc[k, "train_auroc"]), 4), "test_auroc": round(float(m.loc[k, "auroc"]), 4),
                "gap": round(float(v), 4)} for k, v in gaps.items()}
    worst = gaps.idxmax() if len(gaps) else None
    summary = (f"largest train/test AUROC gap: {worst} ({gaps[worst]:+.2f}); median gap {gaps.median():+.2f}"
               if worst is not None else "no train scores saved")
    return {"kind": "train_test_gap", "summary": summary, "models": rows}
