"""Nested tuning: one Optuna study per model and outer fold, scored on inner patient-wise folds.

Studies live in an SQLite file in the run directory, named ``<model>-fold<k>``, opened
with ``load_if_exists=True``: running the same command again continues an interrupted
study (finished trials count toward the budget, a trial left RUNNING by a killed or
interrupted process is marked FAIL and run again) instead of starting over. Each finished
trial stores the TPE sampler's random state (JSON, no pickle) and a reopened study restores
the last one, so the resumed study proposes exactly the trials an uninterrupted one would.
The objective is the mean inner patient-level AUROC; the best trial's inner out-of-fold
probabilities are kept (trial user attribute ``oof``) so the decision threshold can be
chosen on the training patients only. In the ``full`` profile a median pruner stops a trial
whose inner folds so far score below the earlier trials' median (:func:`make_pruner`).
"""
from __future__ import annotations

import base64
import contextlib
import sys
import time
import warnings
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import optuna
import pandas as pd
from optuna.trial import TrialState

from hfecg_bench.errors import HfecgError, HfecgWarning, TrialFailedError
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


def _mean_auroc(aucs) -> float:
    return float(np.nanmean(aucs)) if not np.all(np.isnan(aucs)) else float("nan")


def inner_cv(spec, data: ModelData, splits, labels: pd.Series, params: dict, seed: int, profile: str,
             where: str = "inner", trial: optuna.Trial | None = None) -> tuple[float, pd.Series]:
    """Mean patient-level AUROC over ``splits`` and the out-of-fold probability of every patient.

    With a ``trial`` whose study has a pruner, the mean AUROC of the folds so far is reported after each
    inner fold (step = folds done - 1) and :class:`optuna.TrialPruned` is raised when the pruner says the
    trial cannot catch up, so the remaining folds are not fitted.
    """
    parts, aucs = [], []
    for i, (tr, va) in enumerate(splits):
        assert_disjoint(tr, va, f"{where} inner fold {i}")
        res = spec.fit_predict(data, list(tr), list(va), params, seed, profile)
        prob = res.test_prob.reindex([str(x) for x in va])
        if prob.isna().any():
            raise HfecgError(f"{spec.name}: no prediction for inner validation patients {list(prob.index[prob.isna()])[:5]}")
        parts.append(prob)
        aucs.append(safe_auroc(labels.loc[prob.index].to_numpy(), prob.to_numpy()))
        if trial is not None and i + 1 < len(splits) and np.isfinite(_mean_auroc(aucs)):
            trial.report(_mean_auroc(aucs), step=i)
            if trial.should_prune():
                raise optuna.TrialPruned(f"inner AUROC {_mean_auroc(aucs):.3f} after {i + 1} of {len(splits)} "
                                         "inner folds, below the median of earlier trials")
    oof = pd.concat(parts).sort_index()
    return _mean_auroc(aucs), oof


#: Trial states that use up the budget: a pruned trial (its parameters could not train) is not rerun on resume.
FINISHED = (TrialState.COMPLETE, TrialState.PRUNED)
#: Trial user attribute: the sampler's random state right after the trial drew its parameters.
SAMPLER_STATE = "sampler_state"
#: Profiles whose studies stop hopeless trials early (median pruner on the inner folds). ``quick`` runs few
#: trials on few folds, where pruning saves little and would change its established numbers.
PRUNED_PROFILES = ("full",)


def make_pruner(profile: str, n_startup: int) -> optuna.pruners.BasePruner:
    """The study's pruner: a median pruner in :data:`PRUNED_PROFILES`, none otherwise.

    A trial is stopped after an inner fold (from the second on) when the mean inner AUROC of its folds so far
    is below the median of what earlier trials had after as many folds; the first ``n_startup`` trials (the
    random start-up ones) always run to the end. It reads only the stored trials, so a resumed study prunes
    exactly as an uninterrupted one, and a pruned trial counts toward the budget like a failed one.

    >>> type(make_pruner("full", 4)).__name__, type(make_pruner("quick", 4)).__name__
    ('MedianPruner', 'NopPruner')
    """
    if profile in PRUNED_PROFILES:
        return optuna.pruners.MedianPruner(n_startup_trials=max(1, n_startup), n_warmup_steps=1)
    return optuna.pruners.NopPruner()


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


