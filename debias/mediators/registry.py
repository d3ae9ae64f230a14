"""The mediator registry: named per-answer features, their names and their evaluation.

A :class:`Mediator` maps one output text to a number. Names are Python identifiers
(formulas use them), not reserved by formulas and not ending in ``_model`` or
``_baseline``. Evaluation is checked: a function that fails or returns something other
than a finite number is reported with the offending text.

Examples
--------
>>> "length" in available_mediators()
True
>>> get_mediator("exclamations")("Wow!!")
2.0
"""

from __future__ import annotations

import difflib
import keyword
import math
import numbers
from collections.abc import Callable, Iterable
from dataclasses import dataclass

import numpy as np
import pandas as pd

from debias.errors import InputError, ParameterError
from debias.mediators.texts import text_series
from debias.mediators.transforms import TRANSFORMS
from debias.model.formula_names import RESERVED_NAMES

__all__ = [
    "Mediator",
    "available_mediators",
    "evaluate",
    "get_mediator",
    "register_mediator",
    "unregister_mediator",
]

ScalarFunc = Callable[[str], float]
VectorFunc = Callable[[pd.Series], np.ndarray]

_SNIPPET = 80


def _snippet(text: object) -> str:
    """A short, quoted preview of an output for error messages."""
    if isinstance(text, str) and len(text) > _SNIPPET:
        return repr(text[:_SNIPPET] + "…")
    return repr(text)


@dataclass(frozen=True)
class Mediator:
    """A named per-output feature.

    Attributes
    ----------
    name : str
        The registry name; also the name of the pairwise column (a Python identifier,
        since it is used in formulas).
    func : callable
        ``func(text: str) -> number``, the definition.
    vectorized : callable, optional
        ``vectorized(texts: pandas.Series) -> numpy.ndarray`` of floats, one per text,
        equal to ``func`` applied to each text but faster. ``None`` if there is none.
    description : str
        One line saying what is counted.
    unit : str
        The unit of the values (``"characters"``, ``"emoji"``, ...).

    Examples
    --------
    >>> m = get_mediator("words")
    >>> m.unit
    'words'
    >>> m("two words")
    2.0
    >>> m.compute(["a b c", ""]).tolist()
    [3.0, 0.0]
    """

    name: str
    func: ScalarFunc
    vectorized: VectorFunc | None = None
    description: str = ""
    unit: str = ""

    def __call__(self, text: str) -> float:
        """Evaluate the mediator on one text (checked: a finite number)."""
        return float(_evaluate_scalar(self, [text])[0])

    def compute(self, texts: Iterable[str] | pd.Series) -> np.ndarray:
        """Evaluate the mediator on many texts; returns a float array in the same order.

        Uses :attr:`vectorized` when there is one. Raises :class:`InputError` when the
        function fails or returns something that is not a finite number.
        """
        return evaluate(self, text_series(texts, "texts"))


_REGISTRY: dict[str, Mediator] = {}
_RESERVED_SUFFIXES = ("_model", "_baseline")
_TRANSFORM_NAMES = tuple(TRANSFORMS)
# names that formulas give another meaning (debias.model.formula): data columns and functions
_FORMULA_NAMES = (
    "difficulty",
    "strength",
    "preference",
    "np",
    "tanh",
    "log",
    "log1p",
    "exp",
    "sqrt",
    "abs",
)


def _check_name(name: object) -> str:
    if not isinstance(name, str):
        raise ParameterError(
            f"A mediator name must be a str. Got {name!r} ({type(name).__name__}) instead."
        )
    if not name.isidentifier() or keyword.iskeyword(name):
        raise ParameterError(
            f"Invalid mediator name {name!r}: names are used in formulas, so they must be Python "
            "identifiers (letters, digits and underscores, not starting with a digit, not a "
            "keyword), e.g. 'emoji_count'."
        )
    reserved = (*_TRANSFORM_NAMES, *_FORMULA_NAMES, *sorted(RESERVED_NAMES - set(_FORMULA_NAMES)))
    if name in reserved:
        raise ParameterError(
            f"Invalid mediator name {name!r}: formulas already use it (reserved: "
            f"{', '.join(reserved)}). Choose another name."
        )
    if name.endswith(_RESERVED_SUFFIXES):
        raise ParameterError(
            f"Invalid mediator name {name!r}: names ending in '_model' or '_baseline' would "
            "collide with the per-output columns that compute_mediators adds."
        )
    return name


def _unknown(name: str) -> ParameterError:
    known = available_mediators()
    close = difflib.get_close_matches(name, known, n=1)
    hint = f" Did you mean {close[0]!r}?" if close else ""
    return ParameterError(
        f"Unknown mediator {name!r}.{hint} Known mediators: {', '.join(known)}. "
        "Register your own with debias.mediators.register_mediator()."
    )


