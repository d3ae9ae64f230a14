"""``debias audit`` on battle data: one path for one judge or several (audit_judges).

Ground truth: the direct fits (debias.reports.judges.fit_judges, and debias.battles'
BradleyTerry, a second solver, with position entered as a feature), the counts of
$DEBIAS_JUDGES_DIR's README (Arena-Hard: the same winner in both orders for 329/500 and
368/500 questions), Arena-Hard's published scores and PBA's consistency (pair rule)."""

from __future__ import annotations

import json
import math
import warnings

import numpy as np
import pandas as pd
import pytest

from debias.cli import main
from debias.errors import InputError
from debias.reports.audit.judges import audit_judges
from debias.reports.judges import fit_judges
from debias.simulate.position import simulate_judges

NUMBERS = {"estimate", "std_error", "conf_low", "conf_high", "p_value"}
POINTS = {
    f"{p}{s}" for p in ("rating_points", "winrate_points") for s in ("", "_ci_low", "_ci_high")
}
TOKEN_FEATURES = ("tokens", "headers", "lists", "bold")


def run(argv, capsys):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        code = main(argv)
    out, err = capsys.readouterr()
    return code, out, err


def sigmoid(x: float) -> float:
    return 1 / (1 + math.exp(-x))


@pytest.fixture(scope="module")
def arena_hard(judges_dir):
    from debias.battles.style import add_answer_features
    from debias.io import read_judgments

    judgments = read_judgments(judges_dir / "arena_hard_v0.1")
    return judgments, add_answer_features(judgments.battles(), judgments, TOKEN_FEATURES)


def test_one_judge_arena_hard(judges_dir, arena_hard, tmp_path, capsys):
    """Both orders: position reported with the README's consistency counts; effects equal to
    the direct fits; tokens by default (the answers store token_len); no differences."""
    out = tmp_path / "audit"
    code, stdout, err = run(
        ["audit", str(judges_dir / "arena_hard_v0.1"), "--out", str(out)], capsys
    )
    assert code == 0, err
    data = json.loads((out / "audit.json").read_text())
    assert data["features"] == list(TOKEN_FEATURES) and "token counts" in data["features_reason"]
    assert "differences" not in data
    assert data["models"] == ["gpt-3.5-turbo-0125", "gpt-4-0314", "gpt-4-0613"]
    assert "the 3 models of these battles (gpt-3.5-turbo-0125, gpt-4-0314" in data["headline"]
    block = data["judges"]["unknown"]
    assert set(block) == {*TOKEN_FEATURES, "position", "self_preference"}
    assert block["self_preference"].startswith("not estimated: one judge")
    # position: the README's counts (same winner in both orders), pooled and per model
    pos = block["position"]
    by_model = pos["consistency_by_model"]
    assert (by_model["gpt-4-0613"]["n_agree"], by_model["gpt-4-0613"]["n"]) == (329, 500)
    assert (by_model["gpt-3.5-turbo-0125"]["n_agree"], by_model["gpt-3.5-turbo-0125"]["n"]) == (
        368,
        500,
    )
    assert by_model["gpt-4-0613"]["estimate"] == pytest.approx(65.8, abs=1e-9)
    assert pos["consistency"] == pytest.approx(100 * 697 / 1000, abs=1e-9)
    assert pos["consistency_ci_low"] < pos["consistency"] < pos["consistency_ci_high"]
    assert pos["first_shown_win_rate_ci_low"] < pos["first_shown_win_rate"]
    # the effects are those of the direct fit (BradleyTerry with the position term) ...
    from debias.battles.estimator import BradleyTerry

    _, battles = arena_hard
    terms = (*TOKEN_FEATURES, "position")
    direct = BradleyTerry(features=terms, scale=False).fit(battles).coef_.set_index("term")
    for term in terms:
        for k in NUMBERS:
            assert block[term][k] == pytest.approx(direct.loc[term, k], abs=1e-9), (term, k)
    # ... and of a second solver (the judges' dense Newton, its own sandwich)
    other = fit_judges(battles, features=TOKEN_FEATURES).table().set_index("term")
    for term in terms:
        for k in ("estimate", "std_error", "p_value"):
            assert block[term][k] == pytest.approx(other.loc[term, k], abs=1e-7), (term, k)
    # rating and win-rate points, computed here
    t = block["tokens"]
    assert t["rating_points"] == pytest.approx(t["estimate"] * 400 / math.log(10), abs=1e-9)
    assert t["winrate_points_ci_low"] == pytest.approx(100 * (sigmoid(t["conf_low"]) - 0.5))
    assert not POINTS & set(pos)
    # the leaderboard: the published scores, and the controlled scores of the default
    # (SD-scaled) fit with the same terms: the controlled strengths do not depend on the scale
    from debias.battles.leaderboard import battle_leaderboard

    rows = {r["model"]: r for r in data["leaderboards"]["unknown"]["rows"]}
    assert round(rows["gpt-4-0613"]["score"], 2) == 37.90
    assert round(rows["gpt-3.5-turbo-0125"]["score"], 2) == 23.34
    table, _ = battle_leaderboard(battles, features=terms)
    for r in table.itertuples():
        assert rows[r.model]["controlled_score"] == pytest.approx(r.controlled_score, abs=1e-6)
    assert "unknown: consistency 69.70% (697/1000 pairs agree)" in stdout
    assert (out / "judges.png").stat().st_size > 10_000
    report = (out / "report.md").read_text()
    assert "## Leaderboard of unknown (raw and style-controlled)" in report
    assert "Differences between judges" not in report


