"""The HF-QRS section of the report: per-lead HF RMS by class and its territory summary (from the feature table
the run saved) and the averaged HF-QRS waveforms with their envelopes and RAZ (from ``hf_view.npz``).

The per-lead numbers here describe the cohort (medians by class and the AUROC of each lead's HF RMS taken on
all patients); they are not validated predictors, which is what the out-of-fold leaderboard is for.

Examples
--------
>>> rng = np.random.default_rng(0)
>>> frame = pd.DataFrame({"patient_id": [f"p{i}" for i in range(40)], "label": np.repeat([0, 1], 20)})
>>> for lead in ("V2", "V5"):
...     frame[f"{lead}__hf__rms_uv"] = rng.lognormal(1.0, 0.2, 40)
...     frame[f"{lead}__hf__raz"] = 0.0
>>> frame.loc[frame["label"] == 1, "V2__hf__rms_uv"] *= 0.5         # positives lose half their V2 HF-QRS
>>> eff = lead_effects(frame)
>>> eff.loc["V2", "territory"], bool(eff.loc["V2", "auroc"] < 0.1), bool(abs(eff.loc["V5", "change_pct"]) < 20)
('anterior', True, True)
"""
from __future__ import annotations

import numpy as np
import pandas as pd
from matplotlib.colors import TwoSlopeNorm
from matplotlib.figure import Figure

from hfecg_bench.evaluation.metrics import auroc_rows
from hfecg_bench.leads import TERRITORIES
from hfecg_bench.leads import STANDARD_LEADS
from hfecg_bench.report.plots import CLASS_COLORS

#: Lead -> territory (aVR belongs to none).
TERRITORY_OF = {lead: terr for terr, leads in TERRITORIES.items() for lead in leads}
#: The usual 3 x 4 printout of a 12-lead ECG, used for the territory map.
ECG_GRID = (("I", "aVR", "V1", "V4"), ("II", "aVL", "V2", "V5"), ("III", "aVF", "V3", "V6"))
CLASS_NAMES = ("negative (0)", "positive (1)")


def per_patient(frame: pd.DataFrame, columns: list[str]) -> pd.DataFrame:
    """Mean of ``columns`` over each patient's records, with the patient's ``label``; index patient_id."""
    g = frame.assign(patient_id=frame["patient_id"].astype(str)).groupby("patient_id", sort=True)
    out = g[columns].mean()
    out["label"] = g["label"].first().astype(int)
    return out


def lead_effects(frame: pd.DataFrame) -> pd.DataFrame:
    """Per lead: median HF RMS (uV) by class, the positives' change in % of the negatives' median, the AUROC of
    the lead's HF RMS for the positive class (below 0.5: lower in positives), and the fraction of patients
    with a RAZ in that lead by class. Index: the standard leads present, in ECG order."""
    leads = [lead for lead in STANDARD_LEADS if f"{lead}__hf__rms_uv" in frame]
    if not leads:
        return pd.DataFrame()
    rms_cols = [f"{lead}__hf__rms_uv" for lead in leads]
    raz_cols = [c for c in (f"{lead}__hf__raz" for lead in leads) if c in frame]
    pp = per_patient(frame, rms_cols + raz_cols)
    y = pp["label"].to_numpy(int)
    R = pp[rms_cols].to_numpy(float)                                          # (n_patients, n_leads)
    med0, med1 = np.nanmedian(R[y == 0], axis=0), np.nanmedian(R[y == 1], axis=0)
    filled = np.where(np.isfinite(R), R, np.nanmedian(R, axis=0))
    auc = auroc_rows(np.broadcast_to(y, (len(leads), len(y))), filled.T)
    out = pd.DataFrame({"territory": [TERRITORY_OF.get(lead, "-") for lead in leads], "median_neg_uv": med0,
                        "median_pos_uv": med1, "change_pct": 100.0 * (med1 / med0 - 1.0), "auroc": auc},
                       index=pd.Index(leads, name="lead"))
    for c, name in ((0, "raz_neg"), (1, "raz_pos")):
        out[name] = [float(pp.loc[y == c, f"{lead}__hf__raz"].mean()) if f"{lead}__hf__raz" in pp else np.nan
                     for lead in leads]
    return out


