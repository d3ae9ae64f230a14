"""The model: formula (the only patsy importer), difficulty, solvers, the estimator, results.

Modules: :mod:`~debias.model.formula` (formulas and presets into designs),
:mod:`~debias.model.difficulty` (stage 1, the shared instruction difficulty),
:mod:`~debias.model.solvers` (Newton, cvxpy and the reference's procedure),
:mod:`~debias.model.glm` (the estimator), :mod:`~debias.model.results` (one model's fit).
"""
