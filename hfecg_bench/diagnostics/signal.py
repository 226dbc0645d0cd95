"""Is there signal? A permutation test that refits, and the power of that same test.

The earlier test permuted labels against FIXED out-of-fold probabilities. Those probabilities were
fitted to the true labels, so a chance imbalance of a nuisance variable in a finite cohort (say, the
positives' QRS amplitude) is learned in the training folds and holds in the test folds; the
fixed-probability null does not contain that, and on 160-patient null cohorts it claimed signal 2 times
in 8. A test that refits the cross-validated model under every permutation (Ojala & Garriga 2010,
test 1) does contain it, and is exact.

Refitting the tuned models a thousand times is out of reach, so the test refits fast PROXIES of the
classical family on the run's feature table (all groups, and each feature group alone): ridge
regressions and an RBF kernel ridge, which are linear smoothers (out-of-fold scores ``H_k @ y`` with
``H_k`` depending on the features of fold ``k`` only, so a permutation costs one matrix product), and
screening scores (the 1 or 10 features whose training-fold class means differ most, summed with their
signs), which find a strong effect carried by few of several hundred features where ridge dilutes it.

- Statistic: the maximum over proxies of the mean per-fold AUROC (per-fold, because pooling scores of
  different folds adds a fold-offset artefact; see :func:`pooled_auroc_note`); picking the best proxy is
  inside the statistic, so the max-over-proxies null accounts for it.
- Permutations: within each outer fold for a k-fold plan (the folds were stratified on the true labels,
  and exchangeability holds within them), across all patients for leave-one-out. Either way the
  training sets, hence the ``H_k``, are fixed.
- Power: of this same test, by simulation: a synthetic feature whose AUROC is ``moderate_auroc`` (a
  binormal shift) is added to the cohort's own features with labels permuted, and the test is run
  against the observed null's critical value. "The cohort could detect a moderate effect" is therefore a
  statement about the test actually run, at this cohort's size, class balance and feature noise.

Examples
--------
>>> import numpy as np, pandas as pd
>>> from hfecg_bench.evaluation.folds import make_fold_plan
>>> rng = np.random.default_rng(0)
>>> y = pd.Series(np.repeat([0, 1], 30), index=[f"p{i:02d}" for i in range(60)])
>>> X = pd.DataFrame(rng.normal(size=(60, 20)), index=y.index)
>>> X[0] += 2.5 * y.to_numpy()                     # one informative column
>>> plan = make_fold_plan(y, n_folds=5, seed=1)
>>> f = signal_test(X, {"all": list(X.columns)}, plan, seed=0, n_permutations=199, n_power=0)
>>> f["significant"], f["p_value"] < 0.01
(True, True)
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy.stats import norm

from hfecg_bench.evaluation.metrics import auroc_rows
from hfecg_bench.diagnostics import null_quantiles

#: Smoother proxies: (name suffix, kind, ridge penalty per feature or kernel penalty).
PROXY_KINDS = (("ridge", "linear", 1.0), ("ridge_strong", "linear", 30.0), ("kernel", "rbf", 1.0))
#: Screening proxies: (name suffix, number of features kept by the training-fold mean difference).
SCREEN_KINDS = (("top1", 1), ("top10", 10))


@dataclass
class FoldKernel:
    """One proxy on one outer fold: its kernel over all patients (features standardised on the fold's
    training rows), from which test scores are ``K[test, train] @ (K[train, train] + lam I)^-1 (y - mean y)``."""

    train: np.ndarray   # (n_train,) row indices
    test: np.ndarray    # (n_test,) row indices
    K: np.ndarray       # (n, n) kernel of the standardised features
    kind: str           # "linear" or "rbf"
    lam: float          # ridge penalty
    width: float        # rbf: 2 x the standardised dimension count (the bandwidth); linear: unused

    @property
    def H(self) -> np.ndarray:
        """Hat matrix (n_test, n_train) acting on raw labels (it centres them)."""
        tr, te = self.train, self.test
        H = np.linalg.solve(self.K[np.ix_(tr, tr)] + self.lam * np.eye(len(tr)), self.K[np.ix_(te, tr)].T).T
        return H - H.sum(axis=1, keepdims=True) / len(tr)

    def scores_with(self, z: np.ndarray, Y: np.ndarray) -> np.ndarray:
        """Test scores (B, n_test) after adding one standardised feature per label vector.

        ``z`` (B, n) is the added feature of each simulated cohort, ``Y`` (B, n) its labels; the kernel gains
        ``z z'`` (linear) or the factor ``exp(-(z_i - z_j)^2 / width)`` (rbf), one batched solve per fold.
        """
        tr, te = self.train, self.test
        if self.kind == "linear":
            Kz = self.K[None] + z[:, :, None] * z[:, None, :]
        else:
            Kz = self.K[None] * np.exp(-(z[:, :, None] - z[:, None, :]) ** 2 / self.width)
        A = Kz[:, tr][:, :, tr] + self.lam * np.eye(len(tr))[None]
        yc = Y[:, tr] - Y[:, tr].mean(axis=1, keepdims=True)
        alpha = np.linalg.solve(A, yc[:, :, None])[:, :, 0]
        return np.einsum("bij,bj->bi", Kz[:, te][:, :, tr], alpha)


@dataclass
class FoldScreen:
    """A screening proxy on one outer fold: keep the ``k`` features whose training-fold class means differ
    most (in standardised units), score test patients by the sum of those features, signed. Not a linear
    smoother (the selection depends on the labels) but just as cheap to vectorise over permutations."""

    train: np.ndarray
    test: np.ndarray
    Z: np.ndarray       # (n, p) features standardised on the training rows
    k: int

    def scores(self, Y: np.ndarray, extra: np.ndarray | None = None) -> np.ndarray:
        """Test scores (B, n_test) for label vectors ``Y`` (B, n); ``extra`` (B, n): one added feature each."""
        tr, te = self.train, self.test
        yc = Y[:, tr] - Y[:, tr].mean(axis=1, keepdims=True)
        T = yc @ self.Z[tr]                                             # (B, p) class-mean differences
        Zte = np.broadcast_to(self.Z[te][None], (len(Y),) + self.Z[te].shape)
        if extra is not None:
            T = np.column_stack([T, np.einsum("bi,bi->b", yc, extra[:, tr])])
            Zte = np.concatenate([Zte, extra[:, te][:, :, None]], axis=2)
        k = min(self.k, T.shape[1])
        top = np.argpartition(-np.abs(T), k - 1, axis=1)[:, :k]                       # (B, k)
        sign = np.sign(np.take_along_axis(T, top, axis=1))                            # (B, k)
        picked = np.take_along_axis(Zte, np.broadcast_to(top[:, None, :], (len(Y), len(te), k)), axis=2)
        return (picked * sign[:, None, :]).sum(axis=2)

    def scores_with(self, z: np.ndarray, Y: np.ndarray) -> np.ndarray:
        return self.scores(Y, extra=z)


def _standardise(X: np.ndarray, train: np.ndarray) -> np.ndarray:
    """Median-impute and z-score every column with the TRAINING rows' statistics; clip at +-5 sd."""
    tr = X[train]
    with np.errstate(all="ignore"):
        med = np.nanmedian(tr, axis=0) if tr.size else np.zeros(X.shape[1])
    med = np.where(np.isfinite(med), med, 0.0)
    Z = np.where(np.isfinite(X), X, med[None, :])
    mu, sd = Z[train].mean(axis=0), Z[train].std(axis=0)
    keep = sd > 1e-12
    return np.clip((Z[:, keep] - mu[keep]) / sd[keep], -5.0, 5.0)


