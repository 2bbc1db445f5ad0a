"""Per-network analysis: evaluation, probe trajectories and fixed points."""
