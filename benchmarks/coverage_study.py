"""Coverage of the LC win rate's confidence intervals on simulated judges with known length bias.

Each replicate simulates an AlpacaEval-sized judge (805 instructions, soft preferences,
a length preference, instruction difficulty) with ``--models`` models against a baseline,
fits it, and checks whether each model's interval covers the model's TRUE controlled win
rate (the simulator's population value, E over instructions of the win probability with no
length difference). Reported per uncertainty method: coverage with its binomial 95% CI,
mean bias of the estimator (points), mean interval half-width.

Run (about 10 minutes on 2 cores)::

    python benchmarks/coverage_study.py --sims 50 --models 10 --jobs 2

Results go to ``benchmarks/results/coverage_study.csv`` (per model) and a printed table.
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

from debias.counterfactual import avg_predictions
from debias.model.glm import PreferenceGLM
from debias.simulate import simulate

ARMS = {
    # name: (preset, difficulty, se)
    "minimal/sandwich": ("length_controlled_minimal", "none", "sandwich"),
    "minimal/bootstrap": ("length_controlled_minimal", "none", "bootstrap"),
    "minimal/sem (reference)": ("length_controlled_minimal", "none", "sem"),
    "noreg+fitted γ/sandwich": ("length_controlled_noreg", "fit", "sandwich"),
    "noreg+fitted γ/sem (reference)": ("length_controlled_noreg", "fit", "sem"),
}


def one_replicate(seed: int, n_models: int, n_instructions: int, length_effect: float, n_boot: int):
    warnings.simplefilter("ignore")
    sim = simulate(
        n_models=n_models,
        n_instructions=n_instructions,
        length_effect=length_effect,
        markdown_effect=0.0,
        soft=True,
        seed=seed,
    )
    truth = sim.truth.set_index("model")["true_lc_win_rate"]
    rows = []
    fits = {}
    for arm, (preset, difficulty, se) in ARMS.items():
        key = (preset, difficulty)
        if key not in fits:
            fits[key] = PreferenceGLM(preset=preset, difficulty=difficulty).fit(sim.comparisons)
        lc = avg_predictions(fits[key], se=se, n_boot=n_boot, seed=seed).set_index("model")
        for m in lc.index:
            if m == sim.comparisons.baselines[0]:
                continue
            est, lo, hi = 100 * lc.loc[m, ["estimate", "conf_low", "conf_high"]]
            rows.append(
                dict(
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


def summarise(d: pd.DataFrame, by="arm") -> pd.DataFrame:
    """Coverage of the intervals per group of ``by``: ``n``, ``coverage`` with its exact
    (Clopper-Pearson) 95% interval, ``bias``, ``mae``, ``rmse`` and the mean half-width, from
    rows ``estimate, truth, conf_low, conf_high`` (also used by ``pooling_study.py``)."""
    d = d.assign(
        covered=(d.conf_low <= d.truth) & (d.truth <= d.conf_high),
        error=d.estimate - d.truth,
        half_width=(d.conf_high - d.conf_low) / 2,
    )
    out = d.groupby(by, sort=False).agg(
        n=("covered", "size"),
        coverage=("covered", "mean"),
        bias=("error", "mean"),
        mae=("error", lambda e: float(np.mean(np.abs(e)))),
        rmse=("error", lambda e: float(np.sqrt(np.mean(e**2)))),
        half_width=("half_width", "mean"),
    )
    ci = [
        stats.binomtest(int(round(c * n)), int(n)).proportion_ci()
        for c, n in zip(out.coverage, out.n, strict=True)
    ]
    out.insert(2, "coverage_ci", [f"[{a.low:.3f}, {a.high:.3f}]" for a in ci])
    return out


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--sims", type=int, default=50, help="simulated judges (default 50)")
    ap.add_argument("--models", type=int, default=10, help="models per judge (default 10)")
    ap.add_argument("--instructions", type=int, default=805)
    ap.add_argument("--length-effect", type=float, default=0.8)
    ap.add_argument(
        "--n-boot", type=int, default=400, help="bootstrap replicates per fit (default 400)"
    )
    ap.add_argument("--jobs", type=int, default=2)
    ap.add_argument(
        "--out", type=Path, default=Path(__file__).parent / "results" / "coverage_study.csv"
    )
    args = ap.parse_args(argv)
    t0 = time.perf_counter()
    parts = Parallel(n_jobs=args.jobs)(
        delayed(one_replicate)(s, args.models, args.instructions, args.length_effect, args.n_boot)
        for s in range(args.sims)
    )
    d = pd.DataFrame([r for part in parts for r in part])
    args.out.parent.mkdir(parents=True, exist_ok=True)
    d.to_csv(args.out, index=False)
    table = summarise(d)
    print(
        f"{args.sims} simulated judges x {args.models} models, {args.instructions} instructions, "
        f"soft preferences, length effect {args.length_effect}; nominal level 95%; "
        f"{time.perf_counter() - t0:.0f} s"
    )
    print(table.to_string(float_format=lambda v: f"{v:.3f}"))
    print(f"per-model rows: {args.out}")


if __name__ == "__main__":
    main()
