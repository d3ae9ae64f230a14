"""Hostile input files (issue 10, reliability pass): each ends in one clear DebiasError line
naming the file (and the row, line or field), or in a correct number checked by hand.

Every file is built here in tmp_path; nothing is copied from the data pack.
"""

from __future__ import annotations

import gzip
import http.server
import json
import os
import threading
import time
import warnings
from pathlib import Path

import pandas as pd
import pytest

from debias.errors import DataWarning, DebiasError, InputError
from debias.io import download_alpaca_eval, read_alpaca_eval, read_comparisons
from debias.io.regularization import read_regularization
from debias.model.difficulty import Difficulty

QUESTIONS = [f"Question {i}: what is {i} times {i}?" for i in range(6)]
ORDER = QUESTIONS  # the evaluation set's order for positional side files


def _rec(i: int, model: str = "m", pref=2.0, **extra) -> dict:
    rec = {
        "instruction": QUESTIONS[i],
        "output_1": f"baseline answer {i}",
        "generator_1": "base",
        "output_2": f"{model} answer {i} " * (i + 1),
        "generator_2": model,
        "annotator": "judge",
        "preference": pref,
    }
    rec.update(extra)
    return rec


def _write(path: Path, content) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    if isinstance(content, bytes):
        path.write_bytes(content)
    elif isinstance(content, str):
        path.write_text(content)
    else:
        path.write_text(json.dumps(content))
    return path


def _layout(tmp: Path, model: str = "m", judge: str = "judge") -> Path:
    return tmp / "results" / model / judge / "annotations.json"


def _with(i: int, field: str, value, n: int = 4, **kw) -> list[dict]:
    rows = [_rec(j, **kw) for j in range(n)]
    rows[i][field] = value
    return rows


# ---------------------------------------------------------------------------- builders
# Each builder writes its files under tmp and returns (call, regex, text the message names).
def alpaca_file(rows_or_bytes, pattern, **read_kw):
    def build(tmp: Path):
        f = _write(tmp / "loose" / "file.json", rows_or_bytes)
        return (lambda: read_alpaca_eval(f, **read_kw)), pattern, str(f)

    return build


def table(name: str, content, pattern, **read_kw):
    def build(tmp: Path):
        f = _write(tmp / name, content)
        return (lambda: read_comparisons(f, **read_kw)), pattern, str(f)

    return build


def difficulty(content: str, pattern: str, order=ORDER):
    def build(tmp: Path):
        f = _write(tmp / "difficulty.csv", content)
        return (lambda: Difficulty.from_csv(f, order)), pattern, str(f)

    return build


def df_gamed(content: str, pattern: str):
    def build(tmp: Path):
        f = _write(tmp / "df_gamed.csv", content)
        return (lambda: read_regularization(f, ORDER)), pattern, str(f)

    return build


def _deep(n: int = 200_000) -> bytes:
    return b"[" * n + b"]" * n


def _bomb(tmp: Path, name: str, inflated: int = 8 << 20) -> Path:
    """A gzip file a few KiB long that inflates to ``inflated`` bytes of JSON-ish padding."""
    body = b'[{"instruction": "' + b" " * inflated + b'"}]'
    return _write(tmp / name, gzip.compress(body, compresslevel=9))


def gzip_bomb(kind: str):
    def build(tmp: Path):
        os.environ["DEBIAS_MAX_FILE_BYTES"] = str(1 << 20)  # undone by the test
        if kind == "alpaca":
            f = _bomb(tmp, "results/m/judge/annotations.json.gz")
            return (lambda: read_alpaca_eval(f)), r"decompresses to more than the cap", str(f)
        f = _bomb(tmp, "table.jsonl.gz")
        return (lambda: read_comparisons(f)), r"decompresses to more than the cap", str(f)

    return build


