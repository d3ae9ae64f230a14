"""The ``debias`` command line.

Every subcommand lives in one ``_cmd_*`` function registered in :func:`build_parser`.
Every expected failure (bad input or settings, an unreadable or unwritable path, an
interrupt) prints one line on stderr and exits with code 2 (130 for Ctrl-C); messages
written for Python (``models=``) are shown with the matching flag (``--models``).
An unexpected internal error prints one line and exits 1; ``--debug`` shows the
traceback instead. Stage messages go to stderr (plain lines at a bounded rate when
stderr is not a terminal); ``--quiet`` silences them.

Only the standard library is imported at start-up, so ``debias --help`` is quick.
"""

from __future__ import annotations

import argparse
import difflib
import os
import sys
import warnings
from collections.abc import Sequence
from pathlib import Path

from debias.cli_messages import LineProgress, one_line, to_cli_message
from debias.errors import DebiasWarning, InputError, ParameterError

TABLE_SUFFIXES = (".csv", ".tsv", ".md", ".json")
READ_COMMANDS = ("leaderboard", "matrix", "difficulty", "audit")


class _Parser(argparse.ArgumentParser):
    """argparse with a one-line error (usage is one ``--help`` away)."""

    def error(self, message: str):
        self.exit(2, f"{self.prog}: error: {message} (see {self.prog} --help)\n")


# --------------------------------------------------------------------------- argument types
def _int_at_least(low: int):
    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected an integer, got {text!r}") from None
        if value < low:
            raise argparse.ArgumentTypeError(f"must be at least {low}, got {value}")
        return value

    return parse


