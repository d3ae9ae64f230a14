"""The Vicuna-80 GPT-4 reviews: two 1–10 grades per pair (FastChat's ``eval/table``).

Layout (``lm-sys/FastChat`` before April 2023, ``fastchat/eval/table/``)::

    question.jsonl                  {question_id, text, category}
    answer/answer_<name>.jsonl      {answer_id, model_id, question_id, text, metadata}
    review/<run>/review_<a>_<b>.jsonl
        {review_id, question_id, answer1_id, answer2_id, reviewer_id, text, score: [s1, s2]}
    reviewer.jsonl                  {reviewer_id, prompt_id, category, ...}

The reviewer read "Assistant 1" then "Assistant 2" and graded **each** from 1
to 10 (``score``); Assistant 1 is the answer ``answer1_id`` (the baseline in the
published reviews), shown first. Reviews join answers by answer id.

Read as :class:`Judgments` on a grade scale: ``model_a`` = Assistant 1 (shown
first), ``verdict`` / ``verdict_b`` = its and Assistant 2's grades,
``dataset`` = the question's category. Model names are the ``model_id`` before
``:`` (``vicuna-13b:20230322-clean-lang`` -> ``vicuna-13b``), or the whole id
when two answer sets read share a name. ``reviewer_id`` is a string in some runs
(``gpt-4-0328-generic``, which ``reviewer.jsonl`` calls ``gpt-4-0328-default``)
and the integer ``prompt_id`` in others: both are checked against
``reviewer.jsonl``; the judge is their common model (``gpt-4-0328``).

The reviews hold a few grades of 0 although the prompt asks for 1–10: they are
kept, with a warning, on a scale from 0 (``scale=Scale.grade(1, 10)`` refuses
them instead).
"""

from __future__ import annotations

import os
import warnings
from collections.abc import Mapping
from pathlib import Path

import numpy as np
import pandas as pd

from debias.errors import DataWarning, InputError, ParameterError, row_list
from debias.io.judges.answers import bad_lines, first_record, read_jsonl
from debias.judgments import Judgments, Scale
from debias.judgments.store import quiet

REVIEW_FIELDS: frozenset[str] = frozenset({"question_id", "answer1_id", "answer2_id", "score"})
#: The range the review prompts ask for.
PROMPT_RANGE: tuple[float, float] = (1.0, 10.0)
_LEVELS_UP = 3


def vicuna_root(path: str | os.PathLike) -> Path:
    """The folder holding ``question.jsonl`` and ``answer/`` at or above ``path``."""
    p = Path(path)
    folder = p if p.is_dir() else p.parent
    for _ in range(_LEVELS_UP + 1):
        if (folder / "question.jsonl").is_file() and (folder / "answer").is_dir():
            return folder
        if folder.parent == folder:
            break
        folder = folder.parent
    raise InputError(
        f"{path}: no question.jsonl and answer/ folder at or above it; the Vicuna reviews "
        "join answers by id, so read them inside FastChat's eval/table layout."
    )


def review_files(path: str | os.PathLike, root: Path) -> list[Path]:
    """``review_*.jsonl`` files: the one given, those of a run folder, or all under ``review/``."""
    p = Path(path)
    if not p.is_dir():
        return [p]
    base = root / "review" if p == root else p
    files = _review_files_in(base)
    if not files:
        raise InputError(f"{base}: no review_*.jsonl files.")
    return files


def _review_files_in(folder: Path) -> list[Path]:
    """``review_*.jsonl`` in ``folder`` and its subfolders (one level: the runs)."""
    found = list(folder.glob("review_*.jsonl")) + list(folder.glob("*/review_*.jsonl"))
    return sorted(f for f in found if f.is_file())


