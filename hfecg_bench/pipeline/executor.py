"""Where independent pieces of work run: in this process one after another, or as tasks on a Dask cluster.

Two executors share one small interface, so a caller (the (model, fold) units of :func:`~hfecg_bench.run`,
and later diagnostic refits) is written once:

- ``share(obj)``: a handle for a large input every call reads (the feature table, a beat view); the serial
  executor returns ``obj`` itself, the Dask one ships it to the cluster once instead of once per task.
- ``map(fn, items, *shared)``: ``[fn(item, *shared) for item in items]``, results in input order.
- ``as_completed(fn, items, *shared)``: yields ``(index, result)`` as calls finish (the serial executor in
  input order), so the caller can write each result as soon as it exists.
- ``submit(fn, *args, priority=0)``: one call whose ``.result()`` is asked for later; the Dask executor starts
  it when a worker is free (so it overlaps what the driver does meanwhile), the serial one makes the call
  when its result is first asked for.
- ``counts()``: ``{"done", "running", "queued"}`` of the calls of the current ``as_completed``/``map``.

``fn`` must be a module-level function (it is pickled to the workers) and a plain function of its
arguments, so that where and in which order it runs changes nothing in what it returns. The driver (the
process that calls the executor) stays the only writer of files: tasks return values.

:class:`DaskExecutor` runs on a local cluster of worker processes it starts (:meth:`DaskExecutor.local`,
``--jobs N``) or on an existing cluster (:meth:`DaskExecutor.connect`, ``--scheduler tcp://HOST:PORT``).
A worker that dies mid-task has its task rerun elsewhere by the Dask scheduler (the shared inputs are held
by the scheduler as tasks, so they are recomputed too); a cluster that goes away raises
:class:`ClusterLostError`. Dask is imported only when a Dask executor is made.

Examples
--------
>>> ex = make_executor()
>>> ex.map(pow, [1, 2, 3], ex.share(2))
[1, 4, 9]
>>> [(i, r) for i, r in ex.as_completed(abs, [-1, 2])], ex.counts()
([(0, 1), (1, 2)], {'done': 2, 'running': 0, 'queued': 0})
>>> ex.submit(divmod, 7, 2).result()
(3, 1)
>>> ex.close()
"""
from __future__ import annotations

import os
import threading
from typing import Any, Callable, Iterable, Iterator

from hfecg_bench.errors import HfecgError, ParameterError
from hfecg_bench.pipeline.dask_executor import (  # noqa: F401 (the executors' public names live here too)
    ClusterLostError, DaskExecutor, Submitted, _in_order, _resource_tracker_running, isolate_random)


class SerialExecutor:
    """Every call in this process, one after another (``--jobs 1``, the default): the behaviour of a plain loop."""

    kind = "serial"
    n_workers = 1

    def __init__(self) -> None:
        self._counts = {"done": 0, "running": 0, "queued": 0}

    def share(self, obj: Any) -> Any:
        return obj

    def map(self, fn: Callable, items: Iterable, *shared) -> list:
        """``[fn(item, *shared) for item in items]``."""
        return _in_order(self.as_completed(fn, items, *shared))

    def as_completed(self, fn: Callable, items: Iterable, *shared) -> Iterator[tuple[int, Any]]:
        """Yield ``(index, fn(item, *shared))`` in input order."""
        items = list(items)
        self._counts = {"done": 0, "running": 0, "queued": len(items)}
        for i, item in enumerate(items):
            self._counts.update(running=1, queued=len(items) - i - 1)
            result = fn(item, *shared)
            self._counts.update(done=i + 1, running=0)
            yield i, result

    def submit(self, fn: Callable, *args, priority: int = 0) -> "Deferred":
        """``fn(*args)`` as a :class:`Deferred`: called in this process when its result is first asked for."""
        return Deferred(fn, args)

    def counts(self) -> dict:
        return dict(self._counts)

    def describe(self) -> dict:
        """For the manifest: what ran the work."""
        return {"executor": self.kind, "workers": 1}

    def close(self) -> None:
        pass

    def __enter__(self):
        return self

    def __exit__(self, *exc) -> None:
        self.close()



class Deferred:
    """A call made in this process the first time :meth:`result` is asked for (what the serial executor's
    :meth:`~SerialExecutor.submit` returns: the work stays where a plain loop would do it).

    >>> d = Deferred(pow, (2, 10))
    >>> d.result(), d.result()
    (1024, 1024)
    """

    def __init__(self, fn: Callable, args: tuple):
        self._fn, self._args, self._done, self._value = fn, args, False, None

    def result(self):
        if not self._done:
            self._value, self._done = self._fn(*self._args), True
            self._fn = self._args = None   # the inputs (a cohort) are not kept alive by the answer
        return self._value



