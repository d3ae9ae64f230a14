"""``debias leaderboard`` and ``debias audit`` on graded data.

Three kinds of judge data carry more than a win, a tie or a loss:

single-answer grades (Arena-Bench, FastChat MT-Bench single)
    ``debias leaderboard`` prints the mean grade and the length-controlled grade per model
    (:func:`debias.reports.grades.length_controlled_grades`, ``--method linear|ordinal``);
    ``debias audit`` the grade-length slope per judge and the mean vs controlled grade per
    model (``report.md`` and ``audit.json``).
paired grades (Vicuna-80's GPT-4 reviews: one grade per answer of a pair)
    read as battles by default (the higher grade wins, equal grades tie: the battle
    leaderboard, which says so); ``--grades totals`` prints the published totals per pair
    and the difference at equal length (:func:`~debias.reports.grades.paired_grade_totals`,
    :func:`~debias.reports.grades.paired_grade_difference`).
graded verdicts (Arena-Hard's five levels, MT-Bench's three)
    read as battles by default; ``--verdicts levels`` fits the cumulative logit and prints
    it beside Arena-Hard's strong-verdicts-count-3 convention
    (:func:`debias.reports.graded_verdicts.graded_verdicts`).

Wide tables name a quantity ``q``'s uncertainty ``q_se``, ``q_ci_low``, ``q_ci_high``
(docs/api_for_contributors.md, "One spelling per quantity").
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from debias.cli.common import (
    check_table_out,
    data_format,
    note,
    read_judge_files,
    select_models,
)
from debias.errors import InputError, ParameterError

#: detected (or --format) layouts of graded data -> the kind of grades they hold.
GRADE_FORMATS = {"single_grades": "single", "vicuna_reviews": "paired"}
#: options of other data refused on grades (flag, attribute, default).
_NOT_FOR_GRADES = (
    ("--preset", "preset", None),
    ("--formula", "formula", None),
    ("--regularize", "regularize", None),
    ("--lam", "lam", None),
    ("--at", "at", None),
    ("--compat", "compat", None),
    ("--compat-folds", "compat_folds", None),
    ("--reference-inputs", "reference_inputs", None),
    ("--difficulty-join", "difficulty_join", None),
    ("--save-difficulty", "save_difficulty", None),
    ("--preference-scale", "preference_scale", None),
    ("--anchor", "anchor", None),
    ("--features", "features", None),
    ("--coef-out", "coef_out", None),
    ("--verdicts", "verdicts", None),
    ("--grades", "grades", None),
)


def grade_kind(args: argparse.Namespace) -> str | None:
    """``"single"``, ``"paired"`` or None (not graded answers), from the layout alone."""
    return GRADE_FORMATS.get(data_format(args))


def _refuse(args: argparse.Namespace, what: str, allowed=()) -> None:
    for flag, name, default in _NOT_FOR_GRADES:
        if flag not in allowed and getattr(args, name, default) != default:
            raise ParameterError(f"{flag} does not apply to {what} ({args.path}): leave it out.")
    if getattr(args, "difficulty", None) not in (None, "fit", "auto"):
        raise ParameterError(
            f"--difficulty applies to AlpacaEval-style data; {args.path} holds {what} "
            "(prompts enter as fixed effects or clusters): leave --difficulty out."
        )
    if getattr(args, "se", "sandwich") != "sandwich":
        raise ParameterError(
            f"--se {args.se}: the intervals of {what} are cluster-robust by prompt (sandwich); "
            "leave --se out."
        )
    if getattr(args, "method", None) is not None and "--method" not in allowed:
        raise ParameterError(
            f"--method applies to single-answer grades; {args.path} holds {what}: leave it out."
        )


def _one_judge(args: argparse.Namespace, judgments) -> None:
    if len(judgments.judges) > 1:
        raise InputError(
            f"{args.path}: grades of several judges {judgments.judges}; pick one with --judge."
        )


def single_grades(args: argparse.Namespace, judgments, level: float):
    """(:class:`~debias.reports.grades.GradeReport`, prompts) of one judge's single grades."""
    from debias.reports.grades import grade_frame, length_controlled_grades

    frame = select_models(args, grade_frame(judgments))
    data = frame if args.models or args.exclude else judgments  # the same rows either way
    report = length_controlled_grades(
        data,
        method=args.method or "linear",
        scale=None if data is judgments else (judgments.scale.low, judgments.scale.high),
        level=level,
    )
    return report, int(frame["prompt"].nunique())


