"""The HF-QRS view of a run, computed while the signals are at hand and saved as ``hf_view.npz``, so the report
(which never refits and may not have the records) can show what a cardiologist checks first: the averaged
HF-QRS (150-250 Hz) waveform and its envelope per class and lead, and where the reduced amplitude zones are.

Per record: the signal-averaged beat of the run's beat pipeline, band-passed to the HF band exactly as the
HF features do (:func:`hfecg_bench.features.hf.hf_band_for`, zero-phase Butterworth of ``hf_order``), its
Hilbert envelope, cut to a window around R; records are averaged per patient, patients per class. The
per-patient per-lead HF RMS is not repeated here: it is in the feature table.

Averaging HF waveforms of different patients cancels part of them (their 150-250 Hz phases differ), while
envelopes add up; so the view keeps, per class, the mean waveform, the mean envelope with its inter-quartile
band over patients, and one typical patient (envelope nearest the class median) whose own HF waveform is
shown uncancelled. RAZ (:func:`raz_dips`, the criterion of :func:`hfecg_bench.features.hf.raz_scan`) are
located on the typical patients' envelopes.

Examples
--------
>>> import tempfile, pathlib
>>> from hfecg_bench.data import generate_cohort
>>> cohort = generate_cohort(preset="hf_effect", n_patients=6, duration_s=10, seed=1)
>>> view = hf_view(cohort)
>>> view["mean_env"].shape == (2, len(view["time_ms"]), 12), view["leads"][:3].tolist(), view["n_patients"].tolist()
(True, ['I', 'II', 'III'], [4, 2])
>>> path = save_hf_view(pathlib.Path(tempfile.mkdtemp()), view)
>>> load_hf_view(path)["typical_patient"].tolist() == view["typical_patient"].tolist()
True

The file is a plain ``.npz`` whose bytes depend on the arrays only (no clock time inside), so two runs that
computed the same view, wherever, wrote the same file:

>>> path.read_bytes() == save_hf_view(pathlib.Path(tempfile.mkdtemp()), view).read_bytes()
True
"""
from __future__ import annotations

import io
import warnings
import zipfile
from pathlib import Path

import numpy as np
from scipy.signal import hilbert

from hfecg_bench.beats.config import BeatConfig
from hfecg_bench.beats.filters import bandpass
from hfecg_bench.beats.pipeline import beats_from_record
from hfecg_bench.features.config import FeatureConfig
from hfecg_bench.features.hf import hf_band_for, raz_dips_by_lead
from hfecg_bench.io import write_atomic

HF_VIEW_FILE = "hf_view.npz"
#: The window shown around R, ms: the whole QRS with room on both sides.
WINDOW_MS = (-90.0, 110.0)
#: Time stamp of every member of the saved ``.npz`` (``numpy.savez`` writes the clock time).
ZIP_TIME = (1980, 1, 1, 0, 0, 0)


def raz_dips(env: np.ndarray, fs: float, noise: np.ndarray, config: FeatureConfig | None = None) -> list[tuple]:
    """Where the reduced amplitude zones of an HF envelope are: the criterion of
    :func:`~hfecg_bench.features.hf.raz_scan` (one implementation, :func:`~hfecg_bench.features.hf.raz_dips_by_lead`),
    returning locations instead of counts.

    Parameters
    ----------
    env : ndarray (n_qrs, n_leads)
        HF envelope inside the QRS, mV.
    fs : float
        Sampling rate, Hz.
    noise : ndarray (n_leads,)
        HF noise RMS per lead, mV; NaN disables the noise condition for that lead.
    config : FeatureConfig, optional

    Returns
    -------
    list of (lead index, sample index in ``env``, relative depth)
        One entry per RAZ: the envelope minimum between two consecutive local maxima that passes.

    Examples
    --------
    Two envelope peaks 20 ms apart in lead 0, one peak in lead 1; the RAZ count agrees with ``raz_scan``:

    >>> from hfecg_bench.features.hf import raz_scan
    >>> t = np.arange(100) / 1000.0
    >>> env = np.column_stack([np.exp(-((t - 0.03) / 0.008) ** 2) + 0.8 * np.exp(-((t - 0.05) / 0.008) ** 2),
    ...                        np.exp(-((t - 0.04) / 0.01) ** 2)])
    >>> [(j, i, round(d, 2)) for j, i, d in raz_dips(env, 1000.0, np.array([np.nan, np.nan]))]
    [(0, 41, 0.53)]
    >>> raz_scan(env, 1000.0, np.array([np.nan, np.nan]), FeatureConfig())[0].tolist()
    [1, 0]
    """
    config = config or FeatureConfig()
    return [(int(j), int(w), float(r)) for j, _, where, rel, ok in raz_dips_by_lead(env, fs, noise, config)
            for w, r in zip(where[ok], rel[ok])]


