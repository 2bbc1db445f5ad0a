"""Delayed discrimination of two amplitudes (Romo et al. 1999; Turner et al. 2021)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
import xarray as xr

from rnn_analysis.hyperparameters import Hyperparameters
from rnn_analysis.tasks.base import (
    InputPulses,
    StaticInputs,
    Task,
    TrialBatch,
    add_input_noise,
)
from rnn_analysis.tasks.extrapolation import accuracy, decision_choice, profile_dataset
from rnn_analysis.tasks.registry import TASKS


@dataclass(frozen=True)
class DelayedDiscriminationParams(Hyperparameters):
    """Delayed discrimination hyperparameters; defaults are the space-of-solutions study's.

    A trial with delay d: f1 on channel 0 during steps ``f1_onset .. f1_onset +
    stimulus_steps - 1`` (5–9), f2 on channel 1 from ``f2_onset + d`` (15 + d) for
    ``stimulus_steps``, and the target sign(f1 − f2) from ``response_onset + d`` (30 + d)
    for ``response_steps``; the target is 0 elsewhere and every step is in the loss.

    Attributes
    ----------
    f_min, f_max : int, default 2, 10
        f1 and f2 are integers in ``f_min .. f_max`` with f1 ≠ f2.
    amplitude_scale : float, default 1.0
        An amplitude f enters the network as ``f * amplitude_scale``.
    f1_onset : int, default 5
        First step of f1.
    stimulus_steps : int, default 5
        Duration of f1 and of f2.
    f2_onset : int, default 15
        First step of f2 at delay 0.
    response_onset : int, default 30
        First step of the response window at delay 0.
    response_steps : int, default 5
        Length of the response window.
    delay_min, delay_max : int, default 0, 19
        The delay d is an integer in ``delay_min .. delay_max``, uniform over trials.
    n_steps : int, default 60
        Trial length, the study's 40 + 20; it must cover the latest response window
        (``response_onset + delay_max + response_steps``, 54 by default). Shorter trials
        are padded with target 0, and the padding is in the loss like the rest.
    success_threshold : float, default 0.9
        Fraction of trials whose mean output over the response window has the sign of
        f1 − f2.
    probe_delay : int, default 19
        Delay of the probe set (every pair f1 ≠ f2 at this delay; the study's longest).
    extrapolation_delays : tuple of int, default (20, 30, 40)
        Delays longer than ``delay_max`` at which every training pair f1 ≠ f2 is
        extrapolated.
    extrapolation_amplitudes : tuple of float, default (1.0, 11.0, 12.0)
        Amplitudes outside ``f_min .. f_max``; the extrapolation set also holds every pair
        f1 ≠ f2 of training and extrapolation amplitudes with at least one of the latter,
        at ``probe_delay``.
    static_stimulus_levels : bool, default True
        Search fixed points under each amplitude held on channel 0 (f1) and on channel 1
        (f2), besides zero input.
    """

    f_min: int = 2
    f_max: int = 10
    amplitude_scale: float = 1.0
    f1_onset: int = 5
    stimulus_steps: int = 5
    f2_onset: int = 15
    response_onset: int = 30
    response_steps: int = 5
    delay_min: int = 0
    delay_max: int = 19
    n_steps: int = 60
    success_threshold: float = 0.9
    probe_delay: int = 19
    extrapolation_delays: tuple[int, ...] = (20, 30, 40)
    extrapolation_amplitudes: tuple[float, ...] = (1.0, 11.0, 12.0)
    static_stimulus_levels: bool = True

    def __post_init__(self) -> None:
        if self.f_max <= self.f_min:
            raise ValueError(f"need f_min < f_max, got {self.f_min} and {self.f_max}")
        if self.amplitude_scale <= 0:
            raise ValueError(f"amplitude_scale must be > 0, got {self.amplitude_scale}")
        if self.stimulus_steps < 1 or self.response_steps < 1:
            raise ValueError("stimulus_steps and response_steps must be >= 1")
        if self.f1_onset < 0 or self.f1_onset + self.stimulus_steps > self.f2_onset:
            raise ValueError("f1 must start at step >= 0 and end before f2_onset")
        if self.response_onset < self.f2_onset + self.stimulus_steps:
            raise ValueError("the response window must start after f2 ends")
        if not 0 <= self.delay_min <= self.delay_max:
            raise ValueError(f"need 0 <= delay_min <= delay_max, got {self.delay_min}")
        if self.n_steps < self.latest_end(self.delay_max):
            raise ValueError(
                f"n_steps must be >= {self.latest_end(self.delay_max)} "
                f"(response_onset + delay_max + response_steps), got {self.n_steps}"
            )
        if not self.delay_min <= self.probe_delay <= self.delay_max:
            raise ValueError(f"probe_delay {self.probe_delay} is outside the training delays")
        if any(d <= self.delay_max for d in self.extrapolation_delays):
            raise ValueError(f"extrapolation_delays must exceed delay_max={self.delay_max}")
        if any(self.f_min <= a <= self.f_max for a in self.extrapolation_amplitudes):
            raise ValueError(
                f"extrapolation_amplitudes must lie outside {self.f_min}..{self.f_max}"
            )

    def latest_end(self, delay: int) -> int:
        """First step after the response window of a trial with ``delay``."""
        return self.response_onset + delay + self.response_steps


def distinct_pairs(values: torch.Tensor, new: torch.Tensor | None = None) -> torch.Tensor:
    """Every ordered pair of distinct ``values`` [n, 2]; with ``new``, only pairs holding one."""
    first, second = torch.meshgrid(values, values, indexing="ij")
    keep = first != second
    if new is not None:
        keep &= torch.isin(first, new) | torch.isin(second, new)
    return torch.stack([first[keep], second[keep]], dim=-1)


def decision_accuracy(outputs: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
    """1 where the mean of output 0 over the response window has the target's sign.

    The response window is where target 0 is non-zero. ``outputs`` is
    [..., batch, time, n_out], ``targets`` [batch, time, n_out] or with the same leading
    dimensions; returns [..., batch].
    """
    target = targets.to(outputs.device)[..., 0]
    window = (target != 0).to(outputs.dtype)
    mean = (outputs[..., 0] * window).sum(dim=-1) / window.sum(dim=-1).clamp(min=1)
    sign = torch.sign(target.sum(dim=-1))
    return (mean * sign > 0).to(outputs.dtype)


@TASKS.register("delayed_discrimination")
class DelayedDiscrimination(Task):
    """Compare two amplitudes separated by a variable delay; answer sign(f1 − f2).

    Inputs: channel 0 carries f1, channel 1 carries f2 (both stimulus channels, both
    noisy). Output: sign(f1 − f2) during the response window, 0 elsewhere; mask all
    ones. Conditions: ``f1``, ``f2`` (unscaled amplitudes) and ``delay``.
    """

    name = "delayed_discrimination"
    Params = DelayedDiscriminationParams
    params: DelayedDiscriminationParams

    @property
    def n_inputs(self) -> int:
        return 2

    @property
    def n_outputs(self) -> int:
        return 1

    @property
    def amplitudes(self) -> torch.Tensor:
        """The training amplitudes ``f_min .. f_max``."""
        return torch.arange(self.params.f_min, self.params.f_max + 1, dtype=torch.float32)

    def trials(
        self, f1: torch.Tensor, f2: torch.Tensor, delay: torch.Tensor, n_steps: int
    ) -> TrialBatch:
        """Noise-free trials of the given conditions (each a tensor of length batch)."""
        p = self.params
        f1, f2 = f1.float(), f2.float()
        delay = delay.long()
        steps = torch.arange(n_steps).unsqueeze(0)
        f2_start = (p.f2_onset + delay).unsqueeze(1)
        response_start = (p.response_onset + delay).unsqueeze(1)
        f1_on = (steps >= p.f1_onset) & (steps < p.f1_onset + p.stimulus_steps)
        f2_on = (steps >= f2_start) & (steps < f2_start + p.stimulus_steps)
        respond = (steps >= response_start) & (steps < response_start + p.response_steps)
        inputs = torch.stack(
            [
                f1_on * (f1 * p.amplitude_scale).unsqueeze(1),
                f2_on * (f2 * p.amplitude_scale).unsqueeze(1),
            ],
            dim=-1,
        )
        targets = (respond * torch.sign(f1 - f2).unsqueeze(1)).unsqueeze(-1)
        mask = torch.ones(len(f1), n_steps)
        conditions = {
            "f1": f1.double().numpy(),
            "f2": f2.double().numpy(),
            "delay": delay.numpy().astype(np.int64),
        }
        return TrialBatch(inputs.float(), targets.float(), mask, conditions)

    def generate(self, batch_size: int, generator: torch.Generator, noise: float) -> TrialBatch:
        p = self.params
        levels = self.amplitudes
        n = len(levels)
        first = torch.randint(n, (batch_size,), generator=generator)
        second = (first + torch.randint(1, n, (batch_size,), generator=generator)) % n
        delay = torch.randint(p.delay_min, p.delay_max + 1, (batch_size,), generator=generator)
        batch = self.trials(levels[first], levels[second], delay, p.n_steps)
        batch.inputs = add_input_noise(batch.inputs, slice(None), noise, generator)
        return batch

    def probe_set(self) -> TrialBatch:
        """Every pair f1 ≠ f2 (f1 major) at ``probe_delay``, noise-free."""
        pairs = distinct_pairs(self.amplitudes)
        delay = torch.full((len(pairs),), self.params.probe_delay)
        return self.trials(pairs[:, 0], pairs[:, 1], delay, self.params.n_steps)

    def extrapolation_set(self) -> TrialBatch:
        """Longer delays with training pairs, then out-of-range amplitudes at ``probe_delay``.

        Conditions add ``extrapolation`` ("delay" or "amplitude"). Trials are as long as
        the longest delay needs, keeping the training trials' margin after the response.
        """
        return self._extrapolation_trials(with_training=False)

    def profile_set(self) -> TrialBatch:
        """The training pairs at ``probe_delay`` (``extrapolation`` "none"), then the
        extrapolation set, all as long as the longest delay needs."""
        return self._extrapolation_trials(with_training=True)

    def _extrapolation_trials(self, with_training: bool) -> TrialBatch:
        p = self.params
        train = distinct_pairs(self.amplitudes)
        delays = torch.tensor(p.extrapolation_delays, dtype=torch.long)
        by_delay = train.repeat(len(delays), 1)
        delay_long = delays.repeat_interleave(len(train))
        new = torch.tensor(p.extrapolation_amplitudes, dtype=torch.float32)
        by_amplitude = distinct_pairs(torch.cat([self.amplitudes, new]).unique(), new)
        probe_delay = torch.full((len(by_amplitude),), p.probe_delay)
        pairs = torch.cat([by_delay, by_amplitude])
        delay = torch.cat([delay_long, probe_delay])
        kind = ["delay"] * len(by_delay) + ["amplitude"] * len(by_amplitude)
        if with_training:
            pairs = torch.cat([train, pairs])
            delay = torch.cat([torch.full((len(train),), p.probe_delay), delay])
            kind = ["none"] * len(train) + kind
        margin = p.n_steps - p.latest_end(p.delay_max)
        n_steps = max(p.n_steps, p.latest_end(int(delay.max())) + margin)
        batch = self.trials(pairs[:, 0], pairs[:, 1], delay, n_steps)
        batch.conditions["extrapolation"] = np.array(kind, dtype="U9")
        return batch

    def extrapolation_profile(self, outputs: torch.Tensor, batch: TrialBatch) -> xr.Dataset:
        """The choice per (f1, f2, delay) of :meth:`profile_set`.

        Profile: half the choice, the sign (−1, 0, +1) of the mean output over the
        response window (so that a flipped choice is a difference of 1). Features: the
        accuracy on the training pairs at ``probe_delay``, at the
        longer delays, and with an out-of-range amplitude.
        """
        choice = decision_choice(outputs, batch.targets)
        answer = np.sign(batch.conditions["f1"] - batch.conditions["f2"])
        correct = (choice == answer).astype(np.float64)
        kind = batch.conditions["extrapolation"]
        return profile_dataset(
            batch,
            kind == "none",
            choice / 2,
            "choice / 2 (the choice is the sign of the mean output over the response window): "
            "a flipped choice differs by 1",
            {"choice": (choice, "choice (sign of the mean output in the response window)", "1")},
            {
                "accuracy_in_range": (
                    accuracy(correct, kind == "none"),
                    "accuracy on the training pairs",
                    "1",
                ),
                "accuracy_long_delay": (
                    accuracy(correct, kind == "delay"),
                    "accuracy at delays beyond the training range",
                    "1",
                ),
                "accuracy_new_amplitude": (
                    accuracy(correct, kind == "amplitude"),
                    "accuracy with an amplitude outside the training range",
                    "1",
                ),
            },
        )

    def input_pulses(self) -> InputPulses:
        """Every training amplitude as f1 (channel 0) and as f2 (channel 1), for a stimulus."""
        amps = self.amplitudes * self.params.amplitude_scale
        n = len(amps)
        values = torch.zeros(2 * n, 2)
        values[:n, 0] = amps
        values[n:, 1] = amps
        levels = self.amplitudes.double().numpy()
        return InputPulses(
            values,
            np.full(2 * n, self.params.stimulus_steps),
            {
                "pulse": np.array([f"f1={a:g}" for a in levels] + [f"f2={a:g}" for a in levels]),
                "pulse_channel": np.repeat([0, 1], n),
                "pulse_level": np.concatenate([levels, levels]),
            },
        )

    def static_inputs(self) -> StaticInputs:
        """Zero input, then (``static_stimulus_levels``) each amplitude held on f1, on f2."""
        values = [torch.zeros(1, 2)]
        inputs, levels = ["zero"], [0.0]
        if self.params.static_stimulus_levels:
            amps = self.amplitudes
            for channel, label in enumerate(("f1", "f2")):
                held = torch.zeros(len(amps), 2)
                held[:, channel] = amps * self.params.amplitude_scale
                values.append(held)
                inputs += [label] * len(amps)
                levels += amps.tolist()
        return StaticInputs(
            torch.cat(values),
            {"input": np.array(inputs, dtype="U4"), "level": np.array(levels, dtype=float)},
        )

    def score(self, outputs: torch.Tensor, batch: TrialBatch) -> torch.Tensor:
        """1 where the mean output over the response window has the sign of f1 − f2."""
        return decision_accuracy(outputs, batch.targets)
