"""The two-stage GLM against ground truth: the simulator's parameters, statsmodels, cvxpy."""

import pickle
import warnings

import numpy as np
import pandas as pd
import pytest
import statsmodels.api as sm

from debias import Comparisons
from debias.counterfactual import avg_predictions
from debias.errors import DataWarning, FormulaError, InputError, ParameterError
from debias.io import read_difficulty
from debias.model.glm import PreferenceGLM
from debias.simulate import simulate


def _fit(comps, **kw):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DataWarning)
        return PreferenceGLM(**kw).fit(comps)


def test_recovers_simulated_length_slope_and_strength():
    sim = simulate(
        n_models=4,
        n_instructions=3000,
        length_effect=0.8,
        markdown_effect=0.0,
        difficulty_sd=0.0,
        seed=3,
    )
    fit = _fit(sim.comparisons, preset="length_controlled_minimal", difficulty="none")
    truth = sim.truth.set_index("model")
    for m, res in fit.results_.items():
        assert res.params["tanh(scaled(length))"] == pytest.approx(0.8, abs=4 * res.bse.iloc[1])
        theta = truth.loc[m, "theta"] - truth.loc[sim.comparisons.baselines[0], "theta"]
        assert res.params["strength"] == pytest.approx(theta, abs=4 * res.bse.iloc[0])


def test_lc_close_to_truth(sim):
    # the simulated judge's own functional form: tanh of the SD-scaled length difference and the
    # raw markdown-count difference (the truth holds both at "no difference")
    fit = _fit(sim.comparisons, formula="tanh(scaled(length)) + markdown + difficulty")
    lc = avg_predictions(fit).set_index("model")
    truth = sim.truth.set_index("model")
    err = (lc["estimate"] * 100 - truth["true_lc_win_rate"]).abs()
    assert err.max() < 5  # 300 instructions: SE ~ 2 points
    z = (lc["estimate"] * 100 - truth["true_lc_win_rate"]) / (lc["std_error"] * 100).replace(
        0, np.nan
    )
    assert (z.abs().dropna() < 4).all()


def test_stage2_matches_statsmodels_on_the_same_design(sim):
    fit = _fit(sim.comparisons, preset="length_controlled_noreg")
    for res in list(fit.results_.values())[:3]:
        X = res.design_matrix()
        ref = sm.GLM(res.y, X, family=sm.families.Binomial()).fit(tol=1e-13)
        np.testing.assert_allclose(res.params.to_numpy(), ref.params, atol=1e-6)
        np.testing.assert_allclose(
            res.cov_params("model").to_numpy(), ref.cov_params(), rtol=1e-4, atol=1e-10
        )


def test_newton_and_cvxpy_agree_with_regularisation(sim):
    comps = sim.comparisons
    base = comps.baselines[0]
    reg = comps.select(models=comps.models[:2]).data.assign(model=lambda d: d["model"] + "_variant")
    reg = Comparisons.from_dataframe(reg)
    kw = dict(formula="tanh(scaled(length))", regularize=reg, lam=0.2, difficulty="none")
    newton = _fit(comps, **kw)
    cvx = _fit(comps, solver="cvxpy", **kw)
    np.testing.assert_allclose(newton.params_.to_numpy(), cvx.params_.to_numpy(), atol=1e-6)
    # statsmodels on one model's stacked problem (own rows + weighted variant rows)
    problem = newton.stage2_problem()
    X, y, w, group, names = problem.X, problem.y, problem.weights, problem.group, problem.models
    Xr, rr = problem.shared_X, problem.shared_rows
    sel = group == 1
    ref = sm.GLM(
        np.r_[rr["preference"], y[sel]],
        np.vstack([Xr, X[sel]]),
        family=sm.families.Binomial(),
        var_weights=np.r_[rr["_weight"], w[sel]],
    ).fit(tol=1e-13)
    np.testing.assert_allclose(newton.params_.loc[names[1]].to_numpy(), ref.params, atol=1e-6)
    assert base in newton.models_


def test_penalty_mode_pulls_toward_variant_slopes(sim):
    comps = sim.comparisons
    reg = Comparisons.from_dataframe(
        comps.select(models=comps.models[:2]).data.assign(model=lambda d: d["model"] + "_v")
    )
    kw = dict(
        formula="tanh(scaled(length))", regularize=reg, difficulty="none", regularize_mode="penalty"
    )
    weak = _fit(comps, lam=1e-6, **kw).params_.iloc[:, 1]
    strong = _fit(comps, lam=1e4, **kw).params_.iloc[:, 1]
    fitted = [m for m in comps.models if m != comps.baselines[0]]
    assert strong[fitted].std() < weak[fitted].std() / 10  # all pulled to one slope


