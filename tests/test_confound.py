"""Acquisition confound: recording properties per patient, and whether they alone predict the label."""
import dataclasses
import json

import numpy as np
import pandas as pd
import pytest

import hfecg_bench as hb
from hfecg_bench.cohort import Cohort, Record
from hfecg_bench.data import LoadOptions, load_cohort
from hfecg_bench.data.properties import BASE_COLUMNS, recording_properties
from hfecg_bench.diagnostics.confound import acquisition_confound, fit_logistic_batch
from hfecg_bench.errors import ParameterError
from hfecg_bench.features import FeatureTable

N_PERM = 199          # smallest p = 0.005, well below alpha


def _labels(cohort) -> pd.Series:
    return pd.Series(cohort.patient_labels()).astype(int).sort_index()


def _plan(cohort, folds=5, seed=0):
    return hb.make_fold_plan(_labels(cohort), n_folds=folds, seed=seed)


def _rebuild(records, dataset="memory") -> Cohort:
    return Cohort(records=records, dataset=dataset)


@pytest.fixture(scope="module")
def null_cohort():
    """40 patients (20 + 20), 30 s, nothing planted."""
    return hb.generate_cohort(preset="null", n_patients=40, prevalence=0.5, seed=11)


@pytest.fixture(scope="module")
def null_props(null_cohort):
    return recording_properties(null_cohort)


@pytest.fixture(scope="module")
def short_positives(null_cohort):
    """The null cohort with every positive truncated to 15 s (negatives keep 30 s)."""
    recs = [dataclasses.replace(r, signal=r.signal[:int(15 * r.fs)]) if r.label == 1 else r
            for r in null_cohort.records]
    return _rebuild(recs, "synthetic")


def test_properties_table_shape_index_and_known_answers(null_cohort, null_props):
    assert null_props.shape == (40, len(BASE_COLUMNS) + 1)
    assert list(null_props.index) == sorted(r.patient_id for r in null_cohort.records)
    assert null_props.index.name == "patient_id"
    assert (null_props["fs_hz"] == 1000.0).all() and (null_props["duration_s"] == 30.0).all()
    assert (null_props["mains_hz"] == 50.0).all() and (null_props["n_leads"] == 12.0).all()
    assert (null_props["quant_step_uv"] == 0.0).all()           # generated in float: no ADC grid
    truth = {p["patient_id"]: p for p in null_cohort.info["truth"]["patients"]}
    # white noise of RMS s over 0-500 Hz has RMS s * sqrt(150/500) in 300-450 Hz; each lead's noise is the
    # patient's level x U(0.85, 1.15), the median over 12 leads stays within 15% (measured 0.91-1.10 on 100 patients)
    want = np.array([truth[p]["noise_uv"] for p in null_props.index]) * np.sqrt(150 / 500)
    np.testing.assert_allclose(null_props["hf_noise_uv"].to_numpy(), want, rtol=0.15)
    # every planted beat (normal + ectopic) detected, +-1 at the record edges
    beats = np.array([len(truth[p]["r_peaks"]) + len(truth[p]["ectopic_r_peaks"]) for p in null_props.index])
    assert np.abs(null_props["n_beats"].to_numpy() - beats).max() <= 1
    # mains amplitudes are drawn per lead from U(5, 40) uV: the median over leads lies inside that range
    assert null_props["mains_uv"].between(5, 40).all()
    assert null_props["qrs_ptp_mv"].between(0.2, 5.0).all()


