"""Any-pair battles: Bradley–Terry with style control.

Modules, in the order of the flow:

- :mod:`~debias.battles.style`: per-answer features (length, tokens, Arena's markdown
  counts, any registered mediator) and the pairwise style covariates;
- :mod:`~debias.battles.design`: :func:`battle_design`, the arrays a fit reads;
- :mod:`~debias.battles.newton`: :func:`fit_newton`, the exact Newton fit (and
  :class:`BTFit`, the fit every other module reads);
- :mod:`~debias.battles.convex`: :func:`fit_convex`, penalties and constraints (cvxpy);
- :mod:`~debias.battles.inference`: sandwich and prompt bootstrap.
"""
