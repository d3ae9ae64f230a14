"""Does partial pooling of the slopes bias honest models, and do its intervals cover?

The default without the baseline's variants pools every model's slopes across the judge's
models (:mod:`debias.model.pooling`). On simulated judges with known controlled win rates this
compares the pooled default (``length_controlled_v1``, no variants) with the unpooled fit
(``length_controlled_noreg``), both with the sandwich interval, in two scenarios:

- ``common``: one length slope for every model (the simulator's judge; pooling's model
  holds with τ = 0);
- ``heterogeneous``: each model has its own length slope, drawn from N(0.8, 0.4²) (model i's
  judgments come from a simulation with its slope; same seed, so the same instructions,
  outputs and true controlled win rates): pooling shrinks real differences.

Reported per scenario and arm: mean absolute error and bias of the LC win rate against the
truth (points), coverage of the 95% interval with its binomial CI, mean half-width.

Run (about 10 minutes on 2 cores)::

    python benchmarks/pooling_study.py --sims 30 --models 10 --jobs 2
"""

from __future__ import annotations

import argparse
import time
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
from coverage_study import summarise  # the script's folder is on sys.path
from joblib import Parallel, delayed

from debias.counterfactual import avg_predictions
from debias.data import Comparisons
from debias.model.glm import PreferenceGLM
from debias.simulate import simulate

ARMS = {"pooled (default)": {}, "unpooled (noreg)": {"preset": "length_controlled_noreg"}}


def _judgments(scenario: str, seed: int, n_models: int, n_instructions: int):
    kw = dict(n_models=n_models, n_instructions=n_instructions, markdown_effect=0.0, seed=seed)
    if scenario == "common":
        sim = simulate(length_effect=0.8, **kw)
        return sim.comparisons, sim.truth.set_index("model")["true_lc_win_rate"]
    slopes = np.random.default_rng([seed, 7]).normal(0.8, 0.4, n_models)
    parts, truth = [], None
    for i, slope in enumerate(slopes):
        sim = simulate(length_effect=float(slope), **kw)
        d = sim.comparisons.data
        name = sim.truth["model"].iloc[i + 1]  # row 0 is the baseline
        parts.append(d[d.model == name])
        if i == 0:
            parts.append(d[d.model == sim.comparisons.baselines[0]])
            truth = sim.truth.set_index("model")["true_lc_win_rate"]
    return Comparisons.from_dataframe(pd.concat(parts, ignore_index=True)), truth


def one_replicate(scenario: str, seed: int, n_models: int, n_instructions: int) -> list[dict]:
    warnings.simplefilter("ignore")
    comps, truth = _judgments(scenario, seed, n_models, n_instructions)
    base = comps.baselines[0]
    rows = []
    for arm, kw in ARMS.items():
        lc = avg_predictions(PreferenceGLM(**kw).fit(comps)).set_index("model")
        for m in lc.index.drop(base):
            est, lo, hi = 100 * lc.loc[m, ["estimate", "conf_low", "conf_high"]].astype(float)
            rows.append(
                dict(
                    scenario=scenario,
                    arm=arm,
                    seed=seed,
                    model=m,
                    estimate=est,
                    truth=truth[m],
                    conf_low=lo,
                    conf_high=hi,
                )
            )
    return rows


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--sims", type=int, default=30, help="simulated judges per scenario")
    ap.add_argument("--models", type=int, default=10, help="models per judge (default 10)")
    ap.add_argument("--instructions", type=int, default=805)
    ap.add_argument("--jobs", type=int, default=2)
    ap.add_argument(
        "--out", type=Path, default=Path(__file__).parent / "results" / "pooling_study.csv"
    )
    args = ap.parse_args(argv)
    t0 = time.perf_counter()
    tasks = [(sc, s) for sc in ("common", "heterogeneous") for s in range(args.sims)]
    parts = Parallel(n_jobs=args.jobs)(
        delayed(one_replicate)(sc, s, args.models, args.instructions) for sc, s in tasks
    )
    d = pd.DataFrame([r for part in parts for r in part])
    args.out.parent.mkdir(parents=True, exist_ok=True)
    d.to_csv(args.out, index=False)
    print(
        f"{args.sims} simulated judges per scenario x {args.models} models, "
        f"{args.instructions} instructions, soft preferences; sandwich 95% intervals; "
        f"{time.perf_counter() - t0:.0f} s"
    )
    table = summarise(d, by=["scenario", "arm"])
    print(table.to_string(float_format=lambda v: f"{v:.3f}"))
    print(f"per-model rows: {args.out}")


if __name__ == "__main__":
    main()