def read_answers(root: Path) -> pd.DataFrame:
    """Every answer of ``answer/*.jsonl`` indexed by ``answer_id``: model_id, question_id, text."""
    rows = []
    for f in sorted((root / "answer").glob("*.jsonl")):
        problems = []
        for line, rec in read_jsonl(f, "answer"):
            aid, mid, qid, text = (
                rec.get(k) for k in ("answer_id", "model_id", "question_id", "text")
            )
            if not (isinstance(aid, str) and isinstance(mid, str) and mid.strip()):
                problems.append((line, "needs answer_id and model_id strings"))
            elif isinstance(qid, bool) or not isinstance(qid, (str, int)):
                problems.append((line, "needs a question_id"))
            elif not isinstance(text, str):
                problems.append((line, "needs the answer text"))
            else:
                rows.append((aid, mid.strip(), str(qid), text, f.name, line))
        if problems:
            raise bad_lines(f, problems, "fix or remove those answers.")
    frame = pd.DataFrame(
        rows, columns=["answer_id", "model_id", "question_id", "text", "file", "line"]
    )
    twice = frame.duplicated("answer_id", keep=False)
    if twice.any():
        first = frame[twice].iloc[0]
        raise InputError(
            f"{root / 'answer'}: answer_id {first['answer_id']!r} appears more than once "
            f"({', '.join(f'{r.file}:{r.line}' for r in frame[twice].head(3).itertuples())}); "
            "answer ids must be unique."
        )
    return frame.set_index("answer_id")


def model_names(model_ids: pd.Series) -> dict[str, str]:
    """``model_id -> name``: the part before ``:`` unless two ids read share it.

    Examples
    --------
    >>> model_names(pd.Series(["bard:20230327", "vicuna-13b:a", "vicuna-13b:b"]))
    {'bard:20230327': 'bard', 'vicuna-13b:a': 'vicuna-13b:a', 'vicuna-13b:b': 'vicuna-13b:b'}
    """
    ids = pd.unique(model_ids)
    short = {m: m.split(":", 1)[0] for m in ids}
    clash = pd.Series(list(short.values())).value_counts()
    return {m: (m if clash[s] > 1 else s) for m, s in short.items()}


def _reviewers(root: Path) -> tuple[dict, str | None]:
    """Known reviewer ids (strings, and integer prompt ids) -> canonical id, and the judge."""
    path = root / "reviewer.jsonl"
    if not path.is_file():
        return {}, None
    known: dict = {}
    for _, rec in read_jsonl(path, "reviewer"):
        rid, pid = rec.get("reviewer_id"), rec.get("prompt_id")
        if isinstance(rid, str):
            known[rid] = rid
            if rid.endswith("-default"):  # the clean-lang reviews call it "-generic"
                known[rid[: -len("default")] + "generic"] = rid
            if isinstance(pid, int) and not isinstance(pid, bool):
                known[pid] = rid
    prefixes = {r.rsplit("-", 1)[0] for r in set(known.values())}
    return known, (prefixes.pop() if len(prefixes) == 1 else None)


def _reviews(files: list[Path], answers: pd.DataFrame, reviewers: dict) -> pd.DataFrame:
    rows = []
    for f in files:
        problems = []
        for line, rec in read_jsonl(f, "review"):
            a1, a2, score = rec.get("answer1_id"), rec.get("answer2_id"), rec.get("score")
            ok_score = (
                isinstance(score, list)
                and len(score) == 2
                and all(isinstance(s, (int, float)) and not isinstance(s, bool) for s in score)
                and all(np.isfinite(s) for s in score)
            )
            missing = [a for a in (a1, a2) if not isinstance(a, str) or a not in answers.index]
            rid = rec.get("reviewer_id")
            if not ok_score:
                problems.append(
                    (line, f"score must be two numbers [grade 1, grade 2], got {score!r}")
                )
            elif missing:
                problems.append((line, f"answer id {missing[0]!r} is in no answer/*.jsonl file"))
            elif str(answers.at[a1, "question_id"]) != str(rec.get("question_id")) or str(
                answers.at[a2, "question_id"]
            ) != str(rec.get("question_id")):
                problems.append((line, "question_id differs from its answers' question_id"))
            elif reviewers and (
                isinstance(rid, bool) or not isinstance(rid, (str, int)) or rid not in reviewers
            ):
                problems.append((line, f"reviewer_id {rid!r} is not in reviewer.jsonl"))
            else:
                rows.append((a1, a2, float(score[0]), float(score[1]), f"{f.name}:{line}"))
        if problems:
            raise bad_lines(f, problems, "fix or remove those reviews.")
    return pd.DataFrame(rows, columns=["answer1", "answer2", "score1", "score2", "where"])


