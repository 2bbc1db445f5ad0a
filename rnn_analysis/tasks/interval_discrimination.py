"""Interval discrimination: which of two consecutive intervals is longer (Turner et al. 2021)."""

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
from rnn_analysis.tasks.delayed_discrimination import decision_accuracy, distinct_pairs
from rnn_analysis.tasks.extrapolation import (
    accuracy,
    decision_choice,
    first_crossing,
    profile_dataset,
    slope,
)
from rnn_analysis.tasks.registry import TASKS


@dataclass(frozen=True)
class IntervalDiscriminationParams(Hyperparameters):
    """Interval discrimination hyperparameters; defaults are the space-of-solutions study's.

    A trial (t1, t2): the first interval runs from the trial start to a pulse on channel
    0 at step t1, the second from there to a pulse on channel 1 at step t1 + t2; the
    target is sign(t1 − t2) from step ``response_delay + t1 + t2`` for
    ``response_steps``, 0 elsewhere; every step is in the loss.

    Attributes
    ----------
    t_min, t_max : int, default 10, 30
        t1 and t2 are integers in ``t_min .. t_max`` with t1 ≠ t2.
    pulse_steps : int, default 2
        Width of each pulse.
    pulse_amplitude : float, default 1.0
        Height of each pulse.
    response_delay : int, default 15
        Steps from the second pulse's onset to the response window.
    response_steps : int, default 2
        Length of the response window (the study's target lasts as long as a pulse).
    n_steps : int, default 90
        Trial length, the study's 2 t_max + 30; it must cover the latest response window
        (``response_delay + 2 t_max - 1 + response_steps``, 76 by default). Shorter trials
        are padded with target 0, and the padding is in the loss like the rest.
    success_threshold : float, default 0.9
        Fraction of trials whose mean output over the response window has the sign of
        t1 − t2.
    probe_interval_step : int, default 2
        The probe set holds every pair t1 ≠ t2 on the grid ``t_min, t_min + step, ..,
        t_max`` (110 pairs by default; 1 gives all 420).
    extrapolation_intervals : tuple of int, default (5, 7, 35, 40, 50)
        Intervals outside ``t_min .. t_max``; the extrapolation set holds every pair
        t1 ≠ t2 of these and of the probe grid with at least one of these.
    response_threshold : float, default 0.5
        |output| at which the extrapolation profile times the response (steps after the
        second pulse's onset).
    static_pulses : bool, default True
        Search fixed points under each channel's pulse level held, besides zero input.
    """

    t_min: int = 10
    t_max: int = 30
    pulse_steps: int = 2
    pulse_amplitude: float = 1.0
    response_delay: int = 15
    response_steps: int = 2
    n_steps: int = 90
    success_threshold: float = 0.9
    probe_interval_step: int = 2
    extrapolation_intervals: tuple[int, ...] = (5, 7, 35, 40, 50)
    static_pulses: bool = True
    response_threshold: float = 0.5

    def __post_init__(self) -> None:
        if self.pulse_steps < 1 or self.response_steps < 1:
            raise ValueError("pulse_steps and response_steps must be >= 1")
        if not self.pulse_steps <= self.t_min < self.t_max:
            raise ValueError(
                f"need pulse_steps <= t_min < t_max, got {self.t_min} and {self.t_max}"
            )
        if self.response_delay < self.pulse_steps:
            raise ValueError("the response window must start after the second pulse ends")
        if self.n_steps < self.latest_end(2 * self.t_max - 1):
            raise ValueError(
                f"n_steps must be >= {self.latest_end(2 * self.t_max - 1)} "
                f"(response_delay + 2 t_max - 1 + response_steps), got {self.n_steps}"
            )
        if self.probe_interval_step < 1:
            raise ValueError("probe_interval_step must be >= 1")
        if any(self.t_min <= t <= self.t_max for t in self.extrapolation_intervals):
            raise ValueError(f"extrapolation_intervals must lie outside {self.t_min}..{self.t_max}")
        if any(t < self.pulse_steps for t in self.extrapolation_intervals):
            raise ValueError("extrapolation_intervals must be >= pulse_steps")
        if not self.response_threshold > 0:
            raise ValueError(f"response_threshold must be > 0, got {self.response_threshold}")

    def latest_end(self, total: int) -> int:
        """First step after the response window of a trial with t1 + t2 = ``total``."""
        return self.response_delay + total + self.response_steps


