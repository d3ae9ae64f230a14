"""Tests of debias.reports.metrics: hand-computed tables, invariances, errors, and the paper's numbers."""

from __future__ import annotations

import math
import os
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import stats

from debias import Comparisons
from debias.errors import InputError, ParameterError
from debias.reports.metrics import (
    ARENA_COLUMN,
    adversarial_gain,
    benchmark_correlation,
    correlations_with_arena,
    elo_from_win_rate,
    gameability,
    length_balanced_win_rate,
    length_correlation,
    length_normalized_win_rate,
    metric_report,
    relative_spread,
    variant_spreads,
)

SQRT2 = math.sqrt(2)


def two(a: float, b: float) -> float:
    """Relative spread of two values, by hand."""
    return SQRT2 * abs(a - b) / (a + b)


@pytest.fixture
def board() -> pd.DataFrame:
    """Two verbosity triples, a lone concise variant of a third model, and two plain models."""
    return pd.DataFrame(
        {
            "model": [
                "a", "a_verbose", "a_concise",
                "b", "b_verbose", "b_concise",
                "c", "c_concise",
                "d",
            ],
            "win_rate": [20.0, 30.0, 10.0, 40.0, 44.0, 30.0, 5.0, 4.0, 50.0],
            "lc": [25.0, 26.0, 22.0, 41.0, 41.0, 39.0, 9.0, 8.0, 50.0],
            "avg_length": [1000, 1500, 500, 1200, 1300, 900, 700, 300, 2000],
        }
    )  # fmt: skip


# ----------------------------------------------------------------------------- relative spread
def test_relative_spread_of_two_values_by_hand():
    assert relative_spread([10.0, 30.0]) == pytest.approx(two(10, 30))
    assert relative_spread([3.0, 3.0]) == 0.0
    # three values: sample SD / mean
    assert relative_spread([1.0, 2.0, 3.0]) == pytest.approx(1.0 / 2.0)


@settings(max_examples=60, deadline=None)
@given(
    st.floats(0.01, 100, allow_nan=False),
    st.floats(0.01, 100, allow_nan=False),
    st.floats(0.01, 100, allow_nan=False),
)
def test_relative_spread_is_scale_free_and_matches_formula(a, b, c):
    assert relative_spread([a, b]) == pytest.approx(two(a, b), rel=1e-9, abs=1e-12)
    assert relative_spread([c * a, c * b]) == pytest.approx(relative_spread([a, b]), abs=1e-9)


@pytest.mark.parametrize(
    "values, fragment",
    [
        ([1.0], "at least two"),
        ([1.0, np.nan], "at least two finite"),
        ([-1.0, 0.5], "positive mean"),
    ],
)
def test_relative_spread_errors(values, fragment):
    with pytest.raises(ParameterError, match=fragment):
        relative_spread(values)


# ----------------------------------------------------------------------------- gameability
def test_variant_spreads_lists_complete_triples_only(board):
    out = variant_spreads(board, "win_rate")
    assert out["model"].tolist() == ["a", "b"]  # c has no verbose variant
    a = out.iloc[0]
    assert (a["concise"], a["standard"], a["verbose"]) == (10.0, 20.0, 30.0)
    assert a["spread_verbose"] == pytest.approx(two(20, 30))
    assert a["spread_concise"] == pytest.approx(two(20, 10))


def _sd(values) -> float:
    return float(np.std(np.asarray(values, float), ddof=1))


def test_gameability_by_hand_with_the_quirk(board):
    # quirk: only the _verbose rows leave the SD computation
    keep = ~board["model"].str.endswith("_verbose")
    k = _sd(board.loc[keep, "win_rate"]) / _sd(board.loc[keep, "lc"])
    verbosity = (two(25, 26) + two(41, 41)) / 2 * k * 100
    conciseness = (two(25, 22) + two(41, 39)) / 2 * k * 100
    assert gameability(board, "lc") == pytest.approx(verbosity)
    assert gameability(board, "lc", kind="conciseness") == pytest.approx(conciseness)
    both = gameability(board, "lc", kind="both")
    assert both == pytest.approx(
        {"verbosity": verbosity, "conciseness": conciseness, "mean": (verbosity + conciseness) / 2}
    )


def test_gameability_without_the_quirk_drops_both_kinds_of_variant(board):
    keep = ~board["model"].str.endswith(("_verbose", "_concise"))
    assert keep.sum() == 4  # a, b, c, d
    k = _sd(board.loc[keep, "win_rate"]) / _sd(board.loc[keep, "lc"])
    expected = (two(25, 26) + two(41, 41)) / 2 * k * 100
    assert gameability(board, "lc", quirk=False) == pytest.approx(expected)
    assert gameability(board, "lc", quirk=False) != pytest.approx(gameability(board, "lc"))


