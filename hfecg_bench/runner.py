"""Orchestration of a run: cohort -> features -> fold plan -> per-model nested CV -> predictions -> metrics.

Three calls, each usable on its own::

    ctx = prepare_run(cohort, out="reports/x", profile="quick", seed=3)   # features, folds.csv, manifest
    run_models(ctx, ["rf", "dummy"])                                      # fold_predictions/, predictions.csv
    metrics = evaluate_run(ctx.run_dir)                                   # metrics.csv from the saved files

Every model is used only through :class:`~hfecg_bench.models.base.ModelSpec`. A finished
(model, fold) is saved under ``fold_predictions/`` and never refitted; tuning studies
live in ``studies.db``; so the same command on the same run directory resumes.
"""
from __future__ import annotations

import dataclasses
import json
import platform
import sys
import time
import warnings
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

import numpy as np
import pandas as pd

from hfecg_bench.errors import HfecgError, HfecgWarning
from hfecg_bench.evaluation.bootstrap import bootstrap_ci, draw_resamples
from hfecg_bench.evaluation.config import EvalConfig
from hfecg_bench.evaluation.delong import delong_test
from hfecg_bench.evaluation.folds import FoldPlan, assert_disjoint, fold_plan_for_run
from hfecg_bench.evaluation.metrics import METRICS, patient_metrics, safe_auroc, youden_threshold
from hfecg_bench.evaluation.seeds import derive_seed
from hfecg_bench.models.base import ModelData

FEATURES_FILE = "features.parquet"
STATE_FILE = "run_state.json"
STUDIES_DB = "studies.db"
FOLD_DIR = "fold_predictions"
PRED_COLUMNS = ["model", "patient_id", "fold", "label", "prob", "threshold"]


class LoadedFeatures:
    """A feature table read back from a run directory (``.frame``, ``.excluded``, ``.feature_columns()``)."""

    META = ("record_id", "patient_id", "label")

    def __init__(self, frame: pd.DataFrame, excluded=()):
        self.frame, self.excluded = frame, list(excluded)

    def feature_columns(self, groups=None) -> list[str]:
        cols = [c for c in self.frame.columns if c not in self.META]
        if groups is not None:
            groups = set(groups)
            cols = [c for c in cols if len(c.split("__")) > 1 and c.split("__")[1] in groups]
        return cols


@dataclass
class RunContext:
    """Everything :func:`run_models` needs; built by :func:`prepare_run`."""

    run_dir: Path
    cohort: object
    profile: str
    seed: int
    config: EvalConfig
    data: ModelData
    run_config: object  # hfecg_bench.config.RunConfig: features, beats, evaluation and deep sections
    plan: FoldPlan
    labels: pd.Series
    resuming: bool = False
    manifest: dict = field(default_factory=dict)
    stream: object = None
    warned: set = field(default_factory=set)
    beatsets: dict = field(default_factory=dict)

    def say(self, text: str) -> None:
        print(text, file=self.stream or sys.stderr, flush=True)


def default_out(dataset: str) -> Path:
    return Path("reports") / f"{dataset}-{datetime.now().strftime('%Y%m%d-%H%M%S')}"


def _write_json(path: Path, obj) -> None:
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(json.dumps(obj, indent=2, default=_json_default))
    tmp.replace(path)


def _json_default(o):
    if isinstance(o, (np.integer,)):
        return int(o)
    if isinstance(o, (np.floating,)):
        return float(o)
    if isinstance(o, np.ndarray):
        return o.tolist()
    if isinstance(o, Path):
        return str(o)
    return str(o)


def _write_csv(path: Path, df: pd.DataFrame) -> None:
    tmp = path.with_name(path.name + ".tmp")
    df.to_csv(tmp, index=False, float_format="%.10g")
    tmp.replace(path)