def test_l1_and_sign_constraints_via_cvxpy(sim):
    free = _fit(sim.comparisons, formula="tanh(scaled(length))", difficulty="none")
    term = "tanh(scaled(length))"
    bounded = _fit(
        sim.comparisons, formula=term, difficulty="none", solver="cvxpy", bounds={term: (None, 0.0)}
    )
    assert (bounded.params_[term] <= 1e-7).all()
    assert (free.params_[term] > 0).any()
    l1 = _fit(
        sim.comparisons, formula=term, difficulty="none", solver="cvxpy", penalty="l1", alpha=1e5
    )
    assert np.allclose(l1.params_[term], 0, atol=1e-5)


def test_baseline_is_exactly_50_and_identity(sim):
    fit = _fit(sim.comparisons, preset="length_controlled_noreg")
    lc = avg_predictions(fit).set_index("model")
    assert lc.loc[sim.comparisons.baselines[0], "estimate"] == 0.5


def test_stage1_recovers_simulated_difficulty():
    sim = simulate(n_models=12, n_instructions=200, difficulty_sd=1.0, seed=5)
    fit = _fit(sim.comparisons, preset="length_controlled_noreg", difficulty_l2=0.0)
    est = fit.difficulty_.values
    true = sim.difficulty.reindex(est.index) if isinstance(sim.difficulty, pd.Series) else None
    if true is None:
        true = pd.Series(sim.difficulty.set_index("instruction")["difficulty"]).reindex(est.index)
    assert np.corrcoef(est, true)[0, 1] > 0.8
    assert fit.stage1_.converged


def test_stage1_keyed_by_instruction_not_position(sim):
    """Shuffling row order (and so positions) changes nothing."""
    fit = _fit(sim.comparisons, preset="length_controlled_noreg")
    shuffled = Comparisons.from_dataframe(sim.comparisons.data.sample(frac=1, random_state=0))
    fit2 = _fit(shuffled, preset="length_controlled_noreg")
    common = fit.difficulty_.values.index
    diff = fit.difficulty_.values - fit2.difficulty_.values.reindex(common)
    # the reference instruction may differ: compare up to a constant
    assert (diff - diff.mean()).abs().max() < 1e-6


def test_difficulty_roundtrip_both_layouts(sim, tmp_path):
    from debias.model.difficulty import Difficulty

    fit = _fit(sim.comparisons, preset="length_controlled_noreg")
    d = fit.difficulty_
    d.to_csv(tmp_path / "a.csv")
    back = Difficulty.from_csv(tmp_path / "a.csv")
    np.testing.assert_allclose(back.values.reindex(d.values.index), d.values)
    order = list(d.values.index)
    d.to_csv(tmp_path / "b.csv", instruction_order=order)
    assert list(pd.read_csv(tmp_path / "b.csv").columns) == ["index", "instruction_difficulty"]
    np.testing.assert_allclose(
        Difficulty.from_csv(tmp_path / "b.csv", order).lookup(order), d.lookup(order)
    )
    with pytest.raises(InputError, match="by position"):
        Difficulty.from_csv(tmp_path / "b.csv")


def test_missing_difficulty_names_the_instructions(sim, tmp_path):
    pd.DataFrame({"instruction": ["nope"], "difficulty": [0.0]}).to_csv(
        tmp_path / "d.csv", index=False
    )
    with pytest.raises(InputError, match="have no difficulty"):
        _fit(
            sim.comparisons,
            preset="length_controlled_noreg",
            difficulty=read_difficulty(tmp_path / "d.csv", sim.comparisons),
        )


def test_formula_errors_name_the_term(sim):
    with pytest.raises(FormulaError, match="'lenght'.*Did you mean 'length'"):
        _fit(sim.comparisons, formula="tanh(scaled(lenght))", difficulty="none")
    with pytest.raises(FormulaError, match="left-hand side"):
        _fit(sim.comparisons, formula="wins ~ length", difficulty="none")
    with pytest.raises(FormulaError, match="strength"):
        _fit(sim.comparisons, formula="strength + length", difficulty="none")
    with pytest.raises(ParameterError, match="Unknown preset"):
        _fit(sim.comparisons, preset="length_controled_v1")
    with pytest.raises(ParameterError, match="uses 'difficulty'"):
        _fit(sim.comparisons, preset="length_controlled_noreg", difficulty="none")


def test_parameter_errors_in_sklearn_wording(sim):
    with pytest.raises(ParameterError, match="The 'solver' parameter of PreferenceGLM must be"):
        _fit(sim.comparisons, solver="lbfgs")
    with pytest.raises(
        ParameterError,
        match="The 'alpha' parameter of PreferenceGLM must be a float in \\[0, inf\\). Got -1",
    ):
        _fit(sim.comparisons, alpha=-1)
    with pytest.raises(ParameterError, match="penalty='l1' needs solver='cvxpy'"):
        _fit(sim.comparisons, penalty="l1", alpha=1.0)