def test_gameability_of_the_reference_itself_has_k_one(board):
    expected = (two(20, 30) + two(40, 44)) / 2 * 100
    assert gameability(board, "win_rate") == pytest.approx(expected)


@settings(max_examples=30, deadline=None)
@given(st.floats(0.05, 20, allow_nan=False))
def test_gameability_units(c):
    board = pd.DataFrame(
        {
            "model": ["a", "a_verbose", "a_concise", "b", "b_verbose", "b_concise", "d"],
            "win_rate": [20.0, 30.0, 10.0, 40.0, 44.0, 30.0, 50.0],
            "lc": [25.0, 26.0, 22.0, 41.0, 41.0, 39.0, 50.0],
        }
    )
    base = gameability(board, "lc", kind="both")
    # the metric AND the reference in other units (fractions, ...): unchanged
    scaled = board.assign(lc=board["lc"] * c, win_rate=board["win_rate"] * c)
    assert gameability(scaled, "lc", kind="both") == pytest.approx(base, rel=1e-9)
    # the metric alone rescaled: the relative spread is unit-free, k is not -> divided by c,
    # so shrinking a metric's scale cannot make it look less gameable
    alone = gameability(board.assign(lc=board["lc"] * c), "lc", kind="both")
    assert alone == pytest.approx({k: v / c for k, v in base.items()}, rel=1e-9)


def test_gameability_errors_name_what_is_missing(board):
    with pytest.raises(InputError, match=r"missing column\(s\) \['nope'\]"):
        gameability(board, "nope")
    with pytest.raises(InputError, match="'model'"):
        gameability(board.rename(columns={"model": "name"}), "lc")
    with pytest.raises(InputError, match="both '_verbose' and '_concise'"):
        gameability(board[~board["model"].str.endswith("_verbose")], "lc")
    with pytest.raises(ParameterError, match="'kind' parameter must be one of"):
        gameability(board, "lc", kind="sideways")
    with pytest.raises(InputError, match="duplicate model names"):
        gameability(pd.concat([board, board.iloc[[0]]]), "lc")
    with pytest.raises(InputError, match="standard deviation"):
        gameability(board.assign(flat=5.0), "flat")
    with pytest.raises(InputError, match="non-numeric"):
        gameability(board.assign(lc=board["lc"].astype(object).where(board.index > 0, "x")), "lc")


def test_gameability_custom_model_column_and_suffixes():
    t = pd.DataFrame(
        {"name": ["m", "m-long", "m-short", "o"], "win_rate": [10.0, 30.0, 10.0, 50.0]}
    )
    g = gameability(
        t, "win_rate", model_column="name", verbose_suffix="-long", concise_suffix="-short"
    )
    assert g == pytest.approx(100 * two(10, 30))


# ----------------------------------------------------------------------------- adversarial
def test_adversarial_gain_by_hand():
    t = pd.DataFrame(
        {
            "model": ["a", "b", "c", "gamed"],
            "win_rate": [30.0, 20.0, 10.0, 4.0],
            "lc": [30.0, 20.0, 10.0, 20.0],  # ties with b: method "min" gives both rank 2
        }
    )
    out = adversarial_gain(t, "lc", model="gamed")
    assert out["win_rate_gain"] == pytest.approx(16.0)
    assert out["rank"] == 2.0 and out["reference_rank"] == 4.0
    assert out["rank_gain"] == 2.0
    same = adversarial_gain(t, "win_rate", model="gamed")
    assert same["win_rate_gain"] == 0.0 and same["rank_gain"] == 0.0


def test_adversarial_gain_errors():
    t = pd.DataFrame({"model": ["a"], "win_rate": [1.0], "lc": [2.0]})
    with pytest.raises(InputError, match="'gpt4_gamed' is not in the table"):
        adversarial_gain(t, "lc")
    with pytest.raises(InputError, match=r"missing column\(s\) \['lcx'\]"):
        adversarial_gain(t, "lcx", model="a")


# ----------------------------------------------------------------------------- correlations
@pytest.fixture
def bench() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "model": ["a", "b", "c", "d", "e", "f"],
            "Arena Elo\n[Feb 2, 2024]": [1200.0, 1100, 1000, 900, np.nan, 800],
            "Good": [9.0, 8, 7, 6, 5, np.nan],
            "Mixed": [1.0, 3, 2, 4, 5, 6],
            "Sparse": [1.0, np.nan, np.nan, np.nan, np.nan, 2],
        }
    )


