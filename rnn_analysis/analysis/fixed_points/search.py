"""Per-point Adam on q, and the slots that hold the points still being optimised."""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch

from rnn_analysis.analysis.fixed_points.params import FixedPointParams
from rnn_analysis.architectures.base import Architecture

__all__ = ["Search", "Slots", "adam", "continue_adam", "speed"]

_COMPACT_FRACTION = 0.875
(
    STATUS_ACTIVE,
    STATUS_CONVERGED,
    STATUS_REFINE,
    STATUS_STALLED,
    STATUS_FAILED,
    STATUS_MAX_ITERATIONS,
) = range(6)


@dataclass
class Search:
    """Where every point ended: positions, speeds and diagnostics."""

    x: torch.Tensor
    u: torch.Tensor
    q: torch.Tensor
    status: torch.Tensor
    adam_history: torch.Tensor
    refine_history: torch.Tensor
    n_refined: torch.Tensor
    parent: torch.Tensor
    continue_history: torch.Tensor | None = None


class Slots:
    """The points still being optimised, ``[E, K]`` slots per network, compacted as they leave."""

    def __init__(self, active: torch.Tensor, tensors: dict[str, torch.Tensor]) -> None:
        e = active.shape[0]
        k = int(active.sum(dim=1).max()) if active.numel() else 0
        order = torch.argsort((~active).to(torch.int8), dim=1, stable=True)[:, :k]
        self.index = order
        self.valid = active.gather(1, order)
        self.tensors = {name: self._gather(t, order) for name, t in tensors.items()}
        self.n_networks = e

    @staticmethod
    def _gather(t: torch.Tensor, order: torch.Tensor) -> torch.Tensor:
        if t.ndim == 2:
            return t.gather(1, order)
        return t.gather(1, order.unsqueeze(-1).expand(-1, -1, t.shape[-1]))

    def counts(self) -> torch.Tensor:
        return self.valid.sum(dim=1)

    def maybe_compact(self, counts: torch.Tensor) -> None:
        k = self.valid.shape[1]
        k_new = int(counts.max()) if counts.numel() else 0
        if k_new >= _COMPACT_FRACTION * k and k_new > 0:
            return
        order = torch.argsort((~self.valid).to(torch.int8), dim=1, stable=True)[:, :k_new]
        self.index = self.index.gather(1, order)
        self.valid = self.valid.gather(1, order)
        self.tensors = {name: self._gather(t, order) for name, t in self.tensors.items()}

    def scatter(self, where: torch.Tensor, target: torch.Tensor, values: torch.Tensor) -> None:
        """``target[e, index[e, k]] = values[e, k]`` where ``where[e, k]``."""
        ei, ki = where.nonzero(as_tuple=True)
        target[ei, self.index[ei, ki]] = values[ei, ki]


def speed(model: Architecture, x: torch.Tensor, u: torch.Tensor) -> torch.Tensor:
    """q = ½‖F(x, u) − x‖² at every point."""
    r = model.step(x, u) - x
    return 0.5 * r.square().sum(dim=-1)


