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

from hfecg_bench.errors import HfecgError

METRICS = ("auroc", "auprc", "balanced_accuracy", "sensitivity", "specificity", "f1", "mcc", "brier")
THRESHOLD_METRICS = ("balanced_accuracy", "sensitivity", "specificity", "f1", "mcc")


def patient_mean(prob, patient_ids) -> pd.Series:
    """Mean of each patient's record probabilities; index patient_id (sorted).

    Rounded to 12 decimals, so that equal record probabilities give exactly equal patient
    probabilities (a constant model must not rank patients by floating-point noise).
    """
    s = pd.Series(np.asarray(prob, dtype=float), index=pd.Index(np.asarray(patient_ids).astype(str), name="patient_id"))
    return s.groupby(level=0, sort=True).mean().round(12)


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
