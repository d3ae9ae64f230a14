"""Hostile command lines: each ends in exit 2 with one line naming the file, row or flag.

Every case runs through :func:`debias.cli.main` (in-process, ``-q`` so that stage messages do
not count as lines); a few run the installed console script in a subprocess to check the
real exit code and that stderr is exactly one line. The cases that must give a result rather
than an error are in ``tests/test_cli_trust.py`` and check the result independently.
"""

from __future__ import annotations

import errno
import gzip
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from debias.cli import main

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"
TREE = FIXTURES / "alpaca_eval_sim"
J = ["--judge", "simulated_judge"]
FAST = ["--preset", "length_controlled_minimal", "--difficulty", "none"]
SCRIPT = Path(sys.executable).with_name("debias")


def errors(err: str) -> list[str]:
    """stderr lines that are not data warnings (the fixture tree has deliberate warts)."""
    return [x for x in err.strip().splitlines() if not x.startswith("warning: ")]


def run(argv: list[str], capsys) -> tuple[int, str]:
    """Exit code and stderr of ``debias ARGV`` (argparse errors exit through SystemExit)."""
    try:
        code = main(argv)
    except SystemExit as exc:
        code = exc.code
    return code, capsys.readouterr().err


def _table(tmp: Path, text: str, name: str = "t.csv") -> str:
    p = tmp / name
    p.write_text(text)
    return str(p)


def _file(tmp: Path) -> str:
    p = tmp / "a_file"
    p.write_text("x")
    return str(p)


def _tree_copy(tmp: Path) -> Path:
    root = tmp / "tree"
    if not root.exists():
        shutil.copytree(TREE, root)
    return root


def _folder(tmp: Path, name: str) -> str:
    (tmp / name).mkdir(exist_ok=True)
    return str(tmp / name)


def _busy_dir(tmp: Path) -> str:
    d = tmp / "busy"
    d.mkdir(exist_ok=True)
    (d / "thesis.tex").write_text("my work")
    return str(d)


GOOD = "instruction,model,baseline,preference\nq1,m,b,1\nq2,m,b,0\nq3,m,b,0.5\n"

