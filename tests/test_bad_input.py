"""A corpus of bad-input cases, each run through the command line.

Every case is generated here from one small synthetic cohort (written once per module, copied
per case): the exit code is 2 with the record and the reason named (or 0 where the input is
acceptable, or where the record is excluded with its reason), no traceback appears, and the
input folder is byte-identical before and after. Per-record cases are rerun with ``--skip-bad``:
exit code 0, the record listed as excluded with its reason.
"""
from __future__ import annotations

import hashlib
import shutil
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import numpy as np
import pytest
import wfdb

from hfecg_bench.cli import main
from hfecg_bench.data.synthetic import SynthParams, cohort_from_params, write_cohort
from hfecg_bench.errors import HfecgWarning
from hfecg_bench.leads import STANDARD_LEADS

PARAMS = SynthParams(n_patients=12, duration_s=10, seed=1, prevalence=0.5)
R1, R2, R3 = "syn001", "syn002", "syn003"
HEADER = "record,patient_id,label\n"


@dataclass
class Base:
    wfdb: Path
    signals: dict            # record -> (n_samples, 12) float32 mV
    labels: dict             # record -> (patient_id, label)


@pytest.fixture(scope="module")
def base(tmp_path_factory) -> Base:
    folder = tmp_path_factory.mktemp("base") / "wfdb"
    write_cohort(PARAMS, folder)
    cohort = cohort_from_params(PARAMS)
    return Base(folder, {r.record_id: np.asarray(r.signal) for r in cohort.records},
                {r.record_id: (r.patient_id, r.label) for r in cohort.records})


def sha_tree(folder: Path) -> str:
    h = hashlib.sha256()
    for p in sorted(Path(folder).rglob("*")):
        if p.is_file():
            h.update(str(p.relative_to(folder)).encode())
            h.update(p.read_bytes())
    return h.hexdigest()


# ---------------------------------------------------------------- helpers that damage a copy


def rewrite(folder: Path, rec: str, fn=lambda x: x, *, fs=None, units=None, names=None, gain=None, sub=None):
    """Rewrite WFDB record ``rec`` with ``fn`` applied to its physical signal (mV)."""
    r = wfdb.rdrecord(str(folder / rec))
    sig = fn(r.p_signal.copy())
    for ext in (".hea", ".dat"):
        (folder / f"{rec}{ext}").unlink()
    n = sig.shape[1]
    target = folder / sub if sub else folder
    target.mkdir(exist_ok=True)
    wfdb.wrsamp(rec, fs=fs or r.fs, units=units or ["mV"] * n, sig_name=names or list(r.sig_name)[:n],
                p_signal=sig, fmt=["16"] * n, adc_gain=gain or [1000.0] * n, baseline=[0] * n,
                write_dir=str(target))


def set_label_cell(folder: Path, rec: str, column: str, value: str) -> None:
    lines = (folder / "labels.csv").read_text().splitlines()
    cols = lines[0].split(",")
    for i, line in enumerate(lines[1:], start=1):
        cells = line.split(",")
        if cells[0] == rec:
            cells[cols.index(column)] = value
            lines[i] = ",".join(cells)
    (folder / "labels.csv").write_text("\n".join(lines) + "\n")


def truncate(folder: Path, name: str, keep: float = 1 / 3) -> None:
    f = folder / name
    f.write_bytes(f.read_bytes()[: int(f.stat().st_size * keep)])


def edit_header(folder: Path, rec: str, fn) -> None:
    hea = folder / f"{rec}.hea"
    hea.write_text(fn(hea.read_text()))


def zero_gain(text: str) -> str:
    lines = text.splitlines()
    parts = lines[1].split()
    parts[2] = "0/mV"
    lines[1] = " ".join(parts)
    return "\n".join(lines) + "\n"


def noise(kind: str):
    rng = np.random.default_rng(3)
    if kind == "white":
        return lambda x: rng.normal(0, 0.05, x.shape)
    return lambda x: np.cumsum(rng.normal(0, 0.02, x.shape), axis=0) + rng.normal(0, 0.05, x.shape)


# ---------------------------------------------------------------- npz and beat-file sources


