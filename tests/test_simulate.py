"""Tests of debias.simulate and of the committed fixtures it generates."""

from __future__ import annotations

import doctest
import gzip
import importlib.util
import json
import math
import pkgutil
import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.special import expit

import debias.simulate as simulate_module
from debias import Comparisons, DataWarning, ParameterError
from debias.simulate import (
    Simulation,
    annotation_records,
    population_lc_win_rate,
    simulate,
    write_alpaca_eval_tree,
)

ROOT = Path(__file__).resolve().parents[1]
FIXTURES = ROOT / "fixtures"
TREE = FIXTURES / "alpaca_eval_sim"

# Our own markdown counters (debias.mediators is written separately).
HEADER = re.compile(r"^#{1,6}[ \t]+\S", re.M)
LIST_ITEM = re.compile(r"^[ \t]*(?:[-*+]|\d+[.)])[ \t]+\S", re.M)
BOLD = re.compile(r"\*\*(?=\S)[^*\n]+?(?<=\S)\*\*")


def counts(text: str) -> tuple[int, int, int]:
    return len(HEADER.findall(text)), len(LIST_ITEM.findall(text)), len(BOLD.findall(text))


def strict_json(data: bytes | str):
    """json.loads that refuses NaN/Infinity (not valid JSON)."""

    def bad(token):
        raise ValueError(f"invalid JSON constant {token}")

    return json.loads(data, parse_constant=bad)


@pytest.fixture(scope="module")
def sim() -> Simulation:
    return simulate(n_models=5, n_instructions=120, seed=11)


# ------------------------------------------------------------------ determinism


def test_same_seed_same_simulation():
    a = simulate(n_models=3, n_instructions=40, seed=5)
    b = simulate(n_models=3, n_instructions=40, seed=5)
    pd.testing.assert_frame_equal(a.comparisons.data, b.comparisons.data)
    pd.testing.assert_frame_equal(a.truth, b.truth)
    pd.testing.assert_frame_equal(a.features, b.features)
    pd.testing.assert_series_equal(a.difficulty, b.difficulty)
    assert a.params == b.params


def test_different_seed_differs():
    a = simulate(n_models=3, n_instructions=40, seed=5)
    b = simulate(n_models=3, n_instructions=40, seed=6)
    assert not a.comparisons.data["preference"].equals(b.comparisons.data["preference"])
    assert list(a.difficulty.index) != list(b.difficulty.index)
    assert not np.allclose(a.difficulty.to_numpy(), b.difficulty.to_numpy())
    assert not np.allclose(a.truth["theta"], b.truth["theta"])


def test_seed_none_records_entropy():
    a = simulate(n_models=2, n_instructions=10, seed=None)
    assert isinstance(a.params["entropy"], int)
    assert a.params["seed"] is None


def test_new_baseline_keeps_instructions_and_model_outputs():
    kw = {"n_models": 3, "n_instructions": 30, "seed": 9}
    a = simulate(**kw)
    b = simulate(**kw, baseline="other", baseline_length=900.0, judge="j2", soft=False)
    pd.testing.assert_series_equal(a.difficulty, b.difficulty)
    rows = lambda s: s.comparisons.data.query("model != baseline")  # noqa: E731
    assert rows(a)["output_model"].tolist() == rows(b)["output_model"].tolist()
    assert rows(a)["output_baseline"].tolist() != rows(b)["output_baseline"].tolist()
    np.testing.assert_array_equal(a.truth.theta.iloc[1:], b.truth.theta.iloc[1:])


# ------------------------------------------------------------------ text


def test_text_has_designed_lengths_and_markdown(sim):
    data, f = sim.comparisons.data, sim.features
    assert (data["output_model"].str.len().to_numpy() == f["length_model"].to_numpy()).all()
    assert (data["output_baseline"].str.len().to_numpy() == f["length_baseline"].to_numpy()).all()
    got = np.array([counts(t) for t in data["output_model"]])
    want = f[["headers_model", "list_items_model", "bold_model"]].to_numpy()
    np.testing.assert_array_equal(got, want)
    got = np.array([counts(t) for t in data["output_baseline"]])
    want = f[["headers_baseline", "list_items_baseline", "bold_baseline"]].to_numpy()
    np.testing.assert_array_equal(got, want)
    parts = f[["headers_model", "list_items_model", "bold_model"]].sum(axis=1)
    assert (f["markdown_model"] == parts).all()
    assert f["markdown_model"].sum() > 100  # the texts really contain markdown
    assert not data["output_model"].str.contains("```").any()


