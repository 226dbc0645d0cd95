"""One sampling rate per cohort: find mixed rates, or resample every record to one rate.

Features depend on the sampling rate (wavelet scales, spectral bins, filter responses), so a
cohort whose classes were recorded at different rates can be told apart by the rate alone.
Mixed rates are therefore a problem by default; ``LoadOptions.resample_to`` (``--resample-to``)
resamples every record with :func:`scipy.signal.resample_poly` (polyphase FIR, anti-aliased)
by the rational factor ``target / fs``.

Examples
--------
>>> import numpy as np
>>> x = np.sin(2 * np.pi * 10 * np.arange(2000) / 2000)[:, None].astype(np.float32)
>>> y = resample_signal(x, 2000.0, 1000.0, axis=0)
>>> y.shape, y.dtype
((1000, 1), dtype('float32'))
>>> rate_problems({"a": 1000.0, "b": 1000.0, "c": 2000.0})[0].reason[:63]
'sampling rates differ: 1000 Hz (2 records), 2000 Hz (1 record);'
"""
from __future__ import annotations

from collections import Counter
from dataclasses import replace
from fractions import Fraction

import numpy as np
from scipy.signal import resample_poly

from hfecg_bench.cohort import Cohort
from hfecg_bench.errors import ParameterError, Problem


def _hz(fs: float) -> str:
    return f"{float(fs):g} Hz"


def rate_problems(rates: dict[str, float]) -> list[Problem]:
    """One problem per record not at the cohort's most common rate, naming every rate and its count.

    Parameters
    ----------
    rates : dict
        Record id -> sampling rate in Hz.

    Returns
    -------
    list of Problem
        Empty when all records share one rate. Ties go to the rate listed first.
    """
    counts = Counter(float(f) for f in rates.values())
    if len(counts) < 2:
        return []
    order = sorted(counts)
    main = max(order, key=lambda f: counts[f])
    listing = ", ".join(f"{_hz(f)} ({counts[f]} record{'s' if counts[f] != 1 else ''})" for f in order)
    # down to the lowest rate only: upsampled records keep an empty band above their original Nyquist,
    # a signature of the acquisition rate that models learn (a confound, not a cure)
    return [Problem(rid, f"sampling rates differ: {listing}; this record is {_hz(fs)}, most are {_hz(main)} "
                         f"(pass --resample-to {order[0]:g} to resample every record down to the lowest rate)")
            for rid, fs in rates.items() if float(fs) != main]


def resample_signal(data: np.ndarray, fs: float, target: float, axis: int) -> np.ndarray:
    """``data`` resampled from ``fs`` to ``target`` Hz along ``axis`` (float32, polyphase, anti-aliased).

    Parameters
    ----------
    data : ndarray
        ``(n_samples, n_leads)`` with ``axis=0`` or ``(n_beats, n_window, n_leads)`` with ``axis=1``, mV.
    fs, target : float
        Rates in Hz; their ratio is taken as a fraction with a denominator of at most 1000.
    """
    ratio = Fraction(float(target) / float(fs)).limit_denominator(1000)
    if ratio == 1:
        return np.asarray(data, dtype=np.float32)
    out = resample_poly(np.asarray(data, dtype=np.float64), ratio.numerator, ratio.denominator, axis=axis)
    return out.astype(np.float32)


def resample_records(records: list, target: float) -> tuple[list, dict]:
    """Every record resampled to ``target`` Hz (records already at that rate are kept as they are).

    Returns the new records and an ``info`` entry ``{"to_hz", "from", "method"}`` where ``from``
    counts records per original rate.
    """
    target = float(target)
    rates = sorted({float(r.fs) for r in records})
    if len(rates) > 1 and target > rates[0]:
        raise ParameterError("resample_to", target,
                             f"at most the lowest rate of the cohort ({rates[0]:g} Hz; rates {[f'{f:g}' for f in rates]}): "
                             "records upsampled from a lower rate keep an empty band above their original Nyquist, "
                             "an acquisition signature models can learn")
    out = []
    for r in records:
        if float(r.fs) == target:
            out.append(r)
        elif r.is_beats:
            out.append(replace(r, beats=resample_signal(r.beats, r.fs, target, axis=1), fs=target))
        else:
            out.append(replace(r, signal=resample_signal(r.signal, r.fs, target, axis=0), fs=target))
    counts = Counter(float(r.fs) for r in records)
    info = {"to_hz": target, "from": {f"{f:g}": n for f, n in sorted(counts.items())},
            "method": "scipy.signal.resample_poly (polyphase, anti-aliased)"}
    return out, info


def resample_cohort(cohort, target: float):
    """A copy of ``cohort`` with every record at ``target`` Hz, ``info["resampled"]`` recording it."""
    records, info = resample_records(cohort.records, target)
    return Cohort(records=records, dataset=cohort.dataset, excluded=list(cohort.excluded),
                  info={**cohort.info, "resampled": info})
