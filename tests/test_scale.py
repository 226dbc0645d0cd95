"""Scaling out on Dask: the executors, and runs on a local cluster (``jobs=2``) and on an existing cluster of
``dask scheduler`` / ``dask worker`` processes give the serial run's predictions and HF-QRS view byte for byte,
also when a worker is killed mid-run; a cluster that goes away is a clear message, and the run resumes from what
was written. The report's work on the records runs on the workers with the serial numbers, and a local cluster
leaves nothing behind (no process holding the run's stderr).
"""
from __future__ import annotations

import io
import os
import re
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import hfecg_bench as hb
from hfecg_bench.cli import main
from hfecg_bench.config import RunConfig
from hfecg_bench.errors import HfecgError, ParameterError
from hfecg_bench.io import read_json
from hfecg_bench.pipeline import dask_executor as dask_executor_module
from hfecg_bench.pipeline import finish
from hfecg_bench.pipeline.executor import ClusterLostError, DaskExecutor, SerialExecutor, make_executor
from hfecg_bench.pipeline.state import RunDirectory
from hfecg_bench.pipeline.units import StudyStore, load_trials

REPO = Path(__file__).resolve().parents[1]
RUN = dict(models=["logreg", "dummy"], folds=3, trials=2, seed=5)  # one model besides dummy: no diagnostics


def slow_square(x, delay):
    """Later items finish first: the executor must still return results in input order."""
    time.sleep(delay * (3 - x))
    return x * x


def first_is_slow(x, delay):
    """Item 0 sleeps ``delay`` s, the others return at once: whichever worker gets them, they finish first."""
    time.sleep(delay if x == 0 else 0.0)
    return x * x


def fails_on_two(x):
    if x == 2:
        raise HfecgError("record r2: bad")
    return x


@pytest.fixture(scope="module")
def cohort_and_table():
    cohort = hb.generate_cohort(preset="hf_effect", n_patients=24, duration_s=10, seed=2)
    return cohort, hb.extract_features(cohort, cache_dir=False)


def do_run(out, cohort_and_table, **kw):
    cohort, table = cohort_and_table
    stream = kw.pop("stream", None) or io.StringIO()
    result = hb.run(cohort, out=out, features=table, stream=stream, **(RUN | kw))
    return result, stream


@pytest.fixture(scope="module")
def serial_dir(cohort_and_table, tmp_path_factory) -> Path:
    result, stream = do_run(tmp_path_factory.mktemp("serial") / "run", cohort_and_table)
    return result.run_dir


@pytest.fixture(scope="module")
def serial(serial_dir):
    return (serial_dir / "predictions.csv").read_bytes()


def same_view(run_dir: Path, serial_dir: Path) -> bool:
    """``hf_view.npz`` byte for byte (its bytes depend on its arrays only)."""
    return (run_dir / "hf_view.npz").read_bytes() == (serial_dir / "hf_view.npz").read_bytes()


@pytest.fixture(scope="module")
def dask2():
    with make_executor(2) as ex:
        yield ex


# ---------------------------------------------------------------- executors


def test_serial_executor_is_a_plain_loop():
    ex = make_executor(1)
    assert isinstance(ex, SerialExecutor) and ex.map(slow_square, [0, 1, 2], ex.share(0.0)) == [0, 1, 4]
    with pytest.raises(HfecgError, match="record r2: bad"):
        ex.map(fails_on_two, [1, 2, 3])


@pytest.mark.parametrize("jobs, scheduler, bad", [(0, None, "jobs"), (True, None, "jobs"),
                                                  (2, "tcp://127.0.0.1:8786", "jobs"), (None, "nowhere", "scheduler")])
def test_bad_parallel_arguments_are_named(jobs, scheduler, bad):
    with pytest.raises(ParameterError) as err:
        make_executor(jobs, scheduler)
    assert err.value.name == bad


def test_dask_executor_returns_input_order_and_counts():
    with make_executor(2) as ex:
        assert isinstance(ex, DaskExecutor) and ex.n_workers == 2
        delay = ex.share(0.8)
        assert ex.map(slow_square, [0, 1, 2], delay) == [0, 1, 4]
        order = [i for i, _ in ex.as_completed(first_is_slow, [0, 1, 2], ex.share(3.0))]
        assert sorted(order) == [0, 1, 2] and order[0] != 0, "finishing order is not input order"
        assert ex.counts() == {"done": 3, "running": 0, "queued": 0}
        with pytest.raises(HfecgError, match="record r2: bad"):  # a task's own error is the answer, not retried
            ex.map(fails_on_two, [1, 2, 3])