def test_texts_are_clean(sim):
    text = sim.comparisons.data["output_model"]
    nonempty = text[text != ""]
    assert not nonempty.str.match(r"\s").any()
    assert nonempty.str.endswith(".").all()
    assert sim.instructions["instruction"].is_unique


@settings(max_examples=25, deadline=None)
@given(
    seed=st.integers(0, 2**31),
    mean_length=st.floats(4, 6000),
    density=st.floats(0, 40),
    mix=st.tuples(st.floats(0, 1), st.floats(0, 1), st.floats(0.01, 1)),
)
def test_text_counts_property(seed, mean_length, density, mix):
    s = simulate(
        n_models=1,
        n_instructions=15,
        seed=seed,
        mean_length=[mean_length],
        markdown_density=[density],
        markdown_mix=mix,
        length_sd=1.0,
    )
    d, f = s.comparisons.data, s.features
    assert (d["output_model"].str.len().to_numpy() == f["length_model"].to_numpy()).all()
    got = np.array([counts(t) for t in d["output_model"]])
    np.testing.assert_array_equal(got, f[["headers_model", "list_items_model", "bold_model"]])


def test_text_false_keeps_design_without_text():
    kw = {"n_models": 2, "n_instructions": 30, "seed": 4}
    with_text, without = simulate(**kw), simulate(**kw, text=False)
    assert (without.comparisons.data["output_model"] == "").all()
    pd.testing.assert_frame_equal(with_text.features, without.features)
    pd.testing.assert_frame_equal(with_text.truth, without.truth)
    with pytest.raises(ParameterError, match="text=False"):
        write_alpaca_eval_tree(without, "unused")


# ------------------------------------------------------------------ the judge


def test_logit_follows_the_documented_model():
    s = simulate(n_models=4, n_instructions=80, seed=2, position_bias=0.4, psi=[0.5, 1, 1.5, 2])
    f = s.features.merge(s.truth[["model", "theta", "psi"]], on="model")
    models = f[f["model"] != "baseline"]
    for _, g in models.groupby("model"):
        assert g["sd_delta_length"].iloc[0] == pytest.approx(np.std(g["delta_length"], ddof=1))
    want = (
        models["theta"]
        + models["psi"] * models["difficulty"]
        + 0.8 * np.tanh(models["delta_length"] / models["sd_delta_length"])
        + 0.3 * (models["markdown_model"] - models["markdown_baseline"]) / 10.0
        + 0.4 * np.where(models["model_first"], 1.0, -1.0)
    )
    np.testing.assert_allclose(models["logit"], want, atol=1e-12)
    np.testing.assert_allclose(models["p"], expit(want), atol=1e-12)
    assert 0.3 < models["model_first"].mean() < 0.7
    assert (models["delta_length"] == models["length_model"] - models["length_baseline"]).all()
    difficulty = s.difficulty.loc[models["instruction"]].to_numpy()
    np.testing.assert_array_equal(models["difficulty"].to_numpy(), difficulty)


def test_soft_preferences_are_beta_with_mean_p():
    s = simulate(n_models=4, n_instructions=20_000, seed=3, text=False, soft_concentration=8)
    rows = s.features["model"] != "baseline"
    pref = s.comparisons.data.loc[rows, "preference"].to_numpy()
    p = s.features.loc[rows, "p"].to_numpy()
    resid = pref - p
    se = resid.std() / math.sqrt(len(resid))
    assert abs(resid.mean()) < 4 * se
    # Beta(kp, k(1-p)) has variance p(1-p)/(k+1)
    assert np.mean(resid**2) == pytest.approx(np.mean(p * (1 - p)) / 9, rel=0.03)
    assert ((pref > 0) & (pref < 1)).mean() > 0.99


