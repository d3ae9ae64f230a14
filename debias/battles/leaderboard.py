"""The battle leaderboard: :func:`battle_leaderboard` and its :class:`BattleReport`.

One row per model: the strength, rating and score of the fit without style terms, and the
same for the fit with them, every term held at zero (``controlled_*``: the same style and,
with a ``position`` term, balanced over position). Scores are win rates in
percent (a tie ½) against the anchor; ratings are on the Elo scale (400/ln 10 points per
logit, FastChat's convention) with the anchor at 1000 (as Arena-Hard puts its baseline).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from debias.battles.estimator import BradleyTerry
from debias.battles.results import ELO_PER_LOGIT
from debias.errors import ParameterError

TABLE_COLUMNS = [
    "model",
    "n",
    "strength",
    "strength_se",
    "rating",
    "score",
    "score_ci_low",
    "score_ci_high",
    "controlled_strength",
    "controlled_strength_se",
    "controlled_rating",
    "controlled_score",
    "controlled_score_ci_low",
    "controlled_score_ci_high",
    "note",
]
ANCHOR_RATING = 1000.0


@dataclass(frozen=True)
class BattleReport:
    """What a battle leaderboard was computed from, and its style coefficients.

    Attributes
    ----------
    coefficients : pandas.DataFrame
        ``term, estimate, std_error, conf_low, conf_high, p_value, note`` (logits per unit
        of the covariate; empty without terms). ``position``'s row is the log-odds shift
        from showing an answer first instead of in no particular order (first vs second:
        twice it).
    features, transform, scale, center
        The covariates (each term's label) and how the features were built.
    terms : tuple of (label, kind, transform)
        Each term: kind ``"feature"`` (with its transform), ``"column"`` or ``"position"``.
    formula : str or None
        The formula given (None with ``features=``).
    identification : str
        How the strengths are identified (the fit's statement).
    anchor, anchor_reason : str
        The model the scores are against (at 50) and the ratings anchored on (at 1000).
    ties : str
    nu : float or None
        Davidson's tie parameter.
    level : float
    cov_type : str
    n_boot : int or None
    n_battles, n_prompts, n_models : int
    penalized : bool
    converged : bool
        Whether both fits (with and without style terms) converged.
    problems : dict
        Model (or covariate) -> why it has no estimate.
    """

    coefficients: pd.DataFrame
    features: tuple[str, ...]
    transform: str
    scale: bool
    center: bool
    identification: str
    anchor: str
    anchor_reason: str
    ties: str
    nu: float | None
    level: float
    cov_type: str
    n_boot: int | None
    n_battles: int
    n_prompts: int
    n_models: int
    penalized: bool
    problems: dict = field(default_factory=dict)
    converged: bool = True
    dropped_features: tuple[str, ...] = ()
    terms: tuple = ()
    formula: str | None = None

    def _term_kinds(self) -> dict[str, tuple[str, str]]:
        """label -> (kind, transform) of every covariate (features= reports: all features)."""
        kinds = {label: (kind, transform) for label, kind, transform in self.terms}
        return {f: kinds.get(f, ("feature", self.transform)) for f in self.features}

    def coefficients_frame(self) -> pd.DataFrame:
        """The style coefficients for ``--coef-out``: the table plus ``level``, the effect
        in Elo points per unit (``rating_points``) and how the covariates were built."""
        out = self.coefficients.copy()
        out.insert(
            out.columns.get_loc("estimate") + 1, "rating_points", out["estimate"] * ELO_PER_LOGIT
        )
        out["level"] = self.level
        kinds = self._term_kinds()
        feature = [kinds.get(t, ("feature",))[0] == "feature" for t in out["term"]]
        out["transform"] = [
            kinds[t][1] if f else _AS_GIVEN.get(kinds[t][0], "as given")
            for t, f in zip(out["term"], feature, strict=True)
        ]
        out["scaled"] = [self.scale and f for f in feature]
        out["centered"] = [self.center and f for f in feature]
        return out

    def to_text(self) -> str:
        """The report as printed under the table."""
        pct = f"{self.level:.0%}"
        how = (
            f"{pct} intervals: sandwich clustered by prompt ({self.n_prompts} prompts), "
            f"Student's t with {self.n_prompts - 1} df"
            if self.cov_type == "cluster"
            else f"{pct} intervals: percentile bootstrap over prompts ({self.n_boot} replicates)"
        )
        ties = "a tie counts ½" if self.ties == "half" else f"Davidson's ties (ν = {self.nu:.3g})"
        lines = [
            f"Bradley–Terry over {self.n_battles} battles, {self.n_models} models, "
            f"{self.n_prompts} prompts; {ties}.",
            f"Strengths: {self.identification}.",
            f"Scores: win rate (percent) against {self.anchor} ({self.anchor_reason}); ratings: "
            f"400/ln(10) per logit, {self.anchor} at {ANCHOR_RATING:g}.",
            how + ".",
        ]
        if self.penalized:
            lines.append("Penalised fit: no Wald intervals (use cov_type='bootstrap').")
        if not self.converged:
            lines.append("The fit did not converge: its estimates are doubtful.")
        if self.formula is not None:
            lines.append(f"Formula: {self.formula} (the model strengths are implied).")
        kinds = self._term_kinds()
        style = [f for f in self.features if kinds[f][0] == "feature"]
        columns = [f for f in self.features if kinds[f][0] == "column"]
        if style:
            centre = "centred" if self.center else "uncentred (zero = both answers alike)"
            scale = ", divided by their SD" if self.scale else ""
            used = sorted({kinds[f][1] for f in style})
            how = used[0] if len(used) == 1 else "each term's transform"
            lines.append(
                f"Style control: {', '.join(style)}; {how}{scale}, {centre}; "
                "controlled = every style term at zero."
            )
        if columns:
            lines.append(
                f"Battle columns as given (signed A minus B, not scaled): {', '.join(columns)}; "
                "controlled = at zero."
            )
        if any(kinds[f][0] == "position" for f in self.features):
            lines.append(
                "Position: +1 when A was shown first, −1 when second, 0 unknown (not scaled); "
                "controlled strengths and scores are at position 0: balanced over position."
            )
        if self.features:
            table = self.coefficients[
                ["term", "estimate", "std_error", "conf_low", "conf_high", "p_value"]
            ]
            what = "Style coefficients" if len(style) == len(self.features) else "Coefficients"
            lines.append(f"{what} (logits per unit of the covariate):")
            lines.append(table.to_string(index=False, float_format=lambda v: f"{v:.4f}"))
        else:
            lines.append("No style features: the controlled columns are empty.")
        if self.dropped_features:
            lines.append(
                f"Left out (the same in every battle): {', '.join(self.dropped_features)}."
            )
        for model, why in self.problems.items():
            lines.append(f"Not estimated: {model}: {why}.")
        return "\n".join(lines)


_AS_GIVEN = {"position": "position: +1 A first, -1 second, 0 unknown", "column": "as given"}


def default_anchor(design, problems=()) -> tuple[str, str]:
    """The baseline when every battle involves one model, else the model with most battles
    (among the models with a strength: not in ``problems``).

    Returns ``(model, reason)``.
    """
    models = np.asarray(design.models)
    common = np.bincount(design.a, minlength=len(models)) + np.bincount(
        design.b, minlength=len(models)
    )
    everywhere = np.flatnonzero(common == design.n)
    if len(everywhere) == 1 and models[everywhere[0]] not in problems:
        return str(models[everywhere[0]]), "the baseline: in every battle"
    common[[m in problems for m in models]] = -1
    best = int(np.argmax(common))  # ties broken by name (models are in name order)
    return str(models[best]), f"the model with most battles: {int(common[best])}"


def battle_leaderboard(
    battles: pd.DataFrame,
    judgments=None,
    *,
    features=None,
    formula: str | None = None,
    anchor: str | None = None,
    level: float = 0.95,
    ties: str = "half",
    transform: str = "diff_over_sum_plus1",
    scale: bool = True,
    center: bool = False,
    identify: str = "sum_to_zero",
    penalty: str | None = None,
    alpha: float = 0.0,
    per_model_slopes: bool = False,
    cov_type: str = "cluster",
    n_boot: int = 200,
    seed: int = 0,
    n_jobs: int = 1,
) -> tuple[pd.DataFrame, BattleReport]:
    """Leaderboard of any-pair battles, plain and style-controlled, with intervals.

    Parameters
    ----------
    battles : pandas.DataFrame
        ``Judgments.battles()`` (``model_a, model_b, outcome``, optional ``weight``,
        ``prompt``, ``<f>_a, <f>_b``).
    judgments : Judgments, optional
        The answers, to compute the style features the battles do not carry.
    features : tuple of str, optional
        Style features (default ``("length", "headers", "lists", "bold")`` unless
        ``formula=`` is given; ``"position"`` is the position term).
    formula : str, optional
        The terms as a formula, e.g. ``"length + position"`` or
        ``"diff_over_sum(length) + bold"`` (:mod:`debias.battles.formula`; the model
        strengths are implied). Pass ``features=`` or ``formula=``, not both.
    anchor : str, optional
        The model the scores are against (50) and the ratings anchored on (1000); default
        the baseline when every battle involves one model, else the model with most
        battles (the report says which).
    level, ties, transform, scale, center, identify, penalty, alpha,
    per_model_slopes, cov_type, n_boot, seed, n_jobs
        As :class:`~debias.battles.estimator.BradleyTerry`.

    Returns
    -------
    table : pandas.DataFrame
        ``model, n, strength, strength_se, rating, score, score_ci_low, score_ci_high``, the
        same with ``controlled_`` and ``note`` (why a value is missing), sorted by controlled
        score (score without style features). ``n``: battles with a verdict; scores in
        percent.
    report : BattleReport

    Examples
    --------
    >>> from debias.simulate.arena import simulate_arena
    >>> sim = simulate_arena(n_models=3, n_battles=3_000, seed=1)
    >>> table, report = battle_leaderboard(sim.battles, features=("tokens",))
    >>> table[["model", "score", "controlled_score"]].round(1)
         model  score  controlled_score
    0  model_1   62.2              59.3
    1  model_2   50.0              50.0
    2  model_0   39.1              49.0
    >>> report.anchor, report.anchor_reason
    ('model_2', 'the model with most battles: 2918')
    """
    estimator = BradleyTerry(
        features=features,
        formula=formula,
        transform=transform,
        scale=scale,
        center=center,
        ties=ties,
        identify=identify,
        penalty=penalty,
        alpha=alpha,
        per_model_slopes=per_model_slopes,
        level=level,
        cov_type=cov_type,
        n_boot=n_boot,
        seed=seed,
        n_jobs=n_jobs,
    ).fit(battles, judgments)
    return leaderboard_table(estimator, anchor), leaderboard_report(estimator, anchor)


def _anchor(estimator: BradleyTerry, anchor: str | None) -> tuple[str, str]:
    if anchor is None:
        return default_anchor(estimator.design_, estimator.fit_.problems)
    if anchor not in estimator.models_:
        raise ParameterError(
            f"anchor= {anchor!r} is not in the fit; the models are {', '.join(estimator.models_)}."
        )
    return anchor, "anchor="


def leaderboard_table(estimator: BradleyTerry, anchor: str | None = None) -> pd.DataFrame:
    """The leaderboard table of a fitted :class:`BradleyTerry` (see :func:`battle_leaderboard`)."""
    anchor, _ = _anchor(estimator, anchor)
    table = pd.DataFrame({"model": list(estimator.models_)})
    table["n"] = estimator.n_battles_.to_numpy()
    notes = [[] for _ in estimator.models_]
    parts = [("", estimator.plain_results_)]
    if estimator.features_:
        parts.append(("controlled_", estimator.results_))
    for prefix, res in parts:
        strengths = res.strengths()
        ratings = res.ratings(anchor, anchor_rating=ANCHOR_RATING)
        scores = res.scores(anchor)
        table[f"{prefix}strength"] = strengths["estimate"].to_numpy()
        table[f"{prefix}strength_se"] = strengths["std_error"].to_numpy()
        table[f"{prefix}rating"] = ratings["estimate"].to_numpy()
        table[f"{prefix}score"] = scores["estimate"].to_numpy()
        table[f"{prefix}score_ci_low"] = scores["conf_low"].to_numpy()
        table[f"{prefix}score_ci_high"] = scores["conf_high"].to_numpy()
        for i, texts in enumerate(zip(strengths["note"], scores["note"], strict=True)):
            notes[i].extend(t for t in texts if t and t not in notes[i])
    for column in TABLE_COLUMNS:
        if column not in table:
            table[column] = np.nan if column != "note" else ""
    table["note"] = ["; ".join(n) for n in notes]
    key = "controlled_score" if estimator.features_ else "score"
    table = table.sort_values([key, "model"], ascending=[False, True], kind="stable")
    return table[TABLE_COLUMNS].reset_index(drop=True)


def leaderboard_report(estimator: BradleyTerry, anchor: str | None = None) -> BattleReport:
    """The :class:`BattleReport` of a fitted :class:`BradleyTerry`."""
    anchor, reason = _anchor(estimator, anchor)
    fit = estimator.fit_
    terms = getattr(estimator, "terms_", ())
    return BattleReport(
        coefficients=estimator.coef_,
        features=tuple(estimator.features_),
        transform=estimator.transform,
        scale=estimator.scale,
        center=estimator.center,
        identification=str(fit.identify),
        anchor=anchor,
        anchor_reason=reason,
        ties=estimator.ties,
        nu=getattr(fit, "nu", None),
        level=estimator.level,
        cov_type=estimator.cov_type,
        n_boot=estimator.n_boot if estimator.cov_type == "bootstrap" else None,
        n_battles=int(estimator.design_.n),
        n_prompts=int(estimator.n_prompts_),
        n_models=len(estimator.models_),
        penalized=bool(getattr(fit, "penalized", False)),
        problems=dict(getattr(fit, "problems", {}) or {}),
        converged=bool(fit.converged and estimator.plain_fit_.converged),
        dropped_features=tuple(getattr(estimator, "dropped_features_", ())),
        terms=tuple(
            (t.label, t.kind, (t.transform or estimator.transform) if t.kind == "feature" else None)
            for t in terms
        ),
        formula=estimator.formula,
    )
