"""The Cohort: validated records, one binary label per patient.

A :class:`Record` is either a continuous recording (``signal`` of shape
``(n_samples, n_leads)``) or a set of pre-cut beats (``beats`` of shape
``(n_beats, n_window, n_leads)``, from the ``npz`` and ``beats`` sources).
Values are float32 millivolts, time first, as wfdb returns and Keras consumes.

A record may come without a label (data to featurise or to score); anything that trains or
evaluates needs one label per patient (:meth:`Cohort.require_labels`).

Examples
--------
>>> import numpy as np
>>> sig = np.zeros((2000, 3), np.float32)
>>> rec = Record("r1", "p1", fs=1000.0, lead_names=("i", "avr", "v1"), signal=sig)
>>> rec.lead_names, rec.label, rec.duration_s
(('I', 'aVR', 'V1'), None, 2.0)
>>> cohort = Cohort([rec, Record("r2", "p2", fs=1000.0, lead_names=("I", "aVR", "V1"), signal=sig, label=1)],
...                 dataset="memory")
>>> len(cohort), cohort.patient_ids, cohort.is_labelled
(2, ['p1', 'p2'], False)
"""
from __future__ import annotations

import hashlib
from collections import Counter
from dataclasses import dataclass, field

import numpy as np

from hfecg_bench.errors import HfecgError, ParameterError
from hfecg_bench.leads import STANDARD_LEADS, normalize_leads


@dataclass(eq=False)
class Record:
    """One validated recording of one patient.

    Parameters
    ----------
    record_id : str
        Unique within the cohort.
    patient_id : str
        Several records may share a patient; every split is by patient.
    label : {0, 1} or None, default None
        The patient's class, the same for all records of a patient; None for a record
        without a label (it can be featurised, not trained on).
    fs : float
        Sampling rate in Hz.
    lead_names : sequence of str
        Lead names, one per column; normalised on construction with
        :func:`hfecg_bench.leads.normalize_leads` (``"avr"`` -> ``"aVR"``, ``"v1"`` -> ``"V1"``).
    signal : ndarray of float32, shape (n_samples, n_leads), optional
        Continuous recording in mV.
    beats : ndarray of float32, shape (n_beats, n_window, n_leads), optional
        Pre-cut beats in mV, for sources that store beats instead of recordings.
    source : str
        Where the record was read from (a path), or ``"memory"``.
    meta : dict
        Source-specific facts (e.g. PTB diagnosis), carried into reports.
    """

    record_id: str
    patient_id: str
    label: int | None = None
    # fs and lead_names follow the optional label, so they need a default; None means "missing"
    fs: float = None
    lead_names: tuple[str, ...] = None
    signal: np.ndarray | None = None
    beats: np.ndarray | None = None
    source: str = "memory"
    meta: dict = field(default_factory=dict)

    def __post_init__(self):
        # normalised once here so that "avr" and "aVR" are the same column everywhere downstream
        if self.fs is None or not np.isfinite(self.fs) or self.fs <= 0:
            raise ParameterError("fs", self.fs, f"record {self.record_id}: sampling rate in Hz, > 0, is required")
        if self.lead_names is None or isinstance(self.lead_names, str):
            raise ParameterError("lead_names", self.lead_names,
                                 f"record {self.record_id}: one lead name per signal column is required")
        # (duplicated names are reported by the loaders' check_leads, which must see every problem)
        self.lead_names = normalize_leads(self.lead_names)
        if (self.signal is None) == (self.beats is None):
            raise HfecgError(f"record {self.record_id}: exactly one of signal or beats must be given")
        data = self.signal if self.signal is not None else self.beats
        if data.shape[-1] != len(self.lead_names):
            raise HfecgError(f"record {self.record_id}: {data.shape[-1]} signal columns but "
                             f"{len(self.lead_names)} lead names")
        if self.label is not None and (isinstance(self.label, bool) or self.label not in (0, 1)):
            raise HfecgError(f"record {self.record_id}: label must be 0, 1 or None, got {self.label!r}")
        if self.label is not None:
            self.label = int(self.label)

    @property
    def is_beats(self) -> bool:
        """True when the record holds pre-cut beats rather than a continuous signal."""
        return self.beats is not None

    @property
    def n_samples(self) -> int:
        """Samples in the continuous signal, or beats x window for pre-cut beats."""
        if self.signal is not None:
            return int(self.signal.shape[0])
        return int(self.beats.shape[0] * self.beats.shape[1])

    @property
    def duration_s(self) -> float:
        """Recorded time in seconds (for beats: the summed window length)."""
        return self.n_samples / float(self.fs)

    def lead_index(self, lead: str) -> int:
        """Column of ``lead`` (normalised name); raises HfecgError naming the record if absent."""
        try:
            return self.lead_names.index(lead)
        except ValueError:
            raise HfecgError(f"record {self.record_id}: no lead {lead!r} (has {list(self.lead_names)})") from None

    def standard_signal(self, leads: tuple[str, ...] = STANDARD_LEADS) -> np.ndarray:
        """The signal (or beats) restricted to ``leads`` in that order, float32 mV."""
        cols = [self.lead_index(lead) for lead in leads]
        data = self.signal if self.signal is not None else self.beats
        return np.ascontiguousarray(data[..., cols], dtype=np.float32)

    def content_hash(self) -> str:
        """SHA-256 of the samples, sampling rate and lead names: the cache key of anything derived."""
        h = hashlib.sha256()
        data = self.signal if self.signal is not None else self.beats
        h.update(np.ascontiguousarray(data, dtype=np.float32).tobytes())
        h.update(repr((float(self.fs), self.lead_names, data.shape)).encode())
        return h.hexdigest()


