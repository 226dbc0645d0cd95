"""The pipeline (hfecg_bench.run): files written, one fold plan, determinism, resume without refits, no test-side
leakage, the run directory's owner refusing what is not its own."""
from __future__ import annotations

import hashlib
import io
import json
import logging
import shutil
from dataclasses import dataclass, field

import numpy as np
import optuna
import pandas as pd
import pytest

import hfecg_bench as hb
from hfecg_bench.cli import main
from hfecg_bench.config import RunConfig
from hfecg_bench.errors import HfecgError, HfecgWarning, ParameterError
from hfecg_bench.evaluation.config import EvalConfig
from hfecg_bench.models import classical
from hfecg_bench.models.base import ModelData
from hfecg_bench.models.registry import get_spec, resolve_names
from hfecg_bench.pipeline import fold as fold_module
from hfecg_bench.pipeline.state import STATE_FILE

CFG = RunConfig.for_profile("quick")
CFG.evaluation = EvalConfig(n_folds=3, n_inner_folds=2, n_trials=2, n_startup_trials=1, n_bootstrap=100)
MODELS = ["logreg", "dummy"]


@dataclass
class FakeTable:
    frame: pd.DataFrame
    excluded: list = field(default_factory=list)

    def feature_columns(self, groups=None):
        return [c for c in self.frame.columns if c not in ("record_id", "patient_id", "label")]


@dataclass
class FakeCohort:
    labels: dict
    dataset: str = "fake"
    info: dict = field(default_factory=dict)
    excluded: list = field(default_factory=list)
    records: list = field(default_factory=list)  # features are given: no signals needed

    def patient_labels(self):
        return dict(self.labels)

    def fingerprint(self):
        return hashlib.sha256(repr(sorted(self.labels.items())).encode()).hexdigest()

    def describe(self):
        return {"dataset": self.dataset, "n_patients": len(self.labels)}


def fake(n_patients=36, n_features=20, effect=2.0, seed=0, flip=()):
    """Cohort + feature table, 1-3 records per patient, planted effect on 3 features; ``flip`` relabels patients."""
    rng = np.random.default_rng(seed)
    y = {f"P{i:03d}": int(i % 3 == 1) for i in range(n_patients)}
    rows = []
    for pid, lab in y.items():
        for r in range(rng.integers(1, 4)):
            x = rng.normal(size=n_features)
            x[:3] += effect * lab
            rows.append({"record_id": f"{pid}_{r}", "patient_id": pid, "label": lab,
                         **{f"V{j % 12}__hf__f{j}": x[j] for j in range(n_features)}})
    frame = pd.DataFrame(rows)
    for pid in flip:
        y[pid] = 1 - y[pid]
        frame.loc[frame["patient_id"] == pid, "label"] = y[pid]
    return FakeCohort(y), FakeTable(frame)


def do_run(out, seed=3, **kw):
    cohort, table = kw.pop("data", None) or fake()
    stream = io.StringIO()
    result = hb.run(cohort, models=kw.pop("models", MODELS), out=out, seed=seed, config=CFG, features=table,
                    stream=stream, command="test", **kw)
    metrics = pd.read_csv(result.run_dir / "metrics.csv")
    return result, metrics, stream.getvalue()


@pytest.fixture(scope="module")
def first(tmp_path_factory):
    out = tmp_path_factory.mktemp("runs") / "r1"
    return do_run(out)


def test_run_writes_every_output(first):
    ctx, metrics, _ = first
    d = ctx.run_dir
    for name in ("folds.csv", "predictions.csv", "train_scores.csv", "metrics.csv", "manifest.json",
                 "features.parquet", "studies.db"):
        assert (d / name).exists(), name
    pred = pd.read_csv(d / "predictions.csv", dtype={"patient_id": str})
    assert list(pred.columns) == ["model", "patient_id", "fold", "label", "prob", "threshold"]
    assert not pred.duplicated(["model", "patient_id"]).any()
    assert (pred.groupby("model").size() == 36).all()
    folds = pd.read_csv(d / "folds.csv", dtype={"patient_id": str}).set_index("patient_id")["fold"]
    assert (pred.set_index("patient_id")["fold"] == folds.reindex(pred["patient_id"]).to_numpy()).all()
    m = metrics.set_index("model")
    for c in ("auroc", "auroc_lo", "auroc_hi", "auprc", "balanced_accuracy", "sensitivity", "specificity", "f1",
              "mcc", "brier", "train_auroc", "delong_p", "fit_seconds", "n_patients", "n_trials"):
        assert c in m.columns, c
    assert m.loc["logreg", "auroc"] > 0.85 and m.loc["logreg", "delong_p"] == 1.0
    assert 0.35 <= m.loc["dummy", "auroc"] <= 0.65
    assert (m["auroc_lo"] <= m["auroc"]).all() and (m["auroc"] <= m["auroc_hi"]).all()
    assert m.loc["logreg", "n_trials"] == 2 * 3 and m.loc["dummy", "n_trials"] == 0


