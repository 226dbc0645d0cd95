"""One unit of work: tune, threshold, refit and predict one model on one outer fold.

:func:`fold_task` turns (model, fold plan, fold, run settings) into a :class:`FoldTask` of plain
values (patients, inner splits, seeds, budget); :func:`run_fold` is a plain function of that task
and the model inputs, returning a :class:`FoldResult` and writing nothing but the Optuna study. So
the unit runs the same in this process or in another one, and the driver alone writes the run
directory.

Leakage guards: the outer training and test patients are checked disjoint, every inner split is
checked disjoint from the outer test patients, and the decision threshold is chosen on
out-of-fold probabilities of training patients only.

A classical model on the feature table also reports permutation importance (:func:`fit_with_importance`):
its final fit scores, in the same predict call as the test rows, copies of those rows with one feature
group's columns permuted across the test patients. The fit and the test predictions are those of the
plain fit; nothing is refitted.
"""
from __future__ import annotations

import time
import warnings
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np
import pandas as pd

from hfecg_bench.errors import HfecgError, HfecgWarning
from hfecg_bench.evaluation.folds import FoldPlan, assert_disjoint
from hfecg_bench.evaluation.metrics import auroc_rows, safe_auroc, youden_threshold
from hfecg_bench.evaluation.seeds import derive_seed
from hfecg_bench.features.table import split_column
from hfecg_bench.models.base import FitResult, ModelData, ModelSpec
from hfecg_bench.pipeline.tuning import TuneResult, completed_trials, tune

#: Repeats of each feature group's permutation in a classical unit's importance (0 switches it off).
IMPORTANCE_REPEATS = 5
#: Prefix of the pseudo patient ids of permuted test rows (a NUL: no patient id read from a file has one).
_PERM = "\x00perm"


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
    importance_repeats : int
        Permutations per feature group for the permutation importance of the final fit (0: none; set
        for classical models on the feature table).
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
    importance_repeats: int = 0

    @property
    def study_name(self) -> str:
        return f"{self.spec.name}-fold{self.fold}"

    @property
    def where(self) -> str:
        return f"{self.spec.name} fold {self.fold + 1}/{self.n_folds}"


@dataclass
class FoldResult:
    """What a unit returns: ``predictions`` (patient_id, fold, label, prob, threshold of the test patients),
    ``summary`` (JSON-able: parameters, inner/train AUROC, threshold, seeds, timings), ``curves``
    (DataFrames such as deep training histories) and ``importance`` (:func:`fit_with_importance`, or None)."""

    predictions: pd.DataFrame
    summary: dict
    curves: dict = field(default_factory=dict)
    importance: pd.DataFrame | None = None


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
    importance = IMPORTANCE_REPEATS if (spec.family == "classical" and spec.input == "features") else 0
    return FoldTask(spec=spec, fold=fold, n_folds=plan.n_folds, train=tuple(train), test=tuple(test),
                    inner_splits=tuple(splits), labels=plan.labels, profile=profile, n_trials=n_trials,
                    n_startup=config.n_startup_trials, seeds=seeds, study_db=study_db if n_trials > 0 else None,
                    importance_repeats=importance)


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
    importance = None
    if res is None and task.importance_repeats > 0 and data.features is not None:
        res, importance = fit_with_importance(task, data, tuned.params)
    elif res is None:
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
    return FoldResult(predictions=predictions, summary=summary, curves=curves, importance=importance)


def importance_groups(columns) -> dict[str, np.ndarray]:
    """Feature groups of the permutation importance: ``lead:<lead>`` (every feature of one lead; ``all`` holds
    the across-lead features) and ``group:<group>`` (hf, wavelet, spectral, conventional) -> column positions.

    Examples
    --------
    >>> g = importance_groups(["V1__hf__rms_uv", "V1__wavelet__e3", "V2__hf__rms_uv", "all__hf__sum_rms_uv"])
    >>> {k: v.tolist() for k, v in g.items()}
    {'lead:V1': [0, 1], 'lead:V2': [2], 'lead:all': [3], 'group:hf': [0, 2, 3], 'group:wavelet': [1]}
    """
    parts = [split_column(c) for c in columns]
    out: dict[str, list[int]] = {}
    for kind, pos in (("lead", 0), ("group", 1)):
        for j, p in enumerate(parts):
            if p is not None:
                out.setdefault(f"{kind}:{p[pos]}", []).append(j)
    return {k: np.asarray(v) for k, v in out.items()}


