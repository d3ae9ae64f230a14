"""Style features of battle answers and the pairwise style covariates.

Per answer (:func:`add_answer_features`, columns ``<feature>_a`` and ``<feature>_b``):

==========  =====================================================================
feature     definition
==========  =====================================================================
length      characters: ``len(text)``
tokens      the answer table's stored ``tokens`` (e.g. FastChat's ``token_len``);
            never recounted
headers     Chatbot Arena's count: lines matching ``^#{1,6}\\s``
lists       Arena's: ordered items ``^\\s*\\d+\\.\\s`` plus unordered ``^\\s*[-*+]\\s``
            (``1)`` is not an item here, unlike the ``lists`` mediator)
bold        Arena's: ``\\*\\*[^*\\n]+\\*\\*`` plus ``__[^_\\n]+__``
other       any registered mediator (:mod:`debias.mediators`), e.g. ``emoji``
==========  =====================================================================

Before headers, lists and bold are counted, code is removed as Arena's script does:
for every match of ``` ```([^`]*)``` ``` the text between the fences is deleted
(wherever it occurs; the backticks stay, which no count can see).

Per battle (:func:`style_covariates`): one covariate per feature, signed A minus B:
``difference`` ``a - b``, ``diff_over_sum`` ``(a - b) / (a + b)`` (0 when both are 0)
or ``diff_over_sum_plus1`` ``(a - b) / (a + b + 1)`` (Arena's code), divided by its
standard deviation when ``scale=True``, **not centred** by default.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

import numpy as np
import pandas as pd

from debias.errors import InputError, ParameterError, row_list
from debias.judgments.store import NO_ANSWER

__all__ = ["ARENA_FEATURES", "TRANSFORMS", "add_answer_features", "style_covariates"]

TRANSFORMS = ("difference", "diff_over_sum", "diff_over_sum_plus1")

_CODE = re.compile("```([^`]*)```")
_HEADER = re.compile(r"^#{1,6}\s", re.MULTILINE)
_ORDERED = re.compile(r"^\s*\d+\.\s", re.MULTILINE)
_UNORDERED = re.compile(r"^\s*[-*+]\s", re.MULTILINE)
_BOLD_STAR = re.compile(r"\*\*[^*\n]+\*\*")
_BOLD_UNDER = re.compile(r"__[^_\n]+__")


def _without_code(text: str) -> str:
    for block in _CODE.findall(text):
        text = text.replace(block, "")
    return text


def _headers(text: str) -> int:
    return len(_HEADER.findall(text))


def _lists(text: str) -> int:
    return len(_ORDERED.findall(text)) + len(_UNORDERED.findall(text))


def _bold(text: str) -> int:
    return len(_BOLD_STAR.findall(text)) + len(_BOLD_UNDER.findall(text))


ARENA_FEATURES = {"headers": _headers, "lists": _lists, "bold": _bold}
"""Chatbot Arena's markdown counts (applied to the text with its code removed)."""


def answer_features(answers: pd.DataFrame, features: Sequence[str]) -> dict[str, np.ndarray]:
    """Each feature of each row of an answer table (``text``, optional ``tokens``).

    Examples
    --------
    >>> table = pd.DataFrame({"text": ["# A\\n1. x\\n```\\n# no\\n```", "**b**"]})
    >>> {k: v.tolist() for k, v in answer_features(table, ["headers", "lists", "bold"]).items()}
    {'headers': [1.0, 0.0], 'lists': [1.0, 0.0], 'bold': [0.0, 1.0]}
    """
    from debias.mediators import get_mediator

    out: dict[str, np.ndarray] = {}
    texts = answers["text"].astype(str)
    stripped = None
    for name in features:
        if name == "length":
            out[name] = texts.str.len().to_numpy(dtype=float)
        elif name == "tokens":
            if "tokens" not in answers.columns:
                raise InputError(
                    "features= asks for 'tokens' but the answers carry no token counts (a "
                    "reader stores them when the answer files do, e.g. FastChat's token_len); "
                    "use 'length' (characters) instead."
                )
            out[name] = answers["tokens"].to_numpy(dtype=float)
        elif name in ARENA_FEATURES:
            if stripped is None:
                stripped = [_without_code(t) for t in texts]
            count = ARENA_FEATURES[name]
            out[name] = np.fromiter((count(t) for t in stripped), float, len(stripped))
        else:
            out[name] = get_mediator(name).compute(texts)
    return out


