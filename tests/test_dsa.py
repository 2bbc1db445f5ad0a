"""Tests of the dynamical similarity analysis (DSA) distance."""

from __future__ import annotations

import pickle
import re
from collections.abc import Iterator

import numpy as np
import pytest
import scipy.linalg
import torch
import xarray as xr
from numpy.typing import NDArray

from rnn_analysis.similarity import dsa, vector_fields
from rnn_analysis.similarity.base import METRICS, MissingRepresentation
from rnn_analysis.similarity.dsa import (
    DSA,
    EXHAUSTIVE_SEARCH,
    delay_embedding,
    orthogonal_starts,
    vector_field_angles,
)

#: Optimiser settings of the default metric, for direct calls of vector_field_angles.
SEARCH = {
    "iterations": 1000,
    "screen_iterations": 75,
    "n_kept": 4,
    "learning_rate": 0.2,
    "tol": 1e-10,
    "stalls": 1,
}

#: Largest excess of the default search's distance over the exhaustive search's on the
#: population of test_default_search_matches_exhaustive: about twice the worst excess
#: that bench/dsa.py measured on 435 pairs (1.1e-3, see the DSA docstring).
EXCESS_TOL = 2e-3


@pytest.fixture(autouse=True)
def one_thread() -> Iterator[None]:
    # Thousands of tiny batched products: extra threads only add synchronisation.
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


@pytest.fixture
def rng() -> np.random.Generator:
    return np.random.default_rng(20231026)


def rotation(theta: float) -> NDArray:
    return np.array([[np.cos(theta), -np.sin(theta)], [np.sin(theta), np.cos(theta)]])


def random_orthogonal(rng: np.random.Generator, n: int) -> NDArray:
    return scipy.linalg.qr(rng.standard_normal((n, n)))[0]


def linear_trajectories(
    rng: np.random.Generator, a: NDArray, n_trials: int = 8, n_time: int = 80
) -> NDArray:
    """Trajectories [trial, time, dim] of x_{t+1} = A x_t from random initial states."""
    x = rng.standard_normal((n_trials, a.shape[0]))
    out = np.empty((n_trials, n_time, a.shape[0]))
    for t in range(n_time):
        out[:, t] = x
        x = x @ a.T
    return out


def rnn_trajectories(
    rng: np.random.Generator, n_units: int = 8, n_trials: int = 6, n_time: int = 60
) -> NDArray:
    """Trajectories of a leaky tanh network with random weights and initial states."""
    w = rng.standard_normal((n_units, n_units)) * rng.uniform(0.8, 1.6) / np.sqrt(n_units)
    bias = 0.1 * rng.standard_normal(n_units)
    x = rng.standard_normal((n_trials, n_units))
    out = np.empty((n_trials, n_time, n_units))
    for t in range(n_time):
        x = 0.8 * x + 0.2 * np.tanh(x @ w.T + bias)
        out[:, t] = x
    return out


def brute_force_angle(a: NDArray, b: NDArray, n_grid: int = 200_001) -> float:
    """min over 2-D rotations and reflections C of the angle between A and C B Cᵀ."""
    theta = np.linspace(0.0, 2.0 * np.pi, n_grid)
    cos, sin = np.cos(theta), np.sin(theta)
    best = -np.inf
    for sign in (1.0, -1.0):
        c = np.stack([np.stack([cos, -sign * sin], -1), np.stack([sin, sign * cos], -1)], -2)
        inner = np.einsum("ij,nij->n", a, c @ b @ c.transpose(0, 2, 1))
        best = max(best, inner.max())
    return float(np.arccos(np.clip(best / (np.linalg.norm(a) * np.linalg.norm(b)), -1, 1)))


def angles(a: NDArray, b: NDArray, n_starts: int = 24, seed: int = 0) -> NDArray:
    """vector_field_angles on numpy operator stacks [n_pairs, r, r] with default settings."""
    starts = torch.from_numpy(orthogonal_starts(a.shape[-1], n_starts, seed))
    out = vector_field_angles(torch.from_numpy(a), torch.from_numpy(b), starts, **SEARCH)
    return out.numpy()


