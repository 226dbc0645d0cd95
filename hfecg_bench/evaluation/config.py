"""Settings of folds, tuning and evaluation, with the ``quick`` and ``full`` profiles.

>>> from hfecg_bench.evaluation.config import EvalConfig
>>> EvalConfig.for_profile("quick").n_trials
8
"""
from __future__ import annotations

from dataclasses import asdict, dataclass, replace

from hfecg_bench.errors import ParameterError

PROFILES = ("quick", "full")


@dataclass(frozen=True)
class EvalConfig:
    """How a run is split, tuned and scored.

    Parameters
    ----------
    n_folds : int
        Outer patient-wise folds (capped so every fold holds both classes), default 5.
    loo : bool
        Leave-one-patient-out outer folds instead of ``n_folds`` (tiny cohorts).
    n_inner_folds : int
        Inner patient-wise folds of each outer training set used by tuning.
    n_trials : int
        Optuna trials per model and outer fold; 0 uses each model's default parameters.
    n_startup_trials : int
        Random trials before TPE starts modelling the objective.
    n_bootstrap : int
        Patient bootstrap resamples for the 95 % confidence intervals (shared by every model).
    ci_level : float
        Confidence level of the percentile intervals.
    n_jobs : int
        Threads per estimator (fixed, so that results do not depend on the machine).
    """

    n_folds: int = 5
    loo: bool = False
    n_inner_folds: int = 3
    n_trials: int = 8
    n_startup_trials: int = 4
    n_bootstrap: int = 1000
    ci_level: float = 0.95
    n_jobs: int = 2

    @classmethod
    def for_profile(cls, profile: str = "quick") -> "EvalConfig":
        """``quick``: 8 trials x 3 inner folds, 1000 resamples; ``full``: 50 trials x 5 inner folds, 2000 resamples."""
        if profile == "quick":
            return cls()
        if profile == "full":
            return cls(n_inner_folds=5, n_trials=50, n_startup_trials=10, n_bootstrap=2000)
        raise ParameterError("profile", profile, f"one of {list(PROFILES)}")

    def with_folds(self, folds) -> "EvalConfig":
        """The config with ``--folds`` applied: an int >= 2, or ``"loo"``."""
        if folds is None:
            return self
        text = str(folds).strip().lower()
        if text == "loo":
            return replace(self, loo=True)
        try:
            k = int(text)
        except ValueError:
            raise ParameterError("folds", folds, "an integer >= 2 or 'loo'") from None
        if k < 2:
            raise ParameterError("folds", folds, "an integer >= 2 or 'loo'")
        return replace(self, n_folds=k, loo=False)

    def __post_init__(self) -> None:
        self.validate()

    def validate(self) -> "EvalConfig":
        """Raise ParameterError naming the first field out of range; return the config."""
        if self.n_inner_folds < 2:
            raise ParameterError("n_inner_folds", self.n_inner_folds, "an integer >= 2")
        if self.n_trials < 0:
            raise ParameterError("n_trials", self.n_trials, "an integer >= 0")
        if self.n_bootstrap < 1:
            raise ParameterError("n_bootstrap", self.n_bootstrap, "an integer >= 1")
        if not 0.5 < self.ci_level < 1:
            raise ParameterError("ci_level", self.ci_level, "a number in (0.5, 1)")
        return self

    def as_dict(self) -> dict:
        return asdict(self)
