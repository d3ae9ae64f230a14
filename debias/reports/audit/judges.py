"""Several judges audited side by side: :func:`audit_judges` and :class:`JudgesAudit`.

For judges that grade the same prompts (MT-Bench's PBA judges, say), one joint fit
(:func:`debias.reports.judges.fit_judges`) gives each judge's length, markdown and
position effects, and a second one with shared model strengths its self-preference
(:func:`debias.reports.judges.self_preference`); differences between judges are tested
on the joint fit (clustered by prompt over all judges). Position also gets the
consistency and the first-shown win rate (:mod:`debias.reports.position`) whenever
both orders are present.

``audit.json`` (:meth:`JudgesAudit.to_dict`) holds one block per judge, each effect with
``estimate, std_error, conf_low, conf_high, p_value`` (and ``note`` when missing),
position also with ``consistency`` and ``first_shown_win_rate`` (percent, with
intervals); ``differences`` between judges; ``models``: the models the effects average
over (stated in the headline).

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
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from debias.errors import InputError, ParameterError
from debias.mediators import get_mediator
from debias.reports.audit.report import json_ready, markdown_table
from debias.reports.judges import compare_judges, fit_judges
from debias.reports.position import consistency, first_shown_win_rate, order_design

__all__ = ["JudgesAudit", "add_features", "audit_judges", "shared_battles"]

NUMBERS = ("estimate", "std_error", "conf_low", "conf_high", "p_value")
UNITS = {
    "position": "log-odds, answer shown first vs second (±1)",
    "self_preference": "log-odds, answer of the judge's family vs not (own(A) − own(B))",
}


def add_features(battles: pd.DataFrame, judgments, features: Sequence[str]) -> pd.DataFrame:
    """A copy of ``battles`` with ``<f>_a``, ``<f>_b`` from the answers' texts (mediators).

    Columns already present are kept (a simulator's, say).
    """
    out = battles.copy()
    todo = [f for f in features if not {f"{f}_a", f"{f}_b"} <= set(out.columns)]
    if not todo:
        return out
    if judgments is None or not {"answer_a", "answer_b"} <= set(out.columns):
        raise InputError(
            f"battle rows: features {todo} need the answers' texts: pass the Judgments "
            "(its battles() carry answer_a/answer_b codes) or add columns <f>_a, <f>_b."
        )
    texts = judgments.answers["text"]
    for f in todo:
        values = get_mediator(f).compute(texts)
        out[f"{f}_a"] = values[out["answer_a"].to_numpy()]
        out[f"{f}_b"] = values[out["answer_b"].to_numpy()]
    return out


def shared_battles(battles: pd.DataFrame) -> tuple[pd.DataFrame, dict]:
    """Rows on the (prompt, turn, pair of models) that every judge graded, and counts."""
    judges = list(pd.unique(battles["judge"].astype(str)))
    low = np.minimum(battles["model_a"].astype(str), battles["model_b"].astype(str))
    high = np.maximum(battles["model_a"].astype(str), battles["model_b"].astype(str))
    turn = battles["turn"] if "turn" in battles else 1
    key = battles["prompt"].astype(str) + "\0" + pd.Series(turn, index=battles.index).astype(str)
    key = key + "\0" + low + "\0" + high
    per_key = pd.Series(battles["judge"].astype(str).to_numpy(), index=key).groupby(level=0)
    shared = per_key.nunique() == len(judges)
    keep = key.map(shared).to_numpy(dtype=bool)
    info = {"n_rows": len(battles), "n_rows_shared": int(keep.sum()), "judges": judges}
    return battles[keep].reset_index(drop=True), info


@dataclass
class JudgesAudit:
    """Several judges' effects side by side (:func:`audit_judges`).

    Attributes
    ----------
    effects : pandas.DataFrame
        ``term, judge, estimate, std_error, conf_low, conf_high, p_value, note`` for
        every feature, ``position`` and ``self_preference`` of every judge.
    differences : pandas.DataFrame
        :func:`debias.reports.judges.compare_judges` of both fits.
    position : pandas.DataFrame
        Per judge: ``consistency`` and ``first_shown_win_rate`` (percent) with intervals
        (empty when no judge saw both orders).
    models : list of str
        The models of the shared battles: every effect averages over them.
    headline : str
    info : dict
    """

    effects: pd.DataFrame
    differences: pd.DataFrame
    position: pd.DataFrame
    models: list
    headline: str
    info: dict = field(default_factory=dict)

    def to_dict(self) -> dict:
        """``audit.json``'s content: one block per judge, then the differences."""
        judges: dict = {}
        pos = self.position.set_index("judge") if len(self.position) else None
        for r in self.effects.to_dict("records"):
            if "−" in r["judge"]:  # an identified difference: under "differences"
                continue
            block = {k: r[k] for k in NUMBERS}
            block["unit"] = UNITS.get(r["term"], "log-odds per unit of (a − b)/(a + b + 1)")
            if r["note"]:
                block["note"] = r["note"]
            if r["term"] == "position" and pos is not None and r["judge"] in pos.index:
                p = pos.loc[r["judge"]]
                for k in ("consistency", "first_shown_win_rate"):
                    block[k] = p[k]
                    block[f"{k}_conf_low"] = p[f"{k}_conf_low"]
                    block[f"{k}_conf_high"] = p[f"{k}_conf_high"]
                block["consistency_rule"] = self.info["consistency_rule"]
            judges.setdefault(r["judge"], {})[r["term"]] = block
        diffs: dict = {}
        for r in self.differences.to_dict("records"):
            diffs.setdefault(r["term"], {})[f"{r['judge']} − {r['reference']}"] = {
                k: r[k] for k in NUMBERS
            }
        return json_ready(
            {
                "kind": "judges side by side",
                "headline": self.headline,
                "models": list(self.models),
                **self.info,
                "judges": judges,
                "differences": diffs,
                "methods": self.methods(),
            }
        )

    def methods(self) -> list[str]:
        pct = f"{100 * self.info['level']:g}%"
        return [
            "Data: the battles on (prompt, turn, pair of models) graded by every judge; a call is "
            "P(A wins) (tie 1/2, no verdict left out).",
            "Length, markdown and position: one Bradley-Terry logistic fit of all judges, model "
            "strengths per judge, one coefficient per (term, judge); features enter as "
            "(a − b)/(a + b + 1) of the per-answer counts; position as +1 when A was shown first, "
            "−1 when second (only for judges whose order is not a fixed function of the prompt).",
            "Self-preference: a second joint fit with model strengths shared by the judges and "
            "own(A) − own(B) per judge (own: the model is in the judge's family); with every judge "
            "in one family only differences between judges are identified and reported.",
            f"Standard errors clustered by prompt over all judges (G/(G − 1)); {pct} intervals and "
            "p-values from Student's t with G − 1 df; differences between judges from the joint "
            "covariance; 'all equal' is an F test (Hotelling) of equal coefficients.",
            "Consistency (rule " + repr(self.info["consistency_rule"]) + "): 'pair' is the share "
            "of pairs whose two orders give the same verdict (ties agree with ties), 'call' "
            "Position-Bias-Analyzer's per-call count; first-shown win rate: the share of calls won by the answer shown first "
            "(ties 1/2); both with intervals clustered by prompt.",
        ]

    def to_markdown(self) -> str:
        eff = self.effects.copy()
        lines = ["# Judges side by side", "", self.headline, "", "## Effects per judge", ""]
        lines.append(markdown_table(eff.drop(columns="note"), 3))
        notes = eff[eff["note"] != ""]
        for r in notes.itertuples():
            lines.append(f"- {r.term}, {r.judge}: {r.note}")
        if len(self.position):
            lines += ["", "## Position: consistency and first-shown win rate (%)", ""]
            lines.append(markdown_table(self.position, 2))
        if len(self.differences):
            lines += ["", "## Differences between judges", ""]
            lines.append(markdown_table(self.differences, 3))
        lines += ["", "## Models", "", ", ".join(self.models), "", "## Methods", ""]
        lines += [f"- {m}" for m in self.methods()]
        return "\n".join(lines) + "\n"

    def figure(self):
        from debias.plots.judges import judges_forest

        return judges_forest(self.effects, self.differences, level=self.info["level"])

    def write(self, out_dir, *, dpi: int = 120) -> Path:
        """Write ``audit.json``, ``report.md`` and ``judges.png`` into ``out_dir`` (all at once)."""
        from debias.atomic import atomic_dir
        from debias.reports.audit.report import check_audit_dir

        out = Path(out_dir)
        check_audit_dir(out)
        fig = self.figure()
        with atomic_dir(out) as tmp:
            text = json.dumps(self.to_dict(), indent=2, allow_nan=False)
            (tmp / "audit.json").write_text(text, encoding="utf-8")
            (tmp / "report.md").write_text(self.to_markdown(), encoding="utf-8")
            fig.savefig(tmp / "judges.png", dpi=dpi, bbox_inches="tight")
        import matplotlib.pyplot as plt

        plt.close(fig)
        return out


def audit_judges(
    data,
    *,
    judges: Sequence[str] | None = None,
    features: Sequence[str] = ("length", "markdown"),
    families: Mapping[str, str] | None = None,
    consistency_rule: str = "pair",
    level: float = 0.95,
) -> JudgesAudit:
    """Audit several judges on the prompts they share.

    Parameters
    ----------
    data : Judgments or pandas.DataFrame
        Judge calls of two or more judges (a Judgments, whose answers give the features),
        or battle rows already carrying ``<f>_a``, ``<f>_b``.
    judges : sequence of str, optional
        Which judges (default: all).
    features : sequence of str, default ("length", "markdown")
        Mediators of the answers (:func:`debias.mediators.available_mediators`).
    families : mapping, optional
        Model or judge name -> family (default rules: :mod:`debias.judgments.families`).
    consistency_rule : {"pair", "call"}, default "pair"
        :func:`debias.reports.position.consistency`'s rule (``"call"``: PBA's count).
    level : float, default 0.95

    Returns
    -------
    JudgesAudit
    """
    from debias.judgments import Judgments

    if isinstance(data, Judgments):
        battles, source = data.battles(), data
    elif isinstance(data, pd.DataFrame):
        battles, source = data, None
    else:
        raise InputError(
            f"audit_judges() expects Judgments (debias.io.judges.read_judgments) or battle "
            f"rows, got {type(data).__name__}."
        )
    if isinstance(features, str):
        features = [features]
    present = list(pd.unique(battles["judge"].astype(str)))
    if judges is not None:
        unknown = [j for j in judges if j not in present]
        if unknown:
            raise ParameterError(f"judges= {unknown} not in the data; judges: {present}.")
        battles = battles[battles["judge"].astype(str).isin(judges)]
    battles = add_features(battles, source, features)
    battles, counts = shared_battles(battles)
    if battles.empty:
        raise InputError(f"The judges {counts['judges']} share no (prompt, pair of models).")
    fit = fit_judges(battles, features=features, level=level)
    sp_fit = fit_judges(
        battles, features=features, self_preference=True, families=families, level=level
    )
    sp = sp_fit.table()
    effects = pd.concat([fit.table(), sp[sp["term"] == "self_preference"]], ignore_index=True)
    differences = pd.concat([compare_judges(fit), _sp_differences(sp_fit)], ignore_index=True)
    design = order_design(battles)
    both = battles[battles["judge"].astype(str).map(lambda j: design[j]["status"] == "both_orders")]
    position = _position_table(both, consistency_rule, level) if len(both) else pd.DataFrame()
    models = sorted(set(battles["model_a"].astype(str)) | set(battles["model_b"].astype(str)))
    n_prompts = int(battles["prompt"].nunique())
    judges_used = counts["judges"]
    headline = (
        f"{len(judges_used)} judges on {n_prompts} shared prompts; every effect is a slope common "
        f"to the {len(models)} models of these battles ({_list(models)}), estimated per judge."
    )
    info = {
        "level": float(level),
        "n_prompts": n_prompts,
        "n_models": len(models),
        "n_battles": counts["n_rows_shared"],
        "n_battles_not_shared": counts["n_rows"] - counts["n_rows_shared"],
        "judge_names": judges_used,
        "families": sp_fit.families,
        "order_design": design,
        "consistency_rule": consistency_rule,
    }
    return JudgesAudit(effects, differences, position, models, headline, info)


def _list(names: list[str], k: int = 6) -> str:
    return ", ".join(names) if len(names) <= k else ", ".join(names[:k]) + f", … ({len(names)})"


def _sp_differences(sp_fit) -> pd.DataFrame:
    """Self-preference differences: from compare_judges, or the identified ``j−ref`` terms."""
    d = compare_judges(sp_fit)
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
    return pd.DataFrame(rows)


def _position_table(battles: pd.DataFrame, rule: str, level: float) -> pd.DataFrame:
    c = consistency(battles, rule=rule, level=level).set_index("judge")
    f = first_shown_win_rate(battles, level=level).set_index("judge")
    out = pd.DataFrame(
        {
            "consistency": c["estimate"],
            "consistency_conf_low": c["conf_low"],
            "consistency_conf_high": c["conf_high"],
            "first_shown_win_rate": f["estimate"],
            "first_shown_win_rate_conf_low": f["conf_low"],
            "first_shown_win_rate_conf_high": f["conf_high"],
            "first_shown_p_value": f["p_value"],
        }
    )
    return out.reset_index()
