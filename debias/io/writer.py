"""Write AlpacaEval annotation files, atomically (temporary file in the same folder + rename)."""

from __future__ import annotations

import gzip
import json
import math
import os
import tempfile
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from debias.data import Comparisons
from debias.errors import InputError
from debias.io.annotations import REQUIRED_FIELDS

PathLike = str | os.PathLike

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
    frame_or_records: Comparisons | pd.DataFrame | Iterable[Mapping], path: PathLike
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
        Target file; parent folders are created; the write is atomic.

    Returns
    -------
    pathlib.Path
        The file written.

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
    text = json.dumps(records, ensure_ascii=False, indent=2).encode("utf-8")
    path = Path(path)
    if path.suffix == ".gz":
        text = gzip.compress(text, mtime=0)
    _atomic_write(path, text)
    return path


def _atomic_write(path: Path, data: bytes) -> None:
    """Write bytes to ``path`` through a temporary file in the same folder and a rename."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".part")
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
