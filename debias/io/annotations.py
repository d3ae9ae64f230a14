"""One AlpacaEval annotation file: parse the JSON and check each judgment.

A judgment has ``instruction``, ``output_1`` / ``generator_1`` (the baseline),
``output_2`` / ``generator_2`` (the model), ``annotator`` and ``preference`` on
AlpacaEval's 1..2 scale (1 = baseline preferred, 2 = model preferred, 1.5 tie,
legacy 0 = tie). :func:`annotation_columns` returns the canonical columns of one
file, refusing what would otherwise be read as a wrong number: JSON booleans as
preferences, 0/1 labels on the 1..2 scale, objects or arrays as answers, text
that is not valid Unicode.
"""

from __future__ import annotations

import json
import math
import os
import re
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from debias.errors import InputError
from debias.io.safe_read import REDO, read_bytes

#: Fields every AlpacaEval judgment must have.
REQUIRED_FIELDS: tuple[str, ...] = (
    "instruction",
    "output_1",
    "generator_1",
    "output_2",
    "generator_2",
    "preference",
)
_SURROGATE_ESCAPE = re.compile(rb"\\u[dD][89a-fA-F]")


def json_kind(value: Any) -> str:
    """The JSON name of a decoded value's type (for messages)."""
    if isinstance(value, dict):
        return "object"
    if isinstance(value, list):
        return "array"
    if isinstance(value, str):
        return "string"
    if isinstance(value, bool):
        return "boolean"
    if value is None:
        return "null"
    return "number"


def loads(data: bytes | str, name: str | Path) -> Any:
    """``json.loads`` with one-line errors naming ``name`` (invalid, not UTF-8, too deep)."""
    try:
        return json.loads(data)
    except json.JSONDecodeError as exc:
        raise InputError(
            f"{name}: not valid JSON (line {exc.lineno}, column {exc.colno}): {REDO}"
        ) from None
    except UnicodeDecodeError:
        raise InputError(f"{name}: not UTF-8 encoded JSON text: {REDO}") from None
    except RecursionError:
        raise InputError(
            f"{name}: JSON nested too deeply to read; a judgment is a flat object: {REDO}"
        ) from None


def check_unicode(records: list[dict], data: bytes, name: str | Path) -> None:
    """Refuse lone surrogates (``"\\ud800"``): not text, and unwritable later."""
    if not _SURROGATE_ESCAPE.search(data):
        return
    for i, r in enumerate(records):
        for key, value in r.items():
            if isinstance(value, str):
                try:
                    value.encode("utf-8")
                except UnicodeEncodeError:
                    raise InputError(
                        f"{name}: item {i}, field {key!r} holds an invalid Unicode escape "
                        f"(a lone surrogate such as \\ud800); it is not text: {REDO}"
                    ) from None


def parse_json_list(data: bytes, name: str | Path, what: str = "judgment") -> list[dict]:
    """Parse JSON bytes that must hold a list of objects; errors name ``name``."""
    value = loads(data, name)
    if not isinstance(value, list):
        raise InputError(
            f"{name}: expected a JSON list of objects (one per {what}), got a JSON "
            f"{json_kind(value)}: {REDO}"
        )
    for i, item in enumerate(value):
        if not isinstance(item, dict):
            raise InputError(
                f"{name}: item {i} is a JSON {json_kind(item)}, expected an object "
                f"(one per {what}): {REDO}"
            )
    check_unicode(value, data, name)
    return value


def load_json_list(path: str | os.PathLike, what: str = "judgment") -> list[dict]:
    """Load a JSON file (optionally gzip-compressed) holding a list of objects.

    Parameters
    ----------
    path : str or path-like
        ``.json`` or ``.json.gz`` (gzip is detected from the content). Only
        regular files are read, within the size cap of :mod:`debias.io.safe_read`.
    what : str
        What one object is, for error messages.

    Returns
    -------
    list of dict

    Raises
    ------
    InputError
        Missing or unreadable file, truncated gzip, invalid JSON, or a JSON value
        that is not a list of objects; the one-line message names the file.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> f = pathlib.Path(tempfile.mkdtemp()) / "x.json"
    >>> _ = f.write_text('[{"a": 1}]')
    >>> load_json_list(f)
    [{'a': 1}]
    """
    path = Path(path)
    return parse_json_list(read_bytes(path), path, what)


