"""Arguments and helpers shared by the subcommands: dataset selection, progress, JSON output."""
from __future__ import annotations

import argparse
from pathlib import Path

from hfecg_bench.data import DATASETS, load_cohort
from hfecg_bench.data.synthetic import DEFAULT_PRESET, PRESETS, SynthParams
from hfecg_bench.data.validate import LoadOptions
from hfecg_bench.errors import HfecgError
from hfecg_bench.leads import STANDARD_LEADS, normalize_leads
from hfecg_bench.progress import Progress

SYNTH_PRESETS_HELP = ("realistic (default: 177 patients like a real cohort, classical AUROC about 0.8), "
                      "hf_effect (120 patients, an easy HF-QRS effect), null, label_noise, averaging_required, "
                      "conventional_effect")


def add_dataset_args(p: argparse.ArgumentParser, default_dataset: str | None = "synthetic") -> None:
    """The options that select and check a data source (same spelling in every subcommand)."""
    g = p.add_argument_group("data source")
    g.add_argument("--dataset", choices=DATASETS, default=default_dataset, required=default_dataset is None,
                   action=_DatasetAction,
                   help=f"source kind (default: {default_dataset or 'none'}): synthetic = the embedded known-answer cohort; "
                        "ptbdb = PhysioNet PTB tree; wfdb = folder of WFDB records + labels.csv; "
                        "npz = arrays X,y,patient_ids,fs; beats = folder of <patient>_beat_<i>.npy + labels.csv")
    g.add_argument("--data-dir", type=Path, help="folder of the source (the .npz file for --dataset npz)")
    g.add_argument("--labels", type=Path, help="labels.csv (default: DATA_DIR/labels.csv) for wfdb and beats")
    g.add_argument("--skip-bad", action="store_true",
                   help="exclude records with problems (listed with their reasons) instead of stopping with exit code 2")
    g.add_argument("--allow-low-fs", action="store_true",
                   help="accept sampling rates in [500, 1000) Hz with a warning (HF-QRS degrades)")
    g.add_argument("--required-leads", default=",".join(STANDARD_LEADS),
                   help="comma-separated leads every record must have (default: the 12 standard leads)")
    g.add_argument("--positive", default="Myocardial infarction",
                   help="ptbdb: ';'-separated 'Reason for admission' diagnoses labelled 1 (default: Myocardial infarction)")
    g.add_argument("--negative", default="Healthy control",
                   help="ptbdb: ';'-separated diagnoses labelled 0 (default: Healthy control); others are excluded and counted")
    g.add_argument("--resample-to", type=float, metavar="HZ",
                   help="resample every record to HZ at load time (scipy polyphase, anti-aliased), e.g. to join "
                        "records recorded at different rates; recorded in the manifest")
    g.add_argument("--same-patient", action="append", default=[], metavar="REC1,REC2",
                   help="records that are one person although their patient ids differ (repeatable): put under "
                        "REC1's patient id before the same-heart check, so they share a fold")
    g.add_argument("--fs", type=float, help="beats: sampling rate in Hz of the .npy beats (default: labels.csv fs column, else 1000)")
    s = p.add_argument_group("synthetic cohort (--dataset synthetic)")
    add_synth_args(s)
    p.set_defaults(dataset_given=default_dataset is None)


class _DatasetAction(argparse.Action):
    """Store ``--dataset`` and note that it was given (``--data-dir`` alone must not mean synthetic)."""

    def __call__(self, parser, namespace, values, option_string=None):
        setattr(namespace, self.dest, values)
        namespace.dataset_given = True


def add_synth_args(g) -> None:
    """Generator options; None means the preset's default."""
    g.add_argument("--preset", default=DEFAULT_PRESET, help=f"planted scenario: {SYNTH_PRESETS_HELP}")
    g.add_argument("--n-patients", type=int, help="number of patients (default: the preset's, 177 for realistic, "
                                                  "120 for the others)")
    g.add_argument("--effect", type=float,
                   help="relative HF-QRS RMS reduction in the affected leads of positives (default: the preset's, "
                        f"{PRESETS['realistic']['effect']:g} for realistic, where it is the mean among the positives "
                        "that carry one, 0.35 for hf_effect)")
    g.add_argument("--label-noise", type=float, help="fraction of labels flipped (label_noise preset default 0.25)")
    g.add_argument("--prevalence", type=float, help="fraction of positive patients, in (0, 1) (default 0.3)")
    g.add_argument("--mains-hz", type=float, help="mains interference frequency, 50 or 60 Hz (default 50)")
    g.add_argument("--duration", dest="duration_s", type=float, help="record length in seconds (default 30)")


def synth_params_from_args(args, seed: int):
    """SynthParams from parsed CLI arguments (only the options the user gave override the preset)."""
    given = {k: getattr(args, k, None) for k in ("n_patients", "effect", "label_noise", "prevalence", "mains_hz",
                                                   "duration_s")}
    return SynthParams(preset=args.preset, seed=seed, **{k: v for k, v in given.items() if v is not None})


def load_options_from_args(args) -> LoadOptions:
    split = lambda text: tuple(x.strip() for x in str(text).split(";") if x.strip())  # noqa: E731
    return LoadOptions(skip_bad=args.skip_bad, allow_low_fs=args.allow_low_fs,
                       resample_to=args.resample_to,
                       same_patient=tuple(tuple(x.strip() for x in group.split(",")) for group in args.same_patient),
                       required_leads=normalize_leads(x for x in args.required_leads.split(",") if x.strip()),
                       ptb_positive=split(args.positive), ptb_negative=split(args.negative))


def cohort_from_args(args, seed: int = 0, quiet: bool = False):
    """Load the cohort the arguments name, showing progress on stderr for long reads.

    ``--data-dir`` (or ``--labels``) without ``--dataset`` is an error: the folder would
    otherwise be ignored and the synthetic cohort used in its place.
    """
    given = [flag for flag, value in (("--data-dir", args.data_dir), ("--labels", args.labels)) if value is not None]
    if given and not getattr(args, "dataset_given", True):
        raise HfecgError(f"{' and '.join(given)} given without --dataset: pass --dataset "
                         f"({', '.join(d for d in DATASETS if d != 'synthetic')}) to say how to read "
                         f"{args.data_dir or args.labels}; the synthetic cohort is used only when no data is given")
    if args.dataset == "synthetic" and given:
        raise HfecgError(f"--dataset synthetic generates its cohort and reads no files: drop {' and '.join(given)} "
                         "or choose the --dataset that matches the folder")
    synth = synth_params_from_args(args, seed) if args.dataset == "synthetic" else None
    progress = None if quiet else Progress(f"reading {args.dataset}")
    cohort = load_cohort(args.dataset, data_dir=args.data_dir, labels=args.labels,
                         options=load_options_from_args(args), synth=synth, beats_fs=args.fs,
                         progress=progress)
    if progress:
        progress.done()
    return cohort
