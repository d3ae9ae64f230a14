"""Bradley–Terry over battles (debias.battles.design / newton / convex) against
independent ground truth: arena-rank's worked example, statsmodels' GLM, a direct
optimisation of Davidson's likelihood, and invariances."""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest
import statsmodels.api as sm
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.optimize import minimize

from debias.battles import newton
from debias.battles.design import battle_design, unsupported_models
from debias.battles.newton import fit_newton
from debias.errors import DataWarning, FitWarning, InputError, ParameterError


def four_teams() -> pd.DataFrame:
    """arena-rank's worked example: A-B 2:3, A-D 1:4, B-C 5:3, C-D 1:3 (wins of the first)."""
    games = [("A", "B", 2, 3), ("A", "D", 1, 4), ("B", "C", 5, 3), ("C", "D", 1, 3)]
    rows = []
    for first, second, won, lost in games:
        rows.append({"model_a": first, "model_b": second, "outcome": 1.0, "weight": won})
        rows.append({"model_a": first, "model_b": second, "outcome": 0.0, "weight": lost})
    return pd.DataFrame(rows)


def random_battles(seed: int, n: int = 400, m: int = 6, k: int = 2, ties: float = 0.0):
    rng = np.random.default_rng(seed)
    a = rng.integers(0, m, n)
    b = (a + rng.integers(1, m, n)) % m
    strength = rng.normal(0, 1, m)
    x = rng.normal(0, 1, (n, k))
    beta = np.linspace(0.5, -0.3, k)
    eta = strength[a] - strength[b] + x @ beta
    y = (rng.random(n) < 1 / (1 + np.exp(-eta))).astype(float)
    y[rng.random(n) < ties] = 0.5
    frame = pd.DataFrame(
        {
            "prompt": rng.integers(0, n // 3, n).astype(str),
            "model_a": [f"m{j}" for j in a],
            "model_b": [f"m{j}" for j in b],
            "outcome": y,
            "weight": rng.uniform(0.5, 2.0, n),
        }
    )
    for f in range(k):
        frame[f"x{f}"] = x[:, f]
    return frame, [f"x{f}" for f in range(k)]


def test_arena_rank_four_team_example():
    fit = fit_newton(battle_design(four_teams()))
    np.testing.assert_allclose(np.exp(fit.strengths), [0.640, 1.043, 0.660, 2.270], atol=1e-3)
    assert fit.converged and fit.strengths.sum() == pytest.approx(0, abs=1e-12)
    assert "sum to zero" in fit.identify and not fit.penalized and not fit.problems
    ref = fit_newton(battle_design(four_teams()), identify="B")
    assert ref.strengths[1] == 0 and "'B'" in ref.identify
    np.testing.assert_allclose(ref.strengths, fit.strengths - fit.strengths[1], atol=1e-12)


def dummy_design(design, reference: int) -> np.ndarray:
    m = design.n_models
    rows = np.arange(design.n)
    z = np.zeros((design.n, m))
    np.add.at(z, (rows, design.a), 1.0)
    np.add.at(z, (rows, design.b), -1.0)
    return np.column_stack([np.delete(z, reference, axis=1), design.x])


@pytest.mark.parametrize("seed, warm_start", [(0, False), (1, False), (2, True)])
def test_newton_equals_statsmodels_glm(seed, warm_start, monkeypatch):
    if warm_start:  # start from the pair-summed fit without covariates, as for many battles
        monkeypatch.setattr(newton, "WARM_START_ROWS", 0)
    frame, covariates = random_battles(seed)
    if seed == 1:
        frame["weight"] = 1.0  # the unweighted shortcut
    design = battle_design(frame, covariates=covariates)
    fit = fit_newton(design, identify="m0")
    glm = sm.GLM(
        design.outcome,
        dummy_design(design, 0),
        family=sm.families.Binomial(),
        var_weights=design.weight,
    ).fit(tol=1e-14, scale=1.0)
    m = design.n_models
    np.testing.assert_allclose(fit.strengths[1:], glm.params[: m - 1], atol=1e-8)
    np.testing.assert_allclose(fit.coefficients, glm.params[m - 1 :], atol=1e-8)
    assert fit.loglik == pytest.approx(glm.llf, abs=1e-8)
    # model-based covariance: J H^-1 J^T equals statsmodels' (reference row and column 0)
    jac = fit.full_from_free
    cov = jac @ np.linalg.inv(fit.hessian()) @ jac.T
    keep = np.r_[1:m, m : m + len(covariates)]
    np.testing.assert_allclose(cov[np.ix_(keep, keep)], glm.cov_params(), atol=1e-8)
    assert np.abs(cov[0]).max() < 1e-12
    # per-row scores sum to zero at the estimate; dense and sparse agree
    scores = fit.row_scores()
    assert scores.shape == (design.n, len(fit.params))
    np.testing.assert_allclose(scores.sum(axis=0), 0, atol=1e-7)
    np.testing.assert_allclose(fit.row_scores(sparse=True).toarray(), scores)


def test_per_model_slopes_equal_statsmodels_glm():
    frame, covariates = random_battles(3, n=800, m=4, k=1)
    design = battle_design(frame, covariates=covariates)
    fit = fit_newton(design, per_model_slopes=True, identify="m0")
    m, n = design.n_models, design.n
    half = np.zeros((n, m))  # x (beta_a + beta_b) / 2
    np.add.at(half, (np.arange(n), design.a), design.x[:, 0] / 2)
    np.add.at(half, (np.arange(n), design.b), design.x[:, 0] / 2)
    exog = np.column_stack([dummy_design(design, 0)[:, : m - 1], half])
    glm = sm.GLM(
        design.outcome, exog, family=sm.families.Binomial(), var_weights=design.weight
    ).fit(tol=1e-14)
    np.testing.assert_allclose(fit.strengths[1:], glm.params[: m - 1], atol=1e-8)
    np.testing.assert_allclose(fit.coefficients, glm.params[m - 1 :], atol=1e-8)
    assert fit.coefficient_names == tuple(f"x0[m{j}]" for j in range(m))
    jac = fit.full_from_free
    cov = jac @ np.linalg.inv(fit.hessian()) @ jac.T
    np.testing.assert_allclose(cov[1:, 1:], glm.cov_params(), atol=1e-8)
    # row scores and Hessian together: the robust (HC0) covariance equals statsmodels'
    scores = fit.row_scores(sparse=True)
    bread = np.linalg.inv(fit.hessian())
    robust = jac @ bread @ (scores.T @ scores).toarray() @ bread @ jac.T
    hc0 = sm.GLM(
        design.outcome, exog, family=sm.families.Binomial(), var_weights=design.weight
    ).fit(tol=1e-14, cov_type="HC0")
    np.testing.assert_allclose(robust[1:, 1:], hc0.cov_params(), atol=1e-8)


def davidson_negloglik(theta, design):
    """Davidson (1970), written from its definition: pi = exp(s), ties nu sqrt(pi_a pi_b)."""
    m = design.n_models
    s = np.r_[0.0, theta[: m - 1]]
    beta, nu = theta[m - 1 : -1], np.exp(theta[-1])
    log_pa = s[design.a] + design.x @ beta / 2
    log_pb = s[design.b] - design.x @ beta / 2
    pa, pb = np.exp(log_pa), np.exp(log_pb)
    tie = nu * np.sqrt(pa * pb)
    total = pa + pb + tie
    y = design.outcome
    prob = np.where(y == 1, pa, np.where(y == 0, pb, tie)) / total
    return -np.sum(design.weight * np.log(prob))


def test_davidson_equals_direct_optimisation():
    frame, covariates = random_battles(5, n=600, m=5, k=1, ties=0.2)
    design = battle_design(frame, covariates=covariates)
    fit = fit_newton(design, ties="davidson", identify="m0")
    m = design.n_models
    res = minimize(
        davidson_negloglik,
        np.zeros(m + 1),
        args=(design,),
        method="BFGS",
        options={"gtol": 1e-9},
    )
    np.testing.assert_allclose(fit.strengths[1:], res.x[: m - 1], atol=1e-5)
    np.testing.assert_allclose(fit.coefficients, res.x[m - 1 : -1], atol=1e-5)
    assert fit.nu == pytest.approx(np.exp(res.x[-1]), rel=1e-5)
    assert fit.loglik == pytest.approx(-res.fun, abs=1e-7)
    assert fit.param_names[-1] == "log_nu" and fit.ties == "davidson"
    np.testing.assert_allclose(fit.row_scores().sum(axis=0), 0, atol=1e-6)
    # the analytic Hessian equals a finite-difference one of the objective
    h = 1e-5
    grad = [
        (
            fit.problem.derivatives(fit.params + h * e)[1]
            - fit.problem.derivatives(fit.params - h * e)[1]
        )
        / (2 * h)
        for e in np.eye(len(fit.params))
    ]
    np.testing.assert_allclose(fit.hessian(), np.array(grad), rtol=1e-6, atol=1e-6)


def test_davidson_needs_hard_outcomes_and_some_ties():
    frame, _ = random_battles(6, ties=0.0)
    with pytest.raises(InputError, match="no battle is a tie"):
        fit_newton(battle_design(frame), ties="davidson")
    with pytest.raises(InputError, match="soft verdict"):
        fit_newton(battle_design(frame.assign(outcome=0.3)), ties="davidson")


def swap_sides(frame: pd.DataFrame, flip: np.ndarray, covariates) -> pd.DataFrame:
    out = frame.copy()
    out.loc[flip, ["model_a", "model_b"]] = frame.loc[flip, ["model_b", "model_a"]].to_numpy()
    out.loc[flip, "outcome"] = 1 - frame.loc[flip, "outcome"]
    for c in covariates:
        out.loc[flip, c] = -frame.loc[flip, c]
    return out


@settings(max_examples=25, deadline=None)
@given(
    seed=st.integers(0, 10_000),
    flips=st.integers(0, 2**31),
    ties=st.sampled_from(["half", "davidson"]),
    per_model=st.booleans(),
)
def test_swapping_sides_and_relabelling_change_nothing(seed, flips, ties, per_model):
    frame, covariates = random_battles(seed, n=300, m=4, k=1, ties=0.15)
    flip = np.random.default_rng(flips).random(len(frame)) < 0.5
    kw = {"ties": ties, "per_model_slopes": per_model}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FitWarning)
        base = fit_newton(battle_design(frame, covariates=covariates), **kw)
        swapped = fit_newton(
            battle_design(swap_sides(frame, flip, covariates), covariates=covariates), **kw
        )
        names = {"m0": "z", "m1": "c", "m2": "a", "m3": "b"}  # sorted order: a b c z
        renamed = frame.replace({"model_a": names, "model_b": names})
        relabelled = fit_newton(battle_design(renamed, covariates=covariates), **kw)
    np.testing.assert_allclose(swapped.strengths, base.strengths, atol=1e-8)
    np.testing.assert_allclose(swapped.coefficients, base.coefficients, atol=1e-8)
    assert swapped.loglik == pytest.approx(base.loglik, abs=1e-8)
    order = [relabelled.design.models.index(names[m]) for m in base.design.models]
    np.testing.assert_allclose(relabelled.strengths[order], base.strengths, atol=1e-8)


