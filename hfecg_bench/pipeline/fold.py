"""One unit of work: tune, threshold, refit and predict one model on one outer fold.

:func:`fold_task` turns (model, fold plan, fold, run settings) into a :class:`FoldTask` of plain
values (patients, inner splits, seeds, budget); :func:`run_fold` is a plain function of that task
and the model inputs, returning a :class:`FoldResult` and writing nothing but the Optuna study. So
the unit runs the same in this process or in another one, and the driver alone writes the run
directory.

Leakage guards: the outer training and test patients are checked disjoint, every inner split is
checked disjoint from the outer test patients, and the decision threshold is chosen on
out-of-fold probabilities of training patients only.
"""
from __future__ import annotations

import time
import warnings
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from hfecg_bench.errors import HfecgError, HfecgWarning
from hfecg_bench.evaluation.folds import FoldPlan, assert_disjoint
from hfecg_bench.evaluation.metrics import safe_auroc, youden_threshold
from hfecg_bench.evaluation.seeds import derive_seed
from hfecg_bench.models.base import ModelData, ModelSpec
from hfecg_bench.pipeline.tuning import TuneResult, completed_trials, tune


@dataclass(frozen=True)
class FoldTask:
    """Everything one (model, outer fold) unit needs besides the model inputs.

    Attributes
    ----------
    spec : ModelSpec
    fold, n_folds : int
        This outer fold (0-based) and how many there are.
    train, test : tuple of str
        Outer training and test patients (disjoint).
    inner_splits : tuple of (list, list)
        Patient-wise inner folds of ``train`` for tuning and the threshold (empty when neither needs
        them: see :func:`needs_inner_folds`).
    labels : pandas.Series
        Patient id -> label, for every patient of the plan.
    profile : str
    n_trials, n_startup : int
        Optuna trials (0: the model's default parameters) and random start-up trials.
    seeds : dict
        ``fit``, ``tpe`` and ``inner_folds`` seeds, all derived from the run seed.
    study_db : Path or None
        SQLite file of the Optuna studies (None when untuned).
    """

    spec: ModelSpec
    fold: int
    n_folds: int
    train: tuple
    test: tuple
    inner_splits: tuple
    labels: pd.Series
    profile: str
    n_trials: int
    n_startup: int
    seeds: dict
    study_db: Path | None = None

    @property
    def study_name(self) -> str:
        return f"{self.spec.name}-fold{self.fold}"

    @property
    def where(self) -> str:
        return f"{self.spec.name} fold {self.fold + 1}/{self.n_folds}"


@dataclass
class FoldResult:
    """What a unit returns: ``predictions`` (patient_id, fold, label, prob, threshold of the test patients),
    ``summary`` (JSON-able: parameters, inner/train AUROC, threshold, seeds, timings) and ``curves``
    (DataFrames such as deep training histories)."""

    predictions: pd.DataFrame
    summary: dict
    curves: dict = field(default_factory=dict)


def tuning_budget(spec: ModelSpec, config, profile: str) -> tuple[int, int]:
    """(Optuna trials, inner folds) for ``spec``: the run's evaluation config, then the spec's overrides."""
    budget = spec.tuning_budget(profile)
    n_trials = int(budget.get("n_trials", config.n_trials)) if spec.tunable else 0
    return n_trials, int(budget.get("n_inner_folds", config.n_inner_folds))


def needs_inner_folds(spec: ModelSpec, n_trials: int) -> bool:
    """Whether a unit of ``spec`` with ``n_trials`` trials uses inner folds: to tune, or for the out-of-fold
    predictions its threshold is chosen on. Only an untuned model that takes its threshold from its own
    early-stopping patients (``threshold_source == "validation"``) does without them."""
    return not (n_trials == 0 and spec.threshold_source == "validation")


def fold_task(spec: ModelSpec, plan: FoldPlan, fold: int, *, seed: int, config, profile: str,
              study_db: Path | None) -> FoldTask:
    """The task of ``spec`` on outer ``fold`` of ``plan``; seeds derive from the run ``seed``.

    Warnings about capped inner folds are raised here, in the driver, and so is the HfecgError of a
    training side too small for inner folds (when the unit needs them: :func:`needs_inner_folds`).
    """
    train, test = plan.split(fold)
    n_trials, n_inner = tuning_budget(spec, config, profile)
    inner_seed = derive_seed(seed, "inner", fold)
    splits = plan.inner_splits(fold, n_inner, inner_seed) if needs_inner_folds(spec, n_trials) else []
    seeds = {"fit": derive_seed(seed, "fit", spec.name, fold), "tpe": derive_seed(seed, "tpe", spec.name, fold),
             "inner_folds": inner_seed}
    return FoldTask(spec=spec, fold=fold, n_folds=plan.n_folds, train=tuple(train), test=tuple(test),
                    inner_splits=tuple(splits), labels=plan.labels, profile=profile, n_trials=n_trials,
                    n_startup=config.n_startup_trials, seeds=seeds, study_db=study_db if n_trials > 0 else None)


