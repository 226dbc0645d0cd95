"""Training-only augmentations of beat samples, each a small vectorised transform with its own strength.

In the manner of braindecode's transforms: every augmentation is off at strength 0, is drawn afresh for
every sample of every epoch from the fit's seeded generator, and is never applied to validation, test or
scored training samples. The strengths live in :class:`~hfecg_bench.models.deep_config.DeepConfig`
(fields ``augment_*``, recorded in the manifest), which also states their bounds.

Order of application: beat mixing within a patient, amplitude jitter, time jitter, additive noise,
lead dropout (so that dropped leads stay exactly zero).

Examples
--------
>>> import numpy as np
>>> rng = np.random.default_rng(0)
>>> X = np.ones((4, 50, 3), np.float32)
>>> aug = Augmentations(amplitude=0.1, lead_dropout=0.3)
>>> Y = augment(X, rng, aug, fs=1000.0, patients=np.array(["a", "a", "b", "b"]))
>>> Y.shape, Y.dtype, bool(np.all((Y == 0) | ((Y >= 0.9) & (Y <= 1.1)))), bool((np.abs(Y).sum(axis=1) > 0).any(axis=1).all())
((4, 50, 3), dtype('float32'), True, True)
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from hfecg_bench.beats.align import fractional_shift


@dataclass(frozen=True)
class Augmentations:
    """Strengths of the training augmentations (0 = off); see ``DeepConfig.augment_*`` for bounds and units."""

    jitter_ms: float = 0.0
    noise: float = 0.0
    lead_dropout: float = 0.0
    amplitude: float = 0.0
    mix: float = 0.0

    @classmethod
    def from_config(cls, config) -> "Augmentations":
        """The augmentations of a :class:`~hfecg_bench.models.deep_config.DeepConfig`."""
        return cls(jitter_ms=float(config.augment_jitter_ms), noise=float(config.augment_noise),
                   lead_dropout=float(config.augment_lead_dropout), amplitude=float(config.augment_amplitude),
                   mix=float(config.augment_mix))

    @property
    def active(self) -> bool:
        return any(v > 0 for v in (self.jitter_ms, self.noise, self.lead_dropout, self.amplitude, self.mix))


def mix_within_patient(X: np.ndarray, patients: np.ndarray, prob: float, rng: np.random.Generator) -> np.ndarray:
    """Replace a fraction ``prob`` of samples by ``l * x + (1 - l) * x'``, ``x'`` a random sample of the same
    patient, ``l ~ U(0, 1)``; a patient's label is shared by its samples, so labels are unchanged.

    Examples
    --------
    >>> X = np.array([0.0, 1.0, 10.0, 20.0], np.float32)[:, None, None]
    >>> Y = mix_within_patient(X, np.array(["a", "a", "b", "b"]), 1.0, np.random.default_rng(1))
    >>> bool(np.all((Y[:2] >= 0) & (Y[:2] <= 1)) and np.all((Y[2:] >= 10) & (Y[2:] <= 20)))
    True
    """
    n = X.shape[0]
    order = np.argsort(patients, kind="stable")
    _, start, count = np.unique(patients[order], return_index=True, return_counts=True)
    group = np.empty(n, dtype=np.int64)
    group[order] = np.repeat(np.arange(start.size), count)
    partner = order[start[group] + np.floor(rng.random(n) * count[group]).astype(np.int64)]
    lam = rng.random(n).astype(np.float32)
    lam[rng.random(n) >= prob] = 1.0                       # not mixed
    return lam[:, None, None] * X + (1.0 - lam)[:, None, None] * X[partner]


def augment(X: np.ndarray, rng: np.random.Generator, aug: Augmentations, *, fs: float, patients: np.ndarray,
            noise_level: np.ndarray | None = None) -> np.ndarray:
    """One augmented copy of training samples ``X`` (float32 ``(n, n_window, n_leads)``, mV).

    Parameters
    ----------
    X : ndarray, (n, n_window, n_leads)
    rng : numpy.random.Generator
        The fit's generator for this epoch: same seed, same augmented samples.
    aug : Augmentations
    fs : float
        Sampling rate of ``X`` in Hz (after decimation), for the time jitter in ms.
    patients : ndarray of str, (n,)
        Patient of each sample (beat mixing stays within a patient).
    noise_level : ndarray, (n, n_leads), optional
        The per-lead noise RMS each sample carries (mV); required when ``aug.noise > 0``.
    """
    if not aug.active:
        return X
    X = np.asarray(X, dtype=np.float32)
    n, n_leads = X.shape[0], X.shape[2]
    if aug.mix > 0:
        X = mix_within_patient(X, np.asarray(patients).astype(str), aug.mix, rng)
    if aug.amplitude > 0:  # one factor for every lead of a sample: lead ratios (a territory's contrast) are kept
        X = X * rng.uniform(1.0 - aug.amplitude, 1.0 + aug.amplitude, n).astype(np.float32)[:, None, None]
    if aug.jitter_ms > 0:
        shifts = rng.uniform(-aug.jitter_ms, aug.jitter_ms, n) * fs / 1000.0
        X = fractional_shift(X, shifts).astype(np.float32)
    if aug.noise > 0:
        if noise_level is None:
            raise ValueError("augment: noise_level is needed for additive noise")
        X = X + (aug.noise * noise_level)[:, None, :].astype(np.float32) * rng.standard_normal(X.shape, np.float32)
    if aug.lead_dropout > 0:
        keep = rng.random((n, n_leads)) >= aug.lead_dropout
        keep[np.arange(n), rng.integers(0, n_leads, n)] |= ~keep.any(axis=1)   # never drop every lead
        X = X * keep[:, None, :]
    return X.astype(np.float32, copy=False)