def check_parallel_args(jobs, scheduler) -> tuple[int | None, str | None]:
    """Validate ``jobs`` (an int >= 1, or None) and ``scheduler`` (``tcp://HOST:PORT`` or None, not both).

    >>> check_parallel_args(2, None)
    (2, None)
    >>> check_parallel_args(None, "tcp://127.0.0.1:8786")
    (None, 'tcp://127.0.0.1:8786')
    """
    if jobs is not None and (not isinstance(jobs, int) or isinstance(jobs, bool) or jobs < 1):
        raise ParameterError("jobs", jobs, "an integer >= 1 (1: serial, in this process)")
    if scheduler is not None:
        if not isinstance(scheduler, str) or ":" not in scheduler:
            raise ParameterError("scheduler", scheduler, "the address of a Dask scheduler, e.g. tcp://HOST:8786")
        if jobs not in (None, 1):
            raise ParameterError("jobs", jobs, "not together with a scheduler (the cluster has its own workers)")
    return jobs, scheduler


def make_executor(jobs: int | None = None, scheduler: str | None = None, *, env: dict | None = None):
    """The executor for ``jobs`` / ``scheduler``: serial (``jobs`` None or 1), a local Dask cluster of ``jobs``
    worker processes, or the existing cluster at ``scheduler``. Close it when done (or use ``with``)."""
    jobs, scheduler = check_parallel_args(jobs, scheduler)
    if scheduler is not None:
        return DaskExecutor.connect(scheduler)
    if jobs is None or jobs == 1:
        return SerialExecutor()
    return DaskExecutor.local(jobs, env=env)


class StartingExecutor:
    """An executor being made while the caller does other work: :func:`make_executor` in a background thread.

    A local cluster takes seconds to start its worker processes (and they take seconds to import their
    libraries: ``prepare(executor)``, e.g. a check that runs on every worker, is called right after); started
    here, that overlaps with the driver's feature extraction. An existing scheduler is connected to (and
    prepared) at once instead, so a wrong address fails before any work. :meth:`get` waits for the executor
    (raising what making or preparing it raised); :meth:`release` starts closing it in the background once
    the caller needs it no more (stopping a local cluster's worker processes takes seconds, which the caller's
    last steps overlap); :meth:`close` closes it (or waits for that) whether or not it was used.

    >>> starting = StartingExecutor(None, None)
    >>> type(starting.get()).__name__
    'SerialExecutor'
    >>> starting.release()
    >>> starting.get()
    Traceback (most recent call last):
    ...
    hfecg_bench.errors.HfecgError: the run's executor was released: nothing more can run on it
    >>> starting.close()
    """

    def __init__(self, jobs: int | None, scheduler: str | None, *, env: dict | None = None,
                 prepare: Callable | None = None):
        jobs, scheduler = check_parallel_args(jobs, scheduler)
        self._executor, self._error = None, None
        self._thread = self._closing = None
        self._prepare = prepare or (lambda executor: None)
        if scheduler is not None or jobs in (None, 1):
            self._executor = make_executor(jobs, scheduler, env=env)
            try:
                self._prepare(self._executor)
            except BaseException:
                self._executor.close()
                raise
        else:
            self._thread = threading.Thread(target=self._start, args=(jobs, env), daemon=True,
                                            name="hfecg-start-cluster")
            self._thread.start()

    def _start(self, jobs, env) -> None:
        try:
            self._executor = make_executor(jobs, None, env=env)
            self._prepare(self._executor)
        except BaseException as exc:  # noqa: BLE001 - raised in the caller's thread by get()
            self._error = exc

    def get(self):
        if self._closing is not None:
            raise HfecgError("the run's executor was released: nothing more can run on it")
        if self._thread is not None:
            self._thread.join()
        if self._error is not None:
            raise self._error
        return self._executor

    def release(self) -> None:
        """Close the executor in a background thread; :meth:`close` waits for it."""
        if self._closing is None:
            self._closing = threading.Thread(target=self._close_now, daemon=True, name="hfecg-stop-cluster")
            self._closing.start()

    def _close_now(self) -> None:
        if self._thread is not None:
            self._thread.join()
        if self._executor is not None:
            self._executor.close()

    def close(self) -> None:
        if self._closing is not None:
            self._closing.join()
        else:
            self._close_now()


def worker_cores(n_workers: int) -> int:
    """Cores each of ``n_workers`` worker processes on this machine gets (at least 1)."""
    return max(1, (os.cpu_count() or 1) // max(1, n_workers))


__all__ = ["ClusterLostError", "DaskExecutor", "Deferred", "SerialExecutor", "StartingExecutor", "Submitted",
           "check_parallel_args", "isolate_random", "make_executor", "worker_cores"]
