"""The any-pair Bradley–Terry estimator researchers configure and fit: :class:`BradleyTerry`.

It fits two models on the same battles: without style terms (``strength``: what the judge
prefers, style included) and with them (``controlled_strength``: the strength with every
style term at zero, i.e. "the same style"), and the uncertainty of both (sandwich clustered by
prompt, or a bootstrap over prompts whose replicates refit both). The terms are given as
``features=`` (a tuple of style features) or as a ``formula=`` (:mod:`debias.battles.formula`:
per-term transforms, battle columns and ``position``). Its parameters are declared
in one table, :data:`BRADLEY_TERRY_CONSTRAINTS` (the house style of
:mod:`debias.model.params`).
"""

from __future__ import annotations

import dataclasses
import warnings

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator

from debias.battles.formula import Term, feature_terms, parse_battle_formula
from debias.battles.inference import bootstrap
from debias.battles.results import BattleResults
from debias.errors import FitWarning, InputError, ParameterError
from debias.model.params import (
    BOOL,
    MAX_BOOT,
    NONE,
    NONNEGATIVE,
    InstanceOf,
    Interval,
    NonZeroInt,
    Options,
    validate,
)

TRANSFORMS = ("difference", "diff_over_sum", "diff_over_sum_plus1")
ARENA_FEATURES = ("length", "headers", "lists", "bold")

BRADLEY_TERRY_CONSTRAINTS: dict[str, list] = {
    "features": [InstanceOf((tuple, list), "a tuple of feature names (() for none)"), NONE],
    "formula": [InstanceOf((str,), "a formula str such as 'length + position'"), NONE],
    "transform": [Options(TRANSFORMS)],
    "scale": [BOOL],
    "center": [BOOL],
    "ties": [Options(("half", "davidson"))],
    "identify": [InstanceOf((str,), "'sum_to_zero' or a model name")],
    "penalty": [Options((None, "l2", "l1"))],
    "alpha": [NONNEGATIVE],
    "per_model_slopes": [BOOL],
    "level": [Interval(float, 0, 1, "neither")],
    "cov_type": [Options(("cluster", "bootstrap"))],
    "n_boot": [Interval(int, 2, MAX_BOOT)],
    "seed": [Interval(int, 0, 2**63 - 1)],
    "n_jobs": [NonZeroInt()],
}
"""Constraints of :class:`BradleyTerry`'s constructor arguments (and of
:func:`debias.battles.leaderboard.battle_leaderboard`'s)."""


