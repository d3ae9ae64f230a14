"""Size and power of the audit's pooled length test on simulated judges.

The audit (:func:`debias.reports.audit.audit`) says "the judge prefers longer answers"
when the pooled length slope (the average over models of each model's
``tanh(scaled(length))`` coefficient, cluster-robust SE from the per-instruction
influence functions) differs from 0 at the 5% level. This benchmark checks that
the test keeps its size and has power, on AlpacaEval-like simulated judges
(:func:`debias.simulate.simulate`: a fixed baseline, soft preferences, lognormal
lengths, markdown, instruction difficulty):

(a) judges with NO length or markdown preference (``length_effect=0``,
    ``markdown_effect=0``): the test must reject in at most 6% of judges;
(b) judges with a moderate length preference (``length_effect=0.3`` on the
    ``tanh(length difference / SD)`` log-odds scale, ``markdown_effect=0``): the
    test must reject in at least 80% of judges. The script also reports what the
    effect means in win-rate points per doubling of length (the true value,
    computed from the simulation's own probabilities: the average over models and
    instructions of P(answer twice as long as the baseline's) − P(equally long)).

Each judge goes through the audit's own fast path (``fit_audit_glm`` with the
default formula ``tanh(scaled(length)) + diff_over_sum(markdown_model,
markdown_baseline) + difficulty``, then ``pooled_slope``): no plots, no report.

Run (≈ 5–9 minutes on 2 cores, depending on load)::

    /tmp/venv/bin/python benchmarks/audit_power.py

Options: ``--judges N`` per setting (default 250), ``--models``, ``--instructions``,
``--effect`` (alternative length_effect), ``--jobs``. Writes
``benchmarks/results/audit_power.csv`` (one row per setting) and
``benchmarks/results/audit_power_judges.csv`` (one row per simulated judge).
Exit code 1 if a criterion fails.
"""

from __future__ import annotations

import os

# one BLAS thread per process: the fits are small, threads only contend (and 2 workers
# on 2 cores would otherwise oversubscribe badly)
for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")

import argparse  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402
from pathlib import Path  # noqa: E402

import pandas as pd  # noqa: E402
from joblib import Parallel, delayed  # noqa: E402
from scipy import stats  # noqa: E402

RESULTS = Path(__file__).resolve().parent / "results"
ALPHA = 0.05
MAX_SIZE = 0.06
MIN_POWER = 0.80


def true_doubling_effect(sim, beta: float) -> float:
    """Win-rate points per doubling of length, from the simulation's own probabilities.

    For each model row: P with the model's answer twice as long as the baseline's
    minus P with equal lengths, everything else (difficulty, markdown, position)
    as simulated; averaged over each model's rows, then over models, × 100.
    """
    # imports inside: joblib workers unpickle this function without __main__'s globals
    import numpy as np
    import pandas as pd
    from scipy.special import expit

    f = sim.features
    base = sim.comparisons.baselines[0]
    f = f[f["model"] != base]
    sd = f["sd_delta_length"].to_numpy(float)
    observed = beta * np.tanh(f["delta_length"].to_numpy(float) / sd)
    rest = f["logit"].to_numpy(float) - observed
    doubled = rest + beta * np.tanh(f["length_baseline"].to_numpy(float) / sd)
    per_row = expit(doubled) - expit(rest)
    return float(100 * pd.Series(per_row).groupby(f["model"].to_numpy()).mean().mean())


