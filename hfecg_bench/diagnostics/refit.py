"""Diagnostics that refit a classical model at its default hyperparameters on the run's own folds.

No tuning here (it would multiply the run time); the model is the best classical model
of the leaderboard, so the curves describe the model a reader would pick. Every fit
sees training patients only, through the same :class:`ModelSpec.fit_predict` the
leaderboard used.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from hfecg_bench.diagnostics.power import auroc_se
from hfecg_bench.evaluation.folds import assert_disjoint
from hfecg_bench.evaluation.metrics import safe_auroc
from hfecg_bench.evaluation.seeds import derive_seed
from hfecg_bench.features.config import GROUPS as FEATURE_GROUPS
from hfecg_bench.models.base import ModelData



@dataclass
class GroupView:
    """A FeatureTable seen through a subset of its feature groups (same rows, fewer columns)."""

    table: object
    groups: tuple[str, ...]

    @property
    def frame(self) -> pd.DataFrame:
        return self.table.frame

    def feature_columns(self, groups=None) -> list[str]:
        return self.table.feature_columns(list(self.groups))


def _with_ci(y: np.ndarray, p: np.ndarray) -> dict:
    auc = safe_auroc(y, p)
    n1, n0 = int(np.sum(y == 1)), int(np.sum(y == 0))
    se = auroc_se(auc, n1, n0) if np.isfinite(auc) and n1 and n0 else float("nan")
    return {"auroc": round(auc, 4), "auroc_lo": round(max(0.0, auc - 1.96 * se), 4),
            "auroc_hi": round(min(1.0, auc + 1.96 * se), 4)}


def out_of_fold(spec, data: ModelData, plan, seed: int, profile: str, *, fraction: float = 1.0,
                repeat: int = 0) -> pd.Series:
    """Patient-level out-of-fold probabilities of ``spec`` at default parameters over ``plan``.

    With ``fraction < 1`` each fold trains on a stratified random subset of its training
    patients (seeded by ``seed``, ``fraction`` and ``repeat``); test folds are unchanged.
    """
    params = spec.default_params(profile)
    parts = []
    for k in range(plan.n_folds):
        train, test = plan.split(k)
        if fraction < 1.0:
            rng = np.random.default_rng(derive_seed(seed, "subsample", int(fraction * 1000), repeat, k))
            lab = plan.labels.loc[train]
            keep = []
            for cls in (0, 1):
                ids = np.array(sorted(lab.index[lab == cls]))
                n = max(2, int(round(fraction * len(ids))))
                keep += list(rng.choice(ids, size=min(n, len(ids)), replace=False))
            train = sorted(keep)
        assert_disjoint(train, test, f"{spec.name} diagnostic fold {k}")
        res = spec.fit_predict(data, train, test, params, derive_seed(seed, "diag-fit", spec.name, k, repeat), profile)
        parts.append(res.test_prob)
    return pd.concat(parts).sort_index()


def ablation_fit(groups: tuple, model: str, data: ModelData, plan, seed: int, profile: str) -> pd.Series:
    """Out-of-fold probabilities of ``model`` (default parameters) on the feature ``groups`` only: a module-level
    function, so that a Dask worker can run it."""
    from hfecg_bench.models.registry import get_spec

    view = ModelData(features=GroupView(data.features, groups), beats=data.beats)
    return out_of_fold(get_spec(model), view, plan, seed, profile)


def ablation(spec, data: ModelData, plan, seed: int, profile: str, groups=FEATURE_GROUPS, executor=None) -> dict:
    """AUROC of ``spec`` on each feature group alone and on all groups together, same folds.

    ``executor`` spreads the refits (one task per group set; results in input order, so the numbers do not
    depend on it); serial in this process by default.
    """
    table = data.features
    present = [g for g in groups if table.feature_columns([g])]
    sets = [(g, (g,)) for g in present] + [("all", tuple(present))]
    if executor is None:
        probs = [ablation_fit(gs, spec.name, data, plan, seed, profile) for _, gs in sets]
    else:
        probs = executor.map(ablation_fit, [gs for _, gs in sets], spec.name, executor.share(data), plan, seed,
                             profile)
    results = {}
    for (name, gs), prob in zip(sets, probs):
        results[name] = {"n_features": len(table.feature_columns(list(gs))),
                         **_with_ci(plan.labels.loc[prob.index].to_numpy(int), prob.to_numpy())}
    alone = {k: v for k, v in results.items() if k != "all"}
    best = max(alone, key=lambda k: alone[k]["auroc"]) if alone else None
    summary = (f"{spec.name} (default parameters): best single group {best} AUROC {alone[best]['auroc']:.3f}; "
               f"all groups {results['all']['auroc']:.3f}; "
               + ", ".join(f"{k} {v['auroc']:.2f}" for k, v in alone.items())) if best else "no feature groups"
    return {"kind": "ablation", "summary": summary, "model": spec.name, "groups": results, "best_group": best}
