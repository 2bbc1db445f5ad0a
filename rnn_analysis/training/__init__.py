"""Learning rules, the shared stop criterion, and per-network training outputs.

Every learning-rule module of this package registers its rule in
:data:`LEARNING_RULES` when imported; all of them are imported here, so adding a rule
is adding a module.
"""

import importlib
import pkgutil

from rnn_analysis.training.rule import LEARNING_RULES, LearningRule, NetworkResult

_INFRASTRUCTURE = {"progress", "rule", "run", "stopping", "tracker", "trials"}
for _module in pkgutil.iter_modules(__path__):
    if _module.name not in _INFRASTRUCTURE:
        importlib.import_module(f"{__name__}.{_module.name}")

__all__ = ["LEARNING_RULES", "LearningRule", "NetworkResult"]
