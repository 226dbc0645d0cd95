"""Per-lead features of the signal-averaged beat: HF-QRS, wavelet, spectral and conventional.

Two ways in: :func:`extract_features` turns a :class:`~hfecg_bench.cohort.Cohort` into a
:class:`FeatureTable`; :class:`HFQRSFeatures` is the same per-record computation as a
scikit-learn transformer over arrays ``(n_records, n_samples, n_leads)``.

Examples
--------
>>> from hfecg_bench.data import generate_cohort
>>> from hfecg_bench.features import FeatureConfig, extract_features
>>> cohort = generate_cohort(n_patients=4, duration_s=10, seed=1)
>>> table = extract_features(cohort, FeatureConfig(groups=("hf",)), cache_dir=False)
>>> table.feature_columns(["hf"])[:3]
['I__hf__rms_uv', 'I__hf__peak_env_uv', 'I__hf__raz']
"""
from hfecg_bench.features.cache import FeatureCache
from hfecg_bench.features.config import GROUPS, FeatureConfig
from hfecg_bench.features.context import BeatContext, GroupResult
from hfecg_bench.features.conventional import conventional_features
from hfecg_bench.features.hf import hf_features, hf_signal, raz_scan
from hfecg_bench.features.spectral import spectral_features
from hfecg_bench.features.table import FeatureTable, extract_features, record_features, split_column
from hfecg_bench.features.transformer import HFQRSFeatures
from hfecg_bench.features.wavelet import wavelet_features

__all__ = ["GROUPS", "BeatContext", "FeatureCache", "FeatureConfig", "FeatureTable", "GroupResult", "HFQRSFeatures",
           "conventional_features", "extract_features", "hf_features", "hf_signal", "raz_scan",
           "record_features", "spectral_features", "split_column", "wavelet_features"]
