"""The one patient-wise fold plan every model of a run uses, and the leakage guard.

Outer folds are stratified by patient label with ``StratifiedGroupKFold`` over
patients (one group per patient); inner (tuning) folds are drawn the same way from
the outer training patients only. :func:`assert_disjoint` is called at every split.

>>> import pandas as pd
>>> labels = pd.Series([0, 1] * 10, index=[f"p{i}" for i in range(20)])
>>> plan = make_fold_plan(labels, n_folds=5, seed=0)
>>> train, test = plan.split(0)
>>> len(train) + len(test)
20
"""
from __future__ import annotations

import warnings
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
from sklearn.model_selection import StratifiedGroupKFold

from hfecg_bench.errors import HfecgError, HfecgWarning, ParameterError
from hfecg_bench.io import write_atomic


class LeakageError(HfecgError):
    """A patient appears on both sides of a split."""


def assert_disjoint(train, test, where: str = "split") -> None:
    """Raise :class:`LeakageError` if any patient id is in both ``train`` and ``test``.

    Parameters
    ----------
    train, test : iterable of str
        Patient ids (or per-row patient ids) of the two sides.
    where : str
        Names the split in the message (e.g. ``"rf outer fold 2 inner fold 1"``).
    """
    both = set(map(str, train)) & set(map(str, test))
    if both:
        shown = sorted(both)[:10]
        raise LeakageError(f"patient leakage in {where}: {len(both)} patient(s) on both sides, e.g. {shown}")


def _labels_series(labels) -> pd.Series:
    s = pd.Series(labels).copy()
    s.index = s.index.map(str)
    if s.index.has_duplicates:
        raise HfecgError(f"duplicate patient ids in the fold plan input: {sorted(s.index[s.index.duplicated()].unique())[:10]}")
    bad = sorted(set(s.unique()) - {0, 1})
    if bad:
        raise HfecgError(f"patient labels must be 0 or 1, found {bad}")
    return s.astype(int).sort_index()


def stratified_patient_splits(labels: pd.Series, n_splits: int, seed: int, where: str) -> list[tuple[list[str], list[str]]]:
    """``n_splits`` (train, test) patient lists, stratified by label, every test side holding both classes.

    Raises HfecgError naming the counts when the patients cannot fill ``n_splits`` folds with both classes.
    """
    labels = _labels_series(labels)
    n_pos, n_neg = int(labels.sum()), int((labels == 0).sum())
    if min(n_pos, n_neg) < n_splits or n_splits < 2:
        raise HfecgError(f"{where}: cannot make {n_splits} patient-wise folds that each hold both classes "
                         f"from {len(labels)} patients ({n_pos} positive, {n_neg} negative); "
                         f"at least {max(n_splits, 2)} patients of each class are needed")
    ids = labels.index.to_numpy()
    cv = StratifiedGroupKFold(n_splits=n_splits, shuffle=True, random_state=seed)
    out = []
    for tr, te in cv.split(np.zeros(len(ids)), labels.to_numpy(), groups=ids):
        train, test = sorted(ids[tr]), sorted(ids[te])
        assert_disjoint(train, test, where)
        out.append((train, test))
    return out


#: Fewest patients of each class nested evaluation needs: 3 outer folds leave 2 of each on every training side.
MIN_NESTED_PER_CLASS = 3


def nested_advice(n_pos: int, n_neg: int, n_folds: int, kind: str = "kfold") -> str:
    """What to change when an outer training side cannot make 2 inner folds that hold both classes.

    Stratified outer folds spread ``n`` patients of a class as evenly as they can, so a training side of
    ``k`` folds keeps ``n - ceil(n / k)`` of them: 2 or more for any ``3 <= k <= n``, but only for
    ``n >= 4`` when ``k = 2`` (and ``n - 1`` under leave-one-patient-out). So with at least 3 patients
    of each class, 3 or more outer folds work; with fewer, no number of folds does.

    >>> nested_advice(2, 4, 2)  # doctest: +ELLIPSIS
    'the cohort is too small for nested evaluation: ... 3 patients of each class and has 2 positive, 4 negative'
    >>> nested_advice(3, 9, 2)
    'use 3 or more outer folds (folds=3): with 2, a training side keeps 1 of the 3 positive patients'
    """
    small = min(n_pos, n_neg)
    if small < MIN_NESTED_PER_CLASS:
        return (f"the cohort is too small for nested evaluation: it needs at least {MIN_NESTED_PER_CLASS} patients of "
                f"each class and has {n_pos} positive, {n_neg} negative")
    if kind not in ("kfold", "loo"):
        return "give every outer training side of the fold plan at least 2 patients of each class"
    if kind == "kfold" and n_folds == 2:
        which, n = ("positive", n_pos) if n_pos <= n_neg else ("negative", n_neg)
        return (f"use 3 or more outer folds (folds=3): with 2, a training side keeps {n - -(-n // 2)} of the "
                f"{n} {which} patients")
    return f"use another number of outer folds (3 to {small}) or add patients"


