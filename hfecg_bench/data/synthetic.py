"""The embedded known-answer synthetic cohort (``--dataset synthetic``).

A 1000 Hz 12-lead cohort whose answer is planted and recorded in ``truth``:

- ``realistic`` (default): shaped like the cohorts users bring, 177 patients (30 %
  positive) who differ as real patients do (:class:`~hfecg_bench.data.synth_physio.Heterogeneity`).
  A positive's HF-QRS reduction in its territory is drawn per patient (``effect`` 0.45
  x U(0.5, 1.5)), and one positive in five carries none at all; the lead-to-lead HF
  scatter is wider than in ``hf_effect`` (log-sd 0.16 instead of 0.12); per-beat noise is
  8-20 uV, but 15 % of the records are noisy (40-100 uV broadband, 2-6 extra EMG bursts)
  and 15 % of the patients have frequent ectopic beats (8-20 % more). No RAZ is planted
  with the effect (a benign one occurs in 15 % of all patients), so the territory HF
  contrast is the whole class signal. The best classical model reaches AUROC 0.75-0.85
  on it (seeds 0-5, ``run classical --trials 4``), as published HF-QRS studies do, not
  the 1.0 of ``hf_effect``.
- ``hf_effect``: positives have the HF-QRS (150-250 Hz) RMS multiplied by
  ``1 - effect`` in one contiguous lead group (anterior V1-V4, inferior II/III/aVF or
  lateral I/aVL/V5/V6, chosen per patient) plus a reduced amplitude zone (RAZ) there;
  the low-frequency morphology carries no class signal. Per-beat white noise is moderate
  (6-14 uV RMS broadband, about 1.3-3x the HF-QRS), so single 150-250 Hz beats carry the
  effect too and a beat-level deep model can learn it.
- ``null``: no class difference at all.
- ``label_noise``: ``hf_effect`` with a known fraction of labels flipped (default 0.25).
- ``averaging_required``: the HF effect under high per-beat noise whose level varies
  4x between patients, so only signal-averaged features reveal it.
- ``conventional_effect``: positives have ST depression in a lead group and a QRS 10 ms
  wider; HF-QRS carries no class signal.

``truth["oracle_auroc"]`` is the AUROC of the planted quantity itself, noise-free, against
the written labels (:func:`oracle_auroc`): the most any model can reach, up to chance. The
presets other than ``realistic`` have 120 patients; their signals and truth entries are
those of generator version 3, bit for bit (the realistic preset draws its variety from a
separate random stream of each patient).

The physiology is in :mod:`hfecg_bench.data.synth_physio`. Cohorts are cached in
process (LRU) and on disk (:mod:`hfecg_bench.data.synth_cache`, under
``$HFECG_CACHE_DIR/synthetic`` or ``~/.cache/hfecg_bench/synthetic``), keyed by the resolved
parameters and :data:`GENERATOR_VERSION`; a cached cohort is bit-identical to a fresh one.

Example
-------
>>> from hfecg_bench.data.synthetic import SynthParams, cohort_from_params
>>> cohort = cohort_from_params(SynthParams(n_patients=20, duration_s=10))
>>> cohort.describe()["n_positive"], cohort.describe()["n_negative"], cohort.info["truth"]["preset"]
(6, 14, 'realistic')
>>> 0.5 < cohort.info["truth"]["oracle_auroc"] <= 1.0
True
"""
from __future__ import annotations

import csv
import hashlib
import io
import json
from dataclasses import asdict, dataclass
from functools import lru_cache
from pathlib import Path

import numpy as np

from hfecg_bench.cohort import Cohort, Record
from hfecg_bench.data.synth_cache import cached_cohort_data
from hfecg_bench.data.synth_oracle import auroc, oracle_auroc, territory_contrast  # noqa: F401 (public here too)
from hfecg_bench.data.synth_physio import Heterogeneity, Plan, draw_patient
from hfecg_bench.errors import HfecgError, ParameterError
from hfecg_bench.io import write_atomic
from hfecg_bench.leads import STANDARD_LEADS

GENERATOR_VERSION = "4"
DEFAULT_PRESET = "realistic"

