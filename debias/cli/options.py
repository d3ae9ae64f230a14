"""The options of ``debias`` commands: argument types and the option groups shared by commands.

Only the standard library is imported here (``debias --help`` stays quick).
"""

from __future__ import annotations

import argparse

from debias.errors import ParameterError


class Parser(argparse.ArgumentParser):
    """argparse with a one-line error (usage is one ``--help`` away)."""

    def error(self, message: str):
        self.exit(2, f"{self.prog}: error: {message} (see {self.prog} --help)\n")


# --------------------------------------------------------------------------- argument types
def int_at_least(low: int):
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


def confidence_level(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number, got {text!r}") from None
    if not 0 < value < 1:
        raise argparse.ArgumentTypeError(f"must be in (0, 1), e.g. 0.95; got {text}")
    return value


def finite_float(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number, got {text!r}") from None
    if value != value or value in (float("inf"), float("-inf")):
        raise argparse.ArgumentTypeError(f"must be a finite number, got {text}")
    return value


def name_list(text: str) -> list[str]:
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


def add_data_options(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "path",
        help="AlpacaEval data root, results/ folder, annotation file(s), or a table "
        "(.csv .csv.gz .tsv .jsonl .ndjson .json .parquet .pq)",
    )
    p.add_argument("--judge", help="judge (annotator) to use when several are present")
    p.add_argument("--models", type=name_list, help="comma-separated models to read (default: all)")
    p.add_argument("--exclude", type=name_list, help="comma-separated models to leave out")
    p.add_argument(
        "--map",
        dest="mapping",
        type=_mapping,
        action="append",
        metavar="COLUMN=FIELD",
        help="read a table's COLUMN as FIELD (instruction, model, baseline, preference, judge, "
        "output_model, output_baseline; battle tables: prompt_id, model_a, model_b, winner, "
        "outcome, weight, shown_first, answer_a, answer_b); repeatable",
    )
    p.add_argument("--baseline", help="the baseline's name, when the table has no baseline column")
    p.add_argument(
        "--preference-scale",
        choices=("probability", "alpaca_eval"),
        help="a table's preference: P(model preferred) in [0, 1] (probability), or AlpacaEval's "
        "1..2 (alpaca_eval); the words model/baseline/tie are read as verdicts",
    )


def add_formula_options(p: argparse.ArgumentParser) -> None:
    group = p.add_mutually_exclusive_group()
    group.add_argument(
        "--preset",
        help="length_controlled_v1 (default), length_controlled_noreg, length_controlled_minimal, style_controlled",
    )
    group.add_argument(
        "--formula", help="a model formula, e.g. 'tanh(scaled(length)) + scaled(bold) + difficulty'"
    )


def add_model_options(p: argparse.ArgumentParser) -> None:
    add_data_options(p)
    add_formula_options(p)
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
        "--lam", type=finite_float, help="regularisation weight (default: the preset's, 0.2 for v1)"
    )
    p.add_argument(
        "--compat",
        choices=("alpaca_eval", "arena_hard", "arena_rank", "fastchat"),
        help="a tool's exact procedure: alpaca_eval (L1, CV-chosen C); on battle data "
        "arena_hard (Arena-Hard-Auto's scores and bootstrap), arena_rank (arena-rank's "
        "ContextualBradleyTerry), fastchat (FastChat's Elo scale)",
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


def add_battle_options(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--format",
        help="the layout of battle data when it cannot be detected: arena_hard_battles, "
        "arena_hard_judgments, battle_table, ... (any pair of models; read as battles)",
    )
    p.add_argument(
        "--verdict-match",
        choices=("first", "last", "unique"),
        help="judge texts parsed for their verdict ([[A]], [[A>>B]], Rating: [[7]]): the first "
        "match (default), the last, or only a text whose matches all agree",
    )
    p.add_argument(
        "--verdict-pattern",
        action="append",
        metavar="REGEX",
        help="your own verdict pattern with one capture group holding the verdict, instead "
        "of the built-in ones (repeatable; bounded repeats only, e.g. {0,10} rather than *)",
    )


def add_graded_options(p: argparse.ArgumentParser, *, leaderboard: bool = True) -> None:
    """Options of graded data: single-answer grades, paired grades, graded verdicts."""
    p.add_argument(
        "--method",
        choices=("linear", "ordinal"),
        help="single-answer grades: the controlled grade from OLS with prompt fixed effects "
        "(linear, default) or from a cumulative logit (ordinal)",
    )
    if not leaderboard:
        return
    p.add_argument(
        "--grades",
        choices=("battles", "totals"),
        help="paired grades (two per call, as Vicuna-80): read as battles, the higher grade "
        "wins (default), or the totals per pair and the difference at equal length",
    )
    p.add_argument(
        "--verdicts",
        choices=("battles", "levels"),
        help="graded verdicts (Arena-Hard's five levels, [[A]]/[[C]]/[[B]]): battles (default) "
        "or levels: the cumulative logit beside the strong-verdicts-count-3 convention",
    )


def add_at_option(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--at",
        type=_at,
        action="append",
        metavar="MEDIATOR=VALUE",
        help="the counterfactual: set MEDIATOR to a difference from the baseline's answer "
        "(length=0: as long as the baseline's) or to a ratio (length=ratio:1.3: 30%% longer); "
        "repeatable; default: every mediator of the formula at 0 (no difference)",
    )


def counterfactual_at(args: argparse.Namespace) -> dict | None:
    """``--at`` as the library's ``at=`` (None: every mediator at no difference), checked
    against the formula's mediators before any data is read."""
    if not args.at:
        return None
    from debias.counterfactual import ratio
    from debias.model.formula import resolve_formula

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


def describe_at(at: dict | None) -> str:
    if at is None:
        return "every mediator at no difference"
    return ", ".join(f"{k}={v!r}" for k, v in at.items())


def add_se_options(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--se",
        choices=("sem", "sandwich", "bootstrap"),
        default="sandwich",
        help="uncertainty of the LC win rate: sandwich (cluster-robust, default), bootstrap "
        "(instructions resampled, refits), sem (the reference's spread of predictions)",
    )
    p.add_argument(
        "--level", type=confidence_level, default=0.95, help="confidence level (default 0.95)"
    )
    p.add_argument(
        "--n-boot",
        type=int_at_least(2),
        default=1000,
        help="bootstrap replicates (default 1000)",
    )
    p.add_argument("--seed", type=int_at_least(0), default=0, help="bootstrap seed (default 0)")
    p.add_argument(
        "--jobs",
        type=_jobs,
        default=1,
        help="parallel bootstrap workers (-1: all cores; capped at the cores)",
    )


def model_kwargs(args: argparse.Namespace) -> dict:
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
