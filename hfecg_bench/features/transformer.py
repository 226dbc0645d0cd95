"""HFQRSFeatures: the per-record feature extraction as a scikit-learn transformer.

It takes raw recordings as an array ``(n_records, n_samples, n_leads)`` in mV and returns the
same features :func:`~hfecg_bench.features.extract_features` computes for a cohort (one row per
record, columns ``<lead>__<group>__<feature>``). Every row is a function of its own record
only and ``fit`` learns nothing from the data, so the transformer can sit first in a
``Pipeline`` under any cross-validation without leaking across folds.

Examples
--------
>>> import numpy as np
>>> from hfecg_bench.data import generate_cohort
>>> cohort = generate_cohort(preset="hf_effect", n_patients=4, duration_s=10, seed=1)
>>> X = np.stack([r.signal for r in cohort.records])
>>> t = HFQRSFeatures(fs=1000.0, cache_dir=False)
>>> Z = t.fit_transform(X)
>>> X.shape, Z.shape, Z.dtype, t.get_feature_names_out()[0]
((4, 10000, 12), (4, 120), dtype('float64'), 'I__hf__rms_uv')
>>> names = list(t.get_feature_names_out())
>>> bool(np.all((Z[:, names.index("V2__hf__rms_uv")] > 0.5) & (Z[:, names.index("V2__hf__rms_uv")] < 50)))
True
"""
from __future__ import annotations

import json
import warnings
from functools import lru_cache

import numpy as np
from sklearn.base import BaseEstimator, TransformerMixin
from sklearn.utils.validation import check_is_fitted

from hfecg_bench.bands import HF_BAND_HZ
from hfecg_bench.beats.config import BeatConfig
from hfecg_bench.cohort import Cohort, Record
from hfecg_bench.data.validate import HF_MIN_FS
from hfecg_bench.errors import HfecgWarning, ParameterError
from hfecg_bench.features.config import GROUPS, FeatureConfig
from hfecg_bench.features.table import extract_features, record_features
from hfecg_bench.leads import STANDARD_LEADS, normalize_leads


def _probe_signal(fs: float, n_leads: int) -> np.ndarray:
    """A clean 12-beat template recording ``(12 * fs, n_leads)`` in mV (R, small Q/S, T; 60 bpm).

    Only used to learn which columns the feature code produces at this rate and configuration
    (the column set depends on fs and the beat window, never on the data).
    """
    t = np.arange(int(round(12 * fs))) / fs
    phase = (t % 1.0) - 0.5                                          # s from the R peak of each beat
    qrs = np.exp(-0.5 * (phase / 0.008) ** 2) - 0.15 * np.exp(-0.5 * ((phase + 0.02) / 0.006) ** 2) \
        - 0.2 * np.exp(-0.5 * ((phase - 0.022) / 0.007) ** 2)
    beat = qrs + 0.25 * np.exp(-0.5 * ((phase - 0.28) / 0.045) ** 2)
    noise = np.random.default_rng(0).normal(scale=0.005, size=(t.size, n_leads))   # nothing exactly flat
    gains = np.linspace(1.0, 0.5, n_leads)
    return (beat[:, None] * gains[None, :] + noise).astype(np.float32)


@lru_cache(maxsize=16)
def _feature_names(fs: float, leads: tuple[str, ...], config_key: str, beat_key: str) -> tuple[str, ...]:
    """Column names the feature code produces for ``leads`` at ``fs``: lead columns, then ``all__``."""
    # min_beats=1: the column set does not depend on it, and a strict setting must not fail the probe
    config = FeatureConfig.from_dict({**json.loads(config_key), "min_beats": 1})
    beat_config = BeatConfig.from_dict(json.loads(beat_key))
    probe = Record("probe", "probe", fs=fs, lead_names=leads, signal=_probe_signal(fs, len(leads)))
    out = record_features(probe, config, beat_config)
    if out["excluded"]:
        raise ParameterError("fs", fs, f"the feature code found no beats in a clean template at this rate "
                                       f"({out['excluded']})")
    names = list(out["values"])
    return tuple([n for n in names if not n.startswith("all__")] + [n for n in names if n.startswith("all__")])


