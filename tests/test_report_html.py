"""report.html and `data describe --html`: self-contained pages whose numbers are the run's own.

One small run (synthetic ``hf_effect``, 30 patients x 10 s, logreg + xgb + dummy, 3 folds, no tuning) feeds
every test; the planted answer (``truth.json``: the HF-QRS of positives is reduced in some leads) is what the
HF-QRS view and the permutation importance must show.
"""
from __future__ import annotations

import base64
import json
import re
import shutil
import subprocess
from dataclasses import replace
from html.parser import HTMLParser
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from scipy.stats import spearmanr
from sklearn.metrics import roc_auc_score

import hfecg_bench as hb
from hfecg_bench.cli import main
from hfecg_bench.config import load_run_config
from hfecg_bench.evaluation.folds import make_fold_plan
from hfecg_bench.features.config import FeatureConfig
from hfecg_bench.features.hf import raz_scan
from hfecg_bench.models.base import ModelData
from hfecg_bench.models.registry import get_spec
from hfecg_bench.pipeline.fold import fold_task, run_fold
from hfecg_bench.report.hfqrs import lead_effects
from hfecg_bench.report.hfview import load_hf_view, raz_dips
from hfecg_bench.report.importance import importance_summary, load_importance
from hfecg_bench.report.plots import calibration_table, roc_band
from hfecg_bench.report.render import render_report
from hfecg_bench.report.sections import SECTIONS

VOID = {"area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "source", "track", "wbr"}
PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


class Page(HTMLParser):
    """Tags, attributes, text and tag balance of a page (html.parser)."""

    def __init__(self):
        super().__init__()
        self.stack, self.unbalanced, self.imgs, self.urls, self.text, self.ids, self.h2 = [], [], [], [], [], [], []

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if tag not in VOID:
            self.stack.append(tag)
        if tag == "img":
            self.imgs.append(a.get("src") or "")
        self.urls += [a[k] for k in ("src", "href", "action", "poster") if a.get(k)]
        if tag in ("h2", "section") and a.get("id"):
            self.ids.append(a["id"])

    def handle_endtag(self, tag):
        if tag in VOID:
            return
        if not self.stack or self.stack[-1] != tag:
            self.unbalanced.append(tag)
        else:
            self.stack.pop()

    def handle_data(self, data):
        self.text.append(data)
        if self.stack and self.stack[-1] == "h2":
            self.h2.append(data.strip())


def parse(path: Path) -> tuple[Page, str]:
    doc = path.read_text(encoding="utf-8")
    page = Page()
    page.feed(doc)
    page.close()
    return page, doc


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory) -> Path:
    cohort = hb.generate_cohort(preset="hf_effect", n_patients=30, duration_s=10, seed=1)
    out = tmp_path_factory.mktemp("report") / "run"
    with open(out.parent / "log.txt", "w") as log:
        hb.run(cohort, models=["logreg", "xgb", "dummy"], out=out, folds=3, trials=0, seed=0, stream=log)
    return out


def test_report_parses_and_is_self_contained(run_dir):
    page, doc = parse(run_dir / "report.html")
    assert not page.unbalanced and not page.stack, (page.unbalanced[:5], page.stack[:5])
    external = [u for u in page.urls if re.match(r"^\s*([a-z][a-z0-9+.-]*:|//)", u, re.I) and not u.startswith("data:")]
    assert external == []
    assert "<script" not in doc.lower() and "@import" not in doc and "url(" not in doc
    assert len(page.imgs) >= 8
    for src in page.imgs:
        assert src.startswith("data:image/png;base64,")
        assert base64.b64decode(src.split(",", 1)[1])[:8] == PNG_MAGIC


def test_report_sections_in_the_issues_order(run_dir):
    page, _ = parse(run_dir / "report.html")
    wanted = [s for s, _ in SECTIONS]
    assert [i for i in page.ids if i in wanted] == wanted
    heads = [h.lower() for h in page.h2]
    starts = ["1. verdict", "2. leaderboard", "3. roc curves", "4. calibration", "5. the hf-qrs view",
              "6. feature importance", "7. deep training curves", "8. patients"]
    assert [h for h in heads if h[:1].isdigit()] == [next(h for h in heads if h.startswith(s)) for s in starts]
    text = " ".join(page.text).lower()
    assert text.find("verdict") < text.find("leaderboard")
    for word in ("permutation", "learning curve", "label-noise", "confound", "raz", "v1", "v6", "avl"):
        assert word in text, word


