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
from hfecg_bench.evaluation.metrics import aggregate_patient_probs
from hfecg_bench.models import deep_arch
from hfecg_bench.models.base import FitResult
from hfecg_bench.models.deep_config import DeepConfig
from hfecg_bench.models.deep_data import BeatPool, SampleMaker, capped_rows, transform_input
from hfecg_bench.models.deep_prep import (  # noqa: F401 (public here too)
    MIN_INPUT_SAMPLES, BeatScaler, DeepTrainingError, NaNLossError, check_validation_split, crop_window, decimate_beats,
    patient_labels, split_validation)
from hfecg_bench.runtime import configure_tensorflow


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
        prep = lambda rows: transform_input(cut(rows), fs, config.input_transform, config.envelope_ms,  # noqa: E731
                                            beats.lead_names)
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
        "input_transform": config.input_transform, "envelope_ms": config.envelope_ms,
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
    maker = SampleMaker(config, seed, cap_rows=cap, lead_names=beats.lead_names)
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