def package_versions() -> dict:
    import importlib.metadata as md

    out = {"python": platform.python_version()}
    for name in ("hfecg_bench", "numpy", "scipy", "pandas", "scikit-learn", "xgboost", "optuna", "neurokit2",
                 "PyWavelets", "tensorflow", "pyarrow"):
        try:
            out[name] = md.version(name)
        except md.PackageNotFoundError:
            out[name] = None
    return out


# ----------------------------------------------------------------------------- features

def _run_config(profile: str, run_config=None):
    """The run's :class:`~hfecg_bench.config.RunConfig`: the one given (from ``--config``) or the profile's."""
    if run_config is not None:
        if run_config.profile != profile:
            raise HfecgError(f"run config is for profile {run_config.profile!r} but the run asks for {profile!r}")
        return run_config
    from hfecg_bench.config import RunConfig

    return RunConfig.for_profile(profile)


#: Settings a resumed run must share with the stored one, and those short enough to print when they differ.
RESUME_KEYS = ("seed", "profile", "fingerprint", "config", "feature_config", "beat_config", "deep_config")
SHOWN_KEYS = ("seed", "profile", "fingerprint")


def _config_dict(cfg) -> dict | None:
    """A configuration as plain JSON types (tuples as lists), so that it compares equal to its stored copy."""
    if cfg is None:
        return None
    return json.loads(json.dumps(cfg.as_dict() if hasattr(cfg, "as_dict") else {"repr": repr(cfg)}, default=str))


def _extract_features(cohort, fcfg, bcfg, stream):
    try:
        from hfecg_bench.features import extract_features
    except ImportError as exc:
        raise HfecgError(f"the feature extractor (hfecg_bench.features) is not available: {exc}") from None
    from hfecg_bench.commands.common import Progress

    progress = Progress("features", stream=stream)
    table = extract_features(cohort, config=fcfg, beat_config=bcfg, cache_dir=None, progress=progress)
    progress.done(f"{len(table.frame)} records x {len(table.feature_columns())} features")
    return table


def _save_features(table, run_dir: Path) -> str:
    frame = table.frame
    try:
        tmp = run_dir / (FEATURES_FILE + ".tmp")
        frame.to_parquet(tmp, index=False)
        tmp.replace(run_dir / FEATURES_FILE)
        return FEATURES_FILE
    except (ImportError, ValueError):
        _write_csv(run_dir / "features.csv", frame)
        return "features.csv"


def _load_saved_features(run_dir: Path, excluded: list[dict], fcfg, bcfg):
    """The table saved by an earlier invocation (a FeatureTable when that class is importable)."""
    if (run_dir / FEATURES_FILE).exists():
        frame = pd.read_parquet(run_dir / FEATURES_FILE)
    elif (run_dir / "features.csv").exists():
        frame = pd.read_csv(run_dir / "features.csv", dtype={"record_id": str, "patient_id": str})
    else:
        return None
    frame["patient_id"] = frame["patient_id"].astype(str)
    from hfecg_bench.cohort import Excluded

    excl = [Excluded(str(e.get("record")), str(e.get("reason"))) for e in excluded]
    try:
        from hfecg_bench.features import FeatureTable

        return FeatureTable(frame=frame, excluded=excl, config=fcfg, beat_config=bcfg, info={"reloaded": True})
    except (ImportError, TypeError):
        return LoadedFeatures(frame, excl)


def _excluded_list(table) -> list[dict]:
    out = []
    for e in getattr(table, "excluded", []) or []:
        out.append(e.as_dict() if hasattr(e, "as_dict") else {"record": str(getattr(e, "record", e)),
                                                              "reason": str(getattr(e, "reason", ""))})
    return out


VIEW_BANDS = {"beats_wideband": "wideband", "beats_hf": "hf"}
#: How each model input is described on the leaderboard.
VIEW_LABELS = {"features": "features", "beats_wideband": "beats wideband", "beats_hf": "beats 150-250 Hz"}


