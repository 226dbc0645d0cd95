"""Beat pipeline: sub-sample alignment, detection, rejection with reasons, averaging, BeatSet export."""
from __future__ import annotations

import numpy as np
import pytest

from hfecg_bench.beats import (BeatConfig, align_beats, beats_from_record, beats_process, extract_beatset,
                               fractional_shift)
from hfecg_bench.beats.beatset import beat_cache_key
from hfecg_bench.cohort import Cohort, Record
from hfecg_bench.data import generate_cohort, load_cohort
from hfecg_bench.errors import HfecgError, ParameterError
from hfecg_bench.leads import STANDARD_LEADS

FS = 1000.0
LEAD_W = np.array([[1.0, 0.3, -0.2], [0.6, 0.9, 0.1], [-0.4, 0.5, 0.8]])   # 3 leads x 3 waves


def beat_shape(t: np.ndarray, ectopic: bool = False) -> np.ndarray:
    """A smooth beat (Q/R/S-like Gaussians + T + a 200 Hz HF burst) at times t (s, R at 0) -> (len(t), 3) mV."""
    if ectopic:
        waves = np.stack([1.4 * np.exp(-0.5 * ((t - 0.01) / 0.018) ** 2), -0.8 * np.exp(-0.5 * ((t - 0.05) / 0.015) ** 2),
                          0.2 * np.exp(-0.5 * ((t - 0.3) / 0.05) ** 2)], axis=-1)
        return waves @ LEAD_W
    qrs = (1.2 * np.exp(-0.5 * (t / 0.010) ** 2) - 0.25 * np.exp(-0.5 * ((t + 0.022) / 0.008) ** 2)
           - 0.35 * np.exp(-0.5 * ((t - 0.025) / 0.009) ** 2))
    hf = 0.006 * np.cos(2 * np.pi * 200 * t) * np.exp(-0.5 * (t / 0.015) ** 2)
    twave = 0.3 * np.exp(-0.5 * ((t - 0.28) / 0.045) ** 2)
    waves = np.stack([qrs, 0.5 * np.exp(-0.5 * ((t - 0.005) / 0.014) ** 2), twave], axis=-1)
    return waves @ LEAD_W + hf[..., None]


def make_signal(n_beats=24, rr=0.8, seed=0, noise_uv=5.0, ectopic_at=(), duration=None):
    """Continuous 3-lead signal with R at known (fractional) times; returns signal, R times (s), ectopic mask."""
    rng = np.random.default_rng(seed)
    rrs = rr * (1 + 0.03 * rng.standard_normal(n_beats))
    r_t = 0.6 + np.concatenate([[0.0], np.cumsum(rrs[:-1])]) + rng.uniform(0, 1e-3, n_beats)
    ect = np.zeros(n_beats, bool)
    for k in ectopic_at:
        r_t[k] = r_t[k - 1] + 0.6 * (r_t[k] - r_t[k - 1])
        ect[k] = True
    n = int(((duration or r_t[-1] + 0.9)) * FS)
    t = np.arange(n) / FS
    sig = np.zeros((n, 3))
    for kind in (False, True):
        rt = r_t[ect == kind]
        if len(rt):
            rel = t[:, None] - rt[None, :]                       # (n, beats), vectorised over beats
            near = np.abs(rel) < 0.6
            contrib = beat_shape(np.where(near, rel, 5.0), ectopic=kind)
            sig += contrib.sum(axis=1)
    sig += rng.standard_normal(sig.shape) * noise_uv / 1000.0
    sig += 0.1 * np.sin(2 * np.pi * 0.2 * t)[:, None]         # baseline wander
    return sig.astype(np.float32), r_t, ect


def test_fractional_shift_recovers_a_delayed_smooth_signal():
    t = np.arange(400) / FS
    d = np.array([0.0, 0.3, -1.7, 2.25])
    x = beat_shape(t[None, :] - 0.2)                             # (1, 400, 3)
    delayed = np.stack([beat_shape(t - 0.2 - k / FS) for k in d])  # content delayed by d samples
    back = fractional_shift(delayed, d)
    inner = slice(20, 380)
    assert np.max(np.abs(back[:, inner] - x[:, inner])) < 2e-4   # mV: < 0.2 uV on a 1.2 mV beat


