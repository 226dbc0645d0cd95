"""The deep models' patient-wise preparation, without TensorFlow: the validation split (never a test patient;
guarded), the QRS crop and decimation of the 150-250 Hz beats, and the scaler fitted on the fit patients only.
:mod:`~hfecg_bench.models.deep_train` builds on them; they are importable (and testable) without Keras.
"""
from __future__ import annotations

import numpy as np
import pandas as pd

from hfecg_bench.errors import HfecgError, TrialFailedError

#: Shortest model input (samples after decimation) the CNNs' pooling stages accept.
MIN_INPUT_SAMPLES = 16


class DeepTrainingError(HfecgError):
    """A deep model cannot be trained on this fold (too few patients, leakage guard, bad data)."""


class NaNLossError(DeepTrainingError, TrialFailedError):
    """The training loss became NaN or infinite; tuning treats the trial as failed."""


# ----------------------------------------------------------------------------- pure helpers (no TensorFlow)

def patient_labels(beat_patients: np.ndarray, beat_labels: np.ndarray, patients, model: str) -> pd.Series:
    """One binary label per requested patient from the per-beat labels; errors name the patients."""
    df = pd.DataFrame({"p": beat_patients, "y": np.asarray(beat_labels).astype(int)})
    df = df[df["p"].isin(set(patients))]
    nuniq = df.groupby("p")["y"].nunique()
    if (nuniq > 1).any():
        bad = list(nuniq.index[nuniq > 1][:5])
        raise DeepTrainingError(f"model {model}: patients {bad} have beats with different labels")
    labels = df.groupby("p")["y"].first().reindex(list(patients))
    missing = list(labels.index[labels.isna()][:5])
    if missing:
        raise DeepTrainingError(f"model {model}: {int(labels.isna().sum())} patient(s) have no beats, e.g. {missing}")
    if not set(labels.unique()) <= {0, 1}:
        raise DeepTrainingError(f"model {model}: labels must be 0/1, found {sorted(labels.unique())}")
    return labels.astype(int)


def split_validation(labels: pd.Series, val_fraction: float, rng: np.random.Generator,
                     min_per_class: int, model: str) -> tuple[list, list]:
    """Stratified patient-wise split of the training patients into (fit, validation).

    ``labels`` is indexed by training patient. Each class keeps ``max(1, round(val_fraction * n))``
    validation patients; fewer than ``min_per_class`` patients in a class is a :class:`DeepTrainingError`.
    """
    counts = {c: int((labels == c).sum()) for c in (0, 1)}
    if min(counts.values()) < min_per_class:
        raise DeepTrainingError(
            f"model {model}: the fold has {counts[0]} negative and {counts[1]} positive training patients "
            f"({len(labels)} in all); need >= {min_per_class} per class to hold out validation patients")
    fit, val = [], []
    for c in (0, 1):
        members = np.array(sorted(labels.index[labels == c]), dtype=object)
        members = members[rng.permutation(members.size)]
        n_val = min(max(1, int(round(val_fraction * members.size))), members.size - 1)
        val.extend(members[:n_val].tolist())
        fit.extend(members[n_val:].tolist())
    check_validation_split(fit, val, list(labels.index), model)
    return sorted(fit), sorted(val)


def check_validation_split(fit_patients, val_patients, train_patients, model: str, test_patients=()) -> None:
    """Guard: validation and fit patients are disjoint training patients, none of them a test patient."""
    fit, val, train, test = set(fit_patients), set(val_patients), set(train_patients), set(test_patients)
    problems = []
    if fit & val:
        problems.append(f"{len(fit & val)} patient(s) both fitted and validated on, e.g. {sorted(fit & val)[:3]}")
    if not val <= train:
        problems.append(f"{len(val - train)} validation patient(s) not among the training patients, "
                        f"e.g. {sorted(val - train)[:3]}")
    if not fit <= train:
        problems.append(f"{len(fit - train)} fit patient(s) not among the training patients, e.g. {sorted(fit - train)[:3]}")
    if (fit | val) & test:
        problems.append(f"{len((fit | val) & test)} test patient(s) used in training, e.g. {sorted((fit | val) & test)[:3]}")
    if not val:
        problems.append("no validation patients")
    if problems:
        raise DeepTrainingError(f"model {model}: invalid patient-wise validation split: " + "; ".join(problems))


