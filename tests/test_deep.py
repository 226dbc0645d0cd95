"""Deep model family: aggregation, patient-wise validation split, architectures, end-to-end fits.

Uses a small stand-in for the beat pipeline's BeatSet (same attributes), so these tests do not depend on
``hfecg_bench.beats``. Fits run 1-8 epochs on tiny data.
"""
from __future__ import annotations

import subprocess
import sys
from dataclasses import dataclass, field, replace

import numpy as np
import optuna
import pandas as pd
import pytest

from hfecg_bench.beats.beatset import cap_beats
from hfecg_bench.errors import HfecgError, ParameterError
from hfecg_bench.evaluation.metrics import aggregate_patient_probs
from hfecg_bench.leads import STANDARD_LEADS
from hfecg_bench.models.base import ModelData
from hfecg_bench.models.deep import DEEP_SPECS, DeepConfig, receptive_field

tf = pytest.importorskip("tensorflow")
from hfecg_bench.models import deep_arch, deep_train  # noqa: E402  (imports TensorFlow)

FAST = {"max_epochs": 1, "patience": 1, "max_beats_per_patient": 8}
#: The single-beat path (fixed capped beats, the signal itself), as before subset averages became the default.
SINGLE = {"view": "beats_hf", "input_transform": "none"}


@dataclass
class StandInBeats:
    """The attributes of the beat pipeline's BeatSet that the deep models read."""

    X: np.ndarray
    patient_ids: np.ndarray
    record_ids: np.ndarray
    labels: np.ndarray
    fs: float = 1000.0
    lead_names: tuple = tuple(f"L{i}" for i in range(12))
    band: str = "wideband"
    info: dict = field(default_factory=lambda: {"beat_config": {"pre_ms": 200.0}})  # R (the QRS) at 200 ms


def make_beats(n_patients=30, n_beats=20, n_window=400, n_leads=12, effect=1.0, seed=0) -> StandInBeats:
    """Beats with a QRS-like bump (random per-patient lead gains) plus noise; positives (odd patients)
    carry a planted 200 Hz burst inside the QRS of amplitude ``0.3 * effect`` mV in every lead."""
    rng = np.random.default_rng(seed)
    t = np.arange(n_window) / 1000.0
    qrs = np.exp(-0.5 * ((t - 0.2) / 0.012) ** 2)
    burst = np.sin(2 * np.pi * 200 * t) * np.exp(-0.5 * ((t - 0.2) / 0.02) ** 2)
    X, pids, y = [], [], []
    for p in range(n_patients):
        label = p % 2
        beats = qrs[None, :, None] * rng.uniform(0.5, 1.5, n_leads) + 0.05 * rng.standard_normal(
            (n_beats, n_window, n_leads))
        if label:
            beats = beats + 0.3 * effect * burst[None, :, None]
        X.append(beats.astype(np.float32))
        pids += [f"P{p:03d}"] * n_beats
        y += [label] * n_beats
    pids = np.array(pids)
    return StandInBeats(np.concatenate(X), pids, np.char.add(pids, "_r0"), np.array(y),
                        lead_names=tuple(f"L{i}" for i in range(n_leads)))


def split_patients(beats, every=4):
    patients = sorted(set(beats.patient_ids))
    test = patients[::every]
    return [p for p in patients if p not in test], test


@pytest.fixture(scope="module")
def tiny():
    return make_beats(n_patients=24, n_beats=8, seed=1)


# ----------------------------------------------------------------------------- pure helpers

def test_aggregate_patient_probs_numbers():
    probs = [0.1, 0.2, 0.9, 0.3, 0.5, 0.6, 0.7, 0.8, 0.0, 1.0]
    pids = ["a", "a", "a", "b", "b", "b", "b", "b", "b", "b"]
    mean = aggregate_patient_probs(probs, pids, "mean")
    assert list(mean.index) == ["a", "b"]
    assert mean["a"] == pytest.approx(0.4) and mean["b"] == pytest.approx(3.9 / 7)
    med = aggregate_patient_probs(probs, pids, "median")
    assert med["a"] == pytest.approx(0.2) and med["b"] == pytest.approx(0.6)
    # b sorted: 0.0 0.3 0.5 0.6 0.7 0.8 1.0; trim 0.2 -> floor(1.4) = 1 cut per end -> mean(0.3..0.8) = 0.58
    trimmed = aggregate_patient_probs(probs, pids, "trimmed_mean", trim=0.2)
    assert trimmed["b"] == pytest.approx(2.9 / 5) and trimmed["a"] == pytest.approx(0.4)  # 3 beats: nothing cut
    with pytest.raises(HfecgError, match="method"):
        aggregate_patient_probs(probs, pids, "max")


