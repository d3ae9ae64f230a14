"""The public API: every name in ``debias.__all__`` resolves, and importing debias stays light."""

from __future__ import annotations

import subprocess
import sys

import debias


def test_every_public_name_resolves():
    missing = [name for name in debias.__all__ if getattr(debias, name, None) is None]
    assert missing == []


def test_any_judge_names_are_public():
    """The readers and estimators of battles, position, grades and judges side by side."""
    assert {
        "read_judgments",
        "parse_verdicts",
        "BradleyTerry",
        "battle_leaderboard",
        "compare_presets",
        "consistency",
        "first_shown_win_rate",
        "fit_judges",
        "audit_judges",
        "length_controlled_grades",
        "graded_verdicts",
    } <= set(debias.__all__)
    assert debias.read_judgments.__module__ == "debias.io.judges.detect"


def test_import_does_not_load_pandas():
    code = "import sys, debias; print('pandas' in sys.modules, 'numpy' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.split() == ["False", "False"]
