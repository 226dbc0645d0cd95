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
    """``cohort`` with the patients of each group's records put under one patient id (the first record's).

    Whole patients are merged, not only the listed records: every record of every patient named through
    a group moves, and groups that share a patient are joined (``a,b`` and ``b,c`` make one person).

    Parameters
    ----------
    groups : iterable of sequences of str
        Record ids known to be one person (``--same-patient tseal08,tseal09``).

    Raises
    ------
    ParameterError
        A record id of a group is not in the cohort.
    """
    patient_of = {r.record_id: r.patient_id for r in cohort.records}
    parent: dict[str, str] = {}

    def root(pid: str) -> str:
        while parent.get(pid, pid) != pid:
            pid = parent[pid]
        return pid

    for group in groups:
        group = [str(g).strip() for g in group if str(g).strip()]
        missing = [g for g in group if g not in patient_of]
        if missing:
            raise ParameterError("same_patient", ",".join(group), f"records {missing} are not in the cohort")
        first = root(patient_of[group[0]])
        for rid in group[1:]:
            other = root(patient_of[rid])
            if other != first:
                parent[other] = first
    new_pid = {pid: root(pid) for pid in parent}
    if not new_pid:
        return cohort
    records = [replace(r, patient_id=new_pid[r.patient_id]) if r.patient_id in new_pid else r for r in cohort.records]
    info = {**cohort.info, "merged_patients": dict(sorted(new_pid.items()))}
    return Cohort(records=records, dataset=cohort.dataset, excluded=list(cohort.excluded), info=info)


def check_same_heart(cohort: Cohort, options: LoadOptions, source: str) -> Cohort:
    """Refuse the cohort (every pair named) when two patient ids look like one heart, or, with
    ``options.skip_bad``, exclude every record of the later pair member's patient (other records of that
    patient, e.g. from another day, are the same person too) with the reason.

    The pairs found are recorded in ``cohort.info["same_heart"]`` either way.
    """
    pairs = find_same_heart(cohort)
    info = {**cohort.info, "same_heart": [p.as_dict() for p in pairs]}
    if not pairs:
        return Cohort(records=cohort.records, dataset=cohort.dataset, excluded=list(cohort.excluded), info=info)
    problems = same_heart_problems(pairs)
    if not options.skip_bad:
        raise DataProblemsError(source, problems)
    reason_of_patient = {pair.patient_b: problem.reason for pair, problem in zip(pairs, problems)}
    dropped = [r for r in cohort.records if r.patient_id in reason_of_patient]
    excluded = [Excluded(r.record_id, reason_of_patient[r.patient_id] if r.record_id in {p.record for p in problems}
                         else f"same patient as {r.patient_id}'s record excluded as a same-heart duplicate: "
                              f"{reason_of_patient[r.patient_id]}") for r in dropped]
    return Cohort(records=[r for r in cohort.records if r.patient_id not in reason_of_patient], dataset=cohort.dataset,
                  excluded=list(cohort.excluded) + excluded, info=info)
