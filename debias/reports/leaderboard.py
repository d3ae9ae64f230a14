"""The end-to-end job: judgments in, a length-controlled leaderboard out."""

from __future__ import annotations

import inspect
import sys
from pathlib import Path

import numpy as np
import pandas as pd

from debias.counterfactual import avg_predictions
from debias.data import Comparisons
from debias.errors import ParameterError, check_param
from debias.model.glm import PreferenceGLM
from debias.model.params import GLM_CONSTRAINTS, INFERENCE_CONSTRAINTS, validate
from debias.reports.degenerate import flag_models

COLUMNS = (
    "model",
    "n",
    "n_missing",
    "win_rate",
    "win_rate_se",
    "lc_win_rate",
    "lc_win_rate_se",
    "lc_win_rate_ci_low",
    "lc_win_rate_ci_high",
    "lc_note",
    "avg_length",
)


def load_comparisons(
    source,
    *,
    judge: str | None = None,
    models=None,
    exclude=None,
    mapping=None,
    baseline: str | None = None,
    preference_scale: str | None = None,
    progress: bool = False,
) -> Comparisons:
    """Read judgments from whatever the user gave, as :class:`Comparisons`.

    Parameters
    ----------
    source : Comparisons, pandas.DataFrame, path or list of paths
        A Comparisons (passed through), a DataFrame (validated by
        :meth:`Comparisons.from_dataframe`), a table file (``.csv .tsv .jsonl
        .ndjson .json .parquet .pq``, text ones optionally ``.gz``: read by
        :func:`debias.io.read_comparisons`), or an AlpacaEval tree / annotation
        file(s) (:func:`debias.io.read_alpaca_eval`). A ``.json[.gz]`` file is read
        as AlpacaEval annotations unless ``mapping=`` or
        ``preference_scale="probability"`` is given (then as a table of records).
    judge : str, optional
        Keep this judge (AlpacaEval: the judge folder name).
    models, exclude : str or list of str, optional
        Models to keep / to leave out (a plain string is one name).
    mapping : dict, optional
        Column names of a table or DataFrame, ``{your column: field}`` or
        ``{field: your column}``.
    baseline : str, optional
        Constant baseline for a table without a baseline column (AlpacaEval: keep
        the judgments against this baseline).
    preference_scale : {"probability", "alpaca_eval"}, optional
        Scale of a table's preferences (default ``"probability"``).
    progress : bool
        Progress bar while reading AlpacaEval files (stderr).

    Examples
    --------
    >>> import pandas as pd
    >>> df = pd.DataFrame({"prompt": ["a", "b"], "model": "m", "verdict": ["model", "tie"]})
    >>> load_comparisons(df, mapping={"prompt": "instruction", "verdict": "preference"},
    ...                  baseline="gpt4").win_rates()["win_rate"].tolist()
    [75.0]
    """
    import pandas as pd

    from debias.io import read_alpaca_eval, read_comparisons
    from debias.io.tables import table_format
    from debias.io.tree import as_names

    models, exclude = as_names(models, "models"), as_names(exclude, "exclude")
    table_options = {"mapping": mapping, "preference_scale": preference_scale or "probability"}
    if isinstance(source, Comparisons):
        comps = source
    elif isinstance(source, pd.DataFrame):
        comps = Comparisons.from_dataframe(source, baseline=baseline, **table_options)
        baseline = None
    elif (fmt := table_format(source) if isinstance(source, (str, Path)) else None) and (
        fmt != "json" or mapping is not None or preference_scale == "probability"
    ):
        comps = read_comparisons(source, baseline=baseline, **table_options)
        baseline = None
    else:
        if mapping is not None or preference_scale not in (None, "alpaca_eval"):
            raise ParameterError(
                f"{source}: mapping= and preference_scale= apply to tables (.csv, .tsv, .jsonl, "
                ".json, .parquet); AlpacaEval annotations have fixed fields and the 1..2 scale."
            )
        return read_alpaca_eval(
            source,
            judge=judge,
            models=models,
            exclude=exclude,
            baseline=baseline,
            progress=progress,
        )
    if baseline is not None:
        comps = comps.select(baseline=baseline)
    return comps.select(judge=judge, models=models, exclude=exclude)


