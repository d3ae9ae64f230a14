"""Style features and covariates of battles (debias.battles.style): Arena's counting rules
on hand-counted texts, tokens, mediators, transforms, and why the covariates are not centred."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from debias.battles.design import battle_design
from debias.battles.newton import fit_newton
from debias.battles.style import add_answer_features, answer_features, style_covariates
from debias.errors import InputError, ParameterError
from debias.judgments import Judgments

# (text, headers, lists, bold): counted by hand with Arena's rules
HAND_COUNTED = [
    ("# One\n## Two\n###### Six\n####### seven is not a header\n#no space", 3, 0, 0),
    ("1. a\n2. b\n10. c\n1) not an item (Arena counts only '1.')", 0, 3, 0),
    ("- a\n* b\n+ c\n  - nested\n-no space", 0, 4, 0),
    ("**bold** and __also__ and ** not bold\nacross** lines", 0, 0, 2),
    ("```\n# not a header\n- not an item\n**not bold**\n```\n# Header\n- item", 1, 1, 0),
    ("plain text, nothing to count", 0, 0, 0),
    ("", 0, 0, 0),
]


def test_arena_markdown_counts_on_hand_counted_texts():
    table = pd.DataFrame({"text": [t for t, *_ in HAND_COUNTED]})
    got = answer_features(table, ["headers", "lists", "bold", "length"])
    for name, column in (("headers", 1), ("lists", 2), ("bold", 3)):
        assert got[name].tolist() == [row[column] for row in HAND_COUNTED], name
    assert got["length"].tolist() == [len(t) for t, *_ in HAND_COUNTED]


def judgments(tokens: bool = True, unknown_token_b: int | None = None) -> Judgments:
    df = pd.DataFrame(
        {
            "prompt": ["q1", "q1", "q2"],
            "model_a": ["x", "y", "x"],
            "model_b": ["y", "x", "z"],
            "answer_a": ["# Title\n- a\n- b", "short", "**bold** text!"],
            "answer_b": ["short", "# Title\n- a\n- b", "no"],
            "verdict": [1.0, 0.0, 0.5],
        }
    )
    if tokens:
        df["tokens_a"] = [7.0, 1.0, 3.0]
        df["tokens_b"] = [1.0, 7.0, 1.0]
        if unknown_token_b is not None:
            df.loc[unknown_token_b, "tokens_b"] = np.nan
    return Judgments.from_dataframe(df)


def test_answer_features_follow_the_answer_codes():
    j = judgments()
    out = add_answer_features(j.battles(), j, ["length", "tokens", "lists", "exclamations"])
    assert out["length_a"].tolist() == [15.0, 5.0, 14.0]
    assert out["length_b"].tolist() == [5.0, 15.0, 2.0]
    assert out["tokens_a"].tolist() == [7.0, 1.0, 3.0]
    assert out["lists_a"].tolist() == [2.0, 0.0, 0.0] and out["lists_b"].tolist() == [0, 2, 0]
    assert out["exclamations_a"].tolist() == [0.0, 0.0, 1.0]  # a registered mediator
    assert "length_a" not in j.battles()  # a new frame; the input is not touched


def test_tokens_absent_or_unknown_is_one_clear_error():
    j = judgments(tokens=False)
    with pytest.raises(InputError, match="no token counts.*'length'"):
        add_answer_features(j.battles(), j, ["tokens"])
    partly = judgments(unknown_token_b=2)
    with pytest.raises(InputError, match=r"row\(s\) 2 have an answer B without a token count"):
        add_answer_features(partly.battles(), partly, ["tokens"])
    with pytest.raises(ParameterError, match="Unknown mediator"):
        add_answer_features(j.battles(), j, ["lenght"])
    with pytest.raises(InputError, match="no judgments="):
        add_answer_features(j.battles(), None, ["length"])


def test_transforms_scale_and_sign():
    b = pd.DataFrame({"f_a": [10.0, 0.0, 3.0, 1.0], "f_b": [0.0, 0.0, 1.0, 3.0]})
    diff = style_covariates(b, ["f"], transform="difference", scale=False)["f"]
    assert diff.tolist() == [10.0, 0.0, 2.0, -2.0]
    ratio = style_covariates(b, ["f"], transform="diff_over_sum", scale=False)["f"]
    assert ratio.tolist() == [1.0, 0.0, 0.5, -0.5]  # 0/0 is 0: no difference
    plus1 = style_covariates(b, ["f"], scale=False)["f"]
    np.testing.assert_allclose(plus1, [10 / 11, 0.0, 2 / 5, -2 / 5])
    scaled = style_covariates(b, ["f"])
    sd = np.std([10 / 11, 0.0, 2 / 5, -2 / 5])
    np.testing.assert_allclose(scaled["f"], plus1 / sd)
    assert scaled.attrs["style_scale"] == {"f": pytest.approx(sd)}
    swapped = style_covariates(b.rename(columns={"f_a": "f_b", "f_b": "f_a"}), ["f"])
    np.testing.assert_allclose(swapped["f"], -scaled["f"])  # A minus B: swapping negates
    centred = style_covariates(b, ["f"], center=True)
    assert centred["f"].mean() == pytest.approx(0, abs=1e-12)
    with pytest.raises(InputError, match="same in every battle"):
        style_covariates(b.assign(f_a=1.0, f_b=1.0), ["f"])
    with pytest.raises(InputError, match="add_answer_features"):
        style_covariates(b, ["length"])
    with pytest.raises(ParameterError, match="'transform'"):
        style_covariates(b, ["f"], transform="ratio")


def exact_battles(strength: dict, length: dict, beta: float) -> pd.DataFrame:
    """Every pair once, the first model (in insertion order) as A, with the exact
    probability of the model as outcome: the maximum-likelihood fit is the truth."""
    names = list(strength)
    rows = []
    for i, a in enumerate(names):
        for b in names[i + 1 :]:
            x = (length[a] - length[b]) / (length[a] + length[b] + 1)
            p = 1 / (1 + np.exp(-(strength[a] - strength[b] + beta * x)))
            rows.append({"model_a": a, "model_b": b, "outcome": p,
                         "length_a": length[a], "length_b": length[b]})  # fmt: skip
    return pd.DataFrame(rows)


@pytest.mark.parametrize("center", [False, True])
def test_uncentred_controlled_strengths_do_not_move_when_a_verbose_model_joins(center):
    strength = {"a": 0.5, "b": 0.0, "c": -0.3, "d": 0.2, "e": -0.4}
    length = {"a": 900.0, "b": 400.0, "c": 1500.0, "d": 300.0, "e": 700.0}

    def controlled(s, lengths):
        frame = style_covariates(exact_battles(s, lengths, 1.0), ["length"], center=center)
        fit = fit_newton(battle_design(frame, covariates=["length"]), identify="b")
        return pd.Series(fit.strengths, fit.design.models)

    before = controlled(strength, length)
    after = controlled({**strength, "verbose": 0.1}, {**length, "verbose": 6000.0})
    moved = (after[before.index] - before).abs().max()
    if center:
        assert moved > 0.01  # the trap: every model's controlled strength moves
    else:
        assert moved < 1e-8  # exactly the truth, before and after
        np.testing.assert_allclose(
            before[list(strength)], np.array(list(strength.values())), atol=1e-8
        )
