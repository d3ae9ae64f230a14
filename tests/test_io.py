"""Tests of debias.io: AlpacaEval trees, generic tables, downloads, and the real data pack."""

from __future__ import annotations

import functools
import gzip
import http.server
import json
import math
import os
import socket
import threading
import time
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from debias import Comparisons, DataWarning, InputError
from debias.io import (
    download_alpaca_eval,
    normalise_column_name,
    read_alpaca_eval,
    read_benchmarks,
    read_comparisons,
    read_leaderboard,
    read_model_outputs,
    write_annotations,
)
from debias.io.alpaca_eval import load_json_list
from debias.io.download import default_cache_dir

# ---------------------------------------------------------------------------- a small tree
INSTR = [f"Instruction {i}: what is {i} + {i}?" for i in range(5)] + ["  Héllo\n wörld — ünïcode  "]
BASE_OUT = {q: f"base answer to {q}" for q in INSTR}


def _record(i: int, model: str, pref, *, baseline: str = "base", judge: str | None = "judge_a"):
    rec = {
        "instruction": INSTR[i],
        "output_1": BASE_OUT[INSTR[i]],
        "generator_1": baseline,
        "dataset": "set_a" if i % 2 else "set_b",
        "output_2": f"{model} says {i}" if model != baseline else BASE_OUT[INSTR[i]],
        "generator_2": model,
        "annotator": judge,
        "preference": pref,
        "price_per_example": 0.01,
        "time_per_example": 1.5,
    }
    if judge is None:
        del rec["annotator"]
    return rec


def _write_outputs(path: Path, generator: str) -> None:
    rows = [
        {"dataset": "set_a", "instruction": q, "output": BASE_OUT[q], "generator": generator}
        for q in INSTR
    ]
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(rows))


# m1: every instruction, in a shuffled order (the canonical order comes from model_outputs)
M1_ORDER = [3, 0, 5, 1, 4, 2]
M1_PREF = {0: 2.0, 1: 1.0, 2: 1.5, 3: 1.8, 4: 1.2, 5: 2.0}
# m2 (.json.gz): instruction 3 missing, empty and None outputs, a null preference, legacy 0
M2_PREF = {0: 2.0, 1: None, 2: 0, 4: 1.25, 5: 1.0}
# m3: missing optional fields (no dataset / annotator / price / time) and extra fields
M3_PREF = [1, 2, 2, 2, 1, 2]
# judge_b: another judge with another baseline ("b2") and hard 1/2 preferences
B_M1_PREF = [1, 2, 1, 1, 2, 1]
B_M4_PREF = [2, 2, 1, 2]


def _win_rate(prefs) -> float:
    """Hand-computed: 100 x mean(preference - 1) over non-null values, legacy 0 = tie."""
    values = [1.5 if p == 0 else p for p in prefs if p is not None]
    return 100 * sum(v - 1 for v in values) / len(values)


EXPECTED_A = {
    "m1": (6, 100 * (1 + 0 + 0.5 + 0.8 + 0.2 + 1) / 6),
    "m2": (5, 100 * (1 + 0.5 + 0.25 + 0) / 4),
    "base": (6, 50.0),
    "m3": (6, 100 * 4 / 6),
}
EXPECTED_B = {"m1": (6, 100 * 2 / 6), "m4": (4, 75.0)}


def build_tree(root: Path) -> Path:
    """An AlpacaEval data root with two judges; returns the root."""
    res = root / "results"
    _write_outputs(res / "base" / "model_outputs.json", "base")
    _write_outputs(res / "base_verbose" / "model_outputs.json.gz", "base_verbose")  # no judge
    write_annotations(
        [_record(i, "m1", M1_PREF[i]) for i in M1_ORDER], res / "m1/judge_a/annotations.json"
    )
    m2 = [_record(i, "m2", p) for i, p in M2_PREF.items()]
    m2[0]["output_2"] = ""
    m2[2]["output_2"] = None
    write_annotations(m2, res / "m2/judge_a/annotations.json.gz")
    write_annotations(
        [_record(i, "base", 1.5) for i in range(6)], res / "base/judge_a/annotations.json"
    )
    m3 = []
    for i, p in enumerate(M3_PREF):
        rec = _record(i, "m3", p, judge=None)
        for key in ("dataset", "price_per_example", "time_per_example"):
            del rec[key]
        rec["raw_completion"] = {"text": "Output (b)", "logprob": -0.1}
        rec["extra"] = [1, 2]
        m3.append(rec)
    write_annotations(m3, res / "m3/judge_a/annotations.json")
    write_annotations(
        [_record(i, "m1", p, baseline="b2", judge="judge_b") for i, p in enumerate(B_M1_PREF)],
        res / "m1/judge_b/annotations.json.gz",
    )
    write_annotations(
        [_record(i, "m4", p, baseline="b2", judge="judge_b") for i, p in enumerate(B_M4_PREF)],
        res / "m4/judge_b/annotations.json",
    )
    return root