def wide_grades(report):
    """The grade table in the wide spelling (``mean_grade_se``, ``controlled_grade_ci_low``).

    Examples
    --------
    >>> from debias.reports.grades import length_controlled_grades
    >>> from debias.simulate.grades import simulate_grades
    >>> sim = simulate_grades(n_models=2, n_prompts=50, seed=0)
    >>> list(wide_grades(length_controlled_grades(sim.grades, scale=(1, 10))).columns)[2:6]
    ['mean_grade', 'mean_grade_se', 'mean_grade_ci_low', 'mean_grade_ci_high']
    """
    return report.table


# ----------------------------------------------------------------------------- leaderboard
def cmd_graded_leaderboard(args: argparse.Namespace) -> bool:
    """``debias leaderboard`` on graded data; False when the data is to be read as battles."""
    kind = grade_kind(args)
    if getattr(args, "verdicts", None) == "levels":
        if kind is not None:
            raise ParameterError(
                f"--verdicts levels reads graded pairwise verdicts; {args.path} holds "
                f"{kind} grades: leave it out."
            )
        _verdict_leaderboard(args)
        return True
    if kind is None:
        if getattr(args, "grades", None) is not None or getattr(args, "method", None):
            flag = "--grades" if args.grades is not None else "--method"
            raise ParameterError(
                f"{flag} applies to graded answers; {args.path} holds no grades: leave it out."
            )
        return False
    if kind == "paired":
        if getattr(args, "method", None):
            raise ParameterError(
                "--method applies to single-answer grades; paired grades are compared within "
                "the pair: use --grades totals."
            )
        if args.grades != "totals":
            print(
                "paired grades read as battles: the higher grade wins, equal grades tie "
                "(--grades totals: the totals per pair and the difference at equal length)"
            )
            return False
        _paired_leaderboard(args)
        return True
    if getattr(args, "grades", None) is not None:
        raise ParameterError(
            f"--grades {args.grades} needs two grades per call (paired grades); {args.path} "
            "holds single-answer grades: leave it out."
        )
    _grade_leaderboard(args)
    return True


def _write(args: argparse.Namespace, table) -> None:
    from debias.reports.leaderboard import write_table

    if args.out:
        note(args, f"writing {args.out}…")
        write_table(table, args.out)


def _grade_leaderboard(args: argparse.Namespace) -> None:
    from debias.reports.leaderboard import to_markdown

    _refuse(args, "single-answer grades", allowed=("--method",))
    check_table_out(args, args.out)
    judgments = read_judge_files(args)
    _one_judge(args, judgments)
    note(args, f"fitting the length-controlled grades ({args.method or 'linear'})…")
    report, _ = single_grades(args, judgments, args.level)
    table = wide_grades(report)
    _write(args, table)
    low, high = report.grade_range
    slope = report.slope.iloc[0]
    print(
        f"judge: {', '.join(judgments.judges)}   grades: {int(table['n'].sum())} of "
        f"{len(table)} models   grade range [{low:g}, {high:g}]   method: {report.method}"
    )
    print(report.definition)
    print(
        f"length slope ({'grade points' if report.method == 'linear' else 'log-odds'} per unit "
        f"of log(1 + characters)): {_interval_text(slope, args.level)}"
    )
    print(to_markdown(table, digits=3), end="")
    if args.out:
        print(f"wrote {args.out}")


def _interval_text(row, level: float) -> str:
    est, low, high = row["estimate"], row["conf_low"], row["conf_high"]
    if est != est:
        return f"not estimated ({row.get('note') or 'no estimate'})"
    if low != low:
        return f"{est:+.4f} (no interval: {row.get('note') or 'no valid standard error'})"
    return f"{est:+.4f} ({level:.0%} CI {low:+.4f} to {high:+.4f})"


