"""Battle formulas (debias.battles.formula) and the position term of the battle fits, against
independent ground truth: the features= spelling, covariates computed here by hand, the
simulator's known position bias, and statsmodels' GLM on Arena-Hard (both orders)."""

from __future__ import annotations

import os

import numpy as np
import pandas as pd
import pytest
import statsmodels.api as sm

from debias.battles.design import battle_design
from debias.battles.estimator import BradleyTerry
from debias.battles.formula import parse_battle_formula
from debias.battles.leaderboard import battle_leaderboard
from debias.battles.newton import fit_newton
from debias.errors import FormulaError, InputError, ParameterError
from debias.simulate.arena import simulate_arena
from debias.simulate.position import simulate_judges


@pytest.fixture(scope="module")
def arena():
    return simulate_arena(n_models=5, n_battles=6_000, seed=3).battles


def test_formula_fit_equals_the_features_fit(arena):
    by_features = BradleyTerry(features=("tokens", "headers", "lists", "bold")).fit(arena)
    by_formula = BradleyTerry(formula="tokens + headers + lists + bold").fit(arena)
    for a, b in (
        (by_features.fit_, by_formula.fit_),
        (by_features.plain_fit_, by_formula.plain_fit_),
    ):
        np.testing.assert_allclose(a.strengths, b.strengths, rtol=0, atol=1e-12)
        np.testing.assert_allclose(a.coefficients, b.coefficients, rtol=0, atol=1e-12)
    cols = ["estimate", "std_error", "conf_low", "conf_high"]
    np.testing.assert_allclose(by_features.coef_[cols], by_formula.coef_[cols], atol=1e-12)
    assert by_formula.coef_["term"].tolist() == ["tokens", "headers", "lists", "bold"]
    # one transform written around every term = transform= of the features spelling
    everywhere = BradleyTerry(formula="diff_over_sum(tokens) + diff_over_sum(bold)").fit(arena)
    same = BradleyTerry(features=("tokens", "bold"), transform="diff_over_sum").fit(arena)
    np.testing.assert_allclose(everywhere.fit_.coefficients, same.fit_.coefficients, atol=1e-12)


def test_per_term_transforms_equal_covariates_built_by_hand(arena):
    bt = BradleyTerry(formula="diff_over_sum(tokens) + bold + difference(lists)").fit(arena)
    a, b = arena["tokens_a"].to_numpy(float), arena["tokens_b"].to_numpy(float)
    ta = np.where(a + b > 0, (a - b) / np.where(a + b > 0, a + b, 1), 0.0)
    bold = (
        (arena["bold_a"] - arena["bold_b"]) / (arena["bold_a"] + arena["bold_b"] + 1)
    ).to_numpy()
    lists = (arena["lists_a"] - arena["lists_b"]).to_numpy(float)
    frame = arena.assign(
        t=ta / ta.std(), bo=bold / bold.std(), li=lists / lists.std()
    )  # SD (ddof 0) over all rows: every simulated battle has a verdict
    fit = fit_newton(battle_design(frame, covariates=("t", "bo", "li")))
    np.testing.assert_allclose(bt.fit_.coefficients, fit.coefficients, atol=1e-9)
    np.testing.assert_allclose(bt.fit_.strengths, fit.strengths, atol=1e-9)
    assert bt.coef_["term"].tolist() == ["diff_over_sum(tokens)", "bold", "difference(lists)"]


def test_position_recovered_on_simulated_judges():
    sim = simulate_judges(
        n_models=5, n_prompts=400, judges=("gpt-judge",), self_preference=0.0, seed=11
    )
    truth = sim.truth["position"]["gpt-judge"]
    table, report = battle_leaderboard(sim.battles, formula="length + position", scale=False)
    row = report.coefficients.set_index("term").loc["position"]
    assert row["conf_low"] < truth < row["conf_high"], row
    assert row["conf_high"] - row["conf_low"] < 0.4  # an informative interval
    length = report.coefficients.set_index("term").loc["length"]
    assert length["conf_low"] < sim.truth["length"]["gpt-judge"] < length["conf_high"]
    assert "balanced over position" in report.to_text()
    # controlled strengths (position and length at 0) recover the true strengths
    strengths = pd.Series(sim.truth["strengths"])
    fitted = table.set_index("model")["controlled_strength"]
    centred = strengths - strengths.mean()
    se = table.set_index("model")["controlled_strength_se"]
    assert (np.abs(fitted - centred[fitted.index]) < 4 * se).all()