@pytest.fixture
def tree(tmp_path: Path) -> Path:
    return build_tree(tmp_path / "alpaca")


def _read(*args, **kwargs) -> Comparisons:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DataWarning)
        return read_alpaca_eval(*args, **kwargs)


def _rates(comps: Comparisons) -> dict[str, tuple[int, float]]:
    wr = comps.win_rates()
    return {r.model: (int(r.n + r.n_missing), r.win_rate) for r in wr.itertuples()}


def _assert_one_line(exc: pytest.ExceptionInfo, *names: str) -> None:
    msg = str(exc.value)
    assert "\n" not in msg, msg
    for name in names:
        assert name in msg, msg


# ---------------------------------------------------------------------------- reading trees
def test_two_judges_need_a_choice(tree):
    with pytest.raises(InputError, match="several judges") as exc:
        read_alpaca_eval(tree)
    _assert_one_line(exc, "judge_a", "judge_b", "judge=")


def test_unknown_judge(tree):
    with pytest.raises(InputError, match="judges present") as exc:
        read_alpaca_eval(tree, judge="gpt5")
    _assert_one_line(exc, "gpt5", "judge_a")


def test_judge_a_counts_and_win_rates(tree):
    with pytest.warns(DataWarning) as record:
        comps = read_alpaca_eval(tree, judge="judge_a")
    messages = " ".join(str(w.message) for w in record)
    assert "1 missing output" in messages and "no preference" in messages
    assert _rates(comps).keys() == EXPECTED_A.keys()
    for model, (n, rate) in EXPECTED_A.items():
        got_n, got_rate = _rates(comps)[model]
        assert got_n == n
        assert got_rate == pytest.approx(rate, abs=1e-12)
    # the hand formula on the raw preferences
    assert _rates(comps)["m2"][1] == pytest.approx(_win_rate(M2_PREF.values()))
    assert _rates(comps)["m3"][1] == pytest.approx(_win_rate(M3_PREF))
    assert len(comps) == 23
    assert comps.judges == ["judge_a"]
    assert comps.baselines == ["base"]
    assert comps.n_missing == 1
    assert comps.n_missing_outputs == 1


def test_judge_a_columns(tree):
    comps = _read(tree, judge="judge_a")
    d = comps.data
    # canonical order from the baseline's model_outputs.json, not the shuffled m1 file
    assert comps.instruction_order == tuple(INSTR)
    m1 = d[d.model == "m1"].set_index("instruction")
    assert m1.loc[INSTR[3], "position"] == 0 and m1.loc[INSTR[2], "position"] == 5
    assert m1.loc[INSTR[3], "preference"] == pytest.approx(0.8)
    assert m1.loc[INSTR[5], "output_model"] == "m1 says 5"
    assert m1.loc[INSTR[5], "output_baseline"] == BASE_OUT[INSTR[5]]  # text kept exactly
    m2 = d[d.model == "m2"].set_index("instruction")
    assert INSTR[3] not in m2.index
    assert m2.loc[INSTR[0], "output_model"] == ""  # empty output
    assert m2.loc[INSTR[2], "output_model"] == ""  # None output
    assert m2.loc[INSTR[2], "preference"] == 0.5  # legacy 0 = tie
    assert np.isnan(m2.loc[INSTR[1], "preference"])
    assert m2.loc[INSTR[4], "position"] == 3
    assert set(m2["dataset"]) == {"set_a", "set_b"}
    base = d[d.model == "base"]  # the baseline judged against itself: a normal model
    assert (base.baseline == "base").all() and (base.preference == 0.5).all()
    assert (base.output_model == base.output_baseline).all()
    m3 = d[d.model == "m3"]
    assert (m3.judge == "judge_a").all()  # from the folder name
    assert m3.dataset.isna().all()
    assert list(m3.preference) == [p - 1 for p in M3_PREF]