class BradleyTerry(BaseEstimator):
    """Bradley–Terry over any pairs of models, with style control.

    ``logit P(A beats B) = s_A − s_B + Σ_t β_t x_t`` with ``x_t`` the covariate of term
    ``t`` signed A minus B: a style feature (:func:`debias.battles.style.style_covariates`),
    a battle column, or ``position`` (+1 when A was shown first, −1 when second, 0 when
    unknown). The controlled strengths and scores set every term to zero: the same style
    and, with ``position``, balanced over position.

    Parameters
    ----------
    features : tuple of str, optional
        Style features: columns ``<f>_a``, ``<f>_b`` of the battles when present, else
        computed from the answers of ``judgments`` (:func:`debias.battles.style.
        add_answer_features`); ``"position"`` is the position term. ``()``: no terms (the
        controlled columns are empty). Default: Chatbot Arena's, ``("tokens", "headers",
        "lists", "bold")`` when every answer of the battles has a stored token count (Arena
        counts tokens; Arena-Hard's files store them), else ``("length", "headers", "lists",
        "bold")`` with the length in characters; unless ``formula=`` is given (one of the two).
    formula : str, optional
        The terms as a formula, e.g. ``"tokens + headers + lists + bold"``,
        ``"length + position"``, ``"diff_over_sum(length) + bold"``
        (:func:`debias.battles.formula.parse_battle_formula`: features bare or inside one
        transform, battle columns as given, ``position``; the strengths are implied).
        ``features=("length", "bold")`` and ``formula="length + bold"`` are the same fit.
    transform : {"diff_over_sum_plus1", "diff_over_sum", "difference"}
        The pairwise transform of each feature written bare (Arena's
        ``(a − b) / (a + b + 1)`` by default).
    scale : bool, default True
        Divide each feature's covariate by its standard deviation over the battles
        (``position`` and battle columns enter as given).
    center : bool, default False
        Centre the covariates. Left off on purpose: centred, "style at zero" means "at the
        pool's average", so adding one verbose model moves every other model's controlled
        score; uncentred, zero means "both answers alike", whatever the pool.
    ties : {"half", "davidson"}, default "half"
        A tie as half a win, or Davidson's tie model (ν estimated).
    identify : str, default "sum_to_zero"
        Strengths summing to zero, or a model name whose strength is 0 (the scores,
        ratings and win rates do not depend on it; ``strength`` and ``strength_se`` do).
    penalty : {None, "l2", "l1"}, default None
        A ridge (exact Newton) or lasso (cvxpy: ties as ½, shared slopes) penalty of
        strength ``alpha`` on the centred strengths and the style coefficients, added to
        the summed loss. Penalised fits have no Wald intervals: use ``cov_type="bootstrap"``.
    alpha : float, default 0.0
    per_model_slopes : bool, default False
        One style slope per (feature, model) instead of one shared per feature.
    level : float, default 0.95
    cov_type : {"cluster", "bootstrap"}, default "cluster"
        The sandwich clustered by prompt, or ``n_boot`` replicates over prompts.
    n_boot : int, default 200
    seed : int, default 0
    n_jobs : int, default 1
        joblib's ``n_jobs`` for the bootstrap (a Dask cluster through
        ``joblib.parallel_config(backend="dask")``).

    Attributes
    ----------
    models_ : tuple of str
    features_ : tuple of str
        The covariates fitted (each term's label: ``"length"``, ``"diff_over_sum(bold)"``,
        ``"position"``).
    terms_ : tuple of Term
        The terms fitted (:class:`debias.battles.formula.Term`).
    dropped_features_ : tuple of str
        Features left out because they are the same in every battle (a warning says so).
    design_ : BattleDesign
        The battles with a verdict, with the style covariates.
    fit_ : BTFit
        The fit with style terms (``plain_fit_`` without them; the same object when
        ``features=()``).
    results_, plain_results_ : BattleResults
    n_battles_ : pandas.Series
        Battles (rows with a verdict) per model.
    n_prompts_ : int
    coef_ : pandas.DataFrame
        The style coefficients with their intervals (``results_.coefficients()``).

    Examples
    --------
    >>> from debias.simulate.arena import simulate_arena
    >>> sim = simulate_arena(n_models=4, n_battles=4_000, seed=0)
    >>> bt = BradleyTerry(features=("tokens",)).fit(sim.battles)
    >>> bt.coef_[["term", "estimate"]].round(2)
         term  estimate
    0  tokens      0.29
    """

    def __init__(
        self,
        features=None,
        *,
        formula: str | None = None,
        transform: str = "diff_over_sum_plus1",
        scale: bool = True,
        center: bool = False,
        ties: str = "half",
        identify: str = "sum_to_zero",
        penalty: str | None = None,
        alpha: float = 0.0,
        per_model_slopes: bool = False,
        level: float = 0.95,
        cov_type: str = "cluster",
        n_boot: int = 200,
        seed: int = 0,
        n_jobs: int = 1,
    ):
        self.features = features
        self.formula = formula
        self.transform = transform
        self.scale = scale
        self.center = center
        self.ties = ties
        self.identify = identify
        self.penalty = penalty
        self.alpha = alpha
        self.per_model_slopes = per_model_slopes
        self.level = level
        self.cov_type = cov_type
        self.n_boot = n_boot
        self.seed = seed
        self.n_jobs = n_jobs

    def fit(self, battles: pd.DataFrame, judgments=None) -> BradleyTerry:
        """Fit both models on ``battles`` (the frame of ``Judgments.battles()``).

        Parameters
        ----------
        battles : pandas.DataFrame
            ``model_a, model_b, outcome`` (P(A wins)), optional ``weight`` and ``prompt``
            (the cluster), ``<f>_a, <f>_b`` per feature unless ``judgments`` is given, and
            ``shown_first`` (``"a"``, ``"b"``, ``"unknown"``) for ``position``.
        judgments : Judgments, optional
            Where the answers' texts (and token counts) are, to compute the features.

        Returns
        -------
        self
        """
        for name in [a for a in vars(self) if a.endswith("_") and not a.startswith("_")]:
            delattr(self, name)
        self._check_params()
        if not isinstance(battles, pd.DataFrame):
            raise ParameterError(
                "The 'battles' parameter must be a pandas DataFrame (Judgments.battles()). "
                f"Got {type(battles).__name__}."
            )
        from debias.battles.design import battle_design

        terms = (
            parse_battle_formula(self.formula, battles.columns, self.transform)
            if self.formula is not None
            else feature_terms(
                _default_features(battles, judgments) if self.features is None else self.features
            )
        )
        frame, terms = self._with_covariates(battles, judgments, terms)
        features = tuple(t.label for t in terms)
        design = battle_design(frame, covariates=features)
        kept = frame.iloc[design.rows].reset_index(drop=True)  # rows with a verdict
        refit = Refit(features, design.models, self._fit_options(), with_plain=bool(features))
        fit = refit.fit(design)
        plain = refit.fit(_without_covariates(design)) if features else fit
        replicates = plain_replicates = None
        if self.cov_type == "bootstrap":
            reps = bootstrap(refit, kept, n_boot=self.n_boot, seed=self.seed, n_jobs=self.n_jobs)
            width = len(fit.strengths) + len(fit.coefficients)
            replicates = reps[:, :width]
            plain_replicates = reps[:, width:] if features else replicates
        options = {"cov_type": self.cov_type, "level": self.level}
        self.models_ = tuple(design.models)
        self.features_ = features
        self.terms_ = terms
        self.design_ = design
        self.fit_ = fit
        self.plain_fit_ = plain
        self.results_ = BattleResults(fit, replicates=replicates, **options)
        self.plain_results_ = (
            BattleResults(plain, replicates=plain_replicates, **options)
            if features
            else self.results_
        )
        counts = np.bincount(design.a, minlength=design.n_models) + np.bincount(
            design.b, minlength=design.n_models
        )
        self.n_battles_ = pd.Series(counts, index=pd.Index(design.models, name="model"))
        self.n_prompts_ = int(design.n_clusters)
        self.coef_ = self.results_.coefficients()
        return self

    # ------------------------------------------------------------------ helpers
    def _check_params(self) -> None:
        validate(BRADLEY_TERRY_CONSTRAINTS, self.get_params(deep=False), "BradleyTerry")
        if self.features is not None and self.formula is not None:
            raise ParameterError(
                "Pass either features= or formula= (not both): formula='length + bold' is "
                "the same fit as features=('length', 'bold')."
            )
        features = () if self.features is None else self.features
        bad = [f for f in features if not isinstance(f, str) or not f]
        if bad or len(set(features)) != len(features):
            raise ParameterError(
                "The 'features' parameter must name each feature once (str). "
                f"Got {tuple(self.features)!r} instead."
            )
        if self.penalty is None and self.alpha:
            raise ParameterError("alpha= is the strength of penalty=; pass penalty='l2' too.")
        if self.penalty == "l1" and (self.ties != "half" or self.per_model_slopes):
            raise ParameterError(
                "penalty='l1' is solved by cvxpy with ties='half' and shared slopes "
                "(per_model_slopes=False)."
            )

    def _fit_options(self) -> dict:
        if self.penalty == "l1":
            return {"identify": self.identify, "l1": float(self.alpha)}
        return {
            "ties": self.ties,
            "identify": self.identify,
            "l2": float(self.alpha) if self.penalty == "l2" else 0.0,
            "per_model_slopes": self.per_model_slopes,
        }

    def _with_covariates(self, battles, judgments, terms) -> tuple[pd.DataFrame, tuple]:
        """The battles with one covariate column per term (named as the term's label), and
        the terms kept: one that is the same in every battle (no answer has a header, say)
        carries no information and is left out with a warning instead of stopping the fit."""
        self.dropped_features_ = ()
        if not terms:
            return battles, ()
        from debias.battles.style import add_answer_features

        names = tuple(dict.fromkeys(t.name for t in terms if t.kind == "feature"))
        absent = [f for f in names if f"{f}_a" not in battles or f"{f}_b" not in battles]
        if absent and judgments is None:
            raise InputError(
                f"battles: no columns {', '.join(f'{f}_a/{f}_b' for f in absent)}; pass "
                "judgments= (whose answers give the features) or features= present in the "
                "battles."
            )
        source = (
            add_answer_features(battles, judgments, features=tuple(absent)) if absent else battles
        )
        raw = self._term_values(source, terms, scale=False, center=False)
        used = source["outcome"].notna().to_numpy() if "outcome" in source else slice(None)
        constant = tuple(t.label for t in terms if _uninformative(t, raw[t.label][used]))
        if constant:
            warnings.warn(
                f"battles: the term(s) {', '.join(map(repr, constant))} are the same "
                "in every battle, so they carry no information: left out of the fit.",
                FitWarning,
                stacklevel=3,
            )
            self.dropped_features_ = constant
            terms = tuple(t for t in terms if t.label not in constant)
            if not terms:
                return battles, terms
        if self.scale or self.center:
            values = self._term_values(source, terms, scale=self.scale, center=self.center)
        else:
            values = {t.label: raw[t.label] for t in terms}
        clash = [t.label for t in terms if t.label in battles.columns]
        frame = battles.drop(columns=clash)
        return frame.assign(**{t.label: values[t.label] for t in terms}), terms

    def _term_values(self, source, terms, *, scale, center) -> dict[str, np.ndarray]:
        """Each term's covariate, signed A minus B: features through their transform (scaled
        and centred as asked), battle columns and position as given."""
        from debias.battles.style import style_covariates

        out: dict[str, np.ndarray] = {}
        groups: dict[str, list[Term]] = {}
        for term in terms:
            if term.kind == "feature":
                groups.setdefault(term.transform or self.transform, []).append(term)
            elif term.kind == "position":
                out[term.label] = _position(source)
            else:
                out[term.label] = _column(source, term.name)
        for transform, group in groups.items():
            names = tuple(dict.fromkeys(t.name for t in group))
            columns = [f"{f}_{s}" for f in names for s in "ab"]
            columns += ["outcome"] if "outcome" in source else []
            covariates = style_covariates(
                source[columns], names, transform=transform, scale=scale, center=center
            )
            for term in group:
                out[term.label] = covariates[term.name].to_numpy()
        return out