def test_validation_split_uses_training_patients_only():
    labels = pd.Series([0] * 10 + [1] * 6, index=[f"P{i:02d}" for i in range(16)])
    fit, val = deep_train.split_validation(labels, 0.2, np.random.default_rng(0), 4, "cnn")
    assert set(val) <= set(labels.index) and set(fit) <= set(labels.index)
    assert not set(fit) & set(val) and set(fit) | set(val) == set(labels.index)
    assert sorted(labels[val].tolist()) == [0, 0, 1]  # round(0.2*10)=2 negatives, round(0.2*6)=1 positive
    with pytest.raises(HfecgError, match=r"cnn.*both fitted and validated"):
        deep_train.check_validation_split(fit + val[:1], val, labels.index, "cnn")
    with pytest.raises(HfecgError, match="not among the training patients"):
        deep_train.check_validation_split(fit, val + ["T99"], labels.index, "cnn")
    with pytest.raises(HfecgError, match="test patient"):
        deep_train.check_validation_split(fit, val, labels.index, "cnn", test_patients=[val[0]])


def test_too_few_patients_per_class_is_a_clear_error():
    labels = pd.Series([0] * 10 + [1] * 3, index=[f"P{i:02d}" for i in range(13)])
    with pytest.raises(HfecgError, match=r"model lstm: .*10 negative and 3 positive.*>= 4 per class"):
        deep_train.split_validation(labels, 0.2, np.random.default_rng(0), 4, "lstm")


def test_cap_beats_per_patient_is_seeded():
    pids = np.repeat(np.array(["a", "b", "c"]), [50, 5, 12])
    rows = cap_beats(np.arange(pids.size), pids, 10, np.random.default_rng(3))
    counts = pd.Series(pids[rows]).value_counts()
    assert counts.to_dict() == {"a": 10, "c": 10, "b": 5}
    assert np.array_equal(rows, cap_beats(np.arange(pids.size), pids, 10, np.random.default_rng(3)))


def test_config_profiles_and_hf_decimation_guard():
    assert DeepConfig.for_profile("full").max_epochs > DeepConfig.for_profile("quick").max_epochs
    with pytest.raises(ParameterError, match="profile"):
        DeepConfig.for_profile("huge")
    cfg = DeepConfig.for_profile("quick", view="beats_hf", decimate=4)
    with pytest.raises(ParameterError, match=r"model cnn.*250 Hz.*>= 500"):
        cfg.check_decimation(1000.0, "cnn")
    DeepConfig.for_profile("quick", view="beats_hf", decimate=2).check_decimation(1000.0, "cnn")
    assert DEEP_SPECS["cnn"].with_config(view="beats_hf").input == "beats_hf"


def test_crop_window_samples_and_errors():
    assert deep_train.crop_window(400, 1000.0, 150.0, (-60.0, 90.0), "cnn") == slice(90, 240)
    assert deep_train.crop_window(800, 2000.0, 150.0, (-60.0, 90.0), "cnn") == slice(180, 480)   # 2 kHz
    assert deep_train.crop_window(400, 1000.0, 150.0, (-500.0, 500.0), "cnn") == slice(0, 400)  # clipped
    # a 500 Hz recording: the 75-sample crop is widened to the TCN's 125-sample receptive field
    assert deep_train.crop_window(200, 500.0, 150.0, (-60.0, 90.0), "tcn", min_samples=125) == slice(20, 145)
    # widened crops slide back inside the window
    assert deep_train.crop_window(400, 1000.0, 150.0, (200.0, 240.0), "tcn", min_samples=125) == slice(275, 400)
    with pytest.raises(HfecgError, match=r"model tcn: hf_crop_ms=\(300.0, 400.0\) lies outside the 400-sample"):
        deep_train.crop_window(400, 1000.0, 150.0, (300.0, 400.0), "tcn")
    with pytest.raises(ParameterError, match="hf_crop_ms"):
        DeepConfig(hf_crop_ms=(90.0, -60.0))


