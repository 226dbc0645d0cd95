"""Per-lead features of the signal-averaged beat: HF-QRS, wavelet, spectral and conventional.

>>> from hfecg_bench.features import FeatureConfig, extract_features  # doctest: +SKIP
>>> table = extract_features(cohort, FeatureConfig.for_profile("quick"))  # doctest: +SKIP
>>> table.feature_columns(["hf"])[:3]                                  # doctest: +SKIP
"""
from hfecg_bench.features.cache import FeatureCache, resolve_cache_dir
from hfecg_bench.features.config import GROUPS, FeatureConfig
from hfecg_bench.features.context import BeatContext, GroupResult
from hfecg_bench.features.conventional import conventional_features
from hfecg_bench.features.hf import hf_features, hf_signal, raz_scan
from hfecg_bench.features.spectral import spectral_features
from hfecg_bench.features.table import FeatureTable, extract_features, record_features, split_column
from hfecg_bench.features.wavelet import wavelet_features

__all__ = ["GROUPS", "BeatContext", "FeatureCache", "FeatureConfig", "FeatureTable", "GroupResult",
           "conventional_features", "extract_features", "hf_features", "hf_signal", "raz_scan",
           "record_features", "resolve_cache_dir", "spectral_features", "split_column", "wavelet_features"]