def test_hard_preferences_are_zero_or_one():
    s = simulate(n_models=3, n_instructions=3000, seed=8, soft=False, text=False)
    data = s.comparisons.data
    models = data[data["model"] != data["baseline"]]
    assert set(models["preference"].unique()) <= {0.0, 1.0}
    assert (data.loc[data["model"] == data["baseline"], "preference"] == 0.5).all()
    p = s.features.loc[models.index, "p"]
    assert abs(models["preference"].mean() - p.mean()) < 4 * math.sqrt(0.25 / len(p))


def test_baseline_is_a_tie_with_itself(sim):
    data = sim.comparisons.data
    base = data[data["model"] == "baseline"]
    assert len(base) == 120
    assert (base["preference"] == 0.5).all()
    assert (base["output_model"] == base["output_baseline"]).all()
    assert list(data["model"].unique()) == ["baseline", *sim.params["models"]]


def test_no_baseline_rows_when_excluded():
    s = simulate(n_models=2, n_instructions=10, seed=0, include_baseline=False)
    assert "baseline" not in s.comparisons.models
    assert list(s.truth["model"]) == ["model_0", "model_1"]
    assert len(s.instructions) == 10


# ------------------------------------------------------------------ ground truth


def test_truth_table(sim):
    t = sim.truth.set_index("model")
    assert list(t.index) == ["baseline", *sim.params["models"]]
    assert (
        t.loc["baseline", ["true_lc_win_rate", "true_lc_win_rate_sample", "true_win_rate"]]
        .eq(50)
        .all()
    )
    assert (t["length_effect"] == 0.8).all() and (t["markdown_effect"] == 0.3).all()
    # sample LC: mean over the simulated instructions
    gamma = sim.difficulty.to_numpy()
    for m in sim.params["models"]:
        want = 100 * expit(t.loc[m, "theta"] + t.loc[m, "psi"] * gamma).mean()
        assert t.loc[m, "true_lc_win_rate_sample"] == pytest.approx(want)
    # true win rate: mean p of the rows with a preference
    f = sim.features.assign(pref=sim.comparisons.data["preference"])
    want = f[f["pref"].notna()].groupby("model", sort=False)["p"].mean() * 100
    np.testing.assert_allclose(t["true_win_rate"], want.loc[t.index])
    np.testing.assert_allclose(t["n"], sim.comparisons.data.groupby("model", sort=False).size())


def test_truth_is_monotone_in_theta():
    theta = [-2.0, -1.0, -0.3, 0.0, 0.4, 1.5]
    s = simulate(n_models=6, n_instructions=20, seed=1, theta=theta, text=False)
    lc = s.truth["true_lc_win_rate"].to_numpy()[1:]
    assert (np.diff(lc) > 0).all()
    assert lc[3] == pytest.approx(50.0)  # theta 0, psi 1: symmetric in gamma


def test_quadrature_matches_monte_carlo():
    rng = np.random.default_rng(0)
    gamma = rng.normal(0, 1.3, 2_000_000)
    for theta, psi in [(-2.0, 1.0), (0.7, 0.5), (1.5, 2.0)]:
        mc = 100 * expit(theta + psi * gamma).mean()
        assert population_lc_win_rate(theta, psi, 1.3) == pytest.approx(mc, abs=0.05)
    assert float(population_lc_win_rate(0.0, 3.0, 2.0)) == pytest.approx(50.0, abs=1e-12)
    assert float(population_lc_win_rate(0.4, 1.0, 0.0)) == pytest.approx(100 * expit(0.4))


def test_defaults_look_like_alpaca_eval():
    s = simulate(n_models=60, n_instructions=300, seed=0, text=False)
    wr = s.comparisons.win_rates().set_index("model")["win_rate"].drop("baseline")
    assert wr.min() < 10 and wr.max() > 60
    t = s.truth.set_index("model")
    assert t["mean_length"].drop("baseline").between(800, 3000).all()
    assert t.loc["baseline", "avg_length"] == pytest.approx(2000, rel=0.1)
    assert t.drop("baseline")[["theta", "mean_length"]].corr(method="spearman").iloc[0, 1] > 0


