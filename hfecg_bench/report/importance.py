"""Permutation importance of the classical models, as the (model, fold) units saved it: one file per unit
(``fold_predictions/<model>_fold<k>_importance.csv``, written by the driver), read back and averaged over folds.

Each unit measured, on its own test patients with its own fitted model, the AUROC drop when one group of
feature columns (one lead, or one feature group) is permuted across those patients
(:func:`hfecg_bench.pipeline.fold.fit_with_importance`); so the importance is out-of-fold, like the
predictions, and costs no refit.

Examples
--------
>>> import tempfile, pathlib
>>> d = pathlib.Path(tempfile.mkdtemp())
>>> for k, drop in enumerate([0.2, 0.4]):
...     _ = pd.DataFrame({"fold": k, "kind": ["group", "lead"], "name": ["hf", "V2"], "n_columns": [10, 5],
...                       "base_auroc": 0.9, "auroc_drop": [drop, 0.0], "auroc_drop_sd": 0.01, "n_repeats": 5,
...                       "n_test": 12}).pipe(lambda t: save_importance(d, "rf", k, t))
>>> summary = importance_summary(load_importance(d))
>>> summary[["model", "kind", "name", "auroc_drop", "n_folds"]].to_string(index=False)
'model  kind name  auroc_drop  n_folds\\n   rf group   hf         0.3        2\\n   rf  lead   V2         0.0        2'
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from hfecg_bench.io import write_csv

FOLD_DIR = "fold_predictions"


def importance_file(run_dir: Path, model: str, fold: int) -> Path:
    """Where the driver saves one unit's permutation importance."""
    return Path(run_dir) / FOLD_DIR / f"{model}_fold{fold}_importance.csv"


def save_importance(run_dir: Path, model: str, fold: int, table: pd.DataFrame) -> Path:
    """Write one unit's importance (the driver's call, before the unit's summary marks it finished)."""
    path = importance_file(run_dir, model, fold)
    path.parent.mkdir(parents=True, exist_ok=True)
    return write_csv(path, table)


def load_importance(run_dir: Path) -> pd.DataFrame:
    """Every unit's importance rows with a ``model`` column; empty frame when the run saved none."""
    files = sorted((Path(run_dir) / FOLD_DIR).glob("*_fold*_importance.csv"))
    frames = []
    for f in files:
        model = f.name[: f.name.rindex("_fold")]
        frames.append(pd.read_csv(f).assign(model=model))
    return pd.concat(frames, ignore_index=True) if frames else pd.DataFrame()


def importance_summary(rows: pd.DataFrame) -> pd.DataFrame:
    """Mean AUROC drop over folds per (model, kind, name), with its between-fold standard error.

    Folds whose test side held one class (NaN drop) are left out of the mean; ``n_folds`` counts those used.
    Sorted by model, kind (group before lead), then drop (largest first).
    """
    cols = ["model", "kind", "name", "n_columns", "auroc_drop", "auroc_drop_se", "n_folds"]
    if rows.empty:
        return pd.DataFrame(columns=cols)
    g = rows.dropna(subset=["auroc_drop"]).groupby(["model", "kind", "name"], sort=False)
    out = g.agg(n_columns=("n_columns", "max"), auroc_drop=("auroc_drop", "mean"),
                sd=("auroc_drop", "std"), n_folds=("auroc_drop", "size")).reset_index()
    out["auroc_drop_se"] = out["sd"].fillna(0.0) / np.sqrt(out["n_folds"])
    out = out.sort_values(["model", "kind", "auroc_drop", "name"], ascending=[True, True, False, True],
                          kind="mergesort")
    return out[cols].reset_index(drop=True)


__all__ = ["importance_file", "importance_summary", "load_importance", "save_importance"]