def _build_beats(cohort, beat_config, view: str, stream):
    """The BeatSet of one view (``beats_wideband`` / ``beats_hf``) that deep models read as ``ModelData.beats``."""
    if view not in VIEW_BANDS:
        raise HfecgError(f"unknown model input view {view!r}; known: features, {', '.join(VIEW_BANDS)}")
    try:
        from hfecg_bench.beats import extract_beatset
    except ImportError as exc:
        raise HfecgError(f"beats for the deep models cannot be built (hfecg_bench.beats: {exc})") from None
    from hfecg_bench.commands.common import Progress

    progress = Progress(f"beats ({VIEW_BANDS[view]})", stream=stream)
    beats = extract_beatset(cohort, beat_config, band=VIEW_BANDS[view], progress=progress)
    progress.done(f"{len(beats.X)} beats")
    return beats


def model_data(ctx: "RunContext", spec) -> ModelData:
    """The ModelData a spec reads: the feature table, plus the BeatSet of its view (built once per view)."""
    view = getattr(spec, "input", "features")
    if view == "features":
        return ctx.data
    if view not in ctx.beatsets:
        t = time.monotonic()
        ctx.beatsets[view] = _build_beats(ctx.cohort, ctx.run_config.beats, view, ctx.stream)
        ctx.manifest.setdefault("timings", {})[f"{view}_s"] = round(time.monotonic() - t, 3)
    return ModelData(features=ctx.data.features, beats=ctx.beatsets[view])


# ----------------------------------------------------------------------------- prepare