def paired_table(args: argparse.Namespace, judgments, level: float):
    """Totals per pair beside the mean difference and the difference at equal length."""
    from debias.reports.grades import paired_grade_difference, paired_grade_totals

    keys = ["judge", "model_a", "model_b"]
    totals = paired_grade_totals(judgments)
    diff = paired_grade_difference(judgments, level=level).drop(columns="n")
    table = totals.merge(diff, on=keys, how="left", validate="one_to_one")
    return select_models(args, table, ("model_a", "model_b"))


def _paired_leaderboard(args: argparse.Namespace) -> None:
    from debias.reports.leaderboard import to_markdown

    _refuse(args, "paired grades", allowed=("--grades",))
    check_table_out(args, args.out)
    judgments = read_judge_files(args)
    table = paired_table(args, judgments, args.level)
    _write(args, table)
    print(
        f"judge: {', '.join(judgments.judges)}   paired grades on "
        f"[{judgments.scale.low:g}, {judgments.scale.high:g}]: totals over the calls where both "
        "answers have a grade; ratio = total_b / total_a (percent)"
    )
    print(
        "difference: mean of grade_a - grade_b; controlled_difference: delta in grade_a - "
        "grade_b = delta + slope * (log(1 + len_a) - log(1 + len_b)), the difference at equal "
        f"length (characters); {args.level:.0%} intervals clustered by prompt (Student's t)"
    )
    print(to_markdown(table), end="")
    if args.out:
        print(f"wrote {args.out}")


def verdict_levels(args: argparse.Namespace, judgments):
    """:class:`~debias.reports.graded_verdicts.GradedVerdicts` of the command's battles."""
    from debias.reports.graded_verdicts import arena_hard_levels, graded_verdicts

    fmt = data_format(args)
    stored = "tokens" in judgments.answers
    features = tuple(args.features) if args.features else (("tokens",) if stored else ("length",))
    if [f.lower() for f in features] == ["none"]:
        features = ()
    kwargs = dict(anchor=args.anchor, features=features, level=args.level)
    if fmt == "arena_hard_battles":  # strong verdicts written as 3 rows: five levels back
        frame = select_models(args, arena_hard_levels(judgments), ("model_a", "model_b"))
        return graded_verdicts(frame, **kwargs), features
    if args.models or args.exclude:
        raise ParameterError(
            "--models / --exclude: graded verdicts read from Judgments use every model; "
            "leave them out."
        )
    return graded_verdicts(judgments, **kwargs), features


def _verdict_leaderboard(args: argparse.Namespace) -> None:
    from debias.reports.leaderboard import to_markdown, write_table

    _refuse(args, "graded verdicts", allowed=("--verdicts", "--anchor", "--features", "--coef-out"))
    check_table_out(args, args.out)
    if args.coef_out is not None:
        check_table_out(args, args.coef_out, "--coef-out")
        if args.out is not None and Path(args.coef_out).resolve() == Path(args.out).resolve():
            raise ParameterError("--coef-out and --out name the same file; give two names.")
    judgments = read_judge_files(args)
    _one_judge(args, judgments)
    note(args, "fitting the cumulative logit on the levels…")
    report, features = verdict_levels(args, judgments)
    key = "controlled_score" if features else "ordinal_score"
    table = report.table.sort_values(key, ascending=False, kind="stable", na_position="last")
    table = table.reset_index(drop=True)
    _write(args, table)
    if args.coef_out:
        note(args, f"writing {args.coef_out}…")
        write_table(report.coefficients, args.coef_out)
    print(f"judge: {', '.join(judgments.judges)}   anchor: {report.anchor}")
    print(report.definition)
    print(to_markdown(table), end="")
    print(
        "coefficients (log-odds; strengths, "
        + (f"style {', '.join(features)}, " if features else "")
        + "cut points):"
    )
    print(to_markdown(report.coefficients, digits=4), end="")
    for path in (args.out, args.coef_out):
        if path:
            print(f"wrote {path}")


