"""Classical models on the per-record feature table: rf, svm, xgb, logreg and the dummy baseline.

Each is a scikit-learn Pipeline (median imputation, constant-feature filter, scaling where
the estimator needs it, SelectKBest(f_classif) with a tuned k, estimator) fitted on the
records of the training patients only; class imbalance is handled with
``class_weight="balanced"`` (``scale_pos_weight`` for XGBoost) from the training labels.
Record probabilities are averaged per patient. Search spaces live in each spec's ``suggest``.
"""
from __future__ import annotations

import os
import warnings
from dataclasses import dataclass

import numpy as np
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.calibration import CalibratedClassifierCV
from sklearn.dummy import DummyClassifier
from sklearn.ensemble import RandomForestClassifier
from sklearn.feature_selection import SelectKBest, VarianceThreshold, f_classif
from sklearn.impute import SimpleImputer
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import StratifiedGroupKFold
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.svm import SVC
from xgboost import XGBClassifier

from hfecg_bench.errors import HfecgError
from hfecg_bench.evaluation.folds import assert_disjoint
from hfecg_bench.evaluation.metrics import aggregate_patient_probs
from hfecg_bench.models.base import FitResult, ModelData, ModelSpec

K_CHOICES = (10, 30, 100, 300, 0)  # 0 = all features
#: RandomForest threads in this process (``HFECG_RF_THREADS``; a Dask worker sets 1: the worker processes are
#: the parallelism there). The trees are the same with any count. XGBoost uses 1 (OpenMP spin-waits badly on
#: a loaded 2-core machine).
N_JOBS = 2


def forest_threads() -> int:
    """RandomForest threads: ``HFECG_RF_THREADS`` if set, else :data:`N_JOBS`."""
    return max(1, int(os.environ.get("HFECG_RF_THREADS", N_JOBS)))


@dataclass
class _Matrix:
    X: np.ndarray
    patient_ids: np.ndarray
    labels: np.ndarray
    columns: list


def feature_matrix(features) -> _Matrix:
    """The numeric feature matrix of a FeatureTable, built from its frame on every call.

    Not cached: the conversion takes milliseconds, and a cache keyed on the table object would
    go stale after an in-place edit of ``features.frame``.
    """
    if features is None:
        raise HfecgError("classical models need a feature table (ModelData.features is missing)")
    frame = features.frame
    cols = features.feature_columns()
    if not cols:
        raise HfecgError("the feature table has no feature columns")
    X = frame[cols].to_numpy(dtype=np.float64, copy=True)
    X[~np.isfinite(X)] = np.nan
    return _Matrix(X=X, patient_ids=frame["patient_id"].astype(str).to_numpy(),
                   labels=frame["label"].astype(int).to_numpy(), columns=cols)


def _rows(m: _Matrix, patients) -> np.ndarray:
    return np.flatnonzero(np.isin(m.patient_ids, np.asarray(list(patients), dtype=str)))


class _Base(ModelSpec):
    """A scikit-learn Pipeline on the feature table; subclasses give the estimator and its search space."""

    scale = True
    needs_groups = False  # the final estimator's fit takes ``groups`` (patient ids of the training records)

    def default_params(self, profile: str) -> dict:
        raise NotImplementedError

    def suggest(self, trial, profile: str) -> dict:
        raise NotImplementedError

    def estimator(self, params: dict, seed: int, y: np.ndarray):
        """The (unfitted, clonable) final estimator for ``params``; ``y`` are the training labels."""
        raise NotImplementedError

    def pipeline(self, params: dict, seed: int, y: np.ndarray, n_features: int) -> Pipeline:
        steps = [("impute", SimpleImputer(strategy="median", keep_empty_features=True)),
                 ("variance", VarianceThreshold(0.0))]
        if self.scale:
            steps.append(("scale", StandardScaler()))
        k = int(params.get("k", 0) or 0)
        if 0 < k < n_features:
            steps.append(("select", SelectKBest(f_classif, k=k)))
        steps.append(("model", self.estimator(params, seed, y)))
        return Pipeline(steps)

    def fit_predict(self, data: ModelData, train_patients, test_patients, params: dict, seed: int,
                    profile: str) -> FitResult:
        """Fit on the records of ``train_patients``; patient-mean probabilities for both sides."""
        assert_disjoint(train_patients, test_patients, f"{self.name} fit")
        m = feature_matrix(data.features)
        tr, te = _rows(m, train_patients), _rows(m, test_patients)
        if len(tr) == 0:
            raise HfecgError(f"{self.name}: none of the {len(train_patients)} training patients has a feature row")
        y = m.labels[tr]
        if len(np.unique(y)) < 2:
            raise HfecgError(f"{self.name}: training patients hold one class only ({int(y[0])})")
        model = self.pipeline(params, seed, y, m.X.shape[1])
        # estimators that split the training records themselves (SVM calibration) split them by patient
        fit_params = {"model__groups": m.patient_ids[tr]} if self.needs_groups else {}
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            model.fit(m.X[tr], y, **fit_params)
            # a threaded forest adds its trees' probabilities in whatever order the threads finish (last-bit
            # differences between identical runs); one thread sums them in tree order
            model.set_params(**{f"{name}__n_jobs": 1 for name, step in model.steps if "n_jobs" in step.get_params()})
            p_tr = model.predict_proba(m.X[tr])[:, 1]
            p_te = model.predict_proba(m.X[te])[:, 1] if len(te) else np.empty(0)
        info = {"n_train_records": int(len(tr)), "n_test_records": int(len(te))}
        if "select" in model.named_steps:
            info["k"] = int(model.named_steps["select"].k)
        return FitResult(test_prob=aggregate_patient_probs(p_te, m.patient_ids[te]),
                         train_prob=aggregate_patient_probs(p_tr, m.patient_ids[tr]), info=info)


