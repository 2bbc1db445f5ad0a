"""The task concept: seeded, vectorised trial generation plus everything analyses need."""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, ClassVar

import numpy as np
import torch
import xarray as xr

from rnn_analysis.hyperparameters import Hyperparameters


@dataclass
class TrialBatch:
    """A batch of trials.

    Attributes
    ----------
    inputs : [batch, time, n_in] float tensor
    targets : [batch, time, n_out] float tensor
    mask : [batch, time] float tensor, 1 where the loss counts
    conditions : per-trial labels, each a numpy array of length ``batch``
    """

    inputs: torch.Tensor
    targets: torch.Tensor
    mask: torch.Tensor
    conditions: dict[str, np.ndarray] = field(default_factory=dict)

    @property
    def batch_size(self) -> int:
        return self.inputs.shape[0]

    @property
    def n_steps(self) -> int:
        return self.inputs.shape[1]

    def to(self, device: torch.device | str) -> TrialBatch:
        return dataclasses.replace(
            self,
            inputs=self.inputs.to(device),
            targets=self.targets.to(device),
            mask=self.mask.to(device),
        )


@dataclass
class StaticInputs:
    """Constant inputs under which fixed points are searched.

    Attributes
    ----------
    values : [n_conditions, n_in] tensor
    labels : per-condition labels (e.g. ``{"level": ...}``), each of length n_conditions
    """

    values: torch.Tensor
    labels: dict[str, np.ndarray] = field(default_factory=dict)


@dataclass
class InputPulses:
    """The brief input events of a task, for the transition graphs of the analysis.

    Pulse ``k`` adds ``values[k]`` to the input (on top of a static input, zero by
    default) for ``steps[k]`` time steps; afterwards the input returns to the static
    input and the state is left to settle.

    Attributes
    ----------
    values : [n_pulses, n_in] tensor
    steps : [n_pulses] integer array, the duration of each pulse in time steps
    labels : per-pulse labels (e.g. ``{"pulse": ["+1 on channel 0", ...]}``)
    """

    values: torch.Tensor
    steps: np.ndarray
    labels: dict[str, np.ndarray] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.steps = np.asarray(self.steps, dtype=np.int64)
        if self.values.dim() != 2 or len(self.steps) != self.values.shape[0]:
            raise ValueError("InputPulses needs values [n_pulses, n_in] and one duration each")
        if (self.steps < 1).any():
            raise ValueError("every pulse lasts at least one step")

    @classmethod
    def one_per_channel(cls, names: list[str], amplitude: float, steps: int) -> InputPulses:
        """A pulse of ``amplitude`` on each channel in turn, named ``names[channel]``."""
        n = len(names)
        return cls(
            amplitude * torch.eye(n),
            np.full(n, steps),
            {"pulse": np.array(names), "pulse_channel": np.arange(n)},
        )

    def held(self, include: bool = True) -> StaticInputs:
        """Zero input, then (``include``) each pulse's input held, as static inputs."""
        values = torch.cat([torch.zeros(1, self.values.shape[1]), self.values])
        names = np.concatenate([["zero"], self.names])
        levels = np.concatenate([[0.0], self.values.abs().amax(dim=1).double().numpy()])
        n = len(names) if include else 1
        return StaticInputs(values[:n], {"input": names[:n], "level": levels[:n]})

    @property
    def names(self) -> np.ndarray:
        """One readable name per pulse (the ``pulse`` label, or its index)."""
        if "pulse" in self.labels:
            return np.asarray(self.labels["pulse"]).astype(str)
        return np.array([f"pulse{k}" for k in range(len(self.steps))])