# preset -> defaults: HF effect, label noise, conventional (ST/QRS) effect, per-beat white-noise range (uV),
# patients, and the patient-to-patient variety of real cohorts (None: every patient carries the full effect)
_CLEAN = dict(label_noise=0.0, conventional=False, noise_uv=(6.0, 14.0), n_patients=120, heterogeneity=None)
PRESETS: dict[str, dict] = {
    "realistic": dict(_CLEAN, effect=0.45, noise_uv=(8.0, 20.0), n_patients=177, heterogeneity=Heterogeneity()),
    "hf_effect": dict(_CLEAN, effect=0.35),
    "null": dict(_CLEAN, effect=0.0),
    "label_noise": dict(_CLEAN, effect=0.35, label_noise=0.25),
    "averaging_required": dict(_CLEAN, effect=0.5, noise_uv=(30.0, 120.0)),
    "conventional_effect": dict(_CLEAN, effect=0.0, conventional=True),
}
_VARIETY_STREAM = 0        # spawn-key suffix of the patient's second stream (realistic preset)
MIN_PER_CLASS = 5          # stratified 5-fold CV needs at least one patient of each class per fold


@dataclass(frozen=True)
class SynthParams:
    """Parameters of the synthetic cohort; ``None`` means the preset's default.

    Parameters
    ----------
    preset : str
        One of ``realistic`` (default), ``hf_effect``, ``null``, ``label_noise``,
        ``averaging_required``, ``conventional_effect``.
    seed : int
        Every random draw derives from it: same seed, same cohort, same bytes on disk.
    n_patients : int, optional
        Patients, one record each (default: the preset's, 177 for realistic, 120 for the others).
    effect : float, optional
        Relative HF-QRS RMS reduction in the affected leads of positives, in [0, 1)
        (default 0.35; 0.45 for realistic, 0.5 for averaging_required; 0 for null and
        conventional_effect). In ``realistic`` it is the mean reduction of the positives that
        carry one (each draws ``effect x U(0.5, 1.5)``).
    label_noise : float, optional
        Fraction of labels flipped, in [0, 0.5), per class (default 0.25 for label_noise, else 0).
    prevalence : float
        Fraction of positive patients, in (0, 1) (default 0.3).
    fs : float
        Sampling rate in Hz, >= 1000 (default 1000).
    duration_s : float
        Record length in seconds (default 30).
    mains_hz : float
        Mains interference frequency, 50 or 60 Hz.
    """

    preset: str = DEFAULT_PRESET
    seed: int = 0
    n_patients: int | None = None
    effect: float | None = None
    label_noise: float | None = None
    prevalence: float = 0.3
    fs: float = 1000.0
    duration_s: float = 30.0
    mains_hz: float = 50.0

    def resolved(self) -> dict:
        """Every parameter, the preset's defaults filled in (JSON-serialisable, part of the cache key)."""
        self._check_preset()
        d = asdict(self)
        spec = PRESETS[self.preset]
        d["effect"] = float(spec["effect"] if self.effect is None else self.effect)
        d["label_noise"] = float(spec["label_noise"] if self.label_noise is None else self.label_noise)
        for k in ("prevalence", "fs", "duration_s", "mains_hz"):
            d[k] = float(d[k])
        d["n_patients"] = int(spec["n_patients"] if self.n_patients is None else self.n_patients)
        d["seed"] = int(self.seed)
        return d

    def _check_preset(self) -> None:
        if self.preset not in PRESETS:
            raise ParameterError("preset", self.preset, f"unknown preset; valid presets are {', '.join(PRESETS)}")

    def validate(self, min_per_class: int = MIN_PER_CLASS) -> "SynthParams":
        """Raise :class:`ParameterError` naming the parameter, its value and the valid range.

        Parameters
        ----------
        min_per_class : int, default :data:`MIN_PER_CLASS`
            Fewest patients of each class accepted (5: what stratified 5-fold cross-validation
            needs; :func:`generate_cohort` asks for 1, enough to featurise).
        """
        self._check_preset()
        if not isinstance(self.seed, (int, np.integer)) or isinstance(self.seed, bool) or self.seed < 0:
            raise ParameterError("seed", self.seed, "must be a non-negative integer")
        if self.n_patients is not None and (not isinstance(self.n_patients, (int, np.integer))
                                            or isinstance(self.n_patients, bool)):
            raise ParameterError("n_patients", self.n_patients, "must be an integer")
        for name in ("effect", "label_noise", "prevalence", "fs", "duration_s", "mains_hz"):
            v = getattr(self, name)
            if v is not None and (isinstance(v, bool) or not isinstance(v, (int, float, np.integer, np.floating))):
                raise ParameterError(name, v, "must be a number")
        r = self.resolved()
        if not 0.0 < r["prevalence"] < 1.0:
            raise ParameterError("prevalence", self.prevalence, "must be in (0, 1), exclusive")
        if not 0.0 <= r["effect"] < 1.0:
            raise ParameterError("effect", self.effect, "relative HF-QRS reduction must be in [0, 1): 0 = none, "
                                                        "0.35 = HF RMS x 0.65 in the affected leads")
        if self.preset == "null" and r["effect"] > 0:
            raise ParameterError("effect", self.effect, "the null preset plants no effect: leave effect unset or 0 "
                                                        "(or choose preset='hf_effect')")
        if not 0.0 <= r["label_noise"] < 0.5:
            raise ParameterError("label_noise", self.label_noise, "fraction of flipped labels must be in [0, 0.5)")
        n_pos, n_neg = class_counts(r["n_patients"], r["prevalence"])
        if n_pos < min_per_class or n_neg < min_per_class:
            need = min_patients(r["prevalence"], min_per_class)
            why = ("5-fold cross-validation needs" if min_per_class == MIN_PER_CLASS else "the cohort needs")
            raise ParameterError("n_patients", r["n_patients"],
                                 f"at prevalence {r['prevalence']:g} this gives {n_pos} positives and {n_neg} negatives; "
                                 f"{why} >= {min_per_class} of each class, so n_patients must be >= {need}")
        if r["fs"] < 1000.0 or r["fs"] > 20000.0:
            raise ParameterError("fs", self.fs, "sampling rate must be in [1000, 20000] Hz (HF-QRS needs >= 1000 Hz)")
        if not 5.0 <= r["duration_s"] <= 3600.0:
            raise ParameterError("duration_s", self.duration_s, "record length must be in [5, 3600] s")
        if r["mains_hz"] not in (50.0, 60.0):
            raise ParameterError("mains_hz", self.mains_hz, "mains frequency must be 50 or 60 Hz")
        return self


