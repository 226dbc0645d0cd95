"""Beats: R peaks, sub-sample aligned beat windows, rejected beats and why, signal-averaged beat.

Examples
--------
>>> from hfecg_bench.beats import BeatConfig, beats_from_record
>>> from hfecg_bench.data import generate_cohort
>>> record = generate_cohort(n_patients=4, duration_s=10, seed=1).records[0]
>>> res = beats_from_record(record, BeatConfig.for_profile("quick"))
>>> res.windows.shape[1:], res.n_kept >= 8, 60 <= res.qrs_offset - res.qrs_onset <= 160
((400, 12), True, True)
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
