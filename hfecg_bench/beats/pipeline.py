"""The beat pipeline of one record: detect, cut, align, reject, average, delineate."""
from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np
from scipy.ndimage import uniform_filter1d

from hfecg_bench.beats.align import align_beats, cut_windows, fractional_shift
from hfecg_bench.beats.average import qrs_bounds, reject_beats, template_correlation
from hfecg_bench.beats.config import BeatConfig
from hfecg_bench.beats.detect import beats_detect
from hfecg_bench.beats.filters import bandpass


@dataclass(eq=False)
class BeatResult:
    """Beats of one record and their signal average.

    Attributes
    ----------
    r_peaks : ndarray of int64, (n_detected,)
        Detected QRS fiducials (samples of the recording; for pre-cut beats, the common
        fiducial inside each beat window).
    windows : ndarray of float32, (n_kept, n_window, n_leads)
        Aligned kept beats, ``config.window_ms`` long with R at ``config.pre_ms`` (baseline-corrected mV).
    kept : ndarray of bool, (n_detected,)
    rejected : list of (int, str)
        Index into ``r_peaks`` and the reason, for every beat not kept.
    average : ndarray of float64, (n_avg_window, n_leads)
        Signal-averaged beat (mV), ``avg_pre_ms + avg_post_ms`` long for continuous signals.
    qrs_onset, qrs_offset : int
        Sample indices within ``average``.
    fiducial : int
        Index of R in ``average``.
    fs : float
    info : dict
        ``method``, ``n_detected``, ``n_kept``, thresholds, ``nn_ms`` (RR of consecutive kept beats).
    shifts : ndarray (n_detected,)
        Sub-sample alignment shift of each beat in samples (NaN where the beat was not cut).
    lead_names : tuple of str
    """

    r_peaks: np.ndarray
    windows: np.ndarray
    kept: np.ndarray
    rejected: list
    average: np.ndarray
    qrs_onset: int
    qrs_offset: int
    fiducial: int
    fs: float
    info: dict = field(default_factory=dict)
    shifts: np.ndarray | None = None
    lead_names: tuple = ()

    @property
    def n_kept(self) -> int:
        return int(self.kept.sum())

    def rejection_summary(self) -> str:
        """Counts of rejection reasons (first words), e.g. ``"3 premature, 1 noisy"``."""
        counts: dict[str, int] = {}
        for _, reason in self.rejected:
            key = reason.split(":")[0].split(" with ")[0]
            counts[key] = counts.get(key, 0) + 1
        return ", ".join(f"{n} {k}" for k, n in sorted(counts.items(), key=lambda kv: -kv[1])) or "none"


def _samples(ms: float, fs: float) -> int:
    return int(round(ms * fs / 1000.0))


def _empty(r, n_leads, fs, info, rejected, config) -> BeatResult:
    n_win = _samples(config.window_ms, fs)
    n_avg = _samples(config.avg_pre_ms, fs) + _samples(config.avg_post_ms, fs)
    return BeatResult(r_peaks=np.asarray(r, dtype=np.int64), windows=np.zeros((0, n_win, n_leads), np.float32),
                      kept=np.zeros(len(r), dtype=bool), rejected=rejected,
                      average=np.full((n_avg, n_leads), np.nan), qrs_onset=-1, qrs_offset=-1,
                      fiducial=_samples(config.avg_pre_ms, fs), fs=float(fs), info=info,
                      shifts=np.full(len(r), np.nan))


def no_ecg_reason(info: dict, n_beats: int, config: BeatConfig) -> str | None:
    """Why a record holds no ECG (its detected beats share no consistent QRS), or None.

    Reads ``info["median_corr"]`` (median correlation of the aligned beats with their median
    template, from :func:`~hfecg_bench.beats.average.reject_beats`) against
    ``config.min_template_corr``.
    """
    med = info.get("median_corr", float("nan"))
    if np.isfinite(med) and med < config.min_template_corr:
        return (f"no consistent QRS (no ECG found): median beat-to-template correlation {med:.2f} < "
                f"{config.min_template_corr:g} over {n_beats} detected beats")
    return None


def _gate(r, n_leads, fs, info, rejected, config, candidates: np.ndarray) -> BeatResult | None:
    """The empty result of a record that fails the signal-quality gate, or None if it passes."""
    why = no_ecg_reason(info, len(candidates), config)
    if why is None:
        return None
    info.update(n_kept=0, error=why, no_ecg=why)
    rejected = sorted(rejected + [(int(i), "no consistent QRS in the record") for i in candidates])
    return _empty(r, n_leads, fs, info, rejected, config)


def _rhythm(r_peaks: np.ndarray, shifts: np.ndarray, kept: np.ndarray, fs: float) -> dict:
    """NN intervals: RR between consecutive detections that were both kept (ms)."""
    t = (r_peaks + np.nan_to_num(shifts)) * 1000.0 / fs
    both = kept[1:] & kept[:-1]
    nn = np.diff(t)[both]
    return {"nn_ms": nn.round(3).tolist()}


