"""Hand-built dynamical systems with known attractors, for the attractor-structure tests."""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import torch

from rnn_analysis.analysis.fixed_points import FixedPointParams
from rnn_analysis.architectures.base import Architecture, ArchitectureParams
from rnn_analysis.tasks.base import StaticInputs

FAST = FixedPointParams(n_initial_states=128)


def zeros_init(shape: tuple[int, ...], generator: torch.Generator) -> torch.Tensor:
    return torch.zeros(shape)


def constant_init(value: float) -> Any:
    return lambda shape, generator: torch.full(shape, value)


class Linear(Architecture):
    """h' = A h + B u: a linear network whose weights are set by hand."""

    name = "linear"

    def parameter_shapes(self) -> dict[str, Any]:
        n, i = self.hidden_size, self.n_inputs
        return {
            "weight_hh": ((n, n), zeros_init),
            "weight_ih": ((i, n), zeros_init),
            **self.readout_shapes(),
        }

    def step(self, h: torch.Tensor, u: torch.Tensor) -> torch.Tensor:
        return torch.bmm(h, self.weight_hh) + torch.bmm(u, self.weight_ih)


class Arc(Architecture):
    """Three units whose fixed points form an arc of the unit circle (a curved line).

    In the plane of the first two units, in polar coordinates, ``r' = r + ½ (1 − r)``
    and ``θ' = θ − ½ (θ − clip(θ, −a, a))`` with ``a = u₀``; the third unit decays,
    ``z' = ½ z``. Every point of the unit circle with ``|θ| ≤ a`` and ``z = 0`` is fixed,
    with eigenvalue 1 along the circle's tangent and ½ across.
    """

    name = "arc"

    def parameter_shapes(self) -> dict[str, Any]:
        return self.readout_shapes()

    def step(self, h: torch.Tensor, u: torch.Tensor) -> torch.Tensor:
        x, y, z = h[..., :1], h[..., 1:2], h[..., 2:3]
        half_angle = u[..., :1]
        r = torch.sqrt(x * x + y * y)
        theta = torch.atan2(y, x)
        theta = theta - 0.5 * (theta - torch.minimum(torch.maximum(theta, -half_angle), half_angle))
        r = r + 0.5 * (1.0 - r)
        return torch.cat([r * torch.cos(theta), r * torch.sin(theta), 0.5 * z], dim=-1)


class Oscillator(Architecture):
    """A 2-unit oscillator: rotation by ``θ + shear |h|²`` per step, radius pulled to √μ.

    ``h' = (1 + gain (μ − |h|²)) R(θ + shear |h|²) h`` with ``θ = u₀`` and ``μ = u₁``.
    For μ > 0 the origin is unstable, with eigenvalues ``(1 + gain μ) e^{±iθ}``, and the
    circle ``|h|² = μ`` is a limit cycle rotating by ``θ + shear μ`` per step: the cubic
    term shifts the cycle's frequency from the linear rotation by ``shear μ``. For μ < 0
    the origin is a stable focus.
    """

    name = "oscillator"
    shear = 0.0

    def parameter_shapes(self) -> dict[str, Any]:
        return {"gain": ((1,), constant_init(0.2)), **self.readout_shapes()}

    def rotate(self, h: torch.Tensor, u: torch.Tensor) -> torch.Tensor:
        theta, mu = u[..., :1], u[..., 1:2]
        x, y = h[..., :1], h[..., 1:2]
        squared = x * x + y * y
        radial = 1 + self.gain[:, None, :] * (mu - squared)
        angle = theta + self.shear * squared
        c, s = torch.cos(angle), torch.sin(angle)
        return radial * torch.cat([c * x - s * y, s * x + c * y], dim=-1)

    def step(self, h: torch.Tensor, u: torch.Tensor) -> torch.Tensor:
        return self.rotate(h, u)


class ShearOscillator(Oscillator):
    """:class:`Oscillator` with ``shear = 0.05`` and a third unit ``z`` with fixed points
    at 0 (stable), 2 (unstable) and 4 (stable), ``z' = z − 0.5 z (z − 2)(z − 4) / 8``;
    the plane oscillates only near ``z = 0`` (μ is replaced by ``μ − z²``), so that the
    fixed points at ``z = 2`` and ``z = 4`` lie off the limit cycle's centre."""

    name = "shear_oscillator"
    shear = 0.05

    def step(self, h: torch.Tensor, u: torch.Tensor) -> torch.Tensor:
        z = h[..., 2:3]
        damped = torch.cat([u[..., :1], u[..., 1:2] - z * z], dim=-1)
        plane = self.rotate(h[..., :2], damped)
        return torch.cat([plane, z - 0.5 * z * (z - 2.0) * (z - 4.0) / 8.0], dim=-1)


def linear_network(matrix: np.ndarray, input_weights: np.ndarray | None = None) -> Linear:
    n = matrix.shape[0]
    n_in = 1 if input_weights is None else input_weights.shape[0]
    model = Linear(n_in, 1, ArchitectureParams(hidden_size=n), [torch.Generator()])
    with torch.no_grad():
        model.weight_hh.copy_(torch.as_tensor(matrix.T)[None])
        if input_weights is not None:
            model.weight_ih.copy_(torch.as_tensor(input_weights)[None])
    return model


def line_network(direction: np.ndarray, decay: float = 0.5) -> Linear:
    """h' = A h with eigenvalue 1 along ``direction`` and ``decay`` across it."""
    d = direction / np.linalg.norm(direction)
    n = len(d)
    model = linear_network(decay * np.eye(n) + (1 - decay) * np.outer(d, d))
    with torch.no_grad():  # the output reads the position along the line
        model.weight_out.copy_(torch.as_tensor(d, dtype=model.weight_out.dtype)[None, :, None])
    return model


def uniform_probe(n_units: int, half_width: float = 1.0, seed: int = 1) -> torch.Tensor:
    """Probe 'trajectories' covering [-half_width, half_width]^n_units, [1, 8, 64, n]."""
    g = torch.Generator().manual_seed(seed)
    return (torch.rand(1, 8, 64, n_units, generator=g) * 2 - 1) * half_width


def static(values: list[list[float]], **labels: Any) -> StaticInputs:
    return StaticInputs(
        torch.tensor(values, dtype=torch.float64),
        {k: np.asarray(v) for k, v in labels.items()},
    )


def oscillator(cls: type[Oscillator] = Oscillator, n_units: int = 2) -> Oscillator:
    return cls(2, 1, ArchitectureParams(hidden_size=n_units), [torch.Generator()])


def arc_network() -> Arc:
    return Arc(1, 1, ArchitectureParams(hidden_size=3), [torch.Generator()])


TWO_PI = 2 * math.pi