def truncated_gzip(tmp: Path):
    f = _write(_layout(tmp), gzip.compress(json.dumps([_rec(0)]).encode())[:-12])
    f = f.rename(f.with_suffix(".json.gz"))
    return (lambda: read_alpaca_eval(f)), "not a readable gzip", str(f)


def fifo(reader: str):
    def build(tmp: Path):
        f = tmp / ("annotations.json" if reader == "alpaca" else "table.csv")
        os.mkfifo(f)
        call = (
            (lambda: read_alpaca_eval(f)) if reader == "alpaca" else (lambda: read_comparisons(f))
        )
        return call, r"named pipe \(FIFO\); only regular files", str(f)

    return build


def device(tmp: Path):
    return (lambda: read_comparisons("/dev/zero", format="csv")), "is a device", "/dev/zero"


def unix_socket(tmp: Path):
    import socket

    f = tmp / "s.csv"
    sock = socket.socket(socket.AF_UNIX)
    sock.bind(str(f))
    return (lambda: (read_comparisons(f), sock)), "is a socket", str(f)


def dangling_symlink(tmp: Path):
    f = tmp / "annotations.json"
    f.symlink_to(tmp / "gone.json")
    return (lambda: read_alpaca_eval(f)), "dangling symbolic link", str(f)


def annotations_is_folder_only_model(tmp: Path):
    f = _layout(tmp)
    f.mkdir(parents=True)
    return (lambda: read_alpaca_eval(tmp)), "is a folder or special file", str(f)


def named_model_with_dangling_link(tmp: Path):
    _write(_layout(tmp, "ok"), [_rec(i, "ok") for i in range(3)])
    f = _layout(tmp, "bad")
    f.parent.mkdir(parents=True)
    f.symlink_to(tmp / "nowhere.json")
    return (lambda: read_alpaca_eval(tmp, models=["ok", "bad"])), "dangling", str(f)


def unknown_model(tmp: Path):
    _write(_layout(tmp, "model_0"), [_rec(i, "model_0") for i in range(3)])
    return (lambda: read_alpaca_eval(tmp, models="modle_0")), "did you mean 'model_0'", "modle_0"


def deep_jsonl(tmp: Path):
    f = _write(tmp / "deep.jsonl", _deep() + b"\n")
    return (lambda: read_comparisons(f)), "nested too deeply", str(f)


