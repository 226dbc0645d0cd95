"""Nested Optuna tuning: seeded, stored in SQLite, resumed (not restarted) after an interruption."""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import optuna
import pandas as pd
import pytest
from optuna.trial import TrialState

from hfecg_bench.errors import HfecgError, TrialFailedError
from hfecg_bench.evaluation.folds import make_fold_plan
from hfecg_bench.models.classical import CLASSICAL_SPECS
from hfecg_bench.models.base import ModelData, ModelSpec
from hfecg_bench.pipeline.tuning import completed_trials, open_study, tune


@dataclass
class FakeTable:
    frame: pd.DataFrame
    excluded: list = field(default_factory=list)

    def feature_columns(self, groups=None):
        return [c for c in self.frame.columns if c not in ("record_id", "patient_id", "label")]


def fake_table(n_patients=40, n_features=30, effect=1.5, seed=0):
    """Records (1-3 per patient) whose first 3 features carry the label."""
    rng = np.random.default_rng(seed)
    y = np.resize([0, 1, 0], n_patients)
    rows = []
    for i in range(n_patients):
        for r in range(rng.integers(1, 4)):
            x = rng.normal(size=n_features)
            x[:3] += effect * y[i]
            rows.append({"record_id": f"P{i:03d}_{r}", "patient_id": f"P{i:03d}", "label": int(y[i]),
                         **{f"II__hf__f{j}": x[j] for j in range(n_features)}})
    frame = pd.DataFrame(rows)
    return FakeTable(frame), frame.groupby("patient_id")["label"].first()


@pytest.fixture(scope="module")
def setup():
    table, labels = fake_table()
    plan = make_fold_plan(labels, n_folds=4, seed=0)
    train, _ = plan.split(0)
    return ModelData(features=table), labels, plan.inner_splits(0, 3, seed=1), train


class Interrupting(ModelSpec):
    """Wraps a spec; raises KeyboardInterrupt on the ``stop_at``-th fit (a killed run)."""

    def __init__(self, spec, stop_at):
        self.spec, self.stop_at, self.calls = spec, stop_at, 0
        self.name, self.family, self.input = spec.name, spec.family, spec.input

    def default_params(self, profile):
        return self.spec.default_params(profile)

    def suggest(self, trial, profile):
        return self.spec.suggest(trial, profile)

    def fit_predict(self, *args, **kw):
        self.calls += 1
        if self.calls == self.stop_at:
            raise KeyboardInterrupt
        return self.spec.fit_predict(*args, **kw)


def test_interrupted_study_continues_to_budget(tmp_path, setup):
    data, labels, splits, train = setup
    spec = CLASSICAL_SPECS["logreg"]
    db = tmp_path / "studies.db"
    kw = dict(profile="quick", fit_seed=1, tpe_seed=2, n_startup=2, db_path=db, study_name="logreg-fold0")
    # 3 inner fits per trial: the 11th fit is inside trial 4, so 3 trials complete
    with pytest.raises(KeyboardInterrupt):
        tune(Interrupting(spec, stop_at=11), data, splits, labels, n_trials=6, **kw)
    assert completed_trials(db, "logreg-fold0") == 3
    first = [t.params for t in optuna.load_study(study_name="logreg-fold0", storage=f"sqlite:///{db}").trials[:3]]
    counting = Interrupting(spec, stop_at=-1)
    res = tune(counting, data, splits, labels, n_trials=6, **kw)
    assert res.resumed_from == 3 and res.n_trials == 6
    assert counting.calls == 3 * 3, "only the 3 missing trials ran"
    study = optuna.load_study(study_name="logreg-fold0", storage=f"sqlite:///{db}")
    assert [t.params for t in study.trials[:3]] == first, "earlier trials kept, not restarted"
    assert set(res.oof.index) == set(train), "threshold predictions cover the training patients only"
    again = Interrupting(spec, stop_at=-1)
    tune(again, data, splits, labels, n_trials=6, **kw)
    assert again.calls == 0, "a finished study runs no more trials"


class FailingFirstTrial(Interrupting):
    """Raises TrialFailedError (as a NaN loss or a too-long receptive field does) in the first trial's first fit."""

    def fit_predict(self, *args, **kw):
        self.calls += 1
        if self.calls == 1:
            raise TrialFailedError("model logreg: training loss became NaN at epoch 2; trial failed")
        return self.spec.fit_predict(*args, **kw)