def test_a_model_that_never_loses_has_no_strength():
    frame, _ = random_battles(7, n=300, m=4, k=0)
    unbeaten = pd.DataFrame(
        {"model_a": "champ", "model_b": ["m0", "m1", "m2"], "outcome": 1.0, "weight": 1.0}
    )
    data = pd.concat([frame, unbeaten.assign(prompt="p")], ignore_index=True)
    design = battle_design(data)
    assert set(unsupported_models(design)) == {"champ"}
    with pytest.warns(FitWarning, match="champ: wins all its 3 battles"):
        fit = fit_newton(design)
    j = design.models.index("champ")
    assert np.isnan(fit.strengths[j]) and "separation" in fit.problems["champ"]
    assert np.isnan(fit.full_from_free[j]).all()
    # the others are the fit without champ's battles (its battles carry no information)
    alone = fit_newton(battle_design(frame))
    np.testing.assert_allclose(np.delete(fit.strengths, j), alone.strengths, atol=1e-10)
    with pytest.raises(InputError, match="champ"):
        fit_newton(design, identify="champ")
    ridge = fit_newton(design, l2=(1.0, 0.0))  # a ridge on strengths keeps it finite
    assert not ridge.problems and np.isfinite(ridge.strengths).all() and ridge.penalized
    assert ridge.strengths[j] == ridge.strengths.max()


