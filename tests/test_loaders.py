"""Loaders: every problem of a folder found in one pass, named; --skip-bad; real PTB sample counts."""
import csv
import hashlib

import numpy as np
import pytest
import wfdb

from hfecg_bench.data import load_cohort
from hfecg_bench.data.validate import LoadOptions
from hfecg_bench.errors import DataProblemsError, HfecgError
from hfecg_bench.leads import STANDARD_LEADS

WFDB_NAMES = ["i", "ii", "iii", "avr", "avl", "avf", "v1", "v2", "v3", "v4", "v5", "v6"]


def _write(folder, name, sig, fs=1000):
    d = np.round(sig * 2000).astype(np.int16)
    wfdb.wrsamp(name, fs=fs, units=["mV"] * sig.shape[1], sig_name=WFDB_NAMES[: sig.shape[1]], d_signal=d,
                fmt=["16"] * sig.shape[1], adc_gain=[2000.0] * sig.shape[1], baseline=[0] * sig.shape[1],
                write_dir=str(folder))


def _signal(seed, n=3000, leads=12):
    rng = np.random.default_rng(seed)
    t = np.arange(n) / 1000
    return (np.sin(2 * np.pi * 1.2 * t)[:, None] * rng.uniform(0.5, 1.5, leads) + rng.normal(0, 0.02, (n, leads)))