# (id, argv factory given tmp_path, needle that the one error line must contain)
CASES = [
    # item 12: empty / header-only tables
    ("empty-csv", lambda t: ["leaderboard", _table(t, "")], "t.csv"),
    (
        "header-only-csv",
        lambda t: ["leaderboard", _table(t, "instruction,model,baseline,preference\n")],
        "t.csv",
    ),
    ("missing-path", lambda t: ["leaderboard", str(t / "nowhere")], "nowhere"),
    # item 12: unknown names, before any fit
    ("matrix-unknown-model", lambda t: ["matrix", str(TREE), *J, "--models", "modle_1"], "modle_1"),
    ("exclude-unknown-model", lambda t: ["leaderboard", str(TREE), *J, "--exclude", "x9"], "x9"),
    (
        "audit-unknown-model",
        lambda t: ["audit", str(TREE), *J, "--models", "zz", "--out", str(t / "a")],
        "zz",
    ),
    (
        "difficulty-unknown-model",
        lambda t: ["difficulty", str(TREE), *J, "--models", "zz", "--out", str(t / "d.csv")],
        "zz",
    ),
    ("models-empty-list", lambda t: ["leaderboard", str(TREE), *J, "--models", ",,"], "--models"),
    ("unknown-judge", lambda t: ["leaderboard", str(TREE), "--judge", "nobody"], "nobody"),
    ("two-judges-no-judge", lambda t: ["leaderboard", str(TREE)], "--judge"),
    # item 13: generic-table flags
    ("map-without-equals", lambda t: ["leaderboard", str(TREE), "--map", "prompt"], "--map"),
    ("map-on-a-tree", lambda t: ["leaderboard", str(TREE), *J, "--map", "a=instruction"], "--map"),
    (
        "bad-preference-scale",
        lambda t: ["leaderboard", str(TREE), "--preference-scale", "pct"],
        "--preference-scale",
    ),
    (
        "verdict-word-unknown",
        lambda t: ["leaderboard", _table(t, GOOD.replace(",1\n", ",winner\n")), *FAST],
        "t.csv",
    ),
    # item 14: output formats
    (
        "out-unknown-suffix",
        lambda t: ["leaderboard", str(TREE), *J, "--out", str(t / "x.xlsx")],
        "x.xlsx",
    ),
    ("out-no-suffix", lambda t: ["matrix", str(TREE), *J, "--out", str(t / "matrix")], "matrix"),
    (
        "difficulty-out-not-csv",
        lambda t: ["difficulty", str(TREE), *J, "--out", str(t / "d.md")],
        "d.md",
    ),
    # data lost: outputs that are inputs
    (
        "out-is-the-input-table",
        lambda t: ["leaderboard", _table(t, GOOD), *FAST, "--out", str(t / "t.csv")],
        "t.csv",
    ),
    (
        "out-inside-input-tree",
        lambda t: [
            "leaderboard",
            str(_tree_copy(t)),
            *J,
            "--out",
            str(_tree_copy(t) / "results/model_0/simulated_judge/annotations.json"),
        ],
        "annotations.json",
    ),
    (
        "save-difficulty-is-input",
        lambda t: ["leaderboard", _table(t, GOOD), *FAST, "--save-difficulty", str(t / "t.csv")],
        "t.csv",
    ),
    ("audit-out-is-busy-folder", lambda t: ["audit", str(TREE), *J, "--out", _busy_dir(t)], "busy"),
    ("audit-out-is-a-file", lambda t: ["audit", str(TREE), *J, "--out", _file(t)], "a_file"),
    (
        "audit-out-is-the-tree",
        lambda t: ["audit", str(_tree_copy(t)), *J, "--out", str(_tree_copy(t))],
        "tree",
    ),
    ("simulate-out-is-busy-folder", lambda t: ["simulate", "--out", _busy_dir(t)], "busy"),
    # tracebacks before: unwritable outputs
    (
        "out-under-a-file",
        lambda t: ["leaderboard", str(TREE), *J, "--out", _file(t) + "/lb.csv"],
        "a_file",
    ),
    (
        "out-is-a-folder",
        lambda t: ["leaderboard", str(TREE), *J, "--out", _folder(t, "x.csv")],
        "x.csv",
    ),
    (
        "save-difficulty-under-a-file",
        lambda t: ["leaderboard", str(TREE), *J, "--save-difficulty", _file(t) + "/d.csv"],
        "a_file",
    ),
    ("simulate-out-under-a-file", lambda t: ["simulate", "--out", _file(t) + "/sim"], "a_file"),
    # tracebacks before: numeric flags
    (
        "jobs-0",
        lambda t: ["leaderboard", str(TREE), *J, "--se", "bootstrap", "--jobs", "0"],
        "--jobs",
    ),
    ("jobs-text", lambda t: ["leaderboard", str(TREE), *J, "--jobs", "many"], "--jobs"),
    ("seed-negative", lambda t: ["leaderboard", str(TREE), *J, "--seed", "-1"], "--seed"),
    (
        "simulate-seed-negative",
        lambda t: ["simulate", "--out", str(t / "s"), "--seed", "-1"],
        "--seed",
    ),
    ("n-boot-0", lambda t: ["leaderboard", str(TREE), *J, "--n-boot", "0"], "--n-boot"),
    ("level-1.5", lambda t: ["leaderboard", str(TREE), *J, "--level", "1.5"], "--level"),
    (
        "level-nan",
        lambda t: ["audit", str(TREE), *J, "--level", "nan", "--out", str(t / "a")],
        "--level",
    ),
    ("lam-inf", lambda t: ["leaderboard", str(TREE), *J, "--lam", "inf"], "--lam"),
    (
        "simulate-0-models",
        lambda t: ["simulate", "--out", str(t / "s"), "--models", "0"],
        "--models",
    ),
    (
        "simulate-1-instruction",
        lambda t: ["simulate", "--out", str(t / "s"), "--instructions", "1"],
        "--instructions",
    ),
    (
        "simulate-effect-nan",
        lambda t: ["simulate", "--out", str(t / "s"), "--length-effect", "nan"],
        "--length-effect",
    ),
    # unreadable / hostile content
    (
        "invalid-utf8-table",
        lambda t: [
            "leaderboard",
            _bytes(t, "t.csv", b"instruction,model,baseline,preference\n\xff\xfe,m,b,1\n"),
            *FAST,
        ],
        "t.csv",
    ),
    (
        "deeply-nested-json",
        lambda t: [
            "leaderboard",
            _bytes(t, "annotations.json", b"[" * 200_000 + b"]" * 200_000),
            *FAST,
        ],
        "annotations.json",
    ),
    (
        "gzip-cut-short-table",
        lambda t: ["leaderboard", _bytes(t, "t.csv.gz", gzip.compress(GOOD.encode())[:-10]), *FAST],
        "t.csv.gz",
    ),
    (
        "difficulty-file-missing",
        lambda t: ["leaderboard", str(TREE), *J, "--difficulty", str(t / "nodiff.csv")],
        "nodiff.csv",
    ),
    (
        "regularize-missing",
        lambda t: ["leaderboard", str(TREE), *J, "--regularize", str(t / "noreg")],
        "noreg",
    ),
    (
        "formula-typo",
        lambda t: ["leaderboard", str(TREE), *J, "--formula", "tanh(lenght)"],
        "lenght",
    ),
    (
        "formula-code-injection",
        lambda t: [
            "leaderboard",
            str(TREE),
            *J,
            "--formula",
            'tanh(scaled(length) + 0*__builtins__.get("__import__")("os").system("id")) '
            "+ difficulty",
        ],
        "__",
    ),
    (
        "preset-and-formula",
        lambda t: [
            "difficulty",
            str(TREE),
            *J,
            "--preset",
            "length_controlled_noreg",
            "--formula",
            "difficulty",
            "--out",
            str(t / "d.csv"),
        ],
        "--formula",
    ),
    (
        "layout-index-without-order",
        lambda t: [
            "difficulty",
            _table(
                t,
                GOOD.replace("m,b", "m,b").replace(
                    "q3,m,b,0.5\n",
                    "q3,m,b,0.5\nq1,n,b,1\nq2,n,b,0\nq3,n,b,1\nq1,o,b,0\nq2,o,b,1\nq3,o,b,0\n",
                ),
            ),
            "--out",
            str(t / "d.csv"),
            "--layout",
            "index",
        ],
        "--layout",
    ),
    ("unknown-command", lambda t: ["lederboard", str(TREE)], "lederboard"),
]


