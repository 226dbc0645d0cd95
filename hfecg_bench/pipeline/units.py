"""A (model, outer fold) unit as a task: run here against the run directory's study database, or on a
worker that has no access to the run directory.

On a worker the unit's Optuna study travels with it as its list of trials: the driver reads the study's
trials so far (if any) out of ``studies.db`` (:meth:`StudyStore.trials`), the worker puts them into a
temporary SQLite study and tunes there with the same code as a serial run (:func:`run_unit_remote`), and
the study's trials come back with the result, to replace the study in ``studies.db``
(:meth:`StudyStore.replace`) before the unit's files are written. Same trials, same sampler states, same
predictions; a unit interrupted on a worker restarts from the trials the driver holds and proposes the
same trials again. The driver keeps one storage connection for the run: opening an Optuna storage costs
more than copying a study's trials.

Examples
--------
>>> import tempfile, pathlib
>>> store = StudyStore(pathlib.Path(tempfile.mkdtemp()) / "studies.db")
>>> store.trials("rf-fold0") is None      # no study yet: the worker starts one
True
>>> store.close()
"""
from __future__ import annotations

import io
import os
import sys
import tempfile
from dataclasses import replace
from pathlib import Path

import optuna
from optuna.study import StudyDirection

from hfecg_bench.errors import HfecgError
from hfecg_bench.pipeline.executor import isolate_random
from hfecg_bench.pipeline.fold import FoldResult, run_fold
from hfecg_bench.pipeline.tuning import storage_url

#: Name of the study file inside a worker's temporary folder.
WORKER_DB = "unit_study.db"


class StudyStore:
    """The driver's side of the run's ``studies.db``: read a study's trials, replace a study by given trials.

    Parameters
    ----------
    path : Path
        The SQLite file (created on the first :meth:`replace`).
    """

    def __init__(self, path: Path):
        self.path, self._storage = Path(path), None

    def _open(self, create: bool):
        if self._storage is None and (create or self.path.exists()):
            self._storage = optuna.storages.RDBStorage(storage_url(self.path))
        return self._storage

    def _study_id(self, name: str) -> int | None:
        storage = self._open(create=False)
        if storage is None:
            return None
        try:
            return storage.get_study_id_from_name(name)
        except KeyError:
            return None

    def trials(self, name: str) -> list | None:
        """The trials (``FrozenTrial``) of study ``name``, or None when there is no such study."""
        sid = self._study_id(name)
        return None if sid is None else self._storage.get_all_trials(sid, deepcopy=False)

    def replace(self, name: str, trials: list) -> None:
        """Make study ``name`` hold exactly ``trials`` (in order), as a maximising study.

        If the driver stops between the deletion and the last trial the study is incomplete: the unit is
        not marked finished, and its rerun proposes the same trials again.
        """
        storage = self._open(create=True)
        sid = self._study_id(name)
        if sid is not None:
            storage.delete_study(sid)
        sid = storage.create_new_study([StudyDirection.MAXIMIZE], name)
        for trial in trials:
            storage.create_new_trial(sid, template_trial=trial)

    def close(self) -> None:
        if self._storage is not None:
            self._storage.remove_session()
            self._storage.engine.dispose()
            self._storage = None


def load_trials(db_path: Path, name: str, trials: list) -> None:
    """Create study ``name`` in a new SQLite file ``db_path`` holding ``trials`` (the worker's side)."""
    store = StudyStore(db_path)
    try:
        store.replace(name, trials)
    finally:
        store.close()


def run_unit_here(job: tuple, *, stream=None) -> tuple[FoldResult, None, str]:
    """Run a unit in this process; its study lives in the run directory's ``studies.db`` (``task.study_db``).

    ``job`` is ``(task, data, None)``; returns ``(result, None, "")`` (progress went to ``stream`` already).
    """
    task, data, _ = job
    return run_fold(task, data, stream=stream), None, ""


