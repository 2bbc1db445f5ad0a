"""Hyperparameters of the per-network analysis, in one place."""

from __future__ import annotations

from dataclasses import dataclass, field

from rnn_analysis.analysis.fixed_points import FixedPointParams
from rnn_analysis.analysis.topology import TopologyParams
from rnn_analysis.hyperparameters import Hyperparameters


@dataclass(frozen=True)
class AnalysisParams(Hyperparameters):
    """Options of the ``analyze`` step.

    Attributes
    ----------
    evaluation_trials : int, default 2000
        Fresh trials for the noisy and the noise-free evaluation.
    psychometric_repeats : int, default 200
        Noisy repeats (at the network's input noise) of every condition of a decision
        task's psychometric set.
    fixed_points : FixedPointParams
        The fixed-point finder's hyperparameters (see its docstring for defaults).
    topology : TopologyParams
        The topology graph's hyperparameters (see its docstring for defaults).
    """

    evaluation_trials: int = 2000
    psychometric_repeats: int = 200
    fixed_points: FixedPointParams = field(default_factory=FixedPointParams)
    topology: TopologyParams = field(default_factory=TopologyParams)

    def __post_init__(self) -> None:
        if self.evaluation_trials < 1:
            raise ValueError(f"evaluation_trials must be >= 1, got {self.evaluation_trials}")
        if self.psychometric_repeats < 1:
            raise ValueError(f"psychometric_repeats must be >= 1, got {self.psychometric_repeats}")