def test_judge_b_other_baseline_hard_preferences(tree):
    comps = _read(tree, judge="judge_b")
    assert comps.baselines == ["b2"] and comps.judges == ["judge_b"]
    assert set(comps.data.preference) == {0.0, 1.0}
    for model, (n, rate) in EXPECTED_B.items():
        assert _rates(comps)[model] == (n, pytest.approx(rate))
    # no model_outputs for b2: the longest file's order (m1's file here)
    assert comps.instruction_order == tuple(INSTR)


def test_fallback_order_is_longest_file(tmp_path):
    res = tmp_path / "results"
    write_annotations([_record(i, "short", 2) for i in (4, 2)], res / "a/j/annotations.json")
    write_annotations([_record(i, "long", 1) for i in (5, 1, 3)], res / "b/j/annotations.json")
    comps = _read(tmp_path)
    assert comps.instruction_order == (INSTR[5], INSTR[1], INSTR[3])


@pytest.mark.parametrize(
    "where",
    ["root", "results", "model", "judge_dir", "file", "files"],
)
def test_path_forms(tree, where):
    res = tree / "results"
    m2 = res / "m2/judge_a/annotations.json.gz"
    m3 = res / "m3/judge_a/annotations.json"
    arg, expected = {
        "root": (tree, set(EXPECTED_A)),
        "results": (res, set(EXPECTED_A)),
        "model": (res / "m2", {"m2"}),
        "judge_dir": (m2.parent, {"m2"}),
        "file": (m2, {"m2"}),
        "files": ([str(m2), m3, m2], {"m2", "m3"}),  # m2 listed twice is read once
    }[where]
    comps = _read(arg, judge="judge_a")
    assert set(comps.models) == expected
    for model in expected:
        assert _rates(comps)[model] == (EXPECTED_A[model][0], pytest.approx(EXPECTED_A[model][1]))
    assert comps.instruction_order == tuple(INSTR)  # found via results/base/model_outputs.json


def test_files_of_two_judges_and_judge_filter(tree):
    files = [
        tree / "results/m1/judge_a/annotations.json",
        tree / "results/m1/judge_b/annotations.json.gz",
    ]
    both = _read(files)
    assert both.judges == ["judge_a", "judge_b"] and len(both) == 12
    only_b = _read(files, judge="judge_b")
    assert only_b.judges == ["judge_b"] and len(only_b) == 6
    with pytest.raises(InputError, match="no judge"):
        _read(files, judge="judge_c")


def test_models_and_baseline_filters(tree):
    comps = _read(tree, judge="judge_a", models=["m3", "base"])
    assert set(comps.models) == {"m3", "base"}
    with pytest.raises(InputError, match="models present") as exc:
        _read(tree, judge="judge_a", models=["m4"])
    _assert_one_line(exc, "m4", "m1")
    assert len(_read(tree, judge="judge_a", baseline="base")) == 23
    with pytest.raises(InputError, match="baselines present") as exc:
        _read(tree, judge="judge_a", baseline="b2")
    _assert_one_line(exc, "b2", "base")
    m2 = tree / "results/m2/judge_a/annotations.json.gz"
    assert _read([m2], models=["m2"]).models == ["m2"]


def test_progress_bar_goes_to_stderr(tree, capsys):
    _read(tree, judge="judge_b", progress=True)
    captured = capsys.readouterr()
    assert "2/2" in captured.err and captured.out == ""
    _read(tree, judge="judge_b")
    assert capsys.readouterr().err == ""


def test_empty_annotation_file_is_skipped(tmp_path):
    write_annotations([], tmp_path / "results/a/j/annotations.json")
    write_annotations([_record(0, "b", 2)], tmp_path / "results/b/j/annotations.json")
    with pytest.warns(DataWarning, match="empty list"):
        comps = read_alpaca_eval(tmp_path)
    assert comps.models == ["b"]


