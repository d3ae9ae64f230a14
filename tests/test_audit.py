"""The judge audit: pooled tests on simulated judges with known biases, report files, JSON."""

from __future__ import annotations

import json
import warnings

import matplotlib

matplotlib.use("Agg")

import numpy as np
import pandas as pd
import pytest
from threadpoolctl import threadpool_limits

from debias.counterfactual import comparisons, ratio
from debias.data import Comparisons
from debias.errors import FitWarning, InputError, ParameterError
from debias.inference.two_stage import coefficient_influence
from debias.reports.audit import (
    AuditReport,
    audit,
    audit_formula,
    fit_audit_glm,
    mediator_term,
    pooled_effect,
    pooled_slope,
    run_audit,
)
from debias.simulate import simulate, write_alpaca_eval_tree

MEDIATOR_KEYS = {"estimate", "std_error", "conf_low", "conf_high", "p_value", "effect"}
EFFECT_KEYS = {"estimate", "std_error", "conf_low", "conf_high", "p_value", "description", "unit"}
MODEL_KEYS = {
    "win_rate",
    "lc_win_rate",
    "lc_win_rate_ci_low",
    "lc_win_rate_ci_high",
    "win_rate_ci_low",
    "length_markdown_controlled_win_rate",
    "length_markdown_controlled_shift",
    "flags",
}


def _quiet(f, *a, **k):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return f(*a, **k)


@pytest.fixture(scope="module")
def biased():
    sim = simulate(n_models=4, n_instructions=300, length_effect=1.0, markdown_effect=0.0, seed=5)
    return sim, _quiet(audit, sim.comparisons, progress=False)


def test_strong_length_effect_is_detected(biased):
    _, report = biased
    row = report.summary.set_index("mediator").loc["length"]
    assert row["p_value"] < 0.01
    assert row["estimate"] > 0
    assert row["conf_low"] < row["estimate"] < row["conf_high"]
    assert row["effect"] > 0 and row["effect_ci_low"] > 0
    # the simulated judge's slope on tanh(scaled(length)) is 1.0
    assert abs(row["estimate"] - 1.0) < 4 * row["std_error"]
    assert report.verdict.startswith("The judge prefers longer answers (pooled slope")
    assert "doubling an answer's length raises its win rate by" in report.verdict
    assert "points (95% CI" in report.verdict


def test_preference_for_shorter_answers_has_the_right_sign():
    sim = simulate(n_models=3, n_instructions=300, length_effect=-1.0, seed=8)
    report = _quiet(audit, sim.comparisons, mediators=["length"], progress=False)
    row = report.summary.iloc[0]
    assert row["estimate"] < 0 and row["effect"] < 0 and row["p_value"] < 0.01
    assert report.verdict.startswith("The judge prefers shorter answers")
    assert "lowers its win rate" in report.verdict


def test_no_length_preference_gives_estimate_near_zero():
    sim = simulate(n_models=4, n_instructions=300, length_effect=0.0, markdown_effect=0.0, seed=21)
    report = _quiet(audit, sim.comparisons, progress=False)
    s = report.summary.set_index("mediator")
    for m in ("length", "markdown"):
        assert abs(s.loc[m, "estimate"]) < 4 * s.loc[m, "std_error"]
        assert abs(s.loc[m, "effect"]) < 4 * s.loc[m, "effect_se"]
    assert abs(s.loc["length", "estimate"]) < 0.3
    assert abs(s.loc["length", "effect"]) < 4.0


def test_pooled_slope_of_one_model_is_its_own_wald_test():
    sim = simulate(n_models=1, n_instructions=250, seed=2)
    fit = _quiet(fit_audit_glm, sim.comparisons)
    res = next(iter(fit.results_.values()))
    term = mediator_term(fit, "length")
    out = pooled_slope(fit, term)
    assert out["estimate"] == pytest.approx(res.params[term])
    assert out["std_error"] == pytest.approx(res.bse[term], rel=1e-10)
    assert out["p_value"] == pytest.approx(res.pvalues[term], rel=1e-8)
    eff = pooled_effect(fit, {"length": ratio(2)}, {"length": ratio(1)})
    ref = comparisons(fit, at={"length": ratio(2)}, at_reference={"length": ratio(1)}).iloc[0]
    assert eff["estimate"] == pytest.approx(100 * ref["estimate"])
    assert eff["std_error"] == pytest.approx(100 * ref["std_error"], rel=1e-10)


