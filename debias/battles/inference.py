"""Uncertainty of a Bradley–Terry fit over battles.

- :func:`sandwich`: the cluster-robust covariance of ``(strengths, coefficients)``,
  clustered by prompt (a prompt's both orders, its turns and Arena-Hard's repeated strong
  verdicts are one cluster);
- :func:`bootstrap`: refits on prompts resampled with replacement (never on resampled
  rows), through joblib, so ``joblib.parallel_config(backend="dask")`` runs the replicates on
  a Dask cluster unchanged.

Both work on the fit contract of :mod:`debias.battles` (``BTFit``): ``design`` (with
``cluster`` codes and ``n_clusters``), ``hessian()``, ``row_scores()`` and
``full_from_free``.

On a Dask cluster (``pip install "dask[distributed]"``; tested with a ``LocalCluster``), the
replicates go to its workers unchanged and give the same numbers as on one machine::

    import joblib
    from dask.distributed import Client
    from debias.battles.leaderboard import battle_leaderboard

    client = Client("tcp://scheduler:8786")  # or Client(LocalCluster())
    with joblib.parallel_config(backend="dask"):
        table, report = battle_leaderboard(battles, cov_type="bootstrap", n_boot=1000, n_jobs=-1)
"""

from __future__ import annotations

import re
import warnings
from collections.abc import Callable

import numpy as np
import pandas as pd
from joblib import Parallel, delayed, effective_n_jobs
from scipy import sparse
from scipy.special import expit

from debias.errors import FitWarning, InputError
from debias.inference.cluster import cluster_factor
from debias.model.params import MAX_BOOT, Interval, NonZeroInt, Options, validate

BOOTSTRAP_CONSTRAINTS: dict[str, list] = {
    "n_boot": [Interval(int, 2, MAX_BOOT)],
    "seed": [Interval(int, 0, 2**63 - 1)],
    "n_jobs": [NonZeroInt()],
}
"""Constraints of :func:`bootstrap`'s settings."""


def sandwich(fit) -> np.ndarray:
    """Cluster-robust covariance of ``(strengths, coefficients)``, clustered by prompt.

    On the free parameters ``θ``: ``V(θ) = G/(G-1) · H⁻¹ (Σ_c s_c s_cᵀ) H⁻¹`` with ``H``
    the Hessian of the weighted negative log-likelihood, ``s_c`` the sum of the row scores
    of prompt ``c`` and ``G`` the number of prompts; then mapped to the full vector with
    ``J = fit.full_from_free``: ``J V(θ) Jᵀ`` (NaN rows and columns for the estimates
    the fit does not support, e.g. a separated model's strength). The small-sample factor is ``G/(G-1)``
    only (statsmodels' default cluster covariance multiplies by ``(N-1)/(N-K)`` too, which
    is ≈ 1 for battles: N rows, K free parameters). With G prompts, intervals use
    Student's t with G − 1 degrees of freedom (:func:`debias.inference.cluster.critical_value`).

    Parameters
    ----------
    fit : BTFit
        An unpenalised fit (for a penalised one the sandwich is computed but is not a
        valid covariance of the estimator: :class:`~debias.battles.results.BattleResults`
        reports no Wald interval then).

    Returns
    -------
    numpy.ndarray
        ``(m + k, m + k)``: the ``m`` strengths (identification applied) then the ``k``
        coefficients.

    Examples
    --------
    >>> from debias.battles.results import demo_fit
    >>> sandwich(demo_fit()).shape
    (4, 4)
    """
    design = fit.design
    hessian = np.asarray(fit.hessian(), dtype=float)
    meat = meat_from_estimates(fit)
    if meat is None:
        meat = meat_from_row_scores(fit)
    bread = _inverse(hessian)
    cov_free = cluster_factor(int(design.n_clusters)) * (bread @ meat @ bread)
    cov_free = (cov_free + cov_free.T) / 2
    jac = np.asarray(fit.full_from_free, dtype=float)
    cov = np.nan_to_num(jac) @ cov_free @ np.nan_to_num(jac).T
    unsupported = np.isnan(jac).any(axis=1)  # estimates the fit does not support
    cov[unsupported] = np.nan
    cov[:, unsupported] = np.nan
    return cov


