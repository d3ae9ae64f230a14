"""``debias leaderboard`` / ``debias audit`` on battle data: routing, outputs, one-line errors.

The fitting itself is tested with the battle modules; here a stand-in leaderboard records
what the CLI hands it, so the reading and the flags are checked on their own. The
Arena-Hard check runs the real preset on $DEBIAS_JUDGES_DIR."""

from __future__ import annotations

import json
import re
import sys
import types

import pandas as pd
import pytest

from debias.cli import main


class StandInReport:
    def to_text(self) -> str:
        return "style coefficients (stand-in): length 0.25 [0.1, 0.4]"

    def coefficients_frame(self) -> pd.DataFrame:
        return pd.DataFrame(
            {"term": ["length"], "estimate": [0.25], "conf_low": [0.1], "conf_high": [0.4]}
        )


@pytest.fixture
def stand_in(monkeypatch):
    """debias.battles.leaderboard replaced by a recorder (the CLI imports it when it runs)."""
    calls = []

    def battle_leaderboard(
        battles,
        judgments=None,
        *,
        anchor=None,
        level=0.95,
        progress=False,
        cov_type="cluster",
        n_boot=200,
        seed=0,
        n_jobs=1,
        features=("length", "headers", "lists", "bold"),
    ):
        calls.append(
            dict(
                battles=battles,
                judgments=judgments,
                anchor=anchor,
                level=level,
                cov_type=cov_type,
                n_boot=n_boot,
                features=features,
            )
        )
        models = sorted(set(battles["model_a"]) | set(battles["model_b"]))
        table = pd.DataFrame({"model": models, "n": 1, "score": 50.0})
        return table, StandInReport()

    module = types.ModuleType("debias.battles.leaderboard")
    module.battle_leaderboard = battle_leaderboard
    monkeypatch.setitem(sys.modules, "debias.battles.leaderboard", module)
    return calls


def run(argv, capsys):
    code = main(argv)
    out, err = capsys.readouterr()
    return code, out, err


def write_jsonl(path, records):
    path.write_text("".join(json.dumps(r) + "\n" for r in records))
    return path


VOTES = pd.DataFrame(
    {
        "qid": ["p1", "p1", "p2", "p3", "p3"],
        "left": ["x", "y", "x", "z", "x"],
        "right": ["y", "x", "z", "y", "y"],
        "vote": ["model_a", "tie", "model_b", "tie (bothbad)", "model_b"],
    }
)
MAP = [
    "--map",
    "qid=prompt_id",
    "--map",
    "left=model_a",
    "--map",
    "right=model_b",
    "--map",
    "vote=winner",
]


def test_generic_table_with_map_reaches_the_fit(tmp_path, capsys, stand_in):
    f = tmp_path / "votes.csv"
    VOTES.to_csv(f, index=False)
    out, coef = tmp_path / "board.csv", tmp_path / "coef.json"
    code, stdout, err = run(
        ["leaderboard", str(f), *MAP, "--anchor", "x", "--out", str(out), "--coef-out", str(coef)],
        capsys,
    )
    assert code == 0, err
    (call,) = stand_in
    b = call["battles"]
    assert (
        b[["prompt", "model_a", "model_b"]].values.tolist()
        == VOTES[["qid", "left", "right"]].values.tolist()
    )
    assert b["outcome"].tolist() == [1.0, 0.5, 0.0, 0.5, 0.0]
    assert call["anchor"] == "x" and call["cov_type"] == "cluster"
    assert pd.read_csv(out)["model"].tolist() == ["x", "y", "z"]
    assert json.loads(coef.read_text())[0]["term"] == "length"
    assert "style coefficients (stand-in)" in stdout
    # stage messages on stderr, as plain lines (stderr is not a terminal here)
    assert "reading" in err and "read 5 battles of 3 models on 3 prompts" in err
    assert "\r" not in err


