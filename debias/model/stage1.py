"""Stage-1 wiring of the estimator: the instruction difficulty given, joined, or fitted
jointly over all models (:mod:`debias.model.difficulty`)."""

from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np
import pandas as pd

from debias.errors import DataWarning, InputError, ParameterError
from debias.model.difficulty import Difficulty, fit_joint
from debias.model.formula import DIFFICULTY, Design, FormulaSpec, model_frame
from debias.model.params import describe


class DifficultyMixin:
    """The part of :class:`~debias.model.glm.PreferenceGLM` that resolves the difficulty."""

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
        if isinstance(d, Path) or (isinstance(d, str) and d != "fit"):
            raise ParameterError(
                f"difficulty={describe(d)}: the estimator reads no file; load it first with "
                "debias.io.read_difficulty(path, comparisons) (leaderboard() and the CLI take "
                "the path), or pass 'fit' or 'none'."
            )
        if not isinstance(d, (str, Difficulty)):
            raise ParameterError(
                "The 'difficulty' parameter must be 'fit', 'none' or a Difficulty "
                f"(debias.io.read_difficulty reads a CSV). Got {describe(d)} instead."
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
        else:
            self.difficulty_ = d
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
        X = Design(spec1, frame).training_matrix(1.0)  # the pass that fitted the transforms
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
