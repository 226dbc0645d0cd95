"""``rocket``: MiniRocket (aeon) on each patient's signal-averaged beat, with a ridge or logistic head.

The time-series-ML family (``ts``): random convolutional kernels with the scikit-learn fit/transform
contract, so it runs under the same patient-wise folds, inner-fold tuning and training-side thresholds
as every other model. For each patient, the mean of its aligned beats (the signal-averaged beat: noise
falls as ``1/sqrt(n)``) is taken: of the HF beats in ``quick`` (the beats the deep models read, so a
run cuts no wideband beats for rocket alone), of the wideband beats in ``full``. From it

- ``hf``: the 150-250 Hz band (the HF beats' mean, or the wideband mean band-passed with the run's HF
  band and order) cropped to ``hf_crop_ms`` around R, the part of the beat where HF-QRS lives;
- ``envelope``: the log RMS envelope (10 ms) of that band-pass, the HF-QRS amplitude profile without the
  patient's own oscillation phases (MiniRocket's features are shape detectors: on the raw oscillation it
  reached AUROC 0.60 on ``hf_effect``, on the envelope 0.73);
- ``territory`` (default): three series, each coronary territory's mean log envelope minus that of the
  other leads (:data:`hfecg_bench.leads.TERRITORIES`). The reduction sits in one territory, a different
  one from patient to patient, and the patients' overall HF amplitudes differ more than the effect:
  per-lead envelopes left MiniRocket at chance on ``realistic`` (5-fold AUROC 0.53; raw band 0.56, the
  log RMS per lead with a logistic head 0.56), the territory contrasts reach 0.73;
- ``wideband``: the whole averaged beat (QRS, ST, T); ``both``: envelope and wideband.

Each view is scaled by one per-lead standard deviation of the training patients (amplitude differences
between patients are kept), transformed by its own MiniRocket fitted on the training patients only, and
the features are concatenated (``view = "both"``). The head is a standardised ridge classifier whose
decision is turned into a probability by a logistic fit on its leave-one-out decisions (training
patients only), or an L2 logistic regression.

Importing this module does not import aeon (numba compiles MiniRocket's kernels on the first fit of a
machine, about a minute, then loads them from aeon's on-disk cache).

Examples
--------
>>> spec = RocketSpec()
>>> spec.family, spec.input, spec.default_params("quick")["view"]
('ts', 'beats_hf', 'territory')
"""
from __future__ import annotations

import warnings
from dataclasses import dataclass, replace

import numpy as np
import pandas as pd
from scipy.ndimage import uniform_filter1d

from hfecg_bench.bands import HF_BAND_HZ
from hfecg_bench.beats.filters import bandpass
from hfecg_bench.beats.subsets import SubsetDraw, subset_average
from hfecg_bench.errors import HfecgError
from hfecg_bench.evaluation.folds import assert_disjoint
from hfecg_bench.leads import territory_contrast_weights
from hfecg_bench.models.base import FitResult, ModelData, ModelSpec

ROCKET_VIEWS = ("hf", "envelope", "territory", "wideband", "both")
ENVELOPE_MS = 10.0  # smoothing of the HF-QRS envelope
HEADS = ("ridge", "logistic")


def patient_averages(beats, patients) -> np.ndarray:
    """The mean aligned beat of each patient, float32 ``(n_patients, n_window, n_leads)`` in ``patients`` order.

    Per patient, so it uses nothing of any other patient (computing it for a test patient leaks nothing).
    """
    owner = pd.Index(list(patients)).get_indexer(np.asarray(beats.patient_ids).astype(str))
    rows = np.flatnonzero(owner >= 0)
    sizes = np.bincount(owner[rows], minlength=len(patients))
    if (sizes == 0).any():
        missing = [p for p, n in zip(patients, sizes) if n == 0]
        raise HfecgError(f"rocket: {len(missing)} patient(s) have no beats, e.g. {missing[:3]}")
    order = rows[np.argsort(owner[rows], kind="stable")]        # beat rows grouped by patient, in patients order
    slot = np.arange(order.size) - np.repeat(np.cumsum(sizes) - sizes, sizes)
    picked = np.full((len(patients), int(sizes.max())), -1, dtype=np.int64)
    picked[owner[order], slot] = order
    return subset_average(beats.X, SubsetDraw(rows=picked, sizes=sizes, patients=np.asarray(list(patients))))