def test_pooled_se_accounts_for_shared_instructions(biased):
    _, report = biased
    fit = report.fit
    term = mediator_term(fit, "length")
    out = pooled_slope(fit, term)
    # by hand: average the models' per-instruction influence, then sum squares
    influence, method = coefficient_influence(fit)
    assert method.startswith("two-stage")
    infl = pd.concat([influence[m][term] for m in fit.results_], axis=1).fillna(0)
    pooled = infl.mean(axis=1).to_numpy()
    G = len(pooled)
    assert out["std_error"] == pytest.approx(np.sqrt((pooled**2).sum() * G / (G - 1)))
    # and it differs from treating the models as independent
    indep = np.sqrt(sum(r.bse[term] ** 2 for r in fit.results_.values())) / len(fit.results_)
    assert out["std_error"] != pytest.approx(indep, rel=1e-6)


@pytest.mark.slow
def test_fitted_difficulty_is_counted_in_the_standard_errors():
    """Treating the fitted difficulty as known halves the pooled SE; the two-stage
    influence agrees with a grouped jackknife that refits both stages."""
    from debias.data import Comparisons

    sim = simulate(n_models=6, n_instructions=300, length_effect=0.5, seed=2)
    comps = sim.comparisons
    fit = _quiet(fit_audit_glm, comps)
    term = mediator_term(fit, "length")
    corrected = pooled_slope(fit, term)["std_error"]
    naive = pooled_slope(
        fit, term, influence={m: r.naive_influence() for m, r in fit.results_.items()}
    )
    instr = np.array(comps.instruction_order)
    K = 30
    groups = np.random.default_rng(0).permutation(np.arange(len(instr)) % K)
    est = []
    with threadpool_limits(1):  # 30 small refits: BLAS threads only contend
        for k in range(K):
            keep = set(instr[groups != k])
            d = comps.data[comps.data["instruction"].isin(keep)].reset_index(drop=True)
            sub = Comparisons(d, comps.source, 0, tuple(i for i in instr if i in keep))
            refit = _quiet(fit_audit_glm, sub)
            est.append(np.mean([r.params[term] for r in refit.results_.values()]))
    est = np.asarray(est)
    jackknife = np.sqrt((K - 1) / K * np.sum((est - est.mean()) ** 2))
    assert 0.7 < corrected / jackknife < 1.45
    assert naive["std_error"] < 0.75 * corrected


def test_without_fitted_difficulty_the_influence_is_the_models_own():
    sim = simulate(n_models=3, n_instructions=120, seed=7)
    fit = _quiet(fit_audit_glm, sim.comparisons, difficulty="none")
    influence, method = coefficient_influence(fit)
    assert method.startswith("sandwich")
    for m, res in fit.results_.items():
        pd.testing.assert_frame_equal(influence[m], res.influence())


def test_per_model_table(biased):
    sim, report = biased
    pm = report.per_model
    assert sim.comparisons.baselines[0] not in set(pm["model"])
    assert len(pm) == 4
    for p in ("lc", "length_markdown_controlled"):  # length only; length and markdown
        np.testing.assert_allclose(pm[f"{p}_shift"], pm[f"{p}_win_rate"] - pm["win_rate"])
        assert (pm[f"{p}_win_rate_ci_low"] <= pm[f"{p}_win_rate"]).all()
        assert (pm[f"{p}_win_rate"] <= pm[f"{p}_win_rate_ci_high"]).all()
        assert (pm[f"{p}_shift_ci_low"] <= pm[f"{p}_shift"]).all()
        assert (pm[f"{p}_shift"] <= pm[f"{p}_shift_ci_high"]).all()
    raw = sim.comparisons.win_rates().set_index("model")
    np.testing.assert_allclose(pm.set_index("model")["win_rate"], raw.loc[pm["model"], "win_rate"])
    for m in ("length", "markdown"):
        assert {f"{m}_slope", f"{m}_slope_se", f"{m}_slope_p", f"{m}_effect"} <= set(pm.columns)


def test_report_files_and_json_keys(biased, tmp_path):
    _, report = biased
    out = report.write(tmp_path / "audit")
    for name in ("report.md", "report.html", "audit.json"):
        assert (out / name).stat().st_size > 500
    for png in (
        "length_effect",
        "coefficient_forest",
        "raw_vs_controlled",
        "calibration",
        "residuals",
    ):
        assert (out / f"{png}.png").read_bytes()[:4] == b"\x89PNG"
    data = json.loads((out / "audit.json").read_text())
    assert set(data["mediators"]) == {"length", "markdown"}
    for m, entry in data["mediators"].items():
        assert MEDIATOR_KEYS <= set(entry), m
        assert EFFECT_KEYS <= set(entry["effect"]), m
        assert entry["p_value"] is not None
    assert set(data["models"]) == set(report.per_model["model"])
    for entry in data["models"].values():
        assert MODEL_KEYS <= set(entry)
    assert data["verdict"] == report.verdict
    html = (out / "report.html").read_text()
    assert html.startswith("<!DOCTYPE html>")
    for png in ("length_effect.png", "residuals.png"):
        assert f'src="{png}"' in html
    md = (out / "report.md").read_text()
    assert report.verdict in md
    assert "characters" in md and "cluster-robust" in md and "95%" in md


