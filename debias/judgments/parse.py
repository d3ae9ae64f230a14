"""Verdicts read from a judge's raw text: :func:`parse_verdicts`.

Judges state their verdict inside double brackets, in three conventions:

``kind="pair"``
    ``[[A]]``, ``[[B]]``, ``[[C]]`` (tie): MT-Bench's pairwise prompt. Values are
    ``"A"``, ``"B"``, ``"tie"`` (the labels of :meth:`Scale.win_tie_loss`).
    ``[[D]]`` ("both bad", from the four-option prompts Position-Bias-Analyzer's
    extraction also accepts) is a verdict that prefers neither answer: it reads
    as ``"tie"``, counted apart under ``D`` in :attr:`ParsedVerdicts.counts` and
    kept in :attr:`ParsedVerdicts.tokens`. (PBA's win rates count a ``D`` call with
    neither a win nor a tie for either model, which no P(A preferred) expresses;
    its MT-Bench prompt allows only A, B, C, and no published text holds a D.)
``kind="pair5"``
    Arena-Hard's five levels ``[[A>>B]]``, ``[[A>B]]``, ``[[A=B]]``, ``[[B>A]]``,
    ``[[B>>A]]``, and the variants that say the same from B's side (``[[A<B]]``
    = ``B>A``, ``[[B<<A]]`` = ``A>>B``, ``[[B=A]]`` = ``A=B``; spaces allowed).
    Values are the five labels of :meth:`Scale.arena_hard`.
``kind="rating"``
    ``Rating: [[7]]`` or ``[[7.5]]`` (MT-Bench and Arena-Bench single grading, as
    FastChat's ``\\[\\[(\\d+\\.?\\d*)\\]\\]``). Values are floats.

``match`` picks the verdict when a text holds several: ``"first"`` (what
Position-Bias-Analyzer and FastChat's rating parser do), ``"last"`` (the final
verdict after a discussion), or ``"unique"`` (Arena-Hard: all verdicts found
must agree, otherwise none). A text without a verdict keeps its row with value
NaN; the calls without a verdict are counted and reported in one warning with
examples, never dropped.

Custom patterns (``patterns=``) are data, not code: at most
:data:`MAX_PATTERNS` regular expressions of at most :data:`MAX_PATTERN_CHARS`
characters, each with one capture group holding the verdict. Constructs that can
take exponential time (a repeat inside a repeat, a repeated alternation,
back-references, look-arounds) are refused. So is a pattern that can be tried
more than :data:`MAX_PATTERN_COST` ways at one position of the text (its repeats'
ranges and alternatives multiplied): Python's regex search costs the text's
length times that number, and an unbounded repeat makes it quadratic
(``(\\d+)x`` takes 5 s on 20,000 digits, 2 minutes on 100,000). Write bounded
repeats (``\\s{0,10}``, ``[^\\n]{0,100}`` instead of ``\\s*``, ``.*``). Texts
longer than ``max_chars`` are not searched (counted as ``too_long``).
"""

from __future__ import annotations

import math
import re
import warnings
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

# The stdlib's own regex parser (Python >= 3.11) gives the pattern's tree, so
# nested repeats are found exactly rather than guessed from the text.
from re import _parser as sre_parse
from re._constants import (
    ASSERT,
    ASSERT_NOT,
    ATOMIC_GROUP,
    BRANCH,
    GROUPREF,
    GROUPREF_EXISTS,
    MAX_REPEAT,
    MIN_REPEAT,
    POSSESSIVE_REPEAT,
    SUBPATTERN,
)

import numpy as np
import pandas as pd

from debias.errors import DataWarning, InputError, ParameterError, row_list
from debias.judgments.scale import Scale

KINDS: tuple[str, ...] = ("pair", "pair5", "rating")
MATCHES: tuple[str, ...] = ("first", "last", "unique")
#: Limits on user patterns: how many, how long each.
MAX_PATTERNS = 10
MAX_PATTERN_CHARS = 300
#: The most ways a user pattern may be tried at one position (bounded repeats only).
MAX_PATTERN_COST = 200
#: Texts longer than this are not searched (a judgment is a few thousand characters).
DEFAULT_MAX_CHARS = 100_000
#: Reasons a row has no verdict, as keys of :attr:`ParsedVerdicts.counts`.
REASONS: tuple[str, ...] = ("no_verdict", "conflicting", "too_long", "missing_text")

