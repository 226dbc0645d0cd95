"""Giving the deep family a fair chance (issue 13): subset-averaged beats, augmentations, the shallow_hf network,
multiple-instance training, the MiniRocket baseline, the tuned training settings.

Numbers come from small seeded stand-ins of the beat pipeline's BeatSet; fits run a few epochs on tiny data.
"""
from __future__ import annotations

import numpy as np
import optuna
import pandas as pd
import pytest

from hfecg_bench.beats.subsets import beat_noise_level, draw_subsets, subset_average
from hfecg_bench.errors import HfecgError, ParameterError
from hfecg_bench.leads import STANDARD_LEADS
from hfecg_bench.models.augment import Augmentations, augment, mix_within_patient
from hfecg_bench.models.base import ModelData
from hfecg_bench.models.deep import DEEP_SPECS, DeepConfig
from hfecg_bench.models.deep_data import BeatPool, SampleMaker, log_envelope, transform_input
from hfecg_bench.models.registry import GROUPS, get_spec, resolve_names
from hfecg_bench.pipeline.inputs import BEAT_VIEWS, view_label
from tests.test_deep import StandInBeats

FS = 1000.0
ANTERIOR = [STANDARD_LEADS.index(x) for x in ("V1", "V2", "V3", "V4")]


def hf_cohort(n_patients=40, n_beats=12, n_window=400, effect=0.5, noise=1.0, seed=0) -> StandInBeats:
    """HF-QRS-like beats: a 170-230 Hz burst under the QRS envelope (R at 150 ms) with a random phase per
    patient and lead, amplitude ~N(1, 0.1) per patient, plus white noise of RMS ``noise`` per beat.
    Positives (odd patients) have the amplitude of V1-V4 multiplied by ``1 - effect``."""
    rng = np.random.default_rng(seed)
    t = (np.arange(n_window) - 150) / FS
    env = np.exp(-0.5 * (t / 0.015) ** 2)
    X, pids, y = [], [], []
    for p in range(n_patients):
        label = p % 2
        freq = rng.uniform(170, 230)
        amp = rng.normal(1.0, 0.1) * np.exp(rng.normal(0, 0.1, 12))
        if label:
            amp[ANTERIOR] *= 1 - effect
        clean = amp * env[:, None] * np.cos(2 * np.pi * freq * t[:, None] + rng.uniform(0, 2 * np.pi, 12))
        X.append((clean[None] + noise * rng.standard_normal((n_beats, n_window, 12))).astype(np.float32))
        pids += [f"P{p:03d}"] * n_beats
        y += [label] * n_beats
    pids = np.array(pids)
    return StandInBeats(np.concatenate(X) * np.float32(1e-3), pids, np.char.add(pids, "_r0"), np.array(y), fs=FS,
                        lead_names=STANDARD_LEADS, band="hf",
                        info={"beat_config": {"pre_ms": 150.0}, "hf_band": [150.0, 250.0]})


def split(beats, every=4):
    patients = sorted(set(beats.patient_ids))
    test = patients[::every]
    return [p for p in patients if p not in test], test


def auroc(prob: pd.Series) -> float:
    from sklearn.metrics import roc_auc_score

    return roc_auc_score([int(p[1:]) % 2 for p in prob.index], prob.to_numpy())


# ----------------------------------------------------------------------------- subset averaging

def test_subsets_are_distinct_beats_of_their_own_patient_and_redrawn():
    pids = np.repeat(np.array(["a", "b", "c"]), [40, 9, 20])
    d = draw_subsets(pids, k=5, m=10, rng=np.random.default_rng(0))
    assert d.patients.tolist() == ["a"] * 5 + ["b"] * 5 + ["c"] * 5
    assert d.sizes.tolist() == [10] * 5 + [9] * 5 + [10] * 5           # b has only 9 beats
    for rows, n, p in zip(d.rows, d.sizes, d.patients):
        used = rows[:n]
        assert len(set(used.tolist())) == n and set(pids[used]) == {p}
    again = draw_subsets(pids, k=5, m=10, rng=np.random.default_rng(0))
    other = draw_subsets(pids, k=5, m=10, rng=np.random.default_rng(1))
    assert np.array_equal(d.rows, again.rows) and not np.array_equal(d.rows, other.rows)
    with pytest.raises(ParameterError, match="subset k, m"):
        draw_subsets(pids, k=0, m=3, rng=np.random.default_rng(0))


