"""Status, training curve and stop criterion of every network of an ensemble.

Every learning rule drives one :class:`EnsembleTracker`: it records each update's loss,
validates on the shared schedule (``training.stopping``), stops networks that converge or
diverge, and turns the whole history into one :class:`NetworkResult` per network.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import xarray as xr

from rnn_analysis.training.progress import Progress
from rnn_analysis.training.rule import (
    CONVERGED,
    DIVERGED,
    NOT_CONVERGED,
    NetworkResult,
)
from rnn_analysis.training.stopping import StopCriterion, StoppingParams


class EnsembleTracker:
    """Bookkeeping of an ensemble's training, shared by every learning rule.

    Parameters
    ----------
    n_networks : networks in the ensemble
    budget : the most updates any network gets (iterations, generations or trials)
    threshold : validation score to reach
    stopping : validation schedule and window
    log : where progress lines go
    unit : what one update is called in reasons, curves and progress lines
    loss_name : long name of the recorded loss
    """

    def __init__(
        self,
        n_networks: int,
        budget: int,
        threshold: float,
        stopping: StoppingParams,
        log: Callable[[str], None],
        unit: str = "iteration",
        loss_name: str = "training loss (masked MSE)",
    ) -> None:
        self.n = n_networks
        self.budget = budget
        self.threshold = threshold
        self.stopping = stopping
        self.unit = unit
        self.loss_name = loss_name
        self.active = np.ones(n_networks, dtype=bool)
        self.status = [NOT_CONVERGED] * n_networks
        self.reasons = [f"budget of {budget} {unit}s reached"] * n_networks
        self.stopped_at = np.full(n_networks, budget)
        self.losses = np.full((budget, n_networks), np.nan)
        self.val_iterations: list[int] = []
        self.val_scores: list[np.ndarray] = []
        self.criterion = StopCriterion(n_networks, threshold, stopping.window)
        self.progress = Progress(budget, log)
        self.last_iteration = 0
        #: Called with the index of each network as it stops (e.g. to freeze its weights).
        self.on_stop: Callable[[int], None] = lambda i: None

    # -- per update ---------------------------------------------------------------
    def record_loss(self, iteration: int, losses: np.ndarray) -> None:
        """Store this update's loss of every active network (1-based ``iteration``)."""
        self.last_iteration = iteration
        self.losses[iteration - 1, self.active] = np.asarray(losses, dtype=float)[self.active]

    def stop(self, index: int, iteration: int, status: str, reason: str) -> None:
        """End training of one network with ``status``."""
        if not self.active[index]:
            return
        self.active[index] = False
        self.status[index] = status
        self.reasons[index] = reason
        self.stopped_at[index] = iteration
        self.on_stop(index)

    def diverge(self, iteration: int, finite: np.ndarray, what: str) -> np.ndarray:
        """Stop the active networks whose ``finite`` flag is false as diverged; return them."""
        newly = self.active & ~np.asarray(finite, dtype=bool)
        for i in np.flatnonzero(newly):
            self.stop(i, iteration, DIVERGED, f"non-finite {what} at {self.unit} {iteration}")
        return newly

    def validation_due(self, iteration: int) -> bool:
        return iteration % self.stopping.validate_every == 0

    def validate(self, iteration: int, scores: np.ndarray, **progress: object) -> np.ndarray:
        """Record validation ``scores`` [E] of the active networks; stop those that converged.

        A non-finite score means a diverged network. Returns the networks that converged.
        """
        scores = np.asarray(scores, dtype=float)
        validated = self.active.copy()
        self.val_iterations.append(iteration)
        self.val_scores.append(np.where(validated, scores, np.nan))
        self.diverge(iteration, np.isfinite(scores) | ~validated, "validation score")
        converged = self.criterion.update(scores, self.active)
        if iteration < self.stopping.min_updates:
            converged[:] = False
        for i in np.flatnonzero(converged):
            self.stop(
                i,
                iteration,
                CONVERGED,
                f"min of last {self.stopping.window} validation scores >= {self.threshold:g}",
            )
        recent = self.losses[max(iteration - self.stopping.validate_every, 0) : iteration]
        recent = recent[:, validated] if validated.any() else recent[:, :0]
        self.progress.update(
            iteration,
            loss=float(np.nanmean(recent)) if np.isfinite(recent).any() else np.nan,
            score=float(np.nanmean(scores[validated])) if validated.any() else np.nan,
            active=f"{int(self.active.sum())}/{self.n}",
            **progress,
        )
        return converged

    def state_dict(self) -> dict:
        """Everything needed to continue tracking after a restart (see ``checkpoint``)."""
        return {
            "active": self.active.copy(),
            "status": list(self.status),
            "reasons": list(self.reasons),
            "stopped_at": self.stopped_at.copy(),
            "losses": self.losses.copy(),
            "val_iterations": list(self.val_iterations),
            "val_scores": [s.copy() for s in self.val_scores],
            "history": [list(h) for h in self.criterion.history],
            "last_iteration": self.last_iteration,
        }

    def load_state_dict(self, state: dict) -> None:
        """Continue from :meth:`state_dict` (``on_stop`` is not called again)."""
        self.active = np.asarray(state["active"], dtype=bool).copy()
        self.status = list(state["status"])
        self.reasons = list(state["reasons"])
        self.stopped_at = np.asarray(state["stopped_at"]).copy()
        self.losses = np.asarray(state["losses"], dtype=float).copy()
        self.val_iterations = list(state["val_iterations"])
        self.val_scores = [np.asarray(s, dtype=float) for s in state["val_scores"]]
        self.criterion.history = [list(h) for h in state["history"]]
        self.last_iteration = int(state["last_iteration"])

    def restart(self, index: int) -> None:
        """Forget a network's validation history (its training starts over)."""
        self.criterion.history[index] = []

    # -- at the end -----------------------------------------------------------------
    def results(self, extra: list[dict] | None = None) -> list[NetworkResult]:
        """One result per network, its curve cut where it stopped."""
        self.progress.done(self.last_iteration)
        out = []
        for i in range(self.n):
            end = int(min(self.stopped_at[i], self.last_iteration))
            out.append(
                NetworkResult(
                    status=self.status[i],
                    iterations=end,
                    curve=self._curve(i, end),
                    reason=self.reasons[i],
                    extra=dict(extra[i]) if extra else {},
                )
            )
        return out

    def _curve(self, index: int, end: int) -> xr.Dataset:
        scores = np.array([s[index] for s in self.val_scores], dtype=float)
        iters = np.array(self.val_iterations, dtype=np.int64)
        keep = np.isfinite(scores) & (iters <= end)
        return xr.Dataset(
            {
                "loss": ("iteration", self.losses[:end, index], {"long_name": self.loss_name}),
                "validation_score": (
                    "validation",
                    scores[keep],
                    {"long_name": "validation performance", "units": "1"},
                ),
            },
            coords={
                "iteration": ("iteration", np.arange(1, end + 1), {"long_name": self.unit}),
                "validation_iteration": ("validation", iters[keep], {"long_name": self.unit}),
            },
            attrs={"unit": self.unit},
        )