def beats_process(signal: np.ndarray, fs: float, config: BeatConfig | None = None) -> BeatResult:
    """Run the beat pipeline on a continuous recording.

    Parameters
    ----------
    signal : ndarray, shape (n_samples, n_leads)
        mV, time first (not modified).
    fs : float
        Sampling rate in Hz.
    config : BeatConfig, optional

    Returns
    -------
    BeatResult
        With ``n_kept`` possibly below ``config.min_beats`` (callers decide to exclude).

    Example
    -------
    >>> from hfecg_bench.data import generate_cohort
    >>> record = generate_cohort(n_patients=4, duration_s=10, seed=1).records[1]
    >>> res = beats_process(record.signal, record.fs, BeatConfig())
    >>> res.average.shape, res.n_kept == res.info["n_kept"], len(res.r_peaks) >= res.n_kept >= 8
    ((700, 12), True, True)
    """
    cfg = config or BeatConfig()
    x = np.asarray(signal, dtype=np.float64)
    n, n_leads = x.shape
    r, info = beats_detect(x, fs, cfg)
    info.update({"fs": float(fs), "n_detected": int(len(r))})
    max_lag = max(1, math.ceil(cfg.align_search_ms * fs / 1000.0))
    pad = max_lag + 4
    pre = max(_samples(cfg.avg_pre_ms, fs), _samples(cfg.pre_ms, fs))
    post = max(_samples(cfg.avg_post_ms, fs), _samples(cfg.post_ms, fs))
    start, stop = -pre - pad, post + pad
    inside = (r + start >= 0) & (r + stop <= n)
    rejected = [(int(i), "window extends beyond the recording") for i in np.flatnonzero(~inside)]
    if inside.sum() < 2:
        info.update(n_kept=0, error=f"{int(inside.sum())} complete beat window(s) of {len(r)} detected")
        return _empty(r, n_leads, fs, info, rejected, cfg)
    r_in = r[inside]
    xh = bandpass(x, fs, (cfg.highpass_hz, None), order=2)
    xa = bandpass(x, fs, cfg.align_band, order=2)
    q0, q1 = _samples(cfg.align_qrs_ms[0], fs), _samples(cfg.align_qrs_ms[1], fs)
    awins = cut_windows(xa, r_in, q0 - pad, q1 + pad)          # QRS plus the search margin only
    seg = slice(pad, pad + q1 - q0)
    shifts, at_edge, aligned_a, tmpl = align_beats(awins, seg, max_lag, cfg.align_iterations)
    corr = template_correlation(aligned_a[:, seg], tmpl)
    residual = np.sqrt(np.mean((aligned_a[:, seg] - tmpl) ** 2, axis=(1, 2)))
    kept_in, rej_in, rinfo = reject_beats(corr, residual, r_in, at_edge, cfg, fs)
    info.update(rinfo)
    failed = _gate(r, n_leads, fs, info, rejected, cfg, np.flatnonzero(inside))
    if failed is not None:
        return failed
    idx_in = np.flatnonzero(inside)
    rejected += [(int(idx_in[i]), why) for i, why in rej_in]
    rejected.sort()
    kept = np.zeros(len(r), dtype=bool)
    kept[idx_in[kept_in]] = True
    all_shifts = np.full(len(r), np.nan)
    all_shifts[idx_in] = shifts
    info["n_kept"] = int(kept.sum())
    info["method"] = "spatial-energy detection, FFT cross-correlation sub-sample alignment, mean of kept beats"
    if kept.sum() == 0:
        info["error"] = "no beat kept"
        res = _empty(r, n_leads, fs, info, rejected, cfg)
        res.shifts = all_shifts
        return res
    wins = cut_windows(xh, r_in[kept_in], start, stop)
    aligned = fractional_shift(wins, shifts[kept_in])[:, pad:-pad]
    a0 = pre - _samples(cfg.avg_pre_ms, fs)
    average = aligned[:, a0:a0 + _samples(cfg.avg_pre_ms, fs) + _samples(cfg.avg_post_ms, fs)].mean(axis=0)
    e0 = pre - _samples(cfg.pre_ms, fs)
    windows = aligned[:, e0:e0 + _samples(cfg.window_ms, fs)].astype(np.float32)
    fiducial = _samples(cfg.avg_pre_ms, fs)
    onset, offset, qinfo = qrs_bounds(average, fs, fiducial)
    info.update(qinfo)
    info.update(_rhythm(r, all_shifts, kept, fs))
    return BeatResult(r_peaks=r, windows=windows, kept=kept, rejected=rejected, average=average,
                      qrs_onset=onset, qrs_offset=offset, fiducial=fiducial, fs=float(fs), info=info,
                      shifts=all_shifts)