@pytest.mark.parametrize("seed", [0, 1])
def test_alignment_is_sub_sample_precise(seed):
    rng = np.random.default_rng(seed)
    n_b = 40
    delays = rng.uniform(-6, 6, n_b)                             # samples, fractional
    t = (np.arange(300) - 150) / FS
    beats = np.stack([beat_shape(t - d / FS) for d in delays])
    beats += rng.standard_normal(beats.shape) * 0.003            # 3 uV noise
    shifts, at_edge, aligned, _ = align_beats(beats, slice(100, 200), max_lag=15, iterations=2)
    err = (shifts - shifts.mean()) - (delays - delays.mean())
    assert not at_edge.any()
    assert np.max(np.abs(err)) < 0.1, f"max alignment error {np.max(np.abs(err)):.3f} samples"
    assert np.sqrt(np.mean(err ** 2)) < 0.03


def test_beats_process_detects_rejects_and_averages():
    sig, r_t, ect = make_signal(n_beats=24, ectopic_at=(8, 15))
    cfg = BeatConfig()
    res = beats_process(sig, FS, cfg)
    assert res.info["n_detected"] == 24
    assert np.max(np.abs(res.r_peaks / FS - r_t)[~ect]) < 0.01   # fiducial near R (the QRS energy centre)
    reasons = dict(res.rejected)
    for k in (8, 15):
        assert not res.kept[k] and k in reasons, res.rejected
        assert "correlation" in reasons[k] or "premature" in reasons[k]
    assert res.n_kept >= 19
    assert res.windows.shape == (res.n_kept, 400, 3) and res.windows.dtype == np.float32
    assert res.average.shape == (700, 3)
    # averaged beat matches the true beat (after removing the wander) with sub-sample alignment
    t = (np.arange(700) - res.fiducial) / FS
    off = np.median(res.r_peaks[res.kept] / FS + res.shifts[res.kept] / FS - r_t[res.kept])
    truth = beat_shape(t + off)                                  # window sample k holds signal at r + shift + k
    a, b = res.average[150:450], truth[150:450]
    r = np.corrcoef((a - a.mean(0)).ravel(), (b - b.mean(0)).ravel())[0, 1]
    assert r > 0.999
    assert np.max(np.abs((a - a.mean(0)) - (b - b.mean(0)))) < 0.03          # mV, on a 1.2 mV beat
    # QRS onset/offset bracket the synthetic QRS (about -35..+40 ms)
    assert -60 <= (res.qrs_onset - res.fiducial) <= -15
    assert 15 <= (res.qrs_offset - res.fiducial) <= 70
    assert len(res.info["nn_ms"]) >= 15 and 650 < np.median(res.info["nn_ms"]) < 950


def test_noisy_beats_are_rejected_with_reason():
    sig, _, _ = make_signal(n_beats=20, seed=3)
    res0 = beats_process(sig, FS)
    k = 10
    c = res0.r_peaks[k]
    rng = np.random.default_rng(0)
    sig[c - 100:c + 100] += (rng.standard_normal((200, 3)) * 0.25).astype(np.float32)   # 250 uV burst
    res = beats_process(sig, FS)
    assert not res.kept[k]
    assert "noisy" in dict(res.rejected)[k] or "correlation" in dict(res.rejected)[k]


