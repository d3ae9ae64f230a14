#!/usr/bin/env python
"""Performance benchmarks of debias, against alpaca-eval 0.6.6 measured in the same run.

    python benchmarks/run.py [--data DIR] [--with-reference] [--quick]

Prints a table ``measurement | debias | reference | ratio | goal | met?`` and writes
CSV/JSON to ``benchmarks/results/`` (see ``benchmarks/README.md`` for what each row
measures). ``--with-reference`` installs alpaca-eval 0.6.6 into its own virtualenv
(``benchmarks/reference/setup_reference.sh``, idempotent) and times it on the same
inputs; without it the reference rows are skipped. The AlpacaEval data pack is read in
place from ``--data``, ``$DEBIAS_ALPACA_EVAL_DIR`` or ``../shared/alpaca_eval``; without
it only the scaling tables (simulated data) run.

Every measurement runs in a fresh subprocess; times are the minimum over repeats of
wall time (``perf_counter``) and CPU time (user + system). On a shared machine the CPU
time is the steadier number; both ratios are printed.
"""

from __future__ import annotations

import argparse
import csv
import json
import math
import os
import platform
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
sys.path.insert(0, str(HERE))

from perf import simcache  # noqa: E402
from perf.common import run_measured as _run_measured  # noqa: E402

JUDGE = "weighted_alpaca_eval_gpt4_turbo"
WORKER = HERE / "perf" / "debias_worker.py"
REF_E2E = HERE / "perf" / "reference_e2e.py"
REF_RUN = HERE / "reference" / "run_reference.py"
REF_SETUP = HERE / "reference" / "setup_reference.sh"
TIMEOUT = 3600

GOALS = {
    "fitting": 100.0,  # x faster
    "e2e": 6.0,  # x faster (issue 11)
    "stage1": 3.0,  # s
    "bootstrap": 60.0,  # s
    "scale_time": 30.0,  # s at 1000 models x 805 instructions
    "scale_mem_gb": 2.5,  # GB peak (issue 11)
    "linear_slope": 1.15,  # log-log slope of time/memory vs size between the two largest sizes
}


# --------------------------------------------------------------------------- helpers
SUB_ENV: dict[str, str] = {}  # extra environment of every measured subprocess (--blas-threads)


def run_measured(cmd: list[str], timeout: float | None = None) -> dict:
    return _run_measured(cmd, env=SUB_ENV, timeout=timeout)