def class_counts(n_patients: int, prevalence: float) -> tuple[int, int]:
    """(positives, negatives) generated for ``n_patients`` at ``prevalence``."""
    n_pos = int(round(prevalence * n_patients))
    return n_pos, n_patients - n_pos


def min_patients(prevalence: float, min_per_class: int = MIN_PER_CLASS) -> int:
    """Smallest cohort with at least ``min_per_class`` patients of each class at ``prevalence``."""
    n = 2 * min_per_class
    while min(class_counts(n, prevalence)) < min_per_class:
        n += 1
    return n


@lru_cache(maxsize=1)
def _source_digest() -> str:
    """Digest of the generator's own source: an edited generator never reuses an old cache entry."""
    h = hashlib.sha256()
    for name in ("synthetic.py", "synth_physio.py", "synth_oracle.py"):
        h.update((Path(__file__).parent / name).read_bytes())
    return h.hexdigest()


def cache_key(resolved: dict) -> str:
    """Hash of the resolved parameters, :data:`GENERATOR_VERSION` and the generator source: names the cached cohort."""
    text = json.dumps({"params": resolved, "generator": GENERATOR_VERSION, "source": _source_digest()}, sort_keys=True)
    return hashlib.sha256(text.encode()).hexdigest()[:24]


def _ids(n: int) -> list[tuple[str, str]]:
    width = max(3, len(str(n)))
    return [(f"syn{i + 1:0{width}d}", f"P{i + 1:0{width}d}") for i in range(n)]