def read_vicuna_reviews(
    path: str | os.PathLike,
    *,
    judge: str | None = None,
    scale: Scale | None = None,
) -> Judgments:
    """Read the Vicuna-80 GPT-4 reviews: two grades per pair, Assistant 1 shown first.

    Parameters
    ----------
    path : str or path-like
        The table folder (every ``review/**/review_*.jsonl``), one run folder
        (``review/vicuna-13b_20230322-clean-lang``) or one review file.
    judge : str, optional
        Default: the model the reviewer ids name (``gpt-4-0328``), else ``"gpt-4"``.
    scale : Scale, optional
        The grades' range: by default 1–10 as the prompt asks, widened to the
        grades present (0 occurs) with a warning; ``Scale.grade(1, 10)`` refuses
        grades outside it instead.

    Returns
    -------
    Judgments
        Paired grades (``verdict``, ``verdict_b``); ``battles()`` gives win/tie/loss
        of Assistant 1, ``scores()`` one grade per answer.

    Raises
    ------
    InputError
        Reviews whose answer ids are unknown, whose scores are not two numbers,
        whose question differs from their answers', or an unknown reviewer id:
        named file:line.
    """
    if scale is not None and (not isinstance(scale, Scale) or scale.kind != "grade"):
        raise ParameterError(
            f"The 'scale' parameter must be a grade scale, e.g. Scale.grade(1, 10). Got {scale!r}."
        )
    root = vicuna_root(path)
    answers = read_answers(root)
    reviewers, reviewer_judge = _reviewers(root)
    reviews = _reviews(review_files(path, root), answers, reviewers)
    if reviews.empty:
        raise InputError(f"{path}: no reviews in the files.")
    questions = {
        str(rec.get("question_id")): rec
        for _, rec in read_jsonl(root / "question.jsonl", "question")
    }
    first, second = answers.loc[reviews["answer1"]], answers.loc[reviews["answer2"]]
    names = model_names(pd.concat([first["model_id"], second["model_id"]]))
    qid = first["question_id"].to_numpy()
    frame = pd.DataFrame(
        {
            "prompt_id": qid,
            "prompt": [questions.get(q, {}).get("text") for q in qid],
            "model_a": first["model_id"].map(names).to_numpy(),
            "answer_a": first["text"].to_numpy(),
            "model_b": second["model_id"].map(names).to_numpy(),
            "answer_b": second["text"].to_numpy(),
            "shown_first": "a",
            "verdict": reviews["score1"].to_numpy(),
            "verdict_b": reviews["score2"].to_numpy(),
            "judge": judge or reviewer_judge or "gpt-4",
            "dataset": [questions.get(q, {}).get("category") for q in qid],
        }
    )
    scale = scale or _inferred_scale(reviews, str(path))
    return quiet(Judgments.from_dataframe, frame, scale=scale, source=str(path))


def _inferred_scale(reviews: pd.DataFrame, source: str) -> Scale:
    grades = np.concatenate([reviews["score1"].to_numpy(), reviews["score2"].to_numpy()])
    low, high = PROMPT_RANGE
    outside = (grades < low) | (grades > high)
    if outside.any():
        where = pd.concat([reviews["where"], reviews["where"]], ignore_index=True)[outside]
        warnings.warn(
            f"{source}: {int(outside.sum())} grade(s) outside the 1–10 the prompt asks for "
            f"({sorted(set(grades[outside].tolist()))} at {row_list(where.tolist(), 3)}); kept, "
            f"on a scale from {min(low, grades.min()):g} to {max(high, grades.max()):g} (pass "
            "scale=Scale.grade(1, 10) to refuse them).",
            DataWarning,
            stacklevel=3,
        )
    return Scale.grade(min(low, float(grades.min())), max(high, float(grades.max())))


def sniff_vicuna_reviews(path: Path, mapping: Mapping | None = None) -> bool:
    """A review file, a run folder, or the table folder with ``review/``."""
    if mapping:
        return False
    p = Path(path)
    if p.is_dir():
        base = p / "review" if (p / "review").is_dir() else p
        p = next(iter(_review_files_in(base)), None)
        if p is None:
            return False
    return REVIEW_FIELDS <= set(first_record(p))


def registry_read_vicuna_reviews(path: Path, *, judge=None, mapping=None, baseline=None):
    """:func:`read_vicuna_reviews` with the registry's signature."""
    return read_vicuna_reviews(path, judge=judge)


#: (description, sniff, read), for :data:`debias.io.judges.detect.FORMATS`.
VICUNA_FORMAT = (
    "Vicuna-80 GPT-4 reviews: {question_id, answer1_id, answer2_id, score: [s1, s2]} beside "
    "answer/ and question.jsonl",
    sniff_vicuna_reviews,
    registry_read_vicuna_reviews,
)