def test_registered() -> None:
    assert METRICS["dsa"] is DSA
    assert DSA.family == "dynamics"
    assert DSA.units == "1"
    attrs = DSA().attrs()
    assert attrs["metric"] == "dsa"
    assert attrs["metric_n_delays"] == 10
    assert attrs["metric_coordinates"] == "whitened"
    assert set(DSA().hyperparameters()) == {
        "n_delays",
        "delay_interval",
        "rank",
        "coordinates",
        "ridge",
        "rtol",
        "iterations",
        "screen_iterations",
        "learning_rate",
        "n_starts",
        "n_kept",
        "tol",
        "stalls",
        "seed",
    }
    assert DSA(**EXHAUSTIVE_SEARCH).hyperparameters()["n_starts"] == 32


def test_delay_embedding_keeps_trials_apart() -> None:
    x = np.stack([np.arange(6.0), 10.0 + np.arange(6.0)])[:, :, None]
    h = delay_embedding(x, n_delays=3, delay_interval=2)
    np.testing.assert_array_equal(h[0], [[4, 2, 0], [5, 3, 1]])
    np.testing.assert_array_equal(h[1], [[14, 12, 10], [15, 13, 11]])
    two_units = np.concatenate([x, -x], axis=-1)
    np.testing.assert_array_equal(delay_embedding(two_units, 2)[0, 0], [1.0, -1.0, 0.0, -0.0])
    with pytest.raises(ValueError, match=r"6 time steps.*n_delays=4.*delay_interval=2"):
        delay_embedding(x, n_delays=4, delay_interval=2)


def test_orthogonal_starts() -> None:
    starts = orthogonal_starts(4, 6, seed=1)
    np.testing.assert_array_equal(starts[0], np.eye(4))
    assert np.linalg.det(starts[1]) == pytest.approx(-1.0)
    for c in starts:
        np.testing.assert_allclose(c.T @ c, np.eye(4), atol=1e-12)
    np.testing.assert_array_equal(starts, orthogonal_starts(4, 6, seed=1))
    assert not np.allclose(starts[2:], orthogonal_starts(4, 6, seed=2)[2:])


def test_distance_to_itself_is_zero(rng: np.random.Generator) -> None:
    x = rnn_trajectories(rng)
    assert DSA()(x, x) == 0.0


def test_pairwise_matrix_properties(rng: np.random.Generator) -> None:
    reps = [rnn_trajectories(rng, n_units=n) for n in (8, 8, 12, 6)]
    d = DSA().pairwise(reps)
    assert d.shape == (4, 4)
    assert d.dtype == np.float64
    np.testing.assert_array_equal(d, d.T)
    np.testing.assert_array_equal(np.diag(d), 0.0)
    off = d[~np.eye(4, dtype=bool)]
    assert np.all((off > 1e-3) & (off <= 1.0))


@pytest.mark.parametrize("coordinates", ["whitened", "projected"])
@pytest.mark.parametrize("ridge", [0.0, 0.1])
def test_invariant_to_rotation_scaling_and_offset(
    rng: np.random.Generator, coordinates: str, ridge: float
) -> None:
    # The singular vectors' time courses do not change, so the operators agree to
    # rounding and the identity start gives the angle: tolerance 1e-9.
    x = rnn_trajectories(rng, n_units=10)
    y = 0.03 * x @ random_orthogonal(rng, 10) + rng.standard_normal(10)
    metric = DSA(coordinates=coordinates, ridge=ridge)
    assert metric(x, y) == pytest.approx(0.0, abs=1e-9)
    assert metric(x, rnn_trajectories(rng, n_units=10)) > 1e-3


