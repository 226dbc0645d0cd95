"""The command line: `python -m hfecg_bench {run,data,features,report} ...`.

Every error hfecg_bench raises on purpose ends with a message on stderr and exit
code 2, never a traceback; warnings are printed as one line each.
"""
from __future__ import annotations

import argparse
import sys
import warnings

from hfecg_bench import __version__
from hfecg_bench.errors import HfecgError, HfecgWarning


def build_parser() -> argparse.ArgumentParser:
    from hfecg_bench.commands import data_cmd, features_cmd, report_cmd, run_cmd

    parser = argparse.ArgumentParser(
        prog="python -m hfecg_bench",
        description="Leakage-free benchmark for classifying patients from high-frequency (>= 1000 Hz) 12-lead ECG: "
                    "HF-QRS, wavelet and spectral features with RandomForest/SVM/XGBoost and Keras deep models, "
                    "under identical patient-wise folds.",
        epilog="Start with `python -m hfecg_bench run all` (the embedded synthetic cohort, quick profile).")
    parser.add_argument("--version", action="version", version=f"hfecg_bench {__version__}")
    sub = parser.add_subparsers(dest="command", required=True, metavar="{run,data,features,report}")
    for module in (run_cmd, data_cmd, features_cmd, report_cmd):
        module.register(sub)
    return parser


def _format_warning(message, category, filename, lineno, line=None):
    if issubclass(category, HfecgWarning):
        return f"warning: {message}\n"
    return f"{filename}:{lineno}: {category.__name__}: {message}\n"


def main(argv: list[str] | None = None) -> int:
    warnings.formatwarning = _format_warning
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return int(args.handler(args) or 0)
    except HfecgError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("interrupted: rerun the same command to resume where it stopped", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
