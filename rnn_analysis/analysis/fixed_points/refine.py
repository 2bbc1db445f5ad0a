"""Levenberg–Marquardt refinement of the points Adam handed off or left slow."""

from __future__ import annotations

import torch

from rnn_analysis.analysis.fixed_points.jacobians import jacobian
from rnn_analysis.analysis.fixed_points.params import FixedPointParams
from rnn_analysis.analysis.fixed_points.search import (
    STATUS_CONVERGED,
    STATUS_FAILED,
    STATUS_REFINE,
    Search,
    Slots,
    speed,
)
from rnn_analysis.architectures.base import Architecture

__all__ = ["refine"]

_GEODESIC_STEP = 0.1
_MERGE_WINDOW = 8


def refine(
    model: Architecture,
    search: Search,
    p: FixedPointParams,
    step_model: Architecture,
    condition: torch.Tensor,
) -> None:
    """Levenberg–Marquardt on the unconverged points with q ≤ max(refine_q, slow_q).

    ``condition`` [E, N] is the static input of each point (only points of one static
    input merge); ``step_model`` is the model whose Jacobians set the step directions.
    """
    unconverged = (search.status != STATUS_CONVERGED) & (search.status != STATUS_FAILED)
    candidates = unconverged & ((search.status == STATUS_REFINE) | (search.q <= p.slow_q))
    if p.refine_iterations == 0 or not bool(candidates.any()):
        return
    search.n_refined = candidates.sum(dim=1).cpu()
    x_before, q_before = search.x.clone(), search.q.clone()
    s = search.x.shape[-1]
    slots = Slots(
        candidates,
        {
            "x": search.x,
            "u": search.u,
            "q": search.q,
            "q_window": search.q.unsqueeze(-1).expand(-1, -1, p.refine_stall_window),
            "mu": torch.full_like(search.q, -1.0),
            "cond": condition,
        },
    )
    eye = torch.eye(s, dtype=search.x.dtype, device=search.x.device)
    jdtype = step_model.weight_out.dtype
    direction = torch.randn(s, generator=torch.Generator().manual_seed(p.seed), dtype=torch.float64)
    direction = (direction / direction.norm()).to(search.x)
    history = []
    for it in range(p.refine_iterations + 1):
        counts = slots.counts()
        history.append(counts)
        if not bool(counts.any()):
            break
        slots.maybe_compact(counts)
        st = slots.tensors
        valid = slots.valid
        if it == p.refine_iterations:
            done = valid
        else:
            x, uu, q = st["x"], st["u"], st["q"]
            with torch.no_grad():
                r = model.step(x, uu) - x
            jr = jacobian(step_model, x.to(jdtype), uu.to(jdtype)).to(x.dtype) - eye
            jt = jr.transpose(-1, -2)
            a = jt @ jr
            g = jt @ r.unsqueeze(-1)
            scale = a.diagonal(dim1=-2, dim2=-1).mean(dim=-1).clamp(min=1e-300)
            mu = torch.where(st["mu"] < 0, p.refine_damping * scale, st["mu"])
            chol, info = torch.linalg.cholesky_ex(a + mu[..., None, None] * eye)
            step = torch.cholesky_solve(-g, chol).squeeze(-1)
            ok = valid & (info == 0)
            if p.refine_geodesic_ratio > 0:
                h = _GEODESIC_STEP
                with torch.no_grad():
                    curvature = model.step(x + h * step, uu) - (x + h * step)
                    curvature += model.step(x - h * step, uu) - (x - h * step)
                curvature = (curvature - 2 * r) / h**2
                accel = torch.cholesky_solve(-(jt @ curvature.unsqueeze(-1)), chol).squeeze(-1)
                ok &= 2 * accel.norm(dim=-1) <= p.refine_geodesic_ratio * step.norm(dim=-1)
                step = step + 0.5 * accel
            x_try = x + step
            with torch.no_grad():
                q_try = speed(model, x_try, uu)
            accept = ok & torch.isfinite(q_try) & (q_try < q)
            x = torch.where(accept.unsqueeze(-1), x_try, x)
            q = torch.where(accept, q_try, q)
            st["x"], st["q"] = x, q
            st["mu"] = mu = torch.where(accept, mu / 3, mu * 4)
            slot = it % p.refine_stall_window
            stalled = (mu > 1e12 * scale) | (q > p.refine_stall_ratio * st["q_window"][..., slot])
            if it + 1 < p.refine_stall_window:
                stalled = mu > 1e12 * scale
            st["q_window"] = st["q_window"].clone()
            st["q_window"][..., slot] = q
            done = valid & ((q <= p.tol_q) | stalled)
        if bool(done.any()):
            slots.scatter(done, search.x, st["x"])
            slots.scatter(done, search.q, st["q"])
            valid = valid & ~done
            slots.valid = valid
        if p.refine_merge_tol > 0 and valid.shape[1] > 1:
            parent = _merge_parents(
                st["x"], st["q"], st["cond"], valid, p.refine_merge_tol, direction
            )
            merged = parent >= 0
            if bool(merged.any()):
                slots.scatter(merged, search.x, st["x"])
                slots.scatter(merged, search.q, st["q"])
                slots.scatter(merged, search.parent, slots.index.gather(1, parent.clamp(min=0)))
                slots.valid = valid & ~merged
    search.refine_history = torch.stack(history).cpu()
    _follow_parents(search, p.tol_q)
    unconverged = candidates & ~(search.q <= p.tol_q)
    search.x[unconverged] = x_before[unconverged]
    search.q[unconverged] = q_before[unconverged]