_PAIR = re.compile(r"\[\[\s*([ABCD])\s*\]\]")
_PAIR5 = re.compile(r"\[\[\s*([AB])\s*(>>|<<|>|<|=)\s*([AB])\s*\]\]")
_RATING = re.compile(r"\[\[\s*(\d+(?:\.\d*)?)\s*\]\]")
_PAIR_LABELS = {"A": "A", "B": "B", "C": "tie", "D": "tie", "TIE": "tie"}
_LEVELS = ("A>>B", "A>B", "A=B", "B>A", "B>>A")
# an operator read from A's side -> level; from B's side the operator is mirrored
_FROM_A = {">>": "A>>B", ">": "A>B", "=": "A=B", "<": "B>A", "<<": "B>>A"}
_MIRROR = {">>": "<<", ">": "<", "=": "=", "<": ">", "<<": ">>"}
_SPACES = re.compile(r"\s+")
_EXAMPLES = 3
_EXAMPLE_CHARS = 80


@dataclass(frozen=True)
class ParsedVerdicts:
    """Verdicts read from judge texts, one per text, in the input's order.

    Attributes
    ----------
    values : pandas.Series
        The verdict: a label (``pair``: ``A``/``tie``/``B``; ``pair5``: Arena-Hard's
        five levels) or a float (``rating``); NaN where none was read.
    tokens : pandas.Series
        What stood inside the brackets (``"C"``, ``"D"``, ``"A<B"``, ``"7.5"``),
        None where no verdict was read: the raw token, for rules that tell
        ``[[C]]`` from ``[[D]]``.
    unparsed : numpy.ndarray
        Boolean mask of the texts without a verdict.
    reasons : pandas.Series
        Why a text has no verdict (one of :data:`REASONS`), None otherwise.
    counts : dict
        Texts per value label (``D`` apart for ``pair``) and per reason.
    kind, match : str
    examples : tuple of str
        The start of a few texts without a verdict (for the warning).

    Examples
    --------
    >>> p = parse_verdicts(["I pick [[A]].", "Tie: [[C]]", "no idea"], warn=False)
    >>> p.values.tolist()
    ['A', 'tie', nan]
    >>> p.n_unparsed, p.counts["no_verdict"]
    (1, 1)
    """

    values: pd.Series
    tokens: pd.Series
    unparsed: np.ndarray
    reasons: pd.Series
    counts: dict[str, int]
    kind: str
    match: str
    examples: tuple[str, ...] = field(default=())

    @property
    def n_unparsed(self) -> int:
        """Texts without a verdict."""
        return int(self.unparsed.sum())

    def scale(self, low: float = 1.0, high: float = 10.0) -> Scale:
        """The :class:`Scale` the values are on (``low``/``high``: the rating's range).

        Examples
        --------
        >>> parse_verdicts(["[[A>>B]]"], kind="pair5").scale().labels[0]
        'A>>B'
        """
        if self.kind == "pair":
            return Scale.win_tie_loss()
        if self.kind == "pair5":
            return Scale.arena_hard()
        return Scale.grade(low, high)

    def summary(self) -> str:
        """One line: how many texts, how many without a verdict and why."""
        n = len(self.values)
        parts = [f"{self.counts[r]} {r.replace('_', ' ')}" for r in REASONS if self.counts.get(r)]
        why = f" ({', '.join(parts)})" if parts else ""
        return f"{n} texts, {self.n_unparsed} without a {self.kind} verdict{why}"


