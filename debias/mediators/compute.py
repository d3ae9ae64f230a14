"""Pairwise mediator columns: each distinct text evaluated once, model minus baseline.

Examples
--------
>>> import pandas as pd
>>> frame = pd.DataFrame({"output_model": ["Hi!!", "Hi"], "output_baseline": ["Hi", "Hi"]})
>>> compute_mediators(frame, "exclamations")["exclamations"].tolist()
[2.0, 0.0]
"""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np
import pandas as pd

from debias.errors import InputError
from debias.mediators.features import fence_cache
from debias.mediators.registry import evaluate, get_mediator
from debias.mediators.texts import arrow_chunks, fingerprints, text_series

__all__ = ["compute_mediators"]


def _looks_distinct(column: pd.Series, chunks: list | None) -> bool:
    """Whether (nearly) all texts of a long column differ: a sample, then for arrow data
    a cheap fingerprint of every text (byte length, first and last bytes)."""
    n = len(column)
    sample = column.iloc[np.linspace(0, n - 1, 1000).astype(np.intp)]
    if sample.nunique() < 0.9 * len(sample):
        return False
    if chunks is None:
        return True
    fingerprint = np.concatenate([fingerprints(c) for c in chunks])
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
    chunks = arrow_chunks(column)
    if n >= 10_000 and _looks_distinct(column, chunks):
        return np.arange(n), text_series(column, what)
    if column.dtype == object:
        values = column.to_numpy()
        ids = np.fromiter(map(id, values), dtype=np.int64, count=n)
        _, first, inverse = np.unique(ids, return_index=True, return_inverse=True)
        codes, uniques = pd.factorize(values[first])
        return codes[inverse.ravel()], text_series(pd.Series(uniques, dtype=object), what)
    codes, uniques = pd.factorize(column)
    return codes, text_series(pd.Series(uniques), what)


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
    with fence_cache():
        for mediator in mediators:
            values = evaluate(mediator, texts)
            a, b = values[model_idx], values[base_idx]
            columns[f"{mediator.name}_model"] = a
            columns[f"{mediator.name}_baseline"] = b
            columns[mediator.name] = a - b
    return pd.DataFrame(columns, index=frame.index)