def test_models_exclude_and_bootstrap_flags(tmp_path, capsys, stand_in):
    f = tmp_path / "votes.csv"
    VOTES.to_csv(f, index=False)
    code, _, err = run(
        [
            "leaderboard",
            str(f),
            *MAP,
            "--exclude",
            "z",
            "--se",
            "bootstrap",
            "--n-boot",
            "50",
            "--judge",
            "human",
        ],
        capsys,
    )
    assert code == 0, err
    (call,) = stand_in
    assert set(call["battles"]["model_a"]) | set(call["battles"]["model_b"]) == {"x", "y"}
    assert call["cov_type"] == "bootstrap" and call["n_boot"] == 50
    assert call["judgments"].judges == ["human"]  # --judge names the judge the file omits
    assert call["features"] == ("length", "headers", "lists", "bold")  # the default
    assert "bootstrap: 50 replicates over prompts" in err
    code, _, err = run(["leaderboard", str(f), *MAP, "--features", "length,bold"], capsys)
    assert code == 0, err
    assert stand_in[-1]["features"] == ("length", "bold")
    assert run(["leaderboard", str(f), *MAP, "--features", "none"], capsys)[0] == 0
    assert stand_in[-1]["features"] == ()


def one_line_error(argv, capsys, pattern):
    code, out, err = run(argv, capsys)
    lines = [line for line in err.splitlines() if "error" in line]
    assert code == 2, err
    assert len(lines) == 1 and re.search(pattern, lines[0]), err
    assert "Traceback" not in err


def test_hostile_battle_inputs_are_one_line(tmp_path, capsys, stand_in):
    rows = [{"question_id": "q", "model_a": "a", "model_b": "b", "winner": "model_a"}] * 2
    f = write_jsonl(tmp_path / "arena_hard_battles.jsonl", rows)
    f.write_text(f.read_text() + "{oops\n")
    one_line_error(["leaderboard", str(f)], capsys, rf"{f}:3: not valid JSON")
    g = write_jsonl(tmp_path / "b2.jsonl", [{**rows[0], "winner": "model_c"}, rows[0]])
    one_line_error(["leaderboard", str(g)], capsys, rf"{g}:1: winner 'model_c'")
    h = tmp_path / "votes.csv"
    VOTES.drop(columns="vote").to_csv(h, index=False)
    one_line_error(
        ["leaderboard", str(h), "--format", "battle_table", *MAP[:6]],
        capsys,
        r"missing column\(s\) \['winner \(or outcome\)'\]",
    )
    empty = tmp_path / "empty"
    empty.mkdir()
    (empty / "readme.txt").write_text("nothing")
    one_line_error(
        ["leaderboard", str(empty), "--compat", "arena_hard"],
        capsys,
        r"cannot tell which judge layout.*pass --format",
    )
    one_line_error(
        ["leaderboard", str(empty), "--format", "arena_hard_judgment"],
        capsys,
        r"The --format option must be one of",
    )
    (tmp_path / "ok").mkdir()
    ok = write_jsonl(tmp_path / "ok" / "arena_hard_battles.jsonl", rows)
    one_line_error(  # battle formulas are read as data (debias.battles.formula), never run
        ["leaderboard", str(ok), "--formula", "length + __import__('os')"],
        capsys,
        r"'__import__' is not a transform",
    )
    one_line_error(
        ["leaderboard", str(ok), "--compat", "alpaca_eval"],
        capsys,
        r"--compat alpaca_eval reproduces AlpacaEval",
    )
    one_line_error(["leaderboard", str(ok), "--se", "sem"], capsys, r"--se sem")
    one_line_error(["leaderboard", str(ok), "--models", "a,zz"], capsys, r"--models: no model 'zz'")
    one_line_error(
        ["leaderboard", str(ok), "--coef-out", str(tmp_path / "c.xlsx")],
        capsys,
        r"--coef-out .*unknown suffix",
    )
    assert not stand_in  # nothing was fitted


