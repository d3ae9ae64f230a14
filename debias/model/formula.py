"""Model formulas: presets, parsing, and design matrices (with formula_check, the only
modules that import patsy).

A debias formula describes the judge's log-odds of preferring the model on one
instruction. Its right-hand side may use

- mediator columns by name (``length``, ``headers``, ... or your own registered
  mediator): the raw difference *model minus baseline*; ``{name}_model`` and
  ``{name}_baseline`` hold the per-output values;
- ``difficulty``: the frozen per-instruction difficulty γ (stage 1);
- the pairwise transforms ``scaled(x)`` (divide by the per-model SD, not centred),
  ``diff_over_sum(a, b)`` (Arena's (a − b)/(a + b + 1), SD-scaled, not centred),
  ``log_ratio(a, b)``, and the numpy functions of
  :data:`debias.model.formula_names.NUMPY_FUNCTIONS` (``tanh``, ``log``, ``clip``, ...,
  bare or as ``np.tanh``).

A formula is code-like input: every term is checked against that allow-list
before patsy evaluates anything, and evaluated with no Python builtins
(:mod:`debias.model.formula_check`); anything else is a :class:`FormulaError` naming
the term.

The model's strength is always the first coefficient (``strength``, 1 on the
model's own rows, 0 on regularisation rows): the formula's intercept is replaced
by it, so ``- 1`` or ``+ 1`` make no difference. The design is evaluated on a
frame indexed by model, so stateful transforms remember their statistics per model
and ``predict`` on new data re-applies the training statistics.

Examples
--------
>>> spec = resolve_formula(preset="length_controlled_v1")
>>> spec.rhs
'tanh(scaled(length)) + difficulty'
>>> sorted(spec.mediators)
['length']
"""

from __future__ import annotations

import difflib
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
import patsy

from debias import mediators as _mediators
from debias.errors import FormulaError, InputError, ParameterError
from debias.model.formula_check import SafeEnvironment, check_formula_text, check_term, functions

STRENGTH = "strength"
DIFFICULTY = "difficulty"


@dataclass(frozen=True)
class Preset:
    """A named model: formula, regularisation strength toward the baseline's variants."""

    name: str
    rhs: str
    regularize: float
    description: str


PRESETS: dict[str, Preset] = {
    p.name: p
    for p in (
        Preset(
            "length_controlled_v1",
            "tanh(scaled(length)) + difficulty",
            0.2,
            "AlpacaEval's LC model: length (tanh of the SD-scaled character difference), "
            "instruction difficulty, strength; regularised toward the baseline's own "
            "verbose/concise variants with weight 0.2 when they are given, else by partial "
            "pooling of the slopes across the judge's models (debias.model.pooling).",
        ),
        Preset(
            "length_controlled_noreg",
            "tanh(scaled(length)) + difficulty",
            0.0,
            "As length_controlled_v1 without the regularisation rows.",
        ),
        Preset(
            "length_controlled_minimal",
            "tanh(scaled(length))",
            0.0,
            "Length and strength only: no difficulty, no regularisation.",
        ),
        Preset(
            "style_controlled",
            "tanh(scaled(length)) + diff_over_sum(headers_model, headers_baseline)"
            " + diff_over_sum(lists_model, lists_baseline)"
            " + diff_over_sum(bold_model, bold_baseline) + difficulty",
            0.0,
            "Length plus Arena-style markdown terms (headers, list items, bold; "
            "difference over sum, SD-scaled, not centred) and difficulty.",
        ),
    )
}


@dataclass(frozen=True)
class FormulaSpec:
    """A parsed formula: its right-hand side, mediators used, and whether it needs difficulty."""

    rhs: str
    mediators: frozenset[str]
    uses_difficulty: bool
    preset: str | None = None
    regularize: float = 0.0
    desc: patsy.ModelDesc = field(repr=False, compare=False, default=None)

    def __reduce__(self):
        # patsy's ModelDesc cannot be pickled: parse the right-hand side again
        fields = (self.rhs, self.mediators, self.uses_difficulty, self.preset, self.regularize)
        return (_spec_from_fields, fields)


