"""Readers of MT-Bench pairs (PBA, FastChat), single grades (FastChat, Arena-Bench) and the
Vicuna-80 reviews (debias.io.judges.mt_bench / arena_bench / vicuna).

Published numbers come from ../shared/judges (its README), read in place through the
judges_dir fixture (skipped with a reason when $DEBIAS_JUDGES_DIR is not set); the
layouts' edge cases use small hand-written files in tmp_path.
"""

from __future__ import annotations

import gzip
import json
import re
import time
import warnings

import numpy as np
import pandas as pd
import pytest

from debias.errors import DataWarning, InputError, ParameterError
from debias.io.judges import detect_format, read_judgments
from debias.io.judges.arena_bench import read_single_grades
from debias.io.judges.mt_bench import read_fastchat_pair, read_pba
from debias.io.judges.vicuna import model_names, read_vicuna_reviews
from debias.judgments import Scale


def quiet(func, *args, **kwargs):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DataWarning)
        return func(*args, **kwargs)


def write_jsonl(path, records, gz=False):
    path.parent.mkdir(parents=True, exist_ok=True)
    text = "".join(json.dumps(r) + "\n" for r in records)
    if gz:
        path.write_bytes(gzip.compress(text.encode()))
    else:
        path.write_text(text)
    return path


# =============================================================== real data: MT-Bench (PBA)
@pytest.fixture(scope="module")
def pba(judges_dir):
    return quiet(read_pba, judges_dir / "mt_bench_position")


def test_pba_shape_order_and_unparsed(pba):
    assert len(pba) == 9600 and sorted(pba.judges) == ["gpt-3.5-turbo-1106", "gpt-4-0613"]
    b = pba.battles()
    assert set(b["shown_first"]) == {"a"} and set(b["turn"]) == {2}
    missing = b.groupby("judge")["outcome"].apply(lambda s: int(s.isna().sum()))
    assert missing.to_dict() == {"gpt-3.5-turbo-1106": 19, "gpt-4-0613": 0}
    assert len(pba.models) == 31 and len(pba.answers) == 31 * 80


def test_pba_unparsed_are_warned_not_dropped(judges_dir):
    path = judges_dir / "mt_bench_position" / "judgments" / "gpt-3.5-turbo-1106.jsonl.gz"
    with pytest.warns(DataWarning, match="4800 texts, 19 without a pair verdict"):
        j = read_pba(path)
    assert len(j) == 4800 and j.n_missing == 19


def test_pba_verdicts_match_an_independent_first_match_parse(judges_dir, pba):
    b = pba.battles()
    for judge in pba.judges:
        raw = pd.read_json(
            judges_dir / "mt_bench_position" / "judgments" / f"{judge}.jsonl.gz", lines=True
        )
        first = raw["judgment"].map(lambda t: (re.findall(r"\[\[([ABCD])\]\]", t) or [None])[0])
        want = first.map({"A": 1.0, "B": 0.0, "C": 0.5}).to_numpy()
        got = b.loc[b["judge"] == judge, "outcome"].to_numpy()
        np.testing.assert_array_equal(got, want)
        assert (b.loc[b["judge"] == judge, "model_a"].to_numpy() == raw["model_a"]).all()


@pytest.mark.parametrize(
    "judge, consistent, with_verdict",
    [("gpt-4-0613", 3914, 4800), ("gpt-3.5-turbo-1106", 3327, 4781)],
)
def test_pba_reader_gives_the_published_consistency(pba, judge, consistent, with_verdict):
    """PBA's per-call rule, counted here by hand on the reader's rows: a call is consistent
    when its mirror gives the mirrored verdict or has none; rate over calls with a verdict."""
    b = pba.battles()
    b = b[b["judge"] == judge]
    mirror = b.merge(
        b, left_on=["prompt", "model_a", "model_b"], right_on=["prompt", "model_b", "model_a"]
    )
    assert len(mirror) == len(b)
    has = mirror["outcome_x"].notna()
    agree = (mirror["outcome_x"] == 1 - mirror["outcome_y"]) | mirror["outcome_y"].isna()
    assert (int((has & agree).sum()), int(has.sum())) == (consistent, with_verdict)


