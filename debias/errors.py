"""Exceptions and warnings raised by debias.

Every error a user can cause derives from :class:`DebiasError`; the CLI turns
it into one line on stderr and exit code 2. Every doubtful-fit warning derives
from :class:`DebiasWarning` so it can be filtered as one family.
"""

from __future__ import annotations

from collections.abc import Iterable


class DebiasError(Exception):
    """Base class of every error caused by input or settings (CLI exit code 2)."""


class InputError(DebiasError, ValueError):
    """The data given is malformed: names the file, row or column and what to do."""


class ParameterError(DebiasError, ValueError):
    """A setting has the wrong type or value: says what was expected and what was got."""


class FormulaError(DebiasError, ValueError):
    """A model formula cannot be used: names the offending term."""


class DebiasWarning(UserWarning):
    """Base class of debias warnings."""


class DataWarning(DebiasWarning):
    """The data was usable but something was dropped, filled or looks odd."""


class FitWarning(DebiasWarning):
    """A fit is doubtful: non-convergence, separation, or a large correction."""


def check_param(name: str, value, expected: str, ok: bool) -> None:
    """Raise :class:`ParameterError` in scikit-learn's wording when ``ok`` is false.

    Examples
    --------
    >>> check_param("lam", 0.2, "a float in [0, inf)", 0.2 >= 0)
    >>> check_param("lam", -1, "a float in [0, inf)", -1 >= 0)
    Traceback (most recent call last):
    ...
    debias.errors.ParameterError: The 'lam' parameter must be a float in [0, inf). Got -1 instead.
    """
    if not ok:
        raise ParameterError(f"The {name!r} parameter must be {expected}. Got {value!r} instead.")


def row_list(index: Iterable, limit: int = 5) -> str:
    """``"3, 7, 9 and 2 more"``: the rows to name in a one-line message.

    Examples
    --------
    >>> row_list(range(8))
    '0, 1, 2, 3, 4 and 3 more'
    """
    rows = list(index)
    shown = ", ".join(str(r) for r in rows[:limit])
    more = f" and {len(rows) - limit} more" if len(rows) > limit else ""
    return f"{shown}{more}"
