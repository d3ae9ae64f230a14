"""Readers of LLM-judge set-ups beyond AlpacaEval, returning :class:`~debias.judgments.Judgments`.

- :func:`read_judgments`: any layout below, detected (or ``format=``);
- :mod:`.arena_hard`: Arena-Hard-Auto's judgment files and its battles file;
- :mod:`.battle_tables`: a generic table of battles between any two models;
- :mod:`.answers`: FastChat's ``question.jsonl`` and ``model_answer/<model>.jsonl[.gz]``;
- :mod:`.detect`: the :data:`FORMATS` registry and :func:`detect_format`.

Every file is read through :mod:`debias.io.safe_read`; malformed lines are named
as ``file:line`` in one :class:`~debias.errors.InputError`.
"""

from debias.io.judges.answers import read_model_answers, read_questions
from debias.io.judges.arena_hard import (
    arena_hard_games,
    read_arena_hard_battles,
    read_arena_hard_judgments,
)
from debias.io.judges.battle_tables import read_battle_table
from debias.io.judges.detect import FORMATS, Format, detect_format, read_judgments

__all__ = [
    "FORMATS",
    "Format",
    "arena_hard_games",
    "detect_format",
    "read_arena_hard_battles",
    "read_arena_hard_judgments",
    "read_battle_table",
    "read_judgments",
    "read_model_answers",
    "read_questions",
]
