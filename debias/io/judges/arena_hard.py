"""Arena-Hard-Auto's two layouts: its judgment files and the battles built from them.

**Judgments** (``model_judgment/<judge>/<model>.jsonl``): one line per question,
``{question_id, model, judge, games: [game 1, game 2]}``; each game holds the
judge's ``judgment`` text and ``score``, one of ``A>>B, A>B, A=B, B>A, B>>A`` (or
null when no verdict could be read). Game 1 shows the baseline as Assistant A
and the model as B; game 2 swaps them. Read on :meth:`Scale.arena_hard` with
``model_a`` = the baseline, so game 2's labels are mirrored (its "A" is the model).

**Battles** (``arena_hard_battles.jsonl``): ``{question_id, model_a, model_b,
winner}`` rows that the leaderboard step wrote from those judgments, ``model_a``
always the baseline. A strong verdict is written as 3 identical rows, a weak one
or a tie as 1, the rows of one (model, question) contiguous, game 1 first. The
games are recovered from each block: 1+1 rows, 3+3, 1+3 and 3+1 split where the
winner changes. A block of 4 identical rows is 1+3 or 3+1: the winner of both
games is known but not which game was strong, so each game gets weight **2**
(the block's total of 4 is kept, so scores counted over both games are exact;
only a per-game strength is unknown). A block of 1 or 3 rows is a single game
whose order is unknown. The battles carry no verdict levels: they are read on a
win/tie/loss scale with the row counts as weights.
"""

from __future__ import annotations

import os
import warnings
from pathlib import Path

import numpy as np
import pandas as pd

from debias.errors import DataWarning, InputError, ParameterError
from debias.io.judges.answers import answer_files, attach_answers, bad_lines, read_jsonl
from debias.judgments import Judgments, Scale

#: The baseline of Arena-Hard v0.1 (its judgment files do not name it).
DEFAULT_BASELINE = "gpt-4-0314"
BATTLE_FIELDS: frozenset[str] = frozenset({"question_id", "model_a", "model_b", "winner"})
WINNERS: tuple[str, ...] = ("model_a", "tie", "model_b")
_TIES = {"tie", "tie (bothbad)"}
_MIRROR = {"A>>B": "B>>A", "A>B": "B>A", "A=B": "A=B", "B>A": "A>B", "B>>A": "A>>B"}
_STRONG = 3


# ------------------------------------------------------------------------------- battles
def _games_of_block(winners: list[str]) -> list[list[tuple[str, int]]]:
    """Every way to read a block's winners as 1 or 2 games of 1 row (any) or 3 rows (not a tie).

    Examples
    --------
    >>> _games_of_block(["model_a", "model_a", "model_a", "model_b"])
    [[('model_a', 3), ('model_b', 1)]]
    >>> _games_of_block(["tie"] * 4)
    []
    >>> len(_games_of_block(["model_b"] * 4))
    2
    """
    ways = []

    def extend(start: int, games: list[tuple[str, int]]) -> None:
        if start == len(winners):
            ways.append(games)
            return
        if len(games) == 2:
            return
        first = winners[start]
        for size in (1, _STRONG):
            run = winners[start : start + size]
            if len(run) == size and all(w == first for w in run):
                if size == _STRONG and first in _TIES:
                    continue
                extend(start + size, [*games, (first, size)])

    extend(0, [])
    return ways


