"""``data describe --html FILE``: the cohort drawn on one self-contained page, before anything is fitted:
classes, sampling rates, record durations, beats per record (detected and kept), exclusions with their
reasons, and one averaged beat per class.

Examples
--------
>>> import tempfile, pathlib
>>> from hfecg_bench.data import generate_cohort
>>> cohort = generate_cohort(preset="hf_effect", n_patients=6, duration_s=10, seed=1)
>>> path = write_cohort_html(cohort, pathlib.Path(tempfile.mkdtemp()) / "cohort.html")
>>> page = path.read_text(encoding="utf-8")
>>> page.count("data:image/png;base64,"), "Averaged beat per class" in page
(2, True)
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
from matplotlib.figure import Figure

from hfecg_bench.beats.config import BeatConfig
from hfecg_bench.beats.pipeline import beats_from_record
from hfecg_bench.errors import HfecgError
from hfecg_bench.features.config import FeatureConfig
from hfecg_bench.report.hfqrs import CLASS_NAMES, ECG_GRID
from hfecg_bench.report.html import embed, write_page
from hfecg_bench.report.plots import CLASS_COLORS

#: Written into every page, so a later run may overwrite a page of ours but never another file.
GENERATOR = "hfecg_bench data describe"
#: Window of the averaged beat shown, ms around R.
BEAT_MS = (-240.0, 440.0)


def record_table(cohort, beat_config: BeatConfig | None = None, min_beats: int = 5):
    """One row per record (record, patient, label, fs, duration_s, beats detected and kept, why unusable) and the
    per-record averaged beats cut to :data:`BEAT_MS` around R, shape (n_usable, n_t, 12) in mV (NaN where a
    lead is absent), with their labels."""
    beat_config = beat_config or BeatConfig()
    leads = [lead for row in ECG_GRID for lead in row]
    rows, beats, labels = [], [], []
    for rec in cohort.records:
        res = beats_from_record(rec, beat_config)
        why = res.info.get("no_ecg") or (f"only {res.n_kept} usable beat(s) (< {min_beats}); "
                                         f"rejected: {res.rejection_summary()}" if res.n_kept < min_beats else "")
        rows.append({"record": rec.record_id, "patient": str(rec.patient_id), "label": rec.label, "fs": float(rec.fs),
                     "duration_s": rec.duration_s, "detected": int(res.info.get("n_detected") or len(res.r_peaks)),
                     "kept": res.n_kept, "unusable": why})
        if why:
            continue
        fs = float(rec.fs)
        idx = res.fiducial + np.arange(int(round(BEAT_MS[0] * fs / 1000)), int(round(BEAT_MS[1] * fs / 1000)) + 1)
        ok = (idx >= 0) & (idx < len(res.average))
        cut = np.full((len(idx), len(leads)), np.nan)
        have = [j for j, lead in enumerate(leads) if lead in rec.lead_names]
        cut[np.ix_(ok, have)] = res.average[idx[ok]][:, [rec.lead_names.index(leads[j]) for j in have]]
        beats.append(cut)
        labels.append(rec.label)
    return pd.DataFrame(rows), beats, np.array(labels, dtype=object)


def _bars(ax, counts: dict, title: str, xlabel: str = ""):
    ax.bar([str(k) for k in counts], list(counts.values()), color="tab:gray")
    for i, v in enumerate(counts.values()):
        ax.text(i, v, str(v), ha="center", va="bottom", fontsize=8)
    ax.set(title=title, xlabel=xlabel)


def overview_plot(table: pd.DataFrame) -> Figure:
    """Patients per class, records per sampling rate, durations and beats kept per record by class."""
    fig = Figure(figsize=(11, 3.2))
    a1, a2, a3, a4 = fig.subplots(1, 4)
    pat = table.drop_duplicates("patient")
    _bars(a1, {("unlabelled" if pd.isna(k) else CLASS_NAMES[int(k)]): int(v)
               for k, v in pat["label"].value_counts(dropna=False).sort_index().items()}, "patients per class")
    _bars(a2, {f"{k:g} Hz": int(v) for k, v in table["fs"].value_counts().sort_index().items()},
          "records per sampling rate")
    for c in (0, 1):
        part = table[table["label"] == c]
        a3.hist(part["duration_s"], bins=15, alpha=0.6, color=CLASS_COLORS[c], label=CLASS_NAMES[c])
        a4.hist(part["kept"], bins=15, alpha=0.6, color=CLASS_COLORS[c], label=CLASS_NAMES[c])
    a3.set(title="record duration", xlabel="s", ylabel="records")
    a4.set(title="beats kept per record", xlabel="beats", ylabel="records")
    a4.legend(fontsize=7)
    return fig


def averaged_beat_plot(beats: list, labels: np.ndarray, fs: float) -> Figure:
    """The median over each class's records of their signal-averaged beats, the 12 leads in the usual 3 x 4
    printout, both classes overlaid (mV against ms from R)."""
    fig = Figure(figsize=(11, 5.5))
    axes = fig.subplots(3, 4, sharex=True)
    t = BEAT_MS[0] + np.arange(beats[0].shape[0]) * 1000.0 / fs if beats else np.zeros(0)
    stack = np.stack(beats) if beats else np.zeros((0, 0, 12))
    for c in (0, 1):
        sel = np.array([lab == c for lab in labels], dtype=bool)
        if not sel.any():
            continue
        med = np.nanmedian(stack[sel], axis=0)
        for k, ax in enumerate(axes.ravel()):
            ax.plot(t, med[:, k], color=CLASS_COLORS[c], lw=1, label=f"{CLASS_NAMES[c]}, {int(sel.sum())} records")
    for k, ax in enumerate(axes.ravel()):
        ax.set_title([lead for row in ECG_GRID for lead in row][k], fontsize=9, loc="left")
        ax.axhline(0, color="0.8", lw=0.5)
    for ax in axes[-1]:
        ax.set_xlabel("ms from R")
    for ax in axes[:, 0]:
        ax.set_ylabel("mV")
    axes[0, 0].legend(fontsize=7)
    return fig


def check_html_target(path: Path) -> Path:
    """``path`` if a page may be written there: a file name in an existing folder, absent or one of our pages.

    Raises
    ------
    HfecgError
        Naming the path and what is wrong; nothing is written.
    """
    path = Path(path)
    if path.is_dir():
        raise HfecgError(f"--html {path} is a folder; give a file name such as {path / 'cohort.html'}")
    if path.exists():
        head = path.read_bytes()[:4096].decode("utf-8", errors="replace")
        if GENERATOR not in head:
            raise HfecgError(f"--html {path} exists and is not a page written by {GENERATOR}; nothing was "
                             "overwritten: choose another file name")
    if not path.parent.is_dir():
        raise HfecgError(f"--html {path}: folder {path.parent} does not exist")
    return path


def write_cohort_html(cohort, path: Path, *, beat_config: BeatConfig | None = None,
                      feature_config: FeatureConfig | None = None) -> Path:
    """Draw ``cohort`` on one self-contained page at ``path`` (refusing to overwrite a file that is not one).

    Raises
    ------
    HfecgError
        ``path`` is a folder, its folder is missing, or it is another program's file.
    """
    path = check_html_target(path)
    feature_config = feature_config or FeatureConfig()
    info = cohort.describe()
    table, beats, labels = record_table(cohort, beat_config, feature_config.min_beats)
    fs = float(table["fs"].iloc[0]) if len(table) else float("nan")
    figs = [embed(overview_plot(table), "overview", "classes, sampling rates, durations and beats per record")]
    if beats:
        figs.append(embed(averaged_beat_plot(beats, labels, fs), "beat", "one averaged beat per class, 12 leads",
                          "Averaged beat per class: the median over the class's records of each record's "
                          "signal-averaged beat (aligned on R)."))
    excluded = [{"record": e["record"], "reason": e["reason"]} for e in info.get("excluded") or []]
    excluded += [{"record": r["record"], "reason": r["unusable"]} for _, r in table.iterrows() if r["unusable"]]
    dur = info.get("duration_s") or {}
    summary = [("dataset", info.get("dataset")), ("records", info.get("n_records")),
               ("patients", f"{info.get('n_patients')} ({info.get('n_positive')} positive, "
                            f"{info.get('n_negative')} negative)"),
               ("sampling rate", f"{info.get('fs')} Hz"), ("leads", ", ".join(info.get("leads") or [])),
               ("duration (s)", f"min {dur.get('min')}, median {dur.get('median')}, max {dur.get('max')}, "
                                f"total {dur.get('total')}"),
               ("beats kept per record", f"median {int(table['kept'].median()) if len(table) else 0}, "
                                         f"min {int(table['kept'].min()) if len(table) else 0}")]
    if info.get("resampled"):
        summary.append(("resampled", f"to {info['resampled']['to_hz']:g} Hz ({info['resampled']['method']})"))
    records = {"header": ["record", "patient", "label", "fs (Hz)", "duration (s)", "beats detected", "beats kept"],
               "text_cols": 2,
               "rows": [[r["record"], r["patient"], "" if r["label"] is None else str(r["label"]), f"{r['fs']:g}",
                         f"{r['duration_s']:.1f}", str(r["detected"]), str(r["kept"])] for _, r in table.iterrows()]}
    return write_page(path, "cohort.html.j2", generator=GENERATOR, info=info, summary=summary, figures=figs,
                      excluded=excluded, records=records)


__all__ = ["GENERATOR", "averaged_beat_plot", "check_html_target", "overview_plot", "record_table", "write_cohort_html"]