def _bytes(tmp: Path, name: str, data: bytes) -> str:
    p = tmp / name
    p.write_bytes(data)
    return str(p)


@pytest.mark.parametrize("argv_of, needle", [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_hostile_invocation_is_one_line_exit_2(tmp_path, capsys, argv_of, needle):
    argv = ["-q", *argv_of(tmp_path)]
    before = sorted(p.relative_to(tmp_path) for p in tmp_path.rglob("*"))
    code, err = run(argv, capsys)
    lines = errors(err)
    assert code == 2, err
    assert len(lines) == 1, err
    assert needle in lines[0], lines[0]
    assert "Traceback" not in err and "internal error" not in err
    # nothing the user had was changed and no output was half-written
    after = sorted(p.relative_to(tmp_path) for p in tmp_path.rglob("*"))
    assert after == before


def test_at_least_50_hostile_cases():
    assert len(CASES) >= 45  # + the injected-failure cases below


# --------------------------------------------------------------------------- injected failures
def test_full_disk_is_one_line_and_the_old_table_survives(tmp_path, capsys, monkeypatch):
    import debias.atomic

    out = tmp_path / "lb.csv"
    out.write_text("the previous table\n")

    def full(src, dst):
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), str(dst))

    monkeypatch.setattr(debias.atomic.os, "replace", full)
    code, err = run(["-q", "leaderboard", str(TREE), *J, *FAST, "--out", str(out)], capsys)
    assert code == 2 and len(errors(err)) == 1
    assert "disk is full" in err and "lb.csv" in err
    assert out.read_text() == "the previous table\n"
    assert [p.name for p in tmp_path.iterdir()] == ["lb.csv"]  # no temporary file left


@pytest.mark.parametrize(
    "error, needle",
    [
        (OSError(errno.EROFS, "Read-only file system", "/mnt/ro/x.csv"), "read-only"),
        (OSError(errno.EACCES, "Permission denied", "/data/x.csv"), "permission denied"),
        (UnicodeDecodeError("utf-8", b"\xff", 0, 1, "invalid start byte"), "UTF-8"),
        (RecursionError("maximum recursion depth exceeded"), "nested too deeply"),
        (MemoryError(), "out of memory"),
    ],
)
def test_expected_failures_anywhere_are_one_line(capsys, monkeypatch, error, needle):
    import debias.reports.leaderboard

    def fail(*a, **k):
        raise error

    monkeypatch.setattr(debias.reports.leaderboard, "load_comparisons", fail)
    code, err = run(["-q", "leaderboard", str(TREE), *J], capsys)
    assert code == 2 and len(errors(err)) == 1 and needle in err


def test_keyboard_interrupt_is_exit_130_one_line(capsys, monkeypatch):
    import debias.reports.leaderboard

    def interrupted(*a, **k):
        raise KeyboardInterrupt

    monkeypatch.setattr(debias.reports.leaderboard, "load_comparisons", interrupted)
    code, err = run(["-q", "leaderboard", str(TREE), *J], capsys)
    assert code == 130 and errors(err) == ["debias leaderboard: interrupted"]


