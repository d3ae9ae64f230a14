"""Counterfactual predictions: identities, invariances (hypothesis), and the uncertainty methods."""

import warnings

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from debias import Comparisons
from debias.counterfactual import (
    apply_at,
    avg_predictions,
    comparisons,
    elo,
    predictions,
    ratio,
    winrate,
    winrate_matrix,
)
from debias.errors import ParameterError
from debias.model.glm import PreferenceGLM
from debias.simulate import simulate

SETTINGS = settings(max_examples=8, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def _fit(comps, **kw):
    kw.setdefault("preset", "length_controlled_noreg")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return PreferenceGLM(**kw).fit(comps)


@pytest.fixture(scope="module")
def fit(sim):
    return _fit(sim.comparisons)


def _small(seed):
    return simulate(n_models=3, n_instructions=60, seed=seed).comparisons


def _lc(comps, **kw):
    f = _fit(comps, **kw)
    return avg_predictions(f, se="sem").set_index("model")["estimate"]


def test_identity_symmetry_and_matrix(fit):
    models = fit.models_
    a, b = models[1], models[2]
    assert winrate(fit, a, b) + winrate(fit, b, a) == pytest.approx(100.0, abs=1e-9)
    M = winrate_matrix(fit)
    np.testing.assert_allclose(M.to_numpy() + M.to_numpy().T, 100.0, atol=1e-9)
    # against the fitting baseline the matrix is the LC win rate
    lc = avg_predictions(fit).set_index("model")["estimate"] * 100
    base = fit.baseline_
    for m in fit.results_:
        assert M.loc[m, base] == pytest.approx(lc[m], abs=1e-9)


def _with_copy(comps: Comparisons, model: str, copy: str) -> Comparisons:
    """``comps`` plus ``copy``: ``model``'s rows (answers and verdicts) under a new name."""
    d = comps.data
    return Comparisons.from_dataframe(
        pd.concat([d, d[d.model == model].assign(model=copy)], ignore_index=True)
    )


@pytest.mark.parametrize("preset", ["length_controlled_noreg", "length_controlled_v1"])
def test_a_relabelled_copy_wins_half_by_the_general_formula(sim, preset):
    """Identity measured, not set: a model and its relabelled copy are fitted alike, so
    the cells between them, computed like any other pair (not the m-vs-m shortcut),
    are 50, and the matrix's diagonal agrees with them."""
    model = sim.comparisons.models[1]
    assert model != sim.comparisons.baselines[0]
    fit = _fit(_with_copy(sim.comparisons, model, "copy"), preset=preset)
    np.testing.assert_allclose(fit.params_.loc["copy"], fit.params_.loc[model], atol=1e-8)
    assert winrate(fit, "copy", model) == pytest.approx(50.0, abs=1e-9)
    assert winrate(fit, model, "copy") == pytest.approx(50.0, abs=1e-9)
    M = winrate_matrix(fit)
    assert M.loc["copy", model] == pytest.approx(50.0, abs=1e-9)
    np.testing.assert_allclose(np.diag(M), M.loc["copy", model], atol=1e-9)
    others = [m for m in M.columns if m not in ("copy", model)]
    np.testing.assert_allclose(M.loc["copy", others], M.loc[model, others], atol=1e-8)
    lc = avg_predictions(fit, se="sem").set_index("model")["estimate"]
    assert lc["copy"] == pytest.approx(lc[model], abs=1e-9)


@SETTINGS
@given(seed=st.integers(0, 10_000), perm_seed=st.integers(0, 10_000))
def test_row_order_does_not_matter(seed, perm_seed):
    comps = _small(seed)
    shuffled = Comparisons.from_dataframe(comps.data.sample(frac=1, random_state=perm_seed))
    pd.testing.assert_series_equal(_lc(comps), _lc(shuffled).reindex(_lc(comps).index), atol=1e-7)


@SETTINGS
@given(seed=st.integers(0, 10_000))
def test_relabelling_instructions_does_not_matter(seed):
    comps = _small(seed)
    codes = {
        s: f"instruction #{i}" for i, s in enumerate(reversed(pd.unique(comps.data.instruction)))
    }
    relabelled = Comparisons.from_dataframe(
        comps.data.assign(instruction=comps.data.instruction.map(codes))
    )
    pd.testing.assert_series_equal(_lc(comps), _lc(relabelled), atol=1e-7)


@SETTINGS
@given(seed=st.integers(0, 10_000), k=st.integers(2, 4))
def test_multiplying_every_length_by_a_constant_does_not_matter(seed, k):
    comps = _small(seed)
    longer = Comparisons.from_dataframe(
        comps.data.assign(
            output_model=comps.data.output_model * k,
            output_baseline=comps.data.output_baseline.astype(str) * k,  # stored as Categorical
        )
    )
    for preset in ("length_controlled_noreg", "length_controlled_minimal"):
        kw = dict(preset=preset, difficulty="none" if preset.endswith("minimal") else "fit")
        pd.testing.assert_series_equal(_lc(comps, **kw), _lc(longer, **kw), atol=1e-7)


@SETTINGS
@given(seed=st.integers(0, 10_000))
def test_swapping_model_and_baseline_gives_one_minus_p(seed):
    """Judging the baseline against the model (preference 1 - p) mirrors the fit."""
    comps = _small(seed)
    d = comps.data[comps.data.model == comps.models[1]]
    swapped = d.assign(
        model=d.baseline,
        baseline=d.model,
        output_model=d.output_baseline,
        output_baseline=d.output_model,
        preference=1 - d.preference,
    )
    f1 = _fit(Comparisons.from_dataframe(d), preset="length_controlled_minimal", difficulty="none")
    f2 = _fit(
        Comparisons.from_dataframe(swapped), preset="length_controlled_minimal", difficulty="none"
    )
    p1 = avg_predictions(f1, se="sem").set_index("model")["estimate"].iloc[-1]
    p2 = avg_predictions(f2, se="sem").set_index("model")["estimate"]
    # a model with too few wins (or losses) gets no LC at all (NaN both ways): nothing to mirror
    assume(np.isfinite(p1) and np.isfinite(p2[d.baseline.iloc[0]]))
    assert p1 + p2[d.baseline.iloc[0]] == pytest.approx(1.0, abs=1e-8)


def test_no_correction_when_lengths_are_equal():
    """With every length difference zero, the LC win rate equals the fitted raw win rate."""
    sim = simulate(n_models=2, n_instructions=200, seed=4, markdown_effect=0.0)
    d = sim.comparisons.data.assign(output_model=lambda x: x.output_baseline)
    comps = Comparisons.from_dataframe(d)
    f = _fit(comps, preset="length_controlled_minimal", difficulty="none")
    lc = avg_predictions(f, se="sem").set_index("model")["estimate"]
    raw = comps.win_rates().set_index("model")["win_rate"] / 100
    for m in f.results_:
        assert lc[m] == pytest.approx(raw[m], abs=1e-8)


def test_at_counterfactuals(fit):
    m = next(iter(fit.results_))
    frame = fit.results_[m].frame
    cf = apply_at(frame, fit.spec_.mediators, {"length": ratio(1.3)})
    np.testing.assert_allclose(cf["length_model"], 1.3 * frame["length_baseline"])
    np.testing.assert_allclose(cf["length"], 0.3 * frame["length_baseline"])
    observed = avg_predictions(fit, at={}, se="sem").set_index("model")["estimate"]
    fitted = pd.Series({k: r.fitted().mean() for k, r in fit.results_.items()})
    np.testing.assert_allclose(observed[fitted.index], fitted, atol=1e-12)
    # a positive length slope: longer answers win more
    longer = avg_predictions(fit, at={"length": ratio(2.0)}).set_index("model")["estimate"]
    same = avg_predictions(fit, at={"length": ratio(1.0)}).set_index("model")["estimate"]
    slopes = fit.params_.loc[list(fit.results_), "tanh(scaled(length))"]
    assert ((longer - same)[slopes.index] * np.sign(slopes) > 0).all()
    with pytest.raises(ParameterError, match="not a mediator"):
        avg_predictions(fit, at={"bold": 0})


def test_comparisons_is_difference_of_averages(fit):
    d = comparisons(fit).set_index("model")
    lc = avg_predictions(fit).set_index("model")["estimate"]
    obs = avg_predictions(fit, at={}).set_index("model")["estimate"]
    np.testing.assert_allclose(d["estimate"], (lc - obs)[d.index], atol=1e-12)
    assert (d["std_error"] > 0).all()


def test_predictions_tidy(fit):
    p = predictions(fit)
    assert list(p.columns) == [
        "model",
        "instruction",
        "estimate",
        "std_error",
        "conf_low",
        "conf_high",
    ]
    assert p["estimate"].between(0, 1).all() and (p["conf_low"] <= p["estimate"]).all()


def test_se_methods(fit):
    sand = avg_predictions(fit, se="sandwich").set_index("model")
    sem = avg_predictions(fit, se="sem").set_index("model")
    boot = avg_predictions(fit, se="bootstrap", n_boot=300, seed=1).set_index("model")
    models = list(fit.results_)
    # bootstrap and sandwich agree roughly; the reference's sem is much smaller
    ratio_ = boot.loc[models, "std_error"] / sand.loc[models, "std_error"]
    assert ratio_.between(0.7, 1.4).all(), ratio_
    assert (sem.loc[models, "std_error"] < sand.loc[models, "std_error"]).all()
    # the baseline is 50 by definition: no standard error, no interval (not [50, 50])
    assert sand.loc[fit.baseline_, "estimate"] == 0.5
    assert np.isnan(sand.loc[fit.baseline_, ["std_error", "conf_low", "conf_high"]]).all()
    wide = avg_predictions(fit, se="sandwich", level=0.99).set_index("model")
    assert ((wide.conf_high - wide.conf_low) > (sand.conf_high - sand.conf_low))[models].all()
    with pytest.raises(ParameterError, match="'level'"):
        avg_predictions(fit, level=95)


def test_bootstrap_is_seeded_and_independent_of_jobs(fit):
    from debias.counterfactual import counterfactual_designs
    from debias.inference.bootstrap import bootstrap

    def designs(models):
        return counterfactual_designs(fit, None, models)

    a = bootstrap(fit, designs, n_boot=20, seed=3)
    b = bootstrap(fit, designs, n_boot=20, seed=3, n_jobs=2)
    pd.testing.assert_frame_equal(a, b)
    assert not a.equals(bootstrap(fit, designs, n_boot=20, seed=4))


def test_elo():
    assert elo(50.0) == 1251.0
    assert elo(np.array([75.0]), anchor=1000)[0] == pytest.approx(1000 + 400 * np.log10(3))


def test_bootstrap_refuses_the_cross_validated_solver(sim):
    f = _fit(
        sim.comparisons, preset="length_controlled_minimal", difficulty="none", solver="alpaca_eval"
    )
    with pytest.raises(ParameterError, match="takes hours"):
        avg_predictions(f, se="bootstrap", n_boot=10)
