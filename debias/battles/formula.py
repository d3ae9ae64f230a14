"""Formulas of the battle fits: ``"tokens + headers + lists + bold"``, ``"length + position"``.

A battle formula lists the terms added to the model strengths, which are always there
(implied: ``logit P(A beats B) = s_A − s_B + Σ β_t x_t``; do not write them). Terms are
separated by ``+``; each is one of

- a **style feature** of the two answers (:mod:`debias.battles.style`: ``length``,
  ``tokens``, ``headers``, ``lists``, ``bold``, or any registered mediator such as
  ``emoji``), or a per-answer covariate the battles carry as columns ``<f>_a``, ``<f>_b``;
  written bare (the estimator's ``transform=``, Arena's ``(a − b)/(a + b + 1)`` by
  default) or inside one transform: ``difference(f)``, ``diff_over_sum(f)``,
  ``diff_over_sum_plus1(f)``;
- a **battle-level column** the battles carry (numeric, already signed A minus B), used as
  given (no transform, not scaled);
- ``position``: +1 when answer A was shown first, −1 when second, 0 when unknown
  (:func:`debias.reports.position.position_covariate`), not scaled.

The formula is data, never code: it is parsed with :mod:`ast` and checked against that
allow-list (as :mod:`debias.model.formula_check` does for the fixed-baseline GLM) before
anything is evaluated, and nothing of it is ever evaluated; anything else is refused with
one :class:`~debias.errors.FormulaError` line naming the term and what is allowed.

Examples
--------
>>> [t.label for t in parse_battle_formula("length + diff_over_sum(bold) + position")]
['length', 'diff_over_sum(bold)', 'position']
>>> parse_battle_formula("__import__('os')")
Traceback (most recent call last):
...
debias.errors.FormulaError: Term "__import__('os')" in formula "__import__('os')": '__import__' is not a transform; ...
"""

from __future__ import annotations

import ast
import difflib
from collections.abc import Iterable
from dataclasses import dataclass

from debias.battles.style import TRANSFORMS
from debias.errors import FormulaError
from debias.model.formula_check import check_formula_text

__all__ = ["POSITION", "STYLE_FEATURES", "Term", "feature_terms", "parse_battle_formula"]

POSITION = "position"
STYLE_FEATURES = ("length", "tokens", "headers", "lists", "bold")
"""The battle style features (:mod:`debias.battles.style`), besides registered mediators."""

#: Columns of Judgments.battles() (and of the readers) that are never a covariate.
STRUCTURAL_COLUMNS = frozenset(
    {
        "judge",
        "prompt",
        "turn",
        "model_a",
        "model_b",
        "outcome",
        "weight",
        "shown_first",
        "pair",
        "answer_a",
        "answer_b",
        "verdict",
        "winner",
        "question_id",
    }
)


@dataclass(frozen=True)
class Term:
    """One term of a battle formula.

    Attributes
    ----------
    name : str
        The data: a feature, a battle column, or ``"position"``.
    kind : {"feature", "column", "position"}
    transform : str or None
        The pairwise transform of a feature (None: the estimator's ``transform=``; always
        None for a column and for position).
    label : str
        The covariate's name in the fit and the coefficients table: the term as written
        (``"length"``, ``"diff_over_sum(length)"``).
    """

    name: str
    kind: str
    transform: str | None
    label: str


def feature_terms(features: Iterable[str]) -> tuple[Term, ...]:
    """``features=`` as terms: each a feature with the estimator's transform
    (``"position"`` is the position term).

    Examples
    --------
    >>> [(t.label, t.kind) for t in feature_terms(("length", "position"))]
    [('length', 'feature'), ('position', 'position')]
    """
    return tuple(
        Term(f, "position", None, f) if f == POSITION else Term(f, "feature", None, f)
        for f in features
    )


def allowed_names(columns: Iterable[str] = ()) -> tuple[list[str], list[str]]:
    """(per-answer names, battle-level columns) a formula may use on battles with ``columns``."""
    from debias.mediators import available_mediators

    columns = [str(c) for c in columns]
    present = set(columns)
    answer = list(dict.fromkeys([*STYLE_FEATURES, *available_mediators()]))
    answer += [
        c[:-2]
        for c in columns
        if c.endswith("_a") and f"{c[:-2]}_b" in present and c[:-2] and c not in STRUCTURAL_COLUMNS
    ]
    answer = list(dict.fromkeys(a for a in answer if a not in STRUCTURAL_COLUMNS))
    per_answer = {f"{a}_{s}" for a in answer for s in "ab"}
    battle = [
        c
        for c in columns
        if c not in STRUCTURAL_COLUMNS and c not in per_answer and c not in answer
        if c != POSITION
    ]
    return answer, battle


