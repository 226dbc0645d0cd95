"""The package's base exception and warning classes, and the few subclasses callers act on.

Every message names what it is about (record, parameter, model) and the value
found, so that a user can act on it without reading a traceback.
"""
from __future__ import annotations

from dataclasses import dataclass


class HfecgError(Exception):
    """Base class of every error hfecg_bench raises on purpose (bad input, bad parameter)."""


class TrialFailedError(HfecgError):
    """A fit failed because of its hyperparameters (NaN loss, receptive field longer than the window).

    Inside Optuna tuning this fails that trial only (it is pruned with the message); with fixed
    parameters it stops the run with the message, as any other HfecgError.
    """


class HfecgWarning(UserWarning):
    """Base class of every warning hfecg_bench emits (e.g. sampling rate allowed below 1000 Hz)."""


@dataclass(frozen=True)
class Problem:
    """One thing wrong with one record of an input folder.

    Parameters
    ----------
    record : str
        The record id (or labels.csv row, or file name) the problem is about.
    reason : str
        What is wrong, with the value found and, where it applies, the value needed.
    """

    record: str
    reason: str

    def __str__(self) -> str:
        return f"{self.record}: {self.reason}"

    def as_dict(self) -> dict:
        return {"record": self.record, "reason": self.reason}


class DataProblemsError(HfecgError):
    """Raised when an input folder has problems and the user did not ask to skip bad records.

    All problems of the folder are collected in one pass and carried in ``problems``.
    """

    def __init__(self, source: str, problems: list[Problem]):
        self.source = source
        self.problems = list(problems)
        lines = "\n".join(f"  - {p}" for p in self.problems)
        super().__init__(
            f"{len(self.problems)} problem(s) in {source}:\n{lines}\n"
            "Fix them, or pass --skip-bad to exclude these records and go on."
        )


class ParameterError(HfecgError, ValueError):
    """A parameter is outside its valid range; the message names the parameter, value and range."""

    def __init__(self, name: str, value, valid: str):
        self.name, self.value, self.valid = name, value, valid
        super().__init__(f"invalid {name}={value!r}: {valid}")
