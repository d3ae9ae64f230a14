"""``debias leaderboard`` and ``debias audit`` on battle data (any pairs, Arena-Hard, ...).

A PATH whose layout :func:`debias.io.judges.detect_format` recognises (or any PATH with
``--format``, or a battle ``--compat``) is read as :class:`~debias.judgments.Judgments`
and fitted by Bradley–Terry (:func:`debias.battles.leaderboard.battle_leaderboard`, or
a compatibility preset of :mod:`debias.battles.presets`); everything else keeps the
AlpacaEval path of :mod:`debias.cli.fitting`.
"""

from __future__ import annotations

import argparse
import inspect
from pathlib import Path

from debias.cli.common import (
    check_table_out,
    data_format,
    note,
    read_judge_files,
    select_models,
)
from debias.errors import InputError, ParameterError

#: --compat values of battle data -> the preset function's name in debias.battles.presets.
BATTLE_COMPAT = {"arena_hard": "arena_hard", "arena_rank": "arena_rank", "fastchat": "fastchat_elo"}
#: AlpacaEval-only options refused on battle data (flag, attribute, its default).
_ALPACA_ONLY = (
    ("--preset", "preset", None),
    ("--formula", "formula", None),
    ("--regularize", "regularize", None),
    ("--lam", "lam", None),
    ("--at", "at", None),
    ("--compat-folds", "compat_folds", None),
    ("--reference-inputs", "reference_inputs", None),
    ("--difficulty-join", "difficulty_join", None),
    ("--save-difficulty", "save_difficulty", None),
    ("--preference-scale", "preference_scale", None),
)


def is_battle_data(args: argparse.Namespace) -> bool:
    """Whether the command reads ``args.path`` as battles (before anything is read)."""
    if getattr(args, "format", None) or getattr(args, "compat", None) in BATTLE_COMPAT:
        return True
    battle_only = ("anchor", "coef_out", "features", "verdict_match", "verdict_pattern")
    if any(getattr(args, name, None) for name in battle_only):
        return True
    return data_format(args) is not None


def refuse_alpaca_options(args: argparse.Namespace, allow: tuple[str, ...] = ()) -> None:
    for flag, name, default in _ALPACA_ONLY:
        if flag not in allow and getattr(args, name, default) != default:
            raise ParameterError(
                f"{flag} applies to AlpacaEval-style data (one baseline, soft preferences); "
                f"{args.path} is read as battles: leave {flag} out."
            )
    if getattr(args, "difficulty", None) not in (None, "fit", "auto"):
        raise ParameterError(
            f"--difficulty applies to AlpacaEval-style data; {args.path} is read as battles "
            "(prompts enter as clusters of the intervals): leave --difficulty out."
        )
    if getattr(args, "compat", None) == "alpaca_eval":
        raise ParameterError(
            f"--compat alpaca_eval reproduces AlpacaEval's procedure; {args.path} is read as "
            f"battles: use --compat {' / '.join(BATTLE_COMPAT)} or leave it out."
        )


def read_battles(args: argparse.Namespace, *, several_judges: bool = False):
    """(judgments, battles frame) of the command: one judge (or several when
    ``several_judges``), the models selected."""
    judgments = read_judge_files(args)
    if len(judgments.judges) > 1 and not several_judges:
        raise InputError(
            f"{args.path}: battles of several judges {judgments.judges}; pick one with --judge."
        )
    battles = judgments.battles()
    if battles.empty:
        raise InputError(
            f"{args.path}: no battles: every call grades one answer alone "
            f"({judgments.scale.describe()}); a battle leaderboard needs calls comparing two."
        )
    battles = select_models(args, battles, ("model_a", "model_b"), what="no battle")
    n_models = len(set(battles["model_a"]) | set(battles["model_b"]))
    note(
        args,
        f"read {len(battles)} battles of {n_models} models on {battles['prompt'].nunique()} "
        f"prompts (judge {', '.join(judgments.judges)})",
    )
    return judgments, battles


def _call(func, given: dict, defaults: dict):
    """``func(**given, **defaults)``; a flag the user gave that ``func`` does not take is refused,
    a default it does not take is left out."""
    params = inspect.signature(func).parameters
    takes_any = any(p.kind is inspect.Parameter.VAR_KEYWORD for p in params.values())
    kwargs = {}
    for name, value in {**defaults, **given}.items():
        if takes_any or name in params:
            kwargs[name] = value
        elif name in given:
            raise ParameterError(f"{func.__name__} does not take {name}=; leave it out.")
    return kwargs


def _default_of(func, name: str):
    param = inspect.signature(func).parameters.get(name)
    return None if param is None else param.default


def fit_preset(args: argparse.Namespace, judgments, battles):
    """A ``--compat`` preset (:mod:`debias.battles.presets`): the tool's own numbers.

    The tool's own interval method and defaults apply (Arena-Hard: 100 bootstrap rounds);
    ``--n-boot`` and ``--seed`` are passed with ``--se bootstrap`` only."""
    from debias.battles import presets

    func = getattr(presets, BATTLE_COMPAT[args.compat])
    if getattr(args, "formula", None) is not None:
        raise ParameterError(
            f"--formula applies to the default battle fit; --compat {args.compat} reproduces "
            "its tool and takes --features: leave --formula out."
        )
    given: dict = {}
    if args.anchor is not None:
        given["baseline" if args.compat == "arena_hard" else "anchor"] = args.anchor
    if args.se == "bootstrap":
        given.update(n_boot=args.n_boot, seed=args.seed)
    if args.features is not None:
        given["features"] = feature_list(args.features)
    kwargs = _call(func, given, {"level": args.level})
    features = kwargs.get("features", _default_of(func, "features"))
    if features:
        from debias.battles.style import add_answer_features

        note(args, f"measuring the answers' style ({', '.join(features)})…")
        battles = add_answer_features(battles, judgments, features=tuple(features))
    note(args, f"fitting the {args.compat} preset…")
    result = func(battles, **kwargs)
    return result.table, result


