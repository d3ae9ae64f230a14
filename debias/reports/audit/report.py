"""Rendering of the judge audit: :class:`AuditReport` and its Markdown, HTML, JSON and figures.

:func:`debias.reports.audit.audit` computes the numbers (:mod:`~debias.reports.audit.stats`,
:mod:`~debias.reports.audit.checks`) and the words (:mod:`~debias.reports.audit.wording`);
this module lays them out and writes the report folder.
"""

from __future__ import annotations

import html
import json
import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from debias.errors import InputError
from debias.mediators import get_mediator
from debias.model.separation import NEAR_SEPARATION
from debias.reports.audit.fitting import mediator_term
from debias.reports.audit.naming import controlled_adjective, controls_phrase
from debias.reports.audit.stats import LARGE_SHIFT
from debias.reports.audit.wording import format_p, format_range
from debias.reports.degenerate import IDENTICAL_SHARE, INJECTION_SHARE, SIMILARITY

if TYPE_CHECKING:
    from debias.model.glm import PreferenceGLM

__all__ = ["AuditReport", "check_audit_dir", "is_audit_output", "json_ready", "markdown_table"]


_CSS = """
body { font-family: system-ui, -apple-system, Segoe UI, Helvetica, Arial, sans-serif;
       max-width: 1100px; margin: 2em auto; padding: 0 1em; color: #222; line-height: 1.45; }
h1 { font-size: 1.6em; } h2 { font-size: 1.25em; margin-top: 1.8em; border-bottom: 1px solid #ddd; }
.verdict { font-size: 1.12em; background: #f3f7fb; border-left: 4px solid #0072B2;
           padding: 0.7em 1em; }
table { border-collapse: collapse; font-size: 0.86em; margin: 0.6em 0; }
th, td { border: 1px solid #ccc; padding: 3px 7px; text-align: right; }
th { background: #f0f0f0; } td:first-child, th:first-child { text-align: left; }
img { max-width: 100%; height: auto; display: block; margin: 0.8em 0; }
.warn { color: #8a4b00; } code { background: #f4f4f4; padding: 0 3px; }
"""