def test_subset_average_is_the_mean_and_noise_falls_as_one_over_sqrt_m():
    rng = np.random.default_rng(3)
    X = rng.standard_normal((400, 30, 2)).astype(np.float32)
    pids = np.repeat(np.array(["p", "q"]), 200)
    d = draw_subsets(pids, k=50, m=16, rng=rng)
    avg = subset_average(X, d)
    np.testing.assert_allclose(avg[7], X[d.rows[7]].mean(axis=0), rtol=1e-5, atol=1e-6)
    assert avg.std() == pytest.approx(1 / np.sqrt(16), rel=0.05)


def test_beat_noise_level_recovers_each_records_noise():
    rng = np.random.default_rng(0)
    clean = np.sin(np.linspace(0, 6, 60))[None, :, None]
    X = np.concatenate([clean + 0.02 * rng.standard_normal((30, 60, 3)), clean + 0.05 * rng.standard_normal((30, 60, 3))])
    level = beat_noise_level(X.astype(np.float32), np.repeat(["r1", "r2"], 30))
    assert level.shape == (60, 3)
    np.testing.assert_allclose(level[0], 0.02, rtol=0.1)
    np.testing.assert_allclose(level[-1], 0.05, rtol=0.1)


# ----------------------------------------------------------------------------- augmentations

def test_amplitude_jitter_is_bounded_and_keeps_every_lead_ratio():
    rng = np.random.default_rng(0)
    X = rng.uniform(1, 2, (200, 20, 12)).astype(np.float32)
    Y = augment(X, rng, Augmentations(amplitude=0.2), fs=FS, patients=np.zeros(200, str))
    factor = Y / X
    assert np.allclose(factor, factor[:, :1, :1], rtol=1e-5)       # one factor per sample: ratios kept
    assert factor.min() >= 0.8 - 1e-6 and factor.max() <= 1.2 + 1e-6 and factor.std() > 0.05
    with pytest.raises(ParameterError, match=r"augment_amplitude.*\[0, 0.2\].*mask the HF-QRS reduction"):
        DeepConfig(augment_amplitude=0.3)


def test_lead_dropout_zeroes_leads_but_never_all_and_noise_matches_the_level():
    rng = np.random.default_rng(1)
    X = np.ones((2000, 10, 12), np.float32)
    Y = augment(X, rng, Augmentations(lead_dropout=0.5), fs=FS, patients=np.zeros(2000, str))
    dropped = (Y == 0).all(axis=1)
    assert dropped.mean() == pytest.approx(0.5, abs=0.03) and not dropped.all(axis=1).any()
    level = np.full((2000, 12), 0.01, np.float32)
    Z = augment(np.zeros_like(X), rng, Augmentations(noise=0.5), fs=FS, patients=np.zeros(2000, str),
                noise_level=level)
    assert Z.std() == pytest.approx(0.005, rel=0.03)


def test_time_jitter_is_sub_millisecond_and_mixing_stays_within_a_patient():
    t = np.arange(400) / FS
    X = np.repeat(np.sin(2 * np.pi * 20 * t)[None, :, None], 300, axis=0).astype(np.float32)
    Y = augment(X, np.random.default_rng(2), Augmentations(jitter_ms=0.8), fs=FS, patients=np.zeros(300, str))
    # y(t) = sin(w (t + d)): recover d (ms) from the phase in the middle of the window
    mid = slice(150, 250)
    phase = np.angle(np.sum((Y[:, mid, 0] - 1j * 0) * np.exp(-2j * np.pi * 20 * t[mid]), axis=1))
    shift_ms = 1000 * (phase + np.pi / 2) / (2 * np.pi * 20)
    assert np.abs(shift_ms).max() <= 0.8 + 0.05 and np.abs(shift_ms).max() > 0.5
    with pytest.raises(ParameterError, match="augment_jitter_ms.*sub-millisecond"):
        DeepConfig(augment_jitter_ms=1.0)
    patients = np.repeat(np.array(["a", "b"]), 50)
    base = np.where(patients == "a", 1.0, 100.0).astype(np.float32)[:, None, None] + np.arange(100)[:, None, None] % 5
    mixed = mix_within_patient(base, patients, 1.0, np.random.default_rng(0))
    assert mixed[:50].max() <= 5 and mixed[50:].min() >= 100       # never a blend of a and b


