"""What a run leaves behind, read back: :class:`RunResult`, ``predictions.csv``/``train_scores.csv`` collected from
the per-unit files, and :func:`load_result` for a finished run directory (no refitting)."""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from hfecg_bench.errors import HfecgError
from hfecg_bench.evaluation.folds import FoldPlan
from hfecg_bench.io import read_json, write_csv
from hfecg_bench.pipeline import finish
from hfecg_bench.pipeline.state import FOLDS_FILE, PREDICTIONS_FILE, TRAIN_SCORES_FILE, RunDirectory

PRED_COLUMNS = ["model", "patient_id", "fold", "label", "prob", "threshold"]


@dataclass
class RunResult:
    """What :func:`run` returns; everything in it is also in files of ``run_dir``.

    Attributes
    ----------
    run_dir : Path
    leaderboard : pandas.DataFrame
        One row per model, best AUROC first: family, input, AUROC with its 95% CI, the other metrics.
    verdict : str or None
        ``no_signal``, ``data_limited``, ``model_limited``, ``near_ceiling`` or ``undetermined``;
        None when the run had fewer than two models besides the dummy baseline (nothing to diagnose).
    diagnostics : dict
        ``diagnostics.json``: the verdict, its reasons and every finding ({} without diagnostics).
    predictions : pandas.DataFrame
        ``predictions.csv``: out-of-fold patient-level probabilities of every model.
    plan : FoldPlan
        The one patient-wise fold plan every model used.
    """

    run_dir: Path
    leaderboard: pd.DataFrame
    verdict: str | None
    diagnostics: dict
    predictions: pd.DataFrame
    plan: FoldPlan


def collect_predictions(run_dir: RunDirectory, models: list[str], n_folds: int) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Write ``predictions.csv`` and ``train_scores.csv`` from the unit files of every model with all folds done."""
    preds, scores = [], []
    for m in models:
        if not all(run_dir.fold_done(m, f) for f in range(n_folds)):
            continue
        for f in range(n_folds):
            df, s = run_dir.load_fold(m, f)
            df.insert(0, "model", m)
            preds.append(df)
            scores.append({"model": m, "fold": s["fold"], "train_auroc": s["train_auroc"],
                           "inner_auroc": s["inner_auroc"], "threshold": s["threshold"], "n_trials": s["n_trials"],
                           "fit_seconds": s["fit_seconds"]})
    if not preds:
        raise HfecgError(f"no model has finished all folds in {run_dir.path}")
    order = {m: i for i, m in enumerate(models)}
    pred = pd.concat(preds, ignore_index=True)[PRED_COLUMNS]
    pred = pred.sort_values(["model", "patient_id"], key=lambda s: s.map(order) if s.name == "model" else s)
    pred = pred.reset_index(drop=True)
    scores = pd.DataFrame(scores).astype({"train_auroc": float, "inner_auroc": float})
    write_csv(run_dir.file(PREDICTIONS_FILE), pred)
    write_csv(run_dir.file(TRAIN_SCORES_FILE), scores)
    return pred, scores


def load_result(run_dir: Path) -> RunResult:
    """The :class:`RunResult` of a finished run directory, from its files only (no refitting)."""
    run_dir = Path(run_dir)
    rd = RunDirectory(path=run_dir, resuming=True, manifest=read_json(run_dir / "manifest.json", {}))
    pred = pd.read_csv(run_dir / PREDICTIONS_FILE, dtype={"patient_id": str})
    folds = pd.read_csv(run_dir / FOLDS_FILE, dtype={"patient_id": str}).set_index("patient_id")["fold"]
    labels = pred.drop_duplicates("patient_id").set_index("patient_id")["label"].astype(int)
    diagnostics = read_json(run_dir / "diagnostics.json", {})
    return RunResult(run_dir=run_dir, leaderboard=finish.leaderboard(rd), verdict=diagnostics.get("verdict"),
                     diagnostics=diagnostics, predictions=pred,
                     plan=FoldPlan(folds=folds.sort_index(), labels=labels.reindex(folds.sort_index().index)))


__all__ = ["PRED_COLUMNS", "RunResult", "collect_predictions", "load_result"]
