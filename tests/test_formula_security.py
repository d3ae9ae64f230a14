"""Formulas are data, not code: hostile terms are refused before evaluation, and the
evaluation itself has no Python builtins (issue 10, reliability pass)."""

from __future__ import annotations

import json
import re
import warnings
from pathlib import Path

import numpy as np
import patsy
import pytest

from debias.errors import FormulaError
from debias.mediators import available_mediators, register_mediator, unregister_mediator
from debias.model import formula as formula_module
from debias.model.formula import PRESETS, Design, FormulaSpec, model_frame, resolve_formula
from debias.model.formula_check import SafeEnvironment, check_term
from debias.model.glm import PreferenceGLM
from debias.reports.audit import audit_formula
from debias.simulate import simulate

ROOT = Path(__file__).resolve().parents[1]

# (formula, a piece of the offending term that the message must name)
HOSTILE = [
    (
        'tanh(scaled(length) + 0*__builtins__.get("__import__")("os").system("touch pwned"))'
        " + difficulty",
        "__builtins__",
    ),
    ('__import__("os").system("touch pwned")', "__import__"),
    ('tanh(scaled(length)) + open("pwned", "w").close()', "open"),
    ('eval("1") + length', "eval"),
    ("exec(\"open('pwned', 'w')\")", "exec"),
    ('getattr(np, "tanh")(length)', "getattr"),
    ("globals()", "globals"),
    ("vars()", "vars"),
    ("breakpoint()", "breakpoint"),
    ("np.__dict__", "__dict__"),
    ('np.os.system("touch pwned")', "np.os.system"),
    ('np.save("pwned", length)', "np.save"),
    ("length.__class__", "__class__"),
    ("tanh(length).__class__.__base__", "__class__"),
    ("(lambda: 1)()", "lambda"),
    ("tanh([x for x in length])", "for x in length"),
    ("tanh(length[0])", "length[0]"),
    ("tanh(length if difficulty else 0)", "length if difficulty else 0"),
    ("tanh(length > 0)", "length > 0"),
    ("I(length, 2)", "I() takes 1"),
    ("C(length)", "C"),
    ('Q("length")', "Q"),
    ("tanh(x=length)", "keywords"),
    ("tanh(*length)", "tanh"),
    ("tanh(2 ** 10 ** 10)", "exponent"),
    ('tanh("length")', "'length'"),
    ('tanh(f"{length}")', "JoinedStr"),
    ("tanh((x := length))", "NamedExpr"),
    ("__builtins__", "__builtins__"),
    ("_patsy_stobj0__scaled__", "_patsy_stobj0__scaled__"),
    ("tanh(1e999)", "out of range"),
    ("scaled(length, difficulty)", "scaled() takes 1"),
    ("tanh + length", "'tanh' is a function"),
    ("np", "'np' is a function"),
    ("strength + length", "strength"),
    ("tanh(scaled(lenght))", "Did you mean 'length'"),
    ("length + " * 300 + "length", "characters"),
    ("tanh(" * 300 + "length" + ")" * 300, "formula"),
    ('preference ~ open("pwned", "w") ~ length', "more than one '~'"),
    ('~ length ~ open("pwned", "w")', "more than one '~'"),
    ("wins ~ length", "left-hand side"),
]


@pytest.fixture(scope="module")
def sim():
    return simulate(n_models=2, n_instructions=60, seed=3)


@pytest.fixture
def no_eval(monkeypatch):
    """Record every evaluation patsy would run."""
    calls = []
    original = SafeEnvironment.eval

    def spy(self, expr, *args, **kwargs):
        calls.append(expr)
        return original(self, expr, *args, **kwargs)

    monkeypatch.setattr(SafeEnvironment, "eval", spy)
    monkeypatch.setattr(patsy.EvalEnvironment, "eval", spy)
    return calls


def test_at_least_twenty_hostile_formulas():
    assert len(HOSTILE) >= 20


@pytest.mark.parametrize(("formula", "named"), HOSTILE)
def test_hostile_formula_is_refused_before_evaluation(
    formula, named, sim, tmp_path, monkeypatch, no_eval
):
    monkeypatch.chdir(tmp_path)
    with pytest.raises(FormulaError) as parsed:
        resolve_formula(formula)
    assert named in str(parsed.value)
    assert "\n" not in str(parsed.value)
    glm = PreferenceGLM(formula=formula, difficulty="none", lam=0)
    with pytest.raises(FormulaError), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        glm.fit(sim.comparisons)
    assert no_eval == []  # nothing was evaluated
    assert list(tmp_path.iterdir()) == []  # and nothing written


def test_the_reported_exploit_runs_nothing_through_the_cli(tmp_path, monkeypatch, sim):
    from debias.cli import main
    from debias.simulate import write_alpaca_eval_tree

    tree = tmp_path / "tree"
    write_alpaca_eval_tree(sim, tree)
    work = tmp_path / "cwd"
    work.mkdir()
    monkeypatch.chdir(work)
    exploit = HOSTILE[0][0]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        code = main(["leaderboard", str(tree), "--formula", exploit])
    assert code == 2
    assert list(work.iterdir()) == []


