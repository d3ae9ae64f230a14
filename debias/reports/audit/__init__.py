"""One-command audit of a judge's length and style biases.

:func:`audit` fits the preference GLM of every model against the baseline
(unpenalised, no regularisation rows), then answers, for each mediator
(``length``, ``markdown``, ...):

- **Does the judge react to it?** The *pooled slope*: the average over models of
  the per-model coefficient of the mediator's term, with a cluster-robust
  standard error from the per-instruction influence functions (the models share
  instructions, so their slopes are correlated; averaging the influence
  functions over models before squaring accounts for that), and a two-sided
  Wald test (Student's t with G − 1 df, G instructions) of "the judge is
  indifferent to the mediator" (slope 0).
- **How much does it matter?** A *readable effect* in win-rate points: for
  length (and words), the change in a model's average win probability when its
  answers are twice as long as the baseline's instead of equally long
  (``{"length": ratio(2)}`` vs ``{"length": ratio(1)}``); for other mediators,
  the change when the difference to the baseline is removed (``{m: 0}`` vs
  the observed data); averaged over models, × 100, with an influence-function
  interval.
- **What does it do to the leaderboard?** Per model: the raw win rate and
  controlled win rates, each *named by what it controls* (one scheme in tables,
  ``audit.json`` and figure titles):

  - ``{m1}_{m2}_controlled_win_rate`` (e.g. ``length_markdown_controlled_win_rate``):
    every audited mediator at "no difference" (the audit's main estimand; the
    figure "Raw vs length- and markdown-controlled win rate");
  - ``lc_win_rate``: length only, the other mediators as observed: the estimand
    of ``debias leaderboard``'s ``lc_win_rate``, and the same number for the same
    data and formula (``audit(mediators=["length"])`` and
    ``leaderboard(formula=audit_formula(["length"]), lam=0)``);

  each with ``_win_rate_se``, ``_win_rate_ci_low``, ``_win_rate_ci_high`` and ``_shift`` (controlled
  − raw); ``audit.json`` lists them under ``estimands`` with their ``controls``.
  A model whose data cannot support a controlled score gets NaN and a ``note``
  ("not estimable: ...").
- **Does the model describe the judge?** Per-model slopes significantly of the
  sign opposite to the pooled slope, and a binned-residual misfit test
  (:mod:`debias.reports.audit.checks`), stated in the verdict.
- **Degenerate submissions** (the same answer to every prompt, prompt-injection
  markers; :mod:`debias.reports.degenerate`) are flagged in the verdict, the per-model
  ``flags`` column and ``audit.json``.

:func:`run_audit` reads an AlpacaEval tree (or a judgments table) and writes the
report; it is what ``debias audit PATH --out DIR`` runs.


The flow, one module per step:

- :mod:`~debias.reports.audit.fitting`: the audit's formula and its unpenalised per-model fit;
- :mod:`~debias.reports.audit.stats`: pooled slopes and effects, per-model controlled win rates;
- :mod:`~debias.reports.audit.checks`: opposite-sign slopes and the binned-residual misfit test;
- :mod:`~debias.reports.audit.naming`: what each controlled win rate controls;
- :mod:`~debias.reports.audit.wording`: the verdict's sentences;
- :mod:`~debias.reports.audit.report`: :class:`AuditReport` (Markdown, HTML, JSON, figures);
- :mod:`~debias.reports.audit.run`: :func:`audit` and :func:`run_audit`.

Examples
--------
>>> from debias.simulate import simulate
>>> sim = simulate(n_models=3, n_instructions=150, length_effect=1.0, seed=0)
>>> report = audit(sim.comparisons, progress=False)
>>> report.verdict.startswith("The judge prefers longer answers")
True
>>> list(report.summary["mediator"])
['length', 'markdown']
"""

from debias.reports.audit.checks import binned_residual_test, opposite_slopes
from debias.reports.audit.fitting import audit_formula, fit_audit_glm, mediator_term
from debias.reports.audit.naming import audit_estimands, controls_phrase, estimand_prefix
from debias.reports.audit.report import AuditReport, check_audit_dir
from debias.reports.audit.run import audit, run_audit
from debias.reports.audit.stats import pooled_effect, pooled_slope

__all__ = [
    "AuditReport",
    "audit",
    "audit_estimands",
    "audit_formula",
    "binned_residual_test",
    "check_audit_dir",
    "controls_phrase",
    "estimand_prefix",
    "fit_audit_glm",
    "mediator_term",
    "opposite_slopes",
    "pooled_effect",
    "pooled_slope",
    "run_audit",
]
