"""Model name -> :class:`~hfecg_bench.models.base.ModelSpec`, and the groups ``classical``, ``deep``, ``all``.

>>> [s.name for s in resolve_models("classical")]
['rf', 'svm', 'xgb', 'logreg', 'dummy']
"""
from __future__ import annotations

from hfecg_bench.errors import HfecgError

CLASSICAL = ("rf", "svm", "xgb", "logreg", "dummy")
DEEP = ("cnn", "leadwise_cnn", "tcn", "lstm")
GROUPS = {"classical": CLASSICAL, "deep": DEEP}


def classical_specs() -> dict:
    from hfecg_bench.models.classical import CLASSICAL_SPECS

    return dict(CLASSICAL_SPECS)


def deep_specs() -> dict:
    """``hfecg_bench.models.deep.DEEP_SPECS``, imported lazily; HfecgError if it is not available."""
    try:
        from hfecg_bench.models.deep import DEEP_SPECS
    except ImportError as exc:
        raise HfecgError(f"deep models ({', '.join(DEEP)}) are not available: hfecg_bench.models.deep could not be "
                         f"imported ({exc}); run classical models only (e.g. `run classical`)") from None
    return dict(DEEP_SPECS)


def deep_available() -> bool:
    try:
        deep_specs()
    except HfecgError:
        return False
    return True


def get_spec(name: str):
    """The spec of one model name."""
    if name in CLASSICAL:
        return classical_specs()[name]
    if name in DEEP:
        specs = deep_specs()
        if name not in specs:
            raise HfecgError(f"deep model {name!r} is not in hfecg_bench.models.deep.DEEP_SPECS (has {sorted(specs)})")
        return specs[name]
    raise HfecgError(f"unknown model {name!r}; choose from {', '.join(CLASSICAL + DEEP)} "
                     "or the groups classical, deep, all")


def resolve_names(text: str) -> list[str]:
    """Expand ``"rf,svm"`` / ``classical`` / ``deep`` / ``all`` into model names (order kept, no duplicates).

    ``all`` is every classical model plus the deep models when ``hfecg_bench.models.deep`` is importable.
    """
    names: list[str] = []
    for part in (x.strip().lower() for x in str(text).split(",")):
        if not part:
            continue
        if part == "all":
            names += list(CLASSICAL) + (list(DEEP) if deep_available() else [])
        elif part in GROUPS:
            names += list(GROUPS[part])
        elif part in CLASSICAL or part in DEEP:
            names.append(part)
        else:
            raise HfecgError(f"unknown model {part!r}; choose from {', '.join(CLASSICAL + DEEP)} "
                             "or the groups classical, deep, all")
    if not names:
        raise HfecgError(f"no model named in {text!r}")
    return list(dict.fromkeys(names))


def resolve_models(text: str) -> list:
    """Specs of the models named by :func:`resolve_names`."""
    return [get_spec(n) for n in resolve_names(text)]
