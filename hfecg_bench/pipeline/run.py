"""The whole benchmark as one call: cohort -> features -> fold plan -> (model, fold) units -> evaluation ->
diagnostics and verdict -> report. The command line is a thin shell over :func:`run`.

The run directory is written by this module (through :class:`~hfecg_bench.pipeline.state.RunDirectory`)
and by the report; a unit of work (:func:`~hfecg_bench.pipeline.fold.run_fold`) writes nothing but its
Optuna study. Running the same call again on the same folder resumes: finished units are reloaded,
unfinished Optuna studies continue (proposing the trials an uninterrupted run would have).

The units run through an executor (:mod:`~hfecg_bench.pipeline.executor`): one after another in this
process (the default), or as tasks on a Dask cluster (``jobs=N`` local worker processes, or
``scheduler=ADDRESS``), where a unit's study travels with it (:mod:`~hfecg_bench.pipeline.units`) and
this process still writes every file as results arrive; the files are the same either way.

What can be checked before anything is written is checked first: the settings, and whether the
cohort's labels can fill the outer folds and every unit's inner folds (:func:`check_folds_feasible`),
so a cohort too small for the folds leaves no folder behind. Every unit's task (its inner folds) is
built before the first fit, and a folder where a run with other settings fitted nothing yet is
started over (:meth:`~hfecg_bench.pipeline.state.RunDirectory.open`): a refused run never blocks the
corrected one.
"""
from __future__ import annotations

import sys
import time
from collections import Counter
import warnings
from dataclasses import replace
from functools import partial
from pathlib import Path

import pandas as pd

from hfecg_bench.config import RunConfig, load_run_config
from hfecg_bench.data.identity import check_same_heart
from hfecg_bench.data.validate import LoadOptions
from hfecg_bench.errors import HfecgError, HfecgWarning, ParameterError
from hfecg_bench.evaluation.evaluate import evaluate_predictions
from hfecg_bench.evaluation.folds import FoldPlan, fold_plan_for_run, make_fold_plan
from hfecg_bench.evaluation.metrics import safe_auroc
from hfecg_bench.evaluation.seeds import derive_seed
from hfecg_bench.io import write_csv
from hfecg_bench.models.registry import get_spec, resolve_names
from hfecg_bench.pipeline import finish
from hfecg_bench.pipeline.fold import fold_task, needs_inner_folds, plan_warnings, tuning_budget
from hfecg_bench.pipeline.executor import SerialExecutor, StartingExecutor, check_parallel_args
from hfecg_bench.pipeline.inputs import RunInputs, run_features, view_label
from hfecg_bench.pipeline.manifest import run_manifest, run_state
from hfecg_bench.pipeline.results import RunResult, collect_predictions, load_result  # noqa: F401 (public here too)
from hfecg_bench.pipeline.state import FOLDS_FILE, METRICS_FILE, STUDIES_DB, RunDirectory, default_out
from hfecg_bench.pipeline.units import StudyStore, check_workers, run_unit_here, run_unit_remote, unit_log
from hfecg_bench.report.importance import save_importance
from hfecg_bench.runtime import setup_runtime, tf_threads

#: Order in which a parallel run submits its units, by family: the costliest first.
COST_RANK = {"deep": 0, "classical": 1, "baseline": 2}


def resolve_run_config(profile: str, config=None, *, folds=None, trials=None) -> RunConfig:
    """The run's settings: ``config`` (a RunConfig, or the path of a TOML file) or the profile's defaults,
    with ``folds`` (int or ``"loo"``) and ``trials`` applied to the evaluation section."""
    if config is None or isinstance(config, (str, Path)):
        cfg = load_run_config(profile, config)
    elif isinstance(config, RunConfig):
        if config.profile != profile:
            raise ParameterError("config", f"RunConfig(profile={config.profile!r})",
                                 f"must be for the run's profile {profile!r}")
        cfg = replace(config)
    else:
        raise ParameterError("config", config, "a RunConfig, the path of a TOML file, or None")
    evaluation = cfg.evaluation.with_folds(folds) if not isinstance(folds, FoldPlan) else cfg.evaluation
    if trials is not None:
        if not isinstance(trials, int) or isinstance(trials, bool) or trials < 0:
            raise ParameterError("trials", trials, "an integer >= 0 (0: each model's default parameters)")
        evaluation = replace(evaluation, n_trials=trials)
    cfg.evaluation = evaluation.validate()
    return cfg


