"""Calibrate the same-heart check: similarity of within- and between-patient record pairs.

Real PTB sample (../shared/data/ptb-sample/ptbdb, all 67 records, every diagnosis): pairs of
records of one patient (positives; same session = same ``ECG date`` in the header, or different
days) against pairs of different patients (negatives); tseal with tseal08/09 (PTB patient229);
synthetic cohorts of 120 independent patients (negatives only). Prints JSON.

    HFECG_CACHE_DIR=/tmp/cache python benchmarks/bench_same_heart.py
"""
from __future__ import annotations

import json
import re
import sys
import time
from pathlib import Path

import numpy as np

from hfecg_bench.data import LoadOptions, generate_cohort, load_cohort
from hfecg_bench.data.same_heart import (DEFAULT_THRESHOLD, averaged_beat_slopes, find_same_heart,
                                         shape_similarity)

SAMPLE = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "ptb-sample"


def _summary(values) -> dict:
    v = np.asarray(values, dtype=float)
    if v.size == 0:
        return {"n": 0}
    q = np.quantile(v, [0.0, 0.5, 0.9, 0.99, 1.0])
    return {"n": int(v.size), "min": round(q[0], 4), "median": round(q[1], 4), "q90": round(q[2], 4),
            "q99": round(q[3], 4), "max": round(q[4], 4)}


def _pairs(cohort, threshold):
    t0 = time.perf_counter()
    slopes = averaged_beat_slopes(cohort.records)
    t1 = time.perf_counter()
    sim, _ = shape_similarity(slopes)
    t2 = time.perf_counter()
    ids = [r.record_id for r in cohort.records]
    pids = [r.patient_id for r in cohort.records]
    rows = [(ids[i], ids[j], pids[i] == pids[j], float(sim[i, j])) for i, j in zip(*np.triu_indices(len(ids), 1))]
    cost = {"n_records": len(ids), "duration_s": round(float(np.median([r.duration_s for r in cohort.records])), 2),
            "beats_s_per_record": round((t1 - t0) / len(ids), 4), "matrix_s": round(t2 - t1, 3)}
    return rows, cost


def _rate(values, threshold) -> str:
    v = np.asarray(values, dtype=float)
    return f"{int(np.sum(v >= threshold))} of {v.size}"


def main(threshold: float = DEFAULT_THRESHOLD) -> dict:
    out: dict = {"threshold": threshold, "statistic": "lowest-lead slope concordance of averaged beats"}
    if (SAMPLE / "ptbdb").is_dir():
        dates, diagnoses = {}, set()
        for hea in (SAMPLE / "ptbdb").glob("patient*/*.hea"):
            text = hea.read_text()
            dates[f"{hea.parent.name}/{hea.stem}"] = re.search(r"ECG date: *(.*)", text).group(1).strip()
            diagnoses.add(re.search(r"Reason for admission: *(.*)", text).group(1).strip())
        pos = tuple(sorted(d for d in diagnoses if d != "Healthy control"))
        ptb = load_cohort("ptbdb", data_dir=SAMPLE / "ptbdb",
                          options=LoadOptions(ptb_positive=pos, ptb_negative=("Healthy control",)))
        rows, cost = _pairs(ptb, threshold)
        within = [r for r in rows if r[2]]
        same_day = [r for r in within if dates[r[0]] == dates[r[1]]]
        other_day = [r for r in within if dates[r[0]] != dates[r[1]]]
        between = [r for r in rows if not r[2]]
        out["ptb"] = {
            "cost": cost,
            "within_same_session": _summary([r[3] for r in same_day]),
            "within_different_days": _summary([r[3] for r in other_day]),
            "between_patients": _summary([r[3] for r in between]),
            "detection_same_session": _rate([r[3] for r in same_day], threshold),
            "detection_different_days": _rate([r[3] for r in other_day], threshold),
            "false_positives_between": _rate([r[3] for r in between], threshold),
            "within_pairs": sorted(([a, b, "same session" if dates[a] == dates[b] else "different days",
                                     round(s, 4)] for a, b, _, s in within), key=lambda x: -x[3]),
            "top_between_pairs": [[a, b, round(s, 4)] for a, b, _, s in sorted(between, key=lambda r: -r[3])[:5]],
            "flagged_by_find_same_heart": [p.as_dict() for p in find_same_heart(ptb, threshold=threshold)],
        }
        tseal = load_cohort("wfdb", data_dir=SAMPLE / "tseal", labels=SAMPLE / "tseal" / "labels.csv")
        rows, cost = _pairs(tseal, threshold)
        out["tseal"] = {
            "cost": cost,
            "tseal08_tseal09": round(next(s for a, b, _, s in rows if {a, b} == {"tseal08", "tseal09"}), 4),
            "between_patients": _summary([r[3] for r in rows if not r[2]]),
            "false_positives_between": _rate([r[3] for r in rows if not r[2]], threshold),
            "top_between_pairs": [[a, b, round(s, 4)] for a, b, _, s in
                                  sorted((r for r in rows if not r[2]), key=lambda r: -r[3])[:3]],
        }
    else:
        out["ptb"] = f"skipped: real PTB sample not found at {SAMPLE}"
    out["synthetic"] = {}
    for preset in ("hf_effect", "null", "averaging_required"):
        cohort = generate_cohort(preset=preset, n_patients=120, seed=0)
        t0 = time.perf_counter()
        pairs = find_same_heart(cohort, threshold=threshold)
        total = time.perf_counter() - t0
        rows, cost = _pairs(cohort, threshold)
        cost["find_same_heart_s"] = round(total, 2)
        values = [r[3] for r in rows if not r[2]]
        out["synthetic"][preset] = {"cost": cost, "between_patients": _summary(values),
                                    "false_positives_between": _rate(values, threshold),
                                    "flagged_by_find_same_heart": len(pairs)}
    return out


if __name__ == "__main__":
    print(json.dumps(main(float(sys.argv[1]) if len(sys.argv) > 1 else DEFAULT_THRESHOLD), indent=1))
