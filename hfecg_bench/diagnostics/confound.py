"""Acquisition confound: is the label predictable from HOW the recordings were made?

A cohort whose positives were recorded at another rate, for another length, on another
device or with other mains (50 vs 60 Hz) lets any model score well without looking at the
heart. :func:`acquisition_confound` predicts the label from the recording properties alone
(:func:`hfecg_bench.data.properties.recording_properties`) under the run's own patient-wise
folds and tests that prediction by permutation.

The test (Ojala & Garriga 2010, test 1): the statistic is the out-of-fold AUROC of an
L2-logistic regression (C = 1, intercept not penalised) refitted on the training patients of
every outer fold (median imputation and standardisation fitted there too). Under each of
``n_permutations`` label permutations the WHOLE cross-validation is refitted. Labels are
permuted within each outer test fold: folds keep their class balance (the stratified plan
stays stratified, so the null is not biased by fold-to-fold class shifts), and under the null
(properties independent of the label, patients exchangeable) this conditional test is exact,
so ``P(p < alpha) <= alpha``. Leave-one-out plans (one patient per fold) permute across all
patients, which leaves that plan unchanged. All permutations are fitted at once by a batched
Newton solver (one linear solve per permutation and iteration, no per-permutation Python loop).
The AUROC's 95 % CI is Newcombe's score interval (:func:`~hfecg_bench.evaluation.bootstrap.newcombe_auroc_ci`),
which, unlike a percentile bootstrap, does not collapse to [1, 1] at a perfect separation.

Examples
--------
>>> import numpy as np, pandas as pd
>>> from hfecg_bench.evaluation.folds import make_fold_plan
>>> labels = pd.Series([0, 1] * 20, index=[f"p{i:02d}" for i in range(40)])
>>> noise = np.random.default_rng(0).normal(5.0, 1.0, 40)
>>> props = pd.DataFrame({"duration_s": np.where(labels == 1, 15.0, 30.0), "hf_noise_uv": noise,
...                       "fs_hz": 1000.0}, index=labels.index)
>>> plan = make_fold_plan(labels, n_folds=5, seed=0)
>>> f = acquisition_confound(props, labels, plan, seed=0, n_permutations=99)
>>> f["status"], f["significant"], f["p_value"], f["auroc"], f["properties"][0]["name"]
('ok', True, 0.01, 1.0, 'duration_s')
>>> f["summary"]
'the label is predictable from how the records were made: AUROC 1.00 [0.90, 1.00], p = 0.01; duration (s) differs most: 15.0 vs 30.0 (positives vs negatives)'
>>> f["constant_properties"]
{'fs_hz': 1000.0}
"""
from __future__ import annotations

import numpy as np
import pandas as pd
from scipy.special import expit
from scipy.stats import rankdata
from threadpoolctl import threadpool_limits

from hfecg_bench.data.properties import property_label
from hfecg_bench.diagnostics import null_quantiles
from hfecg_bench.errors import HfecgError, ParameterError
from hfecg_bench.evaluation.bootstrap import newcombe_auroc_ci
from hfecg_bench.evaluation.seeds import derive_seed
from hfecg_bench.io import jsonable

C_L2 = 1.0                 # inverse L2 strength on standardised properties (scikit-learn's default)
TRACK_RHO = 0.5            # |Spearman rho| with a property above which a feature "tracks" it
N_TRACK_SHOWN = 10
METHOD = ("L2-logistic regression (C = 1) on the median-imputed, standardised recording properties, refitted on the "
          "training patients of every outer fold; out-of-fold AUROC with a 95% Newcombe (2006) score interval, "
          "which stays informative at AUROC 1 where a percentile bootstrap collapses; p-value from refitting the "
          "whole cross-validation under label permutations within outer folds (Ojala & Garriga 2010, test 1)")


