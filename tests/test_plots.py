"""Diagnostic plots: every function draws headless, labels its axes, and text does not collide."""

from __future__ import annotations

import warnings

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import pytest
from matplotlib.figure import Figure
from matplotlib.text import Text

from debias import plots
from debias.counterfactual import winrate_matrix
from debias.errors import InputError, ParameterError
from debias.reports.leaderboard import leaderboard_fit
from debias.simulate import simulate

FORMULA = "tanh(scaled(length)) + diff_over_sum(markdown_model, markdown_baseline) + difficulty"


@pytest.fixture(scope="module")
def fitted():
    sim = simulate(n_models=5, n_instructions=150, seed=3)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        table, fit = leaderboard_fit(sim.comparisons, formula=FORMULA, lam=0)
    return table, fit


@pytest.fixture(autouse=True)
def _close_figures(monkeypatch):
    def no_show(*a, **k):
        raise AssertionError("plots must never call plt.show()")

    monkeypatch.setattr(plt, "show", no_show)
    yield
    plt.close("all")


def _crowded_table(n=40, seed=0):
    """A leaderboard with many close, long-named models (labels would collide)."""
    rng = np.random.default_rng(seed)
    wr = np.clip(rng.normal(10, 4, n), 0.5, 99)
    lc = np.clip(wr + rng.normal(4, 3, n), 0.5, 99)
    names = [f"some-long-model-name-{i:02d}-instruct-v{i % 3}" for i in range(n)]
    return pd.DataFrame(
        {"model": names, "win_rate": wr, "lc_win_rate": lc, "avg_length": rng.uniform(300, 3000, n)}
    )


CASES = {
    "length_effect": lambda t, f: plots.length_effect(f, n_bins=6),
    "length_effect_markdown": lambda t, f: plots.length_effect(f, mediator="markdown", n_bins=5),
    "calibration": lambda t, f: plots.calibration(f),
    "coefficient_forest": lambda t, f: plots.coefficient_forest(f),
    "coefficient_forest_markdown": lambda t, f: plots.coefficient_forest(
        f, term="diff_over_sum(markdown_model, markdown_baseline)"
    ),
    "raw_vs_controlled": lambda t, f: plots.raw_vs_controlled(t),
    "rank_bump": lambda t, f: plots.rank_bump(t),
    "gameability": lambda t, f: plots.gameability(
        pd.DataFrame(
            {
                "model": ["a"] * 3 + ["b"] * 3,
                "variant": ["concise", "standard", "verbose"] * 2,
                "win_rate": [5.0, 10.0, 20.0, 30.0, 40.0, 55.0],
                "lc_win_rate": [9.0, 11.0, 12.0, 38.0, 40.0, 42.0],
            }
        )
    ),
    "winrate_heatmap": lambda t, f: plots.winrate_heatmap(winrate_matrix(f)),
    "benchmark_correlation": lambda t, f: plots.benchmark_correlation(
        pd.Series({"LC AlpacaEval 2.0": 0.98, "AlpacaEval 2.0": 0.94, "Length": 0.35, "MMLU": 0.87})
    ),
    "residuals": lambda t, f: plots.residuals(f),
    "residuals_one": lambda t, f: plots.residuals(f, mediator="length"),
}


def _axes_of(fig):
    return fig, [a for a in fig.axes if a.get_label() != "<colorbar>"]


def _visible_texts(fig):
    out = []
    for t in fig.findobj(Text):
        if t.get_visible() and t.get_text().strip() and t.get_figure() is not None:
            out.append(t)
    return out


@pytest.mark.parametrize("name", list(CASES))
def test_plot_returns_labelled_axes_and_saves(name, fitted, tmp_path):
    table, fit = fitted
    obj = CASES[name](table, fit)
    assert isinstance(obj, Figure)
    fig, axes = _axes_of(obj)
    main = [a for a in axes if a.get_xlabel() or a.get_title()]
    assert main, "no labelled axes"
    for ax in main:
        assert ax.get_xlabel().strip(), f"{name}: empty x label"
        shared = ax.get_shared_y_axes().get_siblings(ax)  # shared y: one label suffices
        assert any(a.get_ylabel().strip() for a in shared), f"{name}: empty y label"
    titles = [a.get_title() for a in main] + [fig._suptitle.get_text() if fig._suptitle else ""]
    assert any(t.strip() for t in titles), f"{name}: no title"
    path = tmp_path / f"{name}.png"
    fig.savefig(path)
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert path.stat().st_size > 5_000


