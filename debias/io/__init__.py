"""Readers and writers: AlpacaEval trees, judge files of any layout, tables, downloads.

:func:`read_judgments` reads the judge layouts of :mod:`debias.io.judges` (Arena-Hard,
FastChat / MT-Bench, Vicuna-80, single grades, battle tables; detected) into
:class:`~debias.judgments.Judgments`; the AlpacaEval readers and
:func:`read_comparisons` (a table of fixed-baseline preferences) return validated
:class:`~debias.data.Comparisons` (or a plain DataFrame for side tables). Every reader raises :class:`~debias.errors.InputError` with a
one-line message naming the file when the data is malformed. Every file is read
through :mod:`debias.io.safe_read`: regular files only, gzip streamed and capped
(2 GiB per file or ``$DEBIAS_MAX_FILE_BYTES``; more than 200-fold inflation is
refused as a decompression bomb); downloads stream with a size cap and a total
deadline.
"""

from debias.io.alpaca_eval import (
    normalise_column_name,
    read_alpaca_eval,
    read_benchmarks,
    read_leaderboard,
    read_model_outputs,
    write_annotations,
)
from debias.io.download import DEFAULT_BASE_URL, download_alpaca_eval
from debias.io.judges import read_judgments
from debias.io.model_inputs import read_difficulty, read_model_inputs
from debias.io.tables import read_comparisons

__all__ = [
    "DEFAULT_BASE_URL",
    "download_alpaca_eval",
    "normalise_column_name",
    "read_alpaca_eval",
    "read_benchmarks",
    "read_comparisons",
    "read_difficulty",
    "read_judgments",
    "read_leaderboard",
    "read_model_inputs",
    "read_model_outputs",
    "write_annotations",
]
