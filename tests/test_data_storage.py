"""Comparisons stores repeated text once (instructions, the baseline's answers) and still
behaves as plain strings for users."""

from __future__ import annotations

import pandas as pd
import pytest

from debias import Comparisons
from debias.simulate import simulate


@pytest.fixture(scope="module")
def comps() -> Comparisons:
    return simulate(n_models=20, n_instructions=60, seed=3).comparisons


def test_baseline_answers_and_instructions_held_once(comps):
    d = comps.data
    n_models = d["model"].nunique()
    for col in ("instruction", "output_baseline"):
        held = d[col].memory_usage(deep=True, index=False)
        plain = d[col].astype(str).memory_usage(deep=True, index=False)
        # one copy per distinct text (+ a small code per row), not one per model
        assert held < 2 * plain / n_models, col
        assert d[col].nunique() == d["instruction"].nunique()


def test_plain_string_semantics(comps):
    d = comps.data
    plain = d.astype({"instruction": str, "output_baseline": str})
    first = plain["instruction"].iloc[0]
    assert ((d["instruction"] == first) == (plain["instruction"] == first)).all()
    assert (d["output_baseline"].str.len() == plain["output_baseline"].str.len()).all()
    assert d["output_baseline"].tolist() == plain["output_baseline"].tolist()
    assert all(type(v) is str for v in d["instruction"].head())
    assert [str(v) for v in pd.unique(d["instruction"])] == list(pd.unique(plain["instruction"]))
    assert (d["output_model"] != d["output_baseline"]).sum() > 0  # text vs categorical
    assert d.groupby("instruction").size().eq(d["model"].nunique()).all()


def test_selection_keeps_only_present_texts(comps):
    one = comps.select(models=comps.models[:1])
    cats = one.data["instruction"].cat.categories
    assert len(cats) == one.data["instruction"].nunique()
    kept = comps.data["instruction"].iloc[:7].astype(str).tolist()
    sub = Comparisons.from_dataframe(comps.data[comps.data["instruction"].isin(kept)])
    assert sorted(sub.data["instruction"].cat.categories) == sorted(set(kept))


def test_equal_contents_equal_frames(comps):
    """However a Comparisons is built (from text or from categories), equal contents compare equal."""
    rebuilt = Comparisons(comps.data.astype({"instruction": str, "output_baseline": str}))
    pd.testing.assert_frame_equal(rebuilt.data, comps.data)
    again = Comparisons.from_dataframe(comps.data.sample(frac=1.0, random_state=0))
    pd.testing.assert_frame_equal(
        again.data.sort_values(["model", "instruction"]).reset_index(drop=True),
        comps.data.sort_values(["model", "instruction"]).reset_index(drop=True),
        check_dtype=True,
        check_categorical=True,
    )
