"""Fixed and slow points of every network of an ensemble (after Golub & Sussillo's finder).

For each network, static input ``u*`` and initial state, the speed
``q(h) = ½‖F(h, u*) − h‖²`` is minimised. Initial states are sampled from the
network's probe trajectories plus noise. All initial states of all static inputs of
all networks are optimised together as one ``[E, n_conditions · n_initial_states, S]``
tensor, with per-point convergence; the points still being optimised are compacted
as others leave, so finished points cost nothing:

1. **Adam** (as in FixedPointFinder) with a per-point adaptive learning rate and
   per-point gradient-norm clipping. A point leaves once q ≤ ``tol_q`` (converged),
   once q ≤ ``refine_q`` (handed to step 2), when its q stops falling (see
   ``stall_window``) or after ``max_iterations``.
2. **Levenberg–Marquardt refinement** of the handed-off points and of every other
   unconverged point with q ≤ ``slow_q``: damped Gauss–Newton steps on the residual
   ``F(h, u*) − h`` with geodesic acceleration, accepted only where they lower q. Near
   a fixed point this converges quadratically, which makes ``tol_q = 1e-12`` reachable
   in practice (first-order methods crawl along the nearly flat valleys of trained
   networks, where ``|1 − λ|`` of the slowest modes is 1e-3 or less). A point leaves
   when q ≤ ``tol_q``, when its q stops falling (see ``refine_stall_window``), or when
   it comes within ``refine_merge_tol`` of a lower-q point, which it then follows. The
   refinement only polishes: a point it does not converge gets its step-1 result back,
   so that a slow point is not dragged far along a slow valley towards a distant
   minimum of q.
3. **Adam again** on the handed-off points that step 2 did not converge, from where
   they were handed off, without hand-off and with the iterations left; each keeps
   the lower-q of its two end points. Slow points are thus what Adam finds, as in
   FixedPointFinder.

Points with q ≤ ``tol_q`` are fixed points, the others with q ≤ ``slow_q`` slow points.
Per network and static input, points farther from the initial states' centroid than
``outlier_distance_scale`` times the initial states' mean distance from it are dropped,
and the rest are deduplicated on ``[h; u]`` (the lowest-q point of each group is kept).
At each kept point the Jacobian ``dF/dh``, its eigen-decomposition (sorted by
``|λ|``, descending), the number of unstable modes (``|λ| > 1``) and the readout
are computed. Results are one self-describing :class:`xarray.Dataset` per network.
"""

from __future__ import annotations

import copy
import math
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
import torch
import xarray as xr
from numpy.typing import NDArray

from rnn_analysis.architectures.base import Architecture
from rnn_analysis.hyperparameters import Hyperparameters
from rnn_analysis.tasks.base import StaticInputs

__all__ = [
    "FixedPointParams",
    "find_fixed_points",
    "jacobian",
    "net_copy",
    "sample_initial_states",
]

_COMPACT_FRACTION = 0.875
_JACOBIAN_ROWS = 1 << 13
_GEODESIC_STEP = 0.1
_MERGE_WINDOW = 8
(
    _STATUS_ACTIVE,
    _STATUS_CONVERGED,
    _STATUS_REFINE,
    _STATUS_STALLED,
    _STATUS_FAILED,
    _STATUS_MAX_ITERATIONS,
) = range(6)