def territory_effects(frame: pd.DataFrame) -> pd.DataFrame:
    """Per coronary territory (:data:`hfecg_bench.leads.TERRITORIES`): the leads, the median relative HF
    RMS (log of the territory's leads over the patient's median lead) by class, its AUROC, and the mean number
    of RAZ leads by class. Empty when the feature table has no territory features."""
    rows = []
    for terr, leads in TERRITORIES.items():
        rel, raz = f"all__hf__{terr}_rel_rms", f"all__hf__{terr}_raz_leads"
        if rel not in frame:
            continue
        pp = per_patient(frame, [c for c in (rel, raz) if c in frame])
        y = pp["label"].to_numpy(int)
        v = pp[rel].to_numpy(float)
        v = np.where(np.isfinite(v), v, np.nanmedian(v))
        rows.append({"territory": terr, "leads": ", ".join(leads),
                     "rel_neg": float(np.median(v[y == 0])), "rel_pos": float(np.median(v[y == 1])),
                     "auroc": float(auroc_rows(y[None, :], v[None, :])[0]),
                     "raz_leads_neg": float(pp.loc[y == 0, raz].mean()) if raz in pp else np.nan,
                     "raz_leads_pos": float(pp.loc[y == 1, raz].mean()) if raz in pp else np.nan})
    return pd.DataFrame(rows)


def discriminative_leads(effects: pd.DataFrame, k: int = 4) -> list[str]:
    """The ``k`` leads whose HF RMS separates the classes most (largest ``|AUROC - 0.5|``), in that order."""
    if effects.empty:
        return []
    return list((effects["auroc"] - 0.5).abs().sort_values(ascending=False, kind="mergesort").index[:k])


def rms_by_class_plot(frame: pd.DataFrame) -> Figure:
    """Box plots of each lead's HF RMS (uV, log scale, one value per patient) by class, leads in ECG order."""
    leads = [lead for lead in STANDARD_LEADS if f"{lead}__hf__rms_uv" in frame]
    pp = per_patient(frame, [f"{lead}__hf__rms_uv" for lead in leads])
    fig = Figure(figsize=(10, 3.6))
    ax = fig.subplots()
    x = np.arange(len(leads))
    for c in (0, 1):
        data = [pp.loc[pp["label"] == c, f"{lead}__hf__rms_uv"].dropna().to_numpy() for lead in leads]
        bp = ax.boxplot(data, positions=x + (c - 0.5) * 0.36, widths=0.32, patch_artist=True, showfliers=True,
                        flierprops={"markersize": 2})
        for box in bp["boxes"]:
            box.set(facecolor=CLASS_COLORS[c], alpha=0.45)
        n = int((pp["label"] == c).sum())
        ax.plot([], [], "s", color=CLASS_COLORS[c], alpha=0.6, label=f"{CLASS_NAMES[c]}, n={n}")
    ax.set_yscale("log")
    ax.set_xticks(x, leads)
    ax.set(ylabel="HF-QRS RMS (uV)", title="HF-QRS RMS per lead by class (one value per patient)")
    ax.legend(fontsize=8)
    return fig


