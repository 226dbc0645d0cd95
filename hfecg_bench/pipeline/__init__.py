"""The run: one call from a cohort to the leaderboard, the verdict and the report.

Modules, in the order data flows through them: :mod:`~hfecg_bench.pipeline.state` (the run
directory, the one writer of ``run_state.json`` and ``manifest.json``), :mod:`~.inputs` (feature
table and beat views), :mod:`~.tuning` (Optuna on inner folds), :mod:`~.fold` (one (model, outer
fold) unit of work, a plain function), :mod:`~.run` (the driver: :func:`run`), :mod:`~.finish`
(diagnostics, verdict, report).
"""
from hfecg_bench.pipeline.run import RunResult, load_result, run
from hfecg_bench.pipeline.state import RunDirectory

__all__ = ["RunDirectory", "RunResult", "load_result", "run"]