def test_to_dict_round_trips_through_json(biased):
    _, report = biased
    d = report.to_dict()
    assert json.loads(json.dumps(d, allow_nan=False)) == d
    assert d["level"] == 0.95 and d["difficulty"] == "fit"
    assert "difficulty" in d["formula"]


def test_one_model_judge_without_difficulty(tmp_path):
    sim = simulate(n_models=1, n_instructions=200, length_effect=0.8, seed=4)
    report = _quiet(audit, sim.comparisons, out=tmp_path / "one", progress=False)
    assert isinstance(report, AuditReport)
    assert report.info["difficulty"] == "none"
    assert "difficulty" not in report.info["formula"]
    assert report.info["n_models"] == 1
    assert np.isfinite(report.summary[["estimate", "std_error", "p_value"]].to_numpy()).all()
    assert (tmp_path / "one" / "audit.json").exists()


def test_large_correction_warns_and_names_the_models():
    sim = simulate(
        n_models=3,
        n_instructions=300,
        length_effect=2.5,
        mean_length=[250.0, 2000.0, 2100.0],
        theta=[0.0, 0.0, 0.0],
        seed=6,
    )
    with pytest.warns(FitWarning, match=r"more than 10 points.*model_0"):
        report = audit(sim.comparisons, mediators=["length"], progress=False)
    big = report.per_model.set_index("model").loc["model_0", "lc_shift"]
    assert big > 10
    assert any("model_0" in w for w in report.warnings)


def test_custom_formula_and_mediators():
    sim = simulate(n_models=3, n_instructions=150, seed=9)
    report = _quiet(
        audit,
        sim.comparisons,
        mediators=["length"],
        formula="tanh(scaled(length))",
        progress=False,
    )
    assert report.info["formula"] == "tanh(scaled(length))"
    assert list(report.summary["mediator"]) == ["length"]
    assert audit_formula(["length", "bold"], difficulty=False) == (
        "tanh(scaled(length)) + diff_over_sum(bold_model, bold_baseline)"
    )


def test_bad_arguments_raise_clear_errors():
    sim = simulate(n_models=2, n_instructions=60, seed=1)
    with pytest.raises(ParameterError, match="unknown mediator"):
        audit(sim.comparisons, mediators=["lenght"], progress=False)
    with pytest.raises(ParameterError, match="level"):
        audit(sim.comparisons, level=1.5, progress=False)
    with pytest.raises(ParameterError, match="does not use"):
        _quiet(audit, sim.comparisons, formula="tanh(scaled(length))", progress=False)
    with pytest.raises(InputError, match="Comparisons"):
        audit(sim.comparisons.data, progress=False)
    two = Comparisons.concat(
        [
            sim.comparisons,
            simulate(n_models=2, n_instructions=60, seed=1, judge="other").comparisons,
        ]
    )
    with pytest.raises(InputError, match="judge"):
        audit(two, progress=False)


def test_run_audit_on_an_alpaca_eval_tree(tmp_path):
    sim = simulate(n_models=3, n_instructions=120, seed=12)
    root = write_alpaca_eval_tree(sim, tmp_path / "tree")
    report = _quiet(run_audit, root, out_dir=tmp_path / "out", progress=False)
    assert report.info["judge"] == "simulated_judge"
    assert (tmp_path / "out" / "report.html").exists()
    assert (tmp_path / "out" / "audit.json").exists()


@pytest.mark.alpaca_eval
def test_real_judge_prefers_longer_answers(alpaca):
    report = _quiet(audit, alpaca, mediators=["length"], progress=False)
    row = report.summary.iloc[0]
    assert row["p_value"] < 1e-6 and row["estimate"] > 0 and row["effect"] > 5
    assert "gpt4_gamed" in report.info["excluded"]  # a separated fit, left out of the pool
    # the model checks on the real judge: no model whose length slope is significantly
    # negative (44 models tested: 46 minus the baseline and gpt4_gamed), no degenerate
    # submission, and the misfit test is stated with its statistic and p-value
    checks = report.info["checks"]
    assert checks["opposite_slopes"]["length"]["n_tested"] == len(alpaca.models) - 2
    assert checks["opposite_slopes"]["length"]["models"] == []
    assert report.info["flags"] == {}
    (misfit,) = checks["misfit"]
    assert misfit["by"] == "length" and np.isfinite(misfit["p_value"])
    assert "binned residuals" in report.verdict or "misfits the judge" in report.verdict
    assert list(report.info["estimands"]) == ["lc"]  # length only: the leaderboard's estimand
    assert report.info["estimands"]["lc"]["controls"] == ["length"]
