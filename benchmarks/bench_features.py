"""Speed of feature extraction against a NeuroKit2 per-lead reference, on one core.

Times :func:`hfecg_bench.features.extract_features` (all four feature groups, cache off) on the
first ``--n-records`` records of the synthetic default cohort (fallback: the PTB sample), and a
reference that runs ``neurokit2.ecg_process`` on every one of the 12 standard leads of the same
records. Both are reported in seconds per lead-minute of recording. The last stdout line is one
JSON object: ``hfecg_s_per_lead_minute``, ``neurokit_s_per_lead_minute``, ``speedup``, ``peak_rss_mb``.

Usage: ``python benchmarks/bench_features.py --n-records 6``
"""
from __future__ import annotations

import os

for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "NUMEXPR_NUM_THREADS"):
    os.environ.setdefault(_var, "1")            # one core, set before numpy is imported

import argparse  # noqa: E402
import json  # noqa: E402
import resource  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402
import warnings  # noqa: E402
from pathlib import Path  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from hfecg_bench.cohort import Cohort  # noqa: E402
from hfecg_bench.data import generate_cohort  # noqa: E402
from hfecg_bench.features import FeatureConfig, extract_features  # noqa: E402
from hfecg_bench.leads import STANDARD_LEADS  # noqa: E402



def load_records(n: int, seed: int):
    """The first ``n`` records of the synthetic default cohort."""
    cohort = generate_cohort(preset="hf_effect", seed=seed)
    return cohort.records[:n], "synthetic (default preset)"


def time_hfecg(records, repeats: int) -> float:
    cohort = Cohort(records=list(records), dataset="bench")
    config = FeatureConfig()
    extract_features(Cohort(records=list(records[:1]), dataset="warmup"), config, cache_dir=False)
    best = float("inf")
    for _ in range(repeats):
        t0 = time.perf_counter()
        table = extract_features(cohort, config, cache_dir=False)   # cache disabled in the timed path
        best = min(best, time.perf_counter() - t0)
    assert len(table.frame) + len(table.excluded) == len(records)
    return best


def time_neurokit(records) -> float:
    import neurokit2 as nk

    warnings.filterwarnings("ignore")
    r0 = records[0]
    nk.ecg_process(r0.signal[: int(5 * r0.fs), 0].astype(float), sampling_rate=int(r0.fs))   # warm-up
    t0 = time.perf_counter()
    for rec in records:
        sig = rec.standard_signal().astype(float)
        for j in range(sig.shape[1]):
            nk.ecg_process(sig[:, j], sampling_rate=int(rec.fs))
    return time.perf_counter() - t0


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--n-records", type=int, default=6, help="records timed (default 6)")
    p.add_argument("--seed", type=int, default=0, help="synthetic cohort seed (default 0)")
    p.add_argument("--repeats", type=int, default=3, help="timed repeats of the hfecg path, best kept (default 3)")
    args = p.parse_args(argv)
    records, source = load_records(args.n_records, args.seed)
    lead_minutes = sum(r.duration_s for r in records) / 60.0 * len(STANDARD_LEADS)
    print(f"{len(records)} records from {source}, {lead_minutes:.1f} lead-minutes")
    t_hf = time_hfecg(records, args.repeats)
    print(f"hfecg_bench extract_features (4 groups, no cache): {t_hf:.2f} s")
    t_nk = time_neurokit(records)
    print(f"neurokit2.ecg_process per lead: {t_nk:.2f} s")
    out = {
        "hfecg_s_per_lead_minute": round(t_hf / lead_minutes, 5),
        "neurokit_s_per_lead_minute": round(t_nk / lead_minutes, 5),
        "speedup": round(t_nk / t_hf, 1),
        "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0, 1),
        "n_records": len(records),
        "source": source,
    }
    print(json.dumps(out))
    return 0


if __name__ == "__main__":
    sys.exit(main())