def test_correlations_with_arena_is_pairwise_complete_sorted_and_filtered(bench):
    out = correlations_with_arena(bench, min_shared=3)
    assert out["benchmark"].tolist() == ["Mixed", "Good"]  # ascending; Sparse (2 shared) dropped
    good = out.set_index("benchmark").loc["Good"]
    assert good["correlation"] == pytest.approx(1.0) and good["n_shared"] == 4
    mixed = out.set_index("benchmark").loc["Mixed"]
    expected = stats.spearmanr([1, 3, 2, 4, 6], [1200, 1100, 1000, 900, 800]).statistic
    assert mixed["correlation"] == pytest.approx(expected) and mixed["n_shared"] == 5
    kendall = correlations_with_arena(bench, method="kendall", min_shared=3)
    expected_tau = stats.kendalltau([1, 3, 2, 4, 6], [1200, 1100, 1000, 900, 800]).statistic
    assert kendall.set_index("benchmark").loc["Mixed", "correlation"] == pytest.approx(expected_tau)


def test_correlations_with_arena_errors(bench):
    with pytest.raises(InputError, match="no column 'Arena Elo'"):
        correlations_with_arena(bench, arena_column="Arena Elo")
    with pytest.raises(ParameterError, match="'method' parameter"):
        correlations_with_arena(bench, method="cosine")
    with pytest.raises(ParameterError, match="'min_shared' parameter"):
        correlations_with_arena(bench, min_shared=1)


def test_benchmark_correlation_joins_on_model(bench):
    lb = pd.DataFrame(
        {"model": ["f", "a", "b", "c", "x"], "wr": [1.0, 4, 3, 2, 9], "bad": [4.0, 1, 2, 3, 0]}
    )
    out = benchmark_correlation(lb, bench, min_shared=4).set_index("metric")
    assert out.loc["wr", "correlation"] == pytest.approx(1.0)
    assert out.loc["bad", "correlation"] == pytest.approx(-1.0)
    assert out.loc["wr", "n_shared"] == 4  # x has no Arena score
    few = benchmark_correlation(lb, bench, metrics=["wr"], min_shared=5)
    assert few["correlation"].isna().all() and few["n_shared"].tolist() == [4]
    with pytest.raises(InputError, match=r"missing column\(s\) \['zz'\]"):
        benchmark_correlation(lb, bench, metrics=["zz"])
    with pytest.raises(InputError, match="benchmarks is missing column"):
        benchmark_correlation(lb.rename(columns={"model": "m"}), bench, on="m")


def test_length_correlation_by_hand():
    t = pd.DataFrame({"wr": [1.0, 2, 3, 4], "avg_length": [10, 30, 20, np.nan]})
    assert length_correlation(t, "wr") == pytest.approx(0.5)
    assert length_correlation(t, "wr", method="pearson") == pytest.approx(0.5)
    with pytest.raises(InputError, match=r"\['avg_len'\]"):
        length_correlation(t, "wr", length="avg_len")


def test_metric_report_by_hand(board, bench):
    arena = pd.DataFrame({"model": ["a", "b", "c", "d"], ARENA_COLUMN: [1.0, 2.0, 0.5, 3.0]})
    r = metric_report(board, "lc", arena, adversarial_model="c")
    g = gameability(board, "lc", kind="both")
    assert r["gameability"] == pytest.approx(g["mean"])
    assert r["adversarial_win_rate_gain"] == pytest.approx(4.0)
    assert r["n_arena"] == 4
    assert r["arena_correlation"] == pytest.approx(1.0)  # lc 25, 41, 9, 50 vs 1, 2, .5, 3
    assert r["length_correlation"] == pytest.approx(
        stats.spearmanr([25, 41, 9, 50], [1000, 1200, 700, 2000]).statistic
    )
    r0 = metric_report(board, "lc")
    assert math.isnan(r0["arena_correlation"]) and math.isnan(r0["adversarial_win_rate_gain"])


# ----------------------------------------------------------------------------- alternatives
def test_length_normalized_win_rate_by_hand():
    t = pd.DataFrame(
        {
            "model": ["base", "long", "short", "tiny_strong"],
            "win_rate": [50.0, 30.0, 10.0, 80.0],
            "avg_length": [1000.0, 1500.0, 500.0, 10.0],
        }
    )
    out = length_normalized_win_rate(t, baseline="base")
    sig = lambda x: 1 / (1 + math.exp(-x))  # noqa: E731
    assert out.tolist()[:3] == pytest.approx([50.0, 30 * 2 * sig(-1), 10 * 2 * sig(1)])
    assert out.iloc[3] == 100.0  # 80 * 2 * sigma(1.98) > 100: clipped
    assert out.name == "length_normalized_win_rate"
    assert length_normalized_win_rate(t, baseline_length=1000.0).equals(out)
    t.attrs["baseline"] = "base"
    assert length_normalized_win_rate(t).equals(out)
    # a model at the baseline's length is not corrected; the factor is bounded by 2
    assert length_normalized_win_rate(t, baseline="base", temperature=1e-9).iloc[2] == 20.0