def run_unit_remote(job: tuple) -> tuple[FoldResult, list | None, str]:
    """Run a unit on a worker: ``job`` is ``(task, data, trials_or_None, tf_threads)``.

    Returns ``(result, trials_or_None, log)``: the study's trials after tuning (None when untuned) and what
    the unit printed (resumed study, failed trials), for the driver to show. Thread pools and the random
    generators are set up once per worker process (:func:`prepare_worker`).
    """
    task, data, trials, tf_threads = job
    prepare_worker(tf_threads)
    log = io.StringIO()  # not a terminal: tuning prints no carriage-return progress
    if task.study_db is None:
        return run_fold(task, data, stream=log), None, log.getvalue()
    with tempfile.TemporaryDirectory(prefix="hfecg-unit-") as tmp:
        db = Path(tmp) / WORKER_DB
        if trials is not None:
            load_trials(db, task.study_name, trials)
        result = run_fold(replace(task, study_db=db), data, stream=log)
        store = StudyStore(db)
        try:
            return result, store.trials(task.study_name), log.getvalue()
        finally:
            store.close()


_prepared: dict | None = None

def prepare_worker(tf_threads: int) -> dict:
    """Set up a worker process once: a :mod:`random` generator per thread (:func:`isolate_random`), quiet logs,
    and TensorFlow's intra-op threads equal to the driver's.

    TensorFlow's intra-op thread count changes the order of its floating-point reductions, hence the
    predictions (checked: 1 thread instead of 2 changes ``predictions.csv`` of a leadwise_cnn run), so
    workers use the count of the run, not one derived from their cores. RandomForest fits one tree at a time
    (its trees do not depend on the thread count), so two workers on two cores do not fight over them. BLAS /
    OpenMP pools stay at the
    one thread Dask gives its worker processes (no change in the numbers: the classical models' fits are
    the same with 1 or 2 BLAS threads).
    """
    global _prepared
    if _prepared is None:
        isolate_random()
        os.environ["HFECG_TF_THREADS"] = str(int(tf_threads))
        os.environ["HFECG_RF_THREADS"] = "1"   # one core per worker process; the same trees as with 2 threads
        from hfecg_bench.runtime import setup_runtime

        _prepared = setup_runtime(quiet=True) | {"pid": os.getpid()}
    return _prepared


def worker_versions() -> dict:
    """This process's versions of the packages that decide a run's numbers (run on each worker)."""
    from hfecg_bench.pipeline.manifest import package_versions

    return package_versions()


def check_workers(executor) -> None:
    """Refuse a cluster that cannot run the units or would compute other numbers: its scheduler (which unpickles
    the tasks) and each worker must import hfecg_bench and have the driver's versions of the packages in
    :func:`worker_versions`.

    Raises HfecgError naming the worker and what differs. Workers that join later are not checked.
    """
    client = getattr(executor, "client", None)
    if client is None:
        return
    try:  # the scheduler unpickles the tasks too
        seen = {"scheduler": client.run_on_scheduler(worker_versions)}
    except Exception as exc:  # noqa: BLE001 - e.g. it cannot unpickle a function of hfecg_bench
        raise HfecgError(f"the Dask scheduler at {executor.address} cannot load hfecg_bench ({exc}): install it "
                         "where the scheduler runs (the driver's version) and start the scheduler again") from None
    try:
        seen |= client.run(worker_versions)
    except Exception as exc:  # noqa: BLE001
        raise HfecgError(f"the Dask workers at {executor.address} cannot run hfecg_bench ({exc}): install it on "
                         "every worker (the driver's version) and start the workers again") from None
    mine = worker_versions()
    for worker, theirs in sorted(seen.items()):
        differ = {k: (theirs.get(k), v) for k, v in mine.items() if theirs.get(k) != v}
        if differ:
            shown = ", ".join(f"{k} {w} there vs {d} here" for k, (w, d) in sorted(differ.items()))
            raise HfecgError(f"Dask {'' if worker == 'scheduler' else 'worker '}{worker} has other package versions "
                             f"than this process ({shown}): results would differ; install the same versions on the "
                             "scheduler and every worker")


def unit_log(text: str, stream=None) -> None:
    """Print what a worker's unit printed, line by line, on the driver's ``stream``."""
    for line in text.splitlines():
        if line.strip():
            print(line.rstrip("\r"), file=stream or sys.stderr, flush=True)


__all__ = ["StudyStore", "check_workers", "load_trials", "prepare_worker", "run_unit_here",
           "run_unit_remote", "unit_log"]