class Task:
    """Base class of every task.

    Subclasses set ``name``, a ``Params`` dataclass holding every hyperparameter with
    its default (the studies' figures), ``n_inputs`` / ``n_outputs``, and implement
    :meth:`generate`, :meth:`probe_set`, :meth:`static_inputs` and :meth:`score`.
    """

    name: ClassVar[str]
    performance_name: ClassVar[str] = "accuracy"
    Params: ClassVar[type[Hyperparameters]]
    #: The task's own defaults of the stop criterion
    #: (:class:`~rnn_analysis.training.stopping.StoppingParams` keys); the config's
    #: ``training.stopping`` and ``training.stopping_by_task`` override them. Each task's
    #: module says which criterion its defaults use and why.
    stopping_defaults: ClassVar[Mapping[str, Any]] = {}

    def __init__(self, params: Hyperparameters | None = None, **overrides: Any) -> None:
        self.params = params if params is not None else self.Params(**overrides)

    @property
    def n_inputs(self) -> int:
        raise NotImplementedError

    @property
    def n_outputs(self) -> int:
        raise NotImplementedError

    @property
    def stimulus_channels(self) -> slice:
        """The input channels that carry input noise (all of them unless a task says so)."""
        return slice(None)

    def generate(self, batch_size: int, generator: torch.Generator, noise: float) -> TrialBatch:
        """Draw ``batch_size`` trials with input noise of standard deviation ``noise``."""
        raise NotImplementedError

    def probe_set(self) -> TrialBatch:
        """The fixed, noise-free conditions whose trajectories are compared across networks."""
        raise NotImplementedError

    def static_inputs(self) -> StaticInputs:
        """Constant inputs under which fixed points are searched."""
        raise NotImplementedError

    def score(self, outputs: torch.Tensor, batch: TrialBatch) -> torch.Tensor:
        """Per-trial performance in [0, 1]; ``outputs`` is [..., batch, time, n_out]."""
        raise NotImplementedError

    def extrapolation_set(self) -> TrialBatch | None:
        """Noise-free conditions outside the training range, where the study had them."""
        return None

    def profile_set(self) -> TrialBatch | None:
        """Noise-free conditions of the extrapolation profile, inside and beyond the
        training range (None: the task has no profile)."""
        return None

    def extrapolation_profile(self, outputs: torch.Tensor, batch: TrialBatch) -> xr.Dataset:
        """One network's behaviour on :meth:`profile_set` (``outputs`` [batch, time,
        n_out]), as built by :func:`rnn_analysis.tasks.extrapolation.profile_dataset`."""
        raise NotImplementedError(f"task {self.name!r} has no extrapolation profile")

    def psychometric_set(self) -> TrialBatch | None:
        """Noise-free conditions of a psychometric curve, for decision tasks."""
        return None

    #: Units of :meth:`psychometric_evidence` (the bias of a psychometric fit has them).
    psychometric_evidence_units: ClassVar[str] = "1"
    #: The condition label of :meth:`psychometric_set` whose groups (a context, a
    #: modality) get psychometric fits of their own besides the pooled one; None: no groups.
    psychometric_group: ClassVar[str | None] = None

    def psychometric_evidence(self, conditions: Mapping[str, np.ndarray]) -> np.ndarray | None:
        """The signed evidence for the positive choice at each psychometric condition.

        The x of a psychometric fit (:mod:`rnn_analysis.analysis.psychometric_fit`): 0 where
        both choices are equally right, positive where the positive choice is.

        Parameters
        ----------
        conditions : mapping of str to numpy.ndarray
            The condition labels of :meth:`psychometric_set`, one value per condition.

        Returns
        -------
        numpy.ndarray or None
            One value per condition; None (the default) where the task declares none.
        """
        return None

    def input_pulses(self) -> InputPulses | None:
        """The task's brief input events (None for tasks whose inputs are all static)."""
        return None

    #: The task's known results (docs/science.md §7): name → what a network must show. Each is
    #: checked per analysed network by :meth:`known_results`, becomes a ``known_<name>``
    #: column of the task's summary, and is reported as a population rate.
    known_result_descriptions: ClassVar[Mapping[str, str]] = {}

    def known_results(self, analysis: xr.Dataset) -> dict[str, bool]:
        """Whether one analysed network shows each known result of the task.

        ``analysis`` is the network's analysis dataset; a network whose analysis was
        skipped shows none. Keys are those of :attr:`known_result_descriptions`.
        """
        return {}

    @property
    def success_threshold(self) -> float:
        """Performance at or above which a network solves the task."""
        return float(self.params.success_threshold)  # type: ignore[attr-defined]


def add_input_noise(
    inputs: torch.Tensor, channels: slice | list[int], noise: float, generator: torch.Generator
) -> torch.Tensor:
    """Add i.i.d. Gaussian noise of std ``noise`` to the stimulus ``channels`` at every step."""
    if noise < 0:
        raise ValueError(f"input noise must be >= 0, got {noise}")
    if noise == 0:
        return inputs
    stim = inputs[..., channels]
    eps = torch.randn(stim.shape, generator=generator, dtype=inputs.dtype)
    inputs = inputs.clone()
    inputs[..., channels] = stim + noise * eps
    return inputs
