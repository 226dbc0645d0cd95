"""Split-leakage gap: the same model scored under a beat-wise random split and under the patient-wise plan.

Beats of one patient are near copies of each other, so a random beat-wise split puts
the patient on both sides and the model can recognise the patient instead of the
disease. The gap between the two scores is how much a leaky protocol inflates a result.
"""
from __future__ import annotations

import numpy as np
import pandas as pd
from scipy.signal import butter, sosfiltfilt
from sklearn.ensemble import RandomForestClassifier
from sklearn.model_selection import KFold

from hfecg_bench.bands import HF_BAND_HZ
from hfecg_bench.beats.beatset import cap_beats
from hfecg_bench.evaluation.folds import assert_disjoint
from hfecg_bench.evaluation.metrics import aggregate_patient_probs, safe_auroc
from hfecg_bench.evaluation.seeds import derive_seed


def beat_features(X: np.ndarray, fs: float, hf_band=HF_BAND_HZ) -> np.ndarray:
    """Per-beat, per-lead descriptors: wideband RMS, peak-to-peak, and RMS in ``hf_band`` (Hz, in uV).

    ``X`` is ``(n_beats, n_window, n_leads)`` in mV; returns ``(n_beats, 3 * n_leads)``.

    Examples
    --------
    >>> X = np.random.default_rng(0).normal(size=(5, 400, 2)).astype(np.float32)
    >>> beat_features(X, 1000.0).shape
    (5, 6)
    """
    rms = np.sqrt(np.mean(X ** 2, axis=1))
    ptp = np.ptp(X, axis=1)
    top = min(float(hf_band[1]), 0.45 * fs)
    hf = sosfiltfilt(butter(4, [float(hf_band[0]), top], btype="band", fs=fs, output="sos"), X, axis=1)
    hf_rms = np.sqrt(np.mean(hf ** 2, axis=1))
    return np.concatenate([rms, ptp, hf_rms * 1000], axis=1).astype(np.float32)


def split_leakage(beats, plan, seed: int, *, hf_band=HF_BAND_HZ, max_beats_per_patient: int = 30,
                  n_estimators: int = 200) -> dict:
    """Patient-level and beat-level AUROC of a RandomForest on beat descriptors, beat-wise vs patient-wise.

    Parameters
    ----------
    beats : BeatSet
        ``X (n_beats, n_window, n_leads)``, per-beat ``patient_ids``, ``labels``, and ``fs``.
    plan : FoldPlan
        The run's patient-wise plan (beats follow their patient's fold).
    """
    pids_all = np.asarray(beats.patient_ids).astype(str)
    in_plan = np.isin(pids_all, np.asarray(plan.patients, dtype=str))
    idx = np.flatnonzero(in_plan)
    idx = cap_beats(idx, pids_all, max_beats_per_patient, np.random.default_rng(derive_seed(seed, "leak-cap")))
    X = beat_features(np.asarray(beats.X)[idx], float(beats.fs), hf_band)
    y = np.asarray(beats.labels).astype(int)[idx]
    pids = pids_all[idx]
    fold_of = plan.folds.reindex(pids).to_numpy(int)

    def run(split_ids) -> np.ndarray:
        prob = np.zeros(len(y))
        for k, (tr, te) in enumerate(split_ids):
            rf = RandomForestClassifier(n_estimators=n_estimators, min_samples_leaf=2, class_weight="balanced",
                                        n_jobs=2, random_state=derive_seed(seed, "leak-rf", k))
            rf.fit(X[tr], y[tr])
            prob[te] = rf.predict_proba(X[te])[:, 1]
        return prob

    patient_splits = [(np.flatnonzero(fold_of != k), np.flatnonzero(fold_of == k)) for k in range(plan.n_folds)]
    for k, (tr, te) in enumerate(patient_splits):
        assert_disjoint(pids[tr], pids[te], f"split-leakage patient-wise fold {k}")
    beat_splits = list(KFold(plan.n_folds, shuffle=True, random_state=derive_seed(seed, "leak-kfold")).split(X))
    shared = [len(set(pids[tr]) & set(pids[te])) for tr, te in beat_splits]
    out = {}
    for name, splits in (("patient_wise", patient_splits), ("beat_wise", beat_splits)):
        prob = run(splits)
        per_patient = aggregate_patient_probs(prob, pids)
        lab = pd.Series(y).groupby(pids).first().loc[per_patient.index]
        out[name] = {"beat_auroc": round(safe_auroc(y, prob), 4),
                     "patient_auroc": round(safe_auroc(lab.to_numpy(), per_patient.to_numpy()), 4)}
    gap = out["beat_wise"]["beat_auroc"] - out["patient_wise"]["beat_auroc"]
    return {
        "kind": "split_leakage",
        "summary": (f"RandomForest on beat descriptors: beat-level AUROC {out['beat_wise']['beat_auroc']:.3f} under a "
                    f"random beat-wise split vs {out['patient_wise']['beat_auroc']:.3f} patient-wise: a leaky protocol "
                    f"inflates AUROC by {gap:+.3f}"),
        "model": "rf (beat descriptors)",
        "beat_wise": out["beat_wise"],
        "patient_wise": out["patient_wise"],
        "inflation": round(float(gap), 4),
        "patients_on_both_sides_beat_wise": int(np.mean(shared)) if shared else 0,
        "n_beats": int(len(y)),
    }
