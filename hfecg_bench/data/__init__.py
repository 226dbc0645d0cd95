"""Data sources: one loader per dataset, all returning a validated Cohort.

Examples
--------
>>> from hfecg_bench.data import generate_cohort, load_cohort
>>> from hfecg_bench.data.synthetic import SynthParams
>>> cohort = load_cohort("synthetic", synth=SynthParams(n_patients=20, duration_s=10, seed=1))
>>> cohort.dataset, len(cohort), cohort.describe()["fs"]
('synthetic', 20, 1000)
>>> cohort.fingerprint() == generate_cohort(n_patients=20, duration_s=10, seed=1).fingerprint()
True
>>> load_cohort("ptbdb")
Traceback (most recent call last):
...
hfecg_bench.errors.ParameterError: invalid data_dir=None: dataset 'ptbdb' needs data_dir, the folder it is read from
"""
from __future__ import annotations

from pathlib import Path

from hfecg_bench.cohort import Cohort
from hfecg_bench.data.arrays import load_beat_files, load_npz
from hfecg_bench.data.identity import check_same_heart, merge_patients
from hfecg_bench.data.ptbdb import load_ptbdb
from hfecg_bench.data.resample import resample_cohort
from hfecg_bench.data.synthetic import SynthParams, cohort_from_params, generate_cohort
from hfecg_bench.data.validate import HF_MIN_FS, LoadOptions
from hfecg_bench.data.wfdb_folder import load_wfdb_folder
from hfecg_bench.errors import ParameterError

DATASETS = ("synthetic", "ptbdb", "wfdb", "npz", "beats")


def load_cohort(dataset: str, *, data_dir: Path | None = None, labels: Path | None = None,
                options: LoadOptions | None = None, synth: SynthParams | None = None, beats_fs: float | None = None,
                progress=None) -> Cohort:
    """Load and validate a cohort.

    Parameters
    ----------
    dataset : {"synthetic", "ptbdb", "wfdb", "npz", "beats"}
    data_dir : Path
        Folder (or .npz file) of the source; not used for ``synthetic``.
    labels : Path, optional
        labels.csv for ``wfdb`` / ``beats`` (default ``data_dir/labels.csv``).
    options : LoadOptions
        Skip-bad, low-fs and class options.
    synth : SynthParams, optional
        Generator parameters for ``synthetic`` (preset, size, effect, seed); at least 5
        patients of each class, as cross-validation needs (:func:`generate_cohort` accepts fewer).
    beats_fs : float, optional
        Sampling rate in Hz of a ``beats`` folder.
    progress : callable(i, n, name), optional
        Called once per record read.

    Returns
    -------
    Cohort

    Raises
    ------
    DataProblemsError
        Listing every problem of the source (including records that look like the same heart under
        two patient ids, see :mod:`hfecg_bench.data.identity`), unless ``options.skip_bad``.
    ParameterError
        For an unknown dataset or a missing ``data_dir``.
    HfecgError
        For a missing folder.
    """
    options = options or LoadOptions()
    if dataset == "synthetic":
        cohort = cohort_from_params(synth or SynthParams())
        return resample_cohort(cohort, options.resample_to) if options.resample_to else cohort
    if dataset not in DATASETS:
        raise ParameterError("dataset", dataset, f"unknown dataset; choose one of {list(DATASETS)}")
    if data_dir is None:
        raise ParameterError("data_dir", None, f"dataset {dataset!r} needs data_dir, the folder it is read from")
    if dataset == "ptbdb":
        cohort = load_ptbdb(Path(data_dir), options, progress=progress)
    elif dataset == "wfdb":
        cohort = load_wfdb_folder(Path(data_dir), labels, options, progress=progress)
    elif dataset == "npz":
        cohort = load_npz(Path(data_dir), options)
    else:
        cohort = load_beat_files(Path(data_dir), labels, options, fs=beats_fs)
    # one heart, one patient id: before any fold plan can split a person
    return check_same_heart(merge_patients(cohort, options.same_patient), options, str(data_dir))


__all__ = ["DATASETS", "HF_MIN_FS", "LoadOptions", "SynthParams", "cohort_from_params", "generate_cohort",
           "load_cohort"]
