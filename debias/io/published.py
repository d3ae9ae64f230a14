"""Published AlpacaEval side tables: leaderboards and benchmarks.csv."""

from __future__ import annotations

import io
import os
from pathlib import Path

import pandas as pd

from debias.errors import InputError
from debias.io.safe_read import first_line, read_bytes

PathLike = str | os.PathLike


def _read_csv(path: PathLike) -> pd.DataFrame:
    p = Path(path)
    data = read_bytes(p)
    try:
        return pd.read_csv(io.BytesIO(data))
    except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError, ValueError) as exc:
        raise InputError(f"{p}: not a readable CSV file ({first_line(exc)}).") from None


def read_leaderboard(path: PathLike) -> pd.DataFrame:
    """Read a published AlpacaEval leaderboard CSV.

    The first, unnamed column (the model name) becomes ``model``; every other
    column is kept as it is (``win_rate``, ``length_controlled_winrate``, ...).

    Examples
    --------
    >>> import tempfile, pathlib
    >>> f = pathlib.Path(tempfile.mkdtemp()) / "board.csv"
    >>> _ = f.write_text(",win_rate,avg_length\\nm1,12.5,900\\n")
    >>> read_leaderboard(f)
      model  win_rate  avg_length
    0    m1      12.5         900
    """
    frame = _read_csv(path)
    first = frame.columns[0]
    if str(first).startswith("Unnamed:") or str(first).strip() == "":
        frame = frame.rename(columns={first: "model"})
    if "model" not in frame:
        raise InputError(
            f"{path}: the first column should hold the model names (unnamed), found {str(first)!r}."
        )
    return frame


def normalise_column_name(name: str) -> str:
    """Turn a multi-line benchmark column name into one line.

    Examples
    --------
    >>> normalise_column_name("Arena Elo\\n[Feb 2, 2024]")
    'Arena Elo [Feb 2, 2024]'
    >>> normalise_column_name("AGI Eval \\n(en)")
    'AGI Eval (en)'
    """
    return " ".join(str(name).split())


def read_benchmarks(path: PathLike) -> pd.DataFrame:
    """Read AlpacaEval's ``benchmarks.csv`` (per-model scores on other benchmarks).

    Column names are kept as published (several contain a newline, e.g.
    ``"Arena Elo\\n[Feb 2, 2024]"``), except the first (``Model``) which becomes
    ``model`` to match :func:`read_leaderboard`. Use
    ``frame.rename(columns=normalise_column_name)`` for one-line names.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> f = pathlib.Path(tempfile.mkdtemp()) / "benchmarks.csv"
    >>> _ = f.write_text('Model,"Arena Elo\\n[Feb 2, 2024]"\\ngpt4,1251\\n')
    >>> read_benchmarks(f).rename(columns=normalise_column_name).columns.tolist()
    ['model', 'Arena Elo [Feb 2, 2024]']
    """
    frame = _read_csv(path)
    return frame.rename(columns={frame.columns[0]: "model"})
