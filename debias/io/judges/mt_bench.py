"""MT-Bench judged in pairs: Position-Bias-Analyzer's layout and FastChat's pair judgments.

**Position-Bias-Analyzer** (PBA, ``judgments/<judge>.jsonl[.gz]``): one line per
judge call ``{question_id, model_a, model_b, judge, judgment}``; ``model_a`` was
shown **first** (as "Assistant A"). The judge read both turns of both
conversations and said which assistant answered the **second** user question
better, as ``[[A]]``, ``[[B]]`` or ``[[C]]`` (tie) inside its text: the verdict
is read from the text with :func:`~debias.judgments.parse.parse_verdicts`
(``match="first"`` by default, as PBA did; texts without a verdict stay, NaN).

**FastChat pair judgments** (``model_judgment/<judge>_pair.jsonl``): one line per
pair and question ``{question_id, model_1, model_2, g1_winner, g2_winner, judge:
[judge model, prompt name], turn, g1_judgment, g2_judgment, ...}``. Game 1 showed
``model_1`` first, game 2 swapped the answers; each winner is ``model_1``,
``model_2``, ``tie`` or ``error`` (no verdict: kept as NaN). Each line gives two
judge calls, ``model_a`` = the model shown first.

Both are read on :meth:`Scale.win_tie_loss` (``A``, ``tie``, ``B`` for the answer
shown first), ``shown_first="a"``, ``turn`` = the judged turn (2 in PBA), the
prompt and the answers of that turn from ``question.jsonl`` and
``model_answer/`` found beside the files (:func:`~debias.io.judges.answers.attach_answers`),
``dataset`` = the question's category.
"""

from __future__ import annotations

import os
import warnings
from collections.abc import Mapping
from pathlib import Path

import pandas as pd

from debias.errors import DataWarning, InputError
from debias.io.judges.answers import (
    attach_answers,
    bad_lines,
    find_beside,
    first_record,
    read_jsonl,
)
from debias.judgments import Judgments, Scale
from debias.judgments.parse import parse_verdicts
from debias.judgments.store import quiet

PBA_FIELDS: frozenset[str] = frozenset({"question_id", "model_a", "model_b", "judgment"})
PAIR_FIELDS: frozenset[str] = frozenset({"question_id", "model_1", "model_2", "g1_winner"})
#: The turn PBA's judge was asked about.
PBA_TURN = 2
_WINNERS = ("model_1", "model_2", "tie", "error")


def judgment_files(
    path: str | os.PathLike,
    folder: str = "judgments",
    fields: frozenset[str] = frozenset(),
    without: frozenset[str] = frozenset(),
) -> list[Path]:
    """The ``.jsonl[.gz]`` files to read: ``path`` itself, or the files of its ``folder``
    subfolder (or of ``path``) whose first record has ``fields`` and none of ``without``
    (FastChat keeps ``gpt-4_pair.jsonl`` and ``gpt-4_single.jsonl`` side by side)."""
    p = Path(path)
    if not p.is_dir():
        return [p]
    if (p / folder).is_dir():
        p = p / folder
    files = sorted(
        f for f in p.iterdir() if f.is_file() and f.name.endswith((".jsonl", ".jsonl.gz"))
    )
    if fields or without:
        files = [f for f in files if fits(first_record(f), fields, without)]
    if not files:
        holding = f" whose records hold {sorted(fields)}" if fields else ""
        raise InputError(f"{p}: no .jsonl or .jsonl.gz judgment files{holding} in the folder.")
    return files


def fits(record: dict, fields: frozenset[str], without: frozenset[str] = frozenset()) -> bool:
    """``record`` has every one of ``fields`` and none of ``without``."""
    return fields <= set(record) and not (without & set(record))


def _name(value) -> str | None:
    """A model or judge name: a non-empty string (FastChat's judge is [model, prompt])."""
    if isinstance(value, list) and value:
        value = value[0]
    if isinstance(value, bool) or not isinstance(value, (str, int)):
        return None
    text = str(value).strip()
    return text or None


def _question_id(value) -> str | None:
    if isinstance(value, bool) or not isinstance(value, (str, int)):
        return None
    return str(value)


