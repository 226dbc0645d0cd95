"""Diagnostics from saved predictions: power, selection-aware permutation, agreement, label noise, verdict."""
import numpy as np
import pandas as pd
import pytest

from hfecg_bench.diagnostics.agreement import label_noise_candidates, model_agreement, train_test_gaps
from hfecg_bench.diagnostics.permutation import max_auroc_permutation
from hfecg_bench.diagnostics.power import auroc_se, detectable_auroc
from hfecg_bench.diagnostics.verdict import decide, family_comparison


def _pred(strengths, n=120, prevalence=0.3, seed=0, flip=0.0):
    """Out-of-fold predictions of models whose logit moves by ``strength`` with the TRUE label."""
    rng = np.random.default_rng(seed)
    y_true = (rng.random(n) < prevalence).astype(int)
    flipped = rng.random(n) < flip
    y = np.where(flipped, 1 - y_true, y_true)
    rows = []
    for m, s in strengths.items():
        p = 1 / (1 + np.exp(-(s * (y_true - prevalence) + rng.normal(0, 1, n))))
        rows += [dict(model=m, patient_id=f"p{i:03d}", fold=i % 5, label=int(y[i]), prob=float(p[i]), threshold=0.5)
                 for i in range(n)]
    return pd.DataFrame(rows), {f"p{i:03d}" for i in np.flatnonzero(flipped)}


def test_hanley_mcneil_se_known_value():
    # Hanley & McNeil (1982) Table: A = 0.5 with 50 + 50 cases -> SE = sqrt(101 / (12 * 2500)) = 0.0580
    assert auroc_se(0.5, 50, 50) == pytest.approx(np.sqrt(101 / 30000), rel=1e-9)
    assert auroc_se(0.9, 50, 50) < auroc_se(0.7, 50, 50)


def test_detectable_auroc_shrinks_with_cohort_size():
    small, default, big = detectable_auroc(9, 21), detectable_auroc(36, 84), detectable_auroc(150, 350)
    assert small > 0.75 > default > big > 0.5
    assert default == pytest.approx(0.66, abs=0.02)


def test_permutation_null_and_signal():
    null, _ = _pred({f"m{i}": 0.0 for i in range(6)}, seed=1)
    res = max_auroc_permutation(null, sorted(null["model"].unique()), n_permutations=999, seed=0)
    assert res["p_value"] > 0.05
    # the null of the maximum over 6 models sits above a single model's chance level
    assert res["null_max_mean"] > 0.55
    sig, _ = _pred({"weak": 0.0, "strong": 2.0}, seed=2)
    res = max_auroc_permutation(sig, ["weak", "strong"], n_permutations=999, seed=0)
    assert res["best_model"] == "strong" and res["p_value"] == pytest.approx(1 / 1000)


def test_max_statistic_is_more_conservative_than_single_model():
    pred, _ = _pred({"a": 0.6, **{f"n{i}": 0.0 for i in range(8)}}, seed=3)
    single = max_auroc_permutation(pred, ["a"], n_permutations=999, seed=0)["p_value"]
    many = max_auroc_permutation(pred, sorted(pred["model"].unique()), n_permutations=999, seed=0)["p_value"]
    assert many >= single


def test_label_noise_candidates_find_flipped_patients():
    pred, flipped = _pred({"a": 3.0, "b": 3.0}, n=200, flip=0.2, seed=4)
    res = label_noise_candidates(pred, ["a", "b"])
    cands = set(res["patients"])
    precision = len(cands & flipped) / len(cands)
    base = len(flipped) / 200
    assert precision >= 2 * base
    assert len(cands & flipped) / len(flipped) >= 0.5


def test_agreement_and_all_wrong():
    pred, _ = _pred({"a": 2.0, "b": 2.0}, seed=5)
    res = model_agreement(pred, ["a", "b"])
    assert 0.5 <= res["mean_agreement"] <= 1.0
    wrong_a = pred[(pred.model == "a") & ((pred.prob >= 0.5).astype(int) != pred.label)].patient_id
    wrong_b = pred[(pred.model == "b") & ((pred.prob >= 0.5).astype(int) != pred.label)].patient_id
    assert set(res["patients"]) == set(wrong_a) & set(wrong_b)


