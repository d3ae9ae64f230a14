"""Read the estimator's side inputs from files: a stage-1 difficulty CSV and the baseline's
variant annotations (``regularize=``). The estimator reads no file; :func:`leaderboard
<debias.reports.leaderboard.leaderboard>`, the audit and the CLI accept paths and resolve
them here before fitting."""

from __future__ import annotations

from pathlib import Path

from debias.data import Comparisons
from debias.model.difficulty import Difficulty


def _is_path(value, keywords: tuple[str, ...]) -> bool:
    return isinstance(value, Path) or (isinstance(value, str) and value not in keywords)


def read_difficulty(path: str | Path, comparisons: Comparisons) -> Difficulty:
    """A difficulty CSV (``instruction,difficulty`` or the reference's index layout), aligned
    to ``comparisons``' evaluation set.

    Examples
    --------
    >>> from debias.simulate import simulate
    >>> from debias.model.glm import PreferenceGLM
    >>> import tempfile, pathlib
    >>> sim = simulate(n_models=3, n_instructions=40, seed=0)
    >>> fit = PreferenceGLM(preset="length_controlled_noreg").fit(sim.comparisons)
    >>> path = fit.difficulty_.to_csv(pathlib.Path(tempfile.mkdtemp()) / "d.csv")
    >>> len(read_difficulty(path, sim.comparisons)) == len(fit.difficulty_)
    True
    """
    return Difficulty.from_csv(path, comparisons.instruction_order)


def read_model_inputs(comparisons: Comparisons, *, difficulty="fit", regularize=None) -> tuple:
    """``(difficulty, regularize)`` with any path read: a difficulty CSV into a
    :class:`~debias.model.difficulty.Difficulty`, the baseline's variant annotations (or a
    ``df_gamed`` table) into what ``PreferenceGLM(regularize=)`` takes; keywords
    (``"fit"``, ``"none"``, ``"pool"``) and objects pass through unchanged."""
    if _is_path(difficulty, ("fit", "none")):
        difficulty = read_difficulty(difficulty, comparisons)
    if _is_path(regularize, ("pool",)):
        from debias.io.regularization import read_regularization

        regularize = read_regularization(
            regularize, instruction_order=comparisons.instruction_order
        )
    return difficulty, regularize
