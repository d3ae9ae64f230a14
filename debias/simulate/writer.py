"""Write a simulation in the published AlpacaEval file layout, through :mod:`debias.io.writer`.

Examples
--------
>>> import tempfile
>>> from debias.simulate import simulate
>>> root = write_alpaca_eval_tree(simulate(n_models=1, n_instructions=3, seed=0), tempfile.mkdtemp())
>>> sorted(p.name for p in (root / "results").iterdir())
['baseline', 'model_0']
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from debias.atomic import atomic_dir, write_text
from debias.errors import ParameterError, check_param
from debias.io.writer import write_annotations, write_model_outputs
from debias.simulate.simulation import Simulation

__all__ = ["annotation_records", "baseline_outputs", "write_alpaca_eval_tree"]


def _price_time(instruction: str, out1: str, out2: str) -> tuple[float, float]:
    """A deterministic stand-in for the judge's cost: $0.01 per 1k tokens, ~4 chars a token."""
    tokens = (len(instruction) + len(out1) + len(out2)) / 4 + 200
    return round(tokens * 1e-5, 5), round(0.4 + tokens * 2e-4, 4)


def annotation_records(
    sim: Simulation, judge: str | None = None
) -> dict[str, list[dict[str, Any]]]:
    """The AlpacaEval annotation records of every model, ``{model: [record, ...]}``.

    Parameters
    ----------
    sim : Simulation
    judge : str, optional
        The annotator's name (default: the simulation's judge).

    Returns
    -------
    dict of str to list of dict
        Records with ``instruction, output_1, generator_1, dataset, output_2,
        generator_2, annotator, preference, price_per_example, time_per_example``;
        ``preference`` on AlpacaEval's 1..2 scale (1 + P(model), rounded to 10
        decimals, ``None`` for no verdict). The baseline against itself has
        ``preference`` 1.5 and no price or time, as in the published files.

    Examples
    --------
    >>> from debias.simulate import simulate
    >>> recs = annotation_records(simulate(n_models=1, n_instructions=3, seed=0))
    >>> sorted(recs)
    ['baseline', 'model_0']
    >>> recs["baseline"][0]["preference"]
    1.5
    """
    data = sim.comparisons.data
    judge = judge or str(sim.params["judge"])
    cols = {c: data[c].tolist() for c in data.columns}  # plain Python values: fast
    pref = data["preference"].to_numpy()
    pref = [None if math.isnan(x) else round(1.0 + x, 10) for x in pref.tolist()]
    dataset = [None if pd.isna(x) else x for x in cols["dataset"]]
    out: dict[str, list[dict[str, Any]]] = {}
    for i, (instr, o1, b, o2, m) in enumerate(
        zip(
            cols["instruction"],
            cols["output_baseline"],
            cols["baseline"],
            cols["output_model"],
            cols["model"],
            strict=True,
        )
    ):
        price, time = (None, None) if m == b else _price_time(instr, o1, o2)
        out.setdefault(m, []).append(
            {
                "instruction": instr,
                "output_1": o1,
                "generator_1": b,
                "dataset": dataset[i],
                "output_2": o2,
                "generator_2": m,
                "annotator": judge,
                "preference": pref[i],
                "price_per_example": price,
                "time_per_example": time,
            }
        )
    return out


