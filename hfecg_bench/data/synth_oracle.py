"""The oracle of a synthetic cohort: the AUROC, against the written labels, of the planted per-patient
quantity itself, free of recording noise (``truth.json``'s ``oracle_auroc``). No model given the recordings can
beat it by more than chance.

Examples
--------
>>> import numpy as np
>>> hf = np.full((4, 12), 4.0)
>>> hf[2:, 6:10] *= 0.6                                  # two patients with V1-V4 reduced by 40 %
>>> truth = {"expected_signal_groups": ["hf"],
...          "patients": [{"label": int(i >= 2), "hf_rms_uv": dict(zip(STANDARD_LEADS, row))} for i, row in enumerate(hf)]}
>>> oracle_auroc(truth)
1.0
"""
from __future__ import annotations

import numpy as np
from scipy.stats import rankdata

from hfecg_bench.data.synth_physio import LEAD_GROUPS
from hfecg_bench.leads import STANDARD_LEADS


def territory_contrast(hf_rms_uv: np.ndarray) -> np.ndarray:
    """Lowest territory HF-QRS contrast per patient, in log units (natural log).

    For each coronary territory (:data:`~hfecg_bench.data.synth_physio.LEAD_GROUPS`: anterior
    V1-V4, inferior II/III/aVF, lateral I/aVL/V5/V6), the mean log HF RMS of its leads minus
    the mean log HF RMS of the other leads of the patient; the minimum over the three.

    Parameters
    ----------
    hf_rms_uv : ndarray (n_patients, 12)
        Per-lead HF-QRS RMS in uV, leads in :data:`~hfecg_bench.leads.STANDARD_LEADS` order.

    Returns
    -------
    ndarray (n_patients,)
        ``log(1 - effect)`` plus lead-to-lead scatter for a patient whose territory carries
        a relative reduction ``effect``; around -0.1 without one.

    Examples
    --------
    >>> hf = np.full((2, 12), 4.0)
    >>> hf[1, 6:10] *= 0.5                                   # V1-V4 halved
    >>> np.round(territory_contrast(hf), 3)
    array([ 0.   , -0.693])
    """
    z = np.log(np.asarray(hf_rms_uv, dtype=float))
    out = np.full(z.shape[0], np.inf)
    for leads in LEAD_GROUPS.values():
        inside = np.isin(STANDARD_LEADS, leads)
        out = np.minimum(out, z[:, inside].mean(axis=1) - z[:, ~inside].mean(axis=1))
    return out


def auroc(labels: np.ndarray, score: np.ndarray) -> float:
    """Area under the ROC curve of ``score`` for binary ``labels`` (Mann-Whitney, ties count 1/2).

    >>> auroc(np.array([0, 0, 1, 1]), np.array([0.1, 0.5, 0.5, 0.9]))
    0.875
    """
    y = np.asarray(labels).astype(bool)
    ranks = rankdata(np.asarray(score, dtype=float))
    n1, n0 = int(y.sum()), int((~y).sum())
    return float((ranks[y].sum() - n1 * (n1 + 1) / 2) / (n1 * n0))


def oracle_auroc(truth: dict) -> float:
    """AUROC, against the written labels, of the planted per-patient quantity itself (noise-free).

    The quantity is read from the truth entries, before any recording noise, beat detection or
    averaging: no model given the recordings can beat it by more than chance.

    - HF-QRS presets (``realistic``, ``hf_effect``, ``label_noise``, ``averaging_required``)
      and ``null``: minus :func:`territory_contrast` of the true per-lead HF RMS
      (``hf_rms_uv``), the lowest territory's mean log HF RMS minus that of the other leads.
      In ``null`` nothing is planted and it gives about 0.5; label noise and, in
      ``realistic``, positives without a reduction and the wider lead-to-lead scatter lower it.
    - ``conventional_effect``: the planted ST depression (``st_depression_mv``, 0 where none);
      the QRS widening it comes with adds nothing once that separates the classes.

    Parameters
    ----------
    truth : dict
        The cohort's ``info["truth"]`` (``patients`` with ``label``, ``hf_rms_uv``,
        ``st_depression_mv``; ``expected_signal_groups``).

    Returns
    -------
    float
        In [0, 1], rounded to 4 decimals.
    """
    pts = truth["patients"]
    y = np.array([p["label"] for p in pts])
    if "conventional" in truth["expected_signal_groups"]:
        score = np.array([p["st_depression_mv"] for p in pts], dtype=float)
    else:
        score = -territory_contrast(np.array([[p["hf_rms_uv"][x] for x in STANDARD_LEADS] for p in pts]))
    return round(auroc(y, score), 4)


__all__ = ["auroc", "oracle_auroc", "territory_contrast"]