def _simulate(r: dict) -> tuple[np.ndarray, dict]:
    """Generate all records: signals (n_patients, n_samples, 12) float32 and the truth dict."""
    spec = PRESETS[r["preset"]]
    n = r["n_patients"]
    design_ss, patients_ss = np.random.SeedSequence(r["seed"]).spawn(2)
    design = np.random.default_rng(design_ss)
    n_pos, _ = class_counts(n, r["prevalence"])
    true = np.zeros(n, dtype=int)
    true[design.permutation(n)[:n_pos]] = 1
    flipped = np.zeros(n, dtype=bool)
    order = design.permutation(n)                      # drawn for every preset: same seed, same patients
    for cls in (0, 1):
        members = order[true[order] == cls]
        flipped[members[:int(round(r["label_noise"] * len(members)))]] = True
    written = np.where(flipped, 1 - true, true)
    signals = None
    patients = []
    for i, (ss, (rid, pid)) in enumerate(zip(patients_ss.spawn(n), _ids(n))):
        plan = Plan(label=int(true[i]), hf_effect=r["effect"], conventional=spec["conventional"],
                    noise_uv=spec["noise_uv"], heterogeneity=spec["heterogeneity"])
        # the realistic preset's variety comes from a child stream of the patient's, so the patient's own
        # stream (and with it every older preset) draws exactly what it drew before that preset existed
        xrng = None if plan.heterogeneity is None else np.random.default_rng(
            np.random.SeedSequence(ss.entropy, spawn_key=(*ss.spawn_key, _VARIETY_STREAM)))
        sig, t = draw_patient(np.random.default_rng(ss), plan, r["fs"], r["duration_s"], r["mains_hz"], xrng)
        if signals is None:
            signals = np.empty((n,) + sig.shape, dtype=np.float32)
        signals[i] = sig
        patients.append({"record": rid, "patient_id": pid, "label": int(written[i]), "flipped": bool(flipped[i]), **t})
    groups = (["hf"] if r["effect"] > 0 else []) + (["conventional"] if spec["conventional"] else [])
    truth = {"preset": r["preset"], "seed": r["seed"], "params": dict(r), "generator_version": GENERATOR_VERSION,
             "expected_signal_groups": groups, "n_flipped": int(flipped.sum()), "patients": patients}
    truth["oracle_auroc"] = oracle_auroc(truth)
    return signals, truth


def cohort_from_params(params: SynthParams | None = None, *, min_per_class: int = MIN_PER_CLASS) -> Cohort:
    """The synthetic cohort of ``params`` as a validated :class:`Cohort` (dataset ``"synthetic"``).

    What ``load_cohort("synthetic", synth=params)`` and the command line build; from Python,
    :func:`generate_cohort` takes the same parameters as keywords.

    Parameters
    ----------
    params : SynthParams
        Preset, size, effect and seed (default ``SynthParams()``: realistic, 177 patients x 30 s).
    min_per_class : int, default 5
        Fewest patients of each class accepted (see :meth:`SynthParams.validate`).

    Returns
    -------
    Cohort
        One record per patient (``syn001``/``P001``...), float32 ``(n_samples, 12)`` mV signals
        (read-only arrays, shared with the cache), ``info["truth"]`` the planted answer and
        ``info["synth_params"]`` the resolved parameters.

    Raises
    ------
    ParameterError
        For a parameter outside its valid range (named with its value and range).
    """
    params = (params or SynthParams()).validate(min_per_class)
    r = params.resolved()
    shape = (r["n_patients"], int(round(r["duration_s"] * r["fs"])), len(STANDARD_LEADS))
    signals, truth = cached_cohort_data(cache_key(r), shape, lambda: _simulate(r))
    records = [
        Record(record_id=p["record"], patient_id=p["patient_id"], label=p["label"], fs=r["fs"],
               lead_names=STANDARD_LEADS, signal=signals[i], source="memory",
               meta={"true_label": p["true_label"], "flipped": p["flipped"]})
        for i, p in enumerate(truth["patients"])
    ]
    return Cohort(records=records, dataset="synthetic", info={"truth": truth, "synth_params": r})


