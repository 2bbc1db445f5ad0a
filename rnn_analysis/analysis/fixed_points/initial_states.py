"""Where the search starts: probe states, noise-expanded probe states, segment seeds.

First pass (per network, the same states under every static input): states sampled
from the network's probe trajectories plus small noise (FixedPointFinder's method) and
noise-expanded probe states, whose noise is scaled to the probe states' spread. Second
pass (per network and static input): seeds along the segments joining the fixed points
the first pass found, where the saddles between attractors lie even when no probe
trajectory passes near them.

Every draw is made per network from generators seeded by the finder's ``seed`` alone,
so that a network's initial states do not depend on the ensemble it is analysed in.
"""

from __future__ import annotations

import numpy as np
import torch
from numpy.typing import NDArray

from rnn_analysis.analysis.fixed_points.params import FixedPointParams

__all__ = ["ORIGINS", "first_pass_states", "sample_initial_states", "segment_seeds"]

#: Labels of the ``origin`` codes: what kind of initial state a point was found from.
ORIGINS = ("probe", "expanded", "segment")
PROBE, EXPANDED, SEGMENT = range(3)


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


def probe_spread(states: torch.Tensor) -> torch.Tensor:
    """[E]: root mean square over state dimensions of the probe states' standard deviation."""
    e, b, t, s = states.shape
    flat = states.reshape(e, b * t, s).to(torch.float64)
    return flat.var(dim=1, correction=0).mean(dim=-1).sqrt()


def first_pass_states(
    states: torch.Tensor, params: FixedPointParams, generator: torch.Generator
) -> tuple[torch.Tensor, NDArray]:
    """The first pass's initial states of every network and their origin codes.

    Parameters
    ----------
    states : [E, B, T, S] tensor
        Probe trajectories of each network.
    params : FixedPointParams
        ``n_initial_states``, ``initial_states_per_dimension``, ``initial_noise``,
        ``expanded_fraction`` and ``expanded_noise`` are used.
    generator : torch.Generator
        Source of randomness (a CPU generator).

    Returns
    -------
    ([E, n, S] tensor of the dtype and device of ``states``, [n] origin codes): first
    ``params.n_first_pass(S)`` probe samples (the same draws as
    :func:`sample_initial_states` with the same generator), then
    ``round(expanded_fraction × that)`` expanded ones.
    """
    n_probe = params.n_first_pass(states.shape[-1])
    n_expanded = int(round(params.expanded_fraction * n_probe))
    n = n_probe + n_expanded
    probe = sample_initial_states(states, n_probe, params.initial_noise, generator)
    origin = np.full(n, PROBE, dtype=np.int8)
    if n_expanded == 0:
        return probe, origin
    base = sample_initial_states(states, n_expanded, 0.0, generator)
    eps = torch.randn((n_expanded, states.shape[-1]), generator=generator, dtype=torch.float64)
    scale = params.expanded_noise * probe_spread(states)
    noise = scale.to(states.device)[:, None, None] * eps.to(states.device)
    expanded = base + noise.to(states.dtype)
    origin[n - n_expanded :] = EXPANDED
    return torch.cat([probe, expanded], dim=1), origin


def segment_seeds(
    points: NDArray,
    condition: NDArray,
    n_conditions: int,
    params: FixedPointParams,
    stable: NDArray | None = None,
) -> tuple[NDArray, NDArray]:
    """Seeds along the segments joining one network's fixed points, per static input.

    For each static input, the pairs of its points are ordered by how many of the two
    are unstable (pairs of attractors first: the boundary between their basins, where
    a saddle's stable manifold lies, crosses the segment), then by length (shortest
    first), and the first ``segment_max_pairs`` kept; each segment gets
    ``segment_points`` seeds at fractions k / (segment_points + 1) plus Gaussian noise
    of standard deviation ``segment_noise``, drawn from a generator seeded by
    ``(seed, static input)``.

    Parameters
    ----------
    points : [P, S] array
        The network's fixed points, in a deterministic order.
    condition : [P] int array
        Static input of each point.
    n_conditions : int
        Number of static inputs.
    params : FixedPointParams
        Hyperparameters.
    stable : [P] bool array, optional
        Which points are stable (all, by default).

    Returns
    -------
    ([M, S] float64 seeds, [M] int64 static input of each).
    """
    s = points.shape[1]
    m = params.segment_points
    fractions = np.arange(1, m + 1) / (m + 1)
    seeds, conds = [np.zeros((0, s))], [np.zeros(0, dtype=np.int64)]
    unstable = np.zeros(len(points), dtype=np.int64) if stable is None else ~stable
    for c in range(n_conditions):
        x = points[condition == c].astype(np.float64)
        if len(x) < 2 or m == 0 or params.segment_max_pairs == 0:
            continue
        i, j = np.triu_indices(len(x), k=1)
        length = np.linalg.norm(x[j] - x[i], axis=1)
        n_unstable_ends = unstable[condition == c][i].astype(int) + unstable[condition == c][j]
        order = np.lexsort((length, n_unstable_ends))[: params.segment_max_pairs]
        i, j = i[order], j[order]
        along = x[i, None, :] + fractions[None, :, None] * (x[j] - x[i])[:, None, :]
        along = along.reshape(-1, s)
        rng = np.random.default_rng([params.seed, c])
        along = along + params.segment_noise * rng.standard_normal(along.shape)
        seeds.append(along)
        conds.append(np.full(len(along), c, dtype=np.int64))
    return np.concatenate(seeds), np.concatenate(conds)