def fit_logistic_batch(X: np.ndarray, Y: np.ndarray, *, C: float = C_L2, max_iter: int = 50,
                       tol: float = 1e-9) -> np.ndarray:
    """L2-logistic regressions of every column of ``Y`` on the same ``X``, by damped Newton steps.

    Minimises ``sum(log-loss) + ||w||^2 / (2 C)`` per column (intercept not penalised), as
    scikit-learn's ``LogisticRegression(C=C)``; each column converges on its own, so a column's
    result does not depend on which other columns are fitted with it.

    Parameters
    ----------
    X : ndarray, shape (n, d)
        Design (standardised), float.
    Y : ndarray, shape (n, B)
        0/1 targets, one fit per column.

    Returns
    -------
    ndarray, shape (d + 1, B)
        Intercept (row 0) and coefficients.

    Examples
    --------
    >>> from sklearn.linear_model import LogisticRegression
    >>> rng = np.random.default_rng(1); X = rng.normal(size=(60, 3)); y = (X[:, 0] + rng.normal(size=60) > 0)
    >>> W = fit_logistic_batch(X, np.column_stack([y, ~y]).astype(float))
    >>> sk = LogisticRegression(tol=1e-10).fit(X, y)
    >>> bool(np.allclose(W[1:, 0], sk.coef_[0], atol=1e-6) and np.allclose(W[:, 1], -W[:, 0]))
    True
    """
    n, d = X.shape
    Z = np.hstack([np.ones((n, 1)), np.asarray(X, dtype=np.float64)])
    Y = np.asarray(Y, dtype=np.float64)
    pen = np.full(d + 1, 1.0 / C)
    pen[0] = 0.0
    W = np.zeros((d + 1, Y.shape[1]))

    def loss(Wa, Ya):
        eta = Z @ Wa
        return (np.logaddexp(0.0, eta) - Ya * eta).sum(axis=0) + 0.5 * (pen[:, None] * Wa ** 2).sum(axis=0)

    active = np.arange(Y.shape[1])
    for _ in range(max_iter):
        Wa, Ya = W[:, active], Y[:, active]
        p = expit(Z @ Wa)
        grad = Z.T @ (p - Ya) + pen[:, None] * Wa                              # (d+1, b)
        zw = Z.T[None, :, :] * (p * (1 - p)).T[:, None, :]                     # (b, d+1, n)
        hess = zw @ Z + np.diag(pen)[None]                                     # (b, d+1, d+1)
        step = np.linalg.solve(hess, grad.T[..., None])[..., 0].T
        t = np.ones(len(active))
        base = loss(Wa, Ya)
        for _ in range(30):                                                    # halve where the loss rose
            new = Wa - t * step
            worse = loss(new, Ya) > base + 1e-12 * np.abs(base)
            if not worse.any():
                break
            t = np.where(worse, t / 2, t)
        W[:, active] = new
        moved = np.abs(t * step).max(axis=0)
        active = active[moved > tol]
        if len(active) == 0:
            break
    return W


def auroc_columns(Y: np.ndarray, S: np.ndarray) -> np.ndarray:
    """AUROC (midranks) of scores ``S[:, b]`` against labels ``Y[:, b]``, shapes (n, B) -> (B,)."""
    ranks = rankdata(S, axis=0)
    n1 = Y.sum(axis=0)
    n0 = Y.shape[0] - n1
    return ((ranks * Y).sum(axis=0) - n1 * (n1 + 1) / 2.0) / (n1 * n0)


def _finding(status: str, reason: str | None, n_permutations: int, alpha: float) -> dict:
    return {"kind": "acquisition_confound", "status": status, "reason": reason, "significant": False,
            "p_value": None, "auroc": None, "auroc_lo": None, "auroc_hi": None, "n_permutations": int(n_permutations),
            "alpha": float(alpha), "method": METHOD, "properties": [], "constant_properties": {}, "summary": ""}


def _numeric(properties: pd.DataFrame, patients: list[str]) -> pd.DataFrame:
    props = properties.copy()
    props.index = props.index.map(str)
    if props.index.has_duplicates:
        dup = sorted(props.index[props.index.duplicated()].unique())
        raise HfecgError(f"recording properties list {len(dup)} patient(s) twice (one row per patient expected), "
                         f"e.g. {dup[:5]}")
    missing = [p for p in patients if p not in props.index]
    if missing:
        raise HfecgError(f"recording properties are missing for {len(missing)} patient(s) of the fold plan, "
                         f"e.g. {missing[:5]}")
    props = props.loc[patients]
    return props.select_dtypes(include=["number", "bool"]).astype(float)


def _labels(labels, plan, patients: list[str]) -> np.ndarray:
    lab = pd.Series(labels).copy()
    lab.index = lab.index.map(str)
    missing = [p for p in patients if p not in lab.index]
    if missing:
        raise HfecgError(f"no label for {len(missing)} patient(s) of the fold plan, e.g. {missing[:5]}")
    lab = lab.loc[patients]
    bad = sorted(set(lab.tolist()) - {0, 1})
    if bad:
        raise HfecgError(f"patient labels must be 0 or 1, found {bad}")
    differ = [p for p in patients if int(lab[p]) != int(plan.labels.loc[p])]
    if differ:
        raise HfecgError(f"labels disagree with the fold plan's labels for {len(differ)} patient(s), e.g. {differ[:5]}")
    y = lab.to_numpy(dtype=float)
    if y.min() == y.max():
        raise HfecgError(f"all {len(y)} patients have label {int(y[0])}: nothing to predict")
    return y