def register_mediator(
    name: str,
    func: ScalarFunc | None = None,
    *,
    description: str = "",
    unit: str = "",
    vectorized: VectorFunc | None = None,
    overwrite: bool = False,
):
    """Register a mediator, as a decorator or by a plain call.

    Parameters
    ----------
    name : str
        A Python identifier (it is used in formulas), not ending in ``_model`` or
        ``_baseline``.
    func : callable, optional
        ``func(text: str) -> number``. Omit it to use ``register_mediator`` as a
        decorator.
    description : str
        One line saying what is counted (shown in reports).
    unit : str
        The unit of the values, e.g. ``"emoji"``.
    vectorized : callable, optional
        A faster equivalent taking a :class:`pandas.Series` of str (on a RangeIndex;
        arrow-backed when pyarrow is installed, so its ``.str`` methods are fast; texts
        may repeat) and returning a float array of the same length.
    overwrite : bool
        Replace an existing mediator of that name instead of raising.

    Returns
    -------
    callable
        ``func`` itself (so a decorated function stays usable), or, without ``func``,
        the decorator.

    Raises
    ------
    ParameterError
        Invalid name, name already registered (without ``overwrite=True``), or
        ``func`` / ``vectorized`` not callable.

    Examples
    --------
    >>> @register_mediator("question_marks", unit="question marks")
    ... def question_marks(text):
    ...     return text.count("?")
    >>> get_mediator("question_marks")("Why? How?")
    2.0
    >>> _ = register_mediator("lines", lambda text: text.count("\\n") + 1, unit="lines")
    >>> "lines" in available_mediators()
    True
    >>> unregister_mediator("question_marks"); unregister_mediator("lines")
    """
    _check_name(name)
    if not isinstance(overwrite, bool):
        raise ParameterError(
            f"The 'overwrite' parameter must be a bool. Got {overwrite!r} instead."
        )
    for label, value in (("description", description), ("unit", unit)):
        if not isinstance(value, str):
            raise ParameterError(f"The {label!r} parameter must be a str. Got {value!r} instead.")
    if vectorized is not None and not callable(vectorized):
        raise ParameterError(
            f"The 'vectorized' parameter must be a callable or None. Got {vectorized!r} instead."
        )
    if name in _REGISTRY and not overwrite:
        raise ParameterError(
            f"Mediator {name!r} is already registered. Pass overwrite=True to replace it, or "
            "choose another name."
        )

    def decorator(f: ScalarFunc) -> ScalarFunc:
        if not callable(f):
            raise ParameterError(
                f"A mediator function must be callable (text -> number). Got {f!r} instead."
            )
        if name in _REGISTRY and not overwrite:  # registered meanwhile
            raise ParameterError(
                f"Mediator {name!r} is already registered. Pass overwrite=True to replace it."
            )
        _REGISTRY[name] = Mediator(name, f, vectorized, description, unit)
        return f

    if func is None:
        return decorator
    return decorator(func)


def get_mediator(name: str) -> Mediator:
    """Return the registered :class:`Mediator` called ``name``.

    Raises
    ------
    ParameterError
        No such mediator; the message suggests the closest name and lists the known ones.

    Examples
    --------
    >>> get_mediator("length").unit
    'characters'
    >>> get_mediator("lenght")
    Traceback (most recent call last):
    ...
    debias.errors.ParameterError: Unknown mediator 'lenght'. Did you mean 'length'? ...
    """
    if not isinstance(name, str):
        raise ParameterError(
            f"A mediator name must be a str. Got {name!r} ({type(name).__name__}) instead."
        )
    try:
        return _REGISTRY[name]
    except KeyError:
        raise _unknown(name) from None


def available_mediators() -> list[str]:
    """The names of all registered mediators, sorted.

    Examples
    --------
    >>> {"length", "words", "markdown"} <= set(available_mediators())
    True
    """
    return sorted(_REGISTRY)


def unregister_mediator(name: str) -> None:
    """Remove a registered mediator (mainly for tests).

    Raises
    ------
    ParameterError
        No such mediator.

    Examples
    --------
    >>> _ = register_mediator("tmp_feature", len)
    >>> unregister_mediator("tmp_feature")
    >>> "tmp_feature" in available_mediators()
    False
    """
    get_mediator(name)
    del _REGISTRY[name]


def _check_value(mediator: Mediator, value: object, text: str) -> float:
    if isinstance(value, numbers.Real):
        out = float(value)
        if math.isfinite(out):
            return out
    raise InputError(
        f"Mediator {mediator.name!r} must return a finite number, but returned {value!r} "
        f"({type(value).__name__}) for the output {_snippet(text)}."
    )


def _evaluate_scalar(mediator: Mediator, texts: Iterable[str]) -> np.ndarray:
    """Call ``mediator.func`` once per distinct text (checked) and return floats."""
    done: dict[str, float] = {}
    out = []
    func = mediator.func
    for text in texts:
        value = done.get(text)
        if value is None:
            try:
                raw = func(text)
            except Exception as exc:
                raise InputError(
                    f"Mediator {mediator.name!r} failed with {type(exc).__name__}: {exc} on the "
                    f"output {_snippet(text)}."
                ) from exc
            value = done[text] = _check_value(mediator, raw, text)
        out.append(value)
    return np.asarray(out, dtype=float)


def evaluate(mediator: Mediator, texts: pd.Series) -> np.ndarray:
    """Evaluate a mediator on a Series of str (RangeIndex); returns finite floats.

    The vectorised version is used when there is one; its result is checked (one
    finite number per text).

    Raises
    ------
    InputError
        The function fails or returns something other than a finite number (the
        offending text is shown).

    Examples
    --------
    >>> evaluate(get_mediator("words"), text_series(["a b", ""], "texts")).tolist()
    [2.0, 0.0]
    """
    if mediator.vectorized is None:
        return _evaluate_scalar(mediator, texts.tolist())
    try:
        raw = mediator.vectorized(texts)
        values = np.asarray(raw, dtype=float)
    except Exception as exc:
        _evaluate_scalar(mediator, texts.tolist())  # names the offending text if it can
        raise InputError(
            f"The vectorized version of mediator {mediator.name!r} failed with "
            f"{type(exc).__name__}: {exc}."
        ) from exc
    if values.shape != (len(texts),):
        raise InputError(
            f"The vectorized version of mediator {mediator.name!r} must return one number per "
            f"text ({len(texts)}), but returned an array of shape {values.shape}."
        )
    bad = ~np.isfinite(values)
    if bad.any():
        i = int(np.flatnonzero(bad)[0])
        _check_value(mediator, values[i], texts.iloc[i])
    return values