def parse_verdicts(
    texts: Iterable[str | None] | pd.Series,
    *,
    kind: str = "pair",
    match: str = "first",
    patterns: str | Sequence[str] | None = None,
    max_chars: int = DEFAULT_MAX_CHARS,
    source: str = "judge texts",
    warn: bool = True,
) -> ParsedVerdicts:
    """Read one verdict from each judge text.

    Parameters
    ----------
    texts : iterable of str, or pandas.Series
        The judge's raw outputs; None/NaN counts as a missing text. A Series keeps
        its index in the results.
    kind : {"pair", "pair5", "rating"}
        The convention (see the module docstring).
    match : {"first", "last", "unique"}
        Which verdict to keep when a text holds several: the first, the last, or
        one only if all agree (Arena-Hard's rule).
    patterns : str or sequence of str, optional
        Your own regular expressions, each with one capture group (or a group
        named ``verdict``) holding the verdict, e.g. ``r"Verdict: (A|B|tie)"``;
        they replace the built-in pattern. The captured text is read as the
        ``kind`` reads it (``A``/``B``/``C``/``D``/``tie``; a level such as ``A>B``;
        a number). Matches of all patterns are ordered by position in the text.
    max_chars : int
        Longer texts are not searched and count as ``too_long`` (bounds time and
        memory whatever the pattern).
    source : str
        Named in the warning (a file name).
    warn : bool
        Emit one :class:`~debias.errors.DataWarning` counting the texts without a
        verdict (with examples) when there are any.

    Returns
    -------
    ParsedVerdicts

    Raises
    ------
    ParameterError
        Unknown ``kind``/``match``, bad ``max_chars``, or a pattern that is too long,
        does not compile, lacks a capture group or may take exponential time.
    InputError
        A text that is not a string (named by row).

    Examples
    --------
    >>> parse_verdicts(["Rating: [[7]]", "[[8.5]] then [[9]]"], kind="rating",
    ...                match="last").values.tolist()
    [7.0, 9.0]
    >>> parse_verdicts(["[[B<A]]", "[[A>B]] or [[B>A]]"], kind="pair5",
    ...                match="unique", warn=False).values.tolist()
    ['A>B', nan]
    >>> parse_verdicts(["Verdict: tie"], patterns=r"Verdict: (A|B|tie)").values.tolist()
    ['tie']
    """
    if kind not in KINDS:
        raise ParameterError(f"The 'kind' parameter must be one of {list(KINDS)}. Got {kind!r}.")
    if match not in MATCHES:
        raise ParameterError(
            f"The 'match' parameter must be one of {list(MATCHES)}. Got {match!r}."
        )
    if isinstance(max_chars, bool) or not isinstance(max_chars, (int, np.integer)) or max_chars < 1:
        raise ParameterError(
            f"The 'max_chars' parameter must be a positive int. Got {max_chars!r} instead."
        )
    series = (
        texts.reset_index(drop=True)
        if isinstance(texts, pd.Series)
        else pd.Series(list(texts), dtype=object)
    )
    index = texts.index if isinstance(texts, pd.Series) else series.index
    compiled = _builtin(kind) if patterns is None else compile_patterns(patterns)

    n = len(series)
    tokens: list[str | None] = [None] * n
    values: list = [np.nan] * n
    reasons: list[str | None] = [None] * n
    bad_type = []
    for i, text in enumerate(series.to_numpy(dtype=object)):
        if text is None or (isinstance(text, float) and np.isnan(text)):
            reasons[i] = "missing_text"
            continue
        if not isinstance(text, str):
            bad_type.append(i)
            continue
        if len(text) > max_chars:
            reasons[i] = "too_long"
            continue
        found = _find(text, compiled, kind)
        if not found:
            reasons[i] = "no_verdict"
            continue
        if match == "unique" and len({v for _, v in found}) > 1:
            reasons[i] = "conflicting"
            continue
        token, value = found[0] if match != "last" else found[-1]
        tokens[i], values[i] = token, value
    if bad_type:
        example = series.iloc[bad_type[0]]
        raise InputError(
            f"{source}: judge text is a {type(example).__name__}, not a string, in row(s) "
            f"{row_list(index[bad_type])}; pass the judge's raw output texts."
        )

    unparsed = np.array([r is not None for r in reasons], dtype=bool)
    value_series = pd.Series(values, index=index, dtype=float if kind == "rating" else object)
    token_series = pd.Series(tokens, index=index, dtype=object)
    reason_series = pd.Series(reasons, index=index, dtype=object)
    counts = _counts(token_series, value_series, reason_series, kind)
    examples = tuple(_shorten(series.iloc[i]) for i in np.flatnonzero(unparsed)[:_EXAMPLES])
    parsed = ParsedVerdicts(
        value_series, token_series, unparsed, reason_series, counts, kind, match, examples
    )
    if warn and parsed.n_unparsed:
        shown = "; ".join(repr(e) for e in examples)
        warnings.warn(
            f"{source}: {parsed.summary()}; those rows are kept with verdict NaN (counted, "
            f"left out of fits). Examples: {shown}. Pass patterns= if the judge wrote its "
            "verdict another way.",
            DataWarning,
            stacklevel=2,
        )
    d_count = counts.get("D", 0)
    if warn and d_count:
        warnings.warn(
            f"{source}: {d_count} verdict(s) [[D]] ('both bad') read as ties: they prefer "
            "neither answer (tokens keep the D).",
            DataWarning,
            stacklevel=2,
        )
    return parsed


