"""Time reproduction, ready-set-go (Jazayeri & Shadlen 2015; Turner et al. 2021)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

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
from rnn_analysis.tasks.extrapolation import profile_dataset, slope
from rnn_analysis.tasks.registry import TASKS


@dataclass(frozen=True)
class TimeReproductionParams(Hyperparameters):
    """Hyperparameters of the ready-set-go task; defaults are the space-of-solutions study's.

    A trial with interval ts: Ready on channel 0 from ``ready_onset`` (5), Set on channel
    1 from ``ready_onset + ts``, each ``pulse_steps`` long; the go time is
    ``ready_onset + 2 ts``, ts after Set. The target is 0 before the go time and 1 from
    it, for ``go_steps`` ("pulse") or to the end of the trial ("step"); every step is in
    the loss. The produced interval is the number of steps from Set's onset to the first
    step, at or after it, where the output reaches ``go_threshold``.

    Attributes
    ----------
    ready_onset : int, default 5
        First step of the Ready pulse.
    pulse_steps : int, default 5
        Width of the Ready and Set pulses.
    pulse_amplitude : float, default 1.0
        Height of the Ready and Set pulses.
    ts_min, ts_max : int, default 20, 50
        Training intervals ts, integers in ``ts_min .. ts_max`` uniform over trials.
    target_shape : {"pulse", "step"}, default "pulse"
        The study's target: a pulse of ``go_steps`` at the go time; or a step to 1 held
        until the trial ends.
    go_steps : int, default 5
        Width of the "pulse" target.
    n_steps : int, default 150
        Trial length, the study's 2 ts_max + 50; it must reach ``tolerance`` steps past the
        latest go time and cover its pulse. Shorter trials are padded with the target's
        value, and the padding is in the loss like the rest.
    go_threshold : float, default 0.5
        Output level that counts as "go".
    tolerance : int, default 10
        A produced interval is correct within ± this many steps of ts.
    success_threshold : float, default 0.9
        Fraction of trials whose produced interval is correct.
    extrapolation_ts_max : int, default 120
        The extrapolation set holds ts = ``ts_max + extrapolation_ts_step`` ..
        ``extrapolation_ts_max`` (51..120).
    extrapolation_ts_step : int, default 1
        Spacing of the extrapolation intervals (and of the profile's intervals, which run
        from ``ts_min`` to ``extrapolation_ts_max``).
    breakdown_tolerance : float, default 0.2
        Relative error |produced − ts| / ts beyond which the extrapolation has broken
        down (the profile's ``breakdown_ts`` feature).
    static_pulses : bool, default True
        Search fixed points under the Ready and the Set level held, besides zero input.
    """

    ready_onset: int = 5
    pulse_steps: int = 5
    pulse_amplitude: float = 1.0
    ts_min: int = 20
    ts_max: int = 50
    target_shape: Literal["pulse", "step"] = "pulse"
    go_steps: int = 5
    n_steps: int = 150
    go_threshold: float = 0.5
    tolerance: int = 10
    success_threshold: float = 0.9
    extrapolation_ts_max: int = 120
    extrapolation_ts_step: int = 1
    breakdown_tolerance: float = 0.2
    static_pulses: bool = True

    def __post_init__(self) -> None:
        if self.ready_onset < 0 or self.pulse_steps < 1 or self.go_steps < 1:
            raise ValueError("need ready_onset >= 0, pulse_steps >= 1 and go_steps >= 1")
        if not self.pulse_steps <= self.ts_min <= self.ts_max:
            raise ValueError(
                f"need pulse_steps <= ts_min <= ts_max, got {self.ts_min} and {self.ts_max}"
            )
        if self.tolerance < 0:
            raise ValueError(f"tolerance must be >= 0, got {self.tolerance}")
        if self.n_steps < self.latest_end(self.ts_max):
            raise ValueError(
                f"n_steps must be >= {self.latest_end(self.ts_max)} (the latest go time plus "
                f"max(go_steps, tolerance + 1)), got {self.n_steps}"
            )
        if self.extrapolation_ts_max <= self.ts_max or self.extrapolation_ts_step < 1:
            raise ValueError("need extrapolation_ts_max > ts_max and extrapolation_ts_step >= 1")
        if not self.breakdown_tolerance > 0:
            raise ValueError(f"breakdown_tolerance must be > 0, got {self.breakdown_tolerance}")

    def latest_end(self, ts: int) -> int:
        """Steps a trial with interval ``ts`` needs to be scored."""
        return self.ready_onset + 2 * ts + max(self.go_steps, self.tolerance + 1)


@TASKS.register("time_reproduction")
class TimeReproduction(Task):
    """Ready and Set pulses ts apart; the output must go ts after Set.

    Inputs: channel 0 Ready, channel 1 Set (both noisy). Output: 0 before the go time,
    1 from it (see ``target_shape``); mask all ones. Performance: the produced interval
    is within ± ``tolerance`` steps of ts. Conditions: ``ts``.
    """

    name = "time_reproduction"
    performance_name = "fraction of produced intervals within tolerance"
    Params = TimeReproductionParams
    params: TimeReproductionParams

    @property
    def n_inputs(self) -> int:
        return 2

    @property
    def n_outputs(self) -> int:
        return 1

    def trials(self, ts: torch.Tensor, n_steps: int) -> TrialBatch:
        """Noise-free trials of the given intervals (a tensor of length batch)."""
        p = self.params
        ts = ts.long().unsqueeze(1)
        steps = torch.arange(n_steps).unsqueeze(0)
        set_onset = p.ready_onset + ts
        go = set_onset + ts
        ready_on = (steps >= p.ready_onset) & (steps < p.ready_onset + p.pulse_steps)
        set_on = (steps >= set_onset) & (steps < set_onset + p.pulse_steps)
        inputs = torch.stack([ready_on.expand_as(set_on), set_on], dim=-1).float()
        going = steps >= go
        if p.target_shape == "pulse":
            going &= steps < go + p.go_steps
        targets = going.float().unsqueeze(-1)
        mask = torch.ones(len(ts), n_steps)
        conditions = {"ts": ts[:, 0].numpy().astype(np.int64)}
        return TrialBatch(inputs * p.pulse_amplitude, targets, mask, conditions)

    def generate(self, batch_size: int, generator: torch.Generator, noise: float) -> TrialBatch:
        p = self.params
        ts = torch.randint(p.ts_min, p.ts_max + 1, (batch_size,), generator=generator)
        batch = self.trials(ts, p.n_steps)
        batch.inputs = add_input_noise(batch.inputs, slice(None), noise, generator)
        return batch

    def probe_set(self) -> TrialBatch:
        """Every ts in ``ts_min .. ts_max``, noise-free."""
        p = self.params
        return self.trials(torch.arange(p.ts_min, p.ts_max + 1), p.n_steps)

    def extrapolation_set(self) -> TrialBatch:
        """ts from ``ts_max + extrapolation_ts_step`` to ``extrapolation_ts_max``, noise-free.

        Trials are 2 (extrapolation_ts_max - ts_max) steps longer than training trials.
        """
        p = self.params
        step = p.extrapolation_ts_step
        ts = torch.arange(p.ts_max + step, p.extrapolation_ts_max + 1, step)
        n_steps = p.n_steps + 2 * (int(ts.max()) - p.ts_max)
        return self.trials(ts, n_steps)

    def profile_set(self) -> TrialBatch:
        """ts from ``ts_min`` to ``extrapolation_ts_max`` (every ``extrapolation_ts_step``),
        noise-free, as long as the longest needs."""
        p = self.params
        ts = torch.arange(p.ts_min, p.extrapolation_ts_max + 1, p.extrapolation_ts_step)
        return self.trials(ts, p.n_steps + 2 * (int(ts.max()) - p.ts_max))

    def extrapolation_profile(self, outputs: torch.Tensor, batch: TrialBatch) -> xr.Dataset:
        """The produced interval per demanded ts, inside and beyond the training range.

        Profile: twice the produced / demanded interval, clipped to [0, 6], 0 where the
        output never goes (so that an error of half the demanded interval is a
        difference of 1, as a flipped choice is in the decision tasks). Features: the
        least-squares slope of produced against demanded interval
        over the answered ts beyond ``ts_max``; the first ts beyond ``ts_max`` whose
        relative error exceeds ``breakdown_tolerance`` or that gets no response
        (``extrapolation_ts_max + extrapolation_ts_step`` if none); the fraction of the
        ts beyond ``ts_max`` answered at all.
        """
        p = self.params
        ts = batch.conditions["ts"].astype(np.float64)
        produced = self.produced_interval(outputs, batch).double().numpy()
        inside = ts <= p.ts_max
        beyond = ~inside
        ratio = np.clip(np.nan_to_num(2 * produced / ts, nan=0.0), 0.0, 6.0)
        broken = beyond & (
            ~np.isfinite(produced) | (np.abs(produced - ts) / ts > p.breakdown_tolerance)
        )
        breakdown = (
            ts[broken].min() if broken.any() else p.extrapolation_ts_max + p.extrapolation_ts_step
        )
        return profile_dataset(
            batch,
            inside,
            ratio,
            "2 × produced / demanded interval, clipped to [0, 6]; 0: no response (an error "
            "of half the interval differs by 1)",
            {"produced_interval": (produced, "produced interval (NaN: no response)", "steps")},
            {
                "slope": (
                    slope(ts[beyond], produced[beyond]),
                    "slope of produced vs demanded interval beyond the training range",
                    "1",
                ),
                "breakdown_ts": (
                    breakdown,
                    f"first demanded interval beyond the training range with a relative "
                    f"error > {p.breakdown_tolerance:g} or no response",
                    "steps",
                ),
                "fraction_answered": (
                    float(np.isfinite(produced[beyond]).mean()),
                    "fraction of the intervals beyond the training range answered",
                    "1",
                ),
            },
        )

    def input_pulses(self) -> InputPulses:
        """The ready pulse on channel 0 and the set pulse on channel 1."""
        return InputPulses.one_per_channel(
            ["ready", "set"], self.params.pulse_amplitude, self.params.pulse_steps
        )

    def static_inputs(self) -> StaticInputs:
        """Zero input, then (``static_pulses``) the Ready and the Set level held."""
        return self.input_pulses().held(self.params.static_pulses)

    def intervals(self, batch: TrialBatch) -> tuple[torch.Tensor, torch.Tensor]:
        """(ts, Set onset) of each trial [..., batch], read from the go time of its target."""
        target = batch.targets[..., 0] >= 0.5
        go = target.float().argmax(dim=-1)
        set_onset = torch.div(go + self.params.ready_onset, 2, rounding_mode="floor")
        return go - set_onset, set_onset

    def produced_interval(self, outputs: torch.Tensor, batch: TrialBatch) -> torch.Tensor:
        """Steps from Set's onset to the first output >= ``go_threshold`` at or after it.

        ``outputs`` is [..., batch, time, n_out]; returns float [..., batch], NaN where
        the output never goes.
        """
        _, set_onset = self.intervals(batch)
        set_onset = set_onset.to(outputs.device)
        steps = torch.arange(outputs.shape[-2], device=outputs.device)
        going = (outputs[..., 0] >= self.params.go_threshold) & (steps >= set_onset[..., None])
        first = going.float().argmax(dim=-1)
        produced = (first - set_onset).to(outputs.dtype)
        return torch.where(going.any(dim=-1), produced, torch.nan)

    def score(self, outputs: torch.Tensor, batch: TrialBatch) -> torch.Tensor:
        """1 where the produced interval is within ± ``tolerance`` steps of ts."""
        ts, _ = self.intervals(batch)
        error = (self.produced_interval(outputs, batch) - ts.to(outputs.device)).abs()
        return (error <= self.params.tolerance).to(outputs.dtype)
