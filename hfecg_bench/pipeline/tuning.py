"""Nested tuning: one Optuna study per model and outer fold, scored on inner patient-wise folds.

Studies live in an SQLite file in the run directory, named ``<model>-fold<k>``, opened
with ``load_if_exists=True``: running the same command again continues an interrupted
study (completed trials count toward the budget, trials left RUNNING by a killed process
are marked FAIL) instead of starting over. The objective is the mean inner patient-level
AUROC; the best trial's inner out-of-fold probabilities are kept (trial user attribute
``oof``) so the decision threshold can be chosen on the training patients only.
"""
from __future__ import annotations

import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import optuna
import pandas as pd
from optuna.trial import TrialState

from hfecg_bench.errors import HfecgError, TrialFailedError
from hfecg_bench.evaluation.folds import assert_disjoint
from hfecg_bench.evaluation.metrics import safe_auroc
from hfecg_bench.models.base import ModelData


@dataclass
class TuneResult:
    """Outcome of tuning one model on one outer fold.

    Attributes
    ----------
    params : dict
        Best parameters (the model's defaults when no trials were run).
    inner_auroc : float
        Mean inner patient-level AUROC of ``params``.
    oof : pandas.Series
        Inner out-of-fold probabilities of ``params`` for every outer training patient.
    n_trials : int
        Completed trials in the study (0 when untuned).
    resumed_from : int
        Completed trials found when the study was opened.
    """

    params: dict
    inner_auroc: float
    oof: pd.Series
    n_trials: int = 0
    resumed_from: int = 0
    info: dict = field(default_factory=dict)


def storage_url(path: Path) -> str:
    return f"sqlite:///{Path(path).resolve()}"


def inner_cv(spec, data: ModelData, splits, labels: pd.Series, params: dict, seed: int, profile: str,
             where: str = "inner") -> tuple[float, pd.Series]:
    """Mean patient-level AUROC over ``splits`` and the out-of-fold probability of every patient."""
    parts, aucs = [], []
    for i, (tr, va) in enumerate(splits):
        assert_disjoint(tr, va, f"{where} inner fold {i}")
        res = spec.fit_predict(data, list(tr), list(va), params, seed, profile)
        prob = res.test_prob.reindex([str(x) for x in va])
        if prob.isna().any():
            raise HfecgError(f"{spec.name}: no prediction for inner validation patients {list(prob.index[prob.isna()])[:5]}")
        parts.append(prob)
        aucs.append(safe_auroc(labels.loc[prob.index].to_numpy(), prob.to_numpy()))
    oof = pd.concat(parts).sort_index()
    return float(np.nanmean(aucs)) if not np.all(np.isnan(aucs)) else float("nan"), oof


#: Trial states that use up the budget: a pruned trial (its parameters could not train) is not rerun on resume.
FINISHED = (TrialState.COMPLETE, TrialState.PRUNED)


def _n_finished(study: optuna.Study) -> int:
    return sum(t.state in FINISHED for t in study.get_trials(deepcopy=False))


def completed_trials(path: Path, study_name: str) -> int | None:
    """Finished (complete or pruned) trials of a stored study, or None when the file or study does not exist
    (nothing is created)."""
    if not Path(path).exists():
        return None
    try:
        summaries = optuna.get_all_study_summaries(storage=storage_url(path), include_best_trial=False)
    except Exception:  # noqa: BLE001 - a file being created concurrently, or not a study database
        return None
    for s in summaries:
        if s.study_name == study_name:
            study = optuna.load_study(study_name=study_name, storage=storage_url(path))
            return _n_finished(study)
    return None