def crop_window(n_window: int, fs: float, pre_ms: float, crop_ms, model: str, min_samples: int = 0) -> slice:
    """Samples of a beat window (R at ``pre_ms``) that fall in ``crop_ms`` = (start, end) ms relative to R.

    The crop is clipped to the window. A crop shorter than ``min_samples`` (what the model needs: the
    TCN's receptive field, the CNNs' pooling; in samples before decimation) is widened evenly about its
    centre, so that e.g. a 500 Hz recording still feeds the TCN. A crop that does not overlap the
    window is a :class:`DeepTrainingError`.

    Examples
    --------
    >>> crop_window(400, 1000.0, 150.0, (-60.0, 90.0), "cnn")
    slice(90, 240, None)
    >>> crop_window(200, 500.0, 150.0, (-60.0, 90.0), "tcn", min_samples=125)   # 75 samples widened to 125
    slice(20, 145, None)
    """
    start = int(round((pre_ms + float(crop_ms[0])) * fs / 1000.0))
    stop = int(round((pre_ms + float(crop_ms[1])) * fs / 1000.0))
    if stop <= 0 or start >= n_window:
        raise DeepTrainingError(f"model {model}: hf_crop_ms={tuple(crop_ms)} lies outside the {n_window}-sample beat "
                                f"window (R at {pre_ms:g} ms, fs {fs:g} Hz); choose a crop around R or set it empty")
    missing = int(min_samples) - (stop - start)
    if missing > 0:
        start, stop = start - missing // 2, stop + missing - missing // 2
        shift = max(0, -start) - max(0, stop - n_window)   # slide back inside the window where possible
        start, stop = start + shift, stop + shift
    return slice(max(0, start), min(int(n_window), stop))


def decimate_beats(X: np.ndarray, factor: int) -> np.ndarray:
    """Average consecutive blocks of ``factor`` samples (boxcar anti-alias) along time; drops a ragged tail."""
    if factor == 1:
        return X
    n = (X.shape[1] // factor) * factor
    return X[:, :n].reshape(X.shape[0], n // factor, factor, X.shape[2]).mean(axis=2, dtype=np.float32)


class BeatScaler:
    """Input scaling.

    - ``lead_zscore``: per-lead mean/std fitted on training beats.
    - ``beat_robust``: per beat and lead, median/IQR (no cross-patient statistics; lead amplitudes lost).
    - ``beat_energy``: each beat divided by its RMS over time and all leads, then per-lead z-scored with
      training statistics. Keeps how the leads compare within the beat (a regional HF-QRS reduction)
      while removing the patient's overall amplitude, which varies several-fold between patients.
    """

    def __init__(self, method: str):
        self.method = method

    @staticmethod
    def _energy(X: np.ndarray) -> np.ndarray:
        rms = np.sqrt(np.mean(np.square(X, dtype=np.float32), axis=(1, 2), keepdims=True))
        return X / np.where(rms > 0, rms, 1.0)

    def fit(self, X: np.ndarray) -> "BeatScaler":
        if self.method == "beat_energy":
            X = self._energy(X)
        if self.method in ("lead_zscore", "beat_energy"):
            self.mean_ = X.mean(axis=(0, 1), dtype=np.float64).astype(np.float32)
            std = X.std(axis=(0, 1), dtype=np.float64)
            self.std_ = np.where(std > 0, std, 1.0).astype(np.float32)
        return self

    def transform(self, X: np.ndarray) -> np.ndarray:
        if self.method == "beat_energy":
            X = self._energy(X)
        if self.method in ("lead_zscore", "beat_energy"):
            return ((X - self.mean_) / self.std_).astype(np.float32)
        med = np.median(X, axis=1, keepdims=True)
        q75, q25 = np.percentile(X, [75, 25], axis=1, keepdims=True)
        iqr = q75 - q25
        return ((X - med) / np.where(iqr > 0, iqr, 1.0)).astype(np.float32)


# ----------------------------------------------------------------------------- training
