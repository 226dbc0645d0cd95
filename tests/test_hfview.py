"""The run's HF-QRS view file: the same view gives the same bytes (no clock time inside), it reads back array
for array, and a run computes it once, from its settings, here or wherever it was handed (a Dask worker)."""
from __future__ import annotations

import zipfile

import numpy as np
import pandas as pd
import pytest

import hfecg_bench as hb
from hfecg_bench.config import RunConfig
from hfecg_bench.report.hfview import (HF_VIEW_FILE, ZIP_TIME, hf_view, hf_view_needed, load_hf_view, run_hf_view,
                                       save_hf_view, write_run_hf_view)


@pytest.fixture(scope="module")
def cohort():
    return hb.generate_cohort(preset="hf_effect", n_patients=8, duration_s=10, seed=3)


@pytest.fixture(scope="module")
def view(cohort):
    return run_hf_view(cohort, RunConfig.for_profile("quick"), pd.Series(cohort.patient_labels()))


def same_arrays(a: dict, b: dict) -> bool:
    """Same keys, dtypes, shapes and bytes (NaN where NaN)."""
    return list(a) == list(b) and all(a[k].dtype == b[k].dtype and a[k].shape == b[k].shape
                                      and a[k].tobytes() == b[k].tobytes() for k in a)


def test_run_hf_view_is_hf_view_with_the_run_settings(cohort, view):
    cfg = RunConfig.for_profile("quick")
    labels = {str(k): int(v) for k, v in cohort.patient_labels().items()}
    direct = hf_view(cohort, cfg.beats, cfg.features, labels=labels)
    assert same_arrays({k: np.asarray(v) for k, v in direct.items()}, {k: np.asarray(v) for k, v in view.items()})
    assert view["n_patients"].tolist() == [6, 2] and view["mean_env"].shape == (2, len(view["time_ms"]), 12)


def test_saved_view_has_fixed_bytes_and_reads_back(tmp_path, view):
    for d in ("a", "b"):
        (tmp_path / d).mkdir()
    first, second = (save_hf_view(tmp_path / d, view).read_bytes() for d in ("a", "b"))
    assert first == second, "the same view, saved twice, gives the same file"
    with zipfile.ZipFile(tmp_path / "a" / HF_VIEW_FILE) as z:
        infos = z.infolist()
    assert [i.filename for i in infos] == [f"{k}.npy" for k in view]
    assert {i.date_time for i in infos} == {ZIP_TIME} and {i.compress_type for i in infos} == {zipfile.ZIP_DEFLATED}
    back = load_hf_view(tmp_path / "a")
    assert same_arrays(back, {k: np.asarray(v) for k, v in view.items()})
    assert back["leads"].dtype.kind == "U" and back["typical_patient"].tolist() == view["typical_patient"].tolist()


def test_view_changes_change_the_bytes(tmp_path, view):
    """The file depends on the arrays: a one-ulp change of one value is another file."""
    other = dict(view)
    other["mean_env"] = view["mean_env"].copy()
    i = np.flatnonzero(np.isfinite(other["mean_env"]))[0]
    other["mean_env"].flat[i] = np.nextafter(other["mean_env"].flat[i], np.inf)
    for d in ("a", "b"):
        (tmp_path / d).mkdir()
    assert save_hf_view(tmp_path / "a", view).read_bytes() != save_hf_view(tmp_path / "b", other).read_bytes()


def test_write_run_hf_view_computes_once_or_takes_the_given_view(tmp_path, cohort, view):
    cfg = RunConfig.for_profile("quick")
    labels = pd.Series(cohort.patient_labels())
    assert hf_view_needed(tmp_path, cohort)
    path = write_run_hf_view(tmp_path, cohort, cfg, labels, view=view)   # computed elsewhere: saved as given
    assert path == tmp_path / HF_VIEW_FILE and not hf_view_needed(tmp_path, cohort)
    saved = path.read_bytes()
    stale = {k: np.zeros_like(np.asarray(v)) for k, v in view.items()}
    assert write_run_hf_view(tmp_path, cohort, cfg, labels, view=stale) == path and path.read_bytes() == saved, \
        "a resumed run keeps the saved view"
    (tmp_path / "new").mkdir()
    computed = write_run_hf_view(tmp_path / "new", cohort, cfg, labels)
    assert computed.read_bytes() == saved, "computed here: the same file as the view computed elsewhere"
    empty = hb.Cohort([], dataset="features-only")
    assert not hf_view_needed(tmp_path / "none", empty)
    assert write_run_hf_view(tmp_path / "none", empty, cfg, labels) is None
