"""The regularisation of the stage-2 fits: the baseline's own variant rows (``regularize=``,
the reference's ``df_gamed``), their slopes, and when to pool across models instead."""

from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np
import pandas as pd

from debias import mediators as _mediators
from debias.data import Comparisons
from debias.errors import DataWarning, InputError, ParameterError
from debias.model.params import describe
from debias.model.solvers.newton import Problem, fit_newton


class RegularizationMixin:
    """The part of :class:`~debias.model.glm.PreferenceGLM` that builds its regularisation."""

    def _regularization_rows(self, comparisons, baseline, lam):
        """Rows of the baseline's own variants (canonical columns) and their features.

        Without variants (none given, none named ``<baseline>_verbose/_concise``, or
        ``regularize="pool"``), sets ``pool_``: stage 2 then pools the slopes across the
        models (:mod:`debias.model.pooling`) instead of fitting them unregularised.
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
            raise ParameterError(
                f"regularize={describe(reg)}: the estimator reads no file; load it first with "
                "debias.io.read_model_inputs(comparisons, regularize=path) (leaderboard() and "
                "the CLI take the path), or pass 'pool'."
            )
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
        from debias.model.pooling import MIN_OTHERS

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
