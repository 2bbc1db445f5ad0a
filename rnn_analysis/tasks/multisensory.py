"""Multisensory rate discrimination (after Raposo et al. 2014, as in the learning-rules study).

An auditory and a visual channel carry event rates; a trial is auditory-only, visual-only
or both (congruent: the same rate on both channels). The network decides whether the
rate is above or below a threshold.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import ClassVar

import numpy as np
import torch

from rnn_analysis.hyperparameters import Hyperparameters
from rnn_analysis.tasks.base import StaticInputs, Task, TrialBatch, add_input_noise
from rnn_analysis.tasks.registry import TASKS

MODALITIES = ("auditory", "visual", "both")


@dataclass(frozen=True)
class MultisensoryParams(Hyperparameters):
    """Hyperparameters of the multisensory task; defaults are the learning-rules study's.

    A trial is ``stimulus_onset + stimulus_steps + response_steps`` steps long (500 by
    default): silence, then the stimulus, then the response period with the stimulus off.

    Attributes
    ----------
    stimulus_onset : int, default 200
        First step of the stimulus.
    stimulus_steps : int, default 200
        Number of steps the stimulus is on.
    response_steps : int, default 100
        Length of the response period that follows the stimulus; the target ±1 is given,
        the loss counts and the decision is read out only there.
    rate_low : float, default 9.0
        Lower bound of the event rate ``rate ~ U(rate_low, rate_high)``.
    rate_high : float, default 16.0
        Upper bound of the event rate.
    rate_threshold : float, default 12.5
        Rates above it call for +1, rates below for −1.
    rate_scale : float, default 16.0
        A stimulus channel carries ``rate / rate_scale``.
    probe_rates : tuple of float, default (9, 10, 11, 12, 13, 14, 15, 16)
        Rates of the probe set, each in every trial type.
    psychometric_rates : tuple of float, default (9, 10, 11, 12, 13, 14, 15, 16)
        Rates of the psychometric set, each in every trial type.
    fixed_point_levels : int, default 15
        Number of static rates, evenly spaced in ``[rate_low, rate_high]``, per trial
        type under which fixed points are searched (besides the silent input).
    success_threshold : float, default 0.9
        Decision accuracy at which a network solves the task.
    """

    stimulus_onset: int = 200
    stimulus_steps: int = 200
    response_steps: int = 100
    rate_low: float = 9.0
    rate_high: float = 16.0
    rate_threshold: float = 12.5
    rate_scale: float = 16.0
    probe_rates: tuple[float, ...] = (9.0, 10.0, 11.0, 12.0, 13.0, 14.0, 15.0, 16.0)
    psychometric_rates: tuple[float, ...] = (9.0, 10.0, 11.0, 12.0, 13.0, 14.0, 15.0, 16.0)
    fixed_point_levels: int = 15
    success_threshold: float = 0.9

    def __post_init__(self) -> None:
        if self.stimulus_onset < 0:
            raise ValueError(f"stimulus_onset must be >= 0, got {self.stimulus_onset}")
        if self.stimulus_steps < 1 or self.response_steps < 1:
            raise ValueError("stimulus_steps and response_steps must be >= 1")
        if not self.rate_low < self.rate_threshold < self.rate_high:
            raise ValueError("rates need rate_low < rate_threshold < rate_high")
        if self.rate_scale <= 0:
            raise ValueError(f"rate_scale must be > 0, got {self.rate_scale}")
        for key in ("probe_rates", "psychometric_rates"):
            rates = getattr(self, key)
            if not rates or self.rate_threshold in rates:
                raise ValueError(f"{key} must be non-empty and must not contain the threshold")
        if self.fixed_point_levels < 1:
            raise ValueError(f"fixed_point_levels must be >= 1, got {self.fixed_point_levels}")

    @property
    def n_steps(self) -> int:
        return self.stimulus_onset + self.stimulus_steps + self.response_steps


@TASKS.register("multisensory")
class Multisensory(Task):
    """Decide whether the event rate on the auditory and/or visual channel is high or low.

    Inputs: channel 0 auditory, channel 1 visual; during the stimulus a present channel
    carries ``rate / rate_scale`` and an absent one 0; both are 0 before and after it.
    Noise is added to both channels at every step. The single output's target is +1
    (rate above threshold) or −1 in the response period and 0 elsewhere; the loss covers
    the response period only. Performance: the sign of the output averaged over the
    response period equals the target.
    """

    name = "multisensory"
    Params = MultisensoryParams
    params: MultisensoryParams

    @property
    def n_inputs(self) -> int:
        return 2

    @property
    def n_outputs(self) -> int:
        return 1

    @property
    def stimulus_channels(self) -> slice:
        """The auditory and the visual channel."""
        return slice(0, 2)

    def _trials(self, rate: torch.Tensor, modality: torch.Tensor) -> TrialBatch:
        """Noise-free trials from event rates [B] and trial types [B] (indices of MODALITIES)."""
        p = self.params
        batch_size = len(rate)
        present = torch.stack([modality != 1, modality != 0], dim=1).float()
        stimulus = present * (rate / p.rate_scale).float().unsqueeze(1)
        on = torch.zeros(p.n_steps)
        on[p.stimulus_onset : p.stimulus_onset + p.stimulus_steps] = 1.0
        inputs = on.view(1, -1, 1) * stimulus.unsqueeze(1)
        response = torch.zeros(p.n_steps)
        response[p.n_steps - p.response_steps :] = 1.0
        choice = torch.where(rate > p.rate_threshold, 1.0, -1.0)
        targets = torch.where(response.bool(), choice.unsqueeze(1), 0.0).unsqueeze(-1)
        mask = response.expand(batch_size, -1).clone()
        conditions = {
            "rate": rate.double().numpy(),
            "modality": np.asarray(MODALITIES)[modality.numpy()],
        }
        return TrialBatch(inputs, targets, mask, conditions)

    def generate(self, batch_size: int, generator: torch.Generator, noise: float) -> TrialBatch:
        p = self.params
        rate = p.rate_low + (p.rate_high - p.rate_low) * torch.rand(
            batch_size, generator=generator, dtype=torch.float64
        )
        modality = torch.randint(len(MODALITIES), (batch_size,), generator=generator)
        batch = self._trials(rate, modality)
        batch.inputs = add_input_noise(batch.inputs, self.stimulus_channels, noise, generator)
        return batch

    def _fixed_trials(self, rates: tuple[float, ...]) -> TrialBatch:
        """Noise-free trials: every rate in every trial type, trial type major."""
        rate = torch.tensor(rates, dtype=torch.float64).repeat(len(MODALITIES))
        modality = torch.arange(len(MODALITIES)).repeat_interleave(len(rates))
        return self._trials(rate, modality)

    def probe_set(self) -> TrialBatch:
        return self._fixed_trials(self.params.probe_rates)

    def psychometric_set(self) -> TrialBatch:
        return self._fixed_trials(self.params.psychometric_rates)

    #: Event rates, as in the study (events per second).
    psychometric_evidence_units: ClassVar[str] = "events/s"
    #: One psychometric fit per trial type besides the pooled one.
    psychometric_group: ClassVar[str | None] = "modality"

    def psychometric_evidence(self, conditions: Mapping[str, np.ndarray]) -> np.ndarray:
        """The event rate minus the threshold."""
        return np.asarray(conditions["rate"], dtype=float) - self.params.rate_threshold

    def static_inputs(self) -> StaticInputs:
        p = self.params
        levels = np.linspace(p.rate_low, p.rate_high, p.fixed_point_levels)
        rate = np.concatenate([[0.0], np.tile(levels, len(MODALITIES))])
        modality = np.concatenate([["none"], np.repeat(MODALITIES, len(levels))])
        auditory = np.isin(modality, ("auditory", "both"))
        visual = np.isin(modality, ("visual", "both"))
        values = np.stack([auditory, visual], axis=1) * (rate / p.rate_scale)[:, None]
        return StaticInputs(
            torch.tensor(values, dtype=torch.float32), {"rate": rate, "modality": modality}
        )

    def score(self, outputs: torch.Tensor, batch: TrialBatch) -> torch.Tensor:
        mask = batch.mask.to(outputs.device, outputs.dtype)
        n_scored = mask.sum(dim=-1).clamp(min=1)
        decision = (outputs[..., 0] * mask).sum(dim=-1) / n_scored
        target = (batch.targets.to(outputs.device)[..., 0] * mask).sum(dim=-1) / n_scored
        return (torch.sign(decision) == torch.sign(target)).to(outputs.dtype)
