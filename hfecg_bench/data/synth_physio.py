"""Physiology of the synthetic cohort: one patient's 12-lead recording from a dipole model.

The low-frequency ECG is a 3-D heart vector made of Gaussian P, Q, R, S and T waves,
projected onto 12 lead vectors (limb leads derived by Einthoven's law, so I + III = II).
The HF-QRS component is a separate, strictly band-limited (about 150-250 Hz) oscillation
under a smooth envelope spanning the QRS, identical in every normal beat of a patient
(phase-locked to the R fiducial), so signal averaging recovers it. Beats are placed by
convolving impulse trains with the beat templates (no per-sample or per-beat Python loop).

Every random draw of a patient is made in a fixed order whatever the preset, so two
presets with the same seed share the same patients and differ only in what is planted.
The ``realistic`` preset's extra variety (:class:`Heterogeneity`) is drawn from a second,
separate stream of the patient, so it leaves the draws of the main stream untouched: its
patients share their morphology, rhythm and baseline noise with the other presets' too.
"""
from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import numpy as np
from scipy.fft import irfft, next_fast_len, rfft
from scipy.signal import butter, sosfiltfilt

from hfecg_bench.leads import STANDARD_LEADS

LEAD_GROUPS: dict[str, tuple[str, ...]] = {
    "anterior": ("V1", "V2", "V3", "V4"),
    "inferior": ("II", "III", "aVF"),
    "lateral": ("I", "aVL", "V5", "V6"),
}
GROUP_NAMES = tuple(LEAD_GROUPS)
_IDX = {name: i for i, name in enumerate(STANDARD_LEADS)}

HF_BAND_HZ = (150.0, 250.0)        # measurement band of the truth (4th-order Butterworth, zero phase)
TRUTH_WINDOW_S = (-0.050, 0.070)   # HF RMS window around the QRS-magnitude peak of the noiseless beat
HF_GEOMEAN_UV = 4.5                # typical per-lead HF-QRS RMS (uV)
HF_SIGMA_PATIENT = 0.15            # log-sd of the patient factor (cancels in within-patient contrasts)
HF_SIGMA_LEAD = 0.12               # log-sd of the patient-by-lead factor
# Mild lead profile of HF amplitude (log units): mid-precordial leads larger, aVR/III smaller.
HF_LEAD_PROFILE = dict(zip(STANDARD_LEADS, (0.0, 0.03, -0.06, -0.06, -0.03, 0.0, 0.0, 0.08, 0.08, 0.05, 0.03, 0.0)))
PRE_S, POST_S = 0.35, 0.65         # beat template window around the R fiducial (s)


@dataclass(frozen=True)
class Heterogeneity:
    """Patient-to-patient variety of real cohorts (the ``realistic`` preset), per patient.

    Parameters
    ----------
    silent_fraction : float
        Fraction of positives whose HF-QRS is not reduced at all (ischemia often leaves it
        intact); they differ from negatives in nothing.
    effect_spread : tuple of float
        The other positives' reduction is ``effect x U(lo, hi)`` (mean ``effect`` for a
        range centred on 1), capped at :data:`MAX_EFFECT`.
    hf_sigma_lead : float
        Log-sd of an extra, independent patient-by-lead HF-QRS factor (electrode position,
        local conduction): with :data:`HF_SIGMA_LEAD` the lead-to-lead log-sd becomes
        sqrt(0.12^2 + 0.1^2) = 0.16.
    noisy_fraction : float
        Fraction of records with high broadband noise and EMG (poor skin contact, a tense
        patient).
    noisy_uv : tuple of float
        Log-uniform range of the per-beat white-noise RMS of a noisy record (uV).
    noisy_emg : tuple of int
        Extra EMG bursts of a noisy record, drawn from ``[lo, hi]``.
    ectopy_fraction : float
        Fraction of patients with frequent premature ventricular beats.
    ectopy_rate : tuple of float
        Uniform range of their extra fraction of ectopic beats.
    """

    silent_fraction: float = 0.2
    effect_spread: tuple[float, float] = (0.5, 1.5)
    hf_sigma_lead: float = 0.1
    noisy_fraction: float = 0.15
    noisy_uv: tuple[float, float] = (40.0, 100.0)
    noisy_emg: tuple[int, int] = (2, 6)
    ectopy_fraction: float = 0.15
    ectopy_rate: tuple[float, float] = (0.08, 0.20)