def beats_of(base: Base, rec: str, n: int = 12, width: int = 400) -> np.ndarray:
    """``n`` consecutive ``width``-sample windows of the record (enough for the loaders' checks)."""
    return base.signals[rec][: n * width].reshape(n, width, 12).astype(np.float32)


def write_npz(folder: Path, base: Base, *, records=(R1, R2, R3, "syn004"), X=None, y=None, pids=None, fs=1000.0,
              drop=(), **extra) -> Path:
    xs = [beats_of(base, r) for r in records]
    X = np.concatenate(xs) if X is None else X
    y = np.concatenate([[base.labels[r][1]] * len(x) for r, x in zip(records, xs)]) if y is None else y
    pids = np.concatenate([[base.labels[r][0]] * len(x) for r, x in zip(records, xs)]) if pids is None else pids
    arrays = {"X": X, "y": y, "patient_ids": pids, "fs": fs, **extra}
    path = folder / "beats.npz"
    np.savez(path, **{k: v for k, v in arrays.items() if k not in drop})
    return path


def write_beats(folder: Path, base: Base, records=(R1, R2, R3, "syn004"), fs_column=None) -> Path:
    rows = ["patient_id,label" + (",fs" if fs_column else "")]
    for r in records:
        pid, label = base.labels[r]
        for i, b in enumerate(beats_of(base, r, n=8)):
            np.save(folder / f"{pid}_beat_{i}.npy", b)
        rows.append(f"{pid},{label}" + (f",{fs_column}" if fs_column else ""))
    (folder / "labels.csv").write_text("\n".join(rows) + "\n")
    return folder


def pid(base: Base, rec: str) -> str:
    return base.labels[rec][0]


# ---------------------------------------------------------------- the corpus


@dataclass
class Case:
    id: str
    kind: str                                  # wfdb | npz | beats | ptbdb
    mutate: Callable                           # (folder, base) -> data_dir or None (the folder itself)
    needles: tuple                             # strings the output must contain (case-insensitive)
    rc: int = 2
    skip: bool = True                          # rerun with --skip-bad: rc 0 and the record excluded
    cmd: str = "describe"                      # describe | features
    extra: tuple = ()
    env: dict = field(default_factory=dict)


def _w(fn):
    """A wfdb mutation that returns None (the data dir is the folder)."""
    def run(folder, base):
        fn(folder, base)
    return run


def _rows(extra_rows: str):
    return lambda f, b: (f / "labels.csv").write_text((f / "labels.csv").read_text() + extra_rows)


