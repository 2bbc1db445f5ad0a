"""The architecture concept: an ensemble of recurrent networks behind one step ``F(h, u)``.

Every architecture holds the parameters of ``n_networks`` networks of identical
shapes stacked along a leading ensemble dimension, so that one call advances all
of them. States are flat vectors (an LSTM's state is ``[h; c]``). Analyses only call
:meth:`Architecture.step`, :meth:`Architecture.hidden`, :meth:`Architecture.readout` and
:meth:`Architecture.fixed_point_residual`, so they work for every architecture.

Shapes: ``h`` is ``[E, B, n_state]`` and ``u`` is ``[E, B, n_in]`` (``E`` networks,
``B`` trials or points per network).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, ClassVar, Literal

import torch
from torch import nn

from rnn_analysis.hyperparameters import Hyperparameters


@dataclass(frozen=True)
class ArchitectureParams(Hyperparameters):
    """Hyperparameters shared by every architecture.

    Attributes
    ----------
    hidden_size : int, default 64
        Number of units.
    recurrent_gain : float, default 1.0
        g in the recurrent weights' initial standard deviation.
    recurrent_scaling : {"sqrt", "linear"}, default "sqrt"
        Initial recurrent std is g/sqrt(N) ("sqrt") or g/N ("linear", the very weak
        initialisation of the learning-rules study).
    input_gain : float, default 1.0
        Input weights start with std ``input_gain / sqrt(n_in)``.
    readout_gain : float, default 1.0
        Readout weights start with std ``readout_gain / sqrt(N)``.
    """

    hidden_size: int = 64
    recurrent_gain: float = 1.0
    recurrent_scaling: Literal["sqrt", "linear"] = "sqrt"
    input_gain: float = 1.0
    readout_gain: float = 1.0

    def __post_init__(self) -> None:
        if self.hidden_size < 1:
            raise ValueError(f"hidden_size must be >= 1, got {self.hidden_size}")

    @property
    def recurrent_std(self) -> float:
        n = self.hidden_size
        return self.recurrent_gain / (math.sqrt(n) if self.recurrent_scaling == "sqrt" else n)


def bmm_bias(x: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor | None) -> torch.Tensor:
    """``x @ weight + bias`` per network: x [E, B, i], weight [E, i, o], bias [E, o]."""
    if bias is None:
        return torch.bmm(x, weight)
    return torch.baddbmm(bias.unsqueeze(1), x, weight)


class Architecture(nn.Module):
    """An ensemble of ``n_networks`` recurrent networks with stacked parameters.

    Parameters are created network by network from each network's own generator, so
    that an ensemble starts exactly where the same networks trained alone start. Given
    a count instead of generators, the ensemble starts with all parameters zero (a
    container for parameters loaded or set later, e.g. a genetic algorithm's population).
    """

    name: ClassVar[str]
    Params: ClassVar[type[ArchitectureParams]] = ArchitectureParams
    #: Names of the recurrent weight parameters (those a rule may train alone).
    recurrent_parameters: ClassVar[tuple[str, ...]] = ("weight_hh",)

    def __init__(
        self,
        n_inputs: int,
        n_outputs: int,
        params: ArchitectureParams,
        generators: Sequence[torch.Generator] | int,
    ) -> None:
        super().__init__()
        self.n_inputs = n_inputs
        self.n_outputs = n_outputs
        self.params = params
        blank = isinstance(generators, int)
        self.n_networks = generators if blank else len(generators)
        if self.n_networks < 1:
            raise ValueError("an ensemble needs at least one network")
        shapes = self.parameter_shapes()
        for name, (shape, init) in shapes.items():
            if blank:
                values = torch.zeros(self.n_networks, *shape)
            else:
                values = torch.stack([init(shape, g) for g in generators])
            self.register_parameter(name, nn.Parameter(values))

    # -- what subclasses define -------------------------------------------------
    def parameter_shapes(self) -> dict[str, tuple[tuple[int, ...], Any]]:
        """Name → (per-network shape, init(shape, generator) -> tensor)."""
        raise NotImplementedError

    @property
    def n_state(self) -> int:
        return self.params.hidden_size

    def step(self, h: torch.Tensor, u: torch.Tensor) -> torch.Tensor:
        """One update ``h_next = F(h, u)``."""
        raise NotImplementedError

    def hidden(self, h: torch.Tensor) -> torch.Tensor:
        """The unit activity that the readout sees and that analyses compare."""
        return h

    @property
    def euler_alpha(self) -> float | None:
        """α = dt/τ where :meth:`step` is the Euler step of a continuous-time system.

        Such a step is ``F(h, u) = h + α f(h, u)`` for a flow ``dh/dt = f(h, u)`` (time in
        units of τ), so ``dF/dh = I + α df/dh`` and each eigenvalue of the map is
        ``1 + α λ`` for an eigenvalue λ of the flow's Jacobian. None (the default) for
        architectures that are discrete-time maps.
        """
        return None

    def fixed_point_residual(self, h: torch.Tensor, u: torch.Tensor) -> torch.Tensor:
        """A residual ``R(h, u)`` [E, B, n_state] whose zeros are the fixed points of F.

        ``R = D(h, u) (F(h, u) − h)`` for a diagonal ``D`` with positive entries, chosen
        so that ``R`` cannot vanish where ``F(h, u) − h`` only does because a gate
        saturates (a GRU's update gate at 1 makes ``F(h) − h`` round to 0 at any h).
        Fixed-point verification solves ``R = 0``. The default is ``F(h, u) − h``
        (``D = I``), right for architectures without a gate on the state's own update.
        """
        return self.step(h, u) - h

    # -- shared -------------------------------------------------------------------
    @property
    def hidden_size(self) -> int:
        return self.params.hidden_size

    def readout(self, h: torch.Tensor) -> torch.Tensor:
        """Linear readout of :meth:`hidden`, [E, B, n_out]."""
        return bmm_bias(self.hidden(h), self.weight_out, self.bias_out)

    def readout_shapes(self) -> dict[str, tuple[tuple[int, ...], Any]]:
        n, o = self.hidden_size, self.n_outputs
        return {
            "weight_out": ((n, o), normal(self.params.readout_gain / math.sqrt(n))),
            "bias_out": ((o,), zeros),
        }

    def initial_state(self, batch_size: int) -> torch.Tensor:
        device = self.weight_out.device
        return torch.zeros(self.n_networks, batch_size, self.n_state, device=device)

    def run(self, inputs: torch.Tensor, h0: torch.Tensor | None = None) -> torch.Tensor:
        """States over a trial: inputs [E, B, T, n_in] → states [E, B, T, n_state]."""
        h = self.initial_state(inputs.shape[1]) if h0 is None else h0
        states = []
        for t in range(inputs.shape[2]):
            h = self.step(h, inputs[:, :, t])
            states.append(h)
        return torch.stack(states, dim=2)

    def forward(self, inputs: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """(states [E, B, T, S], outputs [E, B, T, n_out]) for inputs [E, B, T, n_in]."""
        states = self.run(inputs)
        e, b, t, s = states.shape
        outputs = self.readout(states.reshape(e, b * t, s)).reshape(e, b, t, -1)
        return states, outputs

    def network_state_dict(self, index: int) -> dict[str, torch.Tensor]:
        """Parameters of one network of the ensemble, detached and on the CPU."""
        return {name: p.detach()[index].cpu().clone() for name, p in self.named_parameters()}

    def blank_like(self, n_networks: int) -> Architecture:
        """An ensemble of ``n_networks`` zero networks of this class, shape and device."""
        other = type(self)(self.n_inputs, self.n_outputs, self.params, n_networks)
        return other.to(self.weight_out.device)

    def load_networks(self, state_dicts: Sequence[dict[str, torch.Tensor]]) -> None:
        """Set the ensemble's parameters from one state dict per network."""
        if len(state_dicts) != self.n_networks:
            raise ValueError(f"expected {self.n_networks} state dicts, got {len(state_dicts)}")
        with torch.no_grad():
            for name, p in self.named_parameters():
                p.copy_(torch.stack([sd[name] for sd in state_dicts]).to(p))


def normal(std: float):
    """Initialiser drawing N(0, std²) entries from the network's generator."""

    def init(shape: tuple[int, ...], generator: torch.Generator) -> torch.Tensor:
        return torch.randn(shape, generator=generator) * std

    return init


def zeros(shape: tuple[int, ...], generator: torch.Generator) -> torch.Tensor:
    return torch.zeros(shape)


def constant(value: float):
    def init(shape: tuple[int, ...], generator: torch.Generator) -> torch.Tensor:
        return torch.full(shape, float(value))

    return init
