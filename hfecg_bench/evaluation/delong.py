"""DeLong's test for two correlated AUROCs on the same patients (fast midrank algorithm of Sun & Xu, 2014).

>>> import numpy as np
>>> y = np.array([0, 0, 1, 1]); p = np.array([0.1, 0.4, 0.35, 0.8])
>>> delong_test(y, p, p)[2]
1.0
"""
from __future__ import annotations

import numpy as np
from scipy.stats import norm

from hfecg_bench.errors import HfecgError


def midrank(x: np.ndarray) -> np.ndarray:
    """1-based ranks of ``x`` with ties given their mean rank."""
    order = np.argsort(x, kind="mergesort")
    xs = x[order]
    n = len(x)
    ranks_sorted = np.empty(n, dtype=float)
    i = 0
    while i < n:
        j = i
        while j < n and xs[j] == xs[i]:
            j += 1
        ranks_sorted[i:j] = 0.5 * (i + j - 1) + 1
        i = j
    out = np.empty(n, dtype=float)
    out[order] = ranks_sorted
    return out


def delong_auc_cov(y, scores) -> tuple[np.ndarray, np.ndarray]:
    """AUROCs of the rows of ``scores`` (k x n) and their DeLong covariance matrix (k x k)."""
    y = np.asarray(y).astype(int)
    scores = np.atleast_2d(np.asarray(scores, dtype=float))
    pos, neg = y == 1, y == 0
    m, n = int(pos.sum()), int(neg.sum())
    if m < 2 or n < 2:
        raise HfecgError(f"DeLong's test needs at least 2 patients of each class, got {m} positive, {n} negative")
    k = scores.shape[0]
    aucs = np.empty(k)
    v01 = np.empty((k, m))
    v10 = np.empty((k, n))
    for r in range(k):
        x, z = scores[r, pos], scores[r, neg]
        tx, tz, txz = midrank(x), midrank(z), midrank(np.concatenate([x, z]))
        aucs[r] = txz[:m].sum() / (m * n) - (m + 1) / (2 * n)
        v01[r] = (txz[:m] - tx) / n          # structural components of the positives
        v10[r] = 1.0 - (txz[m:] - tz) / m    # ... and of the negatives
    s01 = np.atleast_2d(np.cov(v01))
    s10 = np.atleast_2d(np.cov(v10))
    return aucs, s01 / m + s10 / n


def delong_test(y, p1, p2) -> tuple[float, float, float]:
    """Two-sided DeLong test of AUROC(p1) = AUROC(p2) on the same patients.

    Returns ``(auc1, auc2, p_value)``; identical predictions (zero variance of the difference) give p = 1.
    """
    aucs, cov = delong_auc_cov(y, np.vstack([np.asarray(p1, float), np.asarray(p2, float)]))
    var = float(cov[0, 0] + cov[1, 1] - 2 * cov[0, 1])
    diff = float(aucs[0] - aucs[1])
    if var <= 1e-15:
        return float(aucs[0]), float(aucs[1]), 1.0 if abs(diff) < 1e-12 else 0.0
    z = diff / np.sqrt(var)
    return float(aucs[0]), float(aucs[1]), float(2 * norm.sf(abs(z)))
