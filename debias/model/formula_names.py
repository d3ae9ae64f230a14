"""The names a formula gives a meaning of its own: the numpy functions it may call, patsy's
``I()``, and the reserved words a mediator may not take. Standard library only, so that the
mediator registry can check a new name without importing the formula machinery."""

from __future__ import annotations

NUMPY_FUNCTIONS: dict[str, int] = {
    "tanh": 1,
    "arctan": 1,
    "log": 1,
    "log1p": 1,
    "log2": 1,
    "log10": 1,
    "exp": 1,
    "expm1": 1,
    "sqrt": 1,
    "cbrt": 1,
    "abs": 1,
    "sign": 1,
    "square": 1,
    "clip": 3,
    "minimum": 2,
    "maximum": 2,
}
"""numpy functions a formula may call (name → number of positional arguments)."""

IDENTITY = "I"
"""patsy's ``I(expr)``, allowed deliberately: arithmetic at the formula level (``*``,
``/``, ``-``) means interactions and removals to patsy, so ``I(length / 100)`` is
how a formula says "divide". It is the identity and takes one checked argument."""

RESERVED_NAMES = frozenset(
    {"np", "difficulty", "strength", "preference", IDENTITY, *NUMPY_FUNCTIONS}
)
"""Names a formula gives a meaning of its own (a mediator may not take them)."""
