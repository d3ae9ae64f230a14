"""Single-answer grades: FastChat's MT-Bench single layout and Arena-Bench's.

One line per graded answer, ``{question_id, model, judgment, score, ...}``: the
judge read one answer (with a reference answer in Arena-Bench) and rated it,
``Rating: [[7]]``, stored as ``score``.

- FastChat (``model_judgment/<judge>_single.jsonl``) adds ``judge: [judge model,
  prompt name]`` and ``turn`` (1 or 2); a score of -1 means no rating was read.
- Arena-Bench v1 (``model_judgment/<model>.jsonl[.gz]``, one file per model) has
  no judge field: the judge is ``judge_model`` of the ``*config.yaml`` beside the
  folder (or ``judge=``); a null score means no rating was read. One file keeps an
  older layout (float scores, extra ``turn``/``tstamp``/``prompt``): read alike.

A call without a rating stays, with grade NaN (counted, warned, left out of
fits and of :meth:`Judgments.scores`). Grades are on ``Scale.grade(1, 10)``
unless ``scale=`` declares another range; a grade outside it is refused with the
rows named. Prompts and answers come from ``question.jsonl`` and
``model_answer/`` beside the files; a model named with an organisation prefix in
the judgments (``mistralai/Mixtral-8x7B-Instruct-v0.1``) matches the answer file
named without it.
"""

from __future__ import annotations

import os
import re
import warnings
from collections.abc import Mapping
from pathlib import Path

import numpy as np
import pandas as pd

from debias.errors import DataWarning, InputError, ParameterError
from debias.io.judges.answers import (
    bad_lines,
    find_beside,
    read_jsonl,
    read_model_answers,
    read_questions,
)
from debias.io.judges.mt_bench import (
    holds,
    judgment_files,
    question_categories,
    whole_turn,
)
from debias.io.safe_read import read_bytes
from debias.judgments import Judgments, Scale
from debias.judgments.store import quiet

SINGLE_FIELDS: frozenset[str] = frozenset({"question_id", "model", "judgment", "score"})
#: FastChat writes -1 when it could not read a rating.
FASTCHAT_NO_SCORE = -1
_JUDGE_LINE = re.compile(r"^judge_model:\s*['\"]?([^'\"#\s]+)", re.MULTILINE)


def config_judge(source: str | os.PathLike) -> str | None:
    """``judge_model`` of an Arena-Hard-style ``*config.yaml`` beside ``source``, or None.

    Only that one line is read (a plain ``key: value`` line): no YAML is executed.
    """
    folder = find_beside(source, "model_judgment")
    root = folder.parent if folder is not None else Path(source).parent
    for cfg in sorted(root.glob("*config.yaml")):
        try:
            text = read_bytes(cfg, cap=1 << 20).decode("utf-8", "replace")
        except (InputError, OSError):  # an unreadable config only loses the default judge
            continue
        m = _JUDGE_LINE.search(text)
        if m:
            return m.group(1)
    return None


def _score(value) -> tuple[float, bool]:
    """(grade, ok): NaN for null / FastChat's -1; ok False for text, booleans, lists."""
    if value is None:
        return np.nan, True
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return np.nan, False
    if value == FASTCHAT_NO_SCORE:
        return np.nan, True
    return float(value), True


def _rows(path: Path, judge: str | None, default_judge: str) -> list:
    rows, problems = [], []
    for line, rec in read_jsonl(path, "grade"):
        qid, model = rec.get("question_id"), rec.get("model")
        if isinstance(qid, bool) or not isinstance(qid, (str, int)):
            problems.append((line, "needs a question_id"))
            continue
        if not isinstance(model, str) or not model.strip():
            problems.append((line, "needs a model name"))
            continue
        grade, ok = _score(rec.get("score"))
        if not ok:
            problems.append((line, f"score {rec.get('score')!r} is not a number or null"))
            continue
        turn = whole_turn(rec.get("turn", 1))
        if turn is None:
            problems.append((line, f"turn must be a whole number >= 1, got {rec.get('turn')!r}"))
            continue
        who = rec.get("judge")
        who = who[0] if isinstance(who, list) and who else who
        who = judge or (who if isinstance(who, str) and who.strip() else default_judge)
        rows.append((str(qid), turn, model.strip(), who, grade))
    if problems:
        raise bad_lines(path, problems, "fix or remove those grades.")
    return rows


def _answer_model(models: pd.Series, known: set[str]) -> pd.Series:
    """The answer file of each judged model: its name, else without an ``org/`` prefix."""
    return models.map(lambda m: m if m in known else m.rsplit("/", 1)[-1])


