"""Patient-level metrics, the training-side threshold, patient bootstrap CIs and DeLong's test (known answers)."""
from __future__ import annotations

import numpy as np
import pytest
from scipy.stats import norm
from sklearn.metrics import roc_auc_score

from hfecg_bench.evaluation.bootstrap import bootstrap_ci, draw_resamples, resampled_metrics
from hfecg_bench.evaluation.delong import delong_auc_cov, delong_test, midrank
from hfecg_bench.evaluation.metrics import aggregate_patient_probs, patient_metrics, youden_threshold


def test_patient_aggregation_averages_records_and_is_exact_for_constants():
    s = aggregate_patient_probs([0.2, 0.4, 0.9, 0.3, 0.3, 0.3], ["a", "a", "b", "c", "c", "c"])
    assert s.to_dict() == pytest.approx({"a": 0.3, "b": 0.9, "c": 0.3})
    assert s["a"] == s["c"]  # a constant model gives tied patients, not float noise


def test_youden_threshold_separates_and_handles_constant_scores():
    y = np.array([0, 0, 0, 1, 1, 1])
    t = youden_threshold(y, [0.1, 0.2, 0.3, 0.6, 0.7, 0.8])
    assert t == pytest.approx(0.45)
    assert youden_threshold(y, [0.3] * 6) == 0.3
    m = patient_metrics(y, [0.1, 0.2, 0.3, 0.6, 0.7, 0.8], t)
    assert m["balanced_accuracy"] == m["sensitivity"] == m["specificity"] == m["mcc"] == 1.0


def test_patient_metrics_known_values():
    y = np.array([0, 0, 1, 1]); p = np.array([0.1, 0.4, 0.35, 0.8])
    m = patient_metrics(y, p, 0.3)
    assert m["auroc"] == pytest.approx(0.75)
    assert m["sensitivity"] == 1.0 and m["specificity"] == 0.5
    assert m["brier"] == pytest.approx(np.mean((p - y) ** 2))


def test_perfect_separation_gives_ci_of_one():
    y = np.array([0] * 20 + [1] * 10)
    p = np.r_[np.linspace(0, 0.4, 20), np.linspace(0.6, 1, 10)]
    ci = bootstrap_ci(y, p, 0.5, draw_resamples(y, 500, seed=0))
    assert ci["auroc"] == (1.0, 1.0)
    assert ci["balanced_accuracy"] == (1.0, 1.0)


def test_resamples_are_stratified_and_shared():
    y = np.array([0] * 30 + [1] * 12)
    a, b = draw_resamples(y, 200, seed=4), draw_resamples(y, 200, seed=4)
    assert np.array_equal(a, b)
    assert (y[a].sum(axis=1) == 12).all()


def test_vectorised_resample_metrics_match_sklearn():
    rng = np.random.default_rng(1)
    y = rng.integers(0, 2, 50); y[:2] = [0, 1]
    p = np.clip(0.3 * y + rng.random(50) * 0.7, 0, 1).round(2)  # ties included
    thr = rng.uniform(0.3, 0.6, 50)
    idx = draw_resamples(y, 20, seed=2)
    dist = resampled_metrics(y, p, thr, idx)
    for i in range(20):
        ref = patient_metrics(y[idx[i]], p[idx[i]], thr[idx[i]])
        for k, v in ref.items():
            assert dist[k][i] == pytest.approx(v, abs=1e-12), k


def test_bootstrap_ci_covers_known_auroc():
    # two normal classes with mean gap d: AUROC = Phi(d / sqrt(2))
    rng = np.random.default_rng(0)
    d = 1.0
    y = np.r_[np.zeros(150, int), np.ones(150, int)]
    p = np.r_[rng.normal(0, 1, 150), rng.normal(d, 1, 150)]
    lo, hi = bootstrap_ci(y, p, 0.5, draw_resamples(y, 1000, seed=3))["auroc"]
    truth = norm.cdf(d / np.sqrt(2))
    assert lo < truth < hi and lo < roc_auc_score(y, p) < hi and hi - lo < 0.15


def test_midrank():
    assert midrank(np.array([3.0, 1.0, 3.0, 2.0])).tolist() == [3.5, 1.0, 3.5, 2.0]


def test_delong_variance_hand_checked():
    # positives 0.35, 0.8 vs negatives 0.1, 0.4: V10 = [0.5, 1], V01 = [1, 0.5];
    # var = var(V10)/2 + var(V01)/2 = 0.125/2 + 0.125/2
    aucs, cov = delong_auc_cov([0, 0, 1, 1], [[0.1, 0.4, 0.35, 0.8]])
    assert aucs[0] == pytest.approx(0.75)
    assert cov[0, 0] == pytest.approx(0.125)


def _delong_reference(y, a, b):
    """DeLong et al. (1988) from the structural components, by explicit pairwise loops."""
    y = np.asarray(y)
    def comps(s):
        x, z = s[y == 1], s[y == 0]
        psi = (x[:, None] > z[None, :]) + 0.5 * (x[:, None] == z[None, :])
        return psi.mean(), psi.mean(axis=1), psi.mean(axis=0)
    (a1, v10a, v01a), (a2, v10b, v01b) = comps(np.asarray(a)), comps(np.asarray(b))
    m, n = len(v10a), len(v01a)
    s10 = np.cov(np.vstack([v10a, v10b])); s01 = np.cov(np.vstack([v01a, v01b]))
    var = (s10[0, 0] + s10[1, 1] - 2 * s10[0, 1]) / m + (s01[0, 0] + s01[1, 1] - 2 * s01[0, 1]) / n
    return 2 * norm.sf(abs(a1 - a2) / np.sqrt(var))


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_delong_matches_reference_and_identical_gives_one(seed):
    rng = np.random.default_rng(seed)
    y = rng.integers(0, 2, 80); y[:2] = [0, 1]
    a = y * 0.8 + rng.normal(size=80)
    b = (y * 0.5 + rng.normal(size=80)).round(1)  # ties
    auc1, auc2, p = delong_test(y, a, b)
    assert auc1 == pytest.approx(roc_auc_score(y, a)) and auc2 == pytest.approx(roc_auc_score(y, b))
    assert p == pytest.approx(_delong_reference(y, a, b), rel=1e-9)
    assert delong_test(y, a, a)[2] == 1.0
