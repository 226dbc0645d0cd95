"""`report RUN_DIR`: re-render the leaderboard, figures and markdown from a run's saved files, without refitting."""
from __future__ import annotations

from pathlib import Path

from hfecg_bench.report.render import render_report


def register(sub) -> None:
    p = sub.add_parser("report", help="re-render a run's leaderboard and figures from its saved predictions",
                       description="Rebuild leaderboard.csv, leaderboard.md and figures/ of RUN_DIR from its saved "
                                   "metrics.csv, predictions.csv, diagnostics.json and training curves. Nothing is refit.")
    p.add_argument("run_dir", type=Path, help="a run directory written by `run`")
    p.set_defaults(handler=report)


def report(args) -> int:
    written = render_report(args.run_dir)
    print(f"report of {args.run_dir}: {', '.join(sorted(p.name for p in written.values()))}")
    print(f"read {args.run_dir / 'leaderboard.md'}")
    return 0
