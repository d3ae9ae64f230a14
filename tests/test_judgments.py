"""The Judgments data model: validation, storage once per answer, round trips and views.

Every judge format of ../shared/judges/README.md is rebuilt here as a tiny hand-made
example (no shared data is copied); expected values are worked out by hand in the
comments, never by the code under test.
"""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from debias import Comparisons
from debias.errors import DataWarning, InputError, ParameterError
from debias.judgments import Judgments, Scale, battles, scores

AH = Scale.arena_hard()


def pairs(**overrides) -> pd.DataFrame:
    """Two prompts, model m against baseline b, soft preferences."""
    base = {
        "prompt": ["p1", "p2"],
        "model_a": ["m", "m"],
        "answer_a": ["short", "also short"],
        "model_b": ["b", "b"],
        "answer_b": ["a long answer", "another long answer"],
        "verdict": [0.8, 0.3],
    }
    base.update(overrides)
    return pd.DataFrame(base)


# ------------------------------------------------------------------ hostile input
HOSTILE = [
    # (frame, scale, error class, words the one-line message must contain)
    ("not a frame", [1, 2], None, InputError, ["expected a pandas DataFrame"]),
    ("no verdict", pairs().drop(columns="verdict"), None, InputError, ["'verdict'"]),
    ("no prompt", pairs().drop(columns="prompt"), None, InputError, ["'prompt'"]),
    ("no model_a", pairs().drop(columns="model_a"), None, InputError, ["'model_a'"]),
    ("empty model_a", pairs(model_a=["m", None]), None, InputError, ["'model_a'", "row(s) 1"]),
    ("empty judge", pairs(judge=["j", ""]), None, InputError, ["'judge'", "row(s) 1"]),
    ("out of range", pairs(verdict=[0.2, 1.5]), None, InputError, ["out of range", "row(s) 1"]),
    ("negative", pairs(verdict=[-0.1, 0.5]), None, InputError, ["out of range", "row(s) 0"]),
    ("infinite", pairs(verdict=[np.inf, 0.5]), None, InputError, ["out of range", "row(s) 0"]),
    ("boolean verdict", pairs(verdict=[True, False]), None, InputError, ["boolean", "row(s) 0, 1"]),
    (
        "word verdict",
        pairs(verdict=["0.5", "lots"]),
        None,
        InputError,
        ["not a number", "row(s) 1"],
    ),
    ("unknown level", pairs(verdict=["A>B", "A>>>B"]), AH, InputError, ["'A>>>B'", "row(s) 1"]),
    (
        "grade range",
        pairs(verdict=[7, 11], verdict_b=[5, 5]),
        Scale.grade(1, 10),
        InputError,
        ["[1, 10]", "row(s) 1"],
    ),
    (
        "half grade",
        pairs(verdict=[7, np.nan], verdict_b=[5, 4]),
        Scale.grade(),
        InputError,
        ["row(s) 1", "only one of the two"],
    ),
    ("verdict_b off grade", pairs(verdict_b=[0.2, 0.3]), None, InputError, ["verdict_b", "grade"]),
    ("pair without B", pairs(model_b=["b", None]), None, InputError, ["model_b", "row(s) 1"]),
    (
        "B text, no B model",
        pairs(model_b=["b", None], verdict=[7, 7]),
        Scale.grade(),
        InputError,
        ["answer_b", "row(s) 1"],
    ),
    ("bad order", pairs(shown_first=["a", "left"]), None, InputError, ["shown_first", "row(s) 1"]),
    ("bad weight", pairs(weight=[1.0, -2.0]), None, InputError, ["weight", "row(s) 1"]),
    ("NaN weight", pairs(weight=[np.nan, 1.0]), None, InputError, ["weight", "row(s) 0"]),
    ("bool weight", pairs(weight=[True, True]), None, InputError, ["weight", "booleans"]),
    ("bad turn", pairs(turn=[1, 0]), None, InputError, ["turn", "row(s) 1"]),
    ("fractional turn", pairs(turn=[1.5, 1]), None, InputError, ["turn", "row(s) 0"]),
    ("nested text", pairs(answer_a=[{"x": 1}, "ok"]), None, InputError, ["'answer_a'", "row(s) 0"]),
    ("list model", pairs(model_a=[["m"], "m"]), None, InputError, ["'model_a'", "row(s) 0"]),
    (
        "duplicate call",
        pairs(prompt=["p1", "p1"], answer_a=["x", "x"], answer_b=["y", "y"]),
        None,
        InputError,
        ["same judge call", "rows 0, 1"],
    ),
    (
        "one id, two texts",
        pairs(prompt_id=["q", "q"], model_a=["m", "n"]),
        None,
        InputError,
        ["prompt_id 'q'", "row(s) 0, 1"],
    ),
    ("scale not a Scale", pairs(), "probability", ParameterError, ["Scale"]),
]


