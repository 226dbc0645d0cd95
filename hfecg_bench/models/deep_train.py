"""Training loop of the deep models, patient-wise from end to end.

One call of :func:`fit_predict_deep` does, using ``train_patients`` only:

1. hold out a stratified fraction of the training patients as the validation
   set for early stopping / ReduceLROnPlateau (never a test patient; guarded);
2. cap the beats per fit/validation patient at a seeded random subset;
3. crop the 150-250 Hz view to the QRS (``hf_crop_ms``), optionally decimate,
   then scale (per-lead z-score from the fit patients' capped beats, or
   per-beat scaling), the same for fit, validation and predicted beats;
4. train with class-weighted binary cross-entropy (weights from the fit beats),
   Adam, early stopping (best weights restored), ReduceLROnPlateau,
   TerminateOnNaN plus a check that raises :class:`NaNLossError`;
5. predict every beat of the test and training patients and aggregate per
   patient (:func:`hfecg_bench.evaluation.metrics.aggregate_patient_probs`).

Importing this module imports Keras, hence TensorFlow, which is why
:mod:`hfecg_bench.models.deep` imports it only inside ``fit_predict``.
:func:`fit_predict_deep` calls :func:`hfecg_bench.runtime.configure_tensorflow`
(threads, op determinism, once) before TensorFlow runs anything.
"""
from __future__ import annotations

import time
from dataclasses import replace

import keras
import numpy as np
import pandas as pd

from hfecg_bench.bands import HF_BAND_HZ
from hfecg_bench.beats.beatset import cap_beats
from hfecg_bench.errors import HfecgError, TrialFailedError
from hfecg_bench.evaluation.metrics import aggregate_patient_probs
from hfecg_bench.models import deep_arch
from hfecg_bench.models.base import FitResult
from hfecg_bench.models.deep_config import DeepConfig
from hfecg_bench.models.deep_data import BeatPool, SampleMaker, capped_rows, log_envelope
from hfecg_bench.runtime import configure_tensorflow


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