def test_properties_of_hand_made_records_units_and_aggregation():
    rng = np.random.default_rng(0)
    fs, n = 2000.0, 20_000
    t = np.arange(n) / fs
    white = rng.normal(0.0, 0.008, (n, 3))                           # 8 uV RMS over 0-1000 Hz
    sig = white + 0.030 * np.sin(2 * np.pi * 60 * t)[:, None]          # 30 uV amplitude at 60 Hz
    quantised = (np.round(sig * 2000) / 2000).astype(np.float32)       # a 2000 adu/mV ADC: 0.5 uV steps
    a = Record("a1", "pa", label=1, fs=fs, lead_names=("I", "II", "V1"), signal=quantised,
               meta={"site": "north", "true_label": 1})
    b = Record("a2", "pa", label=1, fs=fs, lead_names=("I", "II", "V1"), signal=sig[: n // 2].astype(np.float32),
               meta={"site": "south", "true_label": 1})
    beats = rng.normal(0.0, 0.01, (8, 500, 2)).astype(np.float32)
    c = Record("b1", "pb", label=0, fs=1000.0, lead_names=("I", "II"), beats=beats, meta={"site": "north"})
    props = recording_properties(_rebuild([a, b, c]))
    assert list(props.index) == ["pa", "pb"]
    pa, pb = props.loc["pa"], props.loc["pb"]
    assert pa["records_per_patient"] == 2 and pb["records_per_patient"] == 1
    assert pa["duration_s"] == pytest.approx(7.5)                      # mean of 10 s and 5 s
    assert pa["mains_hz"] == 60.0 and pa["mains_uv"] == pytest.approx(30.0, rel=0.05)
    assert pa["hf_noise_uv"] == pytest.approx(8.0 * np.sqrt(150 / 1000), rel=0.05)
    assert pa["quant_step_uv"] == pytest.approx(0.25)                  # 0.5 uV for one record, 0 for the other
    assert pa["n_leads"] == 3 and pa["lead_V1"] == 1.0 and pb["lead_V1"] == 0.0
    assert pa["meta_site=north"] == 0.5 and pb["meta_site=north"] == 1.0
    assert not any("true_label" in col for col in props.columns)       # the label is not a recording property
    assert pb["n_beats"] == 8 and pb["duration_s"] == pytest.approx(8 * 0.5)
    assert not any(col.startswith("meta_") for col in recording_properties(_rebuild([a, c]), meta_fields=()).columns)


def test_real_ptb_quantisation_and_lead_set(ptb_sample):
    cohort = load_cohort("ptbdb", data_dir=ptb_sample / "ptbdb",
                         options=LoadOptions(ptb_positive=("Myocardial infarction",),
                                             ptb_negative=("Healthy control",)))
    props = recording_properties(cohort)
    # patient001 is the genuine PhysioNet file (2000 adu/mV, 15 leads); the 10 s excerpts were rounded to 1 uV
    assert props.loc["patient001", "quant_step_uv"] == pytest.approx(0.5)
    assert props.loc["patient131", "quant_step_uv"] == pytest.approx(0.5)     # rewritten losslessly
    assert props.loc["patient001", "lead_vx"] == 1.0 and props.loc["patient001", "n_leads"] == 15
    np.testing.assert_allclose(props.drop(index=["patient001", "patient131"])["quant_step_uv"], 1.0, rtol=1e-6)
    assert props["fs_hz"].eq(1000.0).all()


def test_duration_confound_is_significant_and_named_first(short_positives):
    props = recording_properties(short_positives)
    f = acquisition_confound(props, _labels(short_positives), _plan(short_positives), seed=0, n_permutations=N_PERM)
    assert f["status"] == "ok" and f["significant"] is True
    assert f["p_value"] == pytest.approx(1 / (N_PERM + 1))
    assert f["auroc"] >= 0.95 and f["auroc_lo"] <= f["auroc"] <= f["auroc_hi"]
    top = f["properties"][0]
    assert top["name"] == "duration_s" and top["auroc_univariate"] == 0.0
    assert (top["mean_pos"], top["mean_neg"]) == (15.0, 30.0)
    assert "duration (s) differs most: 15.0 vs 30.0" in f["summary"]
    json.dumps(f)                                                       # JSON-serialisable as returned


def test_plain_null_cohort_is_not_significant(null_cohort, null_props):
    f = acquisition_confound(null_props, _labels(null_cohort), _plan(null_cohort), seed=0, n_permutations=N_PERM)
    assert f["status"] == "ok" and f["significant"] is False and f["p_value"] >= 0.05
    assert f["auroc"] < f["null_auroc_q95"]
    assert set(f["constant_properties"]) >= {"fs_hz", "duration_s", "mains_hz", "n_leads"}
    assert "not predictable" in f["summary"]


def test_mains_confound_is_named():
    sixty = hb.generate_cohort(preset="null", n_patients=20, prevalence=0.5, duration_s=10, mains_hz=60, seed=21)
    fifty = hb.generate_cohort(preset="null", n_patients=20, prevalence=0.5, duration_s=10, mains_hz=50, seed=22)
    recs = [dataclasses.replace(r, record_id="a" + r.record_id, patient_id="a" + r.patient_id)
            for r in sixty.records if r.label == 1]
    recs += [dataclasses.replace(r, record_id="b" + r.record_id, patient_id="b" + r.patient_id)
             for r in fifty.records if r.label == 0]
    cohort = _rebuild(recs, "synthetic")
    props = recording_properties(cohort)
    f = acquisition_confound(props, _labels(cohort), _plan(cohort), seed=0, n_permutations=N_PERM)
    assert f["significant"] is True and f["properties"][0]["name"] == "mains_hz"
    assert (f["properties"][0]["mean_pos"], f["properties"][0]["mean_neg"]) == (60.0, 50.0)
    assert "mains frequency (Hz) differs most: 60.0 vs 50.0" in f["summary"]


def test_constant_properties_are_skipped_with_a_reason(null_cohort, null_props):
    const = null_props[["fs_hz", "duration_s", "n_leads"]].assign(empty=np.nan)
    f = acquisition_confound(const, _labels(null_cohort), _plan(null_cohort), seed=0, n_permutations=N_PERM)
    assert f["status"] == "skipped" and f["significant"] is False and f["p_value"] is None
    assert "every recording property is the same" in f["reason"] and "duration (s) = 30.0" in f["reason"]
    assert f["constant_properties"]["empty"] is None
    json.dumps(f)


def test_bad_input_fails_with_a_named_reason(null_cohort, null_props):
    labels, plan = _labels(null_cohort), _plan(null_cohort)
    f = acquisition_confound(null_props.drop(index="P003"), labels, plan, seed=0, n_permutations=9)
    assert f["status"] == "failed" and "P003" in f["reason"] and f["significant"] is False
    flipped = labels.copy()
    flipped["P001"] = 1 - flipped["P001"]
    f = acquisition_confound(null_props, flipped, plan, seed=0, n_permutations=9)
    assert f["status"] == "failed" and "P001" in f["reason"]
    with pytest.raises(ParameterError, match="n_permutations"):
        acquisition_confound(null_props, labels, plan, seed=0, n_permutations=0)
    with pytest.raises(ParameterError, match="alpha"):
        acquisition_confound(null_props, labels, plan, seed=0, alpha=1.5)


def test_tracking_features_lists_a_duration_follower(null_cohort):
    # durations vary within both classes (10..30 s, unrelated to the label)
    rng = np.random.default_rng(5)
    keep = dict(zip([r.record_id for r in null_cohort.records], rng.choice([10, 15, 20, 25, 30], len(null_cohort))))
    recs = [dataclasses.replace(r, signal=r.signal[:int(keep[r.record_id] * r.fs)]) for r in null_cohort.records]
    cohort = _rebuild(recs, "synthetic")
    props = recording_properties(cohort)
    y = _labels(cohort)
    frame = pd.DataFrame({"record_id": [r.record_id for r in recs], "patient_id": [r.patient_id for r in recs],
                          "label": [r.label for r in recs]})
    dur = np.array([keep[r.record_id] for r in recs], dtype=float)
    frame["all__conventional__length_s"] = dur + rng.normal(0, 0.5, len(recs))       # follows duration
    frame["I__hf__rms_uv"] = rng.normal(5, 1, len(recs))                               # follows nothing
    frame["II__hf__rms_uv"] = frame["label"] * 2.0 + rng.normal(0, 0.3, len(recs))    # follows the label
    table = FeatureTable(frame=frame)
    f = acquisition_confound(props, y, _plan(cohort), seed=0, n_permutations=N_PERM, features=table)
    names = [t["feature"] for t in f["tracking_features"]]
    assert names == ["all__conventional__length_s"] and f["n_tracking_features"] == 1
    hit = f["tracking_features"][0]
    assert hit["property"] == "duration_s" and hit["rho_property"] > 0.9 and abs(hit["rho_label"]) < 0.5
    assert f["n_features_checked"] == 3


def test_same_seed_same_finding(short_positives):
    props = recording_properties(short_positives)
    args = (props, _labels(short_positives), _plan(short_positives))
    assert acquisition_confound(*args, seed=3, n_permutations=49) == acquisition_confound(*args, seed=3, n_permutations=49)


def test_batched_newton_matches_scikit_learn_and_is_per_column():
    from sklearn.linear_model import LogisticRegression
    rng = np.random.default_rng(2)
    X = rng.normal(size=(80, 4))
    Y = (rng.random((80, 6)) < 0.35).astype(float)
    Y[:, 0] = (X[:, 1] + 0.5 * rng.normal(size=80) > 0)
    W = fit_logistic_batch(X, Y)
    for b in (0, 3):
        sk = LogisticRegression(C=1.0, tol=1e-10, max_iter=1000).fit(X, Y[:, b])
        np.testing.assert_allclose(W[1:, b], sk.coef_[0], atol=1e-6)
        np.testing.assert_allclose(W[0, b], sk.intercept_[0], atol=1e-6)
    np.testing.assert_allclose(fit_logistic_batch(X, Y[:, :1])[:, 0], W[:, 0], atol=1e-10)


def test_false_positive_rate_at_most_alpha_on_random_nulls():
    # 40 independent null data sets of 60 patients (skewed, discrete and binary properties, none related to
    # the label): a valid test rejects at most ~5%; 6 or more of 40 has probability 0.014 at a true 5% rate
    rejections = 0
    for rep in range(40):
        rng = np.random.default_rng(100 + rep)
        ids = [f"p{i:02d}" for i in range(60)]
        y = np.zeros(60, int)
        y[rng.permutation(60)[:20]] = 1
        labels = pd.Series(y, index=ids)
        props = pd.DataFrame({"a": rng.normal(size=60), "b": rng.exponential(size=60),
                              "c": rng.poisson(30, 60).astype(float), "d": (rng.random(60) < 0.1).astype(float)},
                             index=ids)
        f = acquisition_confound(props, labels, hb.make_fold_plan(labels, n_folds=5, seed=rep), seed=rep,
                                 n_permutations=99)
        rejections += f["significant"]
    assert rejections <= 5


def test_leave_one_out_plan_permutes_across_patients():
    rng = np.random.default_rng(4)
    ids = [f"p{i:02d}" for i in range(16)]
    labels = pd.Series([0, 1] * 8, index=ids)
    props = pd.DataFrame({"fs_hz": np.where(labels == 1, 2000.0, 1000.0), "x": rng.normal(size=16)}, index=ids)
    f = acquisition_confound(props, labels, hb.make_fold_plan(labels, loo=True), seed=0, n_permutations=N_PERM)
    assert f["permutation"].startswith("across all patients")
    assert f["significant"] is True and f["properties"][0]["name"] == "fs_hz"
