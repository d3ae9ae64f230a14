#!/usr/bin/env python
"""The ``arena_rank`` preset against the arena-rank package itself, on simulated battles with style.

    bash benchmarks/reference/setup_arena_rank.sh      # once: arena-rank 0.1.1 in its own venv
    python benchmarks/arena_rank_check.py [--models 30] [--battles 60000] [--seed 3]

Simulates Arena battles (:func:`debias.simulate.arena.simulate_arena`, 4 style features,
skewed pair frequencies, ties), fits :func:`debias.battles.presets.arena_rank` here and
``ContextualBradleyTerry`` in the arena-rank venv (a subprocess; the package is not a
dependency of debias), and prints the largest differences of the ratings, their interval
ends and the style coefficients with their sandwich standard errors (the package computes
them but returns only the ratings' intervals; the worker calls its
``compute_hessian_and_covariance`` for the coefficients). The package is run twice: with
its default L-BFGS tolerances (``ftol = gtol = 1e-9``), with tighter ones (1e-14), and
with its defaults started at the preset's solution; the gradient of its own loss at both
solutions says which is nearer the optimum (its L-BFGS stops where a mean loss of ~0.6 no
longer changes in float64, a few 1e-6 logits short). Exit 1 when the warm-started run
differs by more than ``--tol`` (default 1e-6, on logits, coefficients and standard errors).
"""

from __future__ import annotations

import argparse
import json
import math
import os
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np
import pandas as pd

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
VENV = Path(os.environ.get("ARENA_RANK_VENV", REPO / "benchmarks" / ".cache" / "arena-rank-venv"))
FEATURES = ("tokens", "headers", "lists", "bold")

WORKER = r"""
import json, sys, time
import numpy as np, pandas as pd
import jax.numpy as jnp
from arena_rank.utils.data_utils import ContextualPairDataset
from arena_rank.models.contextual_bradley_terry import ContextualBradleyTerry

import jax
path, tol, start = sys.argv[1], float(sys.argv[2]), sys.argv[3]
df = pd.read_parquet(path)
features = [c for c in df.columns if c.startswith("f_")]
data = ContextualPairDataset.from_pandas(df, feature_cols=features)
kwargs = {} if tol <= 0 else {"ftol": tol, "gtol": tol, "max_iter": 100000}
model = ContextualBradleyTerry(len(data.competitors), len(features), **kwargs)
preset = json.loads(start) if start != "-" else None
if preset is not None:  # start the package's L-BFGS at the preset's solution
    model.params = {"ratings": jnp.array(preset["ratings"]), "coeffs": jnp.array(preset["coeffs"])}
def grad_norm(params):
    g = jax.grad(model.loss_function)(params, data.as_dict())
    return float(max(jnp.max(jnp.abs(g["ratings"])), jnp.max(jnp.abs(g["coeffs"]))))
t = time.perf_counter()
res = model.compute_ratings_and_cis(data, significance_level=0.05)
seconds = time.perf_counter() - t
hess, gcov = model.compute_hessian_and_covariance(
    model.params["ratings"], model.params["coeffs"], data.pairs, data.features, data.outcomes,
    data.weights, model.reg, model.hessian_reg, model.n_competitors, model.n_features,
    data.pairs.shape[0])
inv = jnp.linalg.inv(hess)
cov = np.asarray(inv @ gcov @ inv) / data.pairs.shape[0]
print(json.dumps({
    "competitors": list(data.competitors),
    "ratings": np.asarray(res["ratings"]).tolist(),
    "rating_lower": np.asarray(res["rating_lower"]).tolist(),
    "rating_upper": np.asarray(res["rating_upper"]).tolist(),
    "strengths": np.asarray(model.params["ratings"]).tolist(),
    "coeffs": np.asarray(res["coeffs"]).tolist(),
    "coef_se": np.sqrt(np.diag(cov)[len(data.competitors):]).tolist(),
    "seconds": seconds,
    "grad_at_package": grad_norm(model.params),
    "grad_at_preset": grad_norm({"ratings": jnp.array(preset["ratings"]), "coeffs": jnp.array(preset["coeffs"])})
    if preset is not None else None,
}))
"""


def package_fit(frame: pd.DataFrame, tol: float, start: dict | None = None) -> dict:
    """Run arena-rank's ContextualBradleyTerry in its venv on ``frame`` (from ``start`` if given)."""
    python = VENV / "bin" / "python"
    if not python.exists():
        sys.exit(
            f"arena-rank venv not found at {VENV}: run bash benchmarks/reference/setup_arena_rank.sh"
        )
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "battles.parquet"
        frame.to_parquet(path)
        out = subprocess.run(
            [str(python), "-c", WORKER, str(path), str(tol), json.dumps(start) if start else "-"],
            capture_output=True, text=True, check=False,
        )  # fmt: skip
    if out.returncode != 0:
        sys.exit(f"arena-rank worker failed:\n{out.stderr[-3000:]}")
    return json.loads(out.stdout.strip().splitlines()[-1])


