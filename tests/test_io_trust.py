"""Real judge folders read as published (issue 10, items 6, 7, 8 and 13 on the Python side).

Trees are built here by the project's simulator (and a few hand-written JSON files);
the expected numbers are computed from the raw JSON by hand, not by the reader.
"""

from __future__ import annotations

import json
import shutil
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from debias import Comparisons
from debias.errors import DataWarning, InputError, ParameterError
from debias.io import read_alpaca_eval, read_comparisons, read_leaderboard
from debias.io.alpaca_eval import load_json_list
from debias.reports.leaderboard import load_comparisons
from debias.simulate import simulate, write_alpaca_eval_tree

JUDGE = "simulated_judge"


def _hand_rate(path: Path) -> tuple[int, float]:
    """n and 100 x mean(preference - 1) straight from the JSON (legacy 0 = tie)."""
    prefs = [r["preference"] for r in load_json_list(path)]
    values = [1.5 if p == 0 else p for p in prefs if p is not None]
    return len(values), 100 * float(np.mean(np.asarray(values) - 1))


def _rewrite(path: Path, **fields) -> None:
    """Set fields on every record of an annotation file (hand-edited upstream quirks)."""
    records = json.loads(path.read_text())
    for r in records:
        r.update(fields)
    path.write_text(json.dumps(records))


def _one_line(exc: pytest.ExceptionInfo, *names: str) -> None:
    msg = str(exc.value)
    assert "\n" not in msg, msg
    for name in names:
        assert name in msg, msg


@pytest.fixture(scope="module")
def sim_tree(tmp_path_factory) -> Path:
    sim = simulate(n_models=4, n_instructions=30, seed=3)
    return write_alpaca_eval_tree(sim, tmp_path_factory.mktemp("sim") / "alpaca")


@pytest.fixture
def quirky(sim_tree, tmp_path) -> Path:
    """The upstream quirks of the public AlpacaEval results, on a simulated tree."""
    root = tmp_path / "alpaca"
    shutil.copytree(sim_tree, root)
    res = root / "results"
    # item 6: generator_2 is a training-run string / "example", the folder is the name
    _rewrite(res / "model_1" / JUDGE / "annotations.json", generator_2="ckpt/run-42/step-9000")
    _rewrite(res / "model_2" / JUDGE / "annotations.json", generator_2="example")
    # item 7: annotator field differs from the judge folder it sits in
    _rewrite(res / "model_3" / JUDGE / "annotations.json", annotator="some_other_judge")
    # item 7: a folder duplicating another model's annotations (same generator_2 too)
    (res / "model_0_copy" / JUDGE).mkdir(parents=True)
    shutil.copy(res / "model_0" / JUDGE / "annotations.json", res / "model_0_copy" / JUDGE)
    return root


# ----------------------------------------------------------------------------- item 6
def test_models_are_named_by_folder_with_a_warning(quirky):
    with pytest.warns(DataWarning) as record:
        comps = read_alpaca_eval(quirky)
    messages = [str(w.message) for w in record]
    for folder, said in (("model_1", "ckpt/run-42"), ("model_2", "example")):
        path = str(quirky / "results" / folder / JUDGE / "annotations.json")
        assert any(path in m and said in m for m in messages), messages
    folders = sorted(p.name for p in (quirky / "results").iterdir() if (p / JUDGE).is_dir())
    assert sorted(comps.models) == folders
    assert "example" not in comps.models
    rates = comps.win_rates().set_index("model")
    for folder in folders:
        n, rate = _hand_rate(quirky / "results" / folder / JUDGE / "annotations.json")
        assert rates.loc[folder, "n"] == n
        assert rates.loc[folder, "win_rate"] == pytest.approx(rate, abs=1e-9)


def test_single_file_in_layout_agrees_with_tree_outside_uses_generator_2(quirky, tmp_path):
    f = quirky / "results" / "model_2" / JUDGE / "annotations.json"
    with pytest.warns(DataWarning, match="example"):
        assert read_alpaca_eval(f).models == ["model_2"]
    loose = tmp_path / "loose.json"
    shutil.copy(f, loose)
    assert read_alpaca_eval(loose).models == ["example"]


