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


def learning_curve(spec, data: ModelData, plan, seed: int, profile: str,
                   fractions=(0.25, 0.5, 0.75, 1.0), repeats: int = 2) -> dict:
    """AUROC against the fraction of training patients, and the slope at full size.

    Smaller fractions are repeated ``repeats`` times with different subsets and their
    probabilities averaged per patient (less subset noise). The slope is the AUROC gained
    per extra 10% of training patients between the last two points.
    """
    y = plan.labels
    points = []
    n_train_full = float(np.mean([len(plan.split(k)[0]) for k in range(plan.n_folds)]))
    for f in fractions:
        reps = 1 if f >= 1.0 else repeats
        prob = pd.concat([out_of_fold(spec, data, plan, seed, profile, fraction=f, repeat=r) for r in range(reps)],
                         axis=1).mean(axis=1)
        yy = y.loc[prob.index].to_numpy(int)
        points.append({"fraction": f, "n_train_patients": round(f * n_train_full, 1), **_with_ci(yy, prob.to_numpy())})
    a, b = points[-2], points[-1]
    slope = (b["auroc"] - a["auroc"]) / ((b["fraction"] - a["fraction"]) * 10)
    rising = slope > 0.01
    return {
        "kind": "learning_curve",
        "summary": (f"{spec.name} (default parameters): AUROC {points[0]['auroc']:.3f} at {fractions[0]:.0%} of the "
                    f"training patients -> {b['auroc']:.3f} at 100%; slope at full size {slope:+.3f} per +10% patients "
                    f"({'still rising' if rising else 'flat'})"),
        "model": spec.name,
        "points": points,
        "slope_per_10pct": round(float(slope), 4),
        "rising": bool(rising),
    }


def ablation(spec, data: ModelData, plan, seed: int, profile: str, groups=FEATURE_GROUPS) -> dict:
    """AUROC of ``spec`` on each feature group alone and on all groups together, same folds."""
    table = data.features
    present = [g for g in groups if table.feature_columns([g])]
    results = {}
    for name, gs in [(g, (g,)) for g in present] + [("all", tuple(present))]:
        view = ModelData(features=GroupView(table, gs), beats=data.beats)
        prob = out_of_fold(spec, view, plan, seed, profile)
        results[name] = {"n_features": len(table.feature_columns(list(gs))),
                         **_with_ci(plan.labels.loc[prob.index].to_numpy(int), prob.to_numpy())}
    alone = {k: v for k, v in results.items() if k != "all"}
    best = max(alone, key=lambda k: alone[k]["auroc"]) if alone else None
    summary = (f"{spec.name} (default parameters): best single group {best} AUROC {alone[best]['auroc']:.3f}; "
               f"all groups {results['all']['auroc']:.3f}; "
               + ", ".join(f"{k} {v['auroc']:.2f}" for k, v in alone.items())) if best else "no feature groups"
    return {"kind": "ablation", "summary": summary, "model": spec.name, "groups": results, "best_group": best}