def test_a_failed_trial_is_pruned_and_tuning_goes_on(tmp_path, setup, capsys):
    import sys

    data, labels, splits, train = setup
    spec = FailingFirstTrial(CLASSICAL_SPECS["logreg"], stop_at=-1)
    res = tune(spec, data, splits, labels, n_trials=4, profile="quick", fit_seed=1, tpe_seed=2, n_startup=2,
               db_path=tmp_path / "s.db", study_name="s", where="logreg fold 1", stream=sys.stdout)
    states = [t.state for t in optuna.load_study(study_name="s", storage=f"sqlite:///{tmp_path / 's.db'}").trials]
    assert states[0] == TrialState.PRUNED and states.count(TrialState.COMPLETE) == 3
    assert set(res.oof.index) == set(train) and np.isfinite(res.inner_auroc)
    assert "logreg fold 1: trial 0 failed, the run goes on: model logreg: training loss became NaN" in capsys.readouterr().out
    again = FailingFirstTrial(CLASSICAL_SPECS["logreg"], stop_at=-1)
    again.calls = 1  # no more failures
    tune(again, data, splits, labels, n_trials=4, profile="quick", fit_seed=1, tpe_seed=2, n_startup=2,
         db_path=tmp_path / "s.db", study_name="s", where="logreg fold 1", stream=sys.stdout)
    assert again.calls == 1, "the pruned trial counts toward the budget: a finished study runs no more trials"
    assert completed_trials(tmp_path / "s.db", "s") == 4


def test_every_trial_failing_is_one_clear_error(tmp_path, setup):
    data, labels, splits, _ = setup

    class AlwaysFailing(FailingFirstTrial):
        def fit_predict(self, *args, **kw):
            raise TrialFailedError("model tcn: beat window of 150 samples is shorter than the receptive field")

    with pytest.raises(HfecgError, match=r"tcn fold 2: no tuning trial completed \(every trial failed, e\.g\. model tcn"):
        tune(AlwaysFailing(CLASSICAL_SPECS["logreg"], stop_at=-1), data, splits, labels, n_trials=2, profile="quick",
             fit_seed=1, tpe_seed=2, n_startup=2, db_path=tmp_path / "f.db", study_name="f", where="tcn fold 2")


def test_trials_left_running_by_a_killed_process_are_failed(tmp_path):
    db = tmp_path / "s.db"
    study = open_study(db, "x", seed=0, n_startup=1)
    study.ask()  # never told: RUNNING, as after SIGKILL
    study = open_study(db, "x", seed=0, n_startup=1)
    assert [t.state for t in study.trials] == [TrialState.FAIL]
    assert completed_trials(db, "x") == 0 and completed_trials(db, "y") is None
    assert completed_trials(tmp_path / "absent.db", "x") is None


def test_same_seed_same_tuning(tmp_path, setup):
    data, labels, splits, _ = setup
    spec = CLASSICAL_SPECS["logreg"]
    runs = [tune(spec, data, splits, labels, n_trials=4, profile="quick", fit_seed=1, tpe_seed=2, n_startup=2,
                 db_path=tmp_path / f"{i}.db", study_name="s") for i in range(2)]
    assert runs[0].params == runs[1].params and runs[0].oof.equals(runs[1].oof)


def test_untuned_spec_uses_defaults_and_scores_inner_folds(setup):
    data, labels, splits, train = setup
    res = tune(CLASSICAL_SPECS["dummy"], data, splits, labels, n_trials=8, profile="quick", fit_seed=0, tpe_seed=0,
               db_path=None)
    assert res.params == {} and res.n_trials == 0 and sorted(res.oof.index) == sorted(train)


@pytest.mark.parametrize("name", ["rf", "svm", "xgb", "logreg"])
def test_every_classical_model_learns_a_planted_effect(name, setup):
    data, labels, _, _ = setup
    plan = make_fold_plan(labels, n_folds=2, seed=3)
    train, test = plan.split(0)
    spec = CLASSICAL_SPECS[name]
    res = spec.fit_predict(data, train, test, spec.default_params("quick") | {"k": 10}, seed=0, profile="quick")
    assert sorted(res.test_prob.index) == sorted(test) and sorted(res.train_prob.index) == sorted(train)
    from sklearn.metrics import roc_auc_score
    assert roc_auc_score(labels[test], res.test_prob[test]) > 0.8


# ---------------------------------------------------------------- resumed studies continue the sampler

RESUME_KW = dict(profile="quick", fit_seed=1, tpe_seed=2, n_startup=2, study_name="s")


def finished_params(db):
    """Parameters of the finished trials, in order (a trial failed by an interruption is not among them)."""
    study = optuna.load_study(study_name="s", storage=f"sqlite:///{db}")
    return [t.params for t in study.trials if t.state in (TrialState.COMPLETE, TrialState.PRUNED)]


