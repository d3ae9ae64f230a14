"""The estimator contract: fit() resets every fitted attribute and cache, counterfactual
caches are keyed by value, fits pickle and clone (issue 10 items 1 and 15), and every
numeric parameter is checked from one table (reliability pass)."""

from __future__ import annotations

import pickle
import warnings

import numpy as np
import pandas as pd
import pytest
from scipy.special import expit
from sklearn.base import clone

from debias.counterfactual import avg_predictions, predictions, ratio, winrate, winrate_matrix
from debias.data import Comparisons
from debias.errors import ParameterError
from debias.model.glm import PreferenceGLM
from debias.reports.leaderboard import leaderboard, leaderboard_fit
from debias.simulate import simulate

MINIMAL = dict(preset="length_controlled_minimal", difficulty="none")


@pytest.fixture(scope="module")
def sims():
    return (
        simulate(n_models=3, n_instructions=150, seed=0, length_effect=1.5),
        simulate(n_models=3, n_instructions=150, seed=7, length_effect=0.3),
    )


def _quiet_fit(glm, comps):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return glm.fit(comps)


def _direct_matrix(fit, r: float) -> pd.DataFrame:
    """By hand: model m's log-odds against the baseline on instruction x is
    b_m · [1, tanh((r - 1) * L_base(x) / SD_m), γ_x] with SD_m the sample SD of m's length
    differences (what scaled() divides by; γ when the formula has it); i vs j is
    mean(expit(eta_i - eta_j)) over the instructions."""
    frame = pd.concat([res.frame for res in fit.results_.values()])
    instr = np.concatenate([res.instructions for res in fit.results_.values()])
    frame = frame[~pd.Index(instr).duplicated()]
    eta = {fit.baseline_: np.zeros(len(frame))}
    for m, res in fit.results_.items():
        sd = np.std(res.frame["length"].to_numpy(), ddof=1)
        cols = [np.ones(len(frame)), np.tanh((r - 1.0) * frame["length_baseline"].to_numpy() / sd)]
        if "difficulty" in fit.columns_:
            cols.append(frame["difficulty"].to_numpy())
        eta[m] = np.column_stack(cols) @ fit.params_.loc[m].to_numpy()
    names = list(fit.params_.index)
    out = [[100 * expit(eta[i] - eta[j]).mean() for j in names] for i in names]
    return pd.DataFrame(out, index=fit.params_.index, columns=names)


def test_winrate_matrix_at_two_counterfactuals_equals_fresh_computations(sims):
    fit = _quiet_fit(PreferenceGLM(**MINIMAL), sims[0].comparisons)
    first = winrate_matrix(fit, at={"length": ratio(2.0)})
    second = winrate_matrix(fit, at={"length": ratio(0.5)})  # used to return `first`
    fresh = _quiet_fit(PreferenceGLM(**MINIMAL), sims[0].comparisons)
    np.testing.assert_allclose(second, winrate_matrix(fresh, at={"length": ratio(0.5)}))
    np.testing.assert_allclose(second, _direct_matrix(fit, 0.5), atol=1e-9)
    np.testing.assert_allclose(first, _direct_matrix(fit, 2.0), atol=1e-9)
    assert np.abs(first.to_numpy() - second.to_numpy()).max() > 1  # really different
    # two plain callables with the same repr are told apart too
    m, b = fit.results_["model_0"].model, fit.baseline_
    for r in (2.0, 0.5):
        at = {"length": lambda model, base, r=r: r * base}
        assert winrate(fit, m, b, at=at) == pytest.approx(_direct_matrix(fit, r).loc[m, b])


@pytest.mark.parametrize("kwargs", [MINIMAL, dict(preset="length_controlled_noreg")])
def test_refit_on_other_data_forgets_the_old_design(kwargs, sims):
    glm = PreferenceGLM(**kwargs)
    at = {"length": ratio(2.0)}  # the same object before and after the refit
    _quiet_fit(glm, sims[0].comparisons)
    old = {key: winrate_matrix(glm, at=a) for key, a in (("none", None), ("ratio", at))}
    _quiet_fit(glm, sims[1].comparisons)
    fresh = _quiet_fit(PreferenceGLM(**kwargs), sims[1].comparisons)
    for key, a in (("none", None), ("ratio", at)):
        np.testing.assert_allclose(winrate_matrix(glm, at=a), winrate_matrix(fresh, at=a))
        assert not np.allclose(winrate_matrix(glm, at=a), old[key])
    np.testing.assert_allclose(winrate_matrix(glm, at=at), _direct_matrix(fresh, 2.0), atol=1e-9)


def test_fit_resets_every_fitted_attribute(sims):
    glm = _quiet_fit(PreferenceGLM(), sims[0].comparisons)  # difficulty fitted: stage1_
    assert hasattr(glm, "stage1_")
    glm.set_params(**MINIMAL)
    _quiet_fit(glm, sims[0].comparisons)
    assert not hasattr(glm, "stage1_")
    fresh = _quiet_fit(PreferenceGLM(**MINIMAL), sims[0].comparisons)
    assert set(glm.__dict__) == set(fresh.__dict__)