def _attach(frame: pd.DataFrame, source: Path) -> pd.DataFrame:
    out = frame.copy()
    questions = find_beside(source, "question.jsonl")
    if questions is not None:
        q = read_questions(questions)
        out["prompt"] = out[["prompt_id", "turn"]].merge(q, how="left")["prompt"].to_numpy()
    categories = question_categories(source)
    if categories:
        out["dataset"] = out["prompt_id"].map(categories)
    folder = find_beside(source, "model_answer")
    if folder is None or not folder.is_dir():
        warnings.warn(
            f"{source}: no model_answer/ folder beside the grades: answers have no text.",
            DataWarning,
            stacklevel=3,
        )
        return out
    answers = read_model_answers(folder)
    key = out[["prompt_id", "turn"]].assign(
        model=_answer_model(out["model_a"], set(answers["model"])).to_numpy()
    )
    joined = key.merge(answers, how="left", on=["model", "prompt_id", "turn"])
    out["answer_a"] = joined["text"].to_numpy()
    if answers["tokens"].notna().any():
        out["tokens_a"] = joined["tokens"].to_numpy()
    missing = int(out["answer_a"].isna().sum())
    if missing:
        warnings.warn(
            f"{source}: {missing} graded answer(s) not found in {folder} (read as empty text).",
            DataWarning,
            stacklevel=3,
        )
    return out


def read_single_grades(
    path: str | os.PathLike,
    *,
    judge: str | None = None,
    scale: Scale | None = None,
) -> Judgments:
    """Read single-answer grades (FastChat MT-Bench single, Arena-Bench v1).

    Parameters
    ----------
    path : str or path-like
        A grades file, a ``model_judgment`` folder of them, or the folder above it.
    judge : str, optional
        The judge (default: the ``judge`` field, else ``judge_model`` of the
        config beside the folder, else ``"unknown"``).
    scale : Scale, optional
        The grades' range, ``Scale.grade(1, 10)`` by default.

    Returns
    -------
    Judgments
        One single-answer call per line (``model_b`` empty); calls without a
        rating have grade NaN. :meth:`Judgments.scores` gives one grade per answer.

    Raises
    ------
    InputError
        Lines without the fields, scores that are not numbers, grades outside the
        scale (rows named), each in one line.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> f = pathlib.Path(tempfile.mkdtemp()) / "gpt-4_single.jsonl"
    >>> _ = f.write_text(
    ...     '{"question_id": 81, "model": "m", "judge": ["gpt-4", "single-v1"], "turn": 1,'
    ...     ' "judgment": "Rating: [[8]]", "score": 8}\\n'
    ...     '{"question_id": 81, "model": "m", "judge": ["gpt-4", "single-v1-multi-turn"],'
    ...     ' "turn": 2, "judgment": "...", "score": -1}\\n')
    >>> read_single_grades(f).scores()[["judge", "turn", "model", "grade"]]
       judge  turn model  grade
    0  gpt-4     1     m    8.0
    """
    scale = Scale.grade(1, 10) if scale is None else scale
    if not isinstance(scale, Scale) or scale.kind != "grade":
        raise ParameterError(
            f"The 'scale' parameter must be a grade scale, e.g. Scale.grade(1, 10). Got {scale!r}."
        )
    files = judgment_files(path, "model_judgment", SINGLE_FIELDS, frozenset({"games"}))
    default_judge = config_judge(files[0]) or "unknown"
    rows = []
    for f in files:
        rows += _rows(f, judge, default_judge)
    frame = pd.DataFrame(rows, columns=["prompt_id", "turn", "model_a", "judge", "verdict"])
    n_missing = int(frame["verdict"].isna().sum())
    if n_missing:
        per_model = frame[frame["verdict"].isna()].groupby("model_a").size()
        shown = ", ".join(f"{m} {n}" for m, n in per_model.items())
        warnings.warn(
            f"{path}: {n_missing} of {len(frame)} answers have no rating (null or -1: {shown}); "
            "kept with grade NaN, left out of means and fits.",
            DataWarning,
            stacklevel=2,
        )
    frame = _attach(frame, files[0])
    return quiet(Judgments.from_dataframe, frame, scale=scale, source=str(path))


def sniff_single_grades(path: Path, mapping: Mapping | None = None) -> bool:
    """Single grades: first record with ``question_id, model, judgment, score``, no ``games``."""
    return not mapping and holds(path, "model_judgment", SINGLE_FIELDS, frozenset({"games"}))


def registry_read_single_grades(path: Path, *, judge=None, mapping=None, baseline=None):
    """:func:`read_single_grades` with the registry's signature."""
    return read_single_grades(path, judge=judge)


#: (description, sniff, read), for :data:`debias.io.judges.detect.FORMATS`.
SINGLE_GRADES_FORMAT = (
    "single-answer grades (FastChat MT-Bench single, Arena-Bench): {question_id, model, "
    "judgment, score}",
    sniff_single_grades,
    registry_read_single_grades,
)
