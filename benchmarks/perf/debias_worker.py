"""Debias side of the benchmarks: one measurement per invocation, in a fresh process.

Run by ``benchmarks/run.py`` with the project's interpreter; prints one marked JSON line
(``perf.common.emit``). Subcommands:

* ``fitting``   LC for all local models, data already loaded: fit + average predictions
  (``se="sem"`` fast path, ``se="sandwich"``, ``solver="alpaca_eval"``).
* ``breakdown`` where the end-to-end time goes, in process: gunzip, JSON decoding,
  building Comparisons, regularisation rows, mediators, difficulty, design, solver,
  result objects, LC + sandwich SE, the table.
* ``stage1``    the joint difficulty fit on the local models.
* ``bootstrap`` cluster bootstrap of the whole local leaderboard.
* ``scaling``   fit + LC on one simulated size loaded from Parquet (time and memory).
"""

from __future__ import annotations

import argparse
import contextlib
import gc
import gzip
import json
import os
import sys
import time
import warnings
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from perf.common import best_of, emit, peak_rss_kb, rss_kb

JUDGE = "weighted_alpaca_eval_gpt4_turbo"
SCALING_FORMULA = (
    "tanh(scaled(length)) + scaled(words) + diff_over_sum(headers_model, headers_baseline)"
    " + diff_over_sum(bold_model, bold_baseline)"
)


def _data(args) -> Path:
    return Path(args.data)


def _derived(args) -> tuple[Path, Path]:
    d = _data(args) / "derived"
    return d / "instruction_difficulty.csv", d / "df_gamed_surrogate.csv"


def _strip(m: dict) -> dict:
    return {k: v for k, v in m.items() if k != "result"}


# --------------------------------------------------------------------------- fitting only
def cmd_fitting(args) -> dict:
    import pandas as pd

    from debias.counterfactual import avg_predictions
    from debias.io import read_alpaca_eval, read_difficulty
    from debias.model.glm import PreferenceGLM

    difficulty, gamed = _derived(args)
    comps = read_alpaca_eval(_data(args), judge=JUDGE)
    difficulty = read_difficulty(difficulty, comps)  # the estimator reads no file
    reg = pd.read_csv(gamed)

    def run(se: str, solver: str = "newton"):
        fit = PreferenceGLM(
            preset="length_controlled_v1",
            difficulty=difficulty,
            regularize=reg,
            difficulty_join="position",
            solver=solver,
        ).fit(comps)
        return avg_predictions(fit, se=se)

    out = {"n_models": len(comps.models), "n_judgments": len(comps)}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for name, se, solver, rep in (
            ("sem", "sem", "newton", args.repeat),
            ("sandwich", "sandwich", "newton", args.repeat),
            ("alpaca_eval", "sem", "alpaca_eval", args.repeat_compat),
        ):
            if rep <= 0:
                continue
            m = best_of(lambda se=se, solver=solver: run(se, solver), rep, warmup=name == "sem")
            lc = m["result"].set_index("model")["estimate"] * 100
            out[name] = _strip(m) | {"lc": {k: float(v) for k, v in lc.items()}}
    return out


# --------------------------------------------------------------------------- breakdown
class _Clock:
    """Exclusive wall/CPU seconds of wrapped functions: a nested wrapped call is charged to
    itself and subtracted from its caller, so the stages add up to the total."""

    def __init__(self):
        self.acc: dict[str, list[float]] = {}
        self.stack: list[list] = []

    def wrap(self, name, fn):
        def wrapped(*a, **kw):
            key = name(self) if callable(name) else name
            frame = [key, 0.0, 0.0]  # children's wall, cpu
            self.stack.append(frame)
            t, c = time.perf_counter(), time.process_time()
            try:
                return fn(*a, **kw)
            finally:
                w, u = time.perf_counter() - t, time.process_time() - c
                self.stack.pop()
                acc = self.acc.setdefault(key, [0.0, 0.0])
                acc[0] += w - frame[1]
                acc[1] += u - frame[2]
                if self.stack:
                    self.stack[-1][1] += w
                    self.stack[-1][2] += u

        return wrapped

    def inside(self, key) -> bool:
        return any(f[0] == key for f in self.stack)


