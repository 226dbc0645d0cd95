"""The run directory: the one owner of ``run_state.json`` and ``manifest.json``, and of where each file lives.

A run directory is created by the first invocation and resumed by later ones with the same
settings. ``run_state.json`` holds the settings a resumed run must share (seed, profile, data
fingerprint, every config section); ``manifest.json`` holds everything a reader needs to
reproduce the run. Only :class:`RunDirectory` writes those two files, always atomically, from
the one in-memory manifest it keeps, so there is no read-modify-write by several writers.

Examples
--------
>>> import tempfile, pathlib
>>> rd = RunDirectory.open(pathlib.Path(tempfile.mkdtemp()) / "run", {"seed": 0, "profile": "quick"})
>>> rd.resuming, sorted(p.name for p in rd.path.iterdir())
(False, ['run_state.json'])
>>> rd.update_manifest(seed=0, timings={"features_s": 1.5})
>>> rd.update_manifest(timings={"models_s": 3.0})
>>> rd.manifest["timings"]
{'features_s': 1.5, 'models_s': 3.0}
>>> RunDirectory.open(rd.path, {"seed": 0, "profile": "quick"}).resuming
True
"""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

import pandas as pd

from hfecg_bench.errors import HfecgError
from hfecg_bench.io import jsonable, read_json, write_csv, write_json

STATE_FILE = "run_state.json"
MANIFEST_FILE = "manifest.json"
FEATURES_FILE = "features.parquet"
FOLDS_FILE = "folds.csv"
STUDIES_DB = "studies.db"
FOLD_DIR = "fold_predictions"
PREDICTIONS_FILE = "predictions.csv"
TRAIN_SCORES_FILE = "train_scores.csv"
METRICS_FILE = "metrics.csv"
DIAGNOSTICS_FILE = "diagnostics.json"

#: What a run writes before it fits anything: a run directory holding nothing else has no fitted work to protect,
#: so a run with other settings starts over there (these files are replaced; any other file makes it a refusal).
SETUP_FILES = (STATE_FILE, MANIFEST_FILE, FEATURES_FILE, FOLDS_FILE)

#: Settings printed in full when a resumed run differs (the others are long: only their name is shown).
SHOWN_KEYS = ("seed", "profile", "fingerprint")


def default_out(dataset: str) -> Path:
    """``reports/<dataset>-<YYYYmmdd-HHMMSS>``: where a run goes when no folder is given."""
    return Path("reports") / f"{dataset}-{datetime.now().strftime('%Y%m%d-%H%M%S')}"


def _merge(into: dict, new: dict) -> None:
    """Update ``into`` with ``new``, merging nested dicts key by key (so sections can be filled in steps)."""
    for key, value in new.items():
        if isinstance(value, dict) and isinstance(into.get(key), dict):
            _merge(into[key], value)
        else:
            into[key] = value


def _nothing_fitted(path: Path) -> bool:
    """True when ``path`` holds only :data:`SETUP_FILES` (and perhaps an empty fold folder): no unit was
    saved, no tuning study was started, no file of anyone else is there."""
    for p in path.iterdir():
        if p.name == FOLD_DIR and p.is_dir() and not any(p.iterdir()):
            continue
        if _own_leftover(p):
            continue
        if p.name not in SETUP_FILES or not p.is_file():
            return False
    return True


def _own_leftover(p: Path) -> bool:
    """A temporary file of :func:`hfecg_bench.io.write_atomic` for one of our files, left by a killed write."""
    return p.is_file() and p.name.endswith(".tmp") and any(p.name.startswith(f".{name}.") for name in SETUP_FILES)