def test_pba_answers_are_the_judged_second_turn(judges_dir, pba):
    rec = json.loads(
        (judges_dir / "mt_bench_position" / "model_answer" / "gpt-4.jsonl")
        .read_text()
        .splitlines()[0]
    )
    frame = pba.select(judge="gpt-4-0613").to_frame()
    row = frame[(frame["model_a"] == "gpt-4") & (frame["prompt_id"] == str(rec["question_id"]))]
    assert row["answer_a"].iloc[0] == rec["choices"][0]["turns"][1].strip()
    question = json.loads(
        (judges_dir / "mt_bench_position" / "question.jsonl").read_text().splitlines()[0]
    )
    assert row["prompt"].iloc[0] == question["turns"][1]
    assert row["dataset"].iloc[0] == question["category"]


def test_formats_detected(judges_dir):
    assert detect_format(judges_dir / "mt_bench_position") == "mt_bench_pba"
    assert detect_format(judges_dir / "vicuna80") == "vicuna_reviews"
    assert detect_format(judges_dir / "vicuna80" / "review" / "others") == "vicuna_reviews"
    assert detect_format(judges_dir / "arena_bench_v1") == "single_grades"
    assert detect_format(judges_dir / "arena_hard_v0.1") == "arena_hard_battles"


# =================================================================== real data: Vicuna-80
@pytest.fixture(scope="module")
def vicuna(judges_dir):
    return quiet(
        read_vicuna_reviews, judges_dir / "vicuna80" / "review" / "vicuna-13b_20230322-clean-lang"
    )


def test_vicuna_blog_table_2_totals(vicuna):
    """Vicuna blog, Table 2: total scores over 80 questions, baseline / Vicuna."""
    f = vicuna.to_frame()
    assert set(f["model_b"]) == {"vicuna-13b"} and set(f["shown_first"]) == {"a"}
    totals = f.groupby("model_a")[["verdict", "verdict_b"]].sum()
    assert totals.loc["llama-13b"].tolist() == [513.0, 694.0]
    assert totals.loc["alpaca-13b"].tolist() == [583.0, 704.0]
    assert totals.loc["bard"].tolist() == [664.0, 655.5]
    assert totals.loc["gpt-3.5-turbo"].tolist() == [693.0, 638.0]
    assert round(638.0 / 693.0 * 100) == 92


def test_vicuna_blog_question_counts(vicuna):
    f = vicuna.to_frame()
    at_least = f["verdict_b"] >= f["verdict"]
    strictly = f["verdict_b"] > f["verdict"]
    by_base = pd.DataFrame({"base": f["model_a"], "ge": at_least, "gt": strictly})
    counts = by_base.groupby("base")[["ge", "gt"]].sum()
    assert counts.loc["gpt-3.5-turbo", "ge"] == 36  # 45% of questions
    assert counts.loc["llama-13b"].tolist() == [77, 77]
    assert counts.loc["alpaca-13b"].tolist() == [77, 76]
    # battles(): Assistant 1's win/tie/loss from the two grades
    b = vicuna.battles()
    assert int((b.loc[b["model_a"] == "alpaca-13b", "outcome"] == 0).sum()) == 76


def test_vicuna_zeros_kept_with_warning_or_refused(judges_dir):
    folder = judges_dir / "vicuna80"
    with pytest.warns(DataWarning, match=r"4 grade\(s\) outside the 1–10"):
        j = read_vicuna_reviews(folder)
    assert j.scale.low == 0.0 and j.scale.high == 10.0 and len(j) == 13 * 80
    assert int((j.scores()["grade"] == 0).sum()) == 4
    with pytest.raises(InputError, match=r"out of range \[1, 10\]"):
        read_vicuna_reviews(folder, scale=Scale.grade(1, 10))


