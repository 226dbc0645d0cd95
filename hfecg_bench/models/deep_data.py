"""The samples a deep model trains and is scored on: single beats, subset averages or bags of them.

A :class:`SampleMaker` turns a :class:`BeatPool` (the cropped, decimated beats of some patients) into

- **training samples for one epoch** (:meth:`SampleMaker.train_epoch`): for ``view = "beats_avg"``,
  ``avg_k`` averages of ``avg_m`` randomly drawn beats per patient, redrawn every epoch; for the single-beat
  views, the patient-capped beats; with ``mil``, ``mil_bags`` bags of ``mil_bag`` such instances per
  patient; then the training augmentations. Sample weights balance the classes.
- **scoring samples** (:meth:`SampleMaker.eval_samples`): the same kind of sample without augmentation, a
  fixed draw per call (``avg_eval_k`` averages or bags per patient; every beat for single beats), each
  tagged with its patient so that probabilities are aggregated per patient.

Every draw comes from a generator derived from the fit seed and the epoch, so the same seed gives the
same samples. Pure numpy (no TensorFlow).

Examples
--------
>>> import numpy as np
>>> from hfecg_bench.models.deep_config import DeepConfig
>>> pids = np.repeat(np.array(["a", "b", "c"]), 12)
>>> pool = BeatPool(X=np.zeros((36, 20, 2), np.float32), patients=pids, records=pids, fs=1000.0)
>>> maker = SampleMaker(DeepConfig(view="beats_avg", avg_k=5, avg_m=4, avg_eval_k=3, input_transform="none"), seed=0)
>>> X, y, w = maker.train_epoch(pool, {"a": 0, "b": 1, "c": 1}, epoch=0)
>>> X.shape, y.tolist().count(1), float(w[y == 0][0]) / float(w[y == 1][0])
((15, 20, 2), 10, 2.0)
>>> Xe, owner = maker.eval_samples(pool, ["b", "c"])
>>> Xe.shape, sorted(set(owner.tolist()))
((6, 20, 2), ['b', 'c'])
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.ndimage import uniform_filter1d

from hfecg_bench.beats.beatset import cap_beats
from hfecg_bench.beats.subsets import beat_noise_level, draw_subsets, subset_average
from hfecg_bench.errors import ParameterError
from hfecg_bench.leads import territory_contrast_weights
from hfecg_bench.models.augment import Augmentations, augment

#: Child streams of the fit seed: 0 and 1 are the validation split and the beat cap (deep_train).
_TRAIN_STREAM, _EVAL_STREAM = 2, 3


@dataclass
class BeatPool:
    """Beats of some patients, cropped and decimated as the model sees them (unscaled, mV).

    Attributes
    ----------
    X : ndarray of float32, (n_beats, n_window, n_leads)
    patients, records : ndarray of str, (n_beats,)
    fs : float
        Sampling rate of ``X`` in Hz (after decimation).
    noise : ndarray of float32, (n_beats, n_leads), optional
        Each beat's record noise level per lead (:func:`~hfecg_bench.beats.subsets.beat_noise_level`),
        measured on demand.
    """

    X: np.ndarray
    patients: np.ndarray
    records: np.ndarray
    fs: float
    noise: np.ndarray | None = None

    def select(self, patients) -> "BeatPool":
        """The beats of ``patients`` (a view of the same arrays' rows)."""
        rows = np.flatnonzero(np.isin(self.patients, np.asarray(list(patients), dtype=str)))
        return BeatPool(X=self.X[rows], patients=self.patients[rows], records=self.records[rows], fs=self.fs,
                        noise=None if self.noise is None else self.noise[rows])

    def noise_level(self) -> np.ndarray:
        if self.noise is None:
            self.noise = beat_noise_level(self.X, self.records)
        return self.noise


def class_weights(y: np.ndarray) -> np.ndarray:
    """Per-sample weights ``n / (2 n_class)``: both classes weigh the same in the loss."""
    y = np.asarray(y).astype(int)
    n_pos = float(y.sum())
    w = {0: y.size / (2.0 * (y.size - n_pos)), 1: y.size / (2.0 * n_pos)}
    return np.where(y == 1, w[1], w[0]).astype(np.float32)


def log_envelope(X: np.ndarray, fs: float, window_ms: float) -> np.ndarray:
    """Per-lead log10 moving-RMS envelope of samples ``(..., n_window, n_leads)`` (mV in, log10 uV out).

    Examples
    --------
    >>> t = np.arange(200) / 1000.0
    >>> x = (0.004 * np.sin(2 * np.pi * 200 * t))[None, :, None].astype(np.float32)   # 4 uV amplitude
    >>> round(float(10 ** log_envelope(x, 1000.0, 10.0)[0, 100, 0]), 2)               # RMS 4 / sqrt(2)
    2.83
    """
    width = max(1, int(round(float(window_ms) * float(fs) / 1000.0)))
    power = uniform_filter1d(np.square(np.asarray(X, dtype=np.float32)), width, axis=-2, mode="nearest")
    return np.log10(np.sqrt(np.maximum(power, 0.0)) * 1000.0 + 1e-3).astype(np.float32)


def transform_input(X: np.ndarray, fs: float, method: str, window_ms: float = 10.0, lead_names=None) -> np.ndarray:
    """The input transform of the generic networks (``DeepConfig.input_transform``) of samples
    ``(..., n_window, n_leads)`` in mV.

    - ``none``: ``X`` itself;
    - ``envelope``: :func:`log_envelope` (log10 uV), ``(..., n_window, n_leads)``;
    - ``envelope_rel``: the log envelope minus its mean over the leads at each time step, so a factor
      common to every lead of a sample (the record's noise level, the patient's overall HF-QRS amplitude)
      cancels and what is left is how the leads compare; ``(..., n_window, n_leads)``;
    - ``territory``: each coronary territory's mean log envelope minus that of the other leads
      (:func:`hfecg_bench.leads.territory_contrast_weights`; needs ``lead_names``), ``(..., n_window, n_territories)``.

    Examples
    --------
    >>> t = np.arange(100) / 1000.0
    >>> hf = np.sin(2 * np.pi * 200 * t)[None, :, None] * np.array([1.0, 1.0, 0.5, 0.5]) * 0.004
    >>> rel = transform_input(hf.astype(np.float32), 1000.0, "envelope_rel")
    >>> np.allclose(rel, transform_input(3 * hf.astype(np.float32), 1000.0, "envelope_rel"), atol=1e-4)  # gain cancels
    True
    >>> terr = transform_input(hf.astype(np.float32), 1000.0, "territory", lead_names=["I", "aVL", "V1", "V2"])
    >>> terr.shape, round(float(terr[0, 50, 0]), 2)          # anterior (V1, V2) at half the lateral HF RMS
    ((1, 100, 2), -0.3)
    """
    if method == "none":
        return X
    E = log_envelope(X, fs, window_ms)
    if method == "envelope":
        return E
    if method == "envelope_rel":
        return E - E.mean(axis=-1, keepdims=True)
    if method == "territory":
        weights = territory_contrast_weights(lead_names if lead_names is not None else [])
        if not weights.shape[1] or weights.shape[0] != E.shape[-1]:
            raise ParameterError("deep.input_transform", method, f"needs leads in at least one coronary territory; "
                                 f"got lead names {None if lead_names is None else list(lead_names)}")
        return (E @ weights).astype(np.float32)
    raise ParameterError("deep.input_transform", method, "must be one of none, envelope, envelope_rel, territory")


class SampleMaker:
    """Training and scoring samples of one fit (see the module docstring).

    Parameters
    ----------
    config : DeepConfig
    seed : int
        The fit seed; epoch ``e`` draws from child ``(train stream, e)`` of it, scoring from the eval stream.
    cap_rows : ndarray of int, optional
        Single-beat views: rows of the pool used for training (the patient-capped beats); default all.
    lead_names : sequence of str, optional
        Names of the pool's leads (``input_transform = "territory"`` places them in coronary territories).
    """

    def __init__(self, config, seed: int, cap_rows: np.ndarray | None = None, lead_names=None):
        self.config = config
        self.lead_names = lead_names
        self.seed = int(seed)
        self.aug = Augmentations.from_config(config)
        self.averaged = config.view == "beats_avg"
        self.bags = config.mil != "none"
        self.cap_rows = cap_rows

    def finish(self, X: np.ndarray, fs: float) -> np.ndarray:
        """The input transform (``input_transform``), last: after averaging and augmentation."""
        return transform_input(X, fs, self.config.input_transform, self.config.envelope_ms, self.lead_names)

    def _rng(self, *key: int) -> np.random.Generator:
        return np.random.default_rng(np.random.SeedSequence(self.seed, spawn_key=tuple(int(k) for k in key)))

    # -- instances: one per (patient, draw): an average of m beats, or one beat -------------------------
    def _instances(self, pool: BeatPool, k: int, rng: np.random.Generator, rows=None):
        """``k`` instances per patient: (X, patients, first beat of each, noise scale 1/sqrt(beats in each))."""
        m = int(self.config.avg_m) if self.averaged else 1
        draw = draw_subsets(pool.patients, k, m, rng, rows=rows)
        X = subset_average(pool.X, draw) if m > 1 else pool.X[draw.rows[:, 0]]
        first = draw.rows[:, 0]
        return X, draw.patients, first, 1.0 / np.sqrt(draw.sizes)

    def _augment(self, X, patients, pool: BeatPool, first, scale, rng) -> np.ndarray:
        if not self.aug.active:
            return X
        level = pool.noise_level()[first] * scale[:, None].astype(np.float32) if self.aug.noise > 0 else None
        return augment(X, rng, self.aug, fs=pool.fs, patients=patients, noise_level=level)

    def train_epoch(self, pool: BeatPool, labels, epoch: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(X, y, sample_weight) of training epoch ``epoch`` (0-based), shuffled.

        ``labels`` maps patient id -> 0/1. ``X`` is ``(n, n_window, n_leads)``, or ``(n_bags, mil_bag,
        n_window, n_leads)`` with ``mil``.
        """
        cfg, rng = self.config, self._rng(_TRAIN_STREAM, epoch)
        if self.bags:
            n_bag, bag = int(cfg.mil_bags), int(cfg.mil_bag)
            X, pats, first, scale = self._instances(pool, n_bag * bag, rng, rows=self.cap_rows)
            X = self._augment(X, pats, pool, first, scale, rng)
            X = X.reshape((-1, bag) + X.shape[1:])                 # consecutive instances share a patient
            pats = pats[::bag]
        elif self.averaged:
            X, pats, first, scale = self._instances(pool, int(cfg.avg_k), rng)
            X = self._augment(X, pats, pool, first, scale, rng)
        else:
            rows = np.arange(len(pool.patients)) if self.cap_rows is None else self.cap_rows
            X, pats = pool.X[rows], pool.patients[rows]
            X = self._augment(X, pats, pool, rows, np.ones(rows.size), rng)
        keys = np.asarray(list(labels))
        order = np.argsort(keys)
        at = np.minimum(np.searchsorted(keys[order], pats), len(keys) - 1)     # one vectorised lookup per epoch
        if not np.array_equal(keys[order][at], pats):
            raise KeyError(f"samples of patients without a label, e.g. {pats[keys[order][at] != pats][:3]}")
        y = np.asarray(list(labels.values()), dtype=np.float32)[order][at]
        order = rng.permutation(len(y))
        return self.finish(X, pool.fs)[order], y[order], class_weights(y)[order]

    def eval_samples(self, pool: BeatPool, patients, stream: int = 0) -> tuple[np.ndarray, np.ndarray]:
        """(X, patient of each sample) scoring ``patients``: no augmentation, a fixed draw per ``stream``.

        Single-beat views without ``mil`` score every beat of each patient.
        """
        sub = pool.select(patients)
        if not (self.averaged or self.bags):
            return self.finish(sub.X, pool.fs), sub.patients
        rng = self._rng(_EVAL_STREAM, stream)
        k = int(self.config.avg_eval_k)
        if self.bags:
            bag = int(self.config.mil_bag)
            X, pats, _, _ = self._instances(sub, k * bag, rng)
            return self.finish(X.reshape((-1, bag) + X.shape[1:]), pool.fs), pats[::bag]
        X, pats, _, _ = self._instances(sub, k, rng)
        return self.finish(X, pool.fs), pats


def capped_rows(pool: BeatPool, cap: int, rng: np.random.Generator) -> np.ndarray:
    """Rows of ``pool`` kept by the per-patient beat cap (:func:`~hfecg_bench.beats.beatset.cap_beats`)."""
    return cap_beats(np.arange(len(pool.patients)), pool.patients, int(cap), rng)
