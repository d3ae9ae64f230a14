"""Read judgments from generic tables: CSV/TSV, JSON Lines, JSON records, Parquet.

Every file is read through :mod:`debias.io.safe_read` (regular files only, gzip
streamed and capped), so ``.csv.gz`` or ``.jsonl.gz`` cannot inflate without bound.
"""

from __future__ import annotations

import io
import os
from collections.abc import Mapping
from pathlib import Path

import pandas as pd

from debias.data import Comparisons
from debias.errors import InputError
from debias.io.annotations import check_unicode, loads, parse_json_list
from debias.io.consistency import warn_near_duplicate_prompts
from debias.io.safe_read import check_regular_file, first_line, max_bytes, read_bytes

FORMATS: tuple[str, ...] = ("csv", "tsv", "jsonl", "json", "parquet")
_SUFFIXES = {
    ".csv": "csv",
    ".tsv": "tsv",
    ".tab": "tsv",
    ".jsonl": "jsonl",
    ".ndjson": "jsonl",
    ".json": "json",
    ".parquet": "parquet",
    ".pq": "parquet",
}
#: Every suffix :func:`read_comparisons` recognises (``.gz`` may follow a text format).
TABLE_SUFFIXES: tuple[str, ...] = tuple(_SUFFIXES) + tuple(
    s + ".gz" for s, f in _SUFFIXES.items() if f != "parquet"
)
_OTHER_COMPRESSION = (".bz2", ".xz", ".zip", ".zst")
# Cells read as missing in the preference column of a CSV (elsewhere only empty cells).
_NA_PREFERENCE = ["", "NA", "N/A", "#N/A", "NaN", "nan", "null", "NULL", "None"]


def table_format(path: str | os.PathLike) -> str | None:
    """The table format named by a file's suffixes, or None (e.g. an AlpacaEval file).

    Examples
    --------
    >>> table_format("judgments.tsv.gz"), table_format("x.pq"), table_format("a/results")
    ('tsv', 'parquet', None)
    """
    suffixes = [s.lower() for s in Path(path).suffixes]
    if suffixes and suffixes[-1] == ".gz":
        suffixes.pop()
    return _SUFFIXES.get(suffixes[-1]) if suffixes else None


def _read_delimited(data: bytes, sep: str, preference_column: str) -> pd.DataFrame:
    """Text is kept as text ("NA", "007"): only empty cells are missing, and the
    usual NA spellings in the preference column."""
    header = pd.read_csv(io.BytesIO(data), sep=sep, nrows=0).columns
    na_values = {c: (_NA_PREFERENCE if c == preference_column else [""]) for c in header}
    return pd.read_csv(
        io.BytesIO(data), sep=sep, dtype=str, keep_default_na=False, na_values=na_values
    )


def _read_jsonl(data: bytes, path: Path) -> pd.DataFrame:
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        raise InputError(f"{path}: not UTF-8 encoded text.") from None
    records = []
    for lineno, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        item = loads(line, f"{path}, line {lineno}")
        if not isinstance(item, dict):
            raise InputError(f"{path}: line {lineno} is not a JSON object; one object per line.")
        records.append(item)
    check_unicode(records, data, path)
    return pd.DataFrame.from_records(records)


def _read_table(path: Path, fmt: str, preference_column: str) -> pd.DataFrame:
    try:
        if fmt == "parquet":
            st = check_regular_file(path)
            if st.st_size > max_bytes():
                read_bytes(path)  # raises the size-cap error
            try:
                return pd.read_parquet(path)
            except ImportError:
                raise InputError(
                    f"{path}: reading Parquet needs pyarrow: pip install 'debias[parquet]'."
                ) from None
        data = read_bytes(path)
        if not data.strip():
            raise InputError(
                f"{path}: the file is empty; expected a header and one row per judgment."
            )
        if fmt in ("csv", "tsv"):
            return _read_delimited(data, "," if fmt == "csv" else "\t", preference_column)
        if fmt == "jsonl":
            return _read_jsonl(data, path)
        return pd.DataFrame.from_records(parse_json_list(data, path))
    except InputError:
        raise
    except pd.errors.EmptyDataError:
        raise InputError(f"{path}: the file is empty.") from None
    except (ValueError, OSError, UnicodeDecodeError, pd.errors.ParserError) as exc:
        raise InputError(f"{path}: cannot be read as {fmt} ({first_line(exc)}).") from None