def _check_cohort(cohort) -> None:
    """A benchmark needs a cohort with patients, each with a label."""
    if not callable(getattr(cohort, "patient_labels", None)):  # a duck-typed cohort (tests) is fine
        raise ParameterError("cohort", type(cohort).__name__, "a Cohort (see hfecg_bench.load_cohort / generate_cohort)")
    labels = cohort.patient_labels()
    if not labels:
        raise HfecgError(f"the {cohort.dataset} cohort has no records to run on (excluded: {len(cohort.excluded)})")
    unlabeled = sorted(p for p, label in labels.items() if label is None)
    if unlabeled:
        raise HfecgError(f"{len(unlabeled)} patient(s) have no label, and a benchmark needs one per patient: "
                         f"{unlabeled[:10]}")
    _check_acquisition(cohort)


def _check_acquisition(cohort) -> None:
    """The cross-record checks of the loaders, for a cohort built in code: one sampling rate (a rate that
    differs by class is a confound models learn) and no heart under two patient ids (a leak across folds).

    Cohorts from :func:`~hfecg_bench.data.load_cohort` were checked there (``info["same_heart"]``); the
    synthetic generator draws independent patients.
    """
    rates = Counter(float(r.fs) for r in cohort.records)
    if len(rates) > 1:
        listing = ", ".join(f"{f:g} Hz ({n} records)" for f, n in sorted(rates.items()))
        raise HfecgError(f"the cohort mixes sampling rates ({listing}): features differ by rate, so a rate that "
                         f"differs by class is learned as signal; resample every record to {min(rates):g} Hz first "
                         "(hfecg_bench.data.resample.resample_cohort, or --resample-to)")
    if cohort.records and cohort.dataset != "synthetic" and "same_heart" not in cohort.info:
        check_same_heart(cohort, LoadOptions(), f"the {cohort.dataset} cohort")


def check_folds_feasible(specs, labels: pd.Series, evaluation, seed: int, profile: str,
                         given: FoldPlan | None = None) -> None:
    """Draw the run's outer folds from ``labels`` and check every training side can make the inner folds the
    models need, writing nothing: a cohort too small for the folds is refused before the run directory exists.

    Raises HfecgError naming the class counts and what would work. The run itself repeats the checks on
    the patients with features (and warns about capped folds); this pass is silent.
    """
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", HfecgWarning)
        if given is None:
            plan = make_fold_plan(labels, evaluation.n_folds, derive_seed(seed, "folds"), loo=evaluation.loo)
        elif set(map(str, given.folds.index)) <= set(labels.index):
            plan = FoldPlan(folds=given.folds.rename(index=str).sort_index(), labels=labels, kind=given.kind)
        else:
            return  # _plan names the patients the given plan misses or adds
        if any(needs_inner_folds(spec, tuning_budget(spec, evaluation, profile)[0]) for spec in specs):
            for fold in range(plan.n_folds):
                plan.inner_fold_cap(fold, evaluation.n_inner_folds)


