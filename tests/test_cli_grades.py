"""``debias leaderboard / audit / matrix`` on graded data and on battles.

Single-answer grades are written by the project's simulator in FastChat's single layout, read
back by the CLI and compared with :func:`length_controlled_grades` on the simulator's own frame
(an independent route: reader, length from the texts, CLI). Real data ($DEBIAS_JUDGES_DIR):
Arena-Bench means (judges README), Vicuna-80 totals (the Vicuna blog), Arena-Hard's convention
(the published CSV); the CLI's numbers equal the Python functions' to 1e-9.
"""

from __future__ import annotations

import json
import re

import numpy as np
import pandas as pd
import pytest

from debias.cli import main

TOL = 1e-9


def run(argv, capsys):
    try:
        code = main(argv)
    except SystemExit as exc:  # argparse's own errors
        code = exc.code
    out, err = capsys.readouterr()
    return code, out, err


def one_line_error(argv, capsys, pattern):
    code, out, err = run(argv, capsys)
    lines = [line for line in err.splitlines() if "error" in line]
    assert code == 2, err
    assert len(lines) == 1 and re.search(pattern, lines[0]), err
    assert "Traceback" not in err


def table_rows(out: str, key: str = "model") -> dict:
    text = out.splitlines()
    first = next(i for i, line in enumerate(text) if line.startswith("|"))
    lines = []
    for line in text[first:]:  # the first table only
        if not line.startswith("|"):
            break
        lines.append(line)
    header = [c.strip() for c in lines[0].strip("|").split("|")]
    rows = [
        dict(zip(header, [c.strip() for c in x.strip("|").split("|")], strict=True))
        for x in lines[2:]
    ]
    return {r[key]: r for r in rows}


def close(a, b, tol=TOL):
    a, b = np.asarray(a, float), np.asarray(b, float)
    assert np.array_equal(np.isnan(a), np.isnan(b)), (a, b)
    np.testing.assert_allclose(a[~np.isnan(a)], b[~np.isnan(b)], rtol=0, atol=tol)


# ----------------------------------------------------------------------------- simulated
def write_single_tree(root, grades, judges=(("gpt-4", 0),)):
    """FastChat's single layout: model_judgment/<judge>_single.jsonl + model_answer/."""
    root.mkdir(exist_ok=True)
    (root / "model_judgment").mkdir()
    (root / "model_answer").mkdir()
    for judge, shift in judges:
        lines = [
            json.dumps(
                {
                    "question_id": r.prompt,
                    "model": r.model,
                    "judge": [judge, "single-v1"],
                    "turn": 1,
                    "judgment": f"Rating: [[{int(min(10, r.grade + shift))}]]",
                    "score": int(min(10, r.grade + shift)),
                }
            )
            for r in grades.itertuples()
        ]
        (root / "model_judgment" / f"{judge}_single.jsonl").write_text("\n".join(lines) + "\n")
    for model, g in grades.groupby("model"):
        answers = [
            json.dumps({"question_id": r.prompt, "choices": [{"turns": ["x" * int(r.length)]}]})
            for r in g.itertuples()
        ]
        (root / "model_answer" / f"{model}.jsonl").write_text("\n".join(answers) + "\n")
    return root


@pytest.fixture(scope="module")
def graded_tree(tmp_path_factory):
    """Simulated single grades of one judge in FastChat's layout."""
    from debias.simulate.grades import simulate_grades

    sim = simulate_grades(n_models=3, n_prompts=60, seed=3)
    root = write_single_tree(tmp_path_factory.mktemp("single"), sim.grades)
    return root, sim.grades.drop(columns="judge")


def test_several_judges_one_leaderboard_each_and_one_audit_block_each(
    graded_tree, tmp_path, capsys
):
    from debias.reports.grades import length_controlled_grades

    _, frame = graded_tree
    root = write_single_tree(tmp_path / "two", frame, (("gpt-4", 0), ("claude-2", 1)))
    one_line_error(["-q", "leaderboard", str(root)], capsys, r"several judges .* --judge")
    code, out, err = run(["-q", "leaderboard", str(root), "--judge", "claude-2"], capsys)
    assert code == 0 and out.startswith("judge: claude-2"), err
    code, out, err = run(["-q", "audit", str(root), "--out", str(tmp_path / "a")], capsys)
    assert code == 0, err
    data = json.loads((tmp_path / "a" / "audit.json").read_text())
    assert sorted(data["judges"]) == ["claude-2", "gpt-4"]
    shifted = frame.assign(grade=frame["grade"].add(1).clip(upper=10))
    want = length_controlled_grades(shifted, scale=(1, 10)).slope.iloc[0]
    assert data["judges"]["claude-2"]["length"]["estimate"] == pytest.approx(
        want["estimate"], abs=TOL
    )