def build_kernels(X: np.ndarray, proxies: dict[str, np.ndarray], folds: list[tuple[np.ndarray, np.ndarray]]
                  ) -> dict[str, list[FoldKernel]]:
    """Every proxy's kernel on every fold. ``proxies``: feature-set name -> column indices of ``X``."""
    out: dict[str, list[FoldKernel]] = {}
    for train, test in folds:
        for group, cols in proxies.items():
            Z = _standardise(X[:, cols], train)
            p = max(Z.shape[1], 1)
            lin = Z @ Z.T
            sq = np.diag(lin)
            rbf = np.exp(-np.maximum(sq[:, None] + sq[None, :] - 2.0 * lin, 0.0) / (2.0 * p))
            for suffix, kind, penalty in PROXY_KINDS:
                K, lam = (lin, penalty * p) if kind == "linear" else (rbf, penalty)
                out.setdefault(f"{suffix}:{group}", []).append(FoldKernel(train, test, K, kind, lam, 2.0 * p))
            for suffix, k in SCREEN_KINDS:
                out.setdefault(f"{suffix}:{group}", []).append(FoldScreen(train, test, Z, k))
    return out


def cv_auroc(fold_scores: list[np.ndarray], kernels: list[FoldKernel], Y: np.ndarray, per_fold: bool) -> np.ndarray:
    """Out-of-fold AUROC for every label vector in ``Y`` (B, n) from each fold's test scores (B, n_test):
    the mean per-fold AUROC, or the AUROC of the pooled scores."""
    if per_fold:
        return np.mean([auroc_rows(Y[:, k.test], s) for s, k in zip(fold_scores, kernels)], axis=0)
    scores = np.zeros(Y.shape, dtype=float)
    for s, k in zip(fold_scores, kernels):
        scores[:, k.test] = s
    return auroc_rows(Y, scores)