def meat_from_row_scores(fit) -> np.ndarray:
    """``Σ_c s_c s_cᵀ`` (free parameters) from ``fit.row_scores()``: any fit of the contract
    (Davidson's ties, per-model slopes)."""
    design = fit.design
    try:
        scores = fit.row_scores(sparse=True)  # 2 + k non-zeros per row: millions of battles
    except TypeError:
        scores = fit.row_scores()
    scores = sparse.coo_matrix(scores)
    per_cluster = sparse.csr_matrix(  # duplicates (rows of one prompt) are summed
        (scores.data, (np.asarray(design.cluster)[scores.row], scores.col)),
        shape=(int(design.n_clusters), scores.shape[1]),
    )
    return np.asarray((per_cluster.T @ per_cluster).todense())


def meat_from_estimates(fit) -> np.ndarray | None:
    """``Σ_c s_c s_cᵀ`` (free parameters) from the estimates themselves, without per-row
    scores: for ties as ½ and shared slopes (else None).

    The row's score in ``(strengths, coefficients)`` is ``r (e_a − e_b, x)`` with the
    residual ``r = w (y − σ(η))``; per prompt, the strengths' part is a sparse sum over
    the prompt's battles and the coefficients' part a :func:`numpy.bincount`; the free
    parameters' scores are ``Jᵀ`` those (``J = fit.full_from_free``; ``η`` does not see
    the identification).
    """
    design = fit.design
    k = design.x.shape[1]
    if getattr(fit, "ties", "half") != "half" or len(fit.coefficients) != k:
        return None
    strengths = np.nan_to_num(np.asarray(fit.strengths, dtype=float))  # rows of models
    eta = strengths[design.a] - strengths[design.b]  # without a strength are not fitted
    if k:
        eta = eta + design.x @ np.asarray(fit.coefficients, dtype=float)
    r = design.weight * (design.outcome - expit(eta))
    n_clusters, m = int(design.n_clusters), len(strengths)
    cluster = np.asarray(design.cluster)
    per_model = sparse.csr_matrix(
        (
            np.concatenate([r, -r]),
            (np.concatenate([cluster, cluster]), np.concatenate([design.a, design.b])),
        ),
        shape=(n_clusters, m),
    )
    per_coef = np.zeros((n_clusters, k))
    for f in range(k):
        per_coef[:, f] = np.bincount(cluster, weights=r * design.x[:, f], minlength=n_clusters)
    full = np.empty((m + k, m + k))
    full[:m, :m] = (per_model.T @ per_model).toarray()
    full[:m, m:] = per_model.T @ per_coef
    full[m:, :m] = full[:m, m:].T
    full[m:, m:] = per_coef.T @ per_coef
    jac = np.nan_to_num(np.asarray(fit.full_from_free, dtype=float))
    if jac.shape[1] != np.asarray(fit.params).shape[0]:
        return None
    return jac.T @ full @ jac


def _inverse(hessian: np.ndarray) -> np.ndarray:
    """``H⁻¹``; the pseudo-inverse (with a warning) when ``H`` is singular."""
    try:
        return np.linalg.inv(hessian)
    except np.linalg.LinAlgError:
        warnings.warn(
            "the Hessian of the Bradley–Terry fit is singular (a model not connected to "
            "the others, or separated): its standard errors are not supported",
            FitWarning,
            stacklevel=3,
        )
        return np.linalg.pinv(hessian, hermitian=True)