@pytest.mark.parametrize("name", list(CASES))
def test_text_readable_and_inside_figure(name, fitted):
    table, fit = fitted
    obj = CASES[name](table, fit)
    fig, _ = _axes_of(obj)
    fig.canvas.draw()
    renderer = fig.canvas.get_renderer()
    for t in _visible_texts(fig):
        assert t.get_fontsize() >= 8, f"{name}: {t.get_text()!r} at {t.get_fontsize()} pt"
    # everything drawn (tick labels in view, labels, titles, legends) lies on the canvas
    tight = fig.get_tightbbox(renderer)
    w, h = fig.get_size_inches()
    tol = 0.02
    assert tight.x0 >= -tol and tight.y0 >= -tol, f"{name}: text clipped at the left/bottom"
    assert tight.x1 <= w + tol and tight.y1 <= h + tol, f"{name}: text clipped at the right/top"


def _overlapping(texts, renderer):
    boxes = [(t.get_text(), Text.get_window_extent(t, renderer)) for t in texts]
    bad = []
    for i in range(len(boxes)):
        for j in range(i + 1, len(boxes)):
            if boxes[i][1].overlaps(boxes[j][1]):
                bad.append((boxes[i][0], boxes[j][0]))
    return bad


@pytest.mark.parametrize("n", [6, 25, 40])
def test_raw_vs_controlled_labels_do_not_overlap(n):
    table = _crowded_table(n, seed=n)
    fig = plots.raw_vs_controlled(table, n_labels=8)
    ax = fig.axes[0]
    fig.canvas.draw()
    renderer = fig.canvas.get_renderer()
    labels = list(ax.texts)
    assert labels, "no model was labelled"
    assert _overlapping(labels, renderer) == []
    # the labels name the models moved most
    moved = (table["lc_win_rate"] - table["win_rate"]).abs().sort_values(ascending=False)
    first = table.loc[moved.index[0], "model"]
    assert any(t.get_text().startswith(first[:20]) for t in labels)
    # and every label (with its leader line) stays inside the axes
    axbox = ax.get_window_extent(renderer)
    for t in labels:
        bb = Text.get_window_extent(t, renderer)
        assert axbox.x0 - 1 <= bb.x0 and bb.x1 <= axbox.x1 + 1
        assert axbox.y0 - 1 <= bb.y0 and bb.y1 <= axbox.y1 + 1


@pytest.mark.parametrize("n, top", [(12, None), (46, None), (46, 15)])
def test_rank_bump_names_do_not_overlap(n, top):
    table = _crowded_table(n, seed=1)
    fig = plots.rank_bump(table, top=top)
    ax = fig.axes[0]
    fig.canvas.draw()
    renderer = fig.canvas.get_renderer()
    twin = [a for a in fig.axes if a is not ax][0]
    names = [t for t in ax.get_yticklabels() + twin.get_yticklabels() if t.get_text()]
    expected = n if top is None else len(names) // 2
    assert len(names) == 2 * expected
    texts = names + [ax.xaxis.label, ax.yaxis.label, twin.yaxis.label, ax.title]
    assert _overlapping(texts, renderer) == []


def test_functions_draw_into_given_axes(fitted):
    table, fit = fitted
    fig, axes = plt.subplots(2, 3, figsize=(14, 8))
    drawn = [
        plots.length_effect(fit, ax=axes[0, 0]),
        plots.calibration(fit, ax=axes[0, 1]),
        plots.coefficient_forest(fit, ax=axes[0, 2]),
        plots.raw_vs_controlled(table, ax=axes[1, 0]),
        plots.residuals(fit, mediator="markdown", ax=axes[1, 1]),
        plots.winrate_heatmap(winrate_matrix(fit), ax=axes[1, 2]),
    ]
    assert all(f is fig for f in drawn)  # every plot returns the figure it drew in
    assert all(a.get_xlabel() for a in axes.flat)  # ... and drew into the Axes given
    fig2, pair = plt.subplots(1, 2)
    assert plots.residuals(fit, ax=pair) is fig2


def test_length_effect_curves_follow_the_fit(fitted):
    _, fit = fitted
    models = list(fit.results_)[:2]
    ax = plots.length_effect(fit, models=models).axes[0]
    curves = [line for line in ax.get_lines() if len(line.get_xdata()) == 60]
    assert len(curves) == 2
    for line, m in zip(curves, models, strict=True):
        y = np.asarray(line.get_ydata())
        # the judge prefers longer answers in the simulation: curves rise with length
        assert fit.results_[m].params["tanh(scaled(length))"] > 0
        assert y[-1] > y[0]
        assert np.all((y >= 0) & (y <= 1))
    assert [t.get_text() for t in ax.get_legend().get_texts()] == models


