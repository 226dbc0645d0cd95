"""`data describe | synth | fetch`: look at a source, write the synthetic cohort, download PTB."""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from hfecg_bench.commands.common import add_dataset_args, add_synth_args, cohort_from_args, synth_params_from_args
from hfecg_bench.data.ptbdb import fetch_ptbdb
from hfecg_bench.data.synthetic import write_cohort
from hfecg_bench.report.cohort_html import check_html_target, write_cohort_html


def register(sub) -> None:
    p = sub.add_parser("data", help="describe a data source, write the synthetic cohort, fetch PTB",
                       description="Data sources: describe what a folder holds, write the known-answer synthetic "
                                   "cohort to disk, or download the PTB Diagnostic ECG Database.")
    dsub = p.add_subparsers(dest="data_command", required=True, metavar="{describe,synth,fetch}")

    d = dsub.add_parser("describe", help="records, patients, classes, rates, leads, durations and exclusions",
                        description="Read and validate a source; print its records, patients, positives/negatives, "
                                    "sampling rates, leads, durations and every excluded record with its reason "
                                    "(--html FILE: the same drawn on one self-contained page). "
                                    "Exit code 2 when the source has problems (all of them are listed), "
                                    "unless --skip-bad.")
    add_dataset_args(d, default_dataset=None)
    d.add_argument("--seed", type=int, default=0, help="seed of the synthetic cohort (default 0)")
    d.add_argument("--json", action="store_true", help="print one JSON object instead of the text summary")
    d.add_argument("--html", type=Path, metavar="FILE",
                   help="also draw the cohort on one self-contained HTML page (classes, sampling rates, durations, "
                        "beats per record, exclusions with reasons, one averaged beat per class)")
    d.set_defaults(handler=describe)

    s = dsub.add_parser("synth", help="write the known-answer synthetic cohort as WFDB + labels.csv + truth.json",
                        description="Generate a synthetic 1000 Hz 12-lead cohort with a planted answer (default "
                                    "--preset realistic: 177 patients who differ as real ones do) and write it "
                                    "as WFDB records, labels.csv (record,patient_id,label) and truth.json (the "
                                    "planted answer per patient and oracle_auroc, the AUROC of the noise-free planted "
                                    "quantity: the most any model can reach), readable back with --dataset wfdb.")
    s.add_argument("--out", type=Path, required=True, help="output folder (created; must be empty or absent)")
    add_synth_args(s)
    s.add_argument("--seed", type=int, default=0, help="generator seed (default 0): same seed, same bytes")
    s.set_defaults(handler=synth)

    f = dsub.add_parser("fetch", help="download a public database (needs internet)",
                        description="Download the PTB Diagnostic ECG Database from PhysioNet with wfdb "
                                    "(about 1.7 GB). Rerunning resumes: files already present are kept.")
    f.add_argument("name", choices=["ptbdb"], help="database to download")
    f.add_argument("--out", type=Path, required=True, help="destination folder")
    f.set_defaults(handler=fetch)


def describe(args: argparse.Namespace) -> int:
    if args.html:
        check_html_target(args.html)            # before the cohort is read: a wrong path fails at once
    cohort = cohort_from_args(args, seed=args.seed, quiet=args.json)
    info = cohort.describe()
    if args.json:
        print(json.dumps(info, default=str))
    else:
        print(format_description(info))
    if args.html:
        path = write_cohort_html(cohort, args.html)
        # with --json, stdout holds the one JSON object only
        print(f"wrote {path}", file=sys.stderr if args.json else sys.stdout)
    return 0


def format_description(info: dict) -> str:
    """The human-readable summary of :meth:`Cohort.describe`."""
    dur = info["duration_s"]
    lines = [
        f"dataset       {info['dataset']}",
        f"records       {info['n_records']}",
        f"patients      {info['n_patients']}  ({info['n_positive']} positive, {info['n_negative']} negative)",
        f"sampling rate {info['fs']} Hz",
        f"leads         {', '.join(info['leads'])}",
        f"duration (s)  min {dur['min']}, median {dur['median']}, max {dur['max']}, total {dur['total']}",
    ]
    if info.get("n_beats_precut"):
        lines.append(f"pre-cut beats {info['n_beats_precut']}")
    if info.get("excluded_diagnoses"):
        counts = ", ".join(f"{k}: {v}" for k, v in info["excluded_diagnoses"].items())
        lines.append(f"other diagnoses excluded (records): {counts}")
    if info.get("resampled"):
        src = ", ".join(f"{hz} Hz ({n})" for hz, n in info["resampled"]["from"].items())
        lines.append(f"resampled     to {info['resampled']['to_hz']:g} Hz from {src} records "
                     f"({info['resampled']['method']})")
    if info.get("fs_source") and "assumed" in str(info["fs_source"]):
        lines.append(f"note          sampling rate {info['fs_source']}")
    excluded = info.get("excluded") or []
    lines.append(f"excluded      {len(excluded)} record(s)")
    lines += [f"  - {e['record']}: {e['reason']}" for e in excluded]
    return "\n".join(lines)


def synth(args: argparse.Namespace) -> int:
    params = synth_params_from_args(args, args.seed)
    out = write_cohort(params, args.out)
    r = params.resolved()
    print(f"wrote synthetic cohort ({r['preset']}, {r['n_patients']} patients, seed {r['seed']}) to {out}")
    return 0


def fetch(args: argparse.Namespace) -> int:
    out = fetch_ptbdb(args.out)
    print(f"PTB Diagnostic ECG Database in {out}; use --dataset ptbdb --data-dir {out}")
    return 0
