"""The command line: commands end to end on the committed fixture tree, errors as one line + exit 2."""

import gzip
import json
import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from debias.cli import main

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"

TREE = FIXTURES / "alpaca_eval_sim"


def test_help(capsys):
    with pytest.raises(SystemExit) as exc:
        main(["--help"])
    assert exc.value.code == 0
    out = capsys.readouterr().out
    for cmd in ("simulate", "leaderboard", "matrix", "difficulty", "audit", "demo"):
        assert cmd in out


def test_leaderboard_on_fixture_tree(tmp_path, capsys):
    out = tmp_path / "lb.csv"
    code = main(
        [
            "leaderboard",
            str(TREE),
            "--judge",
            "simulated_judge",
            "--preset",
            "length_controlled_noreg",
            "--out",
            str(out),
        ]
    )
    assert code == 0
    table = pd.read_csv(out)
    for col in (
        "model",
        "n",
        "win_rate",
        "win_rate_se",
        "lc_win_rate",
        "lc_win_rate_se",
        "lc_win_rate_ci_low",
        "lc_win_rate_ci_high",
        "avg_length",
    ):
        assert col in table.columns
    # sorted by LC; a model whose LC the data cannot support (missing, with a reason) comes last
    lc = table["lc_win_rate"]
    assert lc.dropna().is_monotonic_decreasing
    assert lc.isna().sum() == 0 or lc.isna().to_numpy()[-lc.isna().sum() :].all()
    assert table.set_index("model").loc["baseline", "lc_win_rate"] == 50.0
    assert "lc_win_rate" in capsys.readouterr().out


def test_leaderboard_markdown_and_se_options(tmp_path):
    out = tmp_path / "lb.md"
    assert (
        main(
            [
                "leaderboard",
                str(TREE),
                "--judge",
                "hard_judge",
                "--preset",
                "length_controlled_minimal",
                "--difficulty",
                "none",
                "--se",
                "sem",
                "--level",
                "0.9",
                "--out",
                str(out),
            ]
        )
        == 0
    )
    assert out.read_text().startswith("| model |")


def test_matrix_and_difficulty(tmp_path):
    m = tmp_path / "m.csv"
    assert (
        main(
            [
                "matrix",
                str(TREE),
                "--judge",
                "simulated_judge",
                "--preset",
                "length_controlled_noreg",
                "--out",
                str(m),
            ]
        )
        == 0
    )
    M = pd.read_csv(m, index_col=0).to_numpy()
    assert np.isfinite(M).sum() > len(M)  # cells besides the diagonal are estimated
    # each pair both ways, computed separately, sums to 100 (the diagonal is set to 50)
    both = np.isfinite(M + M.T)
    np.testing.assert_allclose((M + M.T)[both], 100.0, atol=1e-9)
    d = tmp_path / "d.csv"
    assert (
        main(
            [
                "difficulty",
                str(TREE),
                "--judge",
                "simulated_judge",
                "--out",
                str(d),
                "--layout",
                "index",
            ]
        )
        == 0
    )
    assert list(pd.read_csv(d).columns) == ["index", "instruction_difficulty"]
    # the saved difficulty is accepted back
    assert (
        main(
            [
                "leaderboard",
                str(TREE),
                "--judge",
                "simulated_judge",
                "--preset",
                "length_controlled_noreg",
                "--difficulty",
                str(d),
            ]
        )
        == 0
    )


def test_simulate_then_leaderboard(tmp_path):
    assert (
        main(["simulate", "--out", str(tmp_path / "sim"), "--models", "3", "--instructions", "50"])
        == 0
    )
    assert (
        main(
            [
                "leaderboard",
                str(tmp_path / "sim"),
                "--preset",
                "length_controlled_minimal",
                "--difficulty",
                "none",
            ]
        )
        == 0
    )


@pytest.mark.parametrize(
    "breakage, needle",
    [
        (
            lambda p: p.write_bytes(gzip.compress(b'[{"instruction": "x"')[:-8]),
            "annotations.json.gz",
        ),
        (lambda p: p.write_bytes(gzip.compress(b'{"not": "a list"}')), "annotations.json.gz"),
    ],
)
def test_malformed_file_skips_that_model_with_a_warning(tmp_path, capsys, breakage, needle):
    """One unreadable model does not stop the run (issue 10 item 7): the file is named in a
    warning and the model is left out; the other models are ranked."""
    from debias.errors import DataWarning

    root = tmp_path / "tree"
    shutil.copytree(TREE, root)
    target = root / "results" / "model_5" / "simulated_judge" / "annotations.json.gz"
    breakage(target)
    with pytest.warns(DataWarning, match=needle):
        code = main(["-q", "leaderboard", str(root), "--judge", "simulated_judge"])
    out = capsys.readouterr().out
    assert code == 0
    assert "| model_5 |" not in out and "| model_0 |" in out


def test_user_errors_exit_2(tmp_path, capsys):
    assert main(["leaderboard", str(tmp_path / "nowhere")]) == 2
    assert main(["leaderboard", str(TREE)]) == 2  # two judges, none chosen
    assert "judge" in capsys.readouterr().err
    assert (
        main(["leaderboard", str(TREE), "--judge", "simulated_judge", "--formula", "tanh(lenght)"])
        == 2
    )
    assert "lenght" in capsys.readouterr().err
    bad = tmp_path / "bad.json"
    bad.write_text(
        json.dumps(
            [
                {
                    "instruction": "x",
                    "output_1": "a",
                    "generator_1": "b",
                    "output_2": "c",
                    "generator_2": "m",
                    "preference": 3.5,
                }
            ]
        )
    )
    assert (
        main(
            [
                "leaderboard",
                str(bad),
                "--difficulty",
                "none",
                "--preset",
                "length_controlled_minimal",
            ]
        )
        == 2
    )
    assert "preference" in capsys.readouterr().err


def test_debug_shows_traceback(tmp_path):
    from debias.errors import InputError

    with pytest.raises(InputError):
        main(["--debug", "leaderboard", str(tmp_path / "nowhere")])