def test_judges_all_on_one_judge_no_longer_crashes(judges_dir, tmp_path, capsys):
    """`--judges all` with one judge went through the side-by-side path and stopped with
    "internal error (KeyError: 'term')"; now both spellings are one audit."""
    path = str(judges_dir / "arena_hard_v0.1")
    a, b = tmp_path / "a", tmp_path / "b"
    assert run(["audit", path, "--out", str(a), "--mediators", "tokens"], capsys)[0] == 0
    code, _, err = run(
        ["audit", path, "--judges", "all", "--out", str(b), "--mediators", "tokens"], capsys
    )
    assert code == 0, err
    assert json.loads((a / "audit.json").read_text()) == json.loads((b / "audit.json").read_text())


def test_one_simulated_judge_of_two(tmp_path):
    """The same crash without real data: audit_judges(judges=[one])."""
    sim = simulate_judges(n_models=3, n_prompts=60, seed=2)
    report = audit_judges(sim.battles, judges=["gpt-judge"], features=["length"])
    data = report.to_dict()
    assert list(data["judges"]) == ["gpt-judge"] and "differences" not in data
    one = sim.battles[sim.battles["judge"] == "gpt-judge"]
    direct = fit_judges(one, features=["length"]).table().set_index("term")
    assert data["judges"]["gpt-judge"]["length"]["estimate"] == pytest.approx(
        direct.loc["length", "estimate"], abs=1e-12
    )
    assert report.headline.startswith("1 judge (gpt-judge) on 60 prompts")
    assert (report.write(tmp_path / "audit") / "judges.png").exists()


