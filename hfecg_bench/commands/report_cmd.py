"""`report RUN_DIR`: re-render the leaderboard, figures, markdown and report.html from a run's saved files,
without refitting."""
from __future__ import annotations

from pathlib import Path

from hfecg_bench.report.html import REPORT_FILE
from hfecg_bench.report.render import render_report


def register(sub) -> None:
    p = sub.add_parser("report", help="re-render a run's report.html, leaderboard and figures from its saved files",
                       description="Rebuild report.html (one self-contained page: verdict with its evidence, "
                                   "leaderboard, ROC and calibration, the HF-QRS view, feature importance, training "
                                   "curves, patients), leaderboard.csv, leaderboard.md and figures/ of RUN_DIR from "
                                   "its saved files (metrics.csv, predictions.csv, diagnostics.json, features.parquet, "
                                   "hf_view.npz, fold_predictions/). Nothing is refit.")
    p.add_argument("run_dir", type=Path, help="a run directory written by `run`")
    p.set_defaults(handler=report)


def report(args) -> int:
    written = render_report(args.run_dir)
    print(f"report of {args.run_dir}: {', '.join(sorted(p.name for p in written.values()))}")
    print(f"open {args.run_dir / REPORT_FILE} in a browser (self-contained: works offline, from disk)")
    return 0