def waveform_plot(view: dict, leads: list[str]) -> Figure:
    """Averaged HF-QRS per class for ``leads``: rows are leads, columns classes. In each panel: the class's mean
    envelope with its inter-quartile band over patients, a typical patient's HF waveform (grey) and envelope
    (dashed), the median QRS interval shaded, and the RAZ found on that envelope marked with triangles."""
    names = [str(x) for x in view["leads"]]
    leads = [lead for lead in leads if lead in names]
    t = view["time_ms"]
    fig = Figure(figsize=(9, 2.1 * max(len(leads), 1) + 0.4))
    axes = fig.subplots(max(len(leads), 1), 2, squeeze=False, sharex=True)
    for r, lead in enumerate(leads):
        j = names.index(lead)
        top = np.nanmax([np.nanmax(view["typical_wave"][:, :, j]), np.nanmax(view["env_q75"][:, :, j]), 1e-9])
        for c in (0, 1):
            ax = axes[r, c]
            col = CLASS_COLORS[c]
            if np.isfinite(view["qrs_ms"][c]).all():
                ax.axvspan(*view["qrs_ms"][c], color="0.93", zorder=0)
            ax.plot(t, view["typical_wave"][c, :, j], color="0.55", lw=0.7, label="typical patient: HF-QRS")
            ax.plot(t, view["typical_env"][c, :, j], color=col, lw=1, ls="--", label="its envelope")
            ax.fill_between(t, view["env_q25"][c, :, j], view["env_q75"][c, :, j], color=col, alpha=0.2, lw=0,
                            label="envelope IQR over patients")
            ax.plot(t, view["mean_env"][c, :, j], color=col, lw=1.8, label="mean envelope")
            hit = (view["raz_class"] == c) & (view["raz_lead"] == j)
            if hit.any():
                ms = view["raz_ms"][hit]
                ax.plot(ms, np.interp(ms, t, view["typical_env"][c, :, j]), "v", color="k", ms=7, label="RAZ")
            ax.set_ylim(-top * 1.05, top * 1.15)
            ax.set_title(f"{lead} - {CLASS_NAMES[c]}, n={int(view['n_patients'][c])}, "
                         f"typical {view['typical_patient'][c]}", fontsize=8)
            if c == 0:
                ax.set_ylabel("uV")
    for ax in axes[-1]:
        ax.set_xlabel("ms from R")
    if leads:   # one legend for all panels, in the top right one
        seen: dict = {}
        for ax in axes.ravel():
            for h, lab in zip(*ax.get_legend_handles_labels()):
                seen.setdefault(lab, h)
        axes[0, -1].legend(list(seen.values()), list(seen), fontsize=6, loc="upper right")
    return fig


def territory_plot(effects: pd.DataFrame) -> Figure:
    """The 12 leads in their usual printout grid, coloured by the positives' change of median HF RMS (%), each
    cell naming the lead, its territory, the change, the AUROC and the RAZ prevalence by class."""
    fig = Figure(figsize=(8, 3.6))
    ax = fig.subplots()
    M = np.array([[effects["change_pct"].get(lead, np.nan) for lead in row] for row in ECG_GRID], dtype=float)
    lim = max(float(np.nanmax(np.abs(M))) if np.isfinite(M).any() else 1.0, 1.0)
    im = ax.imshow(M, cmap="RdBu", norm=TwoSlopeNorm(0.0, -lim, lim), aspect="auto")
    for i, row in enumerate(ECG_GRID):
        for j, lead in enumerate(row):
            if lead not in effects.index:
                ax.text(j, i, f"{lead}\n(absent)", ha="center", va="center", fontsize=8)
                continue
            e = effects.loc[lead]
            dark = np.isfinite(e["change_pct"]) and abs(e["change_pct"]) > 0.6 * lim       # white on dark cells
            raz = (f"\nRAZ {e['raz_neg']:.0%} / {e['raz_pos']:.0%}" if np.isfinite(e.get("raz_neg", np.nan)) else "")
            ax.text(j, i, f"{lead} ({e['territory']})\n{e['change_pct']:+.0f}%  AUROC {e['auroc']:.2f}{raz}",
                    ha="center", va="center", fontsize=7.5, color="white" if dark else "black")
    ax.set_xticks([])
    ax.set_yticks([])
    ax.set_title("HF-QRS RMS of positives vs negatives by lead (median change; RAZ prevalence neg / pos)", fontsize=9)
    fig.colorbar(im, ax=ax, label="% change of median HF RMS")
    return fig


__all__ = ["CLASS_NAMES", "ECG_GRID", "TERRITORY_OF", "discriminative_leads", "lead_effects", "per_patient",
           "rms_by_class_plot", "territory_effects", "territory_plot", "waveform_plot"]