def test_same_seed_same_predictions(first, tmp_path):
    ctx, _, _ = first
    ctx2, _, _ = do_run(tmp_path / "r2")
    assert (ctx.run_dir / "predictions.csv").read_bytes() == (ctx2.run_dir / "predictions.csv").read_bytes()
    assert (ctx.run_dir / "folds.csv").read_bytes() == (ctx2.run_dir / "folds.csv").read_bytes()


def test_resume_keeps_finished_folds(first, tmp_path, monkeypatch):
    ctx, _, _ = first
    out = tmp_path / "r3"
    shutil.copytree(ctx.run_dir, out)
    # lose the last fold of logreg, as if the run was killed during it
    for suffix in ("csv", "json"):
        (out / "fold_predictions" / f"logreg_fold2.{suffix}").unlink()
    calls = []
    real = classical.LogRegSpec.fit_predict

    def spy(self, data, train, test, *a, **k):
        calls.append(len(train))
        return real(self, data, train, test, *a, **k)

    monkeypatch.setattr(classical.LogRegSpec, "fit_predict", spy)
    _, _, log = do_run(out)
    assert "resuming run in" in log and "logreg: folds [1, 2] already finished" in log
    assert calls == [len(ctx.plan.split(2)[0])], "only the lost fold's refit ran (its study was complete)"
    a = pd.read_csv(ctx.run_dir / "predictions.csv")
    b = pd.read_csv(out / "predictions.csv")
    pd.testing.assert_frame_equal(a, b)


def test_rerun_with_other_seed_in_same_dir_is_refused(first):
    ctx, _, _ = first
    with pytest.raises(HfecgError, match="other settings.*seed"):
        do_run(ctx.run_dir, seed=4)


def test_resume_under_other_deep_settings_is_refused(first, tmp_path):
    """Folds fitted under another deep-model configuration (e.g. an older input crop) are never mixed in."""
    ctx, _, _ = first
    out = tmp_path / "r4"
    shutil.copytree(ctx.run_dir, out)
    state = json.loads((out / STATE_FILE).read_text())
    assert state["deep_config"]["hf_crop_ms"] == [-60.0, 90.0]
    state["deep_config"]["hf_crop_ms"] = []
    (out / STATE_FILE).write_text(json.dumps(state))
    with pytest.raises(HfecgError, match="other settings.*deep_config differs"):
        do_run(out)


def test_threshold_and_fit_ignore_test_labels(first, tmp_path):
    """Relabelling the outer-test patients of fold 0 changes nothing fitted for fold 0."""
    ctx, _, _ = first
    train, test = ctx.plan.split(0)
    out = tmp_path / "flip"
    out.mkdir()
    shutil.copy(ctx.run_dir / "folds.csv", out / "folds.csv")
    shutil.copy(ctx.run_dir / "run_state.json", out / "run_state.json")
    cohort, table = fake(flip=test)
    state = (out / "run_state.json").read_text().replace(fake()[0].fingerprint(), cohort.fingerprint())
    (out / "run_state.json").write_text(state)
    do_run(out, data=(cohort, table), models=["logreg"])
    a = pd.read_csv(ctx.run_dir / "fold_predictions" / "logreg_fold0.csv")
    b = pd.read_csv(out / "fold_predictions" / "logreg_fold0.csv")
    assert a["threshold"].iloc[0] == b["threshold"].iloc[0]
    np.testing.assert_array_equal(a["prob"], b["prob"])
    assert (a["label"] != b["label"]).all()


def test_threshold_comes_from_training_patients(first, monkeypatch, tmp_path):
    ctx, _, _ = first
    seen = []
    real = fold_module.youden_threshold

    def spy(y, p):
        seen.append(len(y))
        return real(y, p)

    monkeypatch.setattr(fold_module, "youden_threshold", spy)
    do_run(tmp_path / "r4", models=["logreg"])
    assert seen == [len(ctx.plan.split(k)[0]) for k in range(3)]


