"""Where the package keeps its on-disk caches: one resolver for every kind of cache.

The root is ``$HFECG_CACHE_DIR`` when that variable is set, else ``~/.cache/hfecg_bench``;
each kind of cached artefact (``synthetic`` cohorts, per-record ``features``, ``beats``) has
its own sub-folder. A cache that cannot be written (a read-only home on a cluster) is not an
error: the writer warns once (:func:`cache_unwritable`) and goes on without it. The environment is read on every call, so a test (or a user) can point
the caches elsewhere at any time.

Examples
--------
>>> cache_dir("features") == cache_root() / "features"
True
>>> resolve_cache_dir(False, "features") is None, resolve_cache_dir("/data/c", "beats").as_posix()
(True, '/data/c')
>>> resolve_cache_dir(None, "beats") == cache_dir("beats")
True
"""
from __future__ import annotations

import os
import warnings
from pathlib import Path

from hfecg_bench.errors import HfecgWarning

ENV_VAR = "HFECG_CACHE_DIR"
KINDS = ("synthetic", "features", "beats")


def cache_root() -> Path:
    """``$HFECG_CACHE_DIR`` if set (and not empty), else ``~/.cache/hfecg_bench``."""
    root = os.environ.get(ENV_VAR)
    return Path(root) if root else Path.home() / ".cache" / "hfecg_bench"


def cache_dir(kind: str) -> Path:
    """The default folder of one kind of cache (one of :data:`KINDS`) under :func:`cache_root`."""
    if kind not in KINDS:
        raise ValueError(f"unknown cache kind {kind!r}; one of {list(KINDS)}")
    return cache_root() / kind


def resolve_cache_dir(cache_dir_arg, kind: str) -> Path | None:
    """What a ``cache_dir=`` argument means: ``False`` no cache (None), ``None`` the default
    :func:`cache_dir` of ``kind``, anything else a folder used as given."""
    if cache_dir_arg is False:
        return None
    if cache_dir_arg is None:
        return cache_dir(kind)
    return Path(cache_dir_arg)


def cache_unwritable(directory: Path, exc: OSError) -> str:
    """Warn (one :class:`~hfecg_bench.errors.HfecgWarning`) that ``directory`` cannot be written; returns why."""
    why = (f"cache folder {directory} is not writable ({exc.strerror or type(exc).__name__}): going on without "
           "caching (set HFECG_CACHE_DIR or --cache-dir to a writable folder, or pass --no-cache)")
    warnings.warn(why, HfecgWarning, stacklevel=3)
    return why
