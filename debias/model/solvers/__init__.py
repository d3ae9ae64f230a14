"""Stage-2 solvers: :mod:`~debias.model.solvers.newton` (the default),
:mod:`~debias.model.solvers.cvxpy` (bounds and L1) and
:mod:`~debias.model.solvers.alpaca_eval` (the reference's exact procedure)."""
