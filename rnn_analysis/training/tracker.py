"""Status, training curve and stop criterion of every network of an ensemble.

Every learning rule drives one :class:`EnsembleTracker`: it records each update's loss,
validates on the shared schedule (``training.stopping``), stops networks that converge or
diverge, records the neural features of :mod:`rnn_analysis.training.features` (at update
0, every ``features_every`` updates and at each network's final update, through the
:attr:`EnsembleTracker.measure` callback the rule sets), and turns the whole history into
one :class:`NetworkResult` per network.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import xarray as xr

from rnn_analysis.training.features import DESCRIPTIONS, FEATURES
from rnn_analysis.training.progress import Progress
from rnn_analysis.training.rule import (
    CONVERGED,
    DIVERGED,
    NOT_CONVERGED,
    TRIVIAL,
    NetworkResult,
)
from rnn_analysis.training.stopping import StopCriterion, StoppingParams
from rnn_analysis.training.trials import Validation


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
        self.val_losses: list[np.ndarray] = []
        self.criterion = StopCriterion(n_networks, threshold, stopping)
        #: Update at which each network first met the criterion (-1: not yet).
        self.met_at = np.full(n_networks, -1, dtype=np.int64)
        self.untrained_score = np.full(n_networks, np.nan)
        self.untrained_loss = np.full(n_networks, np.nan)
        #: Networks whose untrained validation already met the criterion.
        self.trivial = np.zeros(n_networks, dtype=bool)
        self.progress = Progress(budget, log)
        self.last_iteration = 0
        #: Called with the index of each network as it stops (e.g. to freeze its weights).
        self.on_stop: Callable[[int], None] = lambda i: None
        #: Returns the neural features [E, F] of the ensemble as it is now (None: not
        #: recorded); a rule sets it, e.g. through ``TrainingContext.record_features``, to
        #: :func:`~rnn_analysis.training.features.neural_features` of its model on the
        #: task's probe trials.
        self.measure: Callable[[], np.ndarray | xr.DataArray] | None = None
        self.feature_iterations: list[int] = []
        self.features: list[np.ndarray] = []

    # -- per update ---------------------------------------------------------------
    def record_features(self, iteration: int) -> None:
        """Store the neural features of the active networks at ``iteration`` (NaN for the
        networks that have stopped)."""
        if self.measure is None:
            return
        values = np.asarray(self.measure(), dtype=float)
        self.feature_iterations.append(iteration)
        self.features.append(np.where(self.active[:, None], values, np.nan))

    def after_update(self, iteration: int) -> None:
        """Call once update ``iteration``'s weights are in the model (frozen networks
        restored): records the neural features every ``features_every`` updates."""
        every = self.stopping.features_every
        if every and iteration % every == 0:
            self.record_features(iteration)

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

    def baseline(self, validate: Callable[[], Validation | np.ndarray]) -> None:
        """Validate the untrained ensemble (update 0), when ``check_untrained`` is set.

        ``validate`` is called once; its scores and losses start the training curves, and
        a network whose untrained validation already meets the criterion is flagged
        trivial. A rule calls this after its own initialisation, before its first update,
        and not when it resumes from a checkpoint.
        """
        self.record_features(0)
        if not self.stopping.check_untrained:
            return
        scores, losses = _unpack(validate(), self.n)
        self.val_iterations.append(0)
        self.val_scores.append(scores.copy())
        self.val_losses.append(losses.copy())
        self.untrained_score = scores.copy()
        self.untrained_loss = losses.copy()
        self.diverge(0, np.isfinite(scores), "validation score of the untrained network")
        for i in range(self.n):
            self.trivial[i] = bool(np.isfinite(scores[i])) and self.criterion.untrained(
                float(scores[i]), float(losses[i])
            )
        if self.trivial.any():
            self.progress.log(
                f"{int(self.trivial.sum())}/{self.n} network(s) meet the criterion before "
                f"training (untrained scores {np.round(scores[self.trivial], 3).tolist()}): "
                "flagged trivial"
            )

    def validate(
        self, iteration: int, validation: Validation | np.ndarray, **progress: object
    ) -> np.ndarray:
        """Record a validation [E] of the active networks; stop those that are trained.

        A non-finite score means a diverged network. A network that meets the criterion
        for the first time trains on for the extra updates of ``training.stopping``; it
        stops as converged at the first validation after them (and after
        ``min_updates``) at which the criterion holds. Returns the networks that stopped
        as converged.
        """
        scores, losses = _unpack(validation, self.n)
        validated = self.active.copy()
        self.val_iterations.append(iteration)
        self.val_scores.append(np.where(validated, scores, np.nan))
        self.val_losses.append(np.where(validated, losses, np.nan))
        self.diverge(iteration, np.isfinite(scores) | ~validated, "validation score")
        meets = self.criterion.update(scores, self.active, losses)
        converged = np.zeros(self.n, dtype=bool)
        for i in np.flatnonzero(meets):
            if self.met_at[i] < 0:
                self.met_at[i] = iteration
            extra = self.stopping.extra(int(self.met_at[i]))
            if iteration < max(self.stopping.min_updates, self.met_at[i] + extra):
                continue
            converged[i] = True
            reason = self.stopping.describe(self.threshold)
            if extra:
                reason += (
                    f" (first met at {self.unit} {self.met_at[i]}, then trained on for "
                    f"{iteration - self.met_at[i]} more)"
                )
            self.stop(i, iteration, CONVERGED, reason)
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
            "val_losses": [s.copy() for s in self.val_losses],
            "history": [list(h) for h in self.criterion.history],
            "loss_history": [list(h) for h in self.criterion.loss_history],
            "met_at": self.met_at.copy(),
            "untrained_score": self.untrained_score.copy(),
            "untrained_loss": self.untrained_loss.copy(),
            "trivial": self.trivial.copy(),
            "last_iteration": self.last_iteration,
            "feature_iterations": list(self.feature_iterations),
            "features": [f.copy() for f in self.features],
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
        self.val_losses = [np.asarray(s, dtype=float) for s in state["val_losses"]]
        self.criterion.history = [list(h) for h in state["history"]]
        self.criterion.loss_history = [list(h) for h in state["loss_history"]]
        self.met_at = np.asarray(state["met_at"], dtype=np.int64).copy()
        self.untrained_score = np.asarray(state["untrained_score"], dtype=float).copy()
        self.untrained_loss = np.asarray(state["untrained_loss"], dtype=float).copy()
        self.trivial = np.asarray(state["trivial"], dtype=bool).copy()
        self.last_iteration = int(state["last_iteration"])
        self.feature_iterations = list(state.get("feature_iterations", []))
        self.features = [np.asarray(f, dtype=float) for f in state.get("features", [])]
        if any(f.shape != (self.n, len(FEATURES)) for f in self.features):
            # a checkpoint written with other features: their record is not continued
            self.feature_iterations, self.features = [], []

    def restart(self, index: int) -> None:
        """Forget a network's validation history (its training starts over)."""
        self.criterion.history[index] = []
        self.criterion.loss_history[index] = []
        self.met_at[index] = -1

    # -- at the end -----------------------------------------------------------------
    def results(self, extra: list[dict] | None = None) -> list[NetworkResult]:
        """One result per network, its curve cut where it stopped.

        A network flagged trivial (:meth:`baseline`) gets status ``trivial`` unless it
        diverged; every result's ``extra`` holds the update at which the criterion was
        first met and the untrained validation score and loss. Where a rule set
        :attr:`measure`, the neural features are measured once more, at the end: a
        stopped network's weights stay those of its last update, so this is every
        network's row at its final update.
        """
        self.progress.done(self.last_iteration)
        final = None if self.measure is None else np.asarray(self.measure(), dtype=float)
        out = []
        for i in range(self.n):
            end = int(min(self.stopped_at[i], self.last_iteration))
            status, reason = self.status[i], self.reasons[i]
            if status == NOT_CONVERGED and self.met_at[i] >= 0:
                reason += (
                    f" during the extra {self.unit}s after the criterion was first met at "
                    f"{self.unit} {self.met_at[i]}"
                )
            if self.trivial[i] and status in (CONVERGED, NOT_CONVERGED):
                reason = (
                    f"met the criterion before training (untrained validation score "
                    f"{self.untrained_score[i]:.4g}, loss {self.untrained_loss[i]:.4g}); "
                    f"training then ended {status}: {reason}"
                )
                status = TRIVIAL
            info = {
                "criterion_met_at": int(self.met_at[i]) if self.met_at[i] >= 0 else None,
                "untrained_validation_score": _optional(self.untrained_score[i]),
                "untrained_validation_loss": _optional(self.untrained_loss[i]),
            }
            curve = self._curve(i, end)
            features = self._feature_record(i, end, None if final is None else final[i])
            if features is not None:
                curve = curve.merge(features)
            out.append(
                NetworkResult(
                    status=status,
                    iterations=end,
                    curve=curve,
                    reason=reason,
                    extra={**info, **(dict(extra[i]) if extra else {})},
                )
            )
        return out

    def _curve(self, index: int, end: int) -> xr.Dataset:
        scores = np.array([s[index] for s in self.val_scores], dtype=float)
        losses = np.array([s[index] for s in self.val_losses], dtype=float)
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
                "validation_loss": (
                    "validation",
                    losses[keep],
                    {"long_name": "validation loss (masked MSE)", "units": "1"},
                ),
            },
            coords={
                "iteration": ("iteration", np.arange(1, end + 1), {"long_name": self.unit}),
                "validation_iteration": (
                    "validation",
                    iters[keep],
                    {"long_name": f"{self.unit} (0: the untrained network)"},
                ),
            },
            attrs={"unit": self.unit},
        )

    def _feature_record(self, index: int, end: int, final: np.ndarray | None) -> xr.Dataset | None:
        """Network ``index``'s neural features along ``feature_update``: the updates up to
        its final one ``end``, where ``final`` (if given) replaces the row at ``end``."""
        updates = np.array(self.feature_iterations, dtype=np.int64)
        values = (
            np.stack([f[index] for f in self.features])
            if self.features
            else np.empty((0, len(FEATURES)))
        )
        keep = updates < end if final is not None else updates <= end
        updates, values = updates[keep], values[keep]
        if final is not None:
            updates = np.append(updates, end)
            values = np.concatenate([values, final[None]])
        if len(updates) == 0:
            return None
        return xr.Dataset(
            {
                "neural_features": (
                    ("feature_update", "neural_feature"),
                    values,
                    {
                        "long_name": "neural features during training (see neural_feature)",
                        "descriptions": "; ".join(f"{k}: {v}" for k, v in DESCRIPTIONS.items()),
                        "features_every": self.stopping.features_every,
                    },
                ),
            },
            coords={
                "feature_update": (
                    "feature_update",
                    updates,
                    {
                        "long_name": f"{self.unit} (0: at initialisation; the last: the "
                        f"network's final {self.unit})"
                    },
                ),
                "neural_feature": ("neural_feature", list(FEATURES)),
            },
        )


def _unpack(validation: Validation | np.ndarray, n: int) -> tuple[np.ndarray, np.ndarray]:
    """Scores and losses [E] of a validation (losses NaN when only scores are given)."""
    if isinstance(validation, Validation):
        return (
            np.asarray(validation.scores, dtype=float),
            np.asarray(validation.losses, dtype=float),
        )
    return np.asarray(validation, dtype=float), np.full(n, np.nan)


def _optional(value: float) -> float | None:
    return float(value) if np.isfinite(value) else None