def _record_hf(cohort, leads, beat_config: BeatConfig, feature_config: FeatureConfig, labels: dict):
    """Per usable record: (patient, label, hf window, envelope window, qrs (on, off) ms, noise, fs)."""
    rows = []
    for rec in cohort.records:
        label = labels.get(str(rec.patient_id))
        if label is None:
            continue
        res = beats_from_record(rec, beat_config)
        if res.info.get("no_ecg") or res.n_kept < feature_config.min_beats:
            continue
        fs = float(rec.fs)
        avg = np.full((res.average.shape[0], len(leads)), np.nan)
        have = [j for j, lead in enumerate(leads) if lead in rec.lead_names]
        avg[:, have] = res.average[:, [rec.lead_names.index(leads[j]) for j in have]]
        hf = bandpass(np.nan_to_num(avg), fs, hf_band_for(fs, feature_config), order=feature_config.hf_order,
                      axis=0, zero_phase=feature_config.zero_phase)
        hf[:, np.isnan(avg).all(axis=0)] = np.nan
        env = np.abs(hilbert(np.nan_to_num(hf), axis=0))
        env[np.isnan(hf)] = np.nan
        lo, hi = (int(round(ms * fs / 1000.0)) for ms in WINDOW_MS)
        idx = np.arange(res.fiducial + lo, res.fiducial + hi + 1)
        inside = (idx >= 0) & (idx < len(hf))
        cut = np.full((len(idx), len(leads), 2), np.nan)
        cut[inside, :, 0], cut[inside, :, 1] = hf[idx[inside]], env[idx[inside]]
        pre = slice(int(round(20 * fs / 1000.0)), res.qrs_onset - int(round(30 * fs / 1000.0)))
        noise = np.sqrt(np.mean(hf[pre] ** 2, axis=0)) if pre.stop - pre.start >= 20 * fs / 1000.0 else \
            np.full(len(leads), np.nan)
        qrs = ((res.qrs_onset - res.fiducial) * 1000.0 / fs, (res.qrs_offset - res.fiducial) * 1000.0 / fs)
        rows.append((str(rec.patient_id), int(label), cut, qrs, noise, fs))
    return rows


