"""Behaviour of one trained network: performance, psychometric curve, extrapolation."""

from __future__ import annotations

import dataclasses

import numpy as np
import torch
import xarray as xr

from rnn_analysis import seeding
from rnn_analysis.architectures import Architecture
from rnn_analysis.tasks import Task, TrialBatch
from rnn_analysis.tasks.base import add_input_noise
from rnn_analysis.training.trials import masked_mse


def run_single(model: Architecture, batch: TrialBatch) -> tuple[torch.Tensor, torch.Tensor]:
    """(states, outputs) of a one-network ensemble on ``batch``: [1, B, T, ...] each."""
    device = model.weight_out.device
    with torch.no_grad():
        return model(batch.inputs.unsqueeze(0).to(device, torch.get_default_dtype()))


def _condition_coords(batch: TrialBatch, dim: str, prefix: str) -> dict:
    return {
        (k if k.startswith(prefix) else f"{prefix}{k}"): (dim, np.asarray(v))
        for k, v in batch.conditions.items()
    }


def evaluate(model: Architecture, task: Task, noise: float, n_trials: int, seed: int) -> xr.Dataset:
    """Performance and loss on fresh noisy trials and on the same trials without noise."""
    out = {}
    for name, level in (("noisy", noise), ("noise_free", 0.0)):
        batch = task.generate(n_trials, seeding.generator(seed, "evaluation"), level)
        _, outputs = run_single(model, batch)
        outputs = outputs.cpu()
        score = task.score(outputs[0], batch).mean().item()
        stacked = TrialBatch(batch.inputs[None], batch.targets[None], batch.mask[None])
        loss = masked_mse(outputs, stacked).item()
        label = "noisy" if name == "noisy" else "noise-free"
        out[f"performance_{name}"] = (
            (),
            score,
            {"long_name": f"{task.performance_name} on {label} trials", "units": "1"},
        )
        out[f"loss_{name}"] = ((), loss, {"long_name": f"MSE on {label} trials", "units": "1"})
    return xr.Dataset(out)


def psychometric_curve(
    model: Architecture, task: Task, noise: float, repeats: int, seed: int
) -> xr.Dataset | None:
    """Probability of the positive choice per condition of the task's psychometric set.

    Every condition is repeated ``repeats`` times with the network's own input noise (so
    that the curve is graded, as in the studies); the choice is the sign the task scores
    (the score against an all-positive target). Also gives the accuracy per condition.
    None for tasks without a psychometric set.
    """
    base = task.psychometric_set()
    if base is None:
        return None
    n = base.batch_size
    generator = seeding.generator(seed, "evaluation")
    inputs = base.inputs.repeat(repeats, 1, 1)
    inputs = add_input_noise(inputs, task.stimulus_channels, noise, generator)
    batch = dataclasses.replace(
        base,
        inputs=inputs,
        targets=base.targets.repeat(repeats, 1, 1),
        mask=base.mask.repeat(repeats, 1),
    )
    _, outputs = run_single(model, batch)
    outputs = outputs[0].cpu()
    positive = dataclasses.replace(batch, targets=batch.targets.abs())
    p_positive = task.score(outputs, positive).reshape(repeats, n).mean(dim=0)
    accuracy = task.score(outputs, batch).reshape(repeats, n).mean(dim=0)
    dim = "psychometric_condition"
    return xr.Dataset(
        {
            "psychometric_p_positive": (
                dim,
                p_positive.double().numpy(),
                {"long_name": "probability of the positive choice", "units": "1"},
            ),
            "psychometric_accuracy": (
                dim,
                accuracy.double().numpy(),
                {"long_name": f"{task.performance_name} per psychometric condition", "units": "1"},
            ),
        },
        coords=_condition_coords(base, dim, "psychometric_"),
        attrs={"psychometric_repeats": repeats, "psychometric_noise": noise},
    )


def extrapolation(model: Architecture, task: Task) -> xr.Dataset | None:
    """Per-trial performance on the task's extrapolation set (noise-free), its mean, and
    the task's extrapolation profile where it has one (:meth:`Task.profile_set`).

    None for tasks without an extrapolation set.
    """
    batch = task.extrapolation_set()
    if batch is None:
        return None
    _, outputs = run_single(model, batch)
    score = task.score(outputs[0].cpu(), batch).double().numpy()
    dim = "extrapolation_trial"
    ds = xr.Dataset(
        {
            "extrapolation_score": (
                dim,
                score,
                {"long_name": f"{task.performance_name} per extrapolation trial", "units": "1"},
            ),
            "performance_extrapolation": (
                (),
                float(score.mean()),
                {
                    "long_name": f"{task.performance_name} on the extrapolation set",
                    "units": "1",
                },
            ),
        },
        coords=_condition_coords(batch, dim, "extrapolation_"),
    )
    profile_set = task.profile_set()
    if profile_set is None:
        return ds
    _, outputs = run_single(model, profile_set)
    profile = task.extrapolation_profile(outputs[0].cpu(), profile_set)
    return xr.merge([ds, profile], compat="equals", join="outer", combine_attrs="drop_conflicts")