@pytest.fixture(scope="module")
def uninterrupted(setup, tmp_path_factory):
    data, labels, splits, _ = setup
    db = tmp_path_factory.mktemp("tune") / "whole.db"
    res = tune(CLASSICAL_SPECS["logreg"], data, splits, labels, n_trials=6, db_path=db, **RESUME_KW)
    return res, finished_params(db)


# 3 inner fits per trial: fit 4 is inside trial 1 (a random start-up trial), 11 inside trial 3 (the second TPE
# trial), 16 inside trial 5 (the last); (4, 8): interrupted again after resuming
@pytest.mark.parametrize("stops", [(4,), (11,), (16,), (4, 8)])
@pytest.mark.parametrize("killed", [False, True])
def test_resumed_study_runs_the_trials_of_an_uninterrupted_one(stops, killed, setup, uninterrupted, tmp_path,
                                                              monkeypatch):
    """Interrupted mid-trial (and, ``killed``, with the trial left RUNNING as after SIGKILL), then resumed: the
    same parameters in the same order as without the interruption, and the same TuneResult."""
    data, labels, splits, _ = setup
    whole, whole_params = uninterrupted
    assert len(whole_params) == 6 and len({repr(p) for p in whole_params}) == 6
    db = tmp_path / "s.db"
    if killed:  # a killed process tells nothing: its trial stays RUNNING until the study is opened again
        real_tell = optuna.Study.tell
        monkeypatch.setattr(optuna.Study, "tell", lambda self, trial, values=None, state=None, **kw: (
            None if state == TrialState.FAIL else real_tell(self, trial, values, state, **kw)))
    for stop in stops:
        with pytest.raises(KeyboardInterrupt):
            tune(Interrupting(CLASSICAL_SPECS["logreg"], stop), data, splits, labels, n_trials=6, db_path=db,
                 **RESUME_KW)
        study = optuna.load_study(study_name="s", storage=f"sqlite:///{db}")
        assert study.trials[-1].state == (TrialState.RUNNING if killed else TrialState.FAIL)
    res = tune(CLASSICAL_SPECS["logreg"], data, splits, labels, n_trials=6, db_path=db, **RESUME_KW)
    assert finished_params(db) == whole_params
    assert res.params == whole.params and res.inner_auroc == whole.inner_auroc
    pd.testing.assert_series_equal(res.oof, whole.oof)
    study = optuna.load_study(study_name="s", storage=f"sqlite:///{db}")
    interrupted = [t for t in study.trials if t.state == TrialState.FAIL]
    assert len(interrupted) == len(stops)
    # the rerun of an interrupted trial proposes what the interrupted one had drawn
    for t in interrupted:
        assert study.trials[t.number + 1].params == t.params


def test_uninterrupted_tuning_is_deterministic_and_explores(setup, uninterrupted, tmp_path):
    data, labels, splits, _ = setup
    whole, whole_params = uninterrupted
    again = tune(CLASSICAL_SPECS["logreg"], data, splits, labels, n_trials=6, db_path=tmp_path / "b.db", **RESUME_KW)
    assert finished_params(tmp_path / "b.db") == whole_params
    assert again.params == whole.params and again.oof.equals(whole.oof)


def test_a_study_without_sampler_states_resumes_with_a_warning(setup, tmp_path, monkeypatch):
    """A study stored by an earlier version (no sampler state in its trials) still resumes, and says its sampler
    restarts from the seed."""
    from hfecg_bench.errors import HfecgWarning
    from hfecg_bench.pipeline import tuning

    data, labels, splits, _ = setup
    db = tmp_path / "old.db"
    monkeypatch.setattr(tuning, "sampler_state", lambda sampler: None)
    with pytest.raises(KeyboardInterrupt):
        tune(Interrupting(CLASSICAL_SPECS["logreg"], 7), data, splits, labels, n_trials=4, db_path=db, **RESUME_KW)
    monkeypatch.undo()
    with pytest.warns(HfecgWarning, match="sampler state after trial 1 was not stored.*restart the sampler"):
        res = tune(CLASSICAL_SPECS["logreg"], data, splits, labels, n_trials=4, db_path=db, **RESUME_KW)
    assert res.n_trials == 4 and res.resumed_from == 2