def add_answer_features(
    battles: pd.DataFrame, judgments=None, features: Sequence[str] = ("length",)
) -> pd.DataFrame:
    """The battles with ``<feature>_a`` and ``<feature>_b`` columns added (a new frame).

    Each distinct answer is measured once (on ``judgments.answers``) and looked up by
    the battles' ``answer_a`` / ``answer_b`` codes.

    Parameters
    ----------
    battles : pandas.DataFrame
        From :meth:`Judgments.battles` (with ``answer_a``, ``answer_b``).
    judgments : Judgments, optional
        Where the answers are. Without it, the ``<feature>_a`` / ``<feature>_b``
        columns must already be there (the Arena simulator writes them).
    features : sequence of str
        ``length``, ``tokens``, ``headers``, ``lists``, ``bold`` or a registered
        mediator's name (see the module docstring for the definitions).

    Returns
    -------
    pandas.DataFrame

    Examples
    --------
    >>> from debias.judgments import Judgments
    >>> df = pd.DataFrame({"prompt": ["q", "q"], "model_a": ["x", "y"], "model_b": ["y", "z"],
    ...                    "answer_a": ["# Hi\\n- a", "ok"], "answer_b": ["ok", "**b**"],
    ...                    "verdict": [1.0, 0.0]})
    >>> j = Judgments.from_dataframe(df)
    >>> add_answer_features(j.battles(), j, ["length", "lists"])[
    ...     ["length_a", "length_b", "lists_a", "lists_b"]]
       length_a  length_b  lists_a  lists_b
    0       8.0       2.0      1.0      0.0
    1       2.0       5.0      0.0      0.0
    """
    features = _names(features)
    if judgments is None:
        missing = [f"{f}_{s}" for f in features for s in "ab" if f"{f}_{s}" not in battles]
        if missing:
            raise InputError(
                f"battles: no column(s) {', '.join(missing)} and no judgments= to measure "
                "the answers; pass the Judgments the battles came from."
            )
        return battles.copy()
    for side in ("answer_a", "answer_b"):
        if side not in battles.columns:
            raise InputError(
                f"battles: no {side!r} column (the answer codes of Judgments.battles()); "
                "build the battles with Judgments.battles()."
            )
    codes = {s: battles[f"answer_{s}"].to_numpy() for s in "ab"}
    n_answers = len(judgments.answers)
    for s, code in codes.items():
        bad = np.flatnonzero((code == NO_ANSWER) | (code < 0) | (code >= n_answers))
        if len(bad):
            raise InputError(
                f"battles: row(s) {row_list(bad)} have no answer {s.upper()} in these judgments "
                "(battles from other judgments?); pass the Judgments the battles came from."
            )
    values = answer_features(judgments.answers, features)
    out = battles.copy()
    for name in features:
        for s in "ab":
            column = values[name][codes[s]]
            if name == "tokens" and np.isnan(column).any():
                rows = np.flatnonzero(np.isnan(column))
                raise InputError(
                    f"battles: row(s) {row_list(rows)} have an answer {s.upper()} without a "
                    "token count; use features= with 'length' instead of 'tokens', or give "
                    "every answer its count."
                )
            out[f"{name}_{s}"] = column
    return out


