"""Graded pairwise verdicts (Arena-Hard's five levels, three with ties) as a cumulative logit.

A judge that says ``A>>B, A>B, A=B, B>A, B>>A`` (or ``[[A]], [[C]], [[B]]``: a win, a tie, a
loss) gives ordered levels. They are modelled as
Agresti's (1992) cumulative logit for ordinal paired comparisons::

    P(level <= k | A, B) = logistic(theta_k - (s_A - s_B + style_slope . style + position))

with cut points symmetric around 0 (``theta_k = -theta_{K-k}``: swapping the two answers
mirrors the verdict), ``s`` one strength per model (the anchor's 0). The symmetric fit is the
ordinary cumulative logit (:func:`~debias.model.ordinal.fit_ordinal`) on the battles and their
mirror images at half weight, clustered by prompt: it has the same maximum and the same
sandwich as the constrained model.

Scores against the anchor (percent)
-----------------------------------
``ordinal_score``
    ``P(model's verdict is a win) + 1/2 P(tie)`` in a battle against the anchor with no style
    difference and position balanced: ``sum_k outcome_k P(level k | s_m - s_anchor)``, the
    outcomes of the scale (Arena-Hard: 1, 1, 1/2, 0, 0). Fitted without style terms.
``controlled_score``
    The same from the fit with the style terms (``features``), at style difference 0.
``convention_score``
    Arena-Hard's convention beside it: the win rate against the anchor with a strong verdict
    counted 3 times (the scale's level weights; tie = 1/2), over the battles with the anchor.
``difference``
    ``ordinal_score - convention_score`` with a prompt-clustered interval (the two come from
    the same battles: their per-prompt influences are subtracted).

Intervals: delta method with the prompt-clustered sandwich (Student's t, prompts - 1 degrees of
freedom); the convention's is the ratio estimator's clustered interval.

Examples
--------
>>> from debias.simulate.grades import simulate_graded_verdicts
>>> sim = simulate_graded_verdicts(n_prompts=200, seed=1)
>>> rep = graded_verdicts(sim.battles, labels=sim.labels[::-1], features=("length",))
>>> rep.table[["model", "convention_score", "ordinal_score", "controlled_score"]].round(1)
     model  convention_score  ordinal_score  controlled_score
0  model_0               NaN           50.0              50.0
1  model_1              41.1           41.8              38.7
2  model_2              33.0           36.2              31.1
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from debias.errors import InputError, ParameterError
from debias.inference.cluster import cluster_factor, critical_value
from debias.model.ordinal import OrdinalFit, fit_ordinal

SCORE_COLUMNS = (
    "model",
    "n",
    "convention_score",
    "convention_score_ci_low",
    "convention_score_ci_high",
    "ordinal_score",
    "ordinal_score_ci_low",
    "ordinal_score_ci_high",
    "controlled_score",
    "controlled_score_ci_low",
    "controlled_score_ci_high",
    "difference",
    "difference_ci_low",
    "difference_ci_high",
    "note",
)
ARENA_HARD = (("A>>B", "A>B", "A=B", "B>A", "B>>A"), (1.0, 1.0, 0.5, 0.0, 0.0), (3, 1, 1, 1, 3))


@dataclass(frozen=True)
class GradedVerdicts:
    """Scores from graded verdicts, model-based and by the counting convention.

    Attributes
    ----------
    table : pandas.DataFrame
        ``SCORE_COLUMNS`` (percent), the anchor first.
    coefficients : pandas.DataFrame
        Strengths, style and position terms and cut points of the fit with style terms:
        ``term, estimate, std_error, conf_low, conf_high, note``.
    anchor : str
    definition : str
    fit, fit_controlled : OrdinalFit
        The mirrored fits (without and with style terms). Their ``cov`` (the sandwich) is the
        constrained model's; their ``cov_model`` is not (the mirror images make the
        antisymmetric directions of the cut points look estimated): use ``cov``.
    """

    table: pd.DataFrame
    coefficients: pd.DataFrame
    anchor: str
    definition: str
    fit: OrdinalFit = field(repr=False)
    fit_controlled: OrdinalFit | None = field(repr=False, default=None)


# ----------------------------------------------------------------------------- inputs
def arena_hard_levels(judgments) -> pd.DataFrame:
    """Five-level battles from Arena-Hard's battles file as read by
    :func:`debias.io.judges.read_arena_hard_battles` (win/tie/loss, 3 rows = strong).

    A game of weight 3 is a strong verdict, 1 a weak one or a tie. A game of weight 2 comes
    from a 1+3 block whose strong game is unknown: the game shown first is taken as the strong
    one. Without a position term this choice does not change the fit (both games of a prompt
    have the same linear predictor).

    Returns
    -------
    pandas.DataFrame
        ``judge, prompt, model_a, model_b, level, shown_first`` (+ ``tokens_a, tokens_b`` when
        stored), levels labelled ``A>>B ... B>>A``.
    """
    if judgments.scale.kind != "win_tie_loss":
        raise ParameterError(
            f"{judgments.source}: arena_hard_levels reads win/tie/loss battles with weights "
            f"1 and 3; the scale is {judgments.scale.describe()}."
        )
    frame = judgments.to_frame(["judge", "prompt_id", "model_a", "model_b", "shown_first"])
    code = judgments.rows["verdict"].to_numpy()
    weight = judgments.rows["weight"].to_numpy()
    if not np.isin(weight, (1.0, 2.0, 3.0)).all():
        raise InputError(
            f"{judgments.source}: weights other than 1, 2 or 3: not Arena-Hard's battles."
        )
    first_of_pair = frame.groupby(["judge", "prompt_id", "model_a", "model_b"]).cumcount() == 0
    strong = (weight == 3) | ((weight == 2) & first_of_pair.to_numpy())
    labels = np.array(
        [["A>B", "A>>B"], ["A=B", "A=B"], ["B>A", "B>>A"]], dtype=object
    )  # win/tie/loss x weak/strong
    ok = np.isfinite(code)
    level = np.full(len(code), None, dtype=object)
    level[ok] = labels[code[ok].astype(int), strong[ok].astype(int)]
    out = frame.rename(columns={"prompt_id": "prompt"}).assign(level=level)
    if "tokens" in judgments.answers:
        out["tokens_a"] = judgments.column("tokens_a").to_numpy()
        out["tokens_b"] = judgments.column("tokens_b").to_numpy()
    return out[ok].reset_index(drop=True)


def levels_frame(judgments, features: Sequence[str] = ()) -> pd.DataFrame:
    """The battles of :class:`~debias.judgments.Judgments` on ordered levels, one row per call.

    For a ``levels`` scale (Arena-Hard's five: :meth:`Scale.arena_hard`) or a three-level
    ``win_tie_loss`` one (MT-Bench's ``[[A]]``, ``[[C]]``, ``[[B]]``).

    Parameters
    ----------
    judgments : Judgments
    features : sequence of str
        Per-answer features to add as ``<f>_a, <f>_b``
        (:func:`debias.battles.style.add_answer_features`: ``length``, ``tokens``, ...).

    Returns
    -------
    pandas.DataFrame
        ``judge, prompt, turn, model_a, model_b, level`` (the scale's label), ``weight`` (the
        user's, not the level's), ``shown_first`` and the feature columns; calls without a
        verdict left out.
    """
    from debias.battles.style import add_answer_features

    scale = judgments.scale
    if scale.kind not in ("levels", "win_tie_loss"):
        raise ParameterError(
            f"{judgments.source}: graded verdicts need ordered levels (Scale.levels, "
            f"Scale.arena_hard, Scale.win_tie_loss); the scale is {scale.describe()}."
        )
    rows = judgments.rows[judgments.is_pairwise].reset_index(drop=True)
    battles = judgments.battles()
    if features:
        battles = add_answer_features(battles, judgments, list(features))
    code = rows["verdict"].to_numpy()
    ok = np.isfinite(code)
    level = np.full(len(code), None, dtype=object)
    level[ok] = np.asarray(scale.labels, dtype=object)[code[ok].astype(int)]
    out = battles.drop(columns=["outcome", "pair", "answer_a", "answer_b"], errors="ignore")
    out = out.assign(level=level, weight=rows["weight"].to_numpy())
    return out[ok].reset_index(drop=True)


def _style(frame: pd.DataFrame, features: Sequence[str], transform: str) -> np.ndarray:
    """Style covariates, signed A minus B, unscaled (:func:`debias.battles.style.style_covariates`)."""
    from debias.battles.style import style_covariates

    if not features:
        return np.zeros((len(frame), 0))
    cov = style_covariates(frame, list(features), transform=transform, scale=False)
    return cov[list(features)].to_numpy(dtype=float)


# ----------------------------------------------------------------------------- report
def graded_verdicts(
    battles,
    *,
    labels: Sequence[str] | None = None,
    outcomes: Sequence[float] | None = None,
    weights: Sequence[float] | None = None,
    anchor: str | None = None,
    features: Sequence[str] = (),
    position: bool = False,
    transform: str = "diff_over_sum",
    level: float = 0.95,
) -> GradedVerdicts:
    """Model-based scores from graded verdicts beside the strong-verdicts-count-3 convention.

    Parameters
    ----------
    battles : pandas.DataFrame or Judgments
        A frame ``prompt, model_a, model_b, level`` (a label), optional ``weight``,
        ``shown_first`` (``a``/``b``/``unknown``) and ``<feature>_a, <feature>_b`` columns
        (:func:`arena_hard_levels` builds it from Arena-Hard's battles file); or
        :class:`~debias.judgments.Judgments` on a ``levels`` or ``win_tie_loss`` scale
        (:func:`levels_frame`; the features are then computed from the answers).
    labels : sequence of str, optional
        The levels, A best first: the judgments' scale, else Arena-Hard's five.
    outcomes, weights : sequence of float, optional
        Outcome for A and convention weight of each level: the judgments' scale; for a frame
        Arena-Hard's 1, 1, 1/2, 0, 0 and 3, 1, 1, 1, 3 for its labels, evenly spaced outcomes
        and weight 1 otherwise.
    anchor : str, optional
        The model scores are against; by default the model in every battle.
    features : sequence of str
        Style features (``length``, ``tokens``, ...) entering the controlled fit as
        ``transform`` of ``<f>_a`` and ``<f>_b``; the controlled score sets them to 0.
    transform : {"diff_over_sum", "diff_over_sum_plus1", "difference"}
        :func:`debias.battles.style.style_covariates`'s transforms, unscaled (0 = equal style).
    position : bool
        Add a position term (+1 when A was shown first, -1 when second, 0 unknown); scores
        are at position 0 (balanced).
    level : float

    Returns
    -------
    GradedVerdicts
    """
    from debias.judgments import Judgments

    if isinstance(battles, Judgments):
        scale = battles.scale
        battles = levels_frame(battles, features)
        if labels is None:
            labels, outcomes, weights = (
                scale.labels,
                outcomes or scale.outcomes,
                weights or scale.weights,
            )
    elif not isinstance(battles, pd.DataFrame):
        raise ParameterError(
            f"graded_verdicts: expected a DataFrame of battles or Judgments; got "
            f"{type(battles).__name__}."
        )
    labels = tuple(str(v) for v in (ARENA_HARD[0] if labels is None else labels))
    K = len(labels)
    default = ARENA_HARD if labels == ARENA_HARD[0] else (labels, np.linspace(1, 0, K), [1] * K)
    out_v = np.asarray(default[1] if outcomes is None else outcomes, float)
    w_v = np.asarray(default[2] if weights is None else weights, float)
    if len(set(labels)) != K or K < 2 or out_v.shape != (K,) or w_v.shape != (K,):
        raise ParameterError(
            "graded_verdicts: labels= must be 2 or more distinct levels with one outcome and "
            "one weight each."
        )
    critical_value(level)
    missing = [c for c in ("prompt", "model_a", "model_b", "level") if c not in battles]
    if missing:
        raise InputError(
            f"graded_verdicts: missing column(s) {missing}; columns present: "
            f"{list(battles.columns)}."
        )
    frame = battles[battles["level"].notna()].reset_index(drop=True)
    code = frame["level"].astype(str).map({lab: i for i, lab in enumerate(labels)})
    if code.isna().any():
        bad = frame["level"][code.isna()].iloc[0]
        raise InputError(
            f"graded_verdicts: level {bad!r} (row {int(np.flatnonzero(code.isna())[0])}) is "
            f"not one of labels= {list(labels)}."
        )
    code = code.to_numpy(int)
    y = K - 1 - code  # 0 = B best ... K-1 = A best: larger linear predictor, A better
    user_w = frame["weight"].to_numpy(float) if "weight" in frame else np.ones(len(frame))
    a, b = frame["model_a"].astype(str).to_numpy(), frame["model_b"].astype(str).to_numpy()
    models = list(pd.unique(np.concatenate([a, b])))
    if anchor is None:
        common = set(models)
        for ma, mb in zip(a, b, strict=True):
            common &= {ma, mb}
            if not common:
                break
        if len(common) != 1:
            found = "no model is" if not common else f"each of {sorted(common)} is"
            raise ParameterError(
                f"graded_verdicts: {found} in every battle; pass anchor=... (the model scores "
                "are against)."
            )
        anchor = common.pop()
    if anchor not in models:
        raise ParameterError(
            f"graded_verdicts: anchor= {anchor!r} is in no battle; models: {models}."
        )
    others = [m for m in models if m != anchor]
    index = {m: i for i, m in enumerate(others)}
    D = np.zeros((len(frame), len(others)))
    for side, names in ((1.0, a), (-1.0, b)):
        for i, m in enumerate(names):
            if m != anchor:
                D[i, index[m]] += side
    extra, extra_names = [], []
    if position:
        shown = (
            frame["shown_first"] if "shown_first" in frame else pd.Series("unknown", frame.index)
        )
        extra.append(shown.map({"a": 1.0, "b": -1.0}).fillna(0.0).to_numpy())
        extra_names.append("position")
    style = _style(frame, features, transform)
    prompts = frame["prompt"].astype(str).to_numpy()
    names = [f"strength[{m}]" for m in others]
    base_X = np.column_stack([D, *extra]) if extra else D
    fit = _symmetric_fit(base_X, y, user_w, prompts, names + extra_names, K)
    fit_c = None
    if style.shape[1]:
        fit_c = _symmetric_fit(
            np.column_stack([base_X, style]), y, user_w, prompts,
            names + extra_names + [f"style[{f}]" for f in features], K,
        )  # fmt: skip
    values = out_v[::-1]  # outcome of each ordinal code (0 = B best)
    rows = []
    conv = _convention(a, b, code, out_v, w_v, user_w, prompts, anchor)
    z_ord = critical_value(level, df=fit.n_clusters - 1)
    for m in [anchor, *others]:
        n = int(((a == m) | (b == m)).sum())
        if m == anchor:
            rows.append((m, n, *[np.nan] * 3, 50.0, np.nan, np.nan, *(
                [50.0, np.nan, np.nan] if fit_c else [np.nan] * 3), *[np.nan] * 3,
                "anchor"))  # fmt: skip
            continue
        est, infl, note = _score(fit, index[m], values)
        low, high = _interval(est, infl, z_ord)
        c_est, c_low, c_high = np.nan, np.nan, np.nan
        if fit_c is not None:
            c_est, c_infl, c_note = _score(fit_c, index[m], values)
            c_low, c_high = _interval(c_est, c_infl, z_ord)
            note = note or c_note
        v_est, v_infl = conv.get(m, (np.nan, None))
        v_low, v_high = _interval(v_est, v_infl, z_ord)
        diff, d_low, d_high = np.nan, np.nan, np.nan
        if v_infl is not None and infl is not None:
            d_infl = infl.reindex(infl.index.union(v_infl.index), fill_value=0.0) - v_infl.reindex(
                infl.index.union(v_infl.index), fill_value=0.0
            )
            diff = est - v_est
            d_low, d_high = _interval(diff, d_infl, z_ord)
        elif not np.isfinite(v_est):
            note = (note + "; " if note else "") + "no battle with the anchor: no convention score"
        rows.append(
            (m, n, v_est, v_low, v_high, est, low, high, c_est, c_low, c_high, diff, d_low,
             d_high, note)
        )  # fmt: skip
    table = pd.DataFrame(rows, columns=list(SCORE_COLUMNS))
    pct = [c for c in SCORE_COLUMNS if c not in ("model", "n", "note", "difference",
                                                  "difference_ci_low", "difference_ci_high")]  # fmt: skip
    table[pct] = table[pct].clip(0, 100)
    style_text = (
        f"; controlled_score from the fit with style terms {list(features)} ({transform} of A's "
        "and B's, unscaled), at style difference 0"
        if features
        else ""
    )
    definition = (
        f"Scores against {anchor!r} in percent. ordinal_score: P(win) + 1/2 P(tie) = "
        f"sum_k outcome_k P(level k) from the symmetric cumulative logit on the levels "
        f"{list(labels)} (outcomes {out_v.tolist()}), strengths only{style_text}"
        f"{', position at 0 (balanced)' if position else ''}. convention_score: win rate against "
        f"the anchor counting each level with weight {w_v.tolist()}"
        f"{' (Arena-Hard counts a strong verdict 3 times)' if max(w_v.tolist()) > 1 else ''}. "
        f"difference = ordinal_score - convention_score. Intervals {level:.0%}, "
        f"clustered by prompt ({fit.n_clusters} prompts)."
    )
    coefficients = (fit_c or fit).table(level)
    return GradedVerdicts(table, coefficients, anchor, definition, fit, fit_c)


def _symmetric_fit(X, y, w, prompts, names, K) -> OrdinalFit:
    """The cumulative logit with symmetric cut points: the battles and their mirror images."""
    X2 = np.vstack([X, -X])
    y2 = np.concatenate([y, K - 1 - y])
    return fit_ordinal(
        X2, y2, weights=np.concatenate([w, w]) / 2, cluster=np.concatenate([prompts, prompts]),
        names=names, levels=list(range(K)),
    )  # fmt: skip


def _score(fit: OrdinalFit, column: int, values: np.ndarray):
    """Percent score of one model against the anchor and its per-prompt influence."""
    reason = fit.problems.get(fit.names[column]) or fit.problems.get("fit")
    if not fit.fitted[column] or fit.cov.size == 0:
        return np.nan, None, reason or "not estimable"
    x0 = np.zeros((1, len(fit.names)))
    x0[0, column] = 1.0
    proba, jac = fit.predict_proba(x0, jacobian=True)
    est = 100 * float(proba[0] @ values)
    grad = 100 * (jac[0].T @ values)
    infl = pd.Series(fit.influence @ grad, index=fit.clusters)
    if reason:
        return est, None, reason
    return est, infl, ""


def _convention(a, b, code, outcomes, level_w, user_w, prompts, anchor):
    """Weighted win rate of each model against the anchor and its per-prompt influence."""
    out = {}
    o = outcomes[code]
    w = level_w[code] * user_w
    for m in set(a) | set(b):
        if m == anchor:
            continue
        as_a = (a == m) & (b == anchor)
        as_b = (b == m) & (a == anchor)
        sel = as_a | as_b
        if not sel.any():
            continue
        om = np.where(as_a, o, 1 - o)[sel]
        wm = w[sel]
        rate = float(wm @ om / wm.sum())
        infl = pd.Series(wm * (om - rate) / wm.sum() * 100).groupby(prompts[sel]).sum()
        out[m] = (100 * rate, infl)
    return out


def _interval(est, infl, z) -> tuple[float, float]:
    if infl is None or not np.isfinite(est):
        return np.nan, np.nan
    se = float(np.sqrt(np.sum(infl.to_numpy() ** 2) * cluster_factor(len(infl))))
    if not np.isfinite(se) or se <= 1e-12:
        return np.nan, np.nan
    return est - z * se, est + z * se
