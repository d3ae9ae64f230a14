"""The two-stage preference GLM: the estimator researchers configure and fit.

Stage 1 (optional) fits the shared instruction difficulty over all models
(:mod:`debias.model.difficulty`); stage 2 fits each model against the baseline with the
difficulty frozen (:mod:`debias.model.solvers.newton`).

Why the default is deterministic: the reference picks its L1 penalty by
cross-validation on a flat curve, so its numbers flip with library versions
(up to 0.15 points). The default here is the unpenalised maximum-likelihood fit
(regularised by the baseline's own variants when the preset asks for it and they
are given, else by partial pooling of the slopes across models, :mod:`debias.model.pooling`):
the same inputs always give the same numbers. ``solver="alpaca_eval"`` is the
reference's exact procedure for reproducing published figures.
"""

from __future__ import annotations

import inspect
import sys

import numpy as np
import pandas as pd

from debias import mediators as _mediators
from debias.data import Comparisons
from debias.errors import InputError, ParameterError, check_param
from debias.model.design import model_blocks, stacked_design
from debias.model.formula import model_frame, resolve_formula
from debias.model.params import GLM_CONSTRAINTS, Interval, validate
from debias.model.regularization import RegularizationMixin
from debias.model.results import ModelResults
from debias.model.stage1 import DifficultyMixin
from debias.model.stage2 import Stage2Mixin

SOLVERS = ("newton", "cvxpy", "alpaca_eval")


class EstimatorParams:
    """scikit-learn's parameter protocol (``get_params``/``set_params``, so ``sklearn.base.clone``
    works) without importing scikit-learn, which takes 0.5-2 s to import and is needed only
    by ``solver="alpaca_eval"``.

    Examples
    --------
    >>> glm = PreferenceGLM(preset="length_controlled_minimal").set_params(solver="cvxpy")
    >>> glm.get_params()["solver"]
    'cvxpy'
    """

    @classmethod
    def _get_param_names(cls) -> list[str]:
        params = inspect.signature(cls.__init__).parameters.values()
        return sorted(p.name for p in params if p.name != "self" and p.kind != p.VAR_KEYWORD)

    def get_params(self, deep: bool = True) -> dict:
        out = {}
        for name in self._get_param_names():
            value = getattr(self, name)
            if deep and hasattr(value, "get_params") and not isinstance(value, type):
                out.update((f"{name}__{k}", v) for k, v in value.get_params().items())
            out[name] = value
        return out

    def set_params(self, **params):
        valid = self._get_param_names()
        for name, value in params.items():
            if name not in valid:
                raise ParameterError(
                    f"Invalid parameter {name!r} for {type(self).__name__}; valid: {valid}."
                )
            setattr(self, name, value)
        return self

    def __getstate__(self) -> dict:
        return self.__dict__.copy()

    def __setstate__(self, state: dict) -> None:
        self.__dict__.update(state)


def _object_values(column: pd.Series) -> np.ndarray:
    """``column.to_numpy()`` as objects; for a Categorical only its categories are converted
    (805 prompt texts instead of one Python string per row from Arrow storage).

    Examples
    --------
    >>> _object_values(pd.Series(["a", "b", "a"], dtype="category")).tolist()
    ['a', 'b', 'a']
    """
    if isinstance(column.dtype, pd.CategoricalDtype):
        codes = column.cat.codes.to_numpy()
        if (codes >= 0).all():
            return np.asarray(column.cat.categories, dtype=object)[codes]
    return column.to_numpy()


