"""Trials, losses and validation scores of an ensemble, one batch per network."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import torch

from rnn_analysis.architectures.base import Architecture
from rnn_analysis.tasks.base import Task, TrialBatch


def stack_trials(
    task: Task,
    batch_size: int,
    generators: Sequence[torch.Generator],
    noise: float,
    device: torch.device | str,
) -> TrialBatch:
    """One batch per network from its own generator, stacked on a leading ensemble dimension."""
    batches = [task.generate(batch_size, g, noise) for g in generators]
    return TrialBatch(
        inputs=torch.stack([b.inputs for b in batches]).to(device),
        targets=torch.stack([b.targets for b in batches]).to(device),
        mask=torch.stack([b.mask for b in batches]).to(device),
    )


def masked_mse(outputs: torch.Tensor, batch: TrialBatch) -> torch.Tensor:
    """Mean squared error over the masked steps, per leading index: outputs [E, B, T, O] → [E]."""
    mask = batch.mask.unsqueeze(-1)
    err = ((outputs - batch.targets) ** 2 * mask).sum(dim=(1, 2, 3))
    return err / (mask.sum(dim=(1, 2, 3)) * outputs.shape[-1]).clamp(min=1)


@dataclass
class Validation:
    """One validation of an ensemble.

    Attributes
    ----------
    scores : [E] mean task performance of each network on its validation batch
    losses : [E] masked MSE of each network on the same batch (the loss every rule
        is judged by, whatever it optimises)
    """

    scores: np.ndarray
    losses: np.ndarray


def validate(model: Architecture, task: Task, batch: TrialBatch) -> Validation:
    """Performance and loss of each network on its validation batch."""
    with torch.no_grad():
        _, outputs = model(batch.inputs)
        scores = task.score(outputs, batch).mean(dim=-1)
        losses = masked_mse(outputs, batch)
    return Validation(scores.cpu().double().numpy(), losses.cpu().double().numpy())


def finite_networks(tensors: Sequence[torch.Tensor]) -> np.ndarray:
    """Which networks have only finite entries in every tensor of the ensemble [E, ...]: [E]."""
    ok = torch.ones(tensors[0].shape[0], dtype=torch.bool, device=tensors[0].device)
    for t in tensors:
        ok &= torch.isfinite(t.detach()).flatten(1).all(dim=1)
    return ok.cpu().numpy()
