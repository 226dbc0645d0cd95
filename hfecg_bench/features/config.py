"""FeatureConfig: which per-lead features are computed, and how."""
from __future__ import annotations

import json
from dataclasses import asdict, dataclass, fields

import pywt

from hfecg_bench.bands import HF_BAND_HZ, check_band
from hfecg_bench.errors import ParameterError
from hfecg_bench.leads import STANDARD_LEADS

GROUPS = ("hf", "wavelet", "spectral", "conventional")
PROFILES = ("quick", "full")


@dataclass
class FeatureConfig:
    """Parameters of the feature groups (frequencies in Hz, times in ms, amplitudes in uV).

    Parameters
    ----------
    hf_band : (float, float), default :data:`hfecg_bench.bands.HF_BAND_HZ` (150, 250)
        HF-QRS band in Hz, the one band of a run: the HF features and the deep models' ``beats_hf``
        view both use it. The upper edge is lowered to 0.45 x fs where the rate is too low
        (noted in ``info``).
    hf_order : int, default 4
        Butterworth order (doubled in effect by zero-phase filtering).
    zero_phase : bool, default True
        Forward-backward filtering (no group delay); False filters forward only.
    raz_neighbour_ms : float, default 6
        A local maximum of the HF envelope is a sample that is the largest within +/- this span.
    raz_min_peak_fraction : float, default 0.5
        ... and at least this fraction of the largest envelope value in the QRS.
    raz_min_depth : float, default 0.2
        A RAZ needs the dip between two local maxima to be at least this fraction below the
        smaller of the two maxima ...
    raz_noise_factor : float, default 2
        ... and at least this many times the HF noise level (``noise_uv``) below it.
    wavelet : str, default "db4"
    wavelet_levels : int, default 5
        DWT levels (clamped to what the beat length allows); at 1000 Hz d1..d5 cover
        250-500, 125-250, 62-125, 31-62, 16-31 Hz and a5 0-16 Hz.
    welch_nperseg_ms : float, default 256
        Welch segment of the whole-beat spectrum (Hann, 50 % overlap); the QRS spectrum is one
        Hann-windowed segment of the QRS itself, both zero-padded to ``nfft`` points.
    nfft : int, default 1024
    spectral_bands : tuple of (low, high), default 0.5-5, 5-15, 15-40, 40-100, 100-150, 150-250 Hz
    edge_fraction : float, default 0.95
        Spectral edge frequency: below it lies this fraction of the power.
    groups : tuple of str, default all four
    min_beats : int, default 5
        Records with fewer kept beats are excluded (listed with the reason), never zero-filled.
    leads : tuple of str, default the 12 standard leads
    include_extra_leads : bool, default False
        Also compute features for other leads of the record (e.g. Frank vx, vy, vz).

    Examples
    --------
    >>> cfg = FeatureConfig(hf_band=(100, 200), groups=("hf",))
    >>> cfg.hf_band, cfg.groups, FeatureConfig.for_profile("full").wavelet_levels
    ((100.0, 200.0), ('hf',), 6)
    >>> FeatureConfig(groups=("hf", "ecg"))
    Traceback (most recent call last):
    ...
    hfecg_bench.errors.ParameterError: invalid groups=['hf', 'ecg']: choose from ['hf', 'wavelet', 'spectral', 'conventional']
    """

    hf_band: tuple[float, float] = HF_BAND_HZ
    hf_order: int = 4
    zero_phase: bool = True
    raz_neighbour_ms: float = 6.0
    raz_min_peak_fraction: float = 0.5
    raz_min_depth: float = 0.2
    raz_noise_factor: float = 2.0
    wavelet: str = "db4"
    wavelet_levels: int = 5
    welch_nperseg_ms: float = 256.0
    nfft: int = 1024
    spectral_bands: tuple = ((0.5, 5.0), (5.0, 15.0), (15.0, 40.0), (40.0, 100.0), (100.0, 150.0), (150.0, 250.0))
    edge_fraction: float = 0.95
    groups: tuple[str, ...] = GROUPS
    min_beats: int = 5
    leads: tuple[str, ...] = STANDARD_LEADS
    include_extra_leads: bool = False

    def __post_init__(self):
        self.hf_band = check_band("hf_band", self.hf_band)
        self.spectral_bands = tuple((float(lo), float(hi)) for lo, hi in self.spectral_bands)
        self.groups = tuple(self.groups)
        self.leads = tuple(self.leads)
        bad = [g for g in self.groups if g not in GROUPS]
        if bad or not self.groups:
            raise ParameterError("groups", list(self.groups), f"choose from {list(GROUPS)}")
        if self.hf_order < 1:
            raise ParameterError("hf_order", self.hf_order, "must be >= 1")
        if self.min_beats < 1:
            raise ParameterError("min_beats", self.min_beats, "must be >= 1")
        if not 0 < self.edge_fraction < 1:
            raise ParameterError("edge_fraction", self.edge_fraction, "must be in (0, 1)")
        if not 0 <= self.raz_min_peak_fraction < 1:
            raise ParameterError("raz_min_peak_fraction", self.raz_min_peak_fraction, "must be in [0, 1)")
        if not 0 <= self.raz_min_depth < 1:
            raise ParameterError("raz_min_depth", self.raz_min_depth, "must be in [0, 1)")
        if self.wavelet_levels < 1:
            raise ParameterError("wavelet_levels", self.wavelet_levels, "must be >= 1")
        if self.wavelet not in pywt.wavelist(kind="discrete"):
            raise ParameterError("wavelet", self.wavelet, "must be a discrete PyWavelets family name, e.g. 'db4'")

    @classmethod
    def for_profile(cls, profile: str = "quick") -> "FeatureConfig":
        """``quick`` (the defaults) or ``full`` (also 6 wavelet levels and the extra leads, e.g. Frank)."""
        if profile not in PROFILES:
            raise ParameterError("profile", profile, f"choose one of {list(PROFILES)}")
        if profile == "full":
            return cls(wavelet_levels=6, include_extra_leads=True)
        return cls()

    @classmethod
    def from_dict(cls, d: dict) -> "FeatureConfig":
        names = {f.name for f in fields(cls)}
        unknown = sorted(set(d) - names)
        if unknown:
            raise ParameterError("feature config keys", unknown, f"known keys are {sorted(names)}")
        return cls(**d)

    def as_dict(self) -> dict:
        """JSON-serialisable parameters (tuples become lists)."""
        def plain(v):
            return [plain(x) for x in v] if isinstance(v, (tuple, list)) else v
        return {k: plain(v) for k, v in asdict(self).items()}

    def key(self) -> str:
        """Canonical JSON text of the parameters (part of cache keys)."""
        return json.dumps(self.as_dict(), sort_keys=True)