class PreferenceGLM(RegularizationMixin, DifficultyMixin, Stage2Mixin, EstimatorParams):
    """Length- (and style-) controlled preference model of one judge against one baseline.

    Parameters
    ----------
    formula : str, optional
        A right-hand side over mediators, ``difficulty`` and transforms (see
        :mod:`debias.model.formula`); ``None`` uses ``preset``.
    preset : str, optional
        ``length_controlled_v1`` (default), ``length_controlled_noreg``,
        ``length_controlled_minimal`` or ``style_controlled``.
    difficulty : {"fit", "none"} or Difficulty, default "fit"
        ``"fit"``: stage-1 joint fit over the models given; ``"none"``: no
        difficulty (the formula must not use it); a :class:`Difficulty` (read a CSV
        with :func:`debias.io.read_difficulty`; the estimator reads no file).
    difficulty_join : {"instruction", "position"}, default "instruction"
        How γ is matched to rows. ``"position"`` reproduces the reference's defect
        of joining by row position (only to reproduce published figures).
    regularize : Comparisons or pandas.DataFrame or None, default None
        The baseline's own variants judged against the baseline: a Comparisons (its
        models are the variants) or a table in the reference's ``df_gamed`` layout.
        ``None``: when the preset regularises, use the models named
        ``<baseline>_verbose`` and ``<baseline>_concise`` if present, else pool the
        slopes (below). ``"pool"``: pool the slopes even when variants are present.

        **Without the variants, the default pools the slopes** (every coefficient but
        the strength) across the judge's models (:mod:`debias.model.pooling`): each model's
        slopes get a normal prior estimated by REML from the judge's *other* models'
        unpenalised slopes and their sandwich SEs, and the model is refitted with the
        penalty ``(φ - μ)² / (2 τ²)`` (``pooling_`` holds the judge-wide μ and τ). Why:
        fitted alone, a model can choose its own slope; AlpacaEval's truncation attack
        ``gpt4_gamed`` (raw 3.7%, published LC 12.2) gets a length slope of 18 and an LC
        of 28 unpooled, 15.4 pooled, while the other 44 published models keep their
        ranks (Spearman 0.991 with the published LC, 0.975 unpooled). On simulated
        judges (``benchmarks/pooling_study.py``, 30 judges x 10 models) the honest
        models' LC error is 0.63 points pooled against 0.75 unpooled when the judge has
        one slope, and 0.87 against 0.78 when the models' slopes truly differ (SD 0.4
        around 0.8); 95% intervals cover 92% in both. Intervals: the sandwich of the
        penalised estimating
        equations (penalised Hessian in the bread) with the prior's variance added to
        the meat, ``B (M + P) B`` (see :class:`debias.model.pooling.PriorInfluence`): the
        plain sandwich ignores the shrinkage bias and under-covers when slopes truly
        differ. Pooling needs at least 6 models and the newton or cvxpy solver without
        ``penalty``/``bounds``; otherwise the fit is unregularised, with a warning.
        When the variants are given, the reference's rows (λ = 0.2) are used and
        nothing is pooled: they measure the judge's length sensitivity directly.
    lam : float, optional
        Total weight of the regularisation rows (default: the preset's, 0.2 for
        ``length_controlled_v1``, split equally across the variants).
    regularize_mode : {"rows", "penalty"}, default "rows"
        ``"rows"``: append the variants' rows with weight ``lam / n_variants`` (the
        reference); ``"penalty"``: an explicit L2 penalty ``lam * n * ||b - b_variants||^2``
        pulling the slopes toward the judge's slopes on the variants (cvxpy or newton).
    solver : {"newton", "cvxpy", "alpaca_eval"}, default "newton"
        ``newton``: batched exact fit of all models at once; ``cvxpy``: general
        penalties and constraints; ``alpaca_eval``: the reference's exact procedure
        (L1, C by grouped 5-fold CV). It differs from the default in one more way, as
        the reference does: rows without a preference (NaN) stay in the model's length
        SD and in its LC average (with zero weight in the fit); the other solvers
        leave them out of everything.
    penalty : {None, "l1", "l2"}, default None
        Extra penalty on the slopes (not on the strength); ``l1`` needs cvxpy.
    alpha : float, default 0.0
        Strength of ``penalty`` (per judgment: the objective is a sum over rows).
    bounds : dict, optional
        ``{coefficient name: (lower, upper)}`` sign or box constraints (cvxpy), e.g.
        ``{"tanh(scaled(length))": (0, None)}``.
    difficulty_l2 : float, default 0.1
        Ridge ``difficulty_l2 * sum(γ**2)`` in stage 1: a weak Gaussian prior on γ
        (SD ≈ 2.2 logits) that keeps instructions every model wins or loses finite.
        0 is the plain maximum-likelihood fit (on the 46 local AlpacaEval models it
        correlates 0.79 with the published γ, against 0.87 with the default).
    compat_folds : {"sklearn-1.4", "current"}, default "sklearn-1.4"
        ``solver="alpaca_eval"`` only: whose GroupKFold fold assignment chooses the
        CV's C (:func:`debias.model.solvers.alpaca_eval.group_kfold`). ``"sklearn-1.4"``: the 2024 stack
        that made the published AlpacaEval 2.0 numbers (scikit-learn 1.4, numpy 1.26);
        ``"current"``: scikit-learn ≥ 1.9, what alpaca-eval 0.6.6 runs when installed
        today. The C sits on a flat CV curve, so the two differ by up to ~0.15 points.
    progress : bool, default False
        Show a progress bar for per-model loops.

    Attributes
    ----------
    spec_ : FormulaSpec
    baseline_ : str
    models_ : list of str
        Fitted models (the baseline included, at exactly 50 by identity).
    results_ : dict of str to ModelResults
    params_ : pandas.DataFrame
        One row per model, one column per coefficient.
    difficulty_ : Difficulty or None
    regularization_ : pandas.DataFrame or None
        The rows used for regularisation (frame as the formula sees it).
    pooling_ : debias.model.pooling.Pooling or None
        The pooled slopes' priors when the slopes were pooled
        (``pooling_.table(columns_)``: the judge-wide mean and τ per coefficient).

    Examples
    --------
    >>> from debias.simulate import simulate
    >>> sim = simulate(n_models=3, n_instructions=120, seed=0)
    >>> glm = PreferenceGLM(preset="length_controlled_minimal", difficulty="none")
    >>> glm.fit(sim.comparisons).params_.shape
    (4, 2)
    """

    def __init__(
        self,
        formula: str | None = None,
        preset: str | None = None,
        *,
        difficulty="fit",
        difficulty_join: str = "instruction",
        regularize=None,
        lam: float | None = None,
        regularize_mode: str = "rows",
        solver: str = "newton",
        penalty: str | None = None,
        alpha: float = 0.0,
        bounds: dict | None = None,
        difficulty_l2: float = 0.1,
        compat_folds: str = "sklearn-1.4",
        progress: bool = False,
    ):
        self.formula = formula
        self.preset = preset
        self.difficulty = difficulty
        self.difficulty_join = difficulty_join
        self.regularize = regularize
        self.lam = lam
        self.regularize_mode = regularize_mode
        self.solver = solver
        self.penalty = penalty
        self.alpha = alpha
        self.bounds = bounds
        self.difficulty_l2 = difficulty_l2
        self.compat_folds = compat_folds
        self.progress = progress

    # ------------------------------------------------------------------ checks
    def _check_params(self) -> None:
        validate(GLM_CONSTRAINTS, self.get_params(deep=False), "PreferenceGLM")
        for name, pair in (self.bounds or {}).items():
            ok = (
                isinstance(pair, (tuple, list))
                and len(pair) == 2
                and all(v is None or Interval(float, None, None).accepts(v) for v in pair)
                and (None in pair or pair[0] <= pair[1])
            )
            check_param(f"bounds[{name!r}]", pair, "a pair (lower, upper) of numbers or None", ok)
        if self.penalty == "l1" and self.solver == "newton":
            raise ParameterError(
                "penalty='l1' needs solver='cvxpy' (the Newton solver is for smooth problems)."
            )
        if self.bounds and self.solver != "cvxpy":
            raise ParameterError("bounds= (sign or box constraints) need solver='cvxpy'.")
        if self.solver == "alpaca_eval" and (
            self.penalty or self.bounds or self.regularize_mode != "rows"
        ):
            raise ParameterError(
                "solver='alpaca_eval' is the reference's exact procedure: it takes no penalty, "
                "bounds or regularize_mode."
            )
        if self.solver != "alpaca_eval" and self.compat_folds == "sklearn-1.4":
            return  # the default, unused: no need to import the reference's solver (sklearn)
        from debias.model.solvers.alpaca_eval import FOLD_ASSIGNMENTS

        check_param(
            "compat_folds",
            self.compat_folds,
            f"one of {FOLD_ASSIGNMENTS}",
            isinstance(self.compat_folds, str) and self.compat_folds in FOLD_ASSIGNMENTS,
        )

    # ------------------------------------------------------------------ fit
    def _reset(self) -> None:
        """Forget every fitted attribute and cache: keep only the constructor arguments."""
        params = set(self._get_param_names())
        for name in [k for k in self.__dict__ if k not in params]:
            del self.__dict__[name]

    def __getstate__(self) -> dict:
        """Pickle everything but ``comparisons_``: the judgments with the answers' text
        are only read while fitting and are 95% of the bytes (155 MB of 155 for 46
        models x 805 simulated instructions; 8.8 MB without). An unpickled fit gives
        the same tables, predictions and matrices."""
        state = dict(super().__getstate__())
        state.pop("comparisons_", None)
        return state

    def fit(self, comparisons: Comparisons) -> PreferenceGLM:
        """Fit stage 1 (if asked) and every model's stage-2 fit.

        Parameters
        ----------
        comparisons : Comparisons
            One judge, one baseline.

        Returns
        -------
        self
        """
        self._check_params()
        self._reset()
        if not isinstance(comparisons, Comparisons):
            raise InputError(
                f"fit() expects a debias.Comparisons, got {type(comparisons).__name__}; build one "
                "with Comparisons.from_dataframe(...) or debias.io.read_alpaca_eval(...)."
            )
        self.spec_ = resolve_formula(self.formula, self.preset)
        baseline = comparisons.require_fixed_baseline()
        self.baseline_ = baseline
        self.comparisons_ = comparisons
        data = comparisons.data
        has_verdict = data["preference"].notna().to_numpy()
        # the rows that enter the fit, without copying the answers' text (memory: the text
        # is only needed for the mediators, computed once on the caller's table)
        keep_cols = ["instruction", "model", "baseline", "preference", "position"]
        in_rows = has_verdict
        if self.solver == "alpaca_eval":
            # the reference keeps rows without a preference in the length SD and the LC
            # average (they get zero weight in the fit below)
            judged = data.loc[has_verdict, "model"].unique()
            in_rows = data["model"].isin(judged).to_numpy()
        rows = data.loc[in_rows, keep_cols].reset_index(drop=True)
        if not has_verdict.any():
            raise InputError(f"{comparisons.source}: no judgment has a preference; nothing to fit.")
        lam = self.spec_.regularize if self.lam is None else float(self.lam)
        self.lam_ = lam

        reg_rows, reg_features = self._regularization_rows(comparisons, baseline, lam)
        features = _mediators.compute_mediators(data, sorted(self.spec_.mediators))
        features = features.loc[in_rows].reset_index(drop=True)
        gamma_rows, gamma_reg = self._difficulty(comparisons, rows, features, reg_rows)
        if self.solver == "alpaca_eval":
            from debias.model.solvers.alpaca_eval import warn_unless_reference_inputs

            warn_unless_reference_inputs(
                uses_difficulty=self.spec_.uses_difficulty,
                difficulty=self.difficulty_,
                lam=lam,
                reg_rows=reg_rows,
            )

        frame = model_frame(rows, self.spec_, gamma_rows, features)
        reg_frame = None
        if reg_rows is not None:
            reg_frame = model_frame(reg_rows, self.spec_, gamma_reg, reg_features)
        # the formula evaluated once over all rows (debias.model.design)
        stacked = stacked_design(self.spec_, frame, reg_frame)
        self.design_ = stacked.design
        X, Xr = stacked.own, stacked.shared
        self.columns_ = self.design_.columns
        self.regularization_ = None
        if reg_frame is not None:  # the columns of both frames, as the stacked frame has
            extra = [c for c in reg_frame.columns if c not in frame.columns]
            self.regularization_ = reg_frame.reindex(columns=[*frame.columns, *extra])

        # model codes by factorising the column once (Arrow strings: no object conversion)
        model_code, uniques = pd.factorize(rows["model"])
        models = [str(m) for m in uniques]
        fit_models = [m for m in models if m != baseline]
        is_model_fit = np.array([m != baseline for m in models], dtype=bool)
        is_fit = is_model_fit[model_code]
        group = (np.cumsum(is_model_fit) - 1)[model_code[is_fit]]
        y = rows["preference"].to_numpy(float)[is_fit]
        w = np.ones(len(y))
        no_verdict = np.isnan(y)  # only with solver="alpaca_eval" (see in_rows)
        y[no_verdict], w[no_verdict] = 0.5, 0.0
        instr = _object_values(rows["instruction"])
        if is_fit.all():  # no baseline rows: no copies
            Xf, frame_fit = X, frame
        else:
            Xf, frame_fit, instr = X[is_fit], frame[is_fit], instr[is_fit]

        self._stage2_data_ = (Xf, y, w, group, fit_models, Xr, reg_rows)
        if self.progress:
            print(f"stage 2: fitting {len(fit_models)} models ({self.solver})…", file=sys.stderr)
        coef, hess, conv, fixed = self._stage2(Xf, y, w, group, fit_models, Xr, reg_rows)
        self.results_ = {}
        columns = pd.Index(self.columns_)  # one index shared by every model's coefficients
        bounds = self._bounds_arrays(len(self.columns_)) if self.bounds else (None, None)
        # each model's rows: a slice (views, no copies) when they come grouped by model
        for g, (m, idx) in enumerate(
            zip(fit_models, model_blocks(group, len(fit_models)), strict=True)
        ):
            self.results_[m] = ModelResults(
                model=m,
                baseline=baseline,
                params=pd.Series(coef[g], index=columns),
                frame=frame_fit.iloc[idx],
                instructions=instr[idx],
                y=y[idx],
                w=w[idx],
                hessian=hess[g],
                design=self.design_,
                solver=self.solver,
                converged=bool(conv[g]),
                fixed=fixed[g],
                X=Xf[idx],
                status=self._solver_status(g, bool(conv[g])),
                penalty=self.penalty if self.alpha else None,
                alpha=float(self.alpha),
                regularization=self._regularization_text(g),
                lower=bounds[0],
                upper=bounds[1],
            )
        if self.difficulty_ is not None and self.difficulty_.source == "fit":
            from debias.inference.two_stage import TwoStageInfluence

            provider = TwoStageInfluence(self)
            for res in self.results_.values():
                res.two_stage = provider
        if getattr(self, "pooling_", None) is not None:
            # pooled slopes: intervals include the prior's variance (see debias.model.pooling)
            from debias.model.pooling import PriorInfluence

            base = next(iter(self.results_.values())).two_stage if self.results_ else None
            provider = PriorInfluence(self, base)
            for res in self.results_.values():
                res.two_stage = provider
        self.models_ = models
        table = np.zeros((len(models), len(columns)))  # the baseline's row: 0 by definition
        for i, m in enumerate(models):
            if m in self.results_:
                table[i] = self.results_[m].params.to_numpy()
        self.params_ = pd.DataFrame(table, index=pd.Index(models, name="model"), columns=columns)
        return self

    # ------------------------------------------------------------------ pieces

    def __repr__(self) -> str:
        what = (
            f"formula={self.formula!r}"
            if self.formula
            else f"preset={self.preset or 'length_controlled_v1'!r}"
        )
        return f"PreferenceGLM({what}, solver={self.solver!r}, difficulty={self.difficulty!r})"