@dataclass
class RunDirectory:
    """A run directory and its manifest.

    Use :meth:`open` to create or resume one. Attributes: ``path``, ``resuming`` (an earlier
    invocation created it), ``manifest`` (the dict written by :meth:`save_manifest`), ``restarted``
    (the settings that differed when an earlier run there, with nothing fitted yet, was started over).
    """

    path: Path
    resuming: bool = False
    manifest: dict = field(default_factory=dict)
    restarted: list = field(default_factory=list)

    @classmethod
    def open(cls, path: Path, state: dict) -> "RunDirectory":
        """Create the run directory for ``state``, or reopen it when it holds a run with the same state.

        Parameters
        ----------
        path : Path
            The run directory; created if missing (an empty existing folder is fine).
        state : dict
            JSON-able settings a resumed run must share (seed, profile, fingerprint, configs).

        A run with other settings that had fitted nothing yet (the folder holds only
        :data:`SETUP_FILES`, e.g. a run refused at its fold plan) is started over: its files are
        replaced, and ``restarted`` names the settings that differed.

        Raises
        ------
        HfecgError
            The folder holds a run with other settings that has fitted work, or files that are not a
            run's: nothing is overwritten in either case.
        """
        path = Path(path)
        state = jsonable(state)  # tuples as lists: compares equal to the stored JSON
        if path.exists() and not path.is_dir():
            raise HfecgError(f"output folder {path} is a file, not a folder; choose another output folder")
        state_path = path / STATE_FILE
        restarted: list = []
        if state_path.exists():
            old = read_json(state_path)
            diff = [k for k in state if old.get(k) != state[k]]
            if not diff:
                return cls(path=path, resuming=True, manifest=read_json(path / MANIFEST_FILE, {}))
            if not _nothing_fitted(path):
                shown = ", ".join(f"{k}: {old.get(k)!r} there vs {state[k]!r} now" if k in SHOWN_KEYS
                                  else f"{k} differs" for k in diff)
                raise HfecgError(f"{path} holds a run with other settings ({shown}); choose another output folder")
            for name in SETUP_FILES:
                (path / name).unlink(missing_ok=True)
            for leftover in [p for p in path.iterdir() if _own_leftover(p)]:
                leftover.unlink()
            if (path / FOLD_DIR).is_dir():
                (path / FOLD_DIR).rmdir()
            restarted = diff
        if path.exists() and any(path.iterdir()):
            shown = sorted(p.name for p in path.iterdir())[:5]
            raise HfecgError(f"output folder {path} is not empty and holds no hfecg_bench run ({STATE_FILE} is "
                             f"missing; it has {shown}); nothing was written: choose a new or empty folder")
        try:
            path.mkdir(parents=True, exist_ok=True)
            write_json(state_path, state)
        except OSError as exc:
            raise HfecgError(f"cannot create the run directory {path}: {exc.strerror or exc}; "
                             "choose another output folder") from None
        return cls(path=path, resuming=False, manifest={"created": datetime.now().isoformat(timespec="seconds")},
                   restarted=restarted)

    # ------------------------------------------------------------------ manifest

    def update_manifest(self, **sections) -> None:
        """Merge ``sections`` into the manifest (nested dicts key by key) and write it atomically."""
        _merge(self.manifest, sections)
        self.save_manifest()

    def save_manifest(self) -> None:
        """Write the in-memory manifest atomically."""
        write_json(self.path / MANIFEST_FILE, self.manifest)

    # ------------------------------------------------------------------ files

    def file(self, name: str) -> Path:
        """The path of one of the run's files (e.g. :data:`FOLDS_FILE`)."""
        return self.path / name

    def fold_paths(self, model: str, fold: int) -> tuple[Path, Path]:
        """(predictions csv, summary json) of one (model, outer fold) unit."""
        d = self.path / FOLD_DIR
        return d / f"{model}_fold{fold}.csv", d / f"{model}_fold{fold}.json"

    def fold_done(self, model: str, fold: int) -> bool:
        """True when the unit's summary (written last) and predictions exist."""
        return all(p.exists() for p in self.fold_paths(model, fold))

    def finished_units(self) -> list[str]:
        """Names ``<model>_fold<k>`` of the finished units found on disk."""
        d = self.path / FOLD_DIR
        return sorted(p.stem for p in d.glob("*.json")) if d.exists() else []

    def save_fold(self, model: str, fold: int, predictions: pd.DataFrame, summary: dict,
                  curves: dict[str, pd.DataFrame]) -> None:
        """Write one unit's files; the summary goes last, so its presence marks the unit finished."""
        csv_path, json_path = self.fold_paths(model, fold)
        csv_path.parent.mkdir(parents=True, exist_ok=True)
        for key, frame in curves.items():
            write_csv(csv_path.parent / f"{model}_fold{fold}_curve_{key}.csv", frame.reset_index())
        write_csv(csv_path, predictions)
        write_json(json_path, summary)

    def load_fold(self, model: str, fold: int) -> tuple[pd.DataFrame, dict]:
        """(predictions, summary) of a finished unit."""
        csv_path, json_path = self.fold_paths(model, fold)
        return pd.read_csv(csv_path, dtype={"patient_id": str}), read_json(json_path)