def prepare_run(cohort, *, out: Path | None = None, profile: str = "quick", seed: int = 0, folds=None,
                config: EvalConfig | None = None, models: list[str] | None = None, features=None,
                command: list[str] | None = None, stream=None, run_config=None) -> RunContext:
    """Create or reopen the run directory, compute (or reload) features, draw (or reload) the fold plan.

    Parameters
    ----------
    cohort : Cohort
    out : Path, optional
        Run directory (default ``reports/<dataset>-<timestamp>``); reopening one resumes it.
    profile : {"quick", "full"}
    seed : int
        The run seed; every other seed derives from it (see ``manifest.json``).
    folds : int or "loo", optional
        Outer folds (default from the profile config: 5).
    config : EvalConfig, optional
        Overrides the evaluation section of ``run_config``.
    models : list of str, optional
        Names that will run (recorded in the manifest; beats are built per view when a model first needs them).
    features : FeatureTable, optional
        A precomputed table (skips extraction).
    run_config : RunConfig, optional
        Every section (beats, features, evaluation, deep), e.g. from ``load_run_config`` and ``--config``;
        default the profile's. Written to the manifest; a resumed run must have the same.

    Raises
    ------
    HfecgError
        When the run directory holds a run with other settings, or the cohort cannot support the folds.
    """
    stream = stream or sys.stderr
    t0 = time.monotonic()
    run_config = _run_config(profile, run_config)
    config = (config or run_config.evaluation).with_folds(folds).validate()
    run_dir = Path(out) if out is not None else default_out(getattr(cohort, "dataset", "run"))
    run_dir.mkdir(parents=True, exist_ok=True)
    fingerprint = cohort.fingerprint()
    fcfg, bcfg = run_config.features, run_config.beats
    stored = {"features": _config_dict(fcfg), "beats": _config_dict(bcfg), "deep": _config_dict(run_config.deep)}
    state = {"seed": int(seed), "profile": profile, "fingerprint": fingerprint, "config": config.as_dict(),
             "feature_config": stored["features"], "beat_config": stored["beats"], "deep_config": stored["deep"]}
    state_path = run_dir / STATE_FILE
    resuming = state_path.exists()
    if resuming:
        old = json.loads(state_path.read_text())
        # a resumed run must not mix folds fitted under other settings (e.g. an older deep input crop)
        diff = [k for k in RESUME_KEYS if old.get(k) != state[k]]
        if diff:
            shown = ", ".join(f"{k}: {old.get(k)!r} there vs {state[k]!r} now" if k in SHOWN_KEYS else f"{k} differs"
                              for k in diff)
            raise HfecgError(f"{run_dir} holds a run with other settings ({shown}); use another --out")
        done = sorted(p.stem for p in (run_dir / FOLD_DIR).glob("*.json")) if (run_dir / FOLD_DIR).exists() else []
        print(f"resuming run in {run_dir}: {len(done)} finished model fold(s) kept", file=stream, flush=True)
    else:
        elsewhere = [p.name for p in run_dir.iterdir()] if run_dir.exists() else []
        if "folds.csv" in elsewhere or FOLD_DIR in elsewhere:
            raise HfecgError(f"{run_dir} holds run outputs without {STATE_FILE}; use another --out")
        _write_json(state_path, state)

    timings = {}
    t = time.monotonic()
    if features is None:
        old_manifest = run_dir / "manifest.json"
        excl = json.loads(old_manifest.read_text()).get("feature_exclusions", []) if old_manifest.exists() else []
        features = _load_saved_features(run_dir, excl, fcfg, bcfg) if resuming else None
        if features is not None:
            print(f"features: reloaded {len(features.frame)} records from {run_dir}", file=stream, flush=True)
        else:
            features = _extract_features(cohort, fcfg, bcfg, stream)
            _save_features(features, run_dir)
    elif not any((run_dir / f).exists() for f in (FEATURES_FILE, "features.csv")):
        _save_features(features, run_dir)
    timings["features_s"] = round(time.monotonic() - t, 3)

    all_labels = pd.Series(cohort.patient_labels(), dtype=int)
    all_labels.index = all_labels.index.map(str)
    have = set(features.frame["patient_id"].astype(str))
    missing = sorted(set(all_labels.index) - have)
    if missing:
        warnings.warn(f"{len(missing)} patient(s) have no usable record and are left out of every model: "
                      f"{missing[:10]}{' ...' if len(missing) > 10 else ''}", HfecgWarning, stacklevel=2)
    labels = all_labels.drop(index=missing).sort_index()
    plan, loaded = fold_plan_for_run(run_dir / "folds.csv", labels, config.n_folds, derive_seed(seed, "folds"),
                                     loo=config.loo)

    manifest_path = run_dir / "manifest.json"
    manifest = json.loads(manifest_path.read_text()) if manifest_path.exists() else {}
    manifest.update({
        "command": command if command is not None else sys.argv,
        "created": manifest.get("created", datetime.now().isoformat(timespec="seconds")),
        "profile": profile, "seed": int(seed),
        "config": {"evaluation": config.as_dict(), **stored},
        "seeds": {"run": int(seed), "folds": derive_seed(seed, "folds"),
                  "bootstrap": derive_seed(seed, "bootstrap"),
                  "inner_folds": {str(k): derive_seed(seed, "inner", k) for k in range(plan.n_folds)}},
        "dataset": {"fingerprint": fingerprint, "describe": cohort.describe()},
        "requested_models": list(models or []),
        "patients_without_features": missing,
        "feature_exclusions": _excluded_list(features),
        "n_features": len(features.feature_columns()),
        "fold_plan": {"kind": plan.kind, "n_folds": plan.n_folds, "loaded": loaded},
        "versions": package_versions(),
    })
    manifest.setdefault("timings", {}).update(timings)
    manifest["timings"]["prepare_s"] = round(time.monotonic() - t0, 3)
    _write_json(manifest_path, manifest)
    return RunContext(run_dir=run_dir, cohort=cohort, profile=profile, seed=int(seed), config=config,
                      data=ModelData(features=features), run_config=run_config, plan=plan, labels=labels,
                      resuming=resuming, manifest=manifest, stream=stream)


# ----------------------------------------------------------------------------- models

def _fold_paths(run_dir: Path, model: str, fold: int) -> tuple[Path, Path]:
    d = run_dir / FOLD_DIR
    return d / f"{model}_fold{fold}.csv", d / f"{model}_fold{fold}.json"