def test_length_normalized_win_rate_errors():
    t = pd.DataFrame({"model": ["a"], "win_rate": [10.0], "avg_length": [5.0]})
    with pytest.raises(ParameterError, match="needs the baseline"):
        length_normalized_win_rate(t)
    with pytest.raises(InputError, match="Baseline 'z' is not in the table"):
        length_normalized_win_rate(t, baseline="z")
    with pytest.raises(ParameterError, match="'temperature' parameter"):
        length_normalized_win_rate(t, baseline="a", temperature=0)
    with pytest.raises(InputError, match=r"\['avg_length'\]"):
        length_normalized_win_rate(t.drop(columns="avg_length"), baseline="a")


def _judgments(rows) -> pd.DataFrame:
    return pd.DataFrame(
        rows, columns=["model", "baseline", "output_model", "output_baseline", "preference"]
    )


def test_length_balanced_win_rate_by_hand():
    df = _judgments(
        [
            ("m", "b", "xxxxx", "xxx", 1.0),  # longer
            ("m", "b", "xxxxx", "xxx", 0.0),  # longer
            ("m", "b", "xxxxx", "xxx", 1.0),  # longer
            ("m", "b", "x", "xxx", 0.0),  # shorter
            ("m", "b", "xxx", "xxx", 1.0),  # equal: in neither stratum
            ("m", "b", "xx", "xxx", np.nan),  # no verdict: ignored
            ("m", "b", "", "xxx", 1.0),  # empty output: dropped
        ]
    )
    row = length_balanced_win_rate(df).iloc[0]
    assert (row["n_longer"], row["n_shorter"], row["n_equal"]) == (3, 1, 1)
    assert row["win_rate_longer"] == pytest.approx(200 / 3)
    assert row["win_rate_shorter"] == 0.0
    assert row["balanced_win_rate"] == pytest.approx(100 / 3)
    assert row["win_rate"] == pytest.approx(60.0)  # 3 wins of 5 kept rows
    kept = length_balanced_win_rate(df, drop_empty_outputs=False).iloc[0]
    assert kept["n_shorter"] == 2 and kept["win_rate_shorter"] == 50.0


def test_length_balanced_win_rate_falls_back_to_the_overall_rate():
    df = _judgments(
        [("same", "same", "abc", "abc", 0.5)] * 3
        + [("short", "b", "a", "abc", 1.0), ("short", "b", "a", "abc", 0.0)]
    )
    out = length_balanced_win_rate(df).set_index("model")
    assert out.loc["same", "balanced_win_rate"] == 50.0  # the baseline against itself
    assert out.loc["short", "balanced_win_rate"] == 50.0  # no longer stratum: overall rate
    assert out.loc["short", "n_longer"] == 0


def test_length_balanced_win_rate_accepts_comparisons_and_word_lengths():
    df = _judgments([("m", "b", "one two three", "a b", 1.0), ("m", "b", "x", "a b", 0.0)]).assign(
        instruction=["q1", "q2"]
    )
    comps = Comparisons.from_dataframe(df)
    out = length_balanced_win_rate(comps)
    assert out["balanced_win_rate"].tolist() == [50.0]
    words = length_balanced_win_rate(comps, length=lambda s: len(s.split()))
    assert words["n_longer"].tolist() == [1]
    with pytest.raises(InputError, match=r"comparisons is missing column\(s\) \['output_model'"):
        length_balanced_win_rate(df.drop(columns=["output_model"]))


def test_elo_from_win_rate():
    assert elo_from_win_rate(50.0) == pytest.approx(1251.0)
    assert elo_from_win_rate(np.array([50.0, 90.0]), anchor=1000) == pytest.approx(
        [1000.0, 1000 + 400 * math.log10(9)]
    )


# ----------------------------------------------------------------------------- the paper
DATA_ENV = "DEBIAS_ALPACA_EVAL_DIR"
_DATA = os.environ.get(DATA_ENV)
_HAVE_DATA = bool(_DATA) and Path(_DATA).is_dir()
needs_pack = pytest.mark.skipif(
    not _HAVE_DATA, reason="AlpacaEval data pack not found: set DEBIAS_ALPACA_EVAL_DIR"
)


