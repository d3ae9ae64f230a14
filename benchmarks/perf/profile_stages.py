"""Where the time (and memory) of a fit goes, stage by stage: the profiles behind the README.

    python benchmarks/perf/profile_stages.py fitting [--data DIR]       # v1 fit + LC (se="sem")
    python benchmarks/perf/profile_stages.py scaling --models 1000     # 4 mediators, fit + LC sandwich
    python benchmarks/perf/profile_stages.py scaling --models 50 --instructions 3200

Wraps debias's internal stages (those that exist in the installed version) with timers that
charge each call its *exclusive* time (a nested wrapped call is subtracted from its caller), and
samples the RSS every 5 ms to give the peak reached while each stage was running (above the RSS
after loading). Not a benchmark: one run, no repeats; compare shares, not absolute numbers. The
scaling sizes come from ``benchmarks/.cache`` (``python benchmarks/perf/simcache.py`` makes them).
"""

from __future__ import annotations

import argparse
import gc
import os
import sys
import threading
import time
import warnings
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from perf import simcache
from perf.common import rss_kb
from perf.debias_worker import JUDGE, SCALING_FORMULA, _Clock, _release_arrow_pool

# (module, attribute path, label); the first existing ones are wrapped
STAGES = [
    ("debias.data", "Comparisons.require_fixed_baseline", "require_fixed_baseline"),
    ("debias.model.glm", "PreferenceGLM._regularization_rows", "regularization rows"),
    ("debias.model.glm", "_mediators.compute_mediators", "compute_mediators"),
    ("debias.model.glm", "PreferenceGLM._difficulty", "difficulty (load/join)"),
    ("debias.model.glm", "PreferenceGLM._fit_difficulty", "stage 1 (rest)"),
    ("debias.model.stage1", "fit_joint", "stage 1 fit_joint"),
    ("debias.model.glm", "model_frame", "model_frame"),
    ("debias.model.stage1", "model_frame", "model_frame"),
    ("debias.model.formula", "Design.__init__", "Design.__init__ (patsy)"),
    ("debias.model.formula", "Design.matrix", "Design.matrix"),
    ("debias.model.glm", "PreferenceGLM._stage2", "stage 2 Newton"),
    ("debias.model.glm", "PreferenceGLM.fit", "fit() rest"),
    ("debias.counterfactual", "apply_at", "apply_at"),
    ("debias.counterfactual", "counterfactual_designs", "counterfactual_designs"),
    ("debias.inference.two_stage", "coefficient_influence", "two-stage influence"),
    ("debias.model.results", "ModelResults.naive_influence", "naive influence"),
    ("debias.counterfactual", "average_with_influence", "average_with_influence rest"),
    ("debias.model.separation", "separating_direction", "separation LP"),
    ("debias.model.results", "separating_direction", "separation LP"),
    ("debias.counterfactual", "avg_predictions", "avg_predictions rest"),
]


def install(clock: _Clock) -> list[str]:
    import importlib

    done = []
    for mod_name, path, label in STAGES:
        try:
            obj = importlib.import_module(mod_name)
        except ImportError:
            continue
        *parents, attr = path.split(".")
        for p in parents:
            obj = getattr(obj, p, None)
            if obj is None:
                break
        if obj is None or not hasattr(obj, attr):
            continue
        setattr(obj, attr, clock.wrap(label, getattr(obj, attr)))
        done.append(label)
    return done


def run(work, base_kb: int) -> None:
    clock = _Clock()
    install(clock)
    peak: dict[str, int] = {}
    stop = threading.Event()

    def sampler():
        while not stop.is_set():
            r = rss_kb()
            key = clock.stack[-1][0] if clock.stack else "-"
            peak[key] = max(peak.get(key, 0), r)
            time.sleep(0.005)

    th = threading.Thread(target=sampler, daemon=True)
    th.start()
    t, c = time.perf_counter(), time.process_time()
    work()
    wall, cpu = time.perf_counter() - t, time.process_time() - c
    stop.set()
    th.join()
    print(f"total: wall {wall:.3f} s, cpu {cpu:.3f} s; RSS before {base_kb / 1024:.0f} MB")
    print(f"{'stage':32s} {'wall s':>8s} {'cpu s':>8s} {'% cpu':>6s} {'peak RSS +MB':>13s}")
    named_w = named_c = 0.0
    for k, (w, u) in sorted(clock.acc.items(), key=lambda kv: -kv[1][1]):
        named_w, named_c = named_w + w, named_c + u
        p = (peak.get(k, base_kb) - base_kb) / 1024
        print(f"{k:32s} {w:8.3f} {u:8.3f} {100 * u / cpu:6.1f} {p:13.0f}")
    print(f"{'(outside the stages)':32s} {wall - named_w:8.3f} {cpu - named_c:8.3f}")
    print(f"overall peak +{(max(peak.values(), default=base_kb) - base_kb) / 1024:.0f} MB")


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    sub = p.add_subparsers(dest="cmd", required=True)
    f = sub.add_parser("fitting")
    f.add_argument("--data", default=os.environ.get("DEBIAS_ALPACA_EVAL_DIR"))
    s = sub.add_parser("scaling")
    s.add_argument("--models", type=int, default=1000)
    s.add_argument("--instructions", type=int, default=805)
    args = p.parse_args(argv)
    warnings.simplefilter("ignore")
    import pandas as pd

    from debias.counterfactual import avg_predictions
    from debias.model.glm import PreferenceGLM

    if args.cmd == "fitting":
        if not args.data:
            p.error("give --data or set DEBIAS_ALPACA_EVAL_DIR")
        from debias.io import read_alpaca_eval, read_difficulty

        data = Path(args.data)
        comps = read_alpaca_eval(data, judge=JUDGE)
        difficulty = read_difficulty(data / "derived" / "instruction_difficulty.csv", comps)
        reg = pd.read_csv(data / "derived" / "df_gamed_surrogate.csv")

        def work():
            fit = PreferenceGLM(
                preset="length_controlled_v1",
                difficulty=difficulty,
                regularize=reg,
                difficulty_join="position",
            ).fit(comps)
            return avg_predictions(fit, se="sem")

        work()  # warm-up (lazy imports, caches of the data)
    else:
        from debias import Comparisons

        path = simcache.path_for(args.models, args.instructions)
        if not path.is_file():
            p.error(f"{path} missing: run python benchmarks/perf/simcache.py first")
        comps = Comparisons.from_dataframe(pd.read_parquet(path), source=str(path))

        def work():
            fit = PreferenceGLM(SCALING_FORMULA + " + difficulty", difficulty="fit").fit(comps)
            return avg_predictions(fit, se="sandwich")

    gc.collect()
    _release_arrow_pool()
    run(work, rss_kb())
    return 0


if __name__ == "__main__":
    sys.exit(main())