HOSTILE = {
    # AlpacaEval annotation files
    "preference true": alpaca_file(_with(1, "preference", True), r"boolean in row\(s\) 1"),
    "preference false": alpaca_file(_with(0, "preference", False), "boolean"),
    "0/1 labels on 1..2": alpaca_file(
        [_rec(i, pref=i % 2) for i in range(4)], "only 0 and 1.*preference_scale='probability'"
    ),
    "all zeros": alpaca_file([_rec(i, pref=0) for i in range(3)], "only 0 and 1"),
    "output_2 object": alpaca_file(
        _with(2, "output_2", {"text": "hi"}), r"output_2 is a JSON object or array in row\(s\) 2"
    ),
    "output_1 array": alpaca_file(_with(1, "output_1", [1, 2]), "output_1 is a JSON object"),
    "generator_2 boolean": alpaca_file(_with(0, "generator_2", True), "generator_2 is a JSON bool"),
    "lone surrogate": alpaca_file(
        b'[{"instruction": "bad \\ud800 text", "output_1": "a", "generator_1": "b", '
        b'"output_2": "c", "generator_2": "m", "preference": 2}]',
        "field 'instruction'.*lone surrogate",
    ),
    "deeply nested": alpaca_file(_deep(), "nested too deeply"),
    "preference 3": alpaca_file(_with(3, "preference", 3), r"out of range in row\(s\) 3"),
    "preference text": alpaca_file(_with(1, "preference", "b wins"), "not a number"),
    "truncated gzip": truncated_gzip,
    "gzip bomb (annotations)": gzip_bomb("alpaca"),
    "FIFO annotations": fifo("alpaca"),
    "dangling symlink": dangling_symlink,
    "device as path": device,
    "socket as path": unix_socket,
    "annotations.json is a folder": annotations_is_folder_only_model,
    "named model is a dangling link": named_model_with_dangling_link,
    "unknown model name": unknown_model,
    # generic tables
    "empty csv": table("empty.csv", "", "empty"),
    "header-only csv": table("header.csv", "instruction,model,preference\n", "no rows"),
    "blank lines csv": table("blank.csv", "\n\n\n", "empty"),
    "jsonl boolean preference": table(
        "b.jsonl",
        '{"instruction": "q", "model": "m", "preference": true}\n',
        "boolean",
        baseline="base",
    ),
    "jsonl object output": table(
        "o.jsonl",
        '{"instruction": "q", "model": "m", "preference": 1, "output_model": {"a": 1}}\n',
        "output_model.*must be text",
        baseline="base",
    ),
    "csv 0/1 labels on alpaca scale": table(
        "labels.csv",
        "instruction,model,preference\nq1,m,0\nq2,m,1\n",
        "only 0 and 1.*preference_scale='probability'",
        baseline="base",
        preference_scale="alpaca_eval",
    ),
    "unknown verdict word": table(
        "w.csv", "instruction,model,preference\nq1,m,maybe\n", "not a number", baseline="b"
    ),
    "xlsx suffix": table("x.xlsx", "whatever", "unknown table suffix"),
    "bz2 table": table("x.csv.bz2", "whatever", "compress with gzip"),
    "deep jsonl": deep_jsonl,
    "gzip bomb (table)": gzip_bomb("table"),
    "FIFO table": fifo("table"),
    "jsonl lone surrogate": table(
        "s.jsonl",
        b'{"instruction": "\\udc00", "model": "m", "preference": 1}\n',
        "lone surrogate",
        baseline="b",
    ),
    # difficulty files
    "difficulty empty": difficulty("", "empty"),
    "difficulty header only": difficulty("instruction,difficulty\n", "header but no rows"),
    "difficulty text": difficulty(
        "instruction,difficulty\na,0.1\nb,hard\n", r"'difficulty' is not a number on line\(s\) 3"
    ),
    "difficulty inf": difficulty("instruction,difficulty\na,inf\n", "infinite on line"),
    "difficulty missing value": difficulty("instruction,difficulty\na,\nb,1\n", "missing on line"),
    "difficulty duplicate": difficulty("instruction,difficulty\na,1\na,2\n", "repeated on line"),
    "difficulty wrong columns": difficulty("prompt,gamma\na,1\n", "expected columns"),
    "difficulty negative std_error": difficulty(
        "instruction,difficulty,std_error\na,1,-0.1\n", "outside"
    ),
    "difficulty index negative": difficulty(
        "index,instruction_difficulty\n0,0.1\n-1,0.2\n", r"outside \[0, inf\] on line\(s\) 3"
    ),
    "difficulty index fractional": difficulty(
        "index,instruction_difficulty\n0,0.1\n1.5,0.2\n", "not a whole number"
    ),
    "difficulty index past the set": difficulty(
        "index,instruction_difficulty\n0,0.1\n6,0.2\n", "runs to 6.*6 instructions"
    ),
    "difficulty index repeated": difficulty(
        "index,instruction_difficulty\n0,0.1\n0,0.2\n", "repeated"
    ),
    # df_gamed files
    "df_gamed header only": df_gamed(
        "model,index,preference,std_delta_len\n", "header but no rows"
    ),
    "df_gamed text preference": df_gamed(
        "model,index,preference,std_delta_len\nv,0,yes,0.1\n", "'preference' is not a number"
    ),
    "df_gamed preference 1.5": df_gamed(
        "model,index,preference,std_delta_len\nv,0,1.5,0.1\n", r"outside \[0, 1\]"
    ),
    "df_gamed inf length": df_gamed(
        "model,index,preference,std_delta_len\nv,0,1,-inf\n", "'std_delta_len' is infinite"
    ),
    "df_gamed NaN length": df_gamed(
        "model,index,preference,std_delta_len\nv,0,1,\n", "'std_delta_len' is missing"
    ),
    "df_gamed negative index": df_gamed(
        "model,index,preference,std_delta_len\nv,-1,1,0.1\n", "'index' is outside"
    ),
    "df_gamed fractional index": df_gamed(
        "model,index,preference,std_delta_len\nv,2.5,1,0.1\n", "not a whole number"
    ),
    "df_gamed index past the set": df_gamed(
        "model,index,preference,std_delta_len\nv,805,1,0.1\n", "runs to 805"
    ),
    "df_gamed duplicate": df_gamed(
        "model,index,preference,std_delta_len\nv,1,1,0.1\nv,1,0,0.2\n", "repeated"
    ),
    "df_gamed missing model": df_gamed(
        "model,index,preference,std_delta_len\n,1,1,0.1\n", "'model' is empty"
    ),
    "df_gamed missing column": df_gamed("model,index,preference\nv,1,1\n", "df_gamed layout"),
}