def test_ratio_is_picklable_and_compared_by_value():
    assert ratio(2.0) == pickle.loads(pickle.dumps(ratio(2.0)))
    assert ratio(2.0) != ratio(0.5) and repr(ratio(0.5)) == "ratio(0.5)"
    for bad in (-1, float("nan"), float("inf"), "2", True):
        with pytest.raises(ParameterError, match="'r' parameter"):
            ratio(bad)


@pytest.mark.parametrize("kwargs", [{}, MINIMAL, dict(preset="style_controlled")])
def test_fitted_estimator_pickles_with_the_same_numbers(kwargs, sims):
    fit = _quiet_fit(PreferenceGLM(**kwargs), sims[0].comparisons)
    at = {"length": ratio(1.3)}
    before = (avg_predictions(fit), predictions(fit, at=at), winrate_matrix(fit, at=at))
    back = pickle.loads(pickle.dumps(fit))
    after = (avg_predictions(back), predictions(back, at=at), winrate_matrix(back, at=at))
    for a, b in zip(before, after, strict=True):
        pd.testing.assert_frame_equal(a, b)
    assert str(back.results_["model_1"].summary()) == str(fit.results_["model_1"].summary())
    pd.testing.assert_frame_equal(fit.params_, back.params_)
    assert back.results_["model_1"].bse.equals(fit.results_["model_1"].bse)


def test_leaderboard_fit_pickles(sims):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        table, fit = leaderboard_fit(sims[0].comparisons)
    back = pickle.loads(pickle.dumps(fit))
    lc = avg_predictions(back).set_index("model")["estimate"] * 100
    np.testing.assert_allclose(
        table.set_index("model")["lc_win_rate"], lc.reindex(table["model"]), rtol=0, atol=1e-9
    )


def test_clone_gives_an_unfitted_estimator_with_equal_params(sims):
    glm = PreferenceGLM(formula="tanh(scaled(length))", difficulty="none", alpha=0.5, penalty="l2")
    fit = _quiet_fit(glm, sims[0].comparisons)
    twin = clone(fit)
    assert twin is not fit
    assert twin.get_params() == fit.get_params()
    assert not hasattr(twin, "params_") and not hasattr(twin, "results_")
    refit = _quiet_fit(twin, sims[0].comparisons)
    pd.testing.assert_frame_equal(refit.params_, fit.params_)
    with pytest.raises(ValueError, match="Invalid parameter"):
        twin.set_params(lenght=1)


BAD_GLM = [
    dict(difficulty_l2=-1),
    dict(difficulty_l2=float("nan")),
    dict(lam=-0.1),
    dict(lam=float("inf")),
    dict(lam=float("nan")),
    dict(lam="0.2"),
    dict(alpha=-1),
    dict(alpha=float("inf")),
    dict(alpha=True),
    dict(solver="lbfgs"),
    dict(penalty="elasticnet"),
    dict(difficulty_join="row"),
    dict(regularize_mode="both"),
    dict(progress="yes"),
    dict(formula=3),
    dict(bounds=[("a", 0)]),
    dict(bounds={"tanh(scaled(length))": (1, 0)}),
    dict(bounds={"tanh(scaled(length))": (0, "inf")}),
]


@pytest.mark.parametrize("kwargs", BAD_GLM)
def test_bad_glm_parameter_is_one_clear_error(kwargs, sims):
    (name,) = kwargs
    glm = (
        PreferenceGLM(**{**MINIMAL, **kwargs})
        if name != "formula"
        else PreferenceGLM(difficulty="none", **kwargs)
    )
    with pytest.raises(ParameterError) as err:
        _quiet_fit(glm, sims[0].comparisons)
    message = str(err.value)
    assert name in message and "Got" in message and "must be" in message


@pytest.mark.parametrize("lam", [float("inf"), float("nan"), -1.0])
def test_lam_inf_with_variant_rows_is_one_clear_error(lam, sims):
    comps = sims[0].comparisons
    variants = comps.select(models=comps.models[:2]).data
    reg = Comparisons.from_dataframe(variants.assign(model=variants["model"] + "_variant"))
    glm = PreferenceGLM(formula="tanh(scaled(length))", regularize=reg, lam=lam, difficulty="none")
    with pytest.raises(ParameterError, match="'lam' parameter of PreferenceGLM"):
        glm.fit(comps)


BAD_INFERENCE = [
    dict(level=1.0),
    dict(level=0),
    dict(level=float("nan")),
    dict(n_boot=0),
    dict(n_boot=10**9),
    dict(n_boot=2.5),
    dict(seed=-1),
    dict(seed=1.5),
    dict(n_jobs=0),
    dict(n_jobs=2.0),
    dict(se="jackknife"),
    dict(progress=None),
]


@pytest.mark.parametrize("kwargs", BAD_INFERENCE)
def test_bad_inference_settings_are_refused_by_avg_predictions_and_leaderboard(kwargs, sims):
    (name,) = kwargs
    fit = _quiet_fit(PreferenceGLM(**MINIMAL), sims[0].comparisons)
    with pytest.raises(ParameterError, match=f"'{name}' parameter of avg_predictions"):
        avg_predictions(fit, **kwargs)
    with pytest.raises(ParameterError, match=f"'{name}' parameter of leaderboard"):
        leaderboard(sims[0].comparisons, **MINIMAL, **kwargs)


