"""`diagnose RUN_DIR`: recompute the diagnostics, the verdict and its causes from a run's saved files."""
from __future__ import annotations

import sys
from pathlib import Path


def register(sub) -> None:
    p = sub.add_parser("diagnose", help="recompute a run's diagnostics and verdict without refitting its models",
                       description="Recompute diagnostics.json (findings, verdict, causes) and the report of RUN_DIR "
                                   "from its saved predictions, metrics, folds, features and recording properties. "
                                   "The tuned models are not refitted; the learning curve and the feature-group "
                                   "ablation refit the best classical model at default parameters, as in the run.")
    p.add_argument("run_dir", type=Path, help="a run directory written by `run`")
    p.set_defaults(handler=diagnose)


def diagnose(args) -> int:
    from hfecg_bench.pipeline.finish import diagnose_run_dir   # lazy: the pipeline imports the models

    out = diagnose_run_dir(args.run_dir, stream=sys.stderr)
    print(f"verdict: {out['verdict']}")
    for cause in out.get("causes", []):
        print(f"  cause {cause['cause']}: {cause['evidence']}")
    print(f"read {args.run_dir / 'leaderboard.md'}")
    return 0
