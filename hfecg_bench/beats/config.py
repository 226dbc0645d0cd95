"""BeatConfig: how beats are detected, aligned, rejected and averaged."""
from __future__ import annotations

import json
from dataclasses import asdict, dataclass, fields

from hfecg_bench.errors import ParameterError

PROFILES = ("quick", "full")


@dataclass
class BeatConfig:
    """Parameters of the beat pipeline (all times in milliseconds, frequencies in Hz).

    Parameters
    ----------
    window_ms : float, default 400
        Length of an exported beat window (:func:`extract_beatset`, ``BeatResult.windows``).
    pre_ms : float, default 150
        Part of ``window_ms`` before the R fiducial (the rest, ``post_ms``, follows it).
    avg_pre_ms, avg_post_ms : float, default 250, 450
        Span of the signal-averaged beat around R; long enough for the PR baseline, ST and T.
    highpass_hz : float, default 0.5
        Zero-phase baseline-wander high-pass applied to the continuous signal before cutting beats.
    detect_band : (float, float), default (5, 30)
        Band of the spatial QRS energy used for R-peak detection.
    min_rr_ms : float, default 250
        Refractory period of the detector (the fastest rate accepted, 240 bpm).
    detect_threshold : float, default 0.3
        Detection threshold as a fraction of the typical (90th percentile) candidate energy peak.
    align_band : (float, float), default (5, 100)
        Band of the beats used for the cross-correlation alignment and the correlation test.
    align_qrs_ms : (float, float), default (-60, 80)
        Segment around R (ms) matched by cross-correlation.
    align_search_ms : float, default 30
        Largest shift searched either side; a best lag at this edge rejects the beat.
    align_iterations : int, default 2
        Template / alignment refinement rounds (sub-sample, parabolic peak + FFT phase-ramp shift).
    min_corr : float, default 0.9
        Beats whose QRS correlation with the median template is below this are rejected (ectopic, noisy).
    min_template_corr : float, default 0.6
        Signal-quality gate: a record whose detected beats correlate with their own median
        template (``align_band``, QRS segment, after alignment) at a median below this holds no
        consistent QRS (noise, no ECG) and yields no beats. Measured medians: real PTB records
        0.997-1.000, synthetic presets >= 0.96 (``averaging_required``), white or integrated
        noise 0.17-0.25.
    premature_fraction : float, default 0.2
        A beat whose preceding RR is shorter than (1 - this) x median RR is rejected as premature.
    noise_mad_factor : float, default 5
        A beat whose residual RMS against the template exceeds median + this x MAD is rejected as noisy.
    max_beats : int or None, default None
        Keep at most this many (the best-correlated) beats; None keeps all.
    min_beats : int, default 5
        Fewer kept beats than this marks the record unusable (:func:`extract_beatset` excludes it).
    hf_order : int, default 4
        Butterworth order of the ``band="hf"`` beat export; its band is not a beat parameter but
        ``FeatureConfig.hf_band`` (one band for features and beats), passed to
        :func:`~hfecg_bench.beats.extract_beatset` as ``hf_band``.

    Examples
    --------
    >>> cfg = BeatConfig.for_profile("full")
    >>> cfg.post_ms, cfg.align_iterations, cfg.as_dict()["detect_band"]
    (250.0, 3, [5.0, 30.0])
    >>> BeatConfig.from_dict({"hf_band": [100, 200]})
    Traceback (most recent call last):
    ...
    hfecg_bench.errors.ParameterError: invalid beats.hf_band=[100, 200]: the HF band is set once, as features.hf_band
    """

    window_ms: float = 400.0
    pre_ms: float = 150.0
    avg_pre_ms: float = 250.0
    avg_post_ms: float = 450.0
    highpass_hz: float = 0.5
    detect_band: tuple[float, float] = (5.0, 30.0)
    min_rr_ms: float = 250.0
    detect_threshold: float = 0.3
    align_band: tuple[float, float] = (5.0, 100.0)
    align_qrs_ms: tuple[float, float] = (-60.0, 80.0)
    align_search_ms: float = 30.0
    align_iterations: int = 2
    min_corr: float = 0.9
    min_template_corr: float = 0.6
    premature_fraction: float = 0.2
    noise_mad_factor: float = 5.0
    max_beats: int | None = None
    min_beats: int = 5
    hf_order: int = 4

    def __post_init__(self):
        for name in ("detect_band", "align_band", "align_qrs_ms"):
            setattr(self, name, tuple(float(x) for x in getattr(self, name)))
        if not 0 < self.pre_ms < self.window_ms:
            raise ParameterError("pre_ms", self.pre_ms, f"must be in (0, window_ms={self.window_ms})")
        if self.avg_pre_ms <= 0 or self.avg_post_ms <= 0:
            raise ParameterError("avg_pre_ms/avg_post_ms", (self.avg_pre_ms, self.avg_post_ms), "must be > 0")
        if not -1 <= self.min_corr <= 1:
            raise ParameterError("min_corr", self.min_corr, "must be in [-1, 1]")
        if not -1 <= self.min_template_corr <= 1:
            raise ParameterError("min_template_corr", self.min_template_corr, "must be in [-1, 1]")
        if self.min_beats < 1:
            raise ParameterError("min_beats", self.min_beats, "must be >= 1")
        if self.align_search_ms <= 0:
            raise ParameterError("align_search_ms", self.align_search_ms, "must be > 0")
        for name in ("detect_band", "align_band"):
            lo, hi = getattr(self, name)
            if not 0 < lo < hi:
                raise ParameterError(name, (lo, hi), "must be (low, high) with 0 < low < high")

    @property
    def post_ms(self) -> float:
        """Part of the export window after R (``window_ms - pre_ms``)."""
        return self.window_ms - self.pre_ms

    @classmethod
    def for_profile(cls, profile: str = "quick") -> "BeatConfig":
        """The configuration of a profile: ``quick`` (defaults) or ``full`` (one more alignment round)."""
        if profile not in PROFILES:
            raise ParameterError("profile", profile, f"choose one of {list(PROFILES)}")
        if profile == "full":
            return cls(align_iterations=3)
        return cls()

    @classmethod
    def from_dict(cls, d: dict) -> "BeatConfig":
        """The configuration from a ``[beats]`` table; unknown keys are a :class:`ParameterError`."""
        if "hf_band" in d:
            raise ParameterError("beats.hf_band", d["hf_band"], "the HF band is set once, as features.hf_band")
        names = {f.name for f in fields(cls)}
        unknown = sorted(set(d) - names)
        if unknown:
            raise ParameterError("beat config keys", unknown, f"known keys are {sorted(names)}")
        return cls(**d)

    def as_dict(self) -> dict:
        """JSON-serialisable parameters (tuples become lists)."""
        return {k: list(v) if isinstance(v, tuple) else v for k, v in asdict(self).items()}

    def key(self) -> str:
        """Canonical JSON text of the parameters (part of cache keys)."""
        return json.dumps(self.as_dict(), sort_keys=True)