def test_evaluation_has_no_builtins_even_if_the_check_is_bypassed(sim, tmp_path, monkeypatch):
    """Second line of defence: with the allow-list switched off, patsy still evaluates each
    term in SafeEnvironment, whose globals hold an empty __builtins__."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(formula_module, "check_term", lambda *a, **k: set())
    spec = resolve_formula("tanh(scaled(length))")
    frame = model_frame(sim.comparisons.fit_rows(), spec)
    for code in (
        'length + 0 * len(open("pwned", "w").name)',
        'length + 0 * len(__import__("os").getcwd())',
        'length + 0 * len(eval("1"))',
        "length + 0 * len(getattr(length, 'shape'))",
        "length + 0 * len(globals())",
    ):
        desc = patsy.ModelDesc.from_formula(code)
        hostile = FormulaSpec(code, frozenset({"length"}), False, desc=desc)
        with pytest.raises(FormulaError, match="is not defined"):
            Design(hostile, frame)
    assert list(tmp_path.iterdir()) == []


def test_design_checks_terms_again_and_stores_the_safe_environment(sim):
    spec = resolve_formula("tanh(scaled(length)) + log_ratio(length_model, length_baseline)")
    frame = model_frame(sim.comparisons.fit_rows(), spec)
    design = Design(spec, frame)
    envs = [info.state["eval_env"] for info in design._info.factor_infos.values()]
    assert envs and all(isinstance(env, SafeEnvironment) for env in envs)
    bad = FormulaSpec("open(length)", frozenset({"length"}), False)
    bad = FormulaSpec(
        bad.rhs, bad.mediators, False, desc=patsy.ModelDesc.from_formula("open(length)")
    )
    with pytest.raises(FormulaError, match="open"):
        Design(bad, frame)


def test_safe_environment_has_no_builtins():
    env = SafeEnvironment([{"x": 1}])
    for code in ("open", "__import__", "len(x)", "eval", "getattr", "globals"):
        with pytest.raises(NameError):
            env.eval(code)
    assert env.eval("__builtins__", inner_namespace={}) == {}
    assert isinstance(env.subset(["x"]), SafeEnvironment)
    assert isinstance(env.with_outer_namespace({}), SafeEnvironment)


ALLOWED = [
    "tanh(scaled(length)) + difficulty",
    "preference ~ np.tanh(scaled(length)) + difficulty",
    "~ tanh(scaled(length))",
    "log_ratio(length_model, length_baseline) - 1",
    "diff_over_sum(bold_model, bold_baseline) + scaled(headers)",
    "clip(scaled(length), -3, 3) + np.log1p(abs(length) * 0.5)",
    "tanh(scaled(length) / 2) + tanh(scaled(length) ** 2 - scaled(words))",
    "I(length / 1000) + I(-scaled(words) * 2 + 1)",
    "tanh(scaled(length)) + tanh(scaled(length)):difficulty",
    "minimum(length, 1000.0) + np.maximum(length, -1e3) + sign(length) + sqrt(square(length))",
    "exp(-abs(scaled(length))) + expm1(0.1 * scaled(length)) + arctan(scaled(length))",
]


@pytest.mark.parametrize("formula", ALLOWED)
def test_allowed_formulas_parse_and_fit(formula, sim):
    spec = resolve_formula(formula)
    rows = sim.comparisons.fit_rows()
    gamma = np.full(len(rows), 0.5) if spec.uses_difficulty else None
    frame = model_frame(rows, spec, difficulty=gamma)
    design = Design(spec, frame)
    assert design.matrix(frame).shape[0] == len(frame)


def _documented_formulas() -> set[str]:
    """Every formula written in the README, the docs and the notebooks."""
    texts = [(ROOT / "README.md").read_text()]
    texts += [p.read_text() for p in sorted((ROOT / "docs").glob("*.md"))]
    for nb in sorted((ROOT / "notebooks").glob("*.ipynb")):
        cells = json.loads(nb.read_text())["cells"]
        texts += ["".join(c["source"]) for c in cells]
    pattern = re.compile(
        r"""["'`]((?:[^"'`\n]*?\b(?:scaled|diff_over_sum|log_ratio)\()[^"'`\n]*)"""
    )
    found = set()
    for text in texts:
        for match in pattern.findall(text):
            if match.count("(") == match.count(")") and not match.endswith(","):
                found.add(match.split("~")[-1].strip())
    return found


def test_every_documented_formula_still_parses():
    """Each formula the README, docs and notebooks show parses: as a fixed-baseline GLM
    formula, or else as a battle formula (debias.battles.formula)."""
    from debias.battles.formula import parse_battle_formula

    placeholders = re.compile(r"\((?:a, b|x)\)")  # "scaled(x)" in prose
    formulas = {f for f in _documented_formulas() if not placeholders.search(f)}
    assert len(formulas) >= 5
    formulas |= {p.rhs for p in PRESETS.values()}
    formulas.add(audit_formula(available_mediators(), difficulty=True))
    custom = ["apologies", "paragraphs"]  # registered in README / notebook 02
    for name in custom:
        register_mediator(name, lambda text: 1.0)
    try:
        for formula in sorted(formulas):
            try:
                resolve_formula(formula)
            except FormulaError:  # a battle formula (one transform argument: no sides)
                parse_battle_formula(formula)
    finally:
        for name in custom:
            unregister_mediator(name)


def test_check_term_returns_data_names():
    names = check_term(
        "diff_over_sum(bold_model, bold_baseline) * difficulty", "f", ["bold", "length"]
    )
    assert names == {"bold_model", "bold_baseline", "difficulty"}


@pytest.mark.parametrize("formula", ["exp(exp(length))", "exp(length_model)"])
def test_overflowing_term_is_one_clear_error_not_a_nan_score(formula, sim):
    with pytest.raises(FormulaError, match="infinite on"):
        PreferenceGLM(formula=formula, difficulty="none", lam=0).fit(sim.comparisons)


def test_nan_term_says_why(sim):
    with pytest.raises(FormulaError, match="log_ratio"):
        PreferenceGLM(formula="log(length)", difficulty="none", lam=0).fit(sim.comparisons)
