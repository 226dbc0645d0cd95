"""The run configuration: a typed dataclass tree with profiles, loadable from a TOML file.

Sections and where their fields are documented:

===========  ==========================================  =============
section      class                                       module
===========  ==========================================  =============
beats        :class:`~hfecg_bench.beats.config.BeatConfig`        beats/config.py
features     :class:`~hfecg_bench.features.config.FeatureConfig`  features/config.py
evaluation   :class:`~hfecg_bench.evaluation.config.EvalConfig`  evaluation/config.py
deep         :class:`~hfecg_bench.models.deep_config.DeepConfig`  models/deep_config.py
===========  ==========================================  =============

A TOML file overrides profile defaults field by field, e.g.::

    [features]
    hf_order = 4
    [evaluation]
    n_trials = 30

Unknown sections or fields are an error naming them (a typo must not be ignored).
"""
from __future__ import annotations

import dataclasses
import tomllib
from dataclasses import dataclass
from pathlib import Path

from hfecg_bench.beats.config import BeatConfig
from hfecg_bench.errors import HfecgError, ParameterError
from hfecg_bench.evaluation.config import EvalConfig
from hfecg_bench.features.config import FeatureConfig
from hfecg_bench.models.deep_config import DeepConfig

PROFILES = ("quick", "full")


def _sections():
    return {"beats": BeatConfig, "features": FeatureConfig, "evaluation": EvalConfig, "deep": DeepConfig}


@dataclass
class RunConfig:
    """Every setting of a run, by section; ``as_dict()`` goes into manifest.json."""

    profile: str
    beats: object
    features: object
    evaluation: object
    deep: object

    @classmethod
    def for_profile(cls, profile: str = "quick") -> "RunConfig":
        if profile not in PROFILES:
            raise ParameterError("profile", profile, f"one of {list(PROFILES)}")
        return cls(profile=profile, **{name: klass.for_profile(profile) for name, klass in _sections().items()})

    def as_dict(self) -> dict:
        out = {"profile": self.profile}
        for name in _sections():
            out[name] = getattr(self, name).as_dict()
        return out


def _coerce(value, current):
    """TOML lists become tuples where the default is a tuple (frozen dataclasses hash them)."""
    if isinstance(current, tuple) and isinstance(value, list):
        return tuple(value)
    return value


def load_run_config(profile: str = "quick", path: Path | None = None) -> RunConfig:
    """The profile's defaults, overridden by the TOML file at ``path`` if given."""
    cfg = RunConfig.for_profile(profile)
    if path is None:
        return cfg
    path = Path(path)
    try:
        data = tomllib.loads(path.read_text())
    except FileNotFoundError:
        raise HfecgError(f"config file not found: {path}") from None
    except tomllib.TOMLDecodeError as exc:
        raise HfecgError(f"config file {path} is not valid TOML: {exc}") from None
    sections = _sections()
    unknown = sorted(set(data) - set(sections))
    if unknown:
        raise HfecgError(f"config file {path}: unknown section(s) {unknown}; known: {sorted(sections)}")
    for name, values in data.items():
        section = getattr(cfg, name)
        fields = {f.name for f in dataclasses.fields(section)}
        bad = sorted(set(values) - fields)
        if bad:
            raise HfecgError(f"config file {path}: unknown field(s) {bad} in [{name}]; known: {sorted(fields)}")
        changes = {k: _coerce(v, getattr(section, k)) for k, v in values.items()}
        setattr(cfg, name, dataclasses.replace(section, **changes))  # each section validates itself on creation
    return cfg