def style_covariates(
    battles: pd.DataFrame,
    features: Sequence[str],
    *,
    transform: str = "diff_over_sum_plus1",
    scale: bool = True,
    center: bool = False,
) -> pd.DataFrame:
    """The battles with one style covariate per feature (a new frame), signed A minus B.

    Parameters
    ----------
    battles : pandas.DataFrame
        With ``<feature>_a`` and ``<feature>_b`` (:func:`add_answer_features`).
    features : sequence of str
        The covariate columns are named as the features.
    transform : {"diff_over_sum_plus1", "diff_over_sum", "difference"}
    scale : bool, default True
        Divide each covariate by its standard deviation (ddof 0, over the rows with a
        verdict when there is an ``outcome`` column), as Arena does; the divisors are in
        ``out.attrs["style_scale"]``.
    center : bool, default False
        Subtract the mean first (Arena-Hard's z-score). **A trap for a leaderboard:**
        the controlled strength is read at covariate 0, which, centred, means "at the
        pool's average style gap" instead of "at equal style", and that average moves
        when a model joins: adding one verbose model shifts every other model's
        controlled score (≈ 5 points in a small simulation), while uncentred
        covariates move them ≤ 0.003. Centring also breaks the sign symmetry (swapping
        A and B no longer negates the covariate).

    Returns
    -------
    pandas.DataFrame

    Examples
    --------
    >>> b = pd.DataFrame({"length_a": [10.0, 0.0], "length_b": [0.0, 0.0]})
    >>> style_covariates(b, ["length"], scale=False)["length"].round(4).tolist()
    [0.9091, 0.0]
    >>> style_covariates(b, ["length"], transform="diff_over_sum", scale=False)["length"].tolist()
    [1.0, 0.0]
    """
    features = _names(features)
    if transform not in TRANSFORMS:
        raise ParameterError(
            f"The 'transform' parameter must be one of {', '.join(TRANSFORMS)}. Got {transform!r}."
        )
    for label, value in (("scale", scale), ("center", center)):
        if not isinstance(value, bool):
            raise ParameterError(f"The {label!r} parameter must be a bool. Got {value!r}.")
    missing = [f"{f}_{s}" for f in features for s in "ab" if f"{f}_{s}" not in battles]
    if missing:
        raise InputError(
            f"battles: no column(s) {', '.join(missing)}; add them with "
            "debias.battles.style.add_answer_features(battles, judgments, features)."
        )
    used = (
        battles["outcome"].notna().to_numpy()
        if "outcome" in battles
        else np.ones(len(battles), bool)
    )
    out = battles.copy()
    scales, centres = {}, {}
    for name in features:
        a = pd.to_numeric(battles[f"{name}_a"], errors="coerce").to_numpy(dtype=float)
        b = pd.to_numeric(battles[f"{name}_b"], errors="coerce").to_numpy(dtype=float)
        x = _transform(a, b, transform)
        bad = np.flatnonzero(~np.isfinite(x))
        if len(bad):
            raise InputError(
                f"battles: the {transform} of {name!r} is not a finite number in row(s) "
                f"{row_list(bad)} (a missing or negative {name}_a / {name}_b?); fix those rows."
            )
        centres[name] = float(x[used].mean()) if center and used.any() else 0.0
        x = x - centres[name]
        scales[name] = 1.0
        if scale:
            sd = float(x[used].std()) if used.any() else 0.0
            if not sd > 0:
                raise InputError(
                    f"battles: the style covariate {name!r} is the same in every battle, so it "
                    "cannot be scaled or estimated; drop it from features=."
                )
            scales[name] = sd
            x = x / sd
        out[name] = x
    out.attrs = {
        **battles.attrs,
        "style_transform": transform,
        "style_scale": scales,
        "style_center": centres,
    }
    return out


def _transform(a: np.ndarray, b: np.ndarray, transform: str) -> np.ndarray:
    diff = a - b
    if transform == "difference":
        return diff
    total = a + b + (1.0 if transform == "diff_over_sum_plus1" else 0.0)
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where((diff == 0) & (total == 0), 0.0, diff / total)


def _names(features) -> tuple[str, ...]:
    if isinstance(features, str):
        features = (features,)
    features = tuple(features)
    if not all(isinstance(f, str) for f in features):
        raise ParameterError(
            f"The 'features' parameter must be a sequence of feature names (str). Got {features!r}."
        )
    if len(set(features)) != len(features):
        raise ParameterError(f"The 'features' parameter names a feature twice: {features!r}.")
    return features