def json_ready(value):
    """JSON-safe copy: numpy scalars -> Python, NaN/inf -> None."""
    if isinstance(value, Mapping):
        return {str(k): json_ready(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [json_ready(v) for v in value]
    if isinstance(value, (np.bool_, bool)):
        return bool(value)
    if isinstance(value, (np.integer,)):
        return int(value)
    if isinstance(value, (float, np.floating)):
        v = float(value)
        return v if math.isfinite(v) else None
    return value


def markdown_table(df: pd.DataFrame, digits: int = 3) -> str:
    cols = list(df.columns)
    lines = [
        "| " + " | ".join(str(c) for c in cols) + " |",
        "|" + "|".join("---" for _ in cols) + "|",
    ]
    for row in df.itertuples(index=False):
        cells = []
        for v in row:
            if isinstance(v, (float, np.floating)):
                cells.append(
                    ""
                    if not np.isfinite(v)
                    else f"{v:.{digits}g}"
                    if abs(v) < 1e-3 and v != 0
                    else f"{v:.{digits}f}"
                )
            else:
                cells.append(str(v))
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


@dataclass
class AuditReport:
    """The result of :func:`audit`.

    Attributes
    ----------
    summary : pandas.DataFrame
        One row per mediator: ``mediator, term, estimate, std_error, conf_low,
        conf_high, p_value`` (pooled slope, log-odds per unit of the term),
        ``n_models``, and the readable effect ``effect, effect_se,
        effect_ci_low, effect_ci_high, effect_p_value`` (win-rate points)
        with ``effect_description``.
    per_model : pandas.DataFrame
        One row per model (baseline excluded): ``n, win_rate, win_rate_se,
        win_rate_ci_low, win_rate_ci_high``, then for each controlled win rate of
        ``info["estimands"]`` (prefix ``p`` naming what it controls, see the module
        docstring) ``{p}_win_rate, {p}_win_rate_se, {p}_win_rate_ci_low, {p}_win_rate_ci_high,
        {p}_shift, {p}_shift_ci_low, {p}_shift_ci_high``, ``avg_length`` (percent;
        characters), per mediator ``{m}_slope, {m}_slope_se, {m}_slope_ci_low,
        {m}_slope_ci_high, {m}_slope_p, {m}_effect``, ``separated`` and ``flags``
        (degenerate answers, :mod:`debias.reports.degenerate`; '' when none).
    verdict : str
        Plain sentences: one per mediator, then the model checks (slopes of the
        opposite sign, misfit) and degenerate submissions.
    fit : PreferenceGLM
    info : dict
        Judge, baseline, formula, difficulty, level, sizes, excluded models,
        ``estimands`` (prefix -> what it controls), ``main_estimand``, ``checks``
        and ``flags``.
    warnings : list of str
        Warnings raised while fitting (also re-emitted).
    """

    summary: pd.DataFrame
    per_model: pd.DataFrame
    verdict: str
    fit: PreferenceGLM = field(repr=False)
    info: dict = field(default_factory=dict)
    warnings: list = field(default_factory=list)

    # ------------------------------------------------------------------ export
    def methods(self) -> list[str]:
        """How every number is computed (one sentence per item)."""
        i = self.info
        pct = f"{100 * i['level']:g}%"
        meds = "; ".join(
            f"{m} ({get_mediator(m).description or get_mediator(m).unit})"
            for m in i["mediator_names"]
        )
        diff = {
            "fit": "fitted jointly over all models first (stage 1, ridge 0.1) and then held fixed",
            "none": "not used (fewer than 3 models besides the baseline, or switched off)",
        }.get(i["difficulty"], f"loaded from {i['difficulty']}")
        return [
            f"Data: {i['n_judgments']:,} judgments of {i['n_models']} model(s) against the baseline "
            f"{i['baseline']!r} on {i['n_instructions']:,} instructions, judge {i['judge']!r}. A "
            "judgment is P(model preferred) in [0, 1] (soft preferences allowed; ties 0.5).",
            f"Mediators: {meds}; every difference is model minus baseline, per instruction.",
            f"Model: for each model separately, logit P(model preferred) = strength + "
            f"{i['formula'].replace(' + ', ' + ')}, fitted by maximum likelihood without penalty "
            "or regularisation rows (lam = 0). scaled(x) divides by the model's SD of x (not "
            "centred); diff_over_sum(a, b) = (a − b)/(a + b + 1), SD-scaled. Instruction "
            f"difficulty: {diff}.",
            "Standard errors: cluster-robust by instruction (per-instruction influence "
            f"functions, small-sample factor G/(G − 1)); method: {i['se_method']}. When the "
            "difficulty is fitted on the same judgments, its estimation is included (the two "
            "stages as stacked estimating equations; treating it as known understates the "
            f"pooled slope's SE about twofold in simulations). {pct} Wald intervals and two-sided "
            "p-values from Student's t with G − 1 degrees of freedom (G instructions); a "
            "number whose standard error is not valid is reported as not estimable, with "
            "the reason.",
            "Pooled slope: the average over models of each model's coefficient of the mediator's "
            "term (log-odds per unit of the term). Its SE comes from the per-instruction "
            "influence functions averaged over models (the models share instructions, so their "
            "slopes are correlated). Null hypothesis: the judge is indifferent to the mediator "
            "(slope 0). Models with a separated fit (|coefficient| > "
            f"{NEAR_SEPARATION:g} or no convergence) are left out: "
            f"{', '.join(i['excluded']) or 'none'}.",
            "Length effect: for each model, the average predicted P(model preferred) over its "
            "instructions with every answer twice as long as the baseline's, minus the same with "
            "equal lengths (other mediators as observed), × 100; averaged over models, with an "
            "interval from the same influence-function approach (delta method).",
            "Effects of other mediators: the average predicted P with the mediator's difference "
            "removed (model value = baseline value) minus the average with the observed data, "
            "× 100, averaged over models.",
            "Controlled win rates, named by what they control: "
            + "; ".join(
                f"{p}_win_rate = 100 × the model's average predicted P with the "
                f"{controls_phrase(e['controls'])} difference(s) removed"
                + (
                    f" ({controls_phrase(e['held_as_observed'])} as observed)"
                    if e["held_as_observed"]
                    else ""
                )
                for p, e in i["estimands"].items()
            )
            + ". Difficulty as observed; lc_win_rate is what `debias leaderboard` reports "
            "(length only) for the same formula. {p}_shift = controlled − raw win rate, its "
            "interval from the delta method. Raw win rate: 100 × mean preference, interval "
            "± z × SEM.",
            "Model checks: per model, a slope of the sign opposite to the pooled slope is "
            "reported when significant after Holm's correction over the models; misfit is a "
            "Wald test that the mean residual (observed − predicted) is zero in 10 quantile "
            "bins of each mediator's difference (and of the fitted probability when the "
            "difficulty is not fitted), with a cluster-robust covariance that counts the "
            "estimation of each model's coefficients, referred to χ²(bins − 1) "
            "(debias.reports.audit.checks).",
            "Degenerate submissions (debias.reports.degenerate): a model is flagged when at least "
            f"{IDENTICAL_SHARE:.0%} of its answers are one text, the mean character 5-gram "
            f"similarity of its answers to different prompts is at least {SIMILARITY:g}, or at "
            f"least {INJECTION_SHARE:.0%} of its answers carry prompt-injection markers.",
            f"A warning is raised when a controlled score moves more than {LARGE_SHIFT:g} points "
            "away from the raw one.",
        ]

    def to_dict(self) -> dict:
        """A JSON-ready dict (NaN -> None): the numbers of ``audit.json``."""
        mediators = {}
        for row in self.summary.to_dict("records"):
            mediators[row["mediator"]] = {
                "term": row["term"],
                "estimate": row["estimate"],
                "std_error": row["std_error"],
                "conf_low": row["conf_low"],
                "conf_high": row["conf_high"],
                "p_value": row["p_value"],
                "n_models": row["n_models"],
                "effect": {
                    "description": row["effect_description"],
                    "unit": "win-rate points",
                    "estimate": row["effect"],
                    "std_error": row["effect_se"],
                    "conf_low": row["effect_ci_low"],
                    "conf_high": row["effect_ci_high"],
                    "p_value": row["effect_p_value"],
                },
            }
        models = {}
        for row in self.per_model.to_dict("records"):
            name = row.pop("model")
            models[name] = row
        return json_ready(
            {
                **{k: v for k, v in self.info.items()},
                "verdict": self.verdict,
                "mediators": mediators,
                "models": models,
                "warnings": list(self.warnings),
                "methods": self.methods(),
            }
        )

    def _summary_display(self) -> pd.DataFrame:
        s = self.summary
        pct = f"{100 * self.info['level']:g}%"
        return pd.DataFrame(
            {
                "mediator": s["mediator"],
                "pooled slope": s["estimate"],
                "SE": s["std_error"],
                f"{pct} CI": [
                    format_range(a, b, 3)
                    for a, b in zip(s["conf_low"], s["conf_high"], strict=True)
                ],
                "p": [format_p(p).replace("p = ", "").replace("p ", "") for p in s["p_value"]],
                "effect (points)": [
                    f"{e:+.1f}" if np.isfinite(e) else "not estimable" for e in s["effect"]
                ],
                f"effect {pct} CI": [
                    format_range(a, b, 1)
                    for a, b in zip(s["effect_ci_low"], s["effect_ci_high"], strict=True)
                ],
                "p (effect)": [
                    format_p(p).replace("p = ", "").replace("p ", "") for p in s["effect_p_value"]
                ],
                "models": s["n_models"],
            }
        )

    def _per_model_display(self) -> pd.DataFrame:
        d = self.per_model
        main = self.info["main_estimand"]
        cols = ["model", "n", "win_rate"]
        for p in self.info["estimands"]:
            cols += [f"{p}_win_rate", f"{p}_win_rate_ci_low", f"{p}_win_rate_ci_high"]
        cols += [f"{main}_shift", "avg_length"]
        cols += [f"{m}_slope" for m in self.info["mediator_names"] if f"{m}_slope" in d]
        cols += [c for c in ("note", "flags") if (d[c] != "").any()]
        return d[cols].sort_values(f"{main}_win_rate", ascending=False)

    def _table_note(self) -> str:
        main = self.info["main_estimand"]
        parts = [f"`{p}_win_rate`: {e['description']}" for p, e in self.info["estimands"].items()]
        return (
            "Win rates in percent; " + "; ".join(parts) + f"; `{main}_shift` = "
            f"`{main}_win_rate` − `win_rate`; `avg_length` in characters."
        )

    def to_markdown(self) -> str:
        """The report as Markdown (figures referenced by relative path)."""
        i = self.info
        out = [
            f"# Judge audit: {i['judge']}",
            "",
            f"Baseline `{i['baseline']}`; {i['n_models']} model(s), {i['n_instructions']:,} "
            f"instructions, {i['n_judgments']:,} judgments. Formula: `{i['formula']}`.",
            "",
            "## Verdict",
            "",
            self.verdict,
            "",
            "## Mediator effects",
            "",
            markdown_table(self._summary_display()),
            "Pooled slope: log-odds per unit of the mediator's term, averaged over models. Effect: "
            "win-rate points (see Methods).",
            "",
            "## Per model",
            "",
            markdown_table(self._per_model_display(), digits=2),
            self._table_note(),
            "",
            "## Figures",
            "",
        ]
        for name, caption in self._figure_list():
            out += [f"![{caption}]({name}.png)", ""]
        if self.warnings:
            out += ["## Warnings", ""] + [f"- {w}" for w in self.warnings] + [""]
        out += ["## Methods", ""] + [f"- {m}" for m in self.methods()] + [""]
        return "\n".join(out)

    def to_html(self) -> str:
        """A self-contained HTML report (figures referenced by relative path)."""
        i = self.info
        esc = html.escape

        def table(df, digits):
            return df.to_html(
                index=False,
                float_format=lambda v: f"{v:.{digits}f}",
                na_rep="",
                border=0,
                escape=True,
            )

        parts = [
            "<!DOCTYPE html>",
            '<html lang="en"><head><meta charset="utf-8">',
            f"<title>Judge audit: {esc(str(i['judge']))}</title>",
            f"<style>{_CSS}</style></head><body>",
            f"<h1>Judge audit: {esc(str(i['judge']))}</h1>",
            f"<p>Baseline <code>{esc(str(i['baseline']))}</code>; {i['n_models']} model(s), "
            f"{i['n_instructions']:,} instructions, {i['n_judgments']:,} judgments. Formula: "
            f"<code>{esc(i['formula'])}</code>.</p>",
            "<h2>Verdict</h2>",
            f'<p class="verdict">{esc(self.verdict)}</p>',
            "<h2>Mediator effects</h2>",
            table(self._summary_display(), 3),
            "<p>Pooled slope: log-odds per unit of the mediator's term, averaged over models. "
            "Effect: win-rate points (see Methods).</p>",
            "<h2>Per model</h2>",
            table(self._per_model_display(), 2),
            f"<p>{esc(self._table_note())}</p>",
            "<h2>Figures</h2>",
        ]
        for name, caption in self._figure_list():
            parts.append(
                f'<figure><img src="{name}.png" alt="{esc(caption)}">'
                f"<figcaption>{esc(caption)}</figcaption></figure>"
            )
        if self.warnings:
            parts.append("<h2>Warnings</h2><ul>")
            parts += [f'<li class="warn">{esc(w)}</li>' for w in self.warnings]
            parts.append("</ul>")
        parts.append("<h2>Methods</h2><ul>")
        parts += [f"<li>{esc(m)}</li>" for m in self.methods()]
        parts.append("</ul></body></html>")
        return "\n".join(parts)

    def leaderboard_table(self) -> pd.DataFrame:
        """Per-model table in the leaderboard layout (baseline row included), for plots.

        Columns ``model, n, win_rate``, every ``{prefix}_win_rate`` of
        ``info["estimands"]``, ``avg_length``; ``attrs``: ``baseline``, ``controls``
        (of the main estimand) and ``column`` (its win-rate column).
        """
        cols = [f"{p}_win_rate" for p in self.info["estimands"]]
        d = self.per_model[["model", "n", "win_rate", *cols, "avg_length"]]
        base = {
            "model": self.info["baseline"],
            "n": np.nan,
            "win_rate": 50.0,
            **dict.fromkeys(cols, 50.0),
            "avg_length": self.info.get("baseline_avg_length", np.nan),
        }
        table = pd.concat([d, pd.DataFrame([base])], ignore_index=True)
        main = self.info["main_estimand"]
        table.attrs.update(
            baseline=self.info["baseline"],
            controls=list(self.info["estimands"][main]["controls"]),
            column=f"{main}_win_rate",
        )
        return table

    def _figure_list(self) -> list[tuple[str, str]]:
        meds = self.info["mediator_names"]
        first = "length" if "length" in meds else meds[0]
        names = {
            "length_effect": f"Judge's preference against the {first} difference, by model",
            "coefficient_forest": f"Slope of the {meds[0]} term by model",
            "raw_vs_controlled": f"Raw against {self._main_phrase()} win rate",
            "calibration": "Calibration of the fitted model",
            "residuals": "Residuals against each mediator",
        }
        out = list(names.items())
        out += [(f"coefficient_forest_{m}", f"Slope of the {m} term by model") for m in meds[1:]]
        return out

    def _main_phrase(self) -> str:
        return controlled_adjective(self.info["estimands"][self.info["main_estimand"]]["controls"])

    def _slope_ses(self) -> dict:
        pm = self.per_model.set_index("model")
        return {m: pm[f"{m}_slope_se"].to_dict() for m in self.info["mediator_names"]}

    def figures(self) -> dict:
        """The report's figures: name -> matplotlib Figure (caller closes them)."""
        from debias import plots

        fit = self.fit
        meds = self.info["mediator_names"]
        figs = {}
        first = meds[0]
        figs["length_effect"] = plots.length_effect(
            fit, mediator="length" if "length" in meds else first
        )
        ses = self._slope_ses()
        figs["coefficient_forest"] = plots.coefficient_forest(
            fit, term=mediator_term(fit, first), level=self.info["level"], std_errors=ses[first]
        )
        table = self.leaderboard_table()
        figs["raw_vs_controlled"] = plots.raw_vs_controlled(
            table, column=table.attrs["column"], controls=table.attrs["controls"]
        )
        figs["calibration"] = plots.calibration(fit)
        figs["residuals"] = plots.residuals(fit)
        for m in meds[1:]:
            figs[f"coefficient_forest_{m}"] = plots.coefficient_forest(
                fit, term=mediator_term(fit, m), level=self.info["level"], std_errors=ses[m]
            )
        return figs

    def write(self, out_dir, *, dpi: int = 120) -> Path:
        """Write ``report.md``, ``report.html``, ``audit.json`` and the PNGs into ``out_dir``.

        The report is built in a temporary folder beside ``out_dir`` and renamed into
        place, so an interrupted or concurrent run never leaves the figures of one run
        next to the report of another. ``out_dir`` must be new, empty, or a previous
        audit output (which is replaced).

        Returns
        -------
        pathlib.Path
            ``out_dir``.

        Raises
        ------
        InputError
            ``out_dir`` is a file, or a folder holding anything but a previous audit.
        """
        import matplotlib.pyplot as plt

        from debias.atomic import atomic_dir
        from debias.plots import save

        out = Path(out_dir)
        check_audit_dir(out)
        with atomic_dir(out) as tmp, plt.rc_context({"figure.max_open_warning": 0}):
            for name, obj in self.figures().items():
                save(obj, tmp / f"{name}.png", dpi=dpi)
            text = json.dumps(self.to_dict(), indent=2, allow_nan=False)
            (tmp / "audit.json").write_text(text, encoding="utf-8")
            (tmp / "report.md").write_text(self.to_markdown(), encoding="utf-8")
            (tmp / "report.html").write_text(self.to_html(), encoding="utf-8")
        return out

    def __repr__(self) -> str:
        return (
            f"AuditReport(judge={self.info.get('judge')!r}, models={self.info.get('n_models')})\n"
            f"{self.verdict}\n{self._summary_display().to_string(index=False, na_rep='')}"
        )

    def _repr_html_(self) -> str:
        return f"<p><b>{html.escape(self.verdict)}</b></p>" + self._summary_display().to_html(
            index=False, float_format=lambda v: f"{v:.3f}", na_rep=""
        )


def is_audit_output(path: Path) -> bool:
    """Whether the folder holds only a previous audit's files (report, audit.json, PNGs)."""
    names = [p.name for p in Path(path).iterdir()]
    known = {"audit.json", "report.md", "report.html"}
    return {"audit.json", "report.md"} <= set(names) and all(
        n in known or (n.endswith(".png") and (Path(path) / n).is_file()) for n in names
    )


def check_audit_dir(out: Path) -> None:
    """Refuse an output folder that is a file or holds anything but a previous audit."""
    if out.exists() or out.is_symlink():
        if not out.is_dir() or out.is_symlink():
            raise InputError(f"out_dir={str(out)!r} exists and is not a folder.")
        if any(out.iterdir()) and not is_audit_output(out):
            raise InputError(
                f"out_dir={str(out)!r} is not empty and is not a previous audit output; give a "
                "new or empty folder (nothing was written)."
            )