@pytest.mark.parametrize(
    "frame, scale, error, words", [h[1:] for h in HOSTILE], ids=[h[0] for h in HOSTILE]
)
def test_hostile_input_one_clear_line(frame, scale, error, words):
    with pytest.raises(error) as info:
        Judgments.from_dataframe(frame, scale=scale, source="calls.csv")
    message = str(info.value)
    assert "\n" not in message
    for word in words:
        assert word in message, message
    if error is InputError and not isinstance(frame, list):
        assert message.startswith("calls.csv:")


@pytest.mark.parametrize(
    "make",
    [
        lambda: Scale.levels(["A", "A"]),
        lambda: Scale.levels(["A"]),
        lambda: Scale.levels("AB"),
        lambda: Scale.levels(["A", "B"], outcomes=[0, 1]),
        lambda: Scale.levels(["A", "B"], weights=[1, 0]),
        lambda: Scale.win_tie_loss(["A", "B"]),
        lambda: Scale.grade(10, 1),
        lambda: Scale.grade(True, 10),
    ],
)
def test_bad_scales_are_refused(make):
    with pytest.raises(ParameterError):
        make()


def test_caller_frame_untouched_and_missing_texts_counted():
    df = pairs(answer_b=["x", None], verdict=[np.nan, 0.5])
    before = df.copy(deep=True)
    with pytest.warns(DataWarning) as record:
        j = Judgments.from_dataframe(df)
    pd.testing.assert_frame_equal(df, before)
    text = " ".join(str(w.message) for w in record)
    assert "1 missing answer" in text and "1 judgment(s) have no verdict" in text
    assert j.n_missing == 1 and j.n_missing_outputs == 1 and len(j) == 2
    assert j.column("answer_b").tolist() == ["x", ""]


def test_several_judges_may_judge_the_same_call():
    df = pd.concat([pairs(judge="j1"), pairs(judge="j2", verdict=[0.1, 0.9])], ignore_index=True)
    j = Judgments.from_dataframe(df)
    assert j.judges == ["j1", "j2"] and len(j.answers) == 4  # texts shared by both judges
    assert j.select(judge="j2").column("verdict").tolist() == [0.1, 0.9]
    with pytest.raises(InputError, match="judge= 'j3' not in the data"):
        j.select(judge="j3")


# ------------------------------------------------------------------ storage
def test_each_answer_stored_once_and_materialised_as_plain_strings(sim):
    comps = sim.comparisons
    j = Judgments.from_comparisons(comps)
    d = comps.data
    distinct = pd.concat(
        [
            d[["model", "instruction", "output_model"]].set_axis(["m", "p", "t"], axis=1),
            d[["baseline", "instruction", "output_baseline"]].set_axis(["m", "p", "t"], axis=1),
        ]
    ).drop_duplicates()
    assert len(j.answers) == len(distinct)
    n_models, n_prompts = len(comps.models), d["instruction"].nunique()
    # the baseline's answer to each prompt is one row, not one per model
    assert (j.answers["model"] == comps.baselines[0]).sum() == n_prompts
    assert len(j.answers) == n_models * n_prompts  # baseline among the models (vs itself)
    text = j.column("answer_b")
    assert text.tolist() == d["output_baseline"].tolist()
    assert (text.str.len() == d["output_baseline"].str.len()).all()
    plain = d.astype({"instruction": str, "output_baseline": str})  # one copy per row
    assert j.memory_bytes() < 0.7 * plain.memory_usage(deep=True).sum()