def _spec_from_fields(rhs, mediators, uses_difficulty, preset, regularize) -> FormulaSpec:
    desc = patsy.ModelDesc.from_formula(rhs)
    return FormulaSpec(rhs, mediators, uses_difficulty, preset, regularize, desc)


def resolve_formula(formula: str | None = None, preset: str | None = None) -> FormulaSpec:
    """Parse a formula or look up a preset.

    Parameters
    ----------
    formula : str, optional
        ``"preference ~ rhs"``, ``"~ rhs"`` or just ``"rhs"``.
    preset : str, optional
        One of :data:`PRESETS`; used when ``formula`` is None (default
        ``"length_controlled_v1"``).

    Raises
    ------
    FormulaError
        Unparsable formula, a left-hand side other than ``preference``, or an
        unknown name (the message names the term and suggests the closest names).

    Examples
    --------
    >>> sorted(resolve_formula("preference ~ tanh(scaled(length)) + scaled(bold)").mediators)
    ['bold', 'length']
    """
    regularize = 0.0
    if formula is None:
        preset = preset or "length_controlled_v1"
        if preset not in PRESETS:
            close = difflib.get_close_matches(preset, list(PRESETS), n=1)
            hint = f" Did you mean {close[0]!r}?" if close else ""
            raise ParameterError(f"Unknown preset {preset!r}.{hint} Presets: {', '.join(PRESETS)}.")
        formula = PRESETS[preset].rhs
        regularize = PRESETS[preset].regularize
    elif preset is not None:
        raise ParameterError("Give either a formula or a preset, not both.")
    if not isinstance(formula, str) or not formula.strip():
        raise FormulaError(f"A formula must be a non-empty string. Got {formula!r} instead.")
    check_formula_text(formula)
    text = formula.strip()
    if "~" in text:
        lhs, _, rhs = text.partition("~")
        if lhs.strip() not in ("", "preference"):
            raise FormulaError(
                f"The left-hand side of {formula!r} must be 'preference' (or empty): the response "
                f"is always P(model preferred). Got {lhs.strip()!r}."
            )
    else:
        rhs = text
    try:
        desc = patsy.ModelDesc.from_formula(rhs)
    except (patsy.PatsyError, RecursionError) as exc:
        raise FormulaError(f"Cannot parse formula {formula!r}: {_one_line(exc)}") from None
    if desc.lhs_termlist:
        raise FormulaError(
            f"Formula {formula!r} has more than one '~': write 'preference ~ terms' or just the terms."
        )
    known = set(_mediators.available_mediators())
    names: set[str] = set()
    for term in desc.rhs_termlist:
        for factor in term.factors:
            names |= check_term(factor.code, formula, known)
    mediators = {n.removesuffix("_model").removesuffix("_baseline") for n in names} & known
    uses_difficulty = DIFFICULTY in names
    return FormulaSpec(
        rhs=rhs.strip(),
        mediators=frozenset(mediators),
        uses_difficulty=uses_difficulty,
        preset=preset,
        regularize=regularize,
        desc=desc,
    )


