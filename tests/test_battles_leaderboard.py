"""The battle leaderboard and the BradleyTerry estimator (issue 12, items 3 and 5): scores
against independent ground truth (the weighted win rate, Arena-Hard's published 37.90 / 23.34,
Davidson's probabilities), the Elo scale, style control stable when a verbose model is added,
missing intervals with their reasons, the estimator's contract."""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest
from scipy.special import expit
from sklearn.base import clone

from debias.battles.estimator import BradleyTerry
from debias.battles.leaderboard import TABLE_COLUMNS, battle_leaderboard
from debias.battles.results import expected_score
from debias.errors import InputError, ParameterError
from debias.simulate.arena import simulate_arena, style_transform

CONTRACT_COLUMNS = [
    "model",
    "n",
    "strength",
    "strength_se",
    "rating",
    "score",
    "score_ci_low",
    "score_ci_high",
    "controlled_strength",
    "controlled_strength_se",
    "controlled_rating",
    "controlled_score",
    "controlled_score_ci_low",
    "controlled_score_ci_high",
]


def baseline_battles(seed=0, n_prompts=300):
    """Three models against one baseline, both orders, ties, Arena-Hard-like weights 1 or 3."""
    rng = np.random.default_rng(seed)
    rows = []
    for model, edge in (("m1", 0.4), ("m2", -0.3), ("m3", 0.0)):
        for prompt in range(n_prompts):
            for first in (True, False):
                verdict = rng.choice([1.0, 0.5, 0.0], p=[0.45 + edge / 4, 0.2, 0.35 - edge / 4])
                a, b = ("base", model) if first else (model, "base")
                rows.append((f"q{prompt}", a, b, verdict, rng.choice([1.0, 3.0])))
    return pd.DataFrame(rows, columns=["prompt", "model_a", "model_b", "outcome", "weight"])


def weighted_win_rate(battles, model, baseline):
    """P(model beats baseline) as a weighted mean, tie ½ (computed without any fit)."""
    as_a = battles[(battles["model_a"] == model) & (battles["model_b"] == baseline)]
    as_b = battles[(battles["model_b"] == model) & (battles["model_a"] == baseline)]
    wins = (as_a["outcome"] * as_a["weight"]).sum() + ((1 - as_b["outcome"]) * as_b["weight"]).sum()
    return 100 * wins / (as_a["weight"].sum() + as_b["weight"].sum())


# --------------------------------------------------------------------------- ground truth
def test_one_baseline_score_is_the_weighted_win_rate():
    battles = baseline_battles()
    table, report = battle_leaderboard(battles, features=())
    assert report.anchor == "base" and "baseline" in report.anchor_reason
    scores = table.set_index("model")["score"]
    for model in ("m1", "m2", "m3"):
        assert scores[model] == pytest.approx(weighted_win_rate(battles, model, "base"), abs=1e-9)
    assert scores["base"] == 50.0


def test_davidson_score_against_one_baseline_is_the_weighted_win_rate():
    """Davidson's score equations make P(win) + P(tie)/2 equal the observed rate too."""
    battles = baseline_battles(seed=11)
    table, report = battle_leaderboard(battles, features=(), ties="davidson")
    assert report.nu > 0 and "Davidson" in report.to_text()
    scores = table.set_index("model")["score"]
    for model in ("m1", "m2", "m3"):
        assert scores[model] == pytest.approx(weighted_win_rate(battles, model, "base"), abs=1e-8)


def test_arena_hard_published_scores_are_a_bradley_terry_test(judges_dir):
    """Arena-Hard v0.1's battles file (strong verdicts as 3 rows): 37.90 and 23.34."""
    raw = pd.read_json(judges_dir / "arena_hard_v0.1" / "arena_hard_battles.jsonl", lines=True)
    battles = raw.rename(columns={"question_id": "prompt"}).assign(
        outcome=raw["winner"].map({"model_a": 1.0, "model_b": 0.0, "tie": 0.5}), weight=1.0
    )
    table, report = battle_leaderboard(battles, features=())
    scores = table.set_index("model")
    assert report.anchor == "gpt-4-0314"
    for model, published in (("gpt-4-0613", 37.90), ("gpt-3.5-turbo-0125", 23.34)):
        row = scores.loc[model]
        assert row["score"] == pytest.approx(published, abs=0.005)
        assert row["score"] == pytest.approx(
            weighted_win_rate(battles, model, "gpt-4-0314"), abs=1e-9
        )
        # clustered by prompt (both games and the repeated rows together): wider than
        # the published bootstrap over rows (half-widths 1.5-3), never of zero width
        half = (row["score_ci_high"] - row["score_ci_low"]) / 2
        assert 2.0 < half < 5.0
    assert (scores.loc["gpt-4-0314", "n"], report.n_prompts) == (2658, 500)