def log(msg: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {msg}", flush=True)


def loadavg() -> str:
    try:
        return " ".join(f"{x:.2f}" for x in os.getloadavg())
    except OSError:
        return "n/a"


def default_data() -> str | None:
    env = os.environ.get("DEBIAS_ALPACA_EVAL_DIR")
    if env:
        return env
    guess = REPO.parent / "shared" / "alpaca_eval"
    return str(guess) if (guess / "results").is_dir() else None


def worker(args, *cmd: str, timeout: float = TIMEOUT) -> dict:
    """Run one debias worker subcommand in a fresh process; its JSON result + rusage."""
    full = [sys.executable, str(WORKER), *cmd]
    if args.data and cmd[0] != "scaling":
        full += ["--data", str(args.data)]
    r = run_measured(full, timeout=timeout)
    if r["returncode"] != 0 or not r["results"]:
        raise RuntimeError(
            f"worker {' '.join(cmd)} failed (exit {r['returncode']}):\n{r['stderr'][-3000:]}"
        )
    out = r["results"][-1]
    out["_process"] = {k: r[k] for k in ("wall", "cpu", "maxrss_kb")}
    return out


def fmt_s(wall: float | None, cpu: float | None = None) -> str:
    if wall is None:
        return "-"
    s = f"{wall:.3g} s" if wall < 100 else f"{wall:.0f} s"
    if cpu is not None:
        s += f" (cpu {cpu:.3g})" if cpu < 100 else f" (cpu {cpu:.0f})"
    return s


def ratio(a: float | None, b: float | None) -> float | None:
    if a is None or b is None or b <= 0:
        return None
    return a / b


def slope(x0, y0, x1, y1) -> float | None:
    if min(x0, y0, x1, y1) <= 0 or x0 == x1:
        return None
    return math.log(y1 / y0) / math.log(x1 / x0)


class Table:
    def __init__(self):
        self.rows: list[dict] = []

    def add(
        self,
        measurement,
        debias="-",
        reference="-",
        ratio_=None,
        cpu_ratio=None,
        goal="",
        met=None,
        note="",
    ):
        self.rows.append(
            {
                "measurement": measurement,
                "debias": debias,
                "reference": reference,
                "ratio": "-" if ratio_ is None else f"{ratio_:.1f}x",
                "cpu ratio": "-" if cpu_ratio is None else f"{cpu_ratio:.1f}x",
                "goal": goal,
                "met?": {True: "yes", False: "NO", None: "-"}[met],
                "note": note,
            }
        )


def print_table(rows: list[dict], cols: list[str] | None = None) -> str:
    if not rows:
        return ""
    cols = cols or list(rows[0])
    width = {c: max(len(c), *(len(str(r.get(c, ""))) for r in rows)) for c in cols}
    line = "| " + " | ".join(c.ljust(width[c]) for c in cols) + " |"
    sep = "|" + "|".join("-" * (width[c] + 2) for c in cols) + "|"
    body = ["| " + " | ".join(str(r.get(c, "")).ljust(width[c]) for c in cols) + " |" for r in rows]
    text = "\n".join([line, sep, *body])
    print(text, flush=True)
    return text


# --------------------------------------------------------------------------- sections
def section_fitting(args, table: Table, results: dict) -> None:
    log("LC fitting only (data loaded): debias ...")
    rep = args.repeat
    d = worker(args, "fitting", "--repeat", str(rep), "--repeat-compat", str(1))
    results["fitting_debias"] = d
    ref = None
    if args.ref_python:
        log("LC fitting only: reference (alpaca-eval 0.6.6, run_reference.py) ...")
        out_csv = args.out / "perf_reference_fitting_v1.csv"
        r = run_measured(
            [
                str(args.ref_python),
                str(REF_RUN),
                "--data",
                str(args.data),
                "--repeats",
                str(rep),
                "--out",
                str(out_csv),
            ],
            timeout=TIMEOUT,
        )
        if r["returncode"] != 0:
            raise RuntimeError(f"run_reference.py failed:\n{r['stderr'][-3000:]}")
        ref = json.loads(out_csv.with_suffix(".json").read_text())
        with open(out_csv) as fh:
            ref_lc = {row["model"]: float(row["lc_win_rate"]) for row in csv.DictReader(fh)}
        ref["lc"] = ref_lc
        results["fitting_reference"] = {
            "timing": ref["timing"],
            "versions": ref["versions"],
            "process_wall": r["wall"],
        }
    ref_wall = ref["timing"]["lc_call_seconds_total"] if ref else None
    ref_cpu = ref["timing"]["lc_call_cpu_seconds_total"] if ref else None
    n_fit = d["n_models"] - 1
    for key, label, goal in (
        ("sem", f"LC fitting only, {n_fit} models (v1, se=sem: fast path)", GOALS["fitting"]),
        ("sandwich", "LC fitting only, se=sandwich", None),
        ("alpaca_eval", "LC fitting only, solver=alpaca_eval (exact reimpl.)", None),
    ):
        if key not in d:
            continue
        m = d[key]
        rr, cr = ratio(ref_wall, m["wall"]), ratio(ref_cpu, m["cpu"])
        note = ""
        if ref:
            common = [k for k in ref["lc"] if k in m["lc"]]
            diff = max(abs(ref["lc"][k] - m["lc"][k]) for k in common)
            note = f"max |LC - ref| {diff:.2g} pts"
        table.add(
            label,
            fmt_s(m["wall"], m["cpu"]),
            fmt_s(ref_wall, ref_cpu),
            rr,
            cr,
            f">= {goal:.0f}x" if goal else "(info)",
            (rr >= goal) if (goal and rr is not None) else None,
            note,
        )


def _debias_cli() -> list[str]:
    script = Path(sys.executable).with_name("debias")
    if script.is_file():
        return [str(script)]
    return [sys.executable, "-c", "import sys; from debias.cli import main; sys.exit(main())"]


def section_e2e(args, table: Table, results: dict) -> None:
    data = Path(args.data)
    diff, gamed = (
        data / "derived/instruction_difficulty.csv",
        data / "derived/df_gamed_surrogate.csv",
    )
    deb_cmd = [*_debias_cli(), "leaderboard", str(data), "--difficulty", str(diff)]
    deb_cmd += ["--regularize", str(gamed)]
    ref_cmd = [str(args.ref_python), str(REF_E2E), "--data", str(data)] if args.ref_python else None
    deb, ref = [], []
    log(f"end to end (files -> table), {args.repeat_e2e} runs each, interleaved ...")
    for _ in range(args.repeat_e2e):
        if ref_cmd:
            r = run_measured(ref_cmd, timeout=TIMEOUT)
            if r["returncode"] != 0:
                raise RuntimeError(f"reference e2e failed:\n{r['stderr'][-3000:]}")
            ref.append(r)
        r = run_measured(deb_cmd, timeout=TIMEOUT)
        if r["returncode"] != 0:
            raise RuntimeError(f"debias leaderboard failed:\n{r['stderr'][-3000:]}")
        deb.append(r)
    keep = ("wall", "cpu", "maxrss_kb")
    results["e2e"] = {
        "debias_cmd": deb_cmd,
        "debias_runs": [{k: r[k] for k in keep} for r in deb],
        "reference_cmd": ref_cmd,
        "reference_runs": [{k: r[k] for k in keep} for r in ref],
    }
    dw, dc = min(r["wall"] for r in deb), min(r["cpu"] for r in deb)
    rw = min(r["wall"] for r in ref) if ref else None
    rc = min(r["cpu"] for r in ref) if ref else None

    log("end to end: startup/import times and the in-process breakdown ...")
    py = sys.executable
    startup = [run_measured([py, "-c", "pass"]) for _ in range(3)]
    imports = [
        run_measured([py, "-c", "import debias.cli, debias.reports.leaderboard, debias.io"])
        for _ in range(3)
    ]
    bd = worker(args, "breakdown", "--repeat", str(args.repeat))
    results["e2e"]["startup"] = {
        "wall": min(r["wall"] for r in startup),
        "cpu": min(r["cpu"] for r in startup),
    }
    results["e2e"]["startup_imports"] = {
        "wall": min(r["wall"] for r in imports),
        "cpu": min(r["cpu"] for r in imports),
    }
    results["e2e"]["breakdown"] = bd

    rr, cr = ratio(rw, dw), ratio(rc, dc)
    table.add(
        "End to end, files -> leaderboard table (subprocess)",
        fmt_s(dw, dc),
        fmt_s(rw, rc),
        rr,
        cr,
        f">= {GOALS['e2e']:.0f}x",
        (rr >= GOALS["e2e"]) if rr is not None else None,
        "debias: `debias leaderboard` CLI (sandwich SEs); ref: benchmarks/perf/reference_e2e.py",
    )
    decode = bd["json_decode"]["cpu"]
    share = decode / dc
    parts = {r["part"]: float(r["cpu s"]) for r in e2e_breakdown_rows(results)}
    parts = {k: v for k, v in parts.items() if k not in ("in-process total", "e2e subprocess")}
    largest = max(parts, key=parts.get)
    table.add(
        "  JSON decoding, share of debias end to end (CPU)",
        f"{100 * share:.0f} % ({decode:.2f} s)",
        goal="largest part",
        met=largest == "read: JSON decode",
        note=f"largest: {largest} {parts[largest]:.2f} s; gunzip {bd['gunzip']['cpu']:.2f} s; "
        f"of {dc:.2f} s CPU",
    )


def e2e_breakdown_rows(results: dict) -> list[dict]:
    e = results.get("e2e")
    if not e:
        return []
    bd, st = e["breakdown"], e["breakdown"]["stages"]
    dc = min(r["cpu"] for r in e["debias_runs"])
    dw = min(r["wall"] for r in e["debias_runs"])
    rows = []

    def add(name, wall, cpu, what):
        rows.append(
            {
                "part": name,
                "wall s": f"{wall:.3f}",
                "cpu s": f"{cpu:.3f}",
                "% of e2e cpu": f"{100 * cpu / dc:.0f}",
                "what": what,
            }
        )

    su, im = e["startup"], e["startup_imports"]
    add("interpreter start-up", su["wall"], su["cpu"], "python -c pass")
    add(
        "imports",
        im["wall"] - su["wall"],
        im["cpu"] - su["cpu"],
        "import debias.cli, debias.reports.leaderboard, debias.io",
    )
    read = st["read"]
    g, j = bd["gunzip"], bd["json_decode"]
    add("read: gunzip", g["wall"], g["cpu"], f"{bd['n_files']} files (serial; overlapped in read)")
    add("read: JSON decode", j["wall"], j["cpu"], f"json.loads, {bd['json_megabytes']:.0f} MB")
    add(
        "read: build Comparisons",
        max(0.0, read["wall"] - g["wall"] - j["wall"]),
        max(0.0, read["cpu"] - g["cpu"] - j["cpu"]),
        "read_alpaca_eval minus gunzip and decode: columns, validation, order",
    )
    names = {
        "fit.regularization_rows": "regularisation rows (reads df_gamed CSV)",
        "fit.mediators": "mediators (length)",
        "fit.difficulty": "difficulty (reads CSV, joins)",
        "fit.design": "model frame + design matrices",
        "fit.solver": "batched Newton, 45 models",
        "fit": "rest of fit(): checks, per-model result objects",
        "lc_sandwich.design": "counterfactual design",
        "lc_sandwich": "LC + sandwich SE (avg_predictions)",
        "degenerate": "degenerate-submission check (flag_models, 45 models)",
    }
    for k, what in names.items():
        if k in st:
            add(k, st[k]["wall"], st[k]["cpu"], what)
    named = sum(v["cpu"] for k, v in st.items() if k != "total")
    namedw = sum(v["wall"] for k, v in st.items() if k != "total")
    add(
        "table",
        st["total"]["wall"] - namedw,
        st["total"]["cpu"] - named,
        "win rates, merge, sort (leaderboard() minus the above)",
    )
    add("in-process total", st["total"]["wall"], st["total"]["cpu"], "leaderboard(...) call")
    add("e2e subprocess", dw, dc, "debias leaderboard ... (min over runs)")
    return rows


def section_stage1(args, table: Table, results: dict) -> None:
    log("stage 1: joint difficulty fit ...")
    d = worker(args, "stage1", "--repeat", str(args.repeat), "--blas1")
    results["stage1"] = d
    w = d["fit_difficulty"]["wall"] - d["fixed_difficulty"]["wall"]
    c = d["fit_difficulty"]["cpu"] - d["fixed_difficulty"]["cpu"]
    fj = d["fit_joint"]
    table.add(
        f"Stage 1 joint difficulty fit, {d['n_models']} models",
        fmt_s(w, c),
        goal=f"<= {GOALS['stage1']:.0f} s",
        met=w <= GOALS["stage1"],
        note=f"fit(difficulty='fit') - fit(file); fit_joint alone {fmt_s(fj['wall'], fj['cpu'])}, "
        f"{d['stage1_n_iter']} Newton steps",
    )
    if "blas1_fit_joint" in d:
        b = d["blas1_fit_joint"]
        blas = d.get("blas") or [{}]
        table.add(
            "  same, BLAS limited to 1 thread (diagnostic)",
            fmt_s(b["wall"], b["cpu"]),
            goal="(info)",
            note=f"fit_joint alone; default BLAS threads: {blas[0].get('num_threads')} "
            f"({blas[0].get('internal_api')} {blas[0].get('version')})",
        )


def section_bootstrap(args, table: Table, results: dict) -> None:
    n = args.n_boot
    log(f"cluster bootstrap, {n} replicates, n_jobs=2 ...")
    d = worker(args, "bootstrap", "--n-boot", str(n), "--jobs", "2")
    results["bootstrap"] = d
    scale = 1000 / n
    w = d["wall"] * scale
    cpu = d["_process"]["cpu"]
    note = f"whole process CPU {cpu:.0f} s incl. data loading and workers"
    if n != 1000:
        note = f"{n} replicates x {scale:g} (extrapolated: an upper bound); " + note
    table.add(
        f"Cluster bootstrap, 1,000 replicates, {d['n_models']} models, 2 jobs",
        fmt_s(w),
        goal=f"<= {GOALS['bootstrap']:.0f} s",
        met=w <= GOALS["bootstrap"],
        note=note,
    )


def section_scaling(args, table: Table, results: dict) -> list[dict]:
    try:
        import pyarrow  # noqa: F401
    except ImportError:
        print(
            "scaling tables skipped: they cache the simulated data as Parquet, which needs "
            "pyarrow (pip install pyarrow, or the project's [dev] extra)"
        )
        return []
    log("scaling: simulated data (cached under benchmarks/.cache/) ...")
    r = run_measured(
        [
            sys.executable,
            str(HERE / "perf" / "simcache.py"),
            "--models",
            *map(str, args.scale_models),
            "--instructions",
            *map(str, args.scale_instructions),
        ],
        timeout=TIMEOUT,
    )
    if r["returncode"] != 0:
        raise RuntimeError(f"simcache failed:\n{r['stderr'][-3000:]}")
    sizes = [(m, simcache.N_INSTRUCTIONS_FOR_MODELS, "models") for m in args.scale_models]
    sizes += [
        (simcache.N_MODELS_FOR_INSTRUCTIONS, i, "instructions") for i in args.scale_instructions
    ]
    rows = []
    done: dict[tuple[int, int], dict] = {}
    for m, i, axis in sizes:
        if (m, i) not in done:
            rep = 3 if m * i <= 100 * 805 else 1
            if args.quick:
                rep = min(rep, 2)
            log(f"  {m} models x {i} instructions (repeat {rep}) ...")
            done[(m, i)] = worker(
                args, "scaling", "--parquet", str(simcache.path_for(m, i)), "--repeat", str(rep)
            )
        d = done[(m, i)]
        fit, lc = d["fit_difficulty"], d["lc_sandwich"]
        tot_w, tot_c = fit["wall"] + lc["wall"], fit["cpu"] + lc["cpu"]
        peak = d["peak_after_fits_kb"]
        own = max(0, peak - d["rss_after_load_kb"])
        per = m if axis == "models" else i
        rows.append(
            {
                "axis": axis,
                "models": m,
                "instructions": i,
                "rows": d["n_rows"],
                "load s": f"{d['load']['wall']:.2f}",
                "RSS loaded MB": f"{d['rss_after_load_kb'] / 1024:.0f}",
                "fit no-diff s": f"{d['fit_no_difficulty']['wall']:.2f}",
                "fit +difficulty s": f"{fit['wall']:.2f}",
                "LC sandwich s": f"{lc['wall']:.2f}",
                "fit+LC s": f"{tot_w:.2f}",
                "fit+LC cpu s": f"{tot_c:.2f}",
                f"ms per {axis[:-1]}": f"{1000 * tot_w / per:.1f}",
                "peak RSS MB": f"{peak / 1024:.0f}",
                "fit's own MB": f"{own / 1024:.0f}",
                f"own KB per {axis[:-1]}": f"{own / per:.0f}",
                "_tot_w": tot_w,
                "_tot_c": tot_c,
                "_own": own,
                "_peak": peak,
            }
        )
    results["scaling"] = {f"{m}x{i}": v for (m, i), v in done.items()}

    # goal at the largest model size (1000 x 805 in the full run)
    big = [r for r in rows if r["axis"] == "models"]
    if big:
        b = max(big, key=lambda r: r["models"])
        full = b["models"] >= 1000
        label = f"Scaling: {b['models']} models x {b['instructions']} instr., 4 mediators, fit+LC+sandwich"
        table.add(
            label + " time",
            fmt_s(b["_tot_w"], b["_tot_c"]),
            goal=f"<= {GOALS['scale_time']:.0f} s",
            met=(b["_tot_w"] <= GOALS["scale_time"]) if full else None,
            note="" if full else "not the goal size (--quick)",
        )
        table.add(
            "  ... peak memory (RSS, incl. the loaded data)",
            f"{b['_peak'] / 1024**2:.2f} GB",
            goal=f"<= {GOALS['scale_mem_gb']:g} GB",
            met=(b["_peak"] / 1024**2 <= GOALS["scale_mem_gb"]) if full else None,
            note=f"data alone {float(b['RSS loaded MB']) / 1024:.2f} GB; fit's own "
            f"{b['_own'] / 1024**2:.2f} GB",
        )
    for axis in ("models", "instructions"):
        pts = sorted((r for r in rows if r["axis"] == axis), key=lambda r: r[axis])
        if len(pts) < 2:
            continue
        a, b = pts[-2], pts[-1]
        st = slope(a[axis], a["_tot_w"], b[axis], b["_tot_w"])
        sm = slope(a[axis], a["_own"], b[axis], b["_own"])
        ok = None
        if st is not None and sm is not None:
            ok = st <= GOALS["linear_slope"] and sm <= GOALS["linear_slope"]
        table.add(
            f"  linear in {axis}? log-log slope {a[axis]} -> {b[axis]}",
            f"time {st:.2f}, memory {sm:.2f}" if st is not None and sm is not None else "-",
            goal=f"<= {GOALS['linear_slope']} (1 = linear)",
            met=ok,
            note="time = fit+LC wall; memory = fit's own peak",
        )
    return rows


def section_arena(args, table: Table, results: dict) -> None:
    """benchmarks/arena_scale.py: debias vs the bincount Newton floor, scikit-learn, arena-rank."""
    size = ["--battles", "300000", "--models", "100"] if args.quick else []
    log(f"simulated Arena ({'300k x 100' if args.quick else '3M x 250'}): arena_scale.py ...")
    r = run_measured([sys.executable, str(HERE / "arena_scale.py"), *size], timeout=TIMEOUT)
    if r["returncode"] != 0:
        raise RuntimeError(f"arena_scale.py failed:\n{r['stderr'][-3000:]}")
    out = json.loads((HERE / "results" / "arena_scale.json").read_text())
    results["arena_scale"] = out
    rows = {row["method"]: row for row in out["rows"]}
    ours, floor = rows["debias"], rows["floor"]
    size_label = f"{out['meta']['battles']:,} battles x {out['meta']['models']} models"
    table.add(
        f"arena fit+sandwich ({size_label})",
        fmt_s(ours["total_s"]),
        fmt_s(floor["total_s"]),
        ratio(floor["total_s"], ours["total_s"]),
        goal=">= 0.5x (within 2x of the floor)",
        met=ours["total_s"] <= 2 * floor["total_s"],
        note=f"reference = floor; peak {ours['peak_gb']:.2f} GB vs {floor['peak_gb']:.2f} GB",
    )
    if "arena-rank" in rows:
        other = rows["arena-rank"]
        table.add(
            "arena: arena-rank 0.1.1 fit+sandwich",
            fmt_s(ours["total_s"]),
            fmt_s(other["total_s"]),
            ratio(other["total_s"], ours["total_s"]),
            goal="debias well ahead",
            met=other["total_s"] > 2 * ours["total_s"],
            note=f"arena-rank peak {other['peak_gb']:.2f} GB",
        )
    if "sklearn" in rows:
        table.add(
            "arena: scikit-learn (FastChat) strength error",
            "exact",
            f"{rows['sklearn']['max_strength_diff']:.3f} logit",
            note=f"lbfgs default tol, {rows['sklearn'].get('iterations', '?')} iterations",
        )


# --------------------------------------------------------------------------- main
def parse_args(argv=None):
    p = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter
    )
    p.add_argument("--data", default=default_data(), help="AlpacaEval data pack directory")
    p.add_argument(
        "--with-reference",
        action="store_true",
        help="set up alpaca-eval 0.6.6 in benchmarks/.ref-venv if needed and time it too",
    )
    p.add_argument("--quick", action="store_true", help="fewer repeats, smaller scaling table")
    p.add_argument(
        "--only",
        nargs="+",
        choices=["fitting", "e2e", "stage1", "bootstrap", "scaling", "arena"],
        help="run only these sections",
    )
    p.add_argument("--out", type=Path, default=HERE / "results", help="results folder")
    p.add_argument("--repeat", type=int, help="repeats of in-process measurements (default 3)")
    p.add_argument("--n-boot", type=int, help="bootstrap replicates (default 1000; quick 200)")
    p.add_argument(
        "--blas-threads",
        type=int,
        help="set OPENBLAS/OMP/MKL_NUM_THREADS for every measured process, debias and "
        "reference alike (default: leave the environment alone)",
    )
    args = p.parse_args(argv)
    args.repeat = args.repeat or (2 if args.quick else 3)
    args.repeat_e2e = 2 if args.quick else 3
    args.n_boot = args.n_boot or (200 if args.quick else 1000)
    args.scale_models = [10, 100, 300] if args.quick else [10, 30, 100, 300, 1000]
    args.scale_instructions = [200, 805] if args.quick else [200, 805, 3200]
    if args.data:
        args.data = Path(args.data).resolve()
        if not (args.data / "results").is_dir():
            p.error(f"--data {args.data}: no results/ folder (the AlpacaEval data pack)")
    return args