def test_vicuna_reviewer_ids_and_model_names(judges_dir):
    j = quiet(read_vicuna_reviews, judges_dir / "vicuna80")
    # string ids (clean-lang, "-generic" = reviewer.jsonl's "-default") and integer prompt ids
    assert j.judges == ["gpt-4-0328"]
    assert "vicuna-13b:20230322-clean-lang" in j.models  # two vicuna-13b runs read: full ids
    assert "vicuna-13b:20230322-new-hp-fp16" in j.models and "vicuna-7b" in j.models
    assert set(j.to_frame()["dataset"]) >= {"generic", "coding", "math", "fermi"}


# ============================================================== real data: Arena-Bench v1
ARENA_BENCH_MEANS = {  # ../shared/judges README (nulls dropped)
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


def test_arena_bench_mean_grades(judges_dir):
    with pytest.warns(DataWarning, match="39 of 4500 answers have no rating"):
        j = read_single_grades(judges_dir / "arena_bench_v1")
    assert j.judges == ["gpt-4"]  # judge_model of arena-bench-v1_config.yaml
    assert j.scale.low == 1.0 and j.scale.high == 10.0
    means = j.scores().groupby("model")["grade"].mean().round(3)
    assert means.to_dict() == pytest.approx(ARENA_BENCH_MEANS, abs=5e-4)
    assert len(j) == 4500 and j.n_missing == 39  # nulls kept as NaN, left out of the means
    per_model = j.to_frame().groupby("model_a")["verdict"].apply(lambda s: s.isna().sum())
    assert per_model.between(0, 6).all()


def test_arena_bench_answers_joined_despite_org_prefix(judges_dir):
    j = quiet(read_single_grades, judges_dir / "arena_bench_v1")
    f = j.to_frame()
    assert j.n_missing_outputs == 0  # every graded answer found, the mistralai/ ones too
    empty = f.loc[f["answer_a"] == "", "model_a"].value_counts().to_dict()
    assert empty == {"llama-13b": 26, "mistralai/Mixtral-8x7B-Instruct-v0.1": 1}  # as in source
    assert (f["prompt"] != "").all() and set(f["dataset"]) == {"arena-bench-v1"}


# ======================================================== hand-written: FastChat pairs
def pair_folder(tmp_path, records):
    root = tmp_path / "mt_bench"
    write_jsonl(
        root / "question.jsonl",
        [{"question_id": 81, "category": "writing", "turns": ["Q1?", "Q2?"]}],
    )
    for model, answers in {"x": ["x1", "x2"], "y": ["y1", "y2"]}.items():
        write_jsonl(
            root / "model_answer" / f"{model}.jsonl",
            [{"question_id": 81, "model_id": model, "choices": [{"index": 0, "turns": answers}]}],
        )
    return write_jsonl(root / "model_judgment" / "gpt-4_pair.jsonl", records)


def test_fastchat_pair_games_orders_and_turns(tmp_path):
    path = pair_folder(
        tmp_path,
        [
            {
                "question_id": 81,
                "model_1": "x",
                "model_2": "y",
                "g1_winner": "model_1",
                "g2_winner": "model_1",
                "judge": ["gpt-4", "pair-v2"],
                "turn": 1,
            },
            {
                "question_id": 81,
                "model_1": "x",
                "model_2": "y",
                "g1_winner": "tie",
                "g2_winner": "model_2",
                "judge": ["gpt-4", "pair-v2-multi-turn"],
                "turn": 2,
            },
        ],
    )
    j = read_fastchat_pair(path.parent.parent)
    f = j.to_frame()
    # game 1 shows model_1 first, game 2 model_2 first
    assert f["model_a"].tolist() == ["x", "y", "x", "y"]
    assert f["verdict"].astype(str).tolist() == ["A", "B", "tie", "A"]
    assert f["turn"].tolist() == [1, 1, 2, 2]
    assert f["answer_a"].tolist() == ["x1", "y1", "x2", "y2"]
    assert f["prompt"].tolist() == ["Q1?", "Q1?", "Q2?", "Q2?"]
    assert set(f["judge"]) == {"gpt-4"} and set(f["dataset"]) == {"writing"}
    assert j.battles()["outcome"].tolist() == [1.0, 0.0, 0.5, 1.0]
    assert detect_format(path) == "mt_bench_pairs"
    assert len(read_judgments(path.parent.parent)) == 4


def test_fastchat_pair_error_games_kept_as_missing(tmp_path):
    path = pair_folder(
        tmp_path,
        [
            {
                "question_id": 81,
                "model_1": "x",
                "model_2": "y",
                "g1_winner": "error",
                "g2_winner": "model_1",
                "judge": ["gpt-4", "pair-v2"],
                "turn": 1,
            }
        ],
    )
    with pytest.warns(DataWarning, match="1 of 2 games have winner 'error'"):
        j = read_fastchat_pair(path)
    assert len(j) == 2 and j.n_missing == 1


def test_fastchat_pair_unknown_label_and_bad_line_named(tmp_path):
    path = pair_folder(
        tmp_path,
        [
            {
                "question_id": 81,
                "model_1": "x",
                "model_2": "y",
                "g1_winner": "model_3",
                "g2_winner": "tie",
                "turn": 1,
            }
        ],
    )
    with pytest.raises(InputError, match=r"gpt-4_pair.jsonl:1: g1_winner 'model_3' is not one of"):
        read_fastchat_pair(path)
    path.write_text('{"question_id": 81, "model_1": "x"\n')
    with pytest.raises(InputError, match=r"gpt-4_pair.jsonl:1: not valid JSON"):
        read_fastchat_pair(path)
    path.write_text('{"question_id": 81, "model_1": "x", "g1_winner": "tie"}\n')
    with pytest.raises(
        InputError, match=r"gpt-4_pair.jsonl:1: needs question_id, model_1 and model_2"
    ):
        read_fastchat_pair(path)


def test_pair_without_answer_folder_warns(tmp_path):
    path = write_jsonl(
        tmp_path / "gpt-4_pair.jsonl",
        [
            {
                "question_id": 1,
                "model_1": "x",
                "model_2": "y",
                "g1_winner": "model_2",
                "g2_winner": "model_2",
            }
        ],
    )
    with pytest.warns(DataWarning, match="no model_answer/ folder"):
        j = read_fastchat_pair(path)
    assert j.battles()["outcome"].tolist() == [0.0, 1.0]
    assert j.judges == ["gpt-4_pair"]  # no judge field: the file's name


# ============================================================ hand-written: single grades
def test_fastchat_single_grades(tmp_path):
    path = write_jsonl(
        tmp_path / "model_judgment" / "gpt-4_single.jsonl",
        [
            {
                "question_id": 81,
                "model": "m",
                "judge": ["gpt-4", "single-v1"],
                "turn": 1,
                "judgment": "Rating: [[8]]",
                "score": 8,
            },
            {
                "question_id": 81,
                "model": "m",
                "judge": ["gpt-4", "single-v1-multi-turn"],
                "turn": 2,
                "judgment": "...",
                "score": -1,
            },
            {
                "question_id": 82,
                "model": "m",
                "judge": ["gpt-4", "single-v1"],
                "turn": 1,
                "judgment": "Rating: [[4.5]]",
                "score": 4.5,
            },
        ],
    )
    with pytest.warns(DataWarning, match=r"1 of 3 answers have no rating \(null or -1: m 1\)"):
        j = read_single_grades(path)
    assert j.scores()["grade"].tolist() == [8.0, 4.5]
    assert j.to_frame()["turn"].tolist() == [1, 2, 1] and j.judges == ["gpt-4"]
    assert detect_format(path) == "single_grades"
    with pytest.raises(InputError, match=r"out of range \[1, 5\]"):
        quiet(read_single_grades, path, scale=Scale.grade(1, 5))
    with pytest.raises(ParameterError, match="grade scale"):
        read_single_grades(path, scale=Scale.win_tie_loss())


def test_single_grades_bad_scores_named(tmp_path):
    path = write_jsonl(
        tmp_path / "g.jsonl",
        [
            {"question_id": 1, "model": "m", "judgment": "", "score": "8"},
            {"question_id": 2, "model": "m", "judgment": "", "score": True},
            {"question_id": 3, "model": "m", "judgment": "", "score": 11},
        ],
    )
    with pytest.raises(
        InputError, match=r"g.jsonl:1: score '8' is not a number or null; .*g.jsonl:2"
    ):
        read_single_grades(path)
    write_jsonl(path, [{"question_id": 3, "model": "m", "judgment": "", "score": 11}])
    with pytest.raises(InputError, match=r"out of range \[1, 10\] in row\(s\) 0"):
        quiet(read_single_grades, path)


def test_fastchat_folder_with_pair_and_single_files(tmp_path):
    """FastChat keeps model_judgment/gpt-4_pair.jsonl and gpt-4_single.jsonl side by side:
    each reader takes its own file from the folder."""
    path = pair_folder(
        tmp_path,
        [
            {
                "question_id": 81,
                "model_1": "x",
                "model_2": "y",
                "g1_winner": "model_2",
                "g2_winner": "model_1",
                "judge": ["gpt-4", "pair-v2"],
                "turn": 1,
            }
        ],
    )
    write_jsonl(
        path.parent / "gpt-4_single.jsonl",
        [
            {
                "question_id": 81,
                "model": "x",
                "judge": ["gpt-4", "single-v1"],
                "turn": 2,
                "judgment": "Rating: [[6]]",
                "score": 6,
            }
        ],
    )
    root = path.parent.parent
    assert len(read_fastchat_pair(root)) == 2
    single = read_single_grades(root)
    assert single.scores()["grade"].tolist() == [6.0]
    assert single.to_frame()["answer_a"].tolist() == ["x2"]  # the answer of the turn graded
    assert detect_format(root) == "mt_bench_pairs"
    assert len(read_judgments(root, format="single_grades")) == 1
    with pytest.raises(InputError, match="no .jsonl or .jsonl.gz judgment files whose records"):
        read_pba(root / "model_judgment")


# ================================================================== hand-written: PBA
def test_pba_hostile_lines_and_a_10mb_text(tmp_path):
    path = tmp_path / "judgments" / "judge-x.jsonl"
    write_jsonl(
        path,
        [
            {"question_id": 81, "model_a": "m", "model_b": "b", "judgment": "[[A]]"},
            {"question_id": 81, "model_a": "b", "model_b": "m", "judgment": "x" * 10_000_000},
        ],
    )
    start = time.perf_counter()
    with pytest.warns(DataWarning, match="1 too long"):
        j = read_pba(path)
    assert time.perf_counter() - start < 5
    assert j.battles()["outcome"].tolist()[0] == 1.0 and j.n_missing == 1
    path.write_text(
        '{"question_id": 81, "model_a": "m", "model_b": "b", "judgment": "[[A]]"}\nnot json\n'
    )
    with pytest.raises(InputError, match=r"judge-x.jsonl:2: not valid JSON"):
        read_pba(path)
    path.write_text('{"question_id": 81, "model_a": "m", "judgment": 3}\n')
    with pytest.raises(InputError, match=r"judge-x.jsonl:1: needs question_id, model_a, model_b"):
        read_pba(path)


def test_pba_match_last_and_custom_patterns(tmp_path):
    path = write_jsonl(
        tmp_path / "j.jsonl",
        [{"question_id": 1, "model_a": "m", "model_b": "b", "judgment": "[[A]] no: [[B]]"}],
    )
    assert quiet(read_pba, path).battles()["outcome"].tolist() == [1.0]
    assert quiet(read_pba, path, match="last").battles()["outcome"].tolist() == [0.0]
    path.write_text('{"question_id": 1, "model_a": "m", "model_b": "b", "judgment": "Winner: B"}\n')
    got = quiet(read_pba, path, patterns=r"Winner: (A|B|tie)").battles()["outcome"].tolist()
    assert got == [0.0]


# =============================================================== hand-written: Vicuna
def vicuna_folder(tmp_path, reviews):
    root = tmp_path / "table"
    write_jsonl(root / "question.jsonl", [{"question_id": 1, "text": "Q?", "category": "generic"}])
    write_jsonl(
        root / "answer" / "answer_a.jsonl",
        [{"answer_id": "a1", "model_id": "base:v1", "question_id": 1, "text": "short"}],
    )
    write_jsonl(
        root / "answer" / "answer_b.jsonl",
        [{"answer_id": "b1", "model_id": "new:v2", "question_id": 1, "text": "longer answer"}],
    )
    return write_jsonl(root / "review" / "run" / "review_a_b.jsonl", reviews)


def test_vicuna_layout_by_hand(tmp_path):
    path = vicuna_folder(
        tmp_path,
        [
            {
                "review_id": "r",
                "question_id": 1,
                "answer1_id": "a1",
                "answer2_id": "b1",
                "reviewer_id": 1,
                "text": "7 9\n...",
                "score": [7, 9],
            }
        ],
    )
    j = read_vicuna_reviews(path)
    f = j.to_frame()
    assert (f["model_a"].iloc[0], f["model_b"].iloc[0]) == ("base", "new")
    assert (f["verdict"].iloc[0], f["verdict_b"].iloc[0]) == (7.0, 9.0)
    assert f["answer_b"].iloc[0] == "longer answer" and j.judges == ["gpt-4"]
    assert j.battles()["outcome"].tolist() == [0.0]
    assert read_vicuna_reviews(path.parent.parent.parent).to_frame()["prompt"].tolist() == ["Q?"]


@pytest.mark.parametrize(
    "review, message",
    [
        (
            {"answer1_id": "zz", "answer2_id": "b1", "score": [7, 9]},
            "answer id 'zz' is in no answer",
        ),
        ({"answer1_id": "a1", "answer2_id": "b1", "score": [7]}, "score must be two numbers"),
        ({"answer1_id": "a1", "answer2_id": "b1", "score": ["7", 9]}, "score must be two numbers"),
        (
            {"answer1_id": "a1", "answer2_id": "b1", "score": [7, 9], "question_id": 2},
            "question_id differs",
        ),
    ],
)
def test_vicuna_bad_reviews_named(tmp_path, review, message):
    path = vicuna_folder(tmp_path, [{"question_id": 1, **review}])
    with pytest.raises(InputError, match=rf"review_a_b.jsonl:1: {re.escape(message)}"):
        read_vicuna_reviews(path)


@pytest.mark.parametrize("reviewer", [9, "gpt-5", ["gpt-4"], True])
def test_vicuna_unknown_reviewer_named(tmp_path, reviewer):
    path = vicuna_folder(
        tmp_path,
        [
            {
                "question_id": 1,
                "answer1_id": "a1",
                "answer2_id": "b1",
                "score": [7, 9],
                "reviewer_id": reviewer,
            }
        ],
    )
    write_jsonl(
        path.parents[2] / "reviewer.jsonl",
        [
            {"reviewer_id": "gpt-4-0328-default", "prompt_id": 1},
            {"reviewer_id": "gpt-4-0328-math", "prompt_id": 3},
        ],
    )
    with pytest.raises(InputError, match=r"review_a_b.jsonl:1: reviewer_id .* is not in reviewer"):
        read_vicuna_reviews(path)
    record = {"question_id": 1, "answer1_id": "a1", "answer2_id": "b1", "score": [7, 9]}
    write_jsonl(path, [{**record, "reviewer_id": "gpt-4-0328-generic"}])
    assert read_vicuna_reviews(path).judges == ["gpt-4-0328"]


def test_vicuna_needs_its_table(tmp_path):
    path = write_jsonl(tmp_path / "review_x.jsonl", [{"question_id": 1}])
    with pytest.raises(InputError, match="no question.jsonl and answer/ folder"):
        read_vicuna_reviews(path)


def test_model_names_keep_the_version_only_when_needed():
    got = model_names(pd.Series(["llama-13b:v1", "vicuna-7b:x", "vicuna-7b:y"]))
    assert got == {
        "llama-13b:v1": "llama-13b",
        "vicuna-7b:x": "vicuna-7b:x",
        "vicuna-7b:y": "vicuna-7b:y",
    }