def test_davidson_expected_score_matches_its_probabilities():
    """Davidson: P(A) : P(B) : P(tie) = π_A : π_B : ν √(π_A π_B); score = P(A) + P(tie)/2."""
    for pi_a, pi_b, nu in ((3.0, 1.0, 1.0), (0.2, 5.0, 0.4), (1.0, 1.0, 2.0)):
        den = pi_a + pi_b + nu * np.sqrt(pi_a * pi_b)
        direct = pi_a / den + 0.5 * nu * np.sqrt(pi_a * pi_b) / den
        assert expected_score(np.log(pi_a / pi_b), nu) == pytest.approx(direct, abs=1e-12)


def test_ratings_are_on_fastchats_elo_scale_anchored_at_1000():
    battles = baseline_battles(seed=1)
    table, _ = battle_leaderboard(battles, features=())
    row = table.set_index("model")
    assert row.loc["base", "rating"] == 1000.0
    for model in ("m1", "m2", "m3"):
        p = row.loc[model, "score"] / 100  # Elo: 400 log10 of the odds against the anchor
        assert row.loc[model, "rating"] - 1000 == pytest.approx(400 * np.log10(p / (1 - p)))


# --------------------------------------------------------------------------- style control
def verbose_arena(seed=0):
    """Noise-free battles (outcome = the true P(A wins)) of a simulated Arena, and the same
    pool plus one verbose model (answers 4x longer, more markdown). Answer A is the model
    first by name (as Arena-Hard's files put the baseline in A), so the signed style gaps
    have a pool average that the verbose model (last by name: always B) moves."""
    sim = simulate_arena(n_models=7, n_battles=30_000, seed=seed, pair_skew=0.5)
    b = sim.battles.copy()
    b["model_a"], b["model_b"] = b["model_a"].astype(str), b["model_b"].astype(str)
    swap = (b["model_a"] > b["model_b"]).to_numpy()
    for left, right in [("model_a", "model_b")] + [(f"{f}_a", f"{f}_b") for f in sim.features]:
        b[left], b[right] = b[left].where(~swap, b[right]), b[right].where(~swap, b[left])
    for side in ("a", "b"):
        for f in sim.features:
            b[f"{f}_{side}"] = b[f"{f}_{side}"].astype(float)
        verbose = (b[f"model_{side}"] == "model_6").to_numpy()
        b.loc[verbose, f"tokens_{side}"] *= 4
        b.loc[verbose, f"lists_{side}"] += 10
    theta = sim.truth_strengths
    eta = (
        theta.reindex(b["model_a"].astype(str)).to_numpy()
        - theta.reindex(b["model_b"].astype(str)).to_numpy()
    )
    for f in sim.features:
        eta = eta + sim.truth_style[f] * style_transform(b[f"{f}_a"], b[f"{f}_b"])
    b["outcome"] = expit(eta)
    pool = b[(b["model_a"] != "model_6") & (b["model_b"] != "model_6")]
    return sim, pool, b


def controlled_scores(battles, features, center):
    table, _ = battle_leaderboard(
        battles, features=features, anchor="model_0", center=center, transform="diff_over_sum_plus1"
    )
    return table.set_index("model")["controlled_score"].drop(
        ["model_0", "model_6"], errors="ignore"
    )


def test_controlled_scores_stable_when_a_verbose_model_is_added():
    sim, pool, everyone = verbose_arena()
    before = controlled_scores(pool, sim.features, center=False)
    after = controlled_scores(everyone, sim.features, center=False)
    assert np.max(np.abs(before - after.reindex(before.index))) <= 0.01
    # and they are the truth: style at zero is each model's strength alone
    theta = sim.truth_strengths
    truth = 100 * expit(theta.reindex(before.index) - theta["model_0"])
    assert np.max(np.abs(before - truth)) <= 0.01