def _input_window(name: str, beats, config: DeepConfig, params: dict, n_window: int) -> tuple[slice, slice | None]:
    """(samples of the beat window fed to the model, the QRS part of them for ``shallow_hf``'s pooling).

    The HF views are cropped to ``hf_crop_ms`` around R, except for ``shallow_hf``: it sees the whole
    window and pools its HF energy over the crop (the QRS) and over the rest (the noise reference).
    """
    if not config.hf_crop_ms or (config.view == "beats_wideband" and name != "shallow_hf"):
        return slice(None), None
    pre_ms = beats.info.get("beat_config", {}).get("pre_ms")
    if pre_ms is None:
        raise DeepTrainingError(f"model {name}: the beats carry no R position (info['beat_config']['pre_ms']) "
                                "to crop the QRS by; set deep.hf_crop_ms empty to use the whole window")
    need = max(MIN_INPUT_SAMPLES, deep_arch.receptive_field(params) if name == "tcn" else 0)
    crop = crop_window(n_window, float(beats.fs), float(pre_ms), config.hf_crop_ms, name,
                       min_samples=need * config.decimate)
    if name != "shallow_hf":
        return crop, None
    d = config.decimate  # the QRS span in samples of the decimated whole window
    return slice(None), slice(crop.start // d, -(-crop.stop // d))


def _compile(name: str, input_shape, params: dict, config: DeepConfig, seed: int, lead_names):
    configure_tensorflow()  # before TensorFlow runs anything: thread counts are fixed at its first op
    keras.backend.clear_session()
    keras.utils.set_random_seed(int(seed))
    model = deep_arch.build_model(name, input_shape, params, lead_names=lead_names, mil=config.mil)
    model.compile(optimizer=keras.optimizers.Adam(learning_rate=float(params["lr"])),
                  loss="binary_crossentropy", metrics=[keras.metrics.AUC(name="auc")],
                  jit_compile=bool(config.jit_compile))
    return model


def _callbacks(config: DeepConfig) -> list:
    mode = "min" if config.monitor == "val_loss" else "max"
    return [_HistoryRecorder(), _NaNGuard(),
            keras.callbacks.EarlyStopping(monitor=config.monitor, mode=mode, patience=config.patience,
                                          restore_best_weights=True),
            keras.callbacks.ReduceLROnPlateau(monitor=config.monitor, mode=mode, factor=config.lr_factor,
                                              patience=config.lr_patience, min_lr=config.min_lr)]


def _check_history(name: str, callbacks, params: dict) -> pd.DataFrame:
    recorder, nan_guard = callbacks[0], callbacks[1]
    history = recorder.frame()
    if nan_guard.nan_epoch is not None or not np.isfinite(history["loss"].to_numpy(dtype=float)).all():
        epoch = nan_guard.nan_epoch if nan_guard.nan_epoch is not None else int(
            history["epoch"][~np.isfinite(history["loss"].to_numpy(dtype=float))].iloc[0])
        keras.backend.clear_session()
        raise NaNLossError(f"model {name}: training loss became NaN/inf at epoch {epoch} "
                           f"(lr={params['lr']:g}, batch_size={params['batch_size']}); trial failed")
    return history


def _scale(scaler: BeatScaler, X: np.ndarray) -> np.ndarray:
    """Scale samples ``(n, T, L)`` or bags ``(n, B, T, L)`` (the scaler sees instances)."""
    if X.ndim == 3:
        return scaler.transform(X)
    return scaler.transform(X.reshape((-1,) + X.shape[2:])).reshape(X.shape)


def fit_predict_deep(name: str, beats, train_patients, test_patients, params: dict, seed: int,
                     config: DeepConfig) -> FitResult:
    """Fit deep model ``name`` on the beats of ``train_patients`` and return patient-level probabilities."""
    if beats is None:
        raise DeepTrainingError(f"model {name}: no beats were given (view {config.view} is needed)")
    t0 = time.perf_counter()
    train = [str(p) for p in train_patients]
    test = [str(p) for p in test_patients]
    overlap = set(train) & set(test)
    if overlap:
        raise DeepTrainingError(f"model {name}: {len(overlap)} patient(s) are in both train and test, "
                                f"e.g. {sorted(overlap)[:3]}")
    pids = np.asarray(beats.patient_ids).astype(str)
    X_all = np.asarray(beats.X)
    if X_all.ndim != 3:
        raise DeepTrainingError(f"model {name}: beats.X must be (n_beats, n_window, n_leads), got shape {X_all.shape}")
    config.check_decimation(float(beats.fs), name, beats.info.get("hf_band") or HF_BAND_HZ)  # None: wideband
    if config.view == "beats_wideband" and config.input_transform != "none":  # an envelope is an HF-view input
        config = replace(config, input_transform="none")
    labels = patient_labels(pids, beats.labels, train, name)
    patient_labels(pids, np.zeros(len(pids), dtype=int), test, name)  # every test patient has beats

    split_rng, cap_rng = (np.random.default_rng(s) for s in np.random.SeedSequence(int(seed)).spawn(2))
    fit_p, val_p = split_validation(labels, config.val_fraction, split_rng, config.min_patients_per_class, name)
    check_validation_split(fit_p, val_p, train, name, test_patients=test)
    window, qrs = _input_window(name, beats, config, params, X_all.shape[1])
    if qrs is not None:
        params = {**params, "qrs_window": [qrs.start, qrs.stop]}
    # one gather of just the cropped samples (not whole windows copied, then sliced)
    prep = lambda rows: decimate_beats(np.asarray(X_all[rows, window], dtype=np.float32), config.decimate)  # noqa: E731
    if config.input_transform != "none" and not config.resampled:  # single beats: transform each one as it is cut
        cut, fs = prep, float(beats.fs) / config.decimate
        prep = lambda rows: log_envelope(cut(rows), fs, config.envelope_ms)  # noqa: E731
    fit = _fit_resampled if config.resampled else _fit_fixed
    model, history, scaler, predict, extra = fit(name, beats, pids, prep, labels, fit_p, val_p, cap_rng, params,
                                                 int(seed), config)
    test_prob, train_prob = predict(test), predict(train)
    es = extra.pop("early_stopping")
    info = {
        "history": history,
        "epochs_run": int(len(history)),
        "best_epoch": int(es.best_epoch) + 1 if es.best_weights is not None else int(len(history)),
        "n_params": deep_arch.count_params(model),
        "n_fit_patients": len(fit_p), "n_val_patients": len(val_p), "val_patients": list(val_p),
        **extra,
        "view": config.view, "scaling": config.scaling,
        "window_samples": [window.start, window.stop],
        "aggregation": config.aggregation, "total_seconds": time.perf_counter() - t0, "seed": int(seed),
    }
    if config.resampled:  # the settings that drew the samples and augmentations, per fit
        info["config"] = {k: v for k, v in config.as_dict().items() if k.startswith(("avg_", "augment_", "mil"))}
    if qrs is not None:
        info["qrs_window"] = [qrs.start, qrs.stop]
    if name == "tcn":
        info["receptive_field"] = deep_arch.receptive_field(params)
    keras.backend.clear_session()
    return FitResult(test_prob=test_prob.rename("prob"), train_prob=train_prob.rename("prob"), info=info)


def _fit_fixed(name, beats, pids, prep, labels, fit_p, val_p, cap_rng, params, seed, config):
    """Single beats, no augmentation: the fixed patient-capped beats, fitted from arrays."""
    rows_fit = cap_beats(np.flatnonzero(np.isin(pids, fit_p)), pids, config.max_beats_per_patient, cap_rng)
    rows_val = cap_beats(np.flatnonzero(np.isin(pids, val_p)), pids, config.max_beats_per_patient, cap_rng)
    X_fit, X_val = prep(rows_fit), prep(rows_val)
    y_fit = labels.reindex(pids[rows_fit]).to_numpy().astype(np.float32)
    y_val = labels.reindex(pids[rows_val]).to_numpy().astype(np.float32)
    scaler = BeatScaler(config.scaling).fit(X_fit)
    X_fit, X_val = scaler.transform(X_fit), scaler.transform(X_val)
    if not (np.isfinite(X_fit).all() and np.isfinite(X_val).all()):
        raise DeepTrainingError(f"model {name}: non-finite values in the training beats after scaling")
    n_pos = float(y_fit.sum())
    class_weight = {0: len(y_fit) / (2.0 * (len(y_fit) - n_pos)), 1: len(y_fit) / (2.0 * n_pos)}
    model = _compile(name, X_fit.shape[1:], params, config, seed, beats.lead_names)
    callbacks = _callbacks(config)
    t_fit = time.perf_counter()
    model.fit(X_fit, y_fit, validation_data=(X_val, y_val), epochs=config.max_epochs,
              batch_size=int(params["batch_size"]), class_weight=class_weight, shuffle=True,
              callbacks=callbacks, verbose=config.verbose)
    fit_seconds = time.perf_counter() - t_fit
    history = _check_history(name, callbacks, params)

    def predict(patients: list[str]) -> pd.Series:
        rows = np.flatnonzero(np.isin(pids, patients))
        probs = np.empty(rows.size, dtype=np.float64)
        step = 8192  # bound the memory of the scaled copy
        for i in range(0, rows.size, step):
            Xb = scaler.transform(prep(rows[i:i + step]))
            probs[i:i + step] = model.predict(Xb, batch_size=config.predict_batch_size, verbose=0).ravel()
        if not np.isfinite(probs).all():
            raise NaNLossError(f"model {name}: non-finite predicted probabilities; trial failed")
        return aggregate_patient_probs(probs, pids[rows], config.aggregation, config.trim).reindex(patients)

    extra = {"input_shape": tuple(int(s) for s in X_fit.shape[1:]), "n_fit_beats": int(len(rows_fit)),
             "n_val_beats": int(len(rows_val)), "class_weight": class_weight, "fit_seconds": fit_seconds,
             "early_stopping": callbacks[2]}
    return model, history, scaler, predict, extra


class _EpochSamples(keras.utils.PyDataset):
    """Training samples drawn afresh every epoch (:meth:`SampleMaker.train_epoch`), scaled, in batches.

    Epoch ``e``'s samples are a function of the fit seed and ``e`` only, so the fit is deterministic.
    """

    def __init__(self, maker: SampleMaker, pool: BeatPool, labels: dict, scaler: BeatScaler, batch_size: int):
        super().__init__()
        self.maker, self.pool, self.labels, self.scaler = maker, pool, labels, scaler
        self.batch_size = int(batch_size)
        self.epoch, self._built = 0, None
        self._data = self._make()
        self.n_samples = len(self._data[1])

    def _make(self):
        X, y, w = self.maker.train_epoch(self.pool, self.labels, self.epoch)
        self._built = self.epoch
        return _scale(self.scaler, X), y, w

    @property
    def num_batches(self) -> int:
        return -(-self.n_samples // self.batch_size)

    def __getitem__(self, i):
        if self._built != self.epoch:
            self._data = self._make()
        sl = slice(i * self.batch_size, (i + 1) * self.batch_size)
        return tuple(a[sl] for a in self._data)

    def on_epoch_end(self):
        self.epoch += 1


def _fit_resampled(name, beats, pids, prep, labels, fit_p, val_p, cap_rng, params, seed, config):
    """Subset averages, augmentation or bags: samples redrawn every epoch (:mod:`~hfecg_bench.models.deep_data`)."""
    pool_of = lambda patients: BeatPool(X=prep(np.flatnonzero(np.isin(pids, patients))),  # noqa: E731
                                        patients=pids[np.isin(pids, patients)],
                                        records=np.asarray(beats.record_ids).astype(str)[np.isin(pids, patients)],
                                        fs=float(beats.fs) / config.decimate)
    fit_pool, val_pool = pool_of(fit_p), pool_of(val_p)
    single = config.view != "beats_avg"
    cap = capped_rows(fit_pool, config.max_beats_per_patient, cap_rng) if single else None
    maker = SampleMaker(config, seed, cap_rows=cap)
    if single and config.mil == "none":   # single beats: the capped beats, as without augmentation
        ref = maker.finish(fit_pool.X[cap], fit_pool.fs)
        val_rows = capped_rows(val_pool, config.max_beats_per_patient, cap_rng)
        X_val, val_owner = maker.finish(val_pool.X[val_rows], val_pool.fs), val_pool.patients[val_rows]
    else:
        ref, _ = maker.eval_samples(fit_pool, fit_p, stream=1)
        X_val, val_owner = maker.eval_samples(val_pool, val_p, stream=2)
    scaler = BeatScaler(config.scaling).fit(ref.reshape((-1,) + ref.shape[-2:]))
    X_val = _scale(scaler, X_val)
    y_val = labels.reindex(val_owner).to_numpy().astype(np.float32)
    lab = {str(k): int(v) for k, v in labels.items()}
    data = _EpochSamples(maker, fit_pool, lab, scaler, int(params["batch_size"]) // (
        int(config.mil_bag) if config.mil != "none" else 1) or 1)
    if not (np.isfinite(data._data[0]).all() and np.isfinite(X_val).all()):
        raise DeepTrainingError(f"model {name}: non-finite values in the training samples after scaling")
    model = _compile(name, data._data[0].shape[1:], params, config, seed, beats.lead_names)
    callbacks = _callbacks(config)
    t_fit = time.perf_counter()
    model.fit(data, validation_data=(X_val, y_val), epochs=config.max_epochs, shuffle=False,
              callbacks=callbacks, verbose=config.verbose)
    fit_seconds = time.perf_counter() - t_fit
    history = _check_history(name, callbacks, params)

    def predict(patients: list[str]) -> pd.Series:
        parts, owners = [], []
        for i in range(0, len(patients), 64):  # bound the memory of the beats held at once
            chunk = patients[i:i + 64]
            X, owner = maker.eval_samples(pool_of(chunk), chunk, stream=3)
            parts.append(_scale(scaler, X))
            owners.append(owner)
        # one predict call: every new batch shape would trace the predict function again
        probs = model.predict(np.concatenate(parts), batch_size=config.predict_batch_size, verbose=0).ravel()
        probs = probs.astype(np.float64)
        if not np.isfinite(probs).all():
            raise NaNLossError(f"model {name}: non-finite predicted probabilities; trial failed")
        return aggregate_patient_probs(probs, np.concatenate(owners), config.aggregation,
                                       config.trim).reindex(patients)

    extra = {"input_shape": tuple(int(s) for s in data._data[0].shape[1:]), "n_fit_samples": data.n_samples,
             "n_val_samples": int(len(y_val)), "fit_seconds": fit_seconds, "early_stopping": callbacks[2]}
    return model, history, scaler, predict, extra


class _HistoryRecorder(keras.callbacks.Callback):
    """Per-epoch loss/AUROC on fit and validation patients, plus the learning rate used in that epoch."""

    def __init__(self):
        super().__init__()
        self.rows: list[dict] = []
        self._lr = float("nan")

    def on_epoch_begin(self, epoch, logs=None):
        self._lr = float(keras.ops.convert_to_numpy(self.model.optimizer.learning_rate))
        self._t0 = time.perf_counter()

    def on_epoch_end(self, epoch, logs=None):
        logs = logs or {}
        self.rows.append({"epoch": epoch + 1, **{k: float(logs.get(k, np.nan)) for k in
                                                  ("loss", "auc", "val_loss", "val_auc")}, "lr": self._lr,
                          "seconds": time.perf_counter() - self._t0})

    def frame(self) -> pd.DataFrame:
        return pd.DataFrame(self.rows, columns=["epoch", "loss", "auc", "val_loss", "val_auc", "lr", "seconds"])


class _NaNGuard(keras.callbacks.TerminateOnNaN):
    """TerminateOnNaN that remembers the (1-based) epoch at which the loss went non-finite."""

    def __init__(self):
        super().__init__()
        self.nan_epoch = None
        self._epoch = 0

    def on_epoch_begin(self, epoch, logs=None):
        self._epoch = epoch + 1

    def on_batch_end(self, batch, logs=None):
        loss = (logs or {}).get("loss")
        if loss is not None and not np.isfinite(float(loss)) and self.nan_epoch is None:
            self.nan_epoch = self._epoch
        super().on_batch_end(batch, logs)