@pytest.mark.parametrize("case", list(HOSTILE))
def test_hostile_file_gives_one_clear_line(case, tmp_path, monkeypatch):
    monkeypatch.delenv("DEBIAS_MAX_FILE_BYTES", raising=False)
    call, pattern, named = HOSTILE[case](tmp_path)
    result: dict = {}

    def run():
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", DataWarning)
                call()
        except BaseException as exc:
            result["exc"] = exc

    start = time.monotonic()
    worker = threading.Thread(target=run, daemon=True)
    worker.start()
    worker.join(timeout=20)
    os.environ.pop("DEBIAS_MAX_FILE_BYTES", None)
    assert not worker.is_alive(), f"{case}: still running after 20 s (blocked?)"
    exc = result.get("exc")
    assert isinstance(exc, DebiasError), f"{case}: {exc!r}"
    msg = str(exc)
    assert "\n" not in msg, msg
    assert named in msg, msg
    import re

    assert re.search(pattern, msg), f"{case}: {msg}"
    assert time.monotonic() - start < 20


def test_enough_hostile_cases():
    assert len(HOSTILE) >= 50


# ---------------------------------------------------------------------------- correct numbers
def test_legacy_zero_beside_1_to_2_values_is_a_tie(tmp_path):
    f = _write(tmp_path / "f.json", [_rec(i, pref=p) for i, p in enumerate([0, 2, 1, 1.75])])
    comps = read_alpaca_eval(f)
    assert comps.win_rates()["win_rate"].iloc[0] == pytest.approx(100 * (0.5 + 1 + 0 + 0.75) / 4)


def test_broken_model_in_tree_warns_and_others_are_exact(tmp_path):
    good = [_rec(i, "ok", pref=p) for i, p in enumerate([2, 1, 1.5, 1.25])]
    _write(_layout(tmp_path, "ok"), good)
    (_layout(tmp_path, "folder")).mkdir(parents=True)  # annotations.json is a folder
    link = _layout(tmp_path, "dangling")
    link.parent.mkdir(parents=True)
    link.symlink_to(tmp_path / "nowhere")
    _write(tmp_path / "results" / "filejudge" / "judge", "a file where a judge folder belongs")
    with pytest.warns(DataWarning) as record:
        comps = read_alpaca_eval(tmp_path)
    messages = " ".join(str(w.message) for w in record)
    for path in (_layout(tmp_path, "folder"), link, tmp_path / "results/filejudge/judge"):
        assert str(path) in messages, messages
    assert comps.models == ["ok"]
    assert comps.win_rates()["win_rate"].iloc[0] == pytest.approx(100 * (1 + 0 + 0.5 + 0.25) / 4)


