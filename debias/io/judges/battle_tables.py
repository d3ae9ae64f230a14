"""Generic battle tables: one row per judge call between any two models.

A CSV/TSV, JSON Lines, JSON (records) or Parquet table (text formats may be
gzipped) with the fields

``model_a, model_b``
    the two models (``model_a``: answer A);
``winner`` *or* ``outcome``
    ``winner``: ``model_a``, ``model_b``, ``tie`` or ``tie (bothbad)`` (Chatbot
    Arena's labels; ``a``/``b``/``A``/``B`` too); ``outcome``: P(A wins) in [0, 1];
``prompt_id`` *or* ``question_id`` *or* ``prompt``
    the prompt (``prompt``: its text, also the id when there is no id);

and optionally ``turn``, ``judge``, ``weight``, ``shown_first`` (``a``, ``b``,
``unknown``), ``answer_a``, ``answer_b``, ``tokens_a``, ``tokens_b``. Columns of
other names are mapped with ``mapping={"your column": "field"}`` (the CLI's
``--map COLUMN=FIELD``). Missing answers are joined from ``question.jsonl`` and
``model_answer/`` beside the file when they exist.
"""

from __future__ import annotations

import io
import os
from collections.abc import Mapping
from pathlib import Path

import pandas as pd

from debias.errors import InputError, ParameterError, row_list
from debias.io.judges.answers import attach_answers, read_jsonl
from debias.io.safe_read import check_regular_file, first_line, max_bytes, read_bytes
from debias.io.tables import FORMATS as TABLE_FORMATS
from debias.io.tables import table_format
from debias.judgments import Judgments, Scale

FIELDS: tuple[str, ...] = (
    "prompt_id",
    "question_id",
    "prompt",
    "turn",
    "model_a",
    "model_b",
    "winner",
    "outcome",
    "judge",
    "weight",
    "shown_first",
    "answer_a",
    "answer_b",
    "tokens_a",
    "tokens_b",
)
_WINNER = {
    "model_a": "model_a",
    "a": "model_a",
    "model_b": "model_b",
    "b": "model_b",
    "tie": "tie",
    "tie (bothbad)": "tie",
}


def read_table(path: str | os.PathLike, format: str | None = None) -> pd.DataFrame:
    """A table's rows as text (CSV/TSV: empty cells missing) with a ``_line`` column.

    ``_line`` is the line of the row in a text file (CSV: header = line 1), the row
    number (from 1) in Parquet and JSON.
    """
    p = Path(path)
    fmt = format.lower().lstrip(".") if format else table_format(p)
    if fmt not in TABLE_FORMATS:
        raise InputError(
            f"{p}: not a table by its suffix {''.join(p.suffixes) or '(none)'!r}; use .csv, "
            f".tsv, .jsonl, .json or .parquet (text ones may end in .gz), or pass format=."
        )
    try:
        if fmt == "parquet":
            if check_regular_file(p).st_size > max_bytes():
                read_bytes(p)  # raises the size-cap error
            frame = pd.read_parquet(p)
            frame["_line"] = range(1, len(frame) + 1)
            return frame
        if fmt == "jsonl":
            records = read_jsonl(p, "battle")
            frame = pd.DataFrame.from_records([r for _, r in records])
            frame["_line"] = [line for line, _ in records]
            return frame
        data = read_bytes(p)
        if not data.strip():
            raise InputError(f"{p}: the file is empty; expected a header and one row per battle.")
        if fmt == "json":
            frame = pd.read_json(io.BytesIO(data), orient="records", dtype=False)
            frame["_line"] = range(1, len(frame) + 1)
            return frame
        frame = pd.read_csv(
            io.BytesIO(data),
            sep="," if fmt == "csv" else "\t",
            dtype=str,
            keep_default_na=False,
            na_values=[""],
        )
        frame["_line"] = range(2, len(frame) + 2)
        return frame
    except InputError:
        raise
    except ImportError:
        raise InputError(
            f"{p}: reading Parquet needs pyarrow: pip install 'debias[parquet]'."
        ) from None
    except (ValueError, OSError, UnicodeDecodeError, pd.errors.ParserError) as exc:
        raise InputError(f"{p}: cannot be read as {fmt} ({first_line(exc)}).") from None