def test_hf_view_is_cropped_to_the_qrs_and_wideband_is_not(tiny):
    train, test = split_patients(tiny)
    shapes = {}
    for label, cfg in {"hf": {}, "hf_uncropped": {"hf_crop_ms": ()},
                       "wideband": {"view": "beats_wideband", "decimate": 2}}.items():
        cfg = {"input_transform": "envelope", **cfg}      # per-lead input: the stand-in's leads name no territory
        res = DEEP_SPECS["cnn"].with_config(**FAST, **cfg).fit_predict(ModelData(beats=tiny), train, test, {},
                                                                        seed=3, profile="quick")
        shapes[label] = res.info["input_shape"]
    # R at 200 ms, crop -60..+90 ms at 1000 Hz: samples 140..290
    assert shapes == {"hf": (150, 12), "hf_uncropped": (400, 12), "wideband": (200, 12)}
    # the full profile's TCN (receptive field 249) gets a crop at least that long
    res = DEEP_SPECS["tcn"].with_config(**FAST, input_transform="envelope").fit_predict(
        ModelData(beats=tiny), train, test, {}, seed=3, profile="full")
    assert res.info["input_shape"] == (250, 12) and res.info["receptive_field"] == 249


def test_suggest_draws_the_search_space():
    for name, spec in DEEP_SPECS.items():  # one study per model, as the pipeline does
        study = optuna.create_study(sampler=optuna.samplers.RandomSampler(seed=0))
        params = spec.suggest(study.ask(), "full")
        assert {"lr", "width", "dropout", "l2", "kernel_size", "batch_size"} <= set(params), name
    from hfecg_bench.models.deep import TCN_DILATIONS

    # every offered TCN combination fits the full-profile 400-sample window
    assert max(receptive_field({"kernel_size": 7, "dilations": d}) for d in TCN_DILATIONS) <= 400


def test_importing_deep_specs_does_not_import_tensorflow():
    code = "import sys, hfecg_bench.models.deep as d; d.DEEP_SPECS['cnn'].default_params('quick'); " \
           "print('tensorflow' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


# ----------------------------------------------------------------------------- architectures

@pytest.mark.parametrize("name", list(DEEP_SPECS))
def test_each_model_builds_with_one_sigmoid_output(name):
    model = DEEP_SPECS[name].build((200, 12), profile="quick")
    assert model.output_shape == (None, 1)
    assert model.layers[-1].activation.__name__ == "sigmoid"
    assert deep_arch.count_params(model) > 0


def test_lstm_pools_its_outputs_over_time_on_request():
    params = DEEP_SPECS["lstm"].default_params("quick")
    last = DEEP_SPECS["lstm"].build((150, 3), params)
    pooled = DEEP_SPECS["lstm"].build((150, 3), {**params, "lstm_pool": "avgmax"})
    assert last.get_layer("downsample").output.shape[1] == 25                    # 150 samples / 25 steps
    assert last.get_layer("bilstm").output.shape[-1] * 2 == pooled.get_layer("pool").output.shape[-1]
    assert pooled.get_layer("bilstm").output.shape[1] == 25                      # every step reaches the head


def test_leadwise_cnn_shares_one_branch_across_leads():
    params = DEEP_SPECS["leadwise_cnn"].default_params("quick")
    m6 = deep_arch.build_model("leadwise_cnn", (200, 6), params)
    m12 = deep_arch.build_model("leadwise_cnn", (200, 12), params)
    branch6, branch12 = m6.get_layer("lead_branch"), m12.get_layer("lead_branch")
    assert deep_arch.count_params(branch6) == deep_arch.count_params(branch12)
    # only the head's first dense layer grows: 6 more leads x embed_dim inputs x head_units
    extra = 6 * params["embed_dim"] * params["head_units"]
    assert deep_arch.count_params(m12) - deep_arch.count_params(m6) == extra
    assert [l.name for l in m12.layers].count("lead_branch") == 1


