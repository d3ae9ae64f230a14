"""What every ``debias`` command shares: stage messages, output-path checks, reading the data."""

from __future__ import annotations

import argparse
import difflib
import os
import sys
from pathlib import Path

from debias.errors import InputError, ParameterError

TABLE_SUFFIXES = (".csv", ".tsv", ".md", ".json")


# --------------------------------------------------------------------------- stage messages
def note(args: argparse.Namespace, message: str) -> None:
    """A stage message on stderr (unless ``--quiet``)."""
    if not args.quiet:
        print(message, file=sys.stderr, flush=True)


# --------------------------------------------------------------------------- paths
def check_writable(path: Path, flag: str = "--out") -> None:
    """Refuse (before any fitting) an output whose folder cannot be made or written."""
    if path.is_dir():
        raise InputError(f"{flag} {path} is a directory; give a file name.")
    parent = path.parent
    while not parent.exists():
        if parent.is_symlink():
            raise InputError(f"{flag} {path}: {parent} is a dangling link.")
        parent = parent.parent
    if not parent.is_dir():
        raise InputError(f"{flag} {path}: {parent} is a file, not a folder.")
    if not os.access(parent, os.W_OK | os.X_OK):
        raise InputError(f"{flag} {path}: cannot write into {parent} (permission denied).")


def check_table_out(args: argparse.Namespace, path: Path | None, flag: str = "--out") -> None:
    if path is None:
        return
    from debias.atomic import check_not_input

    if path.suffix.lower() not in TABLE_SUFFIXES:
        raise ParameterError(
            f"{flag} {path}: unknown suffix {path.suffix or '(none)'!r}; use "
            f"{', '.join(TABLE_SUFFIXES)} (.json writes records)."
        )
    check_writable(path, flag)
    check_not_input(path, input_paths(args), flag)


def input_paths(args: argparse.Namespace) -> list:
    found = [getattr(args, "path", None), getattr(args, "regularize", None)]
    diff = getattr(args, "difficulty", None)
    if diff not in (None, "fit", "none"):
        found.append(diff)
    return [f for f in found if f]


# --------------------------------------------------------------------------- reading
def read_comparisons(args: argparse.Namespace):
    """The judgments the command works on; a wrong --models/--exclude name fails before any fit."""
    from debias.reports.leaderboard import load_comparisons

    note(args, f"reading {args.path}…")
    comps = load_comparisons(
        args.path,
        judge=args.judge,
        models=args.models,
        exclude=args.exclude,
        mapping=dict(args.mapping) if args.mapping else None,
        baseline=args.baseline,
        preference_scale=args.preference_scale,
        progress=not args.quiet,
    )
    _check_names(comps, args)
    if args.judge is None and len(comps.judges) > 1:
        comps.require_fixed_baseline()  # raises the explanatory error
        raise InputError(
            f"{args.path}: judgments of several judges {comps.judges}; pick one with --judge."
        )
    note(
        args,
        f"read {len(comps.data)} judgments of {len(comps.models)} models (judge "
        f"{', '.join(map(str, comps.judges))}; baseline {', '.join(map(str, comps.baselines))})",
    )
    return comps


def _check_names(comps, args: argparse.Namespace) -> None:
    """A --models name missing from what was read: one line with close matches (a backstop)."""
    present = [str(m) for m in comps.models] + [str(b) for b in comps.baselines]
    for name in args.models or ():
        if name not in present:
            close = difflib.get_close_matches(name, present, n=3, cutoff=0.6)
            hint = f"did you mean {', '.join(close)}?" if close else "no close match"
            raise InputError(f"--models: no model {name!r} in {args.path} ({hint}).")


def check_replaceable(out: Path, is_previous, what: str) -> None:
    """An output folder: new, empty, or a previous output of the same command (replaced)."""
    if out.exists() or out.is_symlink():
        if not out.is_dir():
            raise InputError(f"--out {out} exists and is not a folder.")
        if any(out.iterdir()) and not is_previous(out):
            raise InputError(
                f"--out {out} is not empty and is not {what}; give a new or empty folder "
                "(nothing was written)."
            )
    else:
        check_writable(out)


def data_format(args: argparse.Namespace) -> str | None:
    """The judge layout of ``args.path``: ``--format`` when given, else detected
    (:func:`debias.io.judges.detect_format`; None for AlpacaEval data and plain tables of
    preferences)."""
    if getattr(args, "format", None) is not None:
        return args.format
    from debias.io.judges import detect_format

    return detect_format(args.path, dict(args.mapping) if args.mapping else None)


def read_judge_files(args: argparse.Namespace):
    """The :class:`~debias.judgments.Judgments` of ``args.path`` in any judge layout
    (:func:`debias.io.read_judgments`), ``--judge`` naming the judge of files that store none
    and selecting one otherwise; the verdict-parsing options passed when given."""
    import dataclasses

    import pandas as pd

    from debias.io.judges import read_judgments

    note(args, f"reading {args.path}…")
    judgments = read_judgments(
        args.path,
        format=getattr(args, "format", None),
        mapping=dict(args.mapping) if args.mapping else None,
        baseline=args.baseline,
        match=getattr(args, "verdict_match", None),
        patterns=getattr(args, "verdict_pattern", None),
    )
    if args.judge is not None and judgments.judges == ["unknown"]:  # the files name no judge
        rows = judgments.rows.assign(judge=pd.Categorical([args.judge] * len(judgments)))
        return dataclasses.replace(judgments, rows=rows)
    if args.judge is not None:
        return judgments.select(judge=args.judge)
    return judgments


def select_models(args: argparse.Namespace, frame, columns=("model",), what: str = "nothing"):
    """Rows whose models (every column of ``columns``) pass ``--models`` / ``--exclude``; a
    name not in the data, or nothing left, is one clear error (``what`` names the rows)."""
    present = sorted(set().union(*(set(frame[c]) for c in columns)))
    for flag, names in (("--models", args.models), ("--exclude", args.exclude)):
        for name in names or ():
            if name not in present:
                raise InputError(f"{flag}: no model {name!r} in {args.path}; models: {present}.")
    keep = frame[columns[0]].notna()
    for c in columns:
        if args.models:
            keep &= frame[c].isin(args.models)
        if args.exclude:
            keep &= ~frame[c].isin(args.exclude)
    out = frame[keep.to_numpy()].reset_index(drop=True)
    if out.empty:
        raise InputError(f"{args.path}: {what} left between the models selected.")
    return out
