"""Verification of candidate fixed points: damped Newton on the saturation-free residual.

``q = ½‖F(h) − h‖²`` can fall below any tolerance without h being a fixed point: where
a gated network's update gate saturates, ``F(h) − h = (1 − z) ⊙ (n − h)`` vanishes with
``1 − z`` (in float64, ``1 − z`` rounds to 0 once the gate's input exceeds about 37),
and near a saddle-node bifurcation q has a small positive minimum (a ghost). A
candidate therefore only counts as a fixed point once damped Newton iterations on the
architecture's residual ``R(h, u)``
(:meth:`~rnn_analysis.architectures.base.Architecture.fixed_point_residual`, zero
exactly at the fixed points and not through saturation), in float64, converge to a
root: ``‖R‖`` at most a tolerance, a full Newton step at most a tolerance there (an
isolated root, not a flat plateau of R), close to where the candidate was.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from rnn_analysis.analysis.fixed_points.jacobians import residual_jacobian
from rnn_analysis.analysis.fixed_points.params import FixedPointParams
from rnn_analysis.analysis.fixed_points.search import Slots
from rnn_analysis.architectures.base import Architecture

__all__ = ["Newton", "newton"]

#: Step fractions tried by the backtracking line search: 1, 1/2, ..., 1/1024.
_LINE_SEARCH_STEPS = 11
#: Singular values of dR/dh below this times the largest are dropped from the Newton
#: step, which is the minimum-norm least-squares solution: at a point of an exact
#: continuum of fixed points (a line attractor with an eigenvalue 1), dR/dh is singular
#: and the null direction must not take an arbitrary step.
_RCOND = 1e-12
#: Where ‖R‖ ≤ verify_residual_tol, the part of R outside the range of dR/dh must be
#: below this times verify_residual_tol (rounding).
_UNEXPLAINED = 1e-3
#: Armijo constant: a step of fraction α must lower ‖R‖ by at least this × α × ‖R‖.
_ARMIJO = 1e-4


@dataclass
class Newton:
    """Where Newton's iteration from each candidate ended ([E, K] unless stated).

    Attributes
    ----------
    x : [E, K, S] tensor
        End point (after the final full step where the iteration converged).
    residual : tensor
        ``‖R‖`` at the last iterate.
    step : tensor
        Length of the full Newton step ``−(dR/dh)⁺ R`` at the last iterate (the
        minimum-norm least-squares step, singular values below 1e-12 times the largest
        dropped: ``−(dR/dh)⁻¹ R`` unless dR/dh is singular to working precision, as at a
        point of an exact continuum of fixed points, a line attractor with an eigenvalue
        1). inf where ‖R‖ is below tolerance but R has a part outside the range of dR/dh
        above rounding (a flat plateau of R that does not vanish).
    distance : tensor
        Distance from the candidate to the end point.
    converged : bool tensor
        ``residual ≤ verify_residual_tol`` and ``step ≤ verify_step_tol``.
    iterations : int tensor
        Jacobians evaluated.
    """

    x: torch.Tensor
    residual: torch.Tensor
    step: torch.Tensor
    distance: torch.Tensor
    converged: torch.Tensor
    iterations: torch.Tensor


def newton(
    model: Architecture, x: torch.Tensor, u: torch.Tensor, valid: torch.Tensor, p: FixedPointParams
) -> Newton:
    """Damped Newton iterations on ``R(h, u) = 0`` from every valid candidate, batched.

    Each iteration solves ``dR/dh · δ = −R`` (Jacobian by autograd; the minimum-norm
    least-squares solution, for dR/dh singular to working precision) and moves by the
    largest of 1, 1/2, ..., 1/1024 times δ that lowers ``‖R‖`` by the Armijo margin. A
    candidate stops when it has converged, when no fraction lowers ``‖R‖`` (it has
    reached rounding, or a minimum of ``‖R‖`` that is not a root), where R is below
    tolerance on a flat plateau, or after ``verify_iterations`` iterations.

    Parameters
    ----------
    model : Architecture
        The ensemble in float64.
    x : [E, K, S] tensor
        Candidates (padded per network).
    u : [E, K, n_in] tensor
        Static input of each candidate.
    valid : [E, K] bool tensor
        Which slots hold a candidate.
    p : FixedPointParams
        ``verify_iterations``, ``verify_residual_tol`` and ``verify_step_tol`` are used.
    """
    x = x.to(torch.float64)
    u = u.to(torch.float64)
    e, k, s = x.shape
    nan = torch.full((e, k), torch.nan, dtype=torch.float64, device=x.device)
    out = Newton(
        x=x.clone(),
        residual=nan.clone(),
        step=nan.clone(),
        distance=nan.clone(),
        converged=torch.zeros(e, k, dtype=torch.bool, device=x.device),
        iterations=torch.zeros(e, k, dtype=torch.long, device=x.device),
    )
    if k == 0 or not bool(valid.any()):
        return out
    fractions = 2.0 ** -torch.arange(_LINE_SEARCH_STEPS, dtype=torch.float64, device=x.device)
    slots = Slots(valid, {"x": x, "u": u, "iterations": out.iterations})
    for it in range(p.verify_iterations + 1):
        counts = slots.counts()
        if not bool(counts.any()):
            break
        slots.maybe_compact(counts)
        st, valid_now = slots.tensors, slots.valid
        xs, us = st["x"], st["u"]
        with torch.no_grad():
            r = model.fixed_point_residual(xs, us)
        jac = residual_jacobian(model, xs, us)
        finite = torch.isfinite(r).all(dim=-1) & torch.isfinite(jac).all(dim=-1).all(dim=-1)
        jac = torch.where(finite[..., None, None], jac, 0.0)
        r = torch.where(finite.unsqueeze(-1), r, 0.0)
        delta = torch.linalg.lstsq(jac, -r.unsqueeze(-1), rcond=_RCOND, driver="gelsd").solution
        unexplained = (r.unsqueeze(-1) + jac @ delta).squeeze(-1).norm(dim=-1)
        delta = delta.squeeze(-1)
        r_norm = r.norm(dim=-1)
        small = r_norm <= p.verify_residual_tol
        # Below tolerance, R must lie in the range of dR/dh up to rounding: a direction
        # in which dR/dh vanishes but R does not is a flat plateau, not a root.
        consistent = unexplained <= _UNEXPLAINED * p.verify_residual_tol
        solved = finite & torch.isfinite(delta).all(dim=-1) & (~small | consistent)
        step = torch.where(solved, delta.norm(dim=-1), torch.inf)
        ok = solved & small & (step <= p.verify_step_tol)
        st["iterations"] = st["iterations"] + 1
        stop = valid_now & (ok | ~solved)
        if it == p.verify_iterations:
            stop = valid_now
        moving = valid_now & ~stop
        x_next = xs
        if bool(moving.any()):
            kk = xs.shape[1]
            trial = xs.unsqueeze(2) + fractions[:, None] * delta.unsqueeze(2)
            trial_u = us.unsqueeze(2).expand(-1, -1, _LINE_SEARCH_STEPS, -1)
            with torch.no_grad():
                r_trial = model.fixed_point_residual(
                    trial.reshape(e, kk * _LINE_SEARCH_STEPS, s),
                    trial_u.reshape(e, kk * _LINE_SEARCH_STEPS, -1),
                )
            r_trial = r_trial.reshape(e, kk, _LINE_SEARCH_STEPS, s).norm(dim=-1)
            lower = torch.isfinite(r_trial) & (
                r_trial <= (1 - _ARMIJO * fractions) * r_norm.unsqueeze(-1)
            )
            found = lower.any(dim=-1)
            first = lower.to(torch.int8).argmax(dim=-1)
            chosen = trial.gather(2, first[..., None, None].expand(-1, -1, 1, s)).squeeze(2)
            x_next = torch.where((moving & found).unsqueeze(-1), chosen, xs)
            stop = stop | (moving & ~found)
        if bool(stop.any()):
            end = torch.where((stop & ok).unsqueeze(-1), xs + delta, xs)
            slots.scatter(stop, out.x, end)
            slots.scatter(stop, out.residual, r_norm)
            slots.scatter(stop, out.step, step)
            slots.scatter(stop, out.converged, ok)
            slots.scatter(stop, out.iterations, st["iterations"])
            slots.valid = valid_now & ~stop
        st["x"] = x_next
    out.distance = torch.where(
        valid, (out.x - x).norm(dim=-1), torch.full_like(out.distance, torch.nan)
    )
    return out
