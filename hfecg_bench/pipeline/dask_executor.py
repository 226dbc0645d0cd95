"""The Dask side of :mod:`~hfecg_bench.pipeline.executor`: :class:`DaskExecutor` (a local cluster of worker
processes, or an existing cluster), the task wrappers, and the per-thread :mod:`random` generators that keep
Keras's weight seeds independent of which thread runs a task. Dask itself is imported only when a Dask
executor is made (or a task runs on a worker).
"""
from __future__ import annotations

import logging
import random
import threading
import time
import uuid
import warnings
from typing import Any, Callable, Iterable, Iterator

from hfecg_bench.errors import HfecgError

#: Dask event topic on which a task announces that it started (for the ``running`` count).
START_TOPIC = "hfecg-bench-task-start"
#: Seconds the driver waits for a lost scheduler to come back before it gives up on the run.
RECONNECT_GRACE_S = 20.0
#: Seconds to wait for a scheduler (``--scheduler``) to answer.
CONNECT_TIMEOUT_S = 30.0
#: Variables Dask sets in the worker processes it spawns (``distributed.nanny.pre-spawn-environ``) that a local
#: cluster of this package leaves unset. ``MALLOC_TRIM_THRESHOLD_`` fixes glibc's mmap threshold, so every
#: array above 128 kB is a fresh mmap whose pages fault in: NumPy code such as the HF-QRS view took 1.7x the
#: CPU time of the same call in the driver (2.8 s vs 1.65 s, 80 records). Dask sets it to hand freed memory
#: back to the OS sooner; without it, what a task frees stays with its worker process for the next task.
UNSET_WORKER_ENV = ("MALLOC_TRIM_THRESHOLD_",)


class ClusterLostError(HfecgError):
    """The Dask cluster could not be reached, or went away while the run was waiting for it."""


def _in_order(pairs) -> list:
    out = {}
    for i, result in pairs:
        out[i] = result
    return [out[i] for i in range(len(out))]


class Submitted:
    """A task running on a Dask cluster (:meth:`DaskExecutor.submit`); :meth:`result` waits for it like the
    executor's other waits (a lost cluster raises :class:`ClusterLostError`, a task's error is raised)."""

    def __init__(self, executor: "DaskExecutor", future):
        self._executor, self._future = executor, future

    def result(self):
        from distributed import as_completed

        return self._executor._result(self._executor._next(as_completed([self._future])))


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
        self._stop_tracker = False
        try:
            client.subscribe_topic(START_TOPIC, self._on_start)
        except Exception:  # noqa: BLE001 - no event support: unfinished tasks count as queued
            pass

    # ------------------------------------------------------------------ construction

    @classmethod
    def local(cls, n_workers: int, *, env: dict | None = None) -> "DaskExecutor":
        """Start a local cluster of ``n_workers`` single-threaded worker processes (stopped by :meth:`close`).

        ``env`` is set in each worker process once it runs; Dask's own defaults set ``OMP_NUM_THREADS``,
        ``MKL_NUM_THREADS`` and ``OPENBLAS_NUM_THREADS`` to 1 in its workers before they start (those in
        :data:`UNSET_WORKER_ENV` are not set).
        """
        import dask
        from distributed import Client, LocalCluster

        tracker_was_running = _resource_tracker_running()
        unset = {f"distributed.nanny.pre-spawn-environ.{name}": None for name in UNSET_WORKER_ENV}
        try:
            with dask.config.set(unset):  # read by each nanny as it is made, here
                cluster = LocalCluster(n_workers=n_workers, threads_per_worker=1, processes=True, host="127.0.0.1",
                                       dashboard_address=None, silence_logs=logging.CRITICAL, env=dict(env or {}))
        except Exception as exc:  # noqa: BLE001 - ports, process limits
            raise ClusterLostError(f"could not start a local Dask cluster of {n_workers} worker processes: "
                                   f"{type(exc).__name__}: {exc}") from None
        executor = cls(Client(cluster, timeout=CONNECT_TIMEOUT_S), cluster=cluster)
        executor._stop_tracker = not tracker_was_running
        return executor

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

    def submit(self, fn: Callable, *args, priority: int = 0) -> Submitted:
        """``fn(*args)`` as one task, started when a worker is free; ``priority`` orders it among the tasks waiting
        on that worker (the calls of :meth:`as_completed` have 1 and up). :meth:`Submitted.result` waits for it."""
        name = getattr(fn, "__name__", "task")
        return Submitted(self, self.client.submit(fn, *args, pure=False, priority=priority,
                                                  key=f"hfecg-{name}-{uuid.uuid4().hex[:8]}"))

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
        if self._stop_tracker:
            _stop_resource_tracker()
            self._stop_tracker = False
        for name, level in self._log_levels.items():
            logging.getLogger(name).setLevel(level)
        self._log_levels = {}

    def __enter__(self):
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def _resource_tracker_running() -> bool:
    from multiprocessing import resource_tracker

    return getattr(resource_tracker._resource_tracker, "_fd", None) is not None


def _stop_resource_tracker() -> None:
    """Stop the process :mod:`multiprocessing` started to track the spawned workers' semaphores.

    It holds a copy of this process's stderr, which the runtime routes through a filtering helper process
    (:mod:`hfecg_bench.runtime`) that flushes at exit once every writer is gone; the tracker goes only when
    this process does, so every ``--jobs`` run waited 5 s at exit for nothing. Stopped once the workers are.
    """
    from multiprocessing import resource_tracker

    stop = getattr(resource_tracker._resource_tracker, "_stop", None)  # private: without it, the wait stays
    if stop is not None:
        try:
            stop()
        except Exception:  # noqa: BLE001 - already gone: nothing holds the stream
            pass