def test_augmentations_off_leave_samples_untouched():
    X = np.random.default_rng(0).standard_normal((5, 10, 2)).astype(np.float32)
    assert augment(X, np.random.default_rng(0), Augmentations(), fs=FS, patients=np.zeros(5, str)) is X
    assert not DeepConfig().augments and DeepConfig(augment_mix=0.2).augments


# ----------------------------------------------------------------------------- training samples

def _pool(beats):
    pids = beats.patient_ids.astype(str)
    return BeatPool(X=beats.X, patients=pids, records=beats.record_ids.astype(str), fs=FS)


def test_training_samples_are_redrawn_every_epoch_and_seeded():
    beats = hf_cohort(n_patients=6, n_beats=20)
    labels = {p: int(p[1:]) % 2 for p in set(beats.patient_ids)}
    cfg = DeepConfig(view="beats_avg", avg_k=4, avg_m=5, augment_noise=0.5, augment_jitter_ms=0.3)
    a, b = (SampleMaker(cfg, seed=1, lead_names=STANDARD_LEADS) for _ in range(2))
    X0, y0, w0 = a.train_epoch(_pool(beats), labels, 0)
    assert X0.shape == (24, 400, 3) and y0.sum() == 12 and np.allclose(w0, 1.0)      # 3 territory contrasts
    assert np.array_equal(X0, b.train_epoch(_pool(beats), labels, 0)[0])       # same seed and epoch
    assert not np.allclose(X0, a.train_epoch(_pool(beats), labels, 1)[0])      # redrawn next epoch
    # scoring samples carry no augmentation: the same with the augmentations off
    plain = SampleMaker(DeepConfig(view="beats_avg", avg_k=4, avg_m=5), seed=1, lead_names=STANDARD_LEADS)
    e1, o1 = a.eval_samples(_pool(beats), ["P001", "P002"])
    e2, o2 = plain.eval_samples(_pool(beats), ["P001", "P002"])
    assert np.array_equal(e1, e2) and o1.tolist() == ["P001"] * 10 + ["P002"] * 10


def test_bags_hold_one_patients_instances():
    beats = hf_cohort(n_patients=4, n_beats=10)
    beats.X[:] = np.repeat(np.arange(4, dtype=np.float32), 10)[:, None, None]       # beat value = patient number
    cfg = DeepConfig(view="beats_avg", avg_m=3, mil="attention", mil_bag=5, mil_bags=2, avg_eval_k=3,
                     input_transform="none")
    X, y, _ = SampleMaker(cfg, seed=0).train_epoch(_pool(beats), {f"P{i:03d}": i % 2 for i in range(4)}, 0)
    assert X.shape == (8, 5, 400, 12)
    assert np.all(X.min(axis=(1, 2, 3)) == X.max(axis=(1, 2, 3)))                    # one patient per bag
    assert np.array_equal(X[:, 0, 0, 0] % 2, y)
    Xe, owner = SampleMaker(cfg, seed=0).eval_samples(_pool(beats), ["P003"])
    assert Xe.shape == (3, 5, 400, 12) and set(owner) == {"P003"}


@pytest.mark.parametrize("method", ["territory", "envelope_rel"])
def test_lead_contrast_inputs_cancel_a_common_gain_and_keep_a_territory_reduction(method):
    """What the networks must not fit (a record's noise level, a patient's overall HF amplitude: a factor
    common to every lead) is gone from the contrast inputs; a reduction confined to one territory is not."""
    beats = hf_cohort(n_patients=2, n_beats=4, noise=0.0, seed=3)
    X = beats.X[beats.patient_ids == "P001"][:, 90:240]                  # a positive: V1-V4 halved
    gain = np.float32(3.7)
    a = transform_input(X, FS, method, 10.0, STANDARD_LEADS)
    b = transform_input(gain * X, FS, method, 10.0, STANDARD_LEADS)
    # -20..+20 ms around R: further out the noise-free 1 uV burst sinks to the envelope's 1e-3 uV floor
    assert np.abs(a - b)[:, 40:80].max() < 2e-3                         # log10 uV: a 0.5 % difference at most
    qrs = a[:, 40:80].mean(axis=(0, 1))
    if method == "territory":                                            # anterior, inferior, lateral
        assert a.shape == (4, 150, 3) and qrs[0] < qrs[1] - 0.2 and qrs[0] < qrs[2] - 0.2
    else:
        assert a.shape == (4, 150, 12) and qrs[ANTERIOR].mean() < np.delete(qrs, ANTERIOR).mean() - 0.2
    assert np.array_equal(transform_input(X, FS, "none"), X)


