"""Writing files so that a crash never leaves half a file, and JSON that any reader accepts.

Every file the package writes goes through :func:`write_atomic` (a temporary file in the
same folder, then an atomic rename), so a killed run leaves either the old file or the new
one. :func:`jsonable` turns numpy scalars, arrays, paths and non-finite floats into plain
JSON values; it is the one sanitiser of the package.

Examples
--------
>>> import numpy as np, tempfile, pathlib
>>> jsonable({"auc": np.float32(0.5), "n": np.int64(3), "gap": float("nan"), "ok": np.bool_(True)})
{'auc': 0.5, 'n': 3, 'gap': None, 'ok': True}
>>> d = pathlib.Path(tempfile.mkdtemp())
>>> write_json(d / "x.json", {"a": np.arange(2)}).name
'x.json'
>>> (d / "x.json").read_text()
'{\\n  "a": [\\n    0,\\n    1\\n  ]\\n}'
"""
from __future__ import annotations

import json
import math
import os
import tempfile
from pathlib import Path

import numpy as np
import pandas as pd


def _read_umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


_UMASK = _read_umask()  # read once: os.umask can only be read by setting it


def jsonable(obj):
    """``obj`` with numpy types, paths, tuples and non-finite floats made plain JSON (NaN/inf -> None)."""
    if isinstance(obj, dict):
        return {str(k): jsonable(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [jsonable(v) for v in obj]
    if isinstance(obj, np.ndarray):
        return jsonable(obj.tolist())
    if isinstance(obj, np.bool_):
        return bool(obj)
    if isinstance(obj, np.integer):
        return int(obj)
    if isinstance(obj, (float, np.floating)):
        return float(obj) if math.isfinite(obj) else None
    if isinstance(obj, Path):
        return str(obj)
    return obj


def write_atomic(path: Path, data: str | bytes) -> Path:
    """Write ``data`` to ``path`` through a temporary file in the same folder and an atomic rename."""
    path = Path(path)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data.encode() if isinstance(data, str) else data)
        os.chmod(tmp, 0o666 & ~_UMASK)  # mkstemp makes 0600; a run's files are as readable as any other file
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise
    return path


def write_json(path: Path, obj, *, sort_keys: bool = False) -> Path:
    """``obj`` made :func:`jsonable`, indented, written atomically."""
    return write_atomic(path, json.dumps(jsonable(obj), indent=2, sort_keys=sort_keys, default=str))


def write_csv(path: Path, frame: pd.DataFrame, *, float_format: str = "%.10g") -> Path:
    """A DataFrame as CSV without its index, written atomically (10 significant digits by default)."""
    return write_atomic(path, frame.to_csv(index=False, float_format=float_format))


def read_json(path: Path, default=None):
    """The JSON in ``path``, or ``default`` when the file does not exist."""
    path = Path(path)
    if not path.exists():
        return default
    return json.loads(path.read_text())
