"""Caches of generated synthetic cohorts: a small in-process LRU and a size-bounded disk folder.

Entries are keyed by :func:`hfecg_bench.data.synthetic.cache_key` (resolved parameters, generator
version and source), so a cached cohort is bit-identical to a fresh one. The disk folder is
:func:`hfecg_bench.paths.cache_dir` ``("synthetic")``; a damaged entry is regenerated and a
read-only folder is not an error.
"""
from __future__ import annotations

import io
import json
import os
from collections import OrderedDict
from collections.abc import Callable
from pathlib import Path

import numpy as np

from hfecg_bench.io import write_atomic
from hfecg_bench.paths import cache_dir, cache_unwritable

_MEMORY: OrderedDict = OrderedDict()
_MEMORY_SIZE = 2
DISK_CACHE_BYTES = 1_000_000_000   # the disk cache keeps its most recently used entries within this budget


def _load(path: Path, key: str, shape: tuple[int, ...]):
    """``(signals, truth)`` of a disk entry, or None if it is missing, stale or damaged."""
    try:
        with np.load(path, allow_pickle=False) as z:
            if str(z["key"]) != key:
                return None
            signals = z["signals"]
            truth = json.loads(str(z["truth"]))
        if signals.shape != shape or signals.dtype != np.float32:
            return None
        return signals, truth
    except Exception:                      # a damaged cache entry is regenerated, never trusted
        return None


def _store(path: Path, key: str, signals: np.ndarray, truth: dict) -> None:
    """Write the entry atomically; a read-only cache folder is not an error."""
    buf = io.BytesIO()
    np.savez(buf, key=np.array(key), signals=signals, truth=np.array(json.dumps(truth, sort_keys=True)))
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        write_atomic(path, buf.getvalue())
        prune(path.parent, keep=path)
    except OSError as exc:
        cache_unwritable(path.parent, exc)


def prune(folder: Path, keep: Path, budget: int = DISK_CACHE_BYTES) -> None:
    """Delete the least recently used ``*.npz`` entries of ``folder`` beyond ``budget`` bytes (never ``keep``)."""
    entries = []
    for f in folder.glob("*.npz"):
        try:
            st = f.stat()
        except OSError:
            continue
        entries.append((st.st_mtime, f.name, st.st_size, f))
    total = 0
    for _, _, size, f in sorted(entries, reverse=True):
        total += size
        if total > budget and f != keep:
            try:
                f.unlink()
            except OSError:
                pass


def cached_cohort_data(key: str, shape: tuple[int, ...],
                       make: Callable[[], tuple[np.ndarray, dict]]) -> tuple[np.ndarray, dict]:
    """Signals (read-only) and truth of entry ``key``: from memory, from disk, or ``make()`` then stored.

    Parameters
    ----------
    key : str
        The entry's name (a hash of everything the data is computed from).
    shape : tuple of int
        Expected ``(n_patients, n_samples, n_leads)`` of the signals; a disk entry of another
        shape is regenerated.
    make : callable
        Generates ``(signals float32 (n_patients, n_samples, n_leads) mV, truth dict)``.
    """
    if key in _MEMORY:
        _MEMORY.move_to_end(key)
        signals, truth_text = _MEMORY[key]
        return signals, json.loads(truth_text)
    path = cache_dir("synthetic") / f"{key}.npz"
    hit = _load(path, key, shape) if path.exists() else None
    if hit is None:
        signals, truth = make()
        _store(path, key, signals, truth)
    else:
        signals, truth = hit
        try:
            os.utime(path)                 # mark as recently used for the pruning
        except OSError:
            pass
    signals.setflags(write=False)          # shared by every cohort built from the cache: never modified
    truth_text = json.dumps(truth, sort_keys=True)
    _MEMORY[key] = (signals, truth_text)
    while len(_MEMORY) > _MEMORY_SIZE:
        _MEMORY.popitem(last=False)
    return signals, json.loads(truth_text)