class PatientCalibratedSVC(ClassifierMixin, BaseEstimator):
    """A balanced SVC with Platt scaling fitted on patient-wise folds of its training records.

    A plain scikit-learn estimator (parameters stored unchanged, splits drawn in ``fit``), so it is
    clonable; ``fit`` takes the records' patient ids as ``groups`` so that no patient's records sit
    on both sides of a calibration split.

    Parameters
    ----------
    kernel : {"rbf", "linear"}, default "rbf"
    C : float, default 1.0
    gamma : float or "scale", default "scale"
    n_calibration_folds : int, default 3
        At most this many patient-wise calibration folds (fewer when a class has fewer patients).
    random_state : int, default 0

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn.base import clone
    >>> rng = np.random.default_rng(0)
    >>> X = rng.normal(size=(40, 3)); y = np.repeat([0, 1], 20); X[y == 1] += 1.5
    >>> groups = np.repeat(np.arange(20), 2)
    >>> svc = clone(PatientCalibratedSVC(C=1.0)).fit(X, y, groups=groups)
    >>> svc.predict_proba(X).shape, bool(svc.predict_proba(X[y == 1])[:, 1].mean() > 0.5)
    ((40, 2), True)
    """

    def __init__(self, kernel="rbf", C=1.0, gamma="scale", n_calibration_folds=3, random_state=0):
        self.kernel, self.C, self.gamma = kernel, C, gamma
        self.n_calibration_folds, self.random_state = n_calibration_folds, random_state

    def fit(self, X, y, groups=None):
        """Fit on ``X`` (n_records, n_features), labels ``y``; ``groups`` default: every record its own patient."""
        y = np.asarray(y)
        groups = np.arange(len(y)) if groups is None else np.asarray(groups)
        n_cal = int(min(self.n_calibration_folds, np.unique(groups[y == 1]).size, np.unique(groups[y == 0]).size))
        if n_cal < 2:
            raise HfecgError("svm: calibration needs at least 2 training patients of each class")
        cv = StratifiedGroupKFold(n_splits=n_cal, shuffle=True, random_state=self.random_state)
        splits = list(cv.split(np.zeros(len(y)), y, groups=groups))
        for i, (a, b) in enumerate(splits):
            assert_disjoint(groups[a], groups[b], f"svm calibration fold {i}")
        svc = SVC(kernel=self.kernel, C=self.C, gamma=self.gamma, class_weight="balanced",
                  random_state=self.random_state)
        self.calibrated_ = CalibratedClassifierCV(svc, method="sigmoid", cv=splits).fit(X, y)
        self.classes_ = self.calibrated_.classes_
        return self

    def predict_proba(self, X):
        """Calibrated class probabilities, shape (n_records, 2)."""
        return self.calibrated_.predict_proba(X)

    def predict(self, X):
        """Class labels at probability 0.5."""
        return self.classes_[np.argmax(self.predict_proba(X), axis=1)]


def _pos_weight(y) -> float:
    pos = max(int(np.sum(y == 1)), 1)
    return float(np.sum(y == 0)) / pos


