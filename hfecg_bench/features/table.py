"""FeatureTable and extract_features: one row per record, columns ``<lead>__<group>__<feature>``."""
from __future__ import annotations

import io
import math
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from hfecg_bench.beats.config import BeatConfig
from hfecg_bench.beats.pipeline import beats_from_record
from hfecg_bench.cohort import Excluded
from hfecg_bench.errors import ParameterError
from hfecg_bench.features.cache import FeatureCache
from hfecg_bench.features.config import GROUPS, FeatureConfig
from hfecg_bench.features.context import BeatContext
from hfecg_bench.features.conventional import conventional_features
from hfecg_bench.features.hf import hf_band_for, hf_features
from hfecg_bench.features.spectral import spectral_features
from hfecg_bench.features.wavelet import wavelet_features
from hfecg_bench.io import write_atomic
from hfecg_bench.paths import resolve_cache_dir

ID_COLUMNS = ("record_id", "patient_id", "label")
GROUP_FUNCTIONS = {"hf": hf_features, "wavelet": wavelet_features, "spectral": spectral_features,
                   "conventional": conventional_features}


def split_column(name: str) -> tuple[str, str, str] | None:
    """``"V2__hf__rms_uv"`` -> ``("V2", "hf", "rms_uv")``; None for id columns."""
    parts = str(name).split("__", 2)
    return (parts[0], parts[1], parts[2]) if len(parts) == 3 else None


@dataclass(eq=False)
class FeatureTable:
    """Features of a cohort, one row per record.

    Attributes
    ----------
    frame : pandas.DataFrame
        ``record_id, patient_id, label`` then feature columns ``<lead>__<group>__<feature>``
        (lead ``all`` for record-level values); amplitudes in uV end in ``_uv``. ``label`` is
        int64, or nullable ``Int64`` with ``<NA>`` where records have no label.
    excluded : list of Excluded
        The cohort's excluded records, then those with fewer than ``min_beats`` usable beats.
    nan_log : list of (record_id, lead, feature, reason)
        Every NaN feature value and why (``feature`` is ``<group>__<name>``).
    config : FeatureConfig
    beat_config : BeatConfig
    info : dict
        Cache hits, HF band used, timing.

    Examples
    --------
    >>> from hfecg_bench.data import generate_cohort
    >>> cohort = generate_cohort(preset="hf_effect", n_patients=4, duration_s=10, seed=1)
    >>> table = extract_features(cohort, FeatureConfig(groups=("hf", "conventional")), cache_dir=False)
    >>> table.groups(), table.leads()[:3], table.leads()[-1]
    (['hf', 'conventional'], ['I', 'II', 'III'], 'all')
    >>> table.feature_columns("hf")[:2]
    ['I__hf__rms_uv', 'I__hf__peak_env_uv']
    """

    frame: pd.DataFrame
    excluded: list = field(default_factory=list)
    nan_log: list = field(default_factory=list)
    config: FeatureConfig = field(default_factory=FeatureConfig)
    beat_config: BeatConfig = field(default_factory=BeatConfig)
    info: dict = field(default_factory=dict)

    def feature_columns(self, groups=None) -> list[str]:
        """Feature column names, optionally only those of ``groups`` (a name or a list of names)."""
        if isinstance(groups, str):
            groups = [groups]
        wanted = set(groups) if groups is not None else None
        out = []
        for c in self.frame.columns:
            parts = split_column(c)
            if parts and (wanted is None or parts[1] in wanted):
                out.append(c)
        return out

    def groups(self) -> list[str]:
        """Feature groups present, in the canonical order hf, wavelet, spectral, conventional."""
        present = {split_column(c)[1] for c in self.feature_columns()}
        return [g for g in GROUPS if g in present]

    def leads(self) -> list[str]:
        """Leads with feature columns (``all`` last if present)."""
        return list(dict.fromkeys(split_column(c)[0] for c in self.feature_columns()))

    def write(self, path: Path) -> Path:
        """Write ``frame`` as .csv or .parquet (by suffix)."""
        path = Path(path)
        if path.suffix == ".parquet":
            buf = io.BytesIO()
            self.frame.to_parquet(buf, index=False)
            return write_atomic(path, buf.getvalue())
        if path.suffix == ".csv":
            return write_atomic(path, self.frame.to_csv(index=False))
        raise ParameterError("path", str(path), "use a .csv or .parquet file name")