def test_coefficient_forest_marks_off_scale_estimates():
    # a separated model's huge slope must not squash the others
    fit_like = simulate(n_models=6, n_instructions=120, seed=4)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        _, fit = leaderboard_fit(
            fit_like.comparisons, preset="length_controlled_minimal", difficulty="none",
        )  # fmt: skip
    m = list(fit.results_)[0]
    fit.results_[m].params["tanh(scaled(length))"] = 40.0
    ax = plots.coefficient_forest(fit).axes[0]
    lo, hi = ax.get_xlim()
    assert hi < 40
    assert any("off scale" in t.get_text() for t in ax.texts)


def test_variants_table_and_gameability():
    t = pd.DataFrame(
        {
            "model": ["m", "m_concise", "m_verbose", "solo", "n_verbose", "n"],
            "win_rate": [10.0, 5.0, 20.0, 30.0, 8.0, 6.0],
            "lc_win_rate": [12.0, 11.0, 13.0, 31.0, 7.0, 6.5],
        }
    )
    v = plots.variants_table(t)
    assert list(v.columns) == ["model", "variant", "win_rate", "lc_win_rate"]
    assert v.groupby("model")["variant"].apply(list).to_dict() == {
        "m": ["concise", "standard", "verbose"],
        "n": ["standard", "verbose"],
    }
    fig = plots.gameability(v)
    assert isinstance(fig, Figure)
    with pytest.raises(InputError, match="unknown variant"):
        plots.gameability(v.assign(variant="long"))


def test_benchmark_correlation_is_ascending():
    s = pd.Series({"b": 0.9, "a": 0.2, "c": 0.5})
    ax = plots.benchmark_correlation(s).axes[0]
    assert [t.get_text() for t in ax.get_xticklabels()] == ["a", "c", "b"]
    assert [t.get_text() for t in ax.texts] == ["0.20", "0.50", "0.90"]


def test_winrate_heatmap_annotates_small_matrices_only(fitted):
    _, fit = fitted
    small = winrate_matrix(fit)
    ax = plots.winrate_heatmap(small).axes[0]
    assert len(ax.texts) == small.size
    big = pd.DataFrame(
        np.full((25, 25), 50.0),
        index=[f"m{i}" for i in range(25)],
        columns=[f"m{i}" for i in range(25)],
    )
    assert len(plots.winrate_heatmap(big).axes[0].texts) == 0


def test_bad_inputs_raise_clear_errors(fitted):
    table, fit = fitted
    with pytest.raises(ParameterError, match="mediator"):
        plots.length_effect(fit, mediator="emoji")
    with pytest.raises(ParameterError, match="Unknown"):
        plots.length_effect(fit, models=["nope"])
    with pytest.raises(ParameterError, match="term"):
        plots.coefficient_forest(fit, term="nope")
    with pytest.raises(InputError, match=r"missing column.*win_rate"):
        plots.raw_vs_controlled(table.drop(columns="win_rate"))
    with pytest.raises(InputError, match="length_controlled_winrate"):  # says both spellings
        plots.rank_bump(table.drop(columns="lc_win_rate"))
    with pytest.raises(ParameterError, match="n_bins"):
        plots.calibration(fit, n_bins=0)
    with pytest.raises(ParameterError, match="fitted PreferenceGLM"):
        plots.calibration(object())


# ---------------------------------------------------------------- published AlpacaEval tables
def _published_table(n=12, seed=5, as_index=True):
    """A table with a published AlpacaEval leaderboard's column names (made-up numbers)."""
    rng = np.random.default_rng(seed)
    wr = rng.uniform(5, 60, n)
    t = pd.DataFrame(
        {
            "win_rate": wr,
            "standard_error": rng.uniform(0.8, 1.5, n),
            "n_total": 805,
            "avg_length": rng.integers(800, 3500, n),
            "length_controlled_winrate": np.clip(wr + rng.normal(0, 6, n), 1, 99),
            "lc_win_rate_se": rng.uniform(0.1, 0.4, n),
        },
        index=[f"published-model-{i}" for i in range(n)],
    )
    if as_index:
        return t  # pd.read_csv(path, index_col=0)
    return t.reset_index(names="Unnamed: 0")  # pd.read_csv(path): the unnamed first column


