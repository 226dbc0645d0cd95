"""What AUROC a cohort of this size could detect (Hanley & McNeil 1982 standard errors)."""
from __future__ import annotations

import numpy as np
from scipy.stats import norm


def auroc_se(auc: float, n_pos: int, n_neg: int) -> float:
    """Hanley-McNeil standard error of an AUROC estimated from ``n_pos`` positives and ``n_neg`` negatives."""
    a = float(auc)
    q1, q2 = a / (2 - a), 2 * a * a / (1 + a)
    var = (a * (1 - a) + (n_pos - 1) * (q1 - a * a) + (n_neg - 1) * (q2 - a * a)) / (n_pos * n_neg)
    return float(np.sqrt(max(var, 0.0)))


def detectable_auroc(n_pos: int, n_neg: int, *, alpha: float = 0.05, power: float = 0.8) -> float:
    """Smallest true AUROC that a two-sided level-``alpha`` test against 0.5 detects with ``power``.

    Solves ``0.5 + z_{1-alpha/2} * SE(0.5) + z_{power} * SE(A) = A`` on a grid (SE from
    :func:`auroc_se`); returns 1.0 when even a perfect classifier would not be detected.

    Examples
    --------
    >>> round(detectable_auroc(36, 84), 2), round(detectable_auroc(9, 21), 2)
    (0.66, 0.81)
    """
    if n_pos < 1 or n_neg < 1:
        return 1.0
    za, zb = norm.ppf(1 - alpha / 2), norm.ppf(power)
    se0 = auroc_se(0.5, n_pos, n_neg)
    for a in np.arange(0.5, 1.0001, 0.0025):
        if a - 0.5 >= za * se0 + zb * auroc_se(a, n_pos, n_neg):
            return float(round(a, 4))
    return 1.0
