"""How the ``debias`` command line talks: one-line errors, flags in messages, progress lines.

* :func:`to_cli_message` rewrites a library message's Python keywords (``models=``) as the
  command-line flags (``--models``);
* :func:`one_line` turns any exception into the one line shown and the exit code;
* :class:`LineProgress` turns progress bars into plain lines at a bounded rate when stderr
  is a log, a pipe or a notebook's ``!debias`` rather than a terminal.

Only the standard library is imported, so that ``debias --help`` starts quickly.
"""

from __future__ import annotations

import errno
import re
import time

from debias.errors import DebiasError

__all__ = ["FLAGS", "LineProgress", "one_line", "to_cli_message"]

# Python keyword -> command-line flag, applied to error and warning messages shown on the CLI.
FLAGS = {
    "models": "--models",
    "exclude": "--exclude",
    "judge": "--judge",
    "mapping": "--map",
    "baseline": "--baseline",
    "preference_scale": "--preference-scale",
    "preset": "--preset",
    "formula": "--formula",
    "difficulty": "--difficulty",
    "regularize": "--regularize",
    "lam": "--lam",
    "compat": "--compat",
    "compat_folds": "--compat-folds",
    "difficulty_join": "--difficulty-join",
    "reference_inputs": "--reference-inputs",
    "se": "--se",
    "level": "--level",
    "n_boot": "--n-boot",
    "seed": "--seed",
    "n_jobs": "--jobs",
    "out_dir": "--out",
    "out": "--out",
    "at": "--at",
    "mediators": "--mediators",
    "format": "--format",
    "anchor": "--anchor",
    "coef_out": "--coef-out",
    "features": "--features",
    "judges": "--judges",
    "families": "--families",
    "patterns": "--verdict-pattern",
    "match": "--verdict-match",
}
# a keyword starts a word (after a space, an opening bracket, a comma or a backquote), so that
# "m:difficulty=38.8" or "x.models=" in data are left alone
_KEYWORD = re.compile(
    r"(?<![^\s(\[,`])(" + "|".join(sorted(FLAGS, key=len, reverse=True)) + r")= ?"
)
_PARAMETER = re.compile(r"\bThe '(" + "|".join(FLAGS) + r")' parameter(?: of \w+)?")


def to_cli_message(message: str) -> str:
    """A library message with Python keywords replaced by the command-line flags.

    Examples
    --------
    >>> to_cli_message("pick one with judge=... or pass models=['a']")
    "pick one with --judge ... or pass --models ['a']"
    >>> to_cli_message("Very large coefficients (m:difficulty=38.8, n:judge=2)")
    'Very large coefficients (m:difficulty=38.8, n:judge=2)'
    >>> to_cli_message("The 'n_jobs' parameter must be a nonzero int. Got 0 instead.")
    'The --jobs option must be a nonzero int. Got 0 instead.'
    >>> to_cli_message("The 'lam' parameter of PreferenceGLM must be finite. Got inf instead.")
    'The --lam option must be finite. Got inf instead.'
    >>> to_cli_message("fit(difficulty='none'); mapping= and preference_scale= apply to tables")
    "fit(--difficulty 'none'); --map and --preference-scale apply to tables"
    """
    message = _PARAMETER.sub(lambda m: f"The {FLAGS[m.group(1)]} option", message)
    message = _KEYWORD.sub(lambda m: FLAGS[m.group(1)] + " ", message)
    return message.replace(" (--judge on the command line)", "")


_OS_HINTS = {
    errno.ENOSPC: "the disk is full",
    errno.EDQUOT: "the disk quota is exceeded",
    errno.EROFS: "the file system is read-only",
    errno.ENOTDIR: "a part of the path is a file, not a folder",
    errno.EACCES: "permission denied",
    errno.EPERM: "operation not permitted",
    errno.EISDIR: "is a folder, not a file",
    errno.ENOENT: "no such file or folder",
    errno.ENAMETOOLONG: "the name is too long",
    errno.ELOOP: "too many levels of symbolic links",
}


def one_line(exc: BaseException) -> tuple[str, int]:
    """The one-line message and exit code (2 expected, 1 internal) of an exception.

    Examples
    --------
    >>> one_line(OSError(28, "No space left on device", "out/lb.csv"))
    ('out/lb.csv: the disk is full', 2)
    >>> one_line(KeyError("x"))[1]
    1
    """
    if isinstance(exc, DebiasError):
        text = str(exc).strip().splitlines()
        return to_cli_message(text[0] if text else type(exc).__name__), 2
    if isinstance(exc, OSError):
        what = _OS_HINTS.get(exc.errno) or exc.strerror or str(exc) or type(exc).__name__
        where = exc.filename if exc.filename is not None else ""
        if exc.filename2 is not None:
            where = f"{where} -> {exc.filename2}"
        return (f"{where}: {what}" if where else str(what)), 2
    if isinstance(exc, UnicodeError):
        return f"text that is not valid Unicode/UTF-8 ({exc}); fix or re-encode the file.", 2
    if isinstance(exc, RecursionError):
        return "the input is nested too deeply to read (deeply nested JSON?).", 2
    if isinstance(exc, MemoryError):
        return "out of memory: the input is too large for this machine.", 2
    text = str(exc).strip().splitlines()
    detail = f"{type(exc).__name__}: {text[0]}" if text else type(exc).__name__
    return f"internal error ({detail}); run with --debug for the traceback.", 1


class LineProgress:
    """stderr for a log, a pipe or a notebook's ``!debias``: progress bars become plain lines.

    tqdm redraws a bar with ``\\r``; here each bar's first state, its final state and at
    most one state every ``interval`` seconds become a line. Other text passes through.
    """

    _ANSI = re.compile(r"\x1b\[[0-9;]*[A-Za-z]")

    def __init__(self, stream, interval: float = 10.0) -> None:
        self._stream = stream
        self._interval = interval
        self._pending: str | None = None  # a bar's latest state, not yet shown
        self._bar_open = False  # a bar's state was the last thing written
        self._last_line: str | None = None
        self._last_key: str | None = None
        self._last_time = 0.0

    def write(self, text: str) -> int:
        n = len(text)
        text = self._ANSI.sub("", text)
        if "\r" in text:
            head, _, status = text.rpartition("\r")
            before = head.split("\r")[0]
            if before:
                self._text(before)
            self._status(status.strip())
            self._bar_open = True
            return n
        if self._bar_open and text.startswith("\n"):  # a bar closed: show its final state
            if self._pending is not None:
                self._emit(self._pending)
            self._bar_open = False
            text = text[1:]
        if text:
            self._text(text)
        return n

    def _text(self, text: str) -> None:
        if self._pending is not None:  # the bar's latest state before a warning, in order
            self._emit(self._pending)
        self._bar_open = False
        self._stream.write(text)

    def _status(self, status: str) -> None:
        if not status:  # a bar cleared itself (leave=False): show its final state
            if self._pending is not None:
                self._emit(self._pending)
            return
        key = status.split(":")[0]
        now = time.monotonic()
        if key != self._last_key or now - self._last_time >= self._interval:
            self._emit(status)
            self._last_key, self._last_time = key, now
        else:
            self._pending = status

    def _emit(self, line: str) -> None:
        self._pending = None
        if line != self._last_line:
            self._stream.write(line + "\n")
            self._stream.flush()
            self._last_line = line

    def flush(self) -> None:
        self._stream.flush()

    def isatty(self) -> bool:
        return False

    def __getattr__(self, name):
        return getattr(self._stream, name)
