"""Graded verdicts: the symmetric cumulative logit against a direct constrained fit, simulated
judges with known strengths and style slope, and Arena-Hard's published convention scores."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy.optimize import minimize
from scipy.special import expit

from debias.errors import InputError, ParameterError
from debias.reports.graded_verdicts import arena_hard_levels, graded_verdicts
from debias.simulate.grades import level_probabilities, simulate_graded_verdicts

LOW_FIRST = np.array([0.0, 0.0, 0.5, 1.0, 1.0])  # outcome of each level, B>>A first


def test_symmetric_fit_is_the_constrained_maximum_likelihood():
    sim = simulate_graded_verdicts(n_prompts=150, seed=2)
    rep = graded_verdicts(sim.battles, labels=sim.labels[::-1], features=("length",))
    b = sim.battles
    code = b["level"].map({lab: i for i, lab in enumerate(sim.labels)}).to_numpy()
    x1 = (b["model_a"] == "model_1").to_numpy(float)
    x2 = (b["model_a"] == "model_2").to_numpy(float)
    style = ((b["length_a"] - b["length_b"]) / (b["length_a"] + b["length_b"])).to_numpy()

    def row_nll(p):  # cut points (-c2, -c1, c1, c2), c2 = c1 + exp(d)
        s1, s2, g, c1, d = p
        c1 = abs(c1)
        cuts = np.array([-(c1 + np.exp(d)), -c1, c1, c1 + np.exp(d)])
        eta = s1 * x1 + s2 * x2 + g * style
        cum = np.column_stack(
            [np.zeros(len(eta)), expit(cuts[None] - eta[:, None]), np.ones(len(eta))]
        )
        return -np.log(np.diff(cum, axis=1)[np.arange(len(eta)), code])

    best = minimize(lambda p: row_nll(p).sum(), [0, 0, 0, 0.5, 0.5], method="BFGS",
                    options={"gtol": 1e-10})  # fmt: skip
    co = rep.coefficients.set_index("term")
    terms = ["strength[model_1]", "strength[model_2]", "style[length]"]
    np.testing.assert_allclose(co.loc[terms, "estimate"], best.x[:3], atol=1e-4)
    assert co.loc["1|2", "estimate"] == pytest.approx(-co.loc["2|3", "estimate"], abs=1e-9)
    # the prompt-clustered sandwich of the constrained model, by finite differences
    eps, p0 = 1e-5, best.x
    steps = np.eye(5) * eps
    scores = np.column_stack([(row_nll(p0 + e) - row_nll(p0 - e)) / (2 * eps) for e in steps])
    grad = lambda p: np.array([(row_nll(p + e) - row_nll(p - e)).sum() / (2 * eps) for e in steps])  # noqa: E731
    hess = np.column_stack([(grad(p0 + e) - grad(p0 - e)) / (2 * eps) for e in steps])
    per_prompt = pd.DataFrame(scores).groupby(b["prompt"].to_numpy()).sum().to_numpy()
    G = len(per_prompt)
    inv = np.linalg.inv((hess + hess.T) / 2)
    cov = inv @ per_prompt.T @ per_prompt @ inv * G / (G - 1)
    np.testing.assert_allclose(co.loc[terms, "std_error"], np.sqrt(np.diag(cov))[:3], rtol=2e-3)


def test_simulated_judge_strengths_scores_and_style_are_covered():
    hits_s, hits_score, hits_style = [], [], []
    for seed in range(25):
        sim = simulate_graded_verdicts(n_prompts=250, seed=seed)
        rep = graded_verdicts(sim.battles, labels=sim.labels[::-1], features=("length",))
        co = rep.coefficients.set_index("term")
        tab = rep.table.set_index("model")
        for m in ("model_1", "model_2"):
            t = sim.truth_strengths[m]
            row = co.loc[f"strength[{m}]"]
            hits_s.append(row["conf_low"] <= t <= row["conf_high"])
            truth = 100 * level_probabilities(np.array([t]), sim.thresholds)[0] @ LOW_FIRST
            hits_score.append(
                tab.loc[m, "controlled_score_ci_low"]
                <= truth
                <= tab.loc[m, "controlled_score_ci_high"]
            )
        row = co.loc["style[length]"]
        hits_style.append(row["conf_low"] <= sim.style_slope <= row["conf_high"])
    assert 0.88 <= np.mean(hits_s) <= 1.0
    assert 0.88 <= np.mean(hits_score) <= 1.0
    assert 0.84 <= np.mean(hits_style) <= 1.0


def test_convention_is_the_weighted_win_rate_and_difference_is_shown():
    df = pd.DataFrame(
        {"prompt": ["p1", "p1", "p2", "p2", "p3", "p3", "p4", "p4"], "model_a": "base",
         "model_b": "m", "level": ["A>>B", "B>A", "A=B", "B>>A", "A>B", "B>A", "A>B", "A>B"]}
    )  # fmt: skip
    rep = graded_verdicts(df, anchor="base")
    row = rep.table.set_index("model").loc["m"]
    # m's outcomes 0, 1, .5, 1, 0, 1, 0, 0 with weights 3, 1, 1, 3, 1, 1, 1, 1
    assert row["convention_score"] == pytest.approx(100 * (1 + 0.5 + 3 + 1) / 12)
    assert row["difference"] == pytest.approx(row["ordinal_score"] - row["convention_score"])
    assert rep.anchor == "base" and "3 times" in rep.definition


def test_hostile_inputs():
    df = pd.DataFrame(
        {"prompt": ["p1", "p2"], "model_a": "a", "model_b": "b", "level": ["A>B", "A>>>B"]}
    )
    with pytest.raises(InputError, match="not one of labels"):
        graded_verdicts(df, anchor="a")
    df2 = pd.DataFrame(
        {"prompt": ["p1", "p2"], "model_a": ["a", "c"], "model_b": ["b", "d"], "level": "A>B"}
    )
    with pytest.raises(ParameterError, match="anchor"):
        graded_verdicts(df2)
    with pytest.raises(InputError, match="length_a"):
        graded_verdicts(df.iloc[:1], features=("length",), anchor="a")
    with pytest.raises(ParameterError, match="each of"):
        graded_verdicts(df.iloc[:1])


def test_a_model_that_always_wins_is_missing_with_reason():
    sim = simulate_graded_verdicts(n_prompts=80, seed=4)
    b = sim.battles.copy()
    b.loc[b["model_a"] == "model_2", "level"] = "A>>B"
    rep = graded_verdicts(b, labels=sim.labels[::-1])
    row = rep.table.set_index("model").loc["model_2"]
    assert np.isnan(row["ordinal_score_ci_low"]) and "separation" in row["note"]
    ok = rep.table.set_index("model").loc["model_1"]
    assert ok["ordinal_score_ci_low"] < ok["ordinal_score"] < ok["ordinal_score_ci_high"]


def test_arena_hard_published_convention_and_modelled_levels(judges_dir):
    from debias.io.judges import read_arena_hard_battles

    path = judges_dir / "arena_hard_v0.1" / "arena_hard_battles.jsonl"
    levels = arena_hard_levels(read_arena_hard_battles(path, judge="gpt-4-1106-preview"))
    assert len(levels) == 2000  # both games of 500 questions for 2 models
    rep = graded_verdicts(levels, features=("tokens",))
    t = rep.table.set_index("model")
    assert rep.anchor == "gpt-4-0314"
    assert round(t.loc["gpt-4-0613", "convention_score"], 2) == 37.90  # the published CSV
    assert round(t.loc["gpt-3.5-turbo-0125", "convention_score"], 2) == 23.34
    for m in ("gpt-4-0613", "gpt-3.5-turbo-0125"):
        # both answer shorter than the baseline: style control raises both (judges README)
        assert t.loc[m, "controlled_score"] > t.loc[m, "ordinal_score"]
        assert (
            t.loc[m, "difference_ci_low"] < t.loc[m, "difference"] < t.loc[m, "difference_ci_high"]
        )
    # the 1+3 blocks: which game was strong does not matter without a position term
    flipped = levels.copy()
    amb = flipped.groupby(["prompt", "model_b"])["level"].transform(
        lambda s: (
            len(set(s)) == 2 and {v.replace(">>", ">") for v in s} == {s.iloc[0].replace(">>", ">")}
        )
    )
    swap = {"A>>B": "A>B", "A>B": "A>>B", "B>>A": "B>A", "B>A": "B>>A", "A=B": "A=B"}
    flipped.loc[amb, "level"] = flipped.loc[amb, "level"].map(swap)
    assert amb.sum() > 0
    rep2 = graded_verdicts(flipped, features=("tokens",))
    pd.testing.assert_frame_equal(rep.coefficients, rep2.coefficients, atol=1e-8)


def _as_judgments(battles, scale):
    from debias.judgments import Judgments

    frame = battles.rename(columns={"level": "verdict"})[
        ["judge", "prompt", "model_a", "model_b", "verdict"]
    ]
    return Judgments.from_dataframe(frame, scale=scale)


def test_judgments_input_equals_the_frame_input_five_and_three_levels():
    from debias.judgments import Scale

    sim = simulate_graded_verdicts(n_prompts=120, seed=6)
    five = _as_judgments(sim.battles, Scale.arena_hard())
    from_j = graded_verdicts(five)
    from_frame = graded_verdicts(sim.battles, labels=sim.labels[::-1])
    pd.testing.assert_frame_equal(from_j.table, from_frame.table)
    labels3 = ("B", "tie", "A")  # lowest first, as the simulator draws them
    sim3 = simulate_graded_verdicts(n_prompts=150, thresholds=(-0.6, 0.6), labels=labels3, seed=7)
    three = _as_judgments(sim3.battles, Scale.win_tie_loss(["A", "tie", "B"]))
    rep = graded_verdicts(three)
    t = rep.table.set_index("model")
    # three levels, weights 1: the convention is the plain win rate with ties as half
    b = sim3.battles[sim3.battles["model_a"] == "model_1"]
    raw = 100 * b["level"].map({"A": 1.0, "tie": 0.5, "B": 0.0}).mean()
    assert t.loc["model_1", "convention_score"] == pytest.approx(raw)
    truth = (
        100 * level_probabilities(np.array([sim3.truth_strengths["model_1"]]), sim3.thresholds)[0]
    )
    truth = truth @ np.array([0.0, 0.5, 1.0])
    assert (
        t.loc["model_1", "ordinal_score_ci_low"] < truth < t.loc["model_1", "ordinal_score_ci_high"]
    )


def test_mt_bench_three_levels_with_position_and_length(judges_dir):
    import warnings

    from debias.io.judges import read_judgments

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        mt = read_judgments(judges_dir / "mt_bench_position").select(judge="gpt-4-0613")
    rep = graded_verdicts(mt, features=("length",), position=True)
    assert rep.anchor == "vicuna-13b-v1.3" and len(rep.table) == 31
    co = rep.coefficients.set_index("term")
    assert {"position", "style[length]", "0|1", "1|2"} <= set(co.index)
    assert co.loc["0|1", "estimate"] == pytest.approx(-co.loc["1|2", "estimate"])
    # the convention with three levels: wins + ties / 2 over both orders, by hand
    b = mt.battles()
    m = "gpt-4"
    mine = np.where(b["model_a"] == m, b["outcome"], 1 - b["outcome"])[
        ((b["model_a"] == m) | (b["model_b"] == m)).to_numpy() & b["outcome"].notna().to_numpy()
    ]
    assert rep.table.set_index("model").loc[m, "convention_score"] == pytest.approx(
        100 * mine.mean()
    )
