"""Declarative checks of numeric and choice parameters (scikit-learn's ``_parameter_constraints`` style).

Each public entry point has one table ``{parameter name: [constraint, ...]}``; a
value is valid when it meets any of its constraints. :func:`validate` raises a
:class:`~debias.errors.ParameterError` that says what was expected and what was
got, naming the Python keyword (the CLI maps keywords to flags).

Examples
--------
>>> validate({"level": [Interval(float, 0, 1, "neither")]}, {"level": 0.9}, "avg_predictions")
>>> validate({"level": [Interval(float, 0, 1, "neither")]}, {"level": 1.5}, "avg_predictions")
Traceback (most recent call last):
...
debias.errors.ParameterError: The 'level' parameter of avg_predictions must be a float in (0, 1). Got 1.5 instead.
"""

from __future__ import annotations

import math
import numbers
import os
from dataclasses import dataclass

import numpy as np

from debias.errors import ParameterError

MAX_BOOT = 100_000


@dataclass(frozen=True)
class Interval:
    """A real (``float``) or integer (``int``) number in an interval; bools are refused.

    ``closed`` is ``"both"``, ``"left"``, ``"right"`` or ``"neither"``; a bound of
    ``None`` is infinite (never included: NaN and infinities are always refused).
    """

    kind: type
    low: float | None
    high: float | None
    closed: str = "both"

    def accepts(self, value) -> bool:
        if isinstance(value, bool) or not isinstance(value, numbers.Real):
            return False
        if self.kind is int and not isinstance(value, numbers.Integral):
            return False
        value = float(value)
        if not math.isfinite(value):
            return False
        lo_ok = self.low is None or (
            value >= self.low if self.closed in ("both", "left") else value > self.low
        )
        hi_ok = self.high is None or (
            value <= self.high if self.closed in ("both", "right") else value < self.high
        )
        return lo_ok and hi_ok

    def __str__(self) -> str:
        left = "[" if self.closed in ("both", "left") and self.low is not None else "("
        right = "]" if self.closed in ("both", "right") and self.high is not None else ")"
        lo = "-inf" if self.low is None else _num(self.low)
        hi = "inf" if self.high is None else _num(self.high)
        return f"{'an int' if self.kind is int else 'a float'} in {left}{lo}, {hi}{right}"


@dataclass(frozen=True)
class Options:
    """One of a fixed set of values (compared with ``==``; only str/None/bool allowed)."""

    values: tuple

    def accepts(self, value) -> bool:
        if not (value is None or isinstance(value, (str, bool))):
            return False
        return any(value is v or (type(value) is type(v) and value == v) for v in self.values)

    def __str__(self) -> str:
        return "one of " + ", ".join(repr(v) for v in self.values)


@dataclass(frozen=True)
class InstanceOf:
    """Any value of the given type(s) (e.g. a Comparisons or a path)."""

    types: tuple
    label: str

    def accepts(self, value) -> bool:
        return isinstance(value, self.types) and not (
            isinstance(value, bool) and bool not in self.types
        )

    def __str__(self) -> str:
        return self.label


@dataclass(frozen=True)
class NonZeroInt:
    """An int other than 0 (``n_jobs``: -1 means all cores)."""

    def accepts(self, value) -> bool:
        return isinstance(value, numbers.Integral) and not isinstance(value, bool) and value != 0

    def __str__(self) -> str:
        return "a nonzero int (-1: all cores)"


NONE = Options((None,))
BOOL = InstanceOf((bool, np.bool_), "a bool")


def describe(value) -> str:
    """``repr(value)`` when it is short and on one line, else its type (for messages).

    Examples
    --------
    >>> describe(-1), describe("x" * 200)
    ('-1', 'a str of 200 characters')
    """
    text = repr(value)
    if len(text) <= 80 and "\n" not in text:
        return text
    if isinstance(value, os.PathLike):
        return repr(os.fspath(value)[:40] + "…")
    try:
        size = f" of {len(value)} {'characters' if isinstance(value, str) else 'items'}"
    except TypeError:
        size = ""
    return f"a {type(value).__name__}{size if hasattr(value, '__len__') else ''}"


def _num(x: float) -> str:
    return str(int(x)) if float(x).is_integer() else repr(float(x))


def validate(constraints: dict, values: dict, where: str) -> None:
    """Check ``values`` against ``constraints``; raise on the first invalid one.

    Parameters
    ----------
    constraints : dict
        Parameter name → list of constraints (any may hold).
    values : dict
        Parameter name → value given (names absent from ``constraints`` are not checked).
    where : str
        The function or class, for the message.
    """
    for name, allowed in constraints.items():
        if name not in values:
            continue
        value = values[name]
        if any(c.accepts(value) for c in allowed):
            continue
        if len(allowed) == 1:
            expected = str(allowed[0])
        else:
            expected = ", ".join(str(c) for c in allowed[:-1]) + " or " + str(allowed[-1])
        expected = expected.replace("one of None", "None")
        raise ParameterError(
            f"The {name!r} parameter of {where} must be {expected}. Got {describe(value)} instead."
        )


NONNEGATIVE = Interval(float, 0, None, "left")

GLM_CONSTRAINTS: dict[str, list] = {
    "formula": [NONE, InstanceOf((str,), "a str")],
    "preset": [NONE, InstanceOf((str,), "a str")],
    "difficulty_join": [Options(("instruction", "position"))],
    "lam": [NONE, NONNEGATIVE],
    "regularize_mode": [Options(("rows", "penalty"))],
    "solver": [Options(("newton", "cvxpy", "alpaca_eval"))],
    "penalty": [Options((None, "l1", "l2"))],
    "alpha": [NONNEGATIVE],
    "bounds": [NONE, InstanceOf((dict,), "a dict {coefficient: (lower, upper)}")],
    "difficulty_l2": [NONNEGATIVE],
    "progress": [BOOL],
}
"""Constraints of :class:`debias.model.glm.PreferenceGLM`'s constructor arguments."""

INFERENCE_CONSTRAINTS: dict[str, list] = {
    "se": [Options(("sem", "sandwich", "bootstrap"))],
    "level": [Interval(float, 0, 1, "neither")],
    "n_boot": [Interval(int, 2, MAX_BOOT)],
    "seed": [Interval(int, 0, 2**63 - 1)],
    "n_jobs": [NonZeroInt()],
    "progress": [BOOL],
}
"""Constraints of the uncertainty settings of ``avg_predictions`` and ``leaderboard``."""