def test_precut_beats_are_aligned_and_averaged():
    sig, _, _ = make_signal(n_beats=16, seed=2)
    res = beats_process(sig, FS)
    rng = np.random.default_rng(1)
    jitter = rng.integers(-4, 5, len(res.r_peaks))
    idx = (res.r_peaks + jitter)[:, None] + np.arange(-150, 250)[None, :]
    ok = (idx[:, 0] >= 0) & (idx[:, -1] < len(sig))
    beats = sig[idx[ok]]
    rec = Record("p1", "p1", 0, FS, ("I", "II", "III"), beats=beats)
    pre = beats_from_record(rec)
    assert pre.n_kept >= len(beats) - 1
    assert pre.windows.shape == (pre.n_kept, 400, 3)
    # a window cut k samples late holds the beat k samples early; the rest is the beat's own sub-sample offset
    spread = np.std(pre.shifts + jitter[ok] - res.shifts[ok])
    assert spread < 0.05
    assert pre.info["nn_ms"] == []


def test_extract_beatset_wideband_and_hf_and_exclusion():
    leads = ("I", "II", "III")
    good = [Record(f"r{i}", f"p{i}", i % 2, FS, leads, signal=make_signal(n_beats=12, seed=i)[0]) for i in range(3)]
    short = Record("short", "p9", 0, FS, leads, signal=make_signal(n_beats=3, seed=9)[0])
    cohort = Cohort(good + [short], "memory")
    cfg = BeatConfig()
    wide = extract_beatset(cohort, cfg, leads=leads)
    hf = extract_beatset(cohort, cfg, band="hf", leads=leads)
    assert wide.X.shape[1:] == (400, 3) and wide.X.dtype == np.float32
    assert wide.X.shape == hf.X.shape
    assert set(wide.record_ids) == {"r0", "r1", "r2"} and len(wide.labels) == len(wide.X)
    assert [e.record for e in wide.excluded] == ["short"] and "min_beats" in wide.excluded[0].reason
    # the HF export carries the 200 Hz burst (~6 uV amplitude) and no low-frequency content
    assert 0.5 < 1000 * np.sqrt(np.mean(hf.X[:, 140:160] ** 2)) < 8
    assert abs(float(np.mean(hf.X))) < 1e-4
    with pytest.raises(ParameterError):
        extract_beatset(cohort, cfg, band="bogus")
    with pytest.raises(HfecgError, match="usable beats"):
        extract_beatset(Cohort([short], "memory"), cfg, leads=leads)


def test_beatset_cache_gives_identical_beats(tmp_path):
    leads = ("I", "II", "III")
    cohort = Cohort([Record("r0", "p0", 0, FS, leads, signal=make_signal(n_beats=10)[0])], "memory")
    a = extract_beatset(cohort, BeatConfig(), cache_dir=tmp_path, leads=leads)
    b = extract_beatset(cohort, BeatConfig(), cache_dir=tmp_path, leads=leads)
    assert list(tmp_path.glob("*.npz")) and np.array_equal(a.X, b.X)


def _band_share(X: np.ndarray, lo: float, hi: float) -> float:
    """Fraction of the beats' power (FFT along the window) between lo and hi Hz."""
    power = np.abs(np.fft.rfft(X, axis=1)) ** 2
    freqs = np.fft.rfftfreq(X.shape[1], 1 / FS)
    return float(power[:, (freqs >= lo) & (freqs <= hi)].sum() / power.sum())