def test_length_strength_correlation_is_a_parameter():
    strong = simulate(n_models=300, n_instructions=2, seed=0, text=False, length_strength_corr=0.9)
    none = simulate(n_models=300, n_instructions=2, seed=0, text=False, length_strength_corr=0.0)
    rho = lambda s: s.truth.iloc[1:][["theta", "mean_length"]].corr("spearman").iloc[0, 1]  # noqa: E731
    assert rho(strong) > 0.8
    assert abs(rho(none)) < 0.15
    given = simulate(n_models=3, n_instructions=5, seed=0, mean_length=[100, 200, 300], text=False)
    np.testing.assert_array_equal(given.truth["mean_length"].iloc[1:], [100, 200, 300])


# ------------------------------------------------------------------ missing / empty / NaN


def test_missing_empty_nan_rates_are_honoured():
    s = simulate(
        n_models=3, n_instructions=200, seed=4, missing_rate=0.05, empty_rate=0.02, nan_rate=0.03
    )
    data, f = s.comparisons.data, s.features
    for m in s.params["models"]:
        rows = data[data["model"] == m]
        assert len(rows) == 190
        assert (rows["output_model"] == "").sum() == round(0.02 * 190)
        assert rows["preference"].isna().sum() == round(0.03 * 190)
        empty = rows["output_model"] == ""
        assert (f.loc[rows.index[empty], ["length_model", "markdown_model"]] == 0).all().all()
    base = data[data["model"] == "baseline"]
    assert len(base) == 200 and base["preference"].notna().all()
    assert s.comparisons.n_missing == 3 * round(0.03 * 190)


def test_rates_per_model():
    s = simulate(n_models=3, n_instructions=40, seed=4, missing_rate={"model_1": 0.1})
    n = s.comparisons.data.groupby("model").size()
    assert n["model_0"] == 40 and n["model_1"] == 36 and n["model_2"] == 40
    with pytest.raises(ParameterError, match="unknown model"):
        simulate(n_models=2, n_instructions=5, missing_rate={"model_9": 0.1})


# ------------------------------------------------------------------ validation


@pytest.mark.parametrize(
    ("kwargs", "name"),
    [
        ({"n_models": -1}, "n_models"),
        ({"n_models": 0}, "n_models"),
        ({"n_models": 2.5}, "n_models"),
        ({"n_models": True}, "n_models"),
        ({"n_instructions": 0}, "n_instructions"),
        ({"length_effect": float("nan")}, "length_effect"),
        ({"markdown_effect": "big"}, "markdown_effect"),
        ({"soft": "yes"}, "soft"),
        ({"seed": -3}, "seed"),
        ({"seed": 1.5}, "seed"),
        ({"difficulty_sd": -1.0}, "difficulty_sd"),
        ({"soft_concentration": 0.0}, "soft_concentration"),
        ({"missing_rate": 1.5}, "missing_rate"),
        ({"empty_rate": -0.1}, "empty_rate"),
        ({"nan_rate": {"model_0": 2.0}}, "nan_rate"),
        ({"theta": [1.0]}, "theta"),
        ({"mean_length": [100.0, -5.0]}, "mean_length"),
        ({"markdown_density": [1.0, -1.0]}, "markdown_density"),
        ({"psi": [1.0, 2.0, 3.0]}, "psi"),
        ({"theta_range": (1.0, -1.0)}, "theta_range"),
        ({"length_range": (0.0, 10.0)}, "length_range"),
        ({"length_strength_corr": 2.0}, "length_strength_corr"),
        ({"markdown_mix": (1.0, 1.0)}, "markdown_mix"),
        ({"markdown_scale": 0.0}, "markdown_scale"),
        ({"baseline_length": -10.0}, "baseline_length"),
        ({"judge": ""}, "judge"),
        ({"judge": "a/b"}, "judge"),
        ({"baseline": "model_0"}, "baseline"),
    ],
)
def test_parameter_errors(kwargs, name):
    args = {"n_models": 2, "n_instructions": 5, **kwargs}
    with pytest.raises(ParameterError, match=f"'{name}'"):
        simulate(**args)


def test_write_rejects_bad_arguments(sim, tmp_path):
    with pytest.raises(ParameterError, match="'sim'"):
        write_alpaca_eval_tree("not a simulation", tmp_path)
    with pytest.raises(ParameterError, match="unknown model"):
        write_alpaca_eval_tree(sim, tmp_path, models=["nobody"])


