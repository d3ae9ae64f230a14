"""Reports built on fitted judges: leaderboards (and, as the layout grows, audits and metrics)."""
