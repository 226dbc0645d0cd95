"""`--dataset wfdb`: any folder of WFDB records plus labels.csv (`record,patient_id,label`)."""
from __future__ import annotations

from pathlib import Path

from hfecg_bench.cohort import Cohort, Record
from hfecg_bench.data.assemble import assemble, validate_record
from hfecg_bench.data.labels import read_labels
from hfecg_bench.data.validate import LoadOptions
from hfecg_bench.data.wfdb_io import read_wfdb
from hfecg_bench.errors import HfecgError, Problem
from hfecg_bench.leads import normalize_leads


def find_records(folder: Path) -> tuple[dict[str, Path], dict[str, list[Path]]]:
    """Records under ``folder`` (recursively): ``(found, ambiguous)``.

    ``found`` maps every relative path without extension (``sub/r1``) and every file stem that
    is unique in the tree (``r1``) to the record's path; ``ambiguous`` maps a stem shared by
    records in different subfolders to all of their paths (a labels.csv row naming that bare
    stem cannot tell them apart).
    """
    found: dict[str, Path] = {}
    by_stem: dict[str, list[Path]] = {}
    for hea in sorted(Path(folder).rglob("*.hea")):
        rel = hea.relative_to(folder).with_suffix("")
        found[rel.as_posix()] = hea.with_suffix("")
        by_stem.setdefault(hea.stem, []).append(hea.with_suffix(""))
    ambiguous = {stem: paths for stem, paths in by_stem.items() if len(paths) > 1}
    for stem, paths in by_stem.items():
        if stem not in ambiguous:
            found.setdefault(stem, paths[0])
    return found, ambiguous


def load_wfdb_folder(folder: Path, labels: Path | None, options: LoadOptions, dataset: str = "wfdb",
                     progress=None) -> Cohort:
    """Read every record named in ``labels`` (default ``folder/labels.csv``) and check all of them.

    The ``record`` column is the record name (file stem) or its path relative to ``folder``.
    Problems found, all in one pass (a record whose row is bad is still read and checked):
    rows with no record, records with no row, two records of one name in different subfolders
    named by that bare name, unreadable/truncated files, header/signal mismatch, bad labels,
    empty patient ids, NaN runs, flat or missing leads, implausible amplitude, low or mixed
    sampling rates.
    """
    folder = Path(folder)
    if not folder.is_dir():
        raise HfecgError(f"data folder not found: {folder}")
    labels = Path(labels) if labels else folder / "labels.csv"
    rows, problems = read_labels(labels, key="record", required=("record", "patient_id", "label"))
    on_disk, ambiguous = find_records(folder)
    listed_paths = set()
    records: list[Record] = []
    for i, (rid, row) in enumerate(rows.items()):
        if progress:
            progress(i, len(rows), rid)
        if rid in ambiguous:
            where = ", ".join(p.relative_to(folder).as_posix() for p in ambiguous[rid])
            problems.append(Problem(rid, f"{len(ambiguous[rid])} records are named {rid!r} in different subfolders "
                                         f"({where}): name each by its path relative to {folder} in {labels.name}"))
            listed_paths.update(ambiguous[rid])
            continue
        path = on_disk.get(rid)
        if path is None:
            problems.append(Problem(rid, f"labels.csv row with no record: no {rid}.hea under {folder}"))
            continue
        listed_paths.add(path)
        pid = row.get("patient_id", "")
        if not pid:
            problems.append(Problem(rid, f"empty patient_id in {labels.name} line {row['_line']}: every record needs "
                                         "its patient's id (a record on its own would split a patient across folds)"))
        sig, reason = read_wfdb(path)
        if reason:
            problems.append(Problem(rid, reason))
            continue
        problems.extend(validate_record(rid, sig.signal, sig.fs, sig.lead_names, options))
        if row["label"] is None or not pid:
            continue                                   # its problems are listed; nothing to build
        meta = {k: v for k, v in row.items() if k not in ("record", "patient_id", "label", "_line") and v}
        records.append(Record(record_id=rid, patient_id=str(pid), label=int(row["label"]), fs=sig.fs,
                              lead_names=normalize_leads(sig.lead_names), signal=sig.signal,
                              source=str(path), meta=meta))
    for path in sorted(set(on_disk.values()) - listed_paths):
        rel = path.relative_to(folder).as_posix()
        if path.stem in ambiguous:
            others = ", ".join(p.relative_to(folder).as_posix() for p in ambiguous[path.stem] if p != path)
            problems.append(Problem(rel, f"record with no row in {labels.name} (another record of the same name: "
                                         f"{others})"))
        else:
            problems.append(Problem(path.stem, f"record with no row in {labels.name}"))
    return assemble(dataset, str(folder), records, problems, options, info={"labels_file": str(labels)})
