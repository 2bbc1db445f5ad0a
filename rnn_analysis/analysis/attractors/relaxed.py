"""Points on the slow manifold, sampled by relaxation, and their slow eigenvectors.

An approximate line attractor of a trained network is a curve along which the dynamics
are slow; its true fixed points may be few (one stable point, or two with a saddle
between), and a fixed-point search ends on them. Running probe states for a while
under the static input lets the fast directions decay and leaves the states on the slow
manifold, spread along it as the task's states were: samples of the whole line.
"""

from __future__ import annotations

import numpy as np
import torch
from numpy.typing import NDArray

from rnn_analysis.analysis.attractors.params import AttractorParams
from rnn_analysis.analysis.attractors.points import Points, real_unit, rms_spread
from rnn_analysis.analysis.fixed_points import jacobian
from rnn_analysis.architectures.base import Architecture

__all__ = ["combine", "relaxed_points", "slow_eigenvectors"]

#: States are deduplicated on a grid of this fraction of the probe states' RMS spread.
_DEDUPLICATE = 1e-3


def _eig_sorted(jac: NDArray) -> NDArray:
    """Eigenvalues [P, S] of each Jacobian, by |λ| descending (the finder's order)."""
    if not len(jac):
        return np.zeros((0, jac.shape[-1]), complex)
    lam = np.linalg.eigvals(jac)
    order = np.lexsort((-lam.imag, -np.abs(lam)), axis=-1)
    return np.take_along_axis(lam, order, axis=-1)


def relaxed_points(
    net: Architecture,
    probe: NDArray | None,
    values: NDArray,
    unstable_tol: float,
    p: AttractorParams,
) -> Points:
    """Probe states relaxed under every static input, kept where they are slow.

    ``line_relax_states`` probe states, evenly spaced over trials and time, run
    ``line_relax_steps`` steps under each static input in one batch; states with speed
    ``q ≤ line_relax_q`` are kept, deduplicated, with their eigenvalues and readout.
    """
    s, n_cond = net.n_state, len(values)
    if probe is None or p.line_relax_steps == 0 or p.line_relax_states == 0 or not n_cond:
        return _empty(s, values.shape[1], net.n_outputs, unstable_tol)
    states = probe.reshape(-1, s)
    pick = np.unique(np.linspace(0, len(states) - 1, p.line_relax_states).round().astype(int))
    states = states[pick]
    k = len(states)
    dtype, device = net.weight_out.dtype, net.weight_out.device
    h = torch.as_tensor(np.tile(states, (n_cond, 1)), dtype=dtype, device=device)[None]
    u = torch.as_tensor(np.repeat(values, k, axis=0), dtype=dtype, device=device)[None]
    with torch.no_grad():
        for _ in range(p.line_relax_steps):
            h = net.step(h, u)
        q = 0.5 * (net.step(h, u) - h).square().sum(dim=-1)
    x = h[0].cpu().numpy().astype(np.float64)
    q = q[0].cpu().numpy().astype(np.float64)
    condition = np.repeat(np.arange(n_cond), k)
    keep = np.isfinite(q) & (q <= p.line_relax_q) & np.isfinite(x).all(axis=1)
    grid = _DEDUPLICATE * max(rms_spread(states), np.finfo(float).tiny)
    keys = np.concatenate([condition[:, None], np.round(x / grid)], axis=1)
    _, first = np.unique(keys[keep], axis=0, return_index=True)
    index = np.flatnonzero(keep)[np.sort(first)]
    x, condition = x[index], condition[index]
    xt = torch.as_tensor(x, dtype=dtype, device=device)[None]
    ut = torch.as_tensor(values[condition], dtype=dtype, device=device)[None]
    with torch.no_grad():
        readout = net.readout(xt)[0].cpu().numpy().astype(np.float64)
    lam = _eig_sorted(jacobian(net, xt, ut)[0].cpu().numpy().astype(np.float64))
    unstable = (np.abs(lam) > 1 + unstable_tol).sum(axis=1)
    return Points(
        x=x,
        u=values[condition],
        condition=condition,
        fixed=np.zeros(len(x), dtype=bool),
        n_unstable=unstable.astype(np.int64),
        stable=unstable == 0,
        lam=lam,
        vec=np.zeros((len(x), s, 0), complex),
        readout=readout,
        unstable_tol=unstable_tol,
    )


