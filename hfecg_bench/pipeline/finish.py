"""After the models are evaluated: the planted answer (synthetic cohorts), the recording properties, the
diagnostics with the verdict and its causes, and the report, for every run of two or more models besides
the dummy baseline. :func:`diagnose_run_dir` recomputes the diagnostics from a run directory's files alone.

Two of the report's inputs are read from the records again (beat detection per record): the recording
properties and the HF-QRS view. :class:`RecordWork` hands them to the run's executor, so on a Dask cluster
they run on the workers the units' tail leaves idle and overlap the driver's evaluation and diagnostics;
with the serial executor each is computed here where it is needed, as before. Either way the same numbers.
"""
from __future__ import annotations

import time
from pathlib import Path

import pandas as pd

from hfecg_bench.data.properties import recording_properties
from hfecg_bench.diagnostics.run import run_diagnostics
from hfecg_bench.errors import HfecgError
from hfecg_bench.evaluation.folds import FoldPlan
from hfecg_bench.features import FeatureTable
from hfecg_bench.io import read_json, write_csv, write_json
from hfecg_bench.models.base import ModelData
from hfecg_bench.models.registry import get_spec
from hfecg_bench.pipeline.executor import SerialExecutor
from hfecg_bench.pipeline.state import (DIAGNOSTICS_FILE, FEATURES_FILE, FOLDS_FILE, MANIFEST_FILE, METRICS_FILE,
                                        PREDICTIONS_FILE, RunDirectory)
from hfecg_bench.report.leaderboard import build_leaderboard
from hfecg_bench.report.hfview import hf_view_needed, run_hf_view, write_run_hf_view
from hfecg_bench.report.render import render_report

#: Fewest models besides the baseline for the diagnostics to compare anything.
MIN_DIAGNOSED_MODELS = 2
PROPERTIES_FILE = "recording_properties.csv"
#: Largest cohort (bytes of samples) whose records are shipped to a Dask cluster for :class:`RecordWork`; a larger
#: one would cost as much memory again there (and network time): its record work is done here instead.
SHIP_LIMIT_BYTES = 256 * 2**20
#: Dask priority of :class:`RecordWork` tasks: below the units' and refits' (1 and up) waiting on the same worker.
RECORD_WORK_PRIORITY = -1


def _records(cohort) -> list:
    return list(getattr(cohort, "records", []) or [])


class RecordWork:
    """The report inputs read from the records, started on the run's executor before they are needed.

    :meth:`start` submits what the run directory lacks: the HF-QRS view (:func:`run_hf_view`) and, for a run
    that will be diagnosed (``models`` holds :data:`MIN_DIAGNOSED_MODELS` or more besides the baseline), the
    recording properties; :meth:`properties` and :meth:`hf_view` return them (computing here what was never
    started). ``start`` with a serial executor only defers the calls; with a Dask one the cohort is shipped once
    (unless above :data:`SHIP_LIMIT_BYTES`) and the tasks run as workers free up (the run starts them once its
    last units are running).

    Examples
    --------
    >>> import tempfile, pandas as pd
    >>> from hfecg_bench.config import RunConfig
    >>> from hfecg_bench.data import generate_cohort
    >>> from hfecg_bench.pipeline.state import RunDirectory
    >>> cohort = generate_cohort(preset="hf_effect", n_patients=6, duration_s=10, seed=1)
    >>> labels = pd.Series(cohort.patient_labels())
    >>> run_dir = RunDirectory(path=Path(tempfile.mkdtemp()), resuming=False, manifest={})
    >>> work = RecordWork(run_dir, cohort, RunConfig.for_profile("quick"), labels, ["rf", "svm", "dummy"])
    >>> work.start(SerialExecutor())
    >>> work.properties().shape[0], work.hf_view()["n_patients"].tolist()
    (6, [4, 2])
    """

    def __init__(self, run_dir: RunDirectory, cohort, run_config, labels: pd.Series, models: list[str]):
        self.run_dir, self.cohort, self.run_config, self.labels = run_dir, cohort, run_config, labels
        competing = [m for m in dict.fromkeys(models) if get_spec(m).family != "baseline"]
        self.wants_properties = len(competing) >= MIN_DIAGNOSED_MODELS
        self._view = self._props = None
        self.where = None
        self.waited_s = 0.0  # seconds this process spent on the results (computing them, or waiting for them)

    def start(self, executor) -> None:
        """Submit the work to ``executor`` (once; later calls do nothing)."""
        if self.where is not None:
            return
        records = _records(self.cohort)
        size = sum(getattr(r.signal if r.signal is not None else r.beats, "nbytes", 0) for r in records)
        if not isinstance(executor, SerialExecutor) and size > SHIP_LIMIT_BYTES:
            executor = SerialExecutor()
        self.where = executor.kind
        need_view = hf_view_needed(self.run_dir.path, self.cohort)
        need_props = self.wants_properties and bool(records) and not self.run_dir.file(PROPERTIES_FILE).exists()
        if not (need_view or need_props):
            return
        cohort = executor.share(self.cohort)
        if need_props:  # first: the diagnostics need them first (equal priorities start in submission order)
            self._props = executor.submit(recording_properties, cohort, priority=RECORD_WORK_PRIORITY)
        if need_view:
            labels = {str(k): int(v) for k, v in self.labels.items()}
            self._view = executor.submit(run_hf_view, cohort, self.run_config, labels, priority=RECORD_WORK_PRIORITY)

    def properties(self) -> pd.DataFrame | None:
        """The recording properties of the cohort (computed, or saved by an earlier invocation), or None."""
        t0 = time.monotonic()
        props = save_properties(self.run_dir, self.cohort, self.labels.index,
                                computed=self._props.result() if self._props is not None else None)
        self.waited_s += time.monotonic() - t0
        return props

    def hf_view(self) -> dict | None:
        """The HF-QRS view, or None when the run directory has it already (or the cohort has no records)."""
        if not hf_view_needed(self.run_dir.path, self.cohort):
            return None
        t0 = time.monotonic()
        view = self._view.result() if self._view is not None else run_hf_view(self.cohort, self.run_config,
                                                                               self.labels)
        self.waited_s += time.monotonic() - t0
        return view