def cmd_breakdown(args) -> dict:
    import importlib

    import debias.counterfactual
    import debias.io
    import debias.model.formula as formula
    import debias.model.glm as glm

    lb = importlib.import_module(
        "debias.reports.leaderboard"
    )  # debias.reports.leaderboard is also a function

    data = _data(args)
    difficulty, gamed = _derived(args)
    files = sorted((data / "results").glob(f"*/{JUDGE}/annotations.json*"))

    def gunzip_all():
        return [gzip.decompress(f.read_bytes()) for f in files]

    raw = gunzip_all()
    n_bytes = sum(len(b) for b in raw)

    def decode_all(blobs=raw):
        was = gc.isenabled()
        gc.disable()  # as debias.io does while decoding
        try:
            return [json.loads(b) for b in blobs]
        finally:
            if was:
                gc.enable()

    out = {
        "n_files": len(files),
        "json_megabytes": n_bytes / 1e6,
        "gunzip": _strip(best_of(gunzip_all, args.repeat)),
        "json_decode": _strip(best_of(decode_all, args.repeat)),
    }
    raw = decode_all = None  # free the decoded bytes

    # wrap the stages of leaderboard() (the wrappers cost microseconds)
    clock = _Clock()
    debias.io.read_alpaca_eval = clock.wrap("read", debias.io.read_alpaca_eval)
    fit_method = glm.PreferenceGLM.fit
    glm.PreferenceGLM.fit = clock.wrap("fit", fit_method)
    glm.PreferenceGLM._regularization_rows = clock.wrap(
        "fit.regularization_rows", glm.PreferenceGLM._regularization_rows
    )
    glm._mediators.compute_mediators = clock.wrap("fit.mediators", glm._mediators.compute_mediators)
    glm.PreferenceGLM._difficulty = clock.wrap("fit.difficulty", glm.PreferenceGLM._difficulty)
    glm.model_frame = clock.wrap("fit.design", glm.model_frame)
    formula.Design.matrix = clock.wrap(
        lambda c: "fit.design" if c.inside("fit") else "lc_sandwich.design", formula.Design.matrix
    )
    glm.stacked_design = clock.wrap("fit.design", glm.stacked_design)  # the one patsy pass
    glm.PreferenceGLM._stage2 = clock.wrap("fit.solver", glm.PreferenceGLM._stage2)
    lb.avg_predictions = clock.wrap("lc_sandwich", debias.counterfactual.avg_predictions)
    lb.flag_models = clock.wrap("degenerate", lb.flag_models)

    runs = []
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for _ in range(args.repeat):
            clock.acc.clear()
            gc.collect()
            t, c = time.perf_counter(), time.process_time()
            lb.leaderboard(data, difficulty=str(difficulty), regularize=str(gamed))
            acc = dict(clock.acc)
            acc["total"] = [time.perf_counter() - t, time.process_time() - c]
            runs.append(acc)
    stages = {}
    for name in runs[0]:
        stages[name] = {
            "wall": min(r[name][0] for r in runs),
            "cpu": min(r[name][1] for r in runs),
        }
    # exclusive times: "fit" is what fit() does besides the named stages (per-model result
    # objects, bookkeeping); "total" minus the sum of the stages is the table assembly.
    out["stages"] = stages
    return out


# --------------------------------------------------------------------------- stage 1
def cmd_stage1(args) -> dict:
    import debias.model.stage1 as glm  # where the estimator calls fit_joint
    from debias.io import read_alpaca_eval, read_difficulty
    from debias.model.glm import PreferenceGLM

    difficulty, _ = _derived(args)
    comps = read_alpaca_eval(_data(args), judge=JUDGE)
    difficulty = read_difficulty(difficulty, comps)  # the estimator reads no file
    joint = {"wall": [], "cpu": []}
    original = glm.fit_joint

    def timed_joint(*a, **kw):
        t, c = time.perf_counter(), time.process_time()
        res = original(*a, **kw)
        joint["wall"].append(time.perf_counter() - t)
        joint["cpu"].append(time.process_time() - c)
        return res

    glm.fit_joint = timed_joint
    out = {"n_models": len(comps.models)}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        fit_d = best_of(
            lambda: PreferenceGLM(preset="length_controlled_noreg", difficulty="fit").fit(comps),
            args.repeat,
        )
        fixed = best_of(
            lambda: PreferenceGLM(preset="length_controlled_noreg", difficulty=difficulty).fit(
                comps
            ),
            args.repeat,
        )
        out["fit_difficulty"] = _strip(fit_d)
        out["fixed_difficulty"] = _strip(fixed)
        out["fit_joint"] = {"wall": min(joint["wall"]), "cpu": min(joint["cpu"])}
        out["stage1_n_iter"] = int(fit_d["result"].stage1_.n_iter)
        # diagnostic: the same with the BLAS thread pool limited to one thread
        try:
            from threadpoolctl import threadpool_info, threadpool_limits
        except ImportError:
            threadpool_limits = None
        if threadpool_limits is not None and args.blas1:
            out["blas"] = [
                {k: i.get(k) for k in ("internal_api", "num_threads", "version")}
                for i in threadpool_info()
                if i.get("user_api") == "blas"
            ]
            joint["wall"].clear()
            joint["cpu"].clear()
            with threadpool_limits(1, user_api="blas"):
                one = best_of(
                    lambda: PreferenceGLM(preset="length_controlled_noreg", difficulty="fit").fit(
                        comps
                    ),
                    args.repeat,
                )
            out["blas1_fit_difficulty"] = _strip(one)
            out["blas1_fit_joint"] = {"wall": min(joint["wall"]), "cpu": min(joint["cpu"])}
    return out


