"""Data sources: one loader per `--dataset`, all returning a validated Cohort.

>>> from hfecg_bench.data import load_cohort          # doctest: +SKIP
>>> cohort = load_cohort("ptbdb", data_dir="ptbdb/")  # doctest: +SKIP
"""
from __future__ import annotations

from pathlib import Path

from hfecg_bench.cohort import Cohort
from hfecg_bench.data.validate import LoadOptions
from hfecg_bench.errors import HfecgError

DATASETS = ("synthetic", "ptbdb", "wfdb", "npz", "beats")


def load_cohort(dataset: str, *, data_dir: Path | None = None, labels: Path | None = None,
                options: LoadOptions | None = None, synth=None, beats_fs: float | None = None,
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
    synth : hfecg_bench.data.synthetic.SynthParams, optional
        Generator parameters for ``synthetic`` (preset, size, effect, seed).
    beats_fs : float, optional
        Sampling rate in Hz of a ``beats`` folder.
    progress : callable(i, n, name), optional
        Called once per record read.

    Raises
    ------
    DataProblemsError
        Listing every problem of the source, unless ``options.skip_bad``.
    HfecgError
        For a missing folder or unknown dataset.
    """
    options = options or LoadOptions()
    if dataset == "synthetic":
        from hfecg_bench.data.synthetic import SynthParams, generate_cohort

        return generate_cohort(synth or SynthParams())
    if dataset not in DATASETS:
        raise HfecgError(f"unknown dataset {dataset!r}; choose one of {list(DATASETS)}")
    if data_dir is None:
        raise HfecgError(f"--dataset {dataset} needs --data-dir")
    if dataset == "ptbdb":
        from hfecg_bench.data.ptbdb import load_ptbdb

        return load_ptbdb(Path(data_dir), options, progress=progress)
    if dataset == "wfdb":
        from hfecg_bench.data.wfdb_folder import load_wfdb_folder

        return load_wfdb_folder(Path(data_dir), labels, options, progress=progress)
    if dataset == "npz":
        from hfecg_bench.data.arrays import load_npz

        return load_npz(Path(data_dir), options)
    from hfecg_bench.data.arrays import load_beat_files

    return load_beat_files(Path(data_dir), labels, options, fs=beats_fs)