# ---------------------------------------------------------------------------- writing
def test_write_read_round_trip(tree, tmp_path):
    comps = _read(tree, judge="judge_a").select(models=["m1", "m3"])
    for suffix in (".json", ".json.gz"):
        out = write_annotations(comps, tmp_path / f"rt/results/x/judge_a/annotations{suffix}")
        if suffix == ".gz":
            assert out.read_bytes()[:2] == b"\x1f\x8b"
        back = _read(out)
        pd.testing.assert_frame_equal(back.data, comps.data)


def test_write_canonical_uses_alpaca_scale(tmp_path):
    frame = pd.DataFrame(
        {
            "instruction": ["a", "b", "c"],
            "model": "m",
            "baseline": "gpt4",
            "preference": [1.0, np.nan, 0.25],
            "judge": "j",
        }
    )
    before = frame.copy()
    path = write_annotations(frame, tmp_path / "annotations.json")
    pd.testing.assert_frame_equal(frame, before)  # caller's data untouched
    raw = json.loads(path.read_text())
    assert [r["preference"] for r in raw] == [2.0, None, 1.25]
    assert raw[0]["generator_2"] == "m" and raw[0]["generator_1"] == "gpt4"
    assert raw[0]["annotator"] == "j" and raw[0]["output_1"] == ""


def test_write_records_as_given(tmp_path):
    records = [_record(0, "m", np.float64(1.5)), _record(1, "m", float("nan"))]
    snapshot = json.dumps(records, default=str)
    path = write_annotations(records, tmp_path / "x" / "annotations.json")
    assert json.dumps(records, default=str) == snapshot
    raw = json.loads(path.read_text())  # strict JSON: NaN written as null
    assert raw[0]["preference"] == 1.5 and raw[1]["preference"] is None
    assert list(raw[0]) == [
        "instruction", "output_1", "generator_1", "dataset", "output_2",
        "generator_2", "annotator", "preference", "price_per_example", "time_per_example",
    ]  # fmt: skip
    assert not list(path.parent.glob(".*part"))  # no temporary file left behind


def test_write_rejects_unknown_layout(tmp_path):
    with pytest.raises(InputError, match="canonical columns") as exc:
        write_annotations([{"prompt": "x"}], tmp_path / "a.json")
    _assert_one_line(exc, "a.json")


def test_reads_nan_literal_and_string_preferences(tmp_path):
    f = tmp_path / "annotations.json"
    rows = [_record(0, "m", 2), _record(1, "m", 1), _record(2, "m", "1.5")]
    text = json.dumps(rows).replace('"preference": 1,', '"preference": NaN,')
    f.write_text(text)
    comps = _read(f)
    assert comps.n_missing == 1
    assert comps.win_rates().win_rate.iloc[0] == pytest.approx(75.0)


# ---------------------------------------------------------------------------- broken files
def _annotations(tmp_path: Path, content: bytes, name: str = "annotations.json") -> Path:
    path = tmp_path / "results" / "m" / "j" / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(content)
    return path


GOOD = json.dumps([_record(0, "m", 2), _record(1, "m", 1)]).encode()


@pytest.mark.parametrize(
    ("name", "content", "pattern"),
    [
        ("annotations.json.gz", gzip.compress(GOOD)[:-30], "gzip"),
        ("annotations.json.gz", gzip.compress(GOOD)[:12], "gzip"),
        (
            "annotations.json",
            b'[\n {"instruction": "x",\n\n  oops}]',
            r"not valid JSON \(line 4, column 3\)",
        ),
        ("annotations.json", b"", "not valid JSON"),
        ("annotations.json", b'{"instruction": "x"}', "got a JSON object"),
        ("annotations.json", b'"hello"', "got a JSON string"),
        ("annotations.json", b'[{"instruction": "x"}, 3]', "item 1 is a JSON number"),
        ("annotations.json", b'["\xff"]', "UTF-8"),
    ],
)
def test_malformed_files_name_the_file(tmp_path, name, content, pattern):
    path = _annotations(tmp_path, content, name)
    for arg in (path, tmp_path, [path]):
        with pytest.raises(InputError, match=pattern) as exc:
            read_alpaca_eval(arg)
        _assert_one_line(exc, str(path))


