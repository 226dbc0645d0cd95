"""Reading one WFDB record safely: every failure becomes a reason naming the record, never a traceback."""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np


@dataclass
class WfdbSignal:
    """The parts of a WFDB record the loaders need."""

    signal: np.ndarray        # (n_samples, n_leads) float32 mV, NaN where the file marks invalid samples
    fs: float                 # Hz
    lead_names: list[str]     # as written in the header
    comments: list[str]       # header comment lines, without '#'
    units: list[str]


def read_header(path: Path):
    """The header only (cheap); raises whatever wfdb raises."""
    import wfdb   # lazy: half a second to import, needed only when WFDB files are read

    return wfdb.rdheader(str(path))


def read_wfdb(path: Path) -> tuple[WfdbSignal | None, str | None]:
    """Read the record at ``path`` (without extension).

    Returns ``(signal, None)`` or ``(None, reason)`` where reason says what is wrong:
    unreadable header, header/signal mismatch, truncated or unreadable signal file.
    Physical units other than mV are converted (uV, V); unknown units are a reason.
    """
    import wfdb   # lazy: half a second to import, needed only when WFDB files are read

    path = Path(path)
    try:
        header = wfdb.rdheader(str(path))
    except Exception as exc:  # wfdb raises bare ValueError/IndexError on malformed headers
        return None, f"unreadable header {path.name}.hea ({_short(exc)}): header/signal mismatch or corrupt header"
    n_sig = header.n_sig or 0
    names = list(header.sig_name or [])
    if len(names) != n_sig:
        return None, f"header/signal mismatch: header declares {n_sig} signals but lists {len(names)}"
    for fname in sorted(set(header.file_name or [])):
        f = path.parent / fname
        if not f.exists():
            return None, f"signal file {fname} is missing"
    zero = _zero_gain_leads(path.with_suffix(".hea"), names)
    if zero:
        return None, (f"header gain 0 for lead(s) {', '.join(zero)}: the ADC gain is unknown (uncalibrated), and "
                      "wfdb then assumes 200 ADC units per mV, so the amplitude in mV (the unit) would be wrong; "
                      "write the lead's real gain (ADC units per mV) into the header")
    expected = _expected_bytes(header)
    if expected is not None:
        for fname, nbytes in expected.items():
            size = (path.parent / fname).stat().st_size
            if size < nbytes:
                n_in_file = list(header.file_name).count(fname)
                return None, (f"truncated signal file {fname}: {size} bytes, header needs {nbytes} "
                              f"({header.sig_len} samples x {n_in_file} signal{'s' if n_in_file != 1 else ''} "
                              f"in {fname})")
    try:
        rec = wfdb.rdrecord(str(path))
    except Exception as exc:
        return None, f"unreadable signal ({_short(exc)})"
    sig = rec.p_signal
    if sig is None or sig.ndim != 2 or sig.shape[1] != n_sig:
        return None, f"header/signal mismatch: expected {n_sig} signal columns, read {None if sig is None else sig.shape}"
    if header.sig_len and sig.shape[0] != header.sig_len:
        return None, f"truncated signal: header says {header.sig_len} samples, file holds {sig.shape[0]}"
    scale, bad_units = _to_mv(rec.units or ["mV"] * n_sig)
    if bad_units:
        return None, f"unknown physical unit(s) {bad_units}; expected mV, uV or V"
    signal = (sig * scale[None, :]).astype(np.float32)
    comments = [c.strip() for c in (rec.comments or [])]
    return WfdbSignal(signal, float(rec.fs), names, comments, list(rec.units or [])), None


_BYTES_PER_SAMPLE = {"8": 1, "16": 2, "61": 2, "80": 1, "160": 2, "24": 3, "32": 4, "212": 1.5, "310": 4 / 3, "311": 4 / 3}


def _expected_bytes(header) -> dict[str, int] | None:
    """Bytes each signal file must hold at least, from the header; None if it cannot be told."""
    if not header.sig_len or not header.fmt:
        return None
    need: dict[str, float] = {}
    for fname, fmt, off in zip(header.file_name, header.fmt, header.byte_offset or [None] * header.n_sig):
        per = _BYTES_PER_SAMPLE.get(str(fmt))
        if per is None:
            return None
        need[fname] = need.get(fname, float(off or 0)) + per * header.sig_len
    return {k: int(v) for k, v in need.items()}


def _zero_gain_leads(hea: Path, names: list[str]) -> list[str]:
    """Leads whose header signal line gives an ADC gain of exactly 0 (wfdb silently reads it as 200)."""
    try:
        lines = hea.read_text(errors="replace").splitlines()
    except OSError:
        return []
    specs = [line.split() for line in lines if line.strip() and not line.lstrip().startswith("#")][1:]
    zero = []
    for j, fields in enumerate(specs[:len(names)]):
        if len(fields) > 2:
            gain = fields[2].split("(")[0].split("/")[0]
            try:
                if float(gain) == 0:
                    zero.append(str(names[j]))
            except ValueError:
                pass
    return zero


def _to_mv(units: list[str]) -> tuple[np.ndarray, list[str]]:
    factors = {"mv": 1.0, "uv": 1e-3, "µv": 1e-3, "μv": 1e-3, "v": 1e3}
    scale, bad = [], []
    for u in units:
        f = factors.get(str(u).strip().lower())
        if f is None:
            bad.append(u)
            f = 1.0
        scale.append(f)
    return np.array(scale), bad


def _short(exc: Exception) -> str:
    text = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
    return f"{type(exc).__name__}: {text[:160]}" if text else type(exc).__name__
