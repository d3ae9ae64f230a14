"""Checks that turn a user's tidy frame of judge calls into clean columns.

Every function raises :class:`~debias.errors.InputError` with one line that names
the source, the column and the rows, and says what to do.
"""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd

from debias.errors import DataWarning, InputError, row_list

SHOWN_FIRST: tuple[str, ...] = ("a", "b", "unknown")
_NESTED = (dict, list, tuple, set, np.ndarray, bool, np.bool_)


def refuse_nested(column: pd.Series, name: str, source: str) -> None:
    """Objects, arrays and booleans are not text: refuse rather than stringify them."""
    if column.dtype != object:
        if column.dtype == bool:
            raise InputError(f"{source}: column {name!r} holds booleans; it must be text.")
        return
    kinds = set(map(type, column))
    if kinds <= {str, float, int, type(None)}:
        return
    bad = column.map(lambda v: isinstance(v, _NESTED)).to_numpy()
    if bad.any():
        example = column[bad].iloc[0]
        raise InputError(
            f"{source}: column {name!r} holds a {type(example).__name__} in row(s) "
            f"{row_list(column.index[bad])} (e.g. {str(example)[:40]!r}); it must be text."
        )


def names(column: pd.Series, name: str, source: str, *, required: bool = True) -> pd.Series:
    """A column of names (models, judges, prompt ids): text, empty only when allowed."""
    refuse_nested(column, name, source)
    empty = column.isna() | (column.astype(str).str.strip() == "")
    if required and empty.any():
        raise InputError(
            f"{source}: column {name!r} is empty in row(s) {row_list(column.index[empty])}; "
            f"every judgment needs a {name}."
        )
    return column.astype(str).where(~empty, None) if not required else column.astype(str)


def texts(column: pd.Series | None, n: int, name: str, source: str) -> tuple[pd.Series, int]:
    """Answer or prompt texts: missing ones become empty strings; returns (texts, n_missing)."""
    if column is None:
        return pd.Series([""] * n, dtype="str"), 0
    refuse_nested(column, name, source)
    bad = column.isna()
    return column.where(~bad, "").astype("str"), int(bad.sum())


def whole(column: pd.Series, name: str, minimum: int, source: str) -> np.ndarray:
    """Whole numbers >= ``minimum`` (conversation turns, source positions)."""
    refuse_nested(column, name, source)
    values = pd.to_numeric(column, errors="coerce").astype(float)
    bad = values.isna() | (values < minimum) | (values != np.floor(values))
    if bad.any():
        rows = column.index[bad.to_numpy()]
        raise InputError(
            f"{source}: {name} must be a whole number >= {minimum} in row(s) {row_list(rows)} "
            f"(e.g. {column[bad].iloc[0]!r})."
        )
    return values.to_numpy().astype(np.int64)


def shown_first(column: pd.Series | None, n: int, source: str) -> pd.Categorical:
    """Which answer the judge saw first: ``a``, ``b`` or ``unknown`` (missing = unknown)."""
    if column is None:
        return pd.Categorical(["unknown"] * n, categories=SHOWN_FIRST)
    refuse_nested(column, "shown_first", source)
    lowered = column.map(lambda v: v.strip().lower() if isinstance(v, str) else v)
    lowered = lowered.where(lowered.notna(), "unknown")
    bad = ~lowered.isin(SHOWN_FIRST)
    if bad.any():
        rows = column.index[bad.to_numpy()]
        raise InputError(
            f"{source}: shown_first must be 'a', 'b' or 'unknown' (which answer the judge saw "
            f"first) in row(s) {row_list(rows)} (got {column[bad].iloc[0]!r})."
        )
    return pd.Categorical(lowered.astype(str), categories=SHOWN_FIRST)


