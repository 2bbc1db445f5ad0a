"""Backpropagation through time with Adam, per-network gradient clipping and optional L2."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import numpy as np
import torch
import xarray as xr

from rnn_analysis.architectures.base import Architecture
from rnn_analysis.hyperparameters import Hyperparameters
from rnn_analysis.tasks.base import Task, TrialBatch
from rnn_analysis.training.progress import Progress
from rnn_analysis.training.rule import (
    CONVERGED,
    DIVERGED,
    LEARNING_RULES,
    NOT_CONVERGED,
    LearningRule,
    NetworkResult,
    TrainingContext,
)
from rnn_analysis.training.stopping import StopCriterion


@dataclass(frozen=True)
class BPTTParams(Hyperparameters):
    """BPTT hyperparameters; defaults are the learning-rules study's.

    Attributes
    ----------
    learning_rate : float, default 5e-4
        Adam step size (the study used 1e-4 for the multisensory task).
    batch_size : int, default 500
        Trials per update.
    max_iterations : int, default 20000
        Budget of updates; a network that has not converged by then is ``not_converged``.
    clip_norm : float, default 1.0
        Each network's gradient is rescaled to at most this global norm; 0 disables.
    weight_decay : float, default 0.0
        Coefficient of an L2 penalty ½·λ·‖θ‖² on the trained weights.
    trained_weights : {"all", "recurrent"}, default "all"
        Train every parameter, or only the recurrent matrix (as the learning-rules
        study did); untrained parameters keep their initial values.
    """

    learning_rate: float = 5e-4
    batch_size: int = 500
    max_iterations: int = 20000
    clip_norm: float = 1.0
    weight_decay: float = 0.0
    trained_weights: Literal["all", "recurrent"] = "all"

    def __post_init__(self) -> None:
        if self.learning_rate <= 0:
            raise ValueError(f"learning_rate must be > 0, got {self.learning_rate}")
        if self.batch_size < 1 or self.max_iterations < 1:
            raise ValueError("batch_size and max_iterations must be >= 1")
        if self.clip_norm < 0 or self.weight_decay < 0:
            raise ValueError("clip_norm and weight_decay must be >= 0")


def stack_trials(
    task: Task, batch_size: int, generators, noise: float, device: torch.device
) -> TrialBatch:
    """One batch per network, stacked on a leading ensemble dimension."""
    batches = [task.generate(batch_size, g, noise) for g in generators]
    return TrialBatch(
        inputs=torch.stack([b.inputs for b in batches]).to(device),
        targets=torch.stack([b.targets for b in batches]).to(device),
        mask=torch.stack([b.mask for b in batches]).to(device),
    )


def masked_mse(outputs: torch.Tensor, batch: TrialBatch) -> torch.Tensor:
    """Per-network mean squared error over the masked steps: [E]."""
    mask = batch.mask.unsqueeze(-1)
    err = ((outputs - batch.targets) ** 2 * mask).sum(dim=(1, 2, 3))
    return err / (mask.sum(dim=(1, 2, 3)) * outputs.shape[-1]).clamp(min=1)


def validate(model: Architecture, task: Task, batch: TrialBatch) -> np.ndarray:
    """Mean task performance of each network on its validation set: [E]."""
    with torch.no_grad():
        _, outputs = model(batch.inputs)
        trials = TrialBatch(batch.inputs, batch.targets, batch.mask)
        return task.score(outputs, trials).mean(dim=-1).cpu().double().numpy()


@LEARNING_RULES.register("bptt")
class BPTT(LearningRule):
    """Gradient descent through time with Adam, trained for all networks of an ensemble at once.

    The loss is the sum of the networks' own losses, gradients are clipped network by
    network, and a network that converges or diverges is frozen, so every network
    follows the same path it would follow if trained alone.
    """

    name = "bptt"
    Params = BPTTParams
    params: BPTTParams

    def trained_parameters(self, model: Architecture) -> list[torch.nn.Parameter]:
        names = (
            [n for n, _ in model.named_parameters()]
            if self.params.trained_weights == "all"
            else list(model.recurrent_parameters)
        )
        chosen = []
        for name, p in model.named_parameters():
            p.requires_grad_(name in names)
            if name in names:
                chosen.append(p)
        return chosen

    def train(self, model: Architecture, context: TrainingContext) -> list[NetworkResult]:
        hp, task, stopping = self.params, context.task, context.stopping
        n = model.n_networks
        model.to(context.device)
        params = self.trained_parameters(model)
        optimizer = torch.optim.Adam(params, lr=hp.learning_rate)
        threshold = stopping.threshold if stopping.threshold >= 0 else task.success_threshold
        criterion = StopCriterion(n, threshold, stopping.window)
        validation = stack_trials(
            task,
            stopping.validation_trials,
            context.validation_generators,
            context.noise,
            context.device,
        )

        active = np.ones(n, dtype=bool)
        status = [NOT_CONVERGED] * n
        reasons = [f"budget of {hp.max_iterations} iterations reached"] * n
        stopped_at = np.full(n, hp.max_iterations)
        frozen: dict[int, list[torch.Tensor]] = {}
        losses = np.full((hp.max_iterations, n), np.nan)
        val_iterations: list[int] = []
        val_scores: list[np.ndarray] = []
        progress = Progress(hp.max_iterations, context.log)

        def freeze(i: int, iteration: int, new_status: str, reason: str) -> None:
            active[i] = False
            status[i] = new_status
            reasons[i] = reason
            stopped_at[i] = iteration
            frozen[i] = [p.detach()[i].clone() for p in params]

        iteration = 0
        for iteration in range(1, hp.max_iterations + 1):
            if not active.any():
                iteration -= 1
                break
            batch = stack_trials(
                task, hp.batch_size, context.trial_generators, context.noise, context.device
            )
            _, outputs = model(batch.inputs)
            loss = masked_mse(outputs, batch)
            if hp.weight_decay > 0:
                loss = loss + 0.5 * hp.weight_decay * sum(
                    (p**2).flatten(1).sum(dim=1) for p in params
                )
            optimizer.zero_grad(set_to_none=False)
            weights = torch.as_tensor(active, dtype=loss.dtype, device=loss.device)
            (torch.nan_to_num(loss, nan=0.0, posinf=0.0) * weights).sum().backward()

            with torch.no_grad():
                loss_np = loss.detach().cpu().double().numpy()
                losses[iteration - 1, active] = loss_np[active]
                grad_sq = sum(p.grad.flatten(1).pow(2).sum(dim=1) for p in params)
                finite = np.isfinite(loss_np) & np.isfinite(grad_sq.cpu().numpy())
                for i in np.flatnonzero(active & ~finite):
                    what = "loss" if not np.isfinite(loss_np[i]) else "gradient norm"
                    freeze(i, iteration, DIVERGED, f"non-finite {what} at iteration {iteration}")
                scale = torch.ones_like(grad_sq)
                if hp.clip_norm > 0:
                    norm = torch.nan_to_num(grad_sq, nan=0.0, posinf=0.0).sqrt()
                    scale = (hp.clip_norm / (norm + 1e-6)).clamp(max=1.0)
                scale = scale * torch.as_tensor(active, dtype=scale.dtype, device=scale.device)
                for p in params:
                    p.grad.mul_(scale.view(-1, *([1] * (p.dim() - 1))))
                    p.grad.nan_to_num_(nan=0.0, posinf=0.0, neginf=0.0)
            optimizer.step()
            with torch.no_grad():
                for i, saved in frozen.items():
                    for p, value in zip(params, saved, strict=True):
                        p[i] = value

            if iteration % stopping.validate_every == 0:
                validated = active.copy()
                scores = validate(model, task, validation)
                val_iterations.append(iteration)
                val_scores.append(np.where(active, scores, np.nan))
                state_ok = np.array([_finite_network(params, i) for i in range(n)])
                for i in np.flatnonzero(active & ~state_ok):
                    freeze(i, iteration, DIVERGED, f"non-finite weights at iteration {iteration}")
                for i in np.flatnonzero(criterion.update(scores, active)):
                    freeze(
                        i,
                        iteration,
                        CONVERGED,
                        f"min of last {stopping.window} validation scores >= {threshold:g}",
                    )
                progress.update(
                    iteration,
                    loss=float(np.nanmean(loss_np[validated])) if validated.any() else np.nan,
                    score=float(np.nanmean(scores[validated])) if validated.any() else np.nan,
                    active=f"{int(active.sum())}/{n}",
                )

        progress.done(iteration)
        return [
            NetworkResult(
                status=status[i],
                iterations=int(min(stopped_at[i], iteration)),
                curve=_curve(losses[: stopped_at[i], i], val_iterations, val_scores, i),
                reason=reasons[i],
            )
            for i in range(n)
        ]


def _finite_network(params: list[torch.Tensor], index: int) -> bool:
    return all(bool(torch.isfinite(p[index]).all()) for p in params)


def _curve(
    losses: np.ndarray, val_iterations: list[int], val_scores: list[np.ndarray], index: int
) -> xr.Dataset:
    scores = np.array([s[index] for s in val_scores], dtype=float)
    iters = np.array(val_iterations, dtype=np.int64)
    keep = np.isfinite(scores)
    return xr.Dataset(
        {
            "loss": (
                "iteration",
                losses,
                {"long_name": "training loss (masked MSE)", "units": "1"},
            ),
            "validation_score": (
                "validation",
                scores[keep],
                {"long_name": "validation performance", "units": "1"},
            ),
        },
        coords={
            "iteration": ("iteration", np.arange(1, len(losses) + 1), {"long_name": "update"}),
            "validation_iteration": ("validation", iters[keep], {"long_name": "update"}),
        },
    )