def test_two_judges_mt_bench(judges_dir, tmp_path, capsys):
    """MT-Bench, two judges: PBA's consistency (pair rule), per-judge blocks equal to the joint
    fit on the shared battles, differences between the judges, self-preference differences."""
    from debias.battles.style import add_answer_features
    from debias.io import read_judgments
    from debias.reports.audit.battle_data import shared_battles

    path = judges_dir / "mt_bench_position"
    out = tmp_path / "audit"
    code, stdout, err = run(
        ["audit", str(path), "--out", str(out), "--mediators", "length"], capsys
    )
    assert code == 0, err
    data = json.loads((out / "audit.json").read_text())
    pos = {j: round(b["position"]["consistency"], 2) for j, b in data["judges"].items()}
    assert pos == {"gpt-4-0613": 81.54, "gpt-3.5-turbo-1106": 69.51}
    assert "2 judges on 80 shared prompts" in data["headline"] and "31 models" in data["headline"]
    j = read_judgments(path)
    shared, _ = shared_battles(add_answer_features(j.battles(), j, ["length"]))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        fit = fit_judges(shared[shared["outcome"].notna()], features=["length"])
    direct = fit.table().set_index(["term", "judge"])
    for judge, block in data["judges"].items():
        for term in ("length", "position"):
            for k in NUMBERS:
                assert block[term][k] == pytest.approx(direct.loc[(term, judge), k], abs=1e-9)
        assert "not identified" in block["self_preference"]  # every judge is an OpenAI model
    diff = data["differences"]["length"]["gpt-4-0613 − gpt-3.5-turbo-1106"]
    want = fit.difference("length", "gpt-4-0613", "gpt-3.5-turbo-1106")
    assert diff["estimate"] == pytest.approx(want["estimate"], abs=1e-9)
    assert diff["std_error"] == pytest.approx(want["std_error"], abs=1e-9)
    assert set(data["differences"]["self_preference"]) == {"gpt-4-0613 − gpt-3.5-turbo-1106"}
    # --judges selects: one judge of the two is a one-judge audit
    one = tmp_path / "one"
    argv = [
        "audit",
        str(path),
        "--out",
        str(one),
        "--mediators",
        "length",
        "--judges",
        "gpt-4-0613",
    ]
    assert run(argv, capsys)[0] == 0
    assert list(json.loads((one / "audit.json").read_text())["judges"]) == ["gpt-4-0613"]


def test_order_unknown_or_fixed_by_prompt_says_why():
    sim = simulate_judges(n_models=3, n_prompts=50, judges=("gpt-judge",), seed=3)
    b = sim.battles
    unknown = audit_judges(b.assign(shown_first="unknown"), features=["length"])
    block = unknown.to_dict()["judges"]["gpt-judge"]
    assert block["position"] == "not estimated: the order shown is not recorded"
    assert len(unknown.position) == 0
    # one order per prompt: the same side first for every row of a prompt
    once = b[b["model_b"] == "vicuna-sim-base"]  # one order per pair and prompt
    first = np.where(once["prompt"].str[1:].astype(int) % 2 == 0, "a", "b")
    fixed = audit_judges(once.assign(shown_first=first), features=["length"])
    text = fixed.to_dict()["judges"]["gpt-judge"]["position"]
    assert isinstance(text, str) and "fixed function of the prompt" in text


def test_json_keys_per_effect():
    sim = simulate_judges(n_models=3, n_prompts=60, seed=4)
    data = audit_judges(sim.battles, features=["length"]).to_dict()
    for block in data["judges"].values():
        assert set(block["length"]) == NUMBERS | POINTS | {"unit"}
        assert NUMBERS | {"consistency", "first_shown_win_rate"} <= set(block["position"])
        assert not POINTS & set(block["position"])
        assert set(block["self_preference"]) == NUMBERS | {"unit"}  # two families: identified
    assert set(data["differences"]) == {"length", "position", "self_preference"}
    assert set(data["leaderboards"]) == {"gpt-judge", "claude-judge"}


def texts_judgments(with_tokens: bool):
    """Judgments of three models with markdown and varied lengths (made up here)."""
    from debias.judgments import Judgments

    rng = np.random.default_rng(0)
    rows = []
    for p in range(40):
        for a, b in (("x", "y"), ("y", "z"), ("x", "z")):
            la, lb = rng.integers(5, 60, 2)
            ta = "word " * la + ("\n# Head\n- item" if p % 3 == 0 else "")
            ta += "\n**bold**" if p % 5 == 0 else ""
            tb = "word " * lb + ("\n1. item" if p % 2 == 0 else "")
            rows.append(
                {
                    "prompt": f"p{p}",
                    "model_a": a,
                    "model_b": b,
                    "answer_a": ta,
                    "answer_b": tb,
                    "verdict": float(la > lb + rng.integers(-20, 20)),
                }
            )
    j = Judgments.from_dataframe(pd.DataFrame(rows))
    if with_tokens:
        answers = j.answers.assign(tokens=j.answers["text"].str.split().str.len().astype(float))
        import dataclasses

        j = dataclasses.replace(j, answers=answers)
    return j