def test_reference_failure_cases_work():
    """None outputs, all-equal lengths, < 5 rows, baseline vs itself: no crash."""
    rows = pd.DataFrame(
        {
            "instruction": ["a", "b", "c", "a", "b", "c", "a", "b", "c"],
            "model": ["m1"] * 3 + ["m2"] * 3 + ["base"] * 3,
            "baseline": "base",
            "output_model": [None, "xx", "yyy", "x", "yy", "zzz", "a", "bb", "ccc"],
            "output_baseline": ["a", "bb", "ccc"] * 3,
            "preference": [0.2, 0.7, 0.4, 0.6, 0.3, 0.55, 0.5, 0.5, 0.5],
        }
    )
    with pytest.warns(DataWarning, match="missing output"):
        comps = Comparisons.from_dataframe(rows)
    for kw in (
        dict(preset="length_controlled_minimal", difficulty="none"),
        dict(preset="length_controlled_minimal", difficulty="none", solver="alpaca_eval"),
        dict(preset="length_controlled_noreg", difficulty="fit"),
    ):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            fit = PreferenceGLM(**kw).fit(comps)
        lc = avg_predictions(fit, se="sem").set_index("model")
        assert lc.loc["base", "estimate"] == 0.5
        # 3 judgments per model cannot support a controlled score: missing, with the reason
        assert lc.loc[["m1", "m2"], "estimate"].isna().all()
        assert lc.loc[["m1", "m2"], "note"].str.startswith("too few judgments (3 < ").all()
    # m2 has all-equal lengths (2 == 2): its length slope is not identified and held at 0
    fit = PreferenceGLM(preset="length_controlled_minimal", difficulty="none").fit(comps)
    assert fit.results_["m2"].params.iloc[1] == 0.0
    assert np.isnan(fit.results_["m2"].bse.iloc[1])


def test_out_of_range_preference_is_an_error_naming_rows():
    df = pd.DataFrame(
        {"instruction": list("abc"), "model": "m", "baseline": "b", "preference": [0.2, 2.5, 0.1]}
    )
    with pytest.raises(InputError, match=r"row\(s\) 1 .*2\.5"):
        Comparisons.from_dataframe(df)


def test_fit_does_not_mutate_input(sim):
    before = sim.comparisons.data.copy()
    _fit(sim.comparisons, preset="style_controlled")
    pd.testing.assert_frame_equal(sim.comparisons.data, before)


def test_summary_renders(sim):
    fit = _fit(sim.comparisons, preset="style_controlled")
    res = next(iter(fit.results_.values()))
    text = str(res.summary())
    assert "coef" in text and "diff_over_sum(headers_model, headers_baseline)" in text
    assert "<table" in res.summary()._repr_html_()
    assert res.conf_int().shape == (len(res.params), 2)


def test_fitted_difficulty_widens_the_standard_errors(sim):
    """With γ fitted from the same judgments the SEs include its estimation (two-stage)."""
    fit = _fit(sim.comparisons, preset="length_controlled_noreg")
    res = next(iter(fit.results_.values()))
    assert res.two_stage is not None
    naive = np.sqrt(np.diag(res.naive_influence().pipe(lambda d: d.T @ d)))
    naive = pd.Series(naive * np.sqrt(len(res.y) / (len(res.y) - 1)), index=res.columns)
    for term in ("strength", "tanh(scaled(length))"):  # the slopes identified within instructions
        assert res.bse[term] > 1.1 * naive[term]
    assert "difficulty's estimation included" in str(res.summary())
    loaded = _fit(
        sim.comparisons,
        preset="length_controlled_noreg",
        difficulty=fit.difficulty_.__class__(fit.difficulty_.values, None, "a file"),
    )
    assert next(iter(loaded.results_.values())).two_stage is None


def test_stage2_problem_refits_the_fit_exactly(sim):
    """The public stage-2 problem (what the bootstrap refits) gives back the fitted
    coefficients with the fit's own weights, and other ones with other weights."""
    fit = _fit(sim.comparisons, formula="tanh(scaled(length))", difficulty="none")
    problem = fit.stage2_problem()
    assert fit.baseline_ not in problem.models and len(problem.models) > 1
    coef = problem.refit(problem.weights)
    expected = fit.params_.loc[problem.models].to_numpy()
    np.testing.assert_allclose(coef, expected, atol=1e-10)
    rng = np.random.default_rng(0)
    other = problem.refit(problem.weights * rng.poisson(1.0, len(problem.weights)))
    assert np.abs(other - expected).max() > 1e-4
    light = pickle.loads(pickle.dumps(problem))
    np.testing.assert_allclose(light.refit(problem.weights), coef, atol=0)