def test_registry_names_and_errors():
    assert resolve_names("classical") == ["rf", "svm", "xgb", "logreg", "dummy"]
    assert resolve_names("dummy, rf,dummy") == ["dummy", "rf"]
    with pytest.raises(ParameterError, match="invalid models='forest': choose from rf, svm"):
        resolve_names("forest")
    assert get_spec("xgb").family == "classical" and get_spec("dummy").family == "baseline"


def test_cli_run_smoke(tmp_path, capsys):
    out = tmp_path / "cli"
    args = ["run", "dummy,logreg", "--n-patients", "16", "--trials", "1", "--inner-folds", "2", "--folds", "2",
            "--bootstrap", "50", "--seed", "1", "--out", str(out)]
    assert main(args) == 0
    m = pd.read_csv(out / "metrics.csv")
    assert set(m["model"]) == {"dummy", "logreg"}
    # the reproduce line is the command as typed, runnable as written
    assert "python -m hfecg_bench run dummy,logreg --n-patients 16" in (out / "leaderboard.md").read_text()
    capsys.readouterr()
    assert main(["run", "nonsense", "--out", str(tmp_path / "x")]) == 2
    assert "invalid --models nonsense" not in capsys.readouterr().err  # no such flag: the library wording stays
    assert main(["run", "dummy", "--trials", "-1", "--out", str(tmp_path / "y")]) == 2
    assert "invalid --trials -1" in capsys.readouterr().err and not (tmp_path / "y").exists()


def test_cli_config_file_sets_features_and_the_deep_view(tmp_path):
    """`run --config FILE.toml`: the [features] and [deep] sections reach the fits and the manifest."""
    toml = tmp_path / "run.toml"
    toml.write_text('[features]\nhf_order = 2\n[deep]\nview = "beats_wideband"\ndecimate = 4\nmax_epochs = 1\n'
                    "max_beats_per_patient = 4\n")
    out = tmp_path / "cfg"
    args = ["run", "dummy,cnn", "--n-patients", "16", "--prevalence", "0.5", "--duration", "8", "--folds", "2",
            "--bootstrap", "50",
            "--seed", "1", "--config", str(toml), "--out", str(out)]
    assert main(args) == 0
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["config"]["features"]["hf_order"] == 2
    assert manifest["config"]["deep"]["view"] == "beats_wideband" and manifest["config"]["deep"]["decimate"] == 4
    assert manifest["model_info"]["cnn"] == {"family": "deep", "input": "beats wideband"}
    fold = json.loads((out / "fold_predictions" / "cnn_fold0.json").read_text())
    assert fold["info"]["view"] == "beats_wideband"
    # wideband, uncropped 400 ms window decimated 4x: 100 samples per beat
    assert fold["info"]["input_shape"] == [100, 12]
    # the same --out with another config is refused, not mixed
    (tmp_path / "other.toml").write_text("[deep]\nmax_epochs = 2\n")
    assert main([*args[:-4], "--config", str(tmp_path / "other.toml"), "--out", str(out)]) == 2


def test_config_file_errors_before_any_work(tmp_path, capsys):
    bad = tmp_path / "bad.toml"
    bad.write_text('[deep]\nview = "beats_ultra"\n')
    assert main(["run", "dummy", "--config", str(bad), "--out", str(tmp_path / "x")]) == 2
    assert "deep.view" in capsys.readouterr().err and not (tmp_path / "x").exists()


def test_a_folder_that_is_not_a_run_is_never_written_to(tmp_path):
    mine = tmp_path / "my_results"
    mine.mkdir()
    (mine / "predictions.csv").write_text("my own numbers\n")
    with pytest.raises(HfecgError, match="not empty and holds no hfecg_bench run"):
        do_run(mine)
    assert [p.name for p in mine.iterdir()] == ["predictions.csv"]
    assert (mine / "predictions.csv").read_text() == "my own numbers\n"


def test_user_fold_plan_is_used_and_saved(first, tmp_path):
    ctx, _, _ = first
    labels = ctx.plan.labels
    folds = pd.Series(np.arange(len(labels)) % 2, index=labels.index)  # a plan of the user's own: 2 folds
    plan = hb.FoldPlan(folds=folds, labels=labels, kind="user")
    result, metrics, _ = do_run(tmp_path / "plan", models=["logreg"], folds=plan)
    saved = pd.read_csv(result.run_dir / "folds.csv", dtype={"patient_id": str}).set_index("patient_id")["fold"]
    assert saved.to_dict() == folds.to_dict()
    assert result.predictions.set_index("patient_id")["fold"].to_dict() == folds.to_dict()
    assert int(metrics.loc[0, "n_folds"]) == 2
    with pytest.raises(ParameterError, match="folds"):
        do_run(tmp_path / "plan2", models=["logreg"], folds=hb.FoldPlan(folds=folds.iloc[:-1], labels=labels))


