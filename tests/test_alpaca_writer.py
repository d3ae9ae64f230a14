"""One AlpacaEval writer: debias.io.writer, used by the simulator's tree writer too."""

from __future__ import annotations

import gzip
import json

import pytest

from debias.errors import InputError
from debias.io.writer import write_annotations, write_model_outputs
from debias.simulate import (
    annotation_records,
    baseline_outputs,
    simulate,
    write_alpaca_eval_tree,
)


def _strict(raw: bytes) -> list:
    def refuse(token):
        raise ValueError(f"not strict JSON: {token}")

    return json.loads(raw, parse_constant=refuse)


def test_simulated_tree_is_written_by_the_io_writer(tmp_path):
    sim = simulate(n_models=2, n_instructions=7, seed=5, nan_rate=0.2)
    root = write_alpaca_eval_tree(sim, tmp_path / "tree", compress=True)
    records = annotation_records(sim)
    for model, recs in records.items():
        tree_file = root / "results" / model / "simulated_judge" / "annotations.json.gz"
        again = write_annotations(
            recs, tmp_path / "again" / model / "annotations.json.gz", indent=None
        )
        assert tree_file.read_bytes() == again.read_bytes()
        assert [r["preference"] for r in _strict(gzip.decompress(again.read_bytes()))] == [
            r["preference"] for r in recs
        ]
    outputs = write_model_outputs(baseline_outputs(sim), tmp_path / "mo.json", indent=None)
    assert (root / "results/baseline/model_outputs.json").read_bytes() == outputs.read_bytes()


def test_gzip_has_no_timestamp_and_holds_the_plain_file(tmp_path):
    rows = [{"instruction": "q", "model": "m", "baseline": "b", "preference": 0.25}]
    plain = write_annotations(rows, tmp_path / "a.json")
    packed = write_annotations(rows, tmp_path / "a.json.gz")
    raw = packed.read_bytes()
    assert raw[4:8] == b"\x00\x00\x00\x00"
    assert gzip.decompress(raw) == plain.read_bytes()
    assert plain.read_bytes().endswith(b"]\n")
    assert _strict(plain.read_bytes())[0]["preference"] == 1.25


@pytest.mark.parametrize("bad", [float("inf"), float("-inf")])
def test_a_value_json_cannot_hold_is_refused_and_nothing_is_written(tmp_path, bad):
    # before: written as the non-standard token Infinity, which strict JSON readers refuse
    rows = [{"instruction": "q", "model": "m", "baseline": "b", "preference": bad}]
    target = tmp_path / "results" / "m" / "j" / "annotations.json"
    with pytest.raises(InputError, match="annotations.json: cannot write these records as JSON"):
        write_annotations(rows, target)
    assert not target.parent.exists() or list(target.parent.iterdir()) == []


def test_missing_values_are_null(tmp_path):
    rows = [{"instruction": "q", "model": "m", "baseline": "b", "preference": float("nan")}]
    path = write_annotations(rows, tmp_path / "a.json", indent=None)
    assert _strict(path.read_bytes())[0]["preference"] is None
