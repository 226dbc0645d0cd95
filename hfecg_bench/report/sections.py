"""What ``report.html`` shows, section by section, built from the run directory's files only (no refitting):
the verdict with its evidence as plots, the leaderboard, ROC curves with bands, calibration, the HF-QRS view,
feature importance, deep training curves and the per-patient table. :func:`report_context` returns the
template's context; the drawing lives in :mod:`.plots`, :mod:`.hfqrs` and :mod:`.figures`.

Examples
--------
>>> pred = pd.DataFrame({"model": ["rf"] * 4 + ["svm"] * 4, "patient_id": ["a", "b", "c", "d"] * 2,
...                      "fold": [0, 0, 1, 1] * 2, "label": [0, 1, 0, 1] * 2, "threshold": 0.5,
...                      "prob": [0.2, 0.9, 0.7, 0.8, 0.6, 0.4, 0.1, 0.3]})
>>> diag = {"findings": [{"kind": "agreement", "patients": ["c"]}]}
>>> describe = {"excluded": [{"record": "r9", "reason": "no ECG found"}],
...             "same_heart": [{"patient_a": "b", "patient_b": "z"}]}
>>> t = patients_context(pred, ["rf", "svm"], diag, {"dataset": {"describe": describe}})
>>> [(r["patient"], [c["text"] for c in r["probs"]], [f["word"] for f in r["flags"]]) for r in t["rows"]]
... # doctest: +NORMALIZE_WHITESPACE
[('a', ['0.20', '0.60'], []), ('b', ['0.90', '0.40'], ['same heart']), ('c', ['0.70', '0.10'], ['all wrong']),
 ('d', ['0.80', '0.30'], []), ('r9', ['', ''], ['excluded'])]
>>> [[c["wrong"] for c in r["probs"]] for r in t["rows"][:4]]      # wrong side of the 0.5 threshold
[[False, True], [False, True], [True, False], [False, True]]
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from hfecg_bench.report import figures, hfqrs, plots
from hfecg_bench.report.hfview import load_hf_view
from hfecg_bench.report.html import embed, fmt_num, fmt_p
from hfecg_bench.report.importance import importance_summary, load_importance

VERDICT_TEXT = {
    "no_signal": "No model beats chance, and the cohort was large enough to see a moderate effect.",
    "data_limited": "There is signal (or the cohort is too small to tell), and more or cleaner data is what would "
                    "help.",
    "model_limited": "A model family misses, with significance, what another family finds on the same folds.",
    "near_ceiling": "The best model is near this cohort's ceiling: the projected gain from more patients is not "
                    "distinguishable from zero, and no model family misses the signal outright.",
    "undetermined": "A finding the verdict needs failed or was skipped; it is named below instead of being guessed.",
}
SECTIONS = (("verdict", "Verdict and its evidence"), ("leaderboard", "Leaderboard"), ("roc", "ROC curves"),
            ("calibration", "Calibration"), ("hfqrs", "HF-QRS view"), ("importance", "Feature importance"),
            ("training", "Deep training curves"), ("patients", "Patients"))
#: Findings drawn as evidence plots, in the order the issue asks for them.
EVIDENCE = ("signal", "learning_curve", "label_noise", "acquisition_confound")


def _status_tag(f: dict) -> str:
    tag = f.get("status") or "ok"
    if f.get("significant") is not None and tag == "ok":
        tag = "significant" if f["significant"] else "not significant"
    return tag


def _evidence(f: dict) -> dict:
    """One finding of :data:`EVIDENCE` as a titled plot with its summary (text only when it was not tested)."""
    kind = f["kind"]
    titles = {"signal": "Is there signal? Refitting permutation test",
              "learning_curve": "Would more patients help? Learning curve",
              "label_noise": "Are labels noisier than the overlap explains? Label-noise test",
              "acquisition_confound": "Is the label predictable from how records were made? Acquisition-confound check"}
    out = {"title": titles[kind], "summary": f.get("summary") or f.get("reason") or f.get("status", ""), "figure": None}
    if f.get("status", "ok") != "ok":
        out["summary"] = f"{f.get('status')}: {out['summary']}"
        return out
    q = f.get("null_quantiles")
    if kind == "signal" and q and f.get("observed_auroc") is not None:
        fig = plots.null_plot(q, f["observed_auroc"], title=f"Signal ({f.get('best_proxy', '')})",
                              xlabel=f"{f.get('statistic', 'AUROC')}", p_value=f.get("p_value"),
                              null_label=f"permutation null (max over proxies, {f.get('n_permutations', '?')} draws)")
        out["figure"] = embed(fig, "signal", "permutation null of the signal test with the observed AUROC")
    elif kind == "label_noise" and q and f.get("statistic") is not None:
        note = f"~{f.get('excess', 0):.0f} labels look flipped" if f.get("significant") else None
        stat, xlabel, p_value = f["statistic"], "likelihood-ratio statistic (noisy vs clean)", f.get("p_value")
        if isinstance(stat, dict):   # intersection-union test: show the direction that decides (the larger p)
            side = max(f["p_values"], key=f["p_values"].get)
            q, stat, p_value = q[side], stat[side], f["p_values"][side]
            xlabel = ("likelihood ratio: labelled " + ("positives in the negatives' bulk" if side == "rho0"
                                                        else "negatives in the positives' bulk") + " vs clean")
        fig = plots.null_plot(q, stat, title="Label noise", xlabel=xlabel, p_value=p_value,
                              null_label="clean-label null (parametric bootstrap)", note=note)
        out["figure"] = embed(fig, "label_noise",
                              "clean-label null of the label-noise statistic with the observed value")
    elif kind == "acquisition_confound" and q and f.get("auroc") is not None:
        fig = plots.null_plot(q, f["auroc"], title="Acquisition confound", p_value=f.get("p_value"),
                              xlabel="AUROC of the label from recording properties",
                              null_label=f"permutation null ({f.get('n_permutations', '?')} draws)")
        out["figure"] = embed(fig, "confound", "permutation null of the acquisition-confound check")
    elif kind == "learning_curve" and f.get("points"):
        out["figure"] = embed(figures.learning_curve_plot(f), "learning_curve",
                              "learning curve with its band and the projected gain at twice the patients")
    return out


def verdict_context(diag: dict | None) -> dict | None:
    """The verdict, its causes and reasons, the evidence plots and the other findings' summaries."""
    if not diag:
        return None
    by_kind = {f["kind"]: f for f in diag.get("findings", [])}
    evidence = [_evidence(by_kind.get(k) or {"kind": k, "status": "skipped", "summary": "not in diagnostics.json"})
                for k in EVIDENCE]
    other = [{"kind": f["kind"], "tag": _status_tag(f), "summary": f.get("summary", "")}
             for f in diag.get("findings", []) if f["kind"] not in EVIDENCE]
    return {"name": diag.get("verdict", "undetermined"), "text": VERDICT_TEXT.get(diag.get("verdict"), ""),
            "causes": diag.get("causes") or [], "reasons": diag.get("reasons") or [], "evidence": evidence,
            "other": other}


