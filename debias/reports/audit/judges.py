"""The audit of battle data, one judge or several: :func:`audit_judges` and :class:`JudgesAudit`.

One path for any pairwise judge data (``debias audit PATH`` on battles), one judge or
several: the battles of every judge selected, restricted to the (prompt, turn, pair of
models) that every one of them graded. Each judge gets one Bradley–Terry fit
(:class:`debias.battles.estimator.BradleyTerry`, through :func:`debias.battles.leaderboard.
battle_leaderboard`): its model strengths plus one coefficient per style feature and for
``position`` where the order shown is identified; the same fit gives its raw and
controlled leaderboard (style at zero, position balanced). With several judges, one joint
fit (:func:`debias.reports.judges.fit_judges`: strengths and coefficients per judge, the
same estimates) gives the covariance of the judges' coefficients, clustered by prompt over
all judges, so their differences are tested validly (the judges share prompts and
answers); a second joint fit with strengths shared by the judges gives self-preference
(it needs several judges). Position also gets the consistency (per judge and per model)
and the first-shown win rate (:mod:`debias.reports.position`) whenever both orders are
present.

``audit.json`` (:meth:`JudgesAudit.to_dict`): one block per judge; per effect ``estimate,
std_error, conf_low, conf_high, p_value`` (log-odds per unit), the style effects also in
rating points (400/ln 10 per logit) and win-rate points of an even match, with their
intervals; position also ``consistency`` and ``first_shown_win_rate`` (percent, with
intervals); an effect that is not estimated is a string saying why. ``differences``
between judges (only with several); ``models``: the models every effect averages over
(stated in the headline); ``leaderboards`` per judge. The pieces it fits and counts
(default features, shared battles, position summaries) are in
:mod:`debias.reports.audit.battle_data`.

Examples
--------
>>> from debias.simulate.position import simulate_judges
>>> sim = simulate_judges(n_models=3, n_prompts=60, seed=0)
>>> report = audit_judges(sim.battles, features=["length"])
>>> sorted(report.to_dict()["judges"]["gpt-judge"])
['length', 'position', 'self_preference']
>>> report.headline.startswith("2 judges on 60 shared prompts")
True
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
from scipy.special import expit

from debias.errors import InputError, ParameterError
from debias.reports.audit.battle_data import (
    check_joint_size,
    consistency_by_model,
    default_features,
    informative_features,
    position_table,
    shared_battles,
)
from debias.reports.audit.report import json_ready, markdown_table
from debias.reports.judges import compare_judges, fit_judges
from debias.reports.position import order_design

__all__ = ["JudgesAudit", "audit_judges", "in_points"]

NUMBERS = ("estimate", "std_error", "conf_low", "conf_high", "p_value")
POINTS = ("rating_points", "winrate_points")
#: Rating points per logit (the Elo scale).
ELO_PER_LOGIT = 400 / math.log(10)
UNITS = {
    "position": "log-odds, answer shown first vs second (±1)",
    "self_preference": "log-odds, answer of the judge's family vs not (own(A) − own(B))",
}
STYLE_UNIT = "log-odds per unit of (a − b)/(a + b + 1)"
EFFECT_COLUMNS = [
    "term",
    "judge",
    *NUMBERS,
    *(f"{p}{s}" for p in POINTS for s in ("", "_ci_low", "_ci_high")),
    "note",
]
DIFF_COLUMNS = ["term", "judge", "reference", *NUMBERS]


def in_points(effects: pd.DataFrame) -> pd.DataFrame:
    """``effects`` with each coefficient also in rating points and win-rate points.

    ``rating_points`` = 400/ln(10) per logit (the Elo scale); ``winrate_points`` = the
    change of an even match's win rate (percent) for one unit of the covariate,
    100·(σ(β) − ½). Both are monotone in β, so the interval's ends map to theirs.

    Examples
    --------
    >>> t = in_points(pd.DataFrame({"estimate": [0.0, 1.0], "conf_low": [-1.0, 0.5],
    ...                             "conf_high": [1.0, 1.5]}))
    >>> t[["rating_points", "winrate_points", "winrate_points_ci_low"]].round(2)
       rating_points  winrate_points  winrate_points_ci_low
    0           0.00            0.00                 -23.11
    1         173.72           23.11                  12.25
    """
    out = effects.copy()
    for suffix, col in (("", "estimate"), ("_ci_low", "conf_low"), ("_ci_high", "conf_high")):
        beta = out[col].to_numpy(dtype=float)
        out[f"rating_points{suffix}"] = ELO_PER_LOGIT * beta
        out[f"winrate_points{suffix}"] = 100 * (expit(beta) - 0.5)
    return out


@dataclass
class JudgesAudit:
    """One judge's or several judges' effects (:func:`audit_judges`).

    Attributes
    ----------
    effects : pandas.DataFrame
        ``term, judge, estimate, std_error, conf_low, conf_high, p_value``, the rating and
        win-rate points (style terms only) and ``note``, for every feature, ``position``
        and ``self_preference`` of every judge (missing with a note when not estimated).
    differences : pandas.DataFrame
        Differences between judges (empty with one judge).
    position : pandas.DataFrame
        Per judge with both orders: ``consistency`` and ``first_shown_win_rate`` (percent)
        with intervals.
    models : list of str
        The models of the battles audited: every effect averages over them.
    headline : str
    info : dict
    leaderboards : dict
        judge -> (table, BattleReport) of :func:`debias.battles.leaderboard.battle_leaderboard`.
    """

    effects: pd.DataFrame
    differences: pd.DataFrame
    position: pd.DataFrame
    models: list
    headline: str
    info: dict = field(default_factory=dict)
    leaderboards: dict = field(default_factory=dict)

    @property
    def judges(self) -> list[str]:
        return list(self.info["judge_names"])

    def to_dict(self) -> dict:
        """``audit.json``'s content: one block per judge, the differences (several judges),
        the leaderboards."""
        judges: dict = {j: {} for j in self.judges}
        pos = self.position.set_index("judge") if len(self.position) else None
        for r in self.effects.to_dict("records"):
            if "−" in r["judge"]:  # an identified difference: under "differences"
                continue
            if not np.isfinite(r["estimate"]):  # not estimated: the reason
                judges[r["judge"]][r["term"]] = r["note"]
                continue
            block = {k: r[k] for k in NUMBERS}
            if r["term"] not in UNITS:
                block |= {k: r[k] for k in EFFECT_COLUMNS if k.startswith(POINTS)}
            block["unit"] = UNITS.get(r["term"], STYLE_UNIT)
            if r["note"]:
                block["note"] = r["note"]
            if r["term"] == "position" and pos is not None and r["judge"] in pos.index:
                p = pos.loc[r["judge"]]
                for k in ("consistency", "first_shown_win_rate"):
                    block[k] = p[k]
                    block[f"{k}_ci_low"] = p[f"{k}_ci_low"]
                    block[f"{k}_ci_high"] = p[f"{k}_ci_high"]
                block["consistency_by_model"] = self.info["consistency_by_model"][r["judge"]]
                block["consistency_pairs"] = int(p["consistency_n"])
                block["consistency_pairs_agreeing"] = int(p["consistency_n_agree"])
                block["consistency_rule"] = self.info["consistency_rule"]
            judges[r["judge"]][r["term"]] = block
        info = {k: v for k, v in self.info.items() if k != "consistency_by_model"}
        out = {
            "kind": "battle audit",
            "headline": self.headline,
            "models": list(self.models),
            **info,
            "judges": judges,
        }
        if len(self.judges) > 1:
            diffs: dict = {}
            for r in self.differences.to_dict("records"):
                diffs.setdefault(r["term"], {})[f"{r['judge']} − {r['reference']}"] = {
                    k: r[k] for k in NUMBERS
                }
            out["differences"] = diffs
        out["leaderboards"] = {
            j: {
                "anchor": rep.anchor,
                "anchor_reason": rep.anchor_reason,
                "rows": table.to_dict("records"),
            }
            for j, (table, rep) in self.leaderboards.items()
        }
        out["methods"] = self.methods()
        return json_ready(out)

    def methods(self) -> list[str]:
        pct = f"{100 * self.info['level']:g}%"
        several = len(self.judges) > 1
        lines = [
            "Data: "
            + (
                "the battles on (prompt, turn, pair of models) graded by every judge"
                if several
                else "every battle with a verdict"
            )
            + "; a call is P(A wins) (tie 1/2), weighted by its row weight; "
            + f"{self.info['n_battles_without_verdict']} call(s) without a verdict left out of "
            "the fits (kept for the consistency's call rule).",
            f"Features: {', '.join(self.info['features'])} ({self.info['features_reason']}); "
            "each enters as (a − b)/(a + b + 1) of the per-answer counts, unscaled (0: both "
            "answers alike; 0.5: A's count about three times B's).",
            "Style and position: per judge one Bradley-Terry fit (debias.battles.BradleyTerry, "
            "sum-to-zero strengths) with one coefficient per term, the fit of its leaderboard's "
            "controlled columns; position +1 when A was shown first, −1 when second (only where "
            "the order is neither unknown nor a fixed function of the prompt)"
            + (
                "; the judges' differences from one joint fit of all judges (strengths and "
                "coefficients per judge: the same estimates, and their covariance)."
                if several
                else "."
            )
            + " Rating points: 400/ln 10 per logit; win-rate points: the change of an even "
            "match's win rate, 100·(σ(β) − ½), both per unit of the covariate.",
            "Self-preference: a second joint fit with model strengths shared by the judges and "
            "own(A) − own(B) per judge (own: the model is in the judge's family); with every "
            "judge in one family only differences between judges are identified and reported; "
            "with one judge it is not identified (a property of the models).",
            f"Standard errors clustered by prompt{' over all judges' if several else ''} "
            f"(G/(G − 1)); {pct} intervals and p-values from Student's t with G − 1 df"
            + (
                "; differences between judges from the joint covariance; 'all equal' is an "
                "F test (Hotelling) of equal coefficients."
                if several
                else "."
            ),
            "Consistency (rule " + repr(self.info["consistency_rule"]) + "): 'pair' is the "
            "share of pairs whose two orders give the same verdict (ties agree with ties), "
            "'call' Position-Bias-Analyzer's per-call count; first-shown win rate: the share "
            "of calls won by the answer shown first (ties 1/2, weighted); both with intervals "
            "clustered by prompt.",
            "Leaderboards: the same Bradley-Terry fit without and with the terms "
            "(battle_leaderboard); controlled = every style term at zero and position balanced "
            "(at 0).",
        ]
        return lines

    def to_text(self) -> str:
        """The headline and one line per effect (what ``debias audit`` prints)."""
        pct = f"{100 * self.info['level']:g}%"
        lines = [self.headline]
        for r in self.effects.itertuples():
            if not np.isfinite(r.estimate):
                shown = r.note
            elif not np.isfinite(r.conf_low):
                shown = f"{r.estimate:+.3f} (interval not estimable: {r.note or 'no valid SE'})"
            else:
                shown = f"{r.estimate:+.3f} ({pct} CI {r.conf_low:+.3f} to {r.conf_high:+.3f})"
                if np.isfinite(r.rating_points):
                    shown += (
                        f" = {r.rating_points:+.1f} rating points, "
                        f"{r.winrate_points:+.1f} win-rate points"
                    )
            lines.append(f"  {r.judge}: {r.term} {shown}")
        for r in self.position.itertuples():
            lines.append(
                f"  {r.judge}: consistency {r.consistency:.2f}% ({r.consistency_n_agree}/"
                f"{r.consistency_n} pairs agree), first shown wins {r.first_shown_win_rate:.2f}%"
            )
        return "\n".join(lines) + "\n"

    def to_markdown(self) -> str:
        several = len(self.judges) > 1
        title = "Judges side by side" if several else f"Audit of judge {self.judges[0]}"
        lines = [f"# {title}", "", self.headline, ""]
        lines += [
            f"Features: {', '.join(self.info['features'])} ({self.info['features_reason']}).",
            "",
        ]
        for name, why in self.info["features_dropped"].items():
            lines += [f"- {name} left out: {why}."]
        lines += ["## Effects per judge", "", f"Log-odds ({STYLE_UNIT} for style terms).", ""]
        lines.append(markdown_table(self.effects.drop(columns="note"), 3))
        for r in self.effects[self.effects["note"] != ""].itertuples():
            lines.append(f"- {r.term}, {r.judge}: {r.note}")
        if len(self.position):
            lines += ["", "## Position: consistency and first-shown win rate (%)", ""]
            lines.append(markdown_table(self.position, 2))
        if several and len(self.differences):
            lines += ["", "## Differences between judges", ""]
            lines.append(markdown_table(self.differences, 3))
        from debias.reports.leaderboard import to_markdown

        for judge, (table, report) in self.leaderboards.items():
            lines += ["", f"## Leaderboard of {judge} (raw and style-controlled)", ""]
            lines += [to_markdown(table).rstrip("\n"), "", report.to_text()]
        lines += ["", "## Models", "", ", ".join(self.models), "", "## Methods", ""]
        lines += [f"- {m}" for m in self.methods()]
        return "\n".join(lines) + "\n"

    def figure(self):
        from debias.plots.judges import judges_forest

        level = self.info["level"]
        if len(self.judges) > 1:
            return judges_forest(self.effects, self.differences, level=level)
        # one judge: one panel, one row per effect
        rows = self.effects.assign(judge=self.effects["term"], term=f"judge {self.judges[0]}")
        fig = judges_forest(rows, level=level)
        fig.set_size_inches(6.5, 0.45 * len(rows) + 1.6)
        fig.suptitle(
            "Effect on the log-odds of winning\n(style: per unit of (a − b)/(a + b + 1); "
            "position: shown first, ±1)",
            fontsize=9,
        )
        fig.tight_layout()
        return fig

    def write(self, out_dir, *, dpi: int = 120) -> Path:
        """Write ``audit.json``, ``report.md`` and ``judges.png`` into ``out_dir`` (all at once)."""
        from debias.atomic import atomic_dir
        from debias.reports.audit.report import check_audit_dir

        out = Path(out_dir)
        check_audit_dir(out)
        fig = self.figure()
        try:
            with atomic_dir(out) as tmp:
                text = json.dumps(self.to_dict(), indent=2, allow_nan=False)
                (tmp / "audit.json").write_text(text, encoding="utf-8")
                (tmp / "report.md").write_text(self.to_markdown(), encoding="utf-8")
                fig.savefig(tmp / "judges.png", dpi=dpi, bbox_inches="tight")
        finally:
            import matplotlib.pyplot as plt

            plt.close(fig)
        return out


def audit_judges(
    data,
    judgments=None,
    *,
    judges: Sequence[str] | None = None,
    features: Sequence[str] | None = None,
    families: Mapping[str, str] | None = None,
    consistency_rule: str = "pair",
    level: float = 0.95,
) -> JudgesAudit:
    """Audit one judge or several (on the prompts they share) from battle data.

    Parameters
    ----------
    data : Judgments or pandas.DataFrame
        Pairwise judge calls (a Judgments, whose answers give the features), or battle
        rows (``Judgments.battles()``), with ``judgments=`` or ``<f>_a``, ``<f>_b`` columns.
    judgments : Judgments, optional
        The answers of battle rows given as ``data`` (to measure the features).
    judges : sequence of str, optional
        Which judges (default: all).
    features : sequence of str, optional
        Style features (:func:`debias.battles.style.add_answer_features`: ``tokens``,
        ``headers``, ``lists``, ``bold`` or any registered mediator such as ``length``,
        ``markdown``). Default :func:`default_features`.
    families : mapping, optional
        Model or judge name -> family (default rules: :mod:`debias.judgments.families`).
    consistency_rule : {"pair", "call"}, default "pair"
        :func:`debias.reports.position.consistency`'s rule (``"call"``: PBA's count).
    level : float, default 0.95

    Returns
    -------
    JudgesAudit
    """
    from debias.battles.style import add_answer_features
    from debias.judgments import Judgments

    if isinstance(data, Judgments):
        battles, judgments = data.battles(), data
    elif isinstance(data, pd.DataFrame):
        battles = data
    else:
        raise InputError(
            f"audit_judges() expects Judgments (debias.io.read_judgments) or battle rows, got "
            f"{type(data).__name__}."
        )
    if consistency_rule not in ("pair", "call"):
        raise ParameterError(
            f"The 'consistency_rule' parameter must be 'pair' or 'call'. Got {consistency_rule!r}."
        )
    present = list(pd.unique(battles["judge"].astype(str))) if "judge" in battles else []
    if isinstance(judges, str):
        judges = [judges]
    if judges is not None:
        unknown = [j for j in judges if j not in present]
        if unknown:
            raise ParameterError(f"judges= {unknown} not in the data; judges: {present}.")
        battles = battles[battles["judge"].astype(str).isin(judges)]
    if battles.empty:
        raise InputError("battle rows: no pairwise call to audit.")
    if features is None:
        features, reason = default_features(battles, judgments)
    else:
        features = (features,) if isinstance(features, str) else tuple(features)
        reason = "features="
        if not features:
            raise ParameterError("features= is empty: the audit needs at least one feature.")
    battles = add_answer_features(battles, judgments, features)
    battles, counts = shared_battles(battles)
    if battles.empty:
        raise InputError(f"The judges {counts['judges']} share no (prompt, pair of models).")
    verdict = battles["outcome"].notna().to_numpy()
    fitted = battles[verdict].reset_index(drop=True)  # calls without one: consistency only
    if fitted.empty:
        raise InputError("battle rows: no call with a verdict; nothing to fit.")
    kept, dropped = informative_features(fitted, features)
    several = len(counts["judges"]) > 1
    design = order_design(fitted)
    # each judge: one Bradley-Terry fit with its terms (the effects and its leaderboard)
    boards = _leaderboards(fitted, kept, design, level)
    parts = [rep.coefficients.assign(judge=judge) for judge, (_, rep) in boards.items()]
    differences = []
    if several:  # the joint fit: differences between judges, self-preference
        check_joint_size(fitted, kept, counts["judges"])
        fit = fit_judges(fitted, features=kept, level=level)
        differences.append(compare_judges(fit))
        sp_fit = fit_judges(
            fitted, features=kept, self_preference=True, families=families, level=level
        )
        sp = sp_fit.table()
        parts.append(sp[sp["term"] == "self_preference"])
        differences.append(_sp_differences(sp_fit))
    effects = _effects(parts, design, counts["judges"], kept, several)
    differences = pd.concat(
        [d for d in differences if len(d)] or [pd.DataFrame(columns=DIFF_COLUMNS)],
        ignore_index=True,
    )
    both = [j for j, d in order_design(battles).items() if d["status"] == "both_orders"]
    in_both = battles["judge"].astype(str).isin(both)
    position = position_table(battles[in_both], consistency_rule, level) if both else None
    models = sorted(set(battles["model_a"].astype(str)) | set(battles["model_b"].astype(str)))
    by_model = consistency_by_model(battles[in_both], models, consistency_rule, level)
    n_prompts = int(battles["prompt"].nunique())
    n = len(counts["judges"])
    headline = (
        (f"{n} judges" if several else f"1 judge ({counts['judges'][0]})")
        + f" on {n_prompts} {'shared ' if several else ''}prompts"
        f" ({len(fitted)} battles with a verdict); every effect is a slope common to the "
        f"{len(models)} models of these battles ({_list(models)}), estimated per judge."
    )
    info = {
        "level": float(level),
        "n_prompts": n_prompts,
        "n_models": len(models),
        "n_battles": len(fitted),
        "n_battles_not_shared": counts["n_rows"] - counts["n_rows_shared"],
        "n_battles_without_verdict": int((~verdict).sum()),
        "judge_names": counts["judges"],
        "features": list(kept),
        "features_reason": reason,
        "features_dropped": dropped,
        "families": sp_fit.families if several else {},
        "order_design": design,
        "consistency_rule": consistency_rule,
        "consistency_by_model": by_model,
    }
    if position is None:
        position = pd.DataFrame()
    return JudgesAudit(effects, differences, position, models, headline, info, boards)


def _effects(parts, design: dict, judges: list, features, several: bool) -> pd.DataFrame:
    """The effect rows in judge order (features, position, self-preference), with points."""
    t = pd.concat([p for p in parts if len(p)], ignore_index=True)
    have = set(zip(t["term"], t["judge"], strict=True))
    extra = []
    for j in judges:
        if ("position", j) not in have:
            extra.append(
                {"term": "position", "judge": j, "note": f"not estimated: {design[j]['reason']}"}
            )
        if not several:
            extra.append(
                {
                    "term": "self_preference",
                    "judge": j,
                    "note": "not estimated: one judge; a judge × family term needs several judges "
                    "grading the same models (with one, it is a property of the models, absorbed "
                    "by their strengths)",
                }
            )
    t = pd.concat([t, pd.DataFrame(extra)], ignore_index=True) if extra else t
    t["note"] = t["note"].fillna("")
    t = in_points(t)
    style = t["term"].isin(features)
    for c in EFFECT_COLUMNS:
        if c.startswith(POINTS):
            t.loc[~style, c] = np.nan
    order = {term: i for i, term in enumerate([*features, "position", "self_preference"])}
    rank = {j: i for i, j in enumerate(judges)}
    key = t["judge"].map(lambda j: rank.get(str(j).split("−")[0], len(rank))) * 100 + t["term"].map(
        order
    )
    t = t.iloc[np.argsort(key.to_numpy(), kind="stable")]
    return t[EFFECT_COLUMNS].reset_index(drop=True)


def _leaderboards(battles: pd.DataFrame, features, design: dict, level: float) -> dict:
    """judge -> (table, BattleReport) of its Bradley-Terry fit with the features (unscaled)
    and ``position`` where the order shown is identified."""
    from debias.battles.leaderboard import battle_leaderboard

    out = {}
    for judge, rows in battles.groupby(battles["judge"].astype(str), sort=False):
        terms = (*features, "position") if design[judge]["identified"] else tuple(features)
        out[judge] = battle_leaderboard(
            rows.reset_index(drop=True), features=terms, scale=False, level=level
        )
    return out


def _list(names: list[str], k: int = 6) -> str:
    return ", ".join(names) if len(names) <= k else ", ".join(names[:k]) + f", … ({len(names)})"


def _sp_differences(sp_fit) -> pd.DataFrame:
    """Self-preference differences: from compare_judges, or the identified ``j−ref`` terms."""
    d = compare_judges(sp_fit)
    if len(d):
        d = d[d["term"] == "self_preference"]
    if len(d):
        return d
    rows = []
    for name in sp_fit.params.index:
        if name.startswith("self_preference¦") and "−" in name:
            judge, ref = name.split("¦", 1)[1].split("−")
            rows.append(
                {"term": "self_preference", "judge": judge, "reference": ref}
                | sp_fit.contrast({name: 1.0})
            )
    return pd.DataFrame(rows, columns=DIFF_COLUMNS)