def test_prompts_differing_in_whitespace_or_case_warn_and_stay_distinct(tmp_path):
    rows = [_rec(0), _rec(1)]
    rows[1]["instruction"] = "  " + QUESTIONS[0].upper() + " "
    f = _write(tmp_path / "ws.json", rows)
    with pytest.warns(DataWarning, match="only in whitespace or case") as record:
        comps = read_alpaca_eval(f)
    assert QUESTIONS[0][:20] in str(record[0].message) or "QUESTION 0" in str(record[0].message)
    assert comps.data["instruction"].nunique() == 2


def test_baseline_answer_differing_between_files_warns(tmp_path):
    _write(_layout(tmp_path, "a"), [_rec(i, "a") for i in range(3)])
    other = [_rec(i, "b") for i in range(3)]
    other[1]["output_1"] = "a different baseline answer"
    b = _write(_layout(tmp_path, "b"), other)
    with pytest.warns(DataWarning, match="baseline's answer") as record:
        comps = read_alpaca_eval(tmp_path)
    msg = next(str(w.message) for w in record if "baseline's answer" in str(w.message))
    assert str(b) in msg and str(_layout(tmp_path, "a")) in msg and QUESTIONS[1][:30] in msg
    assert sorted(comps.models) == ["a", "b"]


def test_verdict_words_and_labels_read_as_probabilities(tmp_path):
    f = _write(
        tmp_path / "v.tsv",
        "instruction\tmodel\tpreference\nq1\tm\tMODEL\nq2\tm\tTie\nq3\tm\tbaseline\nq4\tm\t1\nq5\tm\t0\n",
    )
    comps = read_comparisons(f, baseline="b")
    assert comps.win_rates()["win_rate"].iloc[0] == pytest.approx(100 * (1 + 0.5 + 0 + 1 + 0) / 5)


def test_default_cap_and_bomb_fails_fast(tmp_path, monkeypatch):
    from debias.io.safe_read import DEFAULT_MAX_BYTES, max_bytes

    assert max_bytes() == DEFAULT_MAX_BYTES == 2 * 1024**3
    monkeypatch.setenv("DEBIAS_MAX_FILE_BYTES", str(4 << 20))
    f = _bomb(tmp_path, "bomb.json.gz", inflated=256 << 20)  # 256 MiB from ~250 KiB
    assert f.stat().st_size < 1 << 20
    start = time.monotonic()
    with pytest.raises(InputError, match="cap of 4.0 MiB") as exc:
        read_alpaca_eval(f)
    assert time.monotonic() - start < 5  # stops at the cap, does not inflate 256 MiB
    assert str(f) in str(exc.value) and "DEBIAS_MAX_FILE_BYTES" in str(exc.value)
    # with the default cap, the compression ratio gives it away after 64 MiB
    monkeypatch.delenv("DEBIAS_MAX_FILE_BYTES")
    start = time.monotonic()
    with pytest.raises(InputError, match="ratio cap 200:1") as exc:
        read_alpaca_eval(f)
    assert time.monotonic() - start < 5
    assert str(f) in str(exc.value) and "\n" not in str(exc.value)