# ------------------------------------------------------------------ round trips
def test_comparisons_round_trip_simulated(sim):
    comps = sim.comparisons
    back = Judgments.from_comparisons(comps).fixed_baseline()
    pd.testing.assert_frame_equal(back.data, comps.data)
    assert (back.source, back.n_missing_outputs) == (comps.source, comps.n_missing_outputs)
    assert back.instruction_order == comps.instruction_order


def test_comparisons_round_trip_user_frame_with_gaps():
    df = pd.DataFrame(
        {
            "instruction": ["x", "y", "x", "y"],
            "model": ["m1", "m1", "m2", "m2"],
            "baseline": "b",
            "output_model": ["1", None, "3", "4"],
            "output_baseline": ["bx", "by", "bx", "by"],
            "preference": [1.0, np.nan, 0.0, 0.5],
        }
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DataWarning)
        comps = Comparisons.from_dataframe(df, judge="j").with_instruction_order(["y", "x"])
    j = Judgments.from_comparisons(comps)
    assert len(j.answers) == 6  # two models' answers + the baseline's two, once each
    back = j.fixed_baseline()
    pd.testing.assert_frame_equal(back.data, comps.data)
    assert back.n_missing_outputs == 1 and back.instruction_order == ("y", "x")


@pytest.mark.alpaca_eval
def test_comparisons_round_trip_alpaca_eval(alpaca):
    back = Judgments.from_comparisons(alpaca).fixed_baseline()
    pd.testing.assert_frame_equal(back.data, alpaca.data)
    assert back.instruction_order == alpaca.instruction_order


def test_to_frame_round_trip_keeps_everything():
    df = pd.DataFrame(
        {
            "prompt_id": ["q1", "q1", "q2"],
            "prompt": ["one", "one", "two"],
            "turn": [2, 2, 1],
            "model_a": ["x", "y", "x"],
            "answer_a": ["ax", "ay", "bx"],
            "model_b": ["y", "x", "y"],
            "answer_b": ["ay", "ax", "by"],
            "shown_first": ["a", "a", "unknown"],
            "verdict": ["A>>B", "A=B", "B>A"],
            "weight": [1.0, 2.0, 0.5],
        }
    )
    j = Judgments.from_dataframe(df, scale=AH, judge="gpt")
    again = Judgments.from_dataframe(j.to_frame(), scale=AH)
    pd.testing.assert_frame_equal(again.battles(), j.battles())
    frame = j.to_frame()
    assert frame["verdict"].astype(str).tolist() == ["A>>B", "A=B", "B>A"]
    assert frame["turn"].tolist() == [2, 2, 1] and frame["judge"].tolist() == ["gpt"] * 3
    assert len(j.answers) == 4 and len(j.prompts) == 2


# ------------------------------------------------------------------ the four judge formats
def arena_hard_style() -> Judgments:
    """Baseline g4 vs model m on two questions, each judged twice (game 2 swaps the answers)."""
    return Judgments.from_dataframe(
        pd.DataFrame(
            {
                "prompt_id": ["q1", "q1", "q2", "q2"],
                "prompt": ["Q one", "Q one", "Q two", "Q two"],
                "model_a": ["g4", "m", "g4", "m"],
                "answer_a": ["base 1", "mod 1", "base 2", "mod 2"],
                "model_b": ["m", "g4", "m", "g4"],
                "answer_b": ["mod 1", "base 1", "mod 2", "base 2"],
                "shown_first": "a",
                "verdict": ["A>>B", "A=B", "B>A", "A>>B"],
            }
        ),
        scale=AH,
        judge="gpt-4-1106-preview",
    )


