"""Patient-wise fold plan and leakage guard: no patient on both sides of any split."""
from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest

from hfecg_bench.errors import HfecgError, HfecgWarning
from hfecg_bench.evaluation.folds import (LeakageError, assert_disjoint, fold_plan_for_run, load_fold_plan,
                                          make_fold_plan)
from hfecg_bench.evaluation.seeds import derive_seed


def labels_of(n: int, n_pos: int, seed: int = 0) -> pd.Series:
    y = np.zeros(n, dtype=int)
    y[np.random.default_rng(seed).choice(n, n_pos, replace=False)] = 1
    return pd.Series(y, index=[f"P{i:03d}" for i in range(n)])


def test_guard_raises_on_overlap_and_names_patients():
    with pytest.raises(LeakageError, match=r"outer fold 3.*1 patient.*P007"):
        assert_disjoint(["P001", "P007"], ["P007", "P009"], "outer fold 3")
    assert_disjoint(["P001"], ["P002"], "ok")  # no error
    # per-record ids (several records per patient) are checked as patient ids
    with pytest.raises(LeakageError):
        assert_disjoint(np.array(["a", "a", "b"]), np.array(["c", "b"]))
    assert issubclass(LeakageError, HfecgError)


@pytest.mark.parametrize("seed", [0, 1, 7, 123])
@pytest.mark.parametrize("n,n_pos", [(120, 36), (40, 20), (23, 6)])
def test_outer_and_inner_folds_are_patient_disjoint_and_stratified(seed, n, n_pos):
    labels = labels_of(n, n_pos, seed)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", HfecgWarning)
        plan = make_fold_plan(labels, n_folds=5, seed=derive_seed(seed, "folds"))
    assert sorted(plan.patients) == sorted(labels.index)
    tests = []
    for k in range(plan.n_folds):
        train, test = plan.split(k)
        assert not set(train) & set(test)
        assert set(train) | set(test) == set(labels.index)
        assert labels[test].nunique() == 2, "every outer fold holds both classes"
        tests += test
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", HfecgWarning)
            inner = plan.inner_splits(k, 3, derive_seed(seed, "inner", k))
        vals = []
        for tr, va in inner:
            assert not set(tr) & set(va)
            assert set(tr) | set(va) == set(train), "inner folds use outer training patients only"
            assert not set(va) & set(test) and not set(tr) & set(test)
            assert labels[va].nunique() == 2
            vals += va
        assert sorted(vals) == sorted(train)
    assert sorted(tests) == sorted(labels.index), "each patient is tested exactly once"
    # stratification: the positive share of every fold stays near the cohort's
    share = labels.groupby(plan.folds).mean()
    assert (share - labels.mean()).abs().max() < 0.2


def test_fold_plan_deterministic_by_seed():
    labels = labels_of(60, 20)
    a = make_fold_plan(labels, seed=5).folds
    assert a.equals(make_fold_plan(labels, seed=5).folds)
    assert not a.equals(make_fold_plan(labels, seed=6).folds)


def test_tiny_cohort_errors_name_the_numbers():
    with pytest.raises(HfecgError, match=r"6 patients \(1 positive, 5 negative\)"):
        make_fold_plan(labels_of(6, 1), n_folds=5)
    with pytest.raises(HfecgError, match="leave-one-patient-out.*1 positive"):
        make_fold_plan(labels_of(6, 1), loo=True)
    with pytest.raises(HfecgError, match=">= 2"):
        make_fold_plan(labels_of(20, 10), n_folds=1)


def test_folds_capped_so_each_holds_both_classes():
    labels = labels_of(20, 3)
    with pytest.warns(HfecgWarning, match="capped to 3"):
        plan = make_fold_plan(labels, n_folds=5, seed=0)
    assert plan.n_folds == 3
    assert all(labels[plan.split(k)[1]].sum() == 1 for k in range(3))