def read_comparisons(
    path: str | os.PathLike,
    mapping: Mapping[str, str] | None = None,
    *,
    judge: str | None = None,
    baseline: str | None = None,
    preference_scale: str = "probability",
    format: str | None = None,
) -> Comparisons:
    """Read pairwise judgments from a CSV/TSV, JSON Lines, JSON (records) or Parquet file.

    Parameters
    ----------
    path : str or path-like
        The table, one judgment per row: ``.csv .tsv .jsonl .ndjson .json .parquet
        .pq``; the text formats may be gzip-compressed (``.csv.gz``, ...).
    mapping : dict, optional
        Column names: ``{canonical field: your column}`` or ``{your column:
        canonical field}`` (recognised by which side holds the canonical names),
        e.g. ``{"prompt": "instruction", "pref": "preference"}``. See
        :meth:`Comparisons.from_dataframe`.
    judge, baseline : str, optional
        Constant judge / baseline for a table without such a column.
    preference_scale : {"probability", "alpaca_eval"}
        ``"probability"``: P(model preferred) in [0, 1] (0/1 labels too);
        ``"alpaca_eval"``: 1..2. Verdict words ``model`` / ``baseline`` / ``tie``
        (any case) mean 1 / 0 / 0.5 on either scale.
    format : {"csv", "tsv", "jsonl", "json", "parquet"}, optional
        Default: from the suffix.

    Returns
    -------
    Comparisons

    Raises
    ------
    InputError
        Missing file, unknown format, empty or header-only table, unreadable content,
        or invalid judgments; the message names the file.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> f = pathlib.Path(tempfile.mkdtemp()) / "judgments.csv"
    >>> _ = f.write_text("prompt,model,verdict\\nq1,m,model\\nq2,m,tie\\n")
    >>> comps = read_comparisons(f, {"prompt": "instruction", "verdict": "preference"},
    ...                        baseline="gpt4")
    >>> comps.win_rates()[["model", "baseline", "win_rate"]]
      model baseline  win_rate
    0     m     gpt4      75.0
    """
    p = Path(path)
    check_regular_file(p)
    fmt = format.lower().lstrip(".") if format else table_format(p)
    if fmt not in FORMATS:
        compressed = [s for s in p.suffixes if s.lower() in _OTHER_COMPRESSION]
        hint = " (compress with gzip instead)" if compressed else ""
        shown = f"format {format!r}" if format else f"suffix {''.join(p.suffixes) or '(none)'!r}"
        raise InputError(
            f"{p}: unknown table {shown}{hint}; use .csv, .tsv, .jsonl, .json or .parquet "
            f"(text ones may end in .gz), or pass format= one of {list(FORMATS)}."
        )
    mapping = dict(mapping or {})
    inverse = {v: k for k, v in mapping.items()}
    preference_column = mapping.get("preference", inverse.get("preference", "preference"))
    frame = _read_table(p, fmt, preference_column)
    if frame.empty:
        raise InputError(
            f"{p}: the table has no rows (columns: {list(frame.columns)}); expected one row per "
            "judgment."
        )
    comps = Comparisons.from_dataframe(
        frame,
        mapping,
        judge=judge,
        baseline=baseline,
        preference_scale=preference_scale,
        source=str(p),
    )
    warn_near_duplicate_prompts(comps.data["instruction"].unique(), str(p), stacklevel=2)
    return comps
