"""Patient bootstrap confidence intervals with one set of resamples shared by every model (paired comparisons).

Resampling is stratified: each resample draws the positives from the positives and the
negatives from the negatives, with replacement, so every resample has both classes and
the AUROC is always defined.

>>> import numpy as np
>>> y = np.array([0, 0, 0, 1, 1]); idx = draw_resamples(y, n=100, seed=0)
>>> idx.shape
(100, 5)
"""
from __future__ import annotations

import numpy as np
from scipy.stats import rankdata

from hfecg_bench.errors import HfecgError
from hfecg_bench.evaluation.metrics import METRICS


def draw_resamples(y, n: int, seed: int) -> np.ndarray:
    """``(n, len(y))`` row indices: stratified resamples with replacement, drawn once per run."""
    y = np.asarray(y).astype(int)
    pos, neg = np.flatnonzero(y == 1), np.flatnonzero(y == 0)
    if len(pos) == 0 or len(neg) == 0:
        raise HfecgError(f"bootstrap needs patients of both classes, got {len(pos)} positive, {len(neg)} negative")
    rng = np.random.default_rng(seed)
    return np.concatenate([rng.choice(pos, size=(n, len(pos)), replace=True),
                           rng.choice(neg, size=(n, len(neg)), replace=True)], axis=1)


def resampled_metrics(y, p, threshold, indices: np.ndarray) -> dict[str, np.ndarray]:
    """Every metric of :data:`~hfecg_bench.evaluation.metrics.METRICS` on every resample (vectorised).

    Matches :func:`~hfecg_bench.evaluation.metrics.patient_metrics` on each resample
    (AUROC from midranks, AUPRC by scikit-learn's average precision).
    """
    y = np.asarray(y).astype(int)
    p = np.asarray(p, dtype=float)
    thr = np.broadcast_to(np.asarray(threshold, dtype=float), p.shape)
    yb, pb = y[indices], p[indices]
    predb = (pb >= thr[indices]).astype(int)
    n1 = yb.sum(axis=1).astype(float)
    n0 = (1 - yb).sum(axis=1).astype(float)
    ranks = rankdata(pb, axis=1)
    auroc = ((ranks * yb).sum(axis=1) - n1 * (n1 + 1) / 2) / (n1 * n0)
    tp = (predb * yb).sum(axis=1).astype(float)
    fp = (predb * (1 - yb)).sum(axis=1).astype(float)
    fn, tn = n1 - tp, n0 - fp
    with np.errstate(divide="ignore", invalid="ignore"):
        sens = np.where(n1 > 0, tp / n1, 0.0)
        spec = np.where(n0 > 0, tn / n0, 0.0)
        denom_f1 = 2 * tp + fp + fn
        f1 = np.where(denom_f1 > 0, 2 * tp / denom_f1, 0.0)
        mden = np.sqrt((tp + fp) * (tp + fn) * (tn + fp) * (tn + fn))
        mcc = np.where(mden > 0, (tp * tn - fp * fn) / mden, 0.0)
    auprc = average_precision_rows(yb, pb)
    return {"auroc": auroc, "auprc": auprc, "balanced_accuracy": (sens + spec) / 2, "sensitivity": sens,
            "specificity": spec, "f1": f1, "mcc": mcc, "brier": ((pb - yb) ** 2).mean(axis=1)}


def average_precision_rows(y: np.ndarray, p: np.ndarray) -> np.ndarray:
    """scikit-learn's ``average_precision_score`` of every row of ``(y, p)`` (2-D), vectorised, ties included.

    AP = sum over distinct score cuts (descending) of precision x recall increment.
    """
    order = np.argsort(-p, axis=1, kind="mergesort")
    ys = np.take_along_axis(y, order, axis=1).astype(float)
    ps = np.take_along_axis(p, order, axis=1)
    tp = np.cumsum(ys, axis=1)
    rank = np.arange(1, y.shape[1] + 1, dtype=float)
    last = np.ones_like(ps, dtype=bool)      # last position of each group of tied scores
    last[:, :-1] = ps[:, :-1] != ps[:, 1:]
    tp_at_cut = np.where(last, tp, 0.0)
    before = np.zeros_like(tp)
    before[:, 1:] = np.maximum.accumulate(tp_at_cut, axis=1)[:, :-1]
    n_pos = y.sum(axis=1).astype(float)
    with np.errstate(divide="ignore", invalid="ignore"):
        ap = (last * (tp / rank) * (tp - before)).sum(axis=1) / n_pos
    return np.where(n_pos > 0, ap, np.nan)


def bootstrap_ci(y, p, threshold, indices: np.ndarray, level: float = 0.95) -> dict[str, tuple[float, float]]:
    """Percentile interval ``(lo, hi)`` of every metric over the shared resamples."""
    dist = resampled_metrics(y, p, threshold, indices)
    a = (1 - level) / 2 * 100
    return {k: (float(np.nanpercentile(v, a)), float(np.nanpercentile(v, 100 - a))) for k, v in dist.items() if k in METRICS}
