#!/usr/bin/env python
"""A simulated Chatbot Arena at scale: every Bradley–Terry fitter side by side, in one run.

    python benchmarks/arena_scale.py [--battles 3000000] [--models 250] [--seed 0]
                                     [--prompts N] [--skip-arena-rank] [--repeat 1]

Data: :func:`debias.simulate.arena.simulate_arena` (4 style features, skewed pair
frequencies), drawn once and cached in ``benchmarks/.cache/`` (gitignored). Each fitter then
runs in its own fresh subprocess that loads the cached battles, so its time and memory are
its own:

- ``debias``: our pipeline, style covariates (``(a−b)/(a+b+1)`` SD-scaled, uncentred)
  → :func:`~debias.battles.design.battle_design` → :func:`~debias.battles.newton.fit_newton`
  → :func:`~debias.battles.inference.sandwich` (clustered by prompt);
- ``floor``: a minimal exact Newton written here (gradient and Hessian accumulated with
  ``np.bincount`` over the battles, no checks, no identification bookkeeping) and the same
  prompt-clustered sandwich (scipy.sparse cluster sums): the cost of the arithmetic alone;
- ``sklearn``: ``LogisticRegression(fit_intercept=False)`` as FastChat's ``fit_mle_elo``
  calls it (scikit-learn's defaults: L2 with C=1, lbfgs, ``tol=1e-4``, 100 iterations) on
  its duplicated ±ln 10 design with z-scored (centred) features; stored sparse (FastChat's
  dense array would be 2n × (m+k) × 8 bytes = 12 GB here); no covariance. Its strength error
  is measured against the exact optimum of the same objective (the floor's Newton on the
  same centred covariates; the C=1 penalty on 2n rows moves it by < 1e-6);
- ``arena-rank``: arena-rank 0.1.1's ``ContextualPairDataset.from_pandas`` +
  ``ContextualBradleyTerry.compute_ratings_and_cis`` (fit + its sandwich) in the venv of
  ``benchmarks/reference/setup_arena_rank.sh``, when installed.

Time is wall clock (``perf_counter``) of the fit and of the covariance, excluding loading;
memory is the subprocess's peak RSS (``ru_maxrss``) and its increase over the RSS right
after loading the battles. Results go to ``benchmarks/results/arena_scale.{json,csv}``.
The machine may be shared: the load average is printed with the results.
"""

from __future__ import annotations

import argparse
import csv
import json
import math
import os
import resource
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
CACHE = HERE / ".cache"
RESULTS = HERE / "results"
VENV = Path(os.environ.get("ARENA_RANK_VENV", CACHE / "arena-rank-venv"))
FEATURES = ("tokens", "headers", "lists", "bold")
MARK = "ARENA-SCALE "


def rss_kb() -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    return 0


def peak_kb() -> int:
    return int(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)


# ----------------------------------------------------------------------------- the floor
def covariates(frame, center: bool) -> np.ndarray:
    cols = []
    for f in FEATURES:
        a = frame[f"{f}_a"].to_numpy(dtype=float)
        b = frame[f"{f}_b"].to_numpy(dtype=float)
        cols.append((a - b) / (a + b + 1.0))
    x = np.column_stack(cols)
    if center:
        x = x - x.mean(axis=0)
    return x / x.std(axis=0)


