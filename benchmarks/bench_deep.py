"""Does the deep family get a fair chance? Seed-averaged patient AUROC of every model on synthetic presets.

For each preset and seed, one `run` of the quick profile (every model under one patient-wise fold
plan; the deep models with their default view, subset-averaged HF beats) on the preset's default
cohort; the AUROCs are averaged over seeds and checked against the targets of issue 13:

- ``hf_effect`` and ``realistic``: the best deep model within 0.05 AUROC of the best classical model;
- ``averaging_required``: the best deep model (on subset-averaged beats) reaches AUROC 0.80;
- every cohort with a planted effect: no deep model below AUROC 0.45.

Prints one JSON object (per preset: per-model mean/sd AUROC over seeds, per-run seconds, the targets)
and a markdown table. Needs a quiet machine: about 10 minutes per run on 2 cores.

    HFECG_CACHE_DIR=/tmp/cache python benchmarks/bench_deep.py                      # 3 presets x 3 seeds
    HFECG_CACHE_DIR=/tmp/cache python benchmarks/bench_deep.py --jobs 2             # the same AUROCs, sooner
    python benchmarks/bench_deep.py --presets averaging_required --seeds 5 --models dummy,shallow_hf
"""
from __future__ import annotations

import argparse
import io
import json
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

import hfecg_bench as hb
from hfecg_bench.data.synthetic import PRESETS
from hfecg_bench.models.registry import get_spec, resolve_names

TARGETS = {"hf_effect": "gap", "realistic": "gap", "averaging_required": "avg"}
GAP, AVG_FLOOR, DEEP_FLOOR = 0.05, 0.80, 0.45


def one_run(preset: str, seed: int, models, out: Path, n_patients=None, config=None, jobs=None) -> dict:
    """AUROC per model and the run's seconds, for one synthetic cohort (``jobs``: local Dask workers; the
    predictions are the same as serial, only the seconds change)."""
    cohort = hb.generate_cohort(preset=preset, seed=seed, **({"n_patients": n_patients} if n_patients else {}))
    t0 = time.monotonic()
    result = hb.run(cohort, models=models, out=out, seed=seed, config=config, stream=io.StringIO(), jobs=jobs)
    seconds = time.monotonic() - t0
    manifest = json.loads((result.run_dir / "manifest.json").read_text())
    lb = result.leaderboard.set_index("model")
    return {"preset": preset, "seed": seed, "n_patients": len(result.plan.labels), "seconds": round(seconds, 1),
            "jobs": jobs or 1,
            "model_seconds": manifest.get("timings", {}).get("models_s", {}),
            "auroc": {m: round(float(v), 4) for m, v in lb["auroc"].items()},
            "input": {m: str(v) for m, v in lb["input"].items()}}


def summarise(runs: list[dict]) -> dict:
    """Per preset: mean and sd AUROC per model over seeds, family bests and the targets."""
    out = {}
    for preset in dict.fromkeys(r["preset"] for r in runs):
        rs = [r for r in runs if r["preset"] == preset]
        frame = pd.DataFrame([r["auroc"] for r in rs])
        mean, sd = frame.mean(), frame.std(ddof=1) if len(rs) > 1 else frame.mean() * np.nan
        fam = {m: get_spec(m).family for m in frame.columns}
        best = {f: mean[[m for m in frame.columns if fam[m] == f]].idxmax()
                for f in set(fam.values()) - {"baseline"}}
        deep = mean[[m for m in frame.columns if fam[m] == "deep"]]
        classical = mean[[m for m in frame.columns if fam[m] == "classical"]]
        checks = {}
        if len(deep) and PRESETS.get(preset, {}).get("effect", 0) > 0:
            checks[f"no deep model below {DEEP_FLOOR}"] = bool(deep.min() >= DEEP_FLOOR)
        if TARGETS.get(preset) == "gap" and len(deep) and len(classical):
            checks[f"best deep within {GAP} of best classical"] = bool(deep.max() >= classical.max() - GAP)
        if TARGETS.get(preset) == "avg" and len(deep):
            checks[f"best deep >= {AVG_FLOOR}"] = bool(deep.max() >= AVG_FLOOR)
        out[preset] = {"seeds": [r["seed"] for r in rs], "n_patients": rs[0]["n_patients"],
                       "auroc_mean": mean.round(3).to_dict(), "auroc_sd": sd.round(3).to_dict(),
                       "best_by_family": {f: {"model": m, "auroc": round(float(mean[m]), 3)} for f, m in best.items()},
                       "run_seconds": [r["seconds"] for r in rs], "jobs": rs[0].get("jobs", 1),
                       "model_seconds_mean": pd.DataFrame([r["model_seconds"] for r in rs]).mean().round(1).to_dict(),
                       "input": rs[0]["input"], "targets": checks}
    return out


def markdown(summary: dict) -> str:
    """One row per model, one column per preset: mean AUROC (sd over seeds)."""
    models = list(dict.fromkeys(m for s in summary.values() for m in s["auroc_mean"]))
    head = "| model | family | " + " | ".join(f"{p} (n={s['n_patients']}, seeds {','.join(map(str, s['seeds']))})"
                                               for p, s in summary.items()) + " |"
    rows = [head, "|" + "---|" * (len(summary) + 2)]
    for m in models:
        cells = []
        for s in summary.values():
            mu, sd = s["auroc_mean"].get(m), s["auroc_sd"].get(m)
            cells.append("–" if mu is None else f"{mu:.3f}" + ("" if sd is None or sd != sd else f" ({sd:.3f})"))
        rows.append(f"| {m} | {get_spec(m).family} | " + " | ".join(cells) + " |")
    rows.append("| **targets** | | " + " | ".join(
        ", ".join(f"{k}: {'PASS' if v else 'FAIL'}" for k, v in s["targets"].items()) or "–"
        for s in summary.values()) + " |")
    rows.append(f"| run seconds (--jobs {next(iter(summary.values()), {}).get('jobs', 1)}) | | " + " | ".join(", ".join(f"{x:.0f}" for x in s["run_seconds"])
                                                 for s in summary.values()) + " |")
    return "\n".join(rows)


def main(argv=None) -> dict:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--presets", default="hf_effect,realistic,averaging_required")
    ap.add_argument("--seeds", default="0,1,2", help="comma-separated run and cohort seeds (>= 3 for the targets)")
    ap.add_argument("--models", default="all")
    ap.add_argument("--n-patients", type=int, help="override the presets' cohort sizes (a quick look)")
    ap.add_argument("--config", type=Path, help="TOML run config (e.g. a [deep] section) for every run")
    ap.add_argument("--out", type=Path, help="keep the run directories here (default: a temporary folder)")
    ap.add_argument("--jobs", type=int, help="local Dask worker processes per run (same AUROCs, other seconds)")
    args = ap.parse_args(argv)
    models = resolve_names(args.models)
    base = args.out or Path(tempfile.mkdtemp(prefix="bench-deep-"))
    runs = []
    for preset in [p.strip() for p in args.presets.split(",") if p.strip()]:
        if preset not in PRESETS:
            print(f"preset {preset} is not in this version's generator ({', '.join(PRESETS)}): skipped",
                  file=sys.stderr)
            continue
        for seed in [int(s) for s in args.seeds.split(",")]:
            run = one_run(preset, seed, models, base / f"{preset}-seed{seed}", args.n_patients, args.config, args.jobs)
            print(json.dumps(run), file=sys.stderr, flush=True)
            runs.append(run)
    summary = summarise(runs)
    print(json.dumps({"runs": runs, "summary": summary}))
    print(markdown(summary))
    return summary


if __name__ == "__main__":
    main()