def setup_reference() -> Path:
    venv = Path(os.environ.get("REF_VENV", HERE / ".ref-venv"))
    log(f"reference: bash {REF_SETUP.relative_to(REPO)} (idempotent) ...")
    r = subprocess.run(["bash", str(REF_SETUP)], capture_output=True, text=True)
    if r.returncode != 0:
        raise RuntimeError(f"setup_reference.sh failed:\n{r.stdout[-2000:]}\n{r.stderr[-2000:]}")
    print("  " + r.stdout.strip().splitlines()[-1], flush=True)
    return venv / "bin" / "python"


def git_rev() -> str:
    try:
        rev = subprocess.run(
            ["git", "-C", str(REPO), "rev-parse", "--short", "HEAD"], capture_output=True, text=True
        ).stdout.strip()
        dirty = subprocess.run(
            ["git", "-C", str(REPO), "status", "--porcelain", "--", "debias"],
            capture_output=True,
            text=True,
        ).stdout.strip()
        return rev + ("+dirty" if dirty else "")
    except OSError:
        return "unknown"


def main(argv=None) -> int:
    args = parse_args(argv)
    args.out.mkdir(parents=True, exist_ok=True)
    only = set(args.only or ["fitting", "e2e", "stage1", "bootstrap", "scaling", "arena"])
    from importlib.metadata import version

    env = {
        "started": datetime.now(UTC).isoformat(timespec="seconds"),
        "python": platform.python_version(),
        "machine": platform.machine(),
        "processor": platform.processor(),
        "cpu_count": os.cpu_count(),
        "debias": f"{version('debias')} ({git_rev()})",
        "numpy": version("numpy"),
        "pandas": version("pandas"),
        "scipy": version("scipy"),
        "loadavg_start": loadavg(),
        "data": str(args.data),
        "quick": args.quick,
    }
    print(
        f"debias benchmarks: {env['debias']}, Python {env['python']}, {env['cpu_count']} CPUs, "
        f"load average {env['loadavg_start']}",
        flush=True,
    )
    if args.blas_threads:
        for var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
            SUB_ENV[var] = str(args.blas_threads)
        print(f"measured processes run with {args.blas_threads} BLAS thread(s)", flush=True)
    env["blas_threads"] = args.blas_threads or "default"
    args.ref_python = None
    if args.with_reference:
        if not args.data:
            print("--with-reference needs the data pack (--data): reference rows skipped")
        else:
            args.ref_python = setup_reference()
    if not args.data:
        print(
            "no AlpacaEval data pack (--data / $DEBIAS_ALPACA_EVAL_DIR): only the scaling "
            "tables run",
            flush=True,
        )
        only &= {"scaling", "arena"}

    table, results, scaling_rows = Table(), {"environment": env}, []
    t0 = time.perf_counter()
    if "fitting" in only:
        section_fitting(args, table, results)
    if "e2e" in only:
        section_e2e(args, table, results)
    if "stage1" in only:
        section_stage1(args, table, results)
    if "bootstrap" in only:
        section_bootstrap(args, table, results)
    if "scaling" in only:
        scaling_rows = section_scaling(args, table, results)
    if "arena" in only:
        section_arena(args, table, results)
    env["loadavg_end"] = loadavg()
    env["seconds"] = time.perf_counter() - t0

    text = []
    bd = e2e_breakdown_rows(results)
    if bd:
        print(
            "\nWhere debias's end-to-end time goes (min over runs; in-process parts from "
            "benchmarks/perf/debias_worker.py breakdown):"
        )
        text.append(print_table(bd))
    if scaling_rows:
        for axis in ("models", "instructions"):
            rows = [
                {k: v for k, v in r.items() if not k.startswith("_") and k != "axis"}
                for r in scaling_rows
                if r["axis"] == axis
            ]
            if rows:
                print(
                    f"\nScaling in {axis} (4 mediators; 'fit+LC' = fit with difficulty='fit' + "
                    "avg_predictions(se='sandwich'); wall seconds):"
                )
                text.append(print_table(rows))
    print(
        f"\nSummary (load average {env['loadavg_start']} at start, {env['loadavg_end']} at "
        f"end, {env['cpu_count']} CPUs; ratio = reference / debias, wall; cpu ratio on "
        "CPU seconds):"
    )
    text.append(print_table(table.rows))

    with open(args.out / "benchmark_summary.csv", "w", newline="") as fh:
        w = csv.DictWriter(fh, fieldnames=list(table.rows[0]) if table.rows else ["measurement"])
        w.writeheader()
        w.writerows(table.rows)
    if scaling_rows:
        with open(args.out / "benchmark_scaling.csv", "w", newline="") as fh:
            keys = ["axis", "models", "instructions", "rows", "_tot_w", "_tot_c", "_own", "_peak"]
            w = csv.writer(fh)
            w.writerow(
                [
                    "axis",
                    "models",
                    "instructions",
                    "rows",
                    "fit_lc_wall_s",
                    "fit_lc_cpu_s",
                    "fit_own_peak_kb",
                    "peak_rss_kb",
                ]
            )
            for r in scaling_rows:
                w.writerow([r[k] for k in keys])
    results["summary"] = table.rows
    results["e2e_breakdown"] = bd
    dump = json.dumps(results, indent=1, default=str)
    (args.out / "benchmark_results.json").write_text(dump)
    stamp = datetime.now().strftime("%Y%m%d-%H%M%S")
    (args.out / f"benchmark_results_{stamp}.json").write_text(dump)
    (args.out / "benchmark_tables.md").write_text("\n\n".join(text) + "\n")
    print(
        f"\nwrote {args.out}/benchmark_summary.csv, benchmark_results.json, "
        f"benchmark_tables.md ({env['seconds']:.0f} s)"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
