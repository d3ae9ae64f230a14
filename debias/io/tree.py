"""Find the annotation files of an AlpacaEval results tree, and name them by folder.

AlpacaEval keeps one JSON list of judgments per (model, judge)::

    <root>/results/<model>/<judge>/annotations.json[.gz]

and names a model by its ``<model>`` folder (its leaderboards do), a judge by its
``<judge>`` folder. :func:`scan` lists the files as :class:`Source` objects carrying
those names, plus the problems that would otherwise silently drop a model (a
dangling symlink, a judge "folder" that is a file, an annotations path that is a
folder): the reader warns about them, or fails when the model was named.
"""

from __future__ import annotations

import difflib
import os
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

from debias.errors import InputError
from debias.io.safe_read import first_line

ANNOTATION_FILES: tuple[str, ...] = ("annotations.json", "annotations.json.gz")
MODEL_OUTPUT_FILES: tuple[str, ...] = ("model_outputs.json", "model_outputs.json.gz")


@dataclass(frozen=True)
class Source:
    """One annotation file; ``model`` / ``judge`` are folder names (None: read from the rows)."""

    path: Path
    model: str | None
    judge: str | None
    named: bool = False  # named by the user: a problem with it is an error, not a skip


@dataclass(frozen=True)
class Problem:
    """A model folder that cannot be read (kept to warn, or to fail when the model is named)."""

    model: str
    judge: str | None
    message: str


def in_layout(path: Path) -> bool:
    """Whether ``path`` is ``results/<model>/<judge>/annotations.json[.gz]``."""
    return path.name in ANNOTATION_FILES and path.parent.parent.parent.name == "results"


def existing(folder: Path, names: Sequence[str]) -> list[Path]:
    """The files of ``names`` present in ``folder`` as regular files (following links)."""
    return [folder / n for n in names if (folder / n).is_file()]


def _entries(folder: Path) -> list[Path]:
    try:
        return sorted(folder.iterdir())
    except OSError as exc:
        raise InputError(f"{folder}: cannot list the folder ({first_line(exc)}).") from None


def _annotation_file(judge_dir: Path, problems: list[Problem], doubles: list[Path]):
    """The annotation file of a judge folder; a name that exists but is no file is a problem."""
    model, judge = judge_dir.parent.name, judge_dir.name
    found = []
    for name in ANNOTATION_FILES:
        p = judge_dir / name
        if p.is_file():
            found.append(p)
        elif p.is_symlink() and not p.exists():
            problems.append(Problem(model, judge, f"{p}: dangling symbolic link"))
        elif p.exists():
            problems.append(Problem(model, judge, f"{p}: is a folder or special file, not a file"))
    if len(found) > 1:
        doubles.append(found[0])
    return found[0] if found else None


def _model_folder(model_dir: Path, problems: list[Problem], doubles: list[Path]) -> list[Source]:
    out = []
    for entry in _entries(model_dir):
        if entry.is_dir():
            f = _annotation_file(entry, problems, doubles)
            if f is not None:
                out.append(Source(f, model_dir.name, entry.name))
        elif entry.is_symlink() and not entry.exists():
            problems.append(Problem(model_dir.name, entry.name, f"{entry}: dangling symbolic link"))
        elif entry.name not in MODEL_OUTPUT_FILES and "." not in entry.name:
            # a plain file named like a judge folder (results/<model>/<judge>)
            problems.append(
                Problem(model_dir.name, entry.name, f"{entry}: is a file, expected a judge folder")
            )
    return out


def scan(path: Path) -> tuple[list[Source], list[Problem], list[Path]]:
    """Annotation files under a data root, a ``results/`` folder, a model or a judge folder.

    Returns the sources, the problems found, and the folders holding both
    ``annotations.json`` and ``annotations.json.gz`` (the first is read).
    """
    problems: list[Problem] = []
    doubles: list[Path] = []
    own = _annotation_file(path, problems, doubles)
    if own is not None or problems:  # a judge folder
        sources = [Source(own, path.parent.name, path.name, named=True)] if own else []
        return sources, [Problem(p.model, p.judge, p.message) for p in problems], doubles
    base = path / "results" if (path / "results").is_dir() else path
    sources: list[Source] = []
    for entry in _entries(base):
        if entry.is_dir():
            sources += _model_folder(entry, problems, doubles)
        elif entry.is_symlink() and not entry.exists():
            problems.append(Problem(entry.name, None, f"{entry}: dangling symbolic link"))
    model_problems = [p for p in problems if p.judge is not None]
    if not sources and not model_problems:  # maybe a model folder: <model>/<judge>/annotations
        problems = []
        sources = [
            Source(s.path, s.model, s.judge, named=True)
            for s in _model_folder(path, problems, doubles)
        ]
    return sources, problems, doubles


def close_matches(unknown: Iterable[str], present: Sequence[str], what: str = "names") -> str:
    """ " 'x': did you mean 'a', 'b'?" for the unknown names, else the list of what is present.

    Examples
    --------
    >>> close_matches(["model_O"], ["model_0", "other"])
    "; 'model_O': did you mean 'model_0'?"
    """
    hints = []
    for name in unknown:
        near = difflib.get_close_matches(name, present, n=3, cutoff=0.6)
        if near:
            hints.append(f"{name!r}: did you mean {', '.join(map(repr, near))}?")
    if hints:
        return "; " + " ".join(hints)
    shown = ", ".join(present[:10]) + (
        f" and {len(present) - 10} more" if len(present) > 10 else ""
    )
    return f"; {what} present: {shown}."


def as_names(value: str | Iterable[str] | None, keyword: str) -> list[str] | None:
    """``models=`` / ``exclude=`` as a list: a plain string is one name, not characters."""
    if value is None:
        return None
    if isinstance(value, (str, os.PathLike)):
        return [os.fspath(value)]
    try:
        names = list(value)
    except TypeError:
        raise InputError(
            f"{keyword}= must be a name or a list of names, got {type(value).__name__}."
        ) from None
    bad = [n for n in names if not isinstance(n, str)]
    if bad:
        raise InputError(f"{keyword}= must hold names (text), got {bad[0]!r}.")
    return names
