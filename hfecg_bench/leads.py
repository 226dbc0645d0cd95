"""Lead names (one spelling per standard lead, extra leads kept by name) and the coronary territories they face."""
from __future__ import annotations

import numpy as np

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


#: Coronary territories by the leads that face them (LAD: anterior, RCA: inferior, LCx: lateral).
TERRITORIES = {"anterior": ("V1", "V2", "V3", "V4"), "inferior": ("II", "III", "aVF"),
               "lateral": ("I", "aVL", "V5", "V6")}


def territory_matrix(lead_names) -> tuple[np.ndarray, list[str]]:
    """``(n_leads, n_territories)`` float32 0/1 membership of each lead in :data:`TERRITORIES`, and the
    territory names.

    Leads outside every territory (aVR, Frank leads) have a zero row; a territory without a lead among
    ``lead_names`` is left out.

    >>> m, names = territory_matrix(("I", "II", "V1", "V2", "X"))
    >>> m.T.tolist(), names
    ([[0.0, 0.0, 1.0, 1.0, 0.0], [0.0, 1.0, 0.0, 0.0, 0.0], [1.0, 0.0, 0.0, 0.0, 0.0]], ['anterior', 'inferior', 'lateral'])
    """
    names = [normalize_lead(str(n)) for n in lead_names]
    cols, keep = [], []
    for terr, members in TERRITORIES.items():
        col = [1.0 if n in members else 0.0 for n in names]
        if any(col):
            cols.append(col)
            keep.append(terr)
    m = np.array(cols, dtype=np.float32).T if cols else np.zeros((len(names), 0), np.float32)
    return m, keep


def territory_contrast_weights(lead_names) -> np.ndarray:
    """``(n_leads, n_territories)`` float32 weights: a territory's leads averaged, minus the mean of the other
    leads (so ``X @ W`` turns per-lead values into territory contrasts and a factor common to all leads cancels).

    >>> territory_contrast_weights(("V1", "V2", "II", "I")).astype(float).round(2).T.tolist()
    [[0.5, 0.5, -0.5, -0.5], [-0.33, -0.33, 1.0, -0.33], [-0.33, -0.33, -0.33, 1.0]]
    """
    member, _ = territory_matrix(lead_names)
    inside = member / member.sum(axis=0, keepdims=True)
    outside = (1.0 - member) / np.maximum((1.0 - member).sum(axis=0, keepdims=True), 1.0)
    return (inside - outside).astype(np.float32)