def generate_cohort(*, preset: str = DEFAULT_PRESET, n_patients: int | None = None, seed: int = 0,
                    duration_s: float | None = None, effect: float | None = None, label_noise: float | None = None,
                    prevalence: float | None = None, mains_hz: float | None = None,
                    fs: float | None = None) -> Cohort:
    """A synthetic 12-lead cohort with a planted, known answer (see the module notes).

    Every argument left at None takes the default of :class:`SynthParams` and the preset.

    Parameters
    ----------
    preset : {"realistic", "hf_effect", "null", "label_noise", "averaging_required", "conventional_effect"}
        What is planted (default ``realistic``: HF-QRS RMS reduced in one lead group of most
        positives, by a patient-specific amount, among noisy records and frequent ectopy).
    n_patients : int, optional
        Patients, one record each (default: the preset's, 177 for realistic, else 120);
        at least one of each class.
    seed : int, default 0
        Same seed, same cohort (bit-identical signals).
    duration_s : float, optional
        Record length in s, in [5, 3600] (default 30).
    effect : float, optional
        Relative HF-QRS RMS reduction in the affected leads of positives, in [0, 1).
    label_noise : float, optional
        Fraction of labels flipped per class, in [0, 0.5).
    prevalence : float, optional
        Fraction of positive patients, in (0, 1) (default 0.3).
    mains_hz : {50, 60}, optional
        Mains interference frequency in Hz (default 50).
    fs : float, optional
        Sampling rate in Hz, in [1000, 20000] (default 1000).

    Returns
    -------
    Cohort
        Labelled records ``syn001``/``P001``..., float32 signals ``(round(duration_s * fs), 12)``
        in mV; ``info["truth"]`` holds the planted answer per patient and ``oracle_auroc``.

    Raises
    ------
    ParameterError
        Naming the parameter, its value and the valid range.

    Examples
    --------
    >>> cohort = generate_cohort(preset="hf_effect", n_patients=4, duration_s=10, seed=1)
    >>> len(cohort), cohort.records[0].signal.shape, cohort.records[0].lead_names[3]
    (4, (10000, 12), 'aVR')
    >>> cohort.describe()["n_positive"], cohort.info["truth"]["expected_signal_groups"]
    (1, ['hf'])
    >>> generate_cohort(n_patients=4, duration_s=2)
    Traceback (most recent call last):
    ...
    hfecg_bench.errors.ParameterError: invalid duration_s=2: record length must be in [5, 3600] s
    """
    given = dict(preset=preset, n_patients=n_patients, seed=seed, duration_s=duration_s, effect=effect,
                 label_noise=label_noise, prevalence=prevalence, mains_hz=mains_hz, fs=fs)
    params = SynthParams(**{k: v for k, v in given.items() if v is not None})
    return cohort_from_params(params, min_per_class=1)


def adc_gain(signal: np.ndarray) -> float:
    """The largest of 20000, 10000, 5000, 2000, 1000, 500, 200 adu/mV that keeps ``signal`` inside int16."""
    peak = float(np.max(np.abs(signal))) if signal.size else 0.0
    for g in (20000.0, 10000.0, 5000.0, 2000.0, 1000.0, 500.0, 200.0):
        if peak * g <= 32000:
            return g
    raise HfecgError(f"synthetic signal peak {peak:.1f} mV does not fit 16-bit WFDB storage")


def write_cohort(params: SynthParams, out: Path) -> Path:
    """Write the cohort as WFDB records (fmt 16) + ``labels.csv`` + ``truth.json`` in ``out``.

    The same parameters always give byte-identical files. Each record's gain (>= 1000 adu/mV
    for any realistic ECG) keeps microvolt HF-QRS content above the quantisation step.

    Raises
    ------
    HfecgError
        If ``out`` exists and is not an empty folder.
    ParameterError
        For invalid parameters (checked before anything is written).
    """
    import wfdb   # lazy: half a second to import, needed only to write WFDB files

    params.validate()
    out = Path(out)
    if out.exists() and (not out.is_dir() or any(out.iterdir())):
        raise HfecgError(f"output folder {out} exists and is not empty; choose a new or empty folder")
    cohort = cohort_from_params(params)
    out.mkdir(parents=True, exist_ok=True)
    for rec in cohort.records:
        gain = adc_gain(rec.signal)
        digital = np.round(rec.signal.astype(np.float64) * gain).astype(np.int16)
        nl = len(STANDARD_LEADS)
        wfdb.wrsamp(rec.record_id, fs=float(rec.fs), units=["mV"] * nl, sig_name=list(STANDARD_LEADS),
                    d_signal=digital, fmt=["16"] * nl, adc_gain=[gain] * nl, baseline=[0] * nl,
                    comments=[f"patient_id: {rec.patient_id}", "source: hfecg_bench synthetic"],
                    write_dir=str(out))
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(["record", "patient_id", "label"])
    for rec in cohort.records:
        w.writerow([rec.record_id, rec.patient_id, rec.label])
    write_atomic(out / "labels.csv", buf.getvalue())
    write_atomic(out / "truth.json", json.dumps(cohort.info["truth"], sort_keys=True, indent=1) + "\n")
    return out


__all__ = ["DEFAULT_PRESET", "GENERATOR_VERSION", "PRESETS", "SynthParams", "adc_gain", "auroc", "cache_key",
           "class_counts", "cohort_from_params", "generate_cohort", "min_patients", "oracle_auroc",
           "territory_contrast", "write_cohort"]
