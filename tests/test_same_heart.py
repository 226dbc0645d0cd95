"""The same heart under two patient ids: found by identical samples or by averaged-beat shape."""
from __future__ import annotations

import shutil

import numpy as np
import pandas as pd
import pytest

from hfecg_bench.cohort import Cohort, Record
from hfecg_bench.data import generate_cohort, load_cohort
from hfecg_bench.data.same_heart import (DEFAULT_THRESHOLD, KIND_SAMPLES, KIND_SHAPE, find_same_heart,
                                         same_heart_problems)
from hfecg_bench.data.validate import LoadOptions
from hfecg_bench.data.wfdb_folder import load_wfdb_folder
from hfecg_bench.errors import DataProblemsError, ParameterError


@pytest.fixture(scope="module")
def syn40():
    return generate_cohort(n_patients=40, duration_s=20, seed=5)


def _tseal(tmp_path, sample, split: bool):
    folder = tmp_path / "tseal"
    shutil.copytree(sample / "tseal", folder)
    if split:
        lab = pd.read_csv(folder / "labels.csv", dtype=str)
        lab.loc[lab["record"] == "tseal08", "patient_id"] = "personA"
        lab.loc[lab["record"] == "tseal09", "patient_id"] = "personB"
        lab.to_csv(folder / "labels.csv", index=False)
    # the raw loader: load_cohort itself refuses a same-heart pair (tested below)
    return load_wfdb_folder(folder, folder / "labels.csv", LoadOptions())


def test_tseal08_09_under_two_ids_is_the_one_pair(tmp_path, ptb_sample):
    pairs = find_same_heart(_tseal(tmp_path, ptb_sample, split=True))
    assert [(p.record_a, p.record_b, p.patient_a, p.patient_b) for p in pairs] == [
        ("tseal08", "tseal09", "personA", "personB")]
    pair = pairs[0]
    assert pair.kind == KIND_SHAPE
    assert DEFAULT_THRESHOLD <= pair.similarity < 1.0      # measured 0.934: similar, not identical samples
    assert "tseal08" in pair.reason and "tseal09" in pair.reason and "same heart" in pair.reason
    assert [p.record for p in same_heart_problems(pairs)] == ["tseal09"]


def test_unmodified_tseal_has_no_pair(tmp_path, ptb_sample):
    cohort = _tseal(tmp_path, ptb_sample, split=False)
    assert (len(cohort), len(cohort.patient_ids)) == (10, 9)
    assert find_same_heart(cohort) == []


def _with_copy(cohort, src: int, *, noise_uv: float = 0.0, shift: int = 0, new_id="dup999"):
    rec = cohort.records[src]
    sig = np.roll(rec.signal, shift, axis=0).astype(np.float64)
    sig += np.random.default_rng(1).normal(0, noise_uv / 1000.0, sig.shape)
    copy = Record(new_id, "P_NEW", label=rec.label, fs=rec.fs, lead_names=rec.lead_names,
                  signal=sig.astype(np.float32))
    return Cohort(cohort.records + [copy], dataset="memory"), rec


def test_exact_copy_under_new_id_is_identical_samples(syn40):
    cohort, src = _with_copy(syn40, 7)
    pairs = find_same_heart(cohort)
    assert [(p.record_a, p.record_b, p.kind) for p in pairs] == [(src.record_id, "dup999", KIND_SAMPLES)]
    assert pairs[0].similarity == pytest.approx(1.0)
    assert pairs[0].patient_a == src.patient_id and pairs[0].patient_b == "P_NEW"


def test_noisy_shifted_copy_is_found_by_beat_shape(syn40):
    cohort, src = _with_copy(syn40, 12, noise_uv=10.0, shift=137)
    pairs = find_same_heart(cohort)
    assert [(p.record_a, p.record_b, p.kind) for p in pairs] == [(src.record_id, "dup999", KIND_SHAPE)]
    assert DEFAULT_THRESHOLD <= pairs[0].similarity < 0.99   # measured 0.914 (10 µV noise on 20 s)
    assert src.record_id in pairs[0].reason and "dup999" in pairs[0].reason
    problems = same_heart_problems(pairs)
    assert [p.record for p in problems] == ["dup999"] and "same heart" in problems[0].reason


def test_independent_synthetic_patients_are_not_flagged(syn40):
    assert find_same_heart(syn40) == []


def test_same_patient_copy_is_not_a_problem(syn40):
    rec = syn40.records[3]
    twin = Record("twin", rec.patient_id, label=rec.label, fs=rec.fs, lead_names=rec.lead_names,
                  signal=rec.signal.copy())
    assert find_same_heart(Cohort(syn40.records[:10] + [twin], dataset="memory")) == []


def test_threshold_is_validated(syn40):
    for bad in (0, 1.5, -0.2, "high", True):
        with pytest.raises(ParameterError, match="threshold"):
            find_same_heart(syn40, threshold=bad)


def test_loading_refuses_the_pair_excludes_it_with_skip_bad_or_merges_it(tmp_path, ptb_sample):
    """load_cohort runs the check on every file source: refuse, --skip-bad, or --same-patient."""
    _tseal(tmp_path, ptb_sample, split=True)
    folder = tmp_path / "tseal"
    with pytest.raises(DataProblemsError) as err:
        load_cohort("wfdb", data_dir=folder)
    assert [p.record for p in err.value.problems] == ["tseal09"] and "tseal08" in err.value.problems[0].reason
    kept = load_cohort("wfdb", data_dir=folder, options=LoadOptions(skip_bad=True))
    assert len(kept) == 9 and [e.record for e in kept.excluded] == ["tseal09"]
    assert [(p["record_a"], p["record_b"]) for p in kept.info["same_heart"]] == [("tseal08", "tseal09")]
    merged = load_cohort("wfdb", data_dir=folder, options=LoadOptions(same_patient=(("tseal08", "tseal09"),)))
    assert (len(merged), len(merged.patient_ids)) == (10, 9) and merged.info["same_heart"] == []
    assert {r.patient_id for r in merged.records if r.record_id in ("tseal08", "tseal09")} == {"personA"}
