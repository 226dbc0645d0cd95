"""Hanley & McNeil (1982) standard error of an AUROC (the learning-curve and ablation points' intervals).

The power of the signal test is simulated in :mod:`hfecg_bench.diagnostics.signal`: the test run is the
maximum over refitted proxies, which no closed formula covers."""
from __future__ import annotations

import numpy as np


def auroc_se(auc: float, n_pos: int, n_neg: int) -> float:
    """Hanley-McNeil standard error of an AUROC estimated from ``n_pos`` positives and ``n_neg`` negatives."""
    a = float(auc)
    q1, q2 = a / (2 - a), 2 * a * a / (1 + a)
    var = (a * (1 - a) + (n_pos - 1) * (q1 - a * a) + (n_neg - 1) * (q2 - a * a)) / (n_pos * n_neg)
    return float(np.sqrt(max(var, 0.0)))