# ----------------------------------------------------------------------------- item 7
def test_annotator_field_differs_from_judge_folder(quirky):
    f = quirky / "results" / "model_3" / JUDGE / "annotations.json"
    with pytest.warns(DataWarning, match="some_other_judge") as record:
        comps = read_alpaca_eval(quirky, judge=JUDGE)
    assert any(str(f) in str(w.message) for w in record)
    assert comps.judges == [JUDGE] and "model_3" in comps.models
    # item 8: judge= is the judge folder for one file as for the tree
    with pytest.warns(DataWarning, match="some_other_judge"):
        alone = read_alpaca_eval(f, judge=JUDGE)
    tree_rows = comps.select(models=["model_3"]).data
    pd.testing.assert_frame_equal(alone.data, tree_rows)


def test_duplicate_folder_warns_and_is_kept(quirky):
    with pytest.warns(DataWarning, match="same answers and verdicts") as record:
        comps = read_alpaca_eval(quirky)
    msg = next(str(w.message) for w in record if "same answers" in str(w.message))
    assert "model_0_copy" in msg and str(quirky / "results" / "model_0" / JUDGE) in msg
    assert {"model_0", "model_0_copy"} <= set(comps.models)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DataWarning)
        assert "model_0_copy" not in read_alpaca_eval(quirky, exclude="model_0_copy").models


@pytest.mark.parametrize(
    "content",
    [b"[{oops", b'{"not": "a list"}', "duplicate"],
    ids=["corrupt", "not-a-list", "duplicate-keyed"],
)
def test_one_bad_model_is_skipped_not_the_run(sim_tree, tmp_path, content):
    root = tmp_path / "alpaca"
    shutil.copytree(sim_tree, root)
    bad = root / "results" / "model_1" / JUDGE / "annotations.json"
    if content == "duplicate":
        records = json.loads(bad.read_text())
        records[1]["instruction"] = records[0]["instruction"]
        content = json.dumps(records).encode()
    bad.write_bytes(content)
    with pytest.warns(DataWarning, match="model skipped") as record:
        comps = read_alpaca_eval(root)
    assert any(str(bad) in str(w.message) for w in record)
    assert "model_1" not in comps.models and "model_0" in comps.models
    # named explicitly, or the only file: an error naming the file
    with pytest.raises(InputError) as exc:
        read_alpaca_eval(root, models=["model_1", "model_0"])
    _one_line(exc, str(bad))
    with pytest.raises(InputError) as exc:
        read_alpaca_eval(bad.parent)
    _one_line(exc, str(bad))


def test_models_string_is_one_name_and_close_matches(sim_tree):
    comps = read_alpaca_eval(sim_tree, models="model_0")
    assert comps.models == ["model_0"]
    rest = read_alpaca_eval(sim_tree, exclude=["model_0", "model_1"])
    assert "model_0" not in rest.models and "model_2" in rest.models
    with pytest.raises(InputError, match="did you mean 'model_0'") as exc:
        read_alpaca_eval(sim_tree, models="modle_0")
    _one_line(exc, "models=", "modle_0")
    with pytest.raises(InputError, match="exclude=") as exc:
        read_alpaca_eval(sim_tree, exclude="modle_1")
    _one_line(exc, "modle_1", "model_1")
    with pytest.raises(InputError, match="did you mean") as exc:
        read_alpaca_eval(sim_tree, judge="simulated_jugde")
    _one_line(exc, "simulated_judge")


# ----------------------------------------------------------------------------- item 13
def _table(sim_tree) -> pd.DataFrame:
    comps = read_alpaca_eval(sim_tree)
    d = comps.data
    return pd.DataFrame(
        {
            "prompt": d["instruction"],
            "system": d["model"],
            "verdict": np.where(d["preference"] > 0.5, "MODEL", "Baseline"),
        }
    )


@pytest.mark.parametrize(
    "suffix",
    [".csv", ".csv.gz", ".tsv", ".tsv.gz", ".jsonl", ".ndjson", ".jsonl.gz", ".json", ".pq"],
)
def test_tables_of_every_suffix_through_load_comparisons(sim_tree, tmp_path, suffix):
    table = _table(sim_tree)
    path = tmp_path / f"judgments{suffix}"
    compression = "gzip" if suffix.endswith(".gz") else None
    if suffix.startswith((".csv", ".tsv")):
        table.to_csv(
            path, sep="\t" if ".tsv" in suffix else ",", index=False, compression=compression
        )
    elif suffix == ".json":
        table.to_json(path, orient="records")
    elif suffix == ".pq":
        table.to_parquet(path)
    else:
        table.to_json(path, orient="records", lines=True, compression=compression)
    mapping = {"prompt": "instruction", "system": "model", "verdict": "preference"}
    comps = load_comparisons(path, mapping=mapping, baseline="base", models="model_0")
    expected = table[table.system == "model_0"]
    assert comps.models == ["model_0"] and comps.baselines == ["base"]
    assert comps.win_rates()["n"].iloc[0] == len(expected)
    assert comps.win_rates()["win_rate"].iloc[0] == pytest.approx(
        100 * (expected.verdict == "MODEL").mean()
    )