def leaderboard(run_dir: RunDirectory) -> pd.DataFrame:
    """The run's leaderboard (metrics with family and input), best AUROC first."""
    return build_leaderboard(run_dir.path)


def save_properties(run_dir: RunDirectory, cohort, patients, *, computed: pd.DataFrame | None = None
                    ) -> pd.DataFrame | None:
    """Measure the recording properties of the run's patients once (or take them ``computed`` elsewhere, e.g. on
    a worker) and save them (``diagnose`` reloads them).

    None for a cohort without records (features given precomputed): the confound check is then skipped,
    and the verdict says so.
    """
    path = run_dir.file(PROPERTIES_FILE)
    if path.exists():
        props = pd.read_csv(path, dtype={"patient_id": str}).set_index("patient_id")
    elif not _records(cohort):
        return None
    else:
        props = computed if computed is not None else recording_properties(cohort)
        write_csv(path, props.reset_index())
    return props.reindex(sorted(map(str, patients)))


def diagnose_and_report(run_dir: RunDirectory, inputs, plan, metrics: pd.DataFrame, *, seed: int, profile: str,
                        stream=None, executor=None, work: RecordWork | None = None, release=None) -> dict:
    """Write ``truth.json`` (synthetic), ``diagnostics.json`` (2+ non-baseline models) and the report.

    ``work`` is the :class:`RecordWork` started earlier (default: none, all computed here); ``release()``, if given,
    is called once ``executor`` is needed no more, before the report is rendered.

    Returns the diagnostics dict (``verdict``, ``reasons``, ``causes``, ``findings``), or {} when the run has
    fewer than :data:`MIN_DIAGNOSED_MODELS` models besides the baseline.
    """
    t0 = time.monotonic()
    if work is None:
        work = RecordWork(run_dir, inputs.cohort, inputs.run_config, plan.labels, list(metrics["model"]))
    work.start(SerialExecutor())  # when it was not started on the run's executor: computed here, as needed
    truth = (inputs.cohort.info or {}).get("truth")
    if truth:
        write_json(run_dir.file("truth.json"), truth, sort_keys=True)
    families = {m: get_spec(m).family for m in metrics["model"]}
    competing = [m for m, f in families.items() if f != "baseline"]
    diagnostics: dict = {}
    if len(competing) >= MIN_DIAGNOSED_MODELS:
        views = [get_spec(m).configure(inputs.run_config).input for m in metrics["model"]]
        data = ModelData(features=inputs.features, beats=inputs.first_beats(views))
        diagnostics = run_diagnostics(run_dir.path, data, plan, seed=seed, profile=profile, families=families,
                                      hf_band=inputs.run_config.features.hf_band, properties=work.properties(),
                                      executor=executor, log=lambda s: print(s, file=stream, flush=True))
    else:
        print(f"diagnostics: not run ({len(competing)} model(s) besides the baseline; the verdict compares "
              f"{MIN_DIAGNOSED_MODELS} or more)", file=stream, flush=True)
        stale = run_dir.file(DIAGNOSTICS_FILE)
        if stale.exists():  # from an earlier invocation with more models: no longer describes these metrics
            stale.unlink()
    view = work.hf_view()  # the report's HF-QRS view, from a worker or computed here
    if release is not None:
        release()             # stopping a local cluster's workers overlaps the rest
    write_run_hf_view(run_dir.path, inputs.cohort, inputs.run_config, plan.labels, view=view)
    t = time.monotonic()
    render_report(run_dir.path)
    run_dir.update_manifest(model_families=families,
                            timings={"diagnostics_and_report_s": round(time.monotonic() - t0, 3),
                                     "render_s": round(time.monotonic() - t, 3),
                                     "record_work": {"where": work.where, "driver_s": round(work.waited_s, 3)}})
    return diagnostics


