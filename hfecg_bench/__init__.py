"""hfecg_bench: a leakage-free benchmark for patient classification from high-frequency 12-lead ECG.

The data flow is one direction (see DESIGN.md): source -> Cohort -> Beats -> FeatureTable
-> FoldPlan -> ModelRun -> Evaluation -> Diagnostics -> Report.
"""
from hfecg_bench.errors import DataProblemsError, HfecgError, HfecgWarning, Problem

__version__ = "0.1.0"
__all__ = ["DataProblemsError", "HfecgError", "HfecgWarning", "Problem", "__version__"]
