"""End-to-end smoke test of `python -m hfecg_bench run all` on a tiny synthetic cohort, and `report`."""
import json
import subprocess
import sys

import pandas as pd
import pytest

from hfecg_bench.models.registry import resolve_names

ALL = resolve_names("all")


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
    assert {"family", "input", "auroc_fold_mean"} <= set(lb.columns)
    assert set(lb.loc[lb["model"].isin(["cnn", "tcn"]), "family"]) == {"deep"}
    # the input column names the view each model was fitted on, as the runner recorded it
    manifest = json.loads((out / "manifest.json").read_text())
    view = "beats 150-250 Hz, subset averages of 16 beats (10 per patient and epoch)"
    assert manifest["model_info"]["cnn"] == {"family": "deep", "input": view}
    assert set(lb.loc[lb["model"].isin(["cnn", "leadwise_cnn", "tcn", "lstm"]), "input"]) == {view}
    assert set(lb.loc[lb["model"].isin(["rf", "svm", "xgb", "logreg"]), "input"]) == {"features"}
    md = (out / "leaderboard.md").read_text()
    assert all(m in md for m in ALL) and "Verdict" in md
    diag = json.loads((out / "diagnostics.json").read_text())
    by = {f["kind"]: f for f in diag["findings"]}
    assert {"signal", "acquisition_confound", "label_noise", "model_comparison", "learning_curve", "split_leakage",
            "train_test_gap", "agreement", "ablation", "pooled_auroc"} <= set(by)
    # a diagnostic that crashed still records its kind, with an error: none may have
    crashed = {f["kind"]: f["error"] for f in diag["findings"] if "error" in f}
    assert not crashed, crashed
    for kind in ("signal", "acquisition_confound", "label_noise", "model_comparison", "learning_curve"):
        assert by[kind]["status"] == "ok" and isinstance(by[kind]["significant"], bool), by[kind]
    # label noise is judged only where there is signal: without it a flipped label looks like any other
    noise = by["label_noise"]
    if not by["signal"]["significant"]:
        assert noise["significant"] is False and noise["identifiable"] is False and noise["patients"] == [], noise
    sig = by["signal"]
    assert 0 < sig["p_value"] <= 1 and 0 <= sig["power"] <= 1 and sig["n_permutations"] >= 100
    # 30 patients: the refitting signal test cannot detect a moderate effect, so the verdict cannot be no_signal
    assert sig["powered"] is False
    assert diag["verdict"] in {"data_limited", "model_limited", "near_ceiling", "undetermined"}
    assert all(c["cause"] and c["evidence"] for c in diag["causes"])
    if diag["verdict"] == "data_limited":
        assert diag["causes"] and diag["causes"][0]["cause"] in {"sample_size", "label_noise", "acquisition_confound"}
    # the recording properties behind the confound check are saved for `diagnose`
    props = pd.read_csv(out / "recording_properties.csv")
    assert len(props) == 30 and {"duration_s", "fs_hz", "hf_noise_uv"} <= set(props.columns)
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


def test_diagnose_recomputes_the_verdict_without_refitting(tiny_run):
    out, _ = tiny_run
    before = json.loads((out / "diagnostics.json").read_text())
    stamp = {p: p.stat().st_mtime_ns for p in (out / "fold_predictions").iterdir()}
    p = subprocess.run([sys.executable, "-m", "hfecg_bench", "diagnose", str(out)], capture_output=True, text=True,
                       timeout=600)
    assert p.returncode == 0, p.stderr[-2000:]
    after = json.loads((out / "diagnostics.json").read_text())
    assert after["verdict"] == before["verdict"] and f"verdict: {after['verdict']}" in p.stdout
    same = {f["kind"]: f for f in before["findings"]}
    for f in after["findings"]:              # same seeds, same files: the same numbers
        if f["kind"] in ("signal", "label_noise", "acquisition_confound"):
            assert f["p_value"] == same[f["kind"]]["p_value"], f["kind"]      # None: label noise without signal
    assert {p: p.stat().st_mtime_ns for p in (out / "fold_predictions").iterdir()} == stamp


def test_diagnose_refuses_a_folder_that_is_not_a_run(tmp_path):
    p = subprocess.run([sys.executable, "-m", "hfecg_bench", "diagnose", str(tmp_path)], capture_output=True, text=True,
                       timeout=120)
    assert p.returncode == 2 and "is not a finished run" in p.stderr and "Traceback" not in p.stderr
