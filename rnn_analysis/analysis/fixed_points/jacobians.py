"""Batched Jacobians of the step F and of the fixed-point residual R, and float64 copies."""

from __future__ import annotations

import copy
from collections.abc import Callable

import torch

from rnn_analysis.architectures.base import Architecture

__all__ = ["jacobian", "net_copy", "residual_jacobian"]

_JACOBIAN_ROWS = 1 << 13


def net_copy(model: Architecture, dtype: torch.dtype) -> Architecture:
    """A copy of ``model`` in ``dtype`` whose parameters do not require gradients."""
    net = copy.deepcopy(model).to(dtype=dtype)
    net.requires_grad_(False)
    return net


def _batched_jacobian(
    fn: Callable[[torch.Tensor, torch.Tensor], torch.Tensor], h: torch.Tensor, u: torch.Tensor
) -> torch.Tensor:
    """``d fn(h, u) / dh`` at every point, [E, P, S, S], in chunks of batched backward passes."""
    e, p, s = h.shape
    out = torch.empty(e, p, s, s, dtype=h.dtype, device=h.device)
    if p == 0 or s == 0:
        return out
    chunk = max(1, _JACOBIAN_ROWS // (e * s))
    eye = torch.eye(s, dtype=h.dtype, device=h.device)
    for start in range(0, p, chunk):
        stop = min(p, start + chunk)
        k = stop - start
        hr = h[:, start:stop].detach().unsqueeze(2).expand(e, k, s, s).reshape(e, k * s, s)
        hr = hr.clone().requires_grad_(True)
        ur = u[:, start:stop].unsqueeze(2).expand(e, k, s, u.shape[-1]).reshape(e, k * s, -1)
        with torch.enable_grad():
            f = fn(hr, ur)
            (rows,) = torch.autograd.grad(f, hr, eye.expand(e, k, s, s).reshape(e, k * s, s))
        out[:, start:stop] = rows.reshape(e, k, s, s)
    return out


def jacobian(model: Architecture, h: torch.Tensor, u: torch.Tensor) -> torch.Tensor:
    """Jacobians ``dF/dh`` of the step at many points, in batched backward passes.

    Parameters
    ----------
    model : Architecture
        The ensemble.
    h : [E, P, S] tensor
        States.
    u : [E, P, n_in] tensor
        Inputs.

    Returns
    -------
    [E, P, S, S] tensor whose ``[e, p, i, j]`` is ``dF_i/dh_j`` at point ``p`` of network ``e``.
    """
    return _batched_jacobian(model.step, h, u)


def residual_jacobian(model: Architecture, h: torch.Tensor, u: torch.Tensor) -> torch.Tensor:
    """Jacobians ``dR/dh`` of :meth:`Architecture.fixed_point_residual`, as :func:`jacobian`."""
    return _batched_jacobian(model.fixed_point_residual, h, u)
