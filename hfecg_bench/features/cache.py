"""On-disk cache of per-record features: one small JSON file per record.

The key is the SHA-256 of the record's content hash (samples, rate, lead names), the feature
and beat configurations and a format version, so any change to the data or a parameter gives
a new key. JSON keeps float64 values exactly (shortest round-trip repr, NaN included), so a
cached run returns the same numbers as a fresh one.
"""
from __future__ import annotations

import hashlib
import json
from pathlib import Path

from hfecg_bench.io import write_atomic
from hfecg_bench.paths import cache_unwritable

CACHE_VERSION = "features-2"


class FeatureCache:
    """Get/put per-record feature payloads under ``directory`` (created on first write).

    The default folder is :func:`hfecg_bench.paths.cache_dir` ``("features")``. A folder that
    cannot be written (read-only, or a file in its place) is not an error: one warning, then
    the features are computed without caching (``disabled`` says why).

    Examples
    --------
    >>> import tempfile
    >>> cache = FeatureCache(tempfile.mkdtemp())
    >>> cache.get("ab12"), cache.misses
    (None, 1)
    >>> cache.put("ab12", {"values": {"V1__hf__rms_uv": float("nan")}})
    >>> cache.get("ab12")["values"], cache.hits
    ({'V1__hf__rms_uv': nan}, 1)
    """

    def __init__(self, directory: Path):
        self.directory = Path(directory)
        self.hits = 0
        self.misses = 0
        self.disabled: str | None = None

    @staticmethod
    def key(record, feature_config, beat_config) -> str:
        """SHA-256 of the record's content hash, both configurations and :data:`CACHE_VERSION`."""
        text = "|".join([CACHE_VERSION, record.content_hash(), feature_config.key(), beat_config.key()])
        return hashlib.sha256(text.encode()).hexdigest()

    def path(self, key: str) -> Path:
        return self.directory / key[:2] / f"{key}.json"

    def get(self, key: str) -> dict | None:
        p = self.path(key)
        try:
            payload = json.loads(p.read_text())
        except (OSError, ValueError):
            self.misses += 1
            return None
        if payload.get("version") != CACHE_VERSION:
            self.misses += 1
            return None
        self.hits += 1
        return payload

    def put(self, key: str, payload: dict) -> None:
        """Store ``payload`` (JSON-serialisable, NaN allowed) under ``key``, atomically."""
        if self.disabled:
            return
        p = self.path(key)
        try:
            p.parent.mkdir(parents=True, exist_ok=True)
            write_atomic(p, json.dumps({**payload, "version": CACHE_VERSION}))
        except OSError as exc:
            self.disabled = cache_unwritable(self.directory, exc)

