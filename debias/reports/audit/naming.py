"""Names of the audit's controlled win rates: each says what it controls.

Examples
--------
>>> estimand_prefix(["length", "markdown"])
'length_markdown_controlled'
>>> list(audit_estimands(["length", "markdown"]))
['length_markdown_controlled', 'lc']
"""

from __future__ import annotations

from collections.abc import Sequence

__all__ = ["audit_estimands", "controlled_adjective", "controls_phrase", "estimand_prefix"]


def estimand_prefix(controls: Sequence[str]) -> str:
    """Column prefix of the win rate controlled for ``controls``: it names what is controlled.

    ``"lc"`` for length alone (the leaderboard's ``lc_win_rate``), else the
    mediators joined by ``_`` and ``_controlled``.

    Examples
    --------
    >>> estimand_prefix(["length"]), estimand_prefix(["length", "markdown"])
    ('lc', 'length_markdown_controlled')
    """
    controls = list(controls)
    return "lc" if controls == ["length"] else "_".join(controls) + "_controlled"


def controls_phrase(controls: Sequence[str]) -> str:
    """``["length", "markdown"]`` -> ``"length and markdown"``.

    Examples
    --------
    >>> controls_phrase(["length", "markdown", "words"])
    'length, markdown and words'
    """
    controls = list(controls)
    if len(controls) <= 1:
        return "".join(controls)
    return ", ".join(controls[:-1]) + " and " + controls[-1]


def controlled_adjective(controls: Sequence[str]) -> str:
    """``["length", "markdown"]`` -> ``"length- and markdown-controlled"`` (figure titles).

    Examples
    --------
    >>> controlled_adjective(["length"])
    'length-controlled'
    """
    return controls_phrase([f"{c}-" for c in controls]) + "controlled"


def audit_estimands(mediators: Sequence[str]) -> dict[str, dict]:
    """The controlled win rates the audit reports, by column prefix.

    Every audited mediator at "no difference" (the audit's main estimand) and,
    when length is audited with other mediators, length alone (others as
    observed): the estimand of ``debias leaderboard``'s ``lc_win_rate``.

    Examples
    --------
    >>> list(audit_estimands(["length", "markdown"]))
    ['length_markdown_controlled', 'lc']
    """
    sets = [list(mediators)]
    if "length" in mediators and len(mediators) > 1:
        sets.append(["length"])
    out = {}
    for controls in sets:
        rest = [m for m in mediators if m not in controls]
        out[estimand_prefix(controls)] = {
            "controls": controls,
            "held_as_observed": rest,
            "description": f"win rate with the {controls_phrase(controls)} difference(s) to "
            "the baseline removed"
            + (f", {controls_phrase(rest)} as observed" if rest else "")
            + " (percent)",
        }
    return out