def floor_newton(a, b, x, y, m, tol=1e-10, max_iter=50):
    """Exact Newton for logit P(A) = s_a − s_b + x β (s_0 = 0), Hessian by bincount."""
    k = x.shape[1]
    s, beta = np.zeros(m), np.zeros(k)
    pair = a * m + b
    iterations = 0
    while iterations < max_iter:
        iterations += 1
        p = 1.0 / (1.0 + np.exp(-(s[a] - s[b] + x @ beta)))
        r, h = y - p, p * (1.0 - p)
        g = np.r_[np.bincount(a, r, m) - np.bincount(b, r, m), x.T @ r]
        hx = h[:, None] * x
        off = np.bincount(pair, h, m * m).reshape(m, m)
        hs = np.diag(np.bincount(a, h, m) + np.bincount(b, h, m)) - off - off.T
        cross = np.column_stack(
            [np.bincount(a, hx[:, j], m) - np.bincount(b, hx[:, j], m) for j in range(k)]
        )
        hess = np.block([[hs, cross], [cross.T, x.T @ hx]])
        step = np.linalg.solve(hess[1:, 1:], g[1:])
        s[1:] += step[: m - 1]
        beta += step[m - 1 :]
        if np.max(np.abs(step)) < tol:
            break
    return s - s.mean(), beta, hess, iterations


def floor_sandwich(a, b, x, y, cluster, s, beta, hess, m):
    """G/(G−1) H⁻¹ (Σ_c u_c u_cᵀ) H⁻¹ on the free parameters (s_0 = 0), cluster sums sparse."""
    from scipy import sparse

    k = x.shape[1]
    p = 1.0 / (1.0 + np.exp(-(s[a] - s[b] + x @ beta)))
    r = y - p
    n_clusters = int(cluster.max()) + 1
    rows = np.r_[cluster, cluster]
    cols = np.r_[a, b]
    vals = np.r_[r, -r]
    u_models = sparse.csr_matrix((vals, (rows, cols)), shape=(n_clusters, m))[:, 1:]
    u_x = np.column_stack([np.bincount(cluster, r * x[:, j], n_clusters) for j in range(k)])
    mm = (u_models.T @ u_models).toarray()
    mx = np.asarray(u_models.T @ u_x)
    meat = np.block([[mm, mx], [mx.T, u_x.T @ u_x]])
    bread = np.linalg.inv(hess[1:, 1:])
    return n_clusters / (n_clusters - 1) * bread @ meat @ bread


# ----------------------------------------------------------------------------- workers
def load(path: str):
    import pandas as pd

    frame = pd.read_parquet(path)
    models = sorted(set(frame["model_a"].astype(str)) | set(frame["model_b"].astype(str)))
    return frame, models