@pytest.mark.parametrize("method", ["linear", "ordinal"])
def test_single_grades_leaderboard_equals_the_function(graded_tree, tmp_path, capsys, method):
    from debias.reports.grades import length_controlled_grades

    root, frame = graded_tree
    out_file = tmp_path / "grades.json"
    code, out, err = run(
        ["-q", "leaderboard", str(root), "--method", method, "--out", str(out_file)], capsys
    )
    assert code == 0, err
    table = pd.read_json(out_file).set_index("model")
    assert list(table.columns) == [
        "n", "mean_grade", "mean_grade_se", "mean_grade_ci_low", "mean_grade_ci_high",
        "controlled_grade", "controlled_grade_se", "controlled_grade_ci_low",
        "controlled_grade_ci_high", "note",
    ]  # fmt: skip
    want = length_controlled_grades(frame, method=method, scale=(1, 10)).table.set_index("model")
    for ours, theirs in (
        ("mean_grade", "mean_grade"),
        ("mean_grade_ci_low", "mean_grade_ci_low"),
        ("controlled_grade", "controlled_grade"),
        ("controlled_grade_se", "controlled_grade_se"),
        ("controlled_grade_ci_high", "controlled_grade_ci_high"),
    ):
        close(table.loc[want.index, ours], want[theirs])
    assert (table["controlled_grade_ci_high"] > table["controlled_grade_ci_low"]).all()
    assert f"method: {method}" in out and "grade range [1, 10]" in out
    assert "Controlled grade" in out and "length slope" in out


def test_single_grades_audit_slope_and_models(graded_tree, tmp_path, capsys):
    from scipy import stats

    from debias.reports.grades import length_controlled_grades

    root, frame = graded_tree
    out_dir = tmp_path / "audit"
    code, out, err = run(["-q", "audit", str(root), "--out", str(out_dir)], capsys)
    assert code == 0, err
    data = json.loads((out_dir / "audit.json").read_text())
    effect = data["judges"]["gpt-4"]["length"]
    assert set(effect) >= {"estimate", "std_error", "conf_low", "conf_high", "p_value"}
    slope = length_controlled_grades(frame, scale=(1, 10)).slope.iloc[0]
    close(
        [effect["estimate"], effect["std_error"], effect["conf_low"], effect["conf_high"]],
        slope[["estimate", "std_error", "conf_low", "conf_high"]].to_numpy(float),
    )
    t = slope["estimate"] / slope["std_error"]
    assert effect["p_value"] == pytest.approx(2 * stats.t.sf(abs(t), 60 - 1), rel=1e-12)
    models = pd.DataFrame(data["models"]["gpt-4"])
    assert {"mean_grade", "controlled_grade", "controlled_grade_ci_low"} <= set(models)
    assert "## gpt-4" in (out_dir / "report.md").read_text()
    # a second run replaces the previous audit; a folder holding something else is refused
    assert (
        run(["-q", "audit", str(root), "--out", str(out_dir), "--method", "ordinal"], capsys)[0]
        == 0
    )
    assert json.loads((out_dir / "audit.json").read_text())["method"] == "ordinal"
    other = tmp_path / "other"
    other.mkdir()
    (other / "keep.txt").write_text("mine")
    one_line_error(["-q", "audit", str(root), "--out", str(other)], capsys, "not empty")
    assert (other / "keep.txt").read_text() == "mine" and len(list(other.iterdir())) == 1


def test_hostile_flags_on_single_grades_are_one_line(graded_tree, tmp_path, capsys):
    root, _ = graded_tree
    cases = [
        (["--grades", "totals"], r"--grades totals needs two grades per call"),
        (["--grades", "battles"], r"--grades battles needs two grades per call"),
        (["--verdicts", "levels"], r"--verdicts levels reads graded pairwise verdicts"),
        (["--compat", "arena_hard"], r"--compat does not apply to single-answer grades"),
        (["--anchor", "model_0"], r"--anchor does not apply"),
        (["--se", "bootstrap"], r"--se bootstrap: the intervals .* cluster-robust"),
        (["--models", "model_0,modle_1"], r"--models: no model 'modle_1'"),
        (["--method", "cubic"], r"invalid choice: 'cubic'"),
        (["--out", str(tmp_path / "t.xlsx")], r"unknown suffix"),
    ]
    for flags, pattern in cases:
        one_line_error(["-q", "leaderboard", str(root), *flags], capsys, pattern)
    audit = ["-q", "audit", str(root), "--out", str(tmp_path / "a")]
    one_line_error([*audit, "--mediators", "markdown"], capsys, r"--mediators markdown")
    one_line_error([*audit, "--judges", "all"], capsys, r"--judges / --families")
    assert not (tmp_path / "a").exists()


