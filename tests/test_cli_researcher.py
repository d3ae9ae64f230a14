"""The researcher's path on the command line: the audit takes the leaderboard's model options,
the matrix has intervals, and ``--at`` sets the counterfactual (parsed strictly)."""

import json
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from debias.cli import main
from debias.counterfactual import avg_predictions, ratio, winrate_matrix
from debias.io import read_alpaca_eval
from debias.model.formula import PRESETS
from debias.reports.leaderboard import leaderboard_fit

TREE = Path(__file__).resolve().parents[1] / "fixtures" / "alpaca_eval_sim"
JUDGE = ["--judge", "simulated_judge"]
NOREG = ["--preset", "length_controlled_noreg"]


@pytest.fixture(scope="module")
def fit():
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        comps = read_alpaca_eval(TREE, judge="simulated_judge")
        _, fit = leaderboard_fit(comps, preset="length_controlled_noreg")
    return fit


def _run(args, capsys):
    """Exit code, stdout, stderr (argparse's errors exit; the commands' return)."""
    try:
        code = main(["-q", *args])
    except SystemExit as exc:
        code = exc.code
    captured = capsys.readouterr()
    return code, captured.out, captured.err


# --------------------------------------------------------------------------- audit
def test_audit_takes_the_preset_formula_difficulty_and_models(tmp_path, capsys):
    out = tmp_path / "a"
    args = ["audit", str(TREE), *JUDGE, *NOREG, "--models", "model_0,model_2,model_3"]
    code, _, err = _run([*args, "--out", str(out)], capsys)
    assert code == 0, err
    info = json.loads((out / "audit.json").read_text())
    assert info["formula"] == PRESETS["length_controlled_noreg"].rhs
    assert info["mediator_names"] == ["length"]  # the formula's mediators
    assert info["difficulty"] == "fit"
    assert info["n_models"] == 3

    out = tmp_path / "b"
    formula = "scaled(bold) + scaled(length)"
    args = ["audit", str(TREE), *JUDGE, "--formula", formula, "--difficulty", "none"]
    code, _, err = _run([*args, "--out", str(out)], capsys)
    assert code == 0, err
    info = json.loads((out / "audit.json").read_text())
    assert info["formula"] == formula and info["difficulty"] == "none"
    assert sorted(info["mediator_names"]) == ["bold", "length"]


def test_audit_refuses_a_formula_without_mediators_in_one_line(tmp_path, capsys):
    code, _, err = _run(
        ["audit", str(TREE), *JUDGE, "--formula", "difficulty", "--out", str(tmp_path / "a")],
        capsys,
    )
    assert code == 2 and err.count("\n") == 1
    assert "uses no mediator" in err
    assert not (tmp_path / "a").exists()


# --------------------------------------------------------------------------- --at
@pytest.mark.parametrize(
    ("at", "expected"),
    [
        ("lenght=0", "unknown mediator 'lenght'"),
        ("length=abc", "must be a finite number"),
        ("length=inf", "must be a finite number"),
        ("length=ratio:-1", "ratio:R with R >= 0"),
        ("length=times:2", "must be a finite number"),
        ("length", "expected MEDIATOR=VALUE"),
    ],
)
def test_at_is_parsed_strictly(at, expected, capsys):
    code, out, err = _run(["leaderboard", str(TREE), *JUDGE, "--at", at], capsys)
    assert code == 2 and out == ""
    assert err.count("\n") == 1 and expected in err
    if "unknown" in expected:
        assert "known mediators: " in err and "length" in err and "markdown" in err


def test_at_naming_a_mediator_the_formula_does_not_use_or_twice(capsys):
    code, _, err = _run(["leaderboard", str(TREE), *JUDGE, *NOREG, "--at", "markdown=0"], capsys)
    assert code == 2 and err.count("\n") == 1
    assert "--at markdown: not a mediator of the formula" in err and "mediators: length" in err
    args = ["leaderboard", str(TREE), *JUDGE, "--at", "length=0", "--at", "length=ratio:2"]
    code, _, err = _run(args, capsys)
    assert code == 2 and "given twice" in err


def test_leaderboard_at_a_ratio_is_the_library_counterfactual(fit, tmp_path, capsys):
    path = tmp_path / "lb.csv"
    args = ["leaderboard", str(TREE), *JUDGE, *NOREG, "--at", "length=ratio:1.3"]
    code, out, err = _run([*args, "--out", str(path)], capsys)
    assert code == 0, err
    assert "counterfactual (--at): length=ratio(1.3)" in out
    table = pd.read_csv(path).set_index("model")
    lc = avg_predictions(fit, at={"length": ratio(1.3)}).set_index("model")
    models = [m for m in lc.index if np.isfinite(lc.loc[m, "estimate"])]
    np.testing.assert_allclose(table.loc[models, "lc_win_rate"], 100 * lc.loc[models, "estimate"])
    np.testing.assert_allclose(
        table.loc[models, "lc_win_rate_ci_low"], 100 * lc.loc[models, "conf_low"], equal_nan=True
    )
    default = avg_predictions(fit).set_index("model")
    moved = (lc.loc[models, "estimate"] - default.loc[models, "estimate"]).abs()
    assert moved.max() > 0.01  # a different estimand, not the default's number
    assert table["lc_win_rate"].dropna().is_monotonic_decreasing


# --------------------------------------------------------------------------- matrix
def test_matrix_pairs_have_intervals_and_square_takes_at(fit, tmp_path, capsys):
    path = tmp_path / "pairs.csv"
    args = ["matrix", str(TREE), *JUDGE, *NOREG, "--form", "pairs", "--at", "length=ratio:1.3"]
    code, _, err = _run([*args, "--out", str(path)], capsys)
    assert code == 0, err
    pairs = pd.read_csv(path, keep_default_na=False, na_values=[""])
    assert list(pairs.columns) == [
        "model",
        "opponent",
        "estimate",
        "std_error",
        "conf_low",
        "conf_high",
        "note",
    ]
    square = winrate_matrix(fit, at={"length": ratio(1.3)})
    pivot = pairs.pivot(index="model", columns="opponent", values="estimate")
    pivot = pivot.loc[square.index, square.columns]
    np.testing.assert_allclose(pivot.to_numpy(), square.to_numpy(), atol=1e-9)  # percent
    ok = pairs.dropna(subset=["std_error"])
    assert len(ok) > 0 and (ok["conf_low"] < ok["estimate"]).all()
    assert (ok["estimate"] < ok["conf_high"]).all()
    missing = pairs[pairs["estimate"].isna()]
    assert (missing["note"].fillna("") != "").all()  # a reason for every missing pair

    path = tmp_path / "square.csv"
    args = ["matrix", str(TREE), *JUDGE, *NOREG, "--at", "length=ratio:1.3", "--out", str(path)]
    code, _, err = _run(args, capsys)
    assert code == 0, err
    got = pd.read_csv(path, index_col=0)
    np.testing.assert_allclose(got.to_numpy(), square.to_numpy(), atol=1e-9)
