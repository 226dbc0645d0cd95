"""Diagnostics that tell a data limit from a model limit, each a finding with its evidence, and the verdict.

A finding is a dict ``{"kind", "summary", ...numbers..., "patients": [...]}``; the
verdict (:mod:`hfecg_bench.diagnostics.verdict`) reads only findings.
"""

import numpy as _np


def null_quantiles(null, n: int = 101) -> list[float]:
    """The 0, 1, ..., 100th percentiles of a simulated null distribution (NaNs dropped), rounded to 4 decimals:
    enough for a report to draw the null against the observed statistic without storing every draw.

    >>> null_quantiles([0.0, 1.0], n=3)
    [0.0, 0.5, 1.0]
    """
    values = _np.asarray(null, dtype=float)
    values = values[_np.isfinite(values)]
    if values.size == 0:
        return []
    return [round(float(q), 4) for q in _np.quantile(values, _np.linspace(0.0, 1.0, n))]
