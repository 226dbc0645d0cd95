"""Cohort, Record and lead-name normalisation."""
import numpy as np
import pytest

from hfecg_bench.cohort import Cohort, Excluded, Record
from hfecg_bench.errors import HfecgError, ParameterError
from hfecg_bench.leads import STANDARD_LEADS, normalize_lead, normalize_leads


def _rec(rid, pid, label, n=2000, fs=1000.0, leads=STANDARD_LEADS, seed=0):
    sig = np.random.default_rng(seed).normal(size=(n, len(leads))).astype(np.float32)
    return Record(record_id=rid, patient_id=pid, label=label, fs=fs, lead_names=tuple(leads), signal=sig)


@pytest.mark.parametrize("raw, canonical", [("avr", "aVR"), ("AVL", "aVL"), ("aVF", "aVF"), ("v1", "V1"),
                                            ("V-6", "V6"), ("i", "I"), ("MLII", "II"), ("vx", "vx"), (" Vz ", "Vz")])
def test_normalize_lead(raw, canonical):
    assert normalize_lead(raw) == canonical


def test_normalize_leads_keeps_order():
    assert normalize_leads(["v2", "i", "avr"]) == ("V2", "I", "aVR")


def test_describe_counts_patients_not_records():
    recs = [_rec("a1", "A", 1), _rec("a2", "A", 1, seed=1), _rec("b1", "B", 0, n=3000), _rec("c1", "C", 0)]
    c = Cohort(recs, "test", excluded=[Excluded("x", "flat lead V3")])
    d = c.describe()
    assert (d["n_records"], d["n_patients"], d["n_positive"], d["n_negative"]) == (4, 3, 1, 2)
    assert d["fs"] == 1000
    assert d["duration_s"]["max"] == 3.0 and d["duration_s"]["total"] == 9.0
    assert d["excluded"] == [{"record": "x", "reason": "flat lead V3"}]
    assert c.patient_labels() == {"A": 1, "B": 0, "C": 0}


def test_cohort_rejects_duplicate_ids_and_mixed_labels():
    with pytest.raises(HfecgError, match="duplicate record ids"):
        Cohort([_rec("a", "A", 1), _rec("a", "B", 0)], "t")
    with pytest.raises(HfecgError, match="disagree on the label.*A"):
        Cohort([_rec("a1", "A", 1), _rec("a2", "A", 0)], "t")


def test_record_checks_shape_and_label():
    with pytest.raises(HfecgError, match="r1.*12 lead names"):
        Record("r1", "p", 0, 1000.0, STANDARD_LEADS, signal=np.zeros((10, 3), np.float32))
    with pytest.raises(HfecgError, match="label must be 0, 1 or None"):
        Record("r1", "p", 2, 1000.0, STANDARD_LEADS, signal=np.zeros((10, 12), np.float32))


def test_fingerprint_changes_with_content_only():
    a = Cohort([_rec("a", "A", 1), _rec("b", "B", 0, seed=3)], "t")
    b = Cohort([_rec("b", "B", 0, seed=3), _rec("a", "A", 1)], "t")
    c = Cohort([_rec("a", "A", 1), _rec("b", "B", 0, seed=4)], "t")
    assert a.fingerprint() == b.fingerprint() != c.fingerprint()


def test_standard_signal_reorders_leads():
    leads = tuple(reversed(STANDARD_LEADS)) + ("vx",)
    r = _rec("a", "A", 0, leads=leads)
    out = r.standard_signal()
    assert out.shape == (2000, 12)
    np.testing.assert_array_equal(out[:, 0], r.signal[:, leads.index("I")])


def test_record_without_label_and_lead_names_normalised():
    sig = np.zeros((100, 3), np.float32)
    r = Record("u1", "U", fs=1000.0, lead_names=["avr", "v1", "MLII"], signal=sig)
    assert r.label is None and r.lead_names == ("aVR", "V1", "II")
    assert r.lead_index("aVR") == 0
    labelled = Record("l1", "L", np.int64(1), 1000.0, ["i", "ii", "iii"], signal=sig)
    assert labelled.label == 1 and type(labelled.label) is int
    for bad in (2, -1, 0.5, True, "1"):
        with pytest.raises(HfecgError, match="label must be 0, 1 or None"):
            Record("r1", "p", bad, 1000.0, ("I", "II", "III"), signal=sig)
    with pytest.raises(ParameterError, match="fs"):
        Record("r1", "p", 0, lead_names=("I", "II", "III"), signal=sig)
    with pytest.raises(ParameterError, match="lead_names"):
        Record("r1", "p", 0, 1000.0, signal=sig)


def test_cohort_of_unlabelled_records_describes_and_refuses_training():
    c = Cohort([_rec("a", "A", None), _rec("b", "B", 1, seed=1), _rec("c", "C", None, seed=2)], "t")
    assert not c.is_labelled and c.patient_labels() == {"A": None, "B": 1, "C": None}
    d = c.describe()
    assert (d["n_positive"], d["n_negative"], d["n_unlabelled"]) == (1, 0, 2)
    with pytest.raises(HfecgError, match="training needs one label.*2 record.*a, c"):
        c.require_labels("training")
    full = Cohort([_rec("b", "B", 1)], "t")
    assert full.is_labelled and full.require_labels() is full and "n_unlabelled" not in full.describe()
    with pytest.raises(HfecgError, match="disagree on the label"):
        Cohort([_rec("a1", "A", None), _rec("a2", "A", 1, seed=1)], "t")
