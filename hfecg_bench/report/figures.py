"""Figures of a run, drawn only from saved files (predictions, diagnostics, training histories)."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
from matplotlib.figure import Figure
from sklearn.metrics import confusion_matrix, roc_auc_score, roc_curve


def _subplots(*args, **kwargs):
    """A figure and its axes, without pyplot: no global backend or figure registry is touched."""
    fig = Figure(figsize=kwargs.pop("figsize", None))
    return fig, fig.subplots(*args, **kwargs)


def _save(fig, path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    return path


def roc_figure(pred: pd.DataFrame, order: list[str], path: Path) -> Path:
    """Patient-level out-of-fold ROC curves of every model, in leaderboard order, saved as ``path``."""
    return _save(roc_plot(pred, order), path)


def roc_plot(pred: pd.DataFrame, order: list[str]) -> Figure:
    """Patient-level out-of-fold ROC curves of every model, in leaderboard order."""
    fig, ax = _subplots(figsize=(6, 5.5))
    for m in order:
        p = pred[pred["model"] == m]
        if p["label"].nunique() < 2:
            continue
        fpr, tpr, _ = roc_curve(p["label"], p["prob"])
        ax.plot(fpr, tpr, lw=1.4, label=f"{m} ({roc_auc_score(p['label'], p['prob']):.2f})")
    ax.plot([0, 1], [0, 1], "k:", lw=1)
    ax.set(xlabel="1 - specificity", ylabel="sensitivity", title="Out-of-fold ROC, patient level")
    ax.legend(fontsize=8, loc="lower right")
    return fig


def confusion_figure(pred: pd.DataFrame, order: list[str], path: Path) -> Path:
    """:func:`confusion_plot` saved as ``path``."""
    return _save(confusion_plot(pred, order), path)


def confusion_plot(pred: pd.DataFrame, order: list[str]) -> Figure:
    """Confusion matrices at each fold's training-chosen threshold, one panel per model."""
    n = len(order)
    cols = min(5, n)
    rows = int(np.ceil(n / cols))
    fig, axes = _subplots(rows, cols, figsize=(2.4 * cols, 2.4 * rows), squeeze=False)
    for ax in axes.ravel()[n:]:
        ax.axis("off")
    for ax, m in zip(axes.ravel(), order):
        p = pred[pred["model"] == m]
        thr = p["threshold"] if "threshold" in p else 0.5
        cm = confusion_matrix(p["label"], (p["prob"] >= thr).astype(int), labels=[0, 1])
        ax.imshow(cm, cmap="Blues")
        for (i, j), v in np.ndenumerate(cm):
            ax.text(j, i, str(v), ha="center", va="center", color="black")
        ax.set(xticks=[0, 1], yticks=[0, 1], xlabel="predicted", ylabel="true", title=m)
    return fig


def learning_curve_figure(finding: dict, path: Path) -> Path:
    """:func:`learning_curve_plot` saved as ``path``."""
    return _save(learning_curve_plot(finding), path)


