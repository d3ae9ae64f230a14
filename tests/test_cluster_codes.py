"""ModelResults.cluster_codes: one factorisation of a model's instructions, shared by
n_clusters, naive_influence and the LC's influence; recomputed when the array is replaced."""

from __future__ import annotations

import numpy as np
import pandas as pd

from debias.counterfactual import avg_predictions
from debias.model.glm import PreferenceGLM
from debias.simulate import simulate


def test_cluster_codes_match_factorize_and_follow_the_array():
    sim = simulate(n_models=2, n_instructions=60, seed=4)
    fit = PreferenceGLM(preset="length_controlled_minimal", difficulty="none").fit(sim.comparisons)
    res = fit.results_["model_0"]
    codes, uniques = res.cluster_codes()
    want_codes, want_uniques = pd.factorize(res.instructions)
    np.testing.assert_array_equal(codes, want_codes)
    assert list(uniques) == list(want_uniques)
    assert res.n_clusters == len(pd.unique(res.instructions))
    assert list(res.naive_influence().index) == list(want_uniques)
    res.instructions = res.instructions[:30].copy()  # a new array: codes recomputed
    assert res.n_clusters == len(pd.unique(res.instructions))


def test_lc_sandwich_unchanged_by_the_cache():
    sim = simulate(n_models=3, n_instructions=80, seed=5)
    fit = PreferenceGLM(preset="length_controlled_minimal", difficulty="none").fit(sim.comparisons)
    first = avg_predictions(fit, se="sandwich")
    for res in fit.results_.values():  # drop the cached codes: the same numbers again
        res._clusters = None
    again = avg_predictions(fit, se="sandwich")
    pd.testing.assert_frame_equal(first, again)