def test_default_features_and_any_mediator():
    plain = audit_judges(texts_judgments(False))
    assert plain.info["features"] == ["length", "markdown"]
    assert "no token counts" in plain.info["features_reason"]
    tokens = audit_judges(texts_judgments(True))
    assert tokens.info["features"] == ["tokens", "headers", "lists", "bold"]
    mixed = audit_judges(texts_judgments(False), features=["length", "lists", "words"])
    assert mixed.info["features"] == ["length", "lists", "words"]
    assert "Features: length, lists, words (features=)" in mixed.to_markdown()


def test_a_feature_alike_in_every_battle_is_left_out_and_said():
    j = texts_judgments(False)
    report = audit_judges(j, features=["length", "emoji"])
    assert report.info["features"] == ["length"]
    assert "emoji" in report.info["features_dropped"]
    assert "- emoji left out: the same for both answers" in report.to_markdown()
    with pytest.raises(InputError, match=r"no feature \(emoji\) differs between the two answers"):
        audit_judges(j, features=["emoji"])
    b = simulate_judges(n_models=3, n_prompts=30, seed=5).battles
    twice = b.assign(copy_a=b["length_a"], copy_b=b["length_b"])
    with pytest.raises(InputError, match="'copy' is a linear combination of"):
        audit_judges(twice, features=["length", "copy"])


def test_cli_one_line_errors(tmp_path, capsys):
    f = tmp_path / "votes.csv"
    pd.DataFrame(
        {
            "prompt_id": ["p1", "p2"],
            "model_a": ["x", "y"],
            "model_b": ["y", "x"],
            "winner": ["model_a", "tie"],
        }
    ).to_csv(f, index=False)
    out = tmp_path / "audit"
    code, _, err = run(["audit", str(f), "--out", str(out), "--mediators", "none"], capsys)
    assert code == 2 and "--mediators none" in err and "Traceback" not in err
    code, _, err = run(["audit", str(f), "--out", str(out), "--judges", "nobody"], capsys)
    assert code == 2 and "--judges ['nobody'] not in the data" in err
    code, _, err = run(["audit", str(f), "--out", str(out)], capsys)  # no answer texts
    assert code == 2 and "no feature (length, markdown) differs" in err
    assert not out.exists()


def test_joint_fit_size_is_bounded_and_one_judge_needs_none(monkeypatch):
    import debias.reports.judges as judges_module
    from debias.errors import ParameterError

    monkeypatch.setattr(judges_module, "MAX_CELLS", 100)
    sim = simulate_judges(n_models=3, n_prompts=30, seed=0)
    with pytest.raises(ParameterError, match=r"audit each judge alone \(judges=\['gpt-judge'\]\)"):
        audit_judges(sim.battles, features=["length"])
    one = audit_judges(sim.battles, judges=["gpt-judge"], features=["length"])  # no dense fit
    assert np.isfinite(one.effects.set_index("term").loc["length", "estimate"])


def test_cli_consistency_rule_call_gives_the_publishers_numbers(judges_dir, tmp_path):
    """--consistency-rule call: Position-Bias-Analyzer's per-call count, as published
    (gpt-4-0613 81.54%, gpt-3.5-turbo-1106 69.59%); the pair rule gives 81.54 / 69.51."""
    got = {}
    for rule in ("call", "pair"):
        out = tmp_path / rule
        path = str(judges_dir / "mt_bench_position")
        code = main(["audit", path, "--consistency-rule", rule, "--out", str(out), "--quiet"])
        assert code == 0
        blocks = json.loads((out / "audit.json").read_text())["judges"]
        got[rule] = {j: round(b["position"]["consistency"], 2) for j, b in blocks.items()}
    assert got["call"] == {"gpt-4-0613": 81.54, "gpt-3.5-turbo-1106": 69.59}
    assert got["pair"] == {"gpt-4-0613": 81.54, "gpt-3.5-turbo-1106": 69.51}


def test_cli_consistency_rule_refused_on_alpaca_eval_data(tmp_path, capsys):
    from pathlib import Path

    fixture = Path(__file__).resolve().parents[1] / "fixtures" / "alpaca_eval_sim"
    out = str(tmp_path / "a")
    assert main(["audit", str(fixture), "--consistency-rule", "call", "--out", out]) == 2
    assert "--consistency-rule needs battle data" in capsys.readouterr().err
