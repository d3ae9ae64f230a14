"""Stage 1 (the joint difficulty fit) against the number of prompts: before and after.

Times :func:`debias.model.difficulty.fit_joint` on simulated judgments (20 models, a strength
and a length slope per model, one difficulty per prompt, soft labels) at 805, 1,600 and
3,200 prompts, for today's code and for the code before the fit eliminated the γ block
(commit ``eb0cddf``, loaded with ``git show``: the model blocks were eliminated, an
I × I system per Newton step). Prints the times, the log-log slopes of time in prompts
(goal of issue 11: ≤ 1.15 from 805 to 3,200) and the largest difference between the two
fits (they solve the same problem; the golden master checks the numbers).

With ``--pipeline`` it also times the whole fit + LC with the two-stage sandwich
(``PreferenceGLM(preset="length_controlled_noreg")`` with the difficulty fitted, then
``avg_predictions(se="sandwich")``) on the first I prompts of one simulation, with the
old stage 1 and the old two-stage γ influence (an I × I solve) patched in for "before".

Run: ``python benchmarks/stage1_scaling.py [--models 20] [--repeat 3] [--sizes 805 1600 3200]
[--pipeline]`` (stage 1 BLAS single-threaded, as ``fit_joint`` runs; about a minute, two more
with ``--pipeline``, most of it the old code at 3,200 prompts).
"""

from __future__ import annotations

import argparse
import contextlib
import importlib.util
import subprocess
import sys
import tempfile
import time
import warnings
from pathlib import Path

import numpy as np
from scipy.special import expit
from threadpoolctl import threadpool_limits

ROOT = Path(__file__).resolve().parents[1]
BEFORE = "eb0cddf"  # the last commit with the I x I elimination


def load_before(module: str = "difficulty"):
    """``debias/<module>.py`` as of commit BEFORE, as a module."""
    try:
        src = subprocess.run(
            ["git", "show", f"{BEFORE}:debias/{module}.py"],
            cwd=ROOT,
            capture_output=True,
            text=True,
            check=True,
        ).stdout
    except (OSError, subprocess.CalledProcessError) as exc:
        sys.exit(f"cannot read the old debias/{module}.py from git ({BEFORE}): {exc}")
    path = Path(tempfile.mkdtemp()) / f"{module}_before.py"
    path.write_text(src)
    spec = importlib.util.spec_from_file_location(f"{module}_before", path)
    loaded = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = loaded
    spec.loader.exec_module(loaded)
    return loaded


@contextlib.contextmanager
def old_solvers():
    """Stage 1 and the two-stage γ influence of commit BEFORE, patched in for a while."""
    import debias.inference.two_stage
    import debias.model.difficulty

    saved = debias.model.difficulty._fit_joint, debias.inference.two_stage._gamma_influence
    debias.model.difficulty._fit_joint = load_before("difficulty")._fit_joint
    old_gamma = load_before("two_stage")._gamma_influence  # returned Zg alone (I x I solve)
    debias.inference.two_stage._gamma_influence = lambda *args: (old_gamma(*args), None)
    try:
        yield
    finally:
        debias.model.difficulty._fit_joint, debias.inference.two_stage._gamma_influence = saved


def pipeline(n_models: int, sizes, repeat: int) -> dict[str, list[float]]:
    """Fit + LC with the two-stage sandwich (``length_controlled_noreg``, difficulty fitted)
    on the first I prompts of one simulation, before and after."""
    from debias import Comparisons
    from debias.counterfactual import avg_predictions
    from debias.model.glm import PreferenceGLM
    from debias.simulate import simulate as simulate_judge

    sim = simulate_judge(n_models=n_models, n_instructions=max(sizes), seed=0)
    data, order = sim.comparisons.data, list(sim.comparisons.instruction_order)
    rows = {"before": [], "after": []}
    print(f"fit + LC (sandwich), {n_models} models, min of {repeat} runs")
    print(f"{'prompts':>8} {'before s':>9} {'after s':>9} {'max |diff| LC':>14}")
    for n_prompts in sizes:
        keep = data["instruction"].isin(set(order[:n_prompts]))
        comps = Comparisons.from_dataframe(data[keep].reset_index(drop=True))
        out = {}
        for name in ("before", "after"):
            best = np.inf
            for _ in range(repeat):
                t0 = time.perf_counter()
                with warnings.catch_warnings(), contextlib.ExitStack() as stack:
                    warnings.simplefilter("ignore")
                    if name == "before":
                        stack.enter_context(old_solvers())
                    fit = PreferenceGLM(preset="length_controlled_noreg").fit(comps)
                    table = avg_predictions(fit, se="sandwich")
                best = min(best, time.perf_counter() - t0)
            rows[name].append(best)
            out[name] = table[["estimate", "std_error"]].to_numpy(float)
        diff = np.nanmax(np.abs(out["before"] - out["after"]))
        print(f"{n_prompts:>8} {rows['before'][-1]:>9.3f} {rows['after'][-1]:>9.3f} {diff:>14.1e}")
    return rows


