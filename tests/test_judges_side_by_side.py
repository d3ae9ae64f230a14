"""Judges side by side: the joint fit with judge interactions (debias.reports.judges).

Ground truth: statsmodels' GLM with a cluster-robust covariance, separate one-judge fits, a
prompt bootstrap of the difference between judges, and the simulator's known coefficients.
"""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest

from debias.errors import FitWarning, InputError, ParameterError
from debias.reports.judges import compare_judges, fit_judges
from debias.reports.position import first_shown_win_rate
from debias.simulate.position import simulate_judges


def test_joint_fit_equals_statsmodels_glm_with_cluster_covariance():
    sm = pytest.importorskip("statsmodels.api")
    sim = simulate_judges(n_models=4, n_prompts=100, seed=5)
    fit = fit_judges(sim.battles, features=["length"], self_preference=True)
    groups = pd.factorize(sim.battles["prompt"])[0]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # fractional outcomes (ties as 0.5)
        ref = sm.GLM(sim.battles["outcome"].to_numpy(), fit.x, family=sm.families.Binomial()).fit(
            cov_type="cluster", cov_kwds={"groups": groups, "use_correction": False}, tol=1e-12
        )
    np.testing.assert_allclose(fit.params.to_numpy(), ref.params, atol=1e-9)
    g = 100
    np.testing.assert_allclose(fit.cov.to_numpy(), ref.cov_params() * g / (g - 1), rtol=1e-8)


def test_joint_fit_is_the_separate_fits_side_by_side():
    """Per-judge strengths and terms: each judge's block equals its own fit (estimate and SE)."""
    sim = simulate_judges(n_models=3, n_prompts=120, seed=2)
    joint = fit_judges(sim.battles, features=["length"]).table().set_index(["term", "judge"])
    for judge, rows in sim.battles.groupby("judge"):
        alone = fit_judges(rows, features=["length"]).table().set_index(["term", "judge"])
        for col in ("estimate", "std_error"):
            np.testing.assert_allclose(
                joint.xs(judge, level="judge")[col], alone.xs(judge, level="judge")[col], rtol=1e-7
            )


def _correlated_judges(seed: int) -> pd.DataFrame:
    """Judge 'copy' repeats judge 'gpt-judge''s verdicts except on a fifth of the calls."""
    sim = simulate_judges(n_models=3, n_prompts=150, judges=("gpt-judge",), seed=seed)
    b = sim.battles
    rng = np.random.default_rng(seed + 100)
    copy = b.copy()
    copy["judge"] = "copy"
    redo = rng.random(len(b)) < 0.2
    copy.loc[redo, "outcome"] = rng.choice([0.0, 0.5, 1.0], redo.sum())
    return pd.concat([b, copy], ignore_index=True)


def test_difference_between_judges_counts_their_correlation():
    """The joint fit's SE of a difference matches a prompt bootstrap of the difference of
    separate fits; treating the judges as independent overstates it several-fold."""
    b = _correlated_judges(0)
    fit = fit_judges(b, features=["length"])
    diff = compare_judges(fit)
    pos = diff[(diff["term"] == "position") & (diff["judge"] == "copy")].iloc[0]
    t = fit.table().set_index(["term", "judge"])
    naive = np.hypot(
        t.loc[("position", "gpt-judge"), "std_error"], t.loc[("position", "copy"), "std_error"]
    )
    prompts = b["prompt"].unique()
    rng = np.random.default_rng(1)
    by_prompt = {p: rows for p, rows in b.groupby("prompt")}
    boot = []
    for _ in range(100):
        pick = rng.choice(prompts, len(prompts))
        sample = pd.concat(
            [by_prompt[p].assign(prompt=f"{p}#{i}") for i, p in enumerate(pick)], ignore_index=True
        )
        est = fit_judges(sample, features=["length"]).params
        boot.append(est["position¦copy"] - est["position¦gpt-judge"])
    boot_se = float(np.std(boot, ddof=1))
    assert pos["std_error"] == pytest.approx(boot_se, rel=0.25)
    assert naive > 1.8 * pos["std_error"]