def test_arena_hard_style_both_orders_five_levels():
    j = arena_hard_style()
    assert len(j.answers) == 4  # each answer once although each is shown twice
    b = j.battles()
    assert b["outcome"].tolist() == [1.0, 0.5, 0.0, 1.0]  # A>>B win, A=B tie, B>A loss, A>>B win
    assert b["weight"].tolist() == [3.0, 1.0, 1.0, 3.0]  # strong verdicts count 3 times
    assert b["pair"].nunique() == 1  # both orders linked: same pair ...
    assert b.groupby("prompt").size().tolist() == [2, 2]  # ... and same prompt
    # answer codes point into the answer table: each answer's model, stored once
    assert (j.answers["model"].to_numpy()[b["answer_a"]] == b["model_a"]).all()
    assert (j.answers["model"].to_numpy()[b["answer_b"]] == b["model_b"]).all()
    assert len(set(b["answer_a"]) | set(b["answer_b"])) == 4  # both orders share answers
    # Arena-Hard's score for m (win vs baseline, tie = 1/2, weights):
    # q1: g4 strong win (w3, m gets 0), tie (w1, m gets 1/2); q2: m wins (w1), m strong win (w3)
    m_wins = np.where(b["model_a"] == "m", b["outcome"], 1 - b["outcome"])
    assert np.average(m_wins, weights=b["weight"]) == pytest.approx((0 + 0.5 + 1 + 3) / 8)
    with pytest.raises(ParameterError, match="battles"):
        j.fixed_baseline()  # weighted levels are not one preference per (model, prompt)


def test_even_levels_fixed_baseline_averages_both_orders():
    df = arena_hard_style().to_frame()
    j = Judgments.from_dataframe(df, scale=Scale.levels(["A>>B", "A>B", "A=B", "B>A", "B>>A"]))
    with pytest.raises(InputError, match="cannot tell the baseline"):
        j.fixed_baseline()  # one pair, in both roles: either could be the baseline
    with pytest.raises(InputError, match="orders='mean'"):
        j.fixed_baseline("g4")
    c = j.fixed_baseline("g4", orders="mean")
    # q1: g4 A>>B -> m gets 0; m shown first, A=B -> 0.5; mean 0.25.
    # q2: g4 first, B>A -> m gets 0.75; m first, A>>B -> 1; mean 0.875.
    assert c.data["preference"].tolist() == [0.25, 0.875]
    assert c.baselines == ["g4"] and c.data["output_model"].tolist() == ["mod 1", "mod 2"]


def test_mt_bench_style_a_b_c():
    wtl = Scale.win_tie_loss(["[[A]]", "[[C]]", "[[B]]"])
    df = pd.DataFrame(
        {
            "prompt_id": [81, 81, 82, 82],
            "turn": 2,
            "model_a": ["gpt-4", "vicuna", "gpt-4", "vicuna"],
            "model_b": ["vicuna", "gpt-4", "vicuna", "gpt-4"],
            "shown_first": "a",
            "verdict": ["[[A]]", "[[A]]", "[[C]]", None],
        }
    )
    with pytest.warns(DataWarning, match="1 judgment"):
        j = Judgments.from_dataframe(df, scale=wtl, judge="gpt-4-0613")
    b = j.battles()
    assert b["outcome"].tolist()[:3] == [1.0, 1.0, 0.5] and np.isnan(b["outcome"].iloc[3])
    assert b["turn"].tolist() == [2] * 4 and b["prompt"].tolist() == ["81", "81", "82", "82"]
    # q81: the judge picked whichever was shown first: inconsistent, position-driven
    c = j.fixed_baseline("vicuna", orders="mean")
    assert c.data["preference"].tolist() == [0.5, 0.5]  # (1 + 0)/2; (0.5 + nothing) = 0.5