MAX_EFFECT = 0.9        # cap of one patient's relative HF-QRS reduction (realistic preset)


@dataclass(frozen=True)
class Plan:
    """What one patient carries, decided by the cohort (class, preset) before the physiology is drawn."""

    label: int                 # the generating (true) label
    hf_effect: float           # relative HF RMS reduction in the affected leads (0 = none)
    conventional: bool         # plant ST depression + wider QRS in positives
    noise_uv: tuple[float, float]  # log-uniform range of the per-beat white-noise RMS (uV)
    heterogeneity: Heterogeneity | None = None   # realistic preset: drawn from the second stream


@dataclass(frozen=True)
class _Variety:
    """One patient's draws of :class:`Heterogeneity` (all neutral when there is none)."""

    effect: float
    lead_log: np.ndarray | float
    noisy_uv: float | None
    ectopy_rate: float

    @classmethod
    def draw(cls, plan: Plan, xrng: np.random.Generator | None) -> "_Variety":
        het = plan.heterogeneity
        if het is None:
            return cls(effect=plan.hf_effect, lead_log=0.0, noisy_uv=None, ectopy_rate=0.0)
        if xrng is None:
            raise ValueError("a plan with heterogeneity needs the patient's second random stream (xrng)")
        # drawn for every patient in this order, whatever the label: the stream stays aligned across classes
        silent = xrng.random() < het.silent_fraction
        scale = xrng.uniform(*het.effect_spread)
        lead_log = xrng.normal(0.0, het.hf_sigma_lead, 12)
        noisy = xrng.random() < het.noisy_fraction
        lo, hi = np.log(het.noisy_uv)
        noisy_uv = float(np.exp(xrng.uniform(lo, hi)))
        ectopic = xrng.random() < het.ectopy_fraction
        rate = xrng.uniform(*het.ectopy_rate)
        carries = plan.label == 1 and not silent
        return cls(effect=min(MAX_EFFECT, plan.hf_effect * scale) if carries else 0.0, lead_log=lead_log,
                   noisy_uv=noisy_uv if noisy else None, ectopy_rate=rate if ectopic else 0.0)


def _unit(v) -> np.ndarray:
    v = np.asarray(v, dtype=float)
    return v / np.linalg.norm(v, axis=-1, keepdims=True)


def _rot(axis: int, deg: float) -> np.ndarray:
    a = np.deg2rad(deg)
    c, s = np.cos(a), np.sin(a)
    i, j = [k for k in range(3) if k != axis]
    m = np.eye(3)
    m[i, i], m[i, j], m[j, i], m[j, j] = c, -s, s, c
    return m


def lead_matrix(rng: np.random.Generator) -> np.ndarray:
    """12 x 3 lead vectors (x left, y inferior, z anterior) with per-patient placement and gain."""
    gain = np.exp(rng.normal(0.0, 0.12, 8))            # electrode/habitus gain of I, II, V1..V6
    lead_i = np.array([1.0, 0.0, 0.0]) * gain[0]
    lead_ii = np.array([0.5, np.sqrt(3) / 2, 0.0]) * gain[1]
    limb = [lead_i, lead_ii, lead_ii - lead_i, -(lead_i + lead_ii) / 2, lead_i - lead_ii / 2, lead_ii - lead_i / 2]
    ang = np.deg2rad(np.array([120.0, 95.0, 75.0, 55.0, 30.0, 5.0]) + rng.normal(0.0, 6.0, 6))
    incl = np.array([0.0, 0.0, 0.05, 0.10, 0.15, 0.20])
    pgain = np.array([1.2, 1.6, 1.7, 1.6, 1.3, 1.0]) * gain[2:]
    prec = np.stack([np.cos(ang), incl, np.sin(ang)], axis=1) * pgain[:, None]
    return np.vstack([np.stack(limb), prec])