def test_diagnostics_and_verdict_for_any_run_of_two_models(first, tmp_path):
    """Two models besides the baseline get the diagnostics and a verdict without the word `all`; one does not."""
    ctx, _, _ = first
    assert ctx.verdict is None and ctx.diagnostics == {} and not (ctx.run_dir / "diagnostics.json").exists()
    result, _, log = do_run(tmp_path / "two", models=["logreg", "rf", "dummy"])
    diag = json.loads((result.run_dir / "diagnostics.json").read_text())
    assert result.verdict == diag["verdict"]
    # every diagnostic ran (a crashed one records an error and would make the verdict rest on less)
    failed = [f["kind"] for f in diag["findings"] if "error" in f]
    assert not failed, failed
    signal = next(f for f in diag["findings"] if f["kind"] == "signal")
    assert signal["p_value"] < 0.05 and signal["significant"]  # the planted effect (3 features shifted by 2 SD)
    assert result.verdict != "no_signal"
    assert {"signal", "acquisition_confound", "label_noise", "learning_curve", "ablation"} <= {
        f["kind"] for f in diag["findings"]}
    assert "Verdict" in (result.run_dir / "leaderboard.md").read_text()


def test_result_reloads_from_files(first):
    ctx, metrics, _ = first
    again = hb.load_result(ctx.run_dir)
    pd.testing.assert_frame_equal(again.leaderboard, ctx.leaderboard)
    pd.testing.assert_frame_equal(again.predictions, ctx.predictions)


def test_classical_estimators_are_clonable_and_read_the_table_as_it_is_now():
    """The SVM draws its patient-wise calibration splits in fit (clonable); the feature matrix is never stale."""
    from sklearn.base import clone

    cohort, table = fake(n_patients=30)
    y = table.frame["label"].to_numpy()
    svm = get_spec("svm").estimator(get_spec("svm").default_params("quick"), 0, y)
    assert clone(svm).get_params() == svm.get_params()
    spec = get_spec("logreg")
    patients = sorted(cohort.labels)
    train, test = patients[:20], patients[20:]
    data = ModelData(features=table)
    before = spec.fit_predict(data, train, test, spec.default_params("quick"), 0, "quick").test_prob
    cols = table.feature_columns()
    # an in-place edit of the same table object (records' features reversed; negating them all would leave a
    # sign-symmetric model such as logreg unchanged)
    table.frame.loc[:, cols] = table.frame.loc[:, cols].to_numpy()[::-1]
    after = spec.fit_predict(data, train, test, spec.default_params("quick"), 0, "quick").test_prob
    assert not np.allclose(before.to_numpy(), after.to_numpy())


def test_bad_arguments_name_the_parameter(tmp_path):
    cohort, table = fake()
    for kwargs, name in (({"trials": -2}, "trials"), ({"folds": 1}, "folds"), ({"seed": -1}, "seed"),
                         ({"models": ["forest"]}, "models"), ({"config": 3}, "config")):
        args = {"models": MODELS, "out": tmp_path / name, "features": table, **kwargs}
        with pytest.raises(ParameterError) as err:
            hb.run(cohort, **args)
        assert err.value.name == name, (kwargs, err.value)
        assert not (tmp_path / name).exists()


# ---------------------------------------------------------------- interruptions, refusals, small cohorts

CFG4 = RunConfig.for_profile("quick")
CFG4.evaluation = EvalConfig(n_folds=3, n_inner_folds=2, n_trials=4, n_startup_trials=2, n_bootstrap=100)


def interrupt_at(monkeypatch, n):
    """Make the ``n``-th logreg fit raise KeyboardInterrupt (Ctrl-C); returns the list of fits seen."""
    calls = []
    real = classical.LogRegSpec.fit_predict

    def fit(self, *a, **k):
        calls.append(1)
        if len(calls) == n:
            raise KeyboardInterrupt
        return real(self, *a, **k)

    monkeypatch.setattr(classical.LogRegSpec, "fit_predict", fit)
    return calls


