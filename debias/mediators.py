"""Mediators: named per-output features, turned into pairwise (model − baseline) columns.

A *mediator* maps one output text to a number (its length, how many markdown
headers it has, ...). A judge's preference may depend on the *difference* of a
mediator between the model's and the baseline's answer; the fits in debias put
these differences into the model and then set them to zero ("equal length,
equal style") to read off the controlled win rate.

Sign convention: every pairwise column is **model minus baseline**, and 0 means
"no difference" on the raw scale (no centring anywhere).

Built-in mediators (all counts are per output; fenced code blocks are removed
before counting headers, list items and bold spans, as Chatbot Arena's style
control does):

============  ===============================================================
name          unit and definition
============  ===============================================================
length        characters: ``len(text)`` (Unicode code points; the reference's unit)
words         whitespace-separated tokens: ``len(text.split())``
headers       markdown header lines: a line starting with 1–6 ``#`` then a space or tab
lists         list items: a line starting with optional spaces/tabs, then ``-``, ``*``,
              ``+``, or digits followed by ``.`` or ``)``, then a space or tab
bold          bold spans: ``**…**`` plus ``__…__`` (within one line, non-empty)
markdown      markdown elements: headers + lists + bold
code_blocks   fenced code blocks: pairs of triple backticks, wherever they are (as
              Arena); an unclosed fence runs to the end of the text and counts as one
emoji         emoji: one per pictographic character (the emoji blocks U+1F300–U+1FAFF,
              the Miscellaneous Symbols and Dingbats blocks U+2600–U+27BF, so ★ and ✓
              count too, and a few others such as ⌚ ⭐ 〽), with its skin-tone and
              variation modifiers and any zero-width-joiner sequence; a flag (two regional
              indicators) and a keycap (1️⃣) count as one emoji each
exclamations  exclamation marks: the number of ``!``
============  ===============================================================

Register your own with :func:`register_mediator`; compute pairwise columns with
:func:`compute_mediators`; scale them inside formulas with the stateful
transforms :class:`Scaled`, :class:`DiffOverSum` and :class:`LogRatio`.

Examples
--------
>>> import pandas as pd
>>> frame = pd.DataFrame({"output_model": ["# Title\\n- a\\n- b", "Hi!"],
...                       "output_baseline": ["Plain answer.", "Hi!"]})
>>> compute_mediators(frame, ["length", "lists"])[["length", "lists"]].to_numpy().tolist()
[[2.0, 2.0], [0.0, 0.0]]
"""

from __future__ import annotations

import difflib
import keyword
import math
import numbers
import re
import warnings
from collections.abc import Callable, Iterable, Iterator
from contextvars import ContextVar
from dataclasses import dataclass

import numpy as np
import pandas as pd

from debias.errors import DataWarning, InputError, ParameterError

try:  # pyarrow makes pandas' string methods (and our byte scans) much faster
    import pyarrow as pa
except ImportError:  # pragma: no cover - exercised only without pyarrow
    pa = None

