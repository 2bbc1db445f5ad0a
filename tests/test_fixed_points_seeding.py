"""Initial states: probe samples, noise-expanded probe states and segment seeds."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
import torch
import xarray as xr

from rnn_analysis.analysis.fixed_points import FixedPointParams, find_fixed_points
from rnn_analysis.analysis.fixed_points.initial_states import (
    EXPANDED,
    PROBE,
    first_pass_states,
    probe_spread,
    sample_initial_states,
    segment_seeds,
)
from tests.test_fixed_points import bistable, h_star, zero_input

GAINS = [2.0, 2.5, 3.0]


def corner_probe() -> torch.Tensor:
    """Probe 'trajectories' that sit at the 8 attractors of three bistable units."""
    corners = list(itertools.product(*[(-h_star(g), h_star(g)) for g in GAINS]))
    states = torch.tensor(corners, dtype=torch.float32)[:, None, :].expand(8, 20, 3)
    return states[None].clone()


def census(ds: xr.Dataset) -> list[int]:
    fixed = ds.kind.values == "fixed"
    return np.bincount(ds.n_unstable.values[fixed], minlength=4).tolist()


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_segment_seeds_find_the_saddles_that_probe_samples_miss(seed: int) -> None:
    """Probe trajectories that only visit the attractors: samples around them converge to
    the 8 attractors; seeds between them find the 12 + 6 + 1 saddles."""
    model = bistable([GAINS])
    only_probe = FixedPointParams(
        n_initial_states=256, seed=seed, expanded_fraction=0.0, segment_points=0
    )
    with_segments = FixedPointParams(n_initial_states=256, seed=seed, expanded_fraction=0.0)
    (before,) = find_fixed_points(model, corner_probe(), zero_input(), only_probe)
    (after,) = find_fixed_points(model, corner_probe(), zero_input(), with_segments)
    assert census(before) == [8, 0, 0, 0]
    assert census(after) == [8, 12, 6, 1]
    assert after.attrs["n_segment_seeds"] == 28 * 3
    saddles = after.n_unstable.values > 0
    assert (after.origin.values[saddles] == "segment").all()


def test_expanded_probe_states_reach_beyond_the_probe() -> None:
    model = bistable([GAINS])
    found = []
    for seed in range(3):
        params = FixedPointParams(n_initial_states=256, seed=seed, segment_points=0)
        (ds,) = find_fixed_points(model, corner_probe(), zero_input(), params)
        assert census(ds)[0] == 8
        found.append(sum(census(ds)[1:]))
        saddles = ds.n_unstable.values > 0
        assert (ds.origin.values[saddles] == "expanded").all()
    assert min(found) >= 4


def test_number_of_initial_states_scales_with_the_state_dimension() -> None:
    assert FixedPointParams().n_first_pass(64) == 1024
    assert FixedPointParams().n_first_pass(128) == 1024
    assert FixedPointParams().n_first_pass(256) == 2048
    assert FixedPointParams(initial_states_per_dimension=0).n_first_pass(256) == 1024
    params = FixedPointParams(n_initial_states=16, initial_states_per_dimension=20)
    (ds,) = find_fixed_points(bistable([GAINS]), corner_probe(), zero_input(), params)
    assert ds.attrs["n_initial_states"] == 60 and ds.attrs["n_expanded_states"] == 15
    assert ds.attrs["active_history"][0] == 75


def test_first_pass_states() -> None:
    g = torch.Generator().manual_seed(0)
    scales = torch.tensor([0.5, 1.0, 2.0], dtype=torch.float64)
    states = torch.randn(3, 4, 50, 6, generator=g, dtype=torch.float64) * scales.view(3, 1, 1, 1)
    params = FixedPointParams(n_initial_states=3000, expanded_fraction=0.25, expanded_noise=0.5)
    init, origin = first_pass_states(states, params, torch.Generator().manual_seed(1))
    assert init.shape == (3, 3750, 6)
    assert (origin[:3000] == PROBE).all() and (origin[3000:] == EXPANDED).all()
    # The probe part is FixedPointFinder's: samples plus noise 0.05, the same draws.
    probe = sample_initial_states(states, 3000, 0.05, torch.Generator().manual_seed(1))
    torch.testing.assert_close(init[:, :3000], probe, rtol=0, atol=0)
    # The expanded part's noise is 0.5 times each network's spread.
    spread = probe_spread(states)
    torch.testing.assert_close(
        spread, torch.tensor([0.5, 1.0, 2.0], dtype=torch.float64), rtol=0.05, atol=0
    )
    flat = states.reshape(3, -1, 6)
    for e in range(3):
        distance = torch.cdist(init[e, 3000:], flat[e]).min(dim=1).values
        # Distance to the nearest probe state of a 6-d Gaussian step of std σ: below √6 σ.
        assert float(distance.median()) < np.sqrt(6) * 0.5 * float(spread[e])
        assert float(distance.median()) > 0.5 * 0.5 * float(spread[e])
    # Each network's states are the same alone as in the ensemble.
    alone, _ = first_pass_states(states[1:2], params, torch.Generator().manual_seed(1))
    torch.testing.assert_close(alone[0], init[1], rtol=0, atol=0)


def test_segment_seeds_lie_along_the_shortest_segments_between_attractors() -> None:
    points = np.array([[0.0, 0.0], [1.0, 0.0], [0.0, 3.0], [5.0, 5.0], [9.0, 9.0]])
    condition = np.array([0, 0, 0, 1, 1])
    params = FixedPointParams(segment_points=3, segment_noise=0.0, segment_max_pairs=2)
    seeds, cond = segment_seeds(points, condition, 2, params)
    assert seeds.shape == (2 * 3 + 1 * 3, 2)
    np.testing.assert_array_equal(cond, [0] * 6 + [1] * 3)
    fractions = np.array([0.25, 0.5, 0.75])[:, None]
    # Static input 0: segments of lengths 1, 3 and √10; the two shortest are kept.
    expected = np.concatenate(
        [
            [0.0, 0.0] + fractions * [1.0, 0.0],
            [0.0, 0.0] + fractions * [0.0, 3.0],
            [5.0, 5.0] + fractions * [4.0, 4.0],
        ]
    )
    np.testing.assert_allclose(seeds, expected)
    noisy, _ = segment_seeds(points, condition, 2, FixedPointParams(segment_max_pairs=2))
    again, _ = segment_seeds(points, condition, 2, FixedPointParams(segment_max_pairs=2))
    np.testing.assert_array_equal(noisy, again)
    assert 0 < np.abs(noisy - seeds).std() < 0.1
    empty, _ = segment_seeds(points[:1], condition[:1], 2, params)
    assert empty.shape == (0, 2)
    # Pairs of stable points come first, whatever their length.
    stable = np.array([True, False, True, True, True])
    one = FixedPointParams(segment_points=1, segment_noise=0.0, segment_max_pairs=1)
    first, _ = segment_seeds(points, condition, 2, one, stable)
    np.testing.assert_allclose(first, [[0.0, 1.5], [7.0, 7.0]])


def test_results_are_deterministic() -> None:
    model = bistable([GAINS])
    params = FixedPointParams(n_initial_states=128)
    (first,) = find_fixed_points(model, corner_probe(), zero_input(), params)
    (second,) = find_fixed_points(model, corner_probe(), zero_input(), params)
    xr.testing.assert_identical(first, second)