def test_disconnected_groups_are_reported():
    data = pd.DataFrame(
        {
            "model_a": ["a", "b", "a", "x", "y"],
            "model_b": ["b", "c", "c", "y", "x"],
            "outcome": [1.0, 0.5, 0.0, 1.0, 1.0],  # a > b, b = c, c > a
        }
    )
    with pytest.warns(FitWarning):
        fit = fit_newton(battle_design(data))
    assert set(fit.problems) == {"x", "y"}
    assert "never compared" in fit.problems["x"]
    assert np.isfinite(fit.strengths[:3]).all() and np.isnan(fit.strengths[3:]).all()


def test_non_convergence_warns():
    frame, covariates = random_battles(8)
    with pytest.warns(FitWarning, match="did not converge"):
        fit = fit_newton(battle_design(frame, covariates=covariates), max_iter=1)
    assert not fit.converged


def test_bad_battles_are_refused_with_the_row():
    frame, covariates = random_battles(9, n=30)
    with pytest.raises(InputError, match=r"row\(s\) 3 have an outcome outside"):
        battle_design(frame.assign(outcome=frame["outcome"].where(frame.index != 3, 2.0)))
    with pytest.raises(InputError, match="'x0' is missing"):
        battle_design(frame.assign(x0=np.nan), covariates=covariates)
    with pytest.raises(InputError, match="not in models="):
        battle_design(frame, models=["m0", "m1"])
    with pytest.raises(InputError, match="no column"):
        battle_design(frame, covariates=["length"])
    with pytest.raises(InputError, match="weight"):
        battle_design(frame.assign(weight=-1.0))
    with pytest.warns(DataWarning, match="1 of 30 rows have no verdict"):
        d = battle_design(frame.assign(outcome=frame["outcome"].where(frame.index != 0)))
    assert d.n == 29 and d.rows[0] == 1
    with pytest.raises(InputError, match="0 in every battle"):
        fit_newton(battle_design(frame.assign(x0=0.0), covariates=covariates))
    with pytest.raises(ParameterError, match="'ties'"):
        fit_newton(battle_design(frame), ties="rao")
    with pytest.raises(ParameterError, match="'identify'"):
        fit_newton(battle_design(frame), identify="nobody")
    with pytest.raises(ParameterError, match="'l2'"):
        fit_newton(battle_design(frame), l2=-1.0)