def worker(method: str, path: str) -> dict:
    import pandas as pd

    frame, models = load(path)
    m = len(models)
    base_rss = rss_kb()
    out: dict = {"method": method}
    if method == "debias":
        from debias.battles.design import battle_design
        from debias.battles.inference import sandwich
        from debias.battles.newton import fit_newton
        from debias.battles.style import style_covariates

        t, c = time.perf_counter(), time.process_time()
        with_x = style_covariates(frame, FEATURES)
        design = battle_design(with_x, covariates=FEATURES)
        out["prep_s"] = time.perf_counter() - t
        fit = fit_newton(design)
        out["fit_s"], out["fit_cpu"] = time.perf_counter() - t, time.process_time() - c
        t, c = time.perf_counter(), time.process_time()
        cov = sandwich(fit)
        out["cov_s"], out["cov_cpu"] = time.perf_counter() - t, time.process_time() - c
        strengths = pd.Series(fit.strengths, index=list(design.models))[models].to_numpy()
        out.update(strengths=strengths.tolist(), coefficients=list(map(float, fit.coefficients)),
                   coef_se=np.sqrt(np.diag(cov))[m:].tolist(), iterations=int(fit.n_iter))  # fmt: skip
    else:
        index = pd.Index(models)
        a = index.get_indexer(frame["model_a"].astype(str)).astype(np.int64)
        b = index.get_indexer(frame["model_b"].astype(str)).astype(np.int64)
        y = frame["outcome"].to_numpy(dtype=float)
        if method == "floor":
            t, c = time.perf_counter(), time.process_time()
            x = covariates(frame, center=False)
            out["prep_s"] = time.perf_counter() - t
            s, beta, hess, iters = floor_newton(a, b, x, y, m)
            out["fit_s"], out["fit_cpu"] = time.perf_counter() - t, time.process_time() - c
            t, c = time.perf_counter(), time.process_time()
            cluster = pd.factorize(frame["prompt"])[0].astype(np.int64)
            cov = floor_sandwich(a, b, x, y, cluster, s, beta, hess, m)
            out["cov_s"], out["cov_cpu"] = time.perf_counter() - t, time.process_time() - c
            out.update(strengths=s.tolist(), coefficients=beta.tolist(),
                       coef_se=np.sqrt(np.diag(cov))[m - 1 :].tolist(), iterations=iters)  # fmt: skip
        elif method == "sklearn":
            from scipy import sparse
            from sklearn.linear_model import LogisticRegression

            t, c = time.perf_counter(), time.process_time()
            x = covariates(frame, center=True)
            n = len(a)
            ln10 = math.log(10.0)
            rows = np.arange(2 * n)
            design = sparse.csr_matrix(
                (np.r_[np.full(2 * n, ln10), np.full(2 * n, -ln10)],
                 (np.r_[rows, rows], np.r_[a, a, b, b])), shape=(2 * n, m),
            )  # fmt: skip
            design = sparse.hstack([design, sparse.csr_matrix(np.r_[x, x])], format="csr")
            target = np.r_[(y >= 0.5), (y == 1.0)].astype(float)
            lr = LogisticRegression(fit_intercept=False).fit(design, target)
            out["fit_s"], out["fit_cpu"] = time.perf_counter() - t, time.process_time() - c
            out["cov_s"] = out["cov_cpu"] = None
            strengths = lr.coef_[0][:m] * ln10
            out.update(strengths=(strengths - strengths.mean()).tolist(),
                       coefficients=lr.coef_[0][m:].tolist(), iterations=int(lr.n_iter_[0]))  # fmt: skip
            exact, exact_beta, _, _ = floor_newton(a, b, x, y, m)  # same objective, exact
            out["strength_error_vs_exact"] = float(
                np.max(np.abs(strengths - strengths.mean() - exact))
            )
            out["coef_error_vs_exact"] = float(np.max(np.abs(lr.coef_[0][m:] - exact_beta)))
    out["peak_gb"] = peak_kb() / 1e6
    out["extra_gb"] = (peak_kb() - base_rss) / 1e6
    return out


ARENA_RANK_WORKER = r"""
import json, resource, sys, time
from pathlib import Path
import numpy as np, pandas as pd
from arena_rank.utils.data_utils import ContextualPairDataset
from arena_rank.models.contextual_bradley_terry import ContextualBradleyTerry
def rss_kb():
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
frame = pd.read_parquet(sys.argv[1])
features = sys.argv[2].split(",")
winner = np.select([frame["outcome"] == 1.0, frame["outcome"] == 0.0], ["model_a", "model_b"], "tie")
df = pd.DataFrame({"model_a": frame["model_a"].astype(str), "model_b": frame["model_b"].astype(str), "winner": winner})
for f in features:
    a, b = frame[f + "_a"].to_numpy(float), frame[f + "_b"].to_numpy(float)
    df[f] = (a - b) / np.where(a + b == 0, 1.0, a + b)
del frame
base = rss_kb()
t, c = time.perf_counter(), time.process_time()
data = ContextualPairDataset.from_pandas(df, feature_cols=features)
model = ContextualBradleyTerry(len(data.competitors), len(features))
model.fit(data)
fit_s, fit_cpu = time.perf_counter() - t, time.process_time() - c
t, c = time.perf_counter(), time.process_time()
res = model.compute_ratings_and_cis(data)
cov_s, cov_cpu = time.perf_counter() - t, time.process_time() - c
peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
ratings = np.asarray(model.params["ratings"])
print("ARENA-SCALE " + json.dumps({"method": "arena-rank", "fit_s": fit_s, "cov_s": cov_s,
      "fit_cpu": fit_cpu, "cov_cpu": cov_cpu,
      "competitors": list(data.competitors), "strengths": (ratings - ratings.mean()).tolist(),
      "coefficients": np.asarray(model.params["coeffs"]).tolist(),
      "peak_gb": peak / 1e6, "extra_gb": (peak - base) / 1e6}))
"""