def arena_hard_games(path: str | os.PathLike) -> pd.DataFrame:
    """The games behind an Arena-Hard battles file: one row per judge call.

    Returns
    -------
    pandas.DataFrame
        ``question_id, model_a, model_b, game`` (1, 2, or 0 when a block holds one
        game of unknown order), ``winner`` (``model_a``, ``model_b`` or ``tie``),
        ``weight`` (rows: 1 or 3; 2 for each game of a 1+3/3+1 block), ``ambiguous``
        (True for those), ``shown_first`` (``a`` in game 1, where the baseline
        ``model_a`` is Assistant A; ``b`` in game 2; ``unknown``), ``line`` (first
        line of the block).

    Raises
    ------
    InputError
        Lines that are not objects with the four fields, unknown winners, blocks
        that are not 1 or 2 games, a (model, question) in two separate blocks; every
        such line named as file:line in one message.
    """
    problems: list[tuple[int, str]] = []
    records = []
    for line, rec in read_jsonl(path, "battle"):
        missing = sorted(BATTLE_FIELDS - set(rec))
        if missing:
            problems.append((line, f"no field {', '.join(map(repr, missing))}"))
            continue
        winner = rec["winner"]
        if not isinstance(winner, str) or winner not in (*WINNERS, *_TIES):
            problems.append((line, f"winner {winner!r} is not model_a, model_b or tie"))
            continue
        names = [rec[k] for k in ("question_id", "model_a", "model_b")]
        if not all(isinstance(v, (str, int)) and not isinstance(v, bool) and str(v) for v in names):
            problems.append((line, "question_id, model_a and model_b must be non-empty names"))
            continue
        key = tuple(str(v) for v in names)
        records.append((line, key, "tie" if winner in _TIES else winner))
    if problems:
        raise bad_lines(path, problems, "fix or remove those battles.")
    games, seen = [], {}
    i = 0
    while i < len(records):
        line, key, _ = records[i]
        j = i
        while j < len(records) and records[j][1] == key:
            j += 1
        if key in seen:
            problems.append((line, f"{key[2]} on {key[0]} again (first block at line {seen[key]})"))
        seen[key] = line
        winners = [w for _, _, w in records[i:j]]
        ways = _games_of_block(winners)
        two = [w for w in ways if len(w) == 2]
        if len(two) == 1:
            (w1, n1), (w2, n2) = two[0]
            games += [(*key, 1, w1, n1, False, "a", line), (*key, 2, w2, n2, False, "b", line)]
        elif len(two) == 2:  # 1+3 or 3+1 of one winner: the strong game is unknown
            games += [(*key, g, winners[0], 2, True, s, line) for g, s in ((1, "a"), (2, "b"))]
        elif len(ways) == 1:
            (w1, n1) = ways[0][0]
            games.append((*key, 0, w1, n1, False, "unknown", line))
        else:
            problems.append((line, f"{j - i} rows {winners} are not 1 or 2 games of 1 or 3 rows"))
        i = j
    if problems:
        raise bad_lines(path, problems, "an Arena-Hard battles file keeps each block as written.")
    return pd.DataFrame(
        games,
        columns=[
            "question_id",
            "model_a",
            "model_b",
            "game",
            "winner",
            "weight",
            "ambiguous",
            "shown_first",
            "line",
        ],
    )


def read_arena_hard_battles(
    path: str | os.PathLike, *, judge: str | None = None, answers: bool = True
) -> Judgments:
    """Judgments from an Arena-Hard battles file (``question_id, model_a, model_b, winner``).

    Parameters
    ----------
    path : str or path-like
        The ``.jsonl`` file (gzip accepted).
    judge : str, optional
        The judge's name (the file does not store it; ``"unknown"`` by default).
    answers : bool
        Join the prompt texts and answers (with ``token_len`` as ``tokens``) from
        ``question.jsonl`` and ``model_answer/`` beside the file, when present.

    Returns
    -------
    Judgments
        One row per game on :meth:`Scale.win_tie_loss` (``model_a`` / ``tie`` /
        ``model_b``), weight = the game's rows (see the module docstring for the
        1+3 blocks), ``shown_first`` from the game.

    Examples
    --------
    >>> import tempfile, pathlib, json
    >>> f = pathlib.Path(tempfile.mkdtemp()) / "arena_hard_battles.jsonl"
    >>> rows = [("q1", "model_b")] * 3 + [("q1", "tie")] + [("q2", "model_a")] * 4
    >>> _ = f.write_text("".join(json.dumps({"question_id": q, "model_a": "base",
    ...     "model_b": "m", "winner": w}) + "\\n" for q, w in rows))
    >>> b = read_arena_hard_battles(f).battles()
    >>> b[["prompt", "outcome", "weight", "shown_first"]]
      prompt  outcome  weight shown_first
    0     q1      0.0     3.0           a
    1     q1      0.5     1.0           b
    2     q2      1.0     2.0           a
    3     q2      1.0     2.0           b
    """
    games = arena_hard_games(path)
    frame = pd.DataFrame(
        {
            "prompt_id": games["question_id"],
            "model_a": games["model_a"],
            "model_b": games["model_b"],
            "shown_first": games["shown_first"],
            "verdict": games["winner"],
            "weight": games["weight"].astype(float),
            "judge": judge or "unknown",
        }
    )
    if answers:
        frame = attach_answers(frame, path)
    scale = Scale.win_tie_loss(WINNERS)
    return Judgments.from_dataframe(frame, scale=scale, source=str(path))