def test_conjugate_linear_systems_are_identical(rng: np.random.Generator) -> None:
    a = 0.97 * scipy.linalg.block_diag(rotation(0.2), rotation(0.6))
    q = random_orthogonal(rng, 4)
    x = linear_trajectories(rng, a)
    y = linear_trajectories(rng, q @ a @ q.T)
    metric = DSA()
    # Different initial states: the fitted operators differ only through the spread of
    # the states over the trials, not the dynamics.
    assert metric(x, x @ q.T) == pytest.approx(0.0, abs=1e-9)
    assert metric(x, y) < 0.02
    different = linear_trajectories(
        rng, 0.97 * scipy.linalg.block_diag(rotation(0.2), rotation(1.2))
    )
    decay = linear_trajectories(rng, np.diag([0.95, 0.9, 0.8, 0.7]))
    assert metric(x, different) > 5 * metric(x, y)
    assert metric(x, decay) > 5 * metric(x, y)


def test_whitened_invariant_to_invertible_maps(rng: np.random.Generator) -> None:
    # With rank no smaller than the embedded data's (3 here: 2 states and the offset
    # left by centring), whitening absorbs any invertible map of the units.
    x = linear_trajectories(rng, 0.98 * rotation(0.3))
    m = np.array([[3.0, 1.0], [0.0, 0.2]])
    assert DSA(rank=4)(x, x @ m.T) == pytest.approx(0.0, abs=1e-6)
    assert DSA(rank=4, coordinates="projected")(x, x @ m.T) > 1e-3


def test_rotation_speed_ordering(rng: np.random.Generator) -> None:
    slow, near, fast = (
        linear_trajectories(rng, 0.99 * rotation(theta)) for theta in (0.1, 0.12, 0.5)
    )
    d = DSA().pairwise([slow, near, fast])
    assert 0.0 < d[0, 1] < d[0, 2]
    assert d[1, 2] > d[0, 1]


def test_opposite_operators_are_at_distance_one(rng: np.random.Generator) -> None:
    # x_{t+1} = 0.9 x_t against x_{t+1} = -0.9 x_t: the 1x1 operators are 0.9 and
    # -0.9 (up to the centring), an angle of π, reported as 1, not clipped.
    x = linear_trajectories(rng, np.array([[0.9]]), n_trials=20, n_time=30)
    y = linear_trajectories(rng, np.array([[-0.9]]), n_trials=20, n_time=30)
    metric = DSA(n_delays=1, rank=1)
    assert metric(x, y) == pytest.approx(1.0, abs=1e-2)


def test_procrustes_of_2d_rotations_closed_form() -> None:
    # C R(β) Cᵀ is R(β) for a rotation C and R(-β) for a reflection, so the angle is
    # arccos(max(cos(α - β), cos(α + β))).
    alpha = np.array([0.1, 0.3, 2.0, 1.0, -0.4])
    beta = np.array([0.12, -0.5, 0.4, 3.0, 0.4])
    a = np.stack([rotation(t) for t in alpha])
    b = np.stack([rotation(t) for t in beta])
    expected = np.arccos(np.maximum(np.cos(alpha - beta), np.cos(alpha + beta)))
    np.testing.assert_allclose(angles(a, b), expected, atol=1e-9)


def test_procrustes_2d_matches_brute_force(rng: np.random.Generator) -> None:
    # A grid of 200,001 angles per component is accurate to ~1e-9 in the angle.
    a = rng.standard_normal((6, 2, 2))
    b = rng.standard_normal((6, 2, 2))
    expected = [brute_force_angle(x, y) for x, y in zip(a, b, strict=True)]
    np.testing.assert_allclose(angles(a, b), expected, atol=1e-7)
    # Two starts, one per connected component of O(2), already reach the optimum.
    np.testing.assert_allclose(angles(a, b, n_starts=2), expected, atol=1e-7)