def compile_patterns(patterns: str | Sequence[str]) -> list[re.Pattern]:
    """Check and compile user patterns (data, not code): see the module docstring.

    Examples
    --------
    >>> [p.pattern for p in compile_patterns(r"Final: (A|B)")]
    ['Final: (A|B)']
    >>> compile_patterns(r"(a+)+b")
    Traceback (most recent call last):
    ...
    debias.errors.ParameterError: patterns= '(a+)+b': a repeat inside a repeat can take exponential time; write it without nesting (e.g. 'a+b').
    """
    items = [patterns] if isinstance(patterns, str) else list(patterns)
    if not items or len(items) > MAX_PATTERNS:
        raise ParameterError(
            f"patterns= must hold 1 to {MAX_PATTERNS} regular expressions; got {len(items)}."
        )
    out = []
    for p in items:
        if not isinstance(p, str) or not p:
            raise ParameterError(f"patterns= must be non-empty strings; got {p!r}.")
        if len(p) > MAX_PATTERN_CHARS:
            raise ParameterError(
                f"patterns= {p[:40]!r}...: {len(p)} characters, more than the "
                f"{MAX_PATTERN_CHARS} allowed."
            )
        try:
            tree = sre_parse.parse(p)
            compiled = re.compile(p)
        except (re.error, OverflowError, RecursionError) as exc:
            raise ParameterError(
                f"patterns= {p!r} is not a valid regular expression ({exc})."
            ) from None
        problem = _risky(tree, inside_repeat=False)
        if problem:
            raise ParameterError(f"patterns= {p!r}: {problem}.")
        cost = _cost(tree)
        if cost > MAX_PATTERN_COST:
            ways = "unboundedly many" if math.isinf(cost) else f"{cost:,.0f}"
            raise ParameterError(
                f"patterns= {p!r} can be tried {ways} ways at each position of a text (at most "
                f"{MAX_PATTERN_COST}): bound every repeat tightly (e.g. \\s{{0,10}} or "
                "[^\\n]{0,100} instead of \\s* or .*) so the search time stays bounded."
            )
        if compiled.groups < 1:
            raise ParameterError(
                f"patterns= {p!r} has no capture group; put the verdict in one, e.g. "
                "r'Verdict: (A|B|tie)'."
            )
        out.append(compiled)
    return out


def _risky(tree, inside_repeat: bool) -> str | None:
    """Why a parsed pattern may backtrack exponentially, or None."""
    for op, arg in tree:
        if op in (GROUPREF, GROUPREF_EXISTS):
            return "back-references are not allowed (they can take exponential time)"
        if op in (ASSERT, ASSERT_NOT):
            return "look-arounds are not allowed; match the verdict text itself"
        if op in (MAX_REPEAT, MIN_REPEAT, POSSESSIVE_REPEAT):
            low, high, body = arg
            repeats = high is sre_parse.MAXREPEAT or high > 1
            if repeats and inside_repeat:
                return (
                    "a repeat inside a repeat can take exponential time; write it without "
                    "nesting (e.g. 'a+b')"
                )
            if repeats and any(o == BRANCH for o, _ in _flatten(body)):
                return "a repeated alternation can take exponential time; repeat a class instead"
            problem = _risky(body, inside_repeat or repeats)
            if problem:
                return problem
        elif op in (SUBPATTERN, ATOMIC_GROUP):
            problem = _risky(arg if op == ATOMIC_GROUP else arg[-1], inside_repeat)
            if problem:
                return problem
        elif op == BRANCH:
            for branch in arg[1]:
                problem = _risky(branch, inside_repeat)
                if problem:
                    return problem
    return None


