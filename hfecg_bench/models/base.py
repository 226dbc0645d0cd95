"""The one interface every model family implements, so that all run under identical folds and tuning.

The runner owns the folds, the Optuna studies and the evaluation; a model only
says how to draw hyperparameters and how to fit on training patients and
predict patient-level probabilities for other patients.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Protocol

import pandas as pd


@dataclass
class ModelData:
    """Everything a model may read, for the whole cohort; a model selects rows by patient id.

    Attributes
    ----------
    features : FeatureTable or None
        One row per record (``hfecg_bench.features``), columns ``record_id, patient_id, label, <features>``.
    beats : BeatSet or None
        Aligned beat windows ``(n_beats, n_window, n_leads)`` with per-beat patient ids (``hfecg_bench.beats``).
    """

    features: Any = None
    beats: Any = None


@dataclass
class FitResult:
    """Patient-level outputs of one fit.

    Attributes
    ----------
    test_prob : pandas.Series
        Index patient_id (the test patients), P(label = 1).
    train_prob : pandas.Series
        Index patient_id (the training patients), P(label = 1) of the fitted model on them (overfitting gap).
    info : dict
        Extra per-fit facts (epochs run, training history DataFrame, ...).
    """

    test_prob: pd.Series
    train_prob: pd.Series
    info: dict = field(default_factory=dict)


class ModelSpec(Protocol):
    """What the runner needs of a model.

    ``name`` is the CLI name (``rf``, ``cnn``, ...); ``family`` is ``baseline``,
    ``classical`` or ``deep``; ``input`` names the view it consumes
    (``features``, ``beats_wideband`` or ``beats_hf``).
    """

    name: str
    family: str
    input: str

    def default_params(self, profile: str) -> dict:
        """Hyperparameters used when the profile allots no tuning trials."""

    def suggest(self, trial, profile: str) -> dict:
        """Draw hyperparameters from an Optuna trial (the model's search space, in one place)."""

    def fit_predict(self, data: ModelData, train_patients: list[str], test_patients: list[str],
                    params: dict, seed: int, profile: str) -> FitResult:
        """Fit on ``train_patients`` only and return patient-level probabilities for both sides."""