def learning_curve_plot(finding: dict) -> Figure:
    """Patient-level AUROC against training patients: mean of the repeats with their range, and the fitted
    inverse power law extended to four times the patients with the projected gains' intervals (2x, 4x)."""
    pts = finding.get("points") or []
    fig, ax = _subplots(figsize=(5, 4))
    if pts:
        x = np.array([p["n_train_patients"] for p in pts], dtype=float)
        y = [p["auroc"] for p in pts]
        lo = [p.get("auroc_min", p.get("auroc_lo", p["auroc"])) for p in pts]
        hi = [p.get("auroc_max", p.get("auroc_hi", p["auroc"])) for p in pts]
        ax.fill_between(x, lo, hi, alpha=0.2, label="range over repeats")
        ax.plot(x, y, "o", label="mean of repeats")
        fit = finding.get("fit")
        if fit:
            far = 4 if finding.get("gain_4x_lo") is not None else 2
            xs = np.linspace(x.min(), far * x.max(), 100)
            ax.plot(xs, fit["a"] - fit["b"] * xs ** -fit["c"], "-", lw=1, label="a - b n^-c")
            top = fit["a"] - fit["b"] * x.max() ** -fit["c"]
            for k, gain, glo, ghi in ((2, "gain_at_2x", "gain_lo", "gain_hi"), (4, "gain_at_4x", "gain_4x_lo", "gain_4x_hi")):
                if finding.get(glo) is not None:
                    ax.errorbar([k * x.max()], [top + finding[gain]], capsize=3, fmt="s",
                                yerr=[[finding[gain] - finding[glo]], [finding[ghi] - finding[gain]]],
                                label=f"projected at {k}x (95% CI)")
        ax.legend(fontsize=7, loc="lower right")
    ax.axhline(0.5, color="k", ls=":", lw=1)
    ax.set(xlabel="training patients per fold", ylabel="out-of-fold AUROC",
           title=f"Learning curve ({finding.get('model', '')})")
    return fig


def ablation_figure(finding: dict, path: Path) -> Path:
    """:func:`ablation_plot` saved as ``path``."""
    return _save(ablation_plot(finding), path)


def ablation_plot(finding: dict) -> Figure:
    """AUROC of each feature group alone and of all groups together."""
    res = finding.get("groups") or {}
    names = list(res)
    fig, ax = _subplots(figsize=(5.5, 3.5))
    vals = [res[k]["auroc"] for k in names]
    err = np.array([[res[k]["auroc"] - res[k].get("auroc_lo", res[k]["auroc"]) for k in names],
                    [res[k].get("auroc_hi", res[k]["auroc"]) - res[k]["auroc"] for k in names]])
    ax.barh(names, vals, xerr=err if len(names) else None, color="tab:blue", alpha=0.8)
    ax.axvline(0.5, color="k", ls=":", lw=1)
    ax.set(xlim=(0, 1), xlabel="out-of-fold AUROC", title=f"Feature-group ablation ({finding.get('model', '')})")
    return fig


def training_curve_figures(curve_dir: Path, out_dir: Path) -> list[Path]:
    """:func:`training_curve_plots` saved as ``out_dir/training_<model>.png``."""
    return [_save(fig, Path(out_dir) / f"training_{model}.png") for model, fig in training_curve_plots(curve_dir).items()]


def training_curve_plots(curve_dir: Path) -> dict[str, Figure]:
    """One figure per deep model: loss and AUROC per epoch, train and validation, one line per fold.

    Reads the pipeline's ``<model>_fold<k>_curve_history.csv`` files in ``curve_dir``.
    """
    files = sorted(Path(curve_dir).glob("*_fold*_curve_history.csv")) if Path(curve_dir).is_dir() else []
    by_model: dict[str, list[tuple[str, pd.DataFrame]]] = {}
    for f in files:
        model, _, rest = f.stem.rpartition("_fold")
        by_model.setdefault(model or f.stem, []).append((rest.split("_")[0], pd.read_csv(f)))
    figs = {}
    for model, runs in sorted(by_model.items()):
        fig, (a1, a2) = _subplots(1, 2, figsize=(9, 3.5))
        for fold, h in runs:
            ep = h["epoch"] if "epoch" in h else np.arange(len(h))
            for ax, key in ((a1, "loss"), (a2, "auc")):
                if key in h:
                    line, = ax.plot(ep, h[key], lw=1, label=f"fold {fold} train")
                    if f"val_{key}" in h:
                        ax.plot(ep, h[f"val_{key}"], lw=1, ls="--", color=line.get_color())
        a1.set(xlabel="epoch", ylabel="loss", title=f"{model}: loss (solid train, dashed validation)")
        a2.set(xlabel="epoch", ylabel="AUROC (beats)", title=f"{model}: AUROC")
        a2.legend(fontsize=7)
        figs[model] = fig
    return figs