def _gauss(t: np.ndarray, centre, width) -> np.ndarray:
    """Gaussians exp(-(t-c)^2/2w^2) for arrays of centres/widths: shape (len(t), n_waves)."""
    return np.exp(-0.5 * ((t[:, None] - np.asarray(centre)[None, :]) / np.asarray(width)[None, :]) ** 2)


def _taper(n: int, n_edge: int) -> np.ndarray:
    w = np.ones(n)
    ramp = 0.5 - 0.5 * np.cos(np.linspace(0.0, np.pi, n_edge))
    w[:n_edge], w[-n_edge:] = ramp, ramp[::-1]
    return w


@lru_cache(maxsize=32)
def _sos(fs: float, band: tuple, order: int):
    return butter(order, list(band), btype="band", fs=fs, output="sos")


def _band_sos(fs: float, band, order: int):
    return _sos(float(fs), tuple(float(b) for b in band), int(order))


def _place(n_buf: int, trains: np.ndarray, templates: list[np.ndarray]) -> np.ndarray:
    """Sum over k of (impulse train k) * (template k), one FFT product per train and one inverse FFT."""
    m = next_fast_len(n_buf + max(len(t) for t in templates) - 1, real=True)
    spec = sum(rfft(trains[:, k], m)[:, None] * rfft(tpl, m, axis=0) for k, tpl in enumerate(templates))
    return irfft(spec, m, axis=0)[:n_buf]


def _emg_bursts(rng: np.random.Generator, sig: np.ndarray, fs: float, count: int, amp_mv: tuple[float, float]) -> None:
    """Add ``count`` short EMG bursts (20-350 Hz noise under a Hann window, in about half the leads) to ``sig``."""
    n = sig.shape[0]
    for _ in range(count):                                  # a few bursts per record: a cheap loop
        dur = int(rng.uniform(0.4, 1.5) * fs)
        s0 = int(rng.integers(0, max(1, n - dur)))
        seg = slice(s0, min(n, s0 + dur))
        m = seg.stop - seg.start
        leads = rng.random(12) < 0.5
        burst = sosfiltfilt(_band_sos(fs, [20, min(350, fs / 2 - 1)], 2), rng.standard_normal((m, 12)), axis=0)
        burst *= (np.hanning(m)[:, None] * rng.uniform(*amp_mv) * leads[None, :])
        sig[seg] += burst


