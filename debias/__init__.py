"""debias: remove known biases from LLM-judge evaluations.

The public API; see the README for a quickstart.
"""

# Names are imported on first use (PEP 562), so that ``debias --help`` and ``import debias.cli``
# start without loading pandas, numpy or matplotlib.
_LAZY = {
    "avg_predictions": "debias.counterfactual",
    "comparisons": "debias.counterfactual",
    "elo": "debias.counterfactual",
    "predictions": "debias.counterfactual",
    "ratio": "debias.counterfactual",
    "winrate": "debias.counterfactual",
    "winrate_matrix": "debias.counterfactual",
    "winrate_pairs": "debias.counterfactual",
    "Judgments": "debias.judgments",
    "Scale": "debias.judgments",
    "Comparisons": "debias.data",
    "Difficulty": "debias.model.difficulty",
    "PRESETS": "debias.model.formula",
    "PreferenceGLM": "debias.model.glm",
    "leaderboard": "debias.reports.leaderboard",
    "leaderboard_fit": "debias.reports.leaderboard",
    "available_mediators": "debias.mediators",
    "register_mediator": "debias.mediators",
    "AuditReport": "debias.reports.audit",
    "audit": "debias.reports.audit",
    "run_audit": "debias.reports.audit",
    "read_judgments": "debias.io",
    "parse_verdicts": "debias.judgments.parse",
    "model_family": "debias.judgments.families",
    "BradleyTerry": "debias.battles.estimator",
    "battle_leaderboard": "debias.battles.leaderboard",
    "compare_presets": "debias.battles.presets",
    "consistency": "debias.reports.position",
    "first_shown_win_rate": "debias.reports.position",
    "fit_judges": "debias.reports.judges",
    "compare_judges": "debias.reports.judges",
    "self_preference": "debias.reports.judges",
    "audit_judges": "debias.reports.audit.judges",
    "length_controlled_grades": "debias.reports.grades",
    "mean_grades": "debias.reports.grades",
    "graded_verdicts": "debias.reports.graded_verdicts",
}
#: Subpackages reachable as attributes (``debias.plots.raw_vs_controlled(table)``), loaded on
#: first use: every plot takes ``ax=`` and returns its figure.
_LAZY_MODULES = {"plots": "debias.plots"}

from debias.errors import (  # noqa: E402 (light: no third-party import)
    DataWarning,
    DebiasError,
    DebiasWarning,
    FitWarning,
    FormulaError,
    InputError,
    ParameterError,
)


def __getattr__(name: str):
    if name in _LAZY_MODULES:
        import importlib

        return importlib.import_module(_LAZY_MODULES[name])
    if name in _LAZY:
        import importlib

        value = getattr(importlib.import_module(_LAZY[name]), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'debias' has no attribute {name!r}")


def __dir__():
    return sorted(set(globals()) | set(_LAZY) | set(_LAZY_MODULES))


__version__ = "0.1.0"

__all__ = [
    "AuditReport",
    "BradleyTerry",
    "Comparisons",
    "DataWarning",
    "DebiasError",
    "DebiasWarning",
    "Difficulty",
    "FitWarning",
    "FormulaError",
    "InputError",
    "Judgments",
    "PRESETS",
    "ParameterError",
    "PreferenceGLM",
    "Scale",
    "__version__",
    "audit",
    "audit_judges",
    "available_mediators",
    "avg_predictions",
    "battle_leaderboard",
    "compare_judges",
    "compare_presets",
    "comparisons",
    "consistency",
    "elo",
    "first_shown_win_rate",
    "fit_judges",
    "graded_verdicts",
    "leaderboard",
    "leaderboard_fit",
    "length_controlled_grades",
    "mean_grades",
    "model_family",
    "parse_verdicts",
    "plots",
    "predictions",
    "ratio",
    "read_judgments",
    "register_mediator",
    "run_audit",
    "self_preference",
    "winrate",
    "winrate_matrix",
    "winrate_pairs",
]