def test_position_alone_on_one_order_per_prompt_is_refused():
    sim = simulate_judges(n_models=3, n_prompts=30, judges=("gpt-judge",), seed=2)
    b = sim.battles
    # AlpacaEval's design: the baseline always shown second, one order per prompt
    fixed = b[b["model_b"] == "vicuna-sim-base"].assign(shown_first="a")
    fixed.loc[fixed["prompt"].isin(fixed["prompt"].unique()[::2]), "shown_first"] = "b"
    with pytest.raises(InputError, match="fixed function of the prompt"):
        BradleyTerry(formula="position").fit(fixed)
    with pytest.raises(InputError, match="not recorded"):
        BradleyTerry(formula="position").fit(b.assign(shown_first="unknown"))
    with pytest.raises(InputError, match="shown_first"):
        BradleyTerry(formula="position").fit(b.drop(columns="shown_first"))


def arena_hard_battles(judges_dir):
    from debias.io import read_judgments

    return read_judgments(judges_dir / "arena_hard_v0.1").battles()


@pytest.mark.filterwarnings("ignore:cov_type not fully supported with var_weights")
def test_arena_hard_position_equals_statsmodels_glm(judges_dir):
    battles = arena_hard_battles(judges_dir)
    assert set(battles["shown_first"]) == {"a", "b"}  # both orders
    bt = BradleyTerry(formula="position", identify="gpt-4-0314").fit(battles)
    # independent: model dummies (+1 A, -1 B; the baseline left out) and the position column
    models = ["gpt-3.5-turbo-0125", "gpt-4-0613"]
    exog = np.column_stack(
        [(battles["model_a"] == m).astype(float) - (battles["model_b"] == m) for m in models]
        + [np.where(battles["shown_first"] == "a", 1.0, -1.0)]
    )
    groups = pd.factorize(battles["prompt"])[0]
    glm = sm.GLM(
        battles["outcome"].to_numpy(float),
        exog,
        family=sm.families.Binomial(),
        var_weights=battles["weight"].to_numpy(float),
    ).fit(tol=1e-14, cov_type="cluster", cov_kwds={"groups": groups, "use_correction": False})
    row = bt.coef_.set_index("term").loc["position"]
    assert row["estimate"] == pytest.approx(glm.params[-1], abs=1e-6)
    g = len(np.unique(groups))  # ours has the small-sample factor G/(G-1), statsmodels' none
    assert row["std_error"] == pytest.approx(glm.bse[-1] * np.sqrt(g / (g - 1)), abs=1e-6)
    np.testing.assert_allclose(
        bt.fit_.strengths[[bt.models_.index(m) for m in models]], glm.params[:2], atol=1e-6
    )


HOSTILE = [
    ("length + lenght", "unknown name 'lenght'. Did you mean 'length'?"),
    ("__import__('os')", "'__import__' is not a transform"),
    ("__import__('os').system('touch /tmp/debias_g3_pwned')", "not a transform"),
    ("os.system('x')", "'os.system' is not a transform"),
    ("length; import os", "not terms joined by '+'"),
    ("lambda: 1", "Lambda is not a term"),
    ("length - bold", "joined by '+' only"),
    ("length + length", "repeats 'length'"),
    ("length + diff_over_sum_plus1(length)", "repeats 'length'"),
    ("log(length)", "'log' is not a transform"),
    ("diff_over_sum(length, bold)", "takes one feature name"),
    ("diff_over_sum(position)", "takes no transform"),
    ("__class__", "names starting with '__'"),
    ("1 + length", "a number is not a term"),
    ("(" * 500 + "length" + ")" * 500, "not terms joined by '+'"),
    (" + ".join(["length"] * 400), "at most 2000 are accepted"),
    ("", "formula= is empty"),
]


@pytest.mark.parametrize("formula, message", HOSTILE)
def test_hostile_formulas_are_one_line(formula, message, arena):
    with pytest.raises(FormulaError) as err:
        BradleyTerry(formula=formula).fit(arena)
    text = str(err.value)
    assert message in text and "\n" not in text
    assert len(text) < 2_600
    assert not os.path.exists("/tmp/debias_g3_pwned")


