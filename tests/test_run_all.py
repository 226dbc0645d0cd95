"""End-to-end smoke test of `python -m hfecg_bench run all` on a tiny synthetic cohort, and `report`."""
import json
import subprocess
import sys

import pandas as pd
import pytest

ALL = ["rf", "svm", "xgb", "logreg", "dummy", "cnn", "leadwise_cnn", "tcn", "lstm"]


@pytest.fixture(scope="module")
def tiny_run(tmp_path_factory):
    out = tmp_path_factory.mktemp("runall") / "run"
    cmd = [sys.executable, "-m", "hfecg_bench", "run", "all", "--n-patients", "30", "--duration", "10",
           "--folds", "3", "--trials", "1", "--bootstrap", "100", "--seed", "2", "--out", str(out)]
    p = subprocess.run(cmd, capture_output=True, text=True, timeout=1200)
    assert p.returncode == 0, p.stderr[-3000:]
    return out, p


def test_run_all_writes_the_report(tiny_run):
    out, p = tiny_run
    lb = pd.read_csv(out / "leaderboard.csv")
    assert set(ALL) <= set(lb["model"])
    assert lb["auroc"].is_monotonic_decreasing
    assert {"family", "input"} <= set(lb.columns)
    assert set(lb.loc[lb["model"].isin(["cnn", "tcn"]), "family"]) == {"deep"}
    # the input column names the view each model was fitted on, as the runner recorded it
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["model_info"]["cnn"] == {"family": "deep", "input": "beats 150-250 Hz"}
    assert set(lb.loc[lb["model"].isin(["cnn", "leadwise_cnn", "tcn", "lstm"]), "input"]) == {"beats 150-250 Hz"}
    assert set(lb.loc[lb["model"].isin(["rf", "svm", "xgb", "logreg"]), "input"]) == {"features"}
    md = (out / "leaderboard.md").read_text()
    assert all(m in md for m in ALL) and "Verdict" in md
    diag = json.loads((out / "diagnostics.json").read_text())
    kinds = {f["kind"] for f in diag["findings"]}
    assert {"permutation", "learning_curve", "split_leakage", "train_test_gap", "agreement", "label_noise",
            "ablation"} <= kinds
    # a diagnostic that crashed still records its kind, with an error: none may have
    crashed = {f["kind"]: f["error"] for f in diag["findings"] if "error" in f}
    assert not crashed, crashed
    # the permutation test is about the leaderboard's best model, over every model but the baseline
    perm = next(f for f in diag["findings"] if f["kind"] == "permutation")
    competing = lb[lb["family"] != "baseline"]
    tied_best = set(competing.loc[(competing["auroc"] - competing["auroc"].max()).abs() < 1e-9, "model"])
    assert perm["n_models"] == 8 and perm["best_model"] in tied_best, perm
    assert perm["observed_auroc"] == pytest.approx(competing["auroc"].max(), abs=1e-3) and 0 < perm["p_value"] <= 1
    # 30 patients, 10 s records, 3 folds: too few to call the planted effect significant among 8 models
    # (p = 0.09 at seed 2), so the verdict is a positive one only if the test says so
    assert diag["verdict"] in {"no_signal", "data_limited", "model_limited", "near_ceiling"}
    if diag["verdict"] == "no_signal":
        assert perm["p_value"] >= 0.05
    assert len(list(out.rglob("*.png"))) >= 4
    truth = json.loads((out / "truth.json").read_text())
    assert len(truth["patients"]) == 30
    assert "verdict:" in p.stdout


def test_split_leakage_inflates_the_beatwise_score(tiny_run):
    out, _ = tiny_run
    diag = json.loads((out / "diagnostics.json").read_text())
    leak = next(f for f in diag["findings"] if f["kind"] == "split_leakage")
    assert leak["beat_wise"]["beat_auroc"] >= leak["patient_wise"]["beat_auroc"]


def test_report_rerenders_without_refitting(tiny_run):
    out, _ = tiny_run
    before = (out / "leaderboard.csv").read_text()
    stamp = {p: p.stat().st_mtime_ns for p in (out / "fold_predictions").iterdir()}
    p = subprocess.run([sys.executable, "-m", "hfecg_bench", "report", str(out)], capture_output=True, text=True,
                       timeout=300)
    assert p.returncode == 0, p.stderr[-2000:]
    assert (out / "leaderboard.csv").read_text() == before
    assert {p: p.stat().st_mtime_ns for p in (out / "fold_predictions").iterdir()} == stamp