def test_dataframe_and_comparisons_sources(sim_tree):
    table = _table(sim_tree)
    mapping = {"instruction": "prompt", "model": "system", "preference": "verdict"}
    comps = load_comparisons(table, mapping=mapping, baseline="b", exclude=["model_1"])
    assert "model_1" not in comps.models and comps.baselines == ["b"]
    assert isinstance(comps, Comparisons)
    again = load_comparisons(comps, models="model_2")
    assert again.models == ["model_2"]
    with pytest.raises(ParameterError, match="tables"):
        load_comparisons(sim_tree, mapping=mapping)


def test_verdict_words_and_constant_baseline(tmp_path):
    f = tmp_path / "v.csv"
    f.write_text("instruction,model,preference\nq1,m,Model\nq2,m,tie\nq3,m, baseline \nq4,m,1\n")
    comps = read_comparisons(f, baseline="gpt4")
    assert comps.data["preference"].tolist() == [1.0, 0.5, 0.0, 1.0]
    g = tmp_path / "a.csv"
    g.write_text("instruction,model,preference\nq1,m,2\nq2,m,tie\nq3,m,1.25\n")
    comps = read_comparisons(g, baseline="gpt4", preference_scale="alpaca_eval")
    assert comps.data["preference"].tolist() == [1.0, 0.5, 0.25]


# ----------------------------------------------------------------------------- real data
@pytest.mark.alpaca_eval
def test_real_tree_equals_published_by_folder(data_dir):
    judge = "weighted_alpaca_eval_gpt4_turbo"
    with warnings.catch_warnings(record=True) as record:
        warnings.simplefilter("always")
        comps = read_alpaca_eval(data_dir)
    assert not [w for w in record if "skipped" in str(w.message)]
    folders = sorted(
        p.parent.parent.name for p in data_dir.glob(f"results/*/{judge}/annotations.json*")
    )
    assert sorted(comps.models) == folders  # none left out, named by folder
    board = read_leaderboard(data_dir / "leaderboards" / f"{judge}_leaderboard.csv")
    board = board.set_index("model")
    rates = comps.win_rates().set_index("model")
    matched = [m for m in folders if m in board.index]
    for model in matched:
        assert rates.loc[model, "n"] == board.loc[model, "n_total"], model
        assert rates.loc[model, "win_rate"] == pytest.approx(
            board.loc[model, "win_rate"], abs=1e-6
        ), model
    print(f"\n{len(matched)} of {len(folders)} local models match the published leaderboard")
    assert len(matched) == 45 and set(folders) - set(matched) == {"text_davinci_003"}
    # item 8: the same judge= for a single file of the tree
    one = data_dir / "results" / "gpt4_gamed" / judge / "annotations.json.gz"
    alone = read_alpaca_eval(one, judge=judge)
    pd.testing.assert_frame_equal(alone.data, comps.select(models=["gpt4_gamed"]).data)


def test_leaderboard_accepts_a_dataframe():
    from debias.reports.leaderboard import leaderboard

    sim = simulate(n_models=3, n_instructions=60, seed=2)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        from_frame = leaderboard(sim.comparisons.data, lam=0)
        from_comps = leaderboard(sim.comparisons, lam=0)
    pd.testing.assert_frame_equal(from_frame, from_comps)


def test_json_dispatch_alpaca_file_or_table(sim_tree, tmp_path):
    f = tmp_path / "copy.json"
    shutil.copy(sim_tree / "results" / "model_0" / JUDGE / "annotations.json", f)
    n, rate = _hand_rate(f)
    for kw in ({}, {"preference_scale": "alpaca_eval"}):
        comps = load_comparisons(f, **kw)
        assert comps.models == ["model_0"] and comps.win_rates()["win_rate"].iloc[
            0
        ] == pytest.approx(rate)
    as_table = load_comparisons(
        f,
        mapping={"generator_2": "model", "generator_1": "baseline"},
        preference_scale="alpaca_eval",
    )
    assert as_table.win_rates()["n"].iloc[0] == n
    assert as_table.win_rates()["win_rate"].iloc[0] == pytest.approx(rate)
