"""Patient-level metrics, patient aggregation of record probabilities, and the training-side threshold.

>>> import numpy as np
>>> y = np.array([0, 0, 1, 1]); p = np.array([0.1, 0.4, 0.35, 0.8])
>>> round(patient_metrics(y, p, threshold=0.3)["auroc"], 2)
0.75
"""
from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
from sklearn.metrics import (average_precision_score, balanced_accuracy_score, brier_score_loss, f1_score,
                             matthews_corrcoef, recall_score, roc_auc_score, roc_curve)

from hfecg_bench.errors import HfecgError, ParameterError

METRICS = ("auroc", "auprc", "balanced_accuracy", "sensitivity", "specificity", "f1", "mcc", "brier")
THRESHOLD_METRICS = ("balanced_accuracy", "sensitivity", "specificity", "f1", "mcc")


#: How the probabilities of one patient's records or beats become the patient's probability.
AGGREGATIONS = ("mean", "median", "trimmed_mean")


def aggregate_patient_probs(prob, patient_ids, method: str = "mean", trim: float = 0.1) -> pd.Series:
    """Patient-level probability from record or beat probabilities: the one aggregation of the package.

    Parameters
    ----------
    prob : array-like of float, shape (n,)
        P(label = 1) of each record or beat.
    patient_ids : array-like, shape (n,)
        Patient of each.
    method : {"mean", "median", "trimmed_mean"}, default "mean"
    trim : float, default 0.1
        For ``trimmed_mean``: ``floor(trim * n)`` values are cut from each end of a patient's sorted values.

    Returns
    -------
    pandas.Series
        Index patient_id (str, sorted), values rounded to 12 decimals, so that equal inputs give exactly
        equal patient probabilities (a constant model must not rank patients by floating-point noise).

    Examples
    --------
    >>> aggregate_patient_probs([0.2, 0.4, 0.9, 0.3, 0.3, 0.3], ["a", "a", "b", "c", "c", "c"]).to_dict()
    {'a': 0.3, 'b': 0.9, 'c': 0.3}
    >>> aggregate_patient_probs([0.1, 0.2, 0.9, 0.5], ["a", "a", "a", "b"], "median").tolist()
    [0.2, 0.5]
    """
    values = np.asarray(prob, dtype=float).ravel()
    pids = np.asarray(patient_ids).astype(str).ravel()
    if values.shape != pids.shape:
        raise ParameterError("patient_ids", f"{pids.size} ids", f"one per probability ({values.size})")
    if method not in AGGREGATIONS:
        raise ParameterError("method", method, f"one of {', '.join(AGGREGATIONS)}")
    if not 0.0 <= trim < 0.5:
        raise ParameterError("trim", trim, "a fraction in [0, 0.5)")
    grouped = pd.Series(values, index=pd.Index(pids, name="patient_id")).groupby(level=0, sort=True)
    if method == "mean":
        out = grouped.mean()
    elif method == "median":
        out = grouped.median()
    else:
        out = grouped.agg(lambda s: _trimmed_mean(s.to_numpy(), trim))
    return out.astype(float).round(12)


def _trimmed_mean(x: np.ndarray, trim: float) -> float:
    x = np.sort(x)
    k = int(np.floor(trim * x.size))
    return float(x[k:x.size - k].mean())


def auroc_rows(y: np.ndarray, p: np.ndarray) -> np.ndarray:
    """AUROC (midranks, Mann-Whitney) of every row of labels ``y`` and scores ``p``, shapes (B, n) -> (B,).

    The one vectorised AUROC of the package (bootstrap resamples, permutations, refits); NaN for a row
    without both classes.

    >>> auroc_rows(np.array([[0, 0, 1, 1], [0, 1, 0, 1]]), np.array([[0.1, 0.2, 0.8, 0.9], [0.1, 0.2, 0.8, 0.9]]))
    array([1.  , 0.75])
    """
    from scipy.stats import rankdata

    y = np.asarray(y, dtype=float)
    n1 = y.sum(axis=1)
    n0 = y.shape[1] - n1
    with np.errstate(invalid="ignore", divide="ignore"):
        return ((rankdata(p, axis=1) * y).sum(axis=1) - n1 * (n1 + 1) / 2.0) / (n1 * n0)


def safe_auroc(y, p) -> float:
    """ROC AUC, or NaN when ``y`` holds one class."""
    y = np.asarray(y)
    if len(np.unique(y)) < 2:
        return float("nan")
    return float(roc_auc_score(y, np.asarray(p, dtype=float)))


def youden_threshold(y, p) -> float:
    """Probability cut maximising Youden's J (sensitivity + specificity - 1) on ``(y, p)``.

    Call it only with training-side predictions (inner out-of-fold probabilities of the
    outer training patients), never with test patients. The cut is placed half way
    between the chosen score and the next lower one, so a test score equal to a
    training score is classified as on the training side. Ties in J go to the highest cut.
    Constant scores (no information) return that score (everyone positive).
    """
    y, p = np.asarray(y).astype(int), np.asarray(p, dtype=float)
    if len(y) == 0 or len(np.unique(y)) < 2:
        raise HfecgError(f"a decision threshold needs training predictions of both classes, got {len(y)} with labels {sorted(set(y.tolist()))}")
    fpr, tpr, thr = roc_curve(y, p, drop_intermediate=False)
    fpr, tpr, thr = fpr[1:], tpr[1:], thr[1:]  # drop the +inf cut (everyone negative)
    i = int(np.argmax(tpr - fpr))
    if i + 1 < len(thr):
        return float((thr[i] + thr[i + 1]) / 2)
    return float(thr[i]) if len(np.unique(p)) > 1 else float(p[0])


def patient_metrics(y, p, threshold) -> dict:
    """AUROC, AUPRC, balanced accuracy, sensitivity, specificity, F1, MCC and Brier of patient-level predictions.

    Parameters
    ----------
    y : array of {0, 1}
        Patient labels.
    p : array of float
        Patient-level P(label = 1).
    threshold : float or array
        Cut (one per patient allowed: the threshold of the patient's outer fold); ``p >= threshold`` is positive.
    """
    y, p = np.asarray(y).astype(int), np.asarray(p, dtype=float)
    pred = (p >= np.asarray(threshold, dtype=float)).astype(int)
    both = len(np.unique(y)) == 2
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return {
            "auroc": float(roc_auc_score(y, p)) if both else float("nan"),
            "auprc": float(average_precision_score(y, p)) if both else float("nan"),
            "balanced_accuracy": float(balanced_accuracy_score(y, pred)),
            "sensitivity": float(recall_score(y, pred, pos_label=1, zero_division=0)),
            "specificity": float(recall_score(y, pred, pos_label=0, zero_division=0)),
            "f1": float(f1_score(y, pred, zero_division=0)),
            "mcc": float(matthews_corrcoef(y, pred)),
            "brier": float(brier_score_loss(y, p)),
        }
