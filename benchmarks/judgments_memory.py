"""Memory held by the same judgments as today's Comparisons and as Judgments.

Comparisons stores both answers' texts on every row (the baseline's answer once per
model); Judgments stores each distinct answer once and refers to it by integer id.

One simulation (``debias.simulate.simulate(n_models, n_instructions, seed=0)``) is
written to a temporary Parquet file outside every measured region; then one fresh
process per layout reads it and reports

- ``held``: pandas deep ``memory_usage`` of the tables the object keeps;
- ``arrow``: bytes held by pyarrow's memory pool (where pandas' ``str`` columns live);
- ``peak``: the process's peak RSS growth while building. For Judgments this includes the
  Comparisons it is converted from (readers still build Comparisons), so it is not lower.

    python benchmarks/judgments_memory.py --models 200 --instructions 805
"""

from __future__ import annotations

import argparse
import gc
import json
import resource
import subprocess
import sys
import tempfile
import warnings
from pathlib import Path

MB = 2**20


def _rss() -> int:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * resource.getpagesize()


def _child(path: str, layout: str) -> dict:
    import pandas as pd
    import pyarrow as pa

    from debias import Comparisons
    from debias.judgments import Judgments

    warnings.simplefilter("ignore")
    gc.collect()
    rss0, peak0, arrow0 = (
        _rss(),
        resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024,
        (pa.total_allocated_bytes()),
    )
    comps = Comparisons.from_dataframe(pd.read_parquet(path), source=path)
    if layout == "comparisons":
        kept, held = comps, int(comps.data.memory_usage(deep=True).sum())
    else:
        kept = Judgments.from_comparisons(comps)
        del comps
        held = kept.memory_bytes()
    gc.collect()
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    return {
        "layout": layout,
        "rows": len(kept),
        "held_mb": held / MB,
        "arrow_mb": (pa.total_allocated_bytes() - arrow0) / MB,
        "peak_mb": (max(peak, peak0) - rss0) / MB,
    }


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--models", type=int, default=200)
    p.add_argument("--instructions", type=int, default=805)
    p.add_argument("--child", nargs=2, metavar=("PARQUET", "LAYOUT"), help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    if args.child:
        print(json.dumps(_child(*args.child)))
        return 0
    from debias.simulate import simulate

    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "sim.parquet"
        sim = simulate(n_models=args.models, n_instructions=args.instructions, seed=0)
        sim.comparisons.data.to_parquet(path, index=False)
        del sim
        print(f"{args.models} models x {args.instructions} instructions, seed 0")
        print(f"{'layout':<12} {'rows':>8} {'held MB':>9} {'arrow MB':>9} {'peak MB':>8}")
        for layout in ("comparisons", "judgments"):
            out = subprocess.run(
                [sys.executable, __file__, "--child", str(path), layout],
                check=True,
                capture_output=True,
                text=True,
            )
            r = json.loads(out.stdout.strip().splitlines()[-1])
            print(
                f"{r['layout']:<12} {r['rows']:>8} {r['held_mb']:>9.1f} {r['arrow_mb']:>9.1f} "
                f"{r['peak_mb']:>8.1f}"
            )
    return 0


if __name__ == "__main__":
    sys.exit(main())