def open_study(path: Path, study_name: str, seed: int, n_startup: int) -> optuna.Study:
    """Create or load the study; trials a killed process left RUNNING are marked FAIL."""
    storage = optuna.storages.RDBStorage(storage_url(path))
    sampler = optuna.samplers.TPESampler(seed=seed, n_startup_trials=n_startup)
    study = optuna.create_study(storage=storage, study_name=study_name, direction="maximize", sampler=sampler,
                                load_if_exists=True)
    sid = storage.get_study_id_from_name(study_name)
    for t in study.get_trials(deepcopy=False, states=(TrialState.RUNNING, TrialState.WAITING)):
        storage.set_trial_state_values(storage.get_trial_id_from_study_id_trial_number(sid, t.number), TrialState.FAIL)
    return study


def tune(spec, data: ModelData, splits, labels: pd.Series, *, n_trials: int, profile: str, fit_seed: int,
         tpe_seed: int, n_startup: int = 4, db_path: Path | None = None, study_name: str = "study",
         where: str = "", stream=None) -> TuneResult:
    """Tune ``spec`` on ``splits`` (inner patient folds of one outer training set) with a seeded TPE study.

    With ``n_trials == 0``, an untunable spec (``spec.tunable`` False) or no ``db_path``, the default parameters are
    scored on the same inner folds (their out-of-fold probabilities still give the threshold).
    Only ``n_trials - completed`` new trials run when the stored study already has some.
    """
    stream = stream or sys.stderr
    where = where or study_name
    if n_trials <= 0 or not spec.tunable or db_path is None:
        params = spec.default_params(profile)
        auc, oof = inner_cv(spec, data, splits, labels, params, fit_seed, profile, where)
        return TuneResult(params=params, inner_auroc=auc, oof=oof)
    study = open_study(db_path, study_name, tpe_seed, n_startup)
    done = _n_finished(study)
    remaining = max(0, n_trials - done)
    t0 = time.monotonic()
    tty = getattr(stream, "isatty", lambda: False)()

    def objective(trial: optuna.Trial) -> float:
        params = spec.suggest(trial, profile)
        try:
            auc, oof = inner_cv(spec, data, splits, labels, params, fit_seed, profile, where)
        except TrialFailedError as exc:  # this parameter choice cannot train (NaN loss, receptive field): next trial
            print(f"{where}: trial {trial.number} failed, the run goes on: {exc}", file=stream, flush=True)
            trial.set_user_attr("failed", str(exc))
            raise optuna.TrialPruned(str(exc)) from None
        trial.set_user_attr("params", _jsonable(params))
        trial.set_user_attr("oof", {str(k): float(v) for k, v in oof.items()})
        if np.isnan(auc):
            raise optuna.TrialPruned("inner AUROC undefined")
        return auc

    def report(study: optuna.Study, trial) -> None:
        if tty:
            n = sum(t.state == TrialState.COMPLETE for t in study.get_trials(deepcopy=False))
            best = study.best_value if n else float("nan")
            print(f"\r{where}: trial {n}/{n_trials}, best inner AUROC {best:.3f} ({time.monotonic() - t0:.0f} s)   ",
                  end="", file=stream, flush=True)

    if remaining:
        study.optimize(objective, n_trials=remaining, n_jobs=1, callbacks=[report], gc_after_trial=False)
        if tty:
            print("\r", end="", file=stream)
    complete = [t for t in study.get_trials(deepcopy=False) if t.state == TrialState.COMPLETE]
    if not complete:
        failed = [t.user_attrs["failed"] for t in study.get_trials(deepcopy=False) if "failed" in t.user_attrs]
        why = f"every trial failed, e.g. {failed[0]}" if failed else "inner AUROC undefined in every trial"
        raise HfecgError(f"{where}: no tuning trial completed ({why})")
    best = study.best_trial
    params = best.user_attrs.get("params", best.params)
    oof = pd.Series(best.user_attrs["oof"], dtype=float).sort_index()
    oof.index.name = "patient_id"
    return TuneResult(params=params, inner_auroc=float(best.value), oof=oof, n_trials=len(complete),
                      resumed_from=done, info={"best_trial": best.number})


def _jsonable(params: dict) -> dict:
    out = {}
    for k, v in params.items():
        if isinstance(v, np.generic):
            v = v.item()
        out[k] = v
    return out