def _plan(run_dir: RunDirectory, labels: pd.Series, evaluation, seed: int, given: FoldPlan | None) -> FoldPlan:
    """The run's fold plan: the user's (checked against the cohort, saved) or drawn from the run seed."""
    path = run_dir.file(FOLDS_FILE)
    if given is None:
        return fold_plan_for_run(path, labels, evaluation.n_folds, derive_seed(seed, "folds"), loo=evaluation.loo)[0]
    patients = set(map(str, given.folds.index))
    if patients != set(labels.index):
        raise ParameterError("folds", f"FoldPlan of {len(patients)} patients",
                             f"must cover exactly the {len(labels)} patients with features "
                             f"(missing {sorted(set(labels.index) - patients)[:5]}, "
                             f"extra {sorted(patients - set(labels.index))[:5]})")
    plan = FoldPlan(folds=given.folds.rename(index=str).sort_index(), labels=labels, kind=given.kind, seed=given.seed)
    if path.exists():
        saved = pd.read_csv(path, dtype={"patient_id": str}).set_index("patient_id")["fold"].sort_index()
        if not saved.equals(plan.folds.astype(saved.dtype)):
            raise HfecgError(f"{path} holds another fold plan than the one given; choose another output folder")
    else:
        plan.save(path)
    return plan


def _cohort_labels(cohort) -> pd.Series:
    """Patient id (str) -> label of every patient of the cohort."""
    labels = pd.Series(cohort.patient_labels(), dtype=int)
    labels.index = labels.index.map(str)
    return labels.sort_index()


def _patient_labels(cohort, features) -> pd.Series:
    labels = _cohort_labels(cohort)
    missing = sorted(set(labels.index) - set(features.frame["patient_id"].astype(str)))
    if missing:
        warnings.warn(f"{len(missing)} patient(s) have no usable record and are left out of every model: "
                      f"{missing[:10]}{' ...' if len(missing) > 10 else ''}", HfecgWarning, stacklevel=3)
    return labels.drop(index=missing).sort_index()


def run_models(specs, inputs: RunInputs, plan: FoldPlan, run_dir: RunDirectory, *, seed: int, config, profile: str,
               stream=None, executor=None, on_tail=None) -> None:
    """Run every (model, outer fold) unit not yet finished in ``run_dir``, writing each as it finishes.

    ``executor`` (default serial, in this process) runs the units; whatever runs them and in whichever
    order they finish, each unit's files are written by this process as soon as its result arrives, and
    every unit is the same plain function of its task and inputs, so the files are the same.
    ``on_tail()``, if given, is called once no unit is left waiting for a worker (the last ones are running):
    work submitted then fills the workers that run out of units.
    """
    executor = executor or SerialExecutor()
    seen: set = set()
    # every unit's task first: a training side too small for inner folds is refused before anything is fitted
    tasks = {(spec.name, fold): plan_warnings(lambda: fold_task(spec, plan, fold, seed=seed, config=config,
                                                                profile=profile, study_db=run_dir.file(STUDIES_DB)),
                                              seen)
             for spec in specs for fold in range(plan.n_folds) if not run_dir.fold_done(spec.name, fold)}
    for spec in specs:
        done = [f for f in range(plan.n_folds) if run_dir.fold_done(spec.name, f)]
        if done:
            which = f"all {plan.n_folds} folds" if len(done) == plan.n_folds else f"folds {[f + 1 for f in done]}"
            print(f"{spec.name}: {which} already finished in {run_dir.path}, not refitted", file=stream, flush=True)
    units = [(spec, fold) for spec in specs for fold in range(plan.n_folds) if (spec.name, fold) in tasks]
    seconds = {spec.name: 0.0 for spec in specs}
    if units:
        t0 = time.monotonic()
        store = StudyStore(run_dir.file(STUDIES_DB))
        try:
            _run_units(units, tasks, inputs, executor, run_dir, store, seconds, stream, on_tail)
        finally:
            store.close()
        run_dir.update_manifest(timings={"units_wall_s": round(time.monotonic() - t0, 3)})
    old = run_dir.manifest.get("timings", {}).get("models_s", {})
    for spec in specs:
        run_dir.update_manifest(
            timings={"models_s": {spec.name: round(old.get(spec.name, 0) + seconds[spec.name], 3)}},
            model_info={spec.name: {"family": spec.family,
                                    "input": spec.input_label or view_label(spec.input, inputs.run_config.features.hf_band)}},
            seeds={"models": {spec.name: {str(f): {"fit": derive_seed(seed, "fit", spec.name, f),
                                                   "tpe": derive_seed(seed, "tpe", spec.name, f)}
                                          for f in range(plan.n_folds)}}})
    run_dir.update_manifest(timings={"beats_s": dict(inputs.timings)},
                            models=list(dict.fromkeys(run_dir.manifest.get("models", []) + [s.name for s in specs])),
                            parallel=executor.describe())