def test_procrustes_finds_hidden_orthogonal_similarity(rng: np.random.Generator) -> None:
    a = rng.standard_normal((4, 5, 5))
    q = np.stack([random_orthogonal(rng, 5) for _ in range(4)])
    q[0, :, 0] *= -1.0
    b = q.transpose(0, 2, 1) @ a @ q
    np.testing.assert_allclose(angles(a, 2.5 * b), 0.0, atol=1e-6)


def test_procrustes_respects_trace_bound(rng: np.random.Generator) -> None:
    # <A, C B Cᵀ> splits into symmetric and skew parts, each at most the sum of the
    # products of sorted eigenvalues (symmetric) or singular values (skew).
    a = rng.standard_normal((5, 6, 6))
    b = rng.standard_normal((5, 6, 6))
    found = angles(a, b)
    for i in range(5):
        sa, sb = (a[i] + a[i].T) / 2, (b[i] + b[i].T) / 2
        ka, kb = (a[i] - a[i].T) / 2, (b[i] - b[i].T) / 2
        bound = np.sort(np.linalg.eigvalsh(sa)) @ np.sort(np.linalg.eigvalsh(sb))
        bound += np.linalg.svd(ka, compute_uv=False) @ np.linalg.svd(kb, compute_uv=False)
        bound /= np.linalg.norm(a[i]) * np.linalg.norm(b[i])
        at_identity = np.sum(a[i] * b[i]) / (np.linalg.norm(a[i]) * np.linalg.norm(b[i]))
        assert np.arccos(min(bound, 1.0)) <= found[i] + 1e-12
        assert found[i] <= np.arccos(at_identity)


def test_pairwise_matches_pairs(rng: np.random.Generator) -> None:
    # Same starts and the same arithmetic per pair, alone or in a batch: equal to the
    # last bit. The 2-D linear systems have rank 3 < 6, so their operators are
    # zero-padded against the others and the pairs fall into two size groups (3 and 6).
    reps = [rnn_trajectories(rng, n_units=n) for n in (8, 5, 8)]
    for theta in (0.3, 0.5):
        x = linear_trajectories(rng, 0.97 * rotation(theta), n_trials=6, n_time=60)
        reps.insert(1, np.concatenate([x, -x, 2 * x], axis=-1))
    metric = DSA(rank=6)
    prepared = metric._prepare_all(metric.validate(reps))
    assert [p.rank for p in prepared] == [6, 3, 3, 6, 6]
    d = metric.pairwise(reps)
    for i in range(5):
        for j in range(i + 1, 5):
            assert d[i, j] == metric.distance(prepared[i], prepared[j])
            assert d[i, j] == metric(reps[i], reps[j])
            assert d[i, j] > 1e-3


def test_deterministic_for_a_seed(rng: np.random.Generator) -> None:
    reps = [rnn_trajectories(rng) for _ in range(3)]
    first = DSA(seed=3, n_starts=6, n_kept=2).pairwise(reps)
    np.testing.assert_array_equal(first, DSA(seed=3, n_starts=6, n_kept=2).pairwise(reps))


def test_exhaustive_search_reproduces_fixed_distances() -> None:
    # Distances of DSA(**EXHAUSTIVE_SEARCH) on four seeded networks; rounding of another
    # CPU moves them by about 1e-16.
    reps = [rnn_trajectories(np.random.default_rng(seed)) for seed in range(4)]
    expected = [
        0.03697091210688985,
        0.036806630502050665,
        0.046144207718782256,
        0.030641118472057534,
        0.04405035010934501,
        0.034518369835726787,
    ]
    d = DSA(**EXHAUSTIVE_SEARCH).pairwise(reps)
    np.testing.assert_allclose(d[np.triu_indices(4, k=1)], expected, rtol=0, atol=1e-12)