def _feature_leads(record, config: FeatureConfig) -> list[str]:
    leads = list(config.leads)
    if config.include_extra_leads:
        leads += [name for name in record.lead_names if name not in leads]
    return leads


def record_features(record, config: FeatureConfig | None = None, beat_config: BeatConfig | None = None) -> dict:
    """Features of one record, computed from that record alone (its signal-averaged beat).

    Parameters
    ----------
    record : Record
        Labelled or not; continuous signal or pre-cut beats.
    config : FeatureConfig, optional
    beat_config : BeatConfig, optional

    Returns
    -------
    dict
        ``values`` (column ``<lead>__<group>__<feature>`` -> float, lead columns then ``all__``
        columns per group), ``nan`` (``[lead, feature, reason]`` per NaN value), ``excluded``
        (None, or why the record has no features) and ``info`` (beats detected/kept, HF band).

    Examples
    --------
    >>> from hfecg_bench.data import generate_cohort
    >>> rec = generate_cohort(n_patients=4, duration_s=10, seed=1).records[0]
    >>> out = record_features(rec, FeatureConfig(groups=("hf",)))
    >>> out["excluded"], out["info"]["hf_band"], len(out["values"])
    (None, [150.0, 250.0], 120)
    """
    config = config or FeatureConfig()
    beat_config = beat_config or BeatConfig()
    res = beats_from_record(record, beat_config)
    info = {"n_detected": res.info.get("n_detected"), "n_kept": res.n_kept,
            "rejected": res.rejection_summary(), "qrs_fallback": res.info.get("qrs_fallback")}
    if res.info.get("no_ecg"):
        return {"values": {}, "nan": [], "info": info, "excluded": res.info["no_ecg"]}
    if res.n_kept < config.min_beats:
        why = res.info.get("error") or f"rejected: {res.rejection_summary()}"
        return {"values": {}, "nan": [], "info": info,
                "excluded": f"only {res.n_kept} usable beat(s) (< min_beats={config.min_beats}) of "
                            f"{res.info.get('n_detected', 0)} detected; {why}"}
    leads = _feature_leads(record, config)
    present = [lead for lead in leads if lead in record.lead_names]
    if not present:
        return {"values": {}, "nan": [], "info": info,
                "excluded": f"none of the leads {leads} is in the record (has {list(record.lead_names)})"}
    cols = [record.lead_names.index(lead) for lead in present]
    ctx = BeatContext(average=res.average[:, cols], fs=float(record.fs), onset=res.qrs_onset,
                      offset=res.qrs_offset, fiducial=res.fiducial, n_beats=res.n_kept,
                      nn_ms=np.asarray(res.info.get("nn_ms", []), dtype=np.float64), precut=record.is_beats,
                      lead_names=tuple(present))
    values: dict[str, float] = {}
    nan: list[list[str]] = []
    pos = {lead: j for j, lead in enumerate(present)}
    for group in config.groups:
        g = GROUP_FUNCTIONS[group](ctx, config)
        for lead in leads:
            j = pos.get(lead)
            for name, arr in g.per_lead.items():
                v = float(arr[j]) if j is not None else math.nan
                values[f"{lead}__{group}__{name}"] = v
                if math.isnan(v):
                    reason = "lead absent from the record" if j is None else g.reasons.get(name, "not computable")
                    nan.append([lead, f"{group}__{name}", reason])
        for name, v in g.across.items():
            values[f"all__{group}__{name}"] = float(v)
            if math.isnan(float(v)):
                nan.append(["all", f"{group}__{name}", g.reasons.get(name, "not computable")])
    info["hf_band"] = list(hf_band_for(float(record.fs), config))
    return {"values": values, "nan": nan, "excluded": None, "info": info}