def test_territory_input_without_territory_leads_is_a_clear_error():
    with pytest.raises(ParameterError, match="deep.input_transform.*coronary territory.*'X', 'Y', 'Z'"):
        transform_input(np.zeros((2, 50, 3), np.float32), FS, "territory", 10.0, ["X", "Y", "Z"])


def test_log_envelope_is_the_moving_rms_in_log_microvolts():
    x = np.zeros((1, 100, 1), np.float32)
    x[0, 40:60, 0] = 0.002                                                           # 2 uV step
    env = 10 ** log_envelope(x, FS, 10.0)[0, :, 0]
    assert env[50] == pytest.approx(2.0, rel=1e-3) and env[10] == pytest.approx(0.0, abs=2e-3)


# ----------------------------------------------------------------------------- fits

FAST = {"max_epochs": 2, "patience": 2, "avg_k": 4, "avg_m": 4, "avg_eval_k": 3}


def test_beats_avg_trains_on_fit_patients_only_and_is_deterministic(monkeypatch):
    from hfecg_bench.models import deep_data

    beats = hf_cohort(n_patients=24, n_beats=8, seed=1)
    train, test = split(beats)
    seen, epochs = [], []
    original = deep_data.SampleMaker.train_epoch
    monkeypatch.setattr(deep_data.SampleMaker, "train_epoch", lambda self, pool, labels, epoch: (
        seen.append(set(pool.patients)), epochs.append(epoch)) and original(self, pool, labels, epoch))
    spec = DEEP_SPECS["cnn"].with_config(view="beats_avg", augment_mix=0.3, augment_noise=0.5, **FAST)
    a = spec.fit_predict(ModelData(beats=beats), train, test, {}, seed=4, profile="quick")
    fit_patients = set(train) - set(a.info["val_patients"])
    assert seen and all(s <= fit_patients for s in seen) and not set().union(*seen) & set(test)
    # one fresh draw per epoch, each drawn once (Keras may ask for the first batch of one epoch past the last)
    assert epochs[: a.info["epochs_run"]] == list(range(a.info["epochs_run"])) and len(set(epochs)) == len(epochs)
    b = spec.fit_predict(ModelData(beats=beats), train, test, {}, seed=4, profile="quick")
    assert np.array_equal(a.test_prob.to_numpy(), b.test_prob.to_numpy())         # byte-identical
    assert a.info["n_fit_samples"] == 4 * len(fit_patients)
    assert a.info["config"]["augment_mix"] == 0.3 and a.info["config"]["avg_m"] == 4


@pytest.mark.parametrize("mil", ["mean", "attention"])
def test_multiple_instance_fit_gives_one_probability_per_patient(mil):
    beats = hf_cohort(n_patients=24, n_beats=8, seed=2)
    train, test = split(beats)
    spec = DEEP_SPECS["leadwise_cnn"].with_config(mil=mil, mil_bag=4, mil_bags=2, **FAST)
    res = spec.fit_predict(ModelData(beats=beats), train, test, {}, seed=0, profile="quick")
    assert list(res.test_prob.index) == test and res.test_prob.between(0, 1).all()
    assert res.info["input_shape"] == (4, 150, 3)                                # three territory contrasts


def test_shallow_hf_learns_a_territory_reduction_that_cnn_on_single_beats_finds_harder():
    beats = hf_cohort(n_patients=48, n_beats=16, effect=0.5, noise=1.5, seed=5)
    train, test = split(beats, every=3)
    spec = DEEP_SPECS["shallow_hf"].with_config(view="beats_avg", max_epochs=8, patience=8, avg_k=8, avg_m=8)
    res = spec.fit_predict(ModelData(beats=beats), train, test, {}, seed=0, profile="quick")
    assert auroc(res.test_prob) > 0.85
    assert res.info["n_params"] < 1000 and res.info["qrs_window"] == [110, 210]    # -40..+60 ms around R


