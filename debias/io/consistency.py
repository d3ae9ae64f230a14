"""Checks across the files of one read: what one file alone cannot show.

One is an error: the same (judge, model, baseline) judged on the same prompt in
two files (:func:`check_same_model_twice`: which verdict would count?). The others
warn (:class:`~debias.errors.DataWarning`) and keep the data:

- two model folders with the same answers and verdicts (an upstream quirk of the
  public AlpacaEval results: a submission copied under another name);
- prompts that differ only in whitespace or letter case (kept as distinct
  prompts: difficulty is joined on the exact text, and the reference does too);
- the baseline's answer to one prompt differing between files. This is a warning,
  not an error: each judgment's length and markdown features are computed from
  the answer its judge actually saw, so every row stays a valid observation; but
  a "fixed baseline" then is not fixed, and the controlled win rate of the files
  concerned is not comparable with the others', so the files are named.
"""

from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np

from debias.errors import DataWarning, InputError


class FileChecks:
    """Accumulate per-file facts while reading, then warn once per kind of problem."""

    def __init__(self) -> None:
        self._fingerprints: dict[tuple, tuple[Path, str, list]] = {}
        self.duplicates: list[tuple[Path, Path]] = []
        self._baseline_answer: dict[tuple[str, str], tuple[str, Path]] = {}
        self.answer_drift: list[tuple[str, Path, Path]] = []

    def add(self, cols: dict[str, list], path: Path) -> None:
        """Record one file's columns (after its model was named)."""
        outputs = cols["output_model"]
        key = (hash(tuple(outputs)), np.asarray(cols["preference"], dtype=float).tobytes())
        model = str(cols["model"][0]) if cols["model"] else ""
        first = self._fingerprints.get(key)
        if first is None:
            self._fingerprints[key] = (path, model, outputs)
        elif first[1] != model and first[2] == outputs:
            self.duplicates.append((first[0], path))
        for base, instruction, answer in zip(
            cols["baseline"], cols["instruction"], cols["output_baseline"], strict=True
        ):
            seen = self._baseline_answer.setdefault((base, instruction), (answer, path))
            if seen[0] != answer and seen[1] != path:
                self.answer_drift.append((instruction, seen[1], path))

    def warn(self, instructions, stacklevel: int = 3) -> None:
        """Emit the warnings (``instructions``: every prompt read)."""
        if self.duplicates:
            a, b = self.duplicates[0]
            more = f" ({len(self.duplicates) - 1} more pair(s))" if len(self.duplicates) > 1 else ""
            warnings.warn(
                f"{b}: same answers and verdicts as {a}{more}: one submission under two folder "
                "names? Both are kept as separate models; exclude one with exclude=[...].",
                DataWarning,
                stacklevel=stacklevel,
            )
        if self.answer_drift:
            instruction, a, b = self.answer_drift[0]
            files = {p for _, x, y in self.answer_drift for p in (x, y)}
            warnings.warn(
                f"{b}: the baseline's answer to {instruction[:60]!r} differs from the one in {a} "
                f"({len(self.answer_drift)} prompt(s), {len(files)} file(s)): each row keeps the "
                "answer its judge saw, but these models were not compared with the same baseline.",
                DataWarning,
                stacklevel=stacklevel,
            )
        warn_near_duplicate_prompts(instructions, stacklevel=stacklevel + 1)


def warn_near_duplicate_prompts(instructions, source: str = "", stacklevel: int = 3) -> int:
    """Warn when distinct prompts differ only in whitespace or case; return how many groups.

    Examples
    --------
    >>> import warnings
    >>> with warnings.catch_warnings(record=True) as w:
    ...     warnings.simplefilter("always")
    ...     warn_near_duplicate_prompts(["Hi  there", "hi there", "other"])
    1
    """
    groups: dict[str, set[str]] = {}
    for text in set(map(str, instructions)):
        groups.setdefault(" ".join(text.split()).casefold(), set()).add(text)
    clashes = [sorted(g) for g in groups.values() if len(g) > 1]
    if clashes:
        a, b = clashes[0][:2]
        where = f"{source}: " if source else ""
        warnings.warn(
            f"{where}{len(clashes)} prompt(s) differ from another only in whitespace or case, "
            f"e.g. {a[:50]!r} and {b[:50]!r}; they are kept as distinct prompts (normalise them "
            "first if they are the same question).",
            DataWarning,
            stacklevel=stacklevel,
        )
    return len(clashes)


def check_same_model_twice(
    cols: dict[str, list], f: Path, seen: dict[tuple, tuple[Path, set]]
) -> None:
    """Two files judging the same model on the same instructions cannot both be kept."""
    mine: dict[tuple, set] = {}
    for key, instruction in zip(
        zip(cols["judge"], cols["model"], cols["baseline"], strict=True),
        cols["instruction"],
        strict=True,
    ):
        mine.setdefault(key, set()).add(instruction)
    for key, instructions in mine.items():
        if key not in seen:
            seen[key] = (f, instructions)
            continue
        other, theirs = seen[key]
        if instructions & theirs:
            raise InputError(
                f"{f}: model {key[1]!r} (judge {key[0]!r}, baseline {key[2]!r}) is also judged "
                f"in {other} on the same instructions: read one of the two (models=...)."
            )
        seen[key] = (other, theirs | instructions)
