"""Vanilla RNN: h' = φ(W h + U u + b)."""

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
class VanillaParams(ArchitectureParams):
    """Vanilla RNN hyperparameters (plus those of :class:`ArchitectureParams`).

    Attributes
    ----------
    activation : {"tanh", "relu"}, default "tanh"
        The nonlinearity φ.
    """

    activation: Literal["tanh", "relu"] = "tanh"


@ARCHITECTURES.register("vanilla")
class Vanilla(Architecture):
    name = "vanilla"
    Params = VanillaParams
    params: VanillaParams

    def parameter_shapes(self):
        n, i = self.hidden_size, self.n_inputs
        return {
            "weight_hh": ((n, n), normal(self.params.recurrent_std)),
            "weight_ih": ((i, n), normal(self.params.input_gain / math.sqrt(i))),
            "bias_h": ((n,), zeros),
            **self.readout_shapes(),
        }

    def step(self, h: torch.Tensor, u: torch.Tensor) -> torch.Tensor:
        pre = bmm_bias(h, self.weight_hh, self.bias_h) + torch.bmm(u, self.weight_ih)
        return torch.tanh(pre) if self.params.activation == "tanh" else torch.relu(pre)