def test_hf_band_is_a_parameter_of_the_beatset_and_its_cache_key(tmp_path):
    leads = ("I", "II", "III")
    cohort = Cohort([Record("r0", "p0", 0, FS, leads, signal=make_signal(n_beats=12)[0])], "memory")
    rec = cohort.records[0]
    default = extract_beatset(cohort, band="hf", leads=leads, cache_dir=tmp_path)
    low = extract_beatset(cohort, band="hf", hf_band=(100, 200), leads=leads, cache_dir=tmp_path)
    assert default.info["hf_band"] == [150.0, 250.0] and low.info["hf_band"] == [100.0, 200.0]
    assert default.X.shape == low.X.shape and not np.allclose(default.X, low.X)
    # each view's power lies in its own band: 210-250 Hz only in the default, 100-140 Hz only in the other
    assert _band_share(default.X, 210, 250) > 3 * _band_share(low.X, 210, 250)
    assert _band_share(low.X, 100, 140) > 3 * _band_share(default.X, 100, 140)
    cfg = BeatConfig()
    k_default = beat_cache_key(rec, cfg, "hf", leads)
    assert k_default == beat_cache_key(rec, cfg, "hf", leads, (150, 250))
    assert k_default != beat_cache_key(rec, cfg, "hf", leads, (100, 200))
    assert beat_cache_key(rec, cfg, "wideband", leads) == beat_cache_key(rec, cfg, "wideband", leads, (100, 200))
    assert len(list(tmp_path.glob("*.npz"))) == 2
    again = extract_beatset(cohort, band="hf", hf_band=(100, 200), leads=leads, cache_dir=tmp_path)
    assert np.array_equal(again.X, low.X)
    with pytest.raises(ParameterError, match="hf_band"):
        extract_beatset(cohort, band="hf", hf_band=(200, 100), leads=leads)
    assert "hf_band" not in BeatConfig().as_dict()
    with pytest.raises(ParameterError, match="features.hf_band"):
        BeatConfig.from_dict({"hf_band": [100, 200]})


def test_config_profiles_and_validation():
    assert BeatConfig.for_profile("quick").post_ms == 250
    assert BeatConfig.for_profile("full").align_iterations == 3
    assert BeatConfig().as_dict()["align_band"] == [5.0, 100.0]
    with pytest.raises(ParameterError, match="pre_ms"):
        BeatConfig(pre_ms=500)
    with pytest.raises(ParameterError, match="profile"):
        BeatConfig.for_profile("huge")


def test_real_ptb_records_give_plausible_beats(ptb_sample):
    from hfecg_bench.data import load_cohort

    cohort = load_cohort("ptbdb", data_dir=ptb_sample / "ptbdb")
    for rec in cohort.records[2:6]:
        res = beats_from_record(rec)
        hr = 60000 / np.median(res.info["nn_ms"])
        assert res.n_kept >= 5, (rec.record_id, res.rejected)
        assert 40 < hr < 120, rec.record_id
        assert 50 <= (res.qrs_offset - res.qrs_onset) <= 160, rec.record_id


def _noise_record(kind: str, seed: int = 0) -> Record:
    rng = np.random.default_rng(seed)
    shape = (12000, 12)
    x = rng.normal(0, 0.05, shape) if kind == "white" else (np.cumsum(rng.normal(0, 0.02, shape), axis=0)
                                                            + rng.normal(0, 0.05, shape))
    return Record(f"noise_{kind}", "n", fs=1000.0, lead_names=STANDARD_LEADS, signal=x.astype(np.float32))


@pytest.mark.parametrize("kind", ["white", "walk"])
def test_quality_gate_finds_no_ecg_in_noise(kind):
    res = beats_from_record(_noise_record(kind), BeatConfig())
    assert res.n_kept == 0 and res.info["median_corr"] < 0.35          # measured 0.17-0.25
    assert "no consistent QRS" in res.info["no_ecg"] and "0.6" in res.info["no_ecg"]
    beats = _noise_record(kind).signal[:8000].reshape(20, 400, 12)    # as pre-cut beats
    assert beats_from_record(Record("b", "b", fs=1000.0, lead_names=STANDARD_LEADS, beats=beats)).info.get("no_ecg")


def test_quality_gate_passes_noisy_single_beats_of_averaging_required():
    cohort = generate_cohort(preset="averaging_required", n_patients=12, duration_s=10, seed=2)
    corr = [beats_from_record(r, BeatConfig()).info["median_corr"] for r in cohort.records]
    assert min(corr) > 0.9 > BeatConfig().min_template_corr                  # measured >= 0.96 over 120 records


def test_quality_gate_passes_real_ptb_records(ptb_sample):
    cohort = load_cohort("wfdb", data_dir=ptb_sample / "tseal")
    corr = [beats_from_record(r, BeatConfig()).info["median_corr"] for r in cohort.records]
    assert min(corr) > 0.99 and not any(beats_from_record(r).info.get("no_ecg") for r in cohort.records[:2])