@dataclass
class RocketSpec(ModelSpec):
    """MiniRocket + ridge/logistic head on patient-averaged beats (see the module docstring).

    Parameters
    ----------
    hf_band : (float, float)
        Hz, the run's HF band (``configure`` takes it from ``[features] hf_band``).
    hf_order : int
        Butterworth order of the HF band-pass (``[features] hf_order``).
    hf_crop_ms : (float, float)
        ms around R of the HF view (``[deep] hf_crop_ms`` of the profile: the QRS).
    """

    name: str = "rocket"
    family: str = "ts"
    hf_band: tuple = HF_BAND_HZ
    hf_order: int = 4
    hf_crop_ms: tuple = (-60.0, 90.0)
    profile: str = "quick"

    @property
    def input(self) -> str:
        """``quick`` (untuned, HF territory contrasts): the HF beats the deep models read too, so no wideband beats are
        cut for it; ``full``: the wideband beats, from which tuning can choose any view."""
        return "beats_hf" if self.profile == "quick" else "beats_wideband"

    @property
    def input_label(self) -> str:
        band = f"{self.hf_band[0]:g}-{self.hf_band[1]:g} Hz"
        if self.profile == "quick":
            return f"signal-averaged beat per patient: {band} log envelope, territory contrasts"
        return f"signal-averaged beat per patient: {band} + wideband (view tuned)"

    def configure(self, run_config) -> "RocketSpec":
        return replace(self, hf_band=tuple(run_config.features.hf_band), hf_order=int(run_config.features.hf_order),
                       hf_crop_ms=tuple(run_config.deep.hf_crop_ms) or (-60.0, 90.0), profile=run_config.profile)

    def tuning_budget(self, profile: str) -> dict:
        """``quick``: untuned (default parameters; the threshold from 3 inner folds), so that rocket costs
        about as much as one classical model; ``full``: the profile's trials on 3 inner folds."""
        return {"n_trials": 0, "n_inner_folds": 3} if profile == "quick" else {"n_inner_folds": 3}

    def default_params(self, profile: str) -> dict:
        # measured (5-fold patient AUROC, mean of seeds 0 and 1): territory vs envelope 0.68 vs 0.58 on
        # realistic, 0.85 vs 0.77 on hf_effect, 0.70 vs 0.61 on averaging_required; on hf_effect raw HF 0.60,
        # wideband 0.43, envelope + wideband 0.65; logistic C 0.01 (0.001: same, 0.0001: -0.05), ridge alike
        return {"view": "territory", "n_kernels": 2000 if profile == "quick" else 10000, "head": "logistic",
                "alpha_log10": 3.0, "C": 0.01}

    def suggest(self, trial, profile: str) -> dict:
        head = trial.suggest_categorical("head", list(HEADS))
        views = ["hf", "envelope", "territory"] if profile == "quick" else list(ROCKET_VIEWS)   # quick reads the HF beats only
        params = {"view": trial.suggest_categorical("view", views),
                  "n_kernels": trial.suggest_categorical("n_kernels", [2000, 5000] if profile == "quick"
                                                         else [2000, 5000, 10000]), "head": head,
                  "alpha_log10": 3.0, "C": 0.01}
        if head == "ridge":
            params["alpha_log10"] = trial.suggest_float("alpha_log10", -1.0, 4.0)
        else:
            params["C"] = trial.suggest_float("C", 1e-4, 1.0, log=True)
        return params

    def _views(self, beats, patients, view: str) -> list[np.ndarray]:
        """Per view, the patients' series ``(n_patients, n_leads, n_time)`` (aeon's layout), float64."""
        avg = patient_averages(beats, patients).astype(np.float64)
        if beats.band == "hf" and view in ("wideband", "both"):
            raise HfecgError(f"rocket: view {view!r} needs the wideband beats, but the {beats.band} beats were given "
                             "(the quick profile reads the HF beats: use view 'hf' or 'envelope')")
        out = []
        if view in ("hf", "envelope", "territory", "both"):  # the HF beats' mean, or the wideband mean band-passed
            hf = avg if beats.band == "hf" else bandpass(avg, float(beats.fs), self.hf_band, order=self.hf_order,
                                                         axis=1)
            pre_ms = float((beats.info.get("beat_config") or {}).get("pre_ms", 150.0))
            a, b = (int(round((pre_ms + ms) * float(beats.fs) / 1000.0)) for ms in self.hf_crop_ms)
            if view != "hf":  # log RMS envelope: the HF-QRS amplitude profile, a patient's phases removed
                width = max(1, int(round(ENVELOPE_MS * float(beats.fs) / 1000.0)))
                hf = np.log10(np.sqrt(uniform_filter1d(hf ** 2, width, axis=1, mode="nearest")) * 1000.0 + 1e-3)
            if view == "territory":
                hf = hf @ territory_contrast_weights(beats.lead_names).astype(np.float64)
            out.append(hf[:, max(0, a):min(hf.shape[1], b)])
        if view in ("wideband", "both"):
            out.append(avg)
        return [np.ascontiguousarray(np.transpose(x, (0, 2, 1))) for x in out]

    def fit_predict(self, data: ModelData, train_patients, test_patients, params: dict, seed: int,
                    profile: str) -> FitResult:
        """MiniRocket fitted on the training patients' averaged beats; patient probabilities for both sides."""
        from aeon.transformations.collection.convolution_based import MiniRocket

        assert_disjoint(train_patients, test_patients, f"{self.name} fit")
        params = {**self.default_params(profile), **params}
        beats = data.beats
        if beats is None:
            raise HfecgError(f"rocket: no beats were given (view {self.input} is needed)")
        train, test = [str(p) for p in train_patients], [str(p) for p in test_patients]
        labels = pd.Series(np.asarray(beats.labels), index=np.asarray(beats.patient_ids).astype(str))
        labels = labels[~labels.index.duplicated()]
        y = labels.reindex(train).to_numpy()
        if np.isnan(y.astype(float)).any() or len(np.unique(y)) < 2:
            raise HfecgError(f"rocket: the training patients need beats and labels of both classes, got {np.unique(y)}")
        y = y.astype(int)
        feats_tr, feats_te = [], []
        rng = np.random.SeedSequence(int(seed))
        for series_tr, series_te, ss in zip(self._views(beats, train, params["view"]),
                                            self._views(beats, test, params["view"]) if test else [None] * 2,
                                            rng.spawn(2)):
            scale = series_tr.std(axis=(0, 2), keepdims=True)          # one per lead, training patients only
            scale[scale == 0] = 1.0
            rocket = MiniRocket(n_kernels=int(params["n_kernels"]), random_state=int(ss.generate_state(1)[0] >> 1))
            feats_tr.append(rocket.fit_transform((series_tr / scale).astype(np.float32)))
            if series_te is not None:
                feats_te.append(rocket.transform((series_te / scale).astype(np.float32)))
        F_tr = np.hstack(feats_tr)
        F_te = np.hstack(feats_te) if feats_te else np.empty((0, F_tr.shape[1]))
        p_tr, p_te, info = _head(params, F_tr, y, F_te, int(seed))
        info.update({"n_features": int(F_tr.shape[1]), "view": params["view"]})
        return FitResult(test_prob=pd.Series(p_te, index=pd.Index(test, name="patient_id"), name="prob"),
                         train_prob=pd.Series(p_tr, index=pd.Index(train, name="patient_id"), name="prob"), info=info)


