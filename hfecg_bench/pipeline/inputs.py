"""What the models of a run read: the feature table (extracted once, saved, reloaded on resume) and the
beat views the deep models consume (built once per view, when a model first needs it).

Examples
--------
>>> view_label("beats_hf", (150.0, 250.0)), view_label("features", (150.0, 250.0))
('beats 150-250 Hz', 'features')
>>> view_label("beats_avg", (150.0, 250.0), avg_k=20, avg_m=16)
'beats 150-250 Hz, subset averages of 16 beats (20 per patient and epoch)'
"""
from __future__ import annotations

import io
import time
from dataclasses import dataclass, field

import pandas as pd

from hfecg_bench.beats import extract_beatset
from hfecg_bench.cohort import Excluded
from hfecg_bench.errors import HfecgError
from hfecg_bench.features import FeatureTable, extract_features
from hfecg_bench.io import write_atomic
from hfecg_bench.models.base import ModelData
from hfecg_bench.pipeline.state import FEATURES_FILE, RunDirectory
from hfecg_bench.progress import Progress

#: Model input view -> the BeatSet band that feeds it (``beats_avg``: subset averages of the HF beats,
#: drawn by the deep models themselves: :mod:`hfecg_bench.models.deep_data`).
BEAT_VIEWS = {"beats_wideband": "wideband", "beats_hf": "hf", "beats_avg": "hf"}


def view_label(view: str, hf_band, *, avg_k: int | None = None, avg_m: int | None = None) -> str:
    """How the leaderboard describes a model input: ``features``, ``beats wideband``, ``beats 150-250 Hz``, or
    for ``beats_avg`` the HF beats' subset averages with their size ``avg_m`` and number ``avg_k``."""
    if view in ("beats_hf", "beats_avg"):
        text = f"beats {hf_band[0]:g}-{hf_band[1]:g} Hz"
        if view == "beats_avg":
            text += ", subset averages" + (f" of {avg_m} beats" if avg_m else "") + (
                f" ({avg_k} per patient and epoch)" if avg_k else "")
        return text
    return view.replace("_", " ")


def run_features(cohort, run_dir: RunDirectory, run_config, *, features: FeatureTable | None = None,
                 stream=None) -> FeatureTable:
    """The run's feature table: the one given, the one saved by an earlier invocation, or a fresh extraction.

    The table the models see is saved as ``features.parquet``; a resumed run reloads it (with the
    feature exclusions recorded in the manifest) instead of extracting again.
    """
    path = run_dir.file(FEATURES_FILE)
    fcfg, bcfg = run_config.features, run_config.beats
    if features is None and run_dir.resuming and path.exists():
        frame = pd.read_parquet(path)
        frame["patient_id"] = frame["patient_id"].astype(str)
        excluded = [Excluded(str(e["record"]), str(e["reason"])) for e in run_dir.manifest.get("feature_exclusions", [])]
        print(f"features: reloaded {len(frame)} records from {run_dir.path}", file=stream, flush=True)
        return FeatureTable(frame=frame, excluded=excluded, config=fcfg, beat_config=bcfg, info={"reloaded": True})
    if features is None:
        progress = Progress("features", stream=stream)
        features = extract_features(cohort, config=fcfg, beat_config=bcfg, progress=progress)
        progress.done(f"{len(features.frame)} records x {len(features.feature_columns())} features")
    if not path.exists():
        buffer = io.BytesIO()
        features.frame.to_parquet(buffer, index=False)
        write_atomic(path, buffer.getvalue())
    return features


@dataclass
class RunInputs:
    """The cohort's model inputs for one run: the feature table and, built on demand, beat views.

    Attributes
    ----------
    cohort : Cohort
    features : FeatureTable
    run_config : RunConfig
        Its ``beats`` section cuts the beats; ``features.hf_band`` is the band of the ``beats_hf`` view.
    beatsets : dict
        Band (``hf``, ``wideband``) -> BeatSet, filled by :meth:`for_view` (views of one band share it).
    timings : dict
        Seconds spent building each view.
    """

    cohort: object
    features: FeatureTable
    run_config: object
    stream: object = None
    beatsets: dict = field(default_factory=dict)
    timings: dict = field(default_factory=dict)

    def for_view(self, view: str) -> ModelData:
        """The ModelData of a model input view: the feature table, plus the BeatSet of a beat view."""
        if view == "features":
            return ModelData(features=self.features)
        if view not in BEAT_VIEWS:
            raise HfecgError(f"unknown model input view {view!r}; known: features, {', '.join(BEAT_VIEWS)}")
        band = BEAT_VIEWS[view]
        if band not in self.beatsets:
            t0 = time.monotonic()
            progress = Progress(f"beats ({band})", stream=self.stream)
            beats = extract_beatset(self.cohort, self.run_config.beats, band=band,
                                    hf_band=self.run_config.features.hf_band, progress=progress)
            progress.done(f"{len(beats.X)} beats")
            self.beatsets[band] = beats
            self.timings[f"{view}_s"] = round(time.monotonic() - t0, 3)
        return ModelData(features=self.features, beats=self.beatsets[band])

    def first_beats(self, views) -> object | None:
        """The BeatSet of the first beat view among ``views`` (for the split-leakage diagnostic), or None."""
        for view in views:
            if view in BEAT_VIEWS:
                return self.for_view(view).beats
        return None
