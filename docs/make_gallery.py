"""Make the README's plot gallery (docs/gallery/*.png) from the committed simulated fixture.

Run from the project root: ``python docs/make_gallery.py``. Deterministic: the fixture
tree (``fixtures/alpaca_eval_sim``, made by ``debias.simulate``) and fixed settings;
small PNGs (80 dpi). Nothing from the AlpacaEval data pack is used.
"""

from __future__ import annotations

import sys
import warnings
from pathlib import Path

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt

from debias import leaderboard_fit, plots, winrate_matrix

ROOT = Path(__file__).resolve().parents[1]
TREE = ROOT / "fixtures" / "alpaca_eval_sim"
OUT = ROOT / "docs" / "gallery"
DPI = 80


def _save(fig, name: str) -> Path:
    path = OUT / name
    tmp = path.with_suffix(".tmp.png")
    # no timestamp or software version in the file: the same bytes on every run
    fig.savefig(tmp, dpi=DPI, metadata={"Software": None})
    plt.close(fig)
    tmp.replace(path)
    return path


def main() -> int:
    OUT.mkdir(parents=True, exist_ok=True)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the fixture's awkward cases warn on purpose
        table, fit = leaderboard_fit(
            TREE, judge="simulated_judge", preset="length_controlled_noreg"
        )
        written = [
            _save(plots.raw_vs_controlled(table, n_labels=4), "raw_vs_controlled.png"),
            _save(plots.length_effect(fit), "length_effect.png"),
            _save(plots.winrate_heatmap(winrate_matrix(fit)), "winrate_heatmap.png"),
            _save(plots.coefficient_forest(fit), "coefficient_forest.png"),
        ]
    for path in written:
        print(f"{path.relative_to(ROOT)}: {path.stat().st_size / 1024:.0f} KB")
    return 0


if __name__ == "__main__":
    sys.exit(main())