def test_df_gamed_dataframe_is_checked_in_the_fit():
    from debias.model.glm import PreferenceGLM
    from debias.simulate import simulate

    sim = simulate(n_models=3, n_instructions=40, seed=1)
    comps = sim.comparisons.with_instruction_order(sorted(set(sim.comparisons.data.instruction)))
    bad = pd.DataFrame(
        {
            "model": ["v", "v"],
            "index": [0, -1],
            "preference": [1.0, 0.0],
            "std_delta_len": [0.1, 0.2],
        }
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        with pytest.raises(InputError, match="'index' is outside") as exc:
            PreferenceGLM(regularize=bad, lam=0.1, difficulty="none", formula="length").fit(comps)
    assert "df_gamed table" in str(exc.value) and "\n" not in str(exc.value)


# ---------------------------------------------------------------------------- downloads
class _Slow(http.server.BaseHTTPRequestHandler):
    """Announces 1000 bytes, then sends one every 0.2 s (at most 100: the loop is bounded)."""

    def do_GET(self):
        self.send_response(200)
        length = 10**12 if "huge" in self.path else 1000
        self.send_header("Content-Length", str(length))
        self.end_headers()
        if "huge" in self.path:
            return
        for _ in range(100):
            try:
                self.wfile.write(b" ")
                self.wfile.flush()
            except OSError:
                return
            time.sleep(0.2)

    def log_message(self, *args):
        pass


class _Big(http.server.BaseHTTPRequestHandler):
    """Streams 3 MiB without a Content-Length (chunk by chunk, fast)."""

    protocol_version = "HTTP/1.0"

    def do_GET(self):
        self.send_response(200)
        self.end_headers()
        try:
            for _ in range(48):
                self.wfile.write(b" " * 65536)
        except OSError:
            pass

    def log_message(self, *args):
        pass


@pytest.fixture
def loopback():
    servers = []

    def start(handler):
        httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
        httpd.daemon_threads = True
        threading.Thread(target=httpd.serve_forever, daemon=True).start()
        servers.append(httpd)
        return f"http://127.0.0.1:{httpd.server_address[1]}"

    yield start
    for httpd in servers:
        httpd.shutdown()
        httpd.server_close()


def test_download_total_deadline_cuts_a_trickling_server(loopback, tmp_path):
    url = loopback(_Slow)
    start = time.monotonic()
    with pytest.raises(InputError, match="deadline") as exc:
        download_alpaca_eval(
            ["m"], judge="j", base_url=url, cache_dir=tmp_path, progress=False, deadline=1.5
        )
    took = time.monotonic() - start
    assert 1.0 < took < 5, took  # cut at the deadline, not after 1000 x 0.2 s
    assert url in str(exc.value) and "\n" not in str(exc.value)
    assert not [p for p in tmp_path.rglob("*") if p.is_file()]  # no partial file left


def test_download_size_cap(loopback, tmp_path):
    url = loopback(_Big)
    with pytest.raises(InputError, match="cap") as exc:
        download_alpaca_eval(
            ["m"], judge="j", base_url=url, cache_dir=tmp_path, progress=False, max_bytes=1 << 20
        )
    assert url in str(exc.value)
    assert not [p for p in tmp_path.rglob("*") if p.is_file()]
    slow = loopback(_Slow)
    with pytest.raises(InputError, match="announces") as exc:
        download_alpaca_eval(["huge"], judge="j", base_url=slow, cache_dir=tmp_path, progress=False)


def test_stray_file_in_a_model_folder_is_not_a_judge(tmp_path):
    _write(_layout(tmp_path, "m"), [_rec(i, pref=p) for i, p in enumerate([2, 1.5])])
    _write(tmp_path / "results" / "m" / "README", "notes")
    with warnings.catch_warnings():
        warnings.simplefilter("error", DataWarning)
        comps = read_alpaca_eval(tmp_path)
    assert comps.judges == ["judge"] and comps.win_rates()["win_rate"].iloc[0] == 75.0


def test_download_from_a_local_tree_falls_back_to_gz_and_refuses_a_fifo(tmp_path):
    src = tmp_path / "src"
    _write(src / "results/m/j/annotations.json.gz", gzip.compress(json.dumps([_rec(0)]).encode()))
    (src / "results/pipe/j").mkdir(parents=True)
    os.mkfifo(src / "results/pipe/j/annotations.json")
    cache = tmp_path / "cache"
    root = download_alpaca_eval(
        "m", judge="j", base_url=src.as_uri(), cache_dir=cache, progress=False
    )
    assert read_alpaca_eval(root).models == ["m"]
    with pytest.raises(InputError, match="named pipe") as exc:
        download_alpaca_eval(
            "pipe", judge="j", base_url=src.as_uri(), cache_dir=cache, progress=False
        )
    assert "\n" not in str(exc.value)