@pytest.mark.parametrize("l2", [0.5, (2.0, 0.0), (0.0, 3.0)])
def test_cvxpy_ridge_equals_newton_with_the_same_ridge(l2):
    from debias.battles.convex import fit_convex

    frame, covariates = random_battles(11, n=1500, m=7, k=2)
    design = battle_design(frame, covariates=covariates)
    convex, newton = fit_convex(design, l2=l2), fit_newton(design, l2=l2)
    np.testing.assert_allclose(convex.strengths, newton.strengths, atol=1e-6)
    np.testing.assert_allclose(convex.coefficients, newton.coefficients, atol=1e-6)
    assert convex.penalized and newton.penalized
    # a mean loss with penalty c is a summed loss with penalty c * total weight
    mean = fit_convex(design, l2=(0.0, 50.0), loss="mean")
    summed = fit_newton(design, l2=(0.0, 50.0 * design.weight.sum()))
    np.testing.assert_allclose(mean.coefficients, summed.coefficients, atol=1e-6)
    assert np.all(np.abs(mean.coefficients) < np.abs(fit_newton(design).coefficients) / 5)


def test_cvxpy_lasso_and_bounds_against_refits_without_the_covariate():
    from debias.battles.convex import fit_convex

    frame, covariates = random_battles(12, n=1500, m=5, k=2)
    design = battle_design(frame, covariates=covariates)
    free = fit_convex(design)
    np.testing.assert_allclose(free.strengths, fit_newton(design).strengths, atol=1e-6)
    assert not free.penalized
    # x0's true slope is +0.5: bounded above by 0, it sits at 0, and the rest is the fit without it
    bounded = fit_convex(design, bounds={"x0": (None, 0.0)})
    without = fit_newton(battle_design(frame, covariates=["x1"]))
    assert bounded.coefficients[0] == pytest.approx(0, abs=1e-7) and bounded.penalized
    np.testing.assert_allclose(bounded.strengths, without.strengths, atol=1e-6)
    np.testing.assert_allclose(bounded.coefficients[1], without.coefficients[0], atol=1e-6)
    # a lasso large enough removes both covariates: the strengths of the plain fit
    lasso = fit_convex(design, l1=(0.0, 1e4))
    np.testing.assert_allclose(lasso.coefficients, 0, atol=1e-6)
    np.testing.assert_allclose(
        lasso.strengths, fit_newton(battle_design(frame)).strengths, atol=1e-6
    )
    with pytest.raises(ParameterError, match="bounds="):
        fit_convex(design, bounds={"length": (0, None)})
    with pytest.raises(ParameterError, match="'loss'"):
        fit_convex(design, loss="median")