def beats_precut(beats: np.ndarray, fs: float, config: BeatConfig | None = None) -> BeatResult:
    """Align and average pre-cut beats ``(n_beats, n_window, n_leads)``.

    The common fiducial is the peak of the median (over beats) integrated spatial QRS energy;
    each beat's baseline is its mean over the first 20 ms. Beats are aligned to the median
    template by sub-sample cross-correlation and rejected like continuous ones, except that
    there is no RR test (no rhythm in pre-cut beats). ``average`` spans the whole beat window
    minus the alignment margin; ``windows`` are cut to ``window_ms`` around the fiducial,
    edge-padded where the pre-cut window is shorter (noted in ``info``).
    """
    cfg = config or BeatConfig()
    b = np.asarray(beats, dtype=np.float64)
    nb, nw, n_leads = b.shape
    b = b - b[:, : max(1, _samples(20, fs))].mean(axis=1, keepdims=True)
    info = {"fs": float(fs), "n_detected": nb, "method": "pre-cut beats, FFT cross-correlation sub-sample alignment"}
    max_lag = max(1, math.ceil(cfg.align_search_ms * fs / 1000.0))
    pad = max_lag + 4
    if nb < 2 or nw <= 2 * pad + _samples(60, fs):
        info.update(n_kept=0, error=f"{nb} beat(s) of {nw} samples: too few or too short to align")
        return _empty(np.zeros(nb, np.int64), n_leads, fs, info, [], cfg)
    ba = bandpass(b, fs, cfg.align_band, order=2, axis=1)
    energy = uniform_filter1d(np.median(np.sum(ba ** 2, axis=2), axis=0), max(1, _samples(80, fs)))
    fid0 = int(np.clip(np.argmax(energy), pad + max_lag + 1, nw - pad - max_lag - 2))
    s0 = max(pad + max_lag, fid0 + _samples(cfg.align_qrs_ms[0], fs))
    s1 = min(nw - pad - max_lag, fid0 + _samples(cfg.align_qrs_ms[1], fs))
    seg = slice(s0, s1)
    shifts, at_edge, aligned_a, tmpl = align_beats(ba, seg, max_lag, cfg.align_iterations)
    corr = template_correlation(aligned_a[:, seg], tmpl)
    core = aligned_a[:, pad:nw - pad]
    residual = np.sqrt(np.mean((core - np.median(core, axis=0)) ** 2, axis=(1, 2)))
    kept, rejected, rinfo = reject_beats(corr, residual, None, at_edge, cfg, fs)
    info.update(rinfo)
    failed = _gate(np.full(nb, fid0, dtype=np.int64), n_leads, fs, info, [], cfg, np.arange(nb))
    if failed is not None:
        return failed
    info["n_kept"] = int(kept.sum())
    r = np.full(nb, fid0, dtype=np.int64)
    aligned = fractional_shift(b[kept], shifts[kept])[:, pad:nw - pad]
    average = aligned.mean(axis=0)
    fiducial = fid0 - pad
    pre_s, win_s = _samples(cfg.pre_ms, fs), _samples(cfg.window_ms, fs)
    lo, hi = fiducial - pre_s, fiducial - pre_s + win_s
    before, after = max(0, -lo), max(0, hi - aligned.shape[1])
    windows = aligned[:, max(0, lo):min(hi, aligned.shape[1])]
    if before or after:
        windows = np.pad(windows, ((0, 0), (before, after), (0, 0)), mode="edge")
        info["windows_padded"] = f"pre-cut window shorter than {cfg.window_ms:g} ms: {before}+{after} samples edge-padded"
    onset, offset, qinfo = qrs_bounds(average, fs, fiducial)
    info.update(qinfo)
    info["nn_ms"] = []
    return BeatResult(r_peaks=r, windows=windows.astype(np.float32), kept=kept, rejected=rejected,
                      average=average, qrs_onset=onset, qrs_offset=offset, fiducial=fiducial, fs=float(fs),
                      info=info, shifts=shifts)


def beats_from_record(record, config: BeatConfig | None = None) -> BeatResult:
    """:func:`beats_process` for a continuous record, :func:`beats_precut` for a pre-cut one; all leads."""
    if record.is_beats:
        res = beats_precut(record.beats, record.fs, config)
    else:
        res = beats_process(record.signal, record.fs, config)
    res.lead_names = tuple(record.lead_names)
    res.info["record_id"] = record.record_id
    return res


def aligned_windows(signal: np.ndarray, result: BeatResult, config: BeatConfig | None = None) -> np.ndarray:
    """Re-cut the kept beats of ``result`` from another version of the same recording (e.g. band-passed).

    Uses the same fiducials and sub-sample shifts, so the windows line up with ``result.windows``.
    Returns float32 ``(n_kept, n_window, n_leads)``.
    """
    cfg = config or BeatConfig()
    fs = result.fs
    max_lag = max(1, math.ceil(cfg.align_search_ms * fs / 1000.0))
    pad = max_lag + 4
    r = result.r_peaks[result.kept]
    start = -_samples(cfg.pre_ms, fs) - pad
    wins = cut_windows(np.asarray(signal, dtype=np.float64), r, start, start + _samples(cfg.window_ms, fs) + 2 * pad)
    return fractional_shift(wins, result.shifts[result.kept])[:, pad:-pad].astype(np.float32)