def test_a_long_wrong_value_is_described_on_one_line(sims):
    comps = sims[0].comparisons
    table = comps.data
    for kwargs in (dict(difficulty=table["preference"]), dict(bounds=table)):
        with pytest.raises(ParameterError) as err:
            PreferenceGLM(preset="length_controlled_noreg", **kwargs).fit(comps)
        assert "\n" not in str(err.value) and len(str(err.value)) < 300


def test_winrate_against_the_baseline_is_the_controlled_win_rate(sims):
    """Each model's own scaling of the mediators: the matrix's baseline column equals
    avg_predictions at the same counterfactual (every model answered every instruction).
    The old shared design used the first model's SD for everyone (up to 3.7 points off)."""
    fit = _quiet_fit(PreferenceGLM(preset="length_controlled_noreg"), sims[0].comparisons)
    for at in (None, {"length": ratio(1.3)}, {"length": ratio(0.5)}):
        lc = avg_predictions(fit, at=at, se="sem").set_index("model")["estimate"] * 100
        matrix = winrate_matrix(fit, at=at)
        column = matrix[fit.baseline_]
        np.testing.assert_allclose(column, lc.reindex(column.index), atol=1e-9)  # NaN alike
        for m in fit.results_:
            assert winrate(fit, m, fit.baseline_, at=at) == pytest.approx(
                lc[m], abs=1e-9, nan_ok=True
            )
        assert lc.notna().sum() >= 3
        missing = lc.index[lc.isna()]
        assert set(matrix.attrs["notes"]) == set(missing)
        assert matrix.loc[missing].drop(columns=missing).isna().all().all()


def test_a_pickled_fit_leaves_out_the_answers_text(sims):
    fit = _quiet_fit(PreferenceGLM(), sims[0].comparisons)
    blob = pickle.dumps(fit)
    text_bytes = sum(len(t) for t in fit.comparisons_.data["output_model"])
    assert len(blob) < text_bytes  # the answers alone are larger than the pickled fit
    back = pickle.loads(blob)
    assert hasattr(fit, "comparisons_") and not hasattr(back, "comparisons_")
    pd.testing.assert_frame_equal(avg_predictions(back), avg_predictions(fit))


def test_leaderboard_function_is_not_hidden_by_its_module():
    import debias
    import debias.reports.leaderboard

    assert callable(debias.leaderboard)
    assert debias.leaderboard is debias.reports.leaderboard.leaderboard


def test_a_difficulty_the_formula_does_not_use_is_not_silently_ignored(tmp_path):
    import warnings as _w

    import debias
    from debias.simulate import simulate

    sim = simulate(n_models=2, n_instructions=80, seed=3)
    unused = debias.Difficulty(pd.Series(0.0, index=sim.comparisons.data["instruction"].unique()))
    glm = debias.PreferenceGLM(preset="length_controlled_minimal", difficulty=unused)
    with _w.catch_warnings(record=True) as rec:
        _w.simplefilter("always")
        glm.fit(sim.comparisons)
    assert any("is not used" in str(w.message) for w in rec)
    with pytest.raises(debias.ParameterError, match="'difficulty' parameter"):
        debias.PreferenceGLM(preset="length_controlled_minimal", difficulty=3).fit(sim.comparisons)


def test_matrix_diagonal_of_an_unsupported_model_is_missing_not_50():
    import warnings as _w

    import debias
    from debias.data import Comparisons
    from debias.simulate import simulate

    sim = simulate(n_models=3, n_instructions=150, seed=5)
    df = sim.comparisons.data
    few = df[df["model"] == "model_0"].index[10:]
    comps = Comparisons.from_dataframe(df.drop(index=few))
    with _w.catch_warnings():
        _w.simplefilter("ignore")
        fit = debias.PreferenceGLM(preset="length_controlled_minimal", difficulty="none").fit(comps)
    matrix = debias.winrate_matrix(fit)
    assert "model_0" in matrix.attrs["notes"]
    assert np.isnan(matrix.loc["model_0", "model_0"])
    assert matrix.loc["model_1", "model_1"] == 50.0


@pytest.mark.parametrize("keyword", ["difficulty", "regularize"])
def test_the_estimator_reads_no_file(tmp_path, keyword):
    """A path given to the estimator is refused with what to do (debias.io reads it); the
    leaderboard and the CLI keep taking paths."""
    import debias
    from debias.simulate import simulate

    sim = simulate(n_models=2, n_instructions=40, seed=3)
    path = tmp_path / "side.csv"
    path.write_text("instruction,difficulty\n")
    for given in (path, str(path)):
        glm = debias.PreferenceGLM(preset="length_controlled_v1", lam=0.2, **{keyword: given})
        with pytest.raises(debias.ParameterError, match=rf"{keyword}=.*debias\.io\.read_"):
            glm.fit(sim.comparisons)
