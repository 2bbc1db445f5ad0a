"""Long short-term memory (Hochreiter & Schmidhuber 1997); state is [h; c]."""

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
class LSTMParams(ArchitectureParams):
    """LSTM hyperparameters (plus those of :class:`ArchitectureParams`).

    Attributes
    ----------
    forget_bias : float, default 1.0
        Initial bias of the forget gate.
    """

    forget_bias: float = 1.0


@ARCHITECTURES.register("lstm")
class LSTM(Architecture):
    """Gates (i, f, g, o) fused in PyTorch's order; c' = f c + i g, h' = o tanh(c')."""

    name = "lstm"
    Params = LSTMParams
    params: LSTMParams

    def parameter_shapes(self):
        n, i = self.hidden_size, self.n_inputs

        def gate_bias(shape: tuple[int, ...], generator: torch.Generator) -> torch.Tensor:
            bias = torch.zeros(shape)
            bias[n : 2 * n] = self.params.forget_bias
            return bias

        return {
            "weight_hh": ((n, 4 * n), normal(self.params.recurrent_std)),
            "weight_ih": ((i, 4 * n), normal(self.params.input_gain / math.sqrt(i))),
            "bias": ((4 * n,), gate_bias),
            **self.readout_shapes(),
        }

    @property
    def n_state(self) -> int:
        return 2 * self.hidden_size

    def hidden(self, h: torch.Tensor) -> torch.Tensor:
        return h[..., : self.hidden_size]

    def step(self, h: torch.Tensor, u: torch.Tensor) -> torch.Tensor:
        n = self.hidden_size
        hid, cell = h[..., :n], h[..., n:]
        gates = bmm_bias(hid, self.weight_hh, self.bias) + torch.bmm(u, self.weight_ih)
        i, f, g, o = gates.chunk(4, dim=-1)
        cell = torch.sigmoid(f) * cell + torch.sigmoid(i) * torch.tanh(g)
        hid = torch.sigmoid(o) * torch.tanh(cell)
        return torch.cat([hid, cell], dim=-1)
