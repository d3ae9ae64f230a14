"""Reports built on fitted judges: the flow's last step.

- :mod:`debias.reports.leaderboard`: the leaderboard table (raw and controlled win rates);
- :mod:`debias.reports.audit`: the judge audit (statistics, model checks, verdict, report files);
- :mod:`debias.reports.metrics`: the paper's leaderboard metrics (gameability, correlations,
  alternative corrections);
- :mod:`debias.reports.degenerate`: flags on degenerate submissions (one answer to every
  prompt, prompt injection), shown by the leaderboard and the audit.

Plots live in :mod:`debias.plots`.
"""
