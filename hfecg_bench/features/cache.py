"""On-disk cache of per-record features: one small JSON file per record.

The key is the SHA-256 of the record's content hash (samples, rate, lead names), the feature
and beat configurations and a format version, so any change to the data or a parameter gives
a new key. JSON keeps float64 values exactly (shortest round-trip repr, NaN included), so a
cached run returns the same numbers as a fresh one.
"""
from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path

CACHE_VERSION = "features-2"
ENV_VAR = "HFECG_CACHE_DIR"


def resolve_cache_dir(cache_dir=None) -> Path | None:
    """Where feature files go.

    ``False`` disables caching (returns None); a path is used as given; ``None`` means
    ``$HFECG_CACHE_DIR/features`` when that variable is set, else ``~/.cache/hfecg_bench/features``.
    """
    if cache_dir is False:
        return None
    if cache_dir is not None:
        return Path(cache_dir)
    root = os.environ.get(ENV_VAR)
    if root:
        return Path(root) / "features"
    return Path.home() / ".cache" / "hfecg_bench" / "features"


class FeatureCache:
    """Get/put per-record feature payloads under ``directory`` (created on first write)."""

    def __init__(self, directory: Path):
        self.directory = Path(directory)
        self.hits = 0
        self.misses = 0

    @staticmethod
    def key(record, feature_config, beat_config) -> str:
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
        p = self.path(key)
        p.parent.mkdir(parents=True, exist_ok=True)
        tmp = p.with_name(f".{p.name}.{os.getpid()}.tmp")
        tmp.write_text(json.dumps({**payload, "version": CACHE_VERSION}))
        tmp.replace(p)
