"""The argument parser of ``debias``: one subparser per command."""

from __future__ import annotations

import argparse
from pathlib import Path

from debias.cli import fitting, judge
from debias.cli.options import (
    Parser,
    add_at_option,
    add_battle_options,
    add_data_options,
    add_formula_options,
    add_graded_options,
    add_model_options,
    add_se_options,
    confidence_level,
    finite_float,
    int_at_least,
    name_list,
)


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of ``debias`` (one subparser per command)."""
    parser = Parser(
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
        type=int_at_least(1),
        default=8,
        help="number of models besides the baseline (default 8)",
    )
    p.add_argument(
        "--instructions",
        type=int_at_least(2),
        default=200,
        help="number of instructions (default 200)",
    )
    p.add_argument(
        "--length-effect", type=finite_float, default=0.8, help="judge's length slope (default 0.8)"
    )
    p.add_argument(
        "--markdown-effect",
        type=finite_float,
        default=0.3,
        help="judge's markdown slope (default 0.3)",
    )
    p.add_argument(
        "--hard", action="store_true", help="hard 0/1 verdicts instead of soft preferences"
    )
    p.add_argument("--seed", type=int_at_least(0), default=0, help="random seed (default 0)")
    p.set_defaults(func=judge.cmd_simulate)

    # --- leaderboard -----------------------------------------------------------------------
    p = sub.add_parser(
        "leaderboard", parents=[common], help="length-controlled leaderboard of one judge"
    )
    add_model_options(p)
    add_at_option(p)
    add_se_options(p)
    p.add_argument("--out", type=Path, help="write the table: .csv, .tsv, .md or .json (records)")
    p.add_argument(
        "--save-difficulty", type=Path, help="also save the fitted instruction difficulty (CSV)"
    )
    add_battle_options(p)
    p.add_argument(
        "--anchor",
        help="battle data: the model scores are against (default: the baseline when every "
        "battle has one, else the model with most battles)",
    )
    p.add_argument(
        "--features",
        type=name_list,
        help="battle data: comma-separated style features to control for (default "
        "tokens,headers,lists,bold when every answer stores a token count, else "
        "length,headers,lists,bold; 'none')",
    )
    p.add_argument(
        "--coef-out",
        type=Path,
        help="battle data: write the style coefficients with their intervals (.csv .tsv .md .json)",
    )
    add_graded_options(p)
    p.set_defaults(func=fitting.cmd_leaderboard)

    # --- matrix ------------------------------------------------------------------------------
    p = sub.add_parser(
        "matrix",
        parents=[common],
        help="controlled win rate of every model against every other (percent)",
    )
    add_model_options(p)
    add_at_option(p)
    p.add_argument(
        "--form",
        choices=("square", "pairs"),
        default="square",
        help="square: the matrix of estimates (default); pairs: one row per ordered pair with "
        "its cluster-robust interval (model, opponent, estimate, std_error, conf_low, "
        "conf_high, note)",
    )
    p.add_argument(
        "--level", type=confidence_level, default=0.95, help="confidence level (default 0.95)"
    )
    p.add_argument("--out", type=Path, help="write the matrix: .csv, .tsv, .md or .json")
    add_battle_options(p)
    p.add_argument(
        "--features",
        type=name_list,
        help="battle data: comma-separated style features at zero in the matrix (default as "
        "for leaderboard: tokens or length, headers, lists, bold; 'none': no style control)",
    )
    p.set_defaults(func=fitting.cmd_matrix)

    # --- difficulty --------------------------------------------------------------------------
    p = sub.add_parser(
        "difficulty",
        parents=[common],
        help="fit the shared instruction difficulty (stage 1) and save it",
    )
    add_data_options(p)
    add_formula_options(p)
    p.add_argument("--out", type=Path, required=True, help="CSV to write")
    p.add_argument(
        "--layout",
        choices=("instruction", "index"),
        default="instruction",
        help="instruction,difficulty,std_error (default) or the reference's index,instruction_difficulty",
    )
    p.set_defaults(func=fitting.cmd_difficulty)

    # --- audit -------------------------------------------------------------------------------
    p = sub.add_parser(
        "audit",
        parents=[common],
        help="audit a judge's length and style bias; writes a report",
        description="Audit a judge: every model fitted by maximum likelihood (no penalty, no "
        "regularisation toward the baseline's variants: a preset gives its formula only).",
    )
    add_data_options(p)
    add_formula_options(p)
    p.add_argument(
        "--difficulty",
        default="auto",
        help="'auto' (fit it with 3 or more models besides the baseline, default), 'fit', "
        "'none', or a CSV (instruction,difficulty or the reference's index,instruction_difficulty)",
    )
    p.add_argument(
        "--mediators",
        type=name_list,
        help="comma-separated mediators to audit (default: the formula's, or length,markdown; "
        "battle data: style features and mediators, default tokens,headers,lists,bold when the "
        "answers store token counts, else length,markdown)",
    )
    p.add_argument(
        "--out",
        type=Path,
        required=True,
        help="new or empty directory (or a previous audit's, replaced) for report.md/.html, "
        "audit.json, PNGs",
    )
    p.add_argument(
        "--level", type=confidence_level, default=0.95, help="confidence level (default 0.95)"
    )
    p.add_argument(
        "--judges",
        type=name_list,
        help="battle data: which judges ('all', the default, or comma-separated names); several "
        "are audited side by side on their shared prompts (style, position, self-preference "
        "per judge and their differences)",
    )
    p.add_argument(
        "--consistency-rule",
        choices=("pair", "call"),
        help="battle data in both orders: 'pair' (default) = share of pairs whose two orders "
        "agree; 'call' = the per-call count of Position-Bias-Analyzer (its published numbers)",
    )
    p.add_argument(
        "--families",
        type=name_list,
        help="with --judges: comma-separated MODEL=FAMILY for self-preference (default rules: "
        "gpt/o1 -> openai, claude -> anthropic, gemini/palm -> google, llama -> meta, ...)",
    )
    add_battle_options(p)
    add_graded_options(p, leaderboard=False)
    p.set_defaults(func=judge.cmd_audit)

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
    p.set_defaults(func=judge.cmd_demo)

    return parser
