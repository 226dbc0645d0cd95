"""The HF-QRS frequency band: one definition that beats, features, deep views and diagnostics read.

A neutral leaf module (it imports nothing from the package) so any layer can use it without
an import cycle. The band a run actually uses is ``FeatureConfig.hf_band`` (default
:data:`HF_BAND_HZ`); code that needs a band takes it as a parameter defaulting to this.

Examples
--------
>>> HF_BAND_HZ
(150.0, 250.0)
>>> check_band("hf_band", [100, 200])
(100.0, 200.0)
"""
from __future__ import annotations

from hfecg_bench.errors import ParameterError

#: Hz, the 150-250 Hz QRS content measured on the signal-averaged beat (see ../shared/DESIGN.md).
HF_BAND_HZ: tuple[float, float] = (150.0, 250.0)


def check_band(name: str, band) -> tuple[float, float]:
    """``band`` as a ``(low, high)`` tuple of floats in Hz, or :class:`ParameterError` naming ``name``.

    Parameters
    ----------
    name : str
        The parameter name used in the error message (e.g. ``"hf_band"``).
    band : sequence of two numbers
        Lower and upper edge in Hz, ``0 < low < high``.
    """
    try:
        lo, hi = (float(x) for x in band)
    except (TypeError, ValueError):
        raise ParameterError(name, band, "must be a pair (low, high) of frequencies in Hz") from None
    if not 0 < lo < hi:
        raise ParameterError(name, band, "must be (low, high) in Hz with 0 < low < high")
    return lo, hi