@pytest.mark.parametrize("as_index", [True, False])
def test_table_plots_read_published_alpaca_eval_columns(as_index):
    t = _published_table(as_index=as_index)
    names = [f"published-model-{i}" for i in range(len(t))]
    fig = plots.raw_vs_controlled(t, n_labels=3)
    ax = fig.axes[0]
    x, y = ax.collections[0].get_offsets().T
    np.testing.assert_allclose(sorted(x), sorted(_published_table()["win_rate"]))
    np.testing.assert_allclose(sorted(y), sorted(_published_table()["length_controlled_winrate"]))
    assert any(t.get_text().startswith("published-model-") for t in ax.texts)
    fig = plots.rank_bump(t)
    ticks = [tick.get_text() for tick in fig.axes[0].get_yticklabels()]
    assert sorted(tk.rsplit("  ", 1)[0] for tk in ticks) == sorted(names)
    variants = _published_table(3, as_index=as_index)
    variants = (
        variants.rename(
            index=dict(zip(variants.index, ["m", "m_concise", "m_verbose"], strict=True))
        )
        if as_index
        else variants.assign(**{"Unnamed: 0": ["m", "m_concise", "m_verbose"]})
    )
    v = plots.variants_table(variants)
    assert list(v["variant"]) == ["concise", "standard", "verbose"]
    assert isinstance(plots.gameability(v), Figure)


def test_raw_vs_controlled_without_lengths_draws_one_colour():
    t = _published_table().drop(columns="avg_length")
    fig = plots.raw_vs_controlled(t, n_labels=2)
    assert len(fig.axes) == 1  # no colour bar without lengths


# ---------------------------------------------------------------- labels, geometrically
@pytest.mark.parametrize("n, seed, at_least", [(40, 0, 6), (40, 1, 6), (60, 2, 3)])
def test_labels_cover_no_point_and_no_other_label(n, seed, at_least):
    """On a crowded table: no two label boxes overlap, and no label box contains the
    centre of any point marker (labels are placed away, with leader lines)."""
    table = _crowded_table(n, seed=seed)
    fig = plots.raw_vs_controlled(table, n_labels=10)
    ax = fig.axes[0]
    fig.canvas.draw()
    renderer = fig.canvas.get_renderer()
    labels = [t for t in ax.texts if t.get_text()]
    assert len(labels) >= at_least, "too few of the most-moved models labelled"
    boxes = [Text.get_window_extent(t, renderer) for t in labels]
    for i in range(len(boxes)):
        for j in range(i + 1, len(boxes)):
            assert not boxes[i].overlaps(boxes[j]), (labels[i].get_text(), labels[j].get_text())
    centres = ax.transData.transform(np.column_stack([table["win_rate"], table["lc_win_rate"]]))
    for t, bb in zip(labels, boxes, strict=True):
        inside = (
            (centres[:, 0] >= bb.x0)
            & (centres[:, 0] <= bb.x1)
            & (centres[:, 1] >= bb.y0)
            & (centres[:, 1] <= bb.y1)
        )
        assert not inside.any(), f"{t.get_text()!r} covers a point"
    legend = ax.get_legend().get_window_extent(renderer)
    assert not any(bb.overlaps(legend) for bb in boxes), "a label covers the legend"
    # the labelled models are the most moved, in order (a dropped one may be skipped)
    moved = (table["lc_win_rate"] - table["win_rate"]).abs().sort_values(ascending=False)
    top = [m[:23] for m in table.loc[moved.index[:10], "model"]]
    assert labels[0].get_text().startswith(top[0])
    assert all(any(t.get_text().startswith(m) for m in top) for t in labels)
    # labels away from their point have a leader line
    assert any(t.arrow_patch is not None for t in labels)


def test_winrate_heatmap_sorts_models_and_keeps_every_cell(fitted):
    _, fit = fitted
    matrix = winrate_matrix(fit)
    shuffled = matrix.iloc[::-1, ::-1]
    ax = plots.winrate_heatmap(shuffled).axes[0]
    rows = [t.get_text() for t in ax.get_yticklabels()]
    cols = [t.get_text() for t in ax.get_xticklabels()]
    assert rows == cols
    strength = matrix.where(~np.eye(len(matrix), dtype=bool)).mean(axis=1)
    assert rows == list(strength.sort_values(ascending=False).index)  # strongest first
    image = ax.get_images()[0].get_array()
    for i, r in enumerate(rows):
        for j, c in enumerate(cols):
            assert image[i, j] == pytest.approx(matrix.loc[r, c])  # row model vs column model
    kept = plots.winrate_heatmap(shuffled, sort=False).axes[0]
    assert [t.get_text() for t in kept.get_yticklabels()] == list(shuffled.index)


def test_public_api_reaches_audit_and_plots_lazily():
    import subprocess
    import sys

    code = (
        "import sys, debias\n"
        "assert 'matplotlib' not in sys.modules and 'pandas' not in sys.modules\n"
        "assert callable(debias.audit) and callable(debias.run_audit)\n"
        "assert debias.AuditReport.__name__ == 'AuditReport'\n"
        "assert callable(debias.plots.raw_vs_controlled)\n"
        "assert {'audit', 'plots', 'run_audit', 'AuditReport'} <= set(debias.__all__)\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True)
