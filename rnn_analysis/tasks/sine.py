"""Frequency-cued sine-wave generation (Sussillo & Barak 2013; Maheswaranathan et al. 2019)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, ClassVar

import numpy as np
import torch
import xarray as xr

from rnn_analysis.hyperparameters import Hyperparameters
from rnn_analysis.tasks.base import StaticInputs, Task, TrialBatch, add_input_noise
from rnn_analysis.tasks.registry import TASKS


@dataclass(frozen=True)
class SineParams(Hyperparameters):
    """Hyperparameters of the sine-wave task.

    Frequencies and cue levels are the universality study's; trial length, loss mask
    and success criterion are this package's choices.

    Attributes
    ----------
    n_frequencies : int, default 51
        Number of cued frequencies; trials draw one of them uniformly.
    omega_min, omega_max : float, default 0.1 and 0.6
        The frequencies ω_j (rad/step) are evenly spaced from ``omega_min`` to
        ``omega_max``, j = 0 .. n_frequencies − 1.
    level_offset : float, default 0.25
        Frequency j is cued by the static input level ``j / n_frequencies + level_offset``.
    n_steps : int, default 100
        Trial length in time steps (1.6 periods of the slowest default frequency,
        9.5 of the fastest). A frequency error δω costs an NMSE of about
        (δω · n_steps)² / 3, so longer trials demand more accurate frequencies: at 100
        steps, the neighbouring frequency (δω = 0.01) scores about 0.7.
    transient_steps : int, default 0
        Steps at the start of each trial left out of the loss mask and of the score;
        0 puts every step in both.
    success_threshold : float, default 0.9
        Mean per-trial performance ``clip(1 − NMSE, 0, 1)`` at which a network solves
        the task, NMSE being ``Σ (y − sin ωt)² / Σ sin² ωt`` over the scored steps
        (on average 90% of the target's power explained).
    """

    n_frequencies: int = 51
    omega_min: float = 0.1
    omega_max: float = 0.6
    level_offset: float = 0.25
    n_steps: int = 100
    transient_steps: int = 0
    success_threshold: float = 0.9

    def __post_init__(self) -> None:
        if self.n_frequencies < 1:
            raise ValueError(f"n_frequencies must be >= 1, got {self.n_frequencies}")
        if not 0 < self.omega_min <= self.omega_max:
            raise ValueError(
                f"need 0 < omega_min <= omega_max, got {self.omega_min} and {self.omega_max}"
            )
        if self.n_frequencies > 1 and self.omega_min == self.omega_max:
            raise ValueError("several frequencies need omega_min < omega_max")
        if self.n_steps < 2:
            raise ValueError(f"n_steps must be >= 2, got {self.n_steps}")
        if not 0 <= self.transient_steps < self.n_steps - 1:
            raise ValueError(
                f"transient_steps must be in [0, n_steps - 1), got {self.transient_steps}"
            )


@TASKS.register("sine")
class Sine(Task):
    """A static input level cues a frequency ω; the output must be sin(ω t).

    The level is on for the whole trial (the stimulus channel, where input noise is
    added); the target at step t = 0, 1, … is sin(ω t). Every step from
    ``transient_steps`` on is in the loss and the score. Performance of a trial is
    ``clip(1 − NMSE, 0, 1)``, with NMSE its squared error over the scored steps divided
    by the target's power there.
    Known result: one unstable fixed point per input level whose complex eigenvalue
    pair rotates by ≈ ω per step.
    """

    name = "sine"
    performance_name = "1 - normalised MSE"
    Params = SineParams
    params: SineParams
    #: Training criterion: the mean score ≥ 0.9 over the window *and* a mean validation
    #: loss ≤ 0.01 (an NMSE of about 0.02; the target's power is 0.5). The score alone
    #: lets a network pass with a frequency several % off (NMSE ≈ (δω·T)²/3 per trial):
    #: on 8 GRU-32s (6 frequencies, 100-step trials) the worst probe frequency scored
    #: 0.81–0.91 at the score criterion and 0.97–0.998 with the loss criterion.
    stopping_defaults: ClassVar[Mapping[str, Any]] = {"loss_threshold": 0.01}

    @property
    def n_inputs(self) -> int:
        return 1

    @property
    def n_outputs(self) -> int:
        return 1

    @property
    def omegas(self) -> np.ndarray:
        """The cued frequencies ω_j in rad/step, float64 [n_frequencies]."""
        p = self.params
        return np.linspace(p.omega_min, p.omega_max, p.n_frequencies)

    @property
    def levels(self) -> np.ndarray:
        """The static input level cueing each frequency, float64 [n_frequencies]."""
        p = self.params
        return np.arange(p.n_frequencies) / p.n_frequencies + p.level_offset

    def trials(self, index: torch.Tensor) -> TrialBatch:
        """Noise-free trials of the frequencies ``index`` (integers in [0, n_frequencies))."""
        p = self.params
        index = index.long()
        omega = torch.as_tensor(self.omegas)[index]
        level = torch.as_tensor(self.levels)[index]
        steps = torch.arange(p.n_steps, dtype=torch.float64)
        inputs = level.view(-1, 1, 1).expand(-1, p.n_steps, 1).float().contiguous()
        targets = torch.sin(omega.view(-1, 1) * steps).unsqueeze(-1).float()
        mask = torch.ones(len(index), p.n_steps)
        mask[:, : p.transient_steps] = 0.0
        conditions = {
            "frequency_index": index.numpy().astype(np.int64),
            "omega": omega.numpy(),
            "level": level.numpy(),
        }
        return TrialBatch(inputs, targets, mask, conditions)

    def generate(self, batch_size: int, generator: torch.Generator, noise: float) -> TrialBatch:
        index = torch.randint(self.params.n_frequencies, (batch_size,), generator=generator)
        batch = self.trials(index)
        batch.inputs = add_input_noise(batch.inputs, slice(None), noise, generator)
        return batch

    def probe_set(self) -> TrialBatch:
        return self.trials(torch.arange(self.params.n_frequencies))

    def static_inputs(self) -> StaticInputs:
        levels = self.levels
        return StaticInputs(
            torch.as_tensor(levels, dtype=torch.float32).view(-1, 1),
            {"level": levels, "omega": self.omegas},
        )

    known_result_descriptions: ClassVar[Mapping[str, str]] = {
        "cycles_at_cued_frequency": "under every cue level a limit cycle (by simulation) "
        "whose frequency is within analysis.attractors.cue_tolerance (5%) of the cued ω",
    }

    def known_results(self, analysis: xr.Dataset) -> dict[str, bool]:
        every = analysis.get("oscillates_at_cue_every_input")
        return {"cycles_at_cued_frequency": bool(every) if every is not None else False}

    def nmse(self, outputs: torch.Tensor, batch: TrialBatch) -> torch.Tensor:
        """Per-trial normalised MSE over the masked steps; ``outputs`` is [..., batch, time, 1]."""
        targets = batch.targets.to(outputs.device)
        mask = batch.mask.to(outputs.device).unsqueeze(-1)
        err = ((outputs - targets) ** 2 * mask).sum(dim=(-1, -2))
        power = (targets**2 * mask).sum(dim=(-1, -2))
        return err / power.clamp(min=torch.finfo(power.dtype).tiny)

    def score(self, outputs: torch.Tensor, batch: TrialBatch) -> torch.Tensor:
        return (1.0 - self.nmse(outputs, batch)).clamp(0.0, 1.0).nan_to_num(nan=0.0)