def _head(params: dict, F_tr: np.ndarray, y: np.ndarray, F_te: np.ndarray, seed: int):
    """(train probabilities, test probabilities, info) of the ridge or logistic head, fitted on ``F_tr``, ``y``."""
    from sklearn.linear_model import LogisticRegression, RidgeClassifier
    from sklearn.preprocessing import StandardScaler

    scaler = StandardScaler().fit(F_tr)
    Z_tr, Z_te = scaler.transform(F_tr), scaler.transform(F_te) if len(F_te) else F_te
    weights = np.where(y == 1, len(y) / (2.0 * y.sum()), len(y) / (2.0 * (len(y) - y.sum())))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        if params["head"] == "logistic":
            clf = LogisticRegression(C=float(params["C"]), class_weight="balanced", max_iter=5000, random_state=seed)
            clf.fit(Z_tr, y)
            return clf.predict_proba(Z_tr)[:, 1], clf.predict_proba(Z_te)[:, 1] if len(Z_te) else np.empty(0), {}
        alpha = 10.0 ** float(params["alpha_log10"])
        clf = RidgeClassifier(alpha=alpha, class_weight="balanced").fit(Z_tr, y)
        # leave-one-out decisions of the training patients (closed form for ridge): the honest scores on
        # which the decision -> probability map (Platt scaling) is fitted
        loo = _ridge_loo_decisions(Z_tr, y, alpha, weights)
        platt = LogisticRegression(C=1e4, max_iter=1000).fit(loo[:, None], y)
        to_p = lambda d: platt.predict_proba(np.asarray(d)[:, None])[:, 1]  # noqa: E731
        p_te = to_p(clf.decision_function(Z_te)) if len(Z_te) else np.empty(0)
        return to_p(clf.decision_function(Z_tr)), p_te, {"alpha": alpha}


def _ridge_loo_decisions(Z: np.ndarray, y: np.ndarray, alpha: float, weights: np.ndarray) -> np.ndarray:
    """Leave-one-out decision values of a weighted ridge classifier (targets -1/+1, centred features and target).

    Uses the kernel form ``K = Z Z^T`` (n_patients x n_patients, cheap when features >> patients) and the
    hat-matrix identity ``loo_i = (f_i - h_ii t_i) / (1 - h_ii)`` of weighted ridge regression.
    """
    t = np.where(y == 1, 1.0, -1.0)
    sw = np.sqrt(weights)
    mean_t = np.sum(weights * t) / weights.sum()
    Zc = Z - np.sum(weights[:, None] * Z, axis=0) / weights.sum()
    Kw = (sw[:, None] * Zc) @ (sw[:, None] * Zc).T
    H = Kw @ np.linalg.inv(Kw + alpha * np.eye(len(y)))            # hat matrix of the weighted problem
    fit = H @ (sw * (t - mean_t))
    h = np.clip(np.diag(H), 0.0, 1.0 - 1e-9)
    return (fit - h * sw * (t - mean_t)) / (1.0 - h) / sw + mean_t


ROCKET_SPECS = {"rocket": RocketSpec()}