def _by_patient(prob: pd.Series, patients) -> pd.Series:
    prob = prob.copy()
    prob.index = prob.index.map(str)
    return prob.reindex(list(patients))


def _tune_or_validate(task: FoldTask, data: ModelData, stream):
    """(TuneResult, FitResult or None): tuned parameters and the out-of-fold probabilities for the threshold.

    An untuned model that holds out training patients for early stopping (``threshold_source ==
    "validation"``) takes the threshold from those patients: training side only, no extra inner fits;
    its fit is then the final one.
    """
    spec, train, test = task.spec, list(task.train), list(task.test)
    if not needs_inner_folds(spec, task.n_trials):
        params = spec.default_params(task.profile)
        res = spec.fit_predict(data, train, test, params, task.seeds["fit"], task.profile)
        oof = _by_patient(res.train_prob, [str(p) for p in res.info.get("val_patients", [])]).dropna()
        auc = safe_auroc(task.labels.loc[oof.index].to_numpy(), oof.to_numpy())
        return TuneResult(params=params, inner_auroc=auc, oof=oof), res
    tuned = tune(spec, data, [(list(a), list(b)) for a, b in task.inner_splits], task.labels,
                 n_trials=task.n_trials, profile=task.profile, fit_seed=task.seeds["fit"], tpe_seed=task.seeds["tpe"],
                 n_startup=task.n_startup, db_path=task.study_db, study_name=task.study_name, where=task.where,
                 stream=stream)
    return tuned, None


def run_fold(task: FoldTask, data: ModelData, *, stream=None) -> FoldResult:
    """Tune ``task.spec`` on the inner folds, pick the threshold on training patients, refit, predict the test side.

    Parameters
    ----------
    task : FoldTask
    data : ModelData
        The model's inputs for the whole cohort (it selects rows by patient).
    stream : file-like, optional
        Where tuning progress goes (default stderr).

    Returns
    -------
    FoldResult

    Raises
    ------
    HfecgError
        A test patient got no prediction, or tuning failed in every trial.
    """
    t0 = time.monotonic()
    spec, train, test = task.spec, list(task.train), list(task.test)
    assert_disjoint(train, test, f"{spec.name} outer fold {task.fold}")
    have = completed_trials(task.study_db, task.study_name) if task.study_db is not None else None
    if have:
        print(f"resuming {task.where}: study {task.study_name} has {min(have, task.n_trials)}/{task.n_trials} trials",
              file=stream, flush=True)
    tuned, res = _tune_or_validate(task, data, stream)
    assert_disjoint(tuned.oof.index, test, f"{spec.name} outer fold {task.fold} threshold")
    threshold = youden_threshold(task.labels.loc[tuned.oof.index].to_numpy(), tuned.oof.to_numpy())
    if res is None:
        res = spec.fit_predict(data, train, test, tuned.params, task.seeds["fit"], task.profile)
    prob = _by_patient(res.test_prob, test)
    if prob.isna().any():
        raise HfecgError(f"{spec.name} fold {task.fold}: no prediction for test patients "
                         f"{list(prob.index[prob.isna()])[:5]}")
    train_prob = _by_patient(res.train_prob, train).dropna()
    train_auroc = safe_auroc(task.labels.loc[train_prob.index].to_numpy(), train_prob.to_numpy())
    predictions = pd.DataFrame({"patient_id": test, "fold": task.fold, "label": task.labels.loc[test].to_numpy(),
                                "prob": prob.to_numpy(), "threshold": threshold})
    curves = {k: v for k, v in (res.info or {}).items() if isinstance(v, pd.DataFrame)}
    info = {k: v for k, v in (res.info or {}).items() if not isinstance(v, pd.DataFrame)}
    summary = {"model": spec.name, "family": spec.family, "fold": task.fold, "params": tuned.params,
               "inner_auroc": tuned.inner_auroc, "threshold": threshold, "train_auroc": train_auroc,
               "n_trials": tuned.n_trials, "n_pruned": tuned.info.get("n_pruned", 0),
               "n_inner_folds": len(task.inner_splits),
               "fit_seconds": round(time.monotonic() - t0, 3), "seeds": dict(task.seeds),
               "n_train": len(train), "n_test": len(test), "info": info}
    return FoldResult(predictions=predictions, summary=summary, curves=curves)


def plan_warnings(fn, seen: set):
    """Call ``fn()`` and re-emit each HfecgWarning it raises once per run (``seen`` holds the messages)."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", HfecgWarning)
        out = fn()
    for w in caught:
        if str(w.message) not in seen:
            seen.add(str(w.message))
            warnings.warn(str(w.message), w.category, stacklevel=2)
    return out
