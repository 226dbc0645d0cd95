"""Figures of the HTML report that are drawn from the run's saved numbers: the verdict's evidence (each test's
null distribution against what was observed), ROC curves with bootstrap bands, reliability diagrams and the
permutation importance. Each function returns a matplotlib Figure (no pyplot state); :mod:`.html` embeds it.

Examples
--------
>>> q = list(np.linspace(0.35, 0.72, 101))
>>> fig = null_plot(q, 0.91, title="Signal", xlabel="AUROC", p_value=0.001)
>>> [t.get_text() for t in fig.axes[0].get_legend().get_texts()]
['permutation null', '95th percentile of the null', 'observed 0.910 (p = 0.001)']
"""
from __future__ import annotations

import numpy as np
import pandas as pd
from matplotlib.figure import Figure

from hfecg_bench.evaluation.bootstrap import draw_resamples

#: Colours of the two classes in every figure (negative, positive).
CLASS_COLORS = ("tab:blue", "tab:red")


def _fig(w: float, h: float, *args, **kwargs):
    fig = Figure(figsize=(w, h))
    return fig, fig.subplots(*args, **kwargs)


def null_sample(quantiles) -> np.ndarray:
    """An evenly spaced sample (2001 values) of a null distribution given by its 0..100th percentiles.

    >>> null_sample([0.0, 1.0]).mean().round(3)
    np.float64(0.5)
    """
    q = np.asarray(quantiles, dtype=float)
    return np.interp(np.linspace(0, 1, 2001), np.linspace(0, 1, len(q)), q)


def null_plot(quantiles, observed: float, *, title: str, xlabel: str, p_value=None, null_label="permutation null",
              note: str | None = None) -> Figure:
    """Histogram of a simulated null (from its percentiles), its 95th percentile and the observed statistic."""
    fig, ax = _fig(5.2, 3.2)
    null = null_sample(quantiles)
    ax.hist(null, bins=40, color="0.7", density=True, label=null_label)
    ax.axvline(np.quantile(null, 0.95), color="0.3", ls="--", lw=1, label="95th percentile of the null")
    p = f" (p = {p_value:.3g})" if isinstance(p_value, (int, float)) else ""
    ax.axvline(observed, color="tab:red", lw=2, label=f"observed {observed:.3f}{p}")
    handles, labels = ax.get_legend_handles_labels()          # lines come first: put the null first
    first = labels.index(null_label)
    keep = [first] + [i for i in range(len(labels)) if i != first]
    ax.legend([handles[i] for i in keep], [labels[i] for i in keep], fontsize=7, loc="upper left")
    ax.set(title=title, xlabel=xlabel, ylabel="density", yticks=[])
    lo, hi = min(null.min(), observed), max(null.max(), observed)
    pad = 0.05 * (hi - lo or 1.0)
    ax.set_xlim(lo - pad, hi + pad)
    if note:
        ax.text(0.99, 0.97, note, transform=ax.transAxes, ha="right", va="top", fontsize=7)
    return fig


