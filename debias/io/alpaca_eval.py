"""Read AlpacaEval result trees as AlpacaEval publishes them.

AlpacaEval keeps one JSON list of judgments per (model, judge)::

    <root>/results/<model>/<judge>/annotations.json[.gz]
    <root>/results/<baseline>/model_outputs.json[.gz]

:func:`read_alpaca_eval` turns a tree (or some files) into
:class:`~debias.data.Comparisons` with ``preference`` = P(model preferred) =
``preference - 1``. Models and judges are named by their folders, as AlpacaEval's
own leaderboards name them; one unreadable model folder is skipped with a warning
rather than stopping the run. File parsing is in :mod:`debias.io.annotations`,
bounded reading in :mod:`debias.io.safe_read`, writing in :mod:`debias.io.writer`.
"""

from __future__ import annotations

import contextlib
import gc
import os
import sys
import warnings
from collections import deque
from collections.abc import Iterable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import pandas as pd
from tqdm import tqdm

from debias.data import Comparisons
from debias.errors import DataWarning, InputError
from debias.io import tree
from debias.io.annotations import (
    REQUIRED_FIELDS,
    annotation_columns,
    check_unique,
    is_missing,
    load_json_list,
    parse_json_list,
    positions,
)
from debias.io.consistency import FileChecks, check_same_model_twice
from debias.io.published import normalise_column_name, read_benchmarks, read_leaderboard
from debias.io.safe_read import REDO, check_regular_file, read_bytes
from debias.io.tree import ANNOTATION_FILES, MODEL_OUTPUT_FILES, Source, as_names, close_matches
from debias.io.writer import ANNOTATION_FIELDS, write_annotations

__all__ = [
    "ANNOTATION_FIELDS",
    "ANNOTATION_FILES",
    "MODEL_OUTPUT_FILES",
    "REQUIRED_FIELDS",
    "load_json_list",
    "normalise_column_name",
    "parse_json_list",
    "read_alpaca_eval",
    "read_benchmarks",
    "read_leaderboard",
    "read_model_outputs",
    "write_annotations",
]

PathLike = str | os.PathLike


