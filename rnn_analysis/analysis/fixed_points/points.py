"""Candidates of one network: selection, deduplication and classification after Newton."""

from __future__ import annotations

from dataclasses import dataclass, fields

import numpy as np
import torch
from numpy.typing import NDArray

from rnn_analysis.analysis.fixed_points.initial_states import PROBE
from rnn_analysis.analysis.fixed_points.params import FixedPointParams
from rnn_analysis.analysis.fixed_points.search import speed
from rnn_analysis.analysis.fixed_points.verify import newton
from rnn_analysis.architectures.base import Architecture

__all__ = ["Points", "candidates", "canonical_order", "select", "verify"]

#: Fixed points are ordered by their state rounded to this many decimals.
_ORDER_DECIMALS = 6


@dataclass
class Points:
    """Points of one network, [P, ...] numpy arrays.

    ``fixed`` is the verdict (verified, or q ≤ tol_q without verification); the
    ``newton_*`` scores describe where Newton's iteration from the point's candidate
    ended (NaN without verification).
    """

    x: NDArray
    u: NDArray
    condition: NDArray
    q: NDArray
    origin: NDArray
    fixed: NDArray
    newton_residual: NDArray
    newton_step: NDArray
    newton_distance: NDArray

    def __len__(self) -> int:
        return len(self.q)

    def take(self, index: NDArray) -> Points:
        return Points(**{f.name: getattr(self, f.name)[index] for f in fields(self)})

    @staticmethod
    def concat(parts: list[Points]) -> Points:
        return Points(
            **{f.name: np.concatenate([getattr(p, f.name) for p in parts]) for f in fields(Points)}
        )


def canonical_order(points: Points, *keys: NDArray) -> NDArray:
    """An order of the points that does not hinge on rounding: by static input, fixed
    before slow, then ``keys`` (most significant first), then slow points by q and fixed
    points by their state rounded to 1e-6 (a fixed point's q is rounding noise)."""
    rounded = np.round(points.x, _ORDER_DECIMALS)
    q = np.where(points.fixed, 0.0, points.q)
    columns = [rounded[:, j] for j in range(rounded.shape[1] - 1, -1, -1)]
    return np.lexsort((*columns, q, *reversed(keys), ~points.fixed, points.condition))


def candidates(
    x: NDArray, u: NDArray, q: NDArray, condition: NDArray, origin: NDArray, p: FixedPointParams
) -> tuple[Points, dict[str, int]]:
    """The unique end points of one network's search with q ≤ slow_q, and counts.

    Deduplicated per static input greedily by ascending q with ``unique_tol``; ``fixed``
    is provisional (q ≤ tol_q) until :func:`verify`.
    """
    finite = np.isfinite(q) & np.all(np.isfinite(x), axis=1)
    keep = finite & (q <= p.slow_q)
    n = int(keep.sum())
    nan = np.full(n, np.nan)
    points = Points(
        x=x[keep].astype(np.float64),
        u=u[keep].astype(np.float64),
        condition=condition[keep].astype(np.int64),
        q=q[keep].astype(np.float64),
        origin=origin[keep].astype(np.int8),
        fixed=q[keep] <= p.tol_q,
        newton_residual=nan,
        newton_step=nan.copy(),
        newton_distance=nan.copy(),
    )
    counts = {
        "n_converged": int((finite & (q <= p.tol_q)).sum()),
        "n_slow_candidates": int((finite & (q > p.tol_q) & (q <= p.slow_q)).sum()),
    }
    return points.take(unique(points, p.unique_tol)), counts


