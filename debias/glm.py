"""The two-stage preference GLM: the estimator researchers configure and fit.

Stage 1 (optional) fits the shared instruction difficulty over all models
(:mod:`debias.difficulty`); stage 2 fits each model against the baseline with the
difficulty frozen (:mod:`debias.solvers`).

Why the default is deterministic: the reference picks its L1 penalty by
cross-validation on a flat curve, so its numbers flip with library versions
(up to 0.15 points). The default here is the unpenalised maximum-likelihood fit
(regularised by the baseline's own variants when the preset asks for it and they
are given, else by partial pooling of the slopes across models, :mod:`debias.pooling`):
the same inputs always give the same numbers. ``solver="alpaca_eval"`` is the
reference's exact procedure for reproducing published figures.
"""

from __future__ import annotations

import sys
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator
from tqdm.auto import tqdm

from debias import mediators as _mediators
from debias.data import Comparisons
from debias.difficulty import Difficulty, fit_joint
from debias.errors import DataWarning, FitWarning, InputError, ParameterError, check_param
from debias.formula import DIFFICULTY, Design, FormulaSpec, model_frame, resolve_formula
from debias.params import GLM_CONSTRAINTS, Interval, describe, validate
from debias.results import ModelResults
from debias.solvers import Problem, fit_cvxpy, fit_newton

SOLVERS = ("newton", "cvxpy", "alpaca_eval")