def diagnose_run_dir(path, *, stream=None) -> dict:
    """Recompute the diagnostics, the verdict and the report of a finished run from its files, without refitting
    the tuned models (the learning curve and ablation refit at default parameters, as in the run).

    Needs ``predictions.csv``, ``metrics.csv``, ``folds.csv``, ``features.parquet`` and ``manifest.json``;
    ``recording_properties.csv`` when the run saved it. Findings that need beat windows (split leakage) are
    carried over from the previous ``diagnostics.json``.

    Raises
    ------
    HfecgError
        When ``path`` is not a finished run directory (naming the missing file).
    """
    path = Path(path)
    if not path.is_dir():
        raise HfecgError(f"{path} is not a run directory")
    for need in (PREDICTIONS_FILE, METRICS_FILE, FOLDS_FILE, FEATURES_FILE, MANIFEST_FILE):
        if not (path / need).exists():
            raise HfecgError(f"{path} is not a finished run: {need} is missing")
    manifest = read_json(path / MANIFEST_FILE, {})
    metrics = pd.read_csv(path / METRICS_FILE)
    families = {m: (manifest.get("model_info", {}).get(m, {}).get("family") or get_spec(m).family)
                for m in metrics["model"]}
    if len([m for m, f in families.items() if f != "baseline"]) < MIN_DIAGNOSED_MODELS:
        raise HfecgError(f"{path} has fewer than {MIN_DIAGNOSED_MODELS} models besides the baseline: "
                         "there is nothing for a verdict to compare")
    frame = pd.read_parquet(path / FEATURES_FILE)
    frame["patient_id"] = frame["patient_id"].astype(str)
    pred = pd.read_csv(path / PREDICTIONS_FILE, dtype={"patient_id": str})
    labels = pred.drop_duplicates("patient_id").set_index("patient_id")["label"].astype(int).sort_index()
    folds = pd.read_csv(path / FOLDS_FILE, dtype={"patient_id": str}).set_index("patient_id")["fold"].sort_index()
    plan = FoldPlan(folds=folds.loc[labels.index], labels=labels)
    props_path = path / PROPERTIES_FILE
    properties = (pd.read_csv(props_path, dtype={"patient_id": str}).set_index("patient_id").reindex(labels.index)
                  if props_path.exists() else None)
    previous = read_json(path / DIAGNOSTICS_FILE, {})
    hf_band = tuple((manifest.get("config") or {}).get("features", {}).get("hf_band", (150.0, 250.0)))
    out = run_diagnostics(path, ModelData(features=FeatureTable(frame=frame)), plan, seed=int(manifest.get("seed", 0)),
                          profile=str(manifest.get("profile", "quick")), families=families, hf_band=hf_band,
                          properties=properties, previous=previous, log=lambda s: print(s, file=stream, flush=True))
    render_report(path)
    return out


__all__ = ["MIN_DIAGNOSED_MODELS", "PROPERTIES_FILE", "RecordWork", "diagnose_and_report", "diagnose_run_dir",
           "leaderboard"]