def leaderboard_table(lb: pd.DataFrame) -> dict:
    """The leaderboard as a table: AUROC with its CI, the other metrics, DeLong p, fit seconds."""
    header = ["rank", "model", "family", "input", "AUROC (95% CI)", "fold mean", "AUPRC", "bal. acc.", "sens.",
              "spec.", "F1", "MCC", "Brier", "train AUROC", "DeLong p vs best", "fit s"]
    rows = []
    for i, r in lb.iterrows():
        g = r.get
        rows.append([str(i + 1), r["model"], r["family"], r["input"],
                     f"{fmt_num(g('auroc'))} ({fmt_num(g('auroc_lo'))}–{fmt_num(g('auroc_hi'))})",
                     fmt_num(g("auroc_fold_mean")), fmt_num(g("auprc")), fmt_num(g("balanced_accuracy")),
                     fmt_num(g("sensitivity")), fmt_num(g("specificity")), fmt_num(g("f1")), fmt_num(g("mcc")),
                     fmt_num(g("brier")), fmt_num(g("train_auroc")),
                     "best" if g("delong_p", np.nan) >= 0.99999 else fmt_p(g("delong_p")),
                     fmt_num(g("fit_seconds"), 1)])
    return {"header": header, "rows": rows, "text_cols": 4}


