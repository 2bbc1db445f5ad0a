"""Dynamical similarity analysis (Ostrow, Eisen, Kozachkov & Fiete 2023).

Each network's probe trajectories are delay-embedded and reduced to their leading
singular directions, where a linear operator ``A`` with ``y_{t+1} ≈ A y_t`` is
fitted by least squares (HAVOK-style dynamic mode decomposition). Two networks are
compared by the angle between their operators after the best orthogonal change of
coordinates, ``min_C arccos <A_a, C A_b Cᵀ>_F / (‖A_a‖ ‖A_b‖)`` over orthogonal
``C`` ("Procrustes analysis over vector fields"). The minimisation is non-convex; it
runs from many starting points for all pairs at once as one batch of small matrix
products on any torch device.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, NamedTuple

import numpy as np
import torch
import xarray as xr
from numpy.typing import NDArray

from rnn_analysis.similarity.base import (
    METRICS,
    AttrValue,
    MissingRepresentation,
    SimilarityMetric,
    centre,
    validate_representations,
)
from rnn_analysis.similarity.vector_fields import orthogonal_starts, vector_field_angles

__all__ = ["DSA", "DSAPrepared", "delay_embedding", "orthogonal_starts", "vector_field_angles"]

#: Coordinates the operator can be fitted in (see :class:`DSA`).
COORDINATES = ("whitened", "projected")

#: Bytes that the tensors of one batch of pairs × starts may take (sets the chunk size),
#: on the CPU (where batches that stay in the cache run fastest) and on other devices.
CHUNK_BYTES = {"cpu": 16 * 2**20, "other": 256 * 2**20}

#: Arrays of [r, r] per problem that the optimiser holds at once (for the chunk size).
ARRAYS_PER_PROBLEM = 16

#: Hyperparameters of a slower, more thorough search than the defaults of :class:`DSA`:
#: 32 starts of small steps, each refined until its fourth stall.
EXHAUSTIVE_SEARCH: dict[str, int | float] = {
    "n_starts": 32,
    "n_kept": 4,
    "screen_iterations": 100,
    "learning_rate": 0.05,
    "stalls": 4,
}


class DSAPrepared(NamedTuple):
    """A network's fitted linear operator.

    Attributes
    ----------
    operator
        The operator [rank, rank] scaled to unit Frobenius norm.
    rank
        Its size: ``min(rank, available rank)`` (see :class:`DSA`).
    """

    operator: NDArray[np.float64]
    rank: int


def delay_embedding(
    x: NDArray[np.float64], n_delays: int, delay_interval: int = 1
) -> NDArray[np.float64]:
    """Delay (Hankel) embedding of every trial separately.

    Parameters
    ----------
    x
        Trajectories [n_trials, n_time, n_units].
    n_delays
        Number of lagged copies of the state in one embedded vector.
    delay_interval
        Time steps between consecutive lags.

    Returns
    -------
    ndarray
        [n_trials, n_time - (n_delays - 1) * delay_interval, n_delays * n_units]; row
        ``t`` of a trial is ``[x_s, x_{s-τ}, ..., x_{s-(n_delays-1)τ}]`` with
        ``s = t + (n_delays - 1) τ`` and ``τ = delay_interval``. No vector mixes
        time points of different trials.

    Raises
    ------
    ValueError
        If the trials are too short for a single embedded vector.
    """
    n_trials, n_time, _ = x.shape
    span = (n_delays - 1) * delay_interval
    n_rows = n_time - span
    if n_rows < 1:
        raise ValueError(
            f"trials of {n_time} time steps are too short for n_delays={n_delays} "
            f"with delay_interval={delay_interval} (need more than {span} steps)"
        )
    lags = [
        x[:, span - j * delay_interval : span - j * delay_interval + n_rows]
        for j in range(n_delays)
    ]
    return np.concatenate(lags, axis=-1)


@METRICS.register("dsa")
class DSA(SimilarityMetric[DSAPrepared]):
    """Dynamical similarity analysis distance (Ostrow et al. 2023).

    A network's representation is its probe trajectories [trial, time, unit]. Once per
    network: the trajectories are centred over trials and time; each trial is delay
    embedded (``n_delays`` lags ``delay_interval`` steps apart, see
    :func:`delay_embedding`); the embedded vectors of all trials are stacked into
    ``H = U S Vᵀ``; the leading ``rank`` left singular vectors give coordinates ``y_t``
    (rows of ``U_r``, or of ``U_r S_r``, see ``coordinates``) in which the operator
    ``A`` [rank, rank] is fitted by least squares, ``y_{t+1} ≈ A y_t``, over the
    consecutive pairs within each trial. The signs of the singular vectors are fixed
    by making the largest-magnitude entry of each column of ``U_r`` positive.

    Two networks are compared by Procrustes analysis over vector fields (see
    :func:`vector_field_angles`): the angle ``min_C arccos <A_a, C A_b Cᵀ>_F /
    (‖A_a‖ ‖A_b‖)`` over orthogonal ``C``, where operators of different sizes are
    zero-padded to the larger. The angle lies in [0, π] (an inner product can be
    negative, e.g. for ``A_b = -A_a = -I``); the distance is the angle divided by π,
    so that it lies in [0, 1] unclipped (multiply by π for radians, by 2 for the angle
    in units of π/2 used by the Procrustes shape metric).

    Invariances. The time courses ``U`` of the embedded data do not change under a
    rotation or reflection of the units (nor of the delay space) or an isotropic
    scaling, so neither does ``A`` (exactly, with the sign convention above, unless
    singular values are degenerate; then ``A`` changes by an orthogonal similarity
    that the Procrustes step removes). With ``coordinates="whitened"`` and ``rank`` at
    least the rank of ``H``, ``A`` is also unchanged up to an orthogonal similarity
    by any invertible linear map of the units, so that the trajectories ``x`` of a
    linear system and ``y = M x`` of its conjugate are at distance 0; with
    ``"projected"`` a non-orthogonal map changes it. Per-unit offsets
    are removed by the centring.

    The search over ``C`` is non-convex: it runs Adam ascent on the orthogonal group
    from ``n_starts`` starts (:func:`orthogonal_starts`), keeps the ``n_kept`` best
    after ``screen_iterations`` steps and refines those until they stall (see
    :func:`vector_field_angles`). The result is the best local optimum found, an upper
    bound on the true distance that can exceed it when no start reaches the global
    optimum. Steps of 0.2 bring a start close enough to the optimum it is heading for
    within 75 steps for the screening to pick the right ones, and a refined start is
    done at its first stall, so that 24 starts suffice where steps of 0.05 need 32
    and take twice as long. ``bench/dsa.py`` compares, on the same 435 pairs, the
    defaults with :data:`EXHAUSTIVE_SEARCH` (32 starts of step size 0.05, the best 4
    after 100 steps refined until their fourth stall) and with a search from 128
    starts. On 30 random leaky tanh networks of 16 units (10 trials × 200 steps;
    distances 0.017 to 0.038) the defaults match the 128-start search to 1e-6 for 90%
    of pairs (at most 1.1e-3 above), as does the exhaustive search (90%, at most
    1.5e-3 above); on 30 networks of 32 units with point, line, ring or chaotic
    attractors (distances 0.004 to 0.11) 91% (at most 1e-3 above) against 85% (at
    most 5e-4 above). The defaults take 0.51 to 0.52 times as long as the exhaustive
    search; their distance is within 1e-6 of its distance for 93% and 96% of pairs,
    lower by more than 1e-6 for 8% and 11%, and at most 1.1e-3 above it.

    The result is deterministic for a fixed ``seed``. Every start of every pair is
    optimised separately, so a pair's distance does not depend on the other pairs
    computed with it nor on how they are chunked (to the last bit on the CPU).
    A pair that a start matches exactly, e.g. a network and itself, is at distance 0
    without a search.

    Parameters
    ----------
    n_delays : int, default 10
        Lags per delay-embedded vector. Ten lags of 16 to 64 units give a 160- to
        640-dimensional embedding, enough for ``rank`` 10, and leave 31 of 40 steps of
        a short flip-flop probe trial (and 91 of 100, 741 of 750 for the flip-flop and
        decision probes). The reference package's default is 1 (no embedding).
    delay_interval : int, default 1
        Time steps between lags (the paper's default).
    rank : int, default 10
        Singular directions of the embedded data the operator is fitted in. When the
        data support fewer (singular values above ``rtol`` times the largest, and at
        most the number of fitted transitions), the available number is used and the
        operator is zero-padded when compared to a larger one. Ten directions hold
        about 90% (flip-flop) and over 99.99% (decision task) of the variance of the
        embedded probe trajectories of trained 16-unit networks, and keep the pair
        optimisation cheap (its cost grows as ``rank³``). Whitened coordinates give
        every kept direction the same weight, however little variance it carries.
    coordinates : {"whitened", "projected"}, default "whitened"
        ``"whitened"`` fits in the rows of ``U_r`` (unit variance per direction, as the
        paper's HAVOK fit does); ``"projected"`` in the projections ``U_r S_r = H V_r``,
        which weight directions by their variance.
    ridge : float, default 0.0
        Ridge penalty on ``A``, relative to the mean squared norm of a coordinate of
        the fitted states (``ridge * ‖Y‖²_F / rank * ‖A‖²_F``), so that it is scale
        free. 0 is the paper's default; the whitened least-squares problem is well
        conditioned without it.
    rtol : float, default 1e-6
        Singular directions at most ``rtol`` times the largest are not used.
    iterations : int, default 1000
        Most Adam steps of one start.
    screen_iterations : int, default 75
        Steps every start takes before the best ``n_kept`` are chosen.
    learning_rate : float, default 0.2
        Adam step size (radians per entry of the skew step); a step whose Frobenius
        norm exceeds :data:`~rnn_analysis.similarity.vector_fields.MAX_STEP` is scaled
        down to it, which keeps large step sizes stable at large ``rank``.
    n_starts : int, default 24
        Starts per pair: the identity, one reflection, and ``n_starts - 2`` seeded
        Haar-random orthogonal matrices. On operators of rank 10 of random networks
        a single random start, refined, ends at the best optimum found for about 15%
        of pairs, so tens of starts are needed (see the accuracy figures above).
    n_kept : int, default 4
        Starts refined after screening.
    tol : float, default 1e-10
        A refined start whose objective (the cosine between the unit-norm traceless
        parts) gains at most ``tol`` over 50 steps has stalled: its step size is
        divided by ten.
    stalls : int, default 1
        A refined start stops at this stall. Further stalls, with smaller steps,
        moved the defaults' distances by at most 4e-9 on the random networks above;
        :data:`EXHAUSTIVE_SEARCH` uses 4.
    seed : int, default 0
        Seed of the random starts.
    """

    name = "dsa"
    long_name = "dynamical similarity analysis distance (angle / pi)"
    units = "1"
    family = "dynamics"

    def __init__(
        self,
        *,
        n_delays: int = 10,
        delay_interval: int = 1,
        rank: int = 10,
        coordinates: str = "whitened",
        ridge: float = 0.0,
        rtol: float = 1e-6,
        iterations: int = 1000,
        screen_iterations: int = 75,
        learning_rate: float = 0.2,
        n_starts: int = 24,
        n_kept: int = 4,
        tol: float = 1e-10,
        stalls: int = 1,
        seed: int = 0,
    ) -> None:
        for param, value in (
            ("n_delays", n_delays),
            ("delay_interval", delay_interval),
            ("rank", rank),
            ("iterations", iterations),
            ("n_starts", n_starts),
            ("n_kept", n_kept),
            ("stalls", stalls),
        ):
            _check_int(param, value, minimum=1)
        _check_int("screen_iterations", screen_iterations, minimum=0)
        _check_int("seed", seed, minimum=0)
        if coordinates not in COORDINATES:
            raise ValueError(f"coordinates must be one of {COORDINATES}, got {coordinates!r}")
        if not (np.isfinite(ridge) and ridge >= 0.0):
            raise ValueError(f"ridge must be finite and >= 0, got {ridge!r}")
        if not 0.0 <= rtol < 1.0:
            raise ValueError(f"rtol must be in [0, 1), got {rtol!r}")
        if not (np.isfinite(learning_rate) and learning_rate > 0.0):
            raise ValueError(f"learning_rate must be finite and > 0, got {learning_rate!r}")
        if not (np.isfinite(tol) and tol >= 0.0):
            raise ValueError(f"tol must be finite and >= 0, got {tol!r}")
        if n_kept > n_starts:
            raise ValueError(f"n_kept={n_kept!r} exceeds n_starts={n_starts!r}")
        if screen_iterations > iterations:
            raise ValueError(
                f"screen_iterations={screen_iterations!r} exceeds iterations={iterations!r}"
            )
        self.n_delays = int(n_delays)
        self.delay_interval = int(delay_interval)
        self.rank = int(rank)
        self.coordinates = coordinates
        self.ridge = float(ridge)
        self.rtol = float(rtol)
        self.iterations = int(iterations)
        self.screen_iterations = int(screen_iterations)
        self.learning_rate = float(learning_rate)
        self.n_starts = int(n_starts)
        self.n_kept = int(n_kept)
        self.tol = float(tol)
        self.stalls = int(stalls)
        self.seed = int(seed)

    def hyperparameters(self) -> dict[str, AttrValue]:
        return {
            "n_delays": self.n_delays,
            "delay_interval": self.delay_interval,
            "rank": self.rank,
            "coordinates": self.coordinates,
            "ridge": self.ridge,
            "rtol": self.rtol,
            "iterations": self.iterations,
            "screen_iterations": self.screen_iterations,
            "learning_rate": self.learning_rate,
            "n_starts": self.n_starts,
            "n_kept": self.n_kept,
            "tol": self.tol,
            "stalls": self.stalls,
            "seed": self.seed,
        }

    def representation(self, analysis: xr.Dataset) -> NDArray[np.float64]:
        """The probe activity ``probe_hidden`` as [trial, time, unit] float64.

        Raises
        ------
        MissingRepresentation
            If the dataset has no ``probe_hidden``.
        """
        if "probe_hidden" not in analysis:
            raise MissingRepresentation("no probe activity (probe_hidden)")
        hidden = analysis["probe_hidden"]
        if {"time", "unit"} <= set(hidden.dims):
            hidden = hidden.transpose(..., "time", "unit")
        return np.asarray(hidden.values, dtype=np.float64)

    def validate(self, representations: Sequence[Any]) -> list[NDArray[np.float64]]:
        """Check the trajectories of all networks.

        Each must be a finite numeric array [n_trials, n_time, n_units] with at least
        one unit; all networks share n_trials and n_time, n_units may differ.

        Raises
        ------
        ValueError
            Naming the network index and shape.
        """
        return validate_representations(representations, ndim=3)

    def prepare(self, x: NDArray[np.float64]) -> DSAPrepared:
        """Fit the operator of one network's trajectories [n_trials, n_time, n_units].

        Raises
        ------
        ValueError
            If the data have zero variance, the trials are too short for the delay
            embedding plus one transition, or the fitted operator vanishes.
        """
        n_trials, n_time, n_units = x.shape
        centred = centre(x.reshape(-1, n_units)).reshape(x.shape)
        embedded = delay_embedding(centred, self.n_delays, self.delay_interval)
        n_rows = embedded.shape[1]
        if n_rows < 2:
            raise ValueError(
                f"trials of {n_time} time steps leave {n_rows} delay-embedded vector per "
                f"trial with n_delays={self.n_delays} and delay_interval="
                f"{self.delay_interval}; at least 2 are needed for one transition"
            )
        u, s, _ = np.linalg.svd(embedded.reshape(n_trials * n_rows, -1), full_matrices=False)
        available = int(np.count_nonzero(s > self.rtol * s[0]))
        r = min(self.rank, available, n_trials * (n_rows - 1))
        u = u[:, :r]
        u *= np.sign(u[np.argmax(np.abs(u), axis=0), np.arange(r)])
        y = u if self.coordinates == "whitened" else u * s[:r]
        y = y.reshape(n_trials, n_rows, r)
        before = y[:, :-1].reshape(-1, r)
        after = y[:, 1:].reshape(-1, r)
        if self.ridge > 0.0:
            penalty = np.sqrt(self.ridge * np.sum(before**2) / r) * np.eye(r)
            before = np.vstack([before, penalty])
            after = np.vstack([after, np.zeros((r, r))])
        operator = np.linalg.lstsq(before, after, rcond=None)[0].T
        norm = np.linalg.norm(operator)
        if not norm > 0.0:
            raise ValueError(f"the fitted operator of rank {r} is zero")
        return DSAPrepared(operator / norm, r)

    def distance(self, a: DSAPrepared, b: DSAPrepared) -> float:
        return float(self._pairs([a, b], np.array([0]), np.array([1]), torch.device("cpu"))[0])

    def _pairs(
        self,
        prepared: list[DSAPrepared],
        rows: NDArray[np.int64],
        cols: NDArray[np.int64],
        device: torch.device,
    ) -> NDArray[np.float64]:
        """Distances between ``prepared[rows[k]]`` and ``prepared[cols[k]]`` for every k.

        Pairs are grouped by operator size (the larger rank of the two); each group runs
        in chunks (see :meth:`_angles`). A pair's distance does not depend on the other
        pairs nor on how they are chunked.
        """
        rows = np.asarray(rows, dtype=np.int64)
        cols = np.asarray(cols, dtype=np.int64)
        ranks = np.array([p.rank for p in prepared], dtype=np.int64)
        sizes = np.maximum(ranks[rows], ranks[cols])
        out = np.zeros(len(rows))
        for size in np.unique(sizes):
            here = np.flatnonzero(sizes == size)
            used, index = np.unique(np.concatenate([rows[here], cols[here]]), return_inverse=True)
            ops = torch.from_numpy(np.stack([_pad(prepared[k].operator, int(size)) for k in used]))
            i, j = index[: len(here)], index[len(here) :]
            out[here] = self._angles(ops, i, j, device) / np.pi
        return out

    def _angles(
        self,
        ops: torch.Tensor,
        rows: NDArray[np.int64],
        cols: NDArray[np.int64],
        device: torch.device,
    ) -> NDArray[np.float64]:
        """Angles (radians) between ``ops[rows[k]]`` and ``ops[cols[k]]`` for every k,
        with ``ops`` [n, size, size]; the pairs run in chunks of at most
        :data:`CHUNK_BYTES` of optimiser state."""
        size = ops.shape[-1]
        starts = torch.from_numpy(orthogonal_starts(size, self.n_starts, self.seed)).to(device)
        ops = ops.to(device)
        per_pair = ARRAYS_PER_PROBLEM * self.n_starts * size * size * 8
        budget = CHUNK_BYTES["cpu" if device.type == "cpu" else "other"]
        chunk = max(1, budget // per_pair)
        out = []
        for lo in range(0, len(rows), chunk):
            i = torch.from_numpy(rows[lo : lo + chunk]).to(device)
            j = torch.from_numpy(cols[lo : lo + chunk]).to(device)
            angles = vector_field_angles(
                ops[i],
                ops[j],
                starts,
                iterations=self.iterations,
                screen_iterations=self.screen_iterations,
                n_kept=self.n_kept,
                learning_rate=self.learning_rate,
                tol=self.tol,
                stalls=self.stalls,
            )
            out.append(angles.cpu().numpy())
            self._advance(len(out[-1]))
        return np.concatenate(out) if out else np.zeros(0)


def _pad(operator: NDArray[np.float64], size: int) -> NDArray[np.float64]:
    """The operator zero-padded to [size, size]."""
    out = np.zeros((size, size))
    out[: operator.shape[0], : operator.shape[1]] = operator
    return out


def _check_int(param: str, value: Any, *, minimum: int) -> None:
    if isinstance(value, bool) or not isinstance(value, int | np.integer) or value < minimum:
        raise ValueError(f"{param} must be an integer >= {minimum}, got {value!r}")