def test_grade_flags_refused_on_other_data(tmp_path, capsys):
    votes = pd.DataFrame(
        {"prompt_id": ["p1", "p2"], "model_a": ["x", "y"], "model_b": ["y", "x"], "winner": "tie"}
    )
    path = tmp_path / "votes.csv"
    votes.to_csv(path, index=False)
    for flags, pattern in (
        (["--method", "ordinal"], r"--method applies to graded answers"),
        (["--grades", "totals"], r"--grades applies to graded answers"),
    ):
        one_line_error(["-q", "leaderboard", str(path), *flags], capsys, pattern)
    one_line_error(
        ["-q", "audit", str(path), "--method", "ordinal", "--out", str(tmp_path / "a")],
        capsys,
        r"--method applies to single-answer grades",
    )


def test_battle_matrix_equals_the_fit(tmp_path, capsys):
    from debias.battles.estimator import BradleyTerry
    from debias.simulate.arena import simulate_arena

    sim = simulate_arena(n_models=4, n_battles=3_000, seed=2)
    b = sim.battles
    table = pd.DataFrame(
        {
            "prompt_id": b["prompt"].astype(str) + "#" + b.index.astype(str),  # one call a row
            "model_a": b["model_a"].astype(str),
            "model_b": b["model_b"].astype(str),
            "winner": np.select(
                [b["outcome"] == 1, b["outcome"] == 0], ["model_a", "model_b"], "tie"
            ),
        }
    )
    path = tmp_path / "battles.csv"
    table.to_csv(path, index=False)
    pairs_file, square_file = tmp_path / "pairs.json", tmp_path / "square.csv"
    common = ["-q", "matrix", str(path), "--features", "none"]
    assert run([*common, "--form", "pairs", "--out", str(pairs_file)], capsys)[0] == 0
    assert run([*common, "--out", str(square_file)], capsys)[0] == 0
    battles = table.assign(
        prompt=table["prompt_id"].astype(str),
        outcome=table["winner"].map({"model_a": 1.0, "model_b": 0.0, "tie": 0.5}),
    )[["prompt", "model_a", "model_b", "outcome"]]
    res = BradleyTerry(features=()).fit(battles).results_
    want = res.pairs()
    got = pd.read_json(pairs_file)
    assert list(got["model"]) == list(want["model"])
    assert list(got["opponent"]) == list(want["opponent"])
    for col in ("estimate", "std_error", "conf_low", "conf_high"):
        close(got[col], want[col])
    assert (got["conf_high"] > got["conf_low"]).all()
    square = pd.read_csv(square_file, index_col=0)
    close(square.to_numpy(), res.matrix().to_numpy())
    close(square.to_numpy() + square.to_numpy().T, np.full(square.shape, 100.0))
    code, out, err = run([*common, "--form", "pairs"], capsys)
    assert code == 0 and "interval clustered by prompt" in out and "no style control" in out
    one_line_error([*common, "--compat", "arena_hard"], capsys, r"--compat arena_hard: the battle")
    one_line_error([*common, "--at", "length=0"], capsys, r"--at applies to AlpacaEval")


# ----------------------------------------------------------------------------- real data
ARENA_BENCH_MEANS = {  # judges README (nulls dropped)
    "gpt-4-1106-preview": 8.865,
    "gpt-4-0314": 8.549,
    "gpt-3.5-turbo": 6.759,
    "gpt-3.5-turbo-1106": 6.676,
    "mistralai/Mixtral-8x7B-Instruct-v0.1": 6.541,
    "claude-2.1": 6.438,
    "claude-1": 6.225,
    "claude-instant-1": 6.190,
    "Starling-LM-7B-alpha": 5.476,
    "openchat_3.5": 5.091,
    "vicuna-33b-v1.3": 4.400,
    "Llama-2-70b-chat": 4.351,
    "mistralai/Mistral-7B-Instruct-v0.1": 3.574,
    "palm-2-chat-bison-001": 3.252,
    "llama-13b": 1.483,
}