def test_an_interrupt_during_tuning_logs_nothing(setup, tmp_path, capfd):
    """Ctrl-C inside a trial: KeyboardInterrupt propagates, and neither Optuna's logger (its handler writes to the
    real stderr) nor anything else prints a traceback or a trial-failed message."""
    import logging

    data, labels, splits, _ = setup
    records = []
    handler = logging.Handler(level=logging.DEBUG)
    handler.emit = records.append
    logger = logging.getLogger("optuna")
    logger.addHandler(handler)
    level = optuna.logging.get_verbosity()
    optuna.logging.set_verbosity(optuna.logging.INFO)  # stricter than the run's WARNING: nothing at all
    try:
        with pytest.raises(KeyboardInterrupt):
            tune(Interrupting(CLASSICAL_SPECS["logreg"], 5), data, splits, labels, n_trials=4,
                 db_path=tmp_path / "c.db", **RESUME_KW)
    finally:
        logger.removeHandler(handler)
        optuna.logging.set_verbosity(level)
    out, err = capfd.readouterr()
    assert not [r.getMessage() for r in records if r.levelno >= logging.WARNING]
    assert not any("failed" in r.getMessage() for r in records)
    assert "Traceback" not in err + out and "KeyboardInterrupt" not in err + out and "failed" not in err + out


# ---------------------------------------------------------------- the full profile's pruner

class HalfHopeless(Interrupting):
    """logreg with one more parameter: ``useful=False`` predicts 0.5 for everyone (inner AUROC 0.5, hopeless)."""

    def suggest(self, trial, profile):
        return self.spec.suggest(trial, profile) | {"useful": trial.suggest_categorical("useful", [True, False])}

    def fit_predict(self, data, train, test, params, seed, profile):
        self.calls += 1
        if self.calls == self.stop_at:
            raise KeyboardInterrupt
        params = dict(params)
        useful = params.pop("useful", True)
        res = self.spec.fit_predict(data, train, test, params, seed, profile)
        if not useful:
            res.test_prob[:] = 0.5
        return res


PRUNE_KW = dict(profile="full", fit_seed=1, tpe_seed=5, n_startup=2, study_name="p")


def trial_summary(db):
    study = optuna.load_study(study_name="p", storage=f"sqlite:///{db}")
    return [(t.state, t.params.get("useful"), len(t.intermediate_values)) for t in study.trials
            if t.state in (TrialState.COMPLETE, TrialState.PRUNED)]


def test_full_profile_prunes_hopeless_trials_after_two_inner_folds(setup, tmp_path):
    data, labels, splits, _ = setup
    spec = HalfHopeless(CLASSICAL_SPECS["logreg"], stop_at=-1)
    res = tune(spec, data, splits, labels, n_trials=10, db_path=tmp_path / "a.db", **PRUNE_KW)
    trials = trial_summary(tmp_path / "a.db")
    pruned = [t for t in trials if t[0] == TrialState.PRUNED]
    assert len(trials) == 10 and pruned, "some trials were stopped early"
    assert all(steps == 2 for *_, steps in pruned), "stopped after the second of three inner folds"
    assert all(state == TrialState.PRUNED for state, useful, _ in trials[2:] if useful is False), \
        "every hopeless trial after the start-up ones is stopped"
    assert spec.calls == 3 * 10 - len(pruned), "a pruned trial skips its last inner fold"
    assert res.info["n_pruned"] == len(pruned) and res.params["useful"] is True and res.inner_auroc > 0.8
    # the quick profile never prunes: every trial fits every inner fold
    quick = HalfHopeless(CLASSICAL_SPECS["logreg"], stop_at=-1)
    tune(quick, data, splits, labels, n_trials=10, db_path=tmp_path / "q.db", **(PRUNE_KW | {"profile": "quick"}))
    assert quick.calls == 30


def test_pruned_study_is_reproducible_and_resumes_to_the_same_trials(setup, tmp_path):
    data, labels, splits, _ = setup
    whole = tune(HalfHopeless(CLASSICAL_SPECS["logreg"], -1), data, splits, labels, n_trials=10,
                 db_path=tmp_path / "w.db", **PRUNE_KW)
    again = tune(HalfHopeless(CLASSICAL_SPECS["logreg"], -1), data, splits, labels, n_trials=10,
                 db_path=tmp_path / "x.db", **PRUNE_KW)
    assert trial_summary(tmp_path / "x.db") == trial_summary(tmp_path / "w.db")
    for stop in (8, 20):  # inside a start-up trial, then inside a later (TPE, prunable) trial
        with pytest.raises(KeyboardInterrupt):
            tune(HalfHopeless(CLASSICAL_SPECS["logreg"], stop), data, splits, labels, n_trials=10,
                 db_path=tmp_path / "r.db", **PRUNE_KW)
    resumed = tune(HalfHopeless(CLASSICAL_SPECS["logreg"], -1), data, splits, labels, n_trials=10,
                   db_path=tmp_path / "r.db", **PRUNE_KW)
    assert trial_summary(tmp_path / "r.db") == trial_summary(tmp_path / "w.db")
    assert resumed.params == whole.params == again.params
    pd.testing.assert_series_equal(resumed.oof, whole.oof)
