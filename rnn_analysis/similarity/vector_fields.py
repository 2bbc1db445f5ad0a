"""Procrustes analysis over vector fields: the search over orthogonal changes of
coordinates between two linear operators.

:func:`vector_field_angles` finds, for batches of operator pairs, the angle
``min_C arccos <A_a, C A_b Cᵀ>_F / (‖A_a‖ ‖A_b‖)`` over orthogonal ``C`` by Adam ascent on
the orthogonal group from many starting points (:func:`orthogonal_starts`), as
:class:`~rnn_analysis.similarity.dsa.DSA` compares networks. The search is
non-convex; every start of every pair is optimised on its own, so that a pair's result
does not depend on the other pairs of its batch.
"""

from __future__ import annotations

import numpy as np
import torch
from numpy.typing import NDArray

#: Adam's decay rates of the first and second moment estimates, and its ε.
ADAM_BETAS = (0.9, 0.999)
ADAM_EPS = 1e-8

#: During refinement, every this many steps a start whose objective gained at most
#: ``tol`` over its best so far has stalled: its step size is multiplied by ``LR_DECAY``,
#: and at its ``stalls``-th stall (see :class:`DSA`) it stops.
CHECK_EVERY = 50
LR_DECAY = 0.1

#: Largest Frobenius norm of one skew step ``X`` of the search. Its rotation angles are
#: then at most ``MAX_STEP / √2``, small enough for one Newton–Schulz step to bring the
#: second-order retraction back towards the orthogonal group (see ``_retract``); Adam's
#: steps of about ``learning_rate`` per entry exceed it for large ranks.
MAX_STEP = 2.0


def orthogonal_starts(size: int, n_starts: int, seed: int) -> NDArray[np.float64]:
    """Starting points [n_starts, size, size] for the Procrustes-over-vector-fields search.

    The identity, the reflection ``diag(1, ..., 1, -1)`` (a point of the other connected
    component of O(size)), then Haar-random orthogonal matrices drawn from a generator
    seeded with ``(seed, size)``; the first ``n_starts`` of this sequence.
    """
    starts = np.empty((n_starts, size, size))
    starts[0] = np.eye(size)
    if n_starts > 1:
        starts[1] = np.eye(size)
        starts[1, -1, -1] = -1.0
    if n_starts > 2:
        rng = np.random.default_rng([seed, size])
        q, r = np.linalg.qr(rng.standard_normal((n_starts - 2, size, size)))
        starts[2:] = q * np.sign(np.diagonal(r, axis1=-2, axis2=-1))[:, None, :]
    return starts


def _skew(m: torch.Tensor) -> torch.Tensor:
    return 0.5 * (m - m.transpose(-1, -2))


def _objective_and_gradient(
    a: torch.Tensor, b: torch.Tensor, c: torch.Tensor
) -> tuple[torch.Tensor, torch.Tensor]:
    """``<A, C B Cᵀ>`` and its Riemannian gradient in left-trivialised form.

    With ``M = Cᵀ A C`` the objective is ``<M, B>`` and the gradient at ``C`` is
    ``C W`` with the skew-symmetric ``W = skew(M Bᵀ + Mᵀ B)``; ``W`` is returned.
    """
    m = c.transpose(-1, -2) @ (a @ c)
    value = (m * b).sum(dim=(-2, -1))
    return value, _gradient_of(m, b)