def read_alpaca_eval(
    path: PathLike | Sequence[PathLike],
    judge: str | None = None,
    models: str | Iterable[str] | None = None,
    baseline: str | None = None,
    progress: bool = False,
    *,
    exclude: str | Iterable[str] | None = None,
) -> Comparisons:
    """Read AlpacaEval annotations into :class:`~debias.data.Comparisons`.

    Parameters
    ----------
    path : str, path-like or list of them
        An AlpacaEval data root (holding ``results/``), a ``results/`` folder, a
        model or judge folder, one ``annotations.json[.gz]`` file, or a list of files.
    judge : str, optional
        The judge folder name, ``results/<model>/<judge>/annotations.json``, for a
        tree and for a file alike (default: the only judge present). For a file
        outside that layout the judge is the rows' ``annotator`` field (rows
        without one: ``judge`` if given, else the file's folder name).
    models, exclude : str or list of str, optional
        Model names to keep / to leave out (a plain string is one name). Unknown
        names raise :class:`~debias.errors.InputError` listing close matches.
    baseline : str, optional
        Keep the judgments against this baseline (``generator_1``) only.
    progress : bool
        Show a progress bar over files (on stderr).

    Returns
    -------
    Comparisons
        ``model`` is the model's folder name (``results/<model>/``) for files in
        the layout, as on AlpacaEval's leaderboards (a :class:`DataWarning` names
        the file when ``generator_2`` says otherwise), else ``generator_2`` (also
        for a file in the layout that holds several models, with a warning);
        ``judge`` likewise is the judge folder (a warning names the file when its
        ``annotator`` field differs), else ``annotator``; ``baseline`` =
        ``generator_1``; ``preference`` = AlpacaEval preference − 1 (legacy 0 = tie
        = 0.5; null stays NaN); ``position`` = row in its file. The instruction
        order is the baseline's ``model_outputs.json[.gz]`` when present next to
        the annotations, else that of the longest file.

    Raises
    ------
    InputError
        Path not found, no annotation files, several judges and no ``judge=``,
        unknown model/judge/baseline, or a malformed file that was named (the
        message names it). When reading a folder, a model whose file is
        unreadable, corrupt or holds a judgment twice is skipped with a
        :class:`DataWarning` naming the file, unless it is the only model or was
        named in ``models=``.

    Warns
    -----
    DataWarning
        A folder name that ``generator_2`` or ``annotator`` contradicts; two model
        folders with the same answers and verdicts (both kept); prompts differing
        only in whitespace or case (kept distinct); the baseline's answer to one
        prompt differing between files (kept: each row keeps the answer its judge
        saw, so the rows stay valid, but those models did not face the same
        baseline; see :mod:`debias.io.consistency`); a skipped model folder.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> root = pathlib.Path(tempfile.mkdtemp())
    >>> rows = [{"instruction": f"q{i}", "output_1": "b", "generator_1": "gpt4",
    ...          "output_2": "m", "generator_2": "mine", "preference": p}
    ...         for i, p in enumerate([2.0, 1.0, 1.5, 1.9])]
    >>> _ = write_annotations(rows, root / "results/mine/my_judge/annotations.json.gz")
    >>> comps = read_alpaca_eval(root)
    >>> comps.win_rates()[["model", "n", "win_rate"]]
      model  n  win_rate
    0  mine  4      60.0
    """
    models = as_names(models, "models")
    exclude = as_names(exclude, "exclude")
    sources, where, problems, from_folder = _resolve(path, judge, models, exclude)
    checks = FileChecks()
    columns: dict[str, list] = {}
    longest: list = []
    seen_keys: dict[tuple, tuple[Path, set]] = {}
    skipped: list[str] = [p.message for p in problems]
    bar = tqdm(
        total=len(sources), desc="Reading AlpacaEval", unit="file", file=sys.stderr,
        disable=not progress,
    )  # fmt: skip
    with bar, _gc_paused(), contextlib.closing(_prefetch([s.path for s in sources])) as blobs:
        for source, data in zip(sources, blobs, strict=True):
            bar.update()
            try:
                if isinstance(data, InputError):
                    raise data
                cols = _read_one(source, data, judge)
                if cols is None:
                    continue
                check_same_model_twice(cols, source.path, seen_keys)
            except InputError as exc:
                if source.named or len(sources) == 1:
                    raise
                skipped.append(str(exc))
                continue
            checks.add(cols, source.path)
            if len(cols["instruction"]) > len(longest):
                longest = cols["instruction"]
            for name, values in cols.items():
                columns.setdefault(name, []).append(values)
    for message in skipped:
        warnings.warn(f"{message}; model skipped.", DataWarning, stacklevel=2)
    if not columns:
        raise InputError(
            f"{where}: no readable judgments"
            + (f" ({len(skipped)} file(s) skipped, e.g. {skipped[0]})." if skipped else ".")
        )
    columns.pop("annotator", None)
    frame = pd.DataFrame(
        {
            name: np.concatenate(parts) if name == "preference" else _flatten(parts)
            for name, parts in columns.items()
        }
    )
    checks.warn(frame["instruction"].unique())
    if from_folder:  # judge, models and exclude were folder names, already applied
        judge = models = exclude = None
    frame = _filter(frame, judge, models, exclude, baseline, where)
    comps = Comparisons.from_dataframe(frame, source=str(where))
    order = _instruction_order([s.path for s in sources], comps, longest)
    return comps.with_instruction_order(order)


def _read_one(source: Source, data: bytes, judge: str | None) -> dict[str, list] | None:
    """One file's canonical columns, named by folder when it is in the layout."""
    f = source.path
    records = parse_json_list(data, f)
    if not records:
        warnings.warn(f"{f}: no judgments (empty list); skipped.", DataWarning, stacklevel=3)
        return None
    fallback = judge if judge and source.judge is None else f.parent.name
    cols = annotation_columns(records, f, fallback_judge=fallback, judge=source.judge)
    del records
    if source.judge is not None:
        said = {str(a) for a in cols["annotator"] if not is_missing(a) and a != ""}
        if said - {source.judge}:
            warnings.warn(
                f"{f}: annotator field says {sorted(said)[0]!r} but the file sits in judge folder "
                f"{source.judge!r}; read as {source.judge!r} (the folder, as AlpacaEval does).",
                DataWarning,
                stacklevel=3,
            )
    said = set(cols["model"])
    if source.model is not None and len(said) > 1:
        warnings.warn(
            f"{f}: holds {len(said)} models (generator_2), where AlpacaEval keeps one per "
            f"folder; named by generator_2, not by the folder {source.model!r}.",
            DataWarning,
            stacklevel=3,
        )
    elif source.model is not None:
        if said != {source.model}:
            warnings.warn(
                f"{f}: generator_2 says {sorted(said)[0][:80]!r} but the model folder is "
                f"{source.model!r}; named by its folder, as AlpacaEval's leaderboards are.",
                DataWarning,
                stacklevel=3,
            )
            cols["model"] = [source.model] * len(cols["model"])
    cols["position"] = positions(cols)
    check_unique(cols, f)
    return cols