BAD_ROWS = {
    "missing preference": ({(1, "preference"): KeyError}, r"required field\(s\) \['preference'\]"),
    "missing output_2": ({(2, "output_2"): KeyError}, "output_2"),
    "null instruction": ({(1, "instruction"): None}, r"instruction is null in row\(s\) 1"),
    "null generator_2": ({(0, "generator_2"): None}, "generator_2 is null"),
    "nested generator_1": ({(1, "generator_1"): {"name": "b"}}, "generator_1 is a JSON object"),
    "out of range": ({(2, "preference"): 2.5}, r"out of range in row\(s\) 2"),
    "negative": ({(0, "preference"): -1}, "out of range"),
    "probability scale": ({(0, "preference"): 0.7}, "out of range"),
    "not a number": ({(1, "preference"): "model b"}, r"not a number in row\(s\) 1"),
    "duplicate": ({(2, "instruction"): INSTR[0]}, "more than once"),
}


@pytest.mark.parametrize("case", list(BAD_ROWS))
def test_bad_rows_name_the_file(tmp_path, case):
    changes, pattern = BAD_ROWS[case]
    rows = [_record(i, "m", 2) for i in range(3)]
    for (row, key), value in changes.items():
        if value is KeyError:
            del rows[row][key]
        else:
            rows[row][key] = value
    path = _annotations(tmp_path, json.dumps(rows).encode())
    with pytest.raises(InputError, match=pattern) as exc:
        read_alpaca_eval(tmp_path)
    _assert_one_line(exc, str(path))


def test_same_model_in_two_files(tmp_path):
    # outside the results/<model>/<judge>/ layout: named by generator_2 and annotator
    a, b = tmp_path / "orig" / "annotations.json", tmp_path / "copy" / "annotations.json"
    for f in (a, b):
        f.parent.mkdir()
        f.write_bytes(GOOD)
    with pytest.raises(InputError, match="also judged") as exc:
        read_alpaca_eval([a, b])
    _assert_one_line(exc, str(a), str(b))


def test_missing_paths(tmp_path):
    with pytest.raises(InputError, match="no such file") as exc:
        read_alpaca_eval(tmp_path / "nope")
    _assert_one_line(exc, "nope")
    with pytest.raises(InputError, match="no such file") as exc:
        read_alpaca_eval([tmp_path / "gone.json"])
    _assert_one_line(exc, "gone.json")
    (tmp_path / "empty").mkdir()
    with pytest.raises(InputError, match="no AlpacaEval annotation files") as exc:
        read_alpaca_eval(tmp_path / "empty")
    _assert_one_line(exc, "empty")
    with pytest.raises(InputError, match="empty"):
        read_alpaca_eval([])


# ---------------------------------------------------------------------------- side tables
def test_read_model_outputs(tree):
    frame = read_model_outputs(tree / "results/base")
    assert list(frame.columns) == ["instruction", "output", "generator", "dataset"]
    assert list(frame.instruction) == INSTR
    gz = read_model_outputs(tree / "results/base_verbose/model_outputs.json.gz")
    assert set(gz.generator) == {"base_verbose"}
    with pytest.raises(InputError, match="no model_outputs") as exc:
        read_model_outputs(tree / "results/m1")
    _assert_one_line(exc, "m1")
    bad = tree / "bad_outputs.json"
    bad.write_text('[{"instruction": "x"}]')
    with pytest.raises(InputError, match="output") as exc:
        read_model_outputs(bad)
    _assert_one_line(exc, str(bad))


def test_read_model_outputs_optional_and_extra_fields(tmp_path):
    f = tmp_path / "model_outputs.json"
    f.write_text(json.dumps([{"instruction": "q", "output": "a", "price": 1}]))
    frame = read_model_outputs(f)
    assert list(frame.columns) == ["instruction", "output", "generator", "dataset", "price"]
    assert frame.generator.isna().all()


def test_read_leaderboard(tmp_path):
    f = tmp_path / "board.csv"
    f.write_text(",win_rate,mode,avg_length\nm1,12.5,community,900\nm2,50.0,minimal,2049\n")
    board = read_leaderboard(f)
    assert list(board.columns) == ["model", "win_rate", "mode", "avg_length"]
    assert board.set_index("model").loc["m2", "win_rate"] == 50.0
    with pytest.raises(InputError, match="file not found") as exc:
        read_leaderboard(tmp_path / "none.csv")
    _assert_one_line(exc, "none.csv")
    named = tmp_path / "named.csv"
    named.write_text("name,win_rate\nm1,3\n")
    with pytest.raises(InputError, match="first column") as exc:
        read_leaderboard(named)
    _assert_one_line(exc, "named.csv")