def run(cmd: list[str]) -> dict:
    proc = subprocess.run(cmd, capture_output=True, text=True, check=False)
    lines = [ln for ln in proc.stdout.splitlines() if ln.startswith(MARK)]
    if proc.returncode != 0 or not lines:
        raise RuntimeError(f"{' '.join(cmd[:4])} failed:\n{proc.stderr[-3000:]}")
    return json.loads(lines[-1][len(MARK) :])


# ----------------------------------------------------------------------------- driver
def simulate(args) -> tuple[Path, dict]:
    from debias.simulate.arena import simulate_arena

    CACHE.mkdir(parents=True, exist_ok=True)
    tag = f"{args.battles}_{args.models}_{args.prompts or 'auto'}_{args.seed}"
    path = CACHE / f"arena_scale_{tag}.parquet"
    meta = CACHE / f"arena_scale_{tag}.json"
    if not path.exists() or not meta.exists():
        t = time.perf_counter()
        sim = simulate_arena(n_models=args.models, n_battles=args.battles, n_prompts=args.prompts,
                             pair_skew=1.0, seed=args.seed)  # fmt: skip
        seconds = time.perf_counter() - t
        tmp = path.with_suffix(".tmp")
        sim.battles.to_parquet(tmp)
        tmp.replace(path)
        truth = {"strengths": sim.truth_strengths.tolist(), "models": list(sim.truth_strengths.index),
                 "style_scaled": sim.truth_style_scaled(), "simulate_s": seconds,
                 "n_prompts": int(sim.battles["prompt"].nunique())}  # fmt: skip
        meta.write_text(json.dumps(truth))
    return path, json.loads(meta.read_text())


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[1])
    parser.add_argument("--battles", type=int, default=3_000_000)
    parser.add_argument("--models", type=int, default=250)
    parser.add_argument("--prompts", type=int, default=None, help="default: battles // 5")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--repeat", type=int, default=1, help="runs per fitter (the fastest kept)")
    parser.add_argument("--skip-arena-rank", action="store_true")
    parser.add_argument("--worker", help=argparse.SUPPRESS)
    parser.add_argument("--data", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        print(MARK + json.dumps(worker(args.worker, args.data)), flush=True)
        return 0

    path, truth = simulate(args)
    print(f"simulate_arena: {args.battles:,} battles, {args.models} models, {truth['n_prompts']:,} prompts, "
          f"4 features, pair_skew 1 (drawn in {truth['simulate_s']:.1f} s; cached {path.name})")  # fmt: skip
    methods = ["floor", "debias", "sklearn"]
    have_rank = (VENV / "bin" / "python").exists() and not args.skip_arena_rank
    results = {}
    for method in methods + (["arena-rank"] if have_rank else []):
        best = None
        for _ in range(args.repeat):
            if method == "arena-rank":
                cmd = [
                    str(VENV / "bin" / "python"),
                    "-c",
                    ARENA_RANK_WORKER,
                    str(path),
                    ",".join(FEATURES),
                ]
            else:
                cmd = [sys.executable, str(Path(__file__)), "--worker", method, "--data", str(path)]
            r = run(cmd)
            total = r["fit_s"] + (r["cov_s"] or 0.0)
            if best is None or total < best["fit_s"] + (best["cov_s"] or 0.0):
                best = r
        results[method] = best
        print(f"  {method}: fit {best['fit_s']:.2f} s, covariance "
              f"{'-' if best['cov_s'] is None else format(best['cov_s'], '.2f') + ' s'}, "
              f"peak {best['peak_gb']:.2f} GB", flush=True)  # fmt: skip
    if not have_rank:
        print("  arena-rank: skipped (bash benchmarks/reference/setup_arena_rank.sh installs it)")

    floor = results["floor"]
    floor_total = floor["fit_s"] + floor["cov_s"]
    exact = np.array(floor["strengths"])
    rows = []
    for method, r in results.items():
        total = r["fit_s"] + (r["cov_s"] or 0.0)
        err = r.get("strength_error_vs_exact")
        if method in ("floor", "debias"):
            err = float(np.max(np.abs(np.array(r["strengths"]) - exact)))
        rows.append({
            "method": method, "fit_s": round(r["fit_s"], 3),
            "cov_s": None if r["cov_s"] is None else round(r["cov_s"], 3),
            "total_s": round(total, 3), "ratio_to_floor": round(total / floor_total, 2),
            "total_cpu_s": round(r["fit_cpu"] + (r["cov_cpu"] or 0.0), 3),
            "prep_s": None if r.get("prep_s") is None else round(r["prep_s"], 3),
            "peak_gb": round(r["peak_gb"], 2), "extra_gb": round(r["extra_gb"], 2),
            "max_strength_diff": err, "tokens_coef": round(r["coefficients"][0], 4),
            "iterations": r.get("iterations"),
        })  # fmt: skip
    load = " ".join(f"{v:.2f}" for v in os.getloadavg())
    floor_cpu = rows[0]["total_cpu_s"]
    print(f"\n{'method':<11} {'prep s':>7} {'fit s':>7} {'cov s':>7} {'total s':>8} {'x floor':>8} "
          f"{'cpu s':>7} {'x floor':>8} {'peak GB':>8} {'+GB':>6} {'max|Δs|':>9} {'β tokens':>9}")  # fmt: skip
    for row in rows:
        cov = "-" if row["cov_s"] is None else f"{row['cov_s']:.2f}"
        prep = "-" if row["prep_s"] is None else f"{row['prep_s']:.2f}"
        diff = "-" if row["max_strength_diff"] is None else f"{row['max_strength_diff']:.1e}"
        print(f"{row['method']:<11} {prep:>7} {row['fit_s']:>7.2f} {cov:>7} {row['total_s']:>8.2f} "
              f"{row['ratio_to_floor']:>8.2f} {row['total_cpu_s']:>7.2f} "
              f"{row['total_cpu_s'] / floor_cpu:>8.2f} {row['peak_gb']:>8.2f} {row['extra_gb']:>6.2f} "
              f"{diff:>9} {row['tokens_coef']:>9.4f}")  # fmt: skip
    print(f"true tokens effect per SD of (a-b)/(a+b+1): {truth['style_scaled']['tokens']:.4f}; "
          f"load average {load} on {os.cpu_count()} cores (shared machine)")  # fmt: skip
    print(
        "prep: covariates (+ design) inside fit; cpu: process CPU seconds of fit + covariance (all "
        "threads); max|Δs|: largest strength difference to the floor's exact MLE (sklearn: to the "
        "exact optimum of its own objective, centred covariates; arena-rank fits another "
        "objective: weighted, penalised, (a-b)/(a+b))"
    )
    RESULTS.mkdir(parents=True, exist_ok=True)
    stem = RESULTS / "arena_scale"
    meta = {"battles": args.battles, "models": args.models, "prompts": truth["n_prompts"],
            "seed": args.seed, "loadavg": load, "cpus": os.cpu_count(),
            "date": time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime())}  # fmt: skip
    tmp = stem.with_suffix(".json.tmp")
    tmp.write_text(json.dumps({"meta": meta, "rows": rows}, indent=2))
    tmp.replace(stem.with_suffix(".json"))
    tmp = stem.with_suffix(".csv.tmp")
    with tmp.open("w", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    tmp.replace(stem.with_suffix(".csv"))
    print(f"written {stem}.json and .csv")
    return 0


if __name__ == "__main__":
    sys.exit(main())
