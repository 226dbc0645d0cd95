"""Every random choice of a run derives from the one run seed through ``numpy.random.SeedSequence``.

A child seed is addressed by a path of keys (``"folds"``, ``("fit", "rf", 2)``), so it
does not depend on which other models run or in which order.

>>> derive_seed(3, "folds") == derive_seed(3, "folds")
True
"""
from __future__ import annotations

import zlib

import numpy as np


def _key_int(key) -> int:
    if isinstance(key, (int, np.integer)) and not isinstance(key, bool):
        if key < 0:
            raise ValueError(f"seed key must be >= 0, got {key}")
        return int(key)
    return zlib.crc32(str(key).encode("utf-8"))


def derive_seed(seed: int, *keys) -> int:
    """A 31-bit integer seed for the child of ``seed`` named by ``keys`` (strings or ints >= 0)."""
    ss = np.random.SeedSequence(int(seed), spawn_key=tuple(_key_int(k) for k in keys))
    return int(ss.generate_state(1, dtype=np.uint32)[0] >> 1)