def _folder(tmp_path, rows):
    for rid, *_ in rows:
        _write(tmp_path, rid, _signal(hash(rid) % 1000))
    with open(tmp_path / "labels.csv", "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["record", "patient_id", "label"])
        w.writerows(rows)
    return tmp_path


def _digest(folder):
    return {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(folder.iterdir())}


def test_clean_folder_loads(tmp_path):
    folder = _folder(tmp_path, [("r1", "p1", 0), ("r2", "p1", 0), ("r3", "p2", 1)])
    c = load_cohort("wfdb", data_dir=folder)
    assert [r.record_id for r in c.records] == ["r1", "r2", "r3"]
    assert c.records[0].lead_names == STANDARD_LEADS
    assert c.records[0].signal.dtype == np.float32 and c.records[0].signal.shape == (3000, 12)
    assert abs(float(c.records[2].signal[100, 0]) - float(np.round(_signal(hash("r3") % 1000)[100, 0] * 2000) / 2000)) < 1e-6
    assert c.describe()["n_patients"] == 2


def test_all_problems_reported_together_and_files_untouched(tmp_path):
    folder = _folder(tmp_path, [(f"r{i}", f"p{i}", i % 2) for i in range(1, 10)])
    dat = folder / "r1.dat"
    dat.write_bytes(dat.read_bytes()[:1000])                                 # truncated
    sig = _signal(5)
    sig[:, 4] = 0.25                                                         # flat aVL
    _write(folder, "r2", sig)
    sig = _signal(6)
    sig[100:300, 1] = np.nan                                                 # NaN run in II
    d = np.round(np.nan_to_num(sig, nan=0) * 2000).astype(np.int16)
    d[100:300, 1] = -32768
    wfdb.wrsamp("r3", fs=1000, units=["mV"] * 12, sig_name=WFDB_NAMES, d_signal=d, fmt=["16"] * 12,
                adc_gain=[2000.0] * 12, baseline=[0] * 12, write_dir=str(folder))
    _write(folder, "r4", _signal(7, leads=11))                               # V6 missing
    _write(folder, "extra", _signal(8))                                      # no row
    rows = list(csv.reader(open(folder / "labels.csv")))
    rows.append(["ghost", "pg", "1"])                                        # no record
    rows[5][2] = "yes"                                                       # r5: label not binary
    rows.append(["r6", "p9", "1"])                                           # duplicate row
    rows[7] = ["r7", "p2", "1"]                                              # r7 joins p2 (label 0) with label 1
    with open(folder / "labels.csv", "w", newline="") as f:
        csv.writer(f).writerows(rows)
    before = _digest(folder)
    with pytest.raises(DataProblemsError) as info:
        load_cohort("wfdb", data_dir=folder)
    reasons = {p.record: p.reason for p in info.value.problems}
    assert "truncated" in reasons["r1"]
    assert "flat lead aVL" in reasons["r2"]
    assert "NaN run in lead II: 200 invalid samples" in reasons["r3"]
    assert "missing required lead" in reasons["r4"] and "V6" in reasons["r4"]
    assert "label 'yes'" in reasons["r5"]
    assert "duplicate record" in reasons["r6"]
    assert "patient p2's records disagree on the label" in reasons["r7"]
    assert "patient p2's records disagree on the label" in reasons["r2"]
    assert "no record" in reasons["ghost"]
    assert "no row" in reasons["extra"]
    c = load_cohort("wfdb", data_dir=folder, options=LoadOptions(skip_bad=True))
    excluded = {e.record for e in c.excluded}
    assert excluded == {"r1", "r2", "r3", "r4", "r5", "r6", "ghost", "extra", "r7"}
    assert {r.record_id for r in c.records} == {"r8", "r9"}
    assert _digest(folder) == before


def test_patient_label_disagreement_names_both_records(tmp_path):
    folder = _folder(tmp_path, [("a", "P", 0), ("b", "P", 1), ("c", "Q", 1)])
    with pytest.raises(DataProblemsError) as info:
        load_cohort("wfdb", data_dir=folder)
    names = sorted(p.record for p in info.value.problems)
    assert names == ["a", "b"]
    assert all("patient P" in p.reason for p in info.value.problems)


@pytest.mark.parametrize("fs, allow, ok", [(500, False, False), (500, True, True), (250, True, False), (2000, False, True)])
def test_sampling_rate_rule(tmp_path, fs, allow, ok):
    _write(tmp_path, "r1", _signal(1), fs=fs)
    (tmp_path / "labels.csv").write_text("record,patient_id,label\nr1,p1,0\n")
    if ok:
        c = load_cohort("wfdb", data_dir=tmp_path, options=LoadOptions(allow_low_fs=allow))
        assert c.records[0].fs == fs
    else:
        with pytest.raises(DataProblemsError, match=f"{fs} Hz is below"):
            load_cohort("wfdb", data_dir=tmp_path, options=LoadOptions(allow_low_fs=allow))


def test_npz_and_beat_files(tmp_path):
    rng = np.random.default_rng(0)
    X = rng.normal(size=(12, 400, 12)).astype(np.float32)
    y = np.repeat([0, 1, 0], 4)
    pid = np.repeat(["a", "b", "c"], 4)
    np.savez(tmp_path / "b.npz", X=X, y=y, patient_ids=pid, fs=1000)
    c = load_cohort("npz", data_dir=tmp_path / "b.npz")
    assert [r.beats.shape for r in c.records] == [(4, 400, 12)] * 3
    assert c.patient_labels() == {"a": 0, "b": 1, "c": 0}
    y_bad = y.copy()
    y_bad[0] = 1
    np.savez(tmp_path / "bad.npz", X=X, y=y_bad, patient_ids=pid, fs=1000)
    with pytest.raises(DataProblemsError, match="a: beats of patient a disagree"):
        load_cohort("npz", data_dir=tmp_path / "bad.npz")
    folder = tmp_path / "beats"
    folder.mkdir()
    for i in range(12):
        np.save(folder / f"{pid[i]}_beat_{i % 4}.npy", X[i])
    (folder / "labels.csv").write_text("patient_id,label\na,0\nb,1\nc,0\n")
    c = load_cohort("beats", data_dir=folder)
    np.testing.assert_array_equal(c.records[1].beats, X[4:8])
    assert "assumed 1000" in c.info["fs_source"]


def test_missing_folder_and_unknown_dataset(tmp_path):
    with pytest.raises(HfecgError, match="not found"):
        load_cohort("wfdb", data_dir=tmp_path / "nope")
    with pytest.raises(HfecgError, match="unknown dataset"):
        load_cohort("edf", data_dir=tmp_path)


def test_ptbdb_sample_counts(ptb_sample):
    c = load_cohort("ptbdb", data_dir=ptb_sample / "ptbdb")
    d = c.describe()
    assert (d["n_records"], d["n_patients"], d["n_positive"], d["n_negative"]) == (38, 28, 8, 20)
    assert len(c.excluded) == 29
    assert d["excluded_diagnoses"]["Bundle branch block"] == 14
    rec = next(r for r in c.records if r.record_id == "patient001/s0010_re")
    assert rec.label == 1 and rec.signal.shape == (38400, 15) and rec.lead_names[:3] == ("I", "II", "III")


def test_ptbdb_any_disease_vs_control(ptb_sample):
    diseases = ("Myocardial infarction", "Bundle branch block", "Hypertrophy", "Cardiomyopathy", "Dysrhythmia",
                "Valvular heart disease", "Myocarditis")
    # the sample holds one heart under two PTB ids (patient249/s0484_re and patient250/s0485_re: the same beat
    # in all 12 leads, amplitudes within 2 %): refused by default, named with both records
    with pytest.raises(DataProblemsError, match="patient250/s0485_re.*same heart as patient249/s0484_re"):
        load_cohort("ptbdb", data_dir=ptb_sample / "ptbdb", options=LoadOptions(ptb_positive=diseases))
    pair = (("patient249/s0484_re", "patient250/s0485_re"),)
    c = load_cohort("ptbdb", data_dir=ptb_sample / "ptbdb", options=LoadOptions(ptb_positive=diseases,
                                                                                 same_patient=pair))
    assert c.describe()["n_patients"] == 52          # 54 minus the one 'n/a' patient, 249 and 250 as one
    assert [e.record for e in c.excluded] == ["patient200/s0405_re"]


def test_tseal_wfdb_folder(ptb_sample):
    c = load_cohort("wfdb", data_dir=ptb_sample / "tseal")
    d = c.describe()
    assert (d["n_records"], d["n_patients"], d["n_positive"], d["n_negative"]) == (10, 9, 3, 6)
    assert c.records[0].meta["diagnosis"] == "Healthy control"