def bootstrap(
    fit_fn: Callable[[pd.DataFrame], np.ndarray],
    battles: pd.DataFrame,
    *,
    n_boot: int = 200,
    seed: int = 0,
    n_jobs: int = 1,
    cluster: str = "prompt",
) -> np.ndarray:
    """Refit on prompts resampled with replacement; one row of estimates per replicate.

    Each replicate draws as many prompts as there are, with replacement, and refits on
    the battles with every row's ``weight`` multiplied by how many times its prompt was
    drawn (rows of prompts not drawn are left out). For any fit that is a weighted sum
    over rows this is the same as stacking the drawn prompts' rows, and it moves every row
    of a prompt together: both orders, every turn, Arena-Hard's repeated strong verdicts.
    Replicate ``b`` uses the ``b``-th child of ``numpy.random.SeedSequence(seed)``, so the
    result does not depend on ``n_jobs`` or on the joblib backend.

    Parameters
    ----------
    fit_fn : callable
        ``fit_fn(frame) -> 1-D array`` of a fixed length (e.g. strengths then
        coefficients, NaN where the replicate cannot estimate one); must pickle for
        process or Dask backends (a module-level function or a callable object).
    battles : pandas.DataFrame
        The battle rows (``weight`` optional: 1 when absent).
    n_boot : int, default 200
    seed : int, default 0
    n_jobs : int, default 1
        joblib's ``n_jobs`` (-1: all cores); inside ``joblib.parallel_config(backend="dask")``
        the replicates run on the Dask cluster.
    cluster : str, default "prompt"
        The column whose values are resampled.

    Returns
    -------
    numpy.ndarray
        ``(n_boot, len(fit_fn(battles)))``.

    Examples
    --------
    >>> import pandas as pd
    >>> b = pd.DataFrame({"prompt": ["p", "q", "r"], "outcome": [1.0, 0.0, 1.0]})
    >>> mean = lambda f: np.array([np.average(f["outcome"], weights=f["weight"])])
    >>> bootstrap(mean, b, n_boot=3, seed=1).shape
    (3, 1)
    """
    validate(BOOTSTRAP_CONSTRAINTS, {"n_boot": n_boot, "seed": seed, "n_jobs": n_jobs}, "bootstrap")
    validate(
        {"cluster": [Options(tuple(battles.columns.astype(str)))]},
        {"cluster": cluster},
        "bootstrap",
    )
    codes, uniques = pd.factorize(battles[cluster])
    if (codes < 0).any():
        row = int(np.flatnonzero(codes < 0)[0])
        raise InputError(f"battles: row {row} has no {cluster!r}; every row needs one to resample.")
    frame = battles.reset_index(drop=True)
    if "weight" not in frame.columns:
        frame = frame.assign(weight=1.0)
    seeds = np.random.SeedSequence(seed).spawn(n_boot)
    n_chunks = min(n_boot, 4 * max(1, effective_n_jobs(n_jobs)))
    chunks = [c for c in np.array_split(np.arange(n_boot), n_chunks) if len(c)]
    parts = Parallel(n_jobs=n_jobs)(
        delayed(_replicates)(fit_fn, frame, codes, len(uniques), [seeds[i] for i in chunk])
        for chunk in chunks
    )
    out = np.vstack([p[0] for p in parts])
    _report_warnings([p[1] for p in parts], n_boot)
    return out


def _replicates(fit_fn, frame, codes, n_clusters, seeds) -> tuple[np.ndarray, dict]:
    """Replicates for ``seeds`` and the warnings they raised ``{(category, pattern):
    [first message, replicates]}``."""
    rows, raised = [], {}
    weight = frame["weight"].to_numpy(dtype=float)
    for s in seeds:
        counts = np.bincount(
            np.random.default_rng(s).integers(n_clusters, size=n_clusters), minlength=n_clusters
        )
        row_counts = counts[codes]
        keep = row_counts > 0
        sample = frame[keep].assign(weight=weight[keep] * row_counts[keep])
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            rows.append(np.asarray(fit_fn(sample), dtype=float).ravel())
        for key, message in {_pattern(w): str(w.message) for w in caught}.items():
            raised.setdefault(key, [message, 0])[1] += 1
    return np.vstack(rows), raised


def _pattern(w: warnings.WarningMessage) -> tuple[type, str]:
    """A warning's category and its message with the numbers masked (one key per kind)."""
    return w.category, re.sub(r"-?\d+(\.\d+)?(e[-+]?\d+)?", "#", str(w.message))


def _report_warnings(parts: list[dict], n_boot: int) -> None:
    """One warning per kind raised inside the replicates, saying in how many."""
    merged: dict = {}
    for part in parts:
        for key, (message, count) in part.items():
            merged.setdefault(key, [message, 0])[1] += count
    for (category, _), (message, count) in merged.items():
        warnings.warn(
            f"{count} of {n_boot} bootstrap replicates warned: {message}",
            category if issubclass(category, Warning) else FitWarning,
            stacklevel=3,
        )


def percentile_interval(replicates: np.ndarray, level: float) -> tuple[np.ndarray, ...]:
    """Per column: standard deviation, lower and upper percentile of the replicates (NaN
    replicates left out) and the share of NaN replicates.

    Examples
    --------
    >>> sd, low, high, missing = percentile_interval(np.arange(101.0)[:, None], 0.9)
    >>> round(float(low[0]), 9), round(float(high[0]), 9), float(missing[0])
    (5.0, 95.0, 0.0)
    """
    reps = np.asarray(replicates, dtype=float)
    if reps.ndim == 1:
        reps = reps[:, None]
    missing = np.isnan(reps).mean(axis=0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # all-NaN columns give NaN
        sd = np.nanstd(reps, axis=0, ddof=1)
        low = np.nanpercentile(reps, 100 * (1 - level) / 2, axis=0)
        high = np.nanpercentile(reps, 100 * (1 + level) / 2, axis=0)
    return sd, low, high, missing