def test_vicuna_style_paired_grades():
    df = pd.DataFrame(
        {
            "prompt": ["q1", "q2", "q3"],
            "model_a": "gpt35",  # Assistant 1, always the baseline
            "model_b": "vicuna",
            "shown_first": "a",
            "verdict": [9, 7.5, 8],
            "verdict_b": [8, 9, 8],
        }
    )
    j = Judgments.from_dataframe(df, scale=Scale.grade(1, 10), judge="gpt-4")
    assert j.battles()["outcome"].tolist() == [1.0, 0.0, 0.5]
    s = j.scores()
    assert s.groupby("model")["grade"].sum().to_dict() == {"gpt35": 24.5, "vicuna": 25.0}
    assert s["side"].tolist() == ["a", "b"] * 3


def test_single_answer_grades():
    df = pd.DataFrame(
        {
            "prompt": ["q1", "q1", "q2"],
            "model_a": ["x", "y", "x"],
            "answer_a": ["ax", "ay", "bx"],
            "verdict": [8, 3, None],
        }
    )
    with pytest.warns(DataWarning):
        j = Judgments.from_dataframe(df, scale=Scale.grade(1, 10))
    assert not j.is_pairwise.any() and j.column("model_b").isna().all()
    s = scores(j)
    assert s[["model", "grade"]].values.tolist() == [["x", 8.0], ["y", 3.0]]
    assert battles(j).empty
    with pytest.raises(ParameterError, match="scores"):
        j.fixed_baseline()
    with pytest.raises(ParameterError, match="scores\\(\\) needs graded"):
        scores(arena_hard_style())


def test_battles_ignore_row_order_and_pair_ids_by_unordered_pair():
    j = arena_hard_style()
    shuffled = Judgments.from_dataframe(j.to_frame().iloc[[3, 1, 0, 2]], scale=AH)
    cols = ["prompt", "model_a", "model_b", "outcome", "weight"]
    a = j.battles()[cols].sort_values(cols).reset_index(drop=True)
    b = shuffled.battles()[cols].sort_values(cols).reset_index(drop=True)
    pd.testing.assert_frame_equal(a, b)


def test_fixed_baseline_needs_a_baseline_in_every_call():
    df = pd.DataFrame(
        {"prompt": ["q", "q"], "model_a": ["x", "z"], "model_b": ["y", "w"], "verdict": [1, 0]}
    )
    j = Judgments.from_dataframe(df)
    with pytest.raises(InputError, match="cannot tell the baseline"):
        j.fixed_baseline()
    with pytest.raises(InputError, match="row\\(s\\) 1"):
        j.fixed_baseline("x")
    chain = Judgments.from_dataframe(df.assign(model_b=["y", "x"], verdict=[0.9, 0.2]))
    c = chain.fixed_baseline()  # x is in both calls: A in the first, B in the second
    assert c.baselines == ["x"] and c.data["model"].tolist() == ["y", "z"]
    assert c.data["preference"].tolist() == pytest.approx([0.1, 0.2])  # 1 - P(x); P(z)