def _run_units(units, tasks, inputs: RunInputs, executor, run_dir: RunDirectory, store: StudyStore, seconds: dict,
               stream, on_tail=None) -> None:
    """Run ``units`` on ``executor``; write each one's study (when it ran on a worker) and files as it arrives."""
    jobs, fn = _unit_jobs(units, tasks, inputs, executor, store, stream)
    for i, (result, trials, log) in executor.as_completed(fn, jobs):
        if on_tail is not None and executor.counts()["queued"] == 0:
            on_tail()
            on_tail = None
        task = jobs[i][0]
        unit_log(log, stream)
        if trials is not None:  # tuned on a worker: into the run's studies.db before the unit counts as done
            store.replace(task.study_name, trials)
        if result.importance is not None:  # before save_fold: the summary written last marks the unit done
            save_importance(run_dir.path, task.spec.name, task.fold, result.importance)
        run_dir.save_fold(task.spec.name, task.fold, result.predictions, result.summary, result.curves)
        seconds[task.spec.name] += result.summary["fit_seconds"]
        s, p = result.summary, result.predictions
        print(f"{task.where}: inner AUROC {s['inner_auroc']:.3f} ({s['n_trials']} trials), fold AUROC "
              f"{safe_auroc(p['label'], p['prob']):.3f}, train AUROC {s['train_auroc']:.3f} "
              f"({s['fit_seconds']:.1f} s){_counts_text(executor)}", file=stream, flush=True)


def _unit_jobs(units, tasks, inputs: RunInputs, executor, store: StudyStore, stream):
    """The executor's items and function for ``units``: in this process against ``studies.db``, or for workers
    with each unit's model inputs shared once per view and its study's trials shipped along (:mod:`.units`)."""
    views = {view: executor.share(inputs.for_view(view)) for view in dict.fromkeys(spec.input for spec, _ in units)}
    if isinstance(executor, SerialExecutor):
        return [(tasks[spec.name, fold], views[spec.input], None) for spec, fold in units], \
            partial(run_unit_here, stream=stream)
    threads = tf_threads()
    jobs = []
    # the longest units first (a deep unit costs many classical ones): the last to finish is then a short one
    for spec, fold in sorted(units, key=lambda u: COST_RANK.get(u[0].family, 1)):
        task = tasks[spec.name, fold]
        trials = store.trials(task.study_name) if task.study_db is not None else None
        jobs.append((task, views[spec.input], trials, threads))
    return jobs, run_unit_remote


def _counts_text(executor) -> str:
    """`` [units: 3 done, 2 running, 20 queued]`` for a parallel executor, nothing for the serial one."""
    if isinstance(executor, SerialExecutor):
        return ""
    c = executor.counts()
    return f" [units: {c['done']} done, {c['running']} running, {c['queued']} queued]"


