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

Unknown sections or fields are an error naming them (a typo must not be ignored), and so is a
value of the wrong type (section, field, the type expected and the value found).

Examples
--------
>>> type_error(3, float), type_error("4", int), type_error([150, 250], tuple[float, float])
(None, 'an integer', None)
>>> type_error(True, int), type_error(["a", 2], tuple[float, float])
('an integer', 'a list of 2 numbers')
"""
from __future__ import annotations

import dataclasses
import tomllib
import types
import typing
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


_NAMES = {float: "a number", int: "an integer", bool: "true or false", str: "a string"}


def type_error(value, hint) -> str | None:
    """None when a TOML ``value`` fits the field type ``hint``, else what was expected (for the message)."""
    origin, args = typing.get_origin(hint), typing.get_args(hint)
    if origin in (typing.Union, types.UnionType):
        options = [a for a in args if a is not type(None)]
        errors = [type_error(value, a) for a in options]
        return None if any(e is None for e in errors) else " or ".join(e for e in errors if e)
    if hint is tuple or origin is tuple:
        if not isinstance(value, (list, tuple)):
            return "a list"
        if not args or args[-1] is Ellipsis:
            inner = args[0] if args else None
            bad = inner is not None and any(type_error(v, inner) for v in value)
            return "a list of " + {float: "numbers", int: "integers", str: "strings"}.get(inner, "values") if bad else None
        if len(value) != len(args) or any(type_error(v, a) for v, a in zip(value, args)):
            return f"a list of {len(args)} " + ("numbers" if all(a in (int, float) for a in args) else "values")
        return None
    if hint is float:
        return None if isinstance(value, (int, float)) and not isinstance(value, bool) else _NAMES[float]
    if hint is int:
        return None if isinstance(value, int) and not isinstance(value, bool) else _NAMES[int]
    if hint in (bool, str):
        return None if isinstance(value, hint) else _NAMES[hint]
    return None


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
        if not isinstance(values, dict):
            raise HfecgError(f"config file {path}: {name} must be a [{name}] table of fields, got {values!r}")
        section = getattr(cfg, name)
        fields = {f.name for f in dataclasses.fields(section)}
        bad = sorted(set(values) - fields)
        if bad:
            raise HfecgError(f"config file {path}: unknown field(s) {bad} in [{name}]; known: {sorted(fields)}")
        hints = typing.get_type_hints(type(section))
        for k, v in values.items():
            expected = type_error(v, hints.get(k))
            if expected:
                raise HfecgError(f"config file {path}: [{name}] {k} = {v!r} has the wrong type: expected {expected} "
                                 f"(default {getattr(section, k)!r})")
        changes = {k: _coerce(v, getattr(section, k)) for k, v in values.items()}
        try:
            setattr(cfg, name, dataclasses.replace(section, **changes))  # each section validates itself on creation
        except ParameterError:
            raise
        except (TypeError, ValueError) as exc:
            raise HfecgError(f"config file {path}: [{name}] {sorted(changes)}: {exc}") from None
    return cfg