def test_inner_folds_error_when_training_side_too_small():
    labels = labels_of(8, 2)
    plan = make_fold_plan(labels, n_folds=2, seed=0)
    with pytest.raises(HfecgError, match=r"outer fold 1/2: its 4 training patients \(1 positive, 3 negative\) cannot "
                                         "make 2 inner folds"):
        plan.inner_splits(0, 3, seed=0)


@pytest.mark.parametrize("n,n_pos,folds,loo,advice", [
    # issue 11 item 10: "6 patients, 2 positive" said "use fewer outer folds" when already at 2
    (6, 2, 2, False, r"the cohort is too small for nested evaluation: it needs at least 3 patients of each class "
                     r"and has 2 positive, 4 negative"),
    # folds=5 capped to 2 by the 2 positives
    (20, 2, 5, False, r"the cohort is too small for nested evaluation: .* has 2 positive, 18 negative"),
    (12, 2, 5, True, r"the cohort is too small for nested evaluation: .* has 2 positive, 10 negative"),
    # 3 positives in 2 folds leave a training side 1: more outer folds, not fewer, is the way out
    (12, 3, 2, False, r"use 3 or more outer folds \(folds=3\): with 2, a training side keeps 1 of the 3 positive"),
    (12, 9, 2, False, r"use 3 or more outer folds \(folds=3\): with 2, a training side keeps 1 of the 3 negative"),
])
def test_too_small_for_inner_folds_says_what_works(n, n_pos, folds, loo, advice):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", HfecgWarning)
        plan = make_fold_plan(labels_of(n, n_pos), n_folds=folds, seed=0, loo=loo)
    with pytest.raises(HfecgError, match=r"cannot make 2 inner folds .*also with trials=0\); " + advice) as err:
        for k in range(plan.n_folds):
            plan.inner_fold_cap(k, 3)
    assert "fewer outer folds" not in str(err.value)


def test_the_advice_holds_for_every_small_cohort():
    """What nested_advice promises, checked on the actual stratified folds: with 3+ patients of each class every
    number of outer folds from 3 up (and leave-one-patient-out) leaves each training side 2 of each class; with 2
    of a class no number of folds does; 2 folds need 4 of each class."""
    for n_pos in range(2, 7):
        for n_neg in range(n_pos, 9):
            labels = labels_of(n_pos + n_neg, n_pos, seed=n_neg)
            for k in [*range(2, min(n_pos, n_neg) + 1), "loo"]:
                plan = make_fold_plan(labels, n_folds=2 if k == "loo" else k, seed=n_pos, loo=k == "loo")
                feasible = True
                try:
                    for f in range(plan.n_folds):
                        plan.inner_fold_cap(f, 2)
                except HfecgError:
                    feasible = False
                expected = n_pos >= 3 if k in ("loo",) or k >= 3 else n_pos >= 4
                assert feasible == expected, (n_pos, n_neg, k)


def test_leave_one_patient_out():
    labels = labels_of(10, 4)
    plan = make_fold_plan(labels, loo=True)
    assert plan.n_folds == 10 and plan.kind == "loo"
    for k in range(10):
        train, test = plan.split(k)
        assert len(test) == 1 and test[0] not in train


def test_folds_csv_reused_and_conflicts_rejected(tmp_path):
    labels = labels_of(30, 10)
    plan, loaded = fold_plan_for_run(tmp_path / "folds.csv", labels, 5, seed=1)
    assert not loaded
    df = pd.read_csv(tmp_path / "folds.csv")
    assert list(df.columns) == ["patient_id", "fold"] and df["patient_id"].is_unique
    again, loaded = fold_plan_for_run(tmp_path / "folds.csv", labels, 5, seed=99)  # other seed: file wins
    assert loaded and again.folds.equals(plan.folds)
    other = labels_of(31, 10)
    with pytest.raises(HfecgError, match="conflicts with this cohort: 0 patient.*1 only in the cohort"):
        load_fold_plan(tmp_path / "folds.csv", other)
