"""Self-preference: model families and the judge x own-family term (debias.reports.judges).

Ground truth: the simulator's known coefficients (debias.simulate.position) and, on the real
MT-Bench judges (../shared/judges, read directly), what the design can and cannot identify.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from test_position import read_pba

from debias.errors import FitWarning, ParameterError
from debias.judgments.families import model_families, model_family, same_family
from debias.reports.judges import fit_judges, self_preference
from debias.simulate.position import simulate_judges


@pytest.mark.parametrize(
    ("name", "family"),
    [
        ("gpt-4-0613", "openai"),
        ("gpt-3.5-turbo-1106", "openai"),
        ("o1-preview", "openai"),
        ("gpt4all-13b-snoozy", "nomic"),  # not an OpenAI model despite the prefix
        ("claude-3-opus-20240229", "anthropic"),
        ("claude-instant-v1", "anthropic"),
        ("palm-2-chat-bison-001", "google"),
        ("gemini-1.5-pro", "google"),
        ("bard", "google"),
        ("llama-13b", "meta"),
        ("meta-llama/Llama-2-70b-chat-hf", "meta"),
        ("mistralai/Mixtral-8x7B-Instruct-v0.1", "mistral"),
        ("vicuna-13b-v1.3", "lmsys"),
        ("brand-new-model", "brand-new-model"),
    ],
)
def test_default_families(name, family):
    assert model_family(name) == family


def test_user_mapping_first_and_checked():
    assert model_family("gpt-4", {"gpt-4": "mine"}) == "mine"
    assert model_families(["a", "gpt-4"], {"a": "x"}) == {"a": "x", "gpt-4": "openai"}
    assert same_family("gpt-4-0613", "gpt-3.5-turbo") and not same_family("gpt-4", "claude-v1")
    with pytest.raises(ParameterError, match="families"):
        model_family("gpt-4", families={"gpt-4": 3})


def test_self_preference_recovered_with_two_families():
    sim = simulate_judges(
        n_models=6, n_prompts=300, seed=11, self_preference={"gpt-judge": 0.8, "claude-judge": 0.0}
    )
    t = self_preference(sim.battles, features=["length"]).set_index("judge")
    for judge, truth in sim.truth["self_preference"].items():
        assert t.loc[judge, "conf_low"] < truth < t.loc[judge, "conf_high"]
    assert t.loc["gpt-judge", "p_value"] < 0.01


def test_small_coverage_study():
    """A CI-sized version of benchmarks/position_coverage.py: 60 replicates."""
    hits = {}
    for seed in range(60):
        sim = simulate_judges(n_models=5, n_prompts=60, seed=1000 + seed)
        t = fit_judges(sim.battles, features=["length"], self_preference=True).table()
        for row in t.itertuples():
            truth = sim.truth[row.term][row.judge]
            hits.setdefault((row.term, row.judge), []).append(row.conf_low < truth < row.conf_high)
    rates = {k: float(np.mean(v)) for k, v in hits.items()}
    assert len(rates) == 6
    # 60 replicates at 95%: below 0.85 has probability < 0.2% per parameter
    assert all(r >= 0.85 for r in rates.values()), rates


def test_one_family_reports_only_differences():
    sim = simulate_judges(
        n_models=5,
        n_prompts=200,
        judges=("gpt-judge", "gpt-judge-2"),
        self_preference={"gpt-judge": 0.6, "gpt-judge-2": 0.0},
        seed=3,
    )
    t = self_preference(sim.battles).set_index("judge")
    assert t.loc[["gpt-judge", "gpt-judge-2"], "estimate"].isna().all()
    assert "every judge is in family 'openai'" in t.loc["gpt-judge", "note"]
    diff = t.loc["gpt-judge-2−gpt-judge"]
    assert diff["conf_low"] < -0.6 < diff["conf_high"]  # the identified difference: 0 - 0.6


def test_judge_without_own_family_answers():
    sim = simulate_judges(n_models=2, n_prompts=50, judges=("gpt-judge", "qwen-judge"), seed=0)
    t = self_preference(sim.battles).set_index("judge")
    assert "no answer of the judge's family" in t.loc["qwen-judge", "note"]


def test_mt_bench_two_openai_judges(judges_dir):
    """Both published judges are OpenAI models: each one's own-family preference is not
    identified, the difference between them is (with a finite interval)."""
    b = pd.concat(
        [read_pba(judges_dir, "gpt-4-0613"), read_pba(judges_dir, "gpt-3.5-turbo-1106")],
        ignore_index=True,
    )
    with pytest.warns(FitWarning, match="19 battle row"):  # gpt-3.5's calls without a verdict
        t = self_preference(b).set_index("judge")
    assert np.isnan(t.loc["gpt-4-0613", "estimate"])
    diff = t.loc["gpt-3.5-turbo-1106−gpt-4-0613"]
    assert np.isfinite(diff["estimate"]) and diff["conf_low"] < diff["estimate"] < diff["conf_high"]
