"""The command line reads generic tables, talks on long work, and never loses data.

Issue 10 items 12-14 and the "data lost" part of the reliability pass. Results are checked
against an independent computation (pandas on the input file, a second run with other
settings that must not change the numbers, the file system's state before the run).
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import debias.cli.messages
from debias.cli import main

SCRIPT = Path(sys.executable).with_name("debias")
NOREG = ["--preset", "length_controlled_noreg"]
FAST = ["--preset", "length_controlled_minimal", "--difficulty", "none"]


@pytest.fixture(scope="module")
def tree(tmp_path_factory) -> Path:
    """A clean simulated tree: 4 models + baseline, 60 instructions, one judge, no warts."""
    from debias.simulate import simulate, write_alpaca_eval_tree

    root = tmp_path_factory.mktemp("trust") / "tree"
    return write_alpaca_eval_tree(simulate(n_models=4, n_instructions=60, seed=3), root)


def run(argv, capsys=None) -> int:
    try:
        return main(argv)
    except SystemExit as exc:
        return exc.code


def listing(folder: Path) -> dict:
    return {str(p.relative_to(folder)): p.read_bytes() for p in folder.rglob("*") if p.is_file()}


# --------------------------------------------------------------------------- item 12
def test_unknown_model_fails_before_any_fit(tree, capsys, monkeypatch):
    from debias.model.glm import PreferenceGLM

    def no_fit(self, *a, **k):
        raise AssertionError("fitted before checking the names")

    monkeypatch.setattr(PreferenceGLM, "fit", no_fit)
    t0 = time.perf_counter()
    code = run(["-q", "matrix", str(tree), "--models", "model_0,modle_1"])
    err = capsys.readouterr().err
    assert code == 2 and len(err.strip().splitlines()) == 1
    assert "modle_1" in err and "model_1" in err  # the close match is offered
    assert time.perf_counter() - t0 < 5


# --------------------------------------------------------------------------- item 13
def _generic_table(tmp: Path) -> tuple[Path, pd.DataFrame]:
    rng = np.random.default_rng(0)
    rows = []
    for m in ("alpha", "beta", "gamma"):
        for i in range(40):
            rows.append(
                {
                    "prompt": f"q{i}",
                    "who": m,
                    "answer": "x" * int(rng.integers(50, 500)),
                    "reference": "y" * int(rng.integers(50, 500)),
                    "verdict": rng.choice(["model", "baseline", "tie"], p=[0.5, 0.4, 0.1]),
                }
            )
    frame = pd.DataFrame(rows)
    path = tmp / "judgments.tsv"
    frame.to_csv(path, sep="\t", index=False)
    return path, frame


def test_generic_table_with_map_baseline_and_verdict_words(tmp_path, capsys):
    path, frame = _generic_table(tmp_path)
    out = tmp_path / "lb.json"
    maps = [
        "prompt=instruction",
        "who=model",
        "answer=output_model",
        "reference=output_baseline",
        "verdict=preference",
    ]
    argv = ["-q", "leaderboard", str(path), "--baseline", "gpt4", *FAST, "--out", str(out)]
    for m in maps:
        argv += ["--map", m]
    assert run(argv) == 0, capsys.readouterr().err
    table = pd.DataFrame(json.loads(out.read_text())).set_index("model")
    score = frame["verdict"].map({"model": 1.0, "tie": 0.5, "baseline": 0.0})
    expected = score.groupby(frame["who"]).mean() * 100
    for m, value in expected.items():
        assert table.loc[m, "win_rate"] == pytest.approx(value, abs=1e-9)
        assert table.loc[m, "n"] == (frame["who"] == m).sum()


def test_preference_scale_alpaca_eval(tmp_path, capsys):
    rng = np.random.default_rng(1)
    frame = pd.DataFrame(
        {
            "instruction": [f"q{i}" for i in range(30)] * 2,
            "model": ["a"] * 30 + ["b"] * 30,
            "output_model": ["z" * int(n) for n in rng.integers(10, 300, 60)],
            "output_baseline": ["w" * int(n) for n in rng.integers(10, 300, 60)],
            "preference": rng.uniform(1, 2, 60),
        }
    )
    path = tmp_path / "t.csv"
    frame.to_csv(path, index=False)
    out = tmp_path / "lb.csv"
    argv = ["-q", "leaderboard", str(path), "--baseline", "ref", "--preference-scale"]
    assert run([*argv, "alpaca_eval", *FAST, "--out", str(out)]) == 0
    table = pd.read_csv(out).set_index("model")
    expected = (frame["preference"] - 1).groupby(frame["model"]).mean() * 100
    for m, value in expected.items():
        assert table.loc[m, "win_rate"] == pytest.approx(value, abs=1e-6)


def test_models_and_exclude_on_every_reading_command(tree, tmp_path, capsys):
    full = tmp_path / "full.csv"
    assert run(["-q", "leaderboard", str(tree), *FAST, "--out", str(full)]) == 0
    part = tmp_path / "part.csv"
    assert (
        run(["-q", "leaderboard", str(tree), *FAST, "--exclude", "model_3", "--out", str(part)])
        == 0
    )
    a, b = pd.read_csv(full).set_index("model"), pd.read_csv(part).set_index("model")
    assert "model_3" in a.index and "model_3" not in b.index
    # leaving a model out does not change the others' raw win rates and counts
    common = b.index
    pd.testing.assert_series_equal(a.loc[common, "win_rate"], b.loc[common, "win_rate"])
    pd.testing.assert_series_equal(a.loc[common, "n"], b.loc[common, "n"])

    m = tmp_path / "m.csv"
    keep = "model_0,model_1,model_2"
    assert run(["-q", "matrix", str(tree), *NOREG, "--models", keep, "--out", str(m)]) == 0
    matrix = pd.read_csv(m, index_col=0)
    assert set(matrix.index) <= {"model_0", "model_1", "model_2", "baseline"}
    assert {"model_0", "model_1", "model_2"} <= set(matrix.index)

    d = tmp_path / "d.csv"
    assert run(["-q", "difficulty", str(tree), "--exclude", "model_0", "--out", str(d)]) == 0
    assert len(pd.read_csv(d)) == 60

    audit = tmp_path / "audit"
    assert run(["-q", "audit", str(tree), "--exclude", "model_3", "--out", str(audit)]) == 0
    report = json.loads((audit / "audit.json").read_text())
    assert "model_3" not in json.dumps(report.get("per_model", report))


def test_messages_name_flags_on_the_cli_and_keywords_in_python(tree, tmp_path, capsys):
    from debias.errors import DebiasError
    from debias.reports.leaderboard import load_comparisons

    with pytest.raises(DebiasError, match="mapping="):
        load_comparisons(tree, mapping={"a": "instruction"})
    assert run(["-q", "leaderboard", str(tree), "--map", "a=instruction"]) == 2
    err = capsys.readouterr().err
    assert "--map" in err and "mapping=" not in err


# --------------------------------------------------------------------------- item 14
def test_stage_messages_when_stderr_is_not_a_terminal(tree, tmp_path):
    out = tmp_path / "lb.csv"
    argv = ["leaderboard", str(tree), *NOREG, "--se", "bootstrap", "--n-boot", "30"]
    argv += ["--out", str(out)]
    proc = subprocess.run(
        [sys.executable, "-m", "debias.cli", *argv], capture_output=True, text=True, timeout=300
    )
    assert proc.returncode == 0, proc.stderr
    err = proc.stderr
    assert "\r" not in err and "\x1b" not in err  # plain lines for a log or a notebook
    for needle in (
        f"reading {tree}",
        "read 300 judgments of 5 models",
        "stage 1: difficulty of 60 instructions",
        "stage 2: fitting 4 models",
        "bootstrap",
        "30/30",
        f"writing {out}",
    ):
        assert needle in err, (needle, err)
    assert len(err.splitlines()) <= 25  # a bounded number of lines, not one per update
    quiet = subprocess.run(
        [sys.executable, "-m", "debias.cli", "--quiet", *argv],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert quiet.returncode == 0 and quiet.stderr == ""
    assert quiet.stdout == proc.stdout  # the same table either way


def test_progress_lines_are_rate_limited_and_end_with_the_final_state():
    from tqdm import tqdm

    class Sink:
        def __init__(self):
            self.text = ""

        def write(self, s):
            self.text += s

        def flush(self):
            pass

    sink = Sink()
    stream = debias.cli.messages.LineProgress(sink, interval=3600)
    for _ in tqdm(range(5000), desc="bootstrap", file=stream, mininterval=0, miniters=1):
        pass
    lines = sink.text.splitlines()
    assert len(lines) == 2, lines  # the first state and the final one
    assert lines[0].startswith("bootstrap:") and "5000/5000" in lines[-1]
    stream.write("warning: something\n")
    assert sink.text.endswith("warning: something\n")


def test_a_repeated_warning_is_shown_once(tmp_path):
    script = f"""
