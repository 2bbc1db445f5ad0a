"""K-bit flip-flop (Sussillo & Barak 2013; Maheswaranathan et al. 2019)."""

from __future__ import annotations

import math
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
from rnn_analysis.tasks.registry import TASKS


@dataclass(frozen=True)
class FlipFlopParams(Hyperparameters):
    """Hyperparameters of the flip-flop task.

    Attributes
    ----------
    n_bits : int, default 3
        K, the number of independent channels (and of outputs).
    n_steps : int, default 100
        Trial length in time steps.
    pulse_probability : float, default 0.05
        Probability per step and channel of a ±1 pulse.
    initial_pulses : bool, default True
        Every channel also receives a pulse at step 0, so that each output always has
        a sign to hold. Without them the target is 0 until a channel's first pulse, and
        networks learn that "unset" state as extra attractors (up to 3**K instead of 2**K).
    tolerance : float, default 0.5
        An output counts as correct where ``|output - target| < tolerance``.
    success_threshold : float, default 0.95
        Fraction of scored (step, channel) entries that must be correct.
    probe_trials : int, default 32
        Number of noise-free trials in the probe set.
    probe_seed : int, default 1234
        Seed of the probe set, the same for every network.
    """

    n_bits: int = 3
    n_steps: int = 100
    pulse_probability: float = 0.05
    initial_pulses: bool = True
    tolerance: float = 0.5
    success_threshold: float = 0.95
    probe_trials: int = 32
    probe_seed: int = 1234

    def __post_init__(self) -> None:
        if self.n_bits < 1:
            raise ValueError(f"n_bits must be >= 1, got {self.n_bits}")
        if self.n_steps < 2:
            raise ValueError(f"n_steps must be >= 2, got {self.n_steps}")
        if not 0 < self.pulse_probability < 1:
            raise ValueError(f"pulse_probability must be in (0, 1), got {self.pulse_probability}")


@TASKS.register("flipflop")
class FlipFlop(Task):
    """At random times channel k receives a +1 or −1 pulse; output k holds its sign.

    Every channel receives a pulse at step 0 (``initial_pulses``); without it the target
    is 0 before a channel's first pulse. Every step is in the loss.
    Known result: 2**K stable fixed points, with saddles between them.
    """

    name = "flipflop"
    Params = FlipFlopParams
    params: FlipFlopParams

    @property
    def n_inputs(self) -> int:
        return self.params.n_bits

    @property
    def n_outputs(self) -> int:
        return self.params.n_bits

    def _clean_trials(self, batch_size: int, generator: torch.Generator) -> TrialBatch:
        p = self.params
        shape = (batch_size, p.n_steps, p.n_bits)
        pulse = torch.rand(shape, generator=generator) < p.pulse_probability
        if p.initial_pulses:
            pulse[:, 0] = True
        sign = torch.where(torch.rand(shape, generator=generator) < 0.5, -1.0, 1.0)
        inputs = pulse * sign
        steps = torch.arange(p.n_steps).view(1, -1, 1).expand(shape)
        last_pulse = torch.where(pulse, steps, -1).cummax(dim=1).values
        targets = torch.gather(inputs, 1, last_pulse.clamp(min=0))
        targets = torch.where(last_pulse >= 0, targets, 0.0)
        mask = torch.ones(batch_size, p.n_steps)
        n_pulses = pulse.sum(dim=(1, 2)).numpy()
        return TrialBatch(inputs, targets, mask, {"n_pulses": n_pulses})

    def generate(self, batch_size: int, generator: torch.Generator, noise: float) -> TrialBatch:
        batch = self._clean_trials(batch_size, generator)
        batch.inputs = add_input_noise(batch.inputs, slice(None), noise, generator)
        return batch

    def probe_set(self) -> TrialBatch:
        generator = torch.Generator().manual_seed(self.params.probe_seed)
        batch = self._clean_trials(self.params.probe_trials, generator)
        batch.conditions["trial"] = np.arange(self.params.probe_trials)
        return batch

    def input_pulses(self) -> InputPulses:
        """A one-step +1 and −1 pulse on every channel."""
        k = self.params.n_bits
        values = torch.cat([torch.eye(k), -torch.eye(k)])
        names = [f"+1 ch{c}" for c in range(k)] + [f"-1 ch{c}" for c in range(k)]
        return InputPulses(
            values,
            np.ones(2 * k, dtype=np.int64),
            {
                "pulse": np.array(names),
                "pulse_channel": np.tile(np.arange(k), 2),
                "pulse_sign": np.repeat([1.0, -1.0], k),
            },
        )

    def static_inputs(self) -> StaticInputs:
        return StaticInputs(torch.zeros(1, self.params.n_bits), {"input": np.array(["zero"])})

    known_result_descriptions = {
        "corner_attractors": "exactly 2^K stable fixed points under zero input, one at each "
        "corner of the output cube (every output within `tolerance` of ±1)",
        "cube_census": "the fixed points of the K-cube: C(K, k) 2^(K-k) fixed points with k "
        "unstable modes for k = 0..K (K = 3: 8 stable, 12, 6 and 1 saddles), none other",
    }

    def known_results(self, analysis: xr.Dataset) -> dict[str, bool]:
        if "kind" not in analysis:
            return dict.fromkeys(self.known_result_descriptions, False)
        fixed = (analysis["kind"].values.astype(str) == "fixed") & (
            analysis["condition"].values == 0
        )
        stable = fixed & analysis["stable"].values
        readout = analysis["readout"].transpose("fixed_point", "output").values[stable]
        at_corner = (np.abs(readout - np.sign(readout)) < self.params.tolerance).all(axis=1)
        corners = {tuple(np.sign(r)) for r in readout[at_corner]}
        n_bits = self.params.n_bits
        counts = np.bincount(analysis["n_unstable"].values[fixed], minlength=n_bits + 1)
        cube = [math.comb(n_bits, k) * 2 ** (n_bits - k) for k in range(n_bits + 1)]
        return {
            "corner_attractors": bool(stable.sum() == 2**n_bits and len(corners) == 2**n_bits),
            "cube_census": counts.tolist() == cube,
        }

    def score(self, outputs: torch.Tensor, batch: TrialBatch) -> torch.Tensor:
        targets = batch.targets.to(outputs.device)
        scored = targets != 0
        correct = ((outputs - targets).abs() < self.params.tolerance) & scored
        n_scored = scored.sum(dim=(-1, -2)).clamp(min=1)
        return correct.sum(dim=(-1, -2)) / n_scored