@dataclass(frozen=True)
class FixedPointParams(Hyperparameters):
    """Hyperparameters of the fixed-point search.

    Attributes
    ----------
    n_initial_states : int, default 1024
        Initial states per network and per static input.
    initial_noise : float, default 0.05
        Standard deviation of the isotropic Gaussian noise added to each initial state
        sampled from the probe trajectories, in the units of the state (absolute, as
        FixedPointFinder's ``noise_scale``).
    tol_q : float, default 1e-12
        A point with q ≤ tol_q is a fixed point and stops being optimised.
    slow_q : float, default 1e-4
        Unconverged points with q ≤ slow_q are refined and, if still above tol_q,
        kept as slow points; points with larger q are discarded.
    max_iterations : int, default 5000
        Maximum number of Adam iterations.
    learning_rate : float, default 0.01
        Initial per-point Adam learning rate.
    learning_rate_increase : float, default 1.05
        Factor applied to a point's learning rate after an iteration that lowered its q.
    learning_rate_decrease : float, default 0.7
        Factor applied to a point's learning rate after an iteration that raised its q.
    max_learning_rate : float, default 1.0
        Upper bound of the per-point learning rate.
    adam_beta1 : float, default 0.9
        Adam's first-moment decay.
    adam_beta2 : float, default 0.999
        Adam's second-moment decay.
    adam_epsilon : float, default 1e-8
        Adam's denominator offset.
    max_grad_norm : float, default 10.0
        Each point's gradient of q is rescaled to at most this norm before Adam.
    stall_window : int, default 500
        Every stall_window Adam iterations, a point whose q has not fallen below
        ``stall_ratio`` times its value stall_window iterations earlier leaves Adam.
    stall_ratio : float, default 0.5
        See stall_window.
    refine_q : float, default 1e-4
        A point leaves Adam for the Levenberg–Marquardt refinement once q ≤ refine_q
        (0: only after Adam ends).
    refine_iterations : int, default 50
        Maximum number of Levenberg–Marquardt iterations (0 disables refinement).
    refine_damping : float, default 1e-3
        Initial damping μ of the refinement, relative to the mean squared singular value
        of the residual's Jacobian ``dF/dh − I``; divided by 3 after an accepted step and
        multiplied by 4 after a rejected one. A point whose relative damping exceeds
        1e12 has stalled and leaves the refinement.
    refine_geodesic_ratio : float, default 0.75
        Geodesic acceleration (Transtrum & Sethna 2012): each step adds half the
        second-order correction computed from a finite-difference directional second
        derivative of the residual, and is rejected when the correction's norm exceeds
        half this ratio times the step's; it speeds up progress along curved slow
        valleys. 0 disables it.
    refine_float32_jacobian : bool, default True
        Compute the Jacobians that set the refinement's step directions in float32
        (2-3x faster on a CPU). Steps are still accepted on q computed in ``dtype``, so
        this only changes the path, not the accuracy; reported Jacobians are in ``dtype``.
    refine_merge_tol : float, default 1e-4
        During refinement, a point within this distance of an active point of the same
        network and static input with lower q is merged into it: it stops being refined
        and ends where that point ends (they would be duplicates anyway). 0 disables.
    refine_stall_window : int, default 10
        A point whose q has not fallen below ``refine_stall_ratio`` times its value
        refine_stall_window refinement iterations earlier leaves the refinement (a slow
        point, or one still crawling along a slow manifold).
    refine_stall_ratio : float, default 0.5
        See refine_stall_window.
    unique_tol : float, default 1e-3
        Points of one network and static input closer than this (Euclidean distance
        on ``[h; u]``) are duplicates.
    outlier_distance_scale : float, default 10.0
        Points farther from the centroid of the initial states than this many times the
        initial states' mean distance from it are dropped (not applied when the initial
        states all coincide).
    unstable_tol : float, default 0.0
        A mode is unstable when ``|λ| > 1 + unstable_tol``.
    n_eigenvectors : int, default 8
        Right eigenvectors are stored for this many leading modes (largest |λ|, which
        include the unstable ones) per point.
    store_jacobian : bool, default False
        Also store each point's Jacobian in the dataset.
    seed : int, default 0
        Seed of the initial-state sampling.
    dtype : {"float64", "float32"}, default "float64"
        Precision of the search (tol_q = 1e-12 needs float64).
    """

    n_initial_states: int = 1024
    initial_noise: float = 0.05
    tol_q: float = 1e-12
    slow_q: float = 1e-4
    max_iterations: int = 5000
    learning_rate: float = 0.01
    learning_rate_increase: float = 1.05
    learning_rate_decrease: float = 0.7
    max_learning_rate: float = 1.0
    adam_beta1: float = 0.9
    adam_beta2: float = 0.999
    adam_epsilon: float = 1e-8
    max_grad_norm: float = 10.0
    stall_window: int = 500
    stall_ratio: float = 0.5
    refine_q: float = 1e-4
    refine_iterations: int = 50
    refine_damping: float = 1e-3
    refine_geodesic_ratio: float = 0.75
    refine_float32_jacobian: bool = True
    refine_merge_tol: float = 1e-4
    refine_stall_window: int = 10
    refine_stall_ratio: float = 0.5
    unique_tol: float = 1e-3
    outlier_distance_scale: float = 10.0
    unstable_tol: float = 0.0
    n_eigenvectors: int = 8
    store_jacobian: bool = False
    seed: int = 0
    dtype: Literal["float64", "float32"] = "float64"

    def __post_init__(self) -> None:
        positive = ("learning_rate", "max_learning_rate", "tol_q", "refine_damping")
        for name in positive:
            if not getattr(self, name) > 0:
                raise ValueError(f"{name} must be > 0, got {getattr(self, name)}")
        non_negative = (
            "initial_noise",
            "max_iterations",
            "refine_iterations",
            "refine_q",
            "unique_tol",
            "unstable_tol",
            "adam_epsilon",
            "refine_geodesic_ratio",
            "n_eigenvectors",
            "refine_merge_tol",
        )
        for name in non_negative:
            if getattr(self, name) < 0:
                raise ValueError(f"{name} must be >= 0, got {getattr(self, name)}")
        if self.n_initial_states < 1:
            raise ValueError(f"n_initial_states must be >= 1, got {self.n_initial_states}")
        if self.slow_q < self.tol_q:
            raise ValueError(f"slow_q ({self.slow_q}) must be >= tol_q ({self.tol_q})")
        for name in ("adam_beta1", "adam_beta2"):
            if not 0 <= getattr(self, name) < 1:
                raise ValueError(f"{name} must be in [0, 1), got {getattr(self, name)}")
        if not self.max_grad_norm > 0:
            raise ValueError(f"max_grad_norm must be > 0, got {self.max_grad_norm}")
        if not self.outlier_distance_scale > 0:
            raise ValueError(
                f"outlier_distance_scale must be > 0, got {self.outlier_distance_scale}"
            )
        if self.learning_rate_increase < 1 or not 0 < self.learning_rate_decrease <= 1:
            raise ValueError(
                "learning_rate_increase must be >= 1 and learning_rate_decrease in (0, 1]"
            )
        for name in ("stall_window", "refine_stall_window"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be >= 1, got {getattr(self, name)}")
        for name in ("stall_ratio", "refine_stall_ratio"):
            if not 0 < getattr(self, name) <= 1:
                raise ValueError(f"{name} must be in (0, 1], got {getattr(self, name)}")
        if self.dtype not in ("float64", "float32"):
            raise ValueError(f"dtype must be 'float64' or 'float32', got {self.dtype!r}")

    @property
    def torch_dtype(self) -> torch.dtype:
        return torch.float64 if self.dtype == "float64" else torch.float32


def sample_initial_states(
    states: torch.Tensor, n: int, noise: float, generator: torch.Generator
) -> torch.Tensor:
    """Draw initial states from each network's probe trajectories.

    The same ``n`` (trial, time) indices, drawn uniformly with replacement, and the same
    noise draws are used for every network, so that a network's samples do not depend
    on the ensemble it belongs to.

    Parameters
    ----------
    states : [E, B, T, S] tensor
        Probe trajectories of each network.
    n : int
        Number of samples per network.
    noise : float
        Standard deviation of the Gaussian noise added to each sample.
    generator : torch.Generator
        Source of randomness (a CPU generator).

    Returns
    -------
    [E, n, S] tensor of the dtype and device of ``states``.
    """
    if states.ndim != 4:
        raise ValueError(f"states must be [E, B, T, S], got shape {tuple(states.shape)}")
    e, b, t, s = states.shape
    if b * t == 0:
        raise ValueError("states hold no (trial, time) sample")
    index = torch.randint(b * t, (n,), generator=generator)
    eps = torch.randn((n, s), generator=generator, dtype=torch.float64)
    flat = states.reshape(e, b * t, s)
    samples = flat[:, index.to(states.device)]
    return samples + (noise * eps).to(dtype=states.dtype, device=states.device)


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
            f = model.step(hr, ur)
            (rows,) = torch.autograd.grad(f, hr, eye.expand(e, k, s, s).reshape(e, k * s, s))
        out[:, start:stop] = rows.reshape(e, k, s, s)
    return out


@dataclass
class _Search:
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


class _Slots:
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


def _speed(model: Architecture, x: torch.Tensor, u: torch.Tensor) -> torch.Tensor:
    r = model.step(x, u) - x
    return 0.5 * r.square().sum(dim=-1)


def _adam(
    model: Architecture,
    x0: torch.Tensor,
    u: torch.Tensor,
    p: FixedPointParams,
    active: torch.Tensor | None = None,
    refine_q: float | None = None,
    max_iterations: int | torch.Tensor | None = None,
) -> _Search:
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
    status = torch.full((e, n), _STATUS_ACTIVE, dtype=torch.int8, device=x0.device)
    if active is None:
        active = torch.ones(e, n, dtype=torch.bool, device=x0.device)
    slots = _Slots(
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
            q = _speed(model, x, st["u"])
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
            (converged, _STATUS_CONVERGED),
            (failed, _STATUS_FAILED),
            (handed, _STATUS_REFINE),
            (stalled, _STATUS_STALLED),
            (remaining, _STATUS_MAX_ITERATIONS),
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
    return _Search(
        x=x_out,
        u=u,
        q=q_out,
        status=status,
        adam_history=torch.stack(history).cpu(),
        refine_history=torch.zeros(0, e, dtype=torch.long),
        n_refined=torch.zeros(e, dtype=torch.long),
        parent=torch.full((e, n), -1, dtype=torch.long, device=x0.device),
    )


def _refine(
    model: Architecture,
    search: _Search,
    p: FixedPointParams,
    step_model: Architecture,
    n_init: int,
) -> None:
    """Levenberg–Marquardt on the unconverged points with q ≤ max(refine_q, slow_q)."""
    unconverged = (search.status != _STATUS_CONVERGED) & (search.status != _STATUS_FAILED)
    candidates = unconverged & ((search.status == _STATUS_REFINE) | (search.q <= p.slow_q))
    if p.refine_iterations == 0 or not bool(candidates.any()):
        return
    search.n_refined = candidates.sum(dim=1).cpu()
    x_before, q_before = search.x.clone(), search.q.clone()
    e, n, s = search.x.shape
    condition = (torch.arange(n, device=search.x.device) // n_init).expand(e, n)
    slots = _Slots(
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
                q_try = _speed(model, x_try, uu)
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


def _follow_parents(search: _Search, tol_q: float) -> None:
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


def net_copy(model: Architecture, dtype: torch.dtype) -> Architecture:
    """A copy of ``model`` in ``dtype`` whose parameters do not require gradients."""
    net = copy.deepcopy(model).to(dtype=dtype)
    net.requires_grad_(False)
    return net


def find_fixed_points(
    model: Architecture,
    probe_states: torch.Tensor,
    static_inputs: StaticInputs,
    params: FixedPointParams = FixedPointParams(),
) -> list[xr.Dataset]:
    """Fixed and slow points of every network of an ensemble under each static input.

    Parameters
    ----------
    model : Architecture
        The ensemble; it is copied, never modified.
    probe_states : [E, B, T, S] tensor
        Each network's probe trajectories, from which initial states are sampled.
    static_inputs : StaticInputs
        The constant inputs ``u*`` ([n_conditions, n_in]) and their labels.
    params : FixedPointParams
        Hyperparameters of the search.

    Returns
    -------
    list of xarray.Dataset
        One per network of the ensemble, the points ordered by static input, kind
        (fixed first), number of unstable modes and q. Dimensions: ``fixed_point``,
        ``state`` (S), ``unit`` (hidden units), ``input_channel``, ``mode`` (S, by |λ|
        descending), ``leading_mode`` (the first ``n_eigenvectors`` modes), ``output``
        and, with ``store_jacobian``, ``state_b``. Variables: ``state_value``,
        ``hidden_value``, ``input_value``, ``condition`` (index of the static input; its
        labels are coordinates along ``fixed_point``, prefixed ``input_`` if a name is
        taken), ``q``, ``kind`` ("fixed" or "slow"), ``eigenvalue_real`` /
        ``eigenvalue_imag``, ``eigenvector_real`` / ``eigenvector_imag``,
        ``n_unstable``, ``stable``, ``readout`` and optionally ``jacobian``. Attributes:
        every hyperparameter as ``param_<name>``, the architecture, and diagnostics:
        ``n_initial_states`` (per static input), ``n_conditions``,
        ``n_points_optimised``, ``adam_iterations``, ``n_adam_converged``,
        ``n_refined``, ``refine_iterations``, ``continue_iterations``, ``n_converged``
        (points, before deduplication, with q ≤ tol_q), ``n_slow_candidates``,
        ``n_outliers``, ``n_fixed`` and ``n_slow`` (after deduplication), and the number
        of points still being optimised at each iteration of the three steps
        (``active_history``, ``refine_active_history``, ``continue_active_history``).
    """
    dtype = params.torch_dtype
    device = model.weight_out.device
    e, s, n_in = model.n_networks, model.n_state, model.n_inputs
    if probe_states.ndim != 4 or probe_states.shape[0] != e or probe_states.shape[-1] != s:
        raise ValueError(
            f"probe_states must be [E={e}, B, T, S={s}], got {tuple(probe_states.shape)}"
        )
    values = torch.as_tensor(static_inputs.values)
    if values.ndim != 2 or values.shape[1] != n_in:
        raise ValueError(
            f"static input values must be [n_conditions, {n_in}], got {tuple(values.shape)}"
        )
    n_cond, n_init = values.shape[0], params.n_initial_states
    for key, label in static_inputs.labels.items():
        if len(label) != n_cond:
            raise ValueError(f"static input label {key!r} has {len(label)} values, not {n_cond}")

    net = net_copy(model, dtype)
    probe = probe_states.detach().to(dtype=dtype, device=device)
    generator = torch.Generator().manual_seed(params.seed)
    init = sample_initial_states(probe, n_init, params.initial_noise, generator)
    values = values.to(dtype=dtype, device=device)
    x0 = init.repeat(1, n_cond, 1)
    u = values.repeat_interleave(n_init, dim=0).unsqueeze(0).expand(e, -1, -1).contiguous()

    search = _adam(net, x0, u, params)
    step_net = net if not params.refine_float32_jacobian else net_copy(model, torch.float32)
    _refine(net, search, params, step_net, n_init)
    _continue_adam(net, search, params)
    return _datasets(net, init, values, static_inputs.labels, search, params)


def _continue_adam(model: Architecture, search: _Search, p: FixedPointParams) -> None:
    """Adam again, without hand-off, on the points the refinement did not converge.

    They restart from where they were handed off, with the Adam iterations left; each
    keeps the lower-q of its hand-off point and its new end point.
    """
    used = (search.adam_history > 0).sum(dim=0).clamp(max=p.max_iterations)
    budget = (p.max_iterations - used).to(search.x.device)
    again = (search.status == _STATUS_REFINE) & ~(search.q <= p.tol_q) & (budget > 0).unsqueeze(1)
    if not bool(again.any()):
        return
    more = _adam(model, search.x, search.u, p, active=again, refine_q=0.0, max_iterations=budget)
    better = again & (more.q < search.q)
    search.x[better] = more.x[better]
    search.q[better] = more.q[better]
    search.continue_history = more.adam_history


def _select(
    x: NDArray, q: NDArray, u: NDArray, init: NDArray, n_cond: int, p: FixedPointParams
) -> tuple[NDArray, dict[str, int]]:
    """Indices of the kept points of one network, and counts of what was dropped."""
    finite = np.isfinite(q) & np.all(np.isfinite(x), axis=1)
    keep = finite & (q <= p.slow_q)
    n_candidates = int(keep.sum())
    centroid = init.mean(axis=0)
    mean_distance = float(np.linalg.norm(init - centroid, axis=1).mean())
    if mean_distance > 0:
        distance = np.linalg.norm(np.where(finite[:, None], x, 0.0) - centroid, axis=1)
        keep &= distance <= p.outlier_distance_scale * mean_distance
    n_outliers = n_candidates - int(keep.sum())
    n_init = len(q) // max(n_cond, 1)
    kept = []
    for c in range(n_cond):
        idx = c * n_init + np.flatnonzero(keep[c * n_init : (c + 1) * n_init])
        idx = idx[np.argsort(q[idx], kind="stable")]
        points = np.concatenate([x[idx], u[idx]], axis=1)
        alive = np.ones(len(idx), dtype=bool)
        for i in range(len(idx)):
            if not alive[i]:
                continue
            kept.append(idx[i])
            alive[i + 1 :] &= np.linalg.norm(points[i + 1 :] - points[i], axis=1) > p.unique_tol
    counts = {
        "n_converged": int((finite & (q <= p.tol_q)).sum()),
        "n_slow_candidates": int((finite & (q > p.tol_q) & (q <= p.slow_q)).sum()),
        "n_outliers": n_outliers,
    }
    return np.asarray(kept, dtype=np.int64), counts


def _eig_sorted(jac: NDArray) -> tuple[NDArray, NDArray]:
    """Eigenvalues [P, S] and right eigenvectors [P, S(state), S(mode)], by |λ| descending.

    Complex-conjugate pairs are ordered with the positive imaginary part first.
    """
    if jac.shape[0] == 0:
        s = jac.shape[-1]
        return np.zeros((0, s), complex), np.zeros((0, s, s), complex)
    lam, vec = np.linalg.eig(jac)
    order = np.lexsort((-lam.imag, -np.abs(lam)), axis=-1)
    lam = np.take_along_axis(lam, order, axis=-1)
    vec = np.take_along_axis(vec, order[:, None, :], axis=-1)
    return lam, vec


def _datasets(
    net: Architecture,
    init: torch.Tensor,
    values: torch.Tensor,
    labels: dict[str, Any],
    search: _Search,
    p: FixedPointParams,
) -> list[xr.Dataset]:
    e, n, s = search.x.shape
    n_cond, n_init = values.shape[0], p.n_initial_states
    x_all = search.x.cpu().numpy().astype(np.float64)
    q_all = search.q.cpu().numpy().astype(np.float64)
    u_all = search.u.cpu().numpy().astype(np.float64)
    init_np = init.cpu().numpy()
    selections = [_select(x_all[i], q_all[i], u_all[i], init_np[i], n_cond, p) for i in range(e)]

    k = max((len(idx) for idx, _ in selections), default=0)
    pad = np.zeros((e, k), dtype=np.int64)
    for i, (idx, _) in enumerate(selections):
        pad[i, : len(idx)] = idx
    rows = np.arange(e)[:, None]
    xt = torch.as_tensor(x_all[rows, pad], dtype=search.x.dtype, device=search.x.device)
    ut = torch.as_tensor(u_all[rows, pad], dtype=search.x.dtype, device=search.x.device)
    jac = jacobian(net, xt, ut).cpu().numpy().astype(np.float64)
    with torch.no_grad():
        readout = net.readout(xt).cpu().numpy().astype(np.float64)
        hidden = net.hidden(xt).cpu().numpy().astype(np.float64)

    adam_history = search.adam_history.numpy()
    refine_history = search.refine_history.numpy()
    status = search.status.cpu().numpy()
    n_refined = search.n_refined.numpy()
    out = []
    for i, (idx, counts) in enumerate(selections):
        m = len(idx)
        lam, vec = _eig_sorted(jac[i, :m])
        q = q_all[i, idx]
        n_unstable = (np.abs(lam) > 1 + p.unstable_tol).sum(axis=1)
        order = np.lexsort((q, n_unstable, q > p.tol_q, idx // n_init))
        adam_active = adam_history[:, i].astype(np.int64)
        refine_active = (
            refine_history[:, i].astype(np.int64) if refine_history.size else np.zeros(0, np.int64)
        )
        continue_active = (
            search.continue_history[:, i].numpy().astype(np.int64)
            if search.continue_history is not None
            else np.zeros(0, np.int64)
        )
        diagnostics = {
            "n_initial_states": n_init,
            "n_conditions": n_cond,
            "n_points_optimised": n,
            "adam_iterations": min(int((adam_active > 0).sum()), p.max_iterations),
            "n_adam_converged": int((status[i] == _STATUS_CONVERGED).sum()),
            "n_refined": int(n_refined[i]),
            "refine_iterations": min(int((refine_active > 0).sum()), p.refine_iterations),
            **counts,
            "n_fixed": int((q <= p.tol_q).sum()),
            "n_slow": int((q > p.tol_q).sum()),
            "active_history": adam_active,
            "refine_active_history": refine_active,
            "continue_active_history": continue_active,
            "continue_iterations": int((continue_active > 0).sum()),
        }
        idx = idx[order]
        out.append(
            _dataset(
                net,
                x=x_all[i, idx],
                u=u_all[i, idx],
                condition=idx // n_init,
                q=q[order],
                lam=lam[order],
                vec=vec[order],
                n_unstable=n_unstable[order],
                jac=jac[i, :m][order],
                readout=readout[i, :m][order],
                hidden=hidden[i, :m][order],
                labels=labels,
                diagnostics=diagnostics,
                p=p,
            )
        )
    return out


def _label_array(values: Any) -> NDArray:
    arr = np.asarray(values)
    if arr.dtype.kind in "OSU":
        arr = arr.astype(str)
    return arr


def _dataset(
    net: Architecture,
    *,
    x: NDArray,
    u: NDArray,
    condition: NDArray,
    q: NDArray,
    lam: NDArray,
    vec: NDArray,
    n_unstable: NDArray,
    jac: NDArray,
    readout: NDArray,
    hidden: NDArray,
    labels: dict[str, Any],
    diagnostics: dict[str, Any],
    p: FixedPointParams,
) -> xr.Dataset:
    s = x.shape[1]
    n_vec = min(p.n_eigenvectors, s)
    fp = ("fixed_point",)
    kind = np.where(q <= p.tol_q, "fixed", "slow").astype("<U5")
    data: dict[str, Any] = {
        "state_value": (
            ("fixed_point", "state"),
            x.astype(np.float64),
            {"long_name": "state h at the point", "units": "1"},
        ),
        "hidden_value": (
            ("fixed_point", "unit"),
            hidden,
            {"long_name": "unit activity (what the readout sees) at the point", "units": "1"},
        ),
        "input_value": (
            ("fixed_point", "input_channel"),
            u.astype(np.float64),
            {"long_name": "static input u*", "units": "1"},
        ),
        "condition": (
            fp,
            condition.astype(np.int64),
            {"long_name": "index of the static input", "units": "1"},
        ),
        "q": (fp, q, {"long_name": "speed q = 1/2 |F(h, u) - h|^2", "units": "1"}),
        "kind": (fp, kind, {"long_name": "fixed (q <= tol_q) or slow (q <= slow_q) point"}),
        "eigenvalue_real": (
            ("fixed_point", "mode"),
            lam.real.astype(np.float64),
            {"long_name": "real part of the eigenvalues of dF/dh, by |λ| descending", "units": "1"},
        ),
        "eigenvalue_imag": (
            ("fixed_point", "mode"),
            lam.imag.astype(np.float64),
            {"long_name": "imaginary part of the eigenvalues of dF/dh", "units": "1"},
        ),
        "eigenvector_real": (
            ("fixed_point", "state", "leading_mode"),
            vec.real[..., :n_vec],
            {
                "long_name": "real part of the unit-norm right eigenvectors of dF/dh "
                "of the leading modes",
                "units": "1",
            },
        ),
        "eigenvector_imag": (
            ("fixed_point", "state", "leading_mode"),
            vec.imag[..., :n_vec],
            {
                "long_name": "imaginary part of the right eigenvectors of the leading modes",
                "units": "1",
            },
        ),
        "n_unstable": (
            fp,
            n_unstable.astype(np.int64),
            {"long_name": "number of modes with |λ| > 1 + unstable_tol", "units": "1"},
        ),
        "stable": (fp, n_unstable == 0, {"long_name": "no unstable mode"}),
        "readout": (
            ("fixed_point", "output"),
            readout,
            {"long_name": "network output at the point", "units": "1"},
        ),
    }
    coords: dict[str, Any] = {
        "fixed_point": ("fixed_point", np.arange(len(q)), {"long_name": "point index"}),
        "state": ("state", np.arange(s), {"long_name": "state dimension"}),
        "unit": ("unit", np.arange(hidden.shape[1]), {"long_name": "unit"}),
        "mode": ("mode", np.arange(s), {"long_name": "eigenmode, by |λ| descending"}),
        "leading_mode": (
            "leading_mode",
            np.arange(n_vec),
            {"long_name": "eigenmode with a stored eigenvector (the first of mode)"},
        ),
        "input_channel": ("input_channel", np.arange(u.shape[1]), {"long_name": "input"}),
        "output": ("output", np.arange(readout.shape[1]), {"long_name": "output"}),
    }
    if p.store_jacobian:
        coords["state_b"] = ("state_b", np.arange(s), {"long_name": "state dimension"})
        data["jacobian"] = (
            ("fixed_point", "state", "state_b"),
            jac,
            {"long_name": "Jacobian dF_state/dh_state_b", "units": "1"},
        )
    for key, label in labels.items():
        name = key if key not in data and key not in coords else f"input_{key}"
        coords[name] = (
            fp,
            _label_array(label)[condition],
            {"long_name": f"static input label {key!r}"},
        )
    attrs: dict[str, Any] = {
        "title": "fixed and slow points",
        "architecture": getattr(net, "name", type(net).__name__),
    }
    for key, value in p.to_dict().items():
        attrs[f"param_{key}"] = int(value) if isinstance(value, bool) else value
    attrs.update(diagnostics)
    return xr.Dataset(data, coords=coords, attrs=attrs)
