"""The learning-rule concept and its registry."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, ClassVar

import torch
import xarray as xr

from rnn_analysis.architectures.base import Architecture
from rnn_analysis.hyperparameters import Hyperparameters
from rnn_analysis.registry import Registry
from rnn_analysis.tasks.base import Task, TrialBatch
from rnn_analysis.training.checkpoint import Checkpointer, generator_states, set_generator_states
from rnn_analysis.training.stopping import StoppingParams

CONVERGED = "converged"
NOT_CONVERGED = "not_converged"
DIVERGED = "diverged"
#: The untrained network already met the stop criterion: it proves nothing about what
#: training does and stays out of comparisons by default.
TRIVIAL = "trivial"
#: Training raised an error; the traceback is in the job's log.
FAILED = "failed"
STATUSES = (CONVERGED, NOT_CONVERGED, DIVERGED, TRIVIAL, FAILED)


@dataclass
class NetworkResult:
    """How the training of one network of an ensemble ended.

    Attributes
    ----------
    status : "converged", "not_converged", "diverged", "trivial" or "failed"
    iterations : updates applied to this network
    curve : training curve, a dataset along ``iteration`` and ``validation``
    reason : one line saying why training stopped
    """

    status: str
    iterations: int
    curve: xr.Dataset
    reason: str = ""
    extra: dict = field(default_factory=dict)


@dataclass
class TrainingContext:
    """Everything a rule needs besides its own hyperparameters."""

    task: Task
    noise: float
    stopping: StoppingParams
    trial_generators: Sequence[torch.Generator]
    validation_generators: Sequence[torch.Generator]
    device: torch.device
    log: Callable[[str], None] = print
    #: One generator per network for the rule's own randomness (mutations, perturbations,
    #: teacher networks), so that a network draws the same numbers alone or in an ensemble.
    rule_generators: Sequence[torch.Generator] = ()
    #: Where a rule that supports it saves and finds its checkpoint; None: no checkpoints.
    checkpoint: Checkpointer | None = None

    def generator_states(self) -> dict[str, list[torch.Tensor]]:
        """States of the per-update random streams (trials and the rule's own)."""
        return {
            "trials": generator_states(self.trial_generators),
            "rule": generator_states(self.rule_generators),
        }

    def set_generator_states(self, states: Mapping[str, Sequence[torch.Tensor]]) -> None:
        set_generator_states(self.trial_generators, states["trials"])
        set_generator_states(self.rule_generators, states["rule"])

    @property
    def threshold(self) -> float:
        """The validation score to reach: ``stopping.threshold``, or the task's own."""
        if self.stopping.threshold >= 0:
            return self.stopping.threshold
        return self.task.success_threshold

    def validation_batch(self) -> TrialBatch:
        """Each network's fixed validation set, stacked: [E, trials, ...]."""
        from rnn_analysis.training.trials import stack_trials

        return stack_trials(
            self.task,
            self.stopping.validation_trials,
            self.validation_generators,
            self.noise,
            self.device,
        )

    def record_features(self, tracker: Any, model: Architecture) -> None:
        """Have ``tracker`` record the neural features of ``model`` on the task's probe
        trials (:mod:`rnn_analysis.training.features`) as ``training.stopping`` asks."""
        from rnn_analysis.training.features import neural_features

        probe = self.task.probe_set()
        tracker.measure = lambda: neural_features(model, probe)


class LearningRule:
    """Base class of every learning rule.

    Subclasses set ``name``, a ``Params`` dataclass (every hyperparameter with its
    default), optionally ``architectures`` (the architectures the rule can train;
    ``None`` means all), and implement :meth:`train`, which trains every network of
    the ensemble ``model`` in place and returns one :class:`NetworkResult` per network.
    """

    name: ClassVar[str]
    Params: ClassVar[type[Hyperparameters]]
    architectures: ClassVar[tuple[str, ...] | None] = None
    #: Whether :meth:`train` saves and resumes ``context.checkpoint``.
    checkpoints: ClassVar[bool] = False

    def __init__(self, params: Hyperparameters) -> None:
        self.params = params

    @classmethod
    def supports(cls, architecture: str) -> bool:
        return cls.architectures is None or architecture in cls.architectures

    def train(self, model: Architecture, context: TrainingContext) -> list[NetworkResult]:
        raise NotImplementedError


LEARNING_RULES: Registry[type[LearningRule]] = Registry("learning rule")