def unique(points: Points, tol: float) -> NDArray:
    """Indices of the points kept by greedy deduplication on ``[h; u]`` per static input.

    Fixed points come first, then points from probe samples, then by ascending q (so
    that a slow point from a probe sample is not dropped for one from another seed,
    which is not kept if it stays slow); a point within ``tol`` of a kept point of the
    same static input is dropped.
    """
    kept = []
    for c in np.unique(points.condition):
        idx = np.flatnonzero(points.condition == c)
        from_probe = points.origin[idx] == PROBE
        idx = idx[np.lexsort((points.q[idx], ~from_probe, ~points.fixed[idx]))]
        xu = np.concatenate([points.x[idx], points.u[idx]], axis=1)
        alive = np.ones(len(idx), dtype=bool)
        for i in range(len(idx)):
            if not alive[i]:
                continue
            kept.append(idx[i])
            alive[i + 1 :] &= np.linalg.norm(xu[i + 1 :] - xu[i], axis=1) > tol
    return np.sort(np.asarray(kept, dtype=np.int64))


def select(points: Points, init: NDArray, p: FixedPointParams) -> tuple[Points, int]:
    """Drop outliers (far from the initial states' centroid) and duplicates; the number of
    outliers dropped."""
    keep = np.ones(len(points), dtype=bool)
    centroid = init.mean(axis=0)
    mean_distance = float(np.linalg.norm(init - centroid, axis=1).mean())
    if mean_distance > 0 and len(points):
        distance = np.linalg.norm(points.x - centroid, axis=1)
        keep = distance <= p.outlier_distance_scale * mean_distance
    kept = points.take(np.flatnonzero(keep))
    return kept.take(unique(kept, p.unique_tol)), int((~keep).sum())


def verify(
    model: Architecture, networks: list[Points], p: FixedPointParams
) -> tuple[list[Points], list[dict[str, int]]]:
    """Newton verification of every network's candidates, batched over networks.

    A candidate whose iteration converges within ``verify_max_distance`` becomes a fixed
    point at the root; one that converges farther away stays a candidate that is not
    fixed, and the root it reached is added as a fixed point; one that does not converge
    is not fixed. q is recomputed in float64 at every root.
    """
    e = len(networks)
    k = max((len(pts) for pts in networks), default=0)
    s = networks[0].x.shape[1]
    n_in = networks[0].u.shape[1]
    x = np.zeros((e, k, s))
    u = np.zeros((e, k, n_in))
    valid = np.zeros((e, k), dtype=bool)
    for i, pts in enumerate(networks):
        x[i, : len(pts)], u[i, : len(pts)], valid[i, : len(pts)] = pts.x, pts.u, True
    device = model.weight_out.device
    xt = torch.as_tensor(x, device=device)
    ut = torch.as_tensor(u, device=device)
    result = newton(model, xt, ut, torch.as_tensor(valid, device=device), p)
    with torch.no_grad():
        q_end = speed(model, result.x, ut).cpu().numpy()
    end = result.x.cpu().numpy()
    residual = result.residual.cpu().numpy()
    step = result.step.cpu().numpy()
    distance = result.distance.cpu().numpy()
    converged = result.converged.cpu().numpy()
    out, counts = [], []
    for i, pts in enumerate(networks):
        m = len(pts)
        conv = converged[i, :m]
        near = conv & (distance[i, :m] <= p.verify_max_distance)
        far = conv & ~near
        scores = {
            "newton_residual": residual[i, :m],
            "newton_step": step[i, :m],
            "newton_distance": distance[i, :m],
        }
        checked = Points(
            x=np.where(near[:, None], end[i, :m], pts.x),
            u=pts.u,
            condition=pts.condition,
            q=np.where(near, q_end[i, :m], pts.q),
            origin=pts.origin,
            fixed=near,
            **scores,
        )
        roots = Points(
            x=end[i, :m],
            u=pts.u,
            condition=pts.condition,
            q=q_end[i, :m],
            origin=pts.origin,
            fixed=np.ones(m, dtype=bool),
            **scores,
        ).take(np.flatnonzero(far))
        out.append(Points.concat([checked, roots]))
        counts.append(
            {
                "n_candidates": m,
                "n_confirmed": int(near.sum()),
                "n_relocated": int(far.sum()),
                "n_rejected": int(((pts.q <= p.tol_q) & ~near).sum()),
            }
        )
    return out, counts