class RandomForestSpec(_Base):
    name = "rf"
    scale = False

    def default_params(self, profile):
        return {"k": 0, "n_estimators": 300, "max_depth": None, "min_samples_leaf": 2, "max_features": "sqrt"}

    def suggest(self, trial, profile):
        return {"k": trial.suggest_categorical("k", list(K_CHOICES)),
                "n_estimators": trial.suggest_int("n_estimators", 100, 300 if profile == "quick" else 800, step=50),
                "max_depth": trial.suggest_categorical("max_depth", [None, 3, 5, 8]),
                "min_samples_leaf": trial.suggest_int("min_samples_leaf", 1, 8),
                "max_features": trial.suggest_categorical("max_features", ["sqrt", "log2", 0.2])}

    def estimator(self, params, seed, y):
        return RandomForestClassifier(n_estimators=int(params["n_estimators"]), max_depth=params["max_depth"],
                                      min_samples_leaf=int(params["min_samples_leaf"]),
                                      max_features=params["max_features"], class_weight="balanced",
                                      n_jobs=forest_threads(), random_state=seed)


class SVMSpec(_Base):
    """RBF/linear SVC, Platt-calibrated on patient-wise folds of the training records."""

    name = "svm"
    needs_groups = True

    def default_params(self, profile):
        return {"k": 100, "kernel": "rbf", "C": 1.0, "gamma": "scale"}

    def suggest(self, trial, profile):
        kernel = trial.suggest_categorical("kernel", ["rbf", "linear"])
        params = {"k": trial.suggest_categorical("k", list(K_CHOICES)), "kernel": kernel,
                  "C": trial.suggest_float("C", 1e-3, 1e2, log=True), "gamma": "scale"}
        if kernel == "rbf":
            params["gamma"] = trial.suggest_float("gamma", 1e-4, 1e-1, log=True)
        return params

    def estimator(self, params, seed, y):
        return PatientCalibratedSVC(kernel=params["kernel"], C=float(params["C"]), gamma=params.get("gamma", "scale"),
                                    random_state=seed)


class XGBSpec(_Base):
    name = "xgb"
    scale = False

    def default_params(self, profile):
        return {"k": 0, "n_estimators": 300, "max_depth": 3, "learning_rate": 0.05, "subsample": 0.8,
                "colsample_bytree": 0.5, "min_child_weight": 1.0, "reg_lambda": 1.0}

    def suggest(self, trial, profile):
        return {"k": trial.suggest_categorical("k", list(K_CHOICES)),
                "n_estimators": trial.suggest_int("n_estimators", 100, 400 if profile == "quick" else 1000, step=50),
                "max_depth": trial.suggest_int("max_depth", 2, 6),
                "learning_rate": trial.suggest_float("learning_rate", 0.01, 0.3, log=True),
                "subsample": trial.suggest_float("subsample", 0.5, 1.0),
                "colsample_bytree": trial.suggest_float("colsample_bytree", 0.1, 1.0),
                "min_child_weight": trial.suggest_float("min_child_weight", 0.5, 10.0, log=True),
                "reg_lambda": trial.suggest_float("reg_lambda", 1e-2, 10.0, log=True)}

    def estimator(self, params, seed, y):
        return XGBClassifier(n_estimators=int(params["n_estimators"]), max_depth=int(params["max_depth"]),
                             learning_rate=float(params["learning_rate"]), subsample=float(params["subsample"]),
                             colsample_bytree=float(params["colsample_bytree"]),
                             min_child_weight=float(params["min_child_weight"]),
                             reg_lambda=float(params["reg_lambda"]), scale_pos_weight=_pos_weight(y),
                             tree_method="hist", max_bin=64, n_jobs=1, random_state=seed, eval_metric="logloss",
                             verbosity=0)


class LogRegSpec(_Base):
    """L1- or L2-regularised logistic regression (liblinear)."""

    name = "logreg"

    def default_params(self, profile):
        return {"k": 100, "penalty": "l2", "C": 0.1}

    def suggest(self, trial, profile):
        return {"k": trial.suggest_categorical("k", list(K_CHOICES)),
                "penalty": trial.suggest_categorical("penalty", ["l1", "l2"]),
                "C": trial.suggest_float("C", 1e-3, 1e1, log=True)}

    def estimator(self, params, seed, y):
        return LogisticRegression(l1_ratio=1.0 if params["penalty"] == "l1" else 0.0, C=float(params["C"]),
                                  solver="liblinear", class_weight="balanced", max_iter=2000, random_state=seed)


class DummySpec(_Base):
    """Predicts the training prevalence for everyone: the naive baseline (AUROC 0.5)."""

    name = "dummy"
    family = "baseline"
    input_label = "none (class prior)"  # reads the feature table only for its rows
    tunable = False
    scale = False

    def default_params(self, profile):
        return {}

    def suggest(self, trial, profile):
        return {}

    def estimator(self, params, seed, y):
        return DummyClassifier(strategy="prior")


CLASSICAL_SPECS = {s.name: s for s in (RandomForestSpec(), SVMSpec(), XGBSpec(), LogRegSpec(), DummySpec())}