def hf_view(cohort, beat_config: BeatConfig | None = None, feature_config: FeatureConfig | None = None, *,
            labels: dict | None = None) -> dict[str, np.ndarray]:
    """The HF-QRS view of ``cohort``: per class (0, 1) and lead, the averaged HF-QRS around R.

    Parameters
    ----------
    cohort : Cohort
        Labelled records (one sampling rate: a cohort is resampled to one rate when loaded).
    beat_config, feature_config : optional
        The run's beat and feature settings (defaults: the quick profile's).
    labels : dict, optional
        Patient id -> label of the patients to include (default every labelled patient of ``cohort``).

    Returns
    -------
    dict of ndarray
        ``time_ms`` (n_t,), ``leads`` (n_leads,), ``classes`` [0, 1], ``n_patients`` (2,),
        ``mean_wave``, ``mean_env``, ``env_q25``, ``env_q75``, ``typical_wave``, ``typical_env``
        (2, n_t, n_leads) in uV, ``typical_patient`` (2,), ``qrs_ms`` (2, 2: median onset, offset),
        ``raz_class``, ``raz_lead``, ``raz_ms``, ``raz_depth`` (one entry per RAZ on a typical envelope),
        ``hf_band`` (2,) and ``fs``. A class without usable patients is all NaN.
    """
    beat_config = beat_config or BeatConfig()
    feature_config = feature_config or FeatureConfig()
    leads = list(feature_config.leads)
    if labels is None:
        labels = {str(k): v for k, v in cohort.patient_labels().items() if v is not None}
    rows = _record_hf(cohort, leads, beat_config, feature_config, {str(k): v for k, v in labels.items()})
    fs = rows[0][5] if rows else float("nan")
    n_t = int(round((WINDOW_MS[1] - WINDOW_MS[0]) * fs / 1000.0)) + 1 if rows else 0
    patients = sorted({r[0] for r in rows})
    pix = {p: i for i, p in enumerate(patients)}
    cuts = np.stack([r[2] for r in rows]) if rows else np.zeros((0, n_t, len(leads), 2))
    rec_patient = np.array([pix[r[0]] for r in rows], dtype=int)
    # per patient: mean of its records, NaN-aware (a lead absent from a record, a window past its edge)
    counts = np.bincount(rec_patient, minlength=len(patients)).astype(float)
    per_patient, n_ok = np.zeros((len(patients),) + cuts.shape[1:]), np.zeros((len(patients),) + cuts.shape[1:])
    np.add.at(per_patient, rec_patient, np.nan_to_num(cuts))
    np.add.at(n_ok, rec_patient, np.isfinite(cuts))
    per_patient = np.where(n_ok > 0, per_patient / np.maximum(n_ok, 1), np.nan)
    label_of = np.array([int(labels[p]) for p in patients], dtype=int)
    noise = np.zeros((len(patients), len(leads)))
    np.add.at(noise, rec_patient, np.array([r[4] for r in rows]).reshape(len(rows), len(leads)))
    noise /= np.maximum(counts, 1)[:, None]
    qrs = np.array([r[3] for r in rows]).reshape(len(rows), 2)
    rec_label = label_of[rec_patient] if len(rows) else np.zeros(0, int)
    out = {k: np.full((2, n_t, len(leads)), np.nan) for k in
           ("mean_wave", "mean_env", "env_q25", "env_q75", "typical_wave", "typical_env")}
    typical = ["", ""]
    out["qrs_ms"] = np.full((2, 2), np.nan)
    raz = []
    for c in (0, 1):
        sel = label_of == c
        if not sel.any():
            continue
        wave, env = 1000.0 * per_patient[sel, ..., 0], 1000.0 * per_patient[sel, ..., 1]   # mV -> uV
        with warnings.catch_warnings():          # a lead absent from every record of the class stays NaN
            warnings.simplefilter("ignore", RuntimeWarning)
            out["mean_wave"][c], out["mean_env"][c] = np.nanmean(wave, axis=0), np.nanmean(env, axis=0)
            out["env_q25"][c], out["env_q75"][c] = np.nanpercentile(env, [25, 75], axis=0)
            med = np.nanmedian(env, axis=0)
        k = int(np.argmin(np.nansum((env - med) ** 2, axis=(1, 2))))
        out["typical_wave"][c], out["typical_env"][c] = wave[k], env[k]
        typical[c] = str(np.array(patients)[sel][k])
        out["qrs_ms"][c] = np.median(qrs[rec_label == c], axis=0)
        t0 = int(round((out["qrs_ms"][c][0] - WINDOW_MS[0]) * fs / 1000.0))
        t1 = int(round((out["qrs_ms"][c][1] - WINDOW_MS[0]) * fs / 1000.0)) + 1
        q = np.nan_to_num(env[k][max(t0, 0):t1] / 1000.0)                      # back to mV, as the features
        for j, i, depth in raz_dips(q, fs, noise[np.flatnonzero(sel)[k]], feature_config):
            raz.append((c, j, WINDOW_MS[0] + (max(t0, 0) + i) * 1000.0 / fs, depth))
    out.update(typical_patient=np.array(typical),
               time_ms=WINDOW_MS[0] + np.arange(n_t) * 1000.0 / fs if rows else np.zeros(0),
               leads=np.array(leads), classes=np.array([0, 1]),
               n_patients=np.array([int((label_of == c).sum()) for c in (0, 1)]),
               raz_class=np.array([r[0] for r in raz], dtype=int), raz_lead=np.array([r[1] for r in raz], dtype=int),
               raz_ms=np.array([r[2] for r in raz], dtype=float), raz_depth=np.array([r[3] for r in raz], dtype=float),
               hf_band=np.array(hf_band_for(fs, feature_config) if rows else feature_config.hf_band, dtype=float),
               fs=np.array(fs))
    return out