def proxy_auroc(kernels: list[FoldKernel], Y: np.ndarray, per_fold: bool) -> np.ndarray:
    """One proxy's out-of-fold AUROC under every label vector of ``Y`` (B, n), in batches of 250."""
    out = []
    for start in range(0, len(Y), 250):
        Yb = Y[start:start + 250]
        out.append(cv_auroc([k.scores(Yb) if isinstance(k, FoldScreen) else Yb[:, k.train] @ k.H.T for k in kernels],
                            kernels, Yb, per_fold))
    return np.concatenate(out)


def permuted_labels(y: np.ndarray, strata: np.ndarray | None, n: int, rng: np.random.Generator) -> np.ndarray:
    """``(n, len(y))`` label vectors: ``y`` permuted within each stratum (or across all when ``strata`` is None)."""
    out = np.empty((n, len(y)), dtype=np.int8)
    groups = [np.arange(len(y))] if strata is None else [np.flatnonzero(strata == s) for s in np.unique(strata)]
    for idx in groups:                                    # a handful of folds, vectorised over permutations
        keys = rng.random((n, len(idx)))
        out[:, idx] = y[idx][np.argsort(keys, axis=1)]
    return out


def fold_rows(plan, patients: list[str]) -> list[tuple[np.ndarray, np.ndarray]]:
    """(train rows, test rows) of every outer fold, as row indices into ``patients``."""
    index = {p: i for i, p in enumerate(patients)}
    return [tuple(np.array([index[p] for p in part]) for part in plan.split(k)) for k in range(plan.n_folds)]


def patient_matrix(features, plan) -> tuple[np.ndarray, dict[str, np.ndarray], list[str]]:
    """Patient-level feature matrix (records averaged), proxy column sets (all + each group), patient order."""
    frame = features.frame
    cols = list(features.feature_columns())
    by_patient = frame.assign(patient_id=frame["patient_id"].astype(str)).groupby("patient_id")[cols].mean()
    patients = list(plan.labels.index)
    X = by_patient.reindex(patients).to_numpy(dtype=float)
    proxies = {"all": np.arange(len(cols))}
    for g in features.groups() if callable(getattr(features, "groups", None)) else []:
        members = set(features.feature_columns([g]))
        idx = np.array([i for i, c in enumerate(cols) if c in members])
        if 0 < len(idx) < len(cols):
            proxies[g] = idx
    return X, proxies, patients


