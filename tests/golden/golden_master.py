"""Golden master: today's numbers, frozen, so that a restructuring can prove it moved none.

One command regenerates every stored value (``make golden``, or
``python tests/golden/golden_master.py --update``); ``tests/test_golden_master.py``
recomputes them and compares to 1e-9. Each entry is a flat ``{key: float}`` mapping
(NaN stored as ``null``), one JSON file per group:

- ``fixture.json``: leaderboards of the committed simulated tree (three model set-ups),
  the controlled win-rate matrix, coefficients and cluster-robust SEs;
- ``audit.json``: the numbers of the judge audit of the same tree;
- ``coverage.json``: one replicate of the coverage study's arms on a fixed seed;
- ``alpaca_eval.json``: the data pack's leaderboards (default and the reference-compatible
  procedure with the pack's derived files); only written and checked when
  ``$DEBIAS_ALPACA_EVAL_DIR`` is set.

The stored values are outputs of the code as it was when frozen, not ground truth: they
protect against unintended change, while other tests check correctness.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import sys
import warnings
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pandas as pd

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]
FIXTURE_TREE = ROOT / "fixtures" / "alpaca_eval_sim"
DATA_ENV = "DEBIAS_ALPACA_EVAL_DIR"
NUMERIC_LEADERBOARD = (
    "n",
    "win_rate",
    "win_rate_se",
    "lc_win_rate",
    "lc_win_rate_se",
    "lc_win_rate_ci_low",
    "lc_win_rate_ci_high",
)
#: Keys stored before the one-spelling renames (issue 11) -> today's names; values unchanged.
RENAMED = {
    "/standard_error": "/win_rate_se",
    "/lc_standard_error": "/lc_win_rate_se",
    "/lc_ci_low": "/lc_win_rate_ci_low",
    "/lc_ci_high": "/lc_win_rate_ci_high",
    "_controlled_standard_error": "_controlled_win_rate_se",
    "_controlled_ci_low": "_controlled_win_rate_ci_low",
    "_controlled_ci_high": "_controlled_win_rate_ci_high",
}


def _current_key(key: str) -> str:
    for old, new in RENAMED.items():
        if key.endswith(old):
            return key[: -len(old)] + new
    return key


def _flatten_table(prefix: str, table: pd.DataFrame, index: str, columns) -> dict[str, float]:
    out = {}
    for _, row in table.iterrows():
        for col in columns:
            if col in table.columns:
                out[f"{prefix}/{row[index]}/{col}"] = float(row[col])
    return out


def _read_fixture():
    from debias.io import read_alpaca_eval

    return read_alpaca_eval(FIXTURE_TREE, judge="simulated_judge")


def fixture_numbers() -> dict[str, float]:
    """Leaderboards, matrix and coefficients of the committed simulated tree."""
    import debias

    comps = _read_fixture()
    out: dict[str, float] = {}
    setups = {
        "v1": dict(),
        "minimal": dict(preset="length_controlled_minimal", difficulty="none"),
        "style": dict(preset="style_controlled"),
    }
    for name, kw in setups.items():
        table, fit = debias.leaderboard_fit(comps, **kw)
        out |= _flatten_table(f"leaderboard/{name}", table, "model", NUMERIC_LEADERBOARD)
        for model, res in fit.results_.items():
            for coef in res.params.index:
                out[f"params/{name}/{model}/{coef}"] = float(res.params[coef])
                out[f"bse/{name}/{model}/{coef}"] = float(res.bse[coef])
        if name == "v1":
            matrix = debias.winrate_matrix(fit)
            for a in matrix.index:
                for b in matrix.columns:
                    out[f"matrix/{a}/{b}"] = float(matrix.loc[a, b])
    return out


def audit_numbers() -> dict[str, float]:
    """Every number in the audit JSON of the committed simulated tree."""
    from debias.reports.audit import audit

    report = audit(_read_fixture(), progress=False)
    out: dict[str, float] = {}

    def walk(prefix: str, value) -> None:
        if isinstance(value, dict):
            for k, v in value.items():
                walk(f"{prefix}/{k}", v)
        elif isinstance(value, list):
            for i, v in enumerate(value):
                key = v.get("model", i) if isinstance(v, dict) else i
                walk(f"{prefix}/{key}", v)
        elif isinstance(value, bool):
            return
        elif isinstance(value, (int, float)) or value is None:
            out[prefix] = math.nan if value is None else float(value)

    walk("audit", report.to_dict())
    return out


def coverage_numbers() -> dict[str, float]:
    """One replicate of every arm of ``benchmarks/coverage_study.py`` (seed 7)."""
    sys.path.insert(0, str(ROOT / "benchmarks"))
    try:
        from coverage_study import one_replicate
    finally:
        sys.path.pop(0)
    rows = one_replicate(7, n_models=3, n_instructions=300, length_effect=0.8, n_boot=30)
    out = {}
    for r in rows:
        for col in ("estimate", "truth", "conf_low", "conf_high"):
            out[f"coverage/{r['arm']}/{r['model']}/{col}"] = float(r[col])
    return out


def alpaca_eval_numbers() -> dict[str, float]:
    """Default and reference-compatible leaderboards of the AlpacaEval data pack."""
    import debias
    from debias.io import read_alpaca_eval

    data = Path(os.environ[DATA_ENV])
    comps = read_alpaca_eval(data, judge="weighted_alpaca_eval_gpt4_turbo")
    out: dict[str, float] = {}
    default = debias.leaderboard(comps)
    out |= _flatten_table("default", default, "model", NUMERIC_LEADERBOARD)
    compat = debias.leaderboard(
        comps,
        compat="alpaca_eval",
        difficulty=str(data / "derived" / "instruction_difficulty.csv"),
        regularize=str(data / "derived" / "df_gamed_surrogate.csv"),
        se="sem",
    )
    out |= _flatten_table("compat", compat, "model", ("lc_win_rate", "lc_win_rate_se"))
    return out


GROUPS: dict[str, tuple[Callable[[], dict[str, float]], bool]] = {
    # name: (function, needs the data pack)
    "fixture": (fixture_numbers, False),
    "audit": (audit_numbers, False),
    "coverage": (coverage_numbers, False),
    "alpaca_eval": (alpaca_eval_numbers, True),
}


def compute(group: str) -> dict[str, float]:
    """The current values of one group, warnings silenced (they are tested elsewhere)."""
    func, _ = GROUPS[group]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return func()


def path_of(group: str) -> Path:
    return HERE / f"{group}.json"


def load(group: str) -> dict[str, float]:
    stored = json.loads(path_of(group).read_text())
    values = stored["values"].items()
    return {_current_key(k): (math.nan if v is None else float(v)) for k, v in values}


def compare(stored: dict[str, float], current: dict[str, float], tol: float = 1e-9) -> list[str]:
    """Differences as readable lines (empty: identical to ``tol``, absolute)."""
    problems = []
    for key in sorted(set(stored) - set(current)):
        problems.append(f"missing now: {key} (stored {stored[key]!r})")
    for key in sorted(set(current) - set(stored)):
        problems.append(f"new: {key} = {current[key]!r} (regenerate the golden master if meant)")
    for key in sorted(set(stored) & set(current)):
        a, b = stored[key], current[key]
        if np.isnan(a) and np.isnan(b):
            continue
        if not (abs(a - b) <= tol):
            problems.append(f"moved: {key}: stored {a!r}, now {b!r} (diff {b - a:+.3g})")
    return problems


def write(group: str, values: dict[str, float]) -> Path:
    import debias

    payload = {
        "about": f"golden master '{group}': regenerate with `make golden`",
        "debias_version": debias.__version__,
        "values": {k: (None if np.isnan(v) else v) for k, v in sorted(values.items())},
    }
    path = path_of(group)
    tmp = path.with_suffix(".json.tmp")
    tmp.write_text(json.dumps(payload, indent=1, sort_keys=False) + "\n")
    tmp.replace(path)
    return path


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--update", action="store_true", help="rewrite the stored values")
    ap.add_argument("--group", action="append", choices=list(GROUPS), help="default: all")
    args = ap.parse_args(argv)
    status = 0
    for group in args.group or list(GROUPS):
        if GROUPS[group][1] and not os.environ.get(DATA_ENV):
            print(f"{group}: skipped (set {DATA_ENV} to the AlpacaEval data pack)")
            continue
        values = compute(group)
        if args.update:
            print(f"{group}: wrote {len(values)} values to {write(group, values)}")
            continue
        problems = compare(load(group), values)
        print(f"{group}: {len(values)} values, {len(problems)} differences")
        for line in problems[:50]:
            print("  " + line)
        status |= bool(problems)
    return status


if __name__ == "__main__":
    raise SystemExit(main())