def _flatten(parts: list[list]) -> pd.Series:
    """Concatenate lists into one object Series (kept object: no string-dtype inference)."""
    out = np.empty(sum(len(p) for p in parts), dtype=object)
    i = 0
    for p in parts:
        out[i : i + len(p)] = p
        i += len(p)
    return pd.Series(out, dtype=object, copy=False)


@contextlib.contextmanager
def _gc_paused() -> Iterator[None]:
    """Pause the cyclic garbage collector while decoding many small objects.

    ``json.loads`` of a few hundred thousand dicts and strings otherwise triggers
    repeated full collections over everything already read.
    """
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


def _read_or_error(path: Path) -> bytes | InputError:
    try:
        return read_bytes(path)
    except InputError as exc:
        return exc


def _prefetch(files: list[Path], ahead: int = 3) -> Iterator[bytes | InputError]:
    """Yield each file's (gunzipped) bytes or its error, reading a few files ahead in a thread.

    zlib releases the GIL, so decompression overlaps the JSON parsing.
    """
    if len(files) < 2:
        yield from (_read_or_error(f) for f in files)
        return
    with ThreadPoolExecutor(max_workers=1) as pool:
        pending = deque(pool.submit(_read_or_error, f) for f in files[:ahead])
        upcoming = iter(files[ahead:])
        try:
            while pending:
                data = pending.popleft().result()
                nxt = next(upcoming, None)
                if nxt is not None:
                    pending.append(pool.submit(_read_or_error, nxt))
                yield data
        finally:
            for fut in pending:
                fut.cancel()


def _resolve(path, judge, models, exclude) -> tuple[list[Source], Path, list[tree.Problem], bool]:
    """(files to read, name for messages, problems to warn about, whether from a folder)."""
    if isinstance(path, (str, os.PathLike)):
        p = Path(path)
        if not p.exists() and not p.is_symlink():
            raise InputError(f"{p}: no such file or folder.")
        if p.is_dir():
            return (*_from_folder(p, judge, models, exclude), True)
        check_regular_file(p)
        paths = [p]
    else:
        paths = list(dict.fromkeys(map(Path, path)))
        if not paths:
            raise InputError("read_alpaca_eval: the list of annotation files is empty.")
    sources, seen = [], set()
    for f in paths:  # the same file listed twice is read once
        check_regular_file(f)
        if f.resolve() in seen:
            continue
        seen.add(f.resolve())
        if tree.in_layout(f):
            sources.append(Source(f, f.parent.parent.name, f.parent.name, named=True))
        else:
            sources.append(Source(f, None, None, named=True))
    where = (
        Path(os.path.commonpath([s.path.resolve() for s in sources]))
        if len(sources) > 1
        else sources[0].path
    )
    return sources, where, [], False


def _from_folder(p: Path, judge, models, exclude):
    sources, problems, doubles = tree.scan(p)
    if doubles:
        warnings.warn(
            f"{p}: {len(doubles)} folder(s) hold both annotations.json and "
            f"annotations.json.gz (e.g. {doubles[0].parent}); read annotations.json.",
            DataWarning,
            stacklevel=4,
        )
    if not sources and not problems:
        raise InputError(
            f"{p}: no AlpacaEval annotation files found (expected "
            "results/<model>/<judge>/annotations.json[.gz]); pass the data root, its results/ "
            "folder, or the annotation files."
        )
    # judges with readable files; a problem's "judge" may be a stray file (README)
    judges = sorted({s.judge for s in sources}) or sorted({q.judge for q in problems if q.judge})
    if judge is None and len(judges) > 1:
        counts = ", ".join(f"{j} ({sum(s.judge == j for s in sources)} models)" for j in judges)
        raise InputError(
            f"{p}: annotations from several judges: {counts}. Choose one with judge=...; a "
            "judge's biases are its own."
        )
    if judge is not None and judge not in judges:
        raise InputError(
            f"{p}: no annotations by judge {judge!r} (judge folder name); judges present: "
            f"{judges}{close_matches([judge], judges, 'judges') if judges else '.'}"
        )
    chosen = judge or (judges[0] if judges else None)
    sources = [s for s in sources if s.judge == chosen]
    problems = [q for q in problems if q.judge in (chosen, None)]
    present = sorted({s.model for s in sources} | {q.model for q in problems})
    for keyword, names in (("models", models), ("exclude", exclude)):
        unknown = [m for m in names or [] if m not in present]
        if unknown:
            raise InputError(
                f"{p}: {keyword}= names model folder(s) {unknown} that have no annotations by "
                f"judge {chosen!r}{close_matches(unknown, present, 'models')}"
            )
    if exclude:
        sources = [s for s in sources if s.model not in exclude]
        problems = [q for q in problems if q.model not in exclude]
    if models is not None:
        fatal = [q for q in problems if q.model in models]
        if fatal:
            raise InputError(f"{fatal[0].message}; this model was named in models=.")
        by_model = {s.model: s for s in sources}
        sources = [Source(by_model[m].path, m, chosen, named=True) for m in dict.fromkeys(models)]
        problems = []
    if not sources:
        raise InputError(
            f"{p}: no readable annotation files"
            + (f" ({problems[0].message})." if problems else ".")
        )
    return sources, p, problems