def _budget(spec, config: EvalConfig, profile: str) -> tuple[int, int]:
    """(trials, inner folds) for a spec; a spec may override them with ``tuning_budget(profile)``."""
    n_trials, n_inner = config.n_trials, config.n_inner_folds
    if hasattr(spec, "tuning_budget"):
        b = spec.tuning_budget(profile) or {}
        n_trials, n_inner = int(b.get("n_trials", n_trials)), int(b.get("n_inner_folds", n_inner))
    if not getattr(spec, "tunable", True):
        n_trials = 0
    return n_trials, n_inner


def run_fold(ctx: RunContext, spec, fold: int) -> dict:
    """Tune, threshold, refit and predict one model on one outer fold; save and return its summary."""
    from hfecg_bench.tuning import TuneResult, completed_trials, tune

    csv_path, json_path = _fold_paths(ctx.run_dir, spec.name, fold)
    if json_path.exists() and csv_path.exists():
        return json.loads(json_path.read_text())
    t0 = time.monotonic()
    train, test = ctx.plan.split(fold)
    assert_disjoint(train, test, f"{spec.name} outer fold {fold}")
    n_trials, n_inner = _budget(spec, ctx.config, ctx.profile)
    inner_seed = derive_seed(ctx.seed, "inner", fold)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", HfecgWarning)
        splits = ctx.plan.inner_splits(fold, n_inner, inner_seed)
    for w in caught:
        if str(w.message) not in ctx.warned:
            ctx.warned.add(str(w.message))
            warnings.warn(str(w.message), HfecgWarning, stacklevel=2)
    fit_seed = derive_seed(ctx.seed, "fit", spec.name, fold)
    tpe_seed = derive_seed(ctx.seed, "tpe", spec.name, fold)
    db = ctx.run_dir / STUDIES_DB
    name = f"{spec.name}-fold{fold}"
    where = f"{spec.name} fold {fold + 1}/{ctx.plan.n_folds}"
    if n_trials > 0:
        have = completed_trials(db, name)
        if have:
            ctx.say(f"resuming {where}: study {name} has {min(have, n_trials)}/{n_trials} trials")
    data = model_data(ctx, spec)
    if n_trials == 0 and getattr(spec, "threshold_source", "inner") == "validation":
        # Untuned models that hold out training patients for early stopping (deep models) take the
        # threshold from those validation patients: training side only, and no extra inner fits.
        params = spec.default_params(ctx.profile)
        res = spec.fit_predict(data, train, test, params, fit_seed, ctx.profile)
        val = [str(p) for p in res.info.get("val_patients", [])]
        oof = res.train_prob.copy()
        oof.index = oof.index.map(str)
        oof = oof.reindex(val).dropna()
        tuned = TuneResult(params=params, inner_auroc=safe_auroc(ctx.labels.loc[oof.index].to_numpy(), oof.to_numpy()),
                           oof=oof)
    else:
        tuned = tune(spec, data, splits, ctx.labels, n_trials=n_trials, profile=ctx.profile, fit_seed=fit_seed,
                     tpe_seed=tpe_seed, n_startup=ctx.config.n_startup_trials, db_path=db if n_trials > 0 else None,
                     study_name=name, where=where, stream=ctx.stream)
        res = None
    # the threshold comes from out-of-fold predictions of training patients only
    assert_disjoint(tuned.oof.index, test, f"{spec.name} outer fold {fold} threshold")
    threshold = youden_threshold(ctx.labels.loc[tuned.oof.index].to_numpy(), tuned.oof.to_numpy())
    if res is None:
        res = spec.fit_predict(data, train, test, tuned.params, fit_seed, ctx.profile)
    prob = res.test_prob.copy()
    prob.index = prob.index.map(str)
    prob = prob.reindex(test)
    if prob.isna().any():
        raise HfecgError(f"{spec.name} fold {fold}: no prediction for test patients {list(prob.index[prob.isna()])[:5]}")
    train_prob = res.train_prob.copy()
    train_prob.index = train_prob.index.map(str)
    train_prob = train_prob.reindex(train).dropna()
    train_auroc = safe_auroc(ctx.labels.loc[train_prob.index].to_numpy(), train_prob.to_numpy())
    fold_df = pd.DataFrame({"patient_id": test, "fold": fold, "label": ctx.labels.loc[test].to_numpy(),
                            "prob": prob.to_numpy(), "threshold": threshold})
    csv_path.parent.mkdir(parents=True, exist_ok=True)
    info = {}
    for key, val in (res.info or {}).items():
        if isinstance(val, pd.DataFrame):
            _write_csv(csv_path.parent / f"{spec.name}_fold{fold}_curve_{key}.csv", val.reset_index())
        else:
            info[key] = val
    seconds = time.monotonic() - t0
    summary = {"model": spec.name, "family": getattr(spec, "family", ""), "fold": fold, "params": tuned.params,
               "inner_auroc": tuned.inner_auroc, "threshold": threshold, "train_auroc": train_auroc,
               "n_trials": tuned.n_trials, "n_inner_folds": len(splits), "fit_seconds": round(seconds, 3),
               "seeds": {"fit": fit_seed, "tpe": tpe_seed, "inner_folds": inner_seed},
               "n_train": len(train), "n_test": len(test), "info": info}
    _write_csv(csv_path, fold_df)
    _write_json(json_path, summary)  # written last: marks the fold as finished
    test_auc = safe_auroc(fold_df["label"], fold_df["prob"])
    ctx.say(f"{where}: inner AUROC {tuned.inner_auroc:.3f} ({tuned.n_trials} trials), "
            f"fold AUROC {test_auc:.3f}, train AUROC {train_auroc:.3f} ({seconds:.1f} s)")
    return summary


