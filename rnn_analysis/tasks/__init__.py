"""Tasks: trial generators, probe sets, fixed-point inputs and scoring.

Every module of this package registers its task in :data:`TASKS` when imported; all
of them are imported here, so adding a task is adding a module.
"""

import importlib
import pkgutil

from rnn_analysis.tasks.base import InputPulses, StaticInputs, Task, TrialBatch
from rnn_analysis.tasks.registry import TASKS

for _module in pkgutil.iter_modules(__path__):
    if _module.name not in {"base", "registry"}:
        importlib.import_module(f"{__name__}.{_module.name}")

__all__ = ["TASKS", "InputPulses", "StaticInputs", "Task", "TrialBatch"]