def test_patient_table_has_every_patient_and_model(run_dir):
    page, doc = parse(run_dir / "report.html")
    pred = pd.read_csv(run_dir / "predictions.csv", dtype={"patient_id": str})
    body = doc[doc.index('id="patients"'):]
    for pid in pred["patient_id"].unique():
        assert f'<td class="text">{pid}</td>' in body
    logreg = pred[pred["model"] == "logreg"].set_index("patient_id")["prob"]
    first = logreg.index[0]
    assert f"{logreg[first]:.2f}" in body[body.index(f'<td class="text">{first}</td>'):][:400]


def test_importance_is_out_of_fold_and_finds_the_planted_group(run_dir):
    rows = load_importance(run_dir)
    assert set(rows["model"]) == {"logreg", "xgb"}                      # classical only: not the dummy
    assert sorted(rows["fold"].unique()) == [0, 1, 2]
    s = importance_summary(rows)
    groups = s[s["kind"] == "group"].pivot_table(index="name", columns="model", values="auroc_drop")
    # hf_effect plants the label in the HF-QRS only: permuting it costs AUROC, the others cost less
    assert (groups.loc["hf"] > 0.05).all(), groups
    assert (groups.loc["hf"] > groups.drop(index="hf").max()).all(), groups
    _, doc = parse(run_dir / "report.html")
    section = doc[doc.index('id="importance"'):doc.index('id="training"')]
    row = re.search(r"<td class=\"text\">group</td><td class=\"text\">hf</td>(.*?)</tr>", section, re.S).group(1)
    values = [float(v) for v in re.findall(r"<td class=\"\">(-?\d+\.\d+)</td>", row)]
    assert len(values) == 2 and min(values) > 0.05


@pytest.mark.parametrize("model", ["logreg", "xgb"])
def test_importance_does_not_change_the_predictions(model):
    cohort = hb.generate_cohort(preset="hf_effect", n_patients=20, duration_s=10, seed=3)
    table = hb.extract_features(cohort)
    labels = table.frame.drop_duplicates("patient_id").set_index("patient_id")["label"].astype(int)
    plan = make_fold_plan(labels.sort_index(), n_folds=3, seed=1)
    cfg = load_run_config("quick")
    spec = get_spec(model).configure(cfg)
    task = fold_task(spec, plan, 1, seed=5, config=replace(cfg.evaluation, n_trials=0), profile="quick", study_db=None)
    assert task.importance_repeats > 0
    with_imp = run_fold(task, ModelData(features=table))
    plain = run_fold(replace(task, importance_repeats=0), ModelData(features=table))
    assert with_imp.predictions.to_csv() == plain.predictions.to_csv()
    assert np.array_equal(with_imp.predictions["prob"].to_numpy(), plain.predictions["prob"].to_numpy())
    assert plain.importance is None and len(with_imp.importance) > 4
    drop = {k: v for k, v in with_imp.summary.items() if k != "fit_seconds"}
    assert drop == {k: v for k, v in plain.summary.items() if k != "fit_seconds"}


def test_hf_view_shows_the_planted_leads(run_dir):
    truth = json.loads((run_dir / "truth.json").read_text())
    positives = [p for p in truth["patients"] if p["label"] == 1]
    view = load_hf_view(run_dir)
    assert view["mean_env"].shape[0] == 2 and view["n_patients"].tolist() == [21, 9]
    assert all(str(p) for p in view["typical_patient"])
    eff = lead_effects(pd.read_parquet(run_dir / "features.parquet"))
    # the generator reduces the HF-QRS of each positive in its own territory's leads: the more positives a lead
    # is planted in, the lower its per-lead AUROC and its positives' averaged HF envelope must be
    planted = np.array([np.mean([lead in p["affected_leads"] for p in positives]) for lead in eff.index])
    names = [str(x) for x in view["leads"]]
    qrs = (view["time_ms"] >= -40) & (view["time_ms"] <= 40)
    env = view["mean_env"][:, qrs][:, :, [names.index(lead) for lead in eff.index]].mean(axis=1)   # (2, n_leads)
    ratio = env[1] / env[0]
    assert spearmanr(planted, eff["auroc"]).statistic < -0.5, eff
    assert spearmanr(planted, ratio).statistic < -0.4, ratio
    top = (eff["auroc"] - 0.5).abs().idxmax()
    assert planted[list(eff.index).index(top)] >= np.median(planted) and eff.loc[top, "auroc"] < 0.5