def fit_leaderboard(args: argparse.Namespace, judgments, battles):
    """(table, report) of the default battle leaderboard or of a ``--compat`` preset."""
    if args.compat in BATTLE_COMPAT:
        return fit_preset(args, judgments, battles)
    if args.se == "sem":
        raise ParameterError(
            "--se sem is AlpacaEval's spread of predictions; battle intervals are sandwich "
            "(clustered by prompt, default) or bootstrap (prompts resampled)."
        )
    from debias.battles.leaderboard import battle_leaderboard

    given: dict = {}
    if args.anchor is not None:
        given["anchor"] = args.anchor
    if args.features is not None:
        given["features"] = feature_list(args.features)
    if getattr(args, "formula", None) is not None:
        from debias.battles.formula import parse_battle_formula

        parse_battle_formula(args.formula, battles.columns)  # refused before any fit
        given["formula"] = args.formula
    if args.se == "bootstrap":
        given.update(cov_type="bootstrap", n_boot=args.n_boot, seed=args.seed, n_jobs=args.jobs)
        note(args, f"bootstrap: {args.n_boot} replicates over prompts ({args.jobs} worker(s))…")
    else:
        note(args, "fitting Bradley–Terry with and without style control…")
    kwargs = _call(battle_leaderboard, given, {"level": args.level, "progress": not args.quiet})
    table, report = battle_leaderboard(battles, judgments, **kwargs)
    return table, report


def feature_list(names: list[str]) -> tuple[str, ...]:
    """``--features`` / ``--mediators``: style features, ``none`` for none."""
    return () if [n.lower() for n in names] == ["none"] else tuple(names)


def coefficient_table(report):
    """The style coefficients with their intervals (a default report or a preset's), or None."""
    if report is None:
        return None
    if hasattr(report, "coefficients_frame"):
        return report.coefficients_frame()
    return getattr(report, "coefficients", None)


def _report_text(report) -> str:
    if report is None:
        return ""
    if hasattr(report, "to_text"):
        return report.to_text().rstrip("\n") + "\n"
    from debias.reports.leaderboard import to_markdown

    text = f"{report.preset}: {report.description}\n"
    coefficients = coefficient_table(report)
    if coefficients is not None and len(coefficients):
        text += "style coefficients:\n" + to_markdown(coefficients, digits=4)
    return text


def cmd_battle_leaderboard(args: argparse.Namespace) -> None:
    from debias.reports.leaderboard import to_markdown, write_table

    refuse_alpaca_options(args, allow=("--formula",))  # battle formulas: debias.battles.formula
    check_table_out(args, args.out)
    if args.coef_out is not None:
        check_table_out(args, args.coef_out, "--coef-out")
        if args.out is not None and Path(args.coef_out).resolve() == Path(args.out).resolve():
            raise ParameterError("--coef-out and --out name the same file; give two names.")
    judgments, battles = read_battles(args)
    table, report = fit_leaderboard(args, judgments, battles)
    if args.out:
        note(args, f"writing {args.out}…")
        write_table(table, args.out)
    if args.coef_out:
        coefficients = coefficient_table(report)
        if coefficients is None or not len(coefficients):
            raise ParameterError(f"--coef-out: --compat {args.compat} fits no style coefficients.")
        note(args, f"writing {args.coef_out}…")
        write_table(coefficients, args.coef_out)
    scale = "scores in percent against the anchor; ratings on the Elo scale"
    print(f"judge: {', '.join(judgments.judges)}   battles: {len(battles)}   {scale}")
    print(to_markdown(table), end="")
    print(_report_text(report), end="")
    for path in (args.out, args.coef_out):
        if path:
            print(f"wrote {path}")


def cmd_battle_audit(args: argparse.Namespace) -> None:
    """``debias audit PATH`` on battle data, one judge or several (``--judges``, default all):
    style, position and self-preference effects per judge, each judge's raw and
    style-controlled leaderboard (:func:`debias.reports.audit.judges.audit_judges`)."""
    from debias.reports.audit.judges import audit_judges

    refuse_alpaca_options(args)
    judgments, battles = read_battles(args, several_judges=True)
    families = {}
    for item in getattr(args, "families", None) or ():
        model, sep, family = item.partition("=")
        if not sep or not model or not family:
            raise ParameterError(f"--families: expected MODEL=FAMILY, got {item!r}.")
        families[model] = family
    features = feature_list(args.mediators) if args.mediators else None
    if features == ():
        raise ParameterError("--mediators none: the audit needs at least one feature.")
    judges = getattr(args, "judges", None)
    note(args, "fitting the judge(s): style, position, self-preference, leaderboards…")
    report = audit_judges(
        battles,
        judgments,
        judges=None if not judges or judges == ["all"] else judges,
        features=features,
        families=families or None,
        consistency_rule=getattr(args, "consistency_rule", None) or "pair",
        level=args.level,
    )
    note(args, f"writing {args.out}…")
    report.write(args.out)
    print(report.to_text(), end="")
    print(f"report: {Path(args.out) / 'report.md'} (and audit.json, judges.png)")


__all__ = ["BATTLE_COMPAT", "cmd_battle_audit", "cmd_battle_leaderboard", "is_battle_data"]
