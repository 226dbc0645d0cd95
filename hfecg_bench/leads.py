"""Lead-name normalisation: one spelling per standard lead, extra leads kept by name."""
from __future__ import annotations

STANDARD_LEADS: tuple[str, ...] = ("I", "II", "III", "aVR", "aVL", "aVF", "V1", "V2", "V3", "V4", "V5", "V6")

# Keyed by the upper-case name with separators removed, so "avr", "AVR", "aVR" and "V-1" all match.
_CANONICAL = {name.upper(): name for name in STANDARD_LEADS}
_CANONICAL.update({"MLI": "I", "MLII": "II", "MLIII": "III", "LEADI": "I", "LEADII": "II", "LEADIII": "III"})


def lead_key(name: str) -> str:
    """The comparison key of a lead name: upper case, no spaces, dashes or underscores."""
    return "".join(ch for ch in str(name).strip().upper() if ch not in " -_")


def normalize_lead(name: str) -> str:
    """Return the canonical spelling of a lead name.

    Standard leads map to ``I, II, III, aVR, aVL, aVF, V1..V6`` whatever their case
    or separators; any other lead (Frank ``vx``, a bipolar chest lead) is kept as
    given, stripped of surrounding space.

    Examples
    --------
    >>> normalize_lead("avr"), normalize_lead("V-1"), normalize_lead("vx")
    ('aVR', 'V1', 'vx')
    """
    return _CANONICAL.get(lead_key(name), str(name).strip())


def normalize_leads(names) -> tuple[str, ...]:
    """Normalise every name of a sequence of lead names (order kept).

    Parameters
    ----------
    names : iterable of str
        Lead names as a source wrote them.

    Returns
    -------
    tuple of str
        Canonical names (:func:`normalize_lead`), one per input name.

    Examples
    --------
    >>> normalize_leads(["i", "AVR", "v1", "MLII", "vz"])
    ('I', 'aVR', 'V1', 'II', 'vz')
    >>> normalize_leads(STANDARD_LEADS) == STANDARD_LEADS
    True
    """
    return tuple(normalize_lead(n) for n in names)
