"""Subset averages of a patient's aligned beats, and the per-record beat noise level.

Signal averaging is what makes HF-QRS measurable: uncorrelated noise falls as ``1/sqrt(m)`` in an
average of ``m`` aligned beats while the phase-locked HF-QRS stays. A deep model trained on single beats
sees the noise; one trained on *subset averages* (``K`` averages of ``m`` randomly drawn beats of each
patient, redrawn every epoch) sees a cleaner beat and still gets many different samples per patient.

Everything here is vectorised over beats and leads (no Python loop per beat or per average): subsets
are drawn for all patients at once by sorting random keys, and averaged with one sparse matrix product.

Examples
--------
>>> import numpy as np
>>> pids = np.repeat(np.array(["a", "b"]), [6, 3])
>>> X = np.arange(9, dtype=np.float32)[:, None, None] * np.ones((1, 4, 2), np.float32)
>>> draw = draw_subsets(pids, k=2, m=4, rng=np.random.default_rng(0))
>>> draw.patients.tolist(), draw.sizes.tolist()          # patient b has 3 beats: averages of all 3
(['a', 'a', 'b', 'b'], [4, 4, 3, 3])
>>> avg = subset_average(X, draw)
>>> avg.shape, float(avg[2, 0, 0])                          # b's beats 6, 7, 8 -> mean 7
((4, 4, 2), 7.0)
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy import sparse

from hfecg_bench.errors import ParameterError


@dataclass(frozen=True)
class SubsetDraw:
    """Which beats make up each subset average.

    Attributes
    ----------
    rows : ndarray of int, (n_avg, m)
        Beat rows (into the array the draw was made for); only the first ``sizes[i]`` of row ``i`` are used.
    sizes : ndarray of int, (n_avg,)
        Beats in each average: ``min(m, beats of the patient)``.
    patients : ndarray of str, (n_avg,)
        Patient of each average (patients in sorted order, ``k`` consecutive averages each).
    """

    rows: np.ndarray
    sizes: np.ndarray
    patients: np.ndarray

    def __len__(self) -> int:
        return int(self.sizes.size)


def draw_subsets(beat_patients, k: int, m: int, rng: np.random.Generator, rows=None) -> SubsetDraw:
    """``k`` random subsets of ``m`` distinct beats per patient (all its beats when it has fewer than ``m``).

    Parameters
    ----------
    beat_patients : array-like of str, (n_beats,)
        Patient of every beat.
    k : int
        Subsets per patient (>= 1).
    m : int
        Beats per subset (>= 1), drawn without replacement within a subset.
    rng : numpy.random.Generator
    rows : array of int, optional
        Restrict the draw to these beat rows (default all); the returned rows index ``beat_patients``.

    Returns
    -------
    SubsetDraw

    Examples
    --------
    >>> pids = np.array(["p"] * 10)
    >>> d = draw_subsets(pids, k=3, m=4, rng=np.random.default_rng(1))
    >>> d.rows.shape, all(len(set(r)) == 4 for r in d.rows.tolist())
    ((3, 4), True)
    """
    if int(k) < 1 or int(m) < 1:
        raise ParameterError("subset k, m", (k, m), "both must be integers >= 1")
    pids = np.asarray(beat_patients).astype(str)
    rows = np.arange(pids.size) if rows is None else np.asarray(rows, dtype=np.int64)
    if rows.size == 0:
        raise ParameterError("rows", "[]", "at least one beat is needed to draw subset averages")
    order = rows[np.argsort(pids[rows], kind="stable")]           # beats grouped by patient, sorted ids
    patients, start, count = np.unique(pids[order], return_index=True, return_counts=True)
    n_avg, width = patients.size * int(k), int(count.max())
    owner = np.repeat(np.arange(patients.size), int(k))            # patient index of every average
    # a random permutation of each patient's beats per average: sort random keys, padding keys sort last
    keys = rng.random((n_avg, width))
    keys[np.arange(width)[None, :] >= count[owner][:, None]] = np.inf
    take = min(int(m), width)
    perm = np.argsort(keys, axis=1, kind="stable")[:, :take]
    sizes = np.minimum(int(m), count[owner])
    picked = order[np.minimum(start[owner][:, None] + perm, order.size - 1)]
    picked[np.arange(take)[None, :] >= sizes[:, None]] = -1        # unused slots, never read
    return SubsetDraw(rows=picked.astype(np.int64), sizes=sizes.astype(np.int64), patients=patients[owner])


def subset_weights(draw: SubsetDraw, n_beats: int) -> sparse.csr_matrix:
    """The ``(n_avg, n_beats)`` averaging matrix of a draw: ``1/size`` at each used beat of each average."""
    used = np.arange(draw.rows.shape[1])[None, :] < draw.sizes[:, None]
    r = np.broadcast_to(np.arange(len(draw))[:, None], draw.rows.shape)[used]
    w = np.broadcast_to((1.0 / draw.sizes)[:, None], draw.rows.shape)[used]
    return sparse.csr_matrix((w.astype(np.float64), (r, draw.rows[used])), shape=(len(draw), int(n_beats)))


def subset_average(X: np.ndarray, draw: SubsetDraw) -> np.ndarray:
    """The averages of a draw: float32 ``(n_avg, n_window, n_leads)`` from beats ``X`` ``(n_beats, ...)``.

    One sparse product over the flattened beats the draw uses (float64 accumulation), so the cost is
    ``n_avg x m x n_window x n_leads`` and nothing of size ``n_avg x m x n_window`` is materialised.
    """
    X = np.asarray(X)
    used = draw.rows[np.arange(draw.rows.shape[1])[None, :] < draw.sizes[:, None]]
    beats, local = np.unique(used, return_inverse=True)          # only the beats used are copied to float64
    compact = SubsetDraw(rows=np.full_like(draw.rows, -1), sizes=draw.sizes, patients=draw.patients)
    compact.rows[np.arange(draw.rows.shape[1])[None, :] < draw.sizes[:, None]] = local.ravel()
    flat = X[beats].reshape(beats.size, -1).astype(np.float64)
    out = subset_weights(compact, beats.size) @ flat
    return np.asarray(out, dtype=np.float32).reshape((len(draw),) + X.shape[1:])


def beat_noise_level(X: np.ndarray, groups) -> np.ndarray:
    """Per-beat, per-lead noise level of single beats: RMS of the beat minus its group's (record's) mean beat.

    The residual of ``n`` beats about their own mean has variance ``(n - 1)/n`` of the noise, so it is
    corrected by ``sqrt(n / (n - 1))``. A group with a single beat gets the median level of the others.

    Parameters
    ----------
    X : ndarray, (n_beats, n_window, n_leads)
        Aligned beats of one view (mV).
    groups : array-like, (n_beats,)
        Record (or patient) of every beat.

    Returns
    -------
    ndarray of float32, (n_beats, n_leads)
        Each beat's row holds its group's noise RMS per lead (mV), the same for every beat of the group.

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> X = np.concatenate([0.01 * rng.standard_normal((200, 50, 2)), 0.03 * rng.standard_normal((200, 50, 2))])
    >>> lvl = beat_noise_level(X.astype(np.float32), np.repeat(["r1", "r2"], 200))
    >>> [round(float(v), 3) for v in lvl[[0, -1], 0]]
    [0.01, 0.03]
    """
    X = np.asarray(X, dtype=np.float32)
    codes, uniq = pd.factorize(np.asarray(groups).astype(str))
    n = np.bincount(codes, minlength=uniq.size).astype(np.float64)
    member = sparse.csr_matrix((np.ones(codes.size), (codes, np.arange(codes.size))), shape=(uniq.size, codes.size))
    mean = (member @ X.reshape(X.shape[0], -1).astype(np.float64)) / n[:, None]       # (n_groups, n_window * n_leads)
    resid = X - mean.astype(np.float32).reshape((uniq.size,) + X.shape[1:])[codes]
    sq = member @ np.square(resid, dtype=np.float32).sum(axis=1, dtype=np.float64)     # (n_groups, n_leads)
    with np.errstate(divide="ignore", invalid="ignore"):
        level = np.sqrt(sq / (n[:, None] * X.shape[1]) * (n / np.maximum(n - 1, 1))[:, None])
    single = n < 2
    if single.any():
        level[single] = np.median(level[~single], axis=0) if (~single).any() else 0.0
    return level[codes].astype(np.float32)
