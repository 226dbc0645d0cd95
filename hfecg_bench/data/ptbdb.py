"""`--dataset ptbdb`: the PhysioNet PTB Diagnostic ECG Database tree (`patientNNN/<record>.hea/.dat/.xyz`).

The label comes from the header comment ``Reason for admission: <diagnosis>``;
diagnoses in ``options.ptb_positive`` are 1, in ``options.ptb_negative`` 0, any
other diagnosis is excluded on purpose and counted per diagnosis.
"""
from __future__ import annotations

from collections import Counter
from pathlib import Path

from hfecg_bench.cohort import Cohort, Excluded, Record
from hfecg_bench.data.assemble import assemble, validate_record
from hfecg_bench.data.validate import LoadOptions
from hfecg_bench.data.wfdb_io import read_header, read_wfdb
from hfecg_bench.errors import HfecgError, Problem
from hfecg_bench.leads import normalize_leads

REASON_KEY = "reason for admission"


def diagnosis_of(comments: list[str]) -> str | None:
    """The ``Reason for admission`` value of a PTB header's comments, or None."""
    for line in comments or []:
        key, sep, value = line.lstrip("# ").partition(":")
        if sep and key.strip().lower() == REASON_KEY:
            return value.strip()
    return None


def load_ptbdb(root: Path, options: LoadOptions, progress=None) -> Cohort:
    """Read the PTB tree under ``root``; see the module docstring for labels.

    Record ids are ``patientNNN/<record>`` (as in PhysioNet's RECORDS file) and the
    patient id is the ``patientNNN`` folder name.
    """
    root = Path(root)
    if not root.is_dir():
        raise HfecgError(f"PTB folder not found: {root}")
    headers = sorted(root.glob("patient*/*.hea"))
    if not headers:
        raise HfecgError(f"no PTB records under {root}: expected patientNNN/<record>.hea "
                         "(download with `python -m hfecg_bench data fetch ptbdb --out DIR`)")
    pos = {d.lower() for d in options.ptb_positive}
    neg = {d.lower() for d in options.ptb_negative}
    overlap = pos & neg
    if overlap:
        raise HfecgError(f"diagnosis class(es) {sorted(overlap)} are both positive and negative")
    problems: list[Problem] = []
    records: list[Record] = []
    by_design: list[Excluded] = []
    other = Counter()
    for i, hea in enumerate(headers):
        rid = f"{hea.parent.name}/{hea.stem}"
        if progress:
            progress(i, len(headers), rid)
        try:
            header = read_header(hea.with_suffix(""))
        except Exception as exc:
            problems.append(Problem(rid, f"unreadable header ({type(exc).__name__}: {exc})"))
            continue
        diagnosis = diagnosis_of(header.comments)
        if diagnosis is None:
            problems.append(Problem(rid, "header has no 'Reason for admission' comment: cannot label"))
            continue
        label = 1 if diagnosis.lower() in pos else 0 if diagnosis.lower() in neg else None
        if label is None:
            other[diagnosis] += 1
            by_design.append(Excluded(rid, f"diagnosis {diagnosis!r} is in neither class "
                                           f"(positive {list(options.ptb_positive)}, negative {list(options.ptb_negative)})"))
            continue
        sig, reason = read_wfdb(hea.with_suffix(""))
        if reason:
            problems.append(Problem(rid, reason))
            continue
        problems.extend(validate_record(rid, sig.signal, sig.fs, sig.lead_names, options))
        records.append(Record(record_id=rid, patient_id=hea.parent.name, label=label, fs=sig.fs,
                              lead_names=normalize_leads(sig.lead_names), signal=sig.signal,
                              source=str(hea.with_suffix("")), meta={"diagnosis": diagnosis}))
    info = {"excluded_diagnoses": dict(sorted(other.items())),
            "classes": {"positive": list(options.ptb_positive), "negative": list(options.ptb_negative)}}
    return assemble("ptbdb", str(root), records, problems, options, info=info, excluded_by_design=by_design)


def fetch_ptbdb(out: Path) -> Path:
    """Download the PTB Diagnostic ECG Database (about 1.7 GB) into ``out`` with wfdb.

    Needs internet access to PhysioNet; not exercised by the test suite. Existing
    files are kept (wfdb skips what is already there when ``overwrite=False``).
    """
    import wfdb   # lazy: half a second to import, needed only when WFDB files are read

    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    try:
        wfdb.dl_database("ptbdb", dl_dir=str(out), overwrite=False)
    except Exception as exc:
        raise HfecgError(f"download of ptbdb into {out} failed ({type(exc).__name__}: {exc}); "
                         "check the internet connection, then run the same command again to resume") from None
    return out