def run_spec(ctx: RunContext, name: str):
    """The spec of model ``name`` as this run configures it (deep models: the run's ``[deep]`` section)."""
    from hfecg_bench.models.registry import get_spec

    spec = get_spec(name)
    if getattr(spec, "family", "") == "deep":
        spec = spec.with_config(**dataclasses.asdict(ctx.run_config.deep))
    return spec


def run_models(ctx: RunContext, names: list[str]) -> pd.DataFrame:
    """Run every named model over every outer fold (finished folds are reloaded) and write
    ``predictions.csv`` and ``train_scores.csv`` for every model of the run directory with all folds done."""
    specs = [run_spec(ctx, n) for n in names]
    timings = ctx.manifest.setdefault("timings", {}).setdefault("models_s", {})
    for spec in specs:
        t0 = time.monotonic()
        done = [f for f in range(ctx.plan.n_folds) if all(p.exists() for p in _fold_paths(ctx.run_dir, spec.name, f))]
        if len(done) == ctx.plan.n_folds:
            ctx.say(f"{spec.name}: all {ctx.plan.n_folds} folds already finished in {ctx.run_dir}, not refitted")
        elif done:
            ctx.say(f"{spec.name}: folds {[f + 1 for f in done]} already finished, not refitted")
        for fold in range(ctx.plan.n_folds):
            run_fold(ctx, spec, fold)
        timings[spec.name] = round(timings.get(spec.name, 0) + time.monotonic() - t0, 3)
        # what the leaderboard shows as family / input: the view actually fitted, not a guess at render time
        ctx.manifest.setdefault("model_info", {})[spec.name] = {"family": spec.family, "input": getattr(
            spec, "input_label", None) or VIEW_LABELS.get(spec.input, spec.input)}
        ctx.manifest.setdefault("seeds", {}).setdefault("models", {})[spec.name] = {
            str(f): {"fit": derive_seed(ctx.seed, "fit", spec.name, f), "tpe": derive_seed(ctx.seed, "tpe", spec.name, f)}
            for f in range(ctx.plan.n_folds)}
    ctx.manifest["models"] = list(dict.fromkeys(list(ctx.manifest.get("models", [])) + [s.name for s in specs]))
    _write_json(ctx.run_dir / "manifest.json", ctx.manifest)
    return collect_predictions(ctx.run_dir, ctx.manifest["models"], ctx.plan.n_folds)


