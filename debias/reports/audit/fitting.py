"""The audit's model: its default formula and the unpenalised per-model fit.

Examples
--------
>>> audit_formula(["length"], difficulty=False)
'tanh(scaled(length))'
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from pathlib import Path

from debias.data import Comparisons
from debias.errors import InputError, ParameterError
from debias.mediators import available_mediators
from debias.model.formula import resolve_formula
from debias.model.glm import PreferenceGLM

__all__ = [
    "MEDIATOR_TERMS",
    "RATIO_MEDIATORS",
    "audit_formula",
    "check_mediators",
    "fit_audit_glm",
    "mediator_term",
]

#: Formula term of each mediator in the default audit formula (others: Arena's
#: difference over sum of the per-output counts, SD-scaled, not centred).
MEDIATOR_TERMS = {
    "length": "tanh(scaled(length))",
    "words": "tanh(scaled(words))",
}
#: Mediators whose readable effect is "twice as long as the baseline's answer".
RATIO_MEDIATORS = ("length", "words")


def _term_for(mediator: str) -> str:
    return MEDIATOR_TERMS.get(mediator, f"diff_over_sum({mediator}_model, {mediator}_baseline)")


def audit_formula(
    mediators: Sequence[str] = ("length", "markdown"), difficulty: bool = True
) -> str:
    """The audit's default formula for ``mediators``.

    ``length`` and ``words`` enter as ``tanh(scaled(x))`` (AlpacaEval's LC
    term), other mediators as ``diff_over_sum(x_model, x_baseline)`` (Chatbot
    Arena's style term); ``+ difficulty`` when ``difficulty``.

    Examples
    --------
    >>> audit_formula(("length", "markdown"))
    'tanh(scaled(length)) + diff_over_sum(markdown_model, markdown_baseline) + difficulty'
    >>> audit_formula(["length"], difficulty=False)
    'tanh(scaled(length))'
    """
    terms = [_term_for(m) for m in mediators]
    if difficulty:
        terms.append("difficulty")
    return " + ".join(terms)


def check_mediators(mediators) -> list[str]:
    if isinstance(mediators, str):
        mediators = [mediators]
    mediators = list(dict.fromkeys(mediators or ()))
    if not mediators:
        raise ParameterError("The 'mediators' parameter must name at least one mediator.")
    known = available_mediators()
    unknown = [m for m in mediators if m not in known]
    if unknown:
        raise ParameterError(
            f"The 'mediators' parameter names unknown mediator(s) {unknown}; available: {known}. "
            "Register your own with debias.mediators.register_mediator()."
        )
    return mediators


def _n_models(comparisons: Comparisons) -> int:
    baseline = comparisons.require_fixed_baseline()
    return len([m for m in comparisons.models if m != baseline])


def fit_audit_glm(
    comparisons: Comparisons,
    *,
    mediators: Sequence[str] = ("length", "markdown"),
    formula: str | None = None,
    difficulty="auto",
) -> PreferenceGLM:
    """Fit the audit's GLM: per-model maximum likelihood, no penalty, no regularisation.

    Parameters
    ----------
    comparisons : Comparisons
        One judge, one baseline.
    mediators : sequence of str
        Mediators of the default formula (see :func:`audit_formula`).
    formula : str, optional
        Your own right-hand side instead (must use the mediators audited).
    difficulty : {"auto", "fit", "none"} or path or Difficulty
        ``"auto"``: fit the instruction difficulty jointly when there are at least
        3 models besides the baseline, else leave it out.

    Returns
    -------
    PreferenceGLM
    """
    if not isinstance(comparisons, Comparisons):
        raise InputError(
            f"audit() expects a debias.Comparisons, got {type(comparisons).__name__}; read one "
            "with debias.io.read_alpaca_eval(...) or use run_audit(path)."
        )
    if len(comparisons.judges) > 1:
        raise InputError(
            f"{comparisons.source}: judgments of several judges {comparisons.judges}; audit one "
            "judge at a time (comparisons.select(judge=...) or run_audit(..., judge=...))."
        )
    n = _n_models(comparisons)
    if n == 0:
        raise InputError(
            f"{comparisons.source}: no model besides the baseline {comparisons.baselines}; "
            "nothing to audit."
        )
    is_str = isinstance(difficulty, str)
    if is_str and difficulty not in ("auto", "fit", "none") and not Path(difficulty).exists():
        raise ParameterError(
            "The 'difficulty' parameter must be 'auto', 'fit', 'none', a Difficulty or a CSV path. "
            f"Got {difficulty!r} instead."
        )
    if formula is None:
        use = not (is_str and difficulty == "none") and not (
            is_str and difficulty == "auto" and n < 3
        )
        formula = audit_formula(mediators, difficulty=use)
        glm_difficulty = ("fit" if difficulty == "auto" else difficulty) if use else "none"
    else:
        spec = resolve_formula(formula)
        if spec.uses_difficulty:
            glm_difficulty = "fit" if is_str and difficulty == "auto" else difficulty
        else:
            glm_difficulty = "none"
    from debias.io.model_inputs import read_model_inputs

    glm_difficulty, _ = read_model_inputs(comparisons, difficulty=glm_difficulty)
    glm = PreferenceGLM(formula=formula, difficulty=glm_difficulty, lam=0.0)
    return glm.fit(comparisons)


def mediator_term(fit: PreferenceGLM, mediator: str) -> str:
    """The coefficient (column of ``fit.params_``) of ``mediator``'s term.

    The first coefficient whose name uses the mediator (``length``,
    ``length_model`` or ``length_baseline``).

    Examples
    --------
    >>> from debias.simulate import simulate
    >>> fit = fit_audit_glm(simulate(n_models=2, n_instructions=80, seed=0).comparisons)
    >>> mediator_term(fit, "markdown")
    'diff_over_sum(markdown_model, markdown_baseline)'
    """
    pattern = re.compile(rf"\b{re.escape(mediator)}(_model|_baseline)?\b")
    for col in fit.columns_:
        if col not in ("strength", "difficulty") and pattern.search(col):
            return col
    raise ParameterError(
        f"The fitted formula {fit.spec_.rhs!r} has no term in {mediator!r}; its coefficients "
        f"are {fit.columns_}."
    )
