"""Which judge layout a file or folder holds, and :func:`read_judgments` that reads any of them.

:data:`FORMATS` is the registry: name -> :class:`Format` (a description, a cheap
``sniff(path, mapping)`` that looks at names and the first record only, and the
reader). Formats are tried in registry order, the generic battle table last; a
reader module adds its own with one line::

    FORMATS["mt_bench_pairs"] = Format("FastChat MT-Bench pair judgments", sniff, read)
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path

from debias.errors import InputError, ParameterError
from debias.io.judges.answers import first_record, head_text
from debias.io.judges.arena_bench import SINGLE_GRADES_FORMAT
from debias.io.judges.arena_hard import (
    BATTLE_FIELDS,
    read_arena_hard_battles,
    read_arena_hard_judgments,
)
from debias.io.judges.battle_tables import FIELDS, read_battle_table
from debias.io.judges.mt_bench import FASTCHAT_PAIR_FORMAT, PBA_FORMAT, read_pba
from debias.io.judges.vicuna import VICUNA_FORMAT
from debias.io.safe_read import check_regular_file
from debias.io.tables import TABLE_SUFFIXES, table_format
from debias.judgments import Judgments


@dataclass(frozen=True)
class Format:
    """One judge layout: what it is, how to recognise it, how to read it.

    ``read(path, *, judge, mapping, baseline)`` returns :class:`Judgments`;
    ``sniff(path, mapping)`` returns True when ``path`` looks like this layout and
    must never raise or read more than the first records.
    """

    description: str
    sniff: Callable[[Path, Mapping | None], bool]
    read: Callable[..., Judgments]


def header(path: Path) -> list[str]:
    """Column names of a table from its first line, record or schema ([] when unknown).

    A JSON list of records is not parsed: the keys quoted in its first 64 KiB are
    taken as its columns.
    """
    fmt = table_format(path)
    if fmt == "jsonl":
        return list(first_record(path))
    if fmt == "parquet":
        try:
            import pyarrow.parquet as pq

            check_regular_file(path)
            return list(pq.read_schema(path).names)
        except (ImportError, InputError, OSError, ValueError):
            return []
    text = head_text(path)
    if fmt == "json":
        return re.findall(r'"([^"\\]{1,200})"\s*:', text)
    if fmt not in ("csv", "tsv") or not text:
        return []
    line = text.splitlines()[0]
    return [c.strip().strip('"') for c in line.split("," if fmt == "csv" else "\t")]


def _jsonl_files(folder: Path) -> list[Path]:
    return sorted(
        f for f in folder.iterdir() if f.name.endswith((".jsonl", ".jsonl.gz")) and f.is_file()
    )


# ------------------------------------------------------------------------------- sniffers
def _is_battles_file(path: Path) -> bool:
    rec = first_record(path) if path.name.endswith((".jsonl", ".jsonl.gz")) else {}
    return set(rec) == BATTLE_FIELDS


def sniff_arena_hard_battles(path: Path, mapping=None) -> bool:
    if mapping:
        return False
    if path.is_dir():
        return any(_is_battles_file(f) for f in _jsonl_files(path) if "battle" in f.name)
    return _is_battles_file(path)


def _is_judgment_file(path: Path) -> bool:
    return {"question_id", "model", "games"} <= set(first_record(path))


def sniff_arena_hard_judgments(path: Path, mapping=None) -> bool:
    if mapping:
        return False
    if not path.is_dir():
        return _is_judgment_file(path)
    folder = path / "model_judgment" if (path / "model_judgment").is_dir() else path
    files = _jsonl_files(folder) or [
        f for d in sorted(folder.iterdir()) if d.is_dir() for f in _jsonl_files(d)
    ]
    return bool(files) and _is_judgment_file(files[0])


def sniff_battle_table(path: Path, mapping=None) -> bool:
    if path.is_dir() or not str(path).lower().endswith(TABLE_SUFFIXES):
        return False
    columns = set(header(path))
    for key, value in dict(mapping or {}).items():
        if key in columns and value in FIELDS:
            columns.add(value)
        elif value in columns and key in FIELDS:
            columns.add(key)
    return {"model_a", "model_b"} <= columns and bool({"winner", "outcome"} & columns)


# ------------------------------------------------------------------------------- readers
def _battles_path(path: Path) -> Path:
    if not path.is_dir():
        return path
    return next(f for f in _jsonl_files(path) if "battle" in f.name and _is_battles_file(f))


def _read_battles(path: Path, *, judge=None, mapping=None, baseline=None) -> Judgments:
    return read_arena_hard_battles(_battles_path(path), judge=judge)


def _read_judgments_files(path: Path, *, judge=None, mapping=None, baseline=None) -> Judgments:
    if path.is_dir() and (path / "model_judgment").is_dir():
        path = path / "model_judgment"
    return read_arena_hard_judgments(path, baseline=baseline, judge=judge)


def _read_table(path: Path, *, judge=None, mapping=None, baseline=None) -> Judgments:
    return read_battle_table(path, mapping, judge=judge)


#: Formats that accept any table with the right columns: tried after every other.
GENERIC: tuple[str, ...] = ("battle_table",)
#: name -> Format, tried in this order by :func:`detect_format` (:data:`GENERIC` last).
FORMATS: dict[str, Format] = {
    "arena_hard_battles": Format(
        "Arena-Hard battles: {question_id, model_a, model_b, winner} rows, strong verdicts "
        "written 3 times",
        sniff_arena_hard_battles,
        _read_battles,
    ),
    "arena_hard_judgments": Format(
        "Arena-Hard judgment files: {question_id, model, judge, games: [{score, judgment}, ...]}",
        sniff_arena_hard_judgments,
        _read_judgments_files,
    ),
    "battle_table": Format(
        "a table of battles (CSV/TSV/JSONL/JSON/Parquet): model_a, model_b, winner or "
        "outcome, prompt_id (columns renamed with mapping=)",
        sniff_battle_table,
        _read_table,
    ),
}
FORMATS["mt_bench_pba"] = Format(*PBA_FORMAT)
#: Layouts whose verdicts are parsed from the judge's text: name -> reader taking
#: ``match=`` / ``patterns=`` (:func:`debias.judgments.parse.parse_verdicts`).
TEXT_VERDICTS = {"mt_bench_pba": read_pba}
FORMATS["mt_bench_pairs"] = Format(*FASTCHAT_PAIR_FORMAT)
FORMATS["single_grades"] = Format(*SINGLE_GRADES_FORMAT)
FORMATS["vicuna_reviews"] = Format(*VICUNA_FORMAT)


def _format_list() -> str:
    return "; ".join(f"{name} ({f.description})" for name, f in FORMATS.items())


def detect_format(path: str | os.PathLike, mapping: Mapping | None = None) -> str | None:
    """The name of the first format in :data:`FORMATS` whose sniffer accepts ``path``, or None.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> f = pathlib.Path(tempfile.mkdtemp()) / "votes.csv"
    >>> _ = f.write_text("prompt_id,model_a,model_b,winner\\n1,x,y,tie\\n")
    >>> detect_format(f), detect_format(f.parent / "nothing.csv")
    ('battle_table', None)
    """
    p = Path(path)
    if not p.exists():
        return None
    order = [n for n in FORMATS if n not in GENERIC] + [n for n in GENERIC if n in FORMATS]
    for name in order:
        try:
            if FORMATS[name].sniff(p, mapping):
                return name
        except (OSError, StopIteration):
            continue
    return None


def read_judgments(
    path: str | os.PathLike,
    *,
    format: str | None = None,
    judge: str | None = None,
    mapping: Mapping[str, str] | None = None,
    baseline: str | None = None,
    match: str | None = None,
    patterns=None,
) -> Judgments:
    """Read judge calls of any known layout (detected, or ``format=``) as :class:`Judgments`.

    Parameters
    ----------
    path : str or path-like
        A file or a folder (e.g. ``arena_hard_v0.1/`` holding the battles file,
        ``question.jsonl`` and ``model_answer/``).
    format : str, optional
        One of :data:`FORMATS` (detected by default).
    judge : str, optional
        The judge's name when the files do not store it (or to override it).
    mapping : dict, optional
        Column names of a battle table (``{"your column": "field"}``).
    baseline : str, optional
        The baseline of layouts that do not name it (Arena-Hard judgment files).
    match, patterns : optional
        How verdicts are parsed from raw judge texts (layouts that store the text only,
        e.g. ``mt_bench_pba``): :func:`debias.judgments.parse.parse_verdicts`'s ``match``
        (``"first"``, ``"last"``, ``"unique"``) and ``patterns`` (your own regular
        expressions). Refused for layouts that store their verdicts.

    Returns
    -------
    Judgments
        With answer texts and stored token counts when the folder has them.

    Raises
    ------
    InputError
        The path does not exist, holds no layout recognised (the message lists
        them), or is malformed (the reader names the file and lines).

    Examples
    --------
    >>> import tempfile, pathlib
    >>> f = pathlib.Path(tempfile.mkdtemp()) / "votes.jsonl"
    >>> _ = f.write_text('{"question_id": "q", "model_a": "x", "model_b": "y", "winner": "tie",'
    ...                  ' "judge": "human"}\\n')
    >>> read_judgments(f).battles()[["judge", "model_a", "outcome"]]
       judge model_a  outcome
    0  human       x      0.5
    """
    p = Path(path)
    if format is not None:
        if format not in FORMATS:
            raise ParameterError(
                f"The 'format' parameter must be one of {list(FORMATS)}. Got {format!r}."
            )
        name = format
    else:
        if not p.exists() and not p.is_symlink():
            raise InputError(f"{p}: not found (no such file or folder).")
        if p.is_symlink() and not p.exists():
            raise InputError(f"{p}: dangling symbolic link.")
        name = detect_format(p, mapping)
        if name is None:
            raise InputError(
                f"{p}: cannot tell which judge layout this is; pass format= one of "
                f"{list(FORMATS)}: {_format_list()}."
            )
    if mapping and name != "battle_table":
        raise ParameterError(
            f"mapping= renames the columns of a battle table; {p} is read as {name}."
        )
    if match is not None or patterns is not None:
        if name not in TEXT_VERDICTS:
            raise ParameterError(
                f"match= and patterns= parse verdicts from raw judge texts; {p} is read as "
                f"{name}, which stores its verdicts (layouts with texts only: "
                f"{', '.join(TEXT_VERDICTS)})."
            )
        options = {k: v for k, v in (("match", match), ("patterns", patterns)) if v is not None}
        return TEXT_VERDICTS[name](p, judge=judge, **options)
    return FORMATS[name].read(p, judge=judge, mapping=mapping, baseline=baseline)