class Design:
    """A formula's design, fitted on training data; rebuilds matrices for new data.

    Parameters
    ----------
    spec : FormulaSpec
        The parsed formula.
    frame : pandas.DataFrame
        Training rows indexed by model name, with the mediator and difficulty columns.

    Attributes
    ----------
    columns : list of str
        Coefficient names: ``strength`` then one per formula column.

    Notes
    -----
    Every term is checked against the allow-list again (:func:`check_term`) and
    evaluated with no Python builtins (:class:`SafeEnvironment`). patsy's design
    information cannot be pickled: a pickled Design keeps the spec and the training
    frame and rebuilds the same statistics when unpickled.
    """

    def __init__(self, spec: FormulaSpec, frame: pd.DataFrame):
        self.spec = spec
        self._frame = frame
        terms = [t for t in spec.desc.rhs_termlist if t.factors]
        for term in terms:
            for factor in term.factors:
                check_term(factor.code, spec.rhs, spec.mediators)
        self._desc = patsy.ModelDesc([], terms)
        try:
            training = patsy.dmatrix(
                self._desc,
                frame,
                eval_env=SafeEnvironment([functions()]),
                NA_action="raise",
                return_type="matrix",
            )
        except patsy.PatsyError as exc:
            raise FormulaError(f"Formula {spec.rhs!r}: {_one_line(exc)}") from None
        self._info = training.design_info
        self._training: np.ndarray | None = np.asarray(training, dtype=float)
        self.columns = [STRENGTH, *self._info.column_names]

    def __getstate__(self) -> dict:
        return {"spec": self.spec, "frame": self._frame}

    def __setstate__(self, state: dict) -> None:
        self.__init__(state["spec"], state["frame"])
        self._training = None

    def training_matrix(self, strength: np.ndarray | float = 1.0) -> np.ndarray:
        """The design matrix of the training frame, from the one evaluation that fitted the
        transforms (equal to ``matrix(frame, strength)``; given once, then released).

        Raises
        ------
        ParameterError
            When it was already taken (use :meth:`matrix`).
        """
        if self._training is None:
            raise ParameterError(
                "Design.training_matrix() gives the training rows' matrix once; use "
                "matrix(frame) to evaluate the formula again."
            )
        x, self._training = self._training, None
        return self._finish(x, strength)

    def matrix(self, frame: pd.DataFrame, strength: np.ndarray | float = 1.0) -> np.ndarray:
        """The design matrix (float64, ``strength`` first) for rows indexed by model."""
        try:
            (x,) = patsy.build_design_matrices([self._info], frame, NA_action="raise")
        except patsy.PatsyError as exc:
            if isinstance(exc.__cause__, InputError):  # e.g. a model the transforms never saw
                raise exc.__cause__ from None
            raise FormulaError(f"Formula {self.spec.rhs!r}: {_one_line(exc)}") from None
        return self._finish(np.asarray(x, dtype=float), strength)

    def _finish(self, x: np.ndarray, strength: np.ndarray | float) -> np.ndarray:
        """``[strength, x]`` after checking that every value is finite."""
        infinite = ~np.isfinite(x)
        if infinite.any():
            j = int(np.flatnonzero(infinite.any(axis=0))[0])
            raise FormulaError(
                f"Formula {self.spec.rhs!r}: the column {self._info.column_names[j]!r} is "
                f"infinite on {int(infinite[:, j].sum())} of {len(x)} rows (an overflow, e.g. "
                "exp() of a large value); use a transform that stays finite, e.g. "
                "tanh(scaled(...))."
            )
        s = np.broadcast_to(np.asarray(strength, dtype=float), (len(x),))
        return np.column_stack([s, x])


def _one_line(exc: Exception) -> str:
    text = " ".join(str(exc).split())
    if "factor contains missing values" in text:
        text += (
            " (a term gives NaN, e.g. log() or sqrt() of a negative difference: use "
            "log_ratio(x_model, x_baseline) or tanh(scaled(x)))"
        )
    return text


def model_frame(
    rows: pd.DataFrame,
    spec: FormulaSpec,
    difficulty: np.ndarray | None = None,
    features: pd.DataFrame | None = None,
) -> pd.DataFrame:
    """The frame a formula is evaluated on: mediator columns and difficulty, indexed by model.

    Parameters
    ----------
    rows : pandas.DataFrame
        Canonical comparison rows (``model``, ``output_model``, ``output_baseline``, ...).
    spec : FormulaSpec
    difficulty : ndarray, optional
        γ per row (required when the formula uses ``difficulty``).
    features : pandas.DataFrame, optional
        Precomputed mediator columns aligned with ``rows`` (skips the text features).

    Returns
    -------
    pandas.DataFrame
        Index = model name (so transforms scale per model).
    """
    if features is None:
        features = _mediators.compute_mediators(rows, sorted(spec.mediators))
    frame = pd.DataFrame(features.to_numpy(dtype=float), columns=features.columns)
    if spec.uses_difficulty:
        if difficulty is None:
            raise FormulaError(
                f"Formula {spec.rhs!r} uses 'difficulty' but no instruction difficulty was given: "
                "fit it (difficulty='fit'), load a file, or drop the term (difficulty='none' with "
                "a formula without it, e.g. preset='length_controlled_minimal')."
            )
        frame[DIFFICULTY] = np.asarray(difficulty, dtype=float)
    frame.index = pd.Index(rows["model"].to_numpy(), name="model")
    return frame
