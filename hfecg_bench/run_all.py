"""`run all`: after every model has run and been evaluated, the diagnostics, the verdict and the report."""
from __future__ import annotations

import json
import sys
import time
from pathlib import Path

from hfecg_bench.models.base import ModelData


def _beats_for_diagnostics(ctx, models: list[str]):
    """A BeatSet of the run (the deep models' view) for the split-leakage gap, or None."""
    from hfecg_bench.runner import model_data, run_spec

    for name in models:
        spec = run_spec(ctx, name)  # the view this run's [deep] section sets
        if spec.input != "features":
            return model_data(ctx, spec).beats
    return None


def finish_all(ctx, models: list[str], stream=None) -> dict:
    """After the models of a run are evaluated: truth.json (synthetic), diagnostics with the verdict, report.

    Returns the diagnostics dict (with ``verdict``, ``reasons``, ``findings``).
    """
    from hfecg_bench.diagnostics.run import run_diagnostics
    from hfecg_bench.models.registry import get_spec
    from hfecg_bench.report.render import render_report

    stream = stream or sys.stderr
    run_dir = ctx.run_dir
    truth = (ctx.cohort.info or {}).get("truth")
    if truth:
        (run_dir / "truth.json").write_text(json.dumps(truth, indent=1, sort_keys=True))
    import pandas as pd

    metrics = pd.read_csv(run_dir / "metrics.csv")
    families = {m: get_spec(m).family for m in metrics["model"]}
    t = time.monotonic()
    data = ModelData(features=ctx.data.features, beats=_beats_for_diagnostics(ctx, models))
    diag = run_diagnostics(run_dir, data, ctx.plan, seed=ctx.seed, profile=ctx.profile, families=families,
                           log=lambda s: print(s, file=stream, flush=True))
    render_report(run_dir)
    manifest_path = run_dir / "manifest.json"
    manifest = json.loads(manifest_path.read_text())
    manifest.setdefault("timings", {})["diagnostics_and_report_s"] = round(time.monotonic() - t, 3)
    manifest["model_families"] = families
    manifest_path.write_text(json.dumps(manifest, indent=2, default=str))
    return diag


def summary_text(run_dir: Path, diag: dict) -> str:
    """The one-screen summary printed at the end of `run all`."""
    import pandas as pd

    from hfecg_bench.report.leaderboard import build_leaderboard

    lb = build_leaderboard(run_dir)
    lines = [f"{'rank':<5}{'model':<14}{'family':<11}{'AUROC [95% CI]':<23}{'bal.acc':>8}{'train':>8}{'DeLong p':>10}"]
    for i, r in lb.iterrows():
        p = r.get("delong_p")
        ptxt = "best" if pd.notna(p) and p >= 0.99999 else (f"{p:.3f}" if pd.notna(p) else "-")
        lines.append(f"{i + 1:<5}{r['model']:<14}{r['family']:<11}"
                     f"{r['auroc']:.3f} [{r['auroc_lo']:.3f}, {r['auroc_hi']:.3f}]  {r['balanced_accuracy']:>7.3f}"
                     f"{r['train_auroc']:>8.3f}{ptxt:>10}")
    lines += ["", f"verdict: {diag['verdict']}"] + [f"  - {r}" for r in diag.get("reasons", [])]
    lines += ["", f"report: {run_dir / 'leaderboard.md'}"]
    return "\n".join(lines)
