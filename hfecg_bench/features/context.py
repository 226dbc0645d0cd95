"""What every feature group receives (the averaged beat and its landmarks) and returns."""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np


@dataclass
class BeatContext:
    """The signal-averaged beat of one record, restricted to the leads features are computed for.

    Attributes
    ----------
    average : ndarray (n_samples, n_leads), mV
    fs : float
    onset, offset, fiducial : int
        QRS onset, offset and R fiducial, sample indices in ``average``.
    n_beats : int
        Beats averaged.
    nn_ms : ndarray
        RR intervals of consecutive kept beats (empty for pre-cut beats).
    precut : bool
        The record held pre-cut beats (no rhythm).
    lead_names : tuple of str
        Names of the columns of ``average`` (normalised), for features defined over lead territories.
    """

    average: np.ndarray
    fs: float
    onset: int
    offset: int
    fiducial: int
    n_beats: int
    nn_ms: np.ndarray = field(default_factory=lambda: np.zeros(0))
    precut: bool = False
    lead_names: tuple = ()

    @property
    def n_leads(self) -> int:
        return int(self.average.shape[1])

    def samples(self, ms: float) -> int:
        """Milliseconds to samples at this rate."""
        return int(round(ms * self.fs / 1000.0))

    @property
    def qrs(self) -> slice:
        """The QRS interval, onset to offset inclusive."""
        return slice(self.onset, self.offset + 1)


@dataclass
class GroupResult:
    """Features of one group for one record.

    ``per_lead[name]`` has one value per lead of the context; ``across[name]`` is one value for the
    record (column lead ``all``); ``reasons[name]`` says why ``name`` is NaN wherever it is.
    """

    per_lead: dict = field(default_factory=dict)
    across: dict = field(default_factory=dict)
    reasons: dict = field(default_factory=dict)


def safe_log10(x: np.ndarray) -> np.ndarray:
    """log10 with NaN (not -inf) for non-positive values."""
    x = np.asarray(x, dtype=np.float64)
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(x > 0, np.log10(np.where(x > 0, x, 1.0)), np.nan)