def univariate(X: pd.DataFrame, y: np.ndarray) -> list[dict]:
    """Per property: AUROC against the label (NaN patients left out), class means; most different first.

    Ties in ``|auroc - 0.5|`` go to the larger standardised mean difference (a property constant
    within each class, e.g. duration 15 vs 30 s, first), then to the name.
    """
    rows = []
    for name in X.columns:
        v = X[name].to_numpy()
        ok = np.isfinite(v)
        yy, vv = y[ok], v[ok]
        if yy.min(initial=1) == yy.max(initial=0):
            auc = float("nan")
        else:
            auc = float(auroc_columns(yy[:, None], vv[:, None])[0])
        pos, neg = vv[yy == 1], vv[yy == 0]
        diff = abs(pos.mean() - neg.mean()) if len(pos) and len(neg) else 0.0
        sd = np.sqrt((pos.var() + neg.var()) / 2) if len(pos) and len(neg) else 0.0
        smd = diff / sd if sd > 0 else (np.inf if diff > 0 else 0.0)
        rows.append({"name": name, "label": property_label(name), "auroc_univariate": round(auc, 4),
                     "mean_pos": round(float(pos.mean()), 6) if len(pos) else None,
                     "mean_neg": round(float(neg.mean()), 6) if len(neg) else None, "_key": (abs(auc - 0.5), smd)})
    rows.sort(key=lambda r: (-np.nan_to_num(r["_key"][0]), -r["_key"][1], r["name"]))
    for r in rows:
        r.pop("_key")
    return rows


def _fold_design(X: pd.DataFrame, plan, index: dict[str, int]) -> list[tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]]:
    """Per outer fold: (train rows, test rows, train design, test design), imputed and scaled on training patients."""
    values = X.to_numpy(dtype=float)
    out = []
    for k in range(plan.n_folds):
        train, test = plan.split(k)
        tr = np.array([index[p] for p in train])
        te = np.array([index[p] for p in test])
        a, b = values[tr].copy(), values[te].copy()
        with np.errstate(all="ignore"):
            med = np.nanmedian(a, axis=0)
        med = np.where(np.isfinite(med), med, 0.0)
        a = np.where(np.isnan(a), med, a)
        b = np.where(np.isnan(b), med, b)
        mu, sd = a.mean(axis=0), a.std(axis=0)
        sd = np.where(sd > 0, sd, 1.0)                    # constant on this training side: contributes nothing
        out.append((tr, te, (a - mu) / sd, (b - mu) / sd))
    return out


def _permuted_labels(y: np.ndarray, folds, n_permutations: int, rng: np.random.Generator, loo: bool) -> np.ndarray:
    """(n, 1 + B) labels: column 0 observed, then permutations within outer test folds (across all for LOO)."""
    Y = np.empty((len(y), n_permutations + 1))
    Y[:, 0] = y
    if loo:
        Y[:, 1:] = rng.permuted(np.tile(y, (n_permutations, 1)), axis=1).T
        return Y
    for _, te, _, _ in folds:
        Y[te, 1:] = rng.permuted(np.tile(y[te], (n_permutations, 1)), axis=1).T
    return Y


def _out_of_fold_scores(folds, Y: np.ndarray) -> np.ndarray:
    S = np.empty_like(Y)
    for tr, te, a, b in folds:
        Ytr = Y[tr]
        if np.any(Ytr.min(axis=0) == Ytr.max(axis=0)):
            raise HfecgError(f"an outer training side of {len(tr)} patients holds one class only: cannot fit")
        W = fit_logistic_batch(a, Ytr)
        S[te] = W[0][None, :] + b @ W[1:]
    return S


def _fmt(v) -> str:
    if v is None or not np.isfinite(v):
        return "n/a"
    return f"{v:.1f}" if 1.0 <= abs(v) < 1e4 else f"{v:.3g}"