def save_hf_view(run_dir: Path, view: dict) -> Path:
    """Write ``view`` as ``run_dir/hf_view.npz``: compressed, atomically, no pickles, and with fixed member time
    stamps (:data:`ZIP_TIME`), so the same view gives the same bytes (``numpy.load`` reads it)."""
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        for name, value in view.items():
            member = io.BytesIO()
            np.lib.format.write_array(member, np.asanyarray(value), allow_pickle=False)
            info = zipfile.ZipInfo(f"{name}.npy", date_time=ZIP_TIME)
            info.compress_type, info.external_attr = zipfile.ZIP_DEFLATED, 0o644 << 16
            z.writestr(info, member.getvalue())
    return write_atomic(Path(run_dir) / HF_VIEW_FILE, buf.getvalue())


def load_hf_view(path: Path) -> dict | None:
    """The saved view as a dict of arrays, or None when the run has none."""
    path = Path(path)
    if path.is_dir():
        path = path / HF_VIEW_FILE
    if not path.is_file():
        return None
    with np.load(path, allow_pickle=False) as z:
        return {k: z[k] for k in z.files}


def run_hf_view(cohort, run_config, labels) -> dict[str, np.ndarray]:
    """:func:`hf_view` with a run's settings (``run_config.beats``, ``run_config.features``) over the patients of
    ``labels`` (patient id -> label, e.g. a Series): a module-level function of its arguments, so a Dask worker
    computes the same view as the driver."""
    return hf_view(cohort, run_config.beats, run_config.features, labels={str(k): int(v) for k, v in labels.items()})


def hf_view_needed(run_dir: Path, cohort) -> bool:
    """Whether the run still has to compute its view: not yet saved (a resumed run keeps the saved one: same
    data, same settings) and the cohort has records (not so with features given precomputed)."""
    return not (Path(run_dir) / HF_VIEW_FILE).exists() and bool(list(getattr(cohort, "records", []) or []))


def write_run_hf_view(run_dir: Path, cohort, run_config, labels, *, view: dict | None = None) -> Path | None:
    """The run's call: compute (or take the ``view`` computed elsewhere, e.g. on a worker) and save the view once;
    the saved file when there was nothing to compute, None for a cohort without records."""
    path = Path(run_dir) / HF_VIEW_FILE
    if not hf_view_needed(run_dir, cohort):
        return path if path.exists() else None
    return save_hf_view(run_dir, view if view is not None else run_hf_view(cohort, run_config, labels))


__all__ = ["HF_VIEW_FILE", "WINDOW_MS", "ZIP_TIME", "hf_view", "hf_view_needed", "load_hf_view", "raz_dips",
           "run_hf_view", "save_hf_view", "write_run_hf_view"]