def hf_context(run_dir: Path, manifest: dict) -> dict:
    """The HF-QRS section: per-lead RMS by class, lead and territory tables, waveforms of the most
    discriminative leads with RAZ, the 12-lead territory map."""
    band = (manifest.get("config") or {}).get("features", {}).get("hf_band", [150.0, 250.0])
    out: dict = {"band": f"{band[0]:g}-{band[1]:g} Hz", "top_leads": []}
    path = Path(run_dir) / "features.parquet"
    frame = pd.read_parquet(path) if path.exists() else pd.DataFrame()
    if frame.empty or "label" not in frame:
        out["note"] = "No feature table in this run directory: the per-lead HF-QRS view needs features.parquet."
        return out
    frame = frame[frame["label"].notna()]
    eff = hfqrs.lead_effects(frame)
    if eff.empty:
        out["note"] = "The feature table has no HF-QRS RMS columns (<lead>__hf__rms_uv)."
        return out
    out["rms"] = embed(hfqrs.rms_by_class_plot(frame), "hf_rms", "HF-QRS RMS per lead by class")
    out["lead_table"] = {"header": ["lead", "territory", "median HF RMS neg (uV)", "median HF RMS pos (uV)",
                                    "change in positives", "AUROC (pos vs neg)", "RAZ neg", "RAZ pos"],
                         "text_cols": 2,
                         "rows": [[lead, e["territory"], fmt_num(e["median_neg_uv"], 2), fmt_num(e["median_pos_uv"], 2),
                                   f"{e['change_pct']:+.1f}%" if np.isfinite(e["change_pct"]) else "–",
                                   fmt_num(e["auroc"]), _pct(e["raz_neg"]), _pct(e["raz_pos"])]
                                  for lead, e in eff.iterrows()]}
    out["territory"] = embed(hfqrs.territory_plot(eff), "territory", "12-lead territory map of the HF-QRS effect")
    terr = hfqrs.territory_effects(frame)
    if not terr.empty:
        out["territory_table"] = {
            "header": ["territory", "leads", "relative HF RMS neg (log)", "relative HF RMS pos (log)", "AUROC",
                       "RAZ leads neg (mean)", "RAZ leads pos (mean)"], "text_cols": 2,
            "rows": [[t["territory"], t["leads"], fmt_num(t["rel_neg"]), fmt_num(t["rel_pos"]), fmt_num(t["auroc"]),
                      fmt_num(t["raz_leads_neg"], 2), fmt_num(t["raz_leads_pos"], 2)] for _, t in terr.iterrows()]}
    view = load_hf_view(run_dir)
    out["top_leads"] = hfqrs.discriminative_leads(eff)
    if view is None or not len(view.get("time_ms", [])):
        out["waves_note"] = ("No hf_view.npz in this run directory (a run from features given precomputed, or "
                             "written before the HF view was saved): the waveforms need the signals.")
        return out
    out["waves"] = embed(hfqrs.waveform_plot(view, out["top_leads"]), "hf_waves",
                         "averaged HF-QRS waveforms and envelopes per class with RAZ marked")
    names = [str(x) for x in view["leads"]]
    found = [f"{names[j]} ({hfqrs.CLASS_NAMES[c].split()[0]}, {ms:.0f} ms, depth {d:.0%})"
             for c, j, ms, d in zip(view["raz_class"], view["raz_lead"], view["raz_ms"], view["raz_depth"])]
    out["raz_text"] = ("RAZ on the typical patients' envelopes: " + "; ".join(found) if found else
                       "No RAZ on the typical patients' envelopes (the RAZ columns of the table count them per "
                       "patient).")
    return out


def _pct(x) -> str:
    return "–" if x is None or not np.isfinite(x) else f"{x:.0%}"


def importance_context(run_dir: Path) -> dict | None:
    """The permutation-importance figure and table (mean AUROC drop over folds), or None without any."""
    rows = load_importance(run_dir)
    if rows.empty:
        return None
    s = importance_summary(rows)
    table = s.pivot_table(index=["kind", "name"], columns="model", values="auroc_drop", sort=False)
    order = table.mean(axis=1).sort_values(ascending=False).index
    table = table.loc[order]
    return {"figure": embed(plots.importance_plot(s), "importance", "permutation importance by feature group and lead"),
            "repeats": int(rows["n_repeats"].max()),
            "table": {"header": ["by", "group or lead", *[f"{m} AUROC drop" for m in table.columns]], "text_cols": 2,
                      "rows": [[k, "across leads" if n == "all" else n, *[fmt_num(v) for v in vals]] for (k, n), vals in
                               zip(table.index, table.to_numpy())]}}


