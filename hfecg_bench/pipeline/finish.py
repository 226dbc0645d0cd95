"""After the models are evaluated: the planted answer (synthetic cohorts), the diagnostics with the verdict,
and the report, for every run of two or more models besides the dummy baseline."""
from __future__ import annotations

import time

import pandas as pd

from hfecg_bench.diagnostics.run import run_diagnostics
from hfecg_bench.io import write_json
from hfecg_bench.models.base import ModelData
from hfecg_bench.models.registry import get_spec
from hfecg_bench.pipeline.state import RunDirectory
from hfecg_bench.report.leaderboard import build_leaderboard
from hfecg_bench.report.render import render_report

#: Fewest models besides the baseline for the diagnostics to compare anything.
MIN_DIAGNOSED_MODELS = 2


def leaderboard(run_dir: RunDirectory) -> pd.DataFrame:
    """The run's leaderboard (metrics with family and input), best AUROC first."""
    return build_leaderboard(run_dir.path)


def diagnose_and_report(run_dir: RunDirectory, inputs, plan, metrics: pd.DataFrame, *, seed: int, profile: str,
                        stream=None) -> dict:
    """Write ``truth.json`` (synthetic), ``diagnostics.json`` (2+ non-baseline models) and the report.

    Returns the diagnostics dict (``verdict``, ``reasons``, ``findings``), or {} when the run has fewer than
    :data:`MIN_DIAGNOSED_MODELS` models besides the baseline.
    """
    t0 = time.monotonic()
    truth = (inputs.cohort.info or {}).get("truth")
    if truth:
        write_json(run_dir.file("truth.json"), truth, sort_keys=True)
    families = {m: get_spec(m).family for m in metrics["model"]}
    competing = [m for m, f in families.items() if f != "baseline"]
    diagnostics: dict = {}
    if len(competing) >= MIN_DIAGNOSED_MODELS:
        views = [get_spec(m).configure(inputs.run_config).input for m in metrics["model"]]
        data = ModelData(features=inputs.features, beats=inputs.first_beats(views))
        diagnostics = run_diagnostics(run_dir.path, data, plan, seed=seed, profile=profile, families=families,
                                      hf_band=inputs.run_config.features.hf_band,
                                      log=lambda s: print(s, file=stream, flush=True))
    else:
        print(f"diagnostics: not run ({len(competing)} model(s) besides the baseline; the verdict compares "
              f"{MIN_DIAGNOSED_MODELS} or more)", file=stream, flush=True)
        stale = run_dir.file("diagnostics.json")
        if stale.exists():  # from an earlier invocation with more models: no longer describes these metrics
            stale.unlink()
    render_report(run_dir.path)
    run_dir.update_manifest(model_families=families,
                            timings={"diagnostics_and_report_s": round(time.monotonic() - t0, 3)})
    return diagnostics