def _position(battles: pd.DataFrame) -> np.ndarray:
    """The position covariate, refused (with the reason) when the order shown cannot be
    separated from the prompt (:func:`debias.reports.position.add_position`)."""
    from debias.reports.position import add_position

    missing = [c for c in ("shown_first", "prompt") if c not in battles.columns]
    if missing:
        raise InputError(
            f"battles: no column(s) {', '.join(map(repr, missing))}, so the order shown cannot "
            "be separated from the prompt: the 'position' term needs Judgments.battles() of a "
            "layout that records the order (shown_first) and the prompt; drop 'position'."
        )
    frame = battles[[c for c in (*_ORDER_COLUMNS, "judge") if c in battles.columns]]
    if "judge" not in frame.columns:
        frame = frame.assign(judge="judge")
    return add_position(frame)["position"].to_numpy(dtype=float)


_ORDER_COLUMNS = ("prompt", "turn", "model_a", "model_b", "outcome", "shown_first")


def _column(battles: pd.DataFrame, name: str) -> np.ndarray:
    from debias.errors import row_list

    values = pd.to_numeric(battles[name], errors="coerce").to_numpy(dtype=float)
    used = battles["outcome"].notna().to_numpy() if "outcome" in battles else True
    bad = np.flatnonzero(~np.isfinite(values) & used)
    if len(bad):
        raise InputError(
            f"battles: column {name!r} (a formula term) is missing or not a finite number in "
            f"row(s) {row_list(bad)}; fill or drop those rows, or leave {name!r} out."
        )
    return values