def _stage(progress: bool, message: str) -> None:
    """A stage message on stderr when progress is shown (the CLI, unless --quiet)."""
    if progress:
        print(message, file=sys.stderr, flush=True)


def leaderboard_fit(
    source,
    *,
    judge: str | None = None,
    preset: str | None = None,
    formula: str | None = None,
    difficulty="fit",
    regularize=None,
    lam: float | None = None,
    compat: str | None = None,
    compat_folds: str | None = None,
    reference_inputs: str | None = None,
    difficulty_join: str | None = None,
    se: str = "sandwich",
    level: float = 0.95,
    n_boot: int = 1000,
    seed: int = 0,
    n_jobs: int = 1,
    progress: bool = False,
) -> tuple[pd.DataFrame, PreferenceGLM]:
    """Fit the preference GLM and tabulate raw and length-controlled win rates: ``(table, fit)``.

    :func:`leaderboard` returns the table alone (the same keywords).

    Parameters
    ----------
    source : Comparisons or path
        Judgments of one judge against one baseline: an AlpacaEval data root,
        ``results/`` folder or annotation file(s), or a CSV/JSONL/Parquet table.
    judge : str, optional
        Which judge (needed when several are present).
    preset, formula : str, optional
        The model (default preset ``length_controlled_v1``).
    difficulty : {"fit", "none"} or path or Difficulty
        Instruction difficulty (see :class:`~debias.model.glm.PreferenceGLM`).
    regularize : path or Comparisons or DataFrame, optional
        The baseline's variants judged against the baseline (annotation files or a
        ``df_gamed`` CSV). Default: ``<baseline>_verbose``/``_concise`` if present.
    lam : float, optional
        Regularisation weight (default: the preset's).
    compat : {None, "alpaca_eval"}
        ``"alpaca_eval"``: the reference's exact procedure (L1, C chosen by grouped CV;
        rows without a preference kept in the length SD and the LC average, as the
        reference does). Without the reference's difficulty and gamed-variant inputs
        it warns that the result is not the reference's (a FitWarning).
    compat_folds : {"sklearn-1.4", "current"}, optional
        With ``compat``: whose GroupKFold fold assignment picks C (default
        "sklearn-1.4", the stack of the published numbers; "current" equals
        alpaca-eval 0.6.6 installed today). See :class:`~debias.model.glm.PreferenceGLM`.
    reference_inputs : {None, "download"}
        With ``compat``: "download" uses the reference's own ``instruction_difficulty.csv``
        and ``df_gamed.csv`` (fetched once from its hub, then cached; see
        :func:`debias.model.solvers.alpaca_eval.reference_inputs`) wherever ``difficulty`` is "fit" and
        ``regularize`` is None.
    difficulty_join : {"instruction", "position"}, optional
        Default "instruction" ("position" with ``compat="alpaca_eval"``): "position"
        reproduces the reference's join of γ by row position, a defect that shifts the
        published LC of the models with missing rows by up to 2.8 points.
    se : {"sem", "sandwich", "bootstrap"}
        Uncertainty of the LC win rate (see :func:`~debias.counterfactual.avg_predictions`).
    level : float
        Confidence level of ``lc_win_rate_ci_low, lc_win_rate_ci_high``.

    Returns
    -------
    table : pandas.DataFrame
        Columns ``model, n, n_missing, win_rate, win_rate_se, lc_win_rate,
        lc_win_rate_se, lc_win_rate_ci_low, lc_win_rate_ci_high, lc_note, avg_length`` (percent;
        characters), sorted by ``lc_win_rate`` (missing last), and ``flags``: why a model's answers look degenerate
        (:func:`debias.reports.degenerate.flag_models`; '' when not).

        No number the data cannot support: ``lc_win_rate`` is NaN when the model's
        judgments cannot support its controlled score (too few judgments, separation,
        a mediator without variation), the interval is NaN when the method has none (an
        L1-penalised or bounded fit; the baseline, 50 by definition), and ``lc_note``
        says why ('' when all is well). See
        :meth:`debias.model.results.ModelResults.support_problem`.

    Examples
    --------
    >>> from debias.simulate import simulate
    >>> sim = simulate(n_models=3, n_instructions=100, seed=0)
    >>> table, fit = leaderboard_fit(sim.comparisons, preset="length_controlled_minimal", difficulty="none")
    >>> fit.baseline_ == sim.comparisons.baselines[0]
    True
    """
    check_param("compat", compat, "None or 'alpaca_eval'", compat in (None, "alpaca_eval"))
    check_param(
        "reference_inputs",
        reference_inputs,
        "None or 'download'",
        reference_inputs in (None, "download"),
    )
    if compat is None and (compat_folds is not None or reference_inputs is not None):
        raise ParameterError(
            "compat_folds= and reference_inputs= apply to the reference's procedure only: add "
            "compat='alpaca_eval'."
        )
    settings = dict(se=se, level=level, n_boot=n_boot, seed=seed, n_jobs=n_jobs, progress=progress)
    constraints = {**INFERENCE_CONSTRAINTS, "lam": GLM_CONSTRAINTS["lam"]}
    validate(constraints, {**settings, "lam": lam}, "leaderboard")
    if preset is not None and formula is not None:
        raise ParameterError("Give either preset= or formula=, not both.")
    comps = load_comparisons(source, judge=judge, progress=progress)
    if judge is None and len(comps.judges) > 1:
        comps.require_fixed_baseline()  # raises the explanatory error
    if reference_inputs == "download":
        from debias.model.solvers.alpaca_eval import reference_inputs as _fetch_reference_inputs

        hub = _fetch_reference_inputs(download=True)
        difficulty = (
            hub["difficulty"] if isinstance(difficulty, str) and difficulty == "fit" else difficulty
        )
        regularize = hub["regularize"] if regularize is None else regularize
    from debias.io.model_inputs import read_model_inputs

    difficulty, regularize = read_model_inputs(comps, difficulty=difficulty, regularize=regularize)
    glm = PreferenceGLM(
        formula=formula,
        preset=preset,
        difficulty=difficulty,
        difficulty_join=difficulty_join or ("position" if compat else "instruction"),
        regularize=regularize,
        lam=lam,
        solver="alpaca_eval" if compat == "alpaca_eval" else "newton",
        **({"compat_folds": compat_folds} if compat_folds is not None else {}),
        progress=progress,
    ).fit(comps)
    _stage(progress, f"LC win rates with {se} intervals…")
    lc = avg_predictions(
        glm, se=se, level=level, n_boot=n_boot, seed=seed, n_jobs=n_jobs, progress=progress
    )
    raw = comps.win_rates().drop(columns=["judge", "baseline"])
    table = raw.merge(lc, on="model", how="left")
    # the baseline against itself: 50 by definition, not a sample estimate with an SE of 0
    table.loc[table["model"] == glm.baseline_, "win_rate_se"] = np.nan
    table = table.rename(
        columns={
            "estimate": "lc_win_rate",
            "std_error": "lc_win_rate_se",
            "conf_low": "lc_win_rate_ci_low",
            "conf_high": "lc_win_rate_ci_high",
            "note": "lc_note",
        }
    )
    table["lc_note"] = table["lc_note"].fillna("")
    for col in ("lc_win_rate", "lc_win_rate_se", "lc_win_rate_ci_low", "lc_win_rate_ci_high"):
        table[col] = table[col] * 100
    table = table[list(COLUMNS)].sort_values("lc_win_rate", ascending=False, kind="stable")
    table = table.reset_index(drop=True)
    # degenerate submissions (one answer to every prompt, text aimed at the judge): flagged
    _stage(progress, f"checking {len(comps.models)} models for degenerate submissions…")
    flags = flag_models(comps).set_index("model")["flags"]
    table["flags"] = table["model"].map(flags).fillna("")
    table.attrs.update(
        judge=comps.judges[0],
        baseline=glm.baseline_,
        formula=glm.spec_.rhs,
        se=se,
        level=level,
        solver=glm.solver,
    )
    if compat:
        table.attrs["compat_folds"] = glm.compat_folds
    return table, glm