def test_all_equal_test_matches_pairwise_with_two_judges():
    sim = simulate_judges(n_models=3, n_prompts=100, seed=4)
    d = compare_judges(fit_judges(sim.battles)).set_index("judge")
    assert d.loc["all equal", "p_value"] == pytest.approx(d.loc["claude-judge", "p_value"])


def test_position_is_recovered_and_balanced_win_rates_remove_it():
    sim = simulate_judges(
        n_models=2, n_prompts=400, seed=8, position={"gpt-judge": 1.0, "claude-judge": 0.0}
    )
    fit = fit_judges(sim.battles, features=["length"])
    t = fit.table().set_index(["term", "judge"])
    for judge, truth in sim.truth["position"].items():
        row = t.loc[("position", judge)]
        assert row["conf_low"] < truth < row["conf_high"]
    # the model's answer always shown first instead of balanced: a large position effect
    # moves the rate by many points, no position effect does not move it
    wr = fit.win_rates().set_index(["judge", "model"])
    shifted = fit.win_rates(at_position=1.0).set_index(["judge", "model"])
    assert (wr["conf_low"] < wr["estimate"]).all()
    gap = (shifted["estimate"] - wr["estimate"]).xs("gpt-judge", level="judge")
    assert (gap > 10).all()
    none = (shifted["estimate"] - wr["estimate"]).xs("claude-judge", level="judge")
    assert (none.abs() < 3).all()


def test_fixed_order_by_prompt_is_not_estimated():
    """AlpacaEval's design: the same side first for every row of a prompt."""
    sim = simulate_judges(n_models=3, n_prompts=60, judges=("gpt-judge",), seed=0)
    b = sim.battles
    one = b[b["model_b"] == "vicuna-sim-base"].copy()  # one order per pair
    one["shown_first"] = np.where(one["prompt"].str[1:].astype(int) % 2 == 0, "a", "b")
    fit = fit_judges(one)
    row = fit.table().set_index(["term", "judge"]).loc[("position", "gpt-judge")]
    assert np.isnan(row["estimate"]) and "per-prompt" in row["note"]


def test_bad_inputs():
    sim = simulate_judges(n_models=2, n_prompts=20, seed=0)
    with pytest.raises(InputError, match="markdown_a"):
        fit_judges(sim.battles, features=["markdown"])
    with pytest.raises(ParameterError, match="position"):
        fit_judges(sim.battles, position="yes")
    b = sim.battles.copy()
    b.loc[:3, "outcome"] = np.nan
    with pytest.warns(FitWarning, match="4 battle row"):
        fit_judges(b)
    with pytest.raises(ParameterError, match="unknown coefficient"):
        fit_judges(sim.battles).contrast({"nope": 1.0})


def test_audit_judges_json_blocks_and_plot(tmp_path):
    import json

    from debias.reports.audit.judges import audit_judges

    sim = simulate_judges(n_models=3, n_prompts=80, seed=6)
    report = audit_judges(sim.battles, features=["length"])
    out = report.write(tmp_path / "audit")
    data = json.loads((out / "audit.json").read_text())
    assert set(data["judges"]) == {"gpt-judge", "claude-judge"}
    for block in data["judges"].values():
        for effect in ("length", "position", "self_preference"):
            assert {"estimate", "std_error", "conf_low", "conf_high", "p_value"} <= set(
                block[effect]
            )
        pos = block["position"]
        assert 0 < pos["consistency"] < 100 and 0 < pos["first_shown_win_rate"] < 100
    # the position numbers are the ones of the functions that compute them
    first = first_shown_win_rate(sim.battles).set_index("judge")
    got = data["judges"]["gpt-judge"]["position"]["first_shown_win_rate"]
    assert got == pytest.approx(first.loc["gpt-judge", "estimate"])
    assert data["models"] == sorted(set(sim.battles["model_a"]))
    assert "the 4 models of these battles" in data["headline"]
    assert (out / "judges.png").stat().st_size > 10_000 and (out / "report.md").exists()