def write_alpaca_eval_tree(
    sim: Simulation,
    out: str | Path,
    judge: str | None = None,
    *,
    compress: bool = False,
    models: Sequence[str] | None = None,
    truth_file: str | None = "truth.csv",
    difficulty_file: str | None = "instruction_difficulty.csv",
    indent: int | None = None,
) -> Path:
    """Write a simulation in the published AlpacaEval file layout.

    Writes ``out/results/<model>/<judge>/annotations.json`` (``.json.gz`` with
    ``compress``) for every model including the baseline judged against itself,
    ``out/results/<baseline>/model_outputs.json`` (instruction, output,
    generator, dataset; canonical instruction order), the truth table and the
    per-instruction difficulty (``index,instruction_difficulty``, index =
    position in the canonical order, like the reference's difficulty file).

    Parameters
    ----------
    sim : Simulation
    out : str or Path
        Root directory. A new or empty one is built under a temporary name and renamed
        into place, so an interrupted write leaves no tree that reads as complete; in an
        existing tree (e.g. a second judge) each file is replaced atomically.
    judge : str, optional
        Judge directory and ``annotator`` name (default: the simulation's judge,
        ``"simulated_judge"``).
    compress : bool, default False
        Gzip the annotation files (reproducibly: no timestamp in the header).
    models : sequence of str, optional
        Write only these models' annotations (default: all).
    truth_file, difficulty_file : str or None
        File names under ``out`` for the truth table and the difficulty
        (``None`` to skip).
    indent : int or None, default None
        JSON indentation; ``None`` writes one record per line (fastest, and
        still diff-friendly).

    Returns
    -------
    Path
        ``out``.

    Raises
    ------
    ParameterError
        The simulation has no text (``simulate(text=False)``), or ``models``
        names an unknown model.

    Examples
    --------
    >>> import json, tempfile
    >>> from debias.simulate import simulate
    >>> sim = simulate(n_models=2, n_instructions=5, seed=0)
    >>> root = write_alpaca_eval_tree(sim, tempfile.mkdtemp())
    >>> recs = json.loads((root / "results/model_0/simulated_judge/annotations.json").read_text())
    >>> len(recs), 1 <= recs[0]["preference"] <= 2
    (5, True)
    """
    check_param("sim", type(sim).__name__, "a Simulation", isinstance(sim, Simulation))
    if not sim.params.get("text", True):
        raise ParameterError(
            "This simulation has no text (simulate(text=False)); simulate with text=True to write "
            "an AlpacaEval tree."
        )
    root = Path(out)
    judge = judge or str(sim.params["judge"])
    check_param("judge", judge, "a name usable as a directory", "/" not in judge)
    records = annotation_records(sim, judge)
    if models is not None:
        unknown = [m for m in models if m not in records]
        if unknown:
            raise ParameterError(f"The 'models' parameter names unknown model(s) {unknown}.")
        records = {m: records[m] for m in models}
    if not root.exists() or (root.is_dir() and not any(root.iterdir())):
        with atomic_dir(root) as tmp:
            _write_tree(sim, tmp, judge, records, compress, truth_file, difficulty_file, indent)
        return root
    _write_tree(sim, root, judge, records, compress, truth_file, difficulty_file, indent)
    return root


def _write_tree(sim, root, judge, records, compress, truth_file, difficulty_file, indent) -> None:
    name = "annotations.json.gz" if compress else "annotations.json"
    for model, recs in records.items():
        write_annotations(recs, root / "results" / model / judge / name, indent=indent)
    baseline = str(sim.params["baseline"])
    write_model_outputs(
        baseline_outputs(sim), root / "results" / baseline / "model_outputs.json", indent=indent
    )
    if truth_file:
        write_text(root / truth_file, sim.truth.to_csv(index=False, lineterminator="\n"))
    if difficulty_file:
        diff = pd.DataFrame(
            {
                "index": np.arange(len(sim.difficulty)),
                "instruction_difficulty": sim.difficulty.to_numpy(),
            }
        )
        write_text(root / difficulty_file, diff.to_csv(index=False, lineterminator="\n"))


def baseline_outputs(sim: Simulation) -> list[dict[str, Any]]:
    """The baseline's ``model_outputs.json`` records, in canonical instruction order.

    Examples
    --------
    >>> from debias.simulate import simulate
    >>> recs = baseline_outputs(simulate(n_models=1, n_instructions=4, seed=0))
    >>> len(recs), sorted(recs[0])
    (4, ['dataset', 'generator', 'instruction', 'output'])
    """
    baseline = str(sim.params["baseline"])
    return [
        {
            "instruction": r.instruction,
            "output": r.output_baseline,
            "generator": baseline,
            "dataset": r.dataset,
        }
        for r in sim.instructions.itertuples(index=False)
    ]