def simulate(n_models: int, n_prompts: int, seed: int = 0):
    """Soft-label judgments: strength + length slope per model, one γ per prompt."""
    rng = np.random.default_rng(seed)
    m = np.repeat(np.arange(n_models), n_prompts)
    x = np.tile(np.arange(n_prompts), n_models)
    X = np.c_[np.ones(len(m)), np.tanh(rng.normal(size=len(m)))]
    coef = np.c_[rng.normal(size=n_models), rng.normal(0.5, 0.3, size=n_models)]
    gamma = np.r_[0.0, rng.normal(size=n_prompts - 1)]
    eta = np.einsum("ij,ij->i", X, coef[m]) + gamma[x]
    y = np.clip(expit(eta) + rng.normal(0, 0.15, size=len(m)), 0, 1)
    return X, y, np.ones(len(m)), m, x


def time_fit(fit_joint, data, n_models, n_prompts, repeat):
    best, fit = np.inf, None
    for _ in range(repeat):
        t0 = time.perf_counter()
        with threadpool_limits(limits=1), warnings.catch_warnings():
            warnings.simplefilter("ignore")
            fit = fit_joint(*data, n_models, n_prompts)
        best = min(best, time.perf_counter() - t0)
    return best, fit


def slope(sizes, times, a, b):
    return np.log(times[b] / times[a]) / np.log(sizes[b] / sizes[a])


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--models", type=int, default=20)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--sizes", type=int, nargs="+", default=[805, 1600, 3200])
    ap.add_argument(
        "--pipeline", action="store_true", help="also time fit + LC with the two-stage sandwich"
    )
    args = ap.parse_args(argv)
    sys.path.insert(0, str(ROOT))
    from debias.model.difficulty import _fit_joint as after

    before = load_before("difficulty")._fit_joint
    sizes = args.sizes
    rows = {"before": [], "after": []}
    print(f"stage 1, {args.models} models, min of {args.repeat} runs, BLAS single-threaded")
    print(f"{'prompts':>8} {'before s':>9} {'after s':>9} {'steps':>6} {'max |diff|':>11}")
    for n_prompts in sizes:
        data = simulate(args.models, n_prompts)
        t_old, f_old = time_fit(before, data, args.models, n_prompts, args.repeat)
        t_new, f_new = time_fit(after, data, args.models, n_prompts, args.repeat)
        diff = max(
            np.abs(f_old.gamma - f_new.gamma).max(),
            np.abs(f_old.coef - f_new.coef).max(),
            np.nanmax(np.abs(f_old.gamma_se - f_new.gamma_se)),
        )
        rows["before"].append(t_old)
        rows["after"].append(t_new)
        print(f"{n_prompts:>8} {t_old:>9.3f} {t_new:>9.3f} {f_new.n_iter:>6} {diff:>11.1e}")
    print_slopes(sizes, rows)
    if args.pipeline:
        print_slopes(sizes, pipeline(args.models, sizes, args.repeat))


def print_slopes(sizes, rows) -> None:
    print("log-log slope of time in prompts (goal: after <= 1.15 over the whole range)")
    for name, times in rows.items():
        parts = [
            f"{sizes[i]}->{sizes[i + 1]}: {slope(sizes, times, i, i + 1):.2f}"
            for i in range(len(sizes) - 1)
        ]
        whole = slope(sizes, times, 0, len(sizes) - 1)
        print(f"  {name:>6}: {sizes[0]}->{sizes[-1]}: {whole:.2f}  ({', '.join(parts)})")


if __name__ == "__main__":
    main()