# ------------------------------------------------------------------------------- judgments
def judgment_files(path: str | os.PathLike) -> list[Path]:
    """``<model>.jsonl[.gz]`` judgment files: the file, a judge's folder, or ``model_judgment/``."""
    p = Path(path)
    if not p.is_dir():
        return [p]
    files = answer_files(p)
    if not files:
        for sub in sorted(d for d in p.iterdir() if d.is_dir()):
            files += answer_files(sub)
    return files


def _judgment_rows(f: Path, baseline: str, judge: str | None):
    rows, problems = [], []
    for line, rec in read_jsonl(f, "judgment"):
        qid, model, games = rec.get("question_id"), rec.get("model"), rec.get("games")
        ok_names = all(isinstance(v, (str, int)) and not isinstance(v, bool) for v in (qid, model))
        if not ok_names or not isinstance(games, list) or not 1 <= len(games) <= 2:
            problems.append((line, "needs question_id, model and games (a list of 1 or 2)"))
            continue
        name = rec.get("judge") or judge or f.parent.name
        for g, game in enumerate(games, start=1):
            if not isinstance(game, dict) or "score" not in game:
                problems.append((line, f"game {g} has no 'score' (null when unparsed)"))
                continue
            score = game["score"]
            if score is not None and score not in _MIRROR:
                problems.append((line, f"game {g} score {score!r} is not one of {list(_MIRROR)}"))
                continue
            verdict = score if g == 1 or score is None else _MIRROR[score]
            rows.append((str(qid), baseline, str(model), "a" if g == 1 else "b", verdict, name))
    if problems:
        raise bad_lines(f, problems, "fix or remove those judgments.")
    return rows


def read_arena_hard_judgments(
    path: str | os.PathLike,
    *,
    baseline: str | None = None,
    judge: str | None = None,
    answers: bool = True,
) -> Judgments:
    """Judgments from Arena-Hard-Auto judgment files (``{question_id, model, judge, games}``).

    Parameters
    ----------
    path : str or path-like
        One ``<model>.jsonl[.gz]`` file, a judge's folder of them, or
        ``model_judgment/`` holding one folder per judge.
    baseline : str, optional
        The model shown as Assistant A in game 1. The files do not name it;
        Arena-Hard v0.1's ``gpt-4-0314`` is assumed, with a warning, when not given.
    judge : str, optional
        The judge of lines without a ``judge`` field (default: the file's folder).
    answers : bool
        Join ``question.jsonl`` and ``model_answer/`` found beside the files
        (up to three folders up, as Arena-Hard lays them out).

    Returns
    -------
    Judgments
        On :meth:`Scale.arena_hard`, ``model_a`` = the baseline, game 1 shown
        ``a``, game 2 shown ``b`` (its label mirrored); a null score is a call
        without a verdict.

    Examples
    --------
    >>> import tempfile, pathlib, json
    >>> f = pathlib.Path(tempfile.mkdtemp()) / "m.jsonl"
    >>> rec = {"question_id": "q", "model": "m", "judge": "gpt-4",
    ...        "games": [{"score": "B>A"}, {"score": "A>>B"}]}
    >>> _ = f.write_text(json.dumps(rec) + "\\n")
    >>> j = read_arena_hard_judgments(f, baseline="base")
    >>> j.battles()[["model_a", "model_b", "shown_first", "outcome", "weight"]]
      model_a model_b shown_first  outcome  weight
    0    base       m           a      0.0     1.0
    1    base       m           b      0.0     3.0
    """
    if baseline is not None and (not isinstance(baseline, str) or not baseline.strip()):
        raise ParameterError(f"The 'baseline' parameter must be a model name. Got {baseline!r}.")
    files = judgment_files(path)
    if not files:
        raise InputError(f"{path}: no <model>.jsonl judgment files found.")
    rows = [r for f in files for r in _judgment_rows(f, baseline or DEFAULT_BASELINE, judge)]
    if baseline is None:
        warnings.warn(
            f"{path}: Arena-Hard judgment files do not name the baseline; assuming "
            f"{DEFAULT_BASELINE!r} (Arena-Hard v0.1's); pass baseline=... if it was another.",
            DataWarning,
            stacklevel=2,
        )
    frame = pd.DataFrame(
        rows, columns=["prompt_id", "model_a", "model_b", "shown_first", "verdict", "judge"]
    )
    frame["verdict"] = frame["verdict"].astype(object).where(frame["verdict"].notna(), np.nan)
    if answers:
        frame = attach_answers(frame, files[0])
    return Judgments.from_dataframe(frame, scale=Scale.arena_hard(), source=str(path))