def roc_band(y, p, indices: np.ndarray, grid: np.ndarray) -> np.ndarray:
    """Sensitivity at each false-positive rate of ``grid`` for every bootstrap resample ``indices`` (B, n).

    The ROC curve of each resample joins its points at every distinct score by straight lines (tied scores
    make one diagonal segment, as in the Mann-Whitney AUROC), read at ``grid``. Returns (B, len(grid)).

    >>> y = np.array([0, 0, 1, 1]); p = np.array([0.1, 0.6, 0.4, 0.9])
    >>> roc_band(y, p, np.arange(4)[None, :], np.array([0.0, 0.25, 0.5, 1.0])).tolist()
    [[0.5, 0.5, 1.0, 1.0]]
    >>> roc_band(y, np.full(4, 0.3), np.arange(4)[None, :], np.array([0.0, 0.5, 1.0])).tolist()   # all tied
    [[0.0, 0.5, 1.0]]
    """
    y, p = np.asarray(y, int), np.asarray(p, float)
    yb, pb = y[indices], p[indices]
    order = np.argsort(-pb, axis=1, kind="stable")
    ys, ps = np.take_along_axis(yb, order, 1), np.take_along_axis(pb, order, 1)
    n = ys.shape[1]
    tpr = np.cumsum(ys, axis=1) / np.maximum(ys.sum(axis=1, keepdims=True), 1)
    fpr = np.cumsum(1 - ys, axis=1) / np.maximum((1 - ys).sum(axis=1, keepdims=True), 1)
    cut = np.ones_like(ps, dtype=bool)
    cut[:, :-1] = ps[:, 1:] != ps[:, :-1]                                   # last of each tie group
    # every position takes the point at the end of its tie group, so a tie is one straight segment
    nxt = np.minimum.accumulate(np.where(cut, np.arange(n), n)[:, ::-1], axis=1)[:, ::-1]
    F = np.hstack([np.zeros((len(ys), 1)), np.take_along_axis(fpr, nxt, 1)])
    T = np.hstack([np.zeros((len(ys), 1)), np.take_along_axis(tpr, nxt, 1)])
    k = (F[:, :, None] <= grid[None, None, :] + 1e-12).sum(axis=1) - 1       # last point at or left of grid
    hi = np.minimum(k + 1, n)
    f0, f1 = np.take_along_axis(F, k, 1), np.take_along_axis(F, hi, 1)
    t0, t1 = np.take_along_axis(T, k, 1), np.take_along_axis(T, hi, 1)
    w = np.where(f1 > f0, (grid[None, :] - f0) / np.where(f1 > f0, f1 - f0, 1.0), 0.0)
    return t0 + np.clip(w, 0.0, 1.0) * (t1 - t0)


def roc_ci_plot(pred: pd.DataFrame, order: list[str], *, n_boot: int = 300, seed: int = 0) -> Figure:
    """Out-of-fold ROC curve of each model with its 95% pointwise bootstrap band (the same patient resamples
    for every model), in leaderboard order; one panel per model, up to 12."""
    order = [m for m in order if pred.loc[pred["model"] == m, "label"].nunique() == 2][:12]
    cols = min(4, max(len(order), 1))
    rows = int(np.ceil(max(len(order), 1) / cols))
    fig, axes = _fig(2.6 * cols, 2.6 * rows, rows, cols, squeeze=False, sharex=True, sharey=True)
    grid = np.linspace(0, 1, 101)
    first = pred[pred["model"] == order[0]].sort_values("patient_id") if order else None
    idx = draw_resamples(first["label"].to_numpy(int), n_boot, seed) if order else None
    for ax in axes.ravel()[len(order):]:
        ax.axis("off")
    for ax, m in zip(axes.ravel(), order):
        d = pred[pred["model"] == m].sort_values("patient_id")
        y, p = d["label"].to_numpy(int), d["prob"].to_numpy(float)
        curve = roc_band(y, p, np.arange(len(y))[None, :], grid)[0]
        band = np.quantile(roc_band(y, p, idx, grid), [0.025, 0.975], axis=0) if len(y) == idx.shape[1] else None
        if band is not None:
            ax.fill_between(grid, band[0], band[1], color="tab:blue", alpha=0.25, lw=0, label="95% band")
        ax.plot(grid, curve, color="tab:blue", lw=1.5, label="ROC")
        ax.plot([0, 1], [0, 1], "k:", lw=0.8)
        auc = float(np.trapezoid(curve, grid)) if hasattr(np, "trapezoid") else float(np.trapz(curve, grid))
        ax.set_title(f"{m} (AUROC {auc:.2f})", fontsize=9)
        ax.set_aspect("equal")
    for ax in axes[-1]:
        ax.set_xlabel("1 - specificity")
    for ax in axes[:, 0]:
        ax.set_ylabel("sensitivity")
    return fig


