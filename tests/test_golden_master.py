"""Numbers frozen by the golden master (``make golden``) must not move (to 1e-9).

See ``tests/golden/golden_master.py``: a restructuring that changes any stored value fails
here with the keys that moved; a change meant to move numbers regenerates the master and
says which and why in its commit message.
"""

from __future__ import annotations

import importlib.util
import math
import os
from pathlib import Path

import pytest

DATA_ENV = "DEBIAS_ALPACA_EVAL_DIR"
HAVE_DATA = bool(os.environ.get(DATA_ENV)) and Path(os.environ[DATA_ENV]).is_dir()

_PATH = Path(__file__).resolve().parent / "golden" / "golden_master.py"
_spec = importlib.util.spec_from_file_location("golden_master", _PATH)
golden = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(golden)


def test_compare_reports_a_moved_number():
    stored = {"a": 1.0, "b": math.nan, "c": 2.0}
    assert golden.compare(stored, {"a": 1.0, "b": math.nan, "c": 2.0}) == []
    moved = golden.compare(stored, {"a": 1.0 + 1e-8, "b": math.nan, "d": 3.0})
    assert any(line.startswith("moved: a") for line in moved)
    assert any(line.startswith("missing now: c") for line in moved)
    assert any(line.startswith("new: d") for line in moved)
    assert golden.compare({"a": math.nan}, {"a": 0.0})  # NaN is not a number that matches 0


@pytest.mark.slow
@pytest.mark.parametrize("group", list(golden.GROUPS))
def test_golden_master_unchanged(group):
    needs_data = golden.GROUPS[group][1]
    if needs_data and not HAVE_DATA:
        pytest.skip(f"AlpacaEval data pack not found: set {DATA_ENV} to ../shared/alpaca_eval")
    if not golden.path_of(group).exists():
        pytest.fail(f"no golden master for {group!r}: run `make golden` and commit it")
    problems = golden.compare(golden.load(group), golden.compute(group))
    assert not problems, "\n".join(problems[:40])