def package_input(battles: pd.DataFrame) -> pd.DataFrame:
    """The table arena-rank's example feeds it: winner strings and raw (a-b)/(a+b) features."""
    winner = np.select(
        [battles["outcome"] == 1.0, battles["outcome"] == 0.0], ["model_a", "model_b"], "tie"
    )
    out = pd.DataFrame(
        {
            "model_a": battles["model_a"].astype(str),
            "model_b": battles["model_b"].astype(str),
            "winner": winner,
        }
    )
    for f in FEATURES:
        a, b = battles[f"{f}_a"].to_numpy(float), battles[f"{f}_b"].to_numpy(float)
        total = np.where(a + b == 0, 1.0, a + b)
        out[f"f_{f}"] = (a - b) / total
    return out


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[1])
    parser.add_argument("--models", type=int, default=30)
    parser.add_argument("--battles", type=int, default=60_000)
    parser.add_argument("--seed", type=int, default=3)
    parser.add_argument("--tie-rate", type=float, default=0.2)
    parser.add_argument("--tol", type=float, default=1e-6)
    args = parser.parse_args()

    from debias.battles.presets import arena_rank
    from debias.simulate.arena import simulate_arena

    sim = simulate_arena(
        n_models=args.models, n_battles=args.battles, tie_rate=args.tie_rate, seed=args.seed,
        style_effects={"tokens": 0.8, "headers": 0.2, "lists": 0.1, "bold": 0.1},
    )  # fmt: skip
    ours = arena_rank(sim.battles, features=FEATURES)
    table = ours.table.set_index("model")
    se = np.sqrt(np.diag(ours.covariance))[len(table) :]
    elo = 400 / math.log(10)
    print(f"simulate_arena: {args.models} models, {args.battles} battles, seed {args.seed}")
    print(f"preset coefficients: {np.round(ours.coefficients['estimate'].to_numpy(), 6).tolist()}")
    start = {
        "ratings": table["strength"].tolist(),
        "coeffs": ours.coefficients["estimate"].tolist(),
    }
    worst = 0.0
    runs = (
        ("package defaults (ftol=gtol=1e-9), from zero", 0.0, None),
        ("package, ftol=gtol=1e-14, from zero", 1e-14, None),
        ("package defaults, started at the preset's solution", 0.0, start),
    )
    for label, tol, init in runs:
        pkg = package_fit(package_input(sim.battles), tol, init)
        names = pkg["competitors"]
        diffs = {
            "strength (logit)": np.abs(
                table.loc[names, "strength"].to_numpy() - np.array(pkg["strengths"])
            ),
            "rating (Elo)": np.abs(
                table.loc[names, "rating"].to_numpy() - np.array(pkg["ratings"])
            ),
            "rating_ci_low (Elo)": np.abs(
                table.loc[names, "rating_ci_low"].to_numpy() - np.array(pkg["rating_lower"])
            ),
            "rating_ci_high (Elo)": np.abs(
                table.loc[names, "rating_ci_high"].to_numpy() - np.array(pkg["rating_upper"])
            ),
            "coefficient": np.abs(
                ours.coefficients["estimate"].to_numpy() - np.array(pkg["coeffs"])
            ),
            "coefficient SE": np.abs(se - np.array(pkg["coef_se"])),
        }
        print(
            f"\n{label}: package fit {pkg['seconds']:.2f} s; max |gradient| of its loss at its"
            f" solution {pkg['grad_at_package']:.1e}"
            + (f", at the preset's {pkg['grad_at_preset']:.1e}" if init else "")
        )
        for what, d in diffs.items():
            unit = f" = {d.max() / elo:.2e} logit" if "Elo" in what else ""
            print(f"  max |preset - package| {what:<18} {d.max():.2e}{unit}")
        if init:
            logit = [
                diffs["strength (logit)"].max(),
                diffs["coefficient"].max(),
                diffs["coefficient SE"].max(),
            ]
            logit += [diffs[k].max() / elo for k in ("rating_ci_low (Elo)", "rating_ci_high (Elo)")]
            worst = max(logit)
    ok = worst <= args.tol
    print(
        f"\nlargest difference (package started at the preset's solution, logit scale): "
        f"{worst:.2e} -> {'OK' if ok else 'FAIL'} (tol {args.tol:g})"
    )
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