CASES = [
    # --- signal files
    Case("truncated_dat", "wfdb", _w(lambda f, b: truncate(f, f"{R1}.dat")), (R1, "truncated")),
    Case("truncated_dat_tiny", "wfdb", _w(lambda f, b: truncate(f, f"{R2}.dat", 0.01)), (R2, "truncated")),
    Case("missing_dat", "wfdb", _w(lambda f, b: (f / f"{R1}.dat").unlink()), (R1, "missing")),
    Case("empty_dat", "wfdb", _w(lambda f, b: (f / f"{R1}.dat").write_bytes(b"")), (R1, "truncated")),
    Case("garbage_header", "wfdb", _w(lambda f, b: (f / f"{R1}.hea").write_text("not a header at all\n")),
         (R1, "header")),
    Case("header_more_signals", "wfdb",
         _w(lambda f, b: edit_header(f, R1, lambda t: t.replace(f"{R1} 12 ", f"{R1} 13 ", 1))), (R1, "header")),
    Case("header_fewer_signals", "wfdb",
         _w(lambda f, b: edit_header(f, R1, lambda t: t.replace(f"{R1} 12 ", f"{R1} 11 ", 1))), (R1, "header")),
    Case("header_longer_than_file", "wfdb",
         _w(lambda f, b: edit_header(f, R1, lambda t: t.replace(" 10000", " 20000", 1))), (R1, "truncated")),
    Case("unknown_units", "wfdb", _w(lambda f, b: rewrite(f, R1, units=["furlong"] * 12)), (R1, "unit")),
    Case("gain_zero", "wfdb", _w(lambda f, b: edit_header(f, R1, zero_gain)), (R1, "gain 0")),
    # --- samples
    Case("nan_run", "wfdb", _w(lambda f, b: rewrite(f, R1, lambda x: np.where(np.arange(len(x))[:, None] < 500, np.nan, x))),
         (R1, "NaN run")),
    Case("nan_one_lead", "wfdb",
         _w(lambda f, b: rewrite(f, R2, lambda x: np.concatenate([x[:, :3], np.full((len(x), 1), np.nan), x[:, 4:]], 1))),
         (R2, "NaN run in lead aVR")),
    Case("flat_lead", "wfdb", _w(lambda f, b: rewrite(f, R1, lambda x: np.where(np.arange(12) == 8, 0.2, x))),
         (R1, "flat lead V3")),
    Case("all_flat", "wfdb", _w(lambda f, b: rewrite(f, R1, lambda x: np.zeros_like(x))), (R1, "flat lead")),
    Case("missing_lead", "wfdb", _w(lambda f, b: rewrite(f, R1, lambda x: x[:, :11], names=list(STANDARD_LEADS[:11]))),
         (R1, "missing required lead", "V6")),
    Case("duplicate_lead_name", "wfdb",
         _w(lambda f, b: edit_header(f, R1, lambda t: t.replace(" V6\n", " V5\n"))), (R1, "more than once")),
    Case("microvolts_as_mv", "wfdb", _w(lambda f, b: rewrite(f, R1, lambda x: x * 1000, gain=[1.0] * 12)),
         (R1, "µV", "divide by 1000")),
    Case("volts_as_mv", "wfdb", _w(lambda f, b: rewrite(f, R1, lambda x: x / 1000, gain=[1e6] * 12)),
         (R1, "volts", "multiply by 1000")),
    Case("one_lead_100x", "wfdb", _w(lambda f, b: rewrite(f, R1, lambda x: x * np.where(np.arange(12) == 1, 100, 1),
                                                         gain=[10.0] * 12)), (R1, "lead(s) II", "implausible")),
    Case("low_fs_500", "wfdb", _w(lambda f, b: rewrite(f, R1, lambda x: x[::2], fs=500)),
         (R1, "500 Hz is below")),
    Case("mixed_fs_2000", "wfdb",
         _w(lambda f, b: rewrite(f, R1, lambda x: np.repeat(x, 2, axis=0), fs=2000)),
         (R1, "sampling rates differ", "1000 Hz (11 records)", "2000 Hz (1 record)")),
    # --- labels.csv
    Case("label_2", "wfdb", _w(lambda f, b: set_label_cell(f, R1, "label", "2")), (R1, "label '2' is not 0 or 1")),
    Case("label_word", "wfdb", _w(lambda f, b: set_label_cell(f, R1, "label", "yes")), (R1, "label 'yes'")),
    Case("label_empty", "wfdb", _w(lambda f, b: set_label_cell(f, R1, "label", "")), (R1, "label ''")),
    Case("label_minus_one", "wfdb", _w(lambda f, b: set_label_cell(f, R1, "label", "-1")), (R1, "label '-1'")),
    Case("label_crlf_bad", "wfdb",
         _w(lambda f, b: (set_label_cell(f, R2, "label", "x"),
                          (f / "labels.csv").write_bytes((f / "labels.csv").read_bytes().replace(b"\n", b"\r\n")))),
         (R2, "label 'x'")),
    Case("label_bom_bad", "wfdb",
         _w(lambda f, b: (set_label_cell(f, R3, "label", "7"),
                          (f / "labels.csv").write_bytes(b"\xef\xbb\xbf" + (f / "labels.csv").read_bytes()))),
         (R3, "label '7'")),
    Case("empty_patient_id", "wfdb", _w(lambda f, b: set_label_cell(f, R1, "patient_id", "")),
         (R1, "empty patient_id")),
    Case("extra_fields", "wfdb", _w(_rows("syn999,P999,1,extra,fields\n")), ("syn999", "extra value")),
    Case("extra_field_known_record", "wfdb",
         _w(lambda f, b: set_label_cell(f, R1, "label", "1,surplus")), (R1, "extra value")),
    Case("short_row", "wfdb", _w(lambda f, b: (f / "labels.csv").write_text(
        (f / "labels.csv").read_text().replace(f"{R2},{pid(b, R2)},1", f"{R2},{pid(b, R2)}"))), (R2, "label ''")),
    Case("duplicate_row", "wfdb", _w(_rows(f"{R1},P001,0\n")), (R1, "duplicate record")),
    Case("row_without_record", "wfdb", _w(_rows("ghost7,P777,1\n")), ("ghost7", "no record")),
    Case("record_without_row", "wfdb", _w(lambda f, b: (f / "labels.csv").write_text(
        "\n".join(line for line in (f / "labels.csv").read_text().splitlines() if not line.startswith(R3)) + "\n")),
         (R3, "no row")),
    Case("patient_labels_disagree", "wfdb", _w(lambda f, b: set_label_cell(f, R2, "patient_id", pid(b, R1))),
         (R1, R2, "disagree on the label")),
    Case("same_name_two_subfolders", "wfdb",
         _w(lambda f, b: ((f / "a").mkdir(), [shutil.copy(f / f"{R1}{e}", f / "a") for e in (".hea", ".dat")],
                          rewrite(f, R1, sub="b"))),
         (R1, "different subfolders", "a/syn001", "b/syn001")),
    Case("empty_cell_record", "wfdb", _w(_rows(",P555,1\n")), ("labels.csv line", "empty 'record'")),
    Case("one_pass_label_and_truncated", "wfdb",
         _w(lambda f, b: (set_label_cell(f, R3, "label", "2"), truncate(f, f"{R3}.dat"))),
         (R3, "label '2'", "truncated")),
    Case("one_pass_three_records", "wfdb",
         _w(lambda f, b: (set_label_cell(f, R1, "label", "maybe"), truncate(f, f"{R2}.dat"),
                          rewrite(f, R3, lambda x: np.where(np.arange(12) == 0, 0.1, x)))),
         (R1, R2, R3, "label 'maybe'", "truncated", "flat lead I")),
    # --- whole-source errors (nothing to skip)
    Case("labels_missing", "wfdb", _w(lambda f, b: (f / "labels.csv").unlink()), ("labels file not found",),
         skip=False),
    Case("labels_missing_column", "wfdb", _w(lambda f, b: (f / "labels.csv").write_text("record,label\nsyn001,0\n")),
         ("lacks column", "patient_id"), skip=False),
    Case("labels_not_utf8", "wfdb", _w(lambda f, b: (f / "labels.csv").write_bytes(b"record,patient_id,label\n\xff\xfe\xfa,P1,0\n")),
         ("unreadable",), skip=False),
    Case("labels_header_only", "wfdb", _w(lambda f, b: (f / "labels.csv").write_text(HEADER)),
         ("no row",), skip=False),
    Case("data_dir_missing", "wfdb", lambda f, b: f / "nope", ("not found",), skip=False),
    # --- features stage: records with no ECG are excluded with the reason
    Case("white_noise_record", "wfdb", _w(lambda f, b: rewrite(f, R1, noise("white"))),
         (R1, "no consistent QRS"), rc=0, skip=False, cmd="features"),
    Case("random_walk_noise_record", "wfdb", _w(lambda f, b: rewrite(f, R2, noise("walk"))),
         (R2, "no consistent QRS"), rc=0, skip=False, cmd="features"),
    # --- acceptable variants: read as they are
    Case("crlf_bom_ok", "wfdb", _w(lambda f, b: (f / "labels.csv").write_bytes(
        b"\xef\xbb\xbf" + (f / "labels.csv").read_bytes().replace(b"\n", b"\r\n"))), ("records       12",), rc=0),
    Case("lead_case_and_order_ok", "wfdb", _w(lambda f, b: rewrite(
        f, R1, lambda x: x[:, ::-1], names=[n.lower() for n in STANDARD_LEADS[::-1]])), ("records       12",), rc=0),
    Case("microvolt_units_ok", "wfdb", _w(lambda f, b: rewrite(f, R1, lambda x: x * 1000, units=["uV"] * 12,
                                                               gain=[1.0] * 12)), ("records       12",), rc=0),
    Case("mixed_fs_resampled_ok", "wfdb", _w(lambda f, b: rewrite(f, R1, lambda x: np.repeat(x, 2, axis=0), fs=2000)),
         ("records       12", "resampled"), rc=0, extra=("--resample-to", "1000")),
    # --- npz
    Case("npz_transposed", "npz", lambda f, b: write_npz(f, b, X=np.swapaxes(
        np.concatenate([beats_of(b, r) for r in (R1, R2, R3, "syn004")]), 1, 2)), ("looks transposed",), skip=False),
    Case("npz_fs_text", "npz", lambda f, b: write_npz(f, b, fs="1kHz"), ("fs '1kHz'",), skip=False),
    Case("npz_fs_empty", "npz", lambda f, b: write_npz(f, b, fs=np.array([])), ("fs holds 0 values",), skip=False),
    Case("npz_fs_zero", "npz", lambda f, b: write_npz(f, b, fs=0.0), ("fs 0.0",), skip=False),
    Case("npz_no_beats", "npz", lambda f, b: write_npz(f, b, X=np.zeros((0, 400, 12), np.float32), y=np.zeros(0),
                                                        pids=np.array([], dtype=str)), ("0 beats",), skip=False),
    Case("npz_missing_y", "npz", lambda f, b: write_npz(f, b, drop=("y",)), ("lacks array", "'y'"), skip=False),
    Case("npz_length_mismatch", "npz", lambda f, b: write_npz(f, b, y=np.zeros(5)), ("y has 5",), skip=False),
    Case("npz_two_dim", "npz", lambda f, b: write_npz(f, b, X=np.zeros((48, 400), np.float32)),
         ("must be (n_beats",), skip=False),
    Case("npz_not_a_zip", "npz", lambda f, b: ((f / "beats.npz").write_bytes(b"PK not really"), f / "beats.npz")[1],
         ("cannot read",), skip=False),
    Case("npz_lead_names_mismatch", "npz", lambda f, b: write_npz(f, b, lead_names=np.array(["I", "II"])),
         ("lead_names",), skip=False),
    Case("npz_label_2", "npz", lambda f, b: write_npz(f, b, y=np.r_[np.full(12, 2), np.zeros(36)]),
         ("P001", "not 0 or 1")),
    Case("npz_beats_disagree", "npz", lambda f, b: write_npz(f, b, y=np.r_[0, np.zeros(11), np.ones(12), np.zeros(12),
                                                                           np.r_[1, np.zeros(11)]]),
         ("P004", "disagree on the label")),
    Case("npz_microvolts", "npz", lambda f, b: write_npz(f, b, X=1000 * np.concatenate(
        [beats_of(b, r) for r in (R1, R2, R3, "syn004")])), ("P001", "µV"), skip=False),
    Case("npz_nan", "npz", lambda f, b: write_npz(f, b, X=np.where(
        (np.arange(48) < 12)[:, None, None] & (np.arange(12) == 7), np.nan,
        np.concatenate([beats_of(b, r) for r in (R1, R2, R3, "syn004")]))), ("P001", "NaN run in lead V2")),
    # --- beat files
    Case("beats_fs_text", "beats", lambda f, b: (write_beats(f, b, fs_column="1000"), (f / "labels.csv").write_text(
        (f / "labels.csv").read_text().replace("P001,0,1000", "P001,0,1kHz")))[0], ("P001", "fs '1kHz'")),
    Case("beats_ambiguous_numbering", "beats", lambda f, b: (write_beats(f, b), np.save(
        f / "P002_beat_02.npy", beats_of(b, R2, 1)[0]))[0], ("P002", "P002_beat_02.npy", "P002_beat_2.npy")),
    Case("beats_transposed_file", "beats", lambda f, b: (write_beats(f, b), np.save(
        f / "P003_beat_3.npy", beats_of(b, R3, 1)[0].T))[0], ("P003", "looks transposed")),
    Case("beats_bad_file_name", "beats", lambda f, b: (write_beats(f, b), np.save(f / "stray.npy", np.zeros(3)))[0],
         ("stray.npy", "does not match")),
    Case("beats_shapes_differ", "beats", lambda f, b: (write_beats(f, b), np.save(
        f / "P001_beat_7.npy", beats_of(b, R1, 1, 300)[0]))[0], ("P001", "differ in shape")),
    Case("beats_row_without_files", "beats", lambda f, b: (write_beats(f, b), _rows("P900,1\n")(f, b))[0],
         ("P900", "no beat files")),
    Case("beats_files_without_row", "beats", lambda f, b: (write_beats(f, b), np.save(
        f / "P950_beat_0.npy", beats_of(b, R1, 1)[0]))[0], ("P950", "no row")),
    Case("beats_unreadable_file", "beats", lambda f, b: (write_beats(f, b), (f / "P001_beat_3.npy").write_bytes(
        b"\x00garbage"))[0], ("P001", "unreadable beat file")),
    Case("beats_label_2", "beats", lambda f, b: (write_beats(f, b), (f / "labels.csv").write_text(
        (f / "labels.csv").read_text().replace("P002,1", "P002,2")))[0], ("P002", "label '2'")),
    Case("beats_nested_subfolder", "beats", lambda f, b: (write_beats(f, b), (f / "more").mkdir(),
                                                          np.save(f / "more" / "P001_beat_9.npy", np.zeros((400, 12))))[0],
         ("subfolder", "more"), rc=0),
    # --- ptbdb
    Case("ptb_no_reason", "ptbdb", lambda f, b: _ptb(f, b, comments=["age: 50"]), ("patient001/s0001_re",
                                                                                     "Reason for admission")),
    Case("ptb_empty_folder", "ptbdb", lambda f, b: f, ("no PTB records",), skip=False),
]


