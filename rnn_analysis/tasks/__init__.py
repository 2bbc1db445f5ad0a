"""Tasks: trial generators, probe sets, fixed-point inputs and scoring."""

from rnn_analysis.tasks import flipflop  # noqa: F401  (registers)
from rnn_analysis.tasks.base import StaticInputs, Task, TrialBatch
from rnn_analysis.tasks.registry import TASKS

__all__ = ["TASKS", "StaticInputs", "Task", "TrialBatch"]
