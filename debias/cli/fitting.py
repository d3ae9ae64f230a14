"""The fitting commands: ``debias leaderboard``, ``debias matrix`` and ``debias difficulty``."""

from __future__ import annotations

import argparse
import sys

from debias.cli.common import check_table_out, check_writable, input_paths, note, read_comparisons
from debias.cli.options import counterfactual_at, describe_at, model_kwargs
from debias.errors import InputError, ParameterError


def cmd_leaderboard(args: argparse.Namespace) -> None:
    from debias.cli.battles import cmd_battle_leaderboard, is_battle_data
    from debias.reports.leaderboard import leaderboard_fit, to_markdown, write_table

    if is_battle_data(args):
        from debias.cli.grades import cmd_graded_leaderboard

        if cmd_graded_leaderboard(args):  # grades, or --verdicts levels
            return None
        return cmd_battle_leaderboard(args)
    for flag, name in (("--method", "method"), ("--grades", "grades"), ("--verdicts", "verdicts")):
        if getattr(args, name, None) is not None:
            raise ParameterError(
                f"{flag} applies to graded judge data; {args.path} is read as AlpacaEval-style "
                "preferences: leave it out."
            )
    check_table_out(args, args.out)
    if args.save_difficulty is not None:
        check_writable(args.save_difficulty, "--save-difficulty")
        from debias.atomic import check_not_input

        check_not_input(args.save_difficulty, input_paths(args), "--save-difficulty")
    n_jobs = _n_jobs(args)
    at = counterfactual_at(args)
    comps = read_comparisons(args)
    if args.se == "bootstrap":
        note(args, f"bootstrap: {args.n_boot} replicates after the fit ({n_jobs} worker(s))")
    se = dict(se=args.se, level=args.level, n_boot=args.n_boot, seed=args.seed, n_jobs=n_jobs)
    table, fit = leaderboard_fit(
        comps,
        **model_kwargs(args),
        **(se if at is None else {**se, "se": "sem"}),  # with --at the intervals come below
        progress=not args.quiet,
    )
    if at is not None:
        table = _at_columns(table, fit, at, se, progress=not args.quiet)
    if args.out:
        note(args, f"writing {args.out}…")
        write_table(table, args.out)
    if args.save_difficulty:
        if fit.difficulty_ is None:
            raise InputError("--save-difficulty: this fit uses no instruction difficulty")
        note(args, f"writing {args.save_difficulty}…")
        fit.difficulty_.to_csv(args.save_difficulty)
    print(caption(table))
    print(to_markdown(table), end="")
    if args.out:
        print(f"wrote {args.out}")


def _at_columns(table, fit, at: dict, se: dict, progress: bool):
    """The leaderboard's ``lc_*`` columns under the counterfactual ``at`` (re-sorted)."""
    from debias.counterfactual import avg_predictions

    lc = avg_predictions(fit, at=at, **se, progress=progress).set_index("model")
    columns = {
        "lc_win_rate": "estimate",
        "lc_win_rate_se": "std_error",
        "lc_win_rate_ci_low": "conf_low",
        "lc_win_rate_ci_high": "conf_high",
    }
    out = table.copy()
    for col, source in columns.items():
        out[col] = out["model"].map(lc[source]) * 100
    out["lc_note"] = out["model"].map(lc["note"]).fillna("")
    out = out.sort_values("lc_win_rate", ascending=False, kind="stable").reset_index(drop=True)
    out.attrs.update(table.attrs, se=se["se"], level=se["level"], at=describe_at(at))
    return out


def _n_jobs(args: argparse.Namespace) -> int:
    if args.se != "bootstrap":
        return 1
    from debias.inference.bootstrap import cap_n_jobs

    return cap_n_jobs(args.jobs)


def caption(table) -> str:
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


