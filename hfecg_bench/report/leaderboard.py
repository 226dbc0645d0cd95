"""The leaderboard: metrics.csv plus each model's family and input, ranked by patient-level AUROC."""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd

def model_meta(run_dir: Path) -> dict[str, dict]:
    """Model -> {family, input}, as the pipeline recorded them in ``manifest.json`` (``model_info``: the
    family each spec declares and the view it was actually fitted on)."""
    manifest = Path(run_dir) / "manifest.json"
    recorded = (json.loads(manifest.read_text()).get("model_info") or {}) if manifest.exists() else {}
    return {name: {"family": info.get("family", "unknown"), "input": info.get("input", "unknown")}
            for name, info in recorded.items() if isinstance(info, dict)}


def build_leaderboard(run_dir: Path) -> pd.DataFrame:
    """metrics.csv of ``run_dir`` with ``family`` and ``input`` columns, ranked by AUROC (best first).

    Ties are broken by AUPRC, then by model name, so the order is deterministic.
    """
    metrics = pd.read_csv(Path(run_dir) / "metrics.csv")
    meta = model_meta(run_dir)
    metrics.insert(1, "family", [meta.get(m, {}).get("family", "unknown") for m in metrics["model"]])
    metrics.insert(2, "input", [meta.get(m, {}).get("input", "unknown") for m in metrics["model"]])
    order = metrics.sort_values(["auroc", "auprc", "model"], ascending=[False, False, True], kind="mergesort")
    return order.reset_index(drop=True)


def _fmt(x, digits=3):
    if x is None or (isinstance(x, float) and not np.isfinite(x)):
        return "–"
    if isinstance(x, (int, np.integer)):
        return str(int(x))
    return f"{float(x):.{digits}f}"


def _p(x):
    if x is None or not np.isfinite(x):
        return "–"
    return "best" if x >= 0.99999 else ("<0.001" if x < 0.001 else f"{x:.3f}")


def leaderboard_markdown_table(lb: pd.DataFrame) -> str:
    """One row per model: family, input, AUROC with 95% CI and per-fold mean, the other metrics, DeLong p vs best, fit seconds."""
    head = ("| rank | model | family | input | AUROC (95% CI) | fold mean | AUPRC | bal. acc. | sens. | spec. | F1 | MCC "
            "| Brier | train AUROC | DeLong p vs best | fit s |")
    sep = "|" + "---|" * 16
    rows = []
    for i, r in lb.iterrows():
        get = r.get
        rows.append(
            f"| {i + 1} | {r['model']} | {r['family']} | {r['input']} | {_fmt(get('auroc'))} "
            f"({_fmt(get('auroc_lo'))}–{_fmt(get('auroc_hi'))}) | {_fmt(get('auroc_fold_mean'))} | {_fmt(get('auprc'))} | {_fmt(get('balanced_accuracy'))} "
            f"| {_fmt(get('sensitivity'))} | {_fmt(get('specificity'))} | {_fmt(get('f1'))} | {_fmt(get('mcc'))} "
            f"| {_fmt(get('brier'))} | {_fmt(get('train_auroc'))} | {_p(get('delong_p', np.nan))} | {_fmt(get('fit_seconds'), 1)} |")
    return "\n".join([head, sep, *rows])
