"""Battle readers (debias.io.judges): Arena-Hard battles and judgments, FastChat answers,
generic battle tables, format detection. Real-data checks read $DEBIAS_JUDGES_DIR and
compare with the numbers its README publishes (counted here from the raw rows)."""

from __future__ import annotations

import gzip
import json
import os
import re
import warnings
from collections import Counter

import numpy as np
import pandas as pd
import pytest

from debias.errors import DataWarning, InputError, ParameterError
from debias.io.judges import (
    FORMATS,
    arena_hard_games,
    detect_format,
    read_arena_hard_battles,
    read_arena_hard_judgments,
    read_battle_table,
    read_judgments,
    read_model_answers,
    read_questions,
)
from debias.judgments import Judgments, Scale


def write_jsonl(path, records):
    path.write_text("".join(json.dumps(r) + "\n" for r in records))
    return path


def battle_rows(blocks, model="m", base="base"):
    return [
        {"question_id": q, "model_a": base, "model_b": model, "winner": w}
        for q, winners in blocks
        for w in winners
    ]


# --------------------------------------------------------------------------- Arena-Hard battles
def test_blocks_become_games_with_weights_and_positions(tmp_path):
    a, b, t = "model_a", "model_b", "tie"
    blocks = [
        ("q1", [a, b]),  # 1 + 1
        ("q2", [b] * 6),  # 3 + 3
        ("q3", [a, a, a, t]),  # 3 + 1
        ("q4", [t, b, b, b]),  # 1 + 3
        ("q5", [b] * 4),  # 1+3 or 3+1: weight 2 + 2
        ("q6", [a] * 3),  # one game, order unknown
    ]
    f = write_jsonl(tmp_path / "arena_hard_battles.jsonl", battle_rows(blocks))
    games = arena_hard_games(f)
    got = list(games[["question_id", "game", "winner", "weight", "shown_first"]].itertuples(False))
    assert [tuple(g) for g in got] == [
        ("q1", 1, a, 1, "a"),
        ("q1", 2, b, 1, "b"),
        ("q2", 1, b, 3, "a"),
        ("q2", 2, b, 3, "b"),
        ("q3", 1, a, 3, "a"),
        ("q3", 2, t, 1, "b"),
        ("q4", 1, t, 1, "a"),
        ("q4", 2, b, 3, "b"),
        ("q5", 1, b, 2, "a"),
        ("q5", 2, b, 2, "b"),
        ("q6", 0, a, 3, "unknown"),
    ]
    assert games["ambiguous"].tolist() == [False] * 8 + [True, True, False]
    battles = read_arena_hard_battles(f).battles()
    # every row of the file counted once: the weighted outcome equals the raw row count
    raw = Counter(w for _, ws in blocks for w in ws)
    assert battles["weight"].sum() == sum(raw.values())
    wins_a = (battles["outcome"] * battles["weight"]).sum()
    assert wins_a == raw[a] + 0.5 * raw[t]


@pytest.mark.parametrize(
    "blocks, line, what",
    [
        ([("q1", ["model_a"] * 5)], 1, "not 1 or 2 games"),
        ([("q1", ["tie"] * 3)], 1, "not 1 or 2 games"),
        ([("q1", ["model_a", "model_b", "tie"])], 1, "not 1 or 2 games"),
        ([("q1", ["model_a"]), ("q2", ["tie", "tie"]), ("q1", ["tie"])], 4, "again"),
    ],
)
def test_impossible_blocks_are_named(tmp_path, blocks, line, what):
    f = write_jsonl(tmp_path / "b.jsonl", battle_rows(blocks))
    with pytest.raises(InputError, match=rf"{f}:{line}: .*{what}"):
        arena_hard_games(f)


def test_bad_lines_all_counted_first_named(tmp_path):
    rows = [json.dumps(r) for r in battle_rows([("q1", ["model_a", "tie"])])]
    lines = [rows[0], "{not json", rows[1], "[1, 2]", "", '{"question_id": "q9"}']
    f = tmp_path / "b.jsonl"
    f.write_text("\n".join(lines) + "\n")
    with pytest.raises(InputError) as err:
        read_arena_hard_battles(f)
    msg = str(err.value)
    assert "\n" not in msg
    assert f"{f}: 2 bad line(s): {f}:2: not valid JSON" in msg
    assert f"{f}:4: a JSON list, not an object" in msg
    f.write_text("\n".join(lines[:1] + lines[2:3] + lines[5:]) + "\n")
    with pytest.raises(InputError, match=rf"{f}:3: no field 'model_a', 'model_b', 'winner'"):
        read_arena_hard_battles(f)