def run(cohort, *, models="all", out: Path | str | None = None, profile: str = "quick", seed: int = 0, folds=None,
        trials: int | None = None, config=None, features=None, stream=None, command: str | None = None,
        jobs: int | None = None, scheduler: str | None = None) -> RunResult:
    """Benchmark ``models`` on ``cohort`` under one patient-wise fold plan, and diagnose the result.

    Parameters
    ----------
    cohort : Cohort
        Labelled records (``load_cohort``, ``generate_cohort``, or built from :class:`Record` objects).
    models : str or list of str, default "all"
        Model names (``rf``, ``svm``, ``xgb``, ``logreg``, ``dummy``, ``cnn``, ``leadwise_cnn``, ``tcn``,
        ``lstm``) or groups (``classical``, ``deep``, ``all``), as a list or comma-separated.
    out : path, optional
        Run directory (default ``reports/<dataset>-<timestamp>``): created, or resumed when it holds a
        run with the same settings. A non-empty folder that is not a run is refused, never overwritten.
    profile : {"quick", "full"}, default "quick"
    seed : int, default 0
        The run seed; every fold, tuning, model and bootstrap seed derives from it.
    folds : int, "loo" or FoldPlan, optional
        Outer folds (default the profile's 5), leave-one-patient-out, or your own patient-wise plan.
    trials : int, optional
        Optuna trials per model and outer fold (0: each model's default parameters).
    config : RunConfig or path of a TOML file, optional
        Settings by section (beats, features, evaluation, deep); default the profile's.
    features : FeatureTable, optional
        Precomputed features of ``cohort`` (skips extraction).
    stream : file-like, default sys.stderr
        Where progress goes.
    command : str, optional
        How to reproduce this run, for the manifest and the report (the CLI passes its command line).
    jobs : int, optional
        Run the (model, fold) units on a local Dask cluster of ``jobs`` worker processes started for this
        run (None or 1: one after another in this process). Same predictions either way.
    scheduler : str, optional
        Address of an existing Dask scheduler (``tcp://HOST:PORT``) whose workers run the units; the
        workers need hfecg_bench installed, not the run directory. Not together with ``jobs``.

    Returns
    -------
    RunResult
        ``.leaderboard``, ``.verdict``, ``.diagnostics``, ``.predictions``, ``.plan``, ``.run_dir``.

    Examples
    --------
    >>> import tempfile, hfecg_bench as hb
    >>> cohort = hb.generate_cohort(preset="hf_effect", n_patients=12, duration_s=10, seed=1)
    >>> result = hb.run(cohort, models=["logreg", "dummy"], out=tempfile.mkdtemp(), folds=2, trials=0,
    ...                 stream=open("/dev/null", "w"))
    >>> sorted(result.leaderboard["model"]), result.verdict, result.predictions.shape
    (['dummy', 'logreg'], None, (24, 6))
    """
    t0 = time.monotonic()
    stream = stream or sys.stderr
    runtime = setup_runtime()
    if not isinstance(seed, int) or isinstance(seed, bool) or seed < 0:
        raise ParameterError("seed", seed, "an integer >= 0")
    check_parallel_args(jobs, scheduler)
    _check_cohort(cohort)
    run_config = resolve_run_config(profile, config, folds=folds, trials=trials)
    names = resolve_names(models)
    specs = [get_spec(n).configure(run_config) for n in names]
    check_folds_feasible(specs, _cohort_labels(cohort), run_config.evaluation, seed, profile,
                         folds if isinstance(folds, FoldPlan) else None)
    # a wrong scheduler address, or a cluster without this package, fails here, before anything is written
    starting = StartingExecutor(jobs, scheduler, prepare=check_workers)
    try:
        return _run(cohort, names, specs, run_config, starting, out=out, profile=profile, seed=seed, folds=folds,
                    trials=trials, features=features, stream=stream, command=command, runtime=runtime, t0=t0)
    finally:
        starting.close()