def test_submit_runs_one_call_on_a_worker_or_when_asked(dask2):
    calls = []
    deferred = SerialExecutor().submit(lambda x: calls.append(x) or x * 2, 21)
    assert calls == [] and deferred.result() == 42 and deferred.result() == 42 and calls == [21], \
        "serial: called once, when its result is first asked for"
    low, high = dask2.submit(slow_square, 2, 0.0, priority=-1), dask2.submit(slow_square, 3, 0.0)
    assert (low.result(), high.result()) == (4, 9)
    with pytest.raises(HfecgError, match="record r2: bad"):
        dask2.submit(fails_on_two, 2).result()


def test_record_work_on_the_workers_gives_the_serial_numbers(cohort_and_table, dask2, tmp_path, monkeypatch):
    """The recording properties and the HF-QRS view computed on a worker are the driver's, to the byte."""
    cohort, _ = cohort_and_table
    labels = pd.Series(cohort.patient_labels()).rename(index=str).sort_index()
    out = {}
    for name, executor in (("serial", SerialExecutor()), ("dask", dask2)):
        run_dir = RunDirectory(path=tmp_path / name, resuming=False, manifest={})
        run_dir.path.mkdir()
        work = finish.RecordWork(run_dir, cohort, RunConfig.for_profile("quick"), labels, ["logreg", "svm", "dummy"])
        work.start(executor)
        out[name] = work
    assert out["serial"].where == "serial" and out["dask"].where == "dask"
    props = {k: w.properties() for k, w in out.items()}
    pd.testing.assert_frame_equal(props["dask"], props["serial"], check_exact=True)
    assert props["dask"].shape[0] == 24 and props["dask"]["n_beats"].gt(5).all()
    views = {k: w.hf_view() for k, w in out.items()}
    assert list(views["dask"]) == list(views["serial"])
    dask_view, serial_view = views["dask"], views["serial"]
    assert all(np.asarray(dask_view[k]).tobytes() == np.asarray(serial_view[k]).tobytes() for k in dask_view)
    assert (tmp_path / "dask" / finish.PROPERTIES_FILE).read_bytes() == \
        (tmp_path / "serial" / finish.PROPERTIES_FILE).read_bytes()
    # a cohort too large to ship stays in the driver; a run that is not diagnosed needs no properties
    monkeypatch.setattr(finish, "SHIP_LIMIT_BYTES", 0)
    run_dir = RunDirectory(path=tmp_path / "big", resuming=False, manifest={})
    work = finish.RecordWork(run_dir, cohort, RunConfig.for_profile("quick"), labels, ["logreg", "dummy"])
    work.start(dask2)
    assert work.where == "serial" and not work.wants_properties and work._props is None


LOCAL_CLUSTER = """
from hfecg_bench.pipeline.executor import StartingExecutor, _resource_tracker_running
from hfecg_bench.errors import HfecgError

def getenv(name):
    import os
    return os.environ.get(name)

starting = StartingExecutor(2, None)
ex = starting.get()
env = sorted({str(v) for v in ex.client.run(getenv, "MALLOC_TRIM_THRESHOLD_").values()})
omp = sorted({str(v) for v in ex.client.run(getenv, "OMP_NUM_THREADS").values()})
tracking = _resource_tracker_running()
starting.release()
try:
    starting.get()
except HfecgError as exc:
    print("released:", exc)
starting.close()
print(env, omp, tracking, _resource_tracker_running(), ex.client.status)
"""


def test_a_local_cluster_skips_the_malloc_trim_and_leaves_nothing_behind():
    """Its workers run without Dask's MALLOC_TRIM_THRESHOLD_ (it made NumPy code 1.7x slower there), and once
    released and closed, no process it started is left (the resource tracker held the run's stderr pipe)."""
    env = {k: v for k, v in os.environ.items() if k != "MALLOC_TRIM_THRESHOLD_"}
    out = subprocess.run([sys.executable, "-c", LOCAL_CLUSTER], cwd=REPO, env=env, capture_output=True, text=True,
                         timeout=180)
    lines = out.stdout.strip().splitlines()
    assert lines[:1] == ["released: the run's executor was released: nothing more can run on it"], out.stderr[-2000:]
    assert lines[1:] == ["['None'] ['1'] True False closed"], out.stderr[-2000:]


