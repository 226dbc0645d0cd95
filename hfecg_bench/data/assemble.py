"""Turn what a loader read into a Cohort: cross-record checks, then fail or exclude.

Loaders read every record they can and collect per-record problems; this module
adds the checks that need all records at once (duplicate ids, patients whose
records disagree on the label, sampling rates that differ unless ``options.resample_to``
resamples every record to one rate), then either raises one
:class:`~hfecg_bench.errors.DataProblemsError` listing everything or, with
``skip_bad``, moves the problem records to ``Cohort.excluded``.
"""
from __future__ import annotations

import warnings
from collections import Counter, defaultdict

from hfecg_bench.cohort import Cohort, Excluded, Record
from hfecg_bench.data.resample import rate_problems, resample_records
from hfecg_bench.data.validate import HF_MIN_FS, LoadOptions, check_amplitude, check_fs, check_leads, check_samples
from hfecg_bench.errors import DataProblemsError, HfecgError, HfecgWarning, Problem
from hfecg_bench.leads import normalize_leads


def validate_record(record_id: str, data, fs: float, lead_names, options: LoadOptions) -> list[Problem]:
    """All single-record problems of one signal (or beat stack) as Problems naming ``record_id``."""
    names = normalize_leads(lead_names)
    reasons = (check_fs(float(fs), options) + check_leads(names, options)
               + check_samples(data, float(fs), names, options) + check_amplitude(data, names))
    return [Problem(record_id, r) for r in reasons]


def assemble(dataset: str, source: str, records: list[Record], problems: list[Problem],
             options: LoadOptions, info: dict | None = None, excluded_by_design: list[Excluded] | None = None) -> Cohort:
    """Build the Cohort, or raise DataProblemsError with every problem found.

    Parameters
    ----------
    dataset, source : str
        Source name and the path it was read from (for messages).
    records : list of Record
        Records that could be read (possibly with problems listed in ``problems``).
    problems : list of Problem
        Per-record problems already found by the loader.
    excluded_by_design : list of Excluded, optional
        Records left out on purpose (e.g. a PTB diagnosis in neither class): listed, never an error.
    """
    problems = list(problems)
    info = dict(info or {})
    if options.resample_to:
        records, info["resampled"] = resample_records(records, options.resample_to)
    else:
        problems += rate_problems({r.record_id: r.fs for r in records})
    counts = Counter(r.record_id for r in records)
    for rid, n in sorted(counts.items()):
        if n > 1:
            problems.append(Problem(rid, f"duplicate record id: {n} records are named {rid!r}"))
    by_patient: dict[str, dict[int, list[str]]] = defaultdict(lambda: defaultdict(list))
    for r in records:
        by_patient[r.patient_id][r.label].append(r.record_id)
    for pid, labels in by_patient.items():
        if len(labels) > 1:
            detail = "; ".join(f"label {lab}: {sorted(ids)}" for lab, ids in sorted(labels.items()))
            for ids in labels.values():
                for rid in ids:
                    problems.append(Problem(rid, f"patient {pid}'s records disagree on the label ({detail})"))
    if problems and not options.skip_bad:
        raise DataProblemsError(source, _merge(problems))
    bad = {p.record for p in problems}
    kept = [r for r in records if r.record_id not in bad]
    excluded = list(excluded_by_design or []) + [Excluded(p.record, p.reason) for p in _merge(problems)]
    if not kept:
        listing = "".join(f"\n  - {e.record}: {e.reason}" for e in excluded[:20])
        more = f"\n  ... and {len(excluded) - 20} more" if len(excluded) > 20 else ""
        raise HfecgError(f"no usable record in {source}: {len(excluded)} excluded, none left{listing}{more}")
    low = sorted({r.fs for r in kept if r.fs < HF_MIN_FS})
    if low:
        warnings.warn(f"{dataset}: sampling rate(s) {low} Hz below {HF_MIN_FS:g} Hz accepted with allow_low_fs; "
                      "HF-QRS (150-250 Hz) estimates will be degraded", HfecgWarning, stacklevel=2)
    return Cohort(records=kept, dataset=dataset, excluded=excluded, info=info)


def _merge(problems: list[Problem]) -> list[Problem]:
    """One Problem per record, its reasons joined, in first-seen order."""
    reasons: dict[str, list[str]] = {}
    for p in problems:
        lst = reasons.setdefault(p.record, [])
        if p.reason not in lst:
            lst.append(p.reason)
    return [Problem(rec, "; ".join(rs)) for rec, rs in reasons.items()]
