"""Write AlpacaEval files: annotations and model outputs (the one AlpacaEval writer).

Every file is written atomically (:mod:`debias.atomic`: a temporary file in the same
folder, then a rename), as strict JSON (no ``NaN``: missing values are ``null``), with a
final newline; ``.gz`` paths are gzipped reproducibly (no timestamp in the header).
The simulator's tree writer (:func:`debias.simulate.write_alpaca_eval_tree`) writes
through these functions too.
"""

from __future__ import annotations

import gzip
import json
import math
import os
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from debias.atomic import write_bytes
from debias.data import Comparisons
from debias.errors import InputError
from debias.io.annotations import REQUIRED_FIELDS

PathLike = str | os.PathLike

__all__ = ["ANNOTATION_FIELDS", "write_annotations", "write_model_outputs"]

#: Field order used when writing annotations (extra fields follow).
ANNOTATION_FIELDS: tuple[str, ...] = (
    "instruction",
    "output_1",
    "generator_1",
    "dataset",
    "output_2",
    "generator_2",
    "annotator",
    "preference",
    "price_per_example",
    "time_per_example",
)
_CANONICAL_TO_ALPACA = (
    ("instruction", "instruction"),
    ("output_baseline", "output_1"),
    ("baseline", "generator_1"),
    ("dataset", "dataset"),
    ("output_model", "output_2"),
    ("model", "generator_2"),
    ("judge", "annotator"),
    ("preference", "preference"),
)


def _plain(value: Any) -> Any:
    """JSON-ready scalar: numpy scalars to Python, NaN / NA to null."""
    if isinstance(value, np.generic):
        value = value.item()
    if value is None or value is pd.NA or value is pd.NaT:
        return None
    if isinstance(value, float) and math.isnan(value):
        return None
    return value


def _to_records(data: Comparisons | pd.DataFrame | Iterable[Mapping]) -> list[dict]:
    if isinstance(data, Comparisons):
        data = data.data
    if isinstance(data, pd.DataFrame):
        records = data.to_dict(orient="records")
    else:
        records = [dict(r) for r in data]
    return [{k: _plain(v) for k, v in r.items()} for r in records]


def _alpaca_record(r: dict) -> dict:
    """A canonical row (P(model preferred)) as an AlpacaEval judgment (1..2 scale)."""
    out = {}
    for canon, alpaca in _CANONICAL_TO_ALPACA:
        if canon in r:
            out[alpaca] = r[canon]
    out.setdefault("output_1", "")
    out.setdefault("output_2", "")
    if out.get("preference") is not None:
        out["preference"] = float(out["preference"]) + 1.0
    return out


def write_annotations(
    frame_or_records: Comparisons | pd.DataFrame | Iterable[Mapping],
    path: PathLike,
    *,
    indent: int | None = 2,
) -> Path:
    """Write an AlpacaEval ``annotations.json`` (or ``.json.gz``, by suffix).

    Parameters
    ----------
    frame_or_records : Comparisons, DataFrame or iterable of dicts
        Either AlpacaEval judgments (with ``generator_2``; written as given,
        ``preference`` already on the 1..2 scale, extra fields kept), or canonical
        rows (with ``model``, e.g. :class:`Comparisons`), converted back: model →
        ``generator_2``/``output_2``, baseline → ``generator_1``/``output_1``,
        judge → ``annotator``, ``preference`` = P(model preferred) + 1.
        NaN / NA values are written as ``null``. The input is not modified.
    path : str or path-like
        Target file; parent folders are created; the write is atomic; a ``.gz`` suffix
        gzips it.
    indent : int or None, default 2
        JSON indentation; ``None`` writes one record per line (compact and fast, still
        diff-friendly).

    Returns
    -------
    pathlib.Path
        The file written.

    Raises
    ------
    InputError
        Rows that are neither AlpacaEval judgments nor canonical rows, or a value JSON
        cannot hold (an infinite number, an object that is not JSON).

    Examples
    --------
    >>> import tempfile, pathlib
    >>> f = pathlib.Path(tempfile.mkdtemp()) / "results/m/j/annotations.json"
    >>> rows = [{"instruction": "q", "model": "m", "baseline": "b", "preference": 0.75}]
    >>> _ = write_annotations(rows, f)
    >>> from debias.io.annotations import load_json_list
    >>> load_json_list(f)[0]["preference"]
    1.75
    """
    records = _to_records(frame_or_records)
    keys = set().union(*records) if records else set()
    if records and "generator_2" not in keys:
        if "model" not in keys:
            raise InputError(
                f"{path}: write_annotations needs AlpacaEval fields ({', '.join(REQUIRED_FIELDS)}) "
                f"or canonical columns (instruction, model, baseline, preference); got {sorted(keys)}."
            )
        records = [_alpaca_record(r) for r in records]
    order = {k: i for i, k in enumerate(ANNOTATION_FIELDS)}
    records = [
        dict(sorted(r.items(), key=lambda kv: order.get(kv[0], len(order)))) for r in records
    ]
    return _write_records(records, path, indent)


def write_model_outputs(
    records: Iterable[Mapping], path: PathLike, *, indent: int | None = 2
) -> Path:
    """Write an AlpacaEval ``model_outputs.json``: one record per instruction, as given.

    Parameters
    ----------
    records : iterable of dict
        Typically ``instruction``, ``output``, ``generator`` and ``dataset``; written
        in the order given, NaN / NA as ``null``. The input is not modified.
    path : str or path-like
        Target file (``.gz`` gzips it); parent folders are created; the write is atomic.
    indent : int or None, default 2
        JSON indentation; ``None`` writes one record per line.

    Returns
    -------
    pathlib.Path
        The file written.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> f = pathlib.Path(tempfile.mkdtemp()) / "results/base/model_outputs.json"
    >>> rows = [{"instruction": "q", "output": "a", "generator": "base", "dataset": None}]
    >>> print(write_model_outputs(rows, f, indent=None).read_text(), end="")
    [
    {"instruction": "q", "output": "a", "generator": "base", "dataset": null}
    ]
    """
    return _write_records(_to_records(records), path, indent)


def _json_bytes(records: list[dict], indent: int | None) -> bytes:
    """A JSON list and a final newline: pretty with ``indent``, else one record per line."""
    if indent is not None:
        text = json.dumps(records, indent=indent, ensure_ascii=False, allow_nan=False)
    else:
        enc = json.JSONEncoder(ensure_ascii=False, allow_nan=False).encode
        text = "[\n" + ",\n".join(map(enc, records)) + "\n]" if records else "[]"
    return (text + "\n").encode("utf-8")


def _write_records(records: list[dict], path: PathLike, indent: int | None) -> Path:
    path = Path(path)
    try:
        data = _json_bytes(records, indent)
    except (TypeError, ValueError) as exc:  # inf, or an object JSON cannot hold
        raise InputError(f"{path}: cannot write these records as JSON ({exc}).") from None
    if path.suffix == ".gz":
        data = gzip.compress(data, compresslevel=9, mtime=0)
    write_bytes(path, data)
    return path