def patients_context(pred: pd.DataFrame, order: list[str], diag: dict | None, manifest: dict) -> dict:
    """Per patient: label, fold, each model's probability (flagged when on the wrong side of its fold's
    threshold) and flags; excluded records last, with their reason."""
    findings = {f["kind"]: f for f in (diag or {}).get("findings", [])}
    all_wrong = set(map(str, findings.get("agreement", {}).get("patients") or []))
    noisy = set(map(str, findings.get("label_noise", {}).get("patients") or []))
    describe = (manifest.get("dataset") or {}).get("describe") or manifest.get("cohort") or {}
    same = {str(p[k]) for p in describe.get("same_heart") or [] for k in ("patient_a", "patient_b")}
    same |= {str(v) for v in (describe.get("merged_patients") or {}).values()}
    models = [m for m in order if m in set(pred["model"])]
    wide = pred.pivot_table(index="patient_id", columns="model", values="prob", sort=True)
    thr = pred.pivot_table(index="patient_id", columns="model", values="threshold", sort=True) \
        if "threshold" in pred else None
    first = pred.drop_duplicates("patient_id").set_index("patient_id").reindex(wide.index)
    rows = []
    for pid in wide.index:
        y = int(first.loc[pid, "label"])
        cells = []
        for m in models:
            p = wide.loc[pid, m] if m in wide else np.nan
            t = thr.loc[pid, m] if thr is not None and m in thr else 0.5
            cells.append({"text": fmt_num(p, 2), "wrong": bool(np.isfinite(p) and (p >= t) != (y == 1))})
        flags = ([{"word": "all wrong", "css": "allwrong"}] if pid in all_wrong else []) + \
                ([{"word": "label?", "css": "noise"}] if pid in noisy else []) + \
                ([{"word": "same heart", "css": "sameheart"}] if pid in same else [])
        rows.append({"patient": pid, "label": y, "fold": int(first.loc[pid, "fold"]) + 1, "probs": cells,
                     "flags": flags, "reason": ""})
    excluded = list(describe.get("excluded") or []) + list(manifest.get("feature_exclusions") or [])
    excluded += [{"record": p, "reason": "no usable features"} for p in manifest.get("patients_without_features") or []]
    for e in excluded:
        rows.append({"patient": str(e.get("record", "?")), "label": "", "fold": "",
                     "probs": [{"text": "", "wrong": False}] * len(models),
                     "flags": [{"word": "excluded", "css": "excluded"}], "reason": f" {e.get('reason', '')}".rstrip()})
    return {"models": models, "rows": rows}


def report_context(run_dir: Path, lb: pd.DataFrame, pred: pd.DataFrame, diag: dict | None, manifest: dict) -> dict:
    """Everything ``report.html.j2`` shows, in the issue's order."""
    run_dir = Path(run_dir)
    order = list(lb["model"])
    cohort = (manifest.get("dataset") or {}).get("describe") or manifest.get("cohort") or {}
    seed = (manifest.get("evaluation") or {}).get("bootstrap_seed", 0)
    findings = {f["kind"]: f for f in (diag or {}).get("findings", [])}
    ablation = findings.get("ablation", {})
    command = manifest.get("command")
    return {
        "cohort": {k: cohort.get(k, "?")
                   for k in ("dataset", "n_patients", "n_positive", "n_negative", "n_records", "fs")},
        "profile": manifest.get("profile", "?"), "seed": manifest.get("seed", "?"), "run_dir": str(run_dir),
        "sections": [{"id": i, "title": t} for i, t in SECTIONS],
        "verdict": verdict_context(diag),
        "leaderboard": leaderboard_table(lb),
        "roc": embed(plots.roc_ci_plot(pred, order, seed=int(seed) % 2**32), "roc",
                     "out-of-fold ROC curves with bootstrap bands",
                     "Patient-level out-of-fold ROC per model with a 95% pointwise band from patient bootstrap "
                     "resamples (the same resamples for every model)."),
        "calibration": embed(plots.calibration_plot(pred, order), "calibration",
                             "reliability diagrams of the out-of-fold probabilities",
                             "Reliability diagram: out-of-fold probabilities in five equal-width bins, the observed "
                             "fraction of positives per bin with its 95% Wilson interval, n = patients in the bin. "
                             "On the diagonal: probabilities mean what they say."),
        "hf": hf_context(run_dir, manifest),
        "importance": importance_context(run_dir),
        "ablation": embed(figures.ablation_plot(ablation), "ablation", "feature-group ablation") \
            if ablation.get("groups") else None,
        "training": [embed(fig, f"training_{m}", f"training curves of {m}")
                     for m, fig in figures.training_curve_plots(run_dir / "fold_predictions").items()],
        "patients": patients_context(pred, order, diag, manifest),
        "command": command if isinstance(command, str) or command is None else " ".join(map(str, command)),
    }


__all__ = ["EVIDENCE", "SECTIONS", "VERDICT_TEXT", "hf_context", "importance_context", "leaderboard_table",
           "patients_context", "report_context", "verdict_context"]