def calibration_table(y, p, n_bins: int = 5) -> pd.DataFrame:
    """Reliability bins of out-of-fold probabilities: equal-width bins, their count, mean predicted
    probability, observed fraction of positives and its 95% Wilson interval (empty bins dropped).

    >>> calibration_table([0, 0, 1, 1], [0.1, 0.2, 0.8, 0.9], n_bins=2)[["n", "observed"]].values.tolist()
    [[2.0, 0.0], [2.0, 1.0]]
    """
    y, p = np.asarray(y, float), np.clip(np.asarray(p, float), 0, 1)
    b = np.minimum((p * n_bins).astype(int), n_bins - 1)
    n = np.bincount(b, minlength=n_bins).astype(float)
    k = np.bincount(b, weights=y, minlength=n_bins)
    mp = np.bincount(b, weights=p, minlength=n_bins) / np.maximum(n, 1)
    obs = k / np.maximum(n, 1)
    z = 1.959964
    m = np.maximum(n, 1)
    centre = (obs + z * z / (2 * m)) / (1 + z * z / m)
    half = z * np.sqrt(obs * (1 - obs) / m + z * z / (4 * m ** 2)) / (1 + z * z / m)
    t = pd.DataFrame({"bin": np.arange(n_bins), "n": n, "predicted": mp, "observed": obs,
                      "lo": centre - half, "hi": centre + half})
    return t[t["n"] > 0].reset_index(drop=True)


def calibration_plot(pred: pd.DataFrame, order: list[str], n_bins: int = 5) -> Figure:
    """Reliability diagram of each model's out-of-fold probabilities (one panel per model, up to 12): observed
    fraction of positives per probability bin with its Wilson interval, the count written at each point."""
    order = list(order)[:12]
    cols = min(4, max(len(order), 1))
    rows = int(np.ceil(max(len(order), 1) / cols))
    fig, axes = _fig(2.6 * cols, 2.7 * rows, rows, cols, squeeze=False, sharex=True, sharey=True)
    for ax in axes.ravel()[len(order):]:
        ax.axis("off")
    for ax, m in zip(axes.ravel(), order):
        d = pred[pred["model"] == m]
        t = calibration_table(d["label"], d["prob"], n_bins)
        brier = float(np.mean((d["prob"].to_numpy(float) - d["label"].to_numpy(float)) ** 2))
        ax.plot([0, 1], [0, 1], "k:", lw=0.8)
        err = np.clip([t["observed"] - t["lo"], t["hi"] - t["observed"]], 0, None)     # rounding at 0 and 1
        ax.errorbar(t["predicted"], t["observed"], yerr=err,
                    fmt="o-", color="tab:green", ms=4, lw=1, capsize=2)
        for _, r in t.iterrows():
            ax.annotate(f"n={int(r['n'])}", (r["predicted"], r["observed"]), textcoords="offset points",
                        xytext=(4, -9), fontsize=6)
        ax.set_title(f"{m} (Brier {brier:.3f})", fontsize=9)
        ax.set(xlim=(-0.02, 1.02), ylim=(-0.02, 1.02))
    for ax in axes[-1]:
        ax.set_xlabel("predicted probability")
    for ax in axes[:, 0]:
        ax.set_ylabel("observed fraction positive")
    return fig


def importance_plot(summary: pd.DataFrame) -> Figure:
    """Mean AUROC drop over folds (with its standard error) per feature group and per lead, one colour per
    model: the left panel groups (hf, wavelet, ...), the right panel leads (``all`` = across-lead features)."""
    models = list(dict.fromkeys(summary["model"]))
    fig, axes = _fig(10, 4.2, 1, 2, gridspec_kw={"width_ratios": [1, 2]})
    width = 0.8 / max(len(models), 1)
    for ax, kind in zip(axes, ("group", "lead")):
        part = summary[summary["kind"] == kind]
        names = list(part.groupby("name", sort=False)["auroc_drop"].mean().sort_values(ascending=False).index)
        x = np.arange(len(names))
        shown = ["across leads" if n == "all" else n for n in names]
        for i, m in enumerate(models):
            r = part[part["model"] == m].set_index("name").reindex(names)
            ax.bar(x + (i - (len(models) - 1) / 2) * width, r["auroc_drop"], width, yerr=r["auroc_drop_se"],
                   capsize=1.5, label=m, error_kw={"lw": 0.7})
        ax.axhline(0, color="k", lw=0.8)
        ax.set_xticks(x, shown, rotation=45 if kind == "lead" else 0, fontsize=8)
        ax.set(title=f"by {'feature group' if kind == 'group' else 'lead'}", ylabel="AUROC drop when permuted")
    axes[0].legend(fontsize=7)
    return fig


__all__ = ["CLASS_COLORS", "calibration_plot", "calibration_table", "importance_plot", "null_plot", "null_sample",
           "roc_band", "roc_ci_plot"]
