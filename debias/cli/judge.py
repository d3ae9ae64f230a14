"""The judge commands: ``debias audit`` (a judge's biases) and ``debias simulate`` / ``debias demo``
(a judge with known biases, for trying the toolkit)."""

from __future__ import annotations

import argparse
from pathlib import Path

from debias.cli.common import check_replaceable, check_writable, input_paths, note, read_comparisons
from debias.cli.fitting import caption
from debias.errors import ParameterError


def cmd_audit(args: argparse.Namespace) -> None:
    from debias.atomic import check_not_input
    from debias.reports.audit import audit, check_audit_dir

    check_audit_dir(args.out)
    if not args.out.exists():
        check_writable(args.out)
    check_not_input(args.out, input_paths(args))
    from debias.cli.grades import cmd_grade_audit

    if cmd_grade_audit(args):  # single-answer grades
        return None
    from debias.cli.battles import cmd_battle_audit, is_battle_data

    if getattr(args, "judges", None) or is_battle_data(args):  # one judge or several
        return cmd_battle_audit(args)
    if getattr(args, "consistency_rule", None):
        raise ParameterError(
            "--consistency-rule needs battle data judged in both orders (AlpacaEval shows one "
            "order per instruction: position cannot be separated there); drop it."
        )
    model = _audit_model(args)
    comps = read_comparisons(args)
    report = audit(comps, **model, level=args.level, out=None, progress=not args.quiet)
    note(args, f"writing {args.out}…")
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
    from debias.model.formula import resolve_formula

    spec = resolve_formula(args.formula, args.preset)
    kwargs["formula"] = spec.rhs
    kwargs["mediators"] = args.mediators or sorted(spec.mediators)
    if not kwargs["mediators"]:
        raise ParameterError(
            f"--{'formula' if args.formula else 'preset'}: {spec.rhs!r} uses no mediator: "
            "nothing to audit."
        )
    return kwargs


def cmd_demo(args: argparse.Namespace) -> None:
    from debias.datasets import load_example_tree
    from debias.reports.audit import check_audit_dir
    from debias.reports.leaderboard import leaderboard, to_markdown, write_table

    out = Path(args.out)
    check_audit_dir(out / "audit")
    root = load_example_tree(out / "data")
    print(f"example data (a simulated judge with a known length bias): {root}")
    table = leaderboard(root, preset="length_controlled_noreg", progress=not args.quiet)
    path = write_table(table, out / "leaderboard.csv")
    print(caption(table))
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


def cmd_simulate(args: argparse.Namespace) -> None:
    from debias.atomic import atomic_dir
    from debias.simulate import simulate, write_alpaca_eval_tree

    out: Path = args.out
    check_replaceable(out, _is_simulated_tree, "a tree written by debias simulate")
    note(args, f"simulating {args.models} models on {args.instructions} instructions…")
    sim = simulate(
        n_models=args.models,
        n_instructions=args.instructions,
        length_effect=args.length_effect,
        markdown_effect=args.markdown_effect,
        soft=not args.hard,
        seed=args.seed,
    )
    note(args, f"writing {out}…")
    with atomic_dir(out) as tmp:
        write_alpaca_eval_tree(sim, tmp)
    print(f"wrote {len(sim.comparisons)} judgments of {len(sim.truth)} models to {out}")


def _is_simulated_tree(path: Path) -> bool:
    names = {p.name for p in path.iterdir()}
    return "results" in names and names <= {"results", "truth.csv", "instruction_difficulty.csv"}