def one_judge(setting: str, length_effect: float, seed: int, n_models: int, n_instr: int) -> dict:
    import time
    import warnings

    from debias.reports.audit import fit_audit_glm, mediator_term, pooled_slope
    from debias.simulate import simulate

    t0 = time.perf_counter()
    sim = simulate(
        n_models=n_models,
        n_instructions=n_instr,
        length_effect=length_effect,
        markdown_effect=0.0,
        seed=seed,
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        fit = fit_audit_glm(sim.comparisons)
    length = pooled_slope(fit, mediator_term(fit, "length"), level=1 - ALPHA)
    markdown = pooled_slope(fit, mediator_term(fit, "markdown"), level=1 - ALPHA)
    return {
        "setting": setting,
        "seed": seed,
        "length_effect": length_effect,
        "estimate": length["estimate"],
        "std_error": length["std_error"],
        "p_value": length["p_value"],
        "reject": bool(length["p_value"] < ALPHA),
        "covers_truth": bool(length["conf_low"] <= length_effect <= length["conf_high"]),
        "markdown_p_value": markdown["p_value"],
        "markdown_reject": bool(markdown["p_value"] < ALPHA),
        "n_models_pooled": length["n_models"],
        "true_points_per_doubling": true_doubling_effect(sim, length_effect),
        "seconds": time.perf_counter() - t0,
    }


def clopper_pearson(k: int, n: int) -> tuple[float, float]:
    ci = stats.binomtest(k, n).proportion_ci(confidence_level=0.95, method="exact")
    return float(ci.low), float(ci.high)


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--judges", type=int, default=250, help="simulated judges per setting")
    p.add_argument("--models", type=int, default=8, help="models besides the baseline")
    p.add_argument("--instructions", type=int, default=805, help="instructions per judge")
    p.add_argument("--effect", type=float, default=0.3, help="alternative length_effect")
    p.add_argument("--jobs", type=int, default=2, help="parallel workers (joblib)")
    p.add_argument("--seed", type=int, default=20240501, help="first seed")
    p.add_argument("--out", type=Path, default=RESULTS, help="directory for the CSVs")
    args = p.parse_args(argv)

    settings = [("null", 0.0), ("alternative", args.effect)]
    tasks = [
        (name, beta, args.seed + 100_000 * k + i)
        for k, (name, beta) in enumerate(settings)
        for i in range(args.judges)
    ]
    print(
        f"{len(tasks)} simulated judges: {args.models} models + baseline x {args.instructions} "
        f"instructions each, soft preferences, markdown_effect=0; {args.jobs} workers",
        file=sys.stderr,
    )
    t0 = time.perf_counter()
    rows = Parallel(n_jobs=args.jobs, verbose=0)(
        delayed(one_judge)(name, beta, seed, args.models, args.instructions)
        for name, beta, seed in tasks
    )
    wall = time.perf_counter() - t0
    judges = pd.DataFrame(rows)

    summary = []
    for name, beta in settings:
        d = judges[judges["setting"] == name]
        k, n = int(d["reject"].sum()), len(d)
        lo, hi = clopper_pearson(k, n)
        mk = int(d["markdown_reject"].sum())
        summary.append(
            {
                "setting": name,
                "length_effect": beta,
                "true_points_per_doubling": d["true_points_per_doubling"].mean(),
                "judges": n,
                "rejections": k,
                "rejection_rate": k / n,
                "ci_low": lo,
                "ci_high": hi,
                "mean_estimate": d["estimate"].mean(),
                "sd_estimate": d["estimate"].std(ddof=1),
                "mean_std_error": d["std_error"].mean(),
                "ci_coverage": d["covers_truth"].mean(),
                "markdown_rejection_rate": mk / n,
                "criterion": f"<= {MAX_SIZE:.0%}" if beta == 0 else f">= {MIN_POWER:.0%}",
                "passed": (k / n <= MAX_SIZE) if beta == 0 else (k / n >= MIN_POWER),
                "models": args.models,
                "instructions": args.instructions,
                "alpha": ALPHA,
            }
        )
    table = pd.DataFrame(summary)
    args.out.mkdir(parents=True, exist_ok=True)
    table.to_csv(args.out / "audit_power.csv", index=False)
    judges.to_csv(args.out / "audit_power_judges.csv", index=False)

    print(f"\nPooled length test of the audit, two-sided, alpha = {ALPHA} ({wall:.0f} s wall)")
    print(
        f"{'setting':<12} {'length_effect':>13} {'pts/doubling':>12} {'judges':>6} "
        f"{'reject rate':>11} {'95% CI':>15} {'SD(est)':>8} {'mean SE':>8} {'coverage':>8} "
        f"{'criterion':>9} {'ok':>3}"
    )
    for r in summary:
        ci = f"{r['ci_low']:.1%} to {r['ci_high']:.1%}"
        print(
            f"{r['setting']:<12} {r['length_effect']:>13.2f} {r['true_points_per_doubling']:>12.1f} "
            f"{r['judges']:>6d} {r['rejection_rate']:>11.1%} "
            f"{ci:>15} {r['sd_estimate']:>8.3f} "
            f"{r['mean_std_error']:>8.3f} {r['ci_coverage']:>8.1%} {r['criterion']:>9} "
            f"{'yes' if r['passed'] else 'NO':>3}"
        )
    null = table.set_index("setting").loc["null"]
    print(
        f"(markdown test under the null judges: {null['markdown_rejection_rate']:.1%} rejections)"
    )
    print(f"wrote {args.out / 'audit_power.csv'} and {args.out / 'audit_power_judges.csv'}")
    return 0 if table["passed"].all() else 1


if __name__ == "__main__":
    sys.exit(main())
