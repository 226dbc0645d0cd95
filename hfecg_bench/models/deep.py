"""The Keras deep model family behind the common interface: ``cnn``, ``leadwise_cnn``, ``tcn``, ``lstm``.

Each :class:`DeepSpec` gives default hyperparameters per profile, an Optuna
search space (``suggest``) and ``fit_predict``, which trains on the beats of
the training patients only (:mod:`hfecg_bench.models.deep_train`) and returns
patient-level probabilities (mean of beat probabilities by default).

Importing this module does not import TensorFlow; fitting or building does.

Example
-------
>>> from hfecg_bench.models.deep import DEEP_SPECS
>>> spec = DEEP_SPECS["tcn"]
>>> spec.family, spec.input, spec.default_params("quick")["dilations"]
('deep', 'beats_hf', [1, 2, 4, 8, 16])
"""
from __future__ import annotations

from dataclasses import asdict, dataclass, field, replace

from hfecg_bench.models.base import FitResult, ModelData, ModelSpec
from hfecg_bench.models.deep_config import DeepConfig, parse_dilations, receptive_field

__all__ = ["DEEP_SPECS", "DeepSpec", "DeepConfig", "build_model", "count_params", "receptive_field"]

#: TCN dilation choices offered to Optuna (strings: Optuna categoricals must be primitives).
TCN_DILATIONS = ("1,2,4,8", "1,2,4,8,16", "2,4,8,16")

_COMMON_DEFAULTS = {
    "quick": {"lr": 1e-3, "width": 0.5, "dropout": 0.3, "l2": 1e-4, "kernel_size": 5, "batch_size": 64},
    "full": {"lr": 1e-3, "width": 1.0, "dropout": 0.3, "l2": 1e-4, "kernel_size": 7, "batch_size": 64},
}
_MODEL_DEFAULTS = {
    "cnn": {},
    "leadwise_cnn": {"embed_dim": 128, "head_units": 64},
    "tcn": {"dilations": [1, 2, 4, 8, 16]},
    "lstm": {"lstm_steps": 50},
}


@dataclass
class DeepSpec(ModelSpec):
    """One deep model behind :class:`~hfecg_bench.models.base.ModelSpec`.

    Parameters
    ----------
    name : str
        ``cnn``, ``leadwise_cnn``, ``tcn`` or ``lstm``.
    overrides : dict, default {}
        :class:`DeepConfig` fields that replace the profile's values at fit time
        (e.g. ``{"view": "beats_hf"}``); validated on construction.
    """

    name: str
    overrides: dict = field(default_factory=dict)
    family: str = "deep"
    # An untuned fit takes its decision threshold from its validation patients (held-out training
    # patients, ``FitResult.info["val_patients"]``) instead of extra inner fits.
    threshold_source: str = "validation"

    def __post_init__(self) -> None:
        DeepConfig(**self.overrides)  # fail early on a bad field or value

    @property
    def input(self) -> str:
        """The beat view consumed (``beats_wideband`` or ``beats_hf``), from the configuration."""
        return DeepConfig(**self.overrides).view

    def with_config(self, **overrides) -> "DeepSpec":
        """A copy of this spec whose configuration overrides are updated (e.g. ``view="beats_hf"``)."""
        return replace(self, overrides={**self.overrides, **overrides})

    def configure(self, run_config) -> "DeepSpec":
        """This spec with the run's ``[deep]`` section (a :class:`~hfecg_bench.config.RunConfig`)."""
        return self.with_config(**asdict(run_config.deep))

    def tuning_budget(self, profile: str) -> dict:
        """Optuna budget per outer fold: none in ``quick`` (fixed defaults, so the four models fit in
        minutes on a 2-core CPU), 10 trials on 3 inner patient-wise folds in ``full``."""
        return {"n_trials": 0} if profile == "quick" else {"n_trials": 10, "n_inner_folds": 3}

    def resolved_config(self, profile: str) -> DeepConfig:
        """The profile's :class:`DeepConfig` with this spec's overrides applied."""
        return DeepConfig.for_profile(profile, **self.overrides)

    def default_params(self, profile: str) -> dict:
        """Fixed hyperparameters used when the profile allots no tuning trials."""
        DeepConfig.for_profile(profile)  # validates the profile name
        params = {**_COMMON_DEFAULTS[profile], **_MODEL_DEFAULTS[self.name]}
        if self.name == "tcn":  # receptive field 125 samples (quick: 150-sample QRS crop) / 249 (full: 250 samples)
            params["kernel_size"] = 3 if profile == "quick" else 5
            params["dilations"] = list(params["dilations"])
        if self.name == "lstm" and profile == "full":
            params["lstm_steps"] = 100
        return params

    def suggest(self, trial, profile: str) -> dict:
        """Draw hyperparameters from an Optuna trial: lr, width, dropout, L2, kernel size, batch size (+ model's own)."""
        params = {
            "lr": trial.suggest_float("lr", 1e-4, 3e-3, log=True),
            "width": trial.suggest_categorical("width", [0.5, 1.0] if profile == "quick" else [0.5, 1.0, 1.5]),
            "dropout": trial.suggest_float("dropout", 0.1, 0.5),
            "l2": trial.suggest_float("l2", 1e-6, 1e-3, log=True),
            "batch_size": trial.suggest_categorical("batch_size", [32, 64, 128]),
        }
        if self.name == "tcn":
            params["kernel_size"] = trial.suggest_categorical("kernel_size", [3, 5, 7])
            dil = trial.suggest_categorical("dilations", list(TCN_DILATIONS))
            params["dilations"] = list(parse_dilations(dil))
        else:
            params["kernel_size"] = trial.suggest_categorical("kernel_size", [3, 5, 7, 9])
        if self.name == "leadwise_cnn":
            params["embed_dim"] = 128
            params["head_units"] = trial.suggest_categorical("head_units", [32, 64, 128])
        if self.name == "lstm":
            params["lstm_steps"] = trial.suggest_categorical("lstm_steps", [50, 100])
        return params

    def fit_predict(self, data: ModelData, train_patients: list[str], test_patients: list[str],
                    params: dict, seed: int, profile: str) -> FitResult:
        """Fit on the beats of ``train_patients`` only; patient-level probabilities for test and train patients."""
        from hfecg_bench.models.deep_train import fit_predict_deep

        full = {**self.default_params(profile), **params}
        return fit_predict_deep(self.name, data.beats, train_patients, test_patients, full, int(seed),
                                self.resolved_config(profile))

    def build(self, input_shape, params: dict | None = None, profile: str = "quick"):
        """The (uncompiled) Keras model for beats of ``input_shape`` = (n_window, n_leads)."""
        return build_model(self.name, input_shape, {**self.default_params(profile), **(params or {})})


DEEP_SPECS: dict[str, DeepSpec] = {n: DeepSpec(n) for n in ("cnn", "leadwise_cnn", "tcn", "lstm")}


def build_model(name: str, input_shape, params: dict):
    """Build deep model ``name`` (see :func:`hfecg_bench.models.deep_arch.build_model`); imports TensorFlow."""
    from hfecg_bench.models import deep_arch

    return deep_arch.build_model(name, input_shape, params)


def count_params(model) -> int:
    """Total parameter count of a built Keras model."""
    from hfecg_bench.models import deep_arch

    return deep_arch.count_params(model)