def _sampler_rngs(sampler) -> list[np.random.RandomState] | None:
    """The random states a TPESampler draws from: its own (TPE proposals) and its start-up RandomSampler's.

    Optuna keeps them in private attributes (its documented way to resume a sampler is to pickle it);
    None when this Optuna version keeps them elsewhere (resumed studies then restart the sampler, with a
    warning, and ``tests/test_tuning.py`` fails).
    """
    try:
        rngs = [sampler._rng.rng, sampler._random_sampler._rng.rng]
    except AttributeError:
        return None
    return rngs if all(isinstance(r, np.random.RandomState) for r in rngs) else None


def sampler_state(sampler) -> list | None:
    """JSON-able random state of ``sampler`` (no pickle), for :func:`restore_sampler_state`.

    >>> a = optuna.samplers.TPESampler(seed=3)
    >>> state = sampler_state(a)
    >>> x = a._rng.rng.uniform()
    >>> b = optuna.samplers.TPESampler(seed=99)
    >>> restore_sampler_state(b, state), b._rng.rng.uniform() == x
    (True, True)
    """
    rngs = _sampler_rngs(sampler)
    if rngs is None:
        return None
    out = []
    for rng in rngs:
        name, key, pos, has_gauss, gauss = rng.get_state(legacy=True)
        out.append([name, base64.b64encode(key.astype("<u4").tobytes()).decode("ascii"), int(pos), int(has_gauss),
                    float(gauss)])
    return out


def restore_sampler_state(sampler, state) -> bool:
    """Set the random state of ``sampler`` from :func:`sampler_state` output; False when it cannot be."""
    rngs = _sampler_rngs(sampler)
    if rngs is None or not isinstance(state, list) or len(state) != len(rngs):
        return False
    for rng, (name, key, pos, has_gauss, gauss) in zip(rngs, state):
        rng.set_state((name, np.frombuffer(base64.b64decode(key), dtype="<u4").astype(np.uint32), pos, has_gauss,
                       gauss))
    return True


def open_study(path: Path, study_name: str, seed: int, n_startup: int, n_trials: int | None = None,
               profile: str = "quick") -> optuna.Study:
    """Create or load the study, its TPE sampler continuing where the last finished trial left it.

    Trials a killed or interrupted process left RUNNING are marked FAIL (they are run again: a failed
    trial is not part of the TPE history, and the sampler is restored to its state after the last
    finished trial, so the rerun proposes what the interrupted trial would have). A study stored without
    sampler states (an older hfecg_bench) restarts its sampler from ``seed``, with an HfecgWarning when
    trials remain to be run (fewer finished than ``n_trials``, when given).
    """
    storage = optuna.storages.RDBStorage(storage_url(path))
    sampler = optuna.samplers.TPESampler(seed=seed, n_startup_trials=n_startup)
    study = optuna.create_study(storage=storage, study_name=study_name, direction="maximize", sampler=sampler,
                                pruner=make_pruner(profile, n_startup), load_if_exists=True)
    sid = storage.get_study_id_from_name(study_name)
    for t in study.get_trials(deepcopy=False, states=(TrialState.RUNNING, TrialState.WAITING)):
        storage.set_trial_state_values(storage.get_trial_id_from_study_id_trial_number(sid, t.number), TrialState.FAIL)
    finished = study.get_trials(deepcopy=False, states=FINISHED)
    if (finished and not restore_sampler_state(sampler, finished[-1].user_attrs.get(SAMPLER_STATE))
            and (n_trials is None or len(finished) < n_trials)):
        warnings.warn(f"study {study_name}: the sampler state after trial {finished[-1].number} was not stored (or "
                      f"optuna {optuna.__version__} keeps it elsewhere): the remaining trials restart the sampler "
                      "from its seed and differ from an uninterrupted run's", HfecgWarning, stacklevel=2)
    return study


def best_trial(study: optuna.Study):
    """The first complete trial with the highest value (ties go to the earlier trial), or None."""
    complete = study.get_trials(deepcopy=False, states=(TrialState.COMPLETE,))
    return max(complete, key=lambda t: (t.value, -t.number)) if complete else None


