"""False-positive and detection rate of the acquisition-confound diagnostic, with its run time.

For each seed a ``null`` synthetic cohort (50 Hz mains, ``--duration`` s, ``--n-patients`` patients)
is generated and tested as it is (false positives), then turned into confounded cohorts with
nothing else changed:

- ``duration``: the positives truncated to half their length (15 s vs 30 s by default);
- ``mains``: the positives taken from the same seed generated with 60 Hz mains (the same
  patients, only the mains line differs);
- ``partial_mains`` (extra, harder): only 40 % of the positives at 60 Hz.

Only recording properties are computed (no feature extraction). Every test uses a stratified
5-fold plan seeded per cohort and ``--n-permutations`` permutations. The last stdout line is
one JSON object.

Usage (about 15-25 min on a shared 2-core machine, mostly cohort generation)::

    HFECG_CACHE_DIR=/tmp/cache nice -n 10 python benchmarks/bench_confound.py --n-null 40 --n-confounded 10
"""
from __future__ import annotations

import argparse
import dataclasses
import json
import sys
import time
import warnings
from pathlib import Path

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from hfecg_bench.cohort import Cohort  # noqa: E402
from hfecg_bench.data import generate_cohort  # noqa: E402
from hfecg_bench.data.properties import recording_properties  # noqa: E402
from hfecg_bench.diagnostics.confound import acquisition_confound  # noqa: E402
from hfecg_bench.evaluation.folds import make_fold_plan  # noqa: E402


def _test(cohort: Cohort, seed: int, n_permutations: int, timings: dict) -> dict:
    t0 = time.perf_counter()
    props = recording_properties(cohort)
    t1 = time.perf_counter()
    labels = pd.Series(cohort.patient_labels()).astype(int).sort_index()
    plan = make_fold_plan(labels, n_folds=5, seed=seed)
    f = acquisition_confound(props, labels, plan, seed=seed, n_permutations=n_permutations)
    t2 = time.perf_counter()
    timings.setdefault("properties_s", []).append(t1 - t0)
    timings.setdefault("confound_s", []).append(t2 - t1)
    return f


def _rate(findings: list[dict], expected: str | None = None) -> dict:
    sig = [f["significant"] for f in findings]
    out = {"n_cohorts": len(findings), "n_significant": int(sum(sig)), "rate": round(float(np.mean(sig)), 4),
           "p_values": [f["p_value"] for f in findings], "auroc": [f["auroc"] for f in findings]}
    if expected:
        named = [bool(f["properties"]) and f["properties"][0]["name"] == expected for f in findings if f["significant"]]
        out["top_property_correct"] = f"{sum(named)} of {len(named)} significant"
        out["expected_top_property"] = expected
    return out


def _half_positives(cohort: Cohort) -> Cohort:
    recs = [dataclasses.replace(r, signal=r.signal[: r.signal.shape[0] // 2]) if r.label == 1 else r
            for r in cohort.records]
    return Cohort(records=recs, dataset="synthetic")


def _mains_mix(fifty: Cohort, sixty: Cohort, fraction: float, seed: int) -> Cohort:
    pos = [r.record_id for r in fifty.records if r.label == 1]
    rng = np.random.default_rng(seed)
    swap = set(rng.choice(pos, size=int(round(fraction * len(pos))), replace=False))
    by_id = {r.record_id: r for r in sixty.records}
    return Cohort(records=[by_id[r.record_id] if r.record_id in swap else r for r in fifty.records],
                  dataset="synthetic")


def main(argv=None) -> dict:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n-null", type=int, default=40)
    ap.add_argument("--n-confounded", type=int, default=10, help="cohorts per confound kind (duration, mains)")
    ap.add_argument("--n-patients", type=int, default=100)
    ap.add_argument("--duration", type=float, default=30.0)
    ap.add_argument("--n-permutations", type=int, default=500)
    ap.add_argument("--alpha", type=float, default=0.05)
    args = ap.parse_args(argv)
    warnings.simplefilter("ignore")
    start = time.perf_counter()
    timings: dict = {}
    gen_s = []
    null, duration, mains, partial = [], [], [], []
    for i in range(max(args.n_null, args.n_confounded)):
        seed = 1000 + i
        t = time.perf_counter()
        fifty = generate_cohort(preset="null", n_patients=args.n_patients, duration_s=args.duration, seed=seed)
        gen_s.append(time.perf_counter() - t)
        if i < args.n_null:
            null.append(_test(fifty, seed, args.n_permutations, timings))
        if i < args.n_confounded:
            duration.append(_test(_half_positives(fifty), seed, args.n_permutations, timings))
            t = time.perf_counter()
            sixty = generate_cohort(preset="null", n_patients=args.n_patients, duration_s=args.duration, seed=seed,
                                    mains_hz=60)
            gen_s.append(time.perf_counter() - t)
            mains.append(_test(_mains_mix(fifty, sixty, 1.0, seed), seed, args.n_permutations, timings))
            partial.append(_test(_mains_mix(fifty, sixty, 0.4, seed), seed, args.n_permutations, timings))
        print(f"cohort {i + 1}: null p={null[-1]['p_value'] if i < args.n_null else '-'}", file=sys.stderr, flush=True)
    # the size the diagnostic is meant for: 177 patients x 30 s
    big = generate_cohort(preset="null", n_patients=177, duration_s=30.0, seed=7)
    big_t: dict = {}
    _test(big, 7, args.n_permutations, big_t)
    out = {
        "setup": {"n_patients": args.n_patients, "duration_s": args.duration, "n_permutations": args.n_permutations,
                  "alpha": args.alpha, "folds": 5, "preset": "null"},
        "false_positive": _rate(null),
        "detection_duration_half": _rate(duration, "duration_s"),
        "detection_mains_60_vs_50": _rate(mains, "mains_hz"),
        "detection_partial_mains_40pct": _rate(partial, "mains_hz"),
        "detection_overall": {"n_cohorts": len(duration) + len(mains),
                              "n_significant": int(sum(f["significant"] for f in duration + mains))},
        "timing_s": {
            "properties_per_cohort_median": round(float(np.median(timings["properties_s"])), 3),
            "confound_per_cohort_median": round(float(np.median(timings["confound_s"])), 3),
            "generation_per_cohort_median": round(float(np.median(gen_s)), 3),
            "properties_177x30s": round(big_t["properties_s"][0], 3),
            "confound_177_patients": round(big_t["confound_s"][0], 3),
            "total": round(time.perf_counter() - start, 1),
        },
    }
    return out


if __name__ == "__main__":
    print(json.dumps(main(), indent=None))
