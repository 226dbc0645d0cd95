"""`run MODELS`: the whole benchmark on one cohort, a thin shell over :func:`hfecg_bench.pipeline.run.run`."""
from __future__ import annotations

import argparse
import shlex
import sys
import time
from dataclasses import replace
from pathlib import Path

import pandas as pd

from hfecg_bench.commands.common import add_dataset_args, cohort_from_args
from hfecg_bench.config import load_run_config
from hfecg_bench.models.registry import resolve_names
from hfecg_bench.pipeline.executor import check_parallel_args
from hfecg_bench.pipeline.run import RunResult, run
from hfecg_bench.pipeline.state import default_out


def register(sub) -> None:
    p = sub.add_parser(
        "run", help="benchmark models under identical patient-wise folds (nested Optuna tuning, bootstrap CIs)",
        description="Extract features, draw one patient-wise stratified fold plan (folds.csv), tune every model with "
                    "Optuna on inner patient-wise folds of each outer training set, score the out-of-fold "
                    "patient-level predictions with 95%% patient-bootstrap CIs and DeLong's test against the best "
                    "model, and, with two or more models besides the dummy baseline, run the diagnostics and give "
                    "the verdict. Rerunning the same command with the same --out resumes an interrupted run.",
        epilog="Outputs in the run directory: folds.csv, predictions.csv, train_scores.csv, metrics.csv, "
               "report.html, leaderboard.md, leaderboard.csv, diagnostics.json, figures/, features.parquet, "
               "fold_predictions/, hf_view.npz, recording_properties.csv, studies.db, manifest.json.")
    p.add_argument("models", nargs="?", default="all", metavar="MODELS",
                   help="comma-separated model names (rf, svm, xgb, logreg, dummy, cnn, leadwise_cnn, tcn, lstm, "
                        "shallow_hf, rocket) or a group: classical, deep, ts, all (default: all)")
    add_dataset_args(p, default_dataset="synthetic")
    p.add_argument("--profile", choices=["quick", "full"], default="quick",
                   help="quick: 8 trials x 3 inner folds per outer fold, 1000 resamples (default); "
                        "full: 50 trials x 5 inner folds, 2000 resamples")
    p.add_argument("--seed", type=int, default=0, help="run seed; every fold, tuning, model and bootstrap seed "
                                                       "derives from it (default 0)")
    p.add_argument("--out", type=Path, help="run directory (default reports/<dataset>-<YYYYmmdd-HHMMSS>/); "
                                            "an existing run directory is resumed")
    p.add_argument("--folds", default=None, help="outer folds: an integer >= 2 (default 5, capped so each fold "
                                                 "holds both classes) or 'loo' (leave one patient out)")
    p.add_argument("--trials", type=int, help="Optuna trials per model and outer fold (overrides the profile; "
                                              "0 = each model's default parameters)")
    p.add_argument("--inner-folds", type=int, help="inner tuning folds (overrides the profile)")
    p.add_argument("--bootstrap", type=int, help="bootstrap resamples for the CIs (overrides the profile)")
    p.add_argument("--config", type=Path, metavar="FILE.toml",
                   help="TOML file overriding the profile's settings by section: [beats], [features] (e.g. hf_band, "
                        "hf_order), [evaluation], [deep] (e.g. view = \"beats_wideband\", hf_crop_ms, max_epochs); "
                        "unknown sections or fields are an error; the resolved settings go into manifest.json")
    g = p.add_argument_group("scaling out (Dask; same predictions as a serial run)")
    g.add_argument("--jobs", type=int, metavar="N",
                   help="run the (model, fold) units on a local Dask cluster of N worker processes started for this "
                        "run (default 1: one after another in this process)")
    g.add_argument("--scheduler", metavar="tcp://HOST:PORT",
                   help="run the units on an existing Dask cluster (`dask scheduler`, `dask worker ADDRESS`); the "
                        "workers need hfecg_bench installed, not the run directory")
    p.set_defaults(handler=run_command)


def run_command(args: argparse.Namespace) -> int:
    t0 = time.monotonic()
    names = resolve_names(args.models)  # a typo fails before any data is read
    check_parallel_args(args.jobs, args.scheduler)
    run_config = load_run_config(args.profile, args.config)
    over = {k: v for k, v in (("n_inner_folds", args.inner_folds), ("n_bootstrap", args.bootstrap)) if v is not None}
    run_config.evaluation = replace(run_config.evaluation, **over).validate()
    out = args.out or default_out(args.dataset)
    if args.out is None:
        print(f"run directory: {out}", file=sys.stderr)
    cohort = cohort_from_args(args, seed=args.seed)
    result = run(cohort, models=names, out=out, profile=args.profile, seed=args.seed, folds=args.folds,
                 trials=args.trials, config=run_config, jobs=args.jobs, scheduler=args.scheduler,
                 command="python -m hfecg_bench " + shlex.join(str(a) for a in args.argv))
    print(summary_text(result))
    print(f"\n{len(result.leaderboard)} model(s), {result.plan.labels.size} patients, {result.plan.n_folds} folds; "
          f"results in {result.run_dir} ({time.monotonic() - t0:.0f} s)")
    return 0


def summary_text(result: RunResult) -> str:
    """The one-screen summary printed at the end of a run: the leaderboard, then the verdict."""
    lines = [f"{'rank':<5}{'model':<14}{'family':<11}{'AUROC [95% CI]':<23}{'bal.acc':>8}{'train':>8}"
             f"{'DeLong p':>10}{'time':>8}"]
    for i, r in result.leaderboard.iterrows():
        p = r["delong_p"]
        p_text = "best" if pd.notna(p) and p >= 0.99999 else (f"{p:.3f}" if pd.notna(p) else "-")
        lines.append(f"{i + 1:<5}{r['model']:<14}{r['family']:<11}"
                     f"{r['auroc']:.3f} [{r['auroc_lo']:.3f}, {r['auroc_hi']:.3f}]  {r['balanced_accuracy']:>7.3f}"
                     f"{r['train_auroc']:>8.3f}{p_text:>10}{r['fit_seconds']:>7.0f}s")
    if result.verdict:
        lines += ["", f"verdict: {result.verdict}"] + [f"  - {r}" for r in result.diagnostics.get("reasons", [])]
    else:
        lines += ["", "verdict: not computed (it compares two or more models besides the dummy baseline)"]
    lines += ["", f"report: {result.run_dir / 'report.html'} (text: leaderboard.md)"]
    return "\n".join(lines)
