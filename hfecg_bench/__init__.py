"""hfecg_bench: a leakage-free benchmark for patient classification from high-frequency 12-lead ECG.

The data flow is one direction (see the README's layout): source -> :class:`Cohort` -> beats ->
:class:`~hfecg_bench.features.FeatureTable` -> :class:`FoldPlan` -> (model, fold) units ->
evaluation -> diagnostics -> report. The whole flow is :func:`run`; the pieces are public too.

Importing the package has no side effects on other libraries: it loads no TensorFlow and leaves
Optuna's and TensorFlow's logging, threads and determinism alone until :func:`run` (or the
command line) calls :func:`hfecg_bench.runtime.setup_runtime`.

Examples
--------
>>> import hfecg_bench as hb
>>> cohort = hb.generate_cohort(preset="hf_effect", n_patients=6, duration_s=10, seed=1)
>>> table = hb.extract_features(cohort, cache_dir=False)
>>> list(table.frame.columns[:3]), len(table.frame)
(['record_id', 'patient_id', 'label'], 6)
>>> hb.get_spec("rf").family
'classical'
"""
from hfecg_bench.cohort import Cohort, Record
from hfecg_bench.data import generate_cohort, load_cohort
from hfecg_bench.errors import DataProblemsError, HfecgError, HfecgWarning, ParameterError, Problem
from hfecg_bench.evaluation.folds import FoldPlan, make_fold_plan
from hfecg_bench.features import FeatureTable, HFQRSFeatures, extract_features
from hfecg_bench.models.registry import get_spec
from hfecg_bench.pipeline import RunResult, load_result, run

__version__ = "0.1.0"
__all__ = ["Cohort", "DataProblemsError", "FeatureTable", "FoldPlan", "HFQRSFeatures", "HfecgError", "HfecgWarning",
           "ParameterError", "Problem", "Record", "RunResult", "__version__", "extract_features", "generate_cohort",
           "get_spec", "load_cohort", "load_result", "make_fold_plan", "run"]