def apply_mapping(frame: pd.DataFrame, mapping: Mapping[str, str] | None, source) -> pd.DataFrame:
    """Rename the user's columns to battle fields (``{column: field}`` or ``{field: column}``)."""
    if not mapping:
        return frame
    rename = {}
    for key, value in dict(mapping).items():
        if key in frame.columns and value in FIELDS:
            rename[key] = value
        elif value in frame.columns and key in FIELDS:
            rename[value] = key
        else:
            side = key if value in FIELDS else value
            raise InputError(
                f"{source}: mapping= {key}={value}: no column {side!r} to read as a battle field "
                f"(columns: {[c for c in frame.columns if c != '_line']}; fields: {list(FIELDS)})."
            )
    return frame.rename(columns=rename)


def _lines(frame: pd.DataFrame, mask) -> str:
    return row_list(frame.loc[mask, "_line"].tolist())


def battle_frame(frame: pd.DataFrame, source) -> tuple[pd.DataFrame, Scale]:
    """The canonical columns of a battle table and its scale (the caller's frame untouched)."""
    out = frame.copy()
    if "prompt_id" not in out and "question_id" in out:
        out = out.rename(columns={"question_id": "prompt_id"})
    need = [c for c in ("model_a", "model_b") if c not in out]
    if "prompt_id" not in out and "prompt" not in out:
        need.insert(0, "prompt_id (or question_id, prompt)")
    if "winner" not in out and "outcome" not in out:
        need.append("winner (or outcome)")
    if need:
        present = [c for c in frame.columns if c != "_line"]
        raise InputError(
            f"{source}: missing column(s) {need} (columns present: {present}); name yours with "
            "mapping={'your column': 'field'} (e.g. {'question': 'prompt_id'})."
        )
    if "winner" in out:
        raw = out.pop("winner")
        label = raw.map(lambda v: _WINNER.get(v.strip().lower()) if isinstance(v, str) else None)
        unknown = label.isna() & raw.notna()
        if unknown.any():
            raise InputError(
                f"{source}: winner {raw[unknown].iloc[0]!r} at line(s) {_lines(out, unknown)} is "
                f"not one of model_a, model_b, tie, tie (bothbad); map the labels to those."
            )
        out["verdict"] = label.where(label.notna(), None)
        scale = Scale.win_tie_loss(("model_a", "tie", "model_b"))
    else:
        out["verdict"] = out.pop("outcome")
        scale = Scale.probability()
    return out, scale


def read_battle_table(
    path: str | os.PathLike,
    mapping: Mapping[str, str] | None = None,
    *,
    judge: str | None = None,
    format: str | None = None,
    answers: bool = True,
) -> Judgments:
    """Judgments from a table of battles between any two models (fields: module docstring).

    Parameters
    ----------
    path : str or path-like
    mapping : dict, optional
        ``{your column: field}`` (or ``{field: your column}``), e.g.
        ``{"question": "prompt_id", "verdict": "winner"}``.
    judge : str, optional
        The judge, for a table without a ``judge`` column.
    format : {"csv", "tsv", "jsonl", "json", "parquet"}, optional
        Default: from the suffix.
    answers : bool
        Join answer texts (and stored token counts) from ``model_answer/`` and
        prompts from ``question.jsonl`` beside the file when the table has none.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> f = pathlib.Path(tempfile.mkdtemp()) / "votes.csv"
    >>> _ = f.write_text("q,left,right,result\\n1,x,y,model_a\\n2,y,x,tie (bothbad)\\n")
    >>> j = read_battle_table(f, {"q": "prompt_id", "left": "model_a", "right": "model_b",
    ...                           "result": "winner"})
    >>> j.battles()[["prompt", "model_a", "model_b", "outcome"]]
      prompt model_a model_b  outcome
    0      1       x       y      1.0
    1      2       y       x      0.5
    """
    if mapping is not None and not isinstance(mapping, Mapping):
        raise ParameterError(f"The 'mapping' parameter must be a dict. Got {mapping!r}.")
    frame = apply_mapping(read_table(path, format), mapping, path)
    if frame.empty:
        raise InputError(f"{path}: the table has no rows; expected one row per battle.")
    frame, scale = battle_frame(frame, path)
    if answers and "prompt_id" in frame:
        frame = attach_answers(frame, path)
    frame = frame[[c for c in frame if c in (*FIELDS, "verdict")]]
    return Judgments.from_dataframe(frame, scale=scale, judge=judge, source=str(path))
