"""JSON Lines with every bad line named, FastChat's questions and model answers.

The judge set-ups of FastChat (MT-Bench), Arena-Hard-Auto and their forks keep
prompts in ``question.jsonl`` and each model's answers in
``model_answer/<model>.jsonl`` (or ``.jsonl.gz``)::

    {"question_id": ..., "turns": [{"content": "..."}]}          # or "turns": ["..."]
    {"question_id": ..., "model_id": ..., "choices": [{"index": 0,
        "turns": [{"content": "...", "token_len": 412}]}]}        # or "turns": ["..."]

:func:`read_questions` and :func:`read_model_answers` give one row per (prompt,
turn) and (model, prompt, turn); :func:`attach_answers` joins them to judge calls.
Every file goes through :func:`debias.io.safe_read.read_bytes` (regular files,
gzip capped), and every malformed line is named as ``file:line`` in one error.
"""

from __future__ import annotations

import gzip
import json
import os
import zlib
from pathlib import Path

import numpy as np
import pandas as pd

from debias.errors import InputError
from debias.io.annotations import check_unicode
from debias.io.safe_read import GZIP_MAGIC, check_regular_file, read_bytes

#: Files of answers: ``<model>.jsonl`` or ``<model>.jsonl.gz``.
ANSWER_SUFFIXES: tuple[str, ...] = (".jsonl", ".jsonl.gz")
_SHOWN = 3


def bad_lines(path: str | os.PathLike, problems: list[tuple[int, str]], fix: str) -> InputError:
    """One error naming the first few bad lines as ``file:line: what`` (and how many more).

    Examples
    --------
    >>> print(bad_lines("b.jsonl", [(3, "not JSON"), (9, "no 'winner'")], "fix them."))
    b.jsonl: 2 bad line(s): b.jsonl:3: not JSON; b.jsonl:9: no 'winner'; fix them.
    """
    shown = "; ".join(f"{path}:{line}: {what}" for line, what in problems[:_SHOWN])
    more = f" and {len(problems) - _SHOWN} more" if len(problems) > _SHOWN else ""
    return InputError(f"{path}: {len(problems)} bad line(s): {shown}{more}; {fix}")


def read_jsonl(path: str | os.PathLike, what: str = "record") -> list[tuple[int, dict]]:
    """The objects of a JSON Lines file with their line numbers (blank lines skipped).

    Raises
    ------
    InputError
        The file cannot be read, is not UTF-8, is empty, or has lines that are not
        one JSON object each (all of them counted, the first named as file:line).

    Examples
    --------
    >>> import tempfile, pathlib
    >>> f = pathlib.Path(tempfile.mkdtemp()) / "x.jsonl"
    >>> _ = f.write_text('{"a": 1}\\n\\n{"a": 2}\\n')
    >>> read_jsonl(f)
    [(1, {'a': 1}), (3, {'a': 2})]
    """
    data = read_bytes(path, what=f"{what} file")
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        raise InputError(f"{path}: not UTF-8 encoded text; expected JSON Lines.") from None
    records: list[tuple[int, dict]] = []
    problems: list[tuple[int, str]] = []
    for lineno, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            item = json.loads(line)
        except json.JSONDecodeError as exc:
            problems.append((lineno, f"not valid JSON ({exc.msg}, column {exc.colno})"))
            continue
        except RecursionError:
            problems.append((lineno, "JSON nested too deeply"))
            continue
        if not isinstance(item, dict):
            problems.append((lineno, f"a JSON {type(item).__name__}, not an object"))
            continue
        records.append((lineno, item))
    if problems:
        raise bad_lines(path, problems, f"one JSON object per {what} and line.")
    if not records:
        raise InputError(f"{path}: no {what} in the file (empty); expected one JSON object a line.")
    check_unicode([r for _, r in records], data, path)
    return records


def head_text(path: Path, limit: int = 1 << 16) -> str:
    """The first ``limit`` bytes of a file as text (gunzipped), ``""`` when it cannot be read:
    for sniffing a layout, never raises."""
    try:
        check_regular_file(path)
        with open(path, "rb") as fh:
            magic = fh.read(2)
            fh.seek(0)
            stream = gzip.GzipFile(fileobj=fh) if magic == GZIP_MAGIC else fh
            return stream.read(limit).decode("utf-8", "replace")
    except (InputError, OSError, EOFError, zlib.error):
        return ""


