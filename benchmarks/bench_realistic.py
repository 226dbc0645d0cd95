"""Calibration of the ``realistic`` synthetic preset: best classical AUROC and oracle AUROC per seed.

Runs the default command ``python -m hfecg_bench run classical --trials 4 --bootstrap 500 --seed S``
(realistic preset, 177 patients x 30 s, quick profile) for each seed and prints one JSON object: per
seed the oracle AUROC of ``truth.json``, every model's AUROC, the best model, best - oracle, and the
wall time; then the mean and SD of the best AUROC over the seeds.

    HFECG_CACHE_DIR=/tmp/cache nice -n 10 python benchmarks/bench_realistic.py --seeds 0,1,2,3,4,5

Measured when the preset was calibrated (2 shared cores, load 6-10, about 5 min per seed with the
diagnostics). The parameters were chosen from a Monte-Carlo of the oracle AUROC and a first
look at seeds 0-3, aiming at a mean best AUROC near 0.81, then left alone; seeds 4 and 5 were
measured after that choice (seeds 3-5 by the same run through ``hfecg_bench.run``):

seed 0: oracle 0.909, best rf 0.850 (xgb 0.804, logreg 0.790, svm 0.762), best - oracle -0.059
seed 1: oracle 0.833, best rf 0.753 (logreg 0.709, xgb 0.706, svm 0.636), best - oracle -0.080
seed 2: oracle 0.892, best xgb 0.784 (logreg 0.757, rf 0.730, svm 0.685), best - oracle -0.108
seed 3: oracle 0.858, best xgb 0.852 (rf 0.837, logreg 0.831, svm 0.773), best - oracle -0.006
seed 4: oracle 0.914, best logreg 0.840 (xgb 0.837, rf 0.830, svm 0.736), best - oracle -0.074
seed 5: oracle 0.879, best logreg 0.854 (rf 0.839, xgb 0.832, svm 0.783), best - oracle -0.025

Best AUROC mean 0.822, SD 0.043 (range 0.753-0.854); the acceptance band is 0.72-0.90 and the
best model never exceeded the oracle + 0.05.
"""
from __future__ import annotations

import argparse
import io
import json
import sys
import tempfile
import time
from contextlib import redirect_stdout
from pathlib import Path

import numpy as np
import pandas as pd

from hfecg_bench.cli import main as cli_main


def one_seed(seed: int, out: Path, trials: int = 4, bootstrap: int = 500) -> dict:
    """Run the default classical command at ``seed`` into ``out`` and read back metrics and truth."""
    t0 = time.monotonic()
    with redirect_stdout(io.StringIO()):
        rc = cli_main(["run", "classical", "--trials", str(trials), "--bootstrap", str(bootstrap),
                       "--seed", str(seed), "--out", str(out)])
    if rc != 0:
        raise SystemExit(f"seed {seed}: the run failed with exit code {rc}")
    m = pd.read_csv(out / "metrics.csv").set_index("model")["auroc"]
    truth = json.loads((out / "truth.json").read_text())
    models = m.drop(index="dummy").sort_values(ascending=False)
    return {"seed": seed, "oracle_auroc": truth["oracle_auroc"], "best_model": str(models.index[0]),
            "best_auroc": round(float(models.iloc[0]), 4),
            "best_minus_oracle": round(float(models.iloc[0]) - truth["oracle_auroc"], 4),
            "auroc": {k: round(float(v), 4) for k, v in m.items()},
            "n_patients": len(truth["patients"]), "wall_s": round(time.monotonic() - t0, 1)}


def main(argv=None) -> dict:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--seeds", default="0,1,2", help="comma-separated seeds (default 0,1,2)")
    p.add_argument("--trials", type=int, default=4)
    p.add_argument("--bootstrap", type=int, default=500)
    p.add_argument("--keep", type=Path, help="keep the run directories under this folder")
    args = p.parse_args(argv)
    root = args.keep or Path(tempfile.mkdtemp(prefix="bench_realistic_"))
    rows = [one_seed(int(s), root / f"seed{s}", args.trials, args.bootstrap) for s in args.seeds.split(",")]
    best = np.array([r["best_auroc"] for r in rows])
    out = {"command": "python -m hfecg_bench run classical --trials T --bootstrap B --seed S",
           "trials": args.trials, "bootstrap": args.bootstrap, "seeds": rows,
           "best_auroc_mean": round(float(best.mean()), 4),
           "best_auroc_sd": round(float(best.std(ddof=1)), 4) if len(best) > 1 else None,
           "max_best_minus_oracle": max(r["best_minus_oracle"] for r in rows)}
    json.dump(out, sys.stdout, indent=1)
    print()
    return out


if __name__ == "__main__":
    main()