def test_arena_hard_compat_reproduces_published_scores(judges_dir, capsys):
    pytest.importorskip("debias.battles.presets")
    pytest.importorskip("sklearn")
    code, out, err = run(
        ["leaderboard", str(judges_dir / "arena_hard_v0.1"), "--compat", "arena_hard"], capsys
    )
    assert code == 0, err
    rows = {}
    for line in out.splitlines():
        cells = [c.strip() for c in line.strip("|").split("|")]
        if cells and cells[0] in ("gpt-4-0613", "gpt-3.5-turbo-0125"):
            header = [c.strip() for c in out.splitlines()[1].strip("|").split("|")]
            rows[cells[0]] = dict(zip(header, cells, strict=True))
    assert rows["gpt-4-0613"]["score"] == "37.90"
    assert rows["gpt-3.5-turbo-0125"]["score"] == "23.34"
    for row in rows.values():
        half = (float(row["score_ci_high"]) - float(row["score_ci_low"])) / 2
        assert 1.5 <= half <= 3, row


def table_rows(out: str) -> dict:
    lines = [line for line in out.splitlines() if line.startswith("|")]
    header = [c.strip() for c in lines[0].strip("|").split("|")]
    rows = [
        dict(zip(header, [c.strip() for c in x.strip("|").split("|")], strict=True))
        for x in lines[2:]
    ]
    return {r["model"]: r for r in rows}


def test_arena_hard_default_leaderboard_and_coefficients(judges_dir, tmp_path, capsys):
    pytest.importorskip("debias.battles.leaderboard")
    coef = tmp_path / "coef.csv"
    code, out, err = run(
        ["leaderboard", str(judges_dir / "arena_hard_v0.1"), "--coef-out", str(coef)], capsys
    )
    assert code == 0, err
    rows = table_rows(out)
    # one baseline: the BT score against it is the weighted win rate, the published number
    assert rows["gpt-4-0613"]["score"] == "37.90"
    assert rows["gpt-3.5-turbo-0125"]["score"] == "23.34"
    for model in ("gpt-4-0613", "gpt-3.5-turbo-0125"):  # both answer shorter: both rise
        assert float(rows[model]["controlled_score"]) > float(rows[model]["score"])
    # Arena's features; its answers store token counts, so the length is in tokens
    assert pd.read_csv(coef)["term"].tolist() == ["tokens", "headers", "lists", "bold"]


def test_single_answer_grades_refuse_battle_presets(judges_dir, capsys):
    # single grades have their own leaderboard (tests/test_cli_grades.py); a battle preset
    # does not apply to them
    one_line_error(
        ["leaderboard", str(judges_dir / "arena_bench_v1"), "--compat", "arena_hard"],
        capsys,
        r"--compat does not apply to single-answer grades",
    )


def test_verdict_parsing_options_reach_the_reader(judges_dir, tmp_path, capsys):
    """--verdict-match last parses PBA's texts by their last verdict (the pair rule then gives
    81.50% for gpt-4-0613, the data README's number); on a layout that stores its verdicts
    the option is refused in one line."""
    import json

    from debias.io import read_judgments
    from debias.reports.position import consistency

    pba = judges_dir / "mt_bench_position"
    last = read_judgments(pba, match="last").select(judge="gpt-4-0613")
    assert round(float(consistency(last.battles())["estimate"].iloc[0]), 2) == 81.50
    out = tmp_path / "a"
    args = ["audit", str(pba), "--verdict-match", "last", "--judges", "gpt-4-0613"]
    assert main([*args, "--out", str(out), "--quiet"]) == 0
    block = json.loads((out / "audit.json").read_text())["judges"]["gpt-4-0613"]
    assert round(block["position"]["consistency"], 2) == 81.50
    ah = str(judges_dir / "arena_hard_v0.1")
    assert main(["leaderboard", ah, "--verdict-match", "last"]) == 2
    assert "stores its verdicts" in capsys.readouterr().err