def _run(cohort, names, specs, run_config, starting, *, out, profile, seed, folds, trials, features, stream, command,
         runtime, t0) -> RunResult:
    """:func:`run` once its arguments are checked and its executor is starting."""
    path = Path(out) if out is not None else default_out(cohort.dataset)
    if out is None:
        print(f"run directory: {path}", file=stream, flush=True)
    fingerprint = cohort.fingerprint()  # hashes every sample: once per run
    run_dir = RunDirectory.open(path, run_state(fingerprint, run_config, seed))
    if run_dir.resuming:
        print(f"resuming run in {path}: {len(run_dir.finished_units())} finished model fold(s) kept",
              file=stream, flush=True)
    elif run_dir.restarted:
        print(f"starting over in {path}: the run there had other settings ({', '.join(run_dir.restarted)}) and "
              "had fitted nothing yet", file=stream, flush=True)
    t = time.monotonic()
    table = run_features(cohort, run_dir, run_config, features=features, stream=stream)
    features_s = round(time.monotonic() - t, 3)
    labels = _patient_labels(cohort, table)
    plan = _plan(run_dir, labels, run_config.evaluation, seed, folds if isinstance(folds, FoldPlan) else None)
    command = command or _python_call(names, out, profile, seed, folds, trials)
    run_dir.update_manifest(**run_manifest(cohort, fingerprint, run_config, seed, plan, table, names, labels, runtime,
                                           command),
                            timings={"features_s": features_s})
    inputs = RunInputs(cohort=cohort, features=table, run_config=run_config, stream=stream)
    # the report's work on the records (HF-QRS view, recording properties) fills the workers the units' tail
    # leaves idle, and overlaps this process's evaluation and diagnostics (inline when serial)
    work = finish.RecordWork(run_dir, cohort, run_config, plan.labels,
                             list(run_dir.manifest.get("models", [])) + [s.name for s in specs])
    if any(not run_dir.fold_done(s.name, f) for s in specs for f in range(plan.n_folds)):
        executor = starting.get()
        if not isinstance(executor, SerialExecutor):
            print(f"units run on {_where(executor)}", file=stream, flush=True)
        run_models(specs, inputs, plan, run_dir, seed=seed, config=run_config.evaluation, profile=profile,
                   stream=stream, executor=executor, on_tail=lambda: work.start(executor))
    work.start(starting.get())
    pred, scores = collect_predictions(run_dir, run_dir.manifest["models"], plan.n_folds)
    ev = run_config.evaluation
    t = time.monotonic()
    metrics = evaluate_predictions(pred, scores, n_bootstrap=ev.n_bootstrap, ci_level=ev.ci_level,
                                   seed=derive_seed(seed, "bootstrap"))
    write_csv(run_dir.file(METRICS_FILE), metrics)
    best = str(metrics.iloc[0]["model"])
    run_dir.update_manifest(evaluation={"n_bootstrap": ev.n_bootstrap, "ci_level": ev.ci_level, "stratified": True,
                                        "bootstrap_seed": derive_seed(seed, "bootstrap"), "best_model": best,
                                        "delong_reference": best},
                            timings={"evaluation_s": round(time.monotonic() - t, 3)})
    diagnostics = finish.diagnose_and_report(run_dir, inputs, plan, metrics, seed=seed, profile=profile,
                                             stream=stream, executor=starting.get(), work=work,
                                             release=starting.release)
    run_dir.update_manifest(timings={"total_s_last_invocation": round(time.monotonic() - t0, 3)})
    return RunResult(run_dir=run_dir.path, leaderboard=finish.leaderboard(run_dir), verdict=diagnostics.get("verdict"),
                     diagnostics=diagnostics, predictions=pred, plan=plan)


def _where(executor) -> str:
    info = executor.describe()
    where = "a local Dask cluster" if info.get("scheduler") == "local" else f"the Dask cluster at {info.get('scheduler')}"
    return f"{where} of {info.get('workers', '?')} worker(s)"


def _python_call(names, out, profile, seed, folds, trials) -> str:
    """The call that reproduces an API run, for the report (the CLI gives its command line instead)."""
    fold_text = "FoldPlan(...)" if isinstance(folds, FoldPlan) else repr(folds)
    return (f"hfecg_bench.run(cohort, models={names!r}, out={str(out)!r}, profile={profile!r}, seed={seed}, "
            f"folds={fold_text}, trials={trials!r})")



__all__ = ["RunResult", "check_folds_feasible", "collect_predictions", "load_result", "resolve_run_config", "run",
           "run_models"]