def test_interrupted_run_resumes_to_the_uninterrupted_predictions(tmp_path, monkeypatch):
    """Ctrl-C in the middle of a trial in the middle of a study (fold 2 of 3, trial 4 of 4: the second TPE trial
    after 2 random start-up trials), then the same call again: predictions.csv byte-identical to a run never
    interrupted, every study with the uninterrupted trials."""
    def go(out):
        cohort, table = fake()
        return hb.run(cohort, models=["logreg"], out=out, seed=3, config=CFG4, features=table,
                      stream=io.StringIO(), command="test")

    whole = go(tmp_path / "whole")
    # per fold: 4 trials x 2 inner fits + 1 refit = 9 fits; fit 9 + 8 is the 2nd inner fit of fold 2's trial 4
    calls = interrupt_at(monkeypatch, 9 + 8)
    with pytest.raises(KeyboardInterrupt):
        go(tmp_path / "cut")
    assert len(calls) == 17 and not (tmp_path / "cut" / "predictions.csv").exists()
    monkeypatch.undo()
    again = go(tmp_path / "cut")
    assert (again.run_dir / "predictions.csv").read_bytes() == (whole.run_dir / "predictions.csv").read_bytes()
    for k in range(3):
        a = json.loads((whole.run_dir / "fold_predictions" / f"logreg_fold{k}.json").read_text())
        b = json.loads((again.run_dir / "fold_predictions" / f"logreg_fold{k}.json").read_text())
        assert a["params"] == b["params"] and a["threshold"] == b["threshold"]
        # the trials themselves, not only the winner: the resumed study ran what the uninterrupted one ran
        studies = [optuna.load_study(study_name=f"logreg-fold{k}", storage=f"sqlite:///{d / 'studies.db'}")
                   for d in (whole.run_dir, again.run_dir)]
        tried = [[t.params for t in s.trials if t.state == optuna.trial.TrialState.COMPLETE] for s in studies]
        assert tried[0] == tried[1] and len(tried[0]) == 4


def test_ctrl_c_prints_only_the_friendly_line(tmp_path, monkeypatch, capfd):
    out = tmp_path / "cli"
    args = ["run", "logreg", "--n-patients", "16", "--trials", "2", "--inner-folds", "2", "--folds", "2",
            "--bootstrap", "50", "--seed", "1", "--out", str(out)]
    interrupt_at(monkeypatch, 3)  # inside trial 1 of fold 1
    records = []  # Optuna's own handler holds whichever stderr was current when optuna was imported: listen here
    handler = logging.Handler(level=logging.DEBUG)
    handler.emit = records.append
    logging.getLogger("optuna").addHandler(handler)
    try:
        assert main(args) == 130
    finally:
        logging.getLogger("optuna").removeHandler(handler)
    stdout, err = capfd.readouterr()
    assert "interrupted: rerun the same command to resume where it stopped" in err
    assert not [r.getMessage() for r in records if r.levelno >= logging.WARNING]
    for text in ("Traceback", "KeyboardInterrupt", "failed because", "Trial 1 failed"):
        assert text not in err and text not in stdout, text
    monkeypatch.undo()
    assert main(args) == 0
    assert "resuming run in" in capfd.readouterr().err


def test_refused_for_too_few_patients_before_anything_is_written(tmp_path):
    """9 patients (3 positive) at 2 outer folds: a training side keeps 1 positive, too few for inner folds.
    Refused with the numbers and what works, before the folder exists; the corrected call then runs there."""
    data = fake(n_patients=9)
    out = tmp_path / "small"
    cfg = RunConfig.for_profile("quick")
    cfg.evaluation = EvalConfig(n_folds=2, n_inner_folds=2, n_trials=0, n_bootstrap=50)
    with pytest.raises(HfecgError, match=r"1 positive.*cannot make 2 inner folds.*also with trials=0.*"
                                         r"use 3 or more outer folds \(folds=3\)"):
        hb.run(data[0], models=["logreg"], out=out, config=cfg, features=data[1], stream=io.StringIO())
    assert not out.exists()
    result = hb.run(data[0], models=["logreg"], out=out, config=cfg, folds=3, features=data[1],
                    stream=io.StringIO())
    assert result.plan.n_folds == 3 and (out / "predictions.csv").exists()


