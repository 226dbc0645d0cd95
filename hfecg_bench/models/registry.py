"""Model name -> :class:`~hfecg_bench.models.base.ModelSpec`, and the groups ``classical``, ``deep``, ``ts``, ``all``.

A model's family is declared on its spec only; the groups here are lists of names.
Importing this module does not import TensorFlow or aeon (the deep and rocket specs load them when they fit).

Examples
--------
>>> [s.name for s in resolve_models("classical")]
['rf', 'svm', 'xgb', 'logreg', 'dummy']
>>> resolve_names("rf, deep,rf")
['rf', 'cnn', 'leadwise_cnn', 'tcn', 'lstm', 'shallow_hf']
>>> get_spec("leadwise_cnn").family, get_spec("rocket").family
('deep', 'ts')
"""
from __future__ import annotations

from hfecg_bench.errors import ParameterError
from hfecg_bench.models.base import ModelSpec
from hfecg_bench.models.classical import CLASSICAL_SPECS
from hfecg_bench.models.deep import DEEP_SPECS
from hfecg_bench.models.rocket import ROCKET_SPECS

SPECS: dict[str, ModelSpec] = {**CLASSICAL_SPECS, **DEEP_SPECS, **ROCKET_SPECS}
GROUPS = {"classical": tuple(CLASSICAL_SPECS), "deep": tuple(DEEP_SPECS), "ts": tuple(ROCKET_SPECS),
          "all": tuple(SPECS)}


def _unknown(name) -> ParameterError:
    return ParameterError("models", name, f"choose from {', '.join(SPECS)} or the groups {', '.join(GROUPS)}")


def get_spec(name: str) -> ModelSpec:
    """The spec of one model name (``rf``, ``svm``, ``xgb``, ``logreg``, ``dummy``, ``cnn``, ``leadwise_cnn``,
    ``tcn``, ``lstm``, ``shallow_hf``, ``rocket``); :class:`~hfecg_bench.errors.ParameterError` for any other."""
    try:
        return SPECS[name]
    except (KeyError, TypeError):
        raise _unknown(name) from None


def resolve_names(models) -> list[str]:
    """Model names from ``"rf,svm"``, a group (``classical``, ``deep``, ``ts``, ``all``) or a list of those.

    Order is kept and duplicates are dropped.
    """
    parts = str(models).split(",") if isinstance(models, str) else list(models)
    names: list[str] = []
    for part in (str(x).strip().lower() for x in parts):
        if not part:
            continue
        if part in GROUPS:
            names += list(GROUPS[part])
        elif part in SPECS:
            names.append(part)
        else:
            raise _unknown(part)
    if not names:
        raise ParameterError("models", models, "name at least one model or group")
    return list(dict.fromkeys(names))


def resolve_models(models) -> list[ModelSpec]:
    """Specs of the models named by :func:`resolve_names`."""
    return [get_spec(n) for n in resolve_names(models)]
