"""The Keras deep model family behind the common interface: ``cnn``, ``leadwise_cnn``, ``tcn``, ``lstm``,
``shallow_hf`` (:mod:`hfecg_bench.models.shallow_hf`).

Each :class:`DeepSpec` gives default hyperparameters per profile, an Optuna
search space (``suggest``; in ``full`` also over the training settings: view,
subset averages, augmentations, multiple-instance pooling, envelope input) and
``fit_predict``, which trains on the beats of the training patients only
(:mod:`hfecg_bench.models.deep_train`) and returns patient-level probabilities
(mean of the sample probabilities by default).

Importing this module does not import TensorFlow; fitting or building does.

Example
-------
>>> from hfecg_bench.models.deep import DEEP_SPECS
>>> spec = DEEP_SPECS["tcn"]
>>> spec.family, spec.input, spec.default_params("quick")["dilations"]
('deep', 'beats_avg', [1, 2, 4, 8, 16])
>>> spec.input_label
'beats 150-250 Hz, subset averages of 16 beats (10 per patient and epoch)'
"""
from __future__ import annotations

from dataclasses import asdict, dataclass, field, fields, replace

from hfecg_bench.bands import HF_BAND_HZ
from hfecg_bench.models.base import FitResult, ModelData, ModelSpec
from hfecg_bench.models.deep_config import MIL_POOLINGS, DeepConfig, parse_dilations, receptive_field

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
    # dropout 0.1: the TCN's ten spatial-dropout layers at 0.3 kept it from fitting the training patients at all
    # within the quick budget (train AUROC 0.54-0.75, test 0.48 on realistic); at 0.1 test 0.76
    "tcn": {"dilations": [1, 2, 4, 8, 16], "dropout": 0.1},
    # 25 steps (6 ms each on the 150 ms crop) and, in _MODEL_CONFIG, a 30 ms envelope: the territory contrasts
    # as fewer, smoother steps (averaging_required seeds 0-2: 0.56 at 50 steps of a 10 ms envelope, 0.70 so)
    "lstm": {"lstm_steps": 25},
    # per_lead off: 96 per-lead weights overfit (averaging_required 0.71 with them, 0.85 without); noise_ref off:
    # the out-of-QRS noise subtraction suffers from EMG bursts (realistic 0.78 with it, 0.87 without)
    "shallow_hf": {"width": 1.0, "n_filters": 8, "filter_ms": 25.0, "head_units": 0, "noise_ref": False,
                   "per_lead": False, "territory": True, "lr": 3e-3},
}
#: DeepConfig fields: in a params dict (a tuning trial's draw) they set the fit's training configuration.
CONFIG_FIELDS = frozenset(f.name for f in fields(DeepConfig))
#: Per-model training settings (DeepConfig fields) per profile, below whatever the run's [deep] section sets.
#: quick: the generic networks stop at 8 epochs (``run all`` within 10 minutes on 2 cores). Measured on
#: ``realistic`` (seed 0, 5 folds), 12 -> 8 epochs: cnn AUROC 0.728 -> 0.727, leadwise_cnn 0.698 -> 0.676, tcn
#: 0.632 -> 0.638, lstm 0.605 -> 0.564, their fitting time 356 -> 257 s; shallow_hf, the family's best, keeps 12.
_GENERIC_QUICK = {"quick": {"max_epochs": 8}}
#: shallow_hf pools its HF energy over the QRS proper, -40..+60 ms around R, not the generic networks' 150 ms
#: crop: the extra 50 ms hold noise only and dilute the energy contrast (averaging_required seeds 0-2, patient
#: AUROC 0.784 -> 0.836; the same fixed contrast without any fitting, 0.80 -> 0.85).
_SHALLOW_HF = {"avg_m": 32, "hf_crop_ms": (-40.0, 60.0)}
_MODEL_CONFIG: dict[str, dict[str, dict]] = {"cnn": _GENERIC_QUICK, "leadwise_cnn": _GENERIC_QUICK, "tcn": _GENERIC_QUICK,
                                             "lstm": {"quick": {"max_epochs": 8, "envelope_ms": 30.0},
                                                      "full": {"envelope_ms": 30.0}},
                                             "shallow_hf": {"quick": _SHALLOW_HF, "full": _SHALLOW_HF}}


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
    hf_band: tuple = HF_BAND_HZ
    profile: str = "quick"
    family: str = "deep"
    # An untuned fit takes its decision threshold from its validation patients (held-out training
    # patients, ``FitResult.info["val_patients"]``) instead of extra inner fits.
    threshold_source: str = "validation"

    def __post_init__(self) -> None:
        DeepConfig(**self.overrides)  # fail early on a bad field or value

    @property
    def input(self) -> str:
        """The beat view consumed (``beats_wideband``, ``beats_hf`` or ``beats_avg``), from the configuration."""
        return self.resolved_config(self.profile).view

    @property
    def input_label(self) -> str:
        """The leaderboard's description of the input, e.g. ``beats 150-250 Hz, averages of 16 (20/epoch)``."""
        from hfecg_bench.pipeline.inputs import view_label

        cfg = self.resolved_config(self.profile)
        text = view_label(cfg.view, self.hf_band, avg_k=cfg.avg_k, avg_m=cfg.avg_m)
        return text + (f", {cfg.mil} bags of {cfg.mil_bag}" if cfg.mil != "none" else "")

    def with_config(self, **overrides) -> "DeepSpec":
        """A copy of this spec whose configuration overrides are updated (e.g. ``view="beats_hf"``)."""
        return replace(self, overrides={**self.overrides, **overrides})

    def configure(self, run_config) -> "DeepSpec":
        """This spec with the run's ``[deep]`` section (a :class:`~hfecg_bench.config.RunConfig`) and HF band.

        Only the fields the run sets to other values than its profile's defaults override the model's own
        settings (:data:`_MODEL_CONFIG`), so that e.g. a lighter quick budget of one model survives a
        ``[deep]`` section that changes only the view.
        """
        base = DeepConfig.for_profile(run_config.profile)
        changed = {k: v for k, v in asdict(run_config.deep).items() if getattr(base, k) != v}
        return replace(self.with_config(**changed), hf_band=tuple(run_config.features.hf_band),
                       profile=run_config.profile)

    def tuning_budget(self, profile: str) -> dict:
        """Optuna budget per outer fold: none in ``quick`` (fixed defaults, so the five models fit in
        minutes on a 2-core CPU), 10 trials on 3 inner patient-wise folds in ``full``."""
        return {"n_trials": 0} if profile == "quick" else {"n_trials": 10, "n_inner_folds": 3}

    def resolved_config(self, profile: str) -> DeepConfig:
        """The profile's :class:`DeepConfig`, then the model's own settings, then this spec's overrides.

        ``shallow_hf`` always sees the signal itself (``input_transform = "none"``): squaring and pooling
        its filtered signal is its own envelope.
        """
        own = _MODEL_CONFIG.get(self.name, {}).get(profile, {})
        cfg = DeepConfig.for_profile(profile, **{**own, **self.overrides})
        return replace(cfg, input_transform="none") if self.name == "shallow_hf" else cfg

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
            params["lstm_steps"] = trial.suggest_categorical("lstm_steps", [25, 50, 100])
            params["lstm_pool"] = trial.suggest_categorical("lstm_pool", ["last", "avgmax"])
        if self.name == "shallow_hf":
            params["n_filters"] = trial.suggest_categorical("n_filters", [4, 8, 16])
            params["filter_ms"] = trial.suggest_categorical("filter_ms", [15.0, 25.0, 40.0])
            params["head_units"] = trial.suggest_categorical("head_units", [0, 8])
            params["noise_ref"] = trial.suggest_categorical("noise_ref", [True, False])
        if profile == "full":
            params.update(self._suggest_config(trial))
        return params

    def _suggest_config(self, trial) -> dict:
        """Training settings the full profile tunes (DeepConfig fields the run did not set itself): the HF
        view (single beats or subset averages, the same beats either way), K and m, the augmentation
        strengths, multiple-instance pooling and, for the generic networks, the envelope input."""
        out = {}

        def pick(name, kind, *args, **kwargs):
            if name not in self.overrides:
                out[name] = getattr(trial, f"suggest_{kind}")(name, *args, **kwargs)

        if self.resolved_config("full").view in ("beats_hf", "beats_avg"):
            pick("view", "categorical", ["beats_hf", "beats_avg"])
        if out.get("view", self.resolved_config("full").view) == "beats_avg":
            pick("avg_k", "categorical", [10, 20, 40])
            pick("avg_m", "categorical", [8, 16, 32])
        pick("augment_jitter_ms", "float", 0.0, 0.8)
        pick("augment_noise", "float", 0.0, 1.0)
        pick("augment_lead_dropout", "float", 0.0, 0.2)
        pick("augment_amplitude", "float", 0.0, 0.2)
        pick("augment_mix", "float", 0.0, 0.5)
        pick("mil", "categorical", list(MIL_POOLINGS))
        if self.name != "shallow_hf":
            pick("input_transform", "categorical", ["none", "envelope", "envelope_rel", "territory"])
        return out

    def fit_predict(self, data: ModelData, train_patients: list[str], test_patients: list[str],
                    params: dict, seed: int, profile: str) -> FitResult:
        """Fit on the beats of ``train_patients`` only; patient-level probabilities for test and train patients."""
        from hfecg_bench.models.deep_train import fit_predict_deep

        full = {**self.default_params(profile), **params}
        tuned = {k: full.pop(k) for k in list(full) if k in CONFIG_FIELDS}  # training settings a trial drew
        config = replace(self.resolved_config(profile), **tuned) if tuned else self.resolved_config(profile)
        return fit_predict_deep(self.name, data.beats, train_patients, test_patients, full, int(seed), config)

    def build(self, input_shape, params: dict | None = None, profile: str = "quick"):
        """The (uncompiled) Keras model for beats of ``input_shape`` = (n_window, n_leads)."""
        return build_model(self.name, input_shape, {**self.default_params(profile), **(params or {})})


DEEP_SPECS: dict[str, DeepSpec] = {n: DeepSpec(n) for n in ("cnn", "leadwise_cnn", "tcn", "lstm", "shallow_hf")}


def build_model(name: str, input_shape, params: dict, **kwargs):
    """Build deep model ``name`` (see :func:`hfecg_bench.models.deep_arch.build_model`); imports TensorFlow."""
    from hfecg_bench.models import deep_arch

    return deep_arch.build_model(name, input_shape, params, **kwargs)


def count_params(model) -> int:
    """Total parameter count of a built Keras model."""
    from hfecg_bench.models import deep_arch

    return deep_arch.count_params(model)
