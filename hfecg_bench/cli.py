"""The command line: `python -m hfecg_bench {run,data,features,report,diagnose} ...`.

Every error hfecg_bench raises on purpose ends with a message on stderr and exit
code 2, never a traceback; a bad parameter is named by its flag (``--folds``);
warnings are printed as one line each.
"""
from __future__ import annotations

import argparse
import sys
import warnings

from hfecg_bench import __version__
from hfecg_bench.commands import data_cmd, diagnose_cmd, features_cmd, report_cmd, run_cmd
from hfecg_bench.errors import HfecgError, HfecgWarning, ParameterError
from hfecg_bench.runtime import setup_runtime

#: Library parameter names whose command-line flag is not simply ``--name`` with dashes.
FLAG_OF = {"n_trials": "--trials", "n_inner_folds": "--inner-folds", "n_bootstrap": "--bootstrap",
           "duration_s": "--duration", "config": "--config"}


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m hfecg_bench",
        description="Leakage-free benchmark for classifying patients from high-frequency (>= 1000 Hz) 12-lead ECG: "
                    "HF-QRS, wavelet and spectral features with RandomForest/SVM/XGBoost and Keras deep models, "
                    "under identical patient-wise folds.",
        epilog="Start with `python -m hfecg_bench run all` (the embedded synthetic cohort, quick profile).")
    parser.add_argument("--version", action="version", version=f"hfecg_bench {__version__}")
    sub = parser.add_subparsers(dest="command", required=True, metavar="{run,data,features,report,diagnose}")
    for module in (run_cmd, data_cmd, features_cmd, report_cmd, diagnose_cmd):
        module.register(sub)
    return parser


def _option_strings(parser: argparse.ArgumentParser) -> set[str]:
    """Every ``--flag`` of ``parser`` and its subcommands."""
    out = set()
    for action in parser._actions:  # argparse keeps no public list of its actions
        out.update(o for o in action.option_strings if o.startswith("--"))
        if isinstance(action, argparse._SubParsersAction):
            for sub in action.choices.values():
                out |= _option_strings(sub)
    return out


def flag_message(exc: ParameterError, flags: set[str], argv: list[str]) -> str:
    """The message of a bad parameter, naming it by its command-line flag when the user typed that flag.

    A value that came from elsewhere (a ``--config`` file, a default) keeps the library's wording.

    >>> flag_message(ParameterError("n_trials", -1, "an integer >= 0"), {"--trials"}, ["--trials", "-1"])
    'invalid --trials -1: an integer >= 0'
    >>> flag_message(ParameterError("n_trials", -1, "an integer >= 0"), {"--trials"}, ["--config", "x.toml"])
    'invalid n_trials=-1: an integer >= 0'
    """
    flag = FLAG_OF.get(exc.name, "--" + str(exc.name).replace("_", "-"))
    if flag not in flags:
        return str(exc)
    if exc.value is None:  # a required value that was not given: the flag is how to give it
        return f"missing {flag}: {str(exc.valid).replace(str(exc.name), flag)}"
    if not any(a == flag or a.startswith(flag + "=") for a in argv):
        return str(exc)
    return f"invalid {flag} {exc.value}: {exc.valid}"


def _format_warning(message, category, filename, lineno, line=None):
    if issubclass(category, HfecgWarning):
        return f"warning: {message}\n"
    return f"{filename}:{lineno}: {category.__name__}: {message}\n"


def main(argv: list[str] | None = None) -> int:
    setup_runtime()
    warnings.formatwarning = _format_warning
    argv = list(sys.argv[1:] if argv is None else argv)
    parser = build_parser()
    args = parser.parse_args(argv)
    args.argv = argv
    try:
        return int(args.handler(args) or 0)
    except ParameterError as exc:
        print(f"error: {flag_message(exc, _option_strings(parser), argv)}", file=sys.stderr)
        return 2
    except HfecgError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("interrupted: rerun the same command to resume where it stopped", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
