"""Inference: cluster-robust helpers (:mod:`~debias.inference.cluster`), the two-stage
correction (:mod:`~debias.inference.two_stage`) and the bootstrap
(:mod:`~debias.inference.bootstrap`)."""
