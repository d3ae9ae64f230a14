"""The design of a fit, evaluated once: every model's rows (and the shared rows) stacked,
the formula evaluated by one patsy pass, then sliced per model.

Before, each piece of a fit (the models' rows, the baseline's variant rows) was evaluated
again after the pass that fitted the formula's transforms; now the pass that fits them is
the only one (:meth:`debias.model.formula.Design.training_matrix`). The stateful transforms
(``scaled``, ``diff_over_sum``) still remember their statistics per model: the stacked frame
is indexed by model.

The model terms of a fixed baseline are the model's own strength: the first column is 1
on the model's own rows and 0 on the shared rows (the baseline's variants judged against
the baseline say nothing about the model's strength, only about the judge's slopes). Each
model's rows are one contiguous block when the judgments come grouped by model (as the
readers give them): :func:`model_blocks` returns slices then, and the per-model arrays are
views, not copies.

Examples
--------
>>> import pandas as pd
>>> from debias.model.formula import resolve_formula
>>> spec = resolve_formula("length")
>>> own = pd.DataFrame({"length": [1.0, 2.0, 3.0]}, index=pd.Index(["m", "m", "n"], name="model"))
>>> shared = pd.DataFrame({"length": [0.5]}, index=pd.Index(["v"], name="model"))
>>> d = stacked_design(spec, own, shared)
>>> d.columns
['strength', 'length']
>>> d.own.tolist(), d.shared.tolist()
([[1.0, 1.0], [1.0, 2.0], [1.0, 3.0]], [[0.0, 0.5]])
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from debias.model.formula import Design, FormulaSpec


@dataclass
class StackedDesign:
    """The design of every row of a fit, from one evaluation of the formula.

    Attributes
    ----------
    design : Design
        The fitted formula (its transforms' statistics; rebuilds matrices for new rows).
    own : numpy.ndarray
        The models' own rows (n x k), strength column 1.
    shared : numpy.ndarray or None
        The shared rows (the baseline's variants), strength column 0.
    """

    design: Design
    own: np.ndarray
    shared: np.ndarray | None

    @property
    def columns(self) -> list[str]:
        return self.design.columns


def stacked_design(
    spec: FormulaSpec, own: pd.DataFrame, shared: pd.DataFrame | None = None
) -> StackedDesign:
    """Evaluate ``spec`` once over the models' rows and the shared rows, stacked.

    Parameters
    ----------
    spec : FormulaSpec
    own : pandas.DataFrame
        The models' rows as the formula sees them (:func:`~debias.model.formula.model_frame`),
        indexed by model.
    shared : pandas.DataFrame, optional
        Rows added to every model's fit (same columns).

    Returns
    -------
    StackedDesign
    """
    full = own if shared is None else pd.concat([own, shared])
    design = Design(spec, full)
    n = len(own)
    strength = np.ones(len(full))
    strength[n:] = 0.0
    x = design.training_matrix(strength)
    return StackedDesign(design, x[:n], None if shared is None else x[n:])


def model_blocks(group: np.ndarray, n_groups: int) -> list[slice | np.ndarray]:
    """The rows of each group: a slice when they are contiguous, else their indices.

    Examples
    --------
    >>> model_blocks(np.array([0, 0, 1, 1, 1]), 2)
    [slice(0, 2, None), slice(2, 5, None)]
    >>> model_blocks(np.array([0, 1, 0]), 2)
    [array([0, 2]), slice(1, 2, None)]
    """
    group = np.asarray(group)
    order = np.argsort(group, kind="stable")
    bounds = np.searchsorted(group[order], np.arange(n_groups + 1))
    out: list[slice | np.ndarray] = []
    for g in range(n_groups):
        idx = order[bounds[g] : bounds[g + 1]]
        if len(idx) and idx[-1] - idx[0] + 1 == len(idx):
            out.append(slice(int(idx[0]), int(idx[-1]) + 1))
        else:
            out.append(idx)
    return out