def _cost(tree) -> float:
    """Ways a pattern without nested repeats can be tried at one position: the
    product of its repeats' ranges (inf when unbounded) and of its alternatives."""
    total = 1.0
    for op, arg in tree:
        if op in (MAX_REPEAT, MIN_REPEAT, POSSESSIVE_REPEAT):
            low, high, body = arg
            ways = math.inf if high is sre_parse.MAXREPEAT else high - low + 1
            total *= ways * _cost(body)
        elif op in (SUBPATTERN, ATOMIC_GROUP):
            total *= _cost(arg if op == ATOMIC_GROUP else arg[-1])
        elif op == BRANCH:
            total *= sum(_cost(branch) for branch in arg[1])
    return total


def _flatten(tree):
    """Every (op, arg) of a parsed pattern, groups opened."""
    for op, arg in tree:
        yield op, arg
        if op in (SUBPATTERN, ATOMIC_GROUP):
            yield from _flatten(arg if op == ATOMIC_GROUP else arg[-1])
        elif op in (MAX_REPEAT, MIN_REPEAT, POSSESSIVE_REPEAT):
            yield from _flatten(arg[2])


def _builtin(kind: str) -> list[re.Pattern]:
    return [{"pair": _PAIR, "pair5": _PAIR5, "rating": _RATING}[kind]]


def _find(text: str, compiled: list[re.Pattern], kind: str) -> list[tuple[str, object]]:
    """(token, value) of every recognised verdict, in order of position in the text."""
    found = []
    for pattern in compiled:
        for m in pattern.finditer(text):
            token = _token(m, kind, builtin=pattern in (_PAIR, _PAIR5, _RATING))
            value = _read(token, kind)
            if value is not None:
                found.append((m.start(), token, value))
    found.sort(key=lambda t: t[0])
    return [(token, value) for _, token, value in found]


def _token(m: re.Match, kind: str, builtin: bool) -> str:
    if builtin and kind == "pair5":
        return "".join(m.groups())
    if "verdict" in m.re.groupindex:
        return m.group("verdict") or ""
    return next((g for g in m.groups() if g is not None), "")


def _read(token: str, kind: str):
    """The value of a captured token, or None when it is not a verdict of ``kind``."""
    t = _SPACES.sub("", token)
    if kind == "rating":
        try:
            value = float(t)
        except ValueError:
            return None
        return value if np.isfinite(value) else None
    if kind == "pair":
        return _PAIR_LABELS.get(t.upper())
    m = re.fullmatch(r"([AB])(>>|<<|>|<|=)([AB])", t.upper())
    if not m or m.group(1) == m.group(3):
        return None
    first, op, _ = m.groups()
    return _FROM_A[op if first == "A" else _MIRROR[op]]


def _counts(tokens: pd.Series, values: pd.Series, reasons: pd.Series, kind: str) -> dict:
    counts: dict[str, int] = {}
    labels = ("A", "tie", "B") if kind == "pair" else _LEVELS if kind == "pair5" else ()
    for label in labels:
        counts[label] = int((values == label).sum())
    if kind == "pair":
        counts["D"] = int((tokens.str.upper().str.strip() == "D").sum())
    if kind == "rating":
        counts["rated"] = int(values.notna().sum())
    for reason in REASONS:
        counts[reason] = int((reasons == reason).sum())
    return counts


def _shorten(text) -> str:
    text = "" if not isinstance(text, str) else " ".join(text.split())
    return text if len(text) <= _EXAMPLE_CHARS else text[: _EXAMPLE_CHARS - 3] + "..."