class HFQRSFeatures(TransformerMixin, BaseEstimator):
    """HF-QRS features (optionally also wavelet, spectral, conventional) of raw ECG recordings.

    A scikit-learn transformer (parameters stored unchanged, validated in :meth:`fit`): each
    record's beats are detected, aligned and signal-averaged, and the features of its averaged
    beat computed by :func:`~hfecg_bench.features.record_features`, exactly as
    :func:`~hfecg_bench.features.extract_features` does for a cohort. Nothing is learned from
    the data, so the transformer leaks nothing between training and test records.

    Parameters
    ----------
    fs : float, default 1000.0
        Sampling rate of ``X`` in Hz (HF-QRS needs >= 1000 Hz; above the upper band edge
        0.45 x fs the band is lowered, see :class:`FeatureConfig`).
    leads : sequence of str, optional
        Names of the lead columns of ``X``, normalised (``"avr"`` -> ``aVR``); default the 12
        standard leads :data:`~hfecg_bench.leads.STANDARD_LEADS` in that order.
    hf_band : (float, float), default :data:`~hfecg_bench.bands.HF_BAND_HZ` (150, 250)
        HF-QRS band in Hz.
    groups : sequence of str, default ("hf",)
        Feature groups among ``hf, wavelet, spectral, conventional`` (:data:`GROUPS`). The
        default is the HF-QRS group alone (9 features per lead and 12 across leads): few
        features for the small cohorts this is meant for; ``GROUPS`` gives all four, as
        :func:`~hfecg_bench.features.extract_features` computes by default.
    min_beats : int, optional
        A record with fewer usable beats gets an all-NaN row (and an :class:`HfecgWarning`);
        default that of :class:`FeatureConfig` (5).
    cache_dir : path, None or False, default False
        Per-record feature cache keyed by the record's content and the configuration: a folder,
        None for the package's default folder (``$HFECG_CACHE_DIR``), or False (default: a
        transformer writes nothing to disk unless asked); cached and fresh values are equal.

    Attributes
    ----------
    config_ : FeatureConfig
        The validated feature configuration.
    lead_names_ : tuple of str
        Normalised lead names of the columns of ``X``.
    n_leads_ : int
        Leads ``X`` must have.
    feature_names_out_ : ndarray of str, (n_features,)
        Column names ``<lead>__<group>__<feature>`` (per-lead columns, then ``all__`` columns).

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn.base import clone
    >>> t = HFQRSFeatures(fs=1000.0, leads=["i", "ii", "v2"])
    >>> clone(t).get_params()["leads"], t.fit(np.zeros((1, 5000, 3))).lead_names_
    (['i', 'ii', 'v2'], ('I', 'II', 'V2'))
    >>> t.get_feature_names_out()[:2].tolist(), len(t.get_feature_names_out())
    (['I__hf__rms_uv', 'I__hf__peak_env_uv'], 39)
    >>> HFQRSFeatures(hf_band=(250, 150)).fit(np.zeros((1, 5000, 12)))
    Traceback (most recent call last):
    ...
    hfecg_bench.errors.ParameterError: invalid hf_band=(250, 150): must be (low, high) in Hz with 0 < low < high
    """

    def __init__(self, fs=1000.0, leads=None, hf_band=HF_BAND_HZ, groups=("hf",), min_beats=None, cache_dir=False):
        self.fs = fs
        self.leads = leads
        self.hf_band = hf_band
        self.groups = groups
        self.min_beats = min_beats
        self.cache_dir = cache_dir

    def fit(self, X, y=None):
        """Validate the parameters and the shape of ``X``; learns nothing from its values.

        Parameters
        ----------
        X : array-like, shape (n_records, n_samples, n_leads)
            Recordings in mV.
        y : ignored

        Returns
        -------
        self
        """
        X = _check_X(X)
        if isinstance(self.fs, bool) or not isinstance(self.fs, (int, float, np.integer, np.floating)) \
                or not np.isfinite(self.fs) or self.fs <= 0:
            raise ParameterError("fs", self.fs, "sampling rate in Hz, a finite number > 0")
        if self.fs < HF_MIN_FS:
            warnings.warn(f"HFQRSFeatures: fs={self.fs:g} Hz is below the {HF_MIN_FS:g} Hz HF-QRS needs; HF-QRS "
                          "estimates will be degraded", HfecgWarning, stacklevel=2)
        if self.leads is None:
            leads = STANDARD_LEADS
        elif isinstance(self.leads, str) or not all(isinstance(n, str) for n in self.leads):
            raise ParameterError("leads", self.leads, "a sequence of lead names, one per column of X")
        else:
            leads = normalize_leads(self.leads)
        if len(set(leads)) != len(leads):
            raise ParameterError("leads", self.leads, f"lead names must be distinct after normalisation: {leads}")
        if len(leads) != X.shape[2]:
            raise ParameterError("leads", self.leads, f"{len(leads)} lead names for the {X.shape[2]} lead columns "
                                                      f"of X (shape {X.shape}); name every column")
        if self.min_beats is not None and (isinstance(self.min_beats, bool)
                                           or not isinstance(self.min_beats, (int, np.integer))):
            raise ParameterError("min_beats", self.min_beats, "an integer >= 1")
        if self.groups is None or (not isinstance(self.groups, str) and not all(isinstance(g, str) for g in self.groups)):
            raise ParameterError("groups", self.groups, f"a sequence of feature group names from {list(GROUPS)}")
        groups = (self.groups,) if isinstance(self.groups, str) else tuple(self.groups)
        options = {"leads": leads, "hf_band": self.hf_band, "groups": groups}
        if self.min_beats is not None:
            options["min_beats"] = int(self.min_beats)
        self.config_ = FeatureConfig(**options)             # raises ParameterError naming the parameter
        self.lead_names_ = leads
        self.n_leads_ = len(leads)
        names = _feature_names(float(self.fs), leads, self.config_.key(), BeatConfig().key())
        self.feature_names_out_ = np.asarray(names, dtype=object)
        return self

    def transform(self, X) -> np.ndarray:
        """Features of every record of ``X``, each from that record alone.

        Parameters
        ----------
        X : array-like, shape (n_records, n_samples, n_leads)
            Recordings in mV, leads as at :meth:`fit`.

        Returns
        -------
        ndarray of float64, shape (n_records, n_features)
            Columns :attr:`feature_names_out_`. A record with non-finite samples or too few
            usable beats gets an all-NaN row and an :class:`HfecgWarning` naming its index and
            the reason (impute downstream, e.g. ``SimpleImputer``).
        """
        check_is_fitted(self, "feature_names_out_")
        X = _check_X(X)
        if X.shape[2] != self.n_leads_:
            raise ParameterError("X", f"shape {X.shape}", f"{self.n_leads_} lead columns ({self.lead_names_}), "
                                                          "as at fit")
        finite = np.isfinite(X).all(axis=(1, 2))
        # float32 mV as every cohort stores them: the same record hashes (and caches) the same either way
        records = [Record(f"x{i}", f"x{i}", fs=float(self.fs), lead_names=self.lead_names_,
                          signal=np.asarray(X[i], dtype=np.float32))
                   for i in np.flatnonzero(finite)]
        table = extract_features(Cohort(records, "array"), self.config_, cache_dir=self.cache_dir)
        reasons = {f"x{i}": "non-finite (NaN or inf) samples" for i in np.flatnonzero(~finite)}
        reasons.update({e.record: e.reason for e in table.excluded})
        for rid, why in sorted(reasons.items(), key=lambda kv: int(kv[0][1:])):
            warnings.warn(f"HFQRSFeatures: record {rid[1:]} of X has no features ({why}); its row is NaN",
                          HfecgWarning, stacklevel=2)
        frame = table.frame.set_index("record_id").reindex([f"x{i}" for i in range(X.shape[0])])
        return frame.reindex(columns=list(self.feature_names_out_)).to_numpy(dtype=np.float64)

    def get_feature_names_out(self, input_features=None) -> np.ndarray:
        """Output column names ``<lead>__<group>__<feature>`` (``input_features`` is ignored:
        the input is a 3-D array without column names)."""
        check_is_fitted(self, "feature_names_out_")
        return self.feature_names_out_.copy()


def _check_X(X) -> np.ndarray:
    """``X`` as a numeric array ``(n_records, n_samples, n_leads)``, or :class:`ParameterError`."""
    X = np.asarray(X)
    if X.ndim != 3 or X.shape[0] < 1 or X.shape[1] < 1 or X.shape[2] < 1:
        raise ParameterError("X", f"shape {X.shape}", "an array (n_records, n_samples, n_leads) of recordings in mV")
    if not np.issubdtype(X.dtype, np.number) or np.iscomplexobj(X):
        raise ParameterError("X", f"dtype {X.dtype}", "real numbers (mV)")
    return X