def test_default_search_matches_exhaustive(rng: np.random.Generator) -> None:
    # The population of the DSA docstring's figures: random 16-unit networks, 10 trials
    # × 200 steps. A search from 2 starts, or from 8 starts of small steps, matches the
    # exhaustive search for 20-60% of such pairs and exceeds it by up to 4.4e-3.
    reps = [rnn_trajectories(rng, n_units=16, n_trials=10, n_time=200) for _ in range(8)]
    upper = np.triu_indices(8, k=1)
    excess = (DSA().pairwise(reps) - DSA(**EXHAUSTIVE_SEARCH).pairwise(reps))[upper]
    assert excess.max() <= EXCESS_TOL
    assert np.mean(excess <= 1e-6) >= 0.85


def test_more_stalls_only_refine(rng: np.random.Generator) -> None:
    # A start's steps up to its first stall are the same whatever ``stalls``, so later
    # stalls can only lower the result; after the first they barely move it.
    metric = DSA()
    prepared = metric._prepare_all(metric.validate([rnn_trajectories(rng) for _ in range(4)]))
    ops = np.stack([p.operator for p in prepared])
    rows, cols = np.triu_indices(4, k=1)
    starts = torch.from_numpy(orthogonal_starts(ops.shape[-1], 24, 0))
    a, b = torch.from_numpy(ops[rows]), torch.from_numpy(ops[cols])
    one = vector_field_angles(a, b, starts, **SEARCH).numpy()
    four = vector_field_angles(a, b, starts, **{**SEARCH, "stalls": 4}).numpy()
    assert np.all(four <= one)
    assert np.all(one - four <= 1e-7)