def extract_features(cohort, config: FeatureConfig | None = None, beat_config: BeatConfig | None = None, *,
                     cache_dir=None, progress=None) -> FeatureTable:
    """Features of every record of ``cohort`` (one record in memory at a time).

    Each row depends on its own record only (:func:`record_features`), so features computed
    before a patient-wise split leak nothing across it. Records need no label.

    Parameters
    ----------
    cohort : Cohort
    config : FeatureConfig, optional
        Default ``FeatureConfig()`` (the quick profile).
    beat_config : BeatConfig, optional
    cache_dir : Path, None or False, default None
        Per-record cache folder; ``None`` = :func:`hfecg_bench.paths.cache_dir` ``("features")``
        (``$HFECG_CACHE_DIR/features`` or ``~/.cache/hfecg_bench/features``); ``False`` = no cache.
        Cached and fresh results are equal.
    progress : callable(i, n, name), optional

    Returns
    -------
    FeatureTable
        One row per record with enough beats; the others are in ``excluded`` with the reason.

    Examples
    --------
    >>> from hfecg_bench.data import generate_cohort
    >>> cohort = generate_cohort(preset="hf_effect", n_patients=4, duration_s=10, seed=1)
    >>> table = extract_features(cohort, cache_dir=False)
    >>> table.frame.shape, list(table.frame.columns[:4])
    ((4, 583), ['record_id', 'patient_id', 'label', 'I__hf__rms_uv'])
    >>> table.frame["label"].tolist(), bool(table.frame["V2__hf__rms_uv"].between(0.5, 50).all())
    ([0, 0, 0, 1], True)
    """
    config = config or FeatureConfig()
    beat_config = beat_config or BeatConfig()
    for fs in sorted({float(r.fs) for r in cohort.records}):
        hf_band_for(fs, config)                  # an HF band above Nyquist fails before any record is read
    directory = resolve_cache_dir(cache_dir, "features")
    cache = FeatureCache(directory) if directory is not None else None
    rows, nan_log, excluded = [], [], list(cohort.excluded)
    n_cohort_excluded = len(excluded)
    n = len(cohort.records)
    for i, rec in enumerate(cohort.records):
        payload = None
        if cache is not None:
            key = cache.key(rec, config, beat_config)
            payload = cache.get(key)
        if payload is None:
            payload = record_features(rec, config, beat_config)
            if cache is not None:
                cache.put(key, payload)
        if payload["excluded"]:
            excluded.append(Excluded(rec.record_id, payload["excluded"]))
        else:
            rows.append({"record_id": rec.record_id, "patient_id": rec.patient_id, "label": rec.label,
                         **payload["values"]})
            nan_log.extend((rec.record_id, lead, feat, why) for lead, feat, why in payload["nan"])
        if progress:
            progress(i, n, rec.record_id)
    frame = pd.DataFrame(rows) if rows else pd.DataFrame(columns=list(ID_COLUMNS))
    feat_cols = [c for c in frame.columns if c not in ID_COLUMNS]
    lead_cols = [c for c in feat_cols if not c.startswith("all__")]
    all_cols = [c for c in feat_cols if c.startswith("all__")]
    frame = frame[list(ID_COLUMNS) + lead_cols + all_cols]
    # int64 labels as before when every record has one; nullable Int64 (<NA>) otherwise
    frame = frame.astype({"label": "int64" if frame["label"].notna().all() else "Int64"})
    info = {"n_records": len(rows), "n_excluded_by_features": len(excluded) - n_cohort_excluded,
            "cache_dir": str(directory) if directory and not (cache and cache.disabled) else None,
            "cache_hits": cache.hits if cache else 0, "cache_misses": cache.misses if cache else 0}
    return FeatureTable(frame=frame, excluded=excluded, nan_log=nan_log, config=config, beat_config=beat_config,
                        info=info)