@dataclass
class FoldPlan:
    """Outer fold of every patient; the plan shared by all models of a run.

    Attributes
    ----------
    folds : pandas.Series
        Index patient_id (sorted), value the outer fold number (0-based).
    labels : pandas.Series
        Index patient_id, label 0/1.
    kind : str
        ``"kfold"`` or ``"loo"``.
    seed : int
        The seed the outer folds were drawn with.
    """

    folds: pd.Series
    labels: pd.Series
    kind: str = "kfold"
    seed: int = 0

    @property
    def n_folds(self) -> int:
        return int(self.folds.max()) + 1

    @property
    def patients(self) -> list[str]:
        return list(self.folds.index)

    def split(self, fold: int) -> tuple[list[str], list[str]]:
        """(train patients, test patients) of outer ``fold``, checked disjoint."""
        if not 0 <= fold < self.n_folds:
            raise HfecgError(f"outer fold {fold} does not exist (the plan has {self.n_folds})")
        test = sorted(self.folds.index[self.folds == fold])
        train = sorted(self.folds.index[self.folds != fold])
        assert_disjoint(train, test, f"outer fold {fold}")
        return train, test

    def inner_splits(self, fold: int, n_inner: int, seed: int) -> list[tuple[list[str], list[str]]]:
        """Patient-wise stratified inner folds of the training patients of outer ``fold``.

        ``n_inner`` is capped by the smaller class of the training side (with an HfecgWarning);
        fewer than 2 possible inner folds is an HfecgError naming the counts and what would work
        (see :func:`nested_advice`).
        """
        cap = self.inner_fold_cap(fold, n_inner)
        if cap < n_inner:
            warnings.warn(f"outer fold {fold + 1}/{self.n_folds}: inner folds capped from {n_inner} to {cap} "
                          f"(the training side has only {cap} patients of one class)", HfecgWarning, stacklevel=2)
        train, test = self.split(fold)
        splits = stratified_patient_splits(self.labels.loc[train], cap, seed, f"outer fold {fold} inner folds")
        for i, (tr, va) in enumerate(splits):
            assert_disjoint(tr, va, f"outer fold {fold} inner fold {i}")
            assert_disjoint(va, test, f"outer fold {fold} inner fold {i} vs outer test")
            assert_disjoint(tr, test, f"outer fold {fold} inner fold {i} vs outer test")
        return splits

    def inner_fold_cap(self, fold: int, n_inner: int) -> int:
        """How many inner folds the training side of outer ``fold`` can make (``n_inner`` at most): each
        needs a patient of both classes. Fewer than 2 is an HfecgError naming the counts and what would
        work (:func:`nested_advice`); nothing is split, so checking every fold is cheap."""
        train, _ = self.split(fold)
        lab = self.labels.loc[train]
        n_pos, n_neg = int(lab.sum()), int((lab == 0).sum())
        cap = min(n_inner, n_pos, n_neg)
        if cap < 2:
            total = self.labels.loc[self.patients]
            raise HfecgError(f"outer fold {fold + 1}/{self.n_folds}: its {len(train)} training patients ({n_pos} "
                             f"positive, {n_neg} negative) cannot make 2 inner folds that each hold both classes "
                             "(they tune the model and give the out-of-fold predictions its decision threshold is "
                             "chosen on, also with trials=0); "
                             + nested_advice(int(total.sum()), int((total == 0).sum()), self.n_folds, self.kind))
        return cap

    def frame(self) -> pd.DataFrame:
        return pd.DataFrame({"patient_id": self.folds.index, "fold": self.folds.to_numpy()})

    def save(self, path: Path) -> Path:
        """Write ``patient_id,fold`` (sorted by patient) to ``path``."""
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        return write_atomic(path, self.frame().to_csv(index=False))