def test_train_test_gap():
    m = pd.DataFrame({"model": ["a", "b"], "auroc": [0.7, 0.8], "train_auroc": [1.0, 0.85]})
    res = train_test_gaps(m)
    assert res["models"]["a"]["gap"] == pytest.approx(0.3)
    assert "a" in res["summary"]


def _metrics(pred):
    from sklearn.metrics import roc_auc_score

    rows = []
    for m, g in pred.groupby("model"):
        a = roc_auc_score(g.label, g.prob)
        rows.append({"model": m, "auroc": a, "auroc_lo": a - 0.08, "auroc_hi": a + 0.08})
    return pd.DataFrame(rows)


def test_family_comparison_names_the_missing_family():
    pred, _ = _pred({"rf": 2.5, "cnn": 0.0, "lstm": 0.0}, seed=6)
    res = family_comparison(pred, _metrics(pred), {"rf": "classical", "cnn": "deep", "lstm": "deep"})
    assert res["misses"] and res["misses"][0]["misses"] == "deep"
    assert set(res["misses"][0]["models_missing"]) == {"cnn", "lstm"}


@pytest.mark.parametrize("findings, expected", [
    ([{"kind": "permutation", "p_value": 0.4}, {"kind": "power", "detectable_auroc": 0.66}], "no_signal"),
    ([{"kind": "permutation", "p_value": 0.4}, {"kind": "power", "detectable_auroc": 0.81}], "data_limited"),
    ([{"kind": "permutation", "p_value": 0.01}, {"kind": "power", "detectable_auroc": 0.81}], "data_limited"),
    ([{"kind": "permutation", "p_value": 0.001}, {"kind": "power", "detectable_auroc": 0.66},
      {"kind": "label_noise", "fraction": 0.3, "n_candidates": 36}], "data_limited"),
    ([{"kind": "permutation", "p_value": 0.001}, {"kind": "power", "detectable_auroc": 0.66},
      {"kind": "model_comparison", "misses": [{"misses": "deep"}], "summary": "deep misses"}], "model_limited"),
    ([{"kind": "permutation", "p_value": 0.001}, {"kind": "power", "detectable_auroc": 0.66, "best_ci_width": 0.1},
      {"kind": "learning_curve", "rising": True, "slope_per_10pct": 0.03}], "data_limited"),
    ([{"kind": "permutation", "p_value": 0.001}, {"kind": "power", "detectable_auroc": 0.66, "best_ci_width": 0.1},
      {"kind": "learning_curve", "rising": False, "slope_per_10pct": 0.0}], "near_ceiling"),
])
def test_verdict_rules(findings, expected):
    verdict, reasons = decide(findings)
    assert verdict == expected and reasons


def test_near_ceiling_reasons_name_each_family_best():
    comp = {"kind": "model_comparison", "misses": [], "families": {
        "classical": {"model": "rf", "auroc": 0.997}, "deep": {"model": "leadwise_cnn", "auroc": 0.664}}}
    verdict, reasons = decide([{"kind": "permutation", "p_value": 0.001},
                               {"kind": "power", "detectable_auroc": 0.66, "best_ci_width": 0.01},
                               {"kind": "learning_curve", "rising": False, "slope_per_10pct": 0.008}, comp])
    assert verdict == "near_ceiling"
    assert "CI is 0.01 wide" in reasons[-1]
    assert "classical best rf AUROC 0.997; deep best leadwise_cnn AUROC 0.664" in reasons[-1]


def test_label_noise_pool_is_the_best_family_above_chance():
    from hfecg_bench.diagnostics.run import consensus_models

    m = pd.DataFrame({"model": ["rf", "svm", "cnn", "lstm"], "auroc": [0.72, 0.55, 0.61, 0.5],
                      "auroc_lo": [0.62, 0.45, 0.51, 0.4]})
    fam = {"rf": "classical", "svm": "classical", "cnn": "deep", "lstm": "deep"}
    assert consensus_models(m, ["rf", "svm", "cnn", "lstm"], fam) == ["rf"]
    m.loc[1, "auroc_lo"] = 0.52
    assert consensus_models(m, ["rf", "svm", "cnn", "lstm"], fam) == ["rf", "svm"]
