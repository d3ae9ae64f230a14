"""The ``debias`` command line.

The package: :mod:`~debias.cli.parser` (the commands and their flags), :mod:`~debias.cli.options`
(argument types, option groups), :mod:`~debias.cli.common` (stage messages, output paths,
reading), one module per command family (:mod:`~debias.cli.fitting`: leaderboard, matrix,
difficulty; :mod:`~debias.cli.judge`: audit, simulate, demo) and :mod:`~debias.cli.messages`
(Python messages as one CLI line). Every subcommand is one ``cmd_*`` function registered in
:func:`build_parser`.
Every expected failure (bad input or settings, an unreadable or unwritable path, an
interrupt) prints one line on stderr and exits with code 2 (130 for Ctrl-C); messages
written for Python (``models=``) are shown with the matching flag (``--models``).
An unexpected internal error prints one line and exits 1; ``--debug`` shows the
traceback instead. Stage messages go to stderr (plain lines at a bounded rate when
stderr is not a terminal); ``--quiet`` silences them.

Only the standard library is imported at start-up, so ``debias --help`` is quick.
"""

import os
import sys
import warnings
from collections.abc import Sequence

from debias.cli.messages import LineProgress, one_line, to_cli_message
from debias.cli.parser import build_parser
from debias.errors import DebiasWarning

__all__ = ["build_parser", "main"]


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