@pytest.fixture(scope="module")
def paper():
    from debias.io import read_benchmarks, read_leaderboard

    root = Path(_DATA) / "leaderboards" / "paper_time_241e1f6"
    lb = read_leaderboard(root / "weighted_alpaca_eval_gpt4_turbo_leaderboard.csv")
    bm = read_benchmarks(root / "benchmarks.csv")
    return lb, bm


@pytest.mark.alpaca_eval
@needs_pack
def test_figure_1_correlations_with_arena(paper):
    _, bm = paper
    out = correlations_with_arena(bm).set_index("benchmark")
    assert out.loc["LC AlpacaEval 2.0", "correlation"] == pytest.approx(0.977, abs=0.002)
    assert out.loc["LC AlpacaEval 2.0", "n_shared"] == 38
    assert out.loc["AlpacaEval 2.0", "correlation"] == pytest.approx(0.936, abs=0.002)
    assert out.loc["MT-bench (multi-turn)", "correlation"] == pytest.approx(0.94, abs=0.005)
    assert out.loc["MMLU (5-shot)", "correlation"] == pytest.approx(0.87, abs=0.005)
    assert out.loc["Output Length", "correlation"] == pytest.approx(0.35, abs=0.005)
    assert out.index[-1] == "LC AlpacaEval 2.0"  # the highest, last in ascending order
    assert (out["n_shared"] >= 24).all()


@pytest.mark.alpaca_eval
@needs_pack
def test_gameability_of_the_paper_time_leaderboard(paper):
    lb, _ = paper
    lc = gameability(lb, "length_controlled_winrate", kind="both")
    assert lc["verbosity"] == pytest.approx(6.4, abs=0.2)
    assert lc["conciseness"] == pytest.approx(13.6, abs=0.2)
    assert lc["mean"] == pytest.approx(10, abs=0.5)
    raw = gameability(lb, "win_rate", kind="both")
    assert raw["verbosity"] == pytest.approx(21.3, abs=0.1)
    assert raw["conciseness"] == pytest.approx(29.8, abs=0.1)
    assert raw["mean"] == pytest.approx(26, abs=0.5)
    assert len(variant_spreads(lb, "win_rate")) == 6
    # without the reference's filter quirk the LC numbers move by 0.2-0.4
    fixed = gameability(lb, "length_controlled_winrate", kind="both", quirk=False)
    assert fixed["verbosity"] > lc["verbosity"] and fixed["conciseness"] > lc["conciseness"]


@pytest.mark.alpaca_eval
@needs_pack
def test_method_comparison_rows_and_length_correlations(paper):
    lb, bm = paper
    lb = lb.assign(normalized=length_normalized_win_rate(lb, baseline="gpt4_1106_preview"))
    raw = metric_report(lb, "win_rate", bm)
    lc = metric_report(lb, "length_controlled_winrate", bm)
    norm = metric_report(lb, "normalized", bm)
    assert raw["arena_correlation"] == pytest.approx(0.94, abs=0.005)
    assert raw["adversarial_win_rate_gain"] == 0.0
    assert lc["arena_correlation"] == pytest.approx(0.98, abs=0.005)
    assert lc["adversarial_win_rate_gain"] == pytest.approx(8.5, abs=0.05)
    assert norm["arena_correlation"] == pytest.approx(0.96, abs=0.005)
    assert norm["gameability"] == pytest.approx(15, abs=0.5)
    assert norm["adversarial_win_rate_gain"] == pytest.approx(3.6, abs=0.05)
    # item I: Spearman with average length on the 38 Arena models
    assert raw["length_correlation"] == pytest.approx(0.497, abs=0.001)
    assert lc["length_correlation"] == pytest.approx(0.327, abs=0.001)
    assert raw["n_arena"] == 38


@pytest.mark.alpaca_eval
@needs_pack
def test_length_balanced_adversarial_gain_from_annotations():
    from debias.io import read_alpaca_eval

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        comps = read_alpaca_eval(_DATA, models=["gpt4_gamed", "alpaca-7b_concise"])
    out = length_balanced_win_rate(comps).set_index("model")
    # the reference notebook's values: 44.532377 and 6.673438
    assert out.loc["gpt4_gamed", "balanced_win_rate"] == pytest.approx(44.532, abs=0.001)
    assert out.loc["alpaca-7b_concise", "balanced_win_rate"] == pytest.approx(6.673, abs=0.001)
    gain = out.loc["gpt4_gamed", "balanced_win_rate"] - out.loc["gpt4_gamed", "win_rate"]
    assert gain == pytest.approx(40.8, abs=0.05)