def cmd_matrix(args: argparse.Namespace) -> None:
    from debias.cli.battles import is_battle_data
    from debias.counterfactual import winrate_matrix, winrate_pairs
    from debias.reports.leaderboard import leaderboard_fit, to_markdown, write_table

    if is_battle_data(args):
        return cmd_battle_matrix(args)
    check_table_out(args, args.out)
    at = counterfactual_at(args)
    comps = read_comparisons(args)
    _, fit = leaderboard_fit(comps, **model_kwargs(args), se="sem", progress=not args.quiet)
    note(args, "computing the win-rate matrix…")
    matrix = winrate_matrix(fit, args.models, at=at)
    for model, why in matrix.attrs.get("notes", {}).items():
        print(f"warning: {model}: controlled win rates missing: {why}", file=sys.stderr)
    if args.form == "pairs":
        matrix = winrate_pairs(fit, args.models, at=at, level=args.level)
        for col in ("estimate", "std_error", "conf_low", "conf_high"):
            matrix[col] = matrix[col] * 100
    square = args.form == "square"
    if args.out:
        note(args, f"writing {args.out}…")
        write_table(matrix, args.out, index=square)
        print(f"wrote {args.out}")
    else:
        what = (
            "of the row model against the column model (intervals: --form pairs)"
            if square
            else f"of model against opponent, {args.level:.0%} cluster-robust interval"
        )
        print(f"controlled win rate (percent) {what}; counterfactual: {describe_at(at)}")
        print(to_markdown(matrix.reset_index() if square else matrix, digits=1), end="")


def cmd_battle_matrix(args: argparse.Namespace) -> None:
    """``debias matrix`` on battle data: the style-controlled win rate of every model against
    every other (:meth:`debias.battles.results.BattleResults.pairs` / ``matrix``)."""
    from debias.battles.estimator import BradleyTerry
    from debias.cli.battles import feature_list, read_battles, refuse_alpaca_options
    from debias.reports.leaderboard import to_markdown, write_table

    refuse_alpaca_options(args)
    if args.compat is not None:
        raise ParameterError(
            f"--compat {args.compat}: the battle matrix is the default Bradley–Terry fit's "
            "(style at zero, sandwich intervals); leave --compat out."
        )
    check_table_out(args, args.out)
    from debias.cli.grades import grade_kind

    if grade_kind(args) == "paired":
        print("paired grades read as battles: the higher grade wins, equal grades tie")
    judgments, battles = read_battles(args)
    options = {"level": args.level}
    if args.features is not None:
        options["features"] = feature_list(args.features)
    note(args, "fitting Bradley–Terry with style control…")
    fit = BradleyTerry(**options).fit(battles, judgments)
    results = fit.results_
    for model, why in results.problems.items():
        print(f"warning: {model}: win rates missing: {why}", file=sys.stderr)
    square = args.form == "square"
    matrix = results.matrix() if square else results.pairs()
    if args.out:
        note(args, f"writing {args.out}…")
        write_table(matrix, args.out, index=square)
        print(f"wrote {args.out}")
        return None
    style = (
        f"style at zero ({', '.join(fit.features_)}: both answers alike)"
        if fit.features_
        else "no style control"
    )
    what = (
        "of the row model against the column model (intervals: --form pairs)"
        if square
        else f"of model against opponent, {args.level:.0%} interval clustered by prompt "
        f"({fit.n_prompts_} prompts)"
    )
    print(f"Bradley–Terry win rate (percent) {what}; {style}; a tie counts ½")
    print(to_markdown(matrix.reset_index() if square else matrix, digits=1), end="")
    return None


def cmd_difficulty(args: argparse.Namespace) -> None:
    from debias.model.glm import PreferenceGLM

    if args.out.suffix.lower() != ".csv":
        raise ParameterError(
            f"--out {args.out}: the difficulty is written as CSV; use a .csv name."
        )
    check_writable(args.out)
    from debias.atomic import check_not_input

    check_not_input(args.out, input_paths(args))
    comps = read_comparisons(args)
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
    note(args, f"writing {args.out}…")
    glm.difficulty_.to_csv(args.out, instruction_order=order)
    print(f"wrote the difficulty of {len(glm.difficulty_)} instructions to {args.out}")
