"""Update-gate RNN (Collins, Sohl-Dickstein & Sussillo 2017)."""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch

from rnn_analysis.architectures.base import (
    Architecture,
    ArchitectureParams,
    bmm_bias,
    normal,
)
from rnn_analysis.architectures.registry import ARCHITECTURES


@dataclass(frozen=True)
class UGRNNParams(ArchitectureParams):
    """UGRNN hyperparameters (plus those of :class:`ArchitectureParams`).

    Attributes
    ----------
    gate_bias : float, default 1.0
        Initial bias of the update gate g (positive: start by keeping the state).
    """

    gate_bias: float = 1.0


@ARCHITECTURES.register("ugrnn")
class UGRNN(Architecture):
    """c = tanh(W_c [h, u] + b_c), g = σ(W_g [h, u] + b_g), h' = g ⊙ h + (1 − g) ⊙ c."""

    name = "ugrnn"
    Params = UGRNNParams
    params: UGRNNParams

    def parameter_shapes(self):
        n, i = self.hidden_size, self.n_inputs

        def bias(shape: tuple[int, ...], generator: torch.Generator) -> torch.Tensor:
            b = torch.zeros(shape)
            b[n:] = self.params.gate_bias
            return b

        return {
            "weight_hh": ((n, 2 * n), normal(self.params.recurrent_std)),
            "weight_ih": ((i, 2 * n), normal(self.params.input_gain / math.sqrt(i))),
            "bias": ((2 * n,), bias),
            **self.readout_shapes(),
        }

    def _gate_and_candidate(
        self, h: torch.Tensor, u: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """The update gate g and the candidate c."""
        pre = bmm_bias(h, self.weight_hh, self.bias) + torch.bmm(u, self.weight_ih)
        c_pre, g_pre = pre.chunk(2, dim=-1)
        return torch.sigmoid(g_pre), torch.tanh(c_pre)

    def step(self, h: torch.Tensor, u: torch.Tensor) -> torch.Tensor:
        g, candidate = self._gate_and_candidate(h, u)
        return g * h + (1.0 - g) * candidate

    def fixed_point_residual(self, h: torch.Tensor, u: torch.Tensor) -> torch.Tensor:
        """``c(h, u) − h``: ``F − h = (1 − g) ⊙ (c − h)`` with ``1 − g > 0``."""
        _, candidate = self._gate_and_candidate(h, u)
        return candidate - h
