"""Where independent pieces of work run: in this process one after another, or as tasks on a Dask cluster.

Two executors share one small interface, so a caller (the (model, fold) units of :func:`~hfecg_bench.run`,
and later diagnostic refits) is written once:

- ``share(obj)``: a handle for a large input every call reads (the feature table, a beat view); the serial
  executor returns ``obj`` itself, the Dask one ships it to the cluster once instead of once per task.
- ``map(fn, items, *shared)``: ``[fn(item, *shared) for item in items]``, results in input order.
- ``as_completed(fn, items, *shared)``: yields ``(index, result)`` as calls finish (the serial executor in
  input order), so the caller can write each result as soon as it exists.
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
>>> ex.close()
"""
from __future__ import annotations

import logging
import os
import random
import threading
import time
import uuid
import warnings
from typing import Any, Callable, Iterable, Iterator

from hfecg_bench.errors import HfecgError, ParameterError

#: Dask event topic on which a task announces that it started (for the ``running`` count).
START_TOPIC = "hfecg-bench-task-start"
#: Seconds the driver waits for a lost scheduler to come back before it gives up on the run.
RECONNECT_GRACE_S = 20.0
#: Seconds to wait for a scheduler (``--scheduler``) to answer.
CONNECT_TIMEOUT_S = 30.0


class ClusterLostError(HfecgError):
    """The Dask cluster could not be reached, or went away while the run was waiting for it."""


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


def _in_order(pairs) -> list:
    out = {}
    for i, result in pairs:
        out[i] = result
    return [out[i] for i in range(len(out))]


#: The functions of :mod:`random` that draw from (or seed) its one shared generator.
RANDOM_FUNCTIONS = ("seed", "getstate", "setstate", "random", "uniform", "triangular", "randint", "choice",
                    "randrange", "sample", "shuffle", "choices", "normalvariate", "lognormvariate", "expovariate",
                    "vonmisesvariate", "gammavariate", "gauss", "betavariate", "paretovariate", "weibullvariate",
                    "getrandbits", "randbytes", "binomialvariate")


def isolate_random() -> bool:
    """Give each thread of this process its own :mod:`random` generator; True when it was not done before.

    Keras seeds Python's ``random`` (``keras.utils.set_random_seed``) and draws its layers' default seeds from
    it. In a Dask worker the event-loop thread draws from the same shared generator at times that depend on
    the network (heartbeat jitter, choosing a peer to fetch data from), so a deep model trained there got
    other initial weights than in a serial run (measured: leadwise_cnn predictions differed from the first
    decimal). With one generator per thread, the unit's thread sees only its own seeding and draws. The
    module's functions are replaced by ones that dispatch to the calling thread's ``random.Random`` (seeded
    from the OS for a thread that never seeds it); code holding the original functions keeps the shared one.
    """
    if getattr(random, "_hfecg_per_thread", False):
        return False
    local = threading.local()

    def mine() -> random.Random:
        gen = getattr(local, "gen", None)
        if gen is None:
            gen = local.gen = random.Random()
        return gen

    def dispatch(name):
        def call(*args, **kwargs):
            return getattr(mine(), name)(*args, **kwargs)
        call.__name__ = call.__qualname__ = name
        call.__doc__ = getattr(random.Random, name).__doc__
        return call

    for name in RANDOM_FUNCTIONS:
        if hasattr(random, name):
            setattr(random, name, dispatch(name))
    random._hfecg_per_thread = True
    return True


def _quiet_dask_logs() -> dict:
    """Silence Dask's loggers in the driver (reconnection tracebacks, worker and shuffle chatter): the executor
    reports what matters (a lost cluster, a task's error) as one message. Returns the levels to restore."""
    names = ["distributed"] + [n for n in logging.root.manager.loggerDict if n.startswith("distributed.")]
    saved = {n: logging.getLogger(n).level for n in names}
    for n in names:
        logging.getLogger(n).setLevel(logging.CRITICAL)
    return saved


def _identity(obj):
    return obj


def _started(fn: Callable, token: str, item, *shared):
    """Run ``fn`` on a worker after telling the driver it started (``running`` in the progress counts), with
    this worker's threads drawing from their own :mod:`random` generators (:func:`isolate_random`)."""
    isolate_random()
    try:
        from distributed import get_worker

        get_worker().log_event(START_TOPIC, token)
    except Exception:  # noqa: BLE001 - not on a worker (called directly): nothing to tell
        pass
    return fn(item, *shared)


