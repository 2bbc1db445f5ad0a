"""Backpropagation through time with Adam, per-network gradient clipping and optional L2."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import numpy as np
import torch

from rnn_analysis.architectures.base import Architecture
from rnn_analysis.hyperparameters import Hyperparameters
from rnn_analysis.training.rule import (
    LEARNING_RULES,
    LearningRule,
    NetworkResult,
    TrainingContext,
)
from rnn_analysis.training.tracker import EnsembleTracker
from rnn_analysis.training.trials import finite_networks, masked_mse, stack_trials, validate


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


@LEARNING_RULES.register("bptt")
class BPTT(LearningRule):
    """Gradient descent through time with Adam, trained for all networks of an ensemble at once.

    The loss is the sum of the networks' own losses, gradients are clipped network by
    network, and a network that converges or diverges is frozen, so every network
    follows the same path it would follow if trained alone.
    """

    name = "bptt"
    Params = BPTTParams
    checkpoints = True
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
        model.to(context.device)
        params = self.trained_parameters(model)
        optimizer = torch.optim.Adam(params, lr=hp.learning_rate)
        tracker = EnsembleTracker(
            model.n_networks, hp.max_iterations, context.threshold, stopping, context.log
        )
        frozen: dict[int, list[torch.Tensor]] = {}
        tracker.on_stop = lambda i: frozen.setdefault(i, [p.detach()[i].clone() for p in params])
        validation = context.validation_batch()
        context.record_features(tracker, model)
        first = 1
        resumed = context.checkpoint.load() if context.checkpoint is not None else None
        if resumed is not None:
            done, state = resumed
            model.load_state_dict(state["model"])
            optimizer.load_state_dict(state["optimizer"])
            tracker.load_state_dict(state["tracker"])
            frozen.update(state["frozen"])
            context.set_generator_states(state["generators"])
            first = done + 1
        else:
            tracker.baseline(lambda: validate(model, task, validation))

        for iteration in range(first, hp.max_iterations + 1):
            if not tracker.active.any():
                break
            active = tracker.active.copy()
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
                tracker.record_loss(iteration, loss_np)
                grad_sq = sum(p.grad.flatten(1).pow(2).sum(dim=1) for p in params)
                tracker.diverge(iteration, np.isfinite(loss_np), "loss")
                tracker.diverge(iteration, np.isfinite(grad_sq.cpu().numpy()), "gradient norm")
                scale = torch.ones_like(grad_sq)
                if hp.clip_norm > 0:
                    norm = torch.nan_to_num(grad_sq, nan=0.0, posinf=0.0).sqrt()
                    scale = (hp.clip_norm / (norm + 1e-6)).clamp(max=1.0)
                scale = scale * torch.as_tensor(
                    tracker.active, dtype=scale.dtype, device=scale.device
                )
                for p in params:
                    p.grad.mul_(scale.view(-1, *([1] * (p.dim() - 1))))
                    p.grad.nan_to_num_(nan=0.0, posinf=0.0, neginf=0.0)
            optimizer.step()
            with torch.no_grad():
                for i, saved in frozen.items():
                    for p, value in zip(params, saved, strict=True):
                        p[i] = value
            tracker.after_update(iteration)

            if tracker.validation_due(iteration):
                tracker.diverge(iteration, finite_networks(params), "weights")
                tracker.validate(iteration, validate(model, task, validation))
                if context.checkpoint is not None and context.checkpoint.due():
                    context.checkpoint.save(
                        iteration,
                        {
                            "model": model.state_dict(),
                            "optimizer": optimizer.state_dict(),
                            "tracker": tracker.state_dict(),
                            "frozen": frozen,
                            "generators": context.generator_states(),
                        },
                    )

        return tracker.results()