def _filter(frame, judge, models, exclude, baseline, where) -> pd.DataFrame:
    """Keep the rows asked for (judge, models, baseline), and drop ``exclude``."""
    for col, wanted in (("judge", judge), ("model", models), ("baseline", baseline)):
        if wanted is None:
            continue
        wanted = [wanted] if isinstance(wanted, str) else list(wanted)
        present = list(dict.fromkeys(frame[col]))
        unknown = [w for w in wanted if w not in present]
        if unknown:
            keyword = {"model": "models"}.get(col, col)
            raise InputError(
                f"{where}: no {col} {unknown} in the annotations ({keyword}=); {col}s present: "
                f"{present[:20]}{close_matches(unknown, present, col + 's')}"
            )
        frame = frame[frame[col].isin(wanted)].reset_index(drop=True)
    if exclude:
        present = list(dict.fromkeys(frame["model"]))
        unknown = [m for m in exclude if m not in present]
        if unknown:
            raise InputError(
                f"{where}: exclude= names model(s) {unknown} not in the annotations"
                f"{close_matches(unknown, present, 'models')}"
            )
        frame = frame[~frame["model"].isin(exclude)].reset_index(drop=True)
    if frame.empty:
        raise InputError(f"{where}: no judgments left after the filters (models=, exclude=).")
    return frame


def _instruction_order(files: list[Path], comps: Comparisons, longest: list) -> tuple[str, ...]:
    """The baseline's model_outputs order if found next to the annotations, else the longest file's."""
    # results/<model>/<judge>/annotations.json -> results/
    roots = list(dict.fromkeys(f.parent.parent.parent for f in files if f.name in ANNOTATION_FILES))
    baselines = comps.data["baseline"].value_counts(sort=True).index
    for base in baselines:
        for root in roots:
            found = tree.existing(root / base, MODEL_OUTPUT_FILES)
            if found:
                order = [str(i) for i in read_model_outputs(found[0])["instruction"]]
                unknown = set(comps.data["instruction"].unique()) - set(order)
                if unknown:
                    warnings.warn(
                        f"{found[0]}: {len(unknown)} instruction(s) of the annotations are not in "
                        "the baseline's outputs; the instruction order may not fit the data.",
                        DataWarning,
                        stacklevel=3,
                    )
                return tuple(order)
    return tuple(str(i) for i in longest)


def read_model_outputs(path: PathLike) -> pd.DataFrame:
    """Read an AlpacaEval ``model_outputs.json[.gz]``.

    Parameters
    ----------
    path : str or path-like
        The file, or a model folder holding it.

    Returns
    -------
    pandas.DataFrame
        Columns ``instruction, output, generator, dataset`` (missing optional
        fields are null) followed by any extra fields, in file order.

    Raises
    ------
    InputError
        Missing or malformed file, or items without ``instruction`` / ``output``.

    Examples
    --------
    >>> import json, tempfile, pathlib
    >>> f = pathlib.Path(tempfile.mkdtemp()) / "model_outputs.json"
    >>> _ = f.write_text(json.dumps([{"instruction": "hi", "output": "hello"}]))
    >>> read_model_outputs(f).columns.tolist()
    ['instruction', 'output', 'generator', 'dataset']
    """
    p = Path(path)
    if p.is_dir():
        found = tree.existing(p, MODEL_OUTPUT_FILES)
        if not found:
            raise InputError(f"{p}: no model_outputs.json or model_outputs.json.gz in this folder.")
        p = found[0]
    records = load_json_list(p, what="output")
    missing = [f for f in ("instruction", "output") if not all(f in r for r in records)]
    if missing:
        raise InputError(f"{p}: required field(s) {missing} missing in some items: {REDO}")
    frame = (
        pd.DataFrame.from_records(records)
        if records
        else pd.DataFrame(columns=["instruction", "output"])
    )
    for col in ("generator", "dataset"):
        if col not in frame:
            frame[col] = None
    first = ["instruction", "output", "generator", "dataset"]
    return frame[first + [c for c in frame.columns if c not in first]]