# ------------------------------------------------------------------ writing the tree


def test_written_tree_is_alpaca_eval(tmp_path):
    s = simulate(n_models=2, n_instructions=12, seed=1, nan_rate={"model_1": 0.1}, empty_rate=0.1)
    root = write_alpaca_eval_tree(s, tmp_path / "tree")
    assert root == tmp_path / "tree"
    fields = {
        "instruction", "output_1", "generator_1", "dataset", "output_2", "generator_2",
        "annotator", "preference", "price_per_example", "time_per_example",
    }  # fmt: skip
    frames = []
    for model in ["baseline", "model_0", "model_1"]:
        path = root / "results" / model / "simulated_judge" / "annotations.json"
        records = strict_json(path.read_text())
        assert len(records) == 12
        assert all(set(r) == fields for r in records)
        prefs = [r["preference"] for r in records if r["preference"] is not None]
        assert all(1.0 <= p <= 2.0 for p in prefs)
        assert {r["annotator"] for r in records} == {"simulated_judge"}
        assert {r["generator_1"] for r in records} == {"baseline"}
        assert {r["generator_2"] for r in records} == {model}
        frames.append(pd.DataFrame(records))
    base = frames[0]
    assert (base["preference"] == 1.5).all() and base["price_per_example"].isna().all()
    assert frames[2]["preference"].isna().sum() == 1
    mapping = {
        "model": "generator_2",
        "baseline": "generator_1",
        "judge": "annotator",
        "output_model": "output_2",
        "output_baseline": "output_1",
    }
    with pytest.warns(DataWarning, match="no preference"):
        back = Comparisons.from_dataframe(
            pd.concat(frames, ignore_index=True), mapping, preference_scale="alpaca_eval"
        )
    cols = ["instruction", "model", "baseline", "output_model", "output_baseline", "dataset"]
    pd.testing.assert_frame_equal(back.data[cols], s.comparisons.data[cols], check_dtype=False)
    np.testing.assert_allclose(back.data["preference"], s.comparisons.data["preference"], atol=1e-9)

    outputs = strict_json((root / "results/baseline/model_outputs.json").read_text())
    assert [r["instruction"] for r in outputs] == list(s.difficulty.index)
    assert all(set(r) == {"instruction", "output", "generator", "dataset"} for r in outputs)
    truth = pd.read_csv(root / "truth.csv")
    pd.testing.assert_frame_equal(truth, s.truth, check_dtype=False)
    diff = pd.read_csv(root / "instruction_difficulty.csv")
    assert list(diff.columns) == ["index", "instruction_difficulty"]
    np.testing.assert_allclose(diff["instruction_difficulty"], s.difficulty.to_numpy())


def test_write_compressed_with_another_judge_name(tmp_path):
    s = simulate(n_models=1, n_instructions=5, seed=2)
    root = write_alpaca_eval_tree(s, tmp_path, judge="my_judge", compress=True)
    path = root / "results" / "model_0" / "my_judge" / "annotations.json.gz"
    raw = path.read_bytes()
    assert raw[4:8] == b"\x00\x00\x00\x00"  # no timestamp: reproducible bytes
    records = strict_json(gzip.decompress(raw))
    assert {r["annotator"] for r in records} == {"my_judge"}
    assert not (root / "results" / "model_0" / "my_judge" / "annotations.json").exists()
    again = write_alpaca_eval_tree(s, tmp_path / "again", judge="my_judge", compress=True)
    assert (again / path.relative_to(root)).read_bytes() == raw


def test_annotation_records_preference_scale(sim):
    recs = annotation_records(sim)
    data = sim.comparisons.data
    got = [r["preference"] for m in recs for r in recs[m]]
    np.testing.assert_allclose(np.array(got, dtype=float) - 1, data["preference"], atol=1e-9)


def test_cli_simulate(tmp_path, capsys):
    from debias.cli import main

    assert (
        main(["simulate", "--out", str(tmp_path), "--models", "2", "--instructions", "6", "--hard"])
        == 0
    )
    assert "wrote 18 judgments of 3 models" in capsys.readouterr().out
    recs = strict_json((tmp_path / "results/model_1/simulated_judge/annotations.json").read_text())
    assert {r["preference"] for r in recs} <= {1.0, 2.0}