def test_unknown_winner_label_named(tmp_path):
    rows = battle_rows([("q1", ["model_a", "model_c"])])
    f = write_jsonl(tmp_path / "b.jsonl", rows)
    with pytest.raises(InputError, match=rf"{f}:2: winner 'model_c' is not model_a"):
        read_arena_hard_battles(f)


def test_answers_and_prompts_joined_with_tokens(tmp_path):
    write_jsonl(tmp_path / "arena_hard_battles.jsonl", battle_rows([("q1", ["model_b"] * 2)]))
    write_jsonl(tmp_path / "question.jsonl", [{"question_id": "q1", "turns": [{"content": "Hi"}]}])
    (tmp_path / "model_answer").mkdir()
    for model, text, n in (("base", "Hello there", 2), ("m", "Hey", 1)):
        rec = {"question_id": "q1", "choices": [{"turns": [{"content": text, "token_len": n}]}]}
        data = (json.dumps(rec) + "\n").encode()
        (tmp_path / "model_answer" / f"{model}.jsonl.gz").write_bytes(gzip.compress(data))
    j = read_judgments(tmp_path)
    assert j.to_frame(["prompt", "answer_a", "answer_b"]).iloc[0].tolist() == [
        "Hi",
        "Hello there",
        "Hey",
    ]
    assert dict(zip(j.answers["model"], j.answers["tokens"], strict=True)) == {"base": 2, "m": 1}
    assert j.column("tokens_b").tolist() == [1.0, 1.0]


def test_arena_hard_readme_facts(judges_dir):
    folder = judges_dir / "arena_hard_v0.1"
    raw = [json.loads(x) for x in (folder / "arena_hard_battles.jsonl").read_text().splitlines()]
    j = read_judgments(folder)
    assert len(j) == 2000 and sorted(j.models) == ["gpt-3.5-turbo-0125", "gpt-4-0314", "gpt-4-0613"]
    b = j.battles()
    # the published score = the weighted win rate over the raw rows (counted here from the file)
    for model, published in (("gpt-4-0613", 37.90), ("gpt-3.5-turbo-0125", 23.34)):
        rows = [r["winner"] for r in raw if r["model_b"] == model]
        counted = 100 * (rows.count("model_b") + 0.5 * rows.count("tie")) / len(rows)
        mine = b[b["model_b"] == model]
        score = 100 * ((1 - mine["outcome"]) * mine["weight"]).sum() / mine["weight"].sum()
        assert round(counted, 2) == published
        assert score == pytest.approx(counted, abs=1e-9)
    games = arena_hard_games(folder / "arena_hard_battles.jsonl")
    blocks = games[games["ambiguous"]].groupby("model_b")["question_id"].nunique()
    assert blocks.to_dict() == {"gpt-4-0613": 55, "gpt-3.5-turbo-0125": 67}
    # position facts: the winner's shown position from shown_first and the outcome
    b["win_pos"] = np.where(
        b["outcome"] == 0.5,
        "tie",
        np.where((b["outcome"] == 1) == (b["shown_first"] == "a"), "A", "B"),
    )
    wide = b.pivot_table(
        index=["model_b", "prompt"],
        columns="shown_first",
        values=["outcome", "win_pos"],
        aggfunc="first",
        observed=True,
    )
    facts = {}
    for model in ("gpt-4-0613", "gpt-3.5-turbo-0125"):
        w = wide.loc[model]
        same = (w[("outcome", "a")] == w[("outcome", "b")]).sum()
        pos_a = ((w[("win_pos", "a")] == "A") & (w[("win_pos", "b")] == "A")).sum()
        pos_b = ((w[("win_pos", "a")] == "B") & (w[("win_pos", "b")] == "B")).sum()
        one_tie = ((w[("win_pos", "a")] == "tie") != (w[("win_pos", "b")] == "tie")).sum()
        facts[model] = (len(w), same, pos_a, pos_b, one_tie)
    assert facts == {
        "gpt-4-0613": (500, 329, 49, 29, 93),
        "gpt-3.5-turbo-0125": (500, 368, 38, 24, 70),
    }
    tokens = j.answers.groupby("model")["tokens"].mean().astype(int).to_dict()
    assert tokens == {"gpt-4-0314": 423, "gpt-4-0613": 354, "gpt-3.5-turbo-0125": 329}
    assert j.prompts["text"].str.len().min() > 0


