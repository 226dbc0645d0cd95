"""Beats: R peaks, sub-sample aligned beat windows, rejected beats and why, signal-averaged beat.

>>> from hfecg_bench.beats import BeatConfig, beats_from_record, extract_beatset  # doctest: +SKIP
>>> res = beats_from_record(cohort.records[0], BeatConfig.for_profile("quick"))  # doctest: +SKIP
>>> bs = extract_beatset(cohort, band="hf")                                      # doctest: +SKIP
"""
from hfecg_bench.beats.align import align_beats, cut_windows, fractional_shift, xcorr_lag
from hfecg_bench.beats.beatset import BeatSet, extract_beatset, record_beats
from hfecg_bench.beats.config import BeatConfig
from hfecg_bench.beats.detect import beats_detect
from hfecg_bench.beats.filters import bandpass
from hfecg_bench.beats.pipeline import BeatResult, aligned_windows, beats_from_record, beats_precut, beats_process

__all__ = ["BeatConfig", "BeatResult", "BeatSet", "align_beats", "aligned_windows", "bandpass", "beats_detect",
           "beats_from_record", "beats_precut", "beats_process", "cut_windows", "extract_beatset",
           "fractional_shift", "record_beats", "xcorr_lag"]