def _summary(f: dict) -> str:
    head = f"AUROC {f['auroc']:.2f} [{f['auroc_lo']:.2f}, {f['auroc_hi']:.2f}], p = {f['p_value']:.3g}"
    top = f["properties"][0]
    if f["significant"]:
        text = (f"the label is predictable from how the records were made: {head}; {top['label']} differs most: "
                f"{_fmt(top['mean_pos'])} vs {_fmt(top['mean_neg'])} (positives vs negatives)")
        more = [p for p in f["properties"][1:3] if abs(p["auroc_univariate"] - 0.5) >= 0.15]
        if more:
            text += "; also " + ", ".join(f"{p['label']} ({'higher' if p['auroc_univariate'] > 0.5 else 'lower'} in "
                                          f"positives, AUROC {p['auroc_univariate']:.2f})" for p in more)
        return text
    return (f"the label is not predictable from how the records were made: {head}; largest difference "
            f"{top['label']} (univariate AUROC {top['auroc_univariate']:.2f})")


def tracking_features(features, X: pd.DataFrame, y: np.ndarray, *, threshold: float = TRACK_RHO,
                      n_shown: int = N_TRACK_SHOWN) -> dict:
    """Feature columns that follow a recording property more than the label (Spearman, per patient).

    A feature tracks a property when ``max |rho|`` over properties exceeds ``threshold`` and is at
    least ``|rho|`` with the label (so where a property is a perfect stand-in for the label, the
    features that follow it are listed: they cannot be told from a confound). Features are
    averaged per patient and NaN replaced by the column median (descriptive, over all patients
    of ``X``; nothing is fitted).

    Returns
    -------
    dict
        ``tracking_features`` (the ``n_shown`` strongest: feature, property, rho_property,
        rho_label), ``n_tracking_features``, ``n_features_checked``.
    """
    frame = features.frame
    cols = [c for c in features.feature_columns() if pd.api.types.is_numeric_dtype(frame[c])]
    per_patient = frame.assign(patient_id=frame["patient_id"].astype(str)).groupby("patient_id")[cols].mean()
    common = [p for p in X.index if p in per_patient.index]
    out = {"tracking_features": [], "n_tracking_features": 0, "n_features_checked": 0, "tracking_threshold": threshold}
    if len(common) < 3 or not cols or X.shape[1] == 0:
        return out
    F = per_patient.loc[common]
    F = F.fillna(F.median()).dropna(axis=1, how="any")
    F = F.loc[:, F.nunique() > 1]
    P = X.loc[common]
    P = P.fillna(P.median())
    yy = pd.Series(y, index=X.index).loc[common].to_numpy()

    def zranks(a: np.ndarray) -> np.ndarray:
        r = rankdata(a, axis=0)
        sd = r.std(axis=0)
        return (r - r.mean(axis=0)) / np.where(sd > 0, sd, np.inf)

    fr, pr, yr = zranks(F.to_numpy(float)), zranks(P.to_numpy(float)), zranks(yy[:, None])
    n = len(common)
    rho_p = fr.T @ pr / n                                        # (n_features, n_properties)
    rho_y = (fr.T @ yr / n)[:, 0]
    best = np.argmax(np.abs(rho_p), axis=1) if rho_p.shape[1] else np.zeros(0, int)
    top = np.abs(rho_p[np.arange(len(best)), best]) if len(best) else np.zeros(0)
    hit = np.flatnonzero((top > threshold) & (top >= np.abs(rho_y) - 1e-9))     # 1e-9: rounding of equal |rho|
    order = sorted(hit, key=lambda i: (-top[i], F.columns[i]))
    out["n_features_checked"] = int(F.shape[1])
    out["n_tracking_features"] = int(len(hit))
    out["tracking_features"] = [{"feature": F.columns[i], "property": P.columns[best[i]],
                                 "rho_property": round(float(rho_p[i, best[i]]), 4),
                                 "rho_label": round(float(rho_y[i]), 4)} for i in order[:n_shown]]
    return out


