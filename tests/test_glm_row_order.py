"""fit() codes the models by factorising the model column once: the rows' order (models
interleaved, instruction column as a Categorical or plain text) does not change any fit."""

from __future__ import annotations

import numpy as np
import pandas as pd

from debias.data import Comparisons
from debias.model.glm import PreferenceGLM
from debias.simulate import simulate


def _fit(frame: pd.DataFrame) -> pd.DataFrame:
    comps = Comparisons.from_dataframe(frame)
    fit = PreferenceGLM(preset="length_controlled_minimal", difficulty="none").fit(comps)
    return fit.params_.sort_index()


def test_params_do_not_depend_on_row_order():
    sim = simulate(n_models=4, n_instructions=80, seed=3)
    frame = sim.comparisons.data.copy()
    reference = _fit(frame)
    shuffled = frame.sample(frac=1.0, random_state=0).reset_index(drop=True)
    plain = shuffled.assign(instruction=shuffled["instruction"].astype(object))
    for other in (shuffled, plain):
        got = _fit(other)
        assert list(got.index) == list(reference.index)
        np.testing.assert_allclose(got.to_numpy(), reference.to_numpy(), rtol=1e-8, atol=1e-10)