class PreferenceGLM(BaseEstimator):
    """Length- (and style-) controlled preference model of one judge against one baseline.

    Parameters
    ----------
    formula : str, optional
        A right-hand side over mediators, ``difficulty`` and transforms (see
        :mod:`debias.formula`); ``None`` uses ``preset``.
    preset : str, optional
        ``length_controlled_v1`` (default), ``length_controlled_noreg``,
        ``length_controlled_minimal`` or ``style_controlled``.
    difficulty : {"fit", "none"} or Difficulty or path, default "fit"
        ``"fit"``: stage-1 joint fit over the models given; ``"none"``: no
        difficulty (the formula must not use it); a :class:`Difficulty` or a CSV path.
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
        the strength) across the judge's models (:mod:`debias.pooling`): each model's
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
        the meat, ``B (M + P) B`` (see :class:`debias.pooling.PriorInfluence`): the
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
        CV's C (:func:`debias.compat.group_kfold`). ``"sklearn-1.4"``: the 2024 stack
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
    pooling_ : debias.pooling.Pooling or None
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
        from debias.compat import FOLD_ASSIGNMENTS

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
            from debias.compat import warn_unless_reference_inputs

            warn_unless_reference_inputs(
                uses_difficulty=self.spec_.uses_difficulty,
                difficulty=self.difficulty_,
                lam=lam,
                reg_rows=reg_rows,
            )

        frame = model_frame(rows, self.spec_, gamma_rows, features)
        parts = [frame]
        if reg_rows is not None:
            parts.append(model_frame(reg_rows, self.spec_, gamma_reg, reg_features))
        full = pd.concat(parts)
        self.design_ = Design(self.spec_, full)
        X = self.design_.matrix(frame, 1.0)
        self.columns_ = self.design_.columns
        Xr = None
        if reg_rows is not None:
            Xr = self.design_.matrix(full.iloc[len(frame) :], 0.0)
            self.regularization_ = full.iloc[len(frame) :]
        else:
            self.regularization_ = None

        models = [str(m) for m in pd.unique(rows["model"])]
        fit_models = [m for m in models if m != baseline]
        code = pd.Index(fit_models)
        is_fit = rows["model"].to_numpy() != baseline
        group = code.get_indexer(rows["model"][is_fit])
        y = rows["preference"].to_numpy(float)[is_fit]
        w = np.ones(len(y))
        no_verdict = np.isnan(y)  # only with solver="alpaca_eval" (see in_rows)
        y[no_verdict], w[no_verdict] = 0.5, 0.0
        Xf = X[is_fit]
        instr = rows["instruction"].to_numpy()[is_fit]
        frame_fit = frame[is_fit]

        self._stage2_data_ = (Xf, y, w, group, fit_models, Xr, reg_rows)
        if self.progress:
            print(f"stage 2: fitting {len(fit_models)} models ({self.solver})…", file=sys.stderr)
        coef, hess, conv, fixed = self._stage2(Xf, y, w, group, fit_models, Xr, reg_rows)
        self.results_ = {}
        bounds = self._bounds_arrays(len(self.columns_)) if self.bounds else (None, None)
        for g, m in enumerate(fit_models):
            idx = np.flatnonzero(group == g)
            self.results_[m] = ModelResults(
                model=m,
                baseline=baseline,
                params=pd.Series(coef[g], index=self.columns_),
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
            from debias.two_stage import TwoStageInfluence

            provider = TwoStageInfluence(self)
            for res in self.results_.values():
                res.two_stage = provider
        if getattr(self, "pooling_", None) is not None:
            # pooled slopes: intervals include the prior's variance (see debias.pooling)
            from debias.pooling import PriorInfluence

            base = next(iter(self.results_.values())).two_stage if self.results_ else None
            provider = PriorInfluence(self, base)
            for res in self.results_.values():
                res.two_stage = provider
        self.models_ = models
        self.params_ = pd.DataFrame(
            [
                self.results_[m].params
                if m in self.results_
                else pd.Series(0.0, index=self.columns_)
                for m in models
            ],
            index=pd.Index(models, name="model"),
        )
        return self

    # ------------------------------------------------------------------ pieces
    def _regularization_rows(self, comparisons, baseline, lam):
        """Rows of the baseline's own variants (canonical columns) and their features.

        Without variants (none given, none named ``<baseline>_verbose/_concise``, or
        ``regularize="pool"``), sets ``pool_``: stage 2 then pools the slopes across the
        models (:mod:`debias.pooling`) instead of fitting them unregularised.
        """
        self.pool_ = False
        if lam == 0:
            return None, None
        reg = self.regularize
        if isinstance(reg, str) and reg == "pool":
            self.pool_ = self._can_pool(comparisons, baseline, lam, asked=True)
            return None, None
        if reg is None:
            names = [f"{baseline}_verbose", f"{baseline}_concise"]
            present = [n for n in names if n in comparisons.models]
            if not present:
                self.pool_ = self._can_pool(comparisons, baseline, lam, asked=False)
                return None, None
            reg = comparisons.select(models=present)
        if isinstance(reg, (str, Path)):
            from debias.io.regularization import read_regularization

            reg = read_regularization(reg, instruction_order=comparisons.instruction_order)
        if isinstance(reg, Comparisons):
            rows = reg.fit_rows()
            bad = sorted(set(rows["baseline"]) - {baseline})
            if bad:
                raise InputError(
                    f"Regularisation rows must judge the baseline's variants against the baseline "
                    f"{baseline!r}; found baseline(s) {bad}."
                )
            n_var = rows["model"].nunique()
            rows = rows.assign(_weight=lam / n_var)
            feats = _mediators.compute_mediators(rows, sorted(self.spec_.mediators))
            return rows, feats
        if isinstance(reg, pd.DataFrame):
            return self._df_gamed_rows(reg, lam)
        raise ParameterError(
            "The 'regularize' parameter must be None, a Comparisons, a df_gamed DataFrame or a "
            f"path. Got {type(reg).__name__} instead."
        )

    def _can_pool(self, comparisons, baseline, lam, asked: bool) -> bool:
        """Whether stage 2 can pool the slopes; warns (and fits unregularised) when not."""
        from debias.pooling import MIN_OTHERS

        n_models = sum(m != baseline for m in comparisons.models)
        why = None
        if self.solver == "alpaca_eval":
            why = "the reference's solver (solver='alpaca_eval') has no pooling"
        elif self.penalty is not None or self.bounds:
            why = "a penalty or bounds were given (penalty=, bounds=)"
        elif n_models < MIN_OTHERS + 1:
            why = (
                f"pooling the slopes needs at least {MIN_OTHERS + 1} models besides the "
                f"baseline (found {n_models})"
            )
        if why is None:
            return True
        what = (
            "regularize='pool' was asked"
            if asked
            else f"no model is named {baseline + '_verbose'!r} or {baseline + '_concise'!r}"
        )
        warnings.warn(
            f"The preset regularises the slopes (lam={lam}), but {what} and {why}: fitting "
            "without regularisation (as length_controlled_noreg). Pass regularize=... "
            "(annotations of the baseline's variants, or a df_gamed table) or lam=0 to silence "
            "this.",
            DataWarning,
            stacklevel=4,
        )
        return False

    def _df_gamed_rows(self, table: pd.DataFrame, lam: float):
        need = {"model", "preference", "std_delta_len"}
        if not need <= set(table.columns):
            raise InputError(
                f"A df_gamed table needs columns {sorted(need)} (+ instruction or index, "
                f"instruction_difficulty); found {list(table.columns)}."
            )
        other = self.spec_.mediators - {"length"}
        if other:
            raise InputError(
                f"A df_gamed table has only the length feature, but the formula uses {sorted(other)}: "
                "regularise with the variants' annotation files instead."
            )
        from debias.io.regularization import check_df_gamed  # text/inf/NaN/bad index refused

        known = self.comparisons_.instruction_order
        table = check_df_gamed(table, "df_gamed table", len(known) if known else None)
        if "instruction" in table.columns:
            instr = table["instruction"].astype(str).to_numpy()
        else:
            order = self.comparisons_.instruction_order
            if order is None:
                raise InputError(
                    "The df_gamed table gives instructions by position ('index'): the evaluation "
                    "set's order is unknown. Read the annotations with read_alpaca_eval, which "
                    "finds it, or add an 'instruction' column."
                )
            instr = np.asarray(order, dtype=object)[table["index"].to_numpy(int)]
        # The reference's std_delta_len is (baseline - model) / SD: our difference is its negative.
        length = -table["std_delta_len"].to_numpy(float)
        rows = pd.DataFrame(
            {
                "instruction": instr,
                "model": table["model"].astype(str).to_numpy(),
                "baseline": self.baseline_,
                "preference": table["preference"].to_numpy(float),
                "_weight": lam / table["model"].nunique(),
            }
        )
        if "instruction_difficulty" in table.columns:
            rows["_difficulty"] = table["instruction_difficulty"].to_numpy(float)
        feats = pd.DataFrame({"length": length, "length_model": np.nan, "length_baseline": np.nan})
        feats = feats[["length"]] if "length" in self.spec_.mediators else feats.iloc[:, :0]
        return rows, feats

    def _difficulty(self, comparisons, rows, features, reg_rows):
        """γ for the fit rows and the regularisation rows (None when unused)."""
        self.difficulty_ = None
        d = self.difficulty
        if isinstance(d, str) and d == "none":
            if self.spec_.uses_difficulty:
                raise ParameterError(
                    f"difficulty='none' but the formula {self.spec_.rhs!r} uses 'difficulty': drop the "
                    "term (e.g. preset='length_controlled_minimal') or fit/load a difficulty."
                )
            return None, None
        if not isinstance(d, (str, Path, Difficulty)):
            raise ParameterError(
                "The 'difficulty' parameter must be 'fit', 'none', a Difficulty or a CSV path. "
                f"Got {describe(d)} instead."
            )
        if not self.spec_.uses_difficulty:
            if not (isinstance(d, str) and d == "fit"):
                warnings.warn(
                    f"difficulty={describe(d)} is not used: the formula {self.spec_.rhs!r} has no "
                    "'difficulty' term (add it, or pass difficulty='none').",
                    DataWarning,
                    stacklevel=3,
                )
            return None, None
        if isinstance(d, str) and d == "fit":
            self.difficulty_ = self._fit_difficulty(comparisons, rows, features)
        elif isinstance(d, Difficulty):
            self.difficulty_ = d
        elif isinstance(d, (str, Path)):
            self.difficulty_ = Difficulty.from_csv(d, comparisons.instruction_order)
        else:
            raise ParameterError(
                "The 'difficulty' parameter must be 'fit', 'none', a Difficulty or a CSV path. "
                f"Got {describe(d)} instead."
            )
        gamma_rows = self._join_difficulty(rows, comparisons)
        gamma_reg = None
        if reg_rows is not None:
            if "_difficulty" in reg_rows.columns and self.difficulty_.source != "fit":
                gamma_reg = reg_rows["_difficulty"].to_numpy(float)
            else:
                gamma_reg = self.difficulty_.lookup(
                    reg_rows["instruction"], "the regularisation rows"
                )
        return gamma_rows, gamma_reg

    def _join_difficulty(self, rows, comparisons):
        if self.difficulty_join == "instruction":
            return self.difficulty_.lookup(rows["instruction"], comparisons.source)
        order = comparisons.instruction_order
        if order is None:
            raise InputError(
                "difficulty_join='position' needs the evaluation set's instruction order."
            )
        by_pos = self.difficulty_.lookup(list(order), "the evaluation set")
        pos = rows["position"].to_numpy(int)
        if pos.max() >= len(by_pos):
            raise InputError("Row positions run past the evaluation set: cannot join by position.")
        return by_pos[pos]

    def _fit_difficulty(self, comparisons, rows, features) -> Difficulty:
        terms = [
            t
            for t in self.spec_.desc.rhs_termlist
            if t.factors and not any(DIFFICULTY in f.code for f in t.factors)
        ]
        import patsy

        spec1 = FormulaSpec(
            rhs=" + ".join(t.name() for t in terms) or "0",
            mediators=self.spec_.mediators,
            uses_difficulty=False,
            desc=patsy.ModelDesc([], terms),
        )
        keep = (rows["model"].to_numpy() != self.baseline_) & rows["preference"].notna().to_numpy()
        r, f = rows[keep], features[keep]
        if r["model"].nunique() < 2:
            raise InputError(
                "Fitting the instruction difficulty needs at least two models besides the "
                "baseline; load a difficulty file or use difficulty='none'."
            )
        frame = model_frame(r, spec1, None, f)
        X = Design(spec1, frame).matrix(frame, 1.0)
        mcodes, _ = pd.factorize(r["model"])
        order = comparisons.instruction_order or ()
        seen = [str(i) for i in pd.unique(r["instruction"])]
        seen_set, order_set = set(seen), set(order)  # built once: linear in the instructions
        instr_index = pd.Index(
            [i for i in order if i in seen_set] + [i for i in seen if i not in order_set]
        )
        xcodes = instr_index.get_indexer(r["instruction"])
        jf = fit_joint(
            X,
            r["preference"].to_numpy(float),
            np.ones(len(r)),
            mcodes,
            xcodes,
            int(mcodes.max()) + 1,
            len(instr_index),
            l2=self.difficulty_l2,
            progress=self.progress,
        )
        self.stage1_ = jf
        return Difficulty(
            pd.Series(jf.gamma, index=instr_index), pd.Series(jf.gamma_se, index=instr_index), "fit"
        )

    def _stage2(self, X, y, w, group, names, Xr, reg_rows):
        G, k = len(names), X.shape[1]
        self._stage2_status_ = None  # set per model by the cvxpy / reference branches
        if G == 0:
            return np.zeros((0, k)), np.zeros((0, k, k)), np.zeros(0, bool), np.zeros((0, k), bool)
        shared = (None, None, None)
        center = None
        mode_rows = Xr is not None and self.regularize_mode == "rows"
        if mode_rows:
            shared = (
                Xr,
                reg_rows["preference"].to_numpy(float),
                reg_rows["_weight"].to_numpy(float),
            )
        penalize = np.ones(k, bool)
        penalize[0] = False
        l2 = self.alpha if self.penalty == "l2" else 0.0
        if Xr is not None and self.regularize_mode == "penalty":
            center = self._variant_slopes(Xr, reg_rows)
            n_per = np.bincount(group, minlength=G).astype(float)
            l2 = None  # per-model strength below
            self._penalty_scale = self.lam_ * n_per
        self.pooling_ = None
        if getattr(self, "pool_", False) and Xr is None:
            # partial pooling: each slope ~ N(mu_j, tau_j^2) across the judge's models, mu and
            # tau estimated here (so a bootstrap replicate re-estimates them); penalty
            # (b_j - mu_j)^2 / (2 tau_j^2), i.e. l2_j = 1 / (2 tau_j^2) toward mu_j
            from debias.pooling import estimate_pooling

            self.pooling_ = estimate_pooling(Problem(X, y, w, group, G), penalize)
            if self.pooling_ is not None:
                l2 = self.pooling_.l2 * penalize
                center = self.pooling_.center
        if self.solver == "newton":
            if l2 is None:
                # explicit penalty toward the variants' slopes: lam * n_m * ||b - c||^2
                results = []
                for g in range(G):
                    sel = group == g
                    r = fit_newton(
                        Problem(X[sel], y[sel], w[sel], np.zeros(sel.sum(), int), 1),
                        l2=self._penalty_scale[g],
                        penalize=penalize,
                        center=center,
                        names=[names[g]],
                        columns=self.columns_,
                    )
                    results.append(r)
                coef = np.vstack([r.coef for r in results])
                hess = np.concatenate([r.hessian for r in results])
                conv = np.concatenate([r.converged for r in results])
                fixed = np.vstack([r.fixed for r in results])
                return coef, hess, conv, fixed
            res = fit_newton(
                Problem(X, y, w, group, G, *shared),
                l2=l2,
                penalize=penalize,
                center=center,
                names=names,
                columns=self.columns_,
            )
            return res.coef, res.hessian, res.converged, res.fixed
        coef = np.zeros((G, k))
        status = [""] * G  # the solver's own verdict per model (see _StatusRecorder)
        self._stage2_status_ = status
        it = range(G)
        if self.progress:
            it = tqdm(it, desc=f"fitting ({self.solver})", unit="model")
        for g in it:
            sel = group == g
            Xg, yg, wg = X[sel], y[sel], w[sel]
            if mode_rows:  # the reference puts the regularisation rows first
                Xg, yg, wg = np.vstack([shared[0], Xg]), np.r_[shared[1], yg], np.r_[shared[2], wg]
            if self.solver == "cvxpy":
                lo, hi = self._bounds_arrays(k)
                l2g = self._penalty_scale[g] if l2 is None else l2
                if np.ndim(l2g) == 2:  # per-model priors (pooling)
                    l2g = l2g[g]
                with _StatusRecorder(status, g, "cvxpy"):
                    coef[g] = fit_cvxpy(
                        Xg,
                        yg,
                        wg,
                        l1=self.alpha if self.penalty == "l1" else 0.0,
                        l2=l2g,
                        penalize=penalize,
                        center=center[g] if np.ndim(center) == 2 else center,
                        lower=lo,
                        upper=hi,
                        name=names[g],
                    )
            else:
                from debias.compat import fit_alpaca_eval

                # rows without a preference (zero weight) leave the fit, as in the reference
                judged = w[sel] > 0
                n_judged = int(judged.sum())
                keep = np.r_[np.ones(len(Xg) - len(judged), bool), judged]
                Xg, yg, wg = Xg[keep], yg[keep], wg[keep]
                n_splits = min(5, n_judged)
                if n_splits < 2:
                    raise InputError(
                        f"Model {names[g]!r} has {n_judged} judgment(s): the reference's "
                        "cross-validation needs at least 2. Use the default solver."
                    )
                if n_splits < 5:
                    warnings.warn(
                        f"Model {names[g]!r} has only {n_judged} judgments: cross-validating "
                        f"with {n_splits} folds instead of the reference's 5 (where it crashes).",
                        DataWarning,
                        stacklevel=3,
                    )
                with _StatusRecorder(status, g, "liblinear"):
                    coef[g] = fit_alpaca_eval(
                        Xg,
                        yg,
                        wg,
                        columns=self.columns_,
                        n_splits=n_splits if not mode_rows else 5,
                        folds=self.compat_folds,
                    )
        # Hessians at the solution (bread of the sandwich), with regularisation rows.
        from scipy.special import expit

        hess = np.zeros((G, k, k))
        for g in range(G):
            sel = group == g
            Xg, wg = X[sel], w[sel]
            if mode_rows:
                Xg, wg = np.vstack([shared[0], Xg]), np.r_[shared[2], wg]
            p = expit(Xg @ coef[g])
            hess[g] = (Xg * (wg * p * (1 - p))[:, None]).T @ Xg
            if l2 is None:
                hess[g] += 2 * self._penalty_scale[g] * np.diag(penalize.astype(float))
            elif np.any(l2):
                hess[g] += np.diag(2 * (l2[g] if np.ndim(l2) == 2 else l2) * penalize)
        fixed = np.zeros((G, k), bool)
        shared_varies = np.any(shared[0] != 0, axis=0) if mode_rows else np.zeros(k, bool)
        for g in range(G):
            fixed[g] = np.all(X[group == g] == 0, axis=0) & ~shared_varies
        return coef, hess, np.array([not s.startswith("not converged") for s in status]), fixed

    def _stage2_only(self) -> PreferenceGLM:
        """A picklable copy with just what :meth:`_stage2` needs (for parallel bootstrap)."""
        light = PreferenceGLM.__new__(PreferenceGLM)
        keep = (
            "regularize_mode",
            "alpha",
            "penalty",
            "solver",
            "bounds",
            "lam_",
            "columns_",
            "_penalty_scale",
            "compat_folds",
            "pool_",
        )
        light.__dict__.update({k: v for k, v in self.__dict__.items() if k in keep})
        light.progress = False
        return light

    def _variant_slopes(self, Xr, reg_rows) -> np.ndarray:
        """The judge's slopes on the baseline's variants (strength held at 0)."""
        k = Xr.shape[1]
        res = fit_newton(
            Problem(
                Xr[:, 1:],
                reg_rows["preference"].to_numpy(float),
                np.ones(len(Xr)),
                np.zeros(len(Xr), int),
                1,
            ),
            columns=self.columns_[1:],
            penalize=np.zeros(k - 1, bool),
        )
        return np.r_[0.0, res.coef[0]]

    def _solver_status(self, g: int, converged: bool) -> str:
        """Model g's convergence status in words (for ModelResults.summary)."""
        recorded = getattr(self, "_stage2_status_", None)
        if recorded is not None and recorded[g]:
            return recorded[g]
        if self.solver == "newton":
            return "converged" if converged else "not converged: Newton step limit reached"
        return "converged"

    def _regularization_text(self, g: int) -> str | None:
        """The smooth regularisation of model g's fit in words (None: none)."""
        if self.regularization_ is not None and self.regularize_mode == "rows":
            return f"the baseline's variant rows (lam={self.lam_:g})"
        if self.regularization_ is not None:
            return (
                f"L2 toward the slopes on the baseline's variants (lam={self.lam_:g} x judgments)"
            )
        pooling = getattr(self, "pooling_", None)
        if pooling is not None:
            return "partial pooling: L2 toward the judge's other models' slopes (empirical Bayes)"
        return None

    def _bounds_arrays(self, k):
        lo, hi = np.full(k, -np.inf), np.full(k, np.inf)
        for name, (a, b) in (self.bounds or {}).items():
            if name not in self.columns_:
                raise ParameterError(
                    f"bounds names {name!r}, which is not a coefficient; coefficients: {self.columns_}."
                )
            j = self.columns_.index(name)
            lo[j] = -np.inf if a is None else a
            hi[j] = np.inf if b is None else b
        return lo, hi

    def __repr__(self) -> str:
        what = (
            f"formula={self.formula!r}"
            if self.formula
            else f"preset={self.preset or 'length_controlled_v1'!r}"
        )
        return f"PreferenceGLM({what}, solver={self.solver!r}, difficulty={self.difficulty!r})"