def acquisition_confound(properties: pd.DataFrame, labels, plan, *, seed: int, features=None,
                         n_permutations: int = 500, alpha: float = 0.05) -> dict:
    """Test whether the label is predictable from the recording properties alone (see the module notes).

    Parameters
    ----------
    properties : pandas.DataFrame
        Index patient_id, numeric property columns (:func:`~hfecg_bench.data.properties.recording_properties`);
        columns constant over the plan's patients are dropped and listed, non-numeric columns ignored,
        NaN imputed with the training patients' median. Patients not in ``plan`` are ignored.
    labels : pandas.Series or dict
        Patient id -> 0/1; must agree with ``plan.labels``.
    plan : FoldPlan
        The run's patient-wise outer folds (its patients are the ones tested).
    seed : int
        Seeds the permutations: same seed, same finding.
    features : FeatureTable, optional
        When given, ``tracking_features`` lists feature columns that track a property more than the label.
    n_permutations : int, default 500
        Label permutations, each refitting every fold; the smallest p is ``1 / (n_permutations + 1)``.
    alpha : float, default 0.05
        ``significant`` is ``p_value < alpha``.

    Returns
    -------
    dict
        Finding of kind ``acquisition_confound`` (JSON-serialisable): ``status`` (``ok``, ``skipped``
        when every property is constant, ``failed`` with ``reason``), ``significant``, ``p_value``,
        ``auroc`` with ``auroc_lo``/``auroc_hi``, ``null_auroc_q95``, ``n_permutations``, ``method``,
        ``properties`` (name, label, auroc_univariate, mean_pos, mean_neg; most different first),
        ``constant_properties``, ``summary``, and with ``features`` the tracking keys of
        :func:`tracking_features`.

    Raises
    ------
    ParameterError
        For ``n_permutations < 1`` or ``alpha`` outside (0, 1).
    """
    if isinstance(n_permutations, bool) or not isinstance(n_permutations, (int, np.integer)) or n_permutations < 1:
        raise ParameterError("n_permutations", n_permutations, "must be an integer >= 1")
    if not 0.0 < float(alpha) < 1.0:
        raise ParameterError("alpha", alpha, "must be in (0, 1)")
    f = _finding("ok", None, n_permutations, alpha)
    try:
        patients = [str(p) for p in plan.patients]
        y = _labels(labels, plan, patients)
        X = _numeric(properties, patients)
    except HfecgError as exc:
        f.update(status="failed", reason=str(exc), summary=f"acquisition confound not tested: {exc}")
        return jsonable(f)
    varying = [c for c in X.columns if X[c].nunique(dropna=True) > 1]
    f["constant_properties"] = {c: (None if X[c].isna().all() else float(X[c].dropna().iloc[0]))
                                for c in X.columns if c not in varying}
    f.update(n_patients=len(y), n_positive=int(y.sum()), n_negative=int(len(y) - y.sum()), n_folds=int(plan.n_folds))
    if features is not None:
        f.update(tracking_features(features, X[varying], y) if varying else
                 {"tracking_features": [], "n_tracking_features": 0, "n_features_checked": 0,
                  "tracking_threshold": TRACK_RHO})
    if not varying:
        shown = ", ".join(f"{property_label(c)} = {_fmt(v)}" for c, v in f["constant_properties"].items()) or "none"
        f.update(status="skipped", reason=f"every recording property is the same for all {len(y)} patients ({shown}): "
                                          "nothing about the acquisition can tell the classes apart")
        f["summary"] = f"acquisition confound not tested: {f['reason']}"
        return jsonable(f)
    X = X[varying]
    f["properties"] = univariate(X, y)
    index = {p: i for i, p in enumerate(patients)}
    loo = all(len(plan.split(k)[1]) == 1 for k in range(plan.n_folds))
    try:
        folds = _fold_design(X, plan, index)
        rng = np.random.default_rng(derive_seed(seed, "confound", "permutation"))
        Y = _permuted_labels(y, folds, int(n_permutations), rng, loo)
        # tiny matrices: one BLAS thread is ~10x faster than a contended pool; restored on exit
        with threadpool_limits(limits=1, user_api="blas"):
            S = _out_of_fold_scores(folds, Y)
    except HfecgError as exc:
        f.update(status="failed", reason=str(exc), summary=f"acquisition confound not tested: {exc}")
        return jsonable(f)
    auc = auroc_columns(Y, S)
    observed, null = float(auc[0]), auc[1:]
    p = (1 + int(np.sum(null >= observed - 1e-12))) / (n_permutations + 1)     # ties count against the observed
    lo, hi = newcombe_auroc_ci(observed, int(y.sum()), int(len(y) - y.sum()))
    f.update(p_value=round(p, 6), significant=bool(p < alpha), auroc=round(observed, 4), auroc_lo=round(float(lo), 4),
             auroc_hi=round(float(hi), 4), null_auroc_q95=round(float(np.quantile(null, 0.95)), 4), null_quantiles=null_quantiles(null),
             permutation="across all patients (leave-one-out plan)" if loo else "within outer folds",
             properties_used=list(X.columns))
    f["summary"] = _summary(f)
    return jsonable(f)


__all__ = ["METHOD", "acquisition_confound", "auroc_columns", "fit_logistic_batch", "tracking_features", "univariate"]
