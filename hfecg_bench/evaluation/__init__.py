"""Patient-wise folds, patient-level metrics, bootstrap CIs and DeLong's test."""
from hfecg_bench.evaluation.bootstrap import bootstrap_ci, draw_resamples
from hfecg_bench.evaluation.config import EvalConfig
from hfecg_bench.evaluation.delong import delong_test
from hfecg_bench.evaluation.folds import FoldPlan, LeakageError, assert_disjoint, make_fold_plan
from hfecg_bench.evaluation.metrics import patient_metrics, youden_threshold
from hfecg_bench.evaluation.seeds import derive_seed

__all__ = ["EvalConfig", "FoldPlan", "LeakageError", "assert_disjoint", "bootstrap_ci", "delong_test",
           "derive_seed", "draw_resamples", "make_fold_plan", "patient_metrics", "youden_threshold"]