@dataclass(frozen=True)
class Excluded:
    """A record left out of the cohort, and why."""

    record: str
    reason: str

    def as_dict(self) -> dict:
        return {"record": self.record, "reason": self.reason}


@dataclass
class Cohort:
    """Validated records plus everything that was left out and why.

    Parameters
    ----------
    records : list of Record
        Records of one patient must agree on the label (all None, or all the same 0/1).
    dataset : str
        Source name (``synthetic``, ``ptbdb``, ``wfdb``, ``npz``, ``beats``).
    excluded : list of Excluded
        Records not in ``records``, each with its reason: never dropped silently.
    info : dict
        Source facts for the report (e.g. excluded diagnoses counted, synthetic truth).
    """

    records: list[Record]
    dataset: str
    excluded: list[Excluded] = field(default_factory=list)
    info: dict = field(default_factory=dict)

    def __post_init__(self):
        ids = Counter(r.record_id for r in self.records)
        dup = sorted(k for k, n in ids.items() if n > 1)
        if dup:
            raise HfecgError(f"duplicate record ids in cohort: {dup}")
        labels: dict[str, set] = {}
        for r in self.records:
            labels.setdefault(r.patient_id, set()).add(r.label)
        mixed = sorted(p for p, s in labels.items() if len(s) > 1)
        if mixed:
            raise HfecgError(f"patients whose records disagree on the label: {mixed}")

    def __len__(self) -> int:
        return len(self.records)

    @property
    def patient_ids(self) -> list[str]:
        """Distinct patient ids, in first-seen order."""
        return list(dict.fromkeys(r.patient_id for r in self.records))

    @property
    def is_labelled(self) -> bool:
        """True when every record has a label (0 or 1)."""
        return all(r.label is not None for r in self.records)

    def require_labels(self, purpose: str = "training") -> "Cohort":
        """Return ``self``, or raise :class:`HfecgError` naming the records without a label.

        Parameters
        ----------
        purpose : str
            What needs the labels, for the message (e.g. ``"training"``, ``"evaluation"``).
        """
        missing = [r.record_id for r in self.records if r.label is None]
        if missing:
            shown = ", ".join(missing[:5]) + (f" and {len(missing) - 5} more" if len(missing) > 5 else "")
            raise HfecgError(f"{purpose} needs one label (0 or 1) per patient; {len(missing)} record(s) "
                             f"have none: {shown}")
        return self

    def patient_labels(self) -> dict[str, int | None]:
        """Patient id -> label (None for a patient without one)."""
        return {r.patient_id: r.label for r in self.records}

    def describe(self) -> dict:
        """Counts for ``data describe`` and the run manifest (JSON-serialisable).

        ``n_positive`` / ``n_negative`` count patients, not records; ``n_unlabelled`` (patients
        without a label) appears only when there are some.
        """
        labels = self.patient_labels()
        fs = sorted({int(r.fs) if float(r.fs).is_integer() else float(r.fs) for r in self.records})
        leads = list(dict.fromkeys(name for r in self.records for name in r.lead_names))
        durations = [r.duration_s for r in self.records]
        out = {
            "dataset": self.dataset,
            "n_records": len(self.records),
            "n_patients": len(labels),
            "n_positive": sum(1 for v in labels.values() if v == 1),
            "n_negative": sum(1 for v in labels.values() if v == 0),
            "fs": fs[0] if len(fs) == 1 else fs,
            "leads": leads,
            "duration_s": {
                "min": round(min(durations), 3) if durations else None,
                "median": round(float(np.median(durations)), 3) if durations else None,
                "max": round(max(durations), 3) if durations else None,
                "total": round(float(np.sum(durations)), 3),
            },
            "n_beats_precut": sum(int(r.beats.shape[0]) for r in self.records if r.is_beats) or None,
            "excluded": [e.as_dict() for e in self.excluded],
        }
        unlabelled = sum(1 for v in labels.values() if v is None)
        if unlabelled:
            out["n_unlabelled"] = unlabelled
        out.update({k: v for k, v in self.info.items() if k not in out and k != "truth"})
        return out

    def fingerprint(self) -> str:
        """SHA-256 over every record's id, patient, label and samples: identifies the data in a manifest."""
        h = hashlib.sha256()
        for r in sorted(self.records, key=lambda r: r.record_id):
            h.update(f"{r.record_id}|{r.patient_id}|{r.label}|".encode())
            h.update(r.content_hash().encode())
        return h.hexdigest()