def rows_text(mask: Iterable[bool]) -> str:
    """'3, 7, 9 and 12 more': the rows where ``mask`` is true."""
    rows = [i for i, bad in enumerate(mask) if bad]
    shown = ", ".join(map(str, rows[:5]))
    return shown + (f" and {len(rows) - 5} more" if len(rows) > 5 else "")


def is_missing(value: Any) -> bool:
    return value is None or (isinstance(value, float) and math.isnan(value))


def alpaca_preference(raw: list, path: Path) -> np.ndarray:
    """AlpacaEval 1..2 preferences (legacy 0 = tie) -> P(model preferred); NaN kept.

    Refused: JSON booleans (``true`` would read as 1 = baseline preferred), values
    out of range, and files of 0/1 labels (no value above 1: on the 1..2 scale they
    would read as ties and losses; a legacy 0 is a tie only beside 1..2 values).
    """
    kinds = set(map(type, raw))
    if bool in kinds or np.bool_ in kinds:
        bad = [isinstance(v, (bool, np.bool_)) for v in raw]
        raise InputError(
            f"{path}: preference is a JSON boolean in row(s) {rows_text(bad)}; AlpacaEval "
            "preferences are numbers in [1, 2] (1 = output_1 preferred, 2 = output_2): "
            "booleans are ambiguous, write numbers."
        )
    try:
        values = np.asarray(raw, dtype=float)  # None -> NaN; numeric strings parsed
    except (TypeError, ValueError):
        series = pd.Series(raw, dtype=object)
        parsed = pd.to_numeric(series, errors="coerce").to_numpy(dtype=float, na_value=np.nan)
        bad = np.isnan(parsed) & ~np.array([is_missing(v) for v in raw], dtype=bool)
        raise InputError(
            f"{path}: preference is not a number in row(s) {rows_text(bad)} "
            f"(e.g. {series[bad].iloc[0]!r}); AlpacaEval preferences are numbers in [1, 2]."
        ) from None
    tol = 1e-9
    ok = np.isnan(values) | (values == 0) | ((values >= 1 - tol) & (values <= 2 + tol))
    if not ok.all():
        raise InputError(
            f"{path}: preference out of range in row(s) {rows_text(~ok)} "
            f"(e.g. {float(values[~ok][0])!r}); AlpacaEval preferences are 1 (output_1 "
            "preferred) to 2 (output_2 preferred), 1.5 or 0 for a tie: fix or drop those rows."
        )
    zeros = values == 0
    if zeros.any() and not (values > 1 + tol).any():
        raise InputError(
            f"{path}: preferences are only 0 and 1 (e.g. row {int(np.argmax(zeros))}): on "
            "AlpacaEval's 1..2 scale 0 is a legacy tie and 1 a loss, which is probably not what "
            "you mean. For 0/1 labels (1 = model preferred) read the file as a table with "
            "preference_scale='probability'."
        )
    return np.clip(np.where(zeros, 1.5, values) - 1.0, 0.0, 1.0)


def _all_text(values: list) -> bool:
    """Fast check that every value is a str."""
    return set(map(type, values)) <= {str}