def adam(
    model: Architecture,
    x0: torch.Tensor,
    u: torch.Tensor,
    p: FixedPointParams,
    active: torch.Tensor | None = None,
    refine_q: float | None = None,
    max_iterations: int | torch.Tensor | None = None,
) -> Search:
    """Adam on the ``active`` points (all by default); the others keep ``x0`` and q = inf.

    ``max_iterations`` is one budget for all networks or one per network ([E]).
    """
    e, n, _ = x0.shape
    refine_q = p.refine_q if refine_q is None else refine_q
    budget = p.max_iterations if max_iterations is None else max_iterations
    limit = torch.as_tensor(budget, device=x0.device).expand(e)
    max_iterations = int(limit.max())
    x_out = x0.clone()
    q_out = torch.full((e, n), math.inf, dtype=x0.dtype, device=x0.device)
    status = torch.full((e, n), STATUS_ACTIVE, dtype=torch.int8, device=x0.device)
    if active is None:
        active = torch.ones(e, n, dtype=torch.bool, device=x0.device)
    slots = Slots(
        active,
        {
            "x": x0,
            "u": u,
            "m": torch.zeros_like(x0),
            "v": torch.zeros_like(x0),
            "lr": torch.full((e, n), p.learning_rate, dtype=x0.dtype, device=x0.device),
            "q_prev": q_out.clone(),
            "q_ref": q_out.clone(),
        },
    )
    history = []
    b1, b2 = p.adam_beta1, p.adam_beta2
    for it in range(max_iterations + 1):
        counts = slots.counts()
        history.append(counts)
        if not bool(counts.any()):
            break
        slots.maybe_compact(counts)
        st = slots.tensors
        x = st["x"].detach().requires_grad_(True)
        with torch.enable_grad():
            q = speed(model, x, st["u"])
            (grad,) = torch.autograd.grad(q.sum(), x)
        x, q = x.detach(), q.detach()
        valid = slots.valid
        finite = torch.isfinite(q)
        converged = valid & finite & (q <= p.tol_q)
        failed = valid & ~finite
        handed = valid & finite & ~converged & (q <= refine_q)
        moving = valid & finite & ~converged & ~handed
        at_limit = (limit <= it).unsqueeze(1)
        remaining = moving & at_limit
        if it > 0 and it % p.stall_window == 0:
            stalled = moving & ~at_limit & (q > p.stall_ratio * st["q_ref"])
            st["q_ref"] = q
        else:
            stalled = None
        for mask, code in (
            (converged, STATUS_CONVERGED),
            (failed, STATUS_FAILED),
            (handed, STATUS_REFINE),
            (stalled, STATUS_STALLED),
            (remaining, STATUS_MAX_ITERATIONS),
        ):
            if mask is None or not bool(mask.any()):
                continue
            slots.scatter(mask, x_out, x)
            slots.scatter(mask, q_out, q)
            slots.scatter(mask, status, torch.full_like(q, code, dtype=torch.int8))
            valid = valid & ~mask
        slots.valid = valid
        if it == max_iterations:
            break
        with torch.no_grad():
            if it == 0:
                st["q_ref"] = q
            factor = torch.where(
                q < st["q_prev"], p.learning_rate_increase, p.learning_rate_decrease
            )
            lr = (st["lr"] * factor).clamp_(max=p.max_learning_rate)
            norm = grad.norm(dim=-1, keepdim=True)
            grad = grad * (p.max_grad_norm / norm.clamp(min=p.max_grad_norm))
            m = st["m"].mul_(b1).add_(grad, alpha=1 - b1)
            v = st["v"].mul_(b2).addcmul_(grad, grad, value=1 - b2)
            t = it + 1
            denom = (v / (1 - b2**t)).sqrt_().add_(p.adam_epsilon)
            rate = (lr * valid).unsqueeze(-1) / (1 - b1**t)
            st["x"] = x - rate * m / denom
            st["lr"] = lr
            st["q_prev"] = q
    return Search(
        x=x_out,
        u=u,
        q=q_out,
        status=status,
        adam_history=torch.stack(history).cpu(),
        refine_history=torch.zeros(0, e, dtype=torch.long),
        n_refined=torch.zeros(e, dtype=torch.long),
        parent=torch.full((e, n), -1, dtype=torch.long, device=x0.device),
    )


def continue_adam(
    model: Architecture, search: Search, p: FixedPointParams, eligible: torch.Tensor
) -> None:
    """Adam again, without hand-off, on the ``eligible`` points ([E, N]) the refinement
    did not converge.

    They restart from where they were handed off, with the Adam iterations left; each
    keeps the lower-q of its hand-off point and its new end point.
    """
    used = (search.adam_history > 0).sum(dim=0).clamp(max=p.max_iterations)
    budget = (p.max_iterations - used).to(search.x.device)
    again = (search.status == STATUS_REFINE) & ~(search.q <= p.tol_q) & (budget > 0).unsqueeze(1)
    again &= eligible
    if not bool(again.any()):
        return
    more = adam(model, search.x, search.u, p, active=again, refine_q=0.0, max_iterations=budget)
    better = again & (more.q < search.q)
    search.x[better] = more.x[better]
    search.q[better] = more.q[better]
    search.continue_history = more.adam_history
