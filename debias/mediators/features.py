"""The built-in per-answer features (see :mod:`debias.mediators` for their definitions).

Each feature has a plain definition (``text -> number``, the reference) and a
vectorised version over a Series of texts (pandas' string methods, or numpy scans over
arrow buffers) that must agree with it. Fenced code blocks are removed before counting
headers, list items and bold spans; within one :func:`fence_cache` block the texts with
their fences removed are computed once and shared by those three features.

Examples
--------
>>> from debias.mediators.registry import get_mediator
>>> get_mediator("headers")("# Title\\n```\\n# not a header\\n```")
1.0
>>> get_mediator("markdown").compute(["- a\\n- b **c**", "plain"]).tolist()
[3.0, 0.0]
"""

from __future__ import annotations

import contextlib
import re
from collections.abc import Callable, Iterator
from contextvars import ContextVar

import numpy as np
import pandas as pd

from debias.mediators.registry import register_mediator
from debias.mediators.texts import arrow_chunks, arrow_word_counts, contains

__all__ = ["fence_cache"]

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


# vectorised versions
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


@contextlib.contextmanager
def fence_cache() -> Iterator[None]:
    """Within this block, each Series of texts has its code fences removed only once.

    :func:`~debias.mediators.compute.compute_mediators` wraps its features in it, as
    ``headers``, ``lists`` and ``bold`` (and ``markdown``, their sum) all strip fences.

    Examples
    --------
    >>> from debias.mediators.registry import get_mediator
    >>> with fence_cache():
    ...     get_mediator("markdown").compute(["# A\\n```\\n- x\\n```"]).tolist()
    [1.0]
    """
    token = _CODE_CACHE.set({})
    try:
        yield
    finally:
        _CODE_CACHE.reset(token)


def _code_stripped(texts: pd.Series) -> tuple[np.ndarray, pd.Series]:
    """Which texts contain a fence, and those texts with the fenced blocks removed.

    Cached for the duration of one :func:`compute_mediators` call (headers, lists and
    bold all need it).
    """
    cache = _CODE_CACHE.get()
    if cache is not None and id(texts) in cache and cache[id(texts)][0] is texts:
        return cache[id(texts)][1]
    has_fence = contains(texts, "```")
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
    chunks = arrow_chunks(texts)
    if chunks is None:
        return np.fromiter((len(t.split()) for t in texts), dtype=float, count=len(texts))
    return np.concatenate([arrow_word_counts(c) for c in chunks] or [np.zeros(0)])


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
    has_fence = contains(texts, "```")
    if has_fence.any():
        out[has_fence] = _count(texts[has_fence], _FENCE)
    return out


def _v_emoji(texts: pd.Series) -> np.ndarray:
    if arrow_chunks(texts) is not None:
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