@settings(max_examples=40, deadline=None)
@given(
    prefs=st.lists(st.floats(0, 1), min_size=1, max_size=6),
    swap=st.lists(st.booleans(), min_size=6, max_size=6),
    seed=st.integers(0, 10),
)
def test_swapping_answers_with_one_minus_p_changes_nothing(prefs, swap, seed):
    """Invariants: showing the baseline as A with verdict 1 - p is the same judgment;
    row order is irrelevant; battles mirror (outcome -> 1 - outcome)."""
    n = len(prefs)
    df = pd.DataFrame(
        {
            "prompt": [f"q{i}" for i in range(n)],
            "model_a": "m",
            "answer_a": [f"m{i}" for i in range(n)],
            "model_b": "base",
            "answer_b": [f"b{i}" for i in range(n)],
            "verdict": prefs,
        }
    )
    flip = np.array(swap[:n])
    swapped = df.copy()
    for a, b in (("model_a", "model_b"), ("answer_a", "answer_b")):
        swapped.loc[flip, [a, b]] = df.loc[flip, [b, a]].to_numpy()
    swapped["verdict"] = np.where(flip, 1 - df["verdict"], df["verdict"])
    swapped = swapped.sample(frac=1, random_state=seed).reset_index(drop=True)
    want = Judgments.from_dataframe(df).fixed_baseline("base").data
    got = Judgments.from_dataframe(swapped).fixed_baseline("base").data
    got = got.set_index("instruction").loc[want["instruction"]].reset_index()
    cols = ["instruction", "model", "baseline", "output_model", "output_baseline"]
    pd.testing.assert_frame_equal(got[cols], want[cols])
    np.testing.assert_allclose(got["preference"], want["preference"], atol=1e-12)
    b = Judgments.from_dataframe(swapped).battles()
    m_first = (b["model_a"] == "m").to_numpy()
    outcome_m = np.where(m_first, b["outcome"], 1 - b["outcome"])
    order = [int(p[1:]) for p in b["prompt"]]
    np.testing.assert_allclose(outcome_m, np.asarray(prefs)[order], atol=1e-12)


def test_scale_reads_labels_case_blind_and_numbers_for_win_tie_loss():
    wtl = Scale.win_tie_loss()
    got = wtl.encode(pd.Series(["A", " b ", "TIE", 1, 0.5, 0.0, None]))
    assert got.tolist()[:6] == [0.0, 2.0, 1.0, 0.0, 1.0, 2.0] and np.isnan(got.iloc[6])
    assert wtl.outcome(got).tolist()[:6] == [1.0, 0.0, 0.5, 1.0, 0.5, 0.0]
    with pytest.raises(InputError, match="row\\(s\\) 0"):
        wtl.encode(pd.Series([0.7]))  # a number that is not one of 1 / 0.5 / 0


def test_missing_verdicts_survive_to_frame_and_back():
    df = pd.DataFrame(
        {"prompt": ["q1", "q2"], "model_a": "x", "model_b": "y", "verdict": ["A>B", None]}
    )
    with pytest.warns(DataWarning):
        j = Judgments.from_dataframe(df, scale=AH)
    frame = j.to_frame()
    assert frame["verdict"].isna().tolist() == [False, True]
    with pytest.warns(DataWarning):
        again = Judgments.from_dataframe(frame, scale=AH)
    assert again.n_missing == 1
    pd.testing.assert_frame_equal(again.battles(), j.battles())
    with pytest.raises(ParameterError, match="no column 'winner'"):
        j.column("winner")


def test_token_counts_survive_a_round_trip():
    """Answers with stored token counts (Arena-Hard's token_len) keep them through
    to_frame() and from_dataframe()."""
    df = pd.DataFrame(
        {
            "prompt": ["q1", "q1", "q2"],
            "model_a": ["x", "y", "x"],
            "model_b": ["y", "x", "y"],
            "answer_a": ["a x", "a y", "b x"],
            "answer_b": ["a y", "a x", "b y"],
            "verdict": [1.0, 0.0, 0.5],
            "tokens_a": [3, 5, 7],
            "tokens_b": [5, 3, 11],
        }
    )
    j = Judgments.from_dataframe(df)
    back = j.to_frame()
    assert back["tokens_a"].tolist() == [3, 5, 7] and back["tokens_b"].tolist() == [5, 3, 11]
    again = Judgments.from_dataframe(back, scale=j.scale)
    assert again.answers["tokens"].tolist() == j.answers["tokens"].tolist()