def make_fold_plan(labels, n_folds: int = 5, seed: int = 0, loo: bool = False) -> FoldPlan:
    """Draw the outer patient-wise folds.

    Parameters
    ----------
    labels : pandas.Series or dict
        Patient id -> label 0/1.
    n_folds : int, default 5
        Requested folds; capped (with an HfecgWarning) to the size of the smaller class so
        that every fold holds both classes.
    seed : int
        Seed of the shuffle (derive it from the run seed).
    loo : bool
        One fold per patient (for tiny cohorts); each training side must still hold both classes.
    """
    labels = _labels_series(labels)
    n_pos, n_neg = int(labels.sum()), int((labels == 0).sum())
    counts = f"{len(labels)} patients ({n_pos} positive, {n_neg} negative)"
    if loo:
        if min(n_pos, n_neg) < 2:
            raise HfecgError(f"leave-one-patient-out needs at least 2 patients of each class, the cohort has {counts}")
        folds = pd.Series(np.arange(len(labels)), index=labels.index, name="fold")
        return FoldPlan(folds=folds, labels=labels, kind="loo", seed=seed)
    if n_folds < 2:
        raise ParameterError("folds", n_folds, "must be an integer >= 2 (or use loo)")
    k = min(n_folds, n_pos, n_neg)
    if k < 2:
        raise HfecgError(f"cannot make {n_folds} patient-wise folds that each hold both classes from {counts}: "
                         f"at least 2 patients of each class are needed ({MIN_NESTED_PER_CLASS} for the inner folds "
                         "that tune each model and choose its threshold)")
    if k < n_folds:
        warnings.warn(f"folds={n_folds} capped to {k}: the cohort has {counts}, and every fold must hold both classes",
                      HfecgWarning, stacklevel=2)
    folds = pd.Series(-1, index=labels.index, name="fold")
    for i, (_, test) in enumerate(stratified_patient_splits(labels, k, seed, "outer folds")):
        folds.loc[test] = i
    return FoldPlan(folds=folds.astype(int), labels=labels, kind="kfold", seed=seed)


def load_fold_plan(path: Path, labels, seed: int = 0) -> FoldPlan:
    """Read ``folds.csv`` and check it covers exactly the patients of ``labels`` with disjoint folds."""
    path = Path(path)
    labels = _labels_series(labels)
    try:
        df = pd.read_csv(path, dtype={"patient_id": str})
    except Exception as exc:  # noqa: BLE001
        raise HfecgError(f"{path}: unreadable fold plan ({exc})") from None
    if list(df.columns[:2]) != ["patient_id", "fold"]:
        raise HfecgError(f"{path}: expected columns patient_id,fold, found {list(df.columns)}")
    if df["patient_id"].duplicated().any():
        raise HfecgError(f"{path}: patients listed twice: {sorted(df.loc[df['patient_id'].duplicated(), 'patient_id'])[:10]}")
    plan_ids, cohort_ids = set(df["patient_id"]), set(labels.index)
    if plan_ids != cohort_ids:
        raise HfecgError(f"{path} conflicts with this cohort: {len(plan_ids - cohort_ids)} patient(s) only in the plan "
                         f"(e.g. {sorted(plan_ids - cohort_ids)[:5]}), {len(cohort_ids - plan_ids)} only in the cohort "
                         f"(e.g. {sorted(cohort_ids - plan_ids)[:5]}); use another --out")
    folds = df.set_index("patient_id")["fold"].astype(int).sort_index()
    k = int(folds.max()) + 1
    if sorted(folds.unique()) != list(range(k)):
        raise HfecgError(f"{path}: fold numbers must be 0..{k - 1}, found {sorted(folds.unique())}")
    kind = "loo" if k == len(folds) and k > 2 else "kfold"
    return FoldPlan(folds=folds, labels=labels.loc[folds.index], kind=kind, seed=seed)


def fold_plan_for_run(path: Path, labels, n_folds: int, seed: int, loo: bool = False) -> tuple[FoldPlan, bool]:
    """Load ``path`` if it exists (checked against the cohort), else draw and save a plan.

    Returns ``(plan, loaded)``.
    """
    path = Path(path)
    if path.exists():
        return load_fold_plan(path, labels, seed), True
    plan = make_fold_plan(labels, n_folds=n_folds, seed=seed, loo=loo)
    plan.save(path)
    return plan, False