def test_shallow_hf_territory_contrast_and_noise_reference():
    import keras

    from hfecg_bench.models.shallow_hf import BandEnergy, TerritoryContrast, gabor_bank, territory_matrix

    member, names = territory_matrix(STANDARD_LEADS)
    assert names == ["anterior", "inferior", "lateral"] and member[:, 0].sum() == 4 and member[3].sum() == 0  # aVR
    log_e = np.zeros((1, 12, 1), np.float32)
    log_e[0, ANTERIOR, 0] = np.log(0.25)                          # anterior energy quartered
    out = keras.ops.convert_to_numpy(TerritoryContrast(member)(log_e))[0]
    assert out[0] == pytest.approx(np.log(0.25)) and out[-1] == pytest.approx(np.log(0.25))   # its contrast = min
    x = np.ones((1, 100, 12, 1), np.float32)
    x[:, 40:60] = 3.0                                             # energy 9 inside, 1 outside
    e = keras.ops.convert_to_numpy(BandEnergy(40, 60, noise_ref=True)(x))
    assert e[0, 0, 0] == pytest.approx(np.log(8.0 + 1e-3), rel=1e-5)
    bank = gabor_bank(4, 25, FS)
    gain = lambda f: np.abs(np.fft.rfft(bank, 1000, axis=0))[int(f)].mean()  # noqa: E731
    assert gain(200) > 10 * gain(40)                              # starts as an HF-QRS band-pass


# ----------------------------------------------------------------------------- rocket

def test_rocket_patient_averages_and_fit():
    from hfecg_bench.models.rocket import patient_averages

    beats = hf_cohort(n_patients=24, n_beats=6, effect=0.7, noise=0.5, seed=3)
    avg = patient_averages(beats, ["P005", "P000"])
    np.testing.assert_allclose(avg[0], beats.X[beats.patient_ids == "P005"].mean(axis=0), atol=1e-7)
    with pytest.raises(HfecgError, match="no beats"):
        patient_averages(beats, ["P999"])
    train, test = split(beats, every=3)
    spec = get_spec("rocket")
    res = spec.fit_predict(ModelData(beats=beats), train, test, {"n_kernels": 500}, seed=1, profile="quick")
    again = spec.fit_predict(ModelData(beats=beats), train, test, {"n_kernels": 500}, seed=1, profile="quick")
    assert np.array_equal(res.test_prob.to_numpy(), again.test_prob.to_numpy())
    assert res.test_prob.between(0, 1).all() and list(res.train_prob.index) == train


def test_ridge_leave_one_out_decisions_match_refits():
    from sklearn.linear_model import Ridge

    from hfecg_bench.models.rocket import _ridge_loo_decisions

    rng = np.random.default_rng(0)
    Z, y = rng.standard_normal((15, 40)), np.array([0] * 10 + [1] * 5)
    w = np.where(y == 1, 1.5, 0.75)
    t = np.where(y == 1, 1.0, -1.0)
    mean_t = np.sum(w * t) / w.sum()
    Zc = Z - np.sum(w[:, None] * Z, axis=0) / w.sum()
    loo = _ridge_loo_decisions(Z, y, 3.0, w)
    for i in (0, 7, 14):
        keep = np.arange(15) != i
        r = Ridge(alpha=3.0, fit_intercept=False).fit(Zc[keep], t[keep] - mean_t, sample_weight=w[keep])
        assert loo[i] == pytest.approx(r.predict(Zc[i:i + 1])[0] + mean_t, rel=1e-6)


# ----------------------------------------------------------------------------- registry, config, tuning

def test_defaults_give_the_generic_networks_subset_averaged_envelopes():
    cfg = DeepConfig.for_profile("quick")
    assert (cfg.view, cfg.avg_k, cfg.avg_m, cfg.input_transform) == ("beats_avg", 10, 16, "territory")
    lstm = DEEP_SPECS["lstm"].resolved_config("quick")
    assert (lstm.envelope_ms, lstm.max_epochs, DEEP_SPECS["lstm"].default_params("quick")["lstm_steps"]) == (30.0, 8, 25)
    shallow = DEEP_SPECS["shallow_hf"].resolved_config("quick")
    assert (shallow.input_transform, shallow.avg_m) == ("none", 32)
    assert DEEP_SPECS["shallow_hf"].with_config(avg_m=8).resolved_config("quick").avg_m == 8   # the run's wins
    assert all(DEEP_SPECS[n].input == "beats_avg" for n in GROUPS["deep"])