import sys, warnings
import debias.cli as cli
from debias.errors import FitWarning

def noisy(args):
    for _ in range(50):
        warnings.warn("the same doubtful fit", FitWarning)
    warnings.warn("another one", FitWarning)

cli.judge.cmd_simulate = noisy
sys.exit(cli.main(["simulate", "--out", {str(tmp_path / "s")!r}]))
"""
    proc = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    lines = proc.stderr.splitlines()
    assert lines.count("warning: the same doubtful fit") == 1
    assert lines.count("warning: another one") == 1


@pytest.mark.parametrize("suffix", [".csv", ".tsv", ".json", ".md"])
def test_out_format_follows_the_suffix(tree, tmp_path, suffix):
    ref = tmp_path / "ref.csv"
    assert run(["-q", "leaderboard", str(tree), *FAST, "--out", str(ref)]) == 0
    out = tmp_path / f"lb{suffix}"
    assert run(["-q", "leaderboard", str(tree), *FAST, "--out", str(out)]) == 0
    expected = pd.read_csv(ref)
    if suffix == ".md":
        lines = out.read_text().splitlines()
        assert lines[0].startswith("| model |") and len(lines) == len(expected) + 2
        return
    if suffix == ".json":
        got = pd.DataFrame(json.loads(out.read_text()))
    else:
        got = pd.read_csv(out, sep="\t" if suffix == ".tsv" else ",")
    num = [
        "n",
        "win_rate",
        "win_rate_se",
        "lc_win_rate",
        "lc_win_rate_ci_low",
        "lc_win_rate_ci_high",
    ]
    np.testing.assert_allclose(got[num].to_numpy(float), expected[num].to_numpy(float), 1e-9)
    assert list(got.columns) == list(expected.columns)
    assert list(got["model"]) == list(expected["model"])


# --------------------------------------------------------------------------- data lost
def test_out_equal_to_the_input_is_refused_and_the_input_kept(tmp_path, capsys):
    path, _ = _generic_table(tmp_path)
    original = path.read_bytes()
    argv = ["-q", "leaderboard", str(path), "--map", "prompt=instruction", "--map", "who=model"]
    argv += ["--map", "verdict=preference", "--baseline", "gpt4", *FAST]
    assert run([*argv, "--out", str(path.with_suffix(".tsv"))]) == 2
    assert path.read_bytes() == original


def test_out_onto_an_annotation_file_of_the_input_tree_is_refused(tree, tmp_path, capsys):
    import shutil

    root = tmp_path / "tree"
    shutil.copytree(tree, root)
    target = root / "results" / "model_0" / "simulated_judge" / "annotations.json"
    original = target.read_bytes()
    assert run(["-q", "leaderboard", str(root), *FAST, "--out", str(target)]) == 2
    assert "annotations.json" in capsys.readouterr().err
    assert target.read_bytes() == original  # the judgments were not replaced by the table


def test_a_table_write_killed_midway_leaves_the_old_file(tree, tmp_path, capsys, monkeypatch):
    import os

    import debias.atomic

    out = tmp_path / "lb.csv"
    out.write_text("the good table of yesterday\n")
    real_to_csv, real_fdopen = pd.DataFrame.to_csv, os.fdopen

    def to_csv(self, path_or_buf=None, *a, **k):  # a direct write, killed halfway
        text = real_to_csv(self, None, *a, **k)
        if path_or_buf is None:
            return text
        Path(path_or_buf).write_text(text[: len(text) // 2])
        raise KeyboardInterrupt

    class Killed:
        def __init__(self, f):
            self.f = f

        def write(self, data):  # a write through a temporary file, killed halfway
            self.f.write(data[: len(data) // 2])
            raise KeyboardInterrupt

        def __enter__(self):
            return self

        def __exit__(self, *exc):
            self.f.close()

        def __getattr__(self, name):
            return getattr(self.f, name)

    monkeypatch.setattr(pd.DataFrame, "to_csv", to_csv)
    monkeypatch.setattr(debias.atomic.os, "fdopen", lambda *a, **k: Killed(real_fdopen(*a, **k)))
    assert run(["-q", "leaderboard", str(tree), *FAST, "--out", str(out)]) == 130
    assert out.read_text() == "the good table of yesterday\n"
    assert [p.name for p in tmp_path.iterdir()] == ["lb.csv"]


def test_audit_folder_is_replaced_whole_never_mixed(tree, tmp_path, capsys, monkeypatch):
    from debias.reports.audit import AuditReport

    out = tmp_path / "audit"
    assert run(["-q", "audit", str(tree), "--out", str(out)]) == 0
    (out / "stale_from_an_old_run.png").write_bytes(b"\x89PNG old")
    before = listing(out)

    def killed(self):
        raise KeyboardInterrupt

    with monkeypatch.context() as m:
        m.setattr(AuditReport, "to_html", killed)
        assert run(["-q", "audit", str(tree), "--out", str(out)]) == 130
    assert listing(out) == before  # the interrupted run left the previous report untouched
    assert sorted(p.name for p in tmp_path.iterdir()) == ["audit"]  # no temporary folder left

    assert run(["-q", "audit", str(tree), "--out", str(out), "--level", "0.9"]) == 0
    after = listing(out)
    assert "stale_from_an_old_run.png" not in after  # nothing of the old run remains
    assert {"audit.json", "report.md", "report.html"} <= set(after)


def test_interrupted_simulate_leaves_no_tree(tmp_path, capsys, monkeypatch):
    import debias.simulate.writer

    calls = []
    real = debias.simulate.writer.write_annotations

    def dies_on_third(*a, **k):
        calls.append(1)
        if len(calls) == 3:
            raise KeyboardInterrupt
        return real(*a, **k)

    out = tmp_path / "sim"
    with monkeypatch.context() as m:
        m.setattr(debias.simulate.writer, "write_annotations", dies_on_third)
        assert (
            run(["-q", "simulate", "--out", str(out), "--models", "4", "--instructions", "20"])
            == 130
        )
    assert list(tmp_path.iterdir()) == []  # nothing that could later read as a complete tree

    assert run(["-q", "simulate", "--out", str(out), "--models", "4", "--instructions", "20"]) == 0
    assert run(["-q", "simulate", "--out", str(out), "--models", "2", "--instructions", "20"]) == 0
    assert sorted(p.name for p in (out / "results").iterdir()) == ["baseline", "model_0", "model_1"]


# --------------------------------------------------------------------------- reliability pass
def test_difficulty_formula_equals_the_same_preset(tree, tmp_path, capsys):
    from debias.model.formula import PRESETS

    formula = PRESETS["length_controlled_noreg"].rhs
    a, b = tmp_path / "preset.csv", tmp_path / "formula.csv"
    assert run(["-q", "difficulty", str(tree), *NOREG, "--out", str(a)]) == 0
    assert run(["-q", "difficulty", str(tree), "--formula", formula, "--out", str(b)]) == 0
    assert a.read_text() == b.read_text()


def test_save_difficulty_creates_the_folder(tree, tmp_path, capsys):
    saved = tmp_path / "new" / "folder" / "d.csv"
    assert run(["-q", "leaderboard", str(tree), *NOREG, "--save-difficulty", str(saved)]) == 0
    direct = tmp_path / "direct.csv"
    assert run(["-q", "difficulty", str(tree), *NOREG, "--out", str(direct)]) == 0
    pd.testing.assert_frame_equal(pd.read_csv(saved), pd.read_csv(direct))


def test_jobs_above_the_cores_is_capped_with_a_warning(tree, tmp_path, capsys):
    import os

    from debias.errors import DebiasWarning

    one, many = tmp_path / "one.csv", tmp_path / "many.csv"
    boot = ["--se", "bootstrap", "--n-boot", "20", *FAST]
    assert run(["-q", "leaderboard", str(tree), *boot, "--jobs", "1", "--out", str(one)]) == 0
    with pytest.warns(DebiasWarning, match=f"{os.cpu_count()} cores"):
        assert (
            run(["-q", "leaderboard", str(tree), *boot, "--jobs", "1000", "--out", str(many)]) == 0
        )
    pd.testing.assert_frame_equal(pd.read_csv(one), pd.read_csv(many))


def test_help_is_fast_and_loads_no_numeric_stack():
    code = (
        "import sys\nfrom debias.cli import main\ntry:\n    main(['--help'])\n"
        "except SystemExit:\n    pass\n"
        "print(sorted(m for m in ('pandas', 'numpy', 'matplotlib', 'scipy') if m in sys.modules),"
        " file=sys.stderr)"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert proc.stderr.strip() == "[]"
    assert "leaderboard" in proc.stdout


@pytest.mark.parametrize(
    "python, cli",
    [
        ("pass models=['a', 'b'] or exclude=...", "pass --models ['a', 'b'] or --exclude ..."),
        ("use preference_scale='alpaca_eval'", "use --preference-scale 'alpaca_eval'"),
        ("(mapping= and baseline= apply to tables)", "(--map and --baseline apply to tables)"),
        ("The 'n_boot' parameter must be an int", "The --n-boot option must be an int"),
        ("pick one with judge=... (--judge on the command line).", "pick one with --judge ...."),
        # data that merely looks like a keyword is left alone
        (
            "coefficients (m:difficulty=38.8, x.models=2)",
            "coefficients (m:difficulty=38.8, x.models=2)",
        ),
        ("instruction 'se=3' has no answer", "instruction 'se=3' has no answer"),
    ],
)
def test_python_keywords_become_flags_only_where_they_are_keywords(python, cli):
    from debias.cli.messages import to_cli_message

    assert to_cli_message(python) == cli


def test_progress_lines_keep_their_order_with_warnings_and_no_blank_lines():
    from tqdm import tqdm

    class Sink:
        text = ""

        def write(self, s):
            Sink.text += s

        def flush(self):
            pass

    stream = debias.cli.messages.LineProgress(Sink(), interval=3600)
    bar = tqdm(total=10, desc="stage 1", file=stream, mininterval=0, miniters=1)
    for i in range(10):
        bar.update()
        if i == 4:
            stream.write("warning: halfway\n")
    bar.close()
    lines = Sink.text.split("\n")
    assert lines[-1] == "" and "" not in lines[:-1]  # no blank line
    assert lines[0].startswith("stage 1: ") and "0/10" in lines[0]
    assert "5/10" in lines[1] and lines[2] == "warning: halfway"  # the state before it, then it
    assert "10/10" in lines[-2]