def leaderboard(source, **options) -> pd.DataFrame:
    """Fit the preference GLM and tabulate raw and length-controlled win rates.

    The table of :func:`leaderboard_fit` (the same keywords, documented there); call
    :func:`leaderboard_fit` when you also need the fitted
    :class:`~debias.model.glm.PreferenceGLM` (counterfactuals, the win-rate matrix, plots).

    Examples
    --------
    >>> from debias.simulate import simulate
    >>> sim = simulate(n_models=3, n_instructions=100, seed=0)
    >>> table = leaderboard(sim.comparisons, preset="length_controlled_minimal", difficulty="none")
    >>> float(table.set_index("model").loc[sim.comparisons.baselines[0], "lc_win_rate"])
    50.0
    """
    return leaderboard_fit(source, **options)[0]


leaderboard.__signature__ = inspect.signature(leaderboard_fit).replace(  # type: ignore[attr-defined]
    return_annotation="pd.DataFrame"
)


TABLE_FORMATS = {".csv": "CSV", ".tsv": "tab-separated", ".md": "Markdown", ".json": "JSON records"}


def write_table(table: pd.DataFrame, path: str | Path, index: bool = False) -> Path:
    """Write a table by its suffix: ``.csv``, ``.tsv``, ``.md`` (Markdown), ``.json`` (records).

    The file is written to a temporary name beside ``path`` and renamed into place, so an
    interrupted write leaves any previous file intact.

    Parameters
    ----------
    table : pandas.DataFrame
    path : str or path
        Destination; its suffix picks the format (anything else is refused).
    index : bool, default False
        Write the row labels too (CSV/TSV/JSON; e.g. a win-rate matrix).

    Raises
    ------
    ParameterError
        Unknown suffix.

    Examples
    --------
    >>> import json, tempfile
    >>> t = pd.DataFrame({"model": ["a", "b"], "lc_win_rate": [61.5, float("nan")]})
    >>> p = write_table(t, Path(tempfile.mkdtemp()) / "t.json")
    >>> json.loads(p.read_text())
    [{'model': 'a', 'lc_win_rate': 61.5}, {'model': 'b', 'lc_win_rate': None}]
    """
    from debias.atomic import write_text

    path = Path(path)
    suffix = path.suffix.lower()
    if suffix not in TABLE_FORMATS:
        raise ParameterError(
            f"Cannot write a table to {path.name!r}: unknown suffix {path.suffix or '(none)'!r}; "
            f"use one of {', '.join(TABLE_FORMATS)}."
        )
    if suffix == ".md":
        text = to_markdown(table.reset_index() if index else table)
    elif suffix == ".json":
        text = (table.reset_index() if index else table).to_json(orient="records", indent=1)
    else:
        text = table.to_csv(index=index, sep="\t" if suffix == ".tsv" else ",", lineterminator="\n")
    return write_text(path, text)


def _cell(v, digits: int) -> str:
    if isinstance(v, float):
        return "NA" if v != v else f"{v:.{digits}f}"
    if v is None:
        return "NA"
    return str(v).replace("\\", "\\\\").replace("|", "\\|").replace("\n", " ")


def to_markdown(table: pd.DataFrame, digits: int = 2) -> str:
    """A Markdown table (no extra dependency), numbers rounded to ``digits``, NaN as ``NA``.

    Examples
    --------
    >>> print(to_markdown(pd.DataFrame({"model": ["a|b"], "x": [float("nan")]})), end="")
    | model | x |
    |---|---:|
    | a\\|b | NA |
    """
    cols = list(table.columns)
    lines = [
        "| " + " | ".join(_cell(c, digits) for c in cols) + " |",
        "|" + "|".join("---:" if table[c].dtype.kind in "fiu" else "---" for c in cols) + "|",
    ]
    for row in table.itertuples(index=False):
        lines.append("| " + " | ".join(_cell(v, digits) for v in row) + " |")
    return "\n".join(lines) + "\n"