def test_centred_covariates_move_when_a_verbose_model_is_added():
    """The documented contrast: centred, "style at zero" is the pool's average gap."""
    sim, pool, everyone = verbose_arena()
    before = controlled_scores(pool, sim.features, center=True)
    after = controlled_scores(everyone, sim.features, center=True)
    assert np.max(np.abs(before - after.reindex(before.index))) > 0.1


# --------------------------------------------------------------------------- the table
def test_columns_anchor_and_notes():
    sim = simulate_arena(n_models=4, n_battles=3_000, seed=2)
    table, report = battle_leaderboard(sim.battles, features=("tokens", "bold"))
    assert table.columns.tolist() == [*CONTRACT_COLUMNS, "note"] == TABLE_COLUMNS
    counts = pd.concat([sim.battles["model_a"], sim.battles["model_b"]]).astype(str).value_counts()
    assert report.anchor == counts.idxmax() and "most battles" in report.anchor_reason
    assert table.set_index("model")["n"].to_dict() == counts.to_dict()
    anchor = table.set_index("model").loc[report.anchor]
    assert anchor["score"] == anchor["controlled_score"] == 50.0
    assert np.isnan(anchor["score_ci_low"]) and "anchor" in anchor["note"]
    others = table[table["model"] != report.anchor]
    assert (others["controlled_score_ci_high"] > others["controlled_score_ci_low"]).all()
    assert table["controlled_score"].is_monotonic_decreasing
    text = report.to_text()
    assert "tokens" in text and "bold" in text and "uncentred" in text
    coef = report.coefficients_frame()
    assert coef["term"].tolist() == ["tokens", "bold"]
    assert {"estimate", "std_error", "conf_low", "conf_high", "p_value", "rating_points"} <= set(
        coef
    )


def test_pairs_matrix_and_winrate_agree():
    sim = simulate_arena(n_models=4, n_battles=2_000, seed=12)
    bt = BradleyTerry(features=("tokens",)).fit(sim.battles)
    res = bt.results_
    pairs = res.pairs().set_index(["model", "opponent"])
    matrix = res.matrix()
    assert len(pairs) == 12
    np.testing.assert_allclose(matrix.to_numpy() + matrix.to_numpy().T, 100.0)
    for (a, b), row in pairs.iterrows():
        assert row["estimate"] == pytest.approx(matrix.loc[a, b])
        assert row["estimate"] == pytest.approx(100 - pairs.loc[(b, a), "estimate"])
        assert row["std_error"] == pytest.approx(pairs.loc[(b, a), "std_error"])
        assert 0 <= row["conf_low"] < row["estimate"] < row["conf_high"] <= 100
    assert res.winrate("model_0", "model_1")["estimate"] == pytest.approx(
        matrix.loc["model_0", "model_1"]
    )


def test_explicit_anchor_and_unknown_anchor():
    battles = baseline_battles(seed=3)
    table, report = battle_leaderboard(battles, features=(), anchor="m1")
    assert report.anchor == "m1" and table.set_index("model").loc["m1", "score"] == 50.0
    with pytest.raises(
        ParameterError, match="anchor= 'nobody' is not in the fit; the models are base, m1"
    ):
        battle_leaderboard(battles, features=(), anchor="nobody")


def test_penalised_fit_has_no_wald_interval_and_says_why():
    sim = simulate_arena(n_models=4, n_battles=2_000, seed=4)
    table, report = battle_leaderboard(sim.battles, features=("tokens",), penalty="l2", alpha=5.0)
    assert report.penalized
    others = table[table["model"] != report.anchor]
    assert others["controlled_score_ci_low"].isna().all() and others["score_ci_low"].isna().all()
    assert others["note"].str.contains("penalised fit").all()
    assert report.coefficients["std_error"].isna().all()


def test_lasso_and_per_model_slopes():
    sim = simulate_arena(n_models=3, n_battles=1_500, seed=9)
    table, report = battle_leaderboard(sim.battles, features=("tokens",), penalty="l1", alpha=2.0)
    assert report.penalized and table["controlled_score_ci_low"].isna().all()
    table, report = battle_leaderboard(sim.battles, features=("tokens",), per_model_slopes=True)
    assert report.coefficients["term"].tolist() == [f"tokens[model_{i}]" for i in range(3)]
    others = table[table["model"] != report.anchor]
    assert (others["controlled_score_ci_high"] > others["controlled_score_ci_low"]).all()
    with pytest.raises(ParameterError, match="penalty='l1' is solved by cvxpy"):
        battle_leaderboard(sim.battles, features=("tokens",), penalty="l1", ties="davidson")


