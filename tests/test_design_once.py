"""The formula is evaluated once per fit (debias.model.design): one patsy pass over the
models' rows and the shared rows stacked, sliced per model; numbers as before."""

from __future__ import annotations

import numpy as np
import pandas as pd
import patsy
import patsy.highlevel
import pytest

from debias.data import Comparisons
from debias.model.design import model_blocks, stacked_design
from debias.model.formula import Design, model_frame, resolve_formula
from debias.model.glm import PreferenceGLM
from debias.simulate import simulate

FORMULA = "tanh(scaled(length)) + diff_over_sum(headers_model, headers_baseline)"


@pytest.fixture(scope="module")
def sim():
    return simulate(n_models=7, n_instructions=150, seed=3)


def _variants(sim):
    """Two of the models relabelled as the baseline's variants (regularisation rows)."""
    df = sim.comparisons.data
    base = sim.comparisons.baselines[0]
    names = {"model_0": f"{base}_verbose", "model_1": f"{base}_concise"}
    return Comparisons.from_dataframe(df.assign(model=df["model"].replace(names)))


def _count_patsy_passes(monkeypatch):
    calls = []

    def counting(real):
        def wrapped(*a, **kw):
            calls.append(1)
            return real(*a, **kw)

        return wrapped

    # dmatrix (highlevel) and Design.matrix (patsy.build_design_matrices) both end here
    monkeypatch.setattr(
        patsy.highlevel, "build_design_matrices", counting(patsy.highlevel.build_design_matrices)
    )
    monkeypatch.setattr(patsy, "build_design_matrices", counting(patsy.build_design_matrices))
    return calls


def test_a_fit_with_shared_rows_evaluates_the_formula_once(sim, monkeypatch):
    """Before: one pass to fit the transforms and one per piece (own rows, variant rows)."""
    comps = _variants(sim)
    calls = _count_patsy_passes(monkeypatch)
    fit = PreferenceGLM(FORMULA, difficulty="none", lam=0.2).fit(comps)
    assert fit.regularization_ is not None and len(fit.results_) == 7
    assert len(calls) == 1


def test_stacked_design_equals_separate_evaluations(sim):
    spec = resolve_formula(FORMULA)
    rows = sim.comparisons.data
    frame = model_frame(rows, spec)
    own, shared = frame.iloc[:600], frame.iloc[600:]
    stacked = stacked_design(spec, own, shared)
    separate = Design(spec, pd.concat([own, shared]))
    np.testing.assert_array_equal(stacked.own, separate.matrix(own, 1.0))
    np.testing.assert_array_equal(stacked.shared, separate.matrix(shared, 0.0))
    assert (stacked.own[:, 0] == 1).all() and (stacked.shared[:, 0] == 0).all()
    with pytest.raises(Exception, match="once"):
        stacked.design.training_matrix()  # released after use: memory


def test_model_blocks_slices_grouped_rows_and_indexes_interleaved_ones():
    blocks = model_blocks(np.array([1, 1, 0, 0, 0]), 3)
    assert blocks[:2] == [slice(2, 5), slice(0, 2)] and len(blocks[2]) == 0
    blocks = model_blocks(np.array([0, 1, 0, 1]), 2)
    assert [b.tolist() for b in blocks] == [[0, 2], [1, 3]]


def test_interleaved_rows_fit_the_same_as_grouped_rows(sim):
    """Rows not grouped by model (indices, not slices) give the same fit."""
    df = sim.comparisons.data
    shuffled = df.sample(frac=1.0, random_state=0).reset_index(drop=True)
    grouped = PreferenceGLM(FORMULA, difficulty="none").fit(sim.comparisons)
    mixed = PreferenceGLM(FORMULA, difficulty="none").fit(Comparisons.from_dataframe(shuffled))
    pd.testing.assert_frame_equal(
        grouped.params_.sort_index(), mixed.params_.sort_index(), rtol=1e-9, atol=1e-10
    )
    res = mixed.results_["model_2"]
    assert (res.frame.index == "model_2").all() and len(res.y) == len(res.frame) == len(res.X)


def test_grouped_rows_give_each_model_views_not_copies(sim):
    fit = PreferenceGLM(FORMULA, difficulty="none").fit(sim.comparisons)
    a, b = fit.results_["model_0"], fit.results_["model_1"]
    for name in ("X", "y", "w", "instructions"):
        x, z = getattr(a, name), getattr(b, name)
        assert x.base is not None and x.base is z.base, name  # slices of one array


def test_a_default_fit_and_the_leaderboard_import_no_sklearn():
    """scikit-learn (0.5-2 s to import) is only for solver='alpaca_eval'; the estimator keeps
    its parameter protocol (get_params/set_params, sklearn's clone) without it."""
    import subprocess
    import sys

    code = (
        "import sys, warnings; warnings.simplefilter('ignore')\n"
        "import debias.reports.leaderboard\n"
        "from debias.model.glm import PreferenceGLM\n"
        "from debias.simulate import simulate\n"
        "sim = simulate(n_models=2, n_instructions=60, seed=0)\n"
        "PreferenceGLM(preset='length_controlled_minimal', difficulty='none').fit(sim.comparisons)\n"
        "print(sorted(m for m in sys.modules if m.split('.')[0] == 'sklearn')[:3])\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]", out.stdout


def test_parameters_without_sklearn_still_clone():
    from sklearn.base import clone

    from debias.errors import ParameterError

    glm = PreferenceGLM(FORMULA, difficulty="none", lam=0.3)
    twin = clone(glm)
    assert twin is not glm and twin.get_params() == glm.get_params()
    assert glm.set_params(solver="cvxpy").solver == "cvxpy"
    with pytest.raises(ParameterError, match="Invalid parameter 'nope'"):
        glm.set_params(nope=1)
