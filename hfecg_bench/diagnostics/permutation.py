"""Permutation test of the best model that accounts for the best having been picked from several.

Labels are permuted across patients; for each permutation the AUROC of every model's
saved out-of-fold probabilities is recomputed and the MAXIMUM over models kept. The
p-value of the observed best AUROC against that max-statistic null (Westfall & Young)
is therefore valid after picking the best model, so a null cohort does not "find"
signal by picking among nine models.
"""
from __future__ import annotations

import numpy as np
import pandas as pd
from scipy.stats import rankdata


def max_auroc_permutation(pred: pd.DataFrame, models: list[str], *, n_permutations: int = 2000,
                          seed: int = 0) -> dict:
    """Max-over-models permutation test on out-of-fold predictions.

    Parameters
    ----------
    pred : DataFrame
        ``predictions.csv`` rows (model, patient_id, label, prob).
    models : list of str
        Models competing for "best" (the dummy baseline may be left out).
    n_permutations : int
        Label permutations; the smallest attainable p is ``1 / (n_permutations + 1)``.
    seed : int
        Seeds the permutations (derive it from the run seed).

    Returns
    -------
    dict
        A finding of kind ``permutation`` with the observed best model and AUROC, the
        null's 95th percentile, and ``p_value``.
    """
    prob = pred[pred["model"].isin(models)].pivot(index="patient_id", columns="model", values="prob")[models]
    labels = pred.drop_duplicates("patient_id").set_index("patient_id")["label"].loc[prob.index].to_numpy(int)
    ranks = np.column_stack([rankdata(prob[m].to_numpy()) for m in models])       # (n_patients, n_models), midranks
    n1, n0 = int(labels.sum()), int(len(labels) - labels.sum())
    offset, denom = n1 * (n1 + 1) / 2.0, float(n1 * n0)
    observed = (labels @ ranks - offset) / denom                                   # (n_models,)
    rng = np.random.default_rng(seed)
    null_max = np.empty(n_permutations)
    for start in range(0, n_permutations, 500):                                    # chunks bound memory
        k = min(500, n_permutations - start)
        perm = np.stack([rng.permutation(labels) for _ in range(k)])                # (k, n_patients)
        null_max[start:start + k] = ((perm @ ranks - offset) / denom).max(axis=1)
    best = int(np.argmax(observed))
    p = float((1 + np.sum(null_max >= observed[best])) / (n_permutations + 1))
    q95 = float(np.quantile(null_max, 0.95))
    return {
        "kind": "permutation",
        "summary": (f"best model {models[best]} AUROC {observed[best]:.3f} vs max-over-{len(models)}-models "
                    f"permutation null (95th percentile {q95:.3f}): p = {p:.4f}"),
        "best_model": models[best],
        "observed_auroc": round(float(observed[best]), 4),
        "null_max_q95": round(q95, 4),
        "null_max_mean": round(float(null_max.mean()), 4),
        "n_permutations": int(n_permutations),
        "n_models": len(models),
        "p_value": round(p, 5),
        "method": "labels permuted across patients; max AUROC over models on the saved out-of-fold probabilities",
    }