def collect_predictions(run_dir: Path, models: list[str], n_folds: int) -> pd.DataFrame:
    """Assemble ``predictions.csv`` and ``train_scores.csv`` from the per-fold files of ``models``."""
    run_dir = Path(run_dir)
    preds, scores = [], []
    for m in models:
        paths = [_fold_paths(run_dir, m, f) for f in range(n_folds)]
        if not all(c.exists() and j.exists() for c, j in paths):
            continue
        for c, j in paths:
            df = pd.read_csv(c, dtype={"patient_id": str})
            df.insert(0, "model", m)
            preds.append(df)
            s = json.loads(j.read_text())
            scores.append({"model": m, "fold": s["fold"], "train_auroc": s["train_auroc"],
                           "inner_auroc": s["inner_auroc"], "threshold": s["threshold"], "n_trials": s["n_trials"],
                           "fit_seconds": s["fit_seconds"]})
    if not preds:
        raise HfecgError(f"no model has finished all folds in {run_dir}")
    pred = pd.concat(preds, ignore_index=True)[PRED_COLUMNS]
    order = {m: i for i, m in enumerate(models)}
    pred = pred.sort_values(["model", "patient_id"], key=lambda s: s.map(order) if s.name == "model" else s)
    _write_csv(run_dir / "predictions.csv", pred.reset_index(drop=True))
    _write_csv(run_dir / "train_scores.csv", pd.DataFrame(scores))
    return pred


# ----------------------------------------------------------------------------- evaluation

def evaluate_run(run_dir: Path, n_bootstrap: int | None = None, stream=None) -> pd.DataFrame:
    """Patient-level metrics with shared-resample bootstrap CIs and DeLong p-values, from saved files only.

    Reads ``predictions.csv``, ``train_scores.csv`` and ``manifest.json``; writes ``metrics.csv``
    (one row per model, sorted by AUROC) and records the evaluation in the manifest.
    """
    run_dir = Path(run_dir)
    t0 = time.monotonic()
    manifest_path = run_dir / "manifest.json"
    manifest = json.loads(manifest_path.read_text()) if manifest_path.exists() else {}
    pred = pd.read_csv(run_dir / "predictions.csv", dtype={"patient_id": str})
    scores = pd.read_csv(run_dir / "train_scores.csv") if (run_dir / "train_scores.csv").exists() else pd.DataFrame()
    ev = manifest.get("config", {}).get("evaluation", {})
    n_boot = int(n_bootstrap or ev.get("n_bootstrap", 1000))
    level = float(ev.get("ci_level", 0.95))
    seed = manifest.get("seeds", {}).get("bootstrap", derive_seed(int(manifest.get("seed", 0)), "bootstrap"))
    models = list(dict.fromkeys(pred["model"]))
    patients = sorted(set(pred["patient_id"]))
    labels = pred.drop_duplicates("patient_id").set_index("patient_id")["label"].reindex(patients).astype(int)
    shared = draw_resamples(labels.to_numpy(), n_boot, seed)   # one set of resamples for every model
    wide = {}
    rows = []
    for m in models:
        d = pred[pred["model"] == m].set_index("patient_id").reindex(patients)
        if d["prob"].isna().any():
            d = d.dropna(subset=["prob"])
            idx = draw_resamples(d["label"].to_numpy(), n_boot, seed)
        else:
            idx = shared
            wide[m] = d["prob"].to_numpy()
        y, p, thr = d["label"].astype(int).to_numpy(), d["prob"].to_numpy(), d["threshold"].to_numpy()
        row = {"model": m, **patient_metrics(y, p, thr)}
        for k, (lo, hi) in bootstrap_ci(y, p, thr, idx, level).items():
            row[f"{k}_lo"], row[f"{k}_hi"] = lo, hi
        s = scores[scores["model"] == m] if len(scores) else scores
        row["train_auroc"] = float(s["train_auroc"].mean()) if len(s) else float("nan")
        row["inner_auroc"] = float(s["inner_auroc"].mean()) if len(s) else float("nan")
        row["auroc_gap"] = row["train_auroc"] - row["auroc"]
        row["fit_seconds"] = round(float(s["fit_seconds"].sum()), 2) if len(s) else float("nan")
        row["n_trials"] = int(s["n_trials"].sum()) if len(s) else 0
        row["n_folds"] = int(d["fold"].nunique())
        row["n_patients"] = len(d)
        row["n_positive"] = int(y.sum())
        rows.append(row)
    out = pd.DataFrame(rows)
    best = out.loc[out["auroc"].idxmax(), "model"]
    out["best"] = out["model"] == best
    pvals = []
    for m in out["model"]:
        if m == best:
            pvals.append(1.0)
        elif m in wide and best in wide:
            try:
                pvals.append(delong_test(labels.to_numpy(), wide[m], wide[best])[2])
            except HfecgError:
                pvals.append(float("nan"))
        else:
            pvals.append(float("nan"))
    out["delong_p"] = pvals
    first = ["model"]
    for k in METRICS:
        first += [k, f"{k}_lo", f"{k}_hi"]
    first += ["train_auroc", "inner_auroc", "auroc_gap", "delong_p", "best", "fit_seconds", "n_patients", "n_positive",
              "n_folds", "n_trials"]
    out = out[first].sort_values("auroc", ascending=False, kind="mergesort").reset_index(drop=True)
    _write_csv(run_dir / "metrics.csv", out)
    if manifest:
        manifest["evaluation"] = {"n_bootstrap": n_boot, "ci_level": level, "bootstrap_seed": seed,
                                  "stratified": True, "best_model": best, "delong_reference": best}
        manifest.setdefault("timings", {})["evaluation_s"] = round(time.monotonic() - t0, 3)
        _write_json(manifest_path, manifest)
    return out