def _merge_parents(
    x: torch.Tensor,
    q: torch.Tensor,
    cond: torch.Tensor,
    valid: torch.Tensor,
    tol: float,
    direction: torch.Tensor,
) -> torch.Tensor:
    """For each slot, the slot of a lower-q active point within ``tol``, or -1.

    Candidates are the ``_MERGE_WINDOW`` neighbours in the order of (condition, projection
    on ``direction``), so some close pairs can be missed: merging only saves work.
    """
    e, k, _ = x.shape
    projection = (x @ direction).masked_fill(~valid, torch.inf)
    order = torch.argsort(projection, dim=1, stable=True)
    order = order.gather(1, torch.argsort(cond.gather(1, order), dim=1, stable=True))
    xs = x.gather(1, order.unsqueeze(-1).expand_as(x))
    qs, cs, vs = q.gather(1, order), cond.gather(1, order), valid.gather(1, order)
    best_q = torch.full_like(q, torch.inf)
    best = torch.full_like(order, -1)
    for offset in range(1, min(_MERGE_WINDOW, k - 1) + 1):
        a, b = slice(0, k - offset), slice(offset, k)
        near = (
            ((xs[:, a] - xs[:, b]).norm(dim=-1) <= tol)
            & (cs[:, a] == cs[:, b])
            & vs[:, a]
            & vs[:, b]
        )
        b_lower = qs[:, b] < qs[:, a]
        for child, parent, take in ((a, b, near & b_lower), (b, a, near & ~b_lower)):
            update = take & (qs[:, parent] < best_q[:, child])
            best_q[:, child] = torch.where(update, qs[:, parent], best_q[:, child])
            best[:, child] = torch.where(update, order[:, parent], best[:, child])
    parent = torch.full_like(order, -1)
    parent.scatter_(1, order, best)
    return parent


def _follow_parents(search: Search, tol_q: float) -> None:
    """Give every merged point the final position and speed of the point it merged into,
    where that point converged."""
    parent = search.parent
    merged = parent >= 0
    if not bool(merged.any()):
        return
    root = torch.where(merged, parent, torch.arange(parent.shape[1], device=parent.device))
    while True:
        next_root = root.gather(1, root)
        if bool((next_root == root).all()):
            break
        root = next_root
    q_root = search.q.gather(1, root)
    take = merged & (q_root <= tol_q)
    x_root = search.x.gather(1, root.unsqueeze(-1).expand_as(search.x))
    search.x.copy_(torch.where(take.unsqueeze(-1), x_root, search.x))
    search.q.copy_(torch.where(take, q_root, search.q))
