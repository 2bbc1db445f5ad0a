"""The stop criterion every learning rule shares.

A network is *trained* when it has solved its task the way the studies required, not at
the first validation that crosses a loose threshold. :class:`StoppingParams` combines:

- the accuracy criterion of the learning-rules study: the minimum of the last ``window``
  validation scores at or above a threshold (the task's success threshold by default);
- optionally a loss criterion: the mean validation loss over the same window at or below
  ``loss_threshold``, and/or a loss plateau (the validation loss no longer falls);
- optionally training continued past the first time the criterion held
  (``extra_updates`` / ``extra_fraction``), so that a solution that only just crosses the
  threshold (e.g. a pair of attractors that commits early, where the task wants an
  integrator) is trained on before the network is analysed;
- a check of the untrained network: one that already meets the criterion before any
  update is flagged ``trivial`` (it proves nothing about learning) and kept out of the
  comparisons by default.

Each task gives its own defaults for these (``Task.stopping_defaults``, documented in
the task's module); ``training.stopping`` in the config overrides them for every task
and ``training.stopping_by_task.<task>`` for one task.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

from rnn_analysis.hyperparameters import Hyperparameters, from_mapping


@dataclass(frozen=True)
class StoppingParams(Hyperparameters):
    """When training stops; shared by every learning rule.

    A network meets the criterion once the minimum of its last ``window`` validation
    scores is at or above ``threshold`` and, where set, the loss criteria hold too; it
    then trains on for the extra updates and stops, ``converged``, at the first
    validation after them at which the criterion still holds. Otherwise the rule's
    budget ends training with status ``not_converged``.

    Attributes
    ----------
    validate_every : int, default 50
        Updates between two validations.
    validation_trials : int, default 2000
        Noisy trials per validation (a fixed set per network).
    window : int, default 10
        Number of consecutive validation scores that must all pass (the learning-rules
        study: the last 10 accuracies ≥ 0.9 on 2000 noisy trials).
    threshold : float, default -1.0
        Score to reach; a negative value means the task's own success threshold.
    loss_threshold : float, default 0.0
        When > 0, the mean validation loss (the rule-independent masked MSE of the task)
        over the last ``window`` validations must also be at or below this value.
        0 disables the loss criterion.
    plateau_window : int, default 0
        When > 0, the validation loss must also have stopped falling: the lowest loss of
        the last ``plateau_window`` validations is no more than ``plateau_tolerance``
        (relative) below the lowest loss before them. 0 disables it.
    plateau_tolerance : float, default 0.02
        See plateau_window.
    extra_updates : int, default 0
        Updates trained on after the criterion first held, before the network may stop
        as converged.
    extra_fraction : float, default 0.0
        Also train on for this fraction of the updates it took to first meet the
        criterion; the larger of the two counts applies.
    min_updates : int, default 0
        No network stops as converged before this many updates.
    check_untrained : bool, default True
        Validate each network before its first update; a network whose untrained scores
        already meet the criterion ends with status ``trivial`` (whatever training did
        afterwards), with its untrained score in ``meta.json``.
    features_every : int, default 50
        Updates between two recordings of the neural features of
        :mod:`rnn_analysis.training.features` (into ``training.nc``, along
        ``feature_update``). They are always recorded at update 0 (initialisation) and
        at each network's final update; 0 records only those two. For 32-unit GRUs
        trained by BPTT on delayed discrimination (one thread), a recording costs about
        0.1 update at 500 trials per batch and about 1 update at 64, so recording every
        50 updates adds about 0.2% (500 trials) to 2% (64 trials) to training time.
    """

    validate_every: int = 50
    validation_trials: int = 2000
    window: int = 10
    threshold: float = -1.0
    loss_threshold: float = 0.0
    plateau_window: int = 0
    plateau_tolerance: float = 0.02
    extra_updates: int = 0
    extra_fraction: float = 0.0
    min_updates: int = 0
    check_untrained: bool = True
    features_every: int = 50

    def __post_init__(self) -> None:
        for key in ("validate_every", "validation_trials", "window"):
            if getattr(self, key) < 1:
                raise ValueError(f"{key} must be >= 1, got {getattr(self, key)}")
        for key in ("min_updates", "extra_updates", "plateau_window", "features_every"):
            if getattr(self, key) < 0:
                raise ValueError(f"{key} must be >= 0, got {getattr(self, key)}")
        for key in ("loss_threshold", "extra_fraction", "plateau_tolerance"):
            value = getattr(self, key)
            if not (math.isfinite(value) and value >= 0):
                raise ValueError(f"{key} must be a finite number >= 0, got {value}")

    def extra(self, met_at: int) -> int:
        """Updates to train on after the criterion first held at update ``met_at``."""
        return max(self.extra_updates, math.ceil(self.extra_fraction * met_at))

    def describe(self, threshold: float) -> str:
        """The criterion in words, for reasons and logs."""
        parts = [f"min of last {self.window} validation scores >= {threshold:g}"]
        if self.loss_threshold > 0:
            parts.append(f"their mean validation loss <= {self.loss_threshold:g}")
        if self.plateau_window > 0:
            parts.append(
                f"validation loss flat (< {self.plateau_tolerance:g} lower) over the last "
                f"{self.plateau_window} validations"
            )
        return ", ".join(parts)


def resolve_stopping(
    task_defaults: Mapping[str, Any],
    shared: Mapping[str, Any] | None,
    per_task: Mapping[str, Any] | None,
    where: str,
) -> StoppingParams:
    """The stop criterion of one task: the dataclass defaults, overridden by the task's
    own defaults, then by ``training.stopping``, then by ``training.stopping_by_task``."""
    values = {**dict(task_defaults), **dict(shared or {}), **dict(per_task or {})}
    return from_mapping(StoppingParams, values, where)


class StopCriterion:
    """Validation history of an ensemble and whether each network meets the criterion.

    Parameters
    ----------
    n_networks : networks in the ensemble
    threshold : validation score to reach
    params : the criterion's window and loss conditions
    """

    def __init__(self, n_networks: int, threshold: float, params: StoppingParams) -> None:
        self.threshold = threshold
        self.params = params
        self.history: list[list[float]] = [[] for _ in range(n_networks)]
        self.loss_history: list[list[float]] = [[] for _ in range(n_networks)]

    def holds(self, scores: list[float], losses: list[float]) -> bool:
        """Whether a validation history (oldest first) meets the criterion now."""
        p = self.params
        recent = scores[-p.window :]
        if len(recent) < p.window or min(recent) < self.threshold:
            return False
        if p.loss_threshold > 0:
            recent_loss = losses[-p.window :]
            if len(recent_loss) < p.window or not np.mean(recent_loss) <= p.loss_threshold:
                return False
        if p.plateau_window > 0:
            if len(losses) <= p.plateau_window:
                return False
            before = min(losses[: -p.plateau_window])
            latest = min(losses[-p.plateau_window :])
            if latest < (1.0 - p.plateau_tolerance) * before:
                return False
        return True

    def untrained(self, score: float, loss: float) -> bool:
        """Whether an untrained network's one validation meets the criterion: the window
        would hold the same score and loss every time (so a plateau holds trivially)."""
        p = self.params
        return self.holds([score] * p.window, [loss] * max(p.window, p.plateau_window + 1))

    def update(
        self, scores: np.ndarray, active: np.ndarray, losses: np.ndarray | None = None
    ) -> np.ndarray:
        """Record the ``active`` networks' validation; return which meet the criterion now."""
        if losses is None:
            losses = np.full(len(self.history), np.nan)
        meets = np.zeros(len(self.history), dtype=bool)
        for i, is_active in enumerate(active):
            if not is_active:
                continue
            self.history[i].append(float(scores[i]))
            self.loss_history[i].append(float(losses[i]))
            meets[i] = self.holds(self.history[i], self.loss_history[i])
        return meets