def first_record(path: Path, limit: int = 1 << 16) -> dict:
    """The first JSON object of a JSON Lines file (gzip or not) from its first ``limit``
    bytes, ``{}`` when there is none: for sniffing a layout, never raises."""
    line = next((t for t in head_text(path, limit).splitlines() if t.strip()), "")
    try:
        item = json.loads(line)
    except (ValueError, RecursionError):
        return {}
    return item if isinstance(item, dict) else {}


def _turn_text(turn) -> str | None:
    if isinstance(turn, str):
        return turn
    if isinstance(turn, dict) and isinstance(turn.get("content"), str):
        return turn["content"]
    return None


def _turn_tokens(turn) -> float:
    value = turn.get("token_len") if isinstance(turn, dict) else None
    ok = isinstance(value, (int, float)) and not isinstance(value, bool) and value >= 0
    return float(value) if ok else np.nan


def _question_id(value) -> str | None:
    if isinstance(value, bool) or not isinstance(value, (str, int)):
        return None
    return str(value)


def read_questions(path: str | os.PathLike) -> pd.DataFrame:
    """Prompts of a ``question.jsonl``: one row per (question, turn).

    ``turns`` holds ``{"content": text}`` objects (Arena-Hard) or plain strings
    (MT-Bench); a ``text`` field (the Vicuna 80 questions) is turn 1.

    Returns
    -------
    pandas.DataFrame
        ``prompt_id`` (str), ``turn`` (1-based int), ``prompt`` (text).

    Examples
    --------
    >>> import tempfile, pathlib
    >>> f = pathlib.Path(tempfile.mkdtemp()) / "question.jsonl"
    >>> _ = f.write_text('{"question_id": 81, "turns": ["Hi?", "And then?"]}\\n')
    >>> read_questions(f)
      prompt_id  turn     prompt
    0        81     1        Hi?
    1        81     2  And then?
    """
    rows, problems = [], []
    for line, rec in read_jsonl(path, "question"):
        qid = _question_id(rec.get("question_id"))
        turns = rec.get("turns")
        if turns is None and isinstance(rec.get("text"), str):
            turns = [rec["text"]]
        texts = [_turn_text(t) for t in turns] if isinstance(turns, list) else [None]
        if qid is None or not texts or any(t is None for t in texts):
            problems.append((line, "needs a question_id and turns (texts or {content})"))
            continue
        rows += [(qid, i, t) for i, t in enumerate(texts, start=1)]
    if problems:
        raise bad_lines(path, problems, "fix or remove those questions.")
    out = pd.DataFrame(rows, columns=["prompt_id", "turn", "prompt"])
    twice = out.duplicated(["prompt_id", "turn"], keep=False)
    if twice.any():
        raise InputError(
            f"{path}: question_id {out.loc[twice, 'prompt_id'].iloc[0]!r} appears more than once; "
            "each question once."
        )
    return out


def answer_files(path: str | os.PathLike) -> list[Path]:
    """``<model>.jsonl[.gz]`` files of a ``model_answer`` folder (or the one file given)."""
    p = Path(path)
    if not p.is_dir():
        return [p]
    return sorted(f for f in p.iterdir() if f.name.endswith(ANSWER_SUFFIXES) and f.is_file())


def model_name(path: Path) -> str:
    """The model a FastChat answer file belongs to: its name without ``.jsonl[.gz]``."""
    name = path.name
    for suffix in (".jsonl.gz", ".jsonl"):
        if name.endswith(suffix):
            return name[: -len(suffix)]
    return path.stem