def test_a_run_refused_after_its_folder_was_made_does_not_block_the_corrected_one(tmp_path):
    """Patients lost at feature extraction can leave too few for the folds only once the run has started (the
    folder holds run_state.json, features, folds): the corrected run into the same folder starts over there,
    as nothing was fitted. A folder that also holds someone else's file is still refused, untouched."""
    cohort, table = fake(n_patients=12)
    positives = [p for p, y in cohort.labels.items() if y == 1]
    short = FakeTable(table.frame[~table.frame["patient_id"].isin(positives[2:])].reset_index(drop=True))
    out = tmp_path / "run"
    with pytest.warns(HfecgWarning, match="no usable record"):
        with pytest.raises(HfecgError, match=r"too small for nested evaluation.*has 2 positive, 8 negative"):
            hb.run(cohort, models=["logreg"], out=out, config=CFG, folds=2, features=short, stream=io.StringIO())
    assert (out / STATE_FILE).exists() and not (out / "fold_predictions").exists()
    fixed, fixed_table = fake(n_patients=15)
    log = io.StringIO()
    result = hb.run(fixed, models=["logreg"], out=out, config=CFG, folds=2, features=fixed_table, stream=log)
    assert "starting over in" in log.getvalue() and "fingerprint" in log.getvalue()
    assert len(result.predictions) == 15
    assert json.loads((out / STATE_FILE).read_text())["fingerprint"] == fixed.fingerprint()
    # with a file of the user's there, the same situation is a refusal
    other = tmp_path / "other"
    other.mkdir()
    shutil.copy(out / STATE_FILE, other / STATE_FILE)
    (other / "notes.txt").write_text("mine\n")
    with pytest.raises(HfecgError, match="other settings"):
        hb.run(cohort, models=["logreg"], out=other, config=CFG, features=table, stream=io.StringIO())
    assert sorted(p.name for p in other.iterdir()) == ["notes.txt", STATE_FILE]


def test_trials_0_needs_inner_folds_only_for_the_threshold(tmp_path):
    """With trials=0 a model whose threshold comes from inner out-of-fold predictions still needs inner folds
    (a clear refusal naming the counts); a deep model taking it from its early-stopping patients does not."""
    from hfecg_bench.evaluation.folds import make_fold_plan

    cohort, table = fake(n_patients=6)  # 2 positive, 4 negative
    with pytest.raises(HfecgError, match=r"too small for nested evaluation: it needs at least 3 patients of each "
                                         r"class and has 2 positive, 4 negative") as err:
        hb.run(cohort, models=["logreg"], out=tmp_path / "t0", folds=2, trials=0, features=table,
               stream=io.StringIO())
    assert "fewer outer folds" not in str(err.value) and not (tmp_path / "t0").exists()
    plan = make_fold_plan(pd.Series(cohort.labels), n_folds=2, seed=0)
    ev = EvalConfig(n_folds=2, n_inner_folds=3, n_trials=0)
    task = fold_module.fold_task(get_spec("cnn"), plan, 0, seed=0, config=ev, profile="quick", study_db=None)
    assert task.inner_splits == () and task.n_trials == 0
    with pytest.raises(HfecgError, match="too small"):
        fold_module.fold_task(get_spec("logreg"), plan, 0, seed=0, config=ev, profile="quick", study_db=None)


def test_a_cohort_built_in_code_gets_the_loaders_cross_record_checks(tmp_path):
    """hb.run refuses mixed sampling rates and a heart under two patient ids, as load_cohort does."""
    syn = hb.generate_cohort(n_patients=12, duration_s=10, seed=4)
    first = syn.records[0]
    copy = hb.Record("copy01", "someone-else", label=first.label, fs=first.fs, lead_names=first.lead_names,
                     signal=first.signal.copy())
    twin = hb.Cohort(syn.records + [copy], dataset="memory")
    with pytest.raises(hb.DataProblemsError, match="copy01.*same heart as syn001"):
        hb.run(twin, models=MODELS, out=tmp_path / "twin", folds=2, trials=0)
    fast = hb.Record("fast01", "P999", label=1, fs=2000.0, lead_names=first.lead_names,
                     signal=np.repeat(syn.records[1].signal, 2, axis=0))
    mixed = hb.Cohort(syn.records + [fast], dataset="memory")
    with pytest.raises(HfecgError, match=r"mixes sampling rates \(1000 Hz \(12 records\), 2000 Hz \(1 records\)\)"):
        hb.run(mixed, models=MODELS, out=tmp_path / "mixed", folds=2, trials=0)
    assert not (tmp_path / "twin").exists() and not (tmp_path / "mixed").exists()
