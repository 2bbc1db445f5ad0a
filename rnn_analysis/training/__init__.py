"""Learning rules, the shared stop criterion, and per-network training outputs."""

from rnn_analysis.training import bptt  # noqa: F401  (registers)
from rnn_analysis.training.rule import LEARNING_RULES, LearningRule, NetworkResult

__all__ = ["LEARNING_RULES", "LearningRule", "NetworkResult"]
