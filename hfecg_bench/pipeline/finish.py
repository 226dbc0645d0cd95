"""After the models are evaluated: the planted answer (synthetic cohorts), the recording properties, the
diagnostics with the verdict and its causes, and the report, for every run of two or more models besides
the dummy baseline. :func:`diagnose_run_dir` recomputes the diagnostics from a run directory's files alone.
"""
from __future__ import annotations

import json
import time
from pathlib import Path

import pandas as pd

from hfecg_bench.data.properties import recording_properties
from hfecg_bench.diagnostics.run import run_diagnostics
from hfecg_bench.errors import HfecgError
from hfecg_bench.evaluation.folds import FoldPlan
from hfecg_bench.features import FeatureTable
from hfecg_bench.io import read_json, write_csv, write_json
from hfecg_bench.models.base import ModelData
from hfecg_bench.models.registry import get_spec
from hfecg_bench.pipeline.state import (DIAGNOSTICS_FILE, FEATURES_FILE, FOLDS_FILE, MANIFEST_FILE, METRICS_FILE,
                                        PREDICTIONS_FILE, RunDirectory)
from hfecg_bench.report.leaderboard import build_leaderboard
from hfecg_bench.report.hfview import write_run_hf_view
from hfecg_bench.report.render import render_report

#: Fewest models besides the baseline for the diagnostics to compare anything.
MIN_DIAGNOSED_MODELS = 2
PROPERTIES_FILE = "recording_properties.csv"


def leaderboard(run_dir: RunDirectory) -> pd.DataFrame:
    """The run's leaderboard (metrics with family and input), best AUROC first."""
    return build_leaderboard(run_dir.path)


def save_properties(run_dir: RunDirectory, cohort, patients) -> pd.DataFrame | None:
    """Measure the recording properties of the run's patients once and save them (``diagnose`` reloads them).

    None for a cohort without records (features given precomputed): the confound check is then skipped,
    and the verdict says so.
    """
    path = run_dir.file(PROPERTIES_FILE)
    if path.exists():
        props = pd.read_csv(path, dtype={"patient_id": str}).set_index("patient_id")
    elif not list(getattr(cohort, "records", []) or []):
        return None
    else:
        props = recording_properties(cohort)
        write_csv(path, props.reset_index())
    return props.reindex(sorted(map(str, patients)))


def diagnose_and_report(run_dir: RunDirectory, inputs, plan, metrics: pd.DataFrame, *, seed: int, profile: str,
                        stream=None, executor=None) -> dict:
    """Write ``truth.json`` (synthetic), ``diagnostics.json`` (2+ non-baseline models) and the report.

    Returns the diagnostics dict (``verdict``, ``reasons``, ``causes``, ``findings``), or {} when the run has
    fewer than :data:`MIN_DIAGNOSED_MODELS` models besides the baseline.
    """
    t0 = time.monotonic()
    truth = (inputs.cohort.info or {}).get("truth")
    if truth:
        write_json(run_dir.file("truth.json"), truth, sort_keys=True)
    write_run_hf_view(run_dir.path, inputs.cohort, inputs.run_config, plan.labels)  # the report's HF-QRS view
    families = {m: get_spec(m).family for m in metrics["model"]}
    competing = [m for m, f in families.items() if f != "baseline"]
    diagnostics: dict = {}
    if len(competing) >= MIN_DIAGNOSED_MODELS:
        views = [get_spec(m).configure(inputs.run_config).input for m in metrics["model"]]
        data = ModelData(features=inputs.features, beats=inputs.first_beats(views))
        properties = save_properties(run_dir, inputs.cohort, plan.labels.index)
        diagnostics = run_diagnostics(run_dir.path, data, plan, seed=seed, profile=profile, families=families,
                                      hf_band=inputs.run_config.features.hf_band, properties=properties,
                                      executor=executor, log=lambda s: print(s, file=stream, flush=True))
    else:
        print(f"diagnostics: not run ({len(competing)} model(s) besides the baseline; the verdict compares "
              f"{MIN_DIAGNOSED_MODELS} or more)", file=stream, flush=True)
        stale = run_dir.file(DIAGNOSTICS_FILE)
        if stale.exists():  # from an earlier invocation with more models: no longer describes these metrics
            stale.unlink()
    render_report(run_dir.path)
    run_dir.update_manifest(model_families=families,
                            timings={"diagnostics_and_report_s": round(time.monotonic() - t0, 3)})
    return diagnostics


def diagnose_run_dir(path, *, stream=None) -> dict:
    """Recompute the diagnostics, the verdict and the report of a finished run from its files, without refitting
    the tuned models (the learning curve and ablation refit at default parameters, as in the run).

    Needs ``predictions.csv``, ``metrics.csv``, ``folds.csv``, ``features.parquet`` and ``manifest.json``;
    ``recording_properties.csv`` when the run saved it. Findings that need beat windows (split leakage) are
    carried over from the previous ``diagnostics.json``.

    Raises
    ------
    HfecgError
        When ``path`` is not a finished run directory (naming the missing file).
    """
    path = Path(path)
    if not path.is_dir():
        raise HfecgError(f"{path} is not a run directory")
    for need in (PREDICTIONS_FILE, METRICS_FILE, FOLDS_FILE, FEATURES_FILE, MANIFEST_FILE):
        if not (path / need).exists():
            raise HfecgError(f"{path} is not a finished run: {need} is missing")
    manifest = read_json(path / MANIFEST_FILE, {})
    metrics = pd.read_csv(path / METRICS_FILE)
    families = {m: (manifest.get("model_info", {}).get(m, {}).get("family") or get_spec(m).family)
                for m in metrics["model"]}
    if len([m for m, f in families.items() if f != "baseline"]) < MIN_DIAGNOSED_MODELS:
        raise HfecgError(f"{path} has fewer than {MIN_DIAGNOSED_MODELS} models besides the baseline: "
                         "there is nothing for a verdict to compare")
    frame = pd.read_parquet(path / FEATURES_FILE)
    frame["patient_id"] = frame["patient_id"].astype(str)
    pred = pd.read_csv(path / PREDICTIONS_FILE, dtype={"patient_id": str})
    labels = pred.drop_duplicates("patient_id").set_index("patient_id")["label"].astype(int).sort_index()
    folds = pd.read_csv(path / FOLDS_FILE, dtype={"patient_id": str}).set_index("patient_id")["fold"].sort_index()
    plan = FoldPlan(folds=folds.loc[labels.index], labels=labels)
    props_path = path / PROPERTIES_FILE
    properties = (pd.read_csv(props_path, dtype={"patient_id": str}).set_index("patient_id").reindex(labels.index)
                  if props_path.exists() else None)
    previous = read_json(path / DIAGNOSTICS_FILE, {})
    hf_band = tuple((manifest.get("config") or {}).get("features", {}).get("hf_band", (150.0, 250.0)))
    out = run_diagnostics(path, ModelData(features=FeatureTable(frame=frame)), plan, seed=int(manifest.get("seed", 0)),
                          profile=str(manifest.get("profile", "quick")), families=families, hf_band=hf_band,
                          properties=properties, previous=previous, log=lambda s: print(s, file=stream, flush=True))
    render_report(path)
    return out


__all__ = ["MIN_DIAGNOSED_MODELS", "PROPERTIES_FILE", "diagnose_and_report", "diagnose_run_dir", "leaderboard"]
