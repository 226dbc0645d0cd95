"""`features`: beat pipeline + per-lead HF-QRS, wavelet, spectral and conventional features to a table."""
from __future__ import annotations

import argparse
import json
from pathlib import Path

import pandas as pd

from hfecg_bench.commands.common import add_dataset_args, cohort_from_args
from hfecg_bench.config import load_run_config
from hfecg_bench.features import extract_features
from hfecg_bench.progress import Progress
from hfecg_bench.errors import HfecgError


def register(sub) -> None:
    p = sub.add_parser("features", help="extract per-lead HF-QRS, wavelet, spectral and conventional features",
                       description="Detect, align (sub-sample) and average the beats of every record, then compute "
                                   "per-lead features of the averaged beat: HF-QRS (150-250 Hz RMS, envelope, RAZ, "
                                   "kurtosis, noise), wavelet energies, Welch spectra and conventional measures. "
                                   "Writes one row per record (record_id, patient_id, label, then columns "
                                   "<lead>__<group>__<feature>); records with too few usable beats are listed "
                                   "with the reason, never zero-filled.")
    add_dataset_args(p)
    p.add_argument("--out", type=Path, required=True,
                   help="output table, .csv or .parquet (an existing file is refused unless --force)")
    p.add_argument("--force", action="store_true", help="overwrite an existing --out file")
    p.add_argument("--seed", type=int, default=0, help="seed of the synthetic cohort (default 0)")
    p.add_argument("--profile", choices=["quick", "full"], default="quick",
                   help="feature/beat configuration profile (default quick; full adds extra leads and wavelet level)")
    p.add_argument("--config", type=Path, metavar="FILE.toml",
                   help="TOML file overriding the profile's [beats] and [features] settings (e.g. hf_band, hf_order)")
    p.add_argument("--no-cache", action="store_true", help="recompute every record (do not read or write the cache)")
    p.add_argument("--cache-dir", type=Path,
                   help="feature cache folder (default $HFECG_CACHE_DIR/features or ~/.cache/hfecg_bench/features)")
    p.add_argument("--nan-log", type=Path, help="also write every NaN feature and its reason to this CSV")
    p.add_argument("--json", action="store_true", help="print the summary as one JSON object")
    p.set_defaults(handler=features)


def check_out(out: Path, force: bool) -> None:
    """Refuse a bad ``--out`` before any data is read: wrong extension, a folder, an existing file without --force."""
    if out.suffix not in (".csv", ".parquet"):
        raise HfecgError(f"--out {out}: use a .csv or .parquet file name")
    if out.is_dir():
        raise HfecgError(f"--out {out} is a folder: name the output file (.csv or .parquet)")
    if out.exists() and not force:
        raise HfecgError(f"--out {out} already exists: pass --force to overwrite it, or choose another file name")
    if out.parent.exists() and not out.parent.is_dir():
        raise HfecgError(f"--out {out}: {out.parent} is a file, not a folder")


def features(args: argparse.Namespace) -> int:
    check_out(args.out, args.force)
    if args.cache_dir is not None and args.cache_dir.exists() and not args.cache_dir.is_dir():
        raise HfecgError(f"--cache-dir {args.cache_dir} is a file, not a folder: name a folder (it is created), "
                         "or pass --no-cache")
    run_config = load_run_config(args.profile, args.config)  # a bad file fails before any data is read
    cohort = cohort_from_args(args, seed=args.seed, quiet=args.json)
    progress = Progress("features")
    table = extract_features(cohort, run_config.features, run_config.beats,
                             cache_dir=False if args.no_cache else args.cache_dir, progress=progress)
    progress.done()
    if table.frame.empty:
        reasons = "\n".join(f"  - {e.record}: {e.reason}" for e in table.excluded)
        raise HfecgError(f"no record yielded features:\n{reasons}")
    try:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        table.write(args.out)
    except OSError as exc:
        raise HfecgError(f"--out {args.out} cannot be written: {exc.strerror or exc}") from None
    if args.nan_log:
        pd.DataFrame(table.nan_log, columns=["record_id", "lead", "feature", "reason"]).to_csv(args.nan_log, index=False)
    summary = {
        "out": str(args.out), "rows": int(len(table.frame)), "columns": int(table.frame.shape[1]),
        "feature_columns": {g: len(table.feature_columns(g)) for g in table.groups()},
        "leads": [x for x in table.leads() if x != "all"],
        "nan_values": len(table.nan_log),
        "excluded": [e.as_dict() for e in table.excluded],
        "cache": {k: table.info[k] for k in ("cache_dir", "cache_hits", "cache_misses")},
    }
    if args.json:
        print(json.dumps(summary))
        return 0
    print(f"wrote {summary['rows']} rows x {summary['columns']} columns to {args.out}")
    print("feature columns: " + ", ".join(f"{g} {n}" for g, n in summary["feature_columns"].items()))
    print(f"leads: {', '.join(summary['leads'])}")
    if table.nan_log:
        print(f"NaN values: {len(table.nan_log)} (first: {table.nan_log[0][0]} {table.nan_log[0][1]} "
              f"{table.nan_log[0][2]}: {table.nan_log[0][3]}; --nan-log FILE lists all)")
    n_feat = table.info["n_excluded_by_features"]
    print(f"excluded: {len(table.excluded)} record(s) ({len(table.excluded) - n_feat} by the loader, "
          f"{n_feat} with too few usable beats)")
    for e in table.excluded:
        print(f"  - {e.record}: {e.reason}")
    return 0
