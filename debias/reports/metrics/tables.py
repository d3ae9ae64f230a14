"""Reading leaderboard tables for the metrics: columns, one row per model, numbers, correlations.

Examples
--------
>>> import pandas as pd
>>> t = pd.DataFrame({"model": ["a", "b", "c"], "x": [1, 2, 3], "y": [1, 3, 2]})
>>> correlate(t["x"], t["y"], "spearman")
(0.5, 3)
"""

from __future__ import annotations

from collections.abc import Iterable

import pandas as pd

from debias.errors import InputError, check_param

__all__ = [
    "CORRELATION_METHODS",
    "by_model",
    "check_method",
    "correlate",
    "find_column",
    "numeric_column",
    "require_columns",
]

CORRELATION_METHODS = ("spearman", "kendall", "pearson")


def require_columns(table: pd.DataFrame, columns: Iterable[str], what: str = "table") -> None:
    if not isinstance(table, pd.DataFrame):
        raise InputError(f"{what} must be a pandas DataFrame, got {type(table).__name__}.")
    missing = [c for c in columns if c not in table.columns]
    if missing:
        raise InputError(
            f"{what} is missing column(s) {missing}; it has {list(map(str, table.columns))}."
        )


def by_model(table: pd.DataFrame, model_column: str, what: str = "table") -> pd.DataFrame:
    """The table indexed by model name; duplicate names are an error."""
    require_columns(table, [model_column], what)
    names = table[model_column].astype(str)
    dup = names[names.duplicated()].unique()
    if len(dup):
        raise InputError(
            f"{what} has duplicate model names in {model_column!r}: {list(dup[:5])}; "
            "give one row per model."
        )
    return table.set_axis(pd.Index(names, name=model_column), axis=0)


def numeric_column(table: pd.DataFrame, column: str, what: str = "table") -> pd.Series:
    values = pd.to_numeric(table[column], errors="coerce")
    bad = values.isna() & table[column].notna()
    if bad.any():
        raise InputError(
            f"{what} column {column!r} has non-numeric values (e.g. {table[column][bad].iloc[0]!r})."
        )
    return values.astype(float)


def check_method(method: str) -> None:
    check_param("method", method, f"one of {CORRELATION_METHODS}", method in CORRELATION_METHODS)


def correlate(a: pd.Series, b: pd.Series, method: str) -> tuple[float, int]:
    """Pairwise-complete correlation of two aligned Series, and the number of pairs."""
    pair = pd.concat([a, b], axis=1).dropna()
    n = len(pair)
    if n < 2:
        return float("nan"), n
    return float(pair.iloc[:, 0].corr(pair.iloc[:, 1], method=method)), n


def find_column(table: pd.DataFrame, name: str, what: str) -> str:
    """The column whose one-line name equals ``name``'s (``"Arena Elo\\n[...]"`` matches)."""
    from debias.io import normalise_column_name

    if name in table.columns:
        return name
    target = normalise_column_name(name)
    for c in table.columns:
        if normalise_column_name(c) == target:
            return c
    raise InputError(
        f"{what} has no column {name!r}; its columns are "
        f"{[normalise_column_name(c) for c in table.columns]}."
    )