def test_read_benchmarks_and_normalise(tmp_path):
    f = tmp_path / "benchmarks.csv"
    f.write_text(
        'Model,"Arena Elo\n[Feb 2, 2024]","AGI Eval \n(en)",LC AlpacaEval 2.0\ngpt4,1251.0,,50.0\nm2,,3.5,\n'
    )
    bench = read_benchmarks(f)
    assert list(bench.columns) == [
        "model",
        "Arena Elo\n[Feb 2, 2024]",
        "AGI Eval \n(en)",
        "LC AlpacaEval 2.0",
    ]
    assert bench["Arena Elo\n[Feb 2, 2024]"].iloc[0] == 1251.0
    flat = bench.rename(columns=normalise_column_name)
    assert list(flat.columns) == [
        "model",
        "Arena Elo [Feb 2, 2024]",
        "AGI Eval (en)",
        "LC AlpacaEval 2.0",
    ]
    assert normalise_column_name("  a \n\t b ") == "a b"


# ---------------------------------------------------------------------------- generic tables
TABLE = pd.DataFrame(
    {
        "prompt": ["q1", "q2", "NA", "007"],
        "system": ["m", "m", "m", "m"],
        "answer": ["long answer", "", "N/A", "x"],
        "p": [1.0, 0.0, 0.5, np.nan],
    }
)
MAPPING = {"instruction": "prompt", "model": "system", "output_model": "answer", "preference": "p"}


@pytest.mark.parametrize("suffix", [".csv", ".csv.gz", ".jsonl", ".json", ".parquet"])
def test_read_judgments_formats(tmp_path, suffix):
    path = tmp_path / f"judgments{suffix}"
    if suffix.startswith(".csv"):
        TABLE.to_csv(path, index=False)
    elif suffix == ".jsonl":
        path.write_text("\n".join(json.dumps(_plain(r)) for r in TABLE.to_dict("records")) + "\n\n")
    elif suffix == ".json":
        path.write_text(json.dumps([_plain(r) for r in TABLE.to_dict("records")]))
    else:
        TABLE.to_parquet(path)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DataWarning)
        comps = read_comparisons(path, MAPPING, baseline="gpt4", judge="j1")
    d = comps.data
    assert list(d.instruction) == ["q1", "q2", "NA", "007"]  # text stays text
    assert d.output_model.iloc[2] == "N/A"
    assert comps.n_missing == 1 and comps.baselines == ["gpt4"] and comps.judges == ["j1"]
    assert comps.win_rates().win_rate.iloc[0] == pytest.approx(50.0)
    assert comps.source == str(path)


def _plain(record: dict) -> dict:
    return {k: (None if isinstance(v, float) and math.isnan(v) else v) for k, v in record.items()}


def test_read_judgments_alpaca_scale_and_format_override(tmp_path):
    path = tmp_path / "data.txt"
    pd.DataFrame(
        {"instruction": ["a", "b"], "model": "m", "baseline": "b", "preference": [2, 1.5]}
    ).to_csv(path, index=False)
    comps = read_comparisons(path, preference_scale="alpaca_eval", format="csv")
    assert list(comps.data.preference) == [1.0, 0.5]
    with pytest.raises(InputError, match="unknown table suffix") as exc:
        read_comparisons(path)
    _assert_one_line(exc, str(path), "format=")