def test_pair_independent_of_batch_and_chunks(
    rng: np.random.Generator, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Every step acts on each pair × start separately: a pair's distance is the same to
    # the last bit alone, among other pairs, in any order and in chunks of any size.
    metric = DSA()
    prepared = metric._prepare_all(metric.validate([rnn_trajectories(rng) for _ in range(5)]))
    rows, cols = np.triu_indices(5, k=1)
    cpu = torch.device("cpu")
    together = metric._pairs(prepared, rows, cols, cpu)
    alone = [metric._pairs(prepared, rows[[k]], cols[[k]], cpu)[0] for k in range(len(rows))]
    np.testing.assert_array_equal(together, alone)
    order = rng.permutation(len(rows))[:6]
    np.testing.assert_array_equal(
        metric._pairs(prepared, rows[order], cols[order], cpu), together[order]
    )
    per_pair = dsa.ARRAYS_PER_PROBLEM * metric.n_starts * 10 * 10 * 8
    for pairs_per_chunk in (1, 3):
        monkeypatch.setitem(dsa.CHUNK_BYTES, "cpu", pairs_per_chunk * per_pair)
        np.testing.assert_array_equal(metric._pairs(prepared, rows, cols, cpu), together)


def test_cross_is_the_block_of_pairwise(rng: np.random.Generator) -> None:
    # Blocks of networks compare only their cross pairs and reproduce the [a, b] block of
    # the matrix of a + b, also from prepared items that went through pickle (block
    # files). With rank 6 the 2-D linear system (rank 3) gives a second size group.
    reps = [rnn_trajectories(rng, n_units=n) for n in (8, 5, 8, 6, 8)]
    x = linear_trajectories(rng, 0.97 * rotation(0.3), n_trials=6, n_time=60)
    reps.insert(2, np.concatenate([x, -x], axis=-1))
    metric = DSA(rank=6)
    prepared = metric._prepare_all(metric.validate(reps))
    assert sorted({p.rank for p in prepared}) == [3, 6]
    full = metric.pairwise(reps)
    counted: list[int] = []
    pairs = metric._pairs

    def counting(*args: object) -> NDArray:
        counted.append(len(args[1]))
        return pairs(*args)

    metric._pairs = counting  # type: ignore[method-assign]
    block = metric.cross(prepared[:2], prepared[2:])
    assert counted == [2 * 4]
    np.testing.assert_array_equal(block, full[:2, 2:])
    restored = pickle.loads(pickle.dumps(prepared))
    np.testing.assert_array_equal(metric.cross(restored[:3], restored[3:]), full[:3, 3:])


def test_identical_networks_skip_the_search(
    rng: np.random.Generator, monkeypatch: pytest.MonkeyPatch
) -> None:
    x, y = rnn_trajectories(rng), rnn_trajectories(rng)
    searched: list[int] = []
    search = vector_fields._search

    def spy(a: torch.Tensor, *args: object, **kwargs: object) -> torch.Tensor:
        searched.append(a.shape[0])
        return search(a, *args, **kwargs)

    monkeypatch.setattr(vector_fields, "_search", spy)
    d = DSA().pairwise([x, y, x])
    assert d[0, 2] == 0.0
    assert d[0, 1] > 1e-3
    assert d[1, 2] > 1e-3
    assert searched == [2]


def test_representation_from_dataset(rng: np.random.Generator) -> None:
    hidden = rng.standard_normal((3, 7, 4)).astype(np.float32)
    ds = xr.Dataset(
        {"probe_hidden": (("unit", "probe_trial", "time"), hidden.transpose(2, 0, 1))},
        coords={"probe_trial": np.arange(3), "time": np.arange(7), "unit": np.arange(4)},
    )
    rep = DSA().representation(ds)
    assert rep.dtype == np.float64
    np.testing.assert_array_equal(rep, hidden)
    with pytest.raises(MissingRepresentation, match="probe_hidden"):
        DSA().representation(ds.drop_vars("probe_hidden"))


def test_invalid_representations_name_the_network(rng: np.random.Generator) -> None:
    good = rnn_trajectories(rng)
    metric = DSA()
    with pytest.raises(ValueError, match=r"network 1.*3-D.*\(360, 8\)"):
        metric.pairwise([good, good.reshape(-1, 8)])
    with pytest.raises(ValueError, match=r"network 2.*\(5, 60, 8\).*network 0.*\(6, 60, 8\)"):
        metric.pairwise([good, good, good[:5]])
    bad = good.copy()
    bad[2, 3, 1] = np.nan
    with pytest.raises(ValueError, match=r"network 1.*\(6, 60, 8\).*1 non-finite"):
        metric.pairwise([good, bad])
    with pytest.raises(ValueError, match=r"network 1:.*zero variance"):
        metric.pairwise([good, np.ones_like(good)])
    with pytest.raises(ValueError, match=r"network 0:.*10 time steps.*n_delays=10"):
        metric.pairwise([good[:, :10], good[:, :10]])


@pytest.mark.parametrize(
    ("options", "param"),
    [
        ({"stalls": 0}, "stalls"),
        ({"stalls": 1.5}, "stalls"),
        ({"learning_rate": float("nan")}, "learning_rate"),
        ({"n_delays": 0}, "n_delays"),
        ({"n_delays": 2.5}, "n_delays"),
        ({"delay_interval": 0}, "delay_interval"),
        ({"rank": 0}, "rank"),
        ({"coordinates": "raw"}, "coordinates"),
        ({"ridge": -0.1}, "ridge"),
        ({"rtol": 1.0}, "rtol"),
        ({"iterations": 0}, "iterations"),
        ({"screen_iterations": -1}, "screen_iterations"),
        ({"screen_iterations": 2000}, "screen_iterations"),
        ({"learning_rate": 0.0}, "learning_rate"),
        ({"n_starts": 0}, "n_starts"),
        ({"n_kept": 0}, "n_kept"),
        ({"n_kept": 40}, "n_kept"),
        ({"tol": -1.0}, "tol"),
        ({"seed": -1}, "seed"),
        ({"seed": True}, "seed"),
    ],
)
def test_invalid_hyperparameters_name_the_parameter(options: dict, param: str) -> None:
    (value,) = options.values()
    with pytest.raises(ValueError, match=rf"{param}.*{re.escape(repr(value))}"):
        DSA(**options)
