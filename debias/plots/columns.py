"""Leaderboard tables as the plots read them: debias's columns or a published AlpacaEval table's.

A published AlpacaEval leaderboard (``leaderboards/*_leaderboard.csv``, read with
:func:`debias.io.read_leaderboard` or plain ``pandas.read_csv(..., index_col=0)``)
names its columns differently from ``debias leaderboard``; every table plot reads
either spelling:

================================  ==============================
debias                            AlpacaEval
================================  ==============================
``model``                         first column (unnamed) or index
``win_rate``                      ``win_rate``
``lc_win_rate``                   ``length_controlled_winrate``
``win_rate_se``                   ``standard_error``
``lc_win_rate_se``                ``lc_standard_error``
``avg_length``                    ``avg_length``
================================  ==============================

Examples
--------
>>> import pandas as pd
>>> published = pd.DataFrame({"win_rate": [20.0], "length_controlled_winrate": [25.0]},
...                          index=pd.Index(["m1"]))
>>> list(leaderboard_columns(published, ["model", "win_rate", "lc_win_rate"], "raw_vs_controlled"))
['model', 'win_rate', 'lc_win_rate']
"""

from __future__ import annotations

import pandas as pd

from debias.errors import InputError

__all__ = ["ALIASES", "leaderboard_columns"]

#: Our column -> the names other tools give it (AlpacaEval's published leaderboards).
ALIASES = {
    "lc_win_rate": ("length_controlled_winrate",),
    "lc_win_rate_se": ("lc_standard_error", "length_controlled_standard_error"),
    "win_rate_se": ("standard_error",),
}


def _with_model_column(table: pd.DataFrame) -> pd.DataFrame:
    if "model" in table.columns:
        return table
    first = str(table.columns[0]) if len(table.columns) else "model"
    if first.startswith("Unnamed:") or first.strip() == "":  # pd.read_csv without index_col
        return table.rename(columns={table.columns[0]: "model"})
    if table.index.name in (None, "model", "name") and not isinstance(table.index, pd.RangeIndex):
        return table.rename_axis(None).reset_index(names="model")
    return table


def leaderboard_columns(table, need, what: str, optional=()) -> pd.DataFrame:
    """A copy of ``table`` with our column names (see the module docstring), checked.

    Parameters
    ----------
    table : pandas.DataFrame
    need : sequence of str
        Columns the plot needs (our names).
    what : str
        The plot's name, for the error message.
    optional : sequence of str
        Columns renamed when present under another tool's name.

    Returns
    -------
    pandas.DataFrame
        With ``model`` and every needed column; ``attrs`` kept.

    Raises
    ------
    InputError
        Not a DataFrame, empty, or a needed column is missing under every spelling.
    """
    if not isinstance(table, pd.DataFrame):
        raise InputError(f"{what} needs a pandas DataFrame, got {type(table).__name__}.")
    out = _with_model_column(table)
    rename = {}
    for ours in list(need) + list(optional):
        if ours in out.columns:
            continue
        theirs = next((a for a in ALIASES.get(ours, ()) if a in out.columns), None)
        if theirs is not None:
            rename[theirs] = ours
    out = out.rename(columns=rename)
    missing = [c for c in need if c not in out.columns]
    if missing:
        spelled = [
            c + "".join(f" (or {a})" for a in ALIASES.get(c, ()))
            if c != "model"
            else "model (or model names in the first column / index)"
            for c in missing
        ]
        raise InputError(
            f"{what}: missing column(s) {spelled}; columns present: {list(table.columns)}."
        )
    if out.empty:
        raise InputError(f"{what}: the table is empty.")
    out.attrs = dict(table.attrs)
    return out