def _default_features(battles: pd.DataFrame, judgments) -> tuple[str, ...]:
    """Arena's four features, with stored token counts for the length when every answer has one."""
    has = {"tokens_a", "tokens_b"} <= set(battles.columns)
    if not has and judgments is not None and "tokens" in judgments.answers:
        if {"answer_a", "answer_b"} <= set(battles.columns) and len(battles):
            codes = np.concatenate([battles["answer_a"], battles["answer_b"]])
            tokens = judgments.answers["tokens"].to_numpy(dtype=float)
            has = bool(np.isfinite(tokens[codes]).all())
    return ("tokens", *ARENA_FEATURES[1:]) if has else ARENA_FEATURES


def _varies(values: np.ndarray) -> bool:
    return len(values) > 0 and bool(values.max() > values.min())


def _uninformative(term: Term, values: np.ndarray) -> bool:
    """A feature the same in every battle, or a battle column that is 0 in every battle.

    A constant non-zero covariate is an intercept, which Bradley–Terry identifies when
    pairs are seen in both orders: ``position`` is +1 in every row when answer A is always
    shown first and the sides are swapped between calls (its identification is checked by
    :func:`debias.reports.position.add_position`)."""
    if term.kind == "position":
        return False
    if term.kind == "column":
        return not np.any(values)
    return not _varies(values)