# --------------------------------------------------------------------------- Arena-Hard judgments
def judgment(q, model, s1, s2, judge="gpt-4-1106-preview"):
    games = [{"user_prompt": "...", "judgment": "text", "score": s} for s in (s1, s2)]
    return {"question_id": q, "model": model, "judge": judge, "games": games}


def test_judgment_layout_mirrors_game_two(tmp_path):
    d = tmp_path / "model_judgment" / "gpt-4-1106-preview"
    d.mkdir(parents=True)
    write_jsonl(
        d / "m.jsonl", [judgment("q1", "m", "A>>B", "A>B"), judgment("q2", "m", None, "A=B")]
    )
    j = read_arena_hard_judgments(tmp_path / "model_judgment", baseline="base")
    assert j.scale == Scale.arena_hard()
    frame = j.to_frame(["prompt_id", "model_a", "model_b", "shown_first", "verdict", "judge"])
    assert frame.astype(object).fillna("nan").values.tolist() == [
        ["q1", "base", "m", "a", "A>>B", "gpt-4-1106-preview"],
        ["q1", "base", "m", "b", "B>A", "gpt-4-1106-preview"],  # game 2: "A" was the model
        ["q2", "base", "m", "a", "nan", "gpt-4-1106-preview"],
        ["q2", "base", "m", "b", "A=B", "gpt-4-1106-preview"],
    ]
    b = j.battles()
    assert b["outcome"].tolist()[:2] == [1.0, 0.0] and b["weight"].tolist()[:2] == [3.0, 1.0]
    assert np.isnan(b["outcome"].iloc[2])
    assert detect_format(tmp_path) == "arena_hard_judgments"


def test_judgment_layout_errors_and_baseline_warning(tmp_path):
    f = write_jsonl(
        tmp_path / "m.jsonl",
        [
            judgment("q1", "m", "A>B", "A>B"),
            judgment("q2", "m", "A>>>B", "B>A"),
            {"model": "m"},
            {"question_id": "q4", "model": "m", "games": [{"judgment": "no score key"}]},
        ],
    )
    with pytest.raises(InputError) as err:
        read_arena_hard_judgments(f, baseline="base")
    assert f"{f}: 3 bad line(s): {f}:2: game 1 score 'A>>>B'" in str(err.value)
    assert f"{f}:3: needs question_id" in str(err.value)
    g = write_jsonl(tmp_path / "n.jsonl", [judgment("q1", "n", "A>B", "B>A")])
    with pytest.warns(DataWarning, match="assuming 'gpt-4-0314'"):
        j = read_arena_hard_judgments(g)
    assert j.models == ["gpt-4-0314", "n"]


# --------------------------------------------------------------------------- FastChat answers
def test_questions_and_answers_layouts(tmp_path):
    q = write_jsonl(
        tmp_path / "question.jsonl",
        [{"question_id": 81, "turns": ["One?", "Two?"]}, {"question_id": 82, "text": "Vicuna?"}],
    )
    assert read_questions(q).values.tolist() == [
        ["81", 1, "One?"],
        ["81", 2, "Two?"],
        ["82", 1, "Vicuna?"],
    ]
    d = tmp_path / "model_answer"
    d.mkdir()
    write_jsonl(d / "x.jsonl", [{"question_id": 81, "choices": [{"turns": ["a1", "a2"]}]}])
    answers = read_model_answers(d)
    assert answers[["model", "prompt_id", "turn", "text"]].values.tolist() == [
        ["x", "81", 1, "a1"],
        ["x", "81", 2, "a2"],
    ]
    assert answers["tokens"].isna().all()
    write_jsonl(d / "y.jsonl", [{"question_id": 81, "choices": []}, {"question_id": 81}])
    with pytest.raises(InputError, match=rf"{d / 'y.jsonl'}: 2 bad line\(s\): .*y.jsonl:1: needs"):
        read_model_answers(d)