def test_new_models_are_registered_in_their_families_and_views():
    assert "shallow_hf" in GROUPS["deep"] and GROUPS["ts"] == ("rocket",)
    assert {"shallow_hf", "rocket"} <= set(resolve_names("all"))
    assert get_spec("rocket").family == "ts" and BEAT_VIEWS["beats_avg"] == "hf"
    label = DEEP_SPECS["cnn"].with_config(view="beats_avg", avg_k=12, avg_m=8).input_label
    assert label == view_label("beats_avg", (150.0, 250.0), avg_k=12, avg_m=8)
    assert "averages of 8 beats" in label and "12 per patient" in label


def test_run_config_section_sets_only_what_it_changes(tmp_path):
    from hfecg_bench.config import load_run_config

    path = tmp_path / "run.toml"
    path.write_text('[deep]\nview = "beats_hf"\navg_m = 24\naugment_noise = 0.5\n')
    spec = DEEP_SPECS["lstm"].configure(load_run_config("quick", path))
    assert spec.overrides == {"view": "beats_hf", "avg_m": 24, "augment_noise": 0.5}
    assert spec.input == "beats_hf" and spec.resolved_config("quick").avg_m == 24
    path.write_text('[deep]\ninput_transform = "envelope"\nmax_epochs = 3\n')
    shallow = DEEP_SPECS["shallow_hf"].configure(load_run_config("quick", path)).resolved_config("quick")
    assert shallow.input_transform == "none" and shallow.max_epochs == 3   # it squares the signal itself
    assert DEEP_SPECS["shallow_hf"].with_config(input_transform="envelope").resolved_config("quick").input_transform \
        == "none"
    path.write_text('[deep]\nmil = "max"\n')
    with pytest.raises(ParameterError, match="deep.mil.*mean, attention"):
        load_run_config("quick", path)


def test_full_profile_tunes_the_training_settings_and_fits_apply_them():
    spec = DEEP_SPECS["cnn"].with_config(augment_noise=0.25)          # set by the run: not tuned
    study = optuna.create_study(sampler=optuna.samplers.RandomSampler(seed=0))
    params = spec.suggest(study.ask(), "full")
    assert {"view", "augment_jitter_ms", "augment_mix", "mil", "input_transform"} <= set(params)
    assert "augment_noise" not in params
    quick = optuna.create_study(sampler=optuna.samplers.RandomSampler(seed=0))
    assert "view" not in DEEP_SPECS["cnn"].suggest(quick.ask(), "quick")
    beats = hf_cohort(n_patients=20, n_beats=6, seed=4)
    train, test = split(beats)
    res = DEEP_SPECS["cnn"].with_config(**FAST).fit_predict(
        ModelData(beats=beats), train, test, {"view": "beats_avg", "avg_m": 3, "augment_mix": 0.5}, seed=0,
        profile="quick")
    assert res.info["view"] == "beats_avg" and res.info["config"]["avg_m"] == 3


def test_rocket_territory_view_finds_a_reduction_that_moves_between_territories():
    """The affected territory differs from patient to patient and each patient's overall HF amplitude varies
    more than the effect: the per-lead envelope is a poor input, the territory contrasts are not."""
    from hfecg_bench.leads import TERRITORIES

    rng = np.random.default_rng(11)
    beats = hf_cohort(n_patients=60, n_beats=6, effect=0.0, noise=0.3, seed=11)
    patients = np.asarray(beats.patient_ids)
    groups = [[STANDARD_LEADS.index(x) for x in leads] for leads in TERRITORIES.values()]
    for i, p in enumerate(sorted(set(patients))):
        gain = np.full(12, np.exp(rng.normal(0.0, 0.5)), dtype=np.float32)     # overall amplitude: log-sd 0.5
        if i % 2:                                                                  # positives: one territory at 40 %
            gain[groups[(i // 2) % 3]] *= 0.4
        beats.X[patients == p] *= gain
    train, test = split(beats, every=3)
    spec = get_spec("rocket")
    score = {view: auroc(spec.fit_predict(ModelData(beats=beats), train, test, {"view": view, "n_kernels": 1000},
                                          seed=2, profile="quick").test_prob) for view in ("envelope", "territory")}
    assert score["territory"] >= 0.85 and score["territory"] > score["envelope"] + 0.1, score
