"""Long short-term memory (Hochreiter & Schmidhuber 1997); state is [h; c]."""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
from torch.nn import functional

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

    def fixed_point_residual(self, h: torch.Tensor, u: torch.Tensor) -> torch.Tensor:
        """``[o tanh(c') − h ; w_i ⊙ tanh(a_g) − w_c ⊙ c]``.

        The hidden half is ``F − h``'s (``c' = f c + i g``). The cell half of ``F − h``
        is ``i g − (1 − f) c``, which rounds to 0 at any c where i and 1 − f both
        saturate at 0; divided by ``i + 1 − f`` it becomes ``w_i g − w_c c`` with
        ``w_i = i / (i + 1 − f)`` and ``w_c = (1 − f) / (i + 1 − f)``, weights summing to
        1, computed from ``log i`` and ``log(1 − f) = log σ(−a_f)`` so that neither
        saturation nor the rounding of ``1 − f`` makes both vanish.
        """
        n = self.hidden_size
        hid, cell = h[..., :n], h[..., n:]
        gates = bmm_bias(hid, self.weight_hh, self.bias) + torch.bmm(u, self.weight_ih)
        a_i, a_f, a_g, a_o = gates.chunk(4, dim=-1)
        g = torch.tanh(a_g)
        new_cell = torch.sigmoid(a_f) * cell + torch.sigmoid(a_i) * g
        hid_residual = torch.sigmoid(a_o) * torch.tanh(new_cell) - hid
        log_ratio = functional.logsigmoid(a_i) - functional.logsigmoid(-a_f)
        cell_residual = torch.sigmoid(log_ratio) * g - torch.sigmoid(-log_ratio) * cell
        return torch.cat([hid_residual, cell_residual], dim=-1)