# ------------------------------------------------------------------ fixtures


def _load_make_fixtures():
    spec = importlib.util.spec_from_file_location("make_fixtures", FIXTURES / "make_fixtures.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_make_fixtures_reproduces_committed_files(tmp_path):
    out = tmp_path / "alpaca_eval_sim"
    written = _load_make_fixtures().build(out)
    rel = sorted(p.relative_to(out) for p in written)
    committed = sorted(p.relative_to(TREE) for p in TREE.rglob("*") if p.is_file())
    assert rel == committed, "rerun: python fixtures/make_fixtures.py"
    for r in rel:
        assert (out / r).read_bytes() == (TREE / r).read_bytes(), (
            f"{r} differs: rerun make_fixtures"
        )
    # idempotent: a second run over the same folder gives the same files
    _load_make_fixtures().build(out)
    assert all((out / r).read_bytes() == (TREE / r).read_bytes() for r in rel)


def _fixture_records(model: str, judge: str = "simulated_judge") -> list[dict]:
    folder = TREE / "results" / model / judge
    path = next(folder.glob("annotations.json*"))
    raw = path.read_bytes()
    return strict_json(gzip.decompress(raw) if path.suffix == ".gz" else raw)


def test_fixture_is_small():
    assert sum(p.stat().st_size for p in TREE.rglob("*") if p.is_file()) < 600_000


def test_fixture_has_the_awkward_cases():
    assert len(_fixture_records("model_2")) == 57
    outputs = [r["output_2"] for r in _fixture_records("model_0")]
    assert outputs.count(None) == 1 and outputs.count("") == 2
    assert [r["preference"] for r in _fixture_records("model_4")].count(None) == 1
    assert {r["preference"] for r in _fixture_records("baseline")} == {1.5}
    assert {"raw_completion", "annotator_index"} <= set(_fixture_records("model_1")[0])
    assert not {"dataset", "price_per_example"} & set(_fixture_records("model_3")[0])
    assert (TREE / "results/model_5/simulated_judge/annotations.json.gz").exists()
    hard = _fixture_records("model_0", "hard_judge")
    assert {r["preference"] for r in hard} <= {1.0, 2.0}
    assert {r["generator_1"] for r in hard} == {"other_baseline"}
    assert (TREE / "results/other_baseline/model_outputs.json").exists()
    assert [r["instruction"] for r in hard] == [
        r["instruction"] for r in _fixture_records("model_0")
    ]
    assert [r["output_2"] or "" for r in hard] == [
        r["output_2"] or "" for r in _fixture_records("model_0")
    ]


def test_fixture_leaderboard_matches_files():
    board = pd.read_csv(TREE / "leaderboard.csv", index_col=0)
    assert {"win_rate", "standard_error", "n_total", "avg_length"} <= set(board.columns)
    truth = pd.read_csv(TREE / "truth.csv")
    assert set(board.index) == set(truth["model"])
    for model in board.index:
        prefs = pd.Series([r["preference"] for r in _fixture_records(model)], dtype=float).dropna()
        assert board.loc[model, "n_total"] == len(prefs)
        assert board.loc[model, "win_rate"] == pytest.approx(100 * (prefs - 1).mean())
        assert board.loc[model, "standard_error"] == pytest.approx(100 * (prefs - 1).sem())
    assert board.loc["baseline", "win_rate"] == 50


# ------------------------------------------------------------------ docs


def test_docstring_examples_run():
    attempted = 0
    names = [info.name for info in pkgutil.iter_modules(simulate_module.__path__)]
    for module in [simulate_module] + [
        importlib.import_module(f"debias.simulate.{name}") for name in names
    ]:
        result = doctest.testmod(module, optionflags=doctest.NORMALIZE_WHITESPACE)
        assert result.failed == 0, module.__name__
        attempted += result.attempted
    assert attempted > 10


@pytest.mark.slow
def test_a_large_simulation_is_fast():
    import time

    start = time.perf_counter()
    s = simulate(n_models=100, n_instructions=805, seed=0)
    assert len(s.comparisons) == 101 * 805
    assert time.perf_counter() - start < 15
