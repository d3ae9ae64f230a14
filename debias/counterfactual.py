"""Counterfactual predictions: what the judge would say if the mediators were different.

The vocabulary follows marginaleffects: :func:`predictions` (one row per judgment),
:func:`avg_predictions` (averaged, e.g. the length-controlled win rate per model),
:func:`comparisons` (the change between two counterfactuals), plus the win rate
against any fitted model (:func:`winrate`, :func:`winrate_matrix`) and Elo.

A counterfactual is given by ``at``: ``None`` (the default) sets **every**
mediator to "no difference" (model value = baseline value); a mapping
``{mediator: value}`` changes only the named mediators, where a number is the
difference model − baseline on the raw scale (0 = none) and a callable
``f(model_values, baseline_values)`` returns the model's new values, e.g.
:func:`ratio` ``(1.3)`` for "answers 30% longer than the baseline's".

Probabilities are in [0, 1] inside the API; win rates in tables are in percent.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Mapping

import numpy as np
import pandas as pd
from scipy.special import expit

from debias.errors import ParameterError, check_param
from debias.params import INFERENCE_CONSTRAINTS, validate
from debias.results import cluster_se, critical_value, sum_by_code

SE_METHODS = ("sem", "sandwich", "bootstrap")


def ratio(r: float) -> Callable[[np.ndarray, np.ndarray], np.ndarray]:
    """Counterfactual "the model's value is ``r`` times the baseline's".

    Returns a picklable callable that shows its value (``ratio(1.3)``), so fits and
    counterfactuals that hold it can be cached and told apart.

    Examples
    --------
    >>> ratio(1.3)(np.array([5.0]), np.array([100.0]))
    array([130.])
    >>> ratio(1.3)
    ratio(1.3)
    """
    ok = isinstance(r, (int, float, np.number)) and not isinstance(r, bool)
    check_param("r", r, "a finite float in [0, inf)", ok and np.isfinite(r) and r >= 0)
    return _Ratio(float(r))


class _Ratio:
    """The callable :func:`ratio` returns (module level: picklable, compared by value)."""

    def __init__(self, r: float):
        self.r = r

    def __call__(self, model_values, baseline_values) -> np.ndarray:
        return self.r * np.asarray(baseline_values, dtype=float)

    def __eq__(self, other) -> bool:
        return isinstance(other, _Ratio) and other.r == self.r

    def __hash__(self) -> int:
        return hash((_Ratio, self.r))

    def __repr__(self) -> str:
        return f"ratio({self.r!r})"


def apply_at(frame: pd.DataFrame, mediators, at: Mapping | None = None) -> pd.DataFrame:
    """Return a copy of a model frame with mediators set to counterfactual values.

    Parameters
    ----------
    frame : pandas.DataFrame
        A frame as the formula sees it (``{m}``, ``{m}_model``, ``{m}_baseline``).
    mediators : iterable of str
        The formula's mediators.
    at : mapping, optional
        ``None``: every mediator at "no difference"; else ``{name: number or callable}``.

    Examples
    --------
    >>> f = pd.DataFrame({"length": [50.0], "length_model": [150.0], "length_baseline": [100.0]})
    >>> apply_at(f, ["length"]).to_dict("records")
    [{'length': 0.0, 'length_model': 100.0, 'length_baseline': 100.0}]
    >>> apply_at(f, ["length"], {"length": ratio(2)}).to_dict("records")
    [{'length': 100.0, 'length_model': 200.0, 'length_baseline': 100.0}]
    """
    mediators = list(mediators)
    out = frame.copy()
    targets = {m: 0.0 for m in mediators} if at is None else dict(at)
    for name, value in targets.items():
        if name not in mediators:
            raise ParameterError(
                f"at= names {name!r}, which is not a mediator of this fit; its mediators are "
                f"{mediators}."
            )
        base_col, model_col = f"{name}_baseline", f"{name}_model"
        has_raw = base_col in out and out[base_col].notna().all()
        if callable(value):
            if not has_raw:
                raise ParameterError(
                    f"at={{{name!r}: callable}} needs the per-output values of {name!r}."
                )
            new_model = np.asarray(
                value(out[model_col].to_numpy(float), out[base_col].to_numpy(float)), float
            )
            out[model_col] = new_model
            out[name] = new_model - out[base_col].to_numpy(float)
        else:
            v = float(value)
            out[name] = v
            if has_raw:
                out[model_col] = out[base_col].to_numpy(float) + v
    return out


def predictions(
    fit, newdata: pd.DataFrame | None = None, *, models=None, at: Mapping | None = None
) -> pd.DataFrame:
    """Per-judgment counterfactual predictions P(model preferred), in [0, 1].

    Parameters
    ----------
    fit : PreferenceGLM
        A fitted estimator.
    newdata : pandas.DataFrame, optional
        Rows as the formula sees them for one model (default: each model's own rows).
    models : list of str, optional
        Which models (default all fitted, the baseline excluded).
    at : mapping, optional
        The counterfactual (default: every mediator at "no difference").

    Returns
    -------
    pandas.DataFrame
        ``model, instruction, estimate, std_error, conf_low, conf_high`` (delta method,
        cluster-robust coefficients; 95%, Student's t with instructions − 1 degrees of
        freedom). Standard errors and intervals are NaN (never of zero width) where the
        sandwich is not valid or the model's data cannot support its fit.
    """
    rows = []
    for m in _models(fit, models):
        res = fit.results_[m]
        frame = res.frame if newdata is None else newdata
        cf = apply_at(frame, fit.spec_.mediators, at)
        X = res.design_matrix(cf)
        eta = X @ res.params.to_numpy()
        p = expit(eta)
        J = (p * (1 - p))[:, None] * X
        cov = res.cov_params().to_numpy().copy()
        if res.fixed.size:  # coefficients held at 0 contribute no variance
            cov[res.fixed, :] = 0.0
            cov[:, res.fixed] = 0.0
        se = np.sqrt(np.einsum("ij,jk,ik->i", J, cov, J))
        unsupported = res.support_problem() is not None
        se = np.where(np.isfinite(se) & (se > 0) & ~unsupported, se, np.nan)
        z = critical_value(0.95, df=res.n_clusters - 1)
        instr = res.instructions if newdata is None else np.arange(len(frame))
        rows.append(
            pd.DataFrame(
                {
                    "model": m,
                    "instruction": instr,
                    "estimate": p,
                    "std_error": se,
                    "conf_low": np.clip(p - z * se, 0, 1),
                    "conf_high": np.clip(p + z * se, 0, 1),
                }
            )
        )
    return pd.concat(rows, ignore_index=True) if rows else pd.DataFrame()


def _models(fit, models):
    if models is None:
        return [m for m in fit.models_ if m in fit.results_]
    unknown = [m for m in models if m not in fit.models_]
    if unknown:
        raise ParameterError(f"Unknown model(s) {unknown}; fitted models: {fit.models_}.")
    return list(models)


def counterfactual_designs(fit, at: Mapping | None, models) -> dict[str, np.ndarray]:
    """Design matrices of each model's own rows under the counterfactual ``at``.

    One formula evaluation for all models (the transforms keep per-model statistics).
    """
    models = [m for m in models if m in fit.results_]
    if not models:
        return {}
    frames = [fit.results_[m].frame for m in models]
    X = fit.design_.matrix(apply_at(pd.concat(frames), fit.spec_.mediators, at), 1.0)
    bounds = np.cumsum([0] + [len(f) for f in frames])
    return {m: X[bounds[i] : bounds[i + 1]] for i, m in enumerate(models)}


def average_with_influence(
    res,
    at: Mapping | None,
    mediators,
    X0: np.ndarray | None = None,
    coef_influence: pd.DataFrame | None = None,
) -> tuple[float, pd.Series, np.ndarray]:
    """Mean counterfactual prediction of one model and its per-instruction influence.

    The influence of instruction x on the average is
    ``(p_x - mean)/n + g' H^-1 s_x`` (stacked estimating equations: the average over
    instructions and the model's score equations), so its cross-product is the
    cluster-robust variance for the population of instructions.

    Parameters
    ----------
    res : ModelResults
    at : mapping, optional
        The counterfactual (see :func:`apply_at`).
    mediators : iterable of str
    X0 : ndarray, optional
        The counterfactual design, when already computed (:func:`counterfactual_designs`).
    coef_influence : pandas.DataFrame, optional
        The coefficients' per-instruction influence (default ``res.influence()``).
    """
    X = res.design_matrix(apply_at(res.frame, mediators, at)) if X0 is None else X0
    p = expit(X @ res.params.to_numpy())
    n = len(p)
    est = float(p.mean())
    grad = ((p * (1 - p))[:, None] * X).mean(axis=0)
    coef_infl = res.influence() if coef_influence is None else coef_influence
    codes, uniques = pd.factorize(res.instructions)
    own = pd.Series(sum_by_code((p - est) / n, codes, len(uniques)), index=uniques)
    own = own.reindex(coef_infl.index, fill_value=0.0).to_numpy()
    total = own + coef_infl.to_numpy() @ np.nan_to_num(grad)
    own_influence = coef_influence is None or (
        res.two_stage is not None and coef_influence is res.two_stage(res.model)
    )
    gamma_infl = res.two_stage.gamma() if res.two_stage is not None and own_influence else None
    if gamma_infl is not None and "difficulty" in res.columns:
        # the average also uses γ̂ directly (the difficulty column of the design)
        jd = res.columns.index("difficulty")
        d = p * (1 - p) * res.params.iloc[jd] / n  # d(average) / d(γ of each row's instruction)
        per_gamma = pd.Series(sum_by_code(d, codes, len(uniques)), index=uniques)
        per_gamma = per_gamma.reindex(gamma_infl.index, fill_value=0.0).to_numpy()
        direct = pd.Series(per_gamma @ gamma_infl.to_numpy(), index=gamma_infl.columns)
        total = total + direct.reindex(coef_infl.index, fill_value=0.0).to_numpy()
    infl = pd.Series(total, index=coef_infl.index)
    return est, infl, p


def avg_predictions(
    fit,
    *,
    at: Mapping | None = None,
    se: str = "sandwich",
    level: float = 0.95,
    models=None,
    n_boot: int = 1000,
    seed: int = 0,
    n_jobs: int = 1,
    progress: bool = False,
) -> pd.DataFrame:
    """Average counterfactual P(model preferred) per model: the length-controlled win rate.

    Parameters
    ----------
    fit : PreferenceGLM
    at : mapping, optional
        Counterfactual (default: every mediator at "no difference").
    se : {"sem", "sandwich", "bootstrap"}
        ``sem``: the reference's number, the SEM of the per-instruction predictions
        (ignores judge noise and parameter uncertainty: not a real standard error);
        ``sandwich``: cluster-robust by instruction, delta method through the average,
        for the population of instructions (difficulty treated as a known covariate);
        ``bootstrap``: instructions resampled (multinomial weights shared by all models),
        every model refitted, percentile interval.
    level : float
        Confidence level of ``conf_low, conf_high``.

    Returns
    -------
    pandas.DataFrame
        ``model, estimate, std_error, conf_low, conf_high, note`` in [0, 1]. Honest by
        construction: the baseline is 0.5 by definition (no standard error or interval,
        note ``"baseline (50 by definition)"``); a model whose data cannot support its
        fit (:meth:`~debias.results.ModelResults.support_problem`: too few judgments,
        separation, a mediator without variation) has a NaN estimate and the reason in
        ``note``; a fit where the sandwich is not valid (an L1 penalty, a coefficient on
        a bound: :attr:`~debias.results.ModelResults.wald_problem`) has NaN
        ``se="sandwich"`` intervals with the reason. Sandwich intervals use Student's t
        with (the model's instructions − 1) degrees of freedom. No interval is ever of
        zero width: a zero spread gives NaN.
    """
    settings = dict(se=se, level=level, n_boot=n_boot, seed=seed, n_jobs=n_jobs, progress=progress)
    validate(INFERENCE_CONSTRAINTS, settings, "avg_predictions")
    names = _models(fit, models) if models is not None else list(fit.models_)
    designs = counterfactual_designs(fit, at, names)
    out = []
    for m in names:
        if m == fit.baseline_:
            out.append((m, 0.5, np.nan, np.nan, np.nan, BASELINE_NOTE))
            continue
        res = fit.results_[m]
        problem = res.support_problem()
        if problem is not None:
            out.append((m, np.nan, np.nan, np.nan, np.nan, problem))
            continue
        note = ""
        if se != "sandwich":  # sem and bootstrap need no influence functions
            p = expit(designs[m] @ res.params.to_numpy())
            est = float(p.mean())
            # sem: the reference's number; bootstrap: filled in from the replicates below
            s = float(np.std(p, ddof=1) / np.sqrt(len(p))) if len(p) > 1 else np.nan
            z = critical_value(level)
            if se == "sem" and not s > 1e-12:
                note = "se='sem': the counterfactual predictions do not vary (no interval)"
        elif res.wald_problem is not None:
            est = float(expit(designs[m] @ res.params.to_numpy()).mean())
            s, z = np.nan, np.nan
            note = f"no sandwich interval: {res.wald_problem}"
        else:
            est, infl, p = average_with_influence(res, at, fit.spec_.mediators, designs[m])
            s = cluster_se(infl)
            z = critical_value(level, df=res.n_clusters - 1)
            if not (np.isfinite(s) and s > 1e-12):
                note = (
                    "no interval: the fit reproduces every judgment exactly (no residual "
                    "spread to estimate the sampling error from)"
                )
        out.append((m, est, *_interval(est, s, z), note))
    table = pd.DataFrame(out, columns=[*RESULT_COLUMNS, "note"])
    if se == "bootstrap":
        from debias.inference import bootstrap

        boot = bootstrap(fit, at=at, n_boot=n_boot, seed=seed, n_jobs=n_jobs, progress=progress)
        lo, hi = (1 - level) / 2, (1 + level) / 2
        sub = boot.reindex(columns=names)
        estimated = table["estimate"].notna().to_numpy() & (table["model"] != fit.baseline_)
        spread = sub.std(ddof=1).to_numpy()
        low, high = sub.quantile(lo).to_numpy(), sub.quantile(hi).to_numpy()
        ok = estimated & np.isfinite(spread) & (spread > 0) & (high > low)
        table["std_error"] = np.where(ok, spread, np.nan)
        table["conf_low"] = np.where(ok, low, np.nan)
        table["conf_high"] = np.where(ok, high, np.nan)
        flat = estimated & ~ok
        table.loc[flat, "note"] = "bootstrap replicates without spread: no interval"
    table[["conf_low", "conf_high"]] = table[["conf_low", "conf_high"]].clip(0, 1)
    return table


BASELINE_NOTE = "baseline (50 by definition)"
RESULT_COLUMNS = ["model", "estimate", "std_error", "conf_low", "conf_high"]


def _interval(est: float, s: float, z: float) -> tuple[float, float, float]:
    """``(se, low, high)``; all NaN unless the standard error is finite and positive."""
    if not (np.isfinite(s) and s > 1e-12 and np.isfinite(z)):
        return np.nan, np.nan, np.nan
    return s, est - z * s, est + z * s


def comparisons(
    fit, at_hi: Mapping | None, at_lo: Mapping | None = None, *, level: float = 0.95, models=None
) -> pd.DataFrame:
    """Change in the average prediction between two counterfactuals, per model.

    ``estimate = avg P(at_hi) - avg P(at_lo)``; with ``at_lo=None`` the contrast is
    against the observed data (``{}``: nothing changed). Cluster-robust delta method,
    Student's t with (instructions − 1) degrees of freedom; the same ``note`` rules as
    :func:`avg_predictions` (NaN with a reason, never a zero-width interval).

    Examples
    --------
    The length effect on model m's win rate: ``comparisons(fit, None)`` is the
    controlled minus the observed win rate (negative when m gained from length).
    """
    critical_value(level)  # checks the level
    rows = []
    names = _models(fit, models)
    at_lo = {} if at_lo is None else at_lo
    hi = counterfactual_designs(fit, at_hi, names)
    lo = counterfactual_designs(fit, at_lo, names)
    for m in names:
        if m == fit.baseline_:
            continue
        res = fit.results_[m]
        problem = res.support_problem()
        if problem is not None:
            rows.append((m, np.nan, np.nan, np.nan, np.nan, problem))
            continue
        if res.wald_problem is not None:
            p1 = expit(hi[m] @ res.params.to_numpy()).mean()
            p0 = expit(lo[m] @ res.params.to_numpy()).mean()
            why = f"no sandwich interval: {res.wald_problem}"
            rows.append((m, float(p1 - p0), np.nan, np.nan, np.nan, why))
            continue
        e1, i1, _ = average_with_influence(res, at_hi, fit.spec_.mediators, hi[m])
        e0, i0, _ = average_with_influence(res, at_lo, fit.spec_.mediators, lo[m])
        s = cluster_se((i1 - i0).to_numpy())
        z = critical_value(level, df=res.n_clusters - 1)
        rows.append((m, e1 - e0, *_interval(e1 - e0, s, z), ""))
    return pd.DataFrame(rows, columns=[*RESULT_COLUMNS, "note"])


def winrate(fit, model: str, baseline: str, *, at: Mapping | None = None) -> float:
    """Controlled win rate (percent) of ``model`` against any fitted ``baseline``.

    Each model's log-odds against the fit's baseline on instruction x under the
    counterfactual ``at`` is ``b_m · x_m(at)`` (its own coefficients, and its own
    scaling of the mediators, as fitted); against B the log-odds is the difference
    ``b_model · x_model(at) - b_B · x_B(at)``, averaged over the evaluation set (every
    instruction of the fit). With the mediators at "no difference" (the default) every
    model has the same ``x0``. Identity (m vs m = 50) and symmetry (m vs B + B vs m =
    100) hold exactly, and against the fit's own baseline this is the model's
    controlled win rate on the evaluation set (:func:`avg_predictions` when the model
    answered every instruction). NaN when either model's data cannot support a
    controlled score (see :func:`winrate_matrix`).
    """
    for name in (model, baseline):
        if name not in fit.models_:
            raise ParameterError(f"Unknown model {name!r}; fitted models: {fit.models_}.")
    if model == baseline:
        return 50.0
    if _unsupported(fit, [model, baseline]):
        return float("nan")
    eta = _log_odds(fit, at, [model, baseline])
    return float(100 * expit(eta[:, 0] - eta[:, 1]).mean())


def _unsupported(fit, names) -> dict[str, str]:
    """Models whose data cannot support a controlled score, with the reason (the same
    check as the leaderboard's LC: :meth:`ModelResults.support_problem`)."""
    out = {}
    for m in names:
        check = getattr(fit.results_.get(m), "support_problem", None)
        why = check() if check is not None else None
        if why:
            out[m] = why
    return out


_CACHE_SIZE = 16


def _log_odds(fit, at, names) -> np.ndarray:
    """Log-odds against the fit's baseline of each of ``names`` (columns) on the
    evaluation set (rows: one per instruction) under the counterfactual ``at``."""
    instructions, designs = _evaluation_designs(fit, at, names)
    return np.column_stack([_eta(fit, designs, m, len(instructions)) for m in names])


def _eta(fit, designs, model, n: int) -> np.ndarray:
    """One model's log-odds against the fit's baseline (0 for the baseline itself)."""
    if model not in designs:  # the fit's baseline against itself
        return np.zeros(n)
    return designs[model] @ fit.params_.loc[model].to_numpy()


def _evaluation_designs(fit, at, names) -> tuple[np.ndarray, dict[str, np.ndarray]]:
    """The evaluation set's instructions (one per row) and each fitted model's design
    on it under the counterfactual ``at`` (the fit's baseline has none).

    Cached on the fit (``fit()`` drops the cache): the evaluation-set frame once, and
    each model's design keyed by the *values* of the counterfactual frame, so two
    ``at`` that print alike (two callables) never share an entry. Building the frame
    is most of the cost (15 ms of 17 ms for 46 models x 805 instructions): 100
    ``winrate`` calls take 0.3 s instead of 3.6 s.
    """
    cache = fit.__dict__.setdefault("_counterfactual_cache", {})
    if "evaluation_frame" not in cache:
        frame = pd.concat([r.frame for r in fit.results_.values()])
        instr = np.concatenate([r.instructions for r in fit.results_.values()])
        first = ~pd.Index(instr).duplicated()
        cache["evaluation_frame"] = frame[first]
        cache["evaluation_instructions"] = instr[first]
    cf = apply_at(cache["evaluation_frame"], fit.spec_.mediators, at)
    values = cf.to_numpy(dtype=float)
    key = (tuple(cf.columns), values.shape, hashlib.blake2b(values.tobytes()).hexdigest())
    designs = cache.setdefault("designs", {})
    if key not in designs:
        if len(designs) >= _CACHE_SIZE:
            designs.pop(next(iter(designs)))
        designs[key] = {}
    known = designs[key]
    todo = [m for m in dict.fromkeys(names) if m in fit.results_ and m not in known]
    if todo:  # one formula evaluation; each model's rows use its own transform statistics
        n = len(cf)
        stacked = pd.concat([cf] * len(todo))
        stacked.index = pd.Index(np.repeat(np.asarray(todo, dtype=object), n), name="model")
        X = fit.design_.matrix(stacked, 1.0)
        known.update({m: X[i * n : (i + 1) * n] for i, m in enumerate(todo)})
    wanted = {m: known[m] for m in names if m in known}
    return cache["evaluation_instructions"], wanted


def winrate_matrix(fit, models=None, *, at: Mapping | None = None) -> pd.DataFrame:
    """Controlled win rate (percent) of each row model against each column model.

    See :func:`winrate`; against the fit's baseline (its column) each model's
    controlled win rate on the evaluation set. A model whose data cannot support a
    controlled score has a row and column of NaN, with the reason in
    ``table.attrs["notes"]`` (model → reason), as in the leaderboard. Standard errors
    and intervals of each pair: :func:`winrate_pairs`.

    Examples
    --------
    >>> from debias.simulate import simulate
    >>> from debias.glm import PreferenceGLM
    >>> sim = simulate(n_models=2, n_instructions=100, seed=1)
    >>> fit = PreferenceGLM(preset="length_controlled_minimal", difficulty="none").fit(sim.comparisons)
    >>> m = winrate_matrix(fit, at={"length": ratio(2.0)})
    >>> float(m.iloc[0, 0]), bool(abs(m.iloc[0, 1] + m.iloc[1, 0] - 100) < 1e-9)
    (50.0, True)
    """
    if isinstance(models, str):
        models = [models]
    names = _models(fit, models) if models is not None else list(fit.models_)
    eta = _log_odds(fit, at, names)  # (n, M)
    out = np.empty((len(names), len(names)))
    for i in range(len(names)):
        out[i] = 100 * expit(eta[:, [i]] - eta).mean(axis=0)
    notes = _unsupported(fit, names)
    missing = np.isin(names, list(notes))
    out[missing, :] = np.nan
    out[:, missing] = np.nan
    np.fill_diagonal(out, np.where(missing, np.nan, 50.0))
    table = pd.DataFrame(out, index=pd.Index(names, name="model"), columns=names)
    table.attrs["notes"] = notes
    return table


PAIR_COLUMNS = ["model", "opponent", "estimate", "std_error", "conf_low", "conf_high", "note"]
SAME_MODEL_NOTE = "the same model (50 by definition)"


def winrate_pairs(fit, models=None, *, at: Mapping | None = None, level: float = 0.95):
    """Controlled win rate of every model against every other, with intervals (tidy, [0, 1]).

    The estimate is :func:`winrate` (as a probability). Its standard error is
    cluster-robust by instruction, by the delta method: the influence of instruction
    x on the average is ``(p_x - mean)/N`` plus the gradient against each model's
    coefficients times their per-instruction influence
    (:meth:`~debias.results.ModelResults.influence`; the two models' influences are
    differenced, as their log-odds are), plus the direct effect of an estimated
    difficulty, as in :func:`avg_predictions`. Student's t with (instructions of the
    evaluation set − 1) degrees of freedom.

    Parameters
    ----------
    fit : PreferenceGLM
    models : list of str, optional
        Which models (default every fitted model and the baseline).
    at : mapping, optional
        The counterfactual (default: every mediator at "no difference").
    level : float, default 0.95

    Returns
    -------
    pandas.DataFrame
        ``model, opponent, estimate, std_error, conf_low, conf_high, note``, one row per
        ordered pair. A model against itself is 0.5 with no interval; a pair with a
        model whose data cannot support a controlled score is NaN with the reason; a
        fit where the sandwich is not valid (L1 penalty, a bound) has no interval, with
        the reason. ``model`` vs ``opponent`` and back sum to 1 exactly. The square
        matrix of estimates (percent) is :func:`winrate_matrix`.

    Examples
    --------
    >>> from debias.simulate import simulate
    >>> from debias.glm import PreferenceGLM
    >>> sim = simulate(n_models=2, n_instructions=100, seed=1)
    >>> fit = PreferenceGLM(preset="length_controlled_minimal", difficulty="none").fit(sim.comparisons)
    >>> t = winrate_pairs(fit)
    >>> list(t.columns)
    ['model', 'opponent', 'estimate', 'std_error', 'conf_low', 'conf_high', 'note']
    >>> bool((t["conf_low"] < t["estimate"]).sum() == 6)  # 3 models: 6 ordered pairs of two
    True
    """
    critical_value(level)  # checks the level
    if isinstance(models, str):
        models = [models]
    names = _models(fit, models) if models is not None else list(fit.models_)
    instructions, designs = _evaluation_designs(fit, at, names)
    n = len(instructions)
    notes = _unsupported(fit, names)
    eta = {m: _eta(fit, designs, m, n) for m in names}
    z = critical_value(level, df=n - 1) if n > 1 else np.nan
    rows: dict[tuple[str, str], tuple] = {}
    ok = [m for m in names if m not in notes and not _wald(fit, m)]
    influence = _PairInfluence(fit, designs, instructions, ok)
    for a, i in enumerate(names):
        rows[i, i] = (i, i, 0.5, np.nan, np.nan, np.nan, SAME_MODEL_NOTE)
        for j in names[a + 1 :]:
            why = "; ".join(f"{m}: {notes[m]}" for m in (i, j) if m in notes)
            if why:
                rows[i, j] = (i, j, np.nan, np.nan, np.nan, np.nan, why)
                rows[j, i] = (j, i, np.nan, np.nan, np.nan, np.nan, why)
                continue
            p = expit(eta[i] - eta[j])
            est = float(p.mean())
            wald = [f"{m}: {fit.results_[m].wald_problem}" for m in (i, j) if _wald(fit, m)]
            if wald:
                s, note = np.nan, "no sandwich interval: " + "; ".join(wald)
            else:
                s = cluster_se(influence(i, j, p))
                note = "" if np.isfinite(s) and s > 1e-12 else _EXACT_FIT_NOTE
            se_, low, high = _interval(est, s, z)
            rows[i, j] = (i, j, est, se_, low, high, note)
            rows[j, i] = (j, i, 1 - est, se_, 1 - high, 1 - low, note)
    table = pd.DataFrame([rows[i, j] for i in names for j in names], columns=PAIR_COLUMNS)
    table[["conf_low", "conf_high"]] = table[["conf_low", "conf_high"]].clip(0, 1)
    return table


_EXACT_FIT_NOTE = (
    "no interval: the fit reproduces every judgment exactly (no residual spread to "
    "estimate the sampling error from)"
)


def _wald(fit, model) -> bool:
    res = fit.results_.get(model)
    return res is not None and res.wald_problem is not None


class _PairInfluence:
    """Per-instruction influence of ``mean(expit(eta_i - eta_j))`` (see :func:`winrate_pairs`).

    Every model's coefficient influence, and γ̂'s, are aligned once on the instructions
    of all of them (the clusters), so each pair costs a few matrix-vector products.
    """

    def __init__(self, fit, designs, instructions, models):
        self.fit, self.designs = fit, designs
        fitted = [m for m in models if m in fit.results_]
        coef = {m: fit.results_[m].influence() for m in fitted}
        clusters = pd.Index(instructions)
        for c in coef.values():
            clusters = clusters.union(c.index, sort=False)
        self.two_stage = next(
            (fit.results_[m].two_stage for m in fitted if fit.results_[m].two_stage is not None),
            None,
        )
        gamma = self.two_stage.gamma() if self.two_stage is not None else None
        self.gamma = None
        if gamma is not None:
            clusters = clusters.union(gamma.columns, sort=False)
            self.gamma = gamma.reindex(columns=clusters, fill_value=0.0).to_numpy()
            self.gamma_rows = gamma.index.get_indexer(instructions)  # -1: no γ of its own
        self.coef = {m: c.reindex(clusters, fill_value=0.0).to_numpy() for m, c in coef.items()}
        self.rows = clusters.get_indexer(instructions)
        self.n_clusters = len(clusters)

    def __call__(self, i: str, j: str, p: np.ndarray) -> np.ndarray:
        n = len(p)
        total = np.zeros(self.n_clusters)
        np.add.at(total, self.rows, (p - p.mean()) / n)
        slope = p * (1 - p) / n
        gamma_coef = 0.0  # the difference of the two models' difficulty coefficients
        for sign, m in ((1.0, i), (-1.0, j)):
            if m not in self.coef:  # the fit's baseline: log-odds 0, nothing estimated
                continue
            total += self.coef[m] @ np.nan_to_num(sign * (slope @ self.designs[m]))
            res = self.fit.results_[m]
            if res.two_stage is not None and "difficulty" in res.columns:
                gamma_coef += sign * res.params.iloc[res.columns.index("difficulty")]
        if self.gamma is not None and gamma_coef != 0.0:
            # the average also uses γ̂ directly (the difficulty column of the design)
            per_gamma = np.zeros(self.gamma.shape[0])
            has = self.gamma_rows >= 0
            np.add.at(per_gamma, self.gamma_rows[has], (slope * gamma_coef)[has])
            total += per_gamma @ self.gamma
        return total


def elo(win_rate_percent, anchor: float = 1251.0):
    """Elo from a win rate (percent) against a baseline rated ``anchor``.

    ``400 * log10(p / (1 - p)) + anchor``.

    Examples
    --------
    >>> round(elo(50.0), 1)
    1251.0
    """
    p = np.clip(np.asarray(win_rate_percent, dtype=float) / 100, 1e-12, 1 - 1e-12)
    out = 400 * np.log10(p / (1 - p)) + anchor
    return float(out) if np.ndim(out) == 0 else out