def draw_patient(rng: np.random.Generator, plan: Plan, fs: float, duration_s: float, mains_hz: float,
                 xrng: np.random.Generator | None = None) -> tuple[np.ndarray, dict]:
    """One patient's recording (float32 mV, shape (n_samples, 12)) and its truth entry.

    ``rng`` is the patient's main stream; ``xrng``, a separate stream, is read only when
    ``plan.heterogeneity`` is set (and is required then).
    """
    var = _Variety.draw(plan, xrng)
    n = int(round(duration_s * fs))
    pre, post = int(round(PRE_S * fs)), int(round(POST_S * fs))
    t = (np.arange(pre + post) - pre) / fs
    lm = lead_matrix(rng)

    # -- per-patient heterogeneity (drawn in a fixed order for every preset) --
    hr = rng.uniform(50.0, 95.0)
    qrs = rng.uniform(0.080, 0.120)
    rot = _rot(2, rng.uniform(-60.0, 50.0)) @ _rot(1, rng.normal(0.0, 15.0)) @ _rot(0, rng.normal(0.0, 10.0))
    size = rng.uniform(0.7, 1.5)
    group = GROUP_NAMES[int(rng.integers(len(GROUP_NAMES)))]
    st_depth = rng.uniform(0.05, 0.10)
    wave_amp = rng.uniform([0.08, 0.10, 0.9, 0.25, 0.20], [0.20, 0.30, 1.6, 0.60, 0.50]) * np.array([1, size, size, size, size])
    pr = rng.uniform(0.14, 0.20)
    rr = 60.0 / hr
    qt_peak = rng.uniform(0.23, 0.28) * np.sqrt(rr)
    t_width = rng.uniform(0.040, 0.055)
    # -- the class signal --
    conv = plan.conventional and plan.label == 1
    width = qrs + (0.010 if conv else 0.0)
    dirs = _unit([[0.6, 0.7, 0.2], [-0.6, 0.3, 0.75], [0.75, 0.55, -0.35], [-0.4, -0.4, -0.6], [0.6, 0.55, 0.35]])
    dirs = _unit(dirs @ rot.T + rng.normal(0.0, 0.08, (5, 3)))
    centre = [-pr, -0.28 * width, 0.0, 0.28 * width, qt_peak]
    sigma = [0.020, width / 12, width / 9, width / 11, t_width]
    heart = (_gauss(t, centre, sigma) * wave_amp[None, :]) @ dirs          # (n_t, 3)
    normal = heart @ lm.T                                                  # (n_t, 12)
    st_leads: tuple[str, ...] = ()
    if conv:
        st_leads = LEAD_GROUPS[group]
        j, end = width / 2 + 0.01, qt_peak
        shape = np.clip((t - j) / 0.02, 0, 1) * np.clip((end - t) / 0.06, 0, 1)
        shape = 0.5 - 0.5 * np.cos(np.pi * shape)                          # smooth plateau J..T
        normal[:, [_IDX[x] for x in st_leads]] -= st_depth * shape[:, None]
    taper = _taper(len(t), int(0.05 * fs))[:, None]
    normal *= taper

    # -- ectopic (premature ventricular) template: wide, no P, other axis, discordant T --
    e_w = rng.uniform(0.140, 0.180)
    e_dir = _unit(np.vstack([-dirs[2] + rng.normal(0, 0.6, 3), rng.normal(0, 1, 3)]))
    e_amp = rng.uniform(1.2, 2.0) * size
    e_heart = (_gauss(t, [-e_w / 6, e_w / 6, 0.30], [e_w / 7, e_w / 7, 0.06])
               * np.array([e_amp, 0.6 * e_amp, 0.5])[None, :]) @ np.vstack([e_dir, -e_dir[0]])
    ectopic = (e_heart @ lm.T) * taper

    # -- HF-QRS: band-limited oscillation under a QRS envelope, phase-locked to R --
    hf_log = (np.log(HF_GEOMEAN_UV) + rng.normal(0.0, HF_SIGMA_PATIENT)
              + np.array([HF_LEAD_PROFILE[x] for x in STANDARD_LEADS]) + rng.normal(0.0, HF_SIGMA_LEAD, 12))
    hf_log = hf_log + var.lead_log
    freqs = rng.uniform(170.0, 230.0, 3)
    phases = rng.uniform(0.0, 2 * np.pi, (3, 12))
    env_c, env_s = rng.normal(0.003, 0.003), width / 6.5
    raz_centre = env_c + rng.uniform(-0.3, 0.3) * env_s
    raz_depth = rng.uniform(0.6, 0.85)
    benign = rng.random() < 0.15
    benign_leads = tuple(STANDARD_LEADS[k] for k in rng.choice(12, 2, replace=False))
    benign_depth = rng.uniform(0.3, 0.5)
    affected = LEAD_GROUPS[group] if (var.effect > 0 and plan.label == 1) else ()
    # realistic: no RAZ is planted with the effect, so the HF RMS contrast is the whole class signal
    raz_leads = dict.fromkeys(() if plan.heterogeneity else affected, raz_depth)
    # a shallow benign RAZ in ~15% of the patients who do not carry the effect: in hf_effect the negatives
    # (so a RAZ alone does not give the label away), in null / conventional_effect / realistic everyone
    if benign and (not affected or plan.heterogeneity):
        raz_leads.update(dict.fromkeys(benign_leads, benign_depth))
    osc = np.cos(2 * np.pi * freqs[None, :, None] * t[:, None, None] + phases[None]).sum(axis=1)   # (n_t, 12)
    env = np.exp(-0.5 * ((t - env_c) / env_s) ** 2)
    dip = np.exp(-0.5 * ((t - raz_centre) / (env_s / 2.5)) ** 2)
    depth = np.array([raz_leads.get(x, 0.0) for x in STANDARD_LEADS])
    hf = osc * env[:, None] * (1.0 - depth[None, :] * dip[:, None])
    target = np.exp(hf_log) * np.array([1.0 - var.effect if x in affected else 1.0 for x in STANDARD_LEADS])

    # truth window: around the QRS-magnitude peak of the noiseless 5-40 Hz beat (as a measurement would find it)
    mag = np.sqrt((sosfiltfilt(_band_sos(fs, [5, 40], 2), normal, axis=0) ** 2).sum(axis=1))
    peak = int(np.argmax(mag[pre - int(0.06 * fs):pre + int(0.06 * fs)])) + pre - int(0.06 * fs)
    win = slice(peak + int(round(TRUTH_WINDOW_S[0] * fs)), peak + int(round(TRUTH_WINDOW_S[1] * fs)))
    hf_meas = sosfiltfilt(_band_sos(fs, HF_BAND_HZ, 4), hf, axis=0)
    hf *= (target / 1000.0 / np.sqrt((hf_meas[win] ** 2).mean(axis=0)))[None, :]   # uV -> mV

    # -- beat times: HRV (respiratory sinus arrhythmia + slow drift), ectopics with compensatory pause --
    f_resp, ph_resp = rng.uniform(0.15, 0.35), rng.uniform(0, 2 * np.pi)
    n_b = int(np.ceil((duration_s + PRE_S + POST_S) / (0.8 * rr))) + 2
    drift = np.cumsum(rng.normal(0.0, 0.012, n_b))
    drift -= drift.mean()
    k = np.arange(n_b)
    rr_b = rr * (1 + rng.uniform(0.02, 0.05) * np.sin(2 * np.pi * f_resp * k * rr + ph_resp) + np.clip(drift, -0.08, 0.08))
    times = -rng.uniform(0.0, rr) - POST_S + np.cumsum(rr_b)
    times = times[(times > -0.9 * POST_S) & (times < duration_s + PRE_S)]
    ect_rate = rng.uniform(0.02, 0.05)
    inside = np.flatnonzero((times > 0.5) & (times < duration_s - 1.0))
    inside = inside[inside >= 1]
    n_ect = max(1, int(round(ect_rate * len(inside))))
    cand = inside[::2] if len(inside) > 4 else inside
    ect_idx = np.sort(rng.choice(cand, min(n_ect, len(cand)), replace=False))
    is_ect = np.zeros(len(times), bool)
    is_ect[ect_idx] = True
    coupling = rng.uniform(0.62, 0.75, len(ect_idx))
    if var.ectopy_rate > 0:                                 # frequent ectopy, from the second stream
        free = np.setdiff1d(cand, ect_idx)
        more = xrng.choice(free, min(len(free), int(round(var.ectopy_rate * len(inside)))), replace=False)
        coupling = np.concatenate([coupling, xrng.uniform(0.62, 0.75, len(more))])
        ect_idx = np.concatenate([ect_idx, more])
        order = np.argsort(ect_idx)
        ect_idx, coupling = ect_idx[order], coupling[order]
        is_ect[ect_idx] = True
    prev_gap = times[ect_idx] - times[ect_idx - 1]
    times[ect_idx] = times[ect_idx - 1] + np.maximum(coupling * prev_gap, 0.38)
    pos = np.round(times * fs).astype(np.int64)
    resp_mod = 1 + rng.uniform(0.04, 0.12) * np.sin(2 * np.pi * f_resp * times + ph_resp)

    # -- place templates: impulse trains convolved with templates (beat R at template index `pre`) --
    off = post + pre                     # buffer index of signal sample 0 is `off`
    nbuf = n + 2 * off
    start = pos + off - pre
    imp = np.zeros((nbuf, 3))
    np.add.at(imp, (start[~is_ect], 0), resp_mod[~is_ect])
    np.add.at(imp, (start[~is_ect], 1), 1.0)
    np.add.at(imp, (start[is_ect], 2), 1.0)
    sig = _place(nbuf, imp, [normal, hf, ectopic])[off:off + n]

    # -- noise: white, mains, baseline wander, EMG bursts --
    u_noise = rng.random()
    lo, hi = plan.noise_uv
    noise_uv = float(np.exp(np.log(lo) + u_noise * (np.log(hi) - np.log(lo))))
    if var.noisy_uv is not None:                            # a noisy record: its level replaces the usual one
        noise_uv = var.noisy_uv
    ts = np.arange(n) / fs
    white = rng.standard_normal((n, 12)) * (noise_uv / 1000.0 * rng.uniform(0.85, 1.15, 12))[None, :]
    mains = rng.uniform(0.005, 0.040, 12) * np.sin(2 * np.pi * mains_hz * ts[:, None] + rng.uniform(0, 2 * np.pi, 12))
    bw_f = rng.uniform(0.05, 0.5, 3)
    bw_src = np.sin(2 * np.pi * bw_f[None, :] * ts[:, None] + rng.uniform(0, 2 * np.pi, 3))
    bw_src = np.hstack([bw_src, np.sin(2 * np.pi * f_resp * ts + ph_resp)[:, None]])
    wander = bw_src @ (rng.normal(0, 1, (4, 12)) * np.array([0.08, 0.05, 0.04, 0.03])[:, None])
    sig += white + mains + wander
    n_emg = int(rng.integers(0, 4))
    _emg_bursts(rng, sig, fs, n_emg, (0.02, 0.06))
    if var.noisy_uv is not None:                            # noisy records also get more and stronger EMG
        n_more = int(xrng.integers(plan.heterogeneity.noisy_emg[0], plan.heterogeneity.noisy_emg[1] + 1))
        _emg_bursts(xrng, sig, fs, n_more, (0.04, 0.12))
        n_emg += n_more

    r_inside = (pos >= 0) & (pos < n)
    truth = {
        "true_label": int(plan.label),
        "affected_leads": list(affected) if affected else list(st_leads),
        "raz_leads": sorted(raz_leads, key=STANDARD_LEADS.index),
        "hf_rms_uv": {x: round(float(v), 4) for x, v in zip(STANDARD_LEADS, target)},
        "heart_rate_bpm": round(float(hr), 2),
        "qrs_ms": round(float(width * 1000), 2),
        "st_depression_mv": round(float(st_depth), 4) if conv else 0.0,
        "noise_uv": round(noise_uv, 3),
        "r_peaks": [int(p) for p in pos[r_inside & ~is_ect]],
        "ectopic_r_peaks": [int(p) for p in pos[r_inside & is_ect]],
        "emg_bursts": n_emg,
    }
    if plan.heterogeneity is not None:                      # realistic only: the old presets' entries stay as they were
        truth.update({"hf_effect": round(float(var.effect), 4), "noisy": var.noisy_uv is not None,
                      "frequent_ectopy": var.ectopy_rate > 0})
    return sig.astype(np.float32), truth
