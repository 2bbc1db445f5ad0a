"""Continuous-time rate network, Euler-discretised: x' = (1 − α) x + α (W φ(x) + U u + b)."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Literal

import torch

from rnn_analysis.architectures.base import (
    Architecture,
    ArchitectureParams,
    bmm_bias,
    normal,
    zeros,
)
from rnn_analysis.architectures.registry import ARCHITECTURES


@dataclass(frozen=True)
class RateParams(ArchitectureParams):
    """Rate-network hyperparameters; defaults are the learning-rules study's.

    Attributes
    ----------
    hidden_size : int, default 50
    recurrent_scaling : default "linear"
        Recurrent weights start with std g/N (a very weak initialisation).
    alpha : float, default 0.1
        dt/τ.
    activation : {"tanh", "shifted_tanh"}, default "tanh"
        φ(x) = tanh x, or 1 + tanh x as the study used for BPTT and GA.
    """

    hidden_size: int = 50
    recurrent_scaling: Literal["sqrt", "linear"] = "linear"
    alpha: float = 0.1
    activation: Literal["tanh", "shifted_tanh"] = "tanh"

    def __post_init__(self) -> None:
        super().__post_init__()
        if not 0 < self.alpha <= 1:
            raise ValueError(f"alpha must be in (0, 1], got {self.alpha}")


@ARCHITECTURES.register("rate")
class Rate(Architecture):
    name = "rate"
    Params = RateParams
    params: RateParams

    def parameter_shapes(self):
        n, i = self.hidden_size, self.n_inputs
        return {
            "weight_hh": ((n, n), normal(self.params.recurrent_std)),
            "weight_ih": ((i, n), normal(self.params.input_gain / math.sqrt(i))),
            "bias_h": ((n,), zeros),
            **self.readout_shapes(),
        }

    @property
    def euler_alpha(self) -> float:
        """α = dt/τ of the Euler step: the flow is dx/dt = −x + W φ(x) + U u + b."""
        return float(self.params.alpha)

    def hidden(self, h: torch.Tensor) -> torch.Tensor:
        rates = torch.tanh(h)
        return rates + 1.0 if self.params.activation == "shifted_tanh" else rates

    def step(self, h: torch.Tensor, u: torch.Tensor) -> torch.Tensor:
        drive = bmm_bias(self.hidden(h), self.weight_hh, self.bias_h) + torch.bmm(u, self.weight_ih)
        alpha = self.params.alpha
        return (1.0 - alpha) * h + alpha * drive