def test_unreachable_scheduler_is_a_clear_message(tmp_path, capsys, monkeypatch):
    monkeypatch.setattr(dask_executor_module, "CONNECT_TIMEOUT_S", 2.0)
    port = free_port()
    code = main(["run", "logreg,dummy", "--n-patients", "16", "--duration", "10", "--folds", "2", "--trials", "0",
                 "--scheduler", f"tcp://127.0.0.1:{port}", "--out", str(tmp_path / "r")])
    err = capsys.readouterr().err
    assert code == 2 and f"cannot reach the Dask scheduler at tcp://127.0.0.1:{port}" in err
    assert "Traceback" not in err and not (tmp_path / "r").exists(), "refused before anything was written"


def test_a_study_travels_to_a_worker_and_back(tmp_path):
    """The driver's trials go to the worker's own study file, and the worker's study replaces the driver's."""
    import optuna

    db = tmp_path / "studies.db"
    study = optuna.create_study(storage=f"sqlite:///{db}", study_name="rf-fold0", direction="maximize")
    dist = {"x": optuna.distributions.FloatDistribution(0, 1)}
    for v in (0.5, 0.7):
        study.add_trial(optuna.trial.create_trial(params={"x": v}, distributions=dist, value=v,
                                                  user_attrs={"oof": {"P1": v}}))
    driver = StudyStore(db)
    shipped = driver.trials("rf-fold0")
    worker_db = tmp_path / "worker.db"
    load_trials(worker_db, "rf-fold0", shipped)
    theirs = optuna.load_study(study_name="rf-fold0", storage=f"sqlite:///{worker_db}")
    theirs.add_trial(optuna.trial.create_trial(params={"x": 0.9}, distributions=dist, value=0.9))
    back = StudyStore(worker_db)
    driver.replace("rf-fold0", back.trials("rf-fold0"))
    back.close()
    driver.close()
    trials = optuna.load_study(study_name="rf-fold0", storage=f"sqlite:///{db}").trials
    assert [t.params["x"] for t in trials] == [0.5, 0.7, 0.9] and trials[1].user_attrs == {"oof": {"P1": 0.7}}
    assert [t.number for t in trials] == [0, 1, 2] and driver.trials("absent") is None


ISOLATION = """
import random, threading, time
from hfecg_bench.pipeline.executor import isolate_random
assert isolate_random() and not isolate_random()
stop = False
def chatter():  # what Dask's event loop does to the shared generator
    while not stop:
        random.random(); random.choice([1, 2]); time.sleep(0.0005)
t = threading.Thread(target=chatter); t.start()
random.seed(42)
mine = []
for _ in range(200):
    mine.append(random.randint(1, 10**9)); time.sleep(0.0005)
stop = True; t.join()
ref = random.Random(42)
print(mine == [ref.randint(1, 10**9) for _ in range(200)])
"""


def test_each_worker_thread_has_its_own_random_generator():
    """Keras seeds and draws from Python's random; another thread drawing meanwhile must not change its draws."""
    out = subprocess.run([sys.executable, "-c", ISOLATION], cwd=REPO, capture_output=True, text=True, timeout=60)
    assert out.stdout.strip() == "True", out.stderr[-2000:]


def test_random_forest_probabilities_do_not_depend_on_threads(cohort_and_table, monkeypatch):
    """Dask workers fit the forest on one thread, the driver on two: the same probabilities to the last bit,
    run after run (a threaded predict once summed the trees in thread-finishing order)."""
    from hfecg_bench.models.base import ModelData
    from hfecg_bench.models.classical import CLASSICAL_SPECS

    _, table = cohort_and_table
    patients = sorted(set(table.frame["patient_id"].astype(str)))
    spec = CLASSICAL_SPECS["rf"]
    probs = []
    for threads in ("2", "1", "2"):
        monkeypatch.setenv("HFECG_RF_THREADS", threads)
        res = spec.fit_predict(ModelData(features=table), patients[::2], patients[1::2],
                               spec.default_params("quick"), 3, "quick")
        probs.append(res.test_prob.to_numpy().tobytes())
    assert probs[0] == probs[1] == probs[2]


# ---------------------------------------------------------------- runs


def test_jobs_2_gives_the_serial_predictions(serial, serial_dir, cohort_and_table, tmp_path):
    result, stream = do_run(tmp_path / "j2", cohort_and_table, jobs=2)
    assert (result.run_dir / "predictions.csv").read_bytes() == serial
    assert same_view(result.run_dir, serial_dir), "the HF-QRS view computed on a worker is the serial one"
    where = {d: read_json(d / "manifest.json")["timings"]["record_work"]["where"] for d in (result.run_dir, serial_dir)}
    assert where == {result.run_dir: "dask", serial_dir: "serial"}
    text = stream.getvalue()
    assert "units run on a local Dask cluster of 2 worker(s)" in text
    counts = [tuple(map(int, m)) for m in re.findall(r"\[units: (\d+) done, (\d+) running, (\d+) queued\]", text)]
    assert len(counts) == 6 and counts[-1] == (6, 0, 0), "one progress line per unit, ending with all done"
    assert all(sum(c) == 6 and c[1] <= 2 for c in counts), "done + running + queued = units; at most 2 running"
    assert [c[0] for c in counts] == sorted(c[0] for c in counts), "done only grows"
    studies = __import__("optuna").get_all_study_summaries(f"sqlite:///{result.run_dir / 'studies.db'}")
    assert sorted(s.study_name for s in studies) == [f"logreg-fold{k}" for k in range(3)]
    assert all(s.n_trials == 2 for s in studies), "every study came back to the driver's studies.db"