def test_separated_model_is_missing_with_its_reason():
    battles = baseline_battles(seed=5)
    battles = pd.concat(
        [
            battles,
            pd.DataFrame(
                {
                    "prompt": ["q1", "q2"],
                    "model_a": "winner",
                    "model_b": "base",
                    "outcome": 1.0,
                    "weight": 1.0,
                }
            ),
        ],
        ignore_index=True,
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        table, report = battle_leaderboard(battles, features=())
    row = table.set_index("model").loc["winner"]
    assert np.isnan(row["score"]) and np.isnan(row["strength"]) and row["note"]
    assert "winner" in report.problems


def test_bootstrap_cov_type_gives_percentile_intervals():
    sim = simulate_arena(n_models=3, n_battles=1_500, seed=6)
    table, report = battle_leaderboard(
        sim.battles, features=("tokens",), cov_type="bootstrap", n_boot=30, seed=1
    )
    assert report.cov_type == "bootstrap" and "30 replicates" in report.to_text()
    others = table[table["model"] != report.anchor]
    assert (others["controlled_score_ci_high"] > others["controlled_score_ci_low"]).all()
    assert (others["score_ci_high"] > others["score_ci_low"]).all()
    assert report.coefficients["std_error"].notna().all()


# --------------------------------------------------------------------------- the estimator
def test_estimator_contract_and_refit_resets():
    sim = simulate_arena(n_models=3, n_battles=1_500, seed=7)
    before = sim.battles.copy()
    bt = BradleyTerry(features=("tokens",))
    assert clone(bt).get_params() == bt.get_params()
    bt.fit(sim.battles)
    pd.testing.assert_frame_equal(sim.battles, before)  # the input is not touched
    assert bt.coef_["term"].tolist() == ["tokens"] and bt.plain_fit_ is not bt.fit_
    bt.set_params(features=()).fit(sim.battles)
    assert bt.coef_.empty and bt.plain_fit_ is bt.fit_ and bt.features_ == ()


def test_features_measured_on_the_judgments_answers():
    """Battles from Judgments: length and lists counted on the answer texts."""
    from debias.judgments import Judgments

    rng = np.random.default_rng(13)
    rows = []
    for q in range(120):
        a, b = rng.choice(["x", "y", "z"], size=2, replace=False)
        long_a = rng.random() < 0.5
        rows.append(
            {
                "prompt": f"q{q}",
                "model_a": a,
                "model_b": b,
                "answer_a": "- item\n" * (8 if long_a else 1) + a * int(rng.integers(1, 200)),
                "answer_b": "- item\n" * (1 if long_a else 8) + b * int(rng.integers(1, 200)),
                "verdict": float(rng.random() < (0.7 if long_a else 0.3)),
            }
        )
    judgments = Judgments.from_dataframe(pd.DataFrame(rows))
    table, report = battle_leaderboard(judgments.battles(), judgments, features=("length", "lists"))
    assert report.features == ("length", "lists")
    assert report.coefficients["term"].tolist() == ["length", "lists"]
    assert table["controlled_score"].notna().all()


def test_estimator_bad_settings_are_one_line():
    sim = simulate_arena(n_models=3, n_battles=500, seed=8)
    with pytest.raises(ParameterError, match="'transform' parameter of BradleyTerry"):
        BradleyTerry(transform="log").fit(sim.battles)
    with pytest.raises(ParameterError, match="'cov_type' parameter"):
        BradleyTerry(cov_type="hc1").fit(sim.battles)
    with pytest.raises(ParameterError, match="penalty='l2'"):
        BradleyTerry(alpha=1.0).fit(sim.battles)
    with pytest.raises(InputError, match="no columns length_a/length_b; pass judgments="):
        BradleyTerry(features=("length",)).fit(sim.battles)


def test_a_feature_that_never_varies_is_left_out_with_a_warning():
    """No answer has a header: the default features must not stop the fit; the feature is
    dropped, said in a warning and in the report, and the fit equals the one without it."""
    from debias.battles.leaderboard import battle_leaderboard
    from debias.errors import FitWarning
    from debias.simulate import simulate_arena

    sim = simulate_arena(n_models=5, n_prompts=300, n_battles=3000, seed=3)
    battles = sim.battles.assign(headers_a=0, headers_b=0)
    with pytest.warns(FitWarning, match="'headers' are the same in every battle"):
        table, report = battle_leaderboard(battles, features=("tokens", "headers"))
    assert report.features == ("tokens",) and report.dropped_features == ("headers",)
    assert "Left out (the same in every battle): headers." in report.to_text()
    alone, _ = battle_leaderboard(sim.battles, features=("tokens",))
    np.testing.assert_allclose(
        table["controlled_score"].to_numpy(float), alone["controlled_score"].to_numpy(float)
    )


def test_score_interval_is_the_strength_interval_mapped_to_a_win_rate():
    """A weak model's score interval stays inside (0, 100) without clipping: it is the
    interval of its rating difference to the anchor mapped through the logistic curve."""
    from debias.battles.results import ELO_PER_LOGIT

    sim = simulate_arena(n_models=4, n_prompts=200, n_battles=1500, seed=5)
    bt = BradleyTerry(features=()).fit(sim.battles)
    anchor = bt.models_[0]
    scores = bt.results_.scores(anchor).set_index("model")
    ratings = bt.results_.ratings(anchor).set_index("model")
    for model in bt.models_[1:]:
        d_low = (ratings.loc[model, "conf_low"] - 1000) / ELO_PER_LOGIT
        d_high = (ratings.loc[model, "conf_high"] - 1000) / ELO_PER_LOGIT
        assert scores.loc[model, "conf_low"] == pytest.approx(100 * expit(d_low), rel=1e-9)
        assert scores.loc[model, "conf_high"] == pytest.approx(100 * expit(d_high), rel=1e-9)
        assert 0 < scores.loc[model, "conf_low"] < scores.loc[model, "estimate"]


def test_default_length_is_in_tokens_only_when_every_answer_has_a_count():
    """Arena counts tokens: the default features use stored token counts when every answer of
    the battles has one, characters otherwise."""
    from debias.judgments import Judgments

    df = pd.DataFrame(
        {
            "prompt": [f"q{i}" for i in range(40)],
            "model_a": ["x", "y"] * 20,
            "model_b": ["y", "x"] * 20,
            "answer_a": [f"a{i} " * (i % 7 + 1) + "- item" * (i % 2) for i in range(40)],
            "answer_b": [f"b{i} " * (i % 5 + 1) + "**bold**" * (i % 3 == 0) for i in range(40)],
            "verdict": [1.0, 0.0, 0.5, 1.0] * 10,
            "tokens_a": [float(i % 7 + 1) for i in range(40)],
            "tokens_b": [float(i % 5 + 1) for i in range(40)],
        }
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        j = Judgments.from_dataframe(df)
        bt = BradleyTerry().fit(j.battles(), j)
        assert bt.features_[0] == "tokens"
        j2 = Judgments.from_dataframe(df.drop(columns=["tokens_a", "tokens_b"]))
        bt2 = BradleyTerry().fit(j2.battles(), j2)
        assert bt2.features_[0] == "length"


def test_a_separated_model_does_not_take_the_other_intervals_away():
    """x wins all its battles (no finite strength): its row is missing with the reason, and the
    other models keep their intervals (its NaN row of the covariance poisoned every variance)."""
    frame = pd.DataFrame(
        {
            "prompt": [f"p{i}" for i in range(12)],
            "model_a": ["x", "x", "y", "z", "y", "z", "y", "z", "y", "z", "y", "z"],
            "model_b": ["y", "z", "z", "y", "z", "y", "z", "y", "z", "y", "z", "y"],
            "outcome": [1, 1, 0.5, 0, 1, 0, 0, 1, 1, 0.5, 0, 1.0],
        }
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        bt = BradleyTerry(features=()).fit(frame)
    s = bt.results_.strengths().set_index("model")
    assert np.isnan(s.loc["x", "estimate"]) and "separation" in s.loc["x", "note"]
    assert (s.loc[["y", "z"], "std_error"] > 0).all()
    assert (s.loc[["y", "z"], "conf_low"] < s.loc[["y", "z"], "estimate"]).all()
    score = bt.results_.scores("y").set_index("model").loc["z"]
    assert 0 < score["conf_low"] < score["estimate"] < score["conf_high"] < 100
