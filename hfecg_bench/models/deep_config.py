"""Training configuration of the Keras deep models, per profile (``quick`` / ``full``).

Hyperparameters that Optuna tunes (learning rate, width, dropout, L2, kernel
size, batch size, TCN dilations) live in the params dict of
:mod:`hfecg_bench.models.deep`; this dataclass holds everything else: the
training budget, the beat cap, the validation split, input scaling and
decimation, the subset-averaged view (``beats_avg``), the training-only
augmentations (fields ``augment_*``), multiple-instance training (``mil``) and
how beat probabilities become a patient probability.

Importing this module does not import TensorFlow.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass, replace

from hfecg_bench.bands import HF_BAND_HZ
from hfecg_bench.errors import ParameterError
from hfecg_bench.evaluation.metrics import AGGREGATIONS

VIEWS = ("beats_wideband", "beats_hf", "beats_avg")
SCALINGS = ("lead_zscore", "beat_robust", "beat_energy")
MONITORS = ("val_loss", "val_auc")
MIL_POOLINGS = ("none", "mean", "attention")
TRANSFORMS = ("none", "envelope", "envelope_rel", "territory")
#: Largest amplitude-jitter bound: a factor in [1 - a, 1 + a] applied to all leads of a sample alike.
MAX_AMPLITUDE_JITTER = 0.2
#: Time jitter is sub-millisecond: the largest shift bound in ms (exclusive).
MAX_JITTER_MS = 1.0


@dataclass(frozen=True)
class DeepConfig:
    """Everything about training a deep model that is not a tuned hyperparameter.

    Parameters
    ----------
    view : str, default "beats_hf"
        Beat view the deep models consume: ``beats_wideband``, ``beats_hf`` (150-250 Hz band-passed single
        beats) or ``beats_avg`` (subset averages of the 150-250 Hz beats, see ``avg_*``).
    max_epochs : int, default 12 (quick) / 100 (full)
        Upper bound on training epochs (early stopping usually ends sooner).
    patience : int, default 4 (quick) / 12 (full)
        Early-stopping patience in epochs, on ``monitor`` of the validation patients; best weights are restored.
    lr_patience : int, default 2
        ReduceLROnPlateau patience in epochs (same monitor).
    lr_factor : float, default 0.5
        Factor the learning rate is multiplied by on a plateau.
    min_lr : float, default 1e-5
        Floor of the learning rate.
    monitor : str, default "val_loss"
        ``val_loss`` or ``val_auc`` (beat-level, on the held-out training patients).
    max_beats_per_patient : int, default 30 (quick) / 200 (full)
        Training (and validation) beats per patient are a seeded random subset of at most this many,
        so that patients with many beats do not dominate the loss. Prediction uses all beats.
    val_fraction : float, default 0.2
        Fraction of the training patients of each class held out for early stopping (never test patients).
    min_patients_per_class : int, default 4
        A fold with fewer training patients of either class cannot make a validation split: HfecgError.
    scaling : str, default "lead_zscore"
        ``lead_zscore``: per-lead mean/std over the fit patients' (capped) training beats only.
        ``beat_robust``: each beat and lead minus its median, divided by its IQR (no cross-patient statistics).
    decimate : int, default 1
        Keep every ``decimate``-th sample after averaging blocks of ``decimate`` samples (a boxcar anti-alias).
        For ``beats_hf`` the rate after decimation must stay >= 500 Hz (the 150-250 Hz band below Nyquist).
        Not decimating ``beats_hf`` matters: at 500 Hz the band's top sits on Nyquist and the boxcar
        attenuates 200-250 Hz by 20-30 %; on the synthetic default, leadwise_cnn went from AUROC 0.66 to 0.75.
    hf_crop_ms : tuple of float, default (-60, 90) (quick) / (-100, 150) (full); ``shallow_hf``: (-40, 60)
        For the HF views (``beats_hf``, ``beats_avg``): the part of the beat window kept, in ms relative to R
        (the window's R position is taken from the beat configuration). HF-QRS lives inside the QRS; the
        rest of the window is band-limited noise that the models otherwise learn to memorise patients by
        (on the synthetic default this lifted leadwise_cnn from AUROC 0.55 to 0.66). ``shallow_hf`` sees
        the whole window and pools its HF energy over this span (and its noise reference outside it), by
        default the QRS proper (see ``_SHALLOW_HF`` in :mod:`hfecg_bench.models.deep`).
        Empty: keep the whole window.
    avg_k : int, default 10
        ``beats_avg``: subset averages per training patient per epoch, redrawn every epoch. Measured
        (5-fold patient AUROC, ``shallow_hf``): 10 and 20 score alike (``realistic`` 0.869 / 0.870,
        ``averaging_required`` 0.833 / 0.809) and 10 halves the cost of an epoch.
    avg_m : int, default 16 (``shallow_hf``: 32)
        ``beats_avg``: beats per average, drawn without replacement from the patient's kept beats (all of
        them for a patient with fewer); uncorrelated noise falls by ``sqrt(avg_m)``. Measured on the
        synthetic cohorts (30 s records, about 34 beats): the generic networks gain from the variety of
        smaller subsets (``realistic``: cnn 0.748 at 16 vs 0.680 at 32, leadwise_cnn 0.744 vs 0.632, lstm
        0.610 vs 0.541), ``shallow_hf`` from the cleaner averages (0.768 at 32 vs 0.736 at 16;
        ``averaging_required`` 0.707 vs 0.679; all beats at once, 0.637, leaves no variety).
    avg_eval_k : int, default 10
        ``beats_avg``: averages (or, with ``mil``, bags) per validation, test and training patient when
        scoring; their probabilities are aggregated per patient with ``aggregation``.
    augment_jitter_ms : float, default 0
        Training only: each sample shifted by a uniform fractional time shift in
        ``[-augment_jitter_ms, +augment_jitter_ms]`` ms (FFT phase ramp); sub-millisecond (< 1 ms).
    augment_noise : float, default 0
        Training only: white noise added per lead with RMS ``augment_noise`` times the record's measured
        per-beat noise level in that lead (divided by ``sqrt(beats averaged)`` for a subset average), so
        a sample gets at most as much extra noise as it already carries; in [0, 2].
    augment_lead_dropout : float, default 0
        Training only: probability that each lead of a sample is zeroed (at least one lead is kept); in [0, 0.5].
    augment_amplitude : float, default 0
        Training only: every sample is scaled by one factor drawn from ``[1 - a, 1 + a]`` for all its
        leads. The bound ``a <= 0.2`` (:data:`MAX_AMPLITUDE_JITTER`) and the common factor are what keep it
        from erasing the effect it is meant to find: ratios between leads (a territory's HF-QRS reduction)
        are untouched, and the absolute change is below the 35 % HF-QRS reduction planted in the
        synthetic cohorts and near the between-patient spread of HF-QRS amplitude (log-sd 0.15).
    augment_mix : float, default 0
        Training only: probability that a sample is replaced by ``l * x + (1 - l) * x'`` with ``x'`` another
        sample of the same patient and ``l ~ U(0, 1)`` (beat mixing within a patient: the label holds).
    input_transform : str, default "territory"
        ``territory``: each coronary territory's mean log envelope minus that of the other leads (three
        series: anterior, inferior, lateral; :func:`~hfecg_bench.models.deep_data.transform_input`).
        Why it is the default: on the per-lead envelope the networks fit what varies most between
        patients, the record's noise level (a factor common to all leads, 4x between patients on
        ``averaging_required``) and each patient's own lead profile, not the regional reduction; with 80
        fit patients such a fit anti-correlates with the held-out labels (lstm AUROC 0.37 and 0.40 on
        seeds 0 and 2, its patient probabilities correlated with the noise level, Spearman -0.39 and
        +0.33). The contrasts cancel every factor common to the leads and leave the comparison the effect
        is. Measured (5-fold patient AUROC, ``averaging_required`` seeds 0-2, envelope -> territory): cnn
        0.52 -> 0.73, leadwise_cnn 0.51 -> 0.69; realistic seed 0: cnn 0.73 -> 0.82; hf_effect seed 0: cnn
        0.89 -> 0.95. ``envelope_rel``: the per-lead log envelope minus its mean over the leads at each
        time (the common factor cancels, the lead profile stays: cnn 0.59, lstm 0.52 on
        ``averaging_required``). ``envelope``: the model sees each sample's log RMS envelope per lead
        (``envelope_ms`` moving window) instead of the oscillation itself. Every transform is computed after
        subset averaging and augmentation. The envelope is the HF-QRS amplitude profile over the QRS (a
        reduction or a RAZ is a level change) without a patient's own oscillation phases, which the generic
        networks otherwise memorise (``hf_effect``, 5-fold patient
        AUROC: cnn 0.53 on single HF beats, 0.58 on subset averages, 0.95 on their envelopes; leadwise_cnn
        0.65 -> 0.95). HF views only: ``beats_wideband`` is fed as it is (its morphology, ST and T are the
        signal there), and ``shallow_hf`` always sees the signal (it computes its own energy). ``none``:
        the signal itself.
    envelope_ms : float, default 10 (``lstm``: 30)
        Moving RMS window of the envelope transforms, in ms.
    mil : str, default "none"
        Multiple-instance training: ``mean`` or ``attention`` trains on bags of ``mil_bag`` beats (or subset
        averages, with ``beats_avg``) of one patient, embedded by the model's body and pooled into one
        patient output, with the patient's label; ``none`` trains on single samples.
    mil_bag : int, default 8
        Instances per bag.
    mil_bags : int, default 4
        Bags per training patient per epoch (redrawn every epoch).
    aggregation : str, default "mean"
        Patient probability from its beat probabilities: ``mean``, ``median`` or ``trimmed_mean``.
    trim : float, default 0.1
        Fraction cut from each end for ``trimmed_mean``.
    predict_batch_size : int, default 512
        Batch size of inference.
    jit_compile : bool, default False
        XLA-compile the train/predict steps (Keras ``jit_compile``). Off by default: on this family's small
        models on a 2-core CPU it saved ~10-20 % for the CNNs but cost ~40 % for the LSTM (compile time).
    verbose : int, default 0
        Keras ``fit`` verbosity.
    """

    view: str = "beats_avg"
    max_epochs: int = 12
    patience: int = 4
    lr_patience: int = 2
    lr_factor: float = 0.5
    min_lr: float = 1e-5
    monitor: str = "val_loss"
    max_beats_per_patient: int = 30
    val_fraction: float = 0.2
    min_patients_per_class: int = 4
    scaling: str = "lead_zscore"
    decimate: int = 1
    hf_crop_ms: tuple = (-60.0, 90.0)
    avg_k: int = 10
    avg_m: int = 16
    avg_eval_k: int = 10
    augment_jitter_ms: float = 0.0
    augment_noise: float = 0.0
    augment_lead_dropout: float = 0.0
    augment_amplitude: float = 0.0
    augment_mix: float = 0.0
    input_transform: str = "territory"
    envelope_ms: float = 10.0
    mil: str = "none"
    mil_bag: int = 8
    mil_bags: int = 4
    aggregation: str = "mean"
    trim: float = 0.1
    predict_batch_size: int = 512
    jit_compile: bool = False
    verbose: int = 0

    def __post_init__(self) -> None:
        _check_choice("deep.view", self.view, VIEWS)
        _check_choice("deep.scaling", self.scaling, SCALINGS)
        _check_choice("deep.aggregation", self.aggregation, AGGREGATIONS)
        _check_choice("deep.monitor", self.monitor, MONITORS)
        _check_choice("deep.mil", self.mil, MIL_POOLINGS)
        _check_choice("deep.input_transform", self.input_transform, TRANSFORMS)
        if not float(self.envelope_ms) > 0:
            raise ParameterError("deep.envelope_ms", self.envelope_ms, "must be > 0 ms")
        for name in ("max_epochs", "max_beats_per_patient", "decimate", "predict_batch_size", "avg_k", "avg_m",
                     "avg_eval_k", "mil_bag", "mil_bags"):
            if int(getattr(self, name)) < 1:
                raise ParameterError(f"deep.{name}", getattr(self, name), "must be an integer >= 1")
        for name in ("patience", "lr_patience"):
            if int(getattr(self, name)) < 0:
                raise ParameterError(f"deep.{name}", getattr(self, name), "must be an integer >= 0")
        if self.min_patients_per_class < 2:
            raise ParameterError("deep.min_patients_per_class", self.min_patients_per_class,
                                 "must be >= 2 (one validation and one fit patient per class)")
        if not 0.0 < self.val_fraction < 0.5:
            raise ParameterError("deep.val_fraction", self.val_fraction, "must be in (0, 0.5)")
        if not 0.0 <= self.trim < 0.5:
            raise ParameterError("deep.trim", self.trim, "must be in [0, 0.5)")
        if self.hf_crop_ms and not (len(self.hf_crop_ms) == 2 and float(self.hf_crop_ms[0]) < float(self.hf_crop_ms[1])):
            raise ParameterError("deep.hf_crop_ms", self.hf_crop_ms, "must be (start_ms, end_ms) relative to R with "
                                 "start < end, e.g. (-60, 90), or empty to keep the whole window")
        if not 0.0 < self.lr_factor < 1.0:
            raise ParameterError("deep.lr_factor", self.lr_factor, "must be in (0, 1)")
        bounds = {"augment_jitter_ms": (MAX_JITTER_MS, "a sub-millisecond shift bound in [0, 1) ms", False),
                  "augment_noise": (2.0, "a multiple of the record's noise level in [0, 2]", True),
                  "augment_lead_dropout": (0.5, "a per-lead probability in [0, 0.5]", True),
                  "augment_amplitude": (MAX_AMPLITUDE_JITTER, f"a bound in [0, {MAX_AMPLITUDE_JITTER}] (a larger "
                                        "amplitude jitter could mask the HF-QRS reduction the models look for)", True),
                  "augment_mix": (1.0, "a probability in [0, 1]", True)}
        for name, (top, what, closed) in bounds.items():
            v = float(getattr(self, name))
            if not (0.0 <= v <= top if closed else 0.0 <= v < top):
                raise ParameterError(f"deep.{name}", getattr(self, name), f"must be {what}")

    @property
    def augments(self) -> bool:
        """Whether any training augmentation is on."""
        return any(float(getattr(self, f"augment_{k}")) > 0 for k in ("jitter_ms", "noise", "lead_dropout",
                                                                      "amplitude", "mix"))

    @property
    def resampled(self) -> bool:
        """Whether training samples are drawn afresh every epoch (subset averages, augmentation or bags)
        instead of the fixed capped beats."""
        return self.view == "beats_avg" or self.mil != "none" or self.augments

    @classmethod
    def for_profile(cls, profile: str, **overrides) -> "DeepConfig":
        """The configuration of a profile (``quick`` or ``full``), with optional field overrides.

        Examples
        --------
        >>> DeepConfig.for_profile("quick").max_epochs
        12
        >>> DeepConfig.for_profile("full", view="beats_hf").view
        'beats_hf'
        """
        if profile == "quick":
            base = cls()
        elif profile == "full":
            base = cls(max_epochs=100, patience=12, lr_patience=5, max_beats_per_patient=200,
                       min_lr=1e-6, hf_crop_ms=(-100.0, 150.0))  # 250 samples: room for the tuned TCN's field
        else:
            raise ParameterError("profile", profile, "must be 'quick' or 'full'")
        return replace(base, **overrides) if overrides else base

    def check_decimation(self, fs: float, model: str, hf_band=HF_BAND_HZ) -> None:
        """Raise if decimating ``fs`` by ``decimate`` would put ``hf_band`` (Hz) above Nyquist for the HF views
        (``beats_hf``, ``beats_avg``).

        Examples
        --------
        >>> DeepConfig(view="beats_hf", decimate=2).check_decimation(1000.0, "cnn")   # 500 Hz: 250 Hz fits
        >>> DeepConfig(view="beats_hf", decimate=4).check_decimation(1000.0, "cnn")
        Traceback (most recent call last):
        ...
        hfecg_bench.errors.ParameterError: invalid deep.decimate=4: model cnn: view beats_hf at fs=1000 Hz decimated to 250 Hz puts the 150-250 Hz band above Nyquist; need fs/decimate >= 500 Hz
        """
        if self.view not in ("beats_hf", "beats_avg"):
            return
        need = 2.0 * float(hf_band[1])  # Nyquist above the band's upper edge
        if fs / self.decimate < need:
            raise ParameterError(
                "deep.decimate", self.decimate,
                f"model {model}: view {self.view} at fs={fs:g} Hz decimated to {fs / self.decimate:g} Hz "
                f"puts the {hf_band[0]:g}-{hf_band[1]:g} Hz band above Nyquist; need fs/decimate >= {need:g} Hz")

    def as_dict(self) -> dict:
        """Plain dict for the run manifest."""
        return asdict(self)


def _check_choice(name: str, value, choices: tuple) -> None:
    if value not in choices:
        raise ParameterError(name, value, f"must be one of {', '.join(choices)}")


def parse_dilations(value) -> tuple[int, ...]:
    """TCN dilations from a sequence of ints or a string such as ``"1,2,4,8"`` (Optuna categorical)."""
    raw = value
    if isinstance(value, str):
        value = [int(p) for p in value.replace("-", ",").split(",") if p.strip()]
    dil = tuple(int(d) for d in value)
    if not dil or any(d < 1 for d in dil):
        raise ParameterError("tcn.dilations", raw, "must be a non-empty sequence of integers >= 1")
    return dil


def receptive_field(params: dict) -> int:
    """Receptive field in samples of the TCN: ``1 + 2 * (kernel_size - 1) * sum(dilations)``.

    Each residual block has two causal dilated convolutions of size ``kernel_size``.

    Examples
    --------
    >>> receptive_field({"kernel_size": 5, "dilations": [1, 2, 4, 8, 16]})
    249
    """
    k = int(params["kernel_size"])
    if k < 1:
        raise ParameterError("tcn.kernel_size", k, "must be an integer >= 1")
    return 1 + 2 * (k - 1) * sum(parse_dilations(params["dilations"]))