# ----------------------------------------------------------------------------- audit
def cmd_grade_audit(args: argparse.Namespace) -> bool:
    """``debias audit`` on single-answer grades (False for any other data).

    Per judge: the grade-length slope with its interval and p-value, and the mean vs the
    length-controlled grade per model; ``report.md`` and ``audit.json`` written at once."""
    if grade_kind(args) != "single":
        if getattr(args, "method", None):
            raise ParameterError(
                f"--method applies to single-answer grades; {args.path} holds none: leave it out."
            )
        return False
    from debias.atomic import atomic_dir
    from debias.reports.leaderboard import to_markdown

    if any(getattr(args, k, None) for k in ("judges", "families", "consistency_rule")):
        raise ParameterError(
            "--judges / --families / --consistency-rule audit pairwise judges; single grades "
            "are audited per judge already and have no order shown: leave them out."
        )
    if args.mediators and [m.lower() for m in args.mediators] != ["length"]:
        raise ParameterError(
            f"--mediators {','.join(args.mediators)}: single grades are audited for length "
            "only (log(1 + characters)); leave --mediators out."
        )
    _refuse(args, "single-answer grades", allowed=("--method",))
    judgments = read_judge_files(args)
    payload: dict = {
        "kind": "single grades",
        "method": args.method or "linear",
        "level": args.level,
        "judges": {},  # judge -> effect -> estimate, std_error, conf_low, conf_high, p_value
        "models": {},  # judge -> the mean and the length-controlled grade per model
        "definitions": {},
    }
    parts = []
    for judge in judgments.judges:
        note(args, f"fitting the length-controlled grades of {judge}…")
        report, n_prompts = single_grades(args, judgments.select(judge=judge), args.level)
        effect = _slope_effect(report, n_prompts)
        models = wide_grades(report)
        payload["judges"][judge] = {"length": effect}
        payload["models"][judge] = models.to_dict("records")
        payload["definitions"][judge] = report.definition
        parts.append((judge, report, effect, models))
    text = [f"# Length audit of single-answer grades: {args.path}\n"]
    for judge, report, effect, models in parts:
        low, high = report.grade_range
        text += [
            f"## {judge}\n",
            report.definition + "\n",
            f"Grade-length slope ({effect['unit']}): "
            f"{_interval_text(effect, args.level)}, p = {_p_text(effect['p_value'])}.\n",
            f"Mean grade vs length-controlled grade per model (grades in [{low:g}, {high:g}]):\n",
            to_markdown(models, digits=3),
        ]
    from debias.reports.audit.report import json_ready

    body = json.dumps(json_ready(payload), indent=1, allow_nan=False)
    note(args, f"writing {args.out}…")
    with atomic_dir(args.out) as tmp:
        (Path(tmp) / "report.md").write_text("\n".join(text), encoding="utf-8")
        (Path(tmp) / "audit.json").write_text(body, encoding="utf-8")
    for judge, _, effect, _ in parts:
        print(f"{judge}: grade-length slope {_interval_text(effect, args.level)}")
    print(f"report: {Path(args.out) / 'report.md'} (and audit.json)")
    return True


def _p_text(p) -> str:
    return "not computed" if p is None or p != p else f"{p:.3g}"


def _slope_effect(report, n_prompts: int) -> dict:
    """The length slope as an audit effect: ``estimate, std_error, conf_low, conf_high,
    p_value`` (Student's t with prompts - 1 df, as the interval), ``unit`` and ``note``."""
    import numpy as np
    from scipy import stats

    row = report.slope.iloc[0]
    est, se = float(row["estimate"]), float(row["std_error"])
    df = n_prompts - 1
    p = float(2 * stats.t.sf(abs(est / se), df)) if np.isfinite(se) and df >= 1 else np.nan
    unit = (
        "grade points per unit of log(1 + characters) at equal prompt"
        if report.method == "linear"
        else "log-odds of a higher grade per unit of log(1 + characters)"
    )
    return {
        "estimate": est,
        "std_error": se,
        "conf_low": float(row["conf_low"]),
        "conf_high": float(row["conf_high"]),
        "p_value": p,
        "unit": unit,
        "note": str(row["note"] or ""),
    }


__all__ = ["cmd_grade_audit", "cmd_graded_leaderboard", "grade_kind"]