def _empty(s: int, n_in: int, n_out: int, unstable_tol: float) -> Points:
    return Points(
        x=np.zeros((0, s)),
        u=np.zeros((0, n_in)),
        condition=np.zeros(0, dtype=np.int64),
        fixed=np.zeros(0, dtype=bool),
        n_unstable=np.zeros(0, dtype=np.int64),
        stable=np.zeros(0, dtype=bool),
        lam=np.zeros((0, s), complex),
        vec=np.zeros((0, s, 0), complex),
        readout=np.zeros((0, n_out)),
        unstable_tol=unstable_tol,
    )


def combine(a: Points, b: Points) -> Points:
    """The points of ``a`` followed by those of ``b``; ``b`` stores no eigenvectors, so
    ``a``'s are kept and ``b``'s left as zeros (recomputed when needed)."""
    s, k = a.x.shape[1], a.vec.shape[2]
    stored = np.zeros((len(b), s, k), complex)
    return Points(
        x=np.concatenate([a.x, b.x]),
        u=np.concatenate([a.u, b.u]),
        condition=np.concatenate([a.condition, b.condition]),
        fixed=np.concatenate([a.fixed, b.fixed]),
        n_unstable=np.concatenate([a.n_unstable, b.n_unstable]),
        stable=np.concatenate([a.stable, b.stable]),
        lam=np.concatenate([a.lam, b.lam]),
        vec=np.concatenate([a.vec, stored]),
        readout=np.concatenate([a.readout, b.readout]),
        unstable_tol=a.unstable_tol,
    )


def slow_eigenvectors(
    net: Architecture, points: Points, index: NDArray, n_stored_points: int, p: AttractorParams
) -> list[NDArray]:
    """Real unit eigenvectors [S, k] of the slow modes of each point ``index[i]``: the (at
    most ``line_slow_modes``) eigenvalues closest to 1 within ``line_tolerance``, at least
    the closest one. Eigenvectors stored with the first ``n_stored_points`` points (the
    fixed-point dataset's leading modes) are used; the others come from the Jacobian,
    computed at the point."""
    n_stored = points.vec.shape[2]
    modes = []
    for i in index:
        distance = np.abs(points.lam[i] - 1.0)
        order = np.argsort(distance, kind="stable")[: p.line_slow_modes]
        modes.append(order[(distance[order] <= p.line_tolerance) | (order == order[0])])
    out: list[NDArray | None] = [
        np.stack([real_unit(points.vec[i, :, k]) for k in m], axis=1)
        if i < n_stored_points and m.max() < n_stored
        else None
        for i, m in zip(index, modes, strict=True)
    ]
    missing = [k for k, v in enumerate(out) if v is None]
    if missing:
        dtype, device = net.weight_out.dtype, net.weight_out.device
        at = index[missing]
        jac = (
            jacobian(
                net,
                torch.as_tensor(points.x[at], dtype=dtype, device=device)[None],
                torch.as_tensor(points.u[at], dtype=dtype, device=device)[None],
            )[0]
            .cpu()
            .numpy()
            .astype(np.float64)
        )
        for k, j in zip(missing, jac, strict=True):
            w, v = np.linalg.eig(j)
            targets = points.lam[index[k], modes[k]]
            columns = [int(np.argmin(np.abs(w - t))) for t in targets]
            out[k] = np.stack([real_unit(v[:, c]) for c in columns], axis=1)
    return out  # type: ignore[return-value]
