"""Cluster bootstrap over instructions.

Resampling instructions with replacement is the same as refitting with multinomial
weights on instructions, shared by every model (models that answered the same
instruction are resampled together). With the batched Newton solver one replicate
refits all models at once; replicates run in parallel with joblib.

When the difficulty was fitted from the same judgments (``difficulty="fit"``), every
replicate refits it too (stage 1, warm-started), so the intervals include its
estimation, like the two-stage sandwich. What is held fixed: a loaded difficulty, and
the per-model scaling statistics of the transforms (e.g. the SD in ``scaled(length)``).
"""

from __future__ import annotations

import os
import re
import warnings
from collections.abc import Callable

import numpy as np
import pandas as pd
from joblib import Parallel, delayed
from scipy.special import expit
from tqdm.auto import tqdm

from debias.errors import DebiasWarning, ParameterError, check_param
from debias.model.difficulty import fit_joint


def _replicates(problem, seeds, X0, at_codes, stage1=None) -> tuple[np.ndarray, dict]:
    """Replicates for ``seeds``, and the warnings they raised: ``{(category, pattern):
    [first message, number of replicates]}`` (each replicate counted once per pattern)."""
    out = np.empty((len(seeds), len(problem.models)))
    raised: dict = {}
    for b, s in enumerate(seeds):
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            out[b] = _one_replicate(problem, s, X0, at_codes, stage1)
        for key, message in {_pattern(w): str(w.message) for w in caught}.items():
            raised.setdefault(key, [message, 0])[1] += 1
    return out, raised


def _pattern(w: warnings.WarningMessage) -> tuple[type, str]:
    """A warning's category and its message with the numbers masked (one key per kind)."""
    return w.category, re.sub(r"-?\d+(\.\d+)?(e[-+]?\d+)?", "#", str(w.message))


def _one_replicate(problem, s, X0, at_codes, stage1) -> np.ndarray:
    X, y, w, group, names = problem.X, problem.y, problem.weights, problem.group, problem.models
    codes, n_instr = at_codes
    X, X0 = (X.copy(), X0.copy()) if stage1 is not None else (X, X0)
    rng = np.random.default_rng(s)
    counts = rng.multinomial(n_instr, np.full(n_instr, 1.0 / n_instr)).astype(float)
    wb = w * counts[codes]
    if stage1 is not None:  # refit the difficulty on the replicate, warm-started
        jd, keep, l2, init = stage1
        jf = fit_joint(
            X[:, keep],
            y,
            wb,
            group,
            codes,
            len(names),
            n_instr,
            l2=max(l2, 1e-6),
            init=init,
            tol=1e-7,
        )
        X[:, jd] = jf.gamma[codes]
        X0[:, jd] = jf.gamma[codes]
    coef = problem.refit(wb, X)
    p0 = expit(np.einsum("ij,ij->i", X0, coef[group]))
    num = np.bincount(group, weights=wb * p0, minlength=len(names))
    counts_per_group = np.bincount(group, weights=wb, minlength=len(names))
    with np.errstate(invalid="ignore", divide="ignore"):
        return num / counts_per_group


def _stage1_refit(fit, codes, uniques):
    """What a replicate needs to refit the difficulty, or None when it is held fixed."""
    from debias.inference.two_stage import correctable

    if correctable(fit) is not None:
        return None
    cols = list(fit.columns_)
    jd = cols.index("difficulty")
    keep = [j for j in range(len(cols)) if j != jd]
    gamma0 = fit.difficulty_.values.reindex(uniques).to_numpy(float)
    return jd, keep, float(fit.difficulty_l2), (fit.stage1_.coef, gamma0)


def _report_replicate_warnings(raised: dict, n_boot: int) -> None:
    """Show each kind of warning the replicates raised once, with how many raised it."""
    for (category, _), (message, count) in raised.items():
        warnings.warn(
            f"{message} (in {count} of {n_boot} bootstrap replicates"
            + ("; numbers from the first)" if any(c.isdigit() for c in message) else ")"),
            category,
            stacklevel=4,
        )


