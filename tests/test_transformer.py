"""HFQRSFeatures: the scikit-learn contract, no cross-record leakage, and the planted effect under GroupKFold."""
from __future__ import annotations

import warnings

import numpy as np
import pytest
from sklearn.base import clone
from sklearn.impute import SimpleImputer
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import GroupKFold, cross_val_score
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from hfecg_bench.cohort import Cohort
from hfecg_bench.data import generate_cohort
from hfecg_bench.errors import HfecgWarning, ParameterError
from hfecg_bench.features import GROUPS, FeatureConfig, HFQRSFeatures, extract_features
from hfecg_bench.leads import STANDARD_LEADS


@pytest.fixture(scope="module")
def cohort():
    return generate_cohort(preset="hf_effect", n_patients=20, duration_s=10, seed=1)


@pytest.fixture(scope="module")
def arrays(cohort):
    X = np.stack([r.signal for r in cohort.records]).astype(np.float32)
    y = np.array([r.label for r in cohort.records])
    g = np.array([r.patient_id for r in cohort.records])
    return X, y, g


def test_clone_keeps_parameters():
    t = HFQRSFeatures(fs=2000.0, leads=["i", "ii"], hf_band=(120.0, 240.0), groups=("hf",), min_beats=8,
                      cache_dir=False)
    c = clone(t)
    assert c is not t and c.get_params() == t.get_params()
    assert c.get_params()["hf_band"] == (120.0, 240.0) and c.get_params()["leads"] == ["i", "ii"]
    assert not hasattr(c, "feature_names_out_")                       # clone is unfitted


@pytest.mark.parametrize("groups", [("hf",), GROUPS])
def test_names_match_transform_width_and_extract_features(cohort, arrays, groups):
    X, _, _ = arrays
    t = HFQRSFeatures(fs=1000.0, groups=groups)
    Z = t.fit_transform(X[:4])
    names = t.get_feature_names_out()
    assert isinstance(names, np.ndarray) and Z.shape == (4, len(names)) and Z.dtype == np.float64
    assert len(names) == (9 * 12 + 12 if groups == ("hf",) else 580)
    assert all(n.split("__")[0] in STANDARD_LEADS + ("all",) and n.split("__")[1] in groups for n in names)
    # the same per-record code as extract_features: identical columns and values
    table = extract_features(Cohort(cohort.records[:4], "synthetic"), FeatureConfig(groups=groups))
    assert list(names) == table.feature_columns()
    np.testing.assert_array_equal(Z, table.frame[list(names)].to_numpy(dtype=np.float64))
    assert np.isfinite(Z).mean() > 0.99


def test_a_record_alone_equals_the_record_in_a_batch(arrays):
    X, _, _ = arrays
    t = HFQRSFeatures(fs=1000.0, cache_dir=False).fit(X)
    batch = t.transform(X[:5])
    alone = t.transform(X[3:4])
    np.testing.assert_array_equal(alone[0], batch[3])
    # fitting on other records changes nothing either
    other = HFQRSFeatures(fs=1000.0, cache_dir=False).fit(X[10:]).transform(X[3:4])
    np.testing.assert_array_equal(other, alone)


@pytest.mark.parametrize("seed", [2, 3])
def test_pipeline_with_group_kfold_finds_the_planted_effect(seed):
    c = generate_cohort(preset="hf_effect", n_patients=60, duration_s=12, seed=seed)
    X = np.stack([r.signal for r in c.records])
    y = np.array([r.label for r in c.records])
    g = np.array([r.patient_id for r in c.records])
    pipe = make_pipeline(HFQRSFeatures(fs=1000.0), SimpleImputer(), StandardScaler(),
                         LogisticRegression(C=0.1, max_iter=2000))
    scores = cross_val_score(pipe, X, y, groups=g, cv=GroupKFold(5), scoring="roc_auc")
    assert scores.mean() >= 0.8, scores


def test_null_cohort_gives_chance_auroc():
    c = generate_cohort(preset="null", n_patients=40, duration_s=10, seed=2)
    X = np.stack([r.signal for r in c.records])
    y = np.array([r.label for r in c.records])
    pipe = make_pipeline(HFQRSFeatures(fs=1000.0), SimpleImputer(), StandardScaler(),
                         LogisticRegression(C=0.1, max_iter=2000))
    auc = cross_val_score(pipe, X, y, groups=np.arange(len(y)), cv=GroupKFold(5), scoring="roc_auc").mean()
    assert auc < 0.75, auc


def test_lead_names_normalised_and_a_subset_of_leads(arrays):
    X, _, _ = arrays
    cols = [STANDARD_LEADS.index(n) for n in ("aVR", "V1", "V2")]
    t = HFQRSFeatures(fs=1000.0, leads=["avr", "v1", "V-2"], groups=("hf",), cache_dir=False)
    Z = t.fit_transform(X[:3][:, :, cols])
    assert t.lead_names_ == ("aVR", "V1", "V2") and t.n_leads_ == 3
    names = list(t.get_feature_names_out())
    assert "aVR__hf__rms_uv" in names and not any(n.startswith("avr") for n in names)
    assert np.isfinite(Z[:, names.index("aVR__hf__rms_uv")]).all()


def test_failed_record_gets_a_nan_row_and_a_warning(arrays):
    X, _, _ = arrays
    bad = X[:3].copy()
    bad[1] = 0.01                                                       # flat: no beats
    bad[2, 100:200, 4] = np.nan
    t = HFQRSFeatures(fs=1000.0, cache_dir=False)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        Z = t.fit_transform(bad)
    msgs = [str(w.message) for w in caught if issubclass(w.category, HfecgWarning)]
    assert any("record 1 " in m and "beat" in m for m in msgs), msgs
    assert any("record 2 " in m and "non-finite" in m for m in msgs), msgs
    assert np.isnan(Z[1]).all() and np.isnan(Z[2]).all() and np.isfinite(Z[0]).mean() > 0.99


@pytest.mark.parametrize("params, name", [
    (dict(fs=0.0), "fs"), (dict(fs="1000"), "fs"), (dict(hf_band=(250, 150)), "hf_band"),
    (dict(groups=("hf", "ecg")), "groups"), (dict(groups=None), "groups"), (dict(min_beats=0), "min_beats"), (dict(min_beats=2.5), "min_beats"),
    (dict(leads=["I", "II"]), "leads"), (dict(leads=["I"] * 12), "leads"), (dict(leads="I"), "leads"),
])
def test_bad_parameters_raise_parameter_error_naming_them(params, name):
    X = np.zeros((1, 5000, 12), np.float32)
    t = HFQRSFeatures(**params)                                         # stored unchecked, as scikit-learn requires
    with pytest.raises(ParameterError) as err:
        t.fit(X)
    assert err.value.name == name


def test_bad_input_shapes():
    t = HFQRSFeatures(cache_dir=False)
    with pytest.raises(ParameterError, match="X"):
        t.fit(np.zeros((5000, 12)))
    t.fit(np.zeros((1, 5000, 12)))
    with pytest.raises(ParameterError, match="12 lead columns"):
        t.transform(np.zeros((1, 5000, 8)))


def test_hf_band_changes_the_features(arrays):
    X, _, _ = arrays
    a = HFQRSFeatures(cache_dir=False).fit_transform(X[:2])
    b = HFQRSFeatures(hf_band=(100.0, 200.0), cache_dir=False).fit_transform(X[:2])
    assert a.shape == b.shape and not np.allclose(a, b, equal_nan=True)
    assert FeatureConfig().hf_band == (150.0, 250.0)