def read_model_answers(path: str | os.PathLike) -> pd.DataFrame:
    """Answers of FastChat's ``model_answer/<model>.jsonl[.gz]`` files (a folder or one file).

    The model is the file's name (as FastChat's ``load_model_answers``); the text
    of turn ``i`` is ``choices[0].turns[i-1]`` (``content`` or a plain string) and
    its stored token count ``token_len`` when present.

    Returns
    -------
    pandas.DataFrame
        ``model, prompt_id, turn, text, tokens`` (``tokens`` NaN when not stored).

    Examples
    --------
    >>> import tempfile, pathlib
    >>> d = pathlib.Path(tempfile.mkdtemp())
    >>> _ = (d / "m1.jsonl").write_text('{"question_id": "q", "choices": '
    ...     '[{"turns": [{"content": "Hello", "token_len": 1}]}]}\\n')
    >>> read_model_answers(d)
      model prompt_id  turn   text  tokens
    0    m1         q     1  Hello     1.0
    """
    files = answer_files(path)
    if not files:
        raise InputError(
            f"{path}: no <model>.jsonl or <model>.jsonl.gz answer files in the folder."
        )
    rows = []
    for f in files:
        model, problems, seen = model_name(f), [], {}
        for line, rec in read_jsonl(f, "answer"):
            qid = _question_id(rec.get("question_id"))
            choices = rec.get("choices")
            turns = choices[0].get("turns") if choices and isinstance(choices[0], dict) else None
            texts = [_turn_text(t) for t in turns] if isinstance(turns, list) else [None]
            if qid is None or not texts or any(t is None for t in texts):
                problems.append((line, "needs question_id and choices[0].turns (texts)"))
                continue
            if qid in seen:
                problems.append((line, f"question_id {qid!r} answered again (line {seen[qid]})"))
                continue
            seen[qid] = line
            rows += [
                (model, qid, i, text, _turn_tokens(t))
                for i, (text, t) in enumerate(zip(texts, turns, strict=True), start=1)
            ]
        if problems:
            raise bad_lines(f, problems, "fix or remove those answers.")
    return pd.DataFrame(rows, columns=["model", "prompt_id", "turn", "text", "tokens"])


def find_beside(path: str | os.PathLike, name: str, levels: int = 3) -> Path | None:
    """``name`` in the folder of ``path`` or up to ``levels`` folders above (the bench root).

    Arena-Hard keeps ``model_judgment/<judge>/<model>.jsonl`` three levels below
    the folder holding ``question.jsonl`` and ``model_answer/``.
    """
    p = Path(path)
    folder = p if p.is_dir() else p.parent
    for _ in range(levels + 1):
        if (folder / name).exists():
            return folder / name
        if folder.parent == folder:
            break
        folder = folder.parent
    return None


def attach_answers(frame: pd.DataFrame, source: str | os.PathLike) -> pd.DataFrame:
    """Judge calls with the prompt texts and answers found beside ``source`` (a new frame).

    ``frame`` has ``prompt_id``, ``turn`` (optional, 1), ``model_a``, ``model_b``;
    ``question.jsonl`` gives ``prompt``, ``model_answer/`` gives ``answer_a``,
    ``answer_b``, ``tokens_a``, ``tokens_b``. Columns already present are kept;
    files that are absent add nothing (answers missing for some calls stay
    missing, and :class:`~debias.judgments.Judgments` counts them).
    """
    out = frame.copy()
    turn = out["turn"] if "turn" in out else pd.Series(1, index=out.index)
    key = pd.DataFrame({"prompt_id": out["prompt_id"].astype(str), "turn": turn.astype(int)})
    questions = find_beside(source, "question.jsonl")
    if questions is not None and "prompt" not in out:
        q = read_questions(questions)
        out["prompt"] = key.merge(q, how="left", on=["prompt_id", "turn"])["prompt"].to_numpy()
    folder = find_beside(source, "model_answer")
    if folder is not None and folder.is_dir() and "answer_a" not in out:
        answers = read_model_answers(folder)
        for side in ("a", "b"):
            if f"model_{side}" not in out:
                continue
            k = key.assign(model=out[f"model_{side}"].astype(str).to_numpy())
            joined = k.merge(answers, how="left", on=["model", "prompt_id", "turn"])
            out[f"answer_{side}"] = joined["text"].to_numpy()
            if answers["tokens"].notna().any():
                out[f"tokens_{side}"] = joined["tokens"].to_numpy()
    return out
