"""Coverage of the position, self-preference and length intervals of judges side by side.

Each replicate simulates an MT-Bench-sized design (``--models`` models against a baseline
on ``--prompts`` prompts, both orders, two judges of different families, ties) with known
position bias, self-preference and length slope per judge
(:func:`debias.simulate.position.simulate_judges`), fits the judges jointly
(:func:`debias.reports.judges.fit_judges` with ``self_preference=True``, ``features=["length"]``)
and checks whether each 95% interval covers the true coefficient, and whether the
intervals of the differences between the judges (:func:`debias.reports.judges.compare_judges`)
cover the true differences. Reported per (term, judge): coverage with its binomial 95%
interval (Clopper-Pearson), mean bias and mean half-width.

``--arm correlated``: two judges with equal coefficients sharing a per-answer quality
(``answer_sd=1``, so calls on a prompt are correlated within and across judges); the true
difference between the judges is 0 (exchangeable judges), and the interval of the
difference from the joint covariance clustered by prompt is compared with the one that
treats every call as independent.

Run (about 15 minutes on one busy core for 2,000 replicates)::

    python benchmarks/position_coverage.py --sims 2000 --jobs 1
    python benchmarks/position_coverage.py --sims 1000 --arm correlated

Results go to ``benchmarks/results/position_coverage.csv`` and a printed table.
"""

from __future__ import annotations

import argparse
import time
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
from joblib import Parallel, delayed
from scipy import stats

from debias.reports.judges import compare_judges, fit_judges
from debias.simulate.position import simulate_judges

TRUTH = {
    "position": {"gpt-judge": 0.4, "claude-judge": -0.2},
    "self_preference": {"gpt-judge": 0.5, "claude-judge": 0.2},
    "length": {"gpt-judge": 0.8, "claude-judge": 0.3},
}


def one_replicate(seed: int, n_models: int, n_prompts: int) -> list[dict]:
    warnings.simplefilter("ignore")
    sim = simulate_judges(n_models=n_models, n_prompts=n_prompts, seed=seed, **TRUTH)
    fit = fit_judges(sim.battles, features=["length"], self_preference=True)
    rows = []
    for r in fit.table().itertuples():
        truth = sim.truth[r.term][r.judge]
        rows.append(_row(seed, r.term, r.judge, r.estimate, r.conf_low, r.conf_high, truth))
    for r in compare_judges(fit).itertuples():
        if r.judge == "all equal":
            continue
        truth = sim.truth[r.term][r.judge] - sim.truth[r.term][r.reference]
        label = f"{r.judge} − {r.reference}"
        rows.append(_row(seed, r.term, label, r.estimate, r.conf_low, r.conf_high, truth))
    return rows


def one_correlated_replicate(seed: int, n_models: int, n_prompts: int) -> list[dict]:
    """Two judges with equal coefficients sharing a per-answer quality (answer_sd=1): the true
    difference between them is 0 (they are exchangeable); the clustered interval of the
    difference against the one that treats every call as independent (model-based H^-1)."""
    warnings.simplefilter("ignore")
    sim = simulate_judges(
        n_models=n_models,
        n_prompts=n_prompts,
        seed=seed,
        judges=("gpt-judge", "gpt-judge-2"),
        position=0.4,
        length=0.8,
        self_preference=0.0,
        answer_sd=1.0,
    )
    fit = fit_judges(sim.battles, features=["length"])
    q = stats.t.ppf(0.975, fit.n_clusters - 1)
    rows = []
    for term in ("position", "length"):
        c = pd.Series(0.0, index=fit.params.index)
        c[f"{term}¦gpt-judge-2"], c[f"{term}¦gpt-judge"] = 1.0, -1.0
        est = float(c @ fit.params)
        for method, cov in (("clustered", fit.cov.to_numpy()), ("independent", fit.hessian_inv)):
            se = float(np.sqrt(c.to_numpy() @ cov @ c.to_numpy()))
            rows.append(
                _row(seed, term, f"difference, {method}", est, est - q * se, est + q * se, 0.0)
            )
    return rows


def _row(seed, term, judge, est, lo, hi, truth) -> dict:
    return {
        "seed": seed,
        "term": term,
        "judge": judge,
        "estimate": est,
        "conf_low": lo,
        "conf_high": hi,
        "truth": truth,
        "covered": bool(lo <= truth <= hi),
    }


def summarise(df: pd.DataFrame) -> pd.DataFrame:
    out = []
    for (term, judge), d in df.groupby(["term", "judge"], sort=False):
        n, k = len(d), int(d["covered"].sum())
        lo = stats.beta.ppf(0.025, k, n - k + 1) if k > 0 else 0.0
        hi = stats.beta.ppf(0.975, k + 1, n - k) if k < n else 1.0
        out.append(
            {
                "term": term,
                "judge": judge,
                "n": n,
                "coverage": k / n,
                "coverage_low": lo,
                "coverage_high": hi,
                "bias": float((d["estimate"] - d["truth"]).mean()),
                "half_width": float(((d["conf_high"] - d["conf_low"]) / 2).mean()),
            }
        )
    return pd.DataFrame(out)


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--sims", type=int, default=1000)
    ap.add_argument("--models", type=int, default=6)
    ap.add_argument("--prompts", type=int, default=80)
    ap.add_argument("--jobs", type=int, default=1)
    ap.add_argument("--seed", type=int, default=20261125)
    ap.add_argument(
        "--arm",
        choices=("known", "correlated"),
        default="known",
        help="known: coefficients known exactly (default); correlated: shared answer quality",
    )
    ap.add_argument(
        "--out", type=Path, default=Path(__file__).parent / "results" / "position_coverage.csv"
    )
    args = ap.parse_args(argv)
    start = time.perf_counter()
    func = one_replicate if args.arm == "known" else one_correlated_replicate
    if args.arm == "correlated" and args.out.name == "position_coverage.csv":
        args.out = args.out.with_name("position_coverage_correlated.csv")
    parts = Parallel(n_jobs=args.jobs)(
        delayed(func)(args.seed + i, args.models, args.prompts) for i in range(args.sims)
    )
    df = pd.DataFrame([r for p in parts for r in p])
    table = summarise(df)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    table.to_csv(args.out, index=False)
    print(
        f"{args.sims} replicates, {args.models} models x {args.prompts} prompts x 2 orders x "
        f"2 judges, {time.perf_counter() - start:.0f} s"
    )
    print(table.to_string(index=False, float_format=lambda v: f"{v:.3f}"))


if __name__ == "__main__":
    main()