def parse_battle_formula(
    formula: str, columns: Iterable[str] = (), transform: str = "diff_over_sum_plus1"
) -> tuple[Term, ...]:
    """The terms of a battle formula, checked against the allow-list.

    Parameters
    ----------
    formula : str
        Terms joined by ``+`` (see the module docstring); the model strengths are implied.
    columns : iterable of str
        The battles' columns: ``<f>_a``/``<f>_b`` pairs add per-answer covariates, other
        non-structural columns battle-level covariates. Whether a column is numeric is
        checked when the design is built.
    transform : str, default "diff_over_sum_plus1"
        The transform of a feature written bare (to refuse ``length`` next to
        ``diff_over_sum_plus1(length)``: the same covariate twice).

    Returns
    -------
    tuple of Term

    Raises
    ------
    FormulaError
        One line naming the term and what is allowed.
    """
    if not isinstance(formula, str):
        raise FormulaError(
            f"formula= must be a str such as 'length + bold + position'. Got "
            f"{type(formula).__name__}."
        )
    check_formula_text(formula)
    text = formula.strip()
    if not text:
        raise FormulaError(
            "formula= is empty; name at least one term (e.g. 'length + position'), or pass "
            "features=() for no style terms."
        )
    try:
        tree = ast.parse(text, mode="eval")
    except (SyntaxError, ValueError, RecursionError, MemoryError):
        raise FormulaError(
            f"formula {formula!r} is not terms joined by '+' (e.g. 'length + "
            "diff_over_sum(bold) + position')."
        ) from None
    answer, battle = allowed_names(columns)
    leaves: list[ast.expr] = []
    node = tree.body
    while isinstance(node, ast.BinOp) and isinstance(node.op, ast.Add):
        leaves.append(node.right)
        node = node.left
    leaves.append(node)
    terms = tuple(_term(leaf, formula, answer, battle) for leaf in reversed(leaves))
    seen: dict[tuple, str] = {}
    for term in terms:
        key = (term.name, term.transform or transform if term.kind == "feature" else None)
        if key in seen:
            raise FormulaError(
                f"Term {term.label!r} in formula {formula!r} repeats {seen[key]!r}; give each "
                "term once."
            )
        seen[key] = term.label
    return terms


def _term(node: ast.expr, formula: str, answer: list[str], battle: list[str]) -> Term:
    code = _unparse(node)

    def refuse(why: str) -> FormulaError:
        return FormulaError(f"Term {code!r} in formula {formula!r}: {why}")

    allowed = (
        f"Allowed: per-answer features {', '.join(answer)} (bare, or inside one of "
        f"{', '.join(TRANSFORMS)}); {POSITION!r}"
        + (f"; battle columns {', '.join(battle)} (as given)" if battle else "")
        + ". The model strengths are implied: do not write them."
    )
    if isinstance(node, ast.Name):
        name = node.id
        if name == POSITION:
            return Term(name, "position", None, name)
        if name in answer:
            return Term(name, "feature", None, name)
        if name in battle:
            return Term(name, "column", None, name)
        raise refuse(_unknown(name, [*answer, POSITION, *battle]) + allowed)
    if isinstance(node, ast.Call):
        func = node.func.id if isinstance(node.func, ast.Name) else _unparse(node.func)
        if func not in TRANSFORMS:
            close = difflib.get_close_matches(func, TRANSFORMS, n=1)
            hint = f" Did you mean {close[0]!r}?" if close else ""
            raise refuse(f"{func!r} is not a transform;{hint} " + allowed)
        if node.keywords or len(node.args) != 1 or not isinstance(node.args[0], ast.Name):
            raise refuse(f"{func}() takes one feature name, e.g. {func}(length). " + allowed)
        name = node.args[0].id
        if name in answer:
            return Term(name, "feature", func, code)
        if name == POSITION or name in battle:
            raise refuse(
                f"{name!r} is already signed A minus B: it takes no transform; write it bare."
            )
        raise refuse(_unknown(name, answer) + allowed)
    if isinstance(node, ast.Constant):
        raise refuse(
            "a number is not a term (there is no intercept: the strengths are "
            "identified by identify=). " + allowed
        )
    if isinstance(node, ast.BinOp):
        raise refuse("terms are joined by '+' only (no - * / ** between terms). " + allowed)
    raise refuse(f"a {type(node).__name__} is not a term. " + allowed)


def _unknown(name: str, candidates: list[str]) -> str:
    if name.startswith("__"):
        return "names starting with '__' are not allowed. "
    close = difflib.get_close_matches(name, candidates, n=1)
    hint = f" Did you mean {close[0]!r}?" if close else ""
    return f"unknown name {name!r}.{hint} "


def _unparse(node: ast.AST) -> str:
    try:
        return ast.unparse(node)
    except (RecursionError, ValueError):
        return type(node).__name__