def weights(column: pd.Series | None, n: int, source: str) -> np.ndarray:
    """Row weights: finite numbers >= 0 (1 when absent)."""
    if column is None:
        return np.ones(n)
    if column.dtype == bool or column.map(lambda v: isinstance(v, (bool, np.bool_))).any():
        raise InputError(f"{source}: weight holds booleans; weights must be numbers >= 0.")
    values = pd.to_numeric(column, errors="coerce").astype(float)
    bad = ~np.isfinite(values) | (values < 0)
    if bad.any():
        rows = column.index[bad.to_numpy()]
        raise InputError(
            f"{source}: weight must be a finite number >= 0 in row(s) {row_list(rows)} "
            f"(e.g. {column[bad].iloc[0]!r})."
        )
    return values.to_numpy()


def one_text_per_prompt(prompt_code: np.ndarray, text: pd.Series, ids: pd.Series, source: str):
    """Refuse a prompt id (and turn) whose rows carry different prompt texts."""
    frame = pd.DataFrame({"code": prompt_code, "text": text.to_numpy()})
    n_texts = frame.groupby("code", sort=False)["text"].nunique()
    clash = n_texts.index[n_texts.to_numpy() > 1]
    if len(clash):
        rows = np.flatnonzero(np.isin(prompt_code, clash))
        raise InputError(
            f"{source}: prompt_id {ids.iloc[rows[0]]!r} has different prompt texts in row(s) "
            f"{row_list(text.index[rows])}; give each prompt (and turn) one id and one text."
        )


def pair_rules(
    model_b: pd.Series, has_b_text: pd.Series, verdict_b: pd.Series | None, kind: str, source: str
) -> None:
    """Pairwise verdicts need answer B; a second grade needs a grade scale and answer B."""
    single = model_b.isna().to_numpy()
    orphan = single & has_b_text.to_numpy()
    if orphan.any():
        raise InputError(
            f"{source}: answer_b is given without model_b in row(s) "
            f"{row_list(model_b.index[orphan])}; name the model that wrote answer B."
        )
    if kind != "grade" and single.any():
        raise InputError(
            f"{source}: a {kind} verdict compares two answers, but model_b is empty in row(s) "
            f"{row_list(model_b.index[single])}; single-answer grading needs scale=Scale.grade()."
        )
    if verdict_b is None:
        return
    if kind != "grade" and verdict_b.notna().any():
        raise InputError(
            f"{source}: verdict_b (the grade of answer B) is only meaningful on a grade scale, "
            f"but the scale is {kind}; drop verdict_b or pass scale=Scale.grade(low, high)."
        )
    lonely = single & verdict_b.notna().to_numpy()
    if lonely.any():
        raise InputError(
            f"{source}: verdict_b is given but model_b is empty in row(s) "
            f"{row_list(model_b.index[lonely])}; a grade of answer B needs answer B."
        )


def paired_grades(verdict: pd.Series, verdict_b: pd.Series, paired: np.ndarray, source: str):
    """Paired grades come two by two: both present or both missing."""
    half = paired & (verdict.isna().to_numpy() != verdict_b.isna().to_numpy())
    if half.any():
        raise InputError(
            f"{source}: row(s) {row_list(verdict.index[half])} grade only one of the two answers "
            "(verdict / verdict_b); give both grades or neither."
        )


def duplicates(key: pd.DataFrame, source: str) -> None:
    """Refuse the same judge call twice (judge, prompt, turn, answer A, answer B, order)."""
    dup = key.duplicated(keep=False).to_numpy()
    if dup.any():
        raise InputError(
            f"{source}: {int(dup.sum())} rows repeat the same judge call (judge, prompt, turn, "
            f"model_a, model_b, shown_first) (rows {row_list(key.index[dup])}); keep one row per "
            "call, or give the order each was shown in (shown_first='a'/'b')."
        )


def warn_missing(n_missing_text: int, n_missing_verdict: int, source: str) -> None:
    """The two things that are kept but noted: empty answers and calls without a verdict."""
    if n_missing_text:
        warnings.warn(
            f"{source}: {n_missing_text} missing answer(s) (None/NaN) were read as empty text.",
            DataWarning,
            stacklevel=4,
        )
    if n_missing_verdict:
        warnings.warn(
            f"{source}: {n_missing_verdict} judgment(s) have no verdict (NaN); they are kept, "
            "counted in n_missing and left out of fits.",
            DataWarning,
            stacklevel=4,
        )