def format_metrics(m: pd.DataFrame) -> str:
    """The short summary table printed at the end of a run."""
    lines = [f"{'model':<13}{'AUROC [95% CI]':<22}{'AUPRC':>7}{'bal.acc':>9}{'sens':>7}{'spec':>7}"
             f"{'train':>8}{'DeLong p':>10}{'time':>8}"]
    for r in m.itertuples():
        ci = f"{r.auroc:.3f} [{r.auroc_lo:.3f}, {r.auroc_hi:.3f}]"
        lines.append(f"{r.model:<13}{ci:<22}{r.auprc:>7.3f}{r.balanced_accuracy:>9.3f}{r.sensitivity:>7.3f}"
                     f"{r.specificity:>7.3f}{r.train_auroc:>8.3f}{r.delong_p:>10.3g}{r.fit_seconds:>7.0f}s")
    return "\n".join(lines)


def run(cohort, models: list[str], *, out: Path | None = None, profile: str = "quick", seed: int = 0, folds=None,
        config: EvalConfig | None = None, features=None, command=None, stream=None,
        run_config=None) -> tuple[RunContext, pd.DataFrame]:
    """prepare_run + run_models + evaluate_run; returns the context and the metrics table."""
    t0 = time.monotonic()
    ctx = prepare_run(cohort, out=out, profile=profile, seed=seed, folds=folds, config=config, models=models,
                      features=features, command=command, stream=stream, run_config=run_config)
    run_models(ctx, models)
    metrics = evaluate_run(ctx.run_dir)
    manifest = json.loads((ctx.run_dir / "manifest.json").read_text())
    manifest.setdefault("timings", {})["total_s_last_invocation"] = round(time.monotonic() - t0, 3)
    _write_json(ctx.run_dir / "manifest.json", manifest)
    return ctx, metrics