def _ptb(folder: Path, base: Base, comments) -> Path:
    """patient001 with ``comments`` in its header, patient002 a good healthy control."""
    for k, (rec, notes) in enumerate([(R1, comments), (R2, ["Reason for admission: Healthy control"])], start=1):
        (folder / f"patient00{k}").mkdir()
        wfdb.wrsamp(f"s000{k}_re", fs=1000, units=["mV"] * 12, sig_name=[n.lower() for n in STANDARD_LEADS],
                    p_signal=base.signals[rec].astype(np.float64), fmt=["16"] * 12, adc_gain=[1000.0] * 12,
                    baseline=[0] * 12, comments=notes, write_dir=str(folder / f"patient00{k}"))
    return folder


def _argv(case: Case, data_dir: Path, tmp_path: Path) -> list[str]:
    src = ["--dataset", case.kind, "--data-dir", str(data_dir)]
    if case.cmd == "features":
        return ["features", *src, "--out", str(tmp_path / "features.csv"), "--cache-dir", str(tmp_path / "cache"),
                *case.extra]
    return ["data", "describe", *src, *case.extra]


def _run(argv, capsys) -> tuple[int, str]:
    """Exit code and everything printed, the package's warnings included (as the CLI prints them)."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        rc = main(argv)
    out = capsys.readouterr()
    return rc, out.out + out.err + "".join(f"warning: {w.message}\n" for w in caught
                                             if issubclass(w.category, HfecgWarning))


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_bad_input(case: Case, base: Base, tmp_path, capsys, monkeypatch):
    for k, v in case.env.items():
        monkeypatch.setenv(k, v)
    work = tmp_path / "input"
    if case.kind == "wfdb":
        shutil.copytree(base.wfdb, work)
    else:
        work.mkdir()
    data_dir = case.mutate(work, base) or work
    before = sha_tree(work)
    rc, text = _run(_argv(case, data_dir, tmp_path), capsys)
    assert "Traceback" not in text
    assert rc == case.rc, text
    for needle in case.needles:
        assert needle.lower() in text.lower(), f"{needle!r} not in:\n{text}"
    assert sha_tree(work) == before, "the input was modified"
    if case.skip and case.rc == 2:
        rc, text = _run(_argv(case, data_dir, tmp_path) + ["--skip-bad"], capsys)
        assert "Traceback" not in text
        assert rc == 0, text
        excluded = text.split("excluded", 1)[-1]
        assert case.needles[0].lower() in excluded.lower() and case.needles[-1].lower() in excluded.lower(), text
        assert sha_tree(work) == before


# ---------------------------------------------------------------- cases outside the data loaders


@pytest.fixture
def wfdb_copy(base, tmp_path):
    work = tmp_path / "input"
    shutil.copytree(base.wfdb, work)
    return work


def _features(work, tmp_path, *extra):
    return ["features", "--dataset", "wfdb", "--data-dir", str(work), "--out", str(tmp_path / "f.csv"), *extra]


@pytest.mark.parametrize("toml, needle", [
    ('[features]\nhf_order = "4"\n', "hf_order = '4' has the wrong type: expected an integer"),
    ("[features]\nhf_band = [150, \"x\"]\n", "expected a list of 2 numbers"),
    ("[beats]\nmin_corr = true\n", "expected a number"),
    ("[evaluation]\nn_trials = 2.5\n", "[evaluation] n_trials"),
    ("features = 3\n", "must be a [features] table"),
    ("[features]\nhf_bnad = [1, 2]\n", "unknown field(s) ['hf_bnad']"),
    ("[features\n", "not valid TOML"),
    ("[features]\nhf_band = [150.0, 600.0]\n", "hf_band"),
], ids=["str_for_int", "list_item", "bool_for_float", "float_for_int", "not_a_table", "unknown_field", "bad_toml",
        "hf_band_above_nyquist"])
def test_config_file_errors(toml, needle, wfdb_copy, tmp_path, capsys):
    cfg = tmp_path / "run.toml"
    cfg.write_text(toml)
    before = sha_tree(wfdb_copy)
    rc, text = _run(_features(wfdb_copy, tmp_path, "--config", str(cfg), "--no-cache"), capsys)
    assert rc == 2 and needle in text and "Traceback" not in text, text
    if "nyquist" in needle or needle == "hf_band":
        assert "fs=1000" in text
    assert sha_tree(wfdb_copy) == before and not (tmp_path / "f.csv").exists()


def test_features_out_existing_file_refused_unless_force(wfdb_copy, tmp_path, capsys):
    out = tmp_path / "f.csv"
    out.write_text("mine\n")
    rc, text = _run(_features(wfdb_copy, tmp_path, "--no-cache"), capsys)
    assert rc == 2 and "already exists" in text and "--force" in text and out.read_text() == "mine\n"
    rc, text = _run(_features(wfdb_copy, tmp_path, "--no-cache", "--force"), capsys)
    assert rc == 0 and out.read_text().startswith("record_id,"), text


@pytest.mark.parametrize("out_name, needle", [("f.txt", "use a .csv or .parquet"), ("adir.csv", "is a folder")])
def test_features_out_checked_before_reading(out_name, needle, tmp_path, capsys):
    (tmp_path / "adir.csv").mkdir()
    rc, text = _run(["features", "--dataset", "wfdb", "--data-dir", str(tmp_path / "nothing-here"),
                     "--out", str(tmp_path / out_name)], capsys)
    assert rc == 2 and needle in text, text        # the out check comes before the (missing) data is read


def test_cache_dir_that_is_a_file(wfdb_copy, tmp_path, capsys):
    f = tmp_path / "cachefile"
    f.write_text("x")
    rc, text = _run(_features(wfdb_copy, tmp_path, "--cache-dir", str(f)), capsys)
    assert rc == 2 and "is a file" in text and f.read_text() == "x", text


def test_unwritable_cache_goes_on_with_one_warning(wfdb_copy, tmp_path, capsys, monkeypatch):
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("x")
    monkeypatch.setenv("HFECG_CACHE_DIR", str(blocker))      # every cache write fails
    rc, text = _run(_features(wfdb_copy, tmp_path), capsys)
    assert rc == 0 and "Traceback" not in text, text
    assert text.count("not writable") == 1 and (tmp_path / "f.csv").exists()


@pytest.mark.parametrize("argv, needle", [
    (["run", "rf", "--data-dir", "X"], "without --dataset"),
    (["features", "--data-dir", "X", "--out", "F.csv"], "without --dataset"),
    (["features", "--labels", "X/labels.csv", "--out", "F.csv"], "without --dataset"),
    (["data", "describe", "--dataset", "synthetic", "--data-dir", "X"], "reads no files"),
    (["data", "describe", "--dataset", "wfdb", "--data-dir", "X", "--resample-to", "0"], "--resample-to"),
    (["data", "describe", "--dataset", "wfdb", "--data-dir", "X", "--resample-to", "400"], "--resample-to"),
], ids=["run", "features", "features_labels", "synthetic_with_dir", "resample_zero", "resample_low"])
def test_argument_errors(argv, needle, tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    rc, text = _run(argv, capsys)
    assert rc == 2 and needle in text and "Traceback" not in text, text
    assert not (tmp_path / "F.csv").exists() and not any(tmp_path.iterdir())