# --------------------------------------------------------------------------- bootstrap
def cmd_bootstrap(args) -> dict:
    import pandas as pd

    from debias.counterfactual import avg_predictions
    from debias.io import read_alpaca_eval, read_difficulty
    from debias.model.glm import PreferenceGLM

    difficulty, gamed = _derived(args)
    comps = read_alpaca_eval(_data(args), judge=JUDGE)
    difficulty = read_difficulty(difficulty, comps)  # the estimator reads no file
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        fit = PreferenceGLM(
            preset="length_controlled_v1", difficulty=difficulty, regularize=pd.read_csv(gamed)
        ).fit(comps)
        m = best_of(
            lambda: avg_predictions(fit, se="bootstrap", n_boot=args.n_boot, n_jobs=args.jobs),
            1,
        )
    return {
        "n_models": len(comps.models),
        "n_boot": args.n_boot,
        "n_jobs": args.jobs,
        "wall": m["wall"],
        "cpu_parent": m["cpu"],
    }


# --------------------------------------------------------------------------- scaling
def _reset_peak() -> bool:
    """Reset this process's peak RSS (Linux ``clear_refs`` 5); False where unsupported."""
    try:
        Path("/proc/self/clear_refs").write_text("5")
        return True
    except OSError:
        return False


def _release_arrow_pool() -> None:
    """Return the memory Arrow's allocator keeps after reading Parquet (pyarrow's pool
    holds on to freed buffers: ~2x the data for the 1000-model file otherwise)."""
    with contextlib.suppress(ImportError, AttributeError):
        import pyarrow

        pyarrow.default_memory_pool().release_unused()


def _hwm_kb() -> int:
    with contextlib.suppress(OSError):
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1])
    return peak_rss_kb()


def cmd_scaling(args) -> dict:
    import pandas as pd

    from debias import Comparisons
    from debias.counterfactual import avg_predictions
    from debias.model.glm import PreferenceGLM

    rss0 = rss_kb()
    t, c = time.perf_counter(), time.process_time()
    comps = Comparisons.from_dataframe(pd.read_parquet(args.parquet), source=str(args.parquet))
    gc.collect()
    _release_arrow_pool()  # what reading the file left in Arrow's allocator, not the data
    load = {"wall": time.perf_counter() - t, "cpu": time.process_time() - c}
    rss_loaded = rss_kb()
    peak_load = peak_rss_kb()
    reset = _reset_peak()
    out = {
        "n_models": len(comps.models) - 1,
        "n_instructions": int(comps.data["instruction"].nunique()),
        "n_rows": len(comps),
        "load": load,
        "rss_start_kb": rss0,
        "rss_after_load_kb": rss_loaded,
        "peak_during_load_kb": peak_load,
        "peak_reset": reset,
    }
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        nodiff = best_of(
            lambda: PreferenceGLM(SCALING_FORMULA, difficulty="none").fit(comps), args.repeat
        )
        out["fit_no_difficulty"] = _strip(nodiff)
        del nodiff
        out["peak_fit_no_difficulty_kb"] = _hwm_kb()
        # fit and LC timed together on a fresh fit each time: the sandwich's influence
        # functions are cached on the fit, so a second LC call on one fit is not a measure
        fits, lcs = [], []
        for _ in range(max(1, args.repeat)):
            fit = best_of(
                lambda: PreferenceGLM(SCALING_FORMULA + " + difficulty", difficulty="fit").fit(
                    comps
                ),
                1,
            )
            lc = best_of(lambda fit=fit: avg_predictions(fit["result"], se="sandwich"), 1)
            fits.append(_strip(fit))
            lcs.append(_strip(lc))
            del fit, lc
            gc.collect()
        best = min(range(len(fits)), key=lambda r: fits[r]["wall"] + lcs[r]["wall"])
        out["fit_difficulty"] = fits[best] | {"walls": [f["wall"] for f in fits]}
        out["lc_sandwich"] = lcs[best] | {"walls": [x["wall"] for x in lcs]}
    out["peak_after_fits_kb"] = _hwm_kb()
    out["maxrss_kb"] = peak_rss_kb()
    return out


# --------------------------------------------------------------------------- main
def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    sub = p.add_subparsers(dest="cmd", required=True)
    for name in ("fitting", "breakdown", "stage1", "bootstrap"):
        s = sub.add_parser(name)
        s.add_argument("--data", default=os.environ.get("DEBIAS_ALPACA_EVAL_DIR"))
        s.add_argument("--repeat", type=int, default=3)
    sub.choices["fitting"].add_argument("--repeat-compat", type=int, default=1)
    sub.choices["stage1"].add_argument("--blas1", action="store_true")
    sub.choices["bootstrap"].add_argument("--n-boot", type=int, default=1000)
    sub.choices["bootstrap"].add_argument("--jobs", type=int, default=2)
    s = sub.add_parser("scaling")
    s.add_argument("--parquet", type=Path, required=True)
    s.add_argument("--repeat", type=int, default=1)
    args = p.parse_args(argv)
    if args.cmd != "scaling" and not args.data:
        p.error("give --data or set DEBIAS_ALPACA_EVAL_DIR")
    fn = {
        "fitting": cmd_fitting,
        "breakdown": cmd_breakdown,
        "stage1": cmd_stage1,
        "bootstrap": cmd_bootstrap,
        "scaling": cmd_scaling,
    }[args.cmd]
    emit(fn(args))
    return 0


if __name__ == "__main__":
    sys.exit(main())