def permuted_test_rows(frame: pd.DataFrame, columns: list, test_rows: np.ndarray, groups: dict, repeats: int,
                       rng: np.random.Generator) -> pd.DataFrame:
    """Copies of the ``test_rows`` of ``frame``, one per (group, repeat), each with that group's ``columns``
    permuted jointly across the test rows; copy ``k`` (group-major) has patient ids ``"\\x00perm<k>|<id>"``.

    Returns a frame with the columns of ``frame``, ``len(groups) * repeats * len(test_rows)`` rows.
    """
    X = frame[columns].to_numpy(dtype=np.float64)[test_rows]                   # (n_test_rows, n_features)
    n = len(test_rows)
    perms = np.argsort(rng.random((len(groups), repeats, n)), axis=2)           # one permutation per copy
    block = np.broadcast_to(X, (len(groups), repeats, n, X.shape[1])).copy()
    for g, cols in enumerate(groups.values()):                                  # a loop over ~17 groups
        block[g][:, :, cols] = X[perms[g]][:, :, cols]
    ids = frame["patient_id"].astype(str).to_numpy()[test_rows]
    k = np.repeat(np.arange(len(groups) * repeats), n)
    extra = pd.DataFrame(block.reshape(-1, X.shape[1]), columns=columns)
    extra.insert(0, "patient_id", [f"{_PERM}{i}|{p}" for i, p in zip(k, np.tile(ids, len(groups) * repeats))])
    for c in frame.columns:
        if c not in extra:
            extra[c] = np.tile(frame[c].to_numpy()[test_rows], len(groups) * repeats)
    return extra[list(frame.columns)]


def fit_with_importance(task: FoldTask, data: ModelData, params: dict) -> tuple[FitResult, pd.DataFrame]:
    """The unit's final fit, plus permutation importance of its feature groups on the test patients.

    The permuted copies (:func:`permuted_test_rows`) join the test patients as pseudo patients: the
    model is fitted once, on the training patients' rows only (the copies are never training rows), and
    scores the test rows and their copies in one predict call; predictions are per row, so the test
    patients' probabilities are those of the plain fit. The permutations draw from the unit's fit seed.

    Returns
    -------
    FitResult
        As :meth:`ModelSpec.fit_predict` returns it, the pseudo patients removed.
    pandas.DataFrame
        One row per group (:func:`importance_groups`): ``fold, kind`` (lead or group), ``name``,
        ``n_columns``, ``base_auroc`` (the test patients' AUROC), ``auroc_drop`` (mean over repeats of
        base minus permuted AUROC; NaN when the test side holds one class), ``auroc_drop_sd``,
        ``n_repeats``, ``n_test``.
    """
    spec, train, test = task.spec, list(task.train), [str(p) for p in task.test]
    frame = data.features.frame
    columns = data.features.feature_columns()
    groups = importance_groups(columns)
    rows = np.flatnonzero(frame["patient_id"].astype(str).isin(test).to_numpy())
    rng = np.random.default_rng(derive_seed(task.seeds["fit"], "importance"))
    extra = permuted_test_rows(frame, columns, rows, groups, task.importance_repeats, rng)
    augmented = replace(data, features=replace(data.features, frame=pd.concat([frame, extra], ignore_index=True)))
    n_copies = len(groups) * task.importance_repeats
    pseudo = [f"{_PERM}{k}|{p}" for k in range(n_copies) for p in test]
    res = spec.fit_predict(augmented, train, test + list(dict.fromkeys(extra["patient_id"])), params,
                           task.seeds["fit"], task.profile)
    prob = res.test_prob.copy()
    prob.index = prob.index.map(str)
    P = prob.reindex(pseudo).to_numpy(float).reshape(len(groups), task.importance_repeats, len(test))
    base = prob.reindex(test).to_numpy(float)
    y = task.labels.loc[list(task.test)].to_numpy(int)
    auc = auroc_rows(np.broadcast_to(y, (n_copies, len(test))), P.reshape(n_copies, -1))
    base_auc = auroc_rows(y[None, :], base[None, :])[0]
    drop = (base_auc - auc).reshape(len(groups), task.importance_repeats)
    info = dict(res.info or {})
    if "n_test_records" in info:
        info["n_test_records"] = int(len(rows))
    res = FitResult(test_prob=res.test_prob[~prob.index.str.startswith(_PERM)], train_prob=res.train_prob, info=info)
    table = pd.DataFrame({"fold": task.fold, "kind": [g.split(":", 1)[0] for g in groups],
                          "name": [g.split(":", 1)[1] for g in groups],
                          "n_columns": [len(c) for c in groups.values()], "base_auroc": base_auc,
                          "auroc_drop": drop.mean(axis=1), "auroc_drop_sd": drop.std(axis=1),
                          "n_repeats": task.importance_repeats, "n_test": len(test)})
    return res, table


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