def test_a_covariate_that_separates_the_outcomes_has_no_coefficient():
    frame, covariates = random_battles(13, n=300, m=4, k=1)
    frame["outcome"] = (frame["x0"] > 0).astype(float)  # the longer answer always wins
    design = battle_design(frame, covariates=covariates)
    assert not unsupported_models(design)  # every model wins and loses: the graph is fine
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        fit = fit_newton(design)
    said = " | ".join(str(w.message) for w in caught if w.category is FitWarning)
    assert "separation" in said and "x0" in said and "did not converge" in said
    assert np.isnan(fit.coefficients[0]) and "separation" in fit.problems["x0"]
    assert np.isnan(fit.full_from_free[design.n_models]).all()


def test_a_listed_model_without_battles_is_missing_not_zero():
    frame, _ = random_battles(14, n=200, m=3, k=0)
    design = battle_design(frame, models=["m0", "m1", "m2", "newcomer"])
    with pytest.warns(FitWarning, match="newcomer: no battles"):
        fit = fit_newton(design)
    assert np.isnan(fit.strengths[3]) and fit.problems == {"newcomer": "no battles"}
    np.testing.assert_allclose(fit.strengths[:3], fit_newton(battle_design(frame)).strengths)


def test_an_estimate_running_off_is_missing_even_without_the_lp(monkeypatch):
    from debias.battles import design as design_module

    monkeypatch.setattr(design_module, "LP_MAX_CELLS", 0)  # as for a design too big for it
    frame, covariates = random_battles(13, n=300, m=4, k=1)
    frame["outcome"] = (frame["x0"] > 0).astype(float)
    with pytest.warns(FitWarning, match="did not converge"):
        fit = fit_newton(battle_design(frame, covariates=covariates))
    assert np.isnan(fit.coefficients[0]) and "runs off" in fit.problems["x0"]
    assert np.all(np.isnan(fit.strengths) | (np.abs(fit.strengths) <= 15))