def signal_test(features, groups_or_none, plan, *, seed: int, n_permutations: int = 1000, n_power: int = 200,
                moderate_auroc: float = 0.75, alpha: float = 0.05, target_power: float = 0.8) -> dict:
    """Refitting permutation test of "the label is predictable from the features", with its power.

    Parameters
    ----------
    features : FeatureTable or DataFrame
        The run's feature table, or (for tests) a patients x features DataFrame indexed like ``plan.labels``.
    groups_or_none : dict or None
        For a DataFrame: proxy name -> column names (default all columns). Ignored for a FeatureTable
        (proxies: all features, and each feature group alone).
    plan : FoldPlan
        The run's outer folds (``plan.labels``: patient id -> 0/1).
    seed : int
        Seeds the permutations and the power simulation.
    n_permutations : int
        Label permutations of the null (smallest p is ``1 / (n_permutations + 1)``).
    n_power : int
        Simulated cohorts of the power estimate (0: skip it).
    moderate_auroc : float
        The planted effect size of the power estimate.

    Returns
    -------
    dict
        Finding ``signal``: ``p_value``, ``significant``, ``observed_auroc`` and ``best_proxy``, every
        proxy's AUROC, the null's mean and 95th percentile, ``power`` (at ``moderate_auroc``, with its
        Monte-Carlo standard error), ``powered`` (power >= ``target_power``), ``status`` and ``method``.
    """
    y = plan.labels.to_numpy(int)
    if isinstance(features, pd.DataFrame):
        patients = list(plan.labels.index)
        frame = features.reindex(patients)
        groups = groups_or_none or {"all": list(frame.columns)}
        X = frame.to_numpy(dtype=float)
        proxies = {g: np.array([frame.columns.get_loc(c) for c in cols]) for g, cols in groups.items()}
    else:
        X, proxies, patients = patient_matrix(features, plan)
    folds_of = plan.folds.reindex(patients).to_numpy()
    folds = fold_rows(plan, patients)
    per_fold = all(len(np.unique(y[te])) == 2 for _, te in folds)
    strata = folds_of if per_fold else None
    kernels = build_kernels(X, proxies, folds)
    names = sorted(kernels)
    rng = np.random.default_rng(seed)
    Y = np.vstack([y[None, :], permuted_labels(y, strata, n_permutations, rng)]).astype(float)
    auc = np.column_stack([proxy_auroc(kernels[n], Y, per_fold) for n in names])     # (1 + B, n_proxies)
    observed, null = auc[0], np.nanmax(auc[1:], axis=1)
    best = int(np.nanargmax(observed))
    stat = float(observed[best])
    p = float((1 + np.sum(null >= stat - 1e-12)) / (n_permutations + 1))
    critical = float(np.quantile(null, 1 - alpha))
    power = simulate_power(kernels, y, strata, per_fold, critical, moderate_auroc, n_power,
                           np.random.default_rng([seed, 1])) if n_power else None
    significant = p < alpha
    how = "mean per-fold AUROC" if per_fold else "pooled out-of-fold AUROC (folds too small for per-fold AUROC)"
    summary = (f"the label is {'predictable' if significant else 'not predictable beyond chance'} from the features "
               f"by refitted proxies: best {names[best]} {how} {stat:.3f} vs max-over-{len(names)}-proxies "
               f"permutation null (95th percentile {critical:.3f}), p = {p:.4f}")
    if power is not None:
        summary += (f"; this test detects a moderate effect (AUROC {moderate_auroc}) with power {power['power']:.2f} "
                    f"in this cohort")
    return {
        "kind": "signal", "status": "ok", "significant": bool(significant), "p_value": round(p, 5),
        "alpha": alpha, "statistic": how, "best_proxy": names[best], "observed_auroc": round(stat, 4),
        "proxies": {n: round(float(a), 4) for n, a in zip(names, observed)},
        "null_mean": round(float(np.nanmean(null)), 4), "null_q95": round(critical, 4),
        "null_quantiles": null_quantiles(null),
        "n_permutations": int(n_permutations), "permutation": "within outer folds" if per_fold else "across patients",
        "moderate_auroc": moderate_auroc, "target_power": target_power,
        "power": None if power is None else power["power"], "power_se": None if power is None else power["se"],
        "n_power": int(n_power), "powered": None if power is None else bool(power["power"] >= target_power),
        "summary": summary,
        "method": ("refitting permutation test (Ojala & Garriga 2010, test 1) of ridge / kernel-ridge proxies on the "
                   "run's features under the run's outer folds; max over proxies inside the statistic; power by "
                   "simulating a feature of AUROC moderate_auroc added to the cohort's own features"),
    }


