"""Per-task comparison of networks: similarity matrices and per-network summaries."""