def _without_covariates(design):
    """The same battles with no covariate (the fit without style terms)."""
    return dataclasses.replace(design, x=np.empty((design.n, 0)), covariate_names=())


class Refit:
    """Refit both models on a (resampled) frame: the bootstrap's picklable ``fit_fn``.

    Returns strengths then coefficients of the fit with style terms, then (``with_plain``)
    the strengths of the fit without them; NaN where a replicate cannot estimate one.
    """

    def __init__(self, covariates, models, options, *, with_plain=True):
        self.covariates = tuple(covariates)
        self.models = tuple(models)
        self.options = dict(options)
        self.with_plain = with_plain

    def fit(self, design):
        if "l1" in self.options:
            from debias.battles.convex import fit_convex

            return fit_convex(design, **self.options)
        from debias.battles.newton import fit_newton

        return fit_newton(design, **self.options)

    def __call__(self, frame: pd.DataFrame) -> np.ndarray:
        from debias.battles.design import battle_design

        design = battle_design(frame, covariates=self.covariates, models=self.models)
        try:
            fit = self.fit(design)
            plain = self.fit(_without_covariates(design)) if self.with_plain else None
        except InputError:  # e.g. the reference model has no battle in this replicate
            width = len(self.models) * (1 + self.with_plain) + _n_coef(self, design)
            return np.full(width, np.nan)
        out = [fit.strengths, fit.coefficients]
        if plain is not None:
            out.append(plain.strengths)
        return np.concatenate(out)


def _n_coef(refit: Refit, design) -> int:
    per_model = refit.options.get("per_model_slopes", False)
    return len(refit.covariates) * (len(refit.models) if per_model else 1)
