"""Context-dependent integration with N contexts, and random-dots decision (its N = 1 case).

The learning-rules study's version (McMahan, Kleinman & Kao 2021): every sensory channel
carries a constant mean of the same magnitude ``|m| ~ U(0, max_coherence)`` with its own
random sign plus input noise, for the whole trial; a one-hot context input, also present
for the whole trial, cues which channel to integrate. The output must report the sign of
the cued channel's mean at the last step.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, ClassVar, Literal

import numpy as np
import torch
import xarray as xr

from rnn_analysis.hyperparameters import Hyperparameters
from rnn_analysis.tasks.base import StaticInputs, Task, TrialBatch, add_input_noise
from rnn_analysis.tasks.registry import TASKS

MAX_CONTEXTS = 6


@dataclass(frozen=True)
class IntegrationParams(Hyperparameters):
    """Hyperparameters shared by :class:`CDIParams` and :class:`RDMParams`.

    Attributes
    ----------
    n_steps : int, default 750
        Trial length in time steps; stimulus (and context) are on for all of them.
    max_coherence : float, default 0.1857
        Upper bound of the shared magnitude ``|m| ~ U(0, max_coherence)``.
    probe_levels : int, default 10
        Number of signed coherences of the probe set (per context), evenly spaced in
        ``±max_coherence`` (even, so that 0 is not among them).
    psychometric_coherences : tuple of float, default (0.018, 0.072, 0.18, 0.3)
        Unsigned coherences of the psychometric set; each is used with both signs.
    fixed_point_levels : int, default 21
        Number of static sensory levels under which fixed points are searched.
    fixed_point_range : float, default 0.02
        The static levels are evenly spaced in ``±fixed_point_range``.
    success_threshold : float, default 0.9
        Decision accuracy at which a network solves the task.
    """

    n_steps: int = 750
    max_coherence: float = 0.1857
    probe_levels: int = 10
    psychometric_coherences: tuple[float, ...] = (0.018, 0.072, 0.18, 0.3)
    fixed_point_levels: int = 21
    fixed_point_range: float = 0.02
    success_threshold: float = 0.9

    def __post_init__(self) -> None:
        if self.n_steps < 2:
            raise ValueError(f"n_steps must be >= 2, got {self.n_steps}")
        if self.max_coherence <= 0:
            raise ValueError(f"max_coherence must be > 0, got {self.max_coherence}")
        if self.probe_levels < 2 or self.probe_levels % 2:
            raise ValueError(f"probe_levels must be even and >= 2, got {self.probe_levels}")
        if not self.psychometric_coherences or min(self.psychometric_coherences) <= 0:
            raise ValueError("psychometric_coherences must be a non-empty list of values > 0")
        if self.fixed_point_levels < 1 or self.fixed_point_range < 0:
            raise ValueError("fixed_point_levels must be >= 1 and fixed_point_range >= 0")


@dataclass(frozen=True)
class CDIParams(IntegrationParams):
    """Hyperparameters of context-dependent integration; defaults are the learning-rules study's.

    Attributes
    ----------
    n_contexts : int, default 2
        N, the number of sensory channels and of one-hot context channels (1..6).
    n_steps : int, default 750
        Trial length in time steps; stimulus and context are on for all of them.
    max_coherence : float, default 0.1857
        Upper bound of the shared magnitude ``|m| ~ U(0, max_coherence)``.
    probe_levels : int, default 10
        Number of signed coherences of the cued channel in the probe set (per context),
        evenly spaced in ``±max_coherence`` (even, so that 0 is not among them).
    psychometric_coherences : tuple of float, default (0.018, 0.072, 0.18, 0.3)
        Unsigned coherences of the cued channel in the psychometric set; each is used
        with both signs in every context.
    uncued_pattern : {"opposite", "same", "zero"}, default "opposite"
        What the uncued sensory channels carry in the probe and psychometric sets: the
        negated cued coherence (evidence against the cued choice, so that only the
        context decides the answer), the cued coherence itself, or nothing.
    fixed_point_levels : int, default 21
        Number of static levels of the cued channel, per context, under which fixed
        points are searched (other sensory channels 0, that context's input on).
    fixed_point_range : float, default 0.02
        The static levels are evenly spaced in ``±fixed_point_range``.
    success_threshold : float, default 0.9
        Decision accuracy at which a network solves the task.
    """

    n_contexts: int = 2
    uncued_pattern: Literal["opposite", "same", "zero"] = "opposite"

    def __post_init__(self) -> None:
        super().__post_init__()
        if not 1 <= self.n_contexts <= MAX_CONTEXTS:
            raise ValueError(f"n_contexts must be in 1..{MAX_CONTEXTS}, got {self.n_contexts}")


@dataclass(frozen=True)
class RDMParams(IntegrationParams):
    """Hyperparameters of the random-dots decision; defaults are the learning-rules study's.

    Attributes
    ----------
    n_steps : int, default 750
        Trial length in time steps; the stimulus is on for all of them.
    max_coherence : float, default 0.1857
        Upper bound of the magnitude ``|m| ~ U(0, max_coherence)``.
    probe_levels : int, default 10
        Number of signed coherences of the probe set, evenly spaced in
        ``±max_coherence`` (even, so that 0 is not among them).
    psychometric_coherences : tuple of float, default (0.018, 0.072, 0.18, 0.3)
        Unsigned coherences of the psychometric set; each is used with both signs.
    fixed_point_levels : int, default 21
        Number of static input levels under which fixed points are searched.
    fixed_point_range : float, default 0.03
        The static levels are evenly spaced in ``±fixed_point_range``.
    success_threshold : float, default 0.9
        Decision accuracy at which a network solves the task.
    """

    fixed_point_range: float = 0.03


@TASKS.register("cdi")
class CDI(Task):
    """Integrate the cued one of N noisy channels and report the sign of its mean.

    Inputs: N sensory channels (constant means ``s_k |m|`` with independent signs
    ``s_k`` and a magnitude ``|m|`` shared by all channels, plus noise) followed by N
    one-hot context channels. The single output's target is ``s_c`` (the cued channel's
    sign) at the last step and 0 elsewhere; the loss covers the first step (target 0)
    and the last step. Performance: the sign of the output at the last step equals the
    target. Known result: an approximate line attractor per context.
    """

    name = "cdi"
    Params = CDIParams
    params: IntegrationParams
    context_inputs: ClassVar[bool] = True
    #: Training criterion: the learning-rules study's (the last 10 validation accuracies
    #: ≥ 0.9), then trained on for as many updates again (``extra_fraction`` 1). A network
    #: that has only just crossed 0.9 may still be a leaky integrator or a pair of
    #: attractors that commits early; whether integration is *required* is set by the
    #: noise and trial length (at noise 0.1 an early commitment passes, see
    #: docs/benchmarks.md).
    stopping_defaults: ClassVar[Mapping[str, Any]] = {"extra_fraction": 1.0}

    @property
    def n_contexts(self) -> int:
        return int(self.params.n_contexts)  # type: ignore[attr-defined]

    @property
    def n_inputs(self) -> int:
        return self.n_contexts * (2 if self.context_inputs else 1)

    @property
    def n_outputs(self) -> int:
        return 1

    @property
    def stimulus_channels(self) -> slice:
        """The N sensory channels (not the context inputs)."""
        return slice(0, self.n_contexts)

    def _trials(self, means: torch.Tensor, context: torch.Tensor) -> TrialBatch:
        """Noise-free trials from the channel means [B, N] and the cued context [B]."""
        p = self.params
        batch_size, n = means.shape
        stimulus = means
        if self.context_inputs:
            stimulus = torch.cat([means, torch.nn.functional.one_hot(context, n).float()], dim=1)
        inputs = stimulus.unsqueeze(1).expand(batch_size, p.n_steps, self.n_inputs).clone()
        coherence = means.gather(1, context.unsqueeze(1)).squeeze(1)
        choice = torch.where(coherence > 0, 1.0, -1.0)
        targets = torch.zeros(batch_size, p.n_steps, 1)
        targets[:, -1, 0] = choice
        mask = torch.zeros(batch_size, p.n_steps)
        mask[:, 0] = 1.0
        mask[:, -1] = 1.0
        conditions = {"coherence": coherence.double().numpy()}
        if self.context_inputs:
            conditions["context"] = context.numpy().astype(np.int64)
        return TrialBatch(inputs, targets, mask, conditions)

    def generate(self, batch_size: int, generator: torch.Generator, noise: float) -> TrialBatch:
        n = self.n_contexts
        magnitude = torch.rand(batch_size, 1, generator=generator) * self.params.max_coherence
        signs = torch.where(torch.rand(batch_size, n, generator=generator) < 0.5, -1.0, 1.0)
        context = torch.randint(n, (batch_size,), generator=generator)
        batch = self._trials(signs * magnitude, context)
        batch.inputs = add_input_noise(batch.inputs, self.stimulus_channels, noise, generator)
        return batch

    def _fixed_trials(self, coherences: np.ndarray) -> TrialBatch:
        """Noise-free trials: every signed cued ``coherence`` in every context."""
        n = self.n_contexts
        coh = torch.tensor(coherences, dtype=torch.float32)
        context = torch.arange(n).repeat_interleave(len(coh))
        cued = coh.repeat(n)
        pattern = getattr(self.params, "uncued_pattern", "zero")
        uncued = {"opposite": -cued, "same": cued, "zero": torch.zeros_like(cued)}[pattern]
        means = uncued.unsqueeze(1).repeat(1, n)
        means[torch.arange(len(cued)), context] = cued
        batch = self._trials(means, context)
        batch.conditions["coherence"] = np.tile(np.asarray(coherences, dtype=float), n)
        return batch

    def probe_set(self) -> TrialBatch:
        p = self.params
        levels = np.linspace(-p.max_coherence, p.max_coherence, p.probe_levels)
        return self._fixed_trials(levels)

    def psychometric_set(self) -> TrialBatch:
        unsigned = np.sort(np.asarray(self.params.psychometric_coherences, dtype=float))
        return self._fixed_trials(np.concatenate([-unsigned[::-1], unsigned]))

    #: One psychometric fit per context besides the pooled one.
    psychometric_group: ClassVar[str | None] = "context"

    def psychometric_evidence(self, conditions: Mapping[str, np.ndarray]) -> np.ndarray:
        """The cued channel's signed coherence (in every context the relevant one)."""
        return np.asarray(conditions["coherence"], dtype=float)

    def static_inputs(self) -> StaticInputs:
        p, n = self.params, self.n_contexts
        levels = np.linspace(-p.fixed_point_range, p.fixed_point_range, p.fixed_point_levels)
        if p.fixed_point_levels == 1:
            levels = np.zeros(1)
        levels = np.tile(levels, n)
        context = torch.arange(n).repeat_interleave(p.fixed_point_levels)
        values = torch.zeros(len(context), self.n_inputs)
        values[torch.arange(len(context)), context] = torch.tensor(levels, dtype=torch.float32)
        labels = {"level": levels}
        if self.context_inputs:
            values[torch.arange(len(context)), n + context] = 1.0
            labels["context"] = context.numpy().astype(np.int64)
        return StaticInputs(values, labels)

    def score(self, outputs: torch.Tensor, batch: TrialBatch) -> torch.Tensor:
        target = batch.targets.to(outputs.device)[..., -1, 0]
        return (torch.sign(outputs[..., -1, 0]) == target).to(outputs.dtype)

    known_result_descriptions: ClassVar[dict[str, str]] = {
        "line_attractor_every_context": "an approximate line attractor under the static "
        "inputs of every context (analysis.attractors: group_line_attractor)",
    }

    def known_results(self, analysis: xr.Dataset) -> dict[str, bool]:
        if not self.known_result_descriptions:
            return {}
        every = analysis.get("line_attractor_every_group")
        return {"line_attractor_every_context": bool(every) if every is not None else False}


@TASKS.register("rdm")
class RDM(CDI):
    """Random-dots perceptual decision: :class:`CDI` with one channel and no context input.

    Input: one noisy channel with constant mean ``m`` (``|m| ~ U(0, max_coherence)``,
    random sign). The output's target is sign(m) at the last step; the loss covers the
    first step (target 0) and the last step; performance is the sign of the output at
    the last step. Known result: the fixed-point topology depends on the input noise.
    """

    name = "rdm"
    Params = RDMParams
    context_inputs = False
    psychometric_group: ClassVar[str | None] = None
    #: Its fixed-point topology depends on the input noise: no yes/no known result.
    known_result_descriptions: ClassVar[dict[str, str]] = {}
    #: Training criterion: the learning-rules study's alone; at low noise and with a weak
    #: initialisation about half of all networks meet it untrained and end ``trivial``.
    stopping_defaults: ClassVar[Mapping[str, Any]] = {}

    @property
    def n_contexts(self) -> int:
        return 1