OK_STATUS = {
    "cvxpy": "cvxpy: status optimal",
    "liblinear": "liblinear: no convergence warning",
}


class _StatusRecorder:
    """Record a solver's convergence warnings as model g's status (and still show them).

    cvxpy's "inaccurate" solution and scikit-learn's ConvergenceWarning (liblinear, in
    the reference's procedure) become ``"not converged: ..."``; otherwise ``"<solver>:
    converged"``.
    """

    def __init__(self, status: list, g: int, solver: str):
        self.status, self.g, self.solver = status, g, solver

    def __enter__(self):
        self._cm = warnings.catch_warnings(record=True)
        self._caught = self._cm.__enter__()
        warnings.simplefilter("always")
        return self

    def __exit__(self, *exc):
        self._cm.__exit__(*exc)
        bad = [
            w
            for w in self._caught
            if type(w.message).__name__ == "ConvergenceWarning"
            or (issubclass(w.category, FitWarning) and "inaccurate" in str(w.message))
        ]
        if bad:
            first = str(bad[0].message).splitlines()[0][:120]
            self.status[self.g] = f"not converged: {self.solver} warned {len(bad)}x ({first})"
        else:
            self.status[self.g] = OK_STATUS.get(self.solver, f"{self.solver}: converged")
        for w in self._caught:
            warnings.warn_explicit(w.message, w.category, w.filename, w.lineno)
        return False
