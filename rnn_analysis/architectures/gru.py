"""Gated recurrent unit (Cho et al. 2014), PyTorch's gate convention."""

from __future__ import annotations

import math

import torch

from rnn_analysis.architectures.base import Architecture, bmm_bias, normal, zeros
from rnn_analysis.architectures.registry import ARCHITECTURES


@ARCHITECTURES.register("gru")
class GRU(Architecture):
    """r = σ(U_r u + W_r h + b), z = σ(U_z u + W_z h + b), n = tanh(U_n u + b + r ⊙ (W_n h + b)),
    h' = (1 − z) ⊙ n + z ⊙ h. Fused weights in the order (r, z, n)."""

    name = "gru"

    def parameter_shapes(self):
        n, i = self.hidden_size, self.n_inputs
        return {
            "weight_hh": ((n, 3 * n), normal(self.params.recurrent_std)),
            "weight_ih": ((i, 3 * n), normal(self.params.input_gain / math.sqrt(i))),
            "bias_hh": ((3 * n,), zeros),
            "bias_ih": ((3 * n,), zeros),
            **self.readout_shapes(),
        }

    def _update_and_candidate(
        self, h: torch.Tensor, u: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """The update gate z and the candidate state n."""
        gi = bmm_bias(u, self.weight_ih, self.bias_ih)
        gh = bmm_bias(h, self.weight_hh, self.bias_hh)
        i_r, i_z, i_n = gi.chunk(3, dim=-1)
        h_r, h_z, h_n = gh.chunk(3, dim=-1)
        r = torch.sigmoid(i_r + h_r)
        z = torch.sigmoid(i_z + h_z)
        candidate = torch.tanh(i_n + r * h_n)
        return z, candidate

    def step(self, h: torch.Tensor, u: torch.Tensor) -> torch.Tensor:
        z, candidate = self._update_and_candidate(h, u)
        return (1.0 - z) * candidate + z * h

    def fixed_point_residual(self, h: torch.Tensor, u: torch.Tensor) -> torch.Tensor:
        """``n(h, u) − h``: ``F − h = (1 − z) ⊙ (n − h)`` with ``1 − z > 0``, so both have
        the same zeros, but ``n − h`` does not vanish where z rounds to 1."""
        _, candidate = self._update_and_candidate(h, u)
        return candidate - h
