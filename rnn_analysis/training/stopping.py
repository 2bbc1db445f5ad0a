"""The stop criterion every learning rule shares."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from rnn_analysis.hyperparameters import Hyperparameters


@dataclass(frozen=True)
class StoppingParams(Hyperparameters):
    """When training stops; shared by every learning rule.

    A network converges once the minimum of its last ``window`` validation scores is
    at or above the task's success threshold (the learning-rules study: the last 10
    validation accuracies on 2000 noisy trials all ≥ 0.9). Otherwise the rule's
    budget ends training with status ``not_converged``.

    Attributes
    ----------
    validate_every : int, default 50
        Updates between two validations.
    validation_trials : int, default 2000
        Noisy trials per validation (a fixed set per network).
    window : int, default 10
        Number of consecutive validation scores that must all pass.
    threshold : float, default -1.0
        Score to reach; a negative value means the task's own success threshold.
    min_updates : int, default 0
        No network stops as converged before this many updates. On ``rdm`` about half
        of all untrained networks already report the sign of the evidence (the other
        half its opposite), so without a minimum they pass the criterion at the first
        validations with their initial dynamics.
    """

    validate_every: int = 50
    validation_trials: int = 2000
    window: int = 10
    threshold: float = -1.0
    min_updates: int = 0

    def __post_init__(self) -> None:
        if self.min_updates < 0:
            raise ValueError(f"min_updates must be >= 0, got {self.min_updates}")
        for key in ("validate_every", "validation_trials", "window"):
            if getattr(self, key) < 1:
                raise ValueError(f"{key} must be >= 1, got {getattr(self, key)}")


class StopCriterion:
    """Tracks validation scores of an ensemble and says which networks have converged."""

    def __init__(self, n_networks: int, threshold: float, window: int) -> None:
        self.threshold = threshold
        self.window = window
        self.history: list[list[float]] = [[] for _ in range(n_networks)]

    def update(self, scores: np.ndarray, active: np.ndarray) -> np.ndarray:
        """Record ``scores`` of the ``active`` networks; return which have now converged."""
        converged = np.zeros(len(self.history), dtype=bool)
        for i, (score, is_active) in enumerate(zip(scores, active, strict=True)):
            if not is_active:
                continue
            self.history[i].append(float(score))
            recent = self.history[i][-self.window :]
            converged[i] = len(recent) == self.window and min(recent) >= self.threshold
        return converged
