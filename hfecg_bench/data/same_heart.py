"""The same heart under two patient ids: find record pairs that would leak across patient-wise folds.

Two tests, both over all records at once:

``"identical samples"``
    The records share a run of identical samples: every 1 s block of the quantised
    (1 µV) standard leads is hashed at every start position (two sliding sums of random
    per-sample hashes, exact integer arithmetic), content-defined anchors (about 1 in 32
    positions) are kept, and two records sharing an anchor share at least 1 s of signal.
    Flat blocks (less than 0.5 mV of total variation per lead) are ignored.

``"same beat shape"``
    The signal-averaged beats (:func:`hfecg_bench.beats.pipeline.beats_from_record`, computed
    once per record) agree in every lead. Per lead, the slope (first difference on a 2 ms grid)
    of the averaged beat from 80 ms before to 400 ms after R is compared by its concordance
    ``2 <a, b> / (|a|^2 + |b|^2)``: 1 only for the same shape *and* the same amplitude (an
    amplitude ratio r alone caps it at ``2 r / (1 + r^2)``, 0.8 for r = 2); the slope stresses
    QRS notches, which are individual, over the smooth T wave, which is not. The two beats are
    aligned by the common shift (within +-20 ms, all leads together) that maximises the mean
    concordance; the pair's similarity is the *lowest* lead's concordance.

Calibration (``benchmarks/bench_same_heart.py``, real PTB sample, 67 records of 54 patients):
same-session records of one patient (same header date, 11 pairs) score 0.919-0.993 except one
(patient208, a bundle-branch-block patient whose QRS changes between the records, -0.04);
records of one patient taken on different days score 0.69-0.85 (9 pairs, not flagged); the
between-patient pairs score at most 0.66 (2190 of 2191 pairs), the remaining one is
patient249/s0484_re vs patient250/s0485_re at 0.979 (the same beats in all 12 leads, amplitudes
within 2 %: very likely one person under two PTB ids). tseal08/tseal09 (PTB patient229, 8 s
excerpts) score 0.934, the other tseal pairs at most 0.83. Synthetic cohorts of 120 independent
patients (presets hf_effect, null, averaging_required) score at most 0.74.
The default threshold, :data:`DEFAULT_THRESHOLD` = 0.88, sits in that gap.

Examples
--------
>>> from hfecg_bench.cohort import Cohort, Record
>>> from hfecg_bench.data import generate_cohort
>>> syn = generate_cohort(n_patients=4, duration_s=10, seed=3)
>>> first = syn.records[0]
>>> copy = Record("copy01", "someone-else", label=first.label, fs=first.fs,
...               lead_names=first.lead_names, signal=first.signal.copy())
>>> pairs = find_same_heart(Cohort(syn.records + [copy], dataset="memory"))
>>> [(p.record_a, p.record_b, p.kind) for p in pairs]
[('syn001', 'copy01', 'identical samples')]
>>> same_heart_problems(pairs)[0].record
'copy01'
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from hfecg_bench.beats.config import BeatConfig
from hfecg_bench.beats.pipeline import beats_from_record
from hfecg_bench.errors import ParameterError, Problem
from hfecg_bench.leads import STANDARD_LEADS

DEFAULT_THRESHOLD = 0.88
"""Lowest-lead slope concordance at or above which two records count as the same heart."""

SPAN_MS = (-80.0, 400.0)       # QRS-T window around R compared, ms
MAX_LAG_MS = 20.0              # common shift searched either side, ms
STEP_MS = 2.0                  # comparison grid, ms
QUANT_MV = 0.001               # identical-sample test: quantisation step (1 µV)
BLOCK_S = 1.0                  # identical-sample test: block length, s
ANCHOR_EVERY = 32              # keep about 1 in this many block hashes
MIN_VARIATION_MV = 0.5         # a block needs this total variation per lead (mV) to count
MIN_LEADS = 3                  # fewer common leads than this: no shape comparison
KIND_SAMPLES, KIND_SHAPE = "identical samples", "same beat shape"


@dataclass(frozen=True)
class SameHeartPair:
    """Two records under different patient ids that are likely the same heart.

    Attributes
    ----------
    record_a, record_b : str
        Record ids, ``record_a`` first in cohort order (``record_b`` is the later one).
    patient_a, patient_b : str
        Their patient ids (different).
    similarity : float
        ``"same beat shape"``: lowest-lead slope concordance of the averaged beats, in [-1, 1].
        ``"identical samples"``: fraction of the shorter record's 1 s block anchors that also
        occur in the other record, in (0, 1].
    kind : {"identical samples", "same beat shape"}
    reason : str
        A sentence naming both records, the evidence, and what to do.
    """

    record_a: str
    record_b: str
    patient_a: str
    patient_b: str
    similarity: float
    kind: str
    reason: str

    def as_dict(self) -> dict:
        """JSON-serialisable fields."""
        return {"record_a": self.record_a, "record_b": self.record_b, "patient_a": self.patient_a,
                "patient_b": self.patient_b, "similarity": round(float(self.similarity), 4),
                "kind": self.kind, "reason": self.reason}


def averaged_beat_slopes(records, *, beat_config: BeatConfig | None = None,
                         leads: tuple[str, ...] = STANDARD_LEADS) -> np.ndarray:
    """Slopes of the signal-averaged beats of ``records`` on a common 2 ms grid around R.

    Parameters
    ----------
    records : sequence of Record
        Continuous or pre-cut (``is_beats``) records, any sampling rate.
    beat_config : BeatConfig, optional
        Beat pipeline parameters (default ``BeatConfig()``).
    leads : tuple of str
        Leads compared, in this order.

    Returns
    -------
    ndarray of float64, shape (n_leads, n_records, n_grid)
        First difference (mV per 2 ms step) of the averaged beat from ``SPAN_MS[0] - MAX_LAG_MS``
        to ``SPAN_MS[1] + MAX_LAG_MS`` ms around R; NaN for a lead a record lacks and for a
        record without an averaged beat (no beat kept).
    """
    cfg = beat_config or BeatConfig()
    grid = np.arange(SPAN_MS[0] - MAX_LAG_MS, SPAN_MS[1] + MAX_LAG_MS + STEP_MS * 1.5, STEP_MS)
    out = np.full((len(leads), len(records), len(grid) - 1), np.nan)
    for i, rec in enumerate(records):
        res = beats_from_record(rec, cfg)
        have = [(k, rec.lead_names.index(lead)) for k, lead in enumerate(leads) if lead in rec.lead_names]
        avg = np.asarray(res.average, dtype=np.float64)
        if not have or avg.ndim != 2 or not np.all(np.isfinite(avg)):
            continue
        t = (np.arange(avg.shape[0]) - res.fiducial) * 1000.0 / res.fs
        for k, col in have:
            out[k, i] = np.diff(np.interp(grid, t, avg[:, col]))
    return out


def shape_similarity(slopes: np.ndarray, *, chunk: int = 256) -> tuple[np.ndarray, np.ndarray]:
    """Lowest-lead concordance of every pair of averaged-beat slopes, at their best common shift.

    Parameters
    ----------
    slopes : ndarray, shape (n_leads, n_records, n_grid)
        From :func:`averaged_beat_slopes`.
    chunk : int
        Rows computed at once (bounds memory to ``n_leads x chunk x n_records`` per shift).

    Returns
    -------
    similarity : ndarray of float64, shape (n_records, n_records)
        Symmetric; NaN on the diagonal and where fewer than ``MIN_LEADS`` leads are shared.
    lead_sim : ndarray of float64, shape (n_leads, n_records, n_records)
        Per-lead concordance at the chosen shift (NaN where a lead is missing).
    """
    n_leads, n, n_t = slopes.shape
    m = int(round(MAX_LAG_MS / STEP_MS))
    width = n_t - 2 * m
    ref = slopes[:, :, m:m + width]
    ref_ok = np.isfinite(ref).all(axis=2)                              # (l, n)
    ref0 = np.nan_to_num(ref)
    ref_norm = np.sum(ref0 ** 2, axis=2)
    ref_t = np.ascontiguousarray(np.transpose(ref0, (0, 2, 1)))       # (l, t, n)
    lead_sim = np.full((n_leads, n, n), np.nan)
    best = np.full((n, n), -np.inf)                                    # mean concordance at the chosen shift
    for r0 in range(0, n, chunk):
        rows = slice(r0, min(n, r0 + chunk))
        for lag in range(-m, m + 1):
            w = np.nan_to_num(slopes[:, rows, m + lag:m + lag + width])
            den = np.sum(w ** 2, axis=2)[:, :, None] + ref_norm[:, None, :]
            ok = ref_ok[:, rows, None] & ref_ok[:, None, :] & (den > 0)
            sim = np.where(ok, 2.0 * np.matmul(w, ref_t) / np.where(den > 0, den, 1.0), np.nan)
            score = np.where(ok, sim, 0.0).sum(axis=0) / np.maximum(ok.sum(axis=0), 1)
            better = ok.any(axis=0) & (score > best[rows])
            best[rows] = np.where(better, score, best[rows])
            lead_sim[:, rows] = np.where(better[None], sim, lead_sim[:, rows])
    flip = best.T > best                                               # keep the better of both directions
    lead_sim = np.where(flip[None], np.transpose(lead_sim, (0, 2, 1)), lead_sim)
    n_ok = np.isfinite(lead_sim).sum(axis=0)
    with np.errstate(invalid="ignore"):
        similarity = np.where(n_ok >= MIN_LEADS, np.min(np.where(np.isfinite(lead_sim), lead_sim, np.inf), axis=0),
                              np.nan)
    np.fill_diagonal(similarity, np.nan)
    return similarity, lead_sim


def _block_anchors(data: np.ndarray, block: int) -> np.ndarray:
    """Content-defined hashes of the non-flat ``block``-sample runs of quantised ``data`` (time first)."""
    q = np.round(np.nan_to_num(data.astype(np.float64)) / QUANT_MV).astype(np.int64)
    if q.shape[0] < block:
        return np.zeros(0, np.uint64)
    weights = np.random.default_rng(20240611).integers(1, 2 ** 63, size=q.shape[1], dtype=np.int64)
    row = (q.view(np.uint64) * weights.view(np.uint64)).sum(axis=1, dtype=np.uint64)   # wraps mod 2**64
    row = row ^ (row >> np.uint64(29))
    idx = np.arange(q.shape[0], dtype=np.uint64)
    c1 = np.concatenate(([np.uint64(0)], np.cumsum(row, dtype=np.uint64)))
    c2 = np.concatenate(([np.uint64(0)], np.cumsum(row * (idx + np.uint64(1)), dtype=np.uint64)))
    start = np.arange(q.shape[0] - block + 1, dtype=np.uint64)
    s1 = c1[block:] - c1[:-block]
    s2 = c2[block:] - c2[:-block] - start * s1                          # sum of (k + 1) * row[t + k]
    key = s1 * np.uint64(0x9E3779B97F4A7C15) ^ s2
    var = np.concatenate(([0], np.cumsum(np.abs(np.diff(q, axis=0)).sum(axis=1))))
    active = (var[block - 1:] - var[:len(var) - block + 1]) * QUANT_MV >= MIN_VARIATION_MV * q.shape[1]
    keep = active & (key % np.uint64(ANCHOR_EVERY) == 0)
    return np.unique(key[keep])


def shared_samples(records, *, leads: tuple[str, ...] = STANDARD_LEADS) -> dict[tuple[int, int], float]:
    """Pairs of records that share at least ``BLOCK_S`` seconds of identical (1 µV) samples.

    Returns
    -------
    dict of (i, j) -> float
        ``i < j`` record indices -> fraction of the shorter record's anchors shared, in (0, 1].
    """
    keys, owner = [], []
    for i, rec in enumerate(records):
        cols = [rec.lead_names.index(lead) for lead in leads if lead in rec.lead_names]
        if not cols:
            continue
        data = rec.signal if not rec.is_beats else rec.beats.reshape(-1, rec.beats.shape[-1])
        a = _block_anchors(data[:, cols], max(2, int(round(BLOCK_S * rec.fs))))
        keys.append(a)
        owner.append(np.full(a.size, i, np.int64))
    if not keys:
        return {}
    keys, owner = np.concatenate(keys), np.concatenate(owner)
    counts = np.bincount(owner, minlength=len(records))
    _, inverse, n_rec = np.unique(keys, return_inverse=True, return_counts=True)
    shared = np.flatnonzero(n_rec[inverse] > 1)
    order = shared[np.argsort(inverse[shared], kind="stable")]
    out: dict[tuple[int, int], float] = {}
    groups = np.split(owner[order], np.flatnonzero(np.diff(inverse[order])) + 1) if order.size else []
    tally: dict[tuple[int, int], int] = {}
    for g in groups:                                                   # one group per shared hash (few)
        g = np.unique(g)
        for a in range(len(g)):
            for b in range(a + 1, len(g)):
                tally[(int(g[a]), int(g[b]))] = tally.get((int(g[a]), int(g[b])), 0) + 1
    for (i, j), k in tally.items():
        out[(i, j)] = min(1.0, k / max(1, min(counts[i], counts[j])))
    return out


def find_same_heart(cohort, *, threshold: float = DEFAULT_THRESHOLD, beat_config: BeatConfig | None = None,
                    leads: tuple[str, ...] = STANDARD_LEADS) -> list[SameHeartPair]:
    """Pairs of records under different patient ids that are likely the same heart.

    Parameters
    ----------
    cohort : Cohort
        Validated records (continuous or pre-cut beats).
    threshold : float, default DEFAULT_THRESHOLD (0.88)
        Lowest-lead slope concordance of the averaged beats at or above which a pair is
        reported as ``"same beat shape"``; in (0, 1]. Pairs sharing identical samples are
        reported whatever the threshold.
    beat_config : BeatConfig, optional
        Beat pipeline parameters for the averaged beats (default ``BeatConfig()``).
    leads : tuple of str, default the 12 standard leads
        Leads compared; a lead a record lacks is left out of that record's comparisons.

    Returns
    -------
    list of SameHeartPair
        One per pair (identical samples take precedence), in cohort order of the later record.
        Records of the same patient are never paired.

    Raises
    ------
    ParameterError
        For a threshold outside (0, 1] or an empty ``leads``.

    Notes
    -----
    Cost: one beat-pipeline pass per record (about 0.02 s for 10 s, 0.05 s for 30 s at 1 kHz)
    plus a matrix computation over all pairs (under a second for 120 records).
    """
    if isinstance(threshold, bool) or not isinstance(threshold, (int, float)) or not 0 < threshold <= 1:
        raise ParameterError("threshold", threshold, "same-heart similarity threshold must be in (0, 1] "
                                                     f"(default {DEFAULT_THRESHOLD})")
    if not leads:
        raise ParameterError("leads", leads, "at least one lead name is needed to compare records")
    records = list(cohort.records)
    n = len(records)
    if n < 2:
        return []
    patients = np.array([r.patient_id for r in records], dtype=object)
    samples = shared_samples(records, leads=leads)
    similarity, lead_sim = shape_similarity(averaged_beat_slopes(records, beat_config=beat_config, leads=leads))
    found: dict[tuple[int, int], SameHeartPair] = {}
    for (i, j), frac in samples.items():
        if patients[i] != patients[j]:
            found[(i, j)] = _pair(records, i, j, frac, KIND_SAMPLES, threshold, None)
    with np.errstate(invalid="ignore"):
        hit = np.triu(similarity >= threshold, 1) & (patients[:, None] != patients[None, :])
    for i, j in zip(*np.nonzero(hit)):
        if (int(i), int(j)) not in found:
            found[(int(i), int(j))] = _pair(records, int(i), int(j), float(similarity[i, j]), KIND_SHAPE,
                                            threshold, (lead_sim[:, i, j], leads))
    return [found[k] for k in sorted(found, key=lambda k: (k[1], k[0]))]


def _pair(records, i, j, value, kind, threshold, per_lead) -> SameHeartPair:
    a, b = records[i], records[j]
    if kind == KIND_SAMPLES:
        evidence = (f"their signals share identical samples ({100 * value:.0f}% of the shorter record's "
                    f"{BLOCK_S:g} s blocks)")
    else:
        sims, names = per_lead
        ok = np.isfinite(sims)
        low = int(np.nanargmin(np.where(ok, sims, np.nan)))
        evidence = (f"averaged beats agree in all {int(ok.sum())} leads compared: slope concordance "
                    f">= {value:.3f} (lowest in {names[low]}; threshold {threshold:g})")
    reason = (f"{b.record_id} (patient {b.patient_id}) looks like the same heart as {a.record_id} "
              f"(patient {a.patient_id}): {evidence}; if they are one person, give them one patient id in "
              f"labels.csv (or pass --same-patient {a.record_id},{b.record_id}), otherwise --skip-bad excludes "
              "the later record")
    return SameHeartPair(a.record_id, b.record_id, a.patient_id, b.patient_id, float(value), kind, reason)


def same_heart_problems(pairs: list[SameHeartPair]) -> list[Problem]:
    """One :class:`~hfecg_bench.errors.Problem` per pair, naming the later record (``record_b``).

    So ``--skip-bad`` excludes the later record of each pair and keeps the first.

    Parameters
    ----------
    pairs : list of SameHeartPair
        From :func:`find_same_heart`.

    Returns
    -------
    list of Problem
        ``Problem(record=pair.record_b, reason=pair.reason)``, in the order of ``pairs``.
    """
    return [Problem(p.record_b, p.reason) for p in pairs]


__all__ = ["DEFAULT_THRESHOLD", "SameHeartPair", "averaged_beat_slopes", "find_same_heart", "same_heart_problems",
           "shape_similarity", "shared_samples"]