def cap_n_jobs(n_jobs: int) -> int:
    """``n_jobs`` checked and capped at the number of cores (joblib's -1 = all cores).

    Examples
    --------
    >>> cap_n_jobs(1)
    1
    >>> cap_n_jobs(0)
    Traceback (most recent call last):
    ...
    debias.errors.ParameterError: The 'n_jobs' parameter must be a nonzero int (-1: all cores). Got 0 instead.
    """
    ok = isinstance(n_jobs, (int, np.integer)) and not isinstance(n_jobs, bool) and n_jobs != 0
    check_param("n_jobs", n_jobs, "a nonzero int (-1: all cores)", ok)
    cores = os.cpu_count() or 1
    n_jobs = int(n_jobs)
    if n_jobs > cores:
        warnings.warn(
            f"n_jobs={n_jobs} is more than the {cores} cores of this machine; using {cores}.",
            DebiasWarning,
            stacklevel=3,
        )
        return cores
    return max(1, cores + 1 + n_jobs) if n_jobs < 0 else n_jobs


def bootstrap(
    fit,
    designs_for: Callable[[list[str]], dict[str, np.ndarray]],
    *,
    n_boot: int = 1000,
    seed: int = 0,
    n_jobs: int = 1,
    progress: bool = False,
) -> pd.DataFrame:
    """Bootstrap replicates of every model's average counterfactual prediction.

    Parameters
    ----------
    fit : PreferenceGLM
        A fitted estimator.
    designs_for : callable
        ``designs_for(models)`` -> the counterfactual design matrix of each model's rows
        (e.g. ``lambda models: counterfactual_designs(fit, at, models)``).
    n_boot : int
        Number of replicates.
    seed : int
        Seed of the replicates (the result does not depend on ``n_jobs``).
    n_jobs : int
        joblib workers (-1: all cores).
    progress : bool
        Show a progress bar.

    Returns
    -------
    pandas.DataFrame
        ``n_boot`` rows, one column per model (the baseline at exactly 0.5), in [0, 1].
    """
    check_param("n_boot", n_boot, "an int >= 2", isinstance(n_boot, int) and n_boot >= 2)
    n_jobs = cap_n_jobs(n_jobs)
    if fit.solver == "alpaca_eval":
        raise ParameterError(
            "se='bootstrap' refits every model once per replicate; with the reference's "
            "cross-validated procedure (solver='alpaca_eval' / --compat) that takes hours. Use "
            "se='sandwich', or the default solver for a bootstrap."
        )
    problem = fit.stage2_problem()
    X, group, names = problem.X, problem.group, problem.models
    designs = designs_for(names)
    X0 = np.empty_like(X)
    for g, m in enumerate(names):
        X0[group == g] = designs[m]
    instr = np.concatenate([fit.results_[m].instructions for m in names]) if names else np.array([])
    # rows of each model are stored in group order; map them back to the stacked order
    order = np.argsort(group, kind="stable")
    codes_sorted, uniques = pd.factorize(instr)
    codes = np.empty_like(codes_sorted)
    codes[order] = codes_sorted
    seeds = np.random.SeedSequence(seed).generate_state(n_boot)
    chunks = np.array_split(seeds, max(1, min(n_boot, 20 * max(1, abs(n_jobs)))))
    stage1 = _stage1_refit(fit, codes, uniques)
    jobs = (delayed(_replicates)(problem, c, X0, (codes, len(uniques)), stage1) for c in chunks)
    results = Parallel(n_jobs=n_jobs, return_as="generator")(jobs)
    bar = tqdm(total=n_boot, desc="bootstrap", unit="rep", disable=not progress)
    parts, raised = [], {}
    for part, part_raised in results:
        parts.append(part)
        for key, (message, count) in part_raised.items():
            raised.setdefault(key, [message, 0])[1] += count
        bar.update(len(part))
    bar.close()
    _report_replicate_warnings(raised, n_boot)
    boot = pd.DataFrame(np.vstack(parts), columns=names)
    if fit.baseline_ in fit.models_:
        boot[fit.baseline_] = 0.5
    return boot[[m for m in fit.models_ if m in boot.columns]]
