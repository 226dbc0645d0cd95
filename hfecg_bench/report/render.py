"""Render a run's report from its saved files only: no refitting, so `report RUN_DIR` takes seconds.

The markdown leaderboard and the PNG files stay for readers of the folder; ``report.html`` is the one page
with everything (:mod:`.sections`)."""
from __future__ import annotations

import json
import shlex
from pathlib import Path

import pandas as pd

from hfecg_bench.errors import HfecgError
from hfecg_bench.io import write_atomic, write_csv
from hfecg_bench.report import figures
from hfecg_bench.report.html import REPORT_FILE, write_page
from hfecg_bench.report.leaderboard import build_leaderboard, leaderboard_markdown_table
from hfecg_bench.report.sections import VERDICT_TEXT, report_context


def render_report(run_dir: Path) -> dict[str, Path]:
    """Write leaderboard.csv, leaderboard.md, figures/ and the self-contained report.html into ``run_dir``;
    return what was written."""
    run_dir = Path(run_dir)
    for need in ("metrics.csv", "predictions.csv"):
        if not (run_dir / need).exists():
            raise HfecgError(f"{run_dir} is not a finished run: {need} is missing")
    lb = build_leaderboard(run_dir)
    written = {"leaderboard.csv": write_csv(run_dir / "leaderboard.csv", lb, float_format="%.6g")}
    pred = pd.read_csv(run_dir / "predictions.csv", dtype={"patient_id": str})
    diag = json.loads((run_dir / "diagnostics.json").read_text()) if (run_dir / "diagnostics.json").exists() else None
    manifest = json.loads((run_dir / "manifest.json").read_text()) if (run_dir / "manifest.json").exists() else {}
    fig_dir = run_dir / "figures"
    order = list(lb["model"])
    written["roc"] = figures.roc_figure(pred, order, fig_dir / "roc.png")
    written["confusion"] = figures.confusion_figure(pred, order, fig_dir / "confusion.png")
    by_kind = {f["kind"]: f for f in (diag or {}).get("findings", [])}
    if by_kind.get("learning_curve", {}).get("points"):
        written["learning_curve"] = figures.learning_curve_figure(by_kind["learning_curve"], fig_dir / "learning_curve.png")
    if by_kind.get("ablation", {}).get("groups"):
        written["ablation"] = figures.ablation_figure(by_kind["ablation"], fig_dir / "ablation.png")
    for p in figures.training_curve_figures(run_dir / "fold_predictions", fig_dir):
        written[p.stem] = p
    md = markdown(lb, diag, manifest, [p for k, p in written.items() if p.suffix == ".png"], run_dir)
    written["leaderboard.md"] = write_atomic(run_dir / "leaderboard.md", md)
    written[REPORT_FILE] = write_page(run_dir / REPORT_FILE, "report.html.j2",
                                      **report_context(run_dir, lb, pred, diag, manifest))
    return written


def verdict_lines(diag: dict) -> list[str]:
    """The verdict, its causes with their evidence and p-values, and the reasons: the report's first section."""
    lines = [f"## Verdict: `{diag['verdict']}`", "", VERDICT_TEXT.get(diag["verdict"], ""), ""]
    causes = diag.get("causes") or []
    if causes:
        lines += ["Causes:", ""]
        for c in causes:
            p = c.get("p_value")
            shown = isinstance(p, (int, float)) and "p = " not in c["evidence"]     # most evidence states its p
            lines.append(f"- **{c['cause']}**: {c['evidence']}" + (f" (p = {p:.4g})" if shown else ""))
        lines.append("")
    lines += [f"- {r}" for r in diag.get("reasons", [])] + [""]
    confound = next((f for f in diag.get("findings", []) if f.get("kind") == "acquisition_confound"), None)
    if confound and not any(c.get("cause") == "acquisition_confound" for c in causes):
        lines += [f"Acquisition-confound check (is the label predictable from how the records were made?): "
                  f"{confound.get('summary', confound.get('status'))}", ""]
    return lines


def markdown(lb: pd.DataFrame, diag: dict | None, manifest: dict, figs: list[Path], run_dir: Path) -> str:
    """The readable report: cohort, leaderboard, verdict with its evidence, exclusions, figures, reproduction."""
    cohort = manifest.get("cohort") or (manifest.get("dataset") or {}).get("describe") or {}
    lines = ["# hfecg_bench leaderboard", ""]
    if cohort:
        lines += [f"Dataset **{cohort.get('dataset', '?')}**: {cohort.get('n_patients', '?')} patients "
                  f"({cohort.get('n_positive', '?')} positive, {cohort.get('n_negative', '?')} negative), "
                  f"{cohort.get('n_records', '?')} records at {cohort.get('fs', '?')} Hz. "
                  f"Profile `{manifest.get('profile', '?')}`, seed {manifest.get('seed', '?')}.", ""]
    if diag:
        lines += verdict_lines(diag)
    lines += ["## Leaderboard", "",
              "Patient-level out-of-fold metrics under one patient-wise fold plan (`folds.csv`) shared by every model; "
              "AUROC 95% CIs by Newcombe's score method (informative at AUROC 1), other metrics' by BCa patient "
              "bootstrap (the same resamples for every model); thresholds chosen on training patients only; DeLong p "
              "compares each model's AUROC with the best; `fold mean` is the mean of the per-fold AUROCs.", "",
              leaderboard_markdown_table(lb), ""]
    if diag:
        lines += ["## Diagnostics", ""]
        for f in diag.get("findings", []):
            tag = f.get("status", "ok")
            if f.get("significant") is not None and tag == "ok":
                tag = "significant" if f["significant"] else "not significant"
            lines.append(f"- **{f['kind']}** ({tag}): {f.get('summary', '')}")
            if f.get("patients"):
                shown = ", ".join(map(str, f["patients"][:20]))
                more = f" and {len(f['patients']) - 20} more" if len(f["patients"]) > 20 else ""
                lines.append(f"  - patients: {shown}{more}")
        lines.append("")
    excluded = cohort.get("excluded") or []
    extra = manifest.get("feature_exclusions") or []
    if excluded or extra:
        lines += ["## Excluded records", ""] + [f"- {e['record']}: {e['reason']}" for e in excluded + extra] + [""]
    if figs:
        lines += ["## Figures", ""] + [f"![{p.stem}]({p.relative_to(run_dir).as_posix()})" for p in figs] + [""]
    command = manifest.get("command")
    if command:  # a shell command line or a Python call, recorded as it was given
        lines += ["## Reproduce", "", "```", command if isinstance(command, str) else shlex.join(command), "```", ""]
    return "\n".join(lines)
