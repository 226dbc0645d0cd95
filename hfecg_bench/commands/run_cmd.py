"""`run MODELS`: nested patient-wise cross-validation of models on one cohort, with patient-level CIs."""
from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

from hfecg_bench.commands.common import add_dataset_args, cohort_from_args


def register(sub) -> None:
    p = sub.add_parser(
        "run", help="benchmark models under identical patient-wise folds (nested Optuna tuning, bootstrap CIs)",
        description="Extract features, draw one patient-wise stratified fold plan (folds.csv), tune every model with "
                    "Optuna on inner patient-wise folds of each outer training set, and score the out-of-fold "
                    "patient-level predictions with 95%% patient-bootstrap CIs and DeLong's test against the best "
                    "model. Rerunning the same command with the same --out resumes an interrupted run.",
        epilog="Outputs in the run directory: folds.csv, predictions.csv, train_scores.csv, metrics.csv, "
               "features.parquet, fold_predictions/, studies.db, manifest.json.")
    p.add_argument("models", nargs="?", default="all", metavar="MODELS",
                   help="comma-separated model names (rf, svm, xgb, logreg, dummy, cnn, leadwise_cnn, tcn, lstm) or "
                        "a group: classical, deep, all (default: all available)")
    add_dataset_args(p, default_dataset="synthetic")
    p.add_argument("--profile", choices=["quick", "full"], default="quick",
                   help="quick: 8 trials x 3 inner folds per outer fold, 1000 resamples (default); "
                        "full: 50 trials x 5 inner folds, 2000 resamples")
    p.add_argument("--seed", type=int, default=0, help="run seed; every fold, tuning, model and bootstrap seed "
                                                       "derives from it (default 0)")
    p.add_argument("--out", type=Path, help="run directory (default reports/<dataset>-<YYYYmmdd-HHMMSS>/); "
                                            "an existing one is resumed")
    p.add_argument("--folds", default=None, help="outer folds: an integer >= 2 (default 5, capped so each fold "
                                                 "holds both classes) or 'loo' (leave one patient out)")
    p.add_argument("--trials", type=int, help="Optuna trials per model and outer fold (overrides the profile; 0 = defaults)")
    p.add_argument("--inner-folds", type=int, help="inner tuning folds (overrides the profile)")
    p.add_argument("--bootstrap", type=int, help="bootstrap resamples for the CIs (overrides the profile)")
    p.add_argument("--config", type=Path, metavar="FILE.toml",
                   help="TOML file overriding the profile's settings by section: [beats], [features] (e.g. hf_band, "
                        "hf_order), [evaluation], [deep] (e.g. view = \"beats_wideband\", hf_crop_ms, max_epochs); "
                        "unknown sections or fields are an error; the resolved settings go into manifest.json")
    p.set_defaults(handler=run_command)


def run_command(args: argparse.Namespace) -> int:
    from dataclasses import replace

    from hfecg_bench import runner
    from hfecg_bench.config import load_run_config
    from hfecg_bench.models.registry import resolve_names

    t0 = time.monotonic()
    names = resolve_names(args.models)
    run_config = load_run_config(args.profile, args.config)
    config = run_config.evaluation.with_folds(args.folds)
    over = {k: v for k, v in (("n_trials", args.trials), ("n_inner_folds", args.inner_folds),
                              ("n_bootstrap", args.bootstrap)) if v is not None}
    config = replace(config, **over).validate()
    out = args.out or runner.default_out(args.dataset)
    if args.out is None:
        print(f"run directory: {out}", file=sys.stderr)
    cohort = cohort_from_args(args, seed=args.seed)
    ctx = runner.prepare_run(cohort, out=out, profile=args.profile, seed=args.seed, config=config, models=names,
                             run_config=run_config,
                             command=[Path(sys.executable).name, "-m", "hfecg_bench", *sys.argv[1:]])
    runner.run_models(ctx, names)
    metrics = runner.evaluate_run(ctx.run_dir)
    if "all" in [x.strip().lower() for x in args.models.split(",")]:
        from hfecg_bench.run_all import finish_all, summary_text

        diag = finish_all(ctx, names)
        print(summary_text(ctx.run_dir, diag))
    else:
        from hfecg_bench.report.render import render_report

        render_report(ctx.run_dir)
        print(runner.format_metrics(metrics))
    print(f"\n{len(metrics)} model(s), {ctx.labels.size} patients, {ctx.plan.n_folds} folds; "
          f"results in {ctx.run_dir} ({time.monotonic() - t0:.0f} s)")
    return 0
