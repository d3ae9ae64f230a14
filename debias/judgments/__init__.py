"""Judge calls of any format: the :class:`Judgments` data model, its scales and views.

One row per judge call (prompt, answer A, answer B or none, which was shown
first, the verdict on the judge's :class:`Scale`, judge, weight); answers stored
once each. Views give the fixed-baseline pairs (:class:`~debias.Comparisons`),
any-pair battles and per-answer scores.
"""

from debias.judgments.core import Judgments
from debias.judgments.scale import Scale
from debias.judgments.views import battles, fixed_baseline, scores

__all__ = ["Judgments", "Scale", "battles", "fixed_baseline", "scores"]