def test_arena_bench_means_and_controlled_grades(judges_dir, tmp_path, capsys):
    from debias.io.judges import read_judgments
    from debias.reports.grades import length_controlled_grades

    path = judges_dir / "arena_bench_v1"
    out_file = tmp_path / "t.csv"
    code, out, err = run(["-q", "leaderboard", str(path), "--out", str(out_file)], capsys)
    assert code == 0, err
    rows = table_rows(out)
    assert {m: float(rows[m]["mean_grade"]) for m in ARENA_BENCH_MEANS} == ARENA_BENCH_MEANS
    got = pd.read_csv(out_file).set_index("model")
    want = length_controlled_grades(read_judgments(path)).table.set_index("model")
    close(got.loc[want.index, "controlled_grade"], want["controlled_grade"])
    close(got.loc[want.index, "controlled_grade_ci_low"], want["controlled_grade_ci_low"])
    close(got.loc[want.index, "mean_grade_se"], want["mean_grade_se"])
    assert (got["controlled_grade_ci_high"] - got["controlled_grade_ci_low"] > 0.1).all()


VICUNA_TOTALS = {  # the Vicuna blog's Table 2: baseline / vicuna-13b (clean-lang run)
    "llama-13b": (513.0, 694.0),
    "alpaca-13b": (583.0, 704.0),
    "bard": (664.0, 655.5),
    "gpt-3.5-turbo": (693.0, 638.0),
}


def test_vicuna_totals_and_the_difference_at_equal_length(judges_dir, tmp_path, capsys):
    from debias.io.judges import read_judgments
    from debias.reports.grades import paired_grade_difference

    path = judges_dir / "vicuna80"
    out_file = tmp_path / "t.json"
    code, out, err = run(
        ["-q", "leaderboard", str(path), "--grades", "totals", "--out", str(out_file)], capsys
    )
    assert code == 0, err
    got = pd.read_json(out_file)
    clean = got[got["model_b"] == "vicuna-13b:20230322-clean-lang"].set_index("model_a")
    for baseline, totals in VICUNA_TOTALS.items():
        assert tuple(clean.loc[baseline, ["total_a", "total_b"]]) == totals
    want = paired_grade_difference(read_judgments(path))
    keys = ["model_a", "model_b"]
    both = got.merge(want, on=keys, suffixes=("", "_py"))
    assert len(both) == len(want) == 13
    close(both["controlled_difference"], both["controlled_difference_py"])
    close(both["controlled_difference_se"], both["controlled_difference_se_py"])
    close(both["difference_ci_low"], both["difference_ci_low_py"])
    row = clean.loc["gpt-3.5-turbo"]
    assert row["controlled_difference_ci_low"] < row["controlled_difference"]
    assert row["controlled_difference"] < row["controlled_difference_ci_high"]
    # the default stays the battle leaderboard, and says so
    code, out, err = run(["-q", "leaderboard", str(path), "--features", "none"], capsys)
    assert code == 0, err
    assert out.startswith("paired grades read as battles")
    assert "strength" in out and "total_a" not in out


def test_arena_hard_levels_convention_and_model(judges_dir, tmp_path, capsys):
    from debias.io.judges import read_judgments
    from debias.reports.graded_verdicts import arena_hard_levels, graded_verdicts

    path = judges_dir / "arena_hard_v0.1"
    out_file = tmp_path / "levels.csv"
    code, out, err = run(
        ["-q", "leaderboard", str(path), "--verdicts", "levels", "--out", str(out_file)], capsys
    )
    assert code == 0, err
    rows = table_rows(out)
    assert rows["gpt-4-0613"]["convention_score"] == "37.90"  # the published CSV
    assert rows["gpt-3.5-turbo-0125"]["convention_score"] == "23.34"
    got = pd.read_csv(out_file).set_index("model")
    levels = arena_hard_levels(read_judgments(path))
    want = graded_verdicts(levels, features=("tokens",)).table.set_index("model")
    for ours, theirs in (
        ("convention_score", "convention_score"),
        ("convention_score_ci_low", "convention_score_ci_low"),
        ("ordinal_score", "ordinal_score"),
        ("ordinal_score_ci_high", "ordinal_score_ci_high"),
        ("controlled_score", "controlled_score"),
        ("controlled_score_ci_low", "controlled_score_ci_low"),
        ("difference", "difference"),
        ("difference_ci_high", "difference_ci_high"),
    ):
        close(got.loc[want.index, ours], want[theirs])
    assert "strong verdict 3 times" in out and "style[tokens]" in out
    one_line_error(
        ["-q", "leaderboard", str(path), "--verdicts", "levels", "--method", "linear"],
        capsys,
        r"--method applies to single-answer grades",
    )