def test_bad_parameters_are_one_line(arena):
    with pytest.raises(ParameterError, match="either features= or formula="):
        BradleyTerry(features=("tokens",), formula="tokens").fit(arena)
    with pytest.raises(ParameterError, match="'formula' parameter"):
        BradleyTerry(formula=3).fit(arena)
    with pytest.raises(InputError, match="'x'.*not a finite number"):
        BradleyTerry(formula="tokens + x").fit(arena.assign(x="abc"))


def test_battle_columns_and_allowed_names():
    columns = ["prompt", "model_a", "model_b", "answer_a", "answer_b", "outcome", "x", "f_a", "f_b"]
    terms = parse_battle_formula("x + f + difference(f) + length", columns)
    assert [(t.kind, t.transform) for t in terms] == [
        ("column", None),
        ("feature", None),
        ("feature", "difference"),
        ("feature", None),
    ]
    with pytest.raises(FormulaError) as err:
        parse_battle_formula("model", columns)
    assert "unknown name 'model'" in str(err.value) and "battle columns x" in str(err.value)


def test_a_battle_column_enters_as_given(arena):
    rng = np.random.default_rng(0)
    frame = arena.assign(x=rng.normal(size=len(arena)))
    bt = BradleyTerry(formula="tokens + x").fit(frame)
    tokens = BradleyTerry(features=("tokens",)).fit(frame).design_.x[:, 0]
    fit = fit_newton(battle_design(frame.assign(t=tokens), covariates=("t", "x")))
    np.testing.assert_allclose(bt.fit_.coefficients, fit.coefficients, atol=1e-9)
    report = battle_leaderboard(frame, formula="tokens + x")[1]
    assert report.coefficients_frame()["transform"].tolist() == ["diff_over_sum_plus1", "as given"]
    assert "Battle columns as given" in report.to_text()


def test_cli_formula_on_battle_data(judges_dir, capsys):
    from debias.cli import main

    path = str(judges_dir / "arena_hard_v0.1")
    code = main(["leaderboard", path, "-q", "--formula", "length + position"])
    out, err = capsys.readouterr()
    assert code == 0, err
    assert "position" in out and "balanced over position" in out
    code = main(["leaderboard", path, "-q", "--formula", "len + x"])
    out, err = capsys.readouterr()
    assert code == 2 and "unknown name 'len'" in err and len(err.strip().splitlines()) == 1


def test_position_by_features_and_the_bootstrap_refits_it():
    sim = simulate_judges(n_models=3, n_prompts=60, judges=("gpt-judge",), seed=4)
    by_formula = BradleyTerry(formula="position").fit(sim.battles)
    by_features = BradleyTerry(features=("position",)).fit(sim.battles)
    np.testing.assert_allclose(by_formula.fit_.params, by_features.fit_.params, atol=1e-12)
    boot = BradleyTerry(formula="length + position", cov_type="bootstrap", n_boot=30).fit(
        sim.battles
    )
    row = boot.coef_.set_index("term").loc["position"]
    # the replicates refit the position term: an interval of the bootstrap's own width
    assert row["conf_low"] < row["estimate"] < row["conf_high"]
    sandwich = by_formula.coef_.set_index("term").loc["position", "std_error"]
    assert 0.5 < row["std_error"] / sandwich < 2


def test_position_intervals_cover_the_true_bias():
    """95% intervals of position (and length) over 200 simulated single-judge runs."""
    hits = {"position": 0, "length": 0}
    for seed in range(200):
        sim = simulate_judges(
            n_models=5, n_prompts=200, judges=("gpt-judge",), self_preference=0.0, seed=seed
        )
        fit = BradleyTerry(formula="length + position", scale=False).fit(sim.battles)
        coef = fit.coef_.set_index("term")
        for term in hits:
            truth = sim.truth[term]["gpt-judge"]
            hits[term] += coef.loc[term, "conf_low"] < truth < coef.loc[term, "conf_high"]
    for term, n in hits.items():  # binomial SD of the share: 1.5 points
        assert 184 <= n <= 197, (term, n)
