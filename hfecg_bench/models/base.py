"""The one interface every model family implements, so that all run under identical folds and tuning.

The pipeline (:mod:`hfecg_bench.pipeline`) owns the folds, the Optuna studies and the evaluation; a model only
says how to draw hyperparameters and how to fit on training patients and
predict patient-level probabilities for other patients.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

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


class ModelSpec:
    """What the pipeline needs of a model: every attribute it reads is declared here, with its default.

    Subclasses set ``name`` and implement :meth:`default_params`, :meth:`suggest` and
    :meth:`fit_predict`; the class attributes below are overridden where a model differs.

    Attributes
    ----------
    name : str
        The name a run uses (``rf``, ``cnn``, ...).
    family : {"baseline", "classical", "deep", "ts"}
        The family the verdict compares; the one place a model's family is stated.
    input : str
        The view it consumes: ``features`` (the feature table), ``beats_hf``, ``beats_avg`` or ``beats_wideband``.
    input_label : str or None
        How the leaderboard describes the input, when the view's own description does not fit.
    tunable : bool
        False for models without hyperparameters (the dummy baseline): never tuned.
    threshold_source : {"inner", "validation"}
        Where an untuned fit takes its decision threshold: inner-fold out-of-fold probabilities, or
        the validation patients the fit itself held out (deep models, which hold them out for early
        stopping). Both are training patients of the outer fold.

    Examples
    --------
    >>> from hfecg_bench.models.registry import get_spec
    >>> spec = get_spec("rf")
    >>> spec.family, spec.input, spec.tunable, spec.tuning_budget("quick")
    ('classical', 'features', True, {})
    """

    name: str = ""
    family: str = "classical"
    input: str = "features"
    input_label: str | None = None
    tunable: bool = True
    threshold_source: str = "inner"

    def tuning_budget(self, profile: str) -> dict:
        """Overrides of the profile's ``n_trials`` / ``n_inner_folds`` for this model (default: none)."""
        return {}

    def configure(self, run_config) -> "ModelSpec":
        """This spec as a run configures it (a :class:`~hfecg_bench.config.RunConfig`); default unchanged."""
        return self

    def default_params(self, profile: str) -> dict:
        """Hyperparameters used when the profile allots no tuning trials."""
        raise NotImplementedError

    def suggest(self, trial, profile: str) -> dict:
        """Draw hyperparameters from an Optuna trial (the model's search space, in one place)."""
        raise NotImplementedError

    def fit_predict(self, data: ModelData, train_patients: list[str], test_patients: list[str],
                    params: dict, seed: int, profile: str) -> FitResult:
        """Fit on ``train_patients`` only and return patient-level probabilities for both sides."""
        raise NotImplementedError