def test_read_judgments_errors_name_the_file(tmp_path):
    with pytest.raises(InputError, match="file not found") as exc:
        read_comparisons(tmp_path / "none.csv")
    _assert_one_line(exc, "none.csv")
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"instruction": "a"}\n{oops\n')
    with pytest.raises(InputError, match="line 2") as exc:
        read_comparisons(bad)
    _assert_one_line(exc, str(bad))
    cols = tmp_path / "cols.csv"
    cols.write_text("prompt,model,pref\nq,m,1\n")
    with pytest.raises(InputError, match="missing required column") as exc:
        read_comparisons(cols)
    assert str(cols) in str(exc.value)
    empty = tmp_path / "empty.csv"
    empty.write_text("")
    with pytest.raises(InputError) as exc:
        read_comparisons(empty)
    _assert_one_line(exc, str(empty))
    rng = tmp_path / "range.csv"
    rng.write_text("instruction,model,baseline,preference\nq,m,b,2\n")
    with pytest.raises(InputError, match="out of range") as exc:
        read_comparisons(rng)
    assert str(rng) in str(exc.value)


# ---------------------------------------------------------------------------- download
class _CountingHandler(http.server.SimpleHTTPRequestHandler):
    requests: list[str]

    def do_GET(self):
        self.requests.append(self.path)
        super().do_GET()

    def log_message(self, *args):  # keep test output clean
        pass


@pytest.fixture
def server(tmp_path):
    """A loopback HTTP server serving an AlpacaEval tree; yields (base_url, requests)."""
    remote = build_tree(tmp_path / "remote")
    (remote / "results/html/j").mkdir(parents=True)
    (remote / "results/html/j/annotations.json").write_text("<html>rate limited</html>")
    requests: list[str] = []
    handler = type("Handler", (_CountingHandler,), {"requests": requests})
    httpd = http.server.ThreadingHTTPServer(
        ("127.0.0.1", 0), functools.partial(handler, directory=str(remote))
    )
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{httpd.server_address[1]}/", requests
    finally:
        httpd.shutdown()
        httpd.server_close()
        thread.join(timeout=5)


def test_download_fetches_once(server, tmp_path):
    base_url, requests = server
    cache = tmp_path / "cache"
    root = download_alpaca_eval(
        ["m1", "m2"], judge="judge_a", base_url=base_url, cache_dir=cache, progress=False
    )
    assert root == cache
    assert (cache / "results/m1/judge_a/annotations.json").is_file()
    assert (cache / "results/m2/judge_a/annotations.json.gz").is_file()  # the server's only name
    assert (cache / "results/base/model_outputs.json").is_file()
    assert sorted(requests) == [
        "/results/base/model_outputs.json",
        "/results/m1/judge_a/annotations.json",
        "/results/m2/judge_a/annotations.json",  # 404, then .json.gz
        "/results/m2/judge_a/annotations.json.gz",
    ]
    assert not list(cache.rglob(".*part"))
    comps = _read(root)
    assert set(comps.models) == {"m1", "m2"}
    assert comps.instruction_order == tuple(INSTR)
    for model in ("m1", "m2"):
        assert _rates(comps)[model] == (EXPECTED_A[model][0], pytest.approx(EXPECTED_A[model][1]))
    # a second call is served from the cache; a new model fetches only its file
    download_alpaca_eval("m1", judge="judge_a", base_url=base_url, cache_dir=cache, progress=False)
    assert len(requests) == 4
    download_alpaca_eval(
        ["m1", "m3"], judge="judge_a", base_url=base_url, cache_dir=cache, progress=False
    )
    assert requests[4:] == ["/results/m3/judge_a/annotations.json"]


def test_download_http_errors(server, tmp_path):
    base_url, requests = server
    cache = tmp_path / "cache"
    with pytest.raises(InputError, match="404") as exc:
        download_alpaca_eval(
            ["nope"], judge="judge_a", base_url=base_url, cache_dir=cache, progress=False
        )
    _assert_one_line(exc, f"{base_url}results/nope/judge_a/annotations.json", "local")
    assert not list(cache.rglob("*.json*"))  # nothing cached, no temporary file left
    with pytest.raises(InputError, match="not valid JSON") as exc:
        download_alpaca_eval(
            ["html"], judge="j", base_url=base_url, cache_dir=cache, progress=False
        )
    _assert_one_line(exc, "html/j/annotations.json")
    assert not (cache / "results/html/j/annotations.json").exists()


def test_download_missing_baseline_outputs_warns(server, tmp_path):
    base_url, _ = server
    with pytest.warns(DataWarning, match="b2/model_outputs.json"):
        root = download_alpaca_eval(
            ["m4"], judge="judge_b", base_url=base_url, cache_dir=tmp_path / "c", progress=False
        )
    assert _rates(_read(root))["m4"] == (4, 75.0)


def test_download_closed_port(tmp_path):
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    url = f"http://127.0.0.1:{port}"
    with pytest.raises(InputError, match="could not download") as exc:
        download_alpaca_eval(["m1"], base_url=url, cache_dir=tmp_path, progress=False)
    _assert_one_line(exc, url, "local")


def test_download_rejects_bad_names_and_uses_cache_env(tmp_path, monkeypatch):
    for bad in ("../evil", "", "a/b"):
        with pytest.raises(InputError, match="invalid model name"):
            download_alpaca_eval([bad], cache_dir=tmp_path, progress=False)
    with pytest.raises(InputError, match="no models"):
        download_alpaca_eval([], cache_dir=tmp_path, progress=False)
    monkeypatch.setenv("DEBIAS_CACHE_DIR", str(tmp_path / "envcache"))
    assert default_cache_dir() == tmp_path / "envcache" / "alpaca_eval"
    monkeypatch.delenv("DEBIAS_CACHE_DIR")
    assert default_cache_dir() == Path.home() / ".cache" / "debias" / "alpaca_eval"


# ---------------------------------------------------------------------------- real data
DATA = os.environ.get("DEBIAS_ALPACA_EVAL_DIR")
needs_data = pytest.mark.skipif(
    not DATA or not Path(DATA).is_dir(),
    reason="AlpacaEval data pack not found: set DEBIAS_ALPACA_EVAL_DIR to ../shared/alpaca_eval (.ci/run does this)",
)
JUDGE = "weighted_alpaca_eval_gpt4_turbo"


@pytest.fixture(scope="module")
def real():
    start = time.perf_counter()
    comps = read_alpaca_eval(DATA)
    seconds = time.perf_counter() - start
    return comps, seconds


@pytest.mark.alpaca_eval
@needs_data
def test_real_data_matches_published_win_rates(real, record_property):
    comps, seconds = real
    record_property("load_seconds", round(seconds, 3))
    print(
        f"\nread_alpaca_eval: {len(comps)} judgments of {len(comps.models)} models in {seconds:.2f} s"
    )
    files = sorted(Path(DATA, "results").glob(f"*/{JUDGE}/annotations.json*"))
    assert len(comps.models) == len(files) == 46
    assert comps.judges == [JUDGE] and comps.baselines == ["gpt4_1106_preview"]
    assert len(comps.instruction_order) == 805
    board = read_leaderboard(Path(DATA, "leaderboards", f"{JUDGE}_leaderboard.csv")).set_index(
        "model"
    )
    d = comps.data
    not_published = []
    for f in files:
        raw = load_json_list(f)
        model = raw[0]["generator_2"]
        rows = d[d.model == model]
        assert len(rows) == len(raw), model
        assert list(rows.position) == list(range(len(raw)))
        rate = 100 * rows.preference.dropna().mean()
        if model not in board.index:
            not_published.append(model)
            continue
        assert rate == pytest.approx(board.loc[model, "win_rate"], abs=1e-6), model
        assert rows.preference.notna().sum() == board.loc[model, "n_total"], model
    print(f"not in the published leaderboard (skipped): {not_published}")
    assert len(not_published) < 5


@pytest.mark.alpaca_eval
@needs_data
def test_real_data_details(real):
    comps, seconds = real
    d = comps.data
    counts = d.groupby("model").size()
    assert counts["alpaca-7b_verbose"] == 802 and counts["text_davinci_001"] == 803
    assert (d[d.model == "text_davinci_003"].output_model == "").sum() == 2
    assert set(d.instruction) <= set(comps.instruction_order)
    base = read_model_outputs(Path(DATA, "results", "gpt4_1106_preview"))
    assert tuple(base.instruction) == comps.instruction_order
    assert seconds < 30  # about 1-2 s on a laptop; generous for busy CI machines


@pytest.mark.alpaca_eval
@needs_data
def test_real_side_tables():
    lb = Path(DATA, "leaderboards")
    board = read_leaderboard(lb / f"{JUDGE}_leaderboard.csv")
    assert board.columns[0] == "model" and "length_controlled_winrate" in board
    old = read_leaderboard(lb / "paper_time_241e1f6" / f"{JUDGE}_leaderboard.csv")
    assert len(old) == 135
    bench = read_benchmarks(lb / "paper_time_241e1f6" / "benchmarks.csv")
    assert "Arena Elo\n[Feb 2, 2024]" in bench.columns
    flat = bench.rename(columns=normalise_column_name)
    assert "Arena Elo [Feb 2, 2024]" in flat.columns and not any("\n" in c for c in flat.columns)
    verbose = read_model_outputs(Path(DATA, "results", "gpt4_1106_preview_verbose"))
    assert len(verbose) == 805