def test_raz_dips_agree_with_the_feature_criterion():
    rng = np.random.default_rng(4)
    t = np.arange(120) / 1000.0
    centres = rng.uniform(0.02, 0.10, size=(3, 40))
    env = sum(rng.uniform(0.3, 1.0, 40) * np.exp(-((t[:, None] - centres[k]) / rng.uniform(0.004, 0.012, 40)) ** 2)
              for k in range(3))
    noise = np.where(rng.random(40) < 0.5, np.nan, rng.uniform(0.0, 0.1, 40))
    count, _, _ = raz_scan(env, 1000.0, noise, FeatureConfig())
    found = np.bincount([j for j, _, _ in raz_dips(env, 1000.0, noise)], minlength=40)
    assert found.tolist() == count.tolist() and count.sum() > 5


def test_roc_band_matches_the_auroc_and_calibration_counts():
    rng = np.random.default_rng(0)
    y = np.repeat([0, 1], [30, 20])
    p = np.round(rng.random(50) * 0.6 + 0.4 * y, 1)                      # rounded: many ties
    grid = np.linspace(0, 1, 2001)
    curve = roc_band(y, p, np.arange(50)[None, :], grid)[0]
    area = float(np.sum((curve[1:] + curve[:-1]) / 2 * np.diff(grid)))
    assert area == pytest.approx(roc_auc_score(y, p), abs=1e-3)
    t = calibration_table(y, p, n_bins=5)
    assert t["n"].sum() == 50 and ((t["lo"] <= t["observed"] + 1e-12) & (t["observed"] <= t["hi"] + 1e-12)).all()


def test_report_rerenders_without_refitting(run_dir, tmp_path):
    copy = tmp_path / "run"
    shutil.copytree(run_dir, copy)
    kept = {f: (copy / f).read_bytes() for f in ("predictions.csv", "metrics.csv", "diagnostics.json", "hf_view.npz")}
    (copy / "report.html").unlink()
    assert main(["report", str(copy)]) == 0
    assert all((copy / f).read_bytes() == b for f, b in kept.items())
    assert (copy / "report.html").read_text(encoding="utf-8").replace(str(copy), str(run_dir)) == \
        (run_dir / "report.html").read_text(encoding="utf-8")


def test_report_of_a_run_without_view_or_importance(run_dir, tmp_path):
    copy = tmp_path / "old"
    shutil.copytree(run_dir, copy)
    (copy / "hf_view.npz").unlink()
    for f in (copy / "fold_predictions").glob("*_importance.csv"):
        f.unlink()
    render_report(copy)
    page, doc = parse(copy / "report.html")
    assert "No hf_view.npz in this run directory" in doc and "No permutation importance in this run" in doc
    assert not page.unbalanced and all(s.startswith("data:image/png;base64,") for s in page.imgs)


def test_data_describe_html(tmp_path, capsys):
    out = tmp_path / "cohort.html"
    args = ["data", "describe", "--dataset", "synthetic", "--preset", "hf_effect", "--n-patients", "20", "--duration",
            "10", "--html", str(out)]
    assert main(args) == 0
    page, doc = parse(out)
    assert not page.unbalanced and len(page.imgs) == 2
    assert all(s.startswith("data:image/png;base64,") for s in page.imgs)
    text = " ".join(page.text)
    assert "Averaged beat per class" in text and "20 (6 positive, 14 negative)" in text
    assert main(args) == 0                                              # our own page: replaced
    foreign = tmp_path / "notes.html"
    foreign.write_text("<p>mine</p>")
    capsys.readouterr()
    assert main(args[:-1] + [str(foreign)]) == 2
    assert str(foreign) in capsys.readouterr().err and foreign.read_text() == "<p>mine</p>"


def _chromium() -> str | None:
    return shutil.which("chromium") or shutil.which("chromium-browser") or shutil.which("google-chrome")


@pytest.mark.skipif(_chromium() is None, reason="no Chromium on this machine (Debian package `chromium`): the "
                                                 "headless rendering of report.html is not checked here")
def test_chromium_renders_the_report(run_dir, tmp_path):
    from matplotlib.image import imread

    shot = tmp_path / "shot.png"
    subprocess.run([_chromium(), "--headless", "--no-sandbox", "--disable-gpu", f"--screenshot={shot}",
                    "--window-size=1280,3000", (run_dir / "report.html").as_uri()], capture_output=True, timeout=180)
    assert shot.exists() and shot.stat().st_size > 100_000
    img = imread(shot)[..., :3]
    # not blank: plenty of non-white pixels, and more than a couple of colours (text, plots, tables)
    assert (img.mean(axis=2) < 0.9).mean() > 0.05 and img.reshape(-1, 3).std(axis=0).mean() > 0.1