def test_audit_judges_keeps_only_shared_battles():
    from debias.reports.audit.judges import audit_judges

    sim = simulate_judges(n_models=3, n_prompts=40, seed=6)
    b = sim.battles
    extra = b[(b["judge"] == "gpt-judge") & (b["prompt"] == "p0")].assign(prompt="only-gpt")
    report = audit_judges(pd.concat([b, extra], ignore_index=True), features=["length"])
    assert report.info["n_battles_not_shared"] == len(extra)
    assert report.info["n_prompts"] == 40
    with pytest.raises(ParameterError, match="not in the data"):
        audit_judges(b, judges=["nobody"], features=["length"])


def test_cli_audit_judges_on_mt_bench(judges_dir, tmp_path, capsys):
    """`debias audit PATH --judges all`: both PBA judges side by side, the pair-rule consistency
    in audit.json (81.54 / 69.51) and one line per effect on stdout."""
    import json

    from debias.cli import main

    out = tmp_path / "audit"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        main(
            [
                "audit",
                str(judges_dir / "mt_bench_position"),
                "--judges",
                "all",
                "--out",
                str(out),
                "--mediators",
                "length",
                "--quiet",
            ]
        )
    data = json.loads((out / "audit.json").read_text())
    pos = {j: round(b["position"]["consistency"], 2) for j, b in data["judges"].items()}
    assert pos == {"gpt-4-0613": 81.54, "gpt-3.5-turbo-1106": 69.51}
    printed = capsys.readouterr().out
    assert "gpt-4-0613: consistency 81.54%" in printed and "31 models" in printed


def test_separation_gives_no_interval_and_size_is_bounded(monkeypatch):
    sim = simulate_judges(n_models=2, n_prompts=30, judges=("gpt-judge",), seed=0)
    b = sim.battles.assign(outcome=1.0)  # the answer shown first always wins
    with pytest.warns(FitWarning, match="separation|converge"):
        t = fit_judges(b).table()
    assert t["conf_low"].isna().all() and (t["note"] != "").all()
    import debias.reports.judges as judges_module

    monkeypatch.setattr(judges_module, "MAX_CELLS", 100)
    with pytest.raises(ParameterError, match="dense design"):
        fit_judges(sim.battles)


def test_audit_judges_call_rule():
    from debias.reports.audit.judges import audit_judges
    from debias.reports.position import consistency

    sim = simulate_judges(n_models=3, n_prompts=40, seed=9)
    sim.battles.loc[:5, "outcome"] = np.nan
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        report = audit_judges(sim.battles, features=["length"], consistency_rule="call")
    block = report.to_dict()["judges"]["gpt-judge"]["position"]
    expected = consistency(sim.battles, rule="call").set_index("judge").loc["gpt-judge", "estimate"]
    assert block["consistency_rule"] == "call" and block["consistency"] == pytest.approx(expected)


def test_one_judge_audit_says_which_models_and_why_no_position(sim):
    """Issue 13 item 6: the same judge gives different averages over different folders of
    models; the verdict names them. Position: not recorded in a fixed-baseline Comparisons."""
    from debias.reports.audit import audit

    sub = sim.comparisons.select(models=["model_0", "model_1"])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        report = audit(sub, mediators=["length"], progress=False)
    data = report.to_dict()
    assert data["effect_models"] == ["model_0", "model_1"]
    assert "average over the 2 models audited against 'baseline' (model_0, model_1)" in (
        report.verdict
    )
    assert data["position"]["status"] == "not estimated"
    assert "fixed function of the instruction" in data["position"]["reason"]


def test_simulated_answer_quality_correlates_the_judges():
    def corr(answer_sd):
        sim = simulate_judges(n_models=4, n_prompts=200, seed=1, answer_sd=answer_sd)
        b = sim.battles
        a = b[b["judge"] == "gpt-judge"]["outcome"].to_numpy()
        c = b[b["judge"] == "claude-judge"]["outcome"].to_numpy()
        return np.corrcoef(a, c)[0, 1]

    assert corr(2.0) > corr(0.0) + 0.25  # at 0 only through the shared strengths and position
    with pytest.raises(ParameterError, match="answer_sd"):
        simulate_judges(answer_sd=-1)
