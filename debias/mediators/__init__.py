"""Mediators: named per-output features, turned into pairwise (model − baseline) columns.

A *mediator* maps one output text to a number (its length, how many markdown
headers it has, ...). A judge's preference may depend on the *difference* of a
mediator between the model's and the baseline's answer; the fits in debias put
these differences into the model and then set them to zero ("equal length,
equal style") to read off the controlled win rate.

Sign convention: every pairwise column is **model minus baseline**, and 0 means
"no difference" on the raw scale (no centring anywhere).

Built-in mediators (all counts are per output; fenced code blocks are removed
before counting headers, list items and bold spans, as Chatbot Arena's style
control does):

============  ===============================================================
name          unit and definition
============  ===============================================================
length        characters: ``len(text)`` (Unicode code points; the reference's unit)
words         whitespace-separated tokens: ``len(text.split())``
headers       markdown header lines: a line starting with 1–6 ``#`` then a space or tab
lists         list items: a line starting with optional spaces/tabs, then ``-``, ``*``,
              ``+``, or digits followed by ``.`` or ``)``, then a space or tab
bold          bold spans: ``**…**`` plus ``__…__`` (within one line, non-empty)
markdown      markdown elements: headers + lists + bold
code_blocks   fenced code blocks: pairs of triple backticks, wherever they are (as
              Arena); an unclosed fence runs to the end of the text and counts as one
emoji         emoji: one per pictographic character (the emoji blocks U+1F300–U+1FAFF,
              the Miscellaneous Symbols and Dingbats blocks U+2600–U+27BF, so ★ and ✓
              count too, and a few others such as ⌚ ⭐ 〽), with its skin-tone and
              variation modifiers and any zero-width-joiner sequence; a flag (two regional
              indicators) and a keycap (1️⃣) count as one emoji each
exclamations  exclamation marks: the number of ``!``
============  ===============================================================

Register your own with :func:`register_mediator`; compute pairwise columns with
:func:`compute_mediators`; scale them inside formulas with the stateful
transforms :class:`Scaled`, :class:`DiffOverSum` and :class:`LogRatio`.

Modules, in the order of the flow:

- :mod:`~debias.mediators.registry`: :class:`Mediator`, the registry and its names;
- :mod:`~debias.mediators.texts`: texts as arrow-backed strings and byte scans;
- :mod:`~debias.mediators.features`: the built-in features above;
- :mod:`~debias.mediators.compute`: :func:`compute_mediators` (each distinct text once);
- :mod:`~debias.mediators.transforms`: the pairwise transforms (:data:`TRANSFORMS`).

Examples
--------
>>> import pandas as pd
>>> frame = pd.DataFrame({"output_model": ["# Title\\n- a\\n- b", "Hi!"],
...                       "output_baseline": ["Plain answer.", "Hi!"]})
>>> compute_mediators(frame, ["length", "lists"])[["length", "lists"]].to_numpy().tolist()
[[2.0, 2.0], [0.0, 0.0]]
"""

from __future__ import annotations

from debias.mediators import features as _features  # noqa: F401  (registers the built-ins)
from debias.mediators.compute import compute_mediators
from debias.mediators.registry import (
    Mediator,
    available_mediators,
    get_mediator,
    register_mediator,
    unregister_mediator,
)
from debias.mediators.transforms import TRANSFORMS, DiffOverSum, LogRatio, Scaled

__all__ = [
    "TRANSFORMS",
    "DiffOverSum",
    "LogRatio",
    "Mediator",
    "Scaled",
    "available_mediators",
    "compute_mediators",
    "get_mediator",
    "register_mediator",
    "unregister_mediator",
]