def tune(spec, data: ModelData, splits, labels: pd.Series, *, n_trials: int, profile: str, fit_seed: int,
         tpe_seed: int, n_startup: int = 4, db_path: Path | None = None, study_name: str = "study",
         where: str = "", stream=None) -> TuneResult:
    """Tune ``spec`` on ``splits`` (inner patient folds of one outer training set) with a seeded TPE study.

    With ``n_trials == 0``, an untunable spec (``spec.tunable`` False) or no ``db_path``, the default parameters are
    scored on the same inner folds (their out-of-fold probabilities still give the threshold).
    Only ``n_trials - completed`` new trials run when the stored study already has some, and they are
    the trials an uninterrupted study would have run (see :func:`open_study`). Trials run through
    Optuna's ask-and-tell interface, so an interruption (KeyboardInterrupt) propagates without
    Optuna logging a traceback; the interrupted trial is marked FAIL and run again on resume.
    """
    stream = stream or sys.stderr
    where = where or study_name
    if n_trials <= 0 or not spec.tunable or db_path is None:
        params = spec.default_params(profile)
        auc, oof = inner_cv(spec, data, splits, labels, params, fit_seed, profile, where)
        return TuneResult(params=params, inner_auroc=auc, oof=oof)
    study = open_study(db_path, study_name, tpe_seed, n_startup, n_trials, profile)
    done = _n_finished(study)
    t0 = time.monotonic()
    tty = getattr(stream, "isatty", lambda: False)()

    def objective(trial: optuna.Trial) -> float:
        params = spec.suggest(trial, profile)
        state = sampler_state(study.sampler)
        if state is not None:
            trial.set_user_attr(SAMPLER_STATE, state)
        try:
            auc, oof = inner_cv(spec, data, splits, labels, params, fit_seed, profile, where, trial)
        except TrialFailedError as exc:  # this parameter choice cannot train (NaN loss, receptive field): next trial
            print(f"{where}: trial {trial.number} failed, the run goes on: {exc}", file=stream, flush=True)
            trial.set_user_attr("failed", str(exc))
            raise optuna.TrialPruned(str(exc)) from None
        trial.set_user_attr("params", _jsonable(params))
        trial.set_user_attr("oof", {str(k): float(v) for k, v in oof.items()})
        if np.isnan(auc):
            raise optuna.TrialPruned("inner AUROC undefined")
        return auc

    for _ in range(max(0, n_trials - done)):
        trial = study.ask()
        try:
            value = objective(trial)
        except optuna.TrialPruned:
            study.tell(trial, state=TrialState.PRUNED)
        except BaseException:  # KeyboardInterrupt or an error: the trial is not finished, the caller says why
            with contextlib.suppress(Exception):
                study.tell(trial, state=TrialState.FAIL)
            if tty:
                print(file=stream, flush=True)  # end the progress line: what follows starts on its own line
            raise
        else:
            study.tell(trial, value)
        if tty:
            n = _n_finished(study)
            best = best_trial(study)
            print(f"\r{where}: trial {n}/{n_trials}, best inner AUROC "
                  f"{best.value if best else float('nan'):.3f} ({time.monotonic() - t0:.0f} s)   ",
                  end="", file=stream, flush=True)
    if tty and n_trials > done:
        print("\r", end="", file=stream)
    best = best_trial(study)
    if best is None:
        failed = [t.user_attrs["failed"] for t in study.get_trials(deepcopy=False) if "failed" in t.user_attrs]
        why = f"every trial failed, e.g. {failed[0]}" if failed else "inner AUROC undefined in every trial"
        raise HfecgError(f"{where}: no tuning trial completed ({why})")
    params = best.user_attrs.get("params", best.params)
    oof = pd.Series(best.user_attrs["oof"], dtype=float).sort_index()
    oof.index.name = "patient_id"
    n_complete = len(study.get_trials(deepcopy=False, states=(TrialState.COMPLETE,)))
    n_pruned = sum(1 for t in study.get_trials(deepcopy=False, states=(TrialState.PRUNED,))
                   if "failed" not in t.user_attrs)
    return TuneResult(params=params, inner_auroc=float(best.value), oof=oof, n_trials=n_complete,
                      resumed_from=done, info={"best_trial": best.number, "n_pruned": n_pruned})


def _jsonable(params: dict) -> dict:
    out = {}
    for k, v in params.items():
        if isinstance(v, np.generic):
            v = v.item()
        out[k] = v
    return out
