"""What a run records about itself: the state a resumed run must share, and the manifest that reproduces it.

Both are plain dicts built here and written only by
:class:`~hfecg_bench.pipeline.state.RunDirectory`.
"""
from __future__ import annotations

import importlib.metadata
import platform

from hfecg_bench.evaluation.seeds import derive_seed

#: Packages whose versions decide the numbers of a run.
VERSIONED_PACKAGES = ("hfecg_bench", "numpy", "scipy", "pandas", "scikit-learn", "xgboost", "optuna", "neurokit2",
                      "PyWavelets", "tensorflow", "keras", "pyarrow")


def package_versions() -> dict:
    """Python and the installed version (or None) of each of :data:`VERSIONED_PACKAGES`."""
    out = {"python": platform.python_version()}
    for name in VERSIONED_PACKAGES:
        try:
            out[name] = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            out[name] = None
    return out


def _sections(run_config) -> dict:
    d = run_config.as_dict()
    return {"features": d["features"], "beats": d["beats"], "deep": d["deep"]}


def run_state(fingerprint: str, run_config, seed: int) -> dict:
    """Settings a resumed run must share with the stored one: anything that changes a fitted fold.

    ``fingerprint`` is ``cohort.fingerprint()`` (a hash of every sample: computed once per run by the caller).
    """
    sections = _sections(run_config)
    return {"seed": int(seed), "profile": run_config.profile, "fingerprint": fingerprint,
            "config": run_config.evaluation.as_dict(), "feature_config": sections["features"],
            "beat_config": sections["beats"], "deep_config": sections["deep"]}


def run_manifest(cohort, fingerprint: str, run_config, seed: int, plan, features, models: list[str], labels,
                 runtime: dict, command: str) -> dict:
    """The manifest sections known once features and folds are in place (models and timings come later)."""
    missing = sorted(set(map(str, cohort.patient_labels())) - set(labels.index))
    return {
        "command": command,
        "profile": run_config.profile,
        "seed": int(seed),
        "config": {"evaluation": run_config.evaluation.as_dict(), **_sections(run_config)},
        "seeds": {"run": int(seed), "folds": derive_seed(seed, "folds"), "bootstrap": derive_seed(seed, "bootstrap"),
                  "inner_folds": {str(k): derive_seed(seed, "inner", k) for k in range(plan.n_folds)}},
        "dataset": {"fingerprint": fingerprint, "describe": cohort.describe()},
        "requested_models": list(models),
        "patients_without_features": missing,
        "feature_exclusions": [e.as_dict() for e in features.excluded],
        "n_features": len(features.feature_columns()),
        "fold_plan": {"kind": plan.kind, "n_folds": plan.n_folds, "seed": plan.seed},
        "versions": package_versions(),
        "runtime": runtime,
    }