def simulate_power(kernels: dict[str, list[FoldKernel]], y, strata, per_fold, critical, auroc, n_sim, rng,
                   batch: int = 50) -> dict:
    """Fraction of simulated cohorts in which the test rejects at ``critical``: labels permuted (the cohort's
    own signal removed), plus one feature ``z = d * label + N(0, 1)`` with ``d = sqrt(2) Phi^-1(auroc)`` (a
    binormal feature of AUROC ``auroc``) added to every proxy's feature set."""
    d = np.sqrt(2.0) * norm.ppf(auroc)
    hits = []
    for start in range(0, n_sim, batch):           # batches bound the (B, n, n) kernels in memory
        b = min(batch, n_sim - start)
        Y = permuted_labels(y, strata, b, rng).astype(float)
        z = d * Y + rng.standard_normal(Y.shape)
        stats = np.full(b, -np.inf)
        for fold_kernels in kernels.values():
            zs = [_standard_column(z, k.train) for k in fold_kernels]
            scores = [k.scores_with(zk, Y) for k, zk in zip(fold_kernels, zs)]
            stats = np.fmax(stats, cv_auroc(scores, fold_kernels, Y, per_fold))
        hits.append(stats > critical)
    hit = np.concatenate(hits)
    pw = float(hit.mean())
    return {"power": round(pw, 3), "se": round(float(np.sqrt(pw * (1 - pw) / n_sim)), 3)}


def _standard_column(z: np.ndarray, train: np.ndarray) -> np.ndarray:
    """(B, n) simulated features z-scored with each row's training statistics, clipped like the others."""
    mu, sd = z[:, train].mean(axis=1, keepdims=True), z[:, train].std(axis=1, keepdims=True)
    return np.clip((z - mu) / sd, -5.0, 5.0)


def pooled_auroc_note(per_fold_mean: float, pooled: float) -> str | None:
    """Why a pooled out-of-fold AUROC can sit below 0.5 on a cohort without signal (None when it does not).

    Each training side's class balance is the complement of its test fold's, so a model without
    signal leans, in every fold, towards the class its test fold has FEWER of; pooling scores across
    folds then ranks patients against their own labels (Parker, Gunter & Bucholz 2007; Airola et al.
    2011 on pooling vs averaging in cross-validated AUROC).
    """
    if not (np.isfinite(pooled) and pooled < 0.5):
        return None
    return (f"pooled out-of-fold AUROC {pooled:.3f} is below 0.5 (per-fold mean {per_fold_mean:.3f}): without signal, "
            "each fold's model leans toward the class its test fold has fewer of, so pooling scores across folds "
            "ranks patients slightly against their labels; an AUROC below 0.5 here is the cross-validation "
            "artefact, not a model that learned the reverse")
