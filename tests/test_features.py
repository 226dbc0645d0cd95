"""Features: known answers from the synthetic generator, NaN/exclusion rules, cache, real PTB records."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy.signal import resample_poly
from scipy.stats import spearmanr

from hfecg_bench.bands import HF_BAND_HZ
from hfecg_bench.cohort import Cohort, Record
from hfecg_bench.data import generate_cohort
from hfecg_bench.data.resample import resample_cohort
from hfecg_bench.errors import ParameterError
from hfecg_bench.features import FeatureConfig, extract_features, split_column
from hfecg_bench.leads import STANDARD_LEADS as LEADS

GROUPS = ("hf", "wavelet", "spectral", "conventional")


@pytest.fixture(scope="module")
def synth():
    cohort = generate_cohort(preset="hf_effect", seed=21, n_patients=40, duration_s=20)
    table = extract_features(cohort, cache_dir=False)
    return cohort, table


def _truth(cohort):
    return {p["patient_id"]: p for p in cohort.info["truth"]["patients"]}


def test_table_layout(synth):
    cohort, table = synth
    df = table.frame
    assert list(df.columns[:3]) == ["record_id", "patient_id", "label"]
    assert len(df) == len(cohort.records) and not table.excluded
    assert table.groups() == list(GROUPS)
    for lead in LEADS:
        for g in GROUPS:
            assert any(c.startswith(f"{lead}__{g}__") for c in df.columns), (lead, g)
    for c in ("all__hf__sum_rms_uv", "all__hf__n_raz_leads", "all__conventional__qrs_ms", "V2__hf__rms_uv",
              "V2__hf__peak_env_uv", "V2__hf__noise_uv", "V2__hf__n_beats", "V2__spectral__qrs_bp_150_250_rel"):
        assert c in df.columns, c
    assert table.feature_columns("hf") == [c for c in df.columns if split_column(c) and split_column(c)[1] == "hf"]
    assert df[table.feature_columns()].isna().mean().mean() == 0.0 and not table.nan_log


def test_hf_rms_tracks_planted_truth(synth):
    cohort, table = synth
    truth = _truth(cohort)
    df = table.frame
    meas = df[[f"{lead}__hf__rms_uv" for lead in LEADS]].to_numpy()
    tru = np.array([[truth[p]["hf_rms_uv"][lead] for lead in LEADS] for p in df["patient_id"]])
    rho = spearmanr(meas.ravel(), tru.ravel()).correlation
    ratio = float(np.median(meas / tru))
    assert rho >= 0.85, rho
    assert 0.7 <= ratio <= 1.5, ratio
    assert np.allclose(df["all__hf__sum_rms_uv"], meas.sum(axis=1))
    # noise of the average is well below the signal; n_beats about duration x rate
    assert np.median(df["V2__hf__noise_uv"]) < 0.5 * np.median(df["V2__hf__rms_uv"])
    assert df["V2__hf__n_beats"].min() >= 10


def test_raz_more_often_in_planted_leads(synth):
    cohort, table = synth
    truth = _truth(cohort)
    df = table.frame
    raz = df[[f"{lead}__hf__raz" for lead in LEADS]].to_numpy()
    depth = df[[f"{lead}__hf__raz_depth" for lead in LEADS]].to_numpy()
    planted = np.array([[lead in truth[p]["raz_leads"] for lead in LEADS] for p in df["patient_id"]])
    assert planted.sum() >= 10
    assert raz[planted].mean() > raz[~planted].mean()
    assert np.median(depth[planted]) > np.median(depth[~planted]) + 0.1


def test_conventional_measures_match_truth(synth):
    cohort, table = synth
    truth = _truth(cohort)
    df = table.frame
    hr_truth = np.array([truth[p]["heart_rate_bpm"] for p in df["patient_id"]])
    assert np.median(np.abs(df["all__conventional__hr_bpm"] - hr_truth)) < 3
    qrs_truth = np.array([truth[p]["qrs_ms"] for p in df["patient_id"]])
    assert spearmanr(df["all__conventional__qrs_ms"], qrs_truth).correlation > 0.6
    assert np.all(df[[f"{lead}__conventional__r_amp_uv" for lead in LEADS]].to_numpy() >= 0)


def test_cache_does_not_change_results(synth, tmp_path):
    cohort, table = synth
    small = Cohort(cohort.records[:3], "synthetic")
    first = extract_features(small, cache_dir=tmp_path)
    second = extract_features(small, cache_dir=tmp_path)
    assert second.info["cache_hits"] == 3 and first.info["cache_misses"] == 3
    pd.testing.assert_frame_equal(first.frame, second.frame, check_exact=True)
    pd.testing.assert_frame_equal(first.frame, table.frame.iloc[:3].reset_index(drop=True), check_exact=True)
    other = extract_features(small, FeatureConfig(hf_band=(100, 250)), cache_dir=tmp_path)
    assert other.info["cache_hits"] == 0                         # a config change is a new key


def test_too_few_beats_excluded_and_missing_lead_logged(synth):
    cohort, _ = synth
    rec = cohort.records[0]
    short = Record("short_one", "px", 0, rec.fs, rec.lead_names, signal=rec.signal[: int(3 * rec.fs)].copy())
    keep = [i for i, n in enumerate(rec.lead_names) if n != "V6"]
    no_v6 = Record("no_v6", "py", 1, rec.fs, tuple(rec.lead_names[i] for i in keep),
                   signal=np.ascontiguousarray(rec.signal[:, keep]))
    table = extract_features(Cohort([short, no_v6], "memory"), cache_dir=False)
    assert list(table.frame["record_id"]) == ["no_v6"]
    assert [e.record for e in table.excluded] == ["short_one"]
    assert "usable beat" in table.excluded[0].reason and "min_beats=5" in table.excluded[0].reason
    assert table.frame.filter(like="V6__").isna().all().all()
    logged = {(r, lead, why) for r, lead, _, why in table.nan_log}
    assert ("no_v6", "V6", "lead absent from the record") in logged
    assert not table.frame.filter(like="V5__").isna().any().any()


def test_unlabelled_records_are_featurised_with_na_labels(synth):
    cohort, table = synth
    recs = cohort.records[:3]
    bare = [Record(r.record_id, r.patient_id, fs=r.fs, lead_names=[n.lower() for n in r.lead_names],
                   signal=r.signal) for r in recs]
    assert bare[0].label is None and bare[0].lead_names == LEADS        # "avr" etc. normalised
    out = extract_features(Cohort(bare, "memory"), cache_dir=False)
    assert str(out.frame["label"].dtype) == "Int64" and out.frame["label"].isna().all()
    feats = table.feature_columns()
    np.testing.assert_array_equal(out.frame[feats].to_numpy(), table.frame[feats].iloc[:3].to_numpy())
    # one labelled, two not: nullable integers, the labelled value kept
    mixed = extract_features(Cohort([recs[0]] + bare[1:], "memory"), cache_dir=False)
    assert mixed.frame["label"].tolist()[0] == recs[0].label and mixed.frame["label"].isna().sum() == 2
    assert table.frame["label"].dtype == np.int64                       # all labelled: plain int64 as before


def test_config_validation_and_profiles():
    assert FeatureConfig().as_dict()["hf_band"] == [150.0, 250.0] == list(HF_BAND_HZ)
    with pytest.raises(ParameterError, match="hf_band"):
        FeatureConfig(hf_band=(250, 150))
    assert FeatureConfig.for_profile("full").include_extra_leads
    with pytest.raises(ParameterError, match="groups"):
        FeatureConfig(groups=("hf", "nope"))
    with pytest.raises(ParameterError, match="wavelet"):
        FeatureConfig(wavelet="notawavelet")


def test_real_ptb_hf_rms_physiological(ptb_sample):
    from hfecg_bench.data import load_cohort

    cohort = load_cohort("ptbdb", data_dir=ptb_sample / "ptbdb")
    cohort = Cohort(cohort.records[2:8], "ptbdb")
    table = extract_features(cohort, cache_dir=False)
    assert len(table.frame) == 6 and not table.excluded
    v = table.frame[[f"{lead}__hf__rms_uv" for lead in LEADS]].to_numpy()
    assert 0.3 < np.nanmedian(v) < 60
    assert np.all((v.sum(axis=1) > 5) & (v.sum(axis=1) < 400)), v.sum(axis=1)


def test_cli_writes_table_and_names_exclusions(ptb_sample, tmp_path, capsys):
    from hfecg_bench.cli import main

    out = tmp_path / "f.parquet"
    code = main(["features", "--dataset", "wfdb", "--data-dir", str(ptb_sample / "tseal"), "--out", str(out),
                 "--no-cache"])
    assert code == 0
    df = pd.read_parquet(out)
    assert len(df) == 10 and list(df.columns[:3]) == ["record_id", "patient_id", "label"]
    text = capsys.readouterr().out
    assert "wrote 10 rows" in text and "excluded: 0 record(s)" in text
    assert main(["features", "--dataset", "wfdb", "--data-dir", str(ptb_sample / "tseal"),
                 "--out", str(tmp_path / "f.txt")]) == 2


def test_territory_features_pick_the_reduced_territory():
    from hfecg_bench.features.hf import territory_features
    from hfecg_bench.leads import STANDARD_LEADS

    rel = np.zeros(12)
    raz = np.zeros(12)
    for lead in ("II", "III", "aVF"):
        rel[STANDARD_LEADS.index(lead)] = np.log(0.65)
        raz[STANDARD_LEADS.index(lead)] = 1
    out = territory_features(rel, raz, STANDARD_LEADS)
    assert out["inferior_rel_rms"] == pytest.approx(np.log(0.65))
    assert out["anterior_rel_rms"] == 0.0 and out["lateral_rel_rms"] == 0.0
    assert out["min_territory_rel_rms"] == pytest.approx(np.log(0.65))
    assert out["min_territory_raz_leads"] == 3.0
    # a record without inferior leads: that territory is NaN, the minimum comes from the others
    names = [n for n in STANDARD_LEADS if n not in ("II", "III", "aVF")]
    keep = [STANDARD_LEADS.index(n) for n in names]
    out = territory_features(rel[keep], raz[keep], names)
    assert np.isnan(out["inferior_rel_rms"]) and out["min_territory_rel_rms"] == 0.0


def test_resampled_2000hz_records_give_the_1000hz_hf_rms():
    cohort = generate_cohort(preset="hf_effect", n_patients=6, duration_s=10, seed=3)
    fast = Cohort([Record(r.record_id, r.patient_id, r.label, fs=2000.0, lead_names=r.lead_names,
                          signal=resample_poly(r.signal.astype(np.float64), 2, 1, axis=0).astype(np.float32))
                   for r in cohort.records], dataset="memory")
    back = resample_cohort(fast, 1000.0)
    assert back.info["resampled"]["from"] == {"2000": 6} and {r.fs for r in back.records} == {1000.0}
    cfg = FeatureConfig(groups=("hf",))
    a = extract_features(cohort, cfg, cache_dir=False).frame
    b = extract_features(back, cfg, cache_dir=False).frame
    cols = [f"{lead}__hf__rms_uv" for lead in ("I", "II", "V2", "V4", "V6")]
    rel = np.abs(b[cols].to_numpy() / a[cols].to_numpy() - 1)
    assert rel.max() < 0.05, rel                       # within a few percent of the 1000 Hz originals