# --------------------------------------------------------------------------- generic tables
def test_generic_table_with_mapping_round_trip(tmp_path):
    truth = pd.DataFrame(
        {
            "prompt_id": ["p1", "p1", "p2", "p3"],
            "model_a": ["x", "y", "x", "z"],
            "model_b": ["y", "x", "z", "y"],
            "winner": ["model_a", "tie", "model_b", "tie (bothbad)"],
            "judge": "j",
        }
    )
    expected = Judgments.from_dataframe(
        truth.assign(verdict=[1.0, 0.5, 0.0, 0.5]).drop(columns="winner")
    ).battles()
    names = {"prompt_id": "qid", "model_a": "left", "model_b": "right", "winner": "vote"}
    theirs = truth.rename(columns=names)
    mapping = {v: k for k, v in names.items()}
    for suffix in (".csv", ".tsv.gz", ".jsonl", ".parquet"):
        f = tmp_path / f"votes{suffix}"
        if suffix == ".parquet":
            theirs.to_parquet(f)
        elif suffix == ".jsonl":
            write_jsonl(f, theirs.to_dict("records"))
        else:
            theirs.to_csv(f, sep="\t" if ".tsv" in suffix else ",", index=False)
        assert detect_format(f) is None and detect_format(f, mapping) == "battle_table"
        got = read_judgments(f, mapping=mapping).battles()
        pd.testing.assert_frame_equal(got, expected)
        # either direction of the mapping reads the same
        pd.testing.assert_frame_equal(read_battle_table(f, names).battles(), expected)


def test_generic_table_errors_are_one_line(tmp_path):
    f = tmp_path / "votes.csv"
    f.write_text("prompt_id,model_a,model_b\np,x,y\n")
    with pytest.raises(InputError, match=r"missing column\(s\) \['winner \(or outcome\)'\]"):
        read_battle_table(f)
    f.write_text("prompt_id,model_a,model_b,winner\np,x,y,model_a\nq,x,y,draw\n")
    with pytest.raises(InputError, match=r"winner 'draw' at line\(s\) 3 is not one of"):
        read_battle_table(f)
    with pytest.raises(InputError, match=r"no column 'vote'"):
        read_battle_table(f, {"vote": "winner"})
    with pytest.raises(ParameterError, match="mapping= renames the columns of a battle table"):
        read_judgments(
            write_jsonl(tmp_path / "b.jsonl", battle_rows([("q", ["tie"])])),
            mapping={"a": "winner"},
            format="arena_hard_battles",
        )


# --------------------------------------------------------------------------- detection
def test_detection_and_forced_format(tmp_path):
    f = write_jsonl(tmp_path / "arena_hard_battles.jsonl", battle_rows([("q", ["tie", "tie"])]))
    assert detect_format(f) == detect_format(tmp_path) == "arena_hard_battles"
    # forced as a generic table, the repeated rows of one game are refused (one call each)
    with pytest.raises(InputError, match="2 rows repeat the same judge call"):
        read_judgments(f, format="battle_table")
    with pytest.raises(ParameterError, match=r"must be one of \['arena_hard_battles'"):
        read_judgments(f, format="chatbot")
    empty = tmp_path / "nothing"
    empty.mkdir()
    (empty / "notes.txt").write_text("hello")
    with pytest.raises(InputError) as err:
        read_judgments(empty)
    msg = str(err.value)
    assert "\n" not in msg and "cannot tell which judge layout" in msg
    assert all(name in msg for name in FORMATS)
    with pytest.raises(InputError, match="not found"):
        read_judgments(tmp_path / "missing.jsonl")


def test_tokens_column_is_checked():
    df = pd.DataFrame(
        {
            "prompt": ["q"],
            "model_a": ["x"],
            "model_b": ["y"],
            "verdict": [1.0],
            "tokens_a": [12],
            "tokens_b": ["many"],
        }
    )
    with pytest.raises(InputError, match="'tokens_b' is not a non-negative number"):
        Judgments.from_dataframe(df)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DataWarning)
        j = Judgments.from_dataframe(df.assign(tokens_b=[3]))
    assert j.answers["tokens"].tolist() == [12.0, 3.0]
    assert (
        "tokens" not in Judgments.from_dataframe(df.drop(columns=["tokens_a", "tokens_b"])).answers
    )


def test_a_fifo_is_refused_without_hanging(tmp_path):
    fifo = tmp_path / "battles.jsonl"
    os.mkfifo(fifo)
    assert detect_format(fifo) is None and detect_format(tmp_path) is None
    for name in FORMATS:
        with pytest.raises(InputError, match=re.escape(str(fifo))) as err:
            read_judgments(fifo, format=name, baseline="b")
        assert "\n" not in str(err.value)
        if name in ("arena_hard_battles", "arena_hard_judgments", "battle_table"):
            assert "named pipe (FIFO)" in str(err.value)