def test_tcn_receptive_field_longer_than_window_is_a_clear_error():
    params = {**DEEP_SPECS["tcn"].default_params("full"), "kernel_size": 5, "dilations": [1, 2, 4, 8, 16]}
    assert receptive_field(params) == 249 and receptive_field({**params, "dilations": "1,2"}) == 25
    with pytest.raises(HfecgError, match=r"model tcn.*200 samples.*receptive field of 249 samples"):
        deep_arch.build_model("tcn", (200, 12), params)
    assert deep_arch.build_model("tcn", (249, 12), params).output_shape == (None, 1)


# ----------------------------------------------------------------------------- end-to-end fits

@pytest.mark.parametrize("name", list(DEEP_SPECS))
def test_fit_predict_end_to_end(name, tiny):
    train, test = split_patients(tiny)
    spec = DEEP_SPECS[name].with_config(**FAST, **SINGLE)
    res = spec.fit_predict(ModelData(beats=tiny), train, test, {}, seed=11, profile="quick")
    assert list(res.test_prob.index) == test and list(res.train_prob.index) == train
    for probs in (res.test_prob, res.train_prob):
        assert probs.between(0.0, 1.0).all() and probs.notna().all()
    hist = res.info["history"]
    assert list(hist.columns[:6]) == ["epoch", "loss", "auc", "val_loss", "val_auc", "lr"] and len(hist) == 1
    assert set(res.info["val_patients"]) <= set(train)
    assert res.info["n_fit_beats"] <= 8 * res.info["n_fit_patients"]


def test_fit_predict_rejects_leakage_and_too_few_patients(tiny):
    train, test = split_patients(tiny)
    spec = DEEP_SPECS["cnn"].with_config(**FAST)
    with pytest.raises(HfecgError, match=r"model cnn: 1 patient\(s\) are in both train and test"):
        spec.fit_predict(ModelData(beats=tiny), train + test[:1], test, {}, seed=0, profile="quick")
    few = [p for p in train if int(p[1:]) % 2 == 0] + [p for p in train if int(p[1:]) % 2 == 1][:2]
    with pytest.raises(HfecgError, match=r"model cnn: .* 2 positive"):
        spec.fit_predict(ModelData(beats=tiny), few, test, {}, seed=0, profile="quick")


def test_nan_guard_flags_the_epoch():
    guard = deep_train._NaNGuard()

    class _Model:
        stop_training = False

    guard.set_model(_Model())
    guard.on_epoch_begin(2)
    guard.on_batch_end(0, {"loss": float("nan")})
    assert guard.nan_epoch == 3 and guard.model.stop_training


def test_fit_predict_is_deterministic_for_a_seed(tiny):
    train, test = split_patients(tiny)
    beats = replace(tiny, lead_names=STANDARD_LEADS)   # the default input: territory contrasts of the 12 leads
    spec = DEEP_SPECS["cnn"].with_config(**{**FAST, "max_epochs": 2})
    a = spec.fit_predict(ModelData(beats=beats), train, test, {}, seed=5, profile="quick")
    b = spec.fit_predict(ModelData(beats=beats), train, test, {}, seed=5, profile="quick")
    assert a.info["input_shape"] == (150, 3)
    np.testing.assert_allclose(a.test_prob.to_numpy(), b.test_prob.to_numpy(), atol=1e-6)
    assert a.info["val_patients"] == b.info["val_patients"]


def test_cnn_learns_a_planted_effect():
    from sklearn.metrics import roc_auc_score

    beats = make_beats(n_patients=40, n_beats=16, effect=2.0, seed=2)
    train, test = split_patients(beats, every=3)
    spec = DEEP_SPECS["cnn"].with_config(max_epochs=8, patience=8, max_beats_per_patient=16, **SINGLE)
    res = spec.fit_predict(ModelData(beats=beats), train, test, {"lr": 3e-3}, seed=1, profile="quick")
    y = [int(p[1:]) % 2 for p in res.test_prob.index]
    assert roc_auc_score(y, res.test_prob) > 0.8
