"""Small side tables (difficulty, df_gamed) read and checked with one-line errors.

A value that is text, infinite, missing or duplicated where a number or a key is
expected is refused with the file, the line and the column named: such a file
would otherwise move every controlled win rate without a word.
"""

from __future__ import annotations

import io
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pandas as pd

from debias.errors import InputError
from debias.io.safe_read import first_line, read_bytes


def _lines(index: Sequence[int], source, limit: int = 5) -> str:
    """'line(s) 3, 5' of a CSV file (a Path: the header is line 1), else 'row(s) 1, 3'."""
    is_file = isinstance(source, Path)
    rows = [int(i) + (2 if is_file else 0) for i in index]
    shown = ", ".join(map(str, rows[:limit]))
    more = f" and {len(rows) - limit} more" if len(rows) > limit else ""
    return f"{'line' if is_file else 'row'}(s) {shown}{more}"


def read_csv(path: str | Path, what: str) -> pd.DataFrame:
    """Read a small CSV (bounded), refusing an empty or header-only file in one line.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> f = pathlib.Path(tempfile.mkdtemp()) / "d.csv"
    >>> _ = f.write_text("instruction,difficulty\\n")
    >>> read_csv(f, "difficulty file")
    Traceback (most recent call last):
    ...
    debias.errors.InputError: ...d.csv: the difficulty file has a header but no rows (columns: ['instruction', 'difficulty']).
    """
    p = Path(path)
    data = read_bytes(p, what=what)
    if not data.strip():
        raise InputError(f"{p}: the {what} is empty (no header, no rows).")
    try:
        frame = pd.read_csv(io.BytesIO(data))
    except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError, ValueError) as exc:
        raise InputError(
            f"{p}: the {what} is not a readable CSV file ({first_line(exc)})."
        ) from None
    if frame.empty:
        raise InputError(
            f"{p}: the {what} has a header but no rows (columns: {list(frame.columns)})."
        )
    dup = frame.columns[frame.columns.str.contains(r"\.\d+$", regex=True)]
    if len(dup):
        raise InputError(f"{p}: column {str(dup[0]).rsplit('.', 1)[0]!r} appears twice.")
    return frame


def numbers(
    frame: pd.DataFrame,
    column: str,
    source,
    *,
    low: float = -np.inf,
    high: float = np.inf,
    allow_missing: bool = False,
) -> np.ndarray:
    """A column as finite floats in [low, high]; text, inf and (unless allowed) NaN refused.

    Examples
    --------
    >>> numbers(pd.DataFrame({"x": ["1", "oops"]}), "x", "f.csv")
    Traceback (most recent call last):
    ...
    debias.errors.InputError: f.csv: column 'x' is not a number on row(s) 1 (e.g. 'oops').
    """
    raw = frame[column]
    if raw.dtype == bool:
        raise InputError(f"{source}: column {column!r} holds booleans; expected numbers.")
    values = pd.to_numeric(raw, errors="coerce").to_numpy(dtype=float, na_value=np.nan)
    text = np.isnan(values) & raw.notna().to_numpy()
    if text.any():
        raise InputError(
            f"{source}: column {column!r} is not a number on "
            f"{_lines(np.flatnonzero(text), source)} (e.g. {raw[text].iloc[0]!r})."
        )
    missing = np.isnan(values)
    if missing.any() and not allow_missing:
        raise InputError(
            f"{source}: column {column!r} is missing on {_lines(np.flatnonzero(missing), source)}."
        )
    infinite = np.isinf(values)
    if infinite.any():
        raise InputError(
            f"{source}: column {column!r} is infinite on "
            f"{_lines(np.flatnonzero(infinite), source)}; expected finite numbers."
        )
    outside = ~missing & ((values < low) | (values > high))
    if outside.any():
        raise InputError(
            f"{source}: column {column!r} is outside [{low:g}, {high:g}] on "
            f"{_lines(np.flatnonzero(outside), source)} (e.g. {float(values[outside][0])!r})."
        )
    return values


def positions(frame: pd.DataFrame, column: str, source, n: int | None) -> np.ndarray:
    """A 0-based position column: whole numbers in [0, n); negative, fractional or too
    large values are refused (they would wrap around or be truncated)."""
    values = numbers(frame, column, source, low=0)
    fractional = values != np.floor(values)
    if fractional.any():
        raise InputError(
            f"{source}: column {column!r} is not a whole number on "
            f"{_lines(np.flatnonzero(fractional), source)} (e.g. {float(values[fractional][0])!r}); it is a "
            "0-based position in the evaluation set."
        )
    if n is not None and (values >= n).any():
        big = values >= n
        raise InputError(
            f"{source}: column {column!r} runs to {int(values.max())} on "
            f"{_lines(np.flatnonzero(big), source)}, but the evaluation set has {n} "
            f"instructions (positions 0 to {n - 1}); is this file for another evaluation set?"
        )
    return values.astype(int)


def text(frame: pd.DataFrame, column: str, source) -> np.ndarray:
    """A key column as non-empty text."""
    raw = frame[column]
    empty = raw.isna().to_numpy() | (raw.astype(str).str.strip() == "").to_numpy()
    if empty.any():
        raise InputError(
            f"{source}: column {column!r} is empty on {_lines(np.flatnonzero(empty), source)}."
        )
    return raw.astype(str).to_numpy()


def unique(keys: pd.DataFrame | pd.Series, source, what: str) -> None:
    """Refuse repeated keys (which row would count?)."""
    dup = keys.duplicated(keep=False).to_numpy()
    if dup.any():
        raise InputError(
            f"{source}: {what} repeated on {_lines(np.flatnonzero(dup), source)}; keep one row "
            "per key."
        )


def require(frame: pd.DataFrame, columns: Sequence[str], source, layout: str) -> None:
    missing = [c for c in columns if c not in frame.columns]
    if missing:
        raise InputError(
            f"{source}: missing column(s) {missing}; expected {layout}, found {list(frame.columns)}."
        )
