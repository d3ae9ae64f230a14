"""Reading the regularisation rows: the baseline's own variants judged against the baseline."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import pandas as pd

from debias.data import Comparisons
from debias.errors import InputError
from debias.io import csv_checks

DF_GAMED_LAYOUT = (
    "the df_gamed layout: model, index (or instruction), preference in [0, 1], "
    "std_delta_len[, instruction_difficulty]"
)


def check_df_gamed(table: pd.DataFrame, source, n_instructions: int | None = None) -> pd.DataFrame:
    """Validate a df_gamed table; return a clean copy (numbers as floats, ``index`` as int).

    Refused, with the column and the line (file) or row (DataFrame) named: missing
    columns; text, infinite or missing numbers; a preference outside [0, 1]; an
    ``index`` that is negative, fractional or not below ``n_instructions`` (it would
    wrap around or be truncated); an empty model; the same (model, instruction) twice.

    Examples
    --------
    >>> t = pd.DataFrame({"model": ["v", "v"], "index": [0, 1.5], "preference": [1, 0],
    ...                   "std_delta_len": [0.1, -0.2]})
    >>> check_df_gamed(t, "df_gamed", n_instructions=805)
    Traceback (most recent call last):
    ...
    debias.errors.InputError: df_gamed: column 'index' is not a whole number on row(s) 1 (e.g. 1.5); it is a 0-based position in the evaluation set.
    """
    key = "instruction" if "instruction" in table.columns else "index"
    csv_checks.require(
        table, ["model", key, "preference", "std_delta_len"], source, DF_GAMED_LAYOUT
    )
    out = table.copy()
    out["model"] = csv_checks.text(table, "model", source)
    if key == "instruction":
        out["instruction"] = csv_checks.text(table, "instruction", source)
    else:
        out["index"] = csv_checks.positions(table, "index", source, n_instructions)
    out["preference"] = csv_checks.numbers(table, "preference", source, low=0, high=1)
    out["std_delta_len"] = csv_checks.numbers(table, "std_delta_len", source)
    if "instruction_difficulty" in table.columns:
        out["instruction_difficulty"] = csv_checks.numbers(table, "instruction_difficulty", source)
    csv_checks.unique(out[["model", key]], source, f"(model, {key})")
    return out


def read_regularization(
    path, instruction_order: Sequence[str] | None = None
) -> Comparisons | pd.DataFrame:
    """Read regularisation rows from a df_gamed table or from annotation files.

    Parameters
    ----------
    path : str or Path
        A CSV in the reference's ``df_gamed`` layout (columns ``model, index,
        preference, std_delta_len, instruction_difficulty``; preference in [0, 1]),
        or anything :func:`debias.io.read_alpaca_eval` reads (annotation files or a
        results tree of the variants judged against the baseline).
    instruction_order : sequence of str, optional
        The evaluation set's order: an ``index`` must lie within it.

    Returns
    -------
    pandas.DataFrame (df_gamed layout, checked by :func:`check_df_gamed`) or Comparisons

    Raises
    ------
    InputError
        Missing, empty or header-only file, or a value refused by :func:`check_df_gamed`.
    """
    path = Path(path)
    if not path.exists() and not path.is_symlink():
        raise InputError(f"{path}: regularisation file not found.")
    if path.suffix == ".csv":
        table = csv_checks.read_csv(path, "df_gamed file")
        if "std_delta_len" not in table.columns:
            raise InputError(
                f"{path}: a regularisation CSV must be in {DF_GAMED_LAYOUT}; found "
                f"{list(table.columns)}."
            )
        n = len(instruction_order) if instruction_order is not None else None
        return check_df_gamed(table, path, n)
    from debias.io.alpaca_eval import read_alpaca_eval

    return read_alpaca_eval(path)