def _gradient_of(m: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    return _skew(m @ b.transpose(-1, -2) + m.transpose(-1, -2) @ b)


def _traceless_unit(a: torch.Tensor) -> torch.Tensor:
    """The traceless part ``A - tr(A)/r I`` of each operator, scaled to unit norm
    (left at 0 where it vanishes)."""
    r = a.shape[-1]
    trace = torch.diagonal(a, dim1=-2, dim2=-1).sum(-1)
    a0 = a - (trace / r)[:, None, None] * torch.eye(r, dtype=a.dtype, device=a.device)
    norm = torch.linalg.matrix_norm(a0)
    return a0 / torch.where(norm > 0, norm, 1.0)[:, None, None]


def _retract(c: torch.Tensor, x: torch.Tensor, eye: torch.Tensor) -> torch.Tensor:
    """``C exp(X)`` for a small skew ``X``, to second order, then one Newton–Schulz
    step back towards the orthogonal group (the second-order step errs by ``X⁴/4``)."""
    c = c @ (eye + x + 0.5 * (x @ x))
    return c @ (1.5 * eye - 0.5 * (c.transpose(-1, -2) @ c))


def _polar(c: torch.Tensor) -> torch.Tensor:
    """The nearest orthogonal matrix to each (nearly orthogonal) matrix."""
    u, _, vh = torch.linalg.svd(c)
    return u @ vh


class _Adam:
    """Adam ascent on the orthogonal group: moments of the left-trivialised gradient,
    steps ``C ← C exp(X)`` with the skew Adam update ``X``, scaled down to Frobenius
    norm :data:`MAX_STEP` where it is larger."""

    def __init__(self, c: torch.Tensor, lr: float) -> None:
        self.c = c
        self.m = torch.zeros_like(c)
        self.v = torch.zeros_like(c)
        self.k = 0
        self.lr = torch.full((*c.shape[:-2], 1, 1), lr, dtype=c.dtype, device=c.device)
        self.eye = torch.eye(c.shape[-1], dtype=c.dtype, device=c.device)

    def run(self, a: torch.Tensor, b: torch.Tensor, n_steps: int) -> None:
        beta1, beta2 = ADAM_BETAS
        for _ in range(n_steps):
            self.k += 1
            w = _gradient_of(self.c.transpose(-1, -2) @ (a @ self.c), b)
            self.m.mul_(beta1).add_(w, alpha=1.0 - beta1)
            self.v.mul_(beta2).addcmul_(w, w, value=1.0 - beta2)
            denom = (self.v / (1.0 - beta2**self.k)).sqrt_().add_(ADAM_EPS)
            x = (self.lr / (1.0 - beta1**self.k)) * self.m / denom
            x = x * (MAX_STEP / torch.linalg.matrix_norm(x, keepdim=True)).clamp_(max=1.0)
            self.c = _retract(self.c, x, self.eye)

    def select(self, index: torch.Tensor) -> _Adam:
        """The optimiser state of the problems ``index`` (along the first axis)."""
        out = _Adam.__new__(_Adam)
        out.c, out.m, out.v, out.lr = (t[index] for t in (self.c, self.m, self.v, self.lr))
        out.k, out.eye = self.k, self.eye
        return out


def vector_field_angles(
    a: torch.Tensor,
    b: torch.Tensor,
    starts: torch.Tensor,
    *,
    iterations: int,
    screen_iterations: int,
    n_kept: int,
    learning_rate: float,
    tol: float,
    stalls: int,
) -> torch.Tensor:
    """Procrustes analysis over vector fields for a batch of operator pairs.

    For every pair, ``min_C arccos <A, C B Cᵀ>_F / (‖A‖ ‖B‖)`` over orthogonal ``C``.
    Conjugation leaves multiples of the identity alone, so the best ``C`` maximises
    ``<A₀, C B₀ Cᵀ>`` for the traceless parts ``A₀``, ``B₀``; that objective, with both
    scaled to unit norm so that its scale does not depend on how close the operators
    are to multiples of the identity, is searched by Adam ascent on the orthogonal
    group from every start. All starts run ``screen_iterations`` steps; the ``n_kept``
    closest to their operator pair then continue; a start whose objective gains at
    most ``tol`` over :data:`CHECK_EVERY` steps has stalled and has its step size
    divided by ten, and it stops at its ``stalls``-th stall or after ``iterations``
    steps in all. A start only moves within its connected component of O(r), so starts
    of both determinants are needed. The result is the best point seen: the starts,
    the screened points and every checked point of the refinement. A pair that a start
    matches exactly (distance 0, e.g. a network and itself at the identity) is not
    searched.

    Every start of every pair is one problem of the batch, and each step acts on every
    problem separately (products of its own [r, r] matrices, no sum across problems),
    so a pair's angle does not depend on the other pairs of the batch nor on the batch
    size: on the CPU it is the same to the last bit.

    Parameters
    ----------
    a, b
        Operators [n_pairs, r, r] (any non-zero scale).
    starts
        Orthogonal starting points [n_starts, r, r], shared by every pair.
    iterations, screen_iterations, n_kept, learning_rate, tol, stalls
        See :class:`DSA`.

    Returns
    -------
    torch.Tensor
        The smallest angle found per pair [n_pairs], radians in [0, π]. It is
        computed from the chord ``‖Â − C B̂ Cᵀ‖_F = 2 sin(angle / 2)``, accurate near 0.
    """
    n_pairs = a.shape[0]
    n_starts = starts.shape[0]
    a = a / torch.linalg.matrix_norm(a)[:, None, None]
    b = b / torch.linalg.matrix_norm(b)[:, None, None]
    pair_of = torch.arange(n_pairs, device=a.device).repeat_interleave(n_starts)
    at_starts = _chord(a[pair_of], b[pair_of], starts.repeat(n_pairs, 1, 1))
    best = at_starts.reshape(n_pairs, n_starts).min(dim=1).values
    open_pairs = torch.nonzero(best > 0).squeeze(1)
    if open_pairs.numel():
        found = _search(
            a[open_pairs],
            b[open_pairs],
            starts,
            iterations=iterations,
            screen_iterations=screen_iterations,
            n_kept=n_kept,
            learning_rate=learning_rate,
            tol=tol,
            stalls=stalls,
        )
        best[open_pairs] = torch.minimum(best[open_pairs], found)
    return 2.0 * torch.arcsin(0.5 * best.clamp(max=2.0))


def _search(
    a_full: torch.Tensor,
    b_full: torch.Tensor,
    starts: torch.Tensor,
    *,
    iterations: int,
    screen_iterations: int,
    n_kept: int,
    learning_rate: float,
    tol: float,
    stalls: int,
) -> torch.Tensor:
    """The smallest chord per pair over the screened points and the checked points of
    the refinement (see :func:`vector_field_angles`), for unit-norm operators."""
    n_pairs = a_full.shape[0]
    n_starts = starts.shape[0]
    a, b = _traceless_unit(a_full), _traceless_unit(b_full)

    # Screening: problems [n_pairs * n_starts, r, r], pair-major.
    pair_of = torch.arange(n_pairs, device=a.device).repeat_interleave(n_starts)
    opt = _Adam(starts.repeat(n_pairs, 1, 1), learning_rate)
    opt.run(a[pair_of], b[pair_of], min(screen_iterations, iterations))
    chord = _chord(a_full[pair_of], b_full[pair_of], _polar(opt.c)).reshape(n_pairs, n_starts)
    best = chord.min(dim=1).values
    if n_kept < n_starts:
        chosen = torch.topk(chord, n_kept, dim=1, largest=False).indices
        index = (chosen + n_starts * torch.arange(n_pairs, device=a.device)[:, None]).reshape(-1)
        opt, pair_of = opt.select(index), pair_of[index]

    # Refinement: stalled problems slow down, then leave.
    top, _ = _objective_and_gradient(a[pair_of], b[pair_of], _polar(opt.c))
    n_stalls = torch.zeros_like(pair_of)
    remaining = iterations - opt.k
    while remaining > 0 and pair_of.numel():
        n_steps = min(CHECK_EVERY, remaining)
        pa, pb = a[pair_of], b[pair_of]
        opt.run(pa, pb, n_steps)
        remaining -= n_steps
        c = _polar(opt.c)
        value, _ = _objective_and_gradient(pa, pb, c)
        chord = _chord(a_full[pair_of], b_full[pair_of], c)
        best = best.scatter_reduce(0, pair_of, chord, reduce="amin")
        stalled = value - top <= tol
        top = torch.maximum(top, value)
        n_stalls += stalled
        opt.lr[stalled] *= LR_DECAY
        moving = torch.nonzero(n_stalls < stalls).squeeze(1)
        top, n_stalls, pair_of = top[moving], n_stalls[moving], pair_of[moving]
        opt = opt.select(moving)
    return best


def _chord(a: torch.Tensor, b: torch.Tensor, c: torch.Tensor) -> torch.Tensor:
    """``‖A − C B Cᵀ‖_F`` for orthogonal ``C``; for unit-norm ``A``, ``B`` it is
    ``2 sin(angle / 2)`` of the angle between ``A`` and ``C B Cᵀ``."""
    return torch.linalg.matrix_norm(a - c @ b @ c.transpose(-1, -2))