__all__ = [
    "TRANSFORMS",
    "DiffOverSum",
    "LogRatio",
    "Mediator",
    "Scaled",
    "available_mediators",
    "compute_mediators",
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


# ============================================================================ registry
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
        return _evaluate(self, _text_series(texts, "texts"))


_REGISTRY: dict[str, Mediator] = {}
_RESERVED_SUFFIXES = ("_model", "_baseline")
_TRANSFORM_NAMES = ("scaled", "diff_over_sum", "log_ratio")  # the keys of TRANSFORMS
# names that formulas give another meaning (debias.formula): data columns and functions
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
    from debias.formula_check import RESERVED_NAMES  # the formula allow-list (imports us)

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


# ============================================================================ evaluation
def _arrow_string_dtype():
    if pa is None:
        return None
    try:
        return pd.StringDtype("pyarrow", na_value=np.nan)  # pandas >= 2.3 ("str")
    except TypeError:  # pragma: no cover - older pandas
        return pd.StringDtype("pyarrow")


def _is_arrow_string(series: pd.Series) -> bool:
    dtype = series.dtype
    if isinstance(dtype, pd.StringDtype):
        return dtype.storage == "pyarrow"
    if isinstance(dtype, pd.ArrowDtype) and pa is not None:
        return pa.types.is_string(dtype.pyarrow_dtype) or pa.types.is_large_string(
            dtype.pyarrow_dtype
        )
    return False


def _text_series(values: object, what: str) -> pd.Series:
    """Check that ``values`` are all str and return them as a Series on a RangeIndex.

    Arrow-backed strings are used when pyarrow is installed (fast string kernels).
    """
    if isinstance(values, str):
        raise InputError(f"{what}: expected a sequence of texts, got a single str.")
    series = values if isinstance(values, pd.Series) else pd.Series(list(values), dtype=object)
    series = series.reset_index(drop=True)
    if not _is_arrow_string(series):
        obj = series.to_numpy(dtype=object)
        bad = [i for i, v in enumerate(obj) if not isinstance(v, str)]
        if bad:
            raise InputError(
                f"{what}: every output must be a str; position {bad[0]} holds "
                f"{obj[bad[0]]!r} ({len(bad)} such value(s)). Fill missing outputs with '' "
                "(Comparisons does this for you)."
            )
        dtype = _arrow_string_dtype()
        series = pd.Series(obj, dtype=object)
        if dtype is not None:
            try:  # pyarrow converts much faster than pandas' constructor
                series = pd.Series(pd.array(pa.array(obj, type=pa.large_string()), dtype=dtype))
            except Exception:  # e.g. lone surrogates, which UTF-8 cannot encode
                pass
    elif series.isna().any():
        pos = int(np.flatnonzero(series.isna().to_numpy())[0])
        raise InputError(
            f"{what}: every output must be a str; position {pos} is missing. Fill missing "
            "outputs with '' (Comparisons does this for you)."
        )
    return series


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


def _evaluate(mediator: Mediator, texts: pd.Series) -> np.ndarray:
    """Evaluate on a Series of str (RangeIndex); returns finite floats."""
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


def _looks_distinct(column: pd.Series, chunks: list | None) -> bool:
    """Whether (nearly) all texts of a long column differ: a sample, then for arrow data
    a cheap fingerprint of every text (byte length, first and last bytes)."""
    n = len(column)
    sample = column.iloc[np.linspace(0, n - 1, 1000).astype(np.intp)]
    if sample.nunique() < 0.9 * len(sample):
        return False
    if chunks is None:
        return True
    fingerprint = np.concatenate([_fingerprints(c) for c in chunks])
    return len(pd.unique(fingerprint)) >= 0.9 * n


def _distinct(column: pd.Series, what: str) -> tuple[np.ndarray, pd.Series]:
    """Texts to evaluate for a column, and each row's position among them.

    Usually the distinct texts (``pandas.factorize``; for object columns, repeated
    references to one str object are merged first, which avoids hashing long texts over
    and over). When a long column is (nearly) all distinct, as model outputs are,
    hashing every text only to find that out would cost more than it saves: then the
    column itself is returned (each row its own position; the few repeated texts are
    evaluated again, which changes nothing but time).
    """
    n = len(column)
    chunks = _arrow_chunks(column)
    if n >= 10_000 and _looks_distinct(column, chunks):
        return np.arange(n), _text_series(column, what)
    if column.dtype == object:
        values = column.to_numpy()
        ids = np.fromiter(map(id, values), dtype=np.int64, count=n)
        _, first, inverse = np.unique(ids, return_index=True, return_inverse=True)
        codes, uniques = pd.factorize(values[first])
        return codes[inverse.ravel()], _text_series(pd.Series(uniques, dtype=object), what)
    codes, uniques = pd.factorize(column)
    return codes, _text_series(pd.Series(uniques), what)


def _unique_texts(
    model: pd.Series, baseline: pd.Series
) -> tuple[pd.Series, np.ndarray, np.ndarray]:
    """The texts to evaluate, and each row's position among them for both columns."""
    what = "compute_mediators: output_model/output_baseline"
    model_codes, model_texts = _distinct(model, what)
    base_codes, base_texts = _distinct(baseline, what)
    texts = pd.concat([model_texts, base_texts], ignore_index=True)
    return texts, model_codes, len(model_texts) + base_codes


def compute_mediators(frame: pd.DataFrame, names: str | Iterable[str]) -> pd.DataFrame:
    """Pairwise mediator columns for each row of ``frame``.

    Features are computed on distinct texts: each baseline output, repeated across
    models, is evaluated once, and a plain registered function is called exactly once
    per distinct text. When the model outputs are (nearly) all distinct, as on a
    leaderboard, vectorised features run over that column directly instead of hashing
    every text first. A leaderboard of 1,000 models × 805 instructions takes seconds.

    Parameters
    ----------
    frame : pandas.DataFrame
        Has str columns ``output_model`` and ``output_baseline`` (e.g.
        ``Comparisons.data``).
    names : str or iterable of str
        Registered mediator names (see :func:`available_mediators`).

    Returns
    -------
    pandas.DataFrame
        Aligned on ``frame.index``; for each name (in the order given) the float columns
        ``{name}_model``, ``{name}_baseline`` and ``{name}`` = model − baseline.

    Raises
    ------
    ParameterError
        Unknown mediator name.
    InputError
        Missing output columns, outputs that are not str, or a mediator that fails or
        returns something other than a finite number (the first offending text is shown).

    Examples
    --------
    >>> import pandas as pd
    >>> frame = pd.DataFrame({"output_model": ["**Yes!** 😀", "no"],
    ...                       "output_baseline": ["yes", "no"]}, index=["m1", "m2"])
    >>> compute_mediators(frame, ["bold", "emoji", "length"])
        bold_model  bold_baseline  bold  ...  length_model  length_baseline  length
    m1         1.0            0.0   1.0  ...          10.0              3.0     7.0
    m2         0.0            0.0   0.0  ...           2.0              2.0     0.0
    <BLANKLINE>
    [2 rows x 9 columns]
    """
    if not isinstance(frame, pd.DataFrame):
        raise InputError(f"compute_mediators needs a pandas DataFrame, got {type(frame).__name__}.")
    missing = [c for c in ("output_model", "output_baseline") if c not in frame.columns]
    if missing:
        raise InputError(
            f"compute_mediators: missing column(s) {missing}; columns present: "
            f"{list(frame.columns)}."
        )
    if isinstance(names, str):
        names = [names]
    mediators = [get_mediator(n) for n in dict.fromkeys(names)]

    for col in ("output_model", "output_baseline"):
        missing_rows = frame.index[frame[col].isna().to_numpy()]
        if len(missing_rows):
            shown = ", ".join(str(r) for r in missing_rows[:5])
            raise InputError(
                f"compute_mediators: column {col!r} is missing in {len(missing_rows)} row(s) "
                f"({shown}). Fill missing outputs with '' (Comparisons does this for you)."
            )
    texts, model_idx, base_idx = _unique_texts(frame["output_model"], frame["output_baseline"])

    columns: dict[str, np.ndarray] = {}
    token = _CODE_CACHE.set({})
    try:
        for mediator in mediators:
            values = _evaluate(mediator, texts)
            a, b = values[model_idx], values[base_idx]
            columns[f"{mediator.name}_model"] = a
            columns[f"{mediator.name}_baseline"] = b
            columns[mediator.name] = a - b
    finally:
        _CODE_CACHE.reset(token)
    return pd.DataFrame(columns, index=frame.index)


# ============================================================================ built-ins
# The regular expressions below are written so that Python's ``re`` and RE2 (used by
# pandas' arrow-backed string methods) give identical results: explicit character
# classes instead of \s / \d, no ``$``, leftmost-first alternations only.
_LINE_HEADER = r"#{1,6}[ \t]"
_LINE_LIST = r"[ \t]*(?:[-*+]|[0-9]+[.)])[ \t]"
_BOLD_STAR = r"\*\*[^*\n]+\*\*"
_BOLD_UNDER = r"__[^_\n]+__"
_FENCE = r"(?s)```(?:.*?```|.*)"

_HEADER_RE = re.compile("(?m)^" + _LINE_HEADER)
_LIST_RE = re.compile("(?m)^" + _LINE_LIST)
_BOLD_STAR_RE = re.compile(_BOLD_STAR)
_BOLD_UNDER_RE = re.compile(_BOLD_UNDER)
_FENCE_RE = re.compile(_FENCE)


def _class(*spans: tuple[int, int] | int) -> str:
    parts = []
    for span in spans:
        lo, hi = (span, span) if isinstance(span, int) else span
        parts.append(chr(lo) if lo == hi else f"{chr(lo)}-{chr(hi)}")
    return "[" + "".join(parts) + "]"


_EMOJI_BASE = _class(
    (0x231A, 0x231B), 0x2328, 0x23CF, (0x23E9, 0x23F3), (0x23F8, 0x23FA), (0x25FB, 0x25FE),
    (0x2600, 0x27BF), (0x2934, 0x2935), (0x2B05, 0x2B07), (0x2B1B, 0x2B1C), 0x2B50, 0x2B55,
    0x3030, 0x303D, 0x3297, 0x3299, 0x1F004, 0x1F0CF, (0x1F170, 0x1F171), (0x1F17E, 0x1F17F),
    0x1F18E, (0x1F191, 0x1F19A), (0x1F201, 0x1F202), 0x1F21A, 0x1F22F, (0x1F232, 0x1F23A),
    (0x1F250, 0x1F251), (0x1F300, 0x1F3FA), (0x1F400, 0x1F64F), (0x1F680, 0x1F6FF),
    (0x1F7E0, 0x1F7EB), 0x1F7F0, (0x1F90C, 0x1F9FF), (0x1FA70, 0x1FAFF),
)  # fmt: skip
_EMOJI_MOD = _class(0xFE0F, (0x1F3FB, 0x1F3FF), (0xE0020, 0xE007F))
_EMOJI = (
    f"{_class((0x1F1E6, 0x1F1FF))}{{2}}"  # flag: a pair of regional indicators
    f"|[0-9#*]\ufe0f?\u20e3"  # keycap
    f"|{_EMOJI_BASE}{_EMOJI_MOD}*(?:\u200d{_EMOJI_BASE}{_EMOJI_MOD}*)*"
)
_EMOJI_RE = re.compile(_EMOJI)


def _strip_code(text: str) -> str:
    return _FENCE_RE.sub("", text) if "```" in text else text


def _length(text: str) -> int:
    return len(text)


def _words(text: str) -> int:
    return len(text.split())


def _headers(text: str) -> int:
    return len(_HEADER_RE.findall(_strip_code(text)))


def _lists(text: str) -> int:
    return len(_LIST_RE.findall(_strip_code(text)))


def _bold(text: str) -> int:
    stripped = _strip_code(text)
    return len(_BOLD_STAR_RE.findall(stripped)) + len(_BOLD_UNDER_RE.findall(stripped))


def _markdown(text: str) -> int:
    return _headers(text) + _lists(text) + _bold(text)


def _code_blocks(text: str) -> int:
    return len(_FENCE_RE.findall(text))


def _emoji(text: str) -> int:
    return 0 if text.isascii() else len(_EMOJI_RE.findall(text))


def _exclamations(text: str) -> int:
    return text.count("!")


# ----------------------------------------------------------------- vectorised versions
def _floats(result: pd.Series | np.ndarray | list) -> np.ndarray:
    if isinstance(result, pd.Series):
        return result.to_numpy(dtype=float)
    return np.asarray(result, dtype=float)


def _count(texts: pd.Series, pattern: str) -> np.ndarray:
    return _floats(texts.str.count(pattern))


def _count_lines(texts: pd.Series, line_start: str) -> np.ndarray:
    """Count lines that start with ``line_start`` (a literal "\\n" prefix is much faster
    for both regex engines than a multi-line ``^``)."""
    return _count(texts, "\n" + line_start) + _floats(texts.str.match(line_start))


_CODE_CACHE: ContextVar[dict | None] = ContextVar("debias_mediators_code_cache", default=None)


def _code_stripped(texts: pd.Series) -> tuple[np.ndarray, pd.Series]:
    """Which texts contain a fence, and those texts with the fenced blocks removed.

    Cached for the duration of one :func:`compute_mediators` call (headers, lists and
    bold all need it).
    """
    cache = _CODE_CACHE.get()
    if cache is not None and id(texts) in cache and cache[id(texts)][0] is texts:
        return cache[id(texts)][1]
    has_fence = _contains(texts, "```")
    stripped = texts[has_fence].str.replace(_FENCE, "", regex=True)
    result = (has_fence, stripped)
    if cache is not None:
        cache[id(texts)] = (texts, result)
    return result


def _outside_code(texts: pd.Series, counter: Callable[[pd.Series], np.ndarray]) -> np.ndarray:
    out = counter(texts)
    has_fence, stripped = _code_stripped(texts)
    if has_fence.any():
        out[has_fence] = counter(stripped)
    return out


def _v_length(texts: pd.Series) -> np.ndarray:
    return _floats(texts.str.len())


def _v_words(texts: pd.Series) -> np.ndarray:
    chunks = _arrow_chunks(texts)
    if chunks is None:
        return np.fromiter((len(t.split()) for t in texts), dtype=float, count=len(texts))
    return np.concatenate([_arrow_word_counts(c) for c in chunks] or [np.zeros(0)])


def _v_headers(texts: pd.Series) -> np.ndarray:
    return _outside_code(texts, lambda s: _count_lines(s, _LINE_HEADER))


def _v_lists(texts: pd.Series) -> np.ndarray:
    return _outside_code(texts, lambda s: _count_lines(s, _LINE_LIST))


def _v_bold(texts: pd.Series) -> np.ndarray:
    return _outside_code(texts, lambda s: _count(s, _BOLD_STAR) + _count(s, _BOLD_UNDER))


def _v_markdown(texts: pd.Series) -> np.ndarray:
    return _v_headers(texts) + _v_lists(texts) + _v_bold(texts)


def _v_code_blocks(texts: pd.Series) -> np.ndarray:
    out = np.zeros(len(texts))
    has_fence = _contains(texts, "```")
    if has_fence.any():
        out[has_fence] = _count(texts[has_fence], _FENCE)
    return out


def _v_emoji(texts: pd.Series) -> np.ndarray:
    if _arrow_chunks(texts) is not None:
        return _count(texts, _EMOJI)
    return np.fromiter(map(_emoji, texts), dtype=float, count=len(texts))


def _v_exclamations(texts: pd.Series) -> np.ndarray:
    return _count(texts, "!")


_BUILTINS = (  # name, definition, vectorised version, unit, description
    ("length", _length, _v_length, "characters", "characters: len(text)"),
    ("words", _words, _v_words, "words", "whitespace-separated tokens: len(text.split())"),
    ("headers", _headers, _v_headers, "header lines", "markdown header lines (# to ######)"),
    ("lists", _lists, _v_lists, "list items", "markdown list items (-, *, +, 1., 1))"),
    ("bold", _bold, _v_bold, "bold spans", "**bold** and __bold__ spans"),
    ("markdown", _markdown, _v_markdown, "markdown elements", "headers + list items + bold"),
    ("code_blocks", _code_blocks, _v_code_blocks, "code blocks", "fenced ``` code blocks"),
    ("emoji", _emoji, _v_emoji, "emoji", "emoji (a modified or joined sequence counts once)"),
    ("exclamations", _exclamations, _v_exclamations, "exclamation marks", "'!' characters"),
)
for _name, _func, _vec, _unit, _description in _BUILTINS:
    register_mediator(_name, _func, vectorized=_vec, unit=_unit, description=_description)
del _name, _func, _vec, _unit, _description


# ----------------------------------------------------------------- byte scans on arrow data
_BYTE_CHUNK = 1 << 21  # bytes of text per numpy pass (small enough to stay in cache)
# Python's str.split() whitespace, as UTF-8 byte sequences longer than one byte
_WIDE_SPACES = [c.encode() for c in map(chr, range(0x80, 0x3001)) if c.isspace()]


def _arrow_chunks(texts: pd.Series) -> list | None:
    """The arrow arrays behind an arrow-backed string Series without nulls, else None."""
    if pa is None or not _is_arrow_string(texts):
        return None
    data = texts.array.__arrow_array__()
    chunks = data.chunks if isinstance(data, pa.ChunkedArray) else [data]
    if any(c.null_count for c in chunks):
        return None
    return chunks


def _byte_blocks(arr) -> Iterator[tuple[int, int, np.ndarray, np.ndarray, np.ndarray]]:
    """Yield ``(i0, i1, data, starts, ends)`` over consecutive texts of an arrow string
    array: the UTF-8 bytes of texts i0..i1-1 and each text's byte span within ``data``."""
    n = len(arr)
    if n == 0:
        return
    bufs = arr.buffers()
    width = np.int64 if pa.types.is_large_string(arr.type) else np.int32
    offsets = np.frombuffer(bufs[1], dtype=width)[arr.offset : arr.offset + n + 1]
    offsets = offsets.astype(np.int64)
    data = np.frombuffer(bufs[2], dtype=np.uint8) if bufs[2] is not None else np.zeros(0, "u1")
    i0 = 0
    while i0 < n:
        i1 = int(np.searchsorted(offsets, offsets[i0] + _BYTE_CHUNK, side="right")) - 1
        i1 = min(max(i1, i0 + 1), n)
        base = offsets[i0]
        yield (
            i0,
            i1,
            data[base : offsets[i1]],
            offsets[i0:i1] - base,
            offsets[i0 + 1 : i1 + 1] - base,
        )
        i0 = i1


def _sparse_positions(mask: np.ndarray) -> np.ndarray:
    """``np.flatnonzero(mask)`` for a mostly-False mask, faster (scans packed bits)."""
    packed = np.packbits(mask, bitorder="little")
    groups = np.flatnonzero(packed)
    if len(groups) == 0:
        return groups
    pos = (groups[:, None] * 8 + np.arange(8)).ravel()
    pos = pos[pos < len(mask)]
    return pos[mask[pos]]


def _match_bytes(d: np.ndarray, needle: bytes) -> np.ndarray:
    """Start positions of ``needle`` in ``d`` (overlapping occurrences included)."""
    pos = _sparse_positions(d == needle[0])
    pos = pos[pos + len(needle) <= len(d)]
    for k in range(1, len(needle)):
        pos = pos[d[pos + k] == needle[k]]
    return pos


def _prefix_counts(mask: np.ndarray, bounds: np.ndarray) -> np.ndarray:
    """Number of True values in ``mask[:b]`` for each ``b`` in ``bounds``."""
    if not hasattr(np, "bitwise_count"):  # numpy < 2
        return np.searchsorted(np.flatnonzero(mask), bounds)
    packed = np.packbits(mask, bitorder="little")
    packed = np.concatenate([packed, np.zeros(-len(packed) % 8, dtype=np.uint8)])
    blocks = packed.view("<u8")  # bit j of blocks[k] is mask[64 k + j]
    cum = np.zeros(len(blocks) + 1, dtype=np.int64)
    np.cumsum(np.bitwise_count(blocks), out=cum[1:])
    q, r = np.divmod(bounds, 64)
    below = (np.uint64(1) << r.astype(np.uint64)) - np.uint64(1)
    part = np.bitwise_count(blocks[np.minimum(q, len(blocks) - 1)] & below).astype(np.int64)
    return cum[q] + np.where(r == 0, 0, part)


def _arrow_word_counts(arr) -> np.ndarray:
    """``len(text.split())`` for every text of an arrow string array, with numpy."""
    out = np.zeros(len(arr))
    size = _BYTE_CHUNK
    t, ws, tmp = np.empty(size, np.uint8), np.empty(size, bool), np.empty(size, bool)
    for i0, i1, d, starts, ends in _byte_blocks(arr):
        n = len(d)
        if n == 0:
            continue
        if n > size:  # one text longer than a block
            size = n
            t, ws, tmp = np.empty(size, np.uint8), np.empty(size, bool), np.empty(size, bool)
        bt, bws, btmp = t[:n], ws[:n], tmp[:n]
        # str.split() whitespace: \t \n \v \f \r (9-13), \x1c-\x1f and space (28-32) ...
        np.subtract(d, np.uint8(9), out=bt)
        np.less(bt, 5, out=bws)
        np.subtract(bt, np.uint8(19), out=bt)
        np.less(bt, 5, out=btmp)
        np.logical_or(bws, btmp, out=bws)
        # ... and a few multi-byte characters (U+0085, U+00A0, U+2000-U+200A, ...)
        lead = _sparse_positions(np.greater(d, 0xC1, out=btmp))
        if len(lead):
            v = d[lead]
            for seq in _WIDE_SPACES:
                pos = lead[v == seq[0]]
                pos = pos[pos + len(seq) <= n]
                for k in range(1, len(seq)):
                    pos = pos[d[pos + k] == seq[k]]
                for k in range(len(seq)):
                    bws[pos + k] = True
        # a word starts at a non-space byte preceded by a space or by the start of its text
        start = btmp
        start[0] = not bws[0]
        np.greater(bws[:-1], bws[1:], out=start[1:])
        first = starts[starts < ends]
        start[first] = ~bws[first]
        out[i0:i1] = np.diff(_prefix_counts(start, np.append(starts, ends[-1])))
    return out


def _fingerprints(arr) -> np.ndarray:
    """A uint64 per text from its byte length and first and last 8 bytes (equal texts,
    equal fingerprints)."""
    n = len(arr)
    if n == 0:
        return np.zeros(0, dtype=np.uint64)
    bufs = arr.buffers()
    width = np.int64 if pa.types.is_large_string(arr.type) else np.int32
    offsets = np.frombuffer(bufs[1], dtype=width)[arr.offset : arr.offset + n + 1]
    lo, hi = offsets[:-1].astype(np.int64), offsets[1:].astype(np.int64)
    h = (hi - lo).astype(np.uint64)
    data = np.frombuffer(bufs[2], dtype=np.uint8) if bufs[2] is not None else None
    if data is None or len(data) == 0:
        return h
    step = np.arange(8)
    size = (hi - lo)[:, None]
    head = (np.minimum(lo[:, None] + step, len(data) - 1), step < size)
    tail = (np.maximum(hi[:, None] - 8 + step, 0), step >= 8 - size)
    for idx, keep in (head, tail):
        sample = np.where(keep, data[idx], np.uint8(0))
        with np.errstate(over="ignore"):
            h = (h ^ sample.view("<u8")[:, 0]) * np.uint64(0x9E3779B97F4A7C15)
            h ^= h >> np.uint64(29)
    return h


def _contains(texts: pd.Series, needle: str) -> np.ndarray:
    """Boolean mask: which texts contain ``needle``."""
    chunks = _arrow_chunks(texts)
    if chunks is None:
        return np.fromiter((needle in t for t in texts), dtype=bool, count=len(texts))
    raw = needle.encode()
    parts = []
    for arr in chunks:
        mask = np.zeros(len(arr), dtype=bool)
        for i0, _, d, _, ends in _byte_blocks(arr):
            pos = _match_bytes(d, raw)
            which = np.searchsorted(ends, pos, "right")
            inside = pos + len(raw) <= ends[np.minimum(which, len(ends) - 1)]
            mask[i0 + which[inside]] = True
        parts.append(mask)
    return np.concatenate(parts) if parts else np.zeros(0, dtype=bool)


# ============================================================================ transforms
def _as_values(x: object, what: str) -> tuple[np.ndarray, pd.Index | None]:
    """Float values of ``x`` and its group labels (None: one global group).

    A Series' index holds the groups (models) unless it is a RangeIndex or numeric,
    which carry no group information.
    """
    groups = None
    if isinstance(x, pd.DataFrame):
        if x.shape[1] != 1:
            raise InputError(f"{what}: expected one column of numbers, got {x.shape[1]}.")
        x = x.iloc[:, 0]
    if isinstance(x, pd.Series):
        index = x.index
        if not isinstance(index, pd.RangeIndex) and not (
            not isinstance(index, pd.MultiIndex) and pd.api.types.is_numeric_dtype(index.dtype)
        ):
            groups = index
    try:
        if isinstance(x, pd.Series):
            values = x.to_numpy(dtype=float, na_value=np.nan)
        else:
            values = np.asarray(x, dtype=float)
    except (TypeError, ValueError) as exc:
        raise InputError(f"{what}: expected numbers, got values that are not ({exc}).") from None
    if values.ndim == 2 and values.shape[1] == 1:
        values = values[:, 0]
    if values.ndim != 1:
        raise InputError(f"{what}: expected a 1-D array of numbers, got shape {values.shape}.")
    return values, groups


def _wrap(result: np.ndarray, like: object, name: object = None) -> pd.Series | np.ndarray:
    if isinstance(like, pd.Series):
        return pd.Series(result, index=like.index, name=name)
    return result


def _pair(a: object, b: object, what: str) -> tuple[np.ndarray, np.ndarray, pd.Index | None]:
    va, ga = _as_values(a, what)
    vb, gb = _as_values(b, what)
    if va.shape != vb.shape:
        raise InputError(
            f"{what}: the model and baseline values differ in length ({len(va)} vs {len(vb)})."
        )
    if ga is not None and gb is not None and not ga.equals(gb):
        raise InputError(f"{what}: the model and baseline values are not aligned (indexes differ).")
    return va, vb, ga if ga is not None else gb


DOMINANCE_SHARE = 0.01
"""The top share of rows (by squared deviation) whose removal is checked."""

DOMINANCE_RATIO = 2.0
"""Warn when the SD with those rows is more than this many times the SD without them."""


def dominating_rows(values: np.ndarray) -> tuple[int, float, float] | None:
    """Whether a few rows set a sample SD: ``(rows, their share of the variance, SD ratio)``.

    The rows farthest from the mean, up to the top :data:`DOMINANCE_SHARE` of them (at
    least one), are dropped; when the SD of all rows is more than :data:`DOMINANCE_RATIO`
    times the SD without them, those rows dominate the scale (the fewest such rows are
    reported; None otherwise, and below 10 rows).

    Examples
    --------
    >>> x = np.r_[np.linspace(-1.0, 1.0, 99), 1000.0]
    >>> rows, share, ratio = dominating_rows(x)
    >>> rows, round(share, 3), ratio > 2
    (1, 0.99, True)
    >>> dominating_rows(np.linspace(-1.0, 1.0, 100)) is None
    True
    """
    v = np.asarray(values, float)
    v = v[np.isfinite(v)]
    n = len(v)
    if n < 10:
        return None
    top = max(1, math.ceil(DOMINANCE_SHARE * n))
    dev2 = (v - v.mean()) ** 2
    order = np.argsort(dev2)[::-1]
    sd_all = np.std(v, ddof=1)
    if not sd_all > 0:
        return None
    for rows in range(1, top + 1):  # the fewest rows that do it
        sd_rest = np.std(v[order[rows:]], ddof=1)
        if sd_all > DOMINANCE_RATIO * sd_rest:
            share = float(dev2[order[:rows]].sum() / dev2.sum())
            return rows, share, float(sd_all / sd_rest) if sd_rest > 0 else math.inf
    return None


def _warn_if_dominated(values: np.ndarray, label: object, transform: str) -> None:
    found = dominating_rows(values)
    if found is None:
        return
    rows, share, ratio = found
    who = "all rows" if label is None else f"model {label!r}"
    warnings.warn(
        f"{transform}(): for {who}, {rows} of {len(values)} rows carry {share:.0%} of the "
        f"variance, so they set the scale of every other row (the SD is {ratio:.1f}x the SD "
        "without them): the model's controlled score rests on those few rows. Check them "
        "(e.g. an extremely long answer) or drop them.",
        DataWarning,
        stacklevel=4,
    )


class _GroupScale:
    """Per-group sample SD (ddof=1), accumulated over chunks; SD 0 or undefined -> 1."""

    _label = "transform"

    def __init__(self) -> None:
        self._grouped: bool | None = None
        self._stats: dict = {}  # group -> (n, mean, M2)
        self._values: dict = {}  # group -> list of value chunks (for the dominance check)

    def _memorize(self, values: np.ndarray, groups: pd.Index | None) -> None:
        grouped = groups is not None
        if self._grouped is None:
            self._grouped = grouped
        elif self._grouped != grouped:
            raise InputError(
                f"{self._label}: some chunks carry group labels (an index of model names) and "
                "others do not; pass every chunk the same way."
            )
        ok = ~np.isnan(values)
        if grouped:
            codes, labels = pd.factorize(groups[ok], use_na_sentinel=False)
        else:
            codes, labels = np.zeros(int(ok.sum()), dtype=np.intp), [None]
        v = values[ok]
        k = len(labels)
        bounds = np.cumsum(np.bincount(codes, minlength=k))[:-1]
        chunks = np.split(v[np.argsort(codes, kind="stable")], bounds)
        for label, chunk in zip(labels, chunks, strict=True):
            self._values.setdefault(label, []).append(chunk)
        n = np.bincount(codes, minlength=k).astype(float)
        mean = np.bincount(codes, weights=v, minlength=k) / np.maximum(n, 1)
        m2 = np.bincount(codes, weights=(v - mean[codes]) ** 2, minlength=k)
        for label, nb, mb, sb in zip(labels, n, mean, m2, strict=True):
            na, ma, sa = self._stats.get(label, (0.0, 0.0, 0.0))
            tot = na + nb
            delta = mb - ma
            self._stats[label] = (
                tot,
                ma + delta * nb / tot if tot else 0.0,
                sa + sb + delta**2 * na * nb / tot if tot else 0.0,
            )
        # groups whose values are all NaN still count as seen
        if grouped:
            for label in pd.unique(groups[~ok]):
                self._stats.setdefault(label, (0.0, 0.0, 0.0))

    def _finish(self) -> None:
        if self._grouped is None:
            raise InputError(f"{self._label}: nothing was memorized before memorize_finish().")
        labels = list(self._stats)
        sd = np.array(
            [math.sqrt(s / (n - 1)) if n > 1 else math.nan for n, _, s in self._stats.values()]
        )
        sd = np.where(np.isfinite(sd) & (sd > 0), sd, 1.0)
        for label in labels:
            chunks = self._values.get(label, [])
            values = np.concatenate(chunks) if chunks else np.zeros(0)
            _warn_if_dominated(values, label, self._label)
        self._values = {}  # not kept: the scale is all transform() needs
        if self._grouped:
            self.scale_ = pd.Series(sd, index=pd.Index(labels), name="scale")
        else:
            self.scale_ = float(sd[0])
        self.grouped_ = self._grouped

    def _scale_for(self, groups: pd.Index | None) -> np.ndarray | float:
        if not hasattr(self, "scale_"):
            raise InputError(f"{self._label}: transform() called before memorize_finish().")
        if not self.grouped_:
            return self.scale_
        if groups is None:
            raise InputError(
                f"{self._label}: the scale was memorized per group (the index labels, i.e. "
                "models) but the data to transform has no group labels (a plain array or a "
                "RangeIndex). Index it by model."
            )
        pos = self.scale_.index.get_indexer(groups)
        if (pos < 0).any():
            unseen = list(dict.fromkeys(groups[pos < 0]))
            shown = ", ".join(repr(g) for g in unseen[:5])
            more = f" and {len(unseen) - 5} more" if len(unseen) > 5 else ""
            raise InputError(
                f"{self._label}: group(s) {shown}{more} were not seen when the scale was "
                f"memorized (known groups: {len(self.scale_)}); a scale cannot be made up for "
                "a new model. Refit including it."
            )
        return self.scale_.to_numpy()[pos]


class Scaled(_GroupScale):
    """Divide a pairwise difference by its per-group sample SD, without centring.

    A patsy stateful transform (``formula.py`` wraps it with ``patsy.stateful_transform``
    as ``scaled``). Groups are the index labels of the Series it receives (the model of
    each row); a plain array or a RangeIndex / numeric index is one global group. The SD
    is the sample SD (ddof=1) within the group; when it is 0 or undefined (all
    differences equal, or one row) the scale is 1. 0 stays 0.

    With ``x`` the character-length difference (model − baseline) this is the
    reference's ``std_delta_len`` with the opposite sign (the reference uses
    baseline − model; ``tanh`` is odd, so only the coefficient's sign flips).

    Attributes
    ----------
    scale_ : float or pandas.Series
        The SD used per group (a Series indexed by group), or the global one.
    grouped_ : bool
        Whether the statistics are per group.

    Examples
    --------
    >>> import pandas as pd
    >>> x = pd.Series([10.0, -10.0, 0.0, 4.0, 4.0], index=["a", "a", "a", "b", "b"])
    >>> t = Scaled()
    >>> t.memorize_chunk(x)
    >>> t.memorize_finish()
    >>> t.scale_.to_dict()
    {'a': 10.0, 'b': 1.0}
    >>> t.transform(x).tolist()
    [1.0, -1.0, 0.0, 4.0, 4.0]
    """

    _label = "scaled"

    def memorize_chunk(self, x: object) -> None:
        """Accumulate per-group moments of one chunk of ``x``."""
        self._memorize(*_as_values(x, self._label))

    def memorize_finish(self) -> None:
        """Fix the per-group scales."""
        self._finish()

    def transform(self, x: object) -> pd.Series | np.ndarray:
        """``x`` divided by its group's scale (a Series with ``x``'s index for a Series)."""
        values, groups = _as_values(x, self._label)
        return _wrap(values / self._scale_for(groups), x, getattr(x, "name", None))


class DiffOverSum(_GroupScale):
    """Arena's pairwise transform: ``(a − b) / (a + b + 1)``, divided by its per-group SD.

    Called as ``diff_over_sum(a, b)`` with the per-output values ``a`` (model) and
    ``b`` (baseline), both non-negative (counts, lengths). The ratio lies in (−1, 1),
    is 0 when a = b and is nearly invariant to the unit; it is then scaled by its sample
    SD (ddof=1) within each group (index label), not centred, exactly like
    :class:`Scaled`.

    Examples
    --------
    >>> import pandas as pd
    >>> a = pd.Series([3.0, 0.0, 5.0], index=["m", "m", "m"])
    >>> b = pd.Series([1.0, 0.0, 5.0], index=["m", "m", "m"])
    >>> t = DiffOverSum()
    >>> t.memorize_chunk(a, b)
    >>> t.memorize_finish()
    >>> t.transform(a, b).round(4).tolist()
    [1.7321, 0.0, 0.0]
    """

    _label = "diff_over_sum"

    def _ratio(self, a: object, b: object) -> tuple[np.ndarray, pd.Index | None]:
        va, vb, groups = _pair(a, b, self._label)
        if (va < 0).any() or (vb < 0).any():
            raise InputError(
                f"{self._label}: expects non-negative per-output values (counts or lengths); "
                "got negative ones. Pass the model's and the baseline's values, not their "
                "difference."
            )
        return (va - vb) / (va + vb + 1.0), groups

    def memorize_chunk(self, a: object, b: object) -> None:
        """Accumulate per-group moments of the ratio for one chunk."""
        self._memorize(*self._ratio(a, b))

    def memorize_finish(self) -> None:
        """Fix the per-group scales."""
        self._finish()

    def transform(self, a: object, b: object) -> pd.Series | np.ndarray:
        """The scaled ratio (a Series with ``a``'s index when given Series)."""
        ratio, groups = self._ratio(a, b)
        like = a if isinstance(a, pd.Series) else b
        return _wrap(ratio / self._scale_for(groups), like)


class LogRatio:
    """``log((a + 1) / (b + 1))`` of per-output values ``a`` (model) and ``b`` (baseline).

    Stateless, but follows the stateful-transform protocol so that it is used like the
    others (``log_ratio(length_model, length_baseline)`` in a formula). 0 when a = b;
    values must be greater than −1.

    Examples
    --------
    >>> t = LogRatio()
    >>> t.memorize_chunk([3.0], [1.0]); t.memorize_finish()
    >>> t.transform([3.0, 0.0], [1.0, 0.0]).round(4).tolist()
    [0.6931, 0.0]
    """

    _label = "log_ratio"

    def _values(self, a: object, b: object) -> tuple[np.ndarray, np.ndarray]:
        va, vb, _ = _pair(a, b, self._label)
        if (va <= -1).any() or (vb <= -1).any():
            raise InputError(f"{self._label}: values must be greater than -1.")
        return va, vb

    def memorize_chunk(self, a: object, b: object) -> None:
        """Check the values (nothing to remember)."""
        self._values(a, b)

    def memorize_finish(self) -> None:
        """Nothing to do."""

    def transform(self, a: object, b: object) -> pd.Series | np.ndarray:
        """The log-ratio (a Series with ``a``'s index when given Series)."""
        va, vb = self._values(a, b)
        like = a if isinstance(a, pd.Series) else b
        return _wrap(np.log1p(va) - np.log1p(vb), like)


TRANSFORMS: dict[str, type] = {
    "scaled": Scaled,
    "diff_over_sum": DiffOverSum,
    "log_ratio": LogRatio,
}
"""Formula names of the pairwise stateful transforms (wrap with ``patsy.stateful_transform``)."""