def _jobs(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected an integer, got {text!r}") from None
    if value == 0:
        raise argparse.ArgumentTypeError("must be a positive number of workers, or -1 for all")
    return value


def _level(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number, got {text!r}") from None
    if not 0 < value < 1:
        raise argparse.ArgumentTypeError(f"must be in (0, 1), e.g. 0.95; got {text}")
    return value


def _finite(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number, got {text!r}") from None
    if value != value or value in (float("inf"), float("-inf")):
        raise argparse.ArgumentTypeError(f"must be a finite number, got {text}")
    return value


def _names(text: str) -> list[str]:
    names = [n.strip() for n in text.split(",") if n.strip()]
    if not names:
        raise argparse.ArgumentTypeError("expected comma-separated model names")
    return names


def _at(text: str) -> tuple[str, object]:
    """``--at MEDIATOR=VALUE``: a number (the difference model - baseline on the raw scale,
    0 = none) or ``ratio:R`` (the model's value R times the baseline's)."""
    name, sep, value = (part.strip() for part in text.partition("="))
    if not sep or not name or not value:
        raise argparse.ArgumentTypeError(
            f"expected MEDIATOR=VALUE (e.g. length=0 or length=ratio:1.3), got {text!r}"
        )
    from debias import available_mediators

    known = available_mediators()
    if name not in known:
        raise argparse.ArgumentTypeError(
            f"unknown mediator {name!r} in {text!r}; known mediators: {', '.join(known)}"
        )
    how, colon, number = value.partition(":")
    try:
        r = float(number if colon else value)
    except ValueError:
        r = float("nan")
    finite = r == r and abs(r) != float("inf")
    if colon and how.strip() == "ratio" and finite and r >= 0:
        return name, ("ratio", r)
    if not colon and finite:
        return name, r
    raise argparse.ArgumentTypeError(
        f"{text!r}: the value must be a finite number (the difference model - baseline, "
        "0 = none) or ratio:R with R >= 0 (e.g. ratio:1.3, answers 30% longer)"
    )


def _mapping(text: str) -> tuple[str, str]:
    col, sep, field = text.partition("=")
    if not sep or not col.strip() or not field.strip():
        raise argparse.ArgumentTypeError(
            f"expected COLUMN=FIELD (e.g. prompt=instruction), got {text!r}"
        )
    return col.strip(), field.strip()


# --------------------------------------------------------------------------- the parser
def build_parser() -> argparse.ArgumentParser:
    """The argument parser of ``debias`` (one subparser per command)."""
    parser = _Parser(
        prog="debias",
        description="Remove known biases (length, markdown, style) from LLM-judge evaluations.",
    )
    parser.add_argument("--debug", action="store_true", help="show full tracebacks on errors")
    parser.add_argument(
        "-q", "--quiet", action="store_true", help="no stage or progress messages on stderr"
    )
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--debug", action="store_true", default=argparse.SUPPRESS, help="")
    common.add_argument(
        "-q", "--quiet", action="store_true", default=argparse.SUPPRESS, help="no stage messages"
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    sub.required = True

    # --- simulate --------------------------------------------------------------------------
    p = sub.add_parser(
        "simulate",
        parents=[common],
        help="write an AlpacaEval-format tree from a judge with known biases",
    )
    p.add_argument(
        "--out",
        required=True,
        type=Path,
        help="directory to write (results/<model>/<judge>/...); a previous simulated tree there "
        "is replaced",
    )
    p.add_argument(
        "--models",
        type=_int_at_least(1),
        default=8,
        help="number of models besides the baseline (default 8)",
    )
    p.add_argument(
        "--instructions",
        type=_int_at_least(2),
        default=200,
        help="number of instructions (default 200)",
    )
    p.add_argument(
        "--length-effect", type=_finite, default=0.8, help="judge's length slope (default 0.8)"
    )
    p.add_argument(
        "--markdown-effect", type=_finite, default=0.3, help="judge's markdown slope (default 0.3)"
    )
    p.add_argument(
        "--hard", action="store_true", help="hard 0/1 verdicts instead of soft preferences"
    )
    p.add_argument("--seed", type=_int_at_least(0), default=0, help="random seed (default 0)")
    p.set_defaults(func=_cmd_simulate)

    # --- leaderboard -----------------------------------------------------------------------
    p = sub.add_parser(
        "leaderboard", parents=[common], help="length-controlled leaderboard of one judge"
    )
    _add_model_options(p)
    _add_at_option(p)
    _add_se_options(p)
    p.add_argument("--out", type=Path, help="write the table: .csv, .tsv, .md or .json (records)")
    p.add_argument(
        "--save-difficulty", type=Path, help="also save the fitted instruction difficulty (CSV)"
    )
    p.set_defaults(func=_cmd_leaderboard)

    # --- matrix ------------------------------------------------------------------------------
    p = sub.add_parser(
        "matrix",
        parents=[common],
        help="controlled win rate of every model against every other (percent)",
    )
    _add_model_options(p)
    _add_at_option(p)
    p.add_argument(
        "--form",
        choices=("square", "pairs"),
        default="square",
        help="square: the matrix of estimates (default); pairs: one row per ordered pair with "
        "its cluster-robust interval (model, opponent, estimate, std_error, conf_low, "
        "conf_high, note)",
    )
    p.add_argument("--level", type=_level, default=0.95, help="confidence level (default 0.95)")
    p.add_argument("--out", type=Path, help="write the matrix: .csv, .tsv, .md or .json")
    p.set_defaults(func=_cmd_matrix)

    # --- difficulty --------------------------------------------------------------------------
    p = sub.add_parser(
        "difficulty",
        parents=[common],
        help="fit the shared instruction difficulty (stage 1) and save it",
    )
    _add_data_options(p)
    _add_formula_options(p)
    p.add_argument("--out", type=Path, required=True, help="CSV to write")
    p.add_argument(
        "--layout",
        choices=("instruction", "index"),
        default="instruction",
        help="instruction,difficulty,std_error (default) or the reference's index,instruction_difficulty",
    )
    p.set_defaults(func=_cmd_difficulty)

    # --- audit -------------------------------------------------------------------------------
    p = sub.add_parser(
        "audit",
        parents=[common],
        help="audit a judge's length and style bias; writes a report",
        description="Audit a judge: every model fitted by maximum likelihood (no penalty, no "
        "regularisation toward the baseline's variants: a preset gives its formula only).",
    )
    _add_data_options(p)
    _add_formula_options(p)
    p.add_argument(
        "--difficulty",
        default="auto",
        help="'auto' (fit it with 3 or more models besides the baseline, default), 'fit', "
        "'none', or a CSV (instruction,difficulty or the reference's index,instruction_difficulty)",
    )
    p.add_argument(
        "--mediators",
        type=_names,
        help="comma-separated mediators to audit (default: the formula's, or length,markdown)",
    )
    p.add_argument(
        "--out",
        type=Path,
        required=True,
        help="new or empty directory (or a previous audit's, replaced) for report.md/.html, "
        "audit.json, PNGs",
    )
    p.add_argument("--level", type=_level, default=0.95, help="confidence level (default 0.95)")
    p.set_defaults(func=_cmd_audit)

    # --- demo --------------------------------------------------------------------------------
    p = sub.add_parser(
        "demo",
        parents=[common],
        help="run the leaderboard and the audit on the embedded example data",
    )
    p.add_argument(
        "--out",
        type=Path,
        default=Path("debias-demo"),
        help="where to write the data, table, report and plots (default ./debias-demo)",
    )
    p.set_defaults(func=_cmd_demo)

    return parser


def _add_data_options(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "path",
        help="AlpacaEval data root, results/ folder, annotation file(s), or a table "
        "(.csv .csv.gz .tsv .jsonl .ndjson .json .parquet .pq)",
    )
    p.add_argument("--judge", help="judge (annotator) to use when several are present")
    p.add_argument("--models", type=_names, help="comma-separated models to read (default: all)")
    p.add_argument("--exclude", type=_names, help="comma-separated models to leave out")
    p.add_argument(
        "--map",
        dest="mapping",
        type=_mapping,
        action="append",
        metavar="COLUMN=FIELD",
        help="read a table's COLUMN as FIELD (instruction, model, baseline, preference, judge, "
        "output_model, output_baseline); repeatable",
    )
    p.add_argument("--baseline", help="the baseline's name, when the table has no baseline column")
    p.add_argument(
        "--preference-scale",
        choices=("probability", "alpaca_eval"),
        help="a table's preference: P(model preferred) in [0, 1] (probability), or AlpacaEval's "
        "1..2 (alpaca_eval); the words model/baseline/tie are read as verdicts",
    )


def _add_formula_options(p: argparse.ArgumentParser) -> None:
    group = p.add_mutually_exclusive_group()
    group.add_argument(
        "--preset",
        help="length_controlled_v1 (default), length_controlled_noreg, length_controlled_minimal, style_controlled",
    )
    group.add_argument(
        "--formula", help="a model formula, e.g. 'tanh(scaled(length)) + scaled(bold) + difficulty'"
    )


def _add_model_options(p: argparse.ArgumentParser) -> None:
    _add_data_options(p)
    _add_formula_options(p)
    p.add_argument(
        "--difficulty",
        default="fit",
        help="'fit' (stage 1 on these models, default), 'none', or a CSV (instruction,difficulty "
        "or the reference's index,instruction_difficulty)",
    )
    p.add_argument(
        "--regularize",
        help="the baseline's variants judged against the baseline: annotation files/tree or a df_gamed CSV",
    )
    p.add_argument(
        "--lam", type=_finite, help="regularisation weight (default: the preset's, 0.2 for v1)"
    )
    p.add_argument(
        "--compat",
        choices=("alpaca_eval",),
        help="the reference's exact procedure (L1, CV-chosen C)",
    )
    p.add_argument(
        "--compat-folds",
        choices=("sklearn-1.4", "current"),
        help="with --compat: whose GroupKFold folds pick C: sklearn-1.4 (the published numbers' "
        "stack, default) or current (alpaca-eval 0.6.6 installed today)",
    )
    p.add_argument(
        "--reference-inputs",
        choices=("download",),
        help="with --compat: use the reference's own difficulty and df_gamed files (downloaded "
        "once, then cached)",
    )
    p.add_argument(
        "--difficulty-join",
        choices=("instruction", "position"),
        help="match difficulty by instruction (default) or by row position (the reference's defect; "
        "default with --compat)",
    )


def _add_at_option(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--at",
        type=_at,
        action="append",
        metavar="MEDIATOR=VALUE",
        help="the counterfactual: set MEDIATOR to a difference from the baseline's answer "
        "(length=0: as long as the baseline's) or to a ratio (length=ratio:1.3: 30%% longer); "
        "repeatable; default: every mediator of the formula at 0 (no difference)",
    )


def _counterfactual(args: argparse.Namespace) -> dict | None:
    """``--at`` as the library's ``at=`` (None: every mediator at no difference), checked
    against the formula's mediators before any data is read."""
    if not args.at:
        return None
    from debias.counterfactual import ratio
    from debias.formula import resolve_formula

    at: dict = {}
    for name, value in args.at:
        if name in at:
            raise ParameterError(f"--at {name}: given twice; give each mediator once.")
        at[name] = ratio(value[1]) if isinstance(value, tuple) else value
    spec = resolve_formula(args.formula, args.preset)
    unused = [m for m in at if m not in spec.mediators]
    if unused:
        raise ParameterError(
            f"--at {unused[0]}: not a mediator of the formula {spec.rhs!r}; its mediators: "
            f"{', '.join(sorted(spec.mediators)) or 'none'}."
        )
    return at


def _describe_at(at: dict | None) -> str:
    if at is None:
        return "every mediator at no difference"
    return ", ".join(f"{k}={v!r}" for k, v in at.items())


def _add_se_options(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--se",
        choices=("sem", "sandwich", "bootstrap"),
        default="sandwich",
        help="uncertainty of the LC win rate: sandwich (cluster-robust, default), bootstrap "
        "(instructions resampled, refits), sem (the reference's spread of predictions)",
    )
    p.add_argument("--level", type=_level, default=0.95, help="confidence level (default 0.95)")
    p.add_argument(
        "--n-boot",
        type=_int_at_least(2),
        default=1000,
        help="bootstrap replicates (default 1000)",
    )
    p.add_argument("--seed", type=_int_at_least(0), default=0, help="bootstrap seed (default 0)")
    p.add_argument(
        "--jobs",
        type=_jobs,
        default=1,
        help="parallel bootstrap workers (-1: all cores; capped at the cores)",
    )


def _model_kwargs(args: argparse.Namespace) -> dict:
    kwargs = dict(
        preset=args.preset,
        formula=args.formula,
        difficulty=args.difficulty,
        regularize=args.regularize,
        lam=args.lam,
        compat=args.compat,
        difficulty_join=args.difficulty_join,
    )
    for name in ("compat_folds", "reference_inputs"):  # only when given
        if getattr(args, name) is not None:
            kwargs[name] = getattr(args, name)
    return kwargs


# --------------------------------------------------------------------------- stage messages
def _note(args: argparse.Namespace, message: str) -> None:
    """A stage message on stderr (unless ``--quiet``)."""
    if not args.quiet:
        print(message, file=sys.stderr, flush=True)


# --------------------------------------------------------------------------- paths
def _check_writable(path: Path, flag: str = "--out") -> None:
    """Refuse (before any fitting) an output whose folder cannot be made or written."""
    if path.is_dir():
        raise InputError(f"{flag} {path} is a directory; give a file name.")
    parent = path.parent
    while not parent.exists():
        if parent.is_symlink():
            raise InputError(f"{flag} {path}: {parent} is a dangling link.")
        parent = parent.parent
    if not parent.is_dir():
        raise InputError(f"{flag} {path}: {parent} is a file, not a folder.")
    if not os.access(parent, os.W_OK | os.X_OK):
        raise InputError(f"{flag} {path}: cannot write into {parent} (permission denied).")


def _check_table_out(args: argparse.Namespace, path: Path | None, flag: str = "--out") -> None:
    if path is None:
        return
    from debias.atomic import check_not_input

    if path.suffix.lower() not in TABLE_SUFFIXES:
        raise ParameterError(
            f"{flag} {path}: unknown suffix {path.suffix or '(none)'!r}; use "
            f"{', '.join(TABLE_SUFFIXES)} (.json writes records)."
        )
    _check_writable(path, flag)
    check_not_input(path, _inputs(args), flag)


def _inputs(args: argparse.Namespace) -> list:
    found = [getattr(args, "path", None), getattr(args, "regularize", None)]
    diff = getattr(args, "difficulty", None)
    if diff not in (None, "fit", "none"):
        found.append(diff)
    return [f for f in found if f]


# --------------------------------------------------------------------------- reading
def _read(args: argparse.Namespace):
    """The judgments the command works on; a wrong --models/--exclude name fails before any fit."""
    from debias.reports.leaderboard import load_comparisons

    _note(args, f"reading {args.path}…")
    comps = load_comparisons(
        args.path,
        judge=args.judge,
        models=args.models,
        exclude=args.exclude,
        mapping=dict(args.mapping) if args.mapping else None,
        baseline=args.baseline,
        preference_scale=args.preference_scale,
        progress=not args.quiet,
    )
    _check_names(comps, args)
    if args.judge is None and len(comps.judges) > 1:
        comps.require_fixed_baseline()  # raises the explanatory error
        raise InputError(
            f"{args.path}: judgments of several judges {comps.judges}; pick one with --judge."
        )
    _note(
        args,
        f"read {len(comps.data)} judgments of {len(comps.models)} models (judge "
        f"{', '.join(map(str, comps.judges))}; baseline {', '.join(map(str, comps.baselines))})",
    )
    return comps


def _check_names(comps, args: argparse.Namespace) -> None:
    """A --models name missing from what was read: one line with close matches (a backstop)."""
    present = [str(m) for m in comps.models] + [str(b) for b in comps.baselines]
    for name in args.models or ():
        if name not in present:
            close = difflib.get_close_matches(name, present, n=3, cutoff=0.6)
            hint = f"did you mean {', '.join(close)}?" if close else "no close match"
            raise InputError(f"--models: no model {name!r} in {args.path} ({hint}).")


# --------------------------------------------------------------------------- commands
def _cmd_simulate(args: argparse.Namespace) -> None:
    from debias.atomic import atomic_dir
    from debias.simulate import simulate, write_alpaca_eval_tree

    out: Path = args.out
    _check_replaceable(out, _is_simulated_tree, "a tree written by debias simulate")
    _note(args, f"simulating {args.models} models on {args.instructions} instructions…")
    sim = simulate(
        n_models=args.models,
        n_instructions=args.instructions,
        length_effect=args.length_effect,
        markdown_effect=args.markdown_effect,
        soft=not args.hard,
        seed=args.seed,
    )
    _note(args, f"writing {out}…")
    with atomic_dir(out) as tmp:
        write_alpaca_eval_tree(sim, tmp)
    print(f"wrote {len(sim.comparisons)} judgments of {len(sim.truth)} models to {out}")


def _is_simulated_tree(path: Path) -> bool:
    names = {p.name for p in path.iterdir()}
    return "results" in names and names <= {"results", "truth.csv", "instruction_difficulty.csv"}


def _check_replaceable(out: Path, is_previous, what: str) -> None:
    """An output folder: new, empty, or a previous output of the same command (replaced)."""
    if out.exists() or out.is_symlink():
        if not out.is_dir():
            raise InputError(f"--out {out} exists and is not a folder.")
        if any(out.iterdir()) and not is_previous(out):
            raise InputError(
                f"--out {out} is not empty and is not {what}; give a new or empty folder "
                "(nothing was written)."
            )
    else:
        _check_writable(out)


def _cmd_leaderboard(args: argparse.Namespace) -> None:
    from debias.reports.leaderboard import leaderboard, to_markdown, write_table

    _check_table_out(args, args.out)
    if args.save_difficulty is not None:
        _check_writable(args.save_difficulty, "--save-difficulty")
        from debias.atomic import check_not_input

        check_not_input(args.save_difficulty, _inputs(args), "--save-difficulty")
    n_jobs = _n_jobs(args)
    at = _counterfactual(args)
    comps = _read(args)
    if args.se == "bootstrap":
        _note(args, f"bootstrap: {args.n_boot} replicates after the fit ({n_jobs} worker(s))")
    se = dict(se=args.se, level=args.level, n_boot=args.n_boot, seed=args.seed, n_jobs=n_jobs)
    table, fit = leaderboard(
        comps,
        **_model_kwargs(args),
        **(se if at is None else {**se, "se": "sem"}),  # with --at the intervals come below
        progress=not args.quiet,
        return_fit=True,
    )
    if at is not None:
        table = _at_columns(table, fit, at, se, progress=not args.quiet)
    if args.out:
        _note(args, f"writing {args.out}…")
        write_table(table, args.out)
    if args.save_difficulty:
        if fit.difficulty_ is None:
            raise InputError("--save-difficulty: this fit uses no instruction difficulty")
        _note(args, f"writing {args.save_difficulty}…")
        fit.difficulty_.to_csv(args.save_difficulty)
    print(_caption(table))
    print(to_markdown(table), end="")
    if args.out:
        print(f"wrote {args.out}")


def _at_columns(table, fit, at: dict, se: dict, progress: bool):
    """The leaderboard's ``lc_*`` columns under the counterfactual ``at`` (re-sorted)."""
    from debias.counterfactual import avg_predictions

    lc = avg_predictions(fit, at=at, **se, progress=progress).set_index("model")
    columns = {
        "lc_win_rate": "estimate",
        "lc_standard_error": "std_error",
        "lc_ci_low": "conf_low",
        "lc_ci_high": "conf_high",
    }
    out = table.copy()
    for col, source in columns.items():
        out[col] = out["model"].map(lc[source]) * 100
    out["lc_note"] = out["model"].map(lc["note"]).fillna("")
    out = out.sort_values("lc_win_rate", ascending=False, kind="stable").reset_index(drop=True)
    out.attrs.update(table.attrs, se=se["se"], level=se["level"], at=_describe_at(at))
    return out


def _n_jobs(args: argparse.Namespace) -> int:
    if args.se != "bootstrap":
        return 1
    from debias.inference import cap_n_jobs

    return cap_n_jobs(args.jobs)


def _caption(table) -> str:
    a = table.attrs
    return (
        f"judge: {a.get('judge')}   baseline: {a.get('baseline')}   formula: {a.get('formula')}   "
        f"solver: {a.get('solver')}"
        + (f" (folds: {a['compat_folds']})" if a.get("compat_folds") else "")
        + f"   LC interval: {a.get('se')}, {a.get('level', 0.95):.0%}"
        + (f"\ncounterfactual (--at): {a['at']} (the lc_ columns)" if a.get("at") else "")
        + "\n"
        "win rates in percent; avg_length in characters"
    )


def _cmd_matrix(args: argparse.Namespace) -> None:
    from debias.counterfactual import winrate_matrix, winrate_pairs
    from debias.reports.leaderboard import leaderboard, to_markdown, write_table

    _check_table_out(args, args.out)
    at = _counterfactual(args)
    comps = _read(args)
    _, fit = leaderboard(
        comps, **_model_kwargs(args), se="sem", progress=not args.quiet, return_fit=True
    )
    _note(args, "computing the win-rate matrix…")
    matrix = winrate_matrix(fit, args.models, at=at)
    for model, why in matrix.attrs.get("notes", {}).items():
        print(f"warning: {model}: controlled win rates missing: {why}", file=sys.stderr)
    if args.form == "pairs":
        matrix = winrate_pairs(fit, args.models, at=at, level=args.level)
        for col in ("estimate", "std_error", "conf_low", "conf_high"):
            matrix[col] = matrix[col] * 100
    square = args.form == "square"
    if args.out:
        _note(args, f"writing {args.out}…")
        write_table(matrix, args.out, index=square)
        print(f"wrote {args.out}")
    else:
        what = (
            "of the row model against the column model (intervals: --form pairs)"
            if square
            else f"of model against opponent, {args.level:.0%} cluster-robust interval"
        )
        print(f"controlled win rate (percent) {what}; counterfactual: {_describe_at(at)}")
        print(to_markdown(matrix.reset_index() if square else matrix, digits=1), end="")


def _cmd_difficulty(args: argparse.Namespace) -> None:
    from debias.glm import PreferenceGLM

    if args.out.suffix.lower() != ".csv":
        raise ParameterError(
            f"--out {args.out}: the difficulty is written as CSV; use a .csv name."
        )
    _check_writable(args.out)
    from debias.atomic import check_not_input

    check_not_input(args.out, _inputs(args))
    comps = _read(args)
    preset = args.preset or (None if args.formula else "length_controlled_noreg")
    glm = PreferenceGLM(
        formula=args.formula, preset=preset, difficulty="fit", progress=not args.quiet
    )
    glm.fit(comps)
    if glm.difficulty_ is None:
        raise InputError("the formula has no 'difficulty' term: nothing to fit")
    order = comps.instruction_order if args.layout == "index" else None
    if args.layout == "index" and order is None:
        raise InputError(
            "--layout index needs the evaluation set's order (the baseline's model_outputs.json)"
        )
    _note(args, f"writing {args.out}…")
    glm.difficulty_.to_csv(args.out, instruction_order=order)
    print(f"wrote the difficulty of {len(glm.difficulty_)} instructions to {args.out}")


def _cmd_audit(args: argparse.Namespace) -> None:
    from debias.atomic import check_not_input
    from debias.reports.audit import audit, check_audit_dir

    check_audit_dir(args.out)
    if not args.out.exists():
        _check_writable(args.out)
    check_not_input(args.out, _inputs(args))
    model = _audit_model(args)
    comps = _read(args)
    report = audit(comps, **model, level=args.level, out=None, progress=not args.quiet)
    _note(args, f"writing {args.out}…")
    report.write(args.out)
    print(report.verdict)
    print(f"report: {Path(args.out) / 'report.md'} (and report.html, audit.json, PNGs)")


def _audit_model(args: argparse.Namespace) -> dict:
    """The audit's ``formula``, ``mediators`` and ``difficulty`` from the model options.

    A preset gives its formula (the audit fits without penalty or regularisation); the
    mediators audited default to the formula's."""
    kwargs: dict = {"difficulty": args.difficulty}
    if args.formula is None and args.preset is None:
        if args.mediators:
            kwargs["mediators"] = args.mediators
        return kwargs
    from debias.formula import resolve_formula

    spec = resolve_formula(args.formula, args.preset)
    kwargs["formula"] = spec.rhs
    kwargs["mediators"] = args.mediators or sorted(spec.mediators)
    if not kwargs["mediators"]:
        raise ParameterError(
            f"--{'formula' if args.formula else 'preset'}: {spec.rhs!r} uses no mediator: "
            "nothing to audit."
        )
    return kwargs


def _cmd_demo(args: argparse.Namespace) -> None:
    from debias.datasets import load_example_tree
    from debias.reports.audit import check_audit_dir
    from debias.reports.leaderboard import leaderboard, to_markdown, write_table

    out = Path(args.out)
    check_audit_dir(out / "audit")
    root = load_example_tree(out / "data")
    print(f"example data (a simulated judge with a known length bias): {root}")
    table = leaderboard(root, preset="length_controlled_noreg", progress=not args.quiet)
    path = write_table(table, out / "leaderboard.csv")
    print(_caption(table))
    print(to_markdown(table), end="")
    print(f"leaderboard: {path}")
    try:
        from debias.reports.audit import run_audit
    except ImportError:  # pragma: no cover - audit not installed
        return
    report = run_audit(root, out_dir=out / "audit", progress=not args.quiet)
    print(report.verdict)
    print(
        f"audit report and plots: {out / 'audit' / 'report.md'} (also report.html, audit.json, *.png)"
    )


# --------------------------------------------------------------------------- errors
def _format_warning(message, category, filename, lineno, line=None) -> str:
    text = str(message)
    return f"warning: {to_cli_message(text)}\n"


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``debias`` console script; returns the exit code."""
    parser = build_parser()
    args = parser.parse_args(argv)
    previous_format = warnings.formatwarning
    warnings.formatwarning = _format_warning
    stderr = sys.stderr
    if not args.quiet and not stderr.isatty():
        sys.stderr = LineProgress(stderr)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("default", DebiasWarning)
            args.func(args)
    except KeyboardInterrupt:
        if args.debug:
            raise
        print(f"debias {args.command}: interrupted", file=stderr)
        return 130
    except BrokenPipeError:  # `debias leaderboard ... | head`
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return 141
    except Exception as exc:
        if args.debug:
            raise
        message, code = one_line(exc)
        print(f"debias {args.command}: error: {message}", file=stderr)
        return code
    finally:
        sys.stderr = stderr
        warnings.formatwarning = previous_format
    return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