def free_port() -> int:
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def start(*args) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", f"distributed.cli.dask_{args[0]}", *args[1:]], cwd=REPO,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)


def stop(proc: subprocess.Popen) -> None:
    if proc.poll() is None:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(10)


class Cluster:
    """``dask scheduler`` and ``dask worker`` processes on 127.0.0.1, as a researcher would start them."""

    def __init__(self, n_workers: int = 2):
        self.address = f"tcp://127.0.0.1:{free_port()}"
        self.scheduler = start("scheduler", "--host", "127.0.0.1", "--port", self.address.rsplit(":", 1)[1],
                               "--no-dashboard")
        self.workers = [self.add_worker() for _ in range(n_workers)]
        from distributed import Client

        with Client(self.address, timeout=60) as client:
            client.wait_for_workers(n_workers, timeout=60)

    def add_worker(self) -> subprocess.Popen:
        return start("worker", self.address, "--nworkers", "1", "--nthreads", "1", "--no-dashboard")

    def close(self) -> None:
        for p in self.workers + [self.scheduler]:
            stop(p)


class OnFirstUnit(io.StringIO):
    """A progress stream that calls ``action`` once, when the first unit's line is written."""

    def __init__(self, action):
        super().__init__()
        self.action, self.fired = action, False

    def write(self, text):
        if not self.fired and " fold " in text and "inner AUROC" in text:
            self.fired = True
            self.action()
        return super().write(text)


@pytest.fixture
def cluster():
    c = Cluster(2)
    yield c
    c.close()


def test_existing_cluster_and_a_worker_killed_mid_run(serial, serial_dir, cohort_and_table, cluster, tmp_path):
    """A worker (nanny and process) killed while the units run: its task is rerun on the other worker or a
    new one, and the predictions are still the serial run's."""
    killed = []

    def kill_a_worker():
        stop(cluster.workers[0])
        killed.append(time.monotonic())
        cluster.workers.append(cluster.add_worker())

    result, stream = do_run(tmp_path / "cluster", cohort_and_table, scheduler=cluster.address,
                            stream=OnFirstUnit(kill_a_worker))
    assert killed and (result.run_dir / "predictions.csv").read_bytes() == serial
    assert same_view(result.run_dir, serial_dir)
    assert f"units run on the Dask cluster at {cluster.address} of 2 worker(s)" in stream.getvalue()


def test_a_cluster_that_goes_away_stops_the_run_and_it_resumes(serial, cohort_and_table, cluster, tmp_path,
                                                               monkeypatch):
    monkeypatch.setattr(dask_executor_module, "RECONNECT_GRACE_S", 3.0)
    out = tmp_path / "lost"
    with pytest.raises(ClusterLostError, match=f"the Dask cluster at {cluster.address} went away .* rerun the same "
                                               "command to resume"):
        do_run(out, cohort_and_table, scheduler=cluster.address, stream=OnFirstUnit(cluster.close))
    written = sorted(p.name for p in (out / "fold_predictions").glob("*.json"))
    assert 1 <= len(written) < 6, "what had arrived was written"
    stream = io.StringIO()
    result, _ = do_run(out, cohort_and_table, stream=stream)  # resumed serially
    assert f"resuming run in {out}: {len(written)} finished model fold(s) kept" in stream.getvalue()
    assert (result.run_dir / "predictions.csv").read_bytes() == serial


def test_cli_jobs_flag(tmp_path, capsys):
    code = main(["run", "logreg", "--jobs", "0", "--out", str(tmp_path / "x")])
    assert code == 2 and "invalid --jobs 0: an integer >= 1" in capsys.readouterr().err
    code = main(["run", "logreg", "--jobs", "2", "--scheduler", "tcp://127.0.0.1:1", "--out", str(tmp_path / "x")])
    assert code == 2 and "--jobs 2: not together with a scheduler" in capsys.readouterr().err
    assert not (tmp_path / "x").exists()

