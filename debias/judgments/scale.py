"""The scale a judge gives its verdict on: :class:`Scale`.

Four kinds of verdict occur in published judge set-ups:

``probability``
    A soft preference, P(answer A preferred) in [0, 1] (AlpacaEval's weighted
    annotators; 0.5 = tie).
``win_tie_loss``
    A hard verdict with ties (MT-Bench's ``[[A]]`` / ``[[C]]`` / ``[[B]]``).
``levels``
    Ordered levels from "A much better" to "B much better" (Arena-Hard's
    ``A>>B, A>B, A=B, B>A, B>>A``).
``grade``
    A numeric grade on a closed range (1–10 in MT-Bench single-answer grading and
    the Vicuna reviews, which grade both answers of a pair).

A :class:`Scale` turns the user's verdicts into stored numbers (:meth:`Scale.encode`)
and those into an outcome for answer A in [0, 1] (:meth:`Scale.outcome`), the
number any-pair battles consume.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from debias.errors import InputError, ParameterError, row_list

KINDS: tuple[str, ...] = ("probability", "win_tie_loss", "levels", "grade")
_TOL = 1e-9


@dataclass(frozen=True)
class Scale:
    """How one judge states its verdict.

    Build it with a constructor: :meth:`probability`, :meth:`win_tie_loss`,
    :meth:`levels`, :meth:`grade` or the preset :meth:`arena_hard`.

    Attributes
    ----------
    kind : {"probability", "win_tie_loss", "levels", "grade"}
    labels : tuple of str
        Ordered verdict labels, first = answer A best (``levels`` and
        ``win_tie_loss``); empty otherwise.
    outcomes : tuple of float
        Outcome for answer A in [0, 1] of each label.
    weights : tuple of float
        Weight of each label in battles (Arena-Hard counts strong verdicts 3 times).
    low, high : float
        The range of verdicts (grades: the judge's range, e.g. 1 and 10).

    Examples
    --------
    >>> s = Scale.levels(["A>>B", "A>B", "A=B", "B>A", "B>>A"])
    >>> s.encode(pd.Series(["A>B", "B>>A"])).tolist()
    [1.0, 4.0]
    >>> s.outcome(s.encode(pd.Series(["A>B", "B>>A"]))).tolist()
    [0.75, 0.0]
    """

    kind: str
    labels: tuple[str, ...] = ()
    outcomes: tuple[float, ...] = ()
    weights: tuple[float, ...] = ()
    low: float = 0.0
    high: float = 1.0

    # ------------------------------------------------------------ constructors
    @classmethod
    def probability(cls) -> Scale:
        """P(answer A preferred) in [0, 1].

        Examples
        --------
        >>> Scale.probability().kind
        'probability'
        """
        return cls("probability")

    @classmethod
    def win_tie_loss(cls, labels: Sequence[str] = ("A", "tie", "B")) -> Scale:
        """A hard verdict: A wins, tie, B wins (labels in that order).

        The numbers 1 / 0.5 / 0 are accepted too.

        Examples
        --------
        >>> Scale.win_tie_loss(["[[A]]", "[[C]]", "[[B]]"]).outcomes
        (1.0, 0.5, 0.0)
        """
        labels = _check_labels(labels, "win_tie_loss")
        if len(labels) != 3:
            raise ParameterError(
                "Scale.win_tie_loss needs three labels (A wins, tie, B wins); "
                f"got {len(labels)}: {list(labels)}."
            )
        return cls("win_tie_loss", labels, (1.0, 0.5, 0.0), (1.0, 1.0, 1.0))

    @classmethod
    def levels(
        cls,
        labels: Sequence[str],
        outcomes: Sequence[float] | None = None,
        weights: Sequence[float] | None = None,
    ) -> Scale:
        """Ordered levels, the first meaning "A much better", the last "B much better".

        Parameters
        ----------
        labels : sequence of str
            At least two distinct labels.
        outcomes : sequence of float, optional
            Outcome for A in [0, 1] of each level, non-increasing; evenly spaced
            from 1 to 0 by default.
        weights : sequence of float, optional
            Positive weight of each level in battles; 1 by default.

        Examples
        --------
        >>> Scale.levels(["A", "=", "B"]).outcomes
        (1.0, 0.5, 0.0)
        """
        labels = _check_labels(labels, "levels")
        k = len(labels)
        out = np.linspace(1.0, 0.0, k) if outcomes is None else np.asarray(outcomes, float)
        w = np.ones(k) if weights is None else np.asarray(weights, float)
        for name, arr in (("outcomes", out), ("weights", w)):
            if arr.shape != (k,):
                raise ParameterError(
                    f"Scale.levels: {name}= needs one value per label ({k}); got {arr.size}."
                )
        if not (np.all((out >= 0) & (out <= 1)) and np.all(np.diff(out) <= 0)):
            raise ParameterError(
                f"Scale.levels: outcomes= must lie in [0, 1] and not increase from the first "
                f"label (A best) to the last; got {out.tolist()}."
            )
        if not np.all(np.isfinite(w) & (w > 0)):
            raise ParameterError(f"Scale.levels: weights= must be positive; got {w.tolist()}.")
        return cls("levels", labels, tuple(map(float, out)), tuple(map(float, w)))

    @classmethod
    def arena_hard(cls) -> Scale:
        """Arena-Hard's five levels as its leaderboard counts them.

        ``A>>B`` and ``A>B`` are wins for A, ``A=B`` a tie, strong verdicts
        (``>>``) weigh 3.

        Examples
        --------
        >>> Scale.arena_hard().weights
        (3.0, 1.0, 1.0, 1.0, 3.0)
        """
        return cls.levels(["A>>B", "A>B", "A=B", "B>A", "B>>A"], [1, 1, 0.5, 0, 0], [3, 1, 1, 1, 3])

    @classmethod
    def grade(cls, low: float = 1.0, high: float = 10.0) -> Scale:
        """A numeric grade in ``[low, high]`` (each answer graded on its own).

        Examples
        --------
        >>> Scale.grade(1, 10).high
        10.0
        """
        ok = all(
            isinstance(v, (int, float, np.integer, np.floating)) and not isinstance(v, bool)
            for v in (low, high)
        )
        if not ok or not (np.isfinite(low) and np.isfinite(high) and low < high):
            raise ParameterError(
                f"Scale.grade needs two finite numbers low < high; got low={low!r}, high={high!r}."
            )
        return cls("grade", low=float(low), high=float(high))

    # ------------------------------------------------------------ conversions
    def describe(self) -> str:
        """One phrase for messages, e.g. ``"levels A>>B, A>B, A=B, B>A, B>>A"``."""
        if self.kind == "probability":
            return "probability in [0, 1]"
        if self.kind == "grade":
            return f"grade in [{self.low:g}, {self.high:g}]"
        return f"{self.kind} {', '.join(self.labels)}"

    def encode(self, raw: pd.Series, *, column: str = "verdict", source: str = "data") -> pd.Series:
        """Check the verdicts and return their stored numbers (float, NaN = no verdict).

        ``probability`` and ``grade`` keep the number; ``win_tie_loss`` and
        ``levels`` store the label's position (0 = first label). Numbers are
        accepted for labels of ``win_tie_loss`` (1, 0.5, 0).

        Raises
        ------
        InputError
            Booleans, text that is not a number or a label, values out of range,
            each naming the rows.
        """
        bad = raw.map(lambda v: isinstance(v, (bool, np.bool_)))
        if raw.dtype == bool or bad.any():
            raise InputError(
                f"{source}: {column} is a boolean in row(s) {row_list(raw.index[bad.to_numpy()])}; "
                f"booleans are ambiguous: write verdicts on the {self.describe()} scale."
            )
        if self.kind in ("win_tie_loss", "levels"):
            return self._encode_labels(raw, column, source)
        values = pd.to_numeric(raw, errors="coerce").astype(float)
        blank = raw.isna() | (raw.astype(str).str.strip() == "")
        unparsable = values.isna() & ~blank
        if unparsable.any():
            rows = raw.index[unparsable.to_numpy()]
            raise InputError(
                f"{source}: {column} is not a number in row(s) {row_list(rows)} "
                f"(e.g. {raw[unparsable].iloc[0]!r}); the scale is {self.describe()}."
            )
        out_of_range = values.notna() & (
            (values < self.low - _TOL) | (values > self.high + _TOL) | ~np.isfinite(values)
        )
        if out_of_range.any():
            rows = values.index[out_of_range.to_numpy()]
            raise InputError(
                f"{source}: {column} out of range [{self.low:g}, {self.high:g}] in row(s) "
                f"{row_list(rows)} (e.g. {values[out_of_range].iloc[0]!r}); fix those rows or "
                "declare the judge's scale (scale=Scale.grade(low, high) / Scale.probability())."
            )
        return values.clip(self.low, self.high)

    def _encode_labels(self, raw: pd.Series, column: str, source: str) -> pd.Series:
        codes = {label: float(i) for i, label in enumerate(self.labels)}
        codes.update({label.lower(): float(i) for i, label in enumerate(self.labels)})
        if self.kind == "win_tie_loss":
            codes.update({1.0: 0.0, 0.5: 1.0, 0.0: 2.0})

        def code(v):
            if v is None or (isinstance(v, float) and np.isnan(v)):
                return np.nan
            key = v.strip() if isinstance(v, str) else v
            if isinstance(key, str) and key not in codes:
                key = key.lower()
            if isinstance(key, (int, float, np.integer, np.floating)):
                key = float(key)
            return codes.get(key, -1.0)

        out = raw.map(code).astype(float)
        bad = out == -1.0
        if bad.any():
            rows = raw.index[bad.to_numpy()]
            raise InputError(
                f"{source}: {column} {raw[bad].iloc[0]!r} in row(s) {row_list(rows)} is not one of "
                f"the scale's labels {list(self.labels)}; map the judge's verdicts to them."
            )
        return out

    def outcome(self, stored: np.ndarray | pd.Series) -> np.ndarray:
        """Outcome for answer A in [0, 1] of stored verdicts (not for grades).

        Examples
        --------
        >>> Scale.win_tie_loss().outcome(np.array([0.0, 1.0, 2.0])).tolist()
        [1.0, 0.5, 0.0]
        """
        values = np.asarray(stored, dtype=float)
        if self.kind == "probability":
            return values
        if self.kind == "grade":
            raise ParameterError("A grade is not an outcome: compare two grades (battles()).")
        return _lookup(values, self.outcomes)

    def weight(self, stored: np.ndarray | pd.Series) -> np.ndarray:
        """Battle weight of each stored verdict (1 except for weighted levels)."""
        values = np.asarray(stored, dtype=float)
        if self.kind in ("probability", "grade"):
            return np.ones_like(values)
        return _lookup(values, self.weights)

    def label(self, stored: np.ndarray | pd.Series) -> pd.Categorical | np.ndarray:
        """The user's verdicts back: labels (ordered Categorical) or numbers."""
        values = np.asarray(stored, dtype=float)
        if self.kind in ("probability", "grade"):
            return values
        codes = np.where(np.isnan(values), -1, values).astype(int)
        return pd.Categorical.from_codes(codes, categories=list(self.labels), ordered=True)


def _lookup(values: np.ndarray, table: tuple[float, ...]) -> np.ndarray:
    out = np.full(values.shape, np.nan)
    ok = ~np.isnan(values)
    out[ok] = np.asarray(table)[values[ok].astype(int)]
    return out


def _check_labels(labels: Sequence[str], name: str) -> tuple[str, ...]:
    if isinstance(labels, str) or not all(isinstance(v, str) and v.strip() for v in labels):
        raise ParameterError(
            f"Scale.{name}: labels= must be a list of non-empty strings; got {labels!r}."
        )
    labels = tuple(v.strip() for v in labels)
    if len(labels) < 2 or len(set(labels)) != len(labels):
        raise ParameterError(
            f"Scale.{name}: labels= must be 2 or more distinct strings; got {list(labels)}."
        )
    return labels