def _check_text(values: list, field: str, path: Path, nullable: bool) -> None:
    if _all_text(values):
        return
    if not nullable:
        empty = [is_missing(v) for v in values]
        if any(empty):
            raise InputError(
                f"{path}: {field} is null in row(s) {rows_text(empty)}; every judgment needs "
                f"one: {REDO}"
            )
    nested = [isinstance(v, (dict, list)) for v in values]
    if any(nested):
        raise InputError(
            f"{path}: {field} is a JSON object or array in row(s) {rows_text(nested)}; it must "
            f"be text: {REDO}"
        )
    booleans = [isinstance(v, bool) for v in values]
    if any(booleans):
        raise InputError(
            f"{path}: {field} is a JSON boolean in row(s) {rows_text(booleans)}; it must be "
            f"text: {REDO}"
        )


def annotation_columns(
    records: list[dict], path: Path, *, fallback_judge: str, judge: str | None = None
) -> dict[str, list]:
    """Check one file's judgments and return its canonical columns as lists.

    ``judge`` (the judge folder) overrides every row's ``annotator``; without it
    the ``annotator`` field is used, ``fallback_judge`` where it is missing.
    ``model`` is ``generator_2`` (the caller renames it to the model folder).
    """
    try:
        cols = {
            "instruction": [r["instruction"] for r in records],
            "model": [r["generator_2"] for r in records],
            "baseline": [r["generator_1"] for r in records],
            "output_model": [r["output_2"] for r in records],
            "output_baseline": [r["output_1"] for r in records],
            "preference": [r["preference"] for r in records],
        }
    except KeyError:
        missing = [f for f in REQUIRED_FIELDS if not all(f in r for r in records)]
        first = next(i for i, r in enumerate(records) if any(f not in r for f in missing))
        raise InputError(
            f"{path}: required field(s) {missing} missing (first in item {first}); every "
            f"judgment needs {list(REQUIRED_FIELDS)}: {REDO}"
        ) from None
    for name, field in (
        ("instruction", "instruction"),
        ("model", "generator_2"),
        ("baseline", "generator_1"),
    ):
        _check_text(cols[name], field, path, nullable=False)
    for name, field in (("output_model", "output_2"), ("output_baseline", "output_1")):
        _check_text(cols[name], field, path, nullable=True)
    annotators = [r.get("annotator") for r in records]
    if judge is not None:
        cols["judge"] = [judge] * len(records)
    elif _all_text(annotators) and "" not in annotators:
        cols["judge"] = annotators
    else:
        cols["judge"] = [fallback_judge if is_missing(a) or a == "" else str(a) for a in annotators]
    cols["annotator"] = annotators
    cols["dataset"] = [r.get("dataset") for r in records]
    cols["preference"] = alpaca_preference(cols["preference"], path)
    return cols


def positions(cols: dict[str, list]) -> list[int]:
    """Row index of each judgment among its (judge, model, baseline)'s rows in the file
    (the plain row index in AlpacaEval's one-model files)."""
    n = len(cols["model"])
    if len(set(cols["model"])) == len(set(cols["baseline"])) == len(set(cols["judge"])) == 1:
        return list(range(n))
    seen: dict[tuple, int] = {}
    out = []
    for key in zip(cols["judge"], cols["model"], cols["baseline"], strict=True):
        out.append(seen.get(key, 0))
        seen[key] = out[-1] + 1
    return out


def check_unique(cols: dict[str, list], path: Path) -> None:
    """One judgment per (judge, model, baseline, instruction) within a file."""
    n = len(cols["instruction"])
    if len(set(cols["instruction"])) == n:
        return
    keys = list(
        zip(cols["judge"], cols["model"], cols["baseline"], cols["instruction"], strict=True)
    )
    if len(set(keys)) == n:
        return
    seen: dict[tuple, int] = {}
    dup = [False] * n
    for i, k in enumerate(keys):
        if k in seen:
            dup[i] = dup[seen[k]] = True
        else:
            seen[k] = i
    first = keys[dup.index(True)]
    raise InputError(
        f"{path}: rows {rows_text(dup)} judge model {first[1]!r} on the same instruction "
        f"({first[3][:60]!r}) more than once: keep one judgment per instruction."
    )