def whole_turn(value) -> int | None:
    """A conversation turn: a whole number >= 1 (``1.0`` too), else None."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    return int(value) if value >= 1 and float(value).is_integer() else None


def question_categories(source: str | os.PathLike) -> dict[str, str]:
    """``question_id -> category`` from the ``question.jsonl`` beside ``source`` ({} if none)."""
    path = find_beside(source, "question.jsonl")
    if path is None:
        return {}
    out = {}
    for _, rec in read_jsonl(path, "question"):
        qid, category = _question_id(rec.get("question_id")), rec.get("category")
        if qid is not None and isinstance(category, str):
            out[qid] = category
    return out


def with_answers(frame: pd.DataFrame, source: Path) -> pd.DataFrame:
    """Prompts, answers and categories found beside ``source`` joined to the calls."""
    out = attach_answers(frame, source)
    categories = question_categories(source)
    if categories:
        out["dataset"] = out["prompt_id"].map(categories)
    missing = sum(int(out[c].isna().sum()) for c in ("answer_a", "answer_b") if c in out)
    if missing:
        warnings.warn(
            f"{source}: {missing} answer(s) not found in model_answer/ (read as empty text).",
            DataWarning,
            stacklevel=3,
        )
    if "answer_a" not in out:
        warnings.warn(
            f"{source}: no model_answer/ folder beside the judgments: answers have no text "
            "(length and markdown cannot be measured).",
            DataWarning,
            stacklevel=3,
        )
    return out


# ------------------------------------------------------------------------------- PBA
def _pba_rows(path: Path, judge: str | None) -> pd.DataFrame:
    rows, problems = [], []
    for line, rec in read_jsonl(path, "judge call"):
        qid = _question_id(rec.get("question_id"))
        a, b = _name(rec.get("model_a")), _name(rec.get("model_b"))
        text = rec.get("judgment")
        if qid is None or a is None or b is None or not (text is None or isinstance(text, str)):
            problems.append((line, "needs question_id, model_a, model_b and a judgment text"))
            continue
        who = judge or _name(rec.get("judge")) or _stem(path)
        rows.append((line, qid, a, b, who, text))
    if problems:
        raise bad_lines(path, problems, "fix or remove those judge calls.")
    return pd.DataFrame(rows, columns=["line", "prompt_id", "model_a", "model_b", "judge", "text"])


def _stem(path: Path) -> str:
    name = path.name
    for suffix in (".jsonl.gz", ".jsonl"):
        if name.endswith(suffix):
            return name[: -len(suffix)]
    return path.stem


def read_pba(
    path: str | os.PathLike,
    *,
    judge: str | None = None,
    match: str = "first",
    patterns=None,
) -> Judgments:
    """Read Position-Bias-Analyzer's MT-Bench judge calls (``model_a`` shown first).

    Parameters
    ----------
    path : str or path-like
        A ``judgments/<judge>.jsonl[.gz]`` file, the ``judgments`` folder, or the
        folder above it (``mt_bench_position/``): every judge's file is read.
    judge : str, optional
        Overrides the ``judge`` field (default: the field, else the file name).
    match, patterns
        How the verdict is read from the text (:func:`parse_verdicts`, ``kind="pair"``).

    Returns
    -------
    Judgments
        ``Scale.win_tie_loss()``, ``shown_first="a"``, turn 2, answers of turn 2.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> f = pathlib.Path(tempfile.mkdtemp()) / "judge-x.jsonl"
    >>> _ = f.write_text(
    ...     '{"question_id": 81, "model_a": "m", "model_b": "base", "judgment": "... [[A]]"}\\n'
    ...     '{"question_id": 81, "model_a": "base", "model_b": "m", "judgment": "[[C]]"}\\n')
    >>> read_pba(f).battles()[["judge", "turn", "model_a", "outcome", "shown_first"]]
         judge  turn model_a  outcome shown_first
    0  judge-x     2       m      1.0           a
    1  judge-x     2    base      0.5           a
    """
    files = judgment_files(path, "judgments", PBA_FIELDS)
    parts = []
    for f in files:
        rows = _pba_rows(f, judge)
        parsed = parse_verdicts(
            rows["text"], kind="pair", match=match, patterns=patterns, source=str(f)
        )
        rows["verdict"] = parsed.values.to_numpy()
        parts.append(rows)
    frame = pd.concat(parts, ignore_index=True)
    frame = frame.drop(columns=["line", "text"]).assign(turn=PBA_TURN, shown_first="a")
    frame = with_answers(frame, files[0])
    for side in ("answer_a", "answer_b"):  # PBA stripped the answers before prompting
        if side in frame:
            frame[side] = frame[side].str.strip()
    return quiet(Judgments.from_dataframe, frame, scale=Scale.win_tie_loss(), source=str(path))


# ---------------------------------------------------------------------- FastChat pairs
def _pair_rows(path: Path, judge: str | None) -> tuple[list, list]:
    rows, problems = [], []
    for line, rec in read_jsonl(path, "pair judgment"):
        qid = _question_id(rec.get("question_id"))
        m1, m2 = _name(rec.get("model_1")), _name(rec.get("model_2"))
        if qid is None or m1 is None or m2 is None:
            problems.append((line, "needs question_id, model_1 and model_2"))
            continue
        turn = whole_turn(rec.get("turn", 1))
        if turn is None:
            problems.append((line, f"turn must be a whole number >= 1, got {rec.get('turn')!r}"))
            continue
        who = judge or _name(rec.get("judge")) or _stem(path)
        games = [("g1_winner", m1, m2)]
        if "g2_winner" in rec:
            games.append(("g2_winner", m2, m1))
        for key, first, second in games:
            winner = rec.get(key)
            if winner not in _WINNERS:
                problems.append((line, f"{key} {winner!r} is not one of {list(_WINNERS)}"))
                continue
            if winner in ("error", "tie"):
                verdict = None if winner == "error" else "tie"
            else:
                verdict = "A" if (m1 if winner == "model_1" else m2) == first else "B"
            rows.append((qid, turn, first, second, who, verdict))
    return rows, problems


def read_fastchat_pair(path: str | os.PathLike, *, judge: str | None = None) -> Judgments:
    """Read FastChat's MT-Bench pair judgments: two judge calls per line, both orders.

    Parameters
    ----------
    path : str or path-like
        A ``model_judgment/<judge>_pair.jsonl`` file or a folder of them (or the
        folder above ``model_judgment/``).
    judge : str, optional
        Overrides the judge (default: the first element of the ``judge`` field).

    Returns
    -------
    Judgments
        ``Scale.win_tie_loss()``, ``shown_first="a"``: game 1 is (``model_1``,
        ``model_2``), game 2 (``model_2``, ``model_1``); ``error`` verdicts are NaN.

    Raises
    ------
    InputError
        Lines without the fields or with an unknown winner label, named file:line.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> f = pathlib.Path(tempfile.mkdtemp()) / "gpt-4_pair.jsonl"
    >>> _ = f.write_text('{"question_id": 81, "model_1": "x", "model_2": "y", "g1_winner": '
    ...     '"model_1", "g2_winner": "tie", "judge": ["gpt-4", "pair-v2"], "turn": 1}\\n')
    >>> read_fastchat_pair(f).battles()[["judge", "model_a", "model_b", "outcome"]]
       judge model_a model_b  outcome
    0  gpt-4       x       y      1.0
    1  gpt-4       y       x      0.5
    """
    files = judgment_files(path, "model_judgment", PAIR_FIELDS)
    rows = []
    for f in files:
        got, problems = _pair_rows(f, judge)
        if problems:
            raise bad_lines(
                f, problems, "each line needs g1_winner/g2_winner model_1, model_2, tie or error."
            )
        rows += got
    frame = pd.DataFrame(
        rows, columns=["prompt_id", "turn", "model_a", "model_b", "judge", "verdict"]
    ).assign(shown_first="a")
    n_error = int(frame["verdict"].isna().sum())
    if n_error:
        warnings.warn(
            f"{path}: {n_error} of {len(frame)} games have winner 'error' (no verdict read); "
            "they are kept with verdict NaN and left out of fits.",
            DataWarning,
            stacklevel=2,
        )
    frame = with_answers(frame, files[0])
    return quiet(Judgments.from_dataframe, frame, scale=Scale.win_tie_loss(), source=str(path))


# ------------------------------------------------------------------------ registry hooks
def holds(
    path: Path, folder: str, fields: frozenset[str], without: frozenset[str] = frozenset()
) -> bool:
    """Whether ``path`` (a file, or a folder with files) holds records with ``fields``."""
    try:
        files = judgment_files(path, folder, fields, without)
    except (InputError, OSError):
        return False
    return fits(first_record(files[0]), fields, without)


def sniff_pba(path: Path, mapping: Mapping | None = None) -> bool:
    """A PBA file or folder: first record ``{question_id, model_a, model_b, judgment}``."""
    return not mapping and holds(path, "judgments", PBA_FIELDS)


def sniff_fastchat_pair(path: Path, mapping: Mapping | None = None) -> bool:
    """FastChat pair judgments: first record with ``model_1, model_2, g1_winner``."""
    return not mapping and holds(path, "model_judgment", PAIR_FIELDS)


def registry_read_pba(path: Path, *, judge=None, mapping=None, baseline=None) -> Judgments:
    """:func:`read_pba` with the registry's signature."""
    return read_pba(path, judge=judge)


def registry_read_fastchat_pair(path: Path, *, judge=None, mapping=None, baseline=None):
    """:func:`read_fastchat_pair` with the registry's signature."""
    return read_fastchat_pair(path, judge=judge)


#: (description, sniff, read) of the two layouts, for :data:`debias.io.judges.detect.FORMATS`.
PBA_FORMAT = (
    "Position-Bias-Analyzer MT-Bench calls: {question_id, model_a (shown first), model_b, "
    "judgment}",
    sniff_pba,
    registry_read_pba,
)
FASTCHAT_PAIR_FORMAT = (
    "FastChat MT-Bench pair judgments: {question_id, model_1, model_2, g1_winner, g2_winner}",
    sniff_fastchat_pair,
    registry_read_fastchat_pair,
)