class DaskExecutor:
    """Calls as tasks on a Dask cluster (``dask.distributed``), through a :class:`distributed.Client`.

    Use :meth:`local` (start a cluster of worker processes for this run) or :meth:`connect` (an existing
    scheduler). Tasks carry no Dask retries of their own: an error a task raises is the answer (it would be
    raised again), while a task whose worker died is rescheduled by the scheduler (up to its
    ``distributed.scheduler.allowed-failures``).
    """

    kind = "dask"

    def __init__(self, client, *, cluster=None, address: str | None = None):
        self.client, self.cluster, self.address = client, cluster, address or client.scheduler.address
        self._log_levels = _quiet_dask_logs()
        self._lock = threading.Lock()
        self._started: set[str] = set()
        self._pending: dict = {}
        self._yielded = 0
        self._counts = {"done": 0, "running": 0, "queued": 0}
        try:
            client.subscribe_topic(START_TOPIC, self._on_start)
        except Exception:  # noqa: BLE001 - no event support: unfinished tasks count as queued
            pass

    # ------------------------------------------------------------------ construction

    @classmethod
    def local(cls, n_workers: int, *, env: dict | None = None) -> "DaskExecutor":
        """Start a local cluster of ``n_workers`` single-threaded worker processes (stopped by :meth:`close`).

        ``env`` is set in each worker process before it starts; Dask's own defaults set
        ``OMP_NUM_THREADS``, ``MKL_NUM_THREADS`` and ``OPENBLAS_NUM_THREADS`` to 1 in its workers.
        """
        from distributed import Client, LocalCluster

        try:
            cluster = LocalCluster(n_workers=n_workers, threads_per_worker=1, processes=True, host="127.0.0.1",
                                   dashboard_address=None, silence_logs=logging.CRITICAL, env=dict(env or {}))
        except Exception as exc:  # noqa: BLE001 - ports, process limits
            raise ClusterLostError(f"could not start a local Dask cluster of {n_workers} worker processes: "
                                   f"{type(exc).__name__}: {exc}") from None
        return cls(Client(cluster, timeout=CONNECT_TIMEOUT_S), cluster=cluster)

    @classmethod
    def connect(cls, address: str, *, timeout: float | None = None) -> "DaskExecutor":
        """Use the existing cluster whose scheduler listens at ``address`` (``tcp://HOST:PORT``); wait at most
        ``timeout`` seconds (default :data:`CONNECT_TIMEOUT_S`) for it to answer."""
        from distributed import Client

        try:
            client = Client(address, timeout=timeout or CONNECT_TIMEOUT_S)
        except (OSError, TimeoutError) as exc:
            raise ClusterLostError(f"cannot reach the Dask scheduler at {address} ({type(exc).__name__}: {exc}); "
                                   "start it (`dask scheduler`, then `dask worker ADDRESS`) or check the address"
                                   ) from None
        return cls(client, address=address)

    # ------------------------------------------------------------------ the interface

    @property
    def n_workers(self) -> int:
        try:
            return max(1, len(self.client.scheduler_info(n_workers=-1)["workers"]))
        except Exception:  # noqa: BLE001 - scheduler gone: the next wait says so
            return 1

    def share(self, obj: Any):
        """A future of ``obj`` held by the scheduler as a task, so a worker that dies with it loses nothing.

        The object travels in the task graph once per run (a scattered copy could not be recomputed after
        a worker death); Dask's advice against large graphs does not apply, so its warning is silenced.
        """
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", message="Sending large graph", category=UserWarning)
            return self.client.submit(_identity, obj, pure=False, key=f"hfecg-shared-{uuid.uuid4().hex}")

    def map(self, fn: Callable, items: Iterable, *shared) -> list:
        """``[fn(item, *shared) for item in items]`` on the cluster, results in input order."""
        return _in_order(self.as_completed(fn, items, *shared))

    def as_completed(self, fn: Callable, items: Iterable, *shared) -> Iterator[tuple[int, Any]]:
        """Submit every call (earlier items first, by Dask priority), then yield ``(index, result)`` as they
        finish; a task's error is raised here."""
        from distributed import as_completed

        items = list(items)
        batch = uuid.uuid4().hex[:8]
        futures = {}
        with self._lock:
            self._started.clear()
        for i, item in enumerate(items):
            token = f"{batch}-{i}"
            fut = self.client.submit(_started, fn, token, item, *shared, pure=False, priority=len(items) - i,
                                     key=f"hfecg-{getattr(fn, '__name__', 'task')}-{token}")
            futures[fut] = (i, token)
        self._pending, self._yielded = dict(futures), 0
        self._update()
        waiting = as_completed(list(futures))
        for done in range(1, len(items) + 1):
            fut = self._next(waiting)
            i = futures[fut][0]
            result = self._result(fut)
            del self._pending[fut]
            self._yielded = done
            self._update()
            yield i, result
        self._pending = {}

    def _next(self, waiting):
        """The next finished future, watching the connection: a scheduler gone for longer than
        :data:`RECONNECT_GRACE_S` ends the wait with :class:`ClusterLostError`."""
        lost_since = None
        while True:
            try:
                batch = waiting.next_batch(block=False)
            except StopIteration:
                raise ClusterLostError(self._lost_message("its tasks were cancelled")) from None
            if batch:
                for extra in batch[1:]:
                    waiting.add(extra)  # one at a time: the others come back in the next calls
                return batch[0]
            status = getattr(self.client, "status", "running")
            if status in ("closed", "closing"):
                raise ClusterLostError(self._lost_message("the connection was closed"))
            if status != "running":
                lost_since = lost_since or time.monotonic()
                if time.monotonic() - lost_since > RECONNECT_GRACE_S:
                    raise ClusterLostError(self._lost_message(f"no answer for {RECONNECT_GRACE_S:.0f} s"))
            else:
                lost_since = None
            time.sleep(0.1)

    def _result(self, fut):
        from distributed.client import FutureCancelledError

        try:
            return fut.result()
        except FutureCancelledError:
            raise ClusterLostError(self._lost_message("its tasks were cancelled")) from None
        except HfecgError:
            raise
        except (OSError, TimeoutError) as exc:
            raise ClusterLostError(self._lost_message(f"{type(exc).__name__}: {exc}")) from None
        except Exception as exc:  # noqa: BLE001
            if "deserialization of the task graph" in str(exc):  # the scheduler cannot unpickle the task
                raise HfecgError(f"the Dask scheduler at {self.address} cannot read the tasks ({exc.__cause__ or exc}):"
                                 " it needs this package installed, as the driver has it") from None
            if type(exc).__name__ == "KilledWorker":
                raise HfecgError(f"a task was running on each of the workers that died ({exc}); the Dask cluster "
                                 "keeps losing workers (out of memory?): check the workers' logs") from None
            raise

    def _lost_message(self, why: str) -> str:
        return (f"the Dask cluster at {self.address} went away ({why}); every result received so far was "
                "written: start the cluster again and rerun the same command to resume")

    def _on_start(self, event) -> None:
        _, token = event
        with self._lock:
            self._started.add(str(token))

    def _update(self) -> None:
        """Counts over the current batch: finished (yielded or not yet), started and unfinished, the rest."""
        with self._lock:
            started = set(self._started)
        finished = [fut.done() for fut in self._pending]
        running = sum(1 for fut, f in zip(self._pending, finished) if not f and self._pending[fut][1] in started)
        self._counts = {"done": self._yielded + sum(finished), "running": running,
                        "queued": len(self._pending) - sum(finished) - running}

    def counts(self) -> dict:
        self._update()
        return dict(self._counts)

    def describe(self) -> dict:
        info = {"executor": self.kind, "scheduler": "local" if self.cluster is not None else self.address}
        try:
            workers = self.client.scheduler_info(n_workers=-1)["workers"]
            info["workers"] = len(workers)
            info["threads_per_worker"] = sorted({w.get("nthreads", 1) for w in workers.values()})
        except Exception:  # noqa: BLE001
            pass
        return info

    def close(self) -> None:
        """Close the client, and the local cluster when this executor started it."""
        try:
            self.client.close(timeout=10)
        except Exception:  # noqa: BLE001 - already gone
            pass
        if self.cluster is not None:
            try:
                self.cluster.close(timeout=10)
            except Exception:  # noqa: BLE001
                pass
        for name, level in self._log_levels.items():
            logging.getLogger(name).setLevel(level)
        self._log_levels = {}

    def __enter__(self):
        return self

    def __exit__(self, *exc) -> None:
        self.close()


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
    (raising what making or preparing it raised); :meth:`close` closes it whether or not it was used.

    >>> starting = StartingExecutor(None, None)
    >>> type(starting.get()).__name__
    'SerialExecutor'
    >>> starting.close()
    """

    def __init__(self, jobs: int | None, scheduler: str | None, *, env: dict | None = None,
                 prepare: Callable | None = None):
        jobs, scheduler = check_parallel_args(jobs, scheduler)
        self._executor, self._error = None, None
        self._thread = None
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
        if self._thread is not None:
            self._thread.join()
        if self._error is not None:
            raise self._error
        return self._executor

    def close(self) -> None:
        if self._thread is not None:
            self._thread.join()
        if self._executor is not None:
            self._executor.close()


def worker_cores(n_workers: int) -> int:
    """Cores each of ``n_workers`` worker processes on this machine gets (at least 1)."""
    return max(1, (os.cpu_count() or 1) // max(1, n_workers))


__all__ = ["ClusterLostError", "DaskExecutor", "SerialExecutor", "StartingExecutor", "check_parallel_args",
           "isolate_random", "make_executor", "worker_cores"]
