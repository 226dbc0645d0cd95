"""One heart, one patient id: merge records the user says are one person, and refuse (or exclude) records that
look like the same heart under another patient id, before any split can put them on both sides.

Runs after a loader's per-record checks, on every source but the synthetic cohort (whose patients
are drawn independently: the largest between-patient similarity measured on 120-patient cohorts is
0.74, against a threshold of 0.88).

Examples
--------
>>> from hfecg_bench.cohort import Cohort, Record
>>> from hfecg_bench.data import generate_cohort
>>> syn = generate_cohort(n_patients=4, duration_s=10, seed=3)
>>> first = syn.records[0]
>>> copy = Record("copy01", "someone-else", label=first.label, fs=first.fs, lead_names=first.lead_names,
...               signal=first.signal.copy())
>>> cohort = Cohort(syn.records + [copy], dataset="memory")
>>> kept = check_same_heart(cohort, LoadOptions(skip_bad=True), "memory")
>>> len(kept.records), kept.excluded[0].record
(4, 'copy01')
>>> merged = check_same_heart(merge_patients(cohort, [("syn001", "copy01")]), LoadOptions(), "memory")
>>> len(merged.records), len(merged.patient_ids)        # both records kept, now one patient
(5, 4)
"""
from __future__ import annotations

from dataclasses import replace

from hfecg_bench.cohort import Cohort, Excluded
from hfecg_bench.data.same_heart import find_same_heart, same_heart_problems
from hfecg_bench.data.validate import LoadOptions
from hfecg_bench.errors import DataProblemsError, ParameterError


def merge_patients(cohort: Cohort, groups) -> Cohort:
    """``cohort`` with the records of each group put under one patient id (the first record's).

    Parameters
    ----------
    groups : iterable of sequences of str
        Record ids known to be one person (``--same-patient tseal08,tseal09``).

    Raises
    ------
    ParameterError
        A record id of a group is not in the cohort.
    """
    by_id = {r.record_id: r for r in cohort.records}
    new_pid: dict[str, str] = {}
    for group in groups:
        group = [str(g).strip() for g in group if str(g).strip()]
        missing = [g for g in group if g not in by_id]
        if missing:
            raise ParameterError("same_patient", ",".join(group), f"records {missing} are not in the cohort")
        for rid in group[1:]:
            new_pid[rid] = by_id[group[0]].patient_id
    if not new_pid:
        return cohort
    records = [replace(r, patient_id=new_pid[r.record_id]) if r.record_id in new_pid else r for r in cohort.records]
    info = {**cohort.info, "merged_patients": {rid: pid for rid, pid in new_pid.items()}}
    return Cohort(records=records, dataset=cohort.dataset, excluded=list(cohort.excluded), info=info)


def check_same_heart(cohort: Cohort, options: LoadOptions, source: str) -> Cohort:
    """Refuse the cohort (every pair named) when two patient ids look like one heart, or, with
    ``options.skip_bad``, exclude the later record of each pair with the reason.

    The pairs found are recorded in ``cohort.info["same_heart"]`` either way.
    """
    pairs = find_same_heart(cohort)
    info = {**cohort.info, "same_heart": [p.as_dict() for p in pairs]}
    if not pairs:
        return Cohort(records=cohort.records, dataset=cohort.dataset, excluded=list(cohort.excluded), info=info)
    problems = same_heart_problems(pairs)
    if not options.skip_bad:
        raise DataProblemsError(source, problems)
    drop = {p.record for p in problems}
    return Cohort(records=[r for r in cohort.records if r.record_id not in drop], dataset=cohort.dataset,
                  excluded=list(cohort.excluded) + [Excluded(p.record, p.reason) for p in problems], info=info)