@TASKS.register("interval_discrimination")
class IntervalDiscrimination(Task):
    """Two pulses mark two consecutive intervals; answer sign(t1 − t2).

    Inputs: channel 0 pulses at t1, channel 1 at t1 + t2 (both noisy). Output:
    sign(t1 − t2) during the response window ``response_delay`` steps after the second
    pulse, 0 elsewhere; mask all ones. Conditions: ``t1`` and ``t2``.
    """

    name = "interval_discrimination"
    Params = IntervalDiscriminationParams
    params: IntervalDiscriminationParams

    @property
    def n_inputs(self) -> int:
        return 2

    @property
    def n_outputs(self) -> int:
        return 1

    def trials(self, t1: torch.Tensor, t2: torch.Tensor, n_steps: int) -> TrialBatch:
        """Noise-free trials of the given intervals (each a tensor of length batch)."""
        p = self.params
        t1, t2 = t1.long().unsqueeze(1), t2.long().unsqueeze(1)
        steps = torch.arange(n_steps).unsqueeze(0)
        second = t1 + t2
        response = p.response_delay + second
        first_on = (steps >= t1) & (steps < t1 + p.pulse_steps)
        second_on = (steps >= second) & (steps < second + p.pulse_steps)
        respond = (steps >= response) & (steps < response + p.response_steps)
        inputs = torch.stack([first_on, second_on], dim=-1).float() * p.pulse_amplitude
        targets = (respond * torch.sign(t1 - t2)).unsqueeze(-1).float()
        mask = torch.ones(len(t1), n_steps)
        conditions = {
            "t1": t1[:, 0].numpy().astype(np.int64),
            "t2": t2[:, 0].numpy().astype(np.int64),
        }
        return TrialBatch(inputs, targets, mask, conditions)

    def generate(self, batch_size: int, generator: torch.Generator, noise: float) -> TrialBatch:
        p = self.params
        n = p.t_max - p.t_min + 1
        first = torch.randint(n, (batch_size,), generator=generator)
        second = (first + torch.randint(1, n, (batch_size,), generator=generator)) % n
        batch = self.trials(p.t_min + first, p.t_min + second, p.n_steps)
        batch.inputs = add_input_noise(batch.inputs, slice(None), noise, generator)
        return batch

    @property
    def probe_intervals(self) -> torch.Tensor:
        """The probe grid ``t_min, t_min + probe_interval_step, .., <= t_max``."""
        p = self.params
        return torch.arange(p.t_min, p.t_max + 1, p.probe_interval_step)

    def probe_set(self) -> TrialBatch:
        """Every pair t1 ≠ t2 (t1 major) of the probe grid, noise-free."""
        pairs = distinct_pairs(self.probe_intervals)
        return self.trials(pairs[:, 0], pairs[:, 1], self.params.n_steps)

    def extrapolation_set(self) -> TrialBatch:
        """Every pair with an interval outside ``t_min .. t_max``, noise-free.

        Trials are as long as the longest pair needs, keeping the training trials' margin
        after the response.
        """
        p = self.params
        new = torch.tensor(p.extrapolation_intervals, dtype=torch.long)
        pairs = distinct_pairs(torch.cat([self.probe_intervals, new]).unique(), new)
        margin = p.n_steps - p.latest_end(2 * p.t_max - 1)
        n_steps = max(p.n_steps, p.latest_end(int(pairs.sum(dim=1).max())) + margin)
        return self.trials(pairs[:, 0], pairs[:, 1], n_steps)

    def profile_set(self) -> TrialBatch:
        """Every pair t1 ≠ t2 of the probe grid and the extrapolation intervals, noise-free,
        as long as the longest pair needs."""
        p = self.params
        new = torch.tensor(p.extrapolation_intervals, dtype=torch.long)
        pairs = distinct_pairs(torch.cat([self.probe_intervals, new]).unique())
        margin = p.n_steps - p.latest_end(2 * p.t_max - 1)
        n_steps = max(p.n_steps, p.latest_end(int(pairs.sum(dim=1).max())) + margin)
        return self.trials(pairs[:, 0], pairs[:, 1], n_steps)

    def extrapolation_profile(self, outputs: torch.Tensor, batch: TrialBatch) -> xr.Dataset:
        """The choice and its timing per (t1, t2), inside and outside ``t_min .. t_max``.

        Profile: half the choice, the sign (−1, 0, +1) of the mean output over the
        response window (so that a flipped choice is a difference of 1). Raw: the choice and
        the response time (steps from the second pulse's
        onset to |output| ≥ ``response_threshold``; NaN: never). Features: the accuracy
        on pairs inside the training range and on pairs with an interval outside it, and
        the least-squares slope of the response time against |t1 − t2| over all pairs.
        """
        p = self.params
        t1, t2 = batch.conditions["t1"], batch.conditions["t2"]
        inside = (t1 >= p.t_min) & (t1 <= p.t_max) & (t2 >= p.t_min) & (t2 <= p.t_max)
        choice = decision_choice(outputs, batch.targets)
        correct = (choice == np.sign(t1 - t2)).astype(np.float64)
        rt = first_crossing(outputs, torch.as_tensor(t1 + t2), p.response_threshold)
        return profile_dataset(
            batch,
            inside,
            choice / 2,
            "choice / 2 (the choice is the sign of the mean output over the response window): "
            "a flipped choice differs by 1",
            {
                "choice": (choice, "choice (sign of the mean output in the response window)", "1"),
                "response_time": (rt, "steps from the second pulse to the response", "steps"),
            },
            {
                "accuracy_in_range": (
                    accuracy(correct, inside),
                    "accuracy on pairs inside the training range",
                    "1",
                ),
                "accuracy_out_of_range": (
                    accuracy(correct, ~inside),
                    "accuracy on pairs with an interval outside the training range",
                    "1",
                ),
                "response_time_slope": (
                    slope(np.abs(t1 - t2), rt),
                    "slope of the response time against |t1 - t2|",
                    "1",
                ),
            },
        )

    def input_pulses(self) -> InputPulses:
        """The pulse1 pulse on channel 0 and the pulse2 pulse on channel 1."""
        return InputPulses.one_per_channel(
            ["pulse1", "pulse2"], self.params.pulse_amplitude, self.params.pulse_steps
        )

    def static_inputs(self) -> StaticInputs:
        """Zero input, then (``static_pulses``) each channel's pulse level held."""
        return self.input_pulses().held(self.params.static_pulses)

    def score(self, outputs: torch.Tensor, batch: TrialBatch) -> torch.Tensor:
        """1 where the mean output over the response window has the sign of t1 − t2."""
        return decision_accuracy(outputs, batch.targets)