def test_internal_error_is_exit_1_with_a_pointer_to_debug(capsys, monkeypatch):
    import debias.reports.leaderboard

    def bug(*a, **k):
        raise ZeroDivisionError("float division by zero")

    monkeypatch.setattr(debias.reports.leaderboard, "load_comparisons", bug)
    code, err = run(["-q", "leaderboard", str(TREE), *J], capsys)
    assert code == 1 and len(errors(err)) == 1
    assert "ZeroDivisionError" in err and "--debug" in err
    with pytest.raises(ZeroDivisionError):
        main(["--debug", "leaderboard", str(TREE), *J])


# --------------------------------------------------------------------------- real processes
@pytest.fixture(scope="module")
def clean_tree(tmp_path_factory) -> Path:
    """A simulated tree without the fixture's deliberate warts (so stderr has no warning)."""
    from debias.simulate import simulate, write_alpaca_eval_tree

    root = tmp_path_factory.mktemp("clean") / "tree"
    return write_alpaca_eval_tree(simulate(n_models=3, n_instructions=40, seed=1), root)


@pytest.mark.parametrize(
    "argv_of, needle",
    [
        (lambda t, tree: ["-q", "leaderboard", _table(t, "")], "t.csv"),
        (lambda t, tree: ["leaderboard", str(tree), "--jobs", "0"], "--jobs"),
        (lambda t, tree: ["leaderboard", str(tree), "--out", _file(t) + "/lb.csv"], "a_file"),
        (lambda t, tree: ["-q", "matrix", str(tree), "--models", "model_0,modle_1"], "modle_1"),
        (lambda t, tree: ["leaderboard", str(tree), "--out", str(t / "lb.xlsx")], "lb.xlsx"),
        (lambda t, tree: ["audit", str(tree), "--out", _busy_dir(t)], "busy"),
    ],
    ids=["empty-csv", "jobs-0", "out-under-file", "unknown-model", "unknown-suffix", "busy-out"],
)
def test_console_script_exit_code_and_one_stderr_line(tmp_path, clean_tree, argv_of, needle):
    if not SCRIPT.exists():
        pytest.skip(f"console script not installed next to {sys.executable}")
    proc = subprocess.run(
        [str(SCRIPT), *argv_of(tmp_path, clean_tree)],  # refused before any stage message
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 2, proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and needle in lines[0], proc.stderr


def test_ctrl_c_during_a_bootstrap_exits_130_with_one_line(tmp_path):
    if not SCRIPT.exists():
        pytest.skip(f"console script not installed next to {sys.executable}")
    out = tmp_path / "lb.csv"
    out.write_text("previous\n")
    proc = subprocess.Popen(
        [
            str(SCRIPT),
            "-q",
            "leaderboard",
            str(TREE),
            *J,
            "--se",
            "bootstrap",
            "--n-boot",
            "100000",
            "--out",
            str(out),
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    time.sleep(6)
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=60)
    lines = errors(err)
    assert proc.returncode == 130, err
    assert lines == ["debias leaderboard: interrupted"]
    assert out.read_text() == "previous\n"


def test_malformed_annotation_file_is_named_once(tmp_path):
    """A corrupt file of one model: the others are read, the file is named in one warning."""
    root = _tree_copy(tmp_path)
    bad = root / "results" / "model_5" / "simulated_judge" / "annotations.json.gz"
    bad.write_bytes(gzip.compress(b'[{"instruction": "x"')[:-8])
    proc = subprocess.run(
        [sys.executable, "-m", "debias.cli", "-q", "leaderboard", str(root), *J, *FAST],
        capture_output=True,
        text=True,
        timeout=120,
    )
    named = [x for x in proc.stderr.splitlines() if "model_5" in x]
    assert "Traceback" not in proc.stderr
    if proc.returncode == 0:  # the model is skipped with a warning naming the file
        assert len(named) == 1 and named[0].startswith("warning:")
        assert "| model_5 |" not in proc.stdout and "| model_0 |" in proc.stdout
    else:
        assert proc.returncode == 2 and proc.stderr.strip().splitlines() == named


def test_json_of_a_list_of_non_records(tmp_path, capsys):
    p = tmp_path / "t.jsonl"
    p.write_text(json.dumps([1, 2]) + "\n")
    code, err = run(["-q", "leaderboard", str(p), *FAST], capsys)
    assert code == 2 and len(err.strip().splitlines()) == 1 and "t.jsonl" in err
