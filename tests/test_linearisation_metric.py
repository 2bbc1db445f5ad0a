"""Tests of the linearisation distance (leading spectra at readout-matched fixed points)."""

from __future__ import annotations

import numpy as np
import pytest
import torch
import xarray as xr
from numpy.typing import NDArray

from rnn_analysis.aggregate.tiles import compare_analyses
from rnn_analysis.analysis.fixed_points import FixedPointParams, find_fixed_points
from rnn_analysis.analysis.fixed_points.dataset import eig_sorted
from rnn_analysis.similarity import METRICS, MissingRepresentation, get_metric
from rnn_analysis.similarity.linearisation import (
    Linearisation,
    LinearisationDistance,
    leading_eigenvalues,
    match_fixed_points,
    spectral_distances,
    spectral_features,
)
from tests.test_topology import independent_units, uniform_probe, zero_input

#: Static inputs of the hand-made networks (two contexts × one level, as in ``cdi``).
LEVELS = np.array([[0.01, 1.0, 0.0], [0.01, 0.0, 1.0]])


def analysis(
    jacobians: NDArray,
    readout: NDArray,
    condition: NDArray,
    *,
    levels: NDArray = LEVELS,
    kind: NDArray | None = None,
) -> xr.Dataset:
    """The fixed-point variables the metric reads, eigenvalues from the Jacobians."""
    lam, _ = eig_sorted(np.asarray(jacobians, dtype=np.float64))
    n, s = lam.shape
    kind = np.full(n, "fixed") if kind is None else np.asarray(kind)
    condition = np.asarray(condition, dtype=np.int64)
    return xr.Dataset(
        {
            "state_value": (("fixed_point", "state"), np.zeros((n, s))),
            "input_value": (("fixed_point", "input_channel"), levels[condition]),
            "condition": ("fixed_point", condition),
            "kind": ("fixed_point", kind.astype("<U5")),
            "readout": (("fixed_point", "output"), np.asarray(readout, dtype=np.float64)),
            "eigenvalue_real": (("fixed_point", "mode"), lam.real),
            "eigenvalue_imag": (("fixed_point", "mode"), lam.imag),
        },
        coords={"fixed_point": np.arange(n)},
    )


def random_orthogonal(rng: np.random.Generator, n: int) -> NDArray:
    q, r = np.linalg.qr(rng.standard_normal((n, n)))
    return q * np.sign(np.diag(r))


def random_network(rng: np.random.Generator, n: int = 6, s: int = 5) -> xr.Dataset:
    """Random Jacobians (spectral radius about 1), readouts and conditions."""
    jac = rng.standard_normal((n, s, s)) / np.sqrt(s)
    return analysis(jac, rng.standard_normal((n, 2)), rng.integers(0, 2, n))


def rotated(rng: np.random.Generator, ds: xr.Dataset, jacobians: NDArray) -> xr.Dataset:
    """The same network in other state coordinates (Q J Qᵀ) with its points reordered."""
    q = random_orthogonal(rng, jacobians.shape[-1])
    order = rng.permutation(len(jacobians))
    return analysis(
        (q @ jacobians @ q.T)[order],
        ds["readout"].values[order],
        ds["condition"].values[order],
    )


def diagonal(*eigenvalues: float) -> NDArray:
    return np.diag(np.asarray(eigenvalues, dtype=np.float64))


def single(lam: float, readout: float = 0.5) -> xr.Dataset:
    """One fixed point with slow mode ``lam`` and two fast modes."""
    return analysis(diagonal(lam, 0.5, 0.2)[None], [[readout, 0.0]], np.array([0]))


@pytest.fixture
def rng() -> np.random.Generator:
    return np.random.default_rng(5)


def test_registered_in_the_dynamics_family() -> None:
    assert METRICS["linearisation"] is LinearisationDistance
    metric = get_metric("linearisation", n_modes=4)
    assert metric.family == "dynamics"
    assert metric.attrs() == {
        "metric": "linearisation",
        "long_name": LinearisationDistance.long_name,
        "units": "1",
        "family": "dynamics",
        "metric_n_modes": 4,
        "metric_tau_min": 1.0,
        "metric_tau_max": 1000.0,
        "metric_unmatched_cost": 1.0,
        "metric_include_slow": 0,
        "metric_input_decimals": 6,
    }


@pytest.mark.parametrize(
    "options",
    [
        {"n_modes": 0},
        {"tau_min": 0.0},
        {"tau_max": 0.5},
        {"unmatched_cost": 1.5},
        {"include_slow": "yes"},
        {"input_decimals": -2},
    ],
)
def test_invalid_options(options: dict) -> None:
    with pytest.raises(ValueError, match=next(iter(options))):
        LinearisationDistance(**options)


def test_spectral_features_by_hand() -> None:
    lam = np.array(
        [
            [1.0, -1.0, 0.0],
            [np.exp(-1.0), np.exp(-1e-3), np.exp(1e-2)],
            [0.9j, -0.9j, 0.5],
        ]
    )
    f = spectral_features(lam)
    # marginal positive (1, 0), marginal negative (1, 1), zero (0, 0); sorted by time scale
    np.testing.assert_allclose(f[0], [[1, 1], [1, 0], [0, 0]], atol=1e-12)
    # τ = 1000 → 1, τ = 100 (a growing mode) → 2/3, τ = 1 → 0
    np.testing.assert_allclose(f[1], [[1, 0], [2 / 3, 0], [0, 0]], atol=1e-12)
    # a conjugate pair gives two equal rows whatever their order; rotation ±90° is 1/2
    tau = 1 / abs(np.log(0.9))
    np.testing.assert_allclose(f[2, :2], [[np.log(tau) / np.log(1000), 0.5]] * 2)
    np.testing.assert_allclose(spectral_features(lam[:, ::-1]), f)


def test_rotated_and_reordered_networks_are_at_distance_zero(rng) -> None:
    metric = LinearisationDistance()
    for n, s in ((1, 3), (6, 5), (12, 8)):
        jac = rng.standard_normal((n, s, s)) / np.sqrt(s)
        ds = analysis(jac, rng.standard_normal((n, 2)), rng.integers(0, 2, n))
        a = metric.representation(ds)
        b = metric.representation(rotated(rng, ds, jac))
        assert metric(a, b) == pytest.approx(0.0, abs=1e-10)
    # any invertible change of coordinates M J M⁻¹ keeps the eigenvalues
    m = rng.standard_normal((s, s)) + 3 * np.eye(s)
    conjugate = analysis(m @ jac @ np.linalg.inv(m), ds["readout"].values, ds["condition"].values)
    assert metric(metric.representation(conjugate), a) == pytest.approx(0.0, abs=1e-9)


def test_distance_grows_with_the_difference_in_time_constants() -> None:
    metric = LinearisationDistance()
    base = metric.representation(single(0.99))
    lams = [0.99, 0.98, 0.95, 0.9, 0.8, 0.5]
    d = [metric(base, metric.representation(single(lam))) for lam in lams]
    assert d[0] == 0.0
    assert all(0 < a < b for a, b in zip(d[1:], d[2:], strict=False))
    assert d[1] > 0.0
    # one of three modes differs, in its time scale only
    tau = 1 / np.abs(np.log(lams))
    expected = np.abs(np.log(tau / tau[0])) / np.log(1000) / 2 / 3
    np.testing.assert_allclose(d, expected, atol=1e-12)


def test_rotation_differences_count() -> None:
    metric = LinearisationDistance()
    rotation = np.array([[np.cos(0.3), -np.sin(0.3)], [np.sin(0.3), np.cos(0.3)]])
    oscillating = 0.95 * np.block([[rotation, np.zeros((2, 1))], [np.zeros((1, 2)), 0.2]])
    a = metric.representation(analysis(oscillating[None], [[0.5, 0.0]], np.array([0])))
    b = metric.representation(analysis(diagonal(0.95, 0.95, 0.2)[None], [[0.5, 0.0]], [0]))
    # two of three modes rotate by 0.3 rad per step in a, none in b
    assert metric(a, b) == pytest.approx(2 * (0.3 / np.pi) / 2 / 3)


def test_symmetric_and_bounded(rng) -> None:
    metric = LinearisationDistance()
    reps = [metric.representation(random_network(rng, n)) for n in (1, 3, 6, 9)]
    prepared = [metric.prepare(r) for r in metric.validate(reps)]
    for a in prepared:
        for b in prepared:
            d = metric.distance(a, b)
            assert 0.0 <= d <= 1.0
            assert d == pytest.approx(metric.distance(b, a), abs=1e-12)


def test_matching_pairs_points_by_readout(rng) -> None:
    readout_a = np.array([[-1.0, 0.0], [0.0, 0.0], [1.0, 0.0], [0.0, 1.0]])
    order = np.array([2, 3, 0, 1])
    readout_b = readout_a[order] + 0.01 * rng.standard_normal((4, 2))
    rows, cols = match_fixed_points(readout_a, readout_b)
    np.testing.assert_array_equal(order[cols], rows)
    rows, cols = match_fixed_points(readout_a[:2], readout_b)
    assert len(rows) == 2
    np.testing.assert_array_equal(order[cols], rows)
    assert match_fixed_points(readout_a[:0], readout_b)[0].size == 0

    # three points with distinct spectra; the second network lists them in another order
    jac = np.stack([diagonal(0.999, 0.5, 0.1), diagonal(0.9, 0.8, 0.1), diagonal(-0.7, 0.3, 0)])
    ds = analysis(jac, readout_a[:3], np.zeros(3, dtype=int))
    metric = LinearisationDistance()
    three = np.array([2, 0, 1])
    noisy = readout_a[three] + 0.01 * rng.standard_normal((3, 2))
    perm = analysis(jac[three], noisy, np.zeros(3, dtype=int))
    assert metric(metric.representation(ds), metric.representation(perm)) < 1e-12
    # pairing the points by their index instead would not be at distance 0
    shuffled = analysis(jac[[1, 2, 0]], readout_a[:3], np.zeros(3, dtype=int))
    assert metric(metric.representation(ds), metric.representation(shuffled)) > 0.1


def test_equal_readouts_are_matched_by_their_spectra(rng) -> None:
    jac = np.stack([diagonal(0.999, 0.5, 0.1), diagonal(0.6, 0.5, 0.1)])
    readout = np.zeros((2, 2))
    metric = LinearisationDistance()
    a = metric.representation(analysis(jac, readout, np.zeros(2, dtype=int)))
    b = metric.representation(analysis(jac[::-1], readout, np.zeros(2, dtype=int)))
    assert metric(a, b) == 0.0


def test_points_are_matched_within_their_static_input() -> None:
    jac = np.stack([diagonal(0.999, 0.5, 0.1), diagonal(0.6, 0.5, 0.1)])
    readout = np.array([[0.5, 0.0], [0.5, 0.0]])
    metric = LinearisationDistance()
    a = metric.representation(analysis(jac, readout, np.array([0, 1])))
    swapped = metric.representation(analysis(jac, readout, np.array([1, 0])))
    assert metric(a, swapped) > 0.1
    # the same inputs under other condition indices
    relabelled = analysis(jac[::-1], readout, np.array([0, 1]), levels=LEVELS[::-1])
    assert metric(a, metric.representation(relabelled)) == 0.0


def test_unmatched_points_cost_a_penalty() -> None:
    jac = np.stack([diagonal(0.999, 0.5, 0.1), diagonal(0.6, 0.5, 0.1), diagonal(0.9, 0, 0)])
    readout = np.array([[1.0, 0.0], [-1.0, 0.0], [0.0, 0.0]])
    full = analysis(jac, readout, np.array([0, 0, 1]))
    fewer = analysis(jac[:2], readout[:2], np.array([0, 0]))
    one = analysis(jac[:1], readout[:1], np.array([0]))
    for cost in (1.0, 0.5, 0.0):
        metric = LinearisationDistance(unmatched_cost=cost)
        rep = metric.representation
        # another input's point without a partner: 2 matched at 0, 1 unmatched
        assert metric(rep(full), rep(fewer)) == pytest.approx(cost / 3)
        # the surplus within one input: 1 matched at 0, 2 unmatched
        assert metric(rep(full), rep(one)) == pytest.approx(2 * cost / 3)
    empty = analysis(np.zeros((0, 3, 3)), np.zeros((0, 2)), np.zeros(0, dtype=int))
    metric = LinearisationDistance()
    assert metric(metric.representation(empty), metric.representation(empty)) == 0.0
    assert metric(metric.representation(empty), metric.representation(full)) == 1.0


def test_slow_points_only_when_asked() -> None:
    jac = np.stack([diagonal(0.999, 0.5, 0.1), diagonal(0.6, 0.5, 0.1)])
    ds = analysis(jac, np.zeros((2, 2)), np.array([0, 0]), kind=np.array(["fixed", "slow"]))
    assert len(leading_eigenvalues(ds)) == 1
    assert len(leading_eigenvalues(ds, include_slow=True)) == 2
    rep = LinearisationDistance(include_slow=True).representation(ds)
    assert rep.eigenvalues.shape == (2, 3)


def test_modes_beyond_the_state_size_and_mode_counts() -> None:
    metric = LinearisationDistance(n_modes=5)
    a = metric.representation(single(0.9))
    assert a.eigenvalues.shape == (1, 3)
    b = LinearisationDistance(n_modes=2).representation(single(0.9))
    assert metric(a, b) == 0.0
    features = spectral_features(a.eigenvalues)
    assert spectral_distances(features, features[:, :0]).tolist() == [[0.0]]


def test_pairwise_matrix_of_analyses(rng) -> None:
    analyses = []
    jacs = []
    for n in (2, 5, 7):
        jac = rng.standard_normal((n, 4, 4)) / 2
        jacs.append(jac)
        analyses.append(analysis(jac, rng.standard_normal((n, 2)), rng.integers(0, 2, n)))
    analyses.append(rotated(rng, analyses[1], jacs[1]))
    analyses.append(analyses[0].drop_vars("eigenvalue_imag"))
    compared = compare_analyses(analyses, {"metrics": ["linearisation"]}, log=print)
    d, reasons = compared.matrices["linearisation"], compared.reasons["linearisation"]
    assert reasons[:4] == ["", "", "", ""] and "eigenvalue_imag" in reasons[4]
    d = d[:4, :4]
    np.testing.assert_array_equal(d, d.T)
    np.testing.assert_array_equal(np.diag(d), 0.0)
    assert ((d >= 0) & (d <= 1)).all()
    assert d[1, 3] == pytest.approx(0.0, abs=1e-10)
    assert (d[np.triu_indices(3, 1)] > 0.05).all()


def test_missing_fixed_points() -> None:
    metric = LinearisationDistance()
    ds = single(0.9)
    for name in ("readout", "eigenvalue_real", "input_value", "kind"):
        with pytest.raises(MissingRepresentation, match=name):
            metric.representation(ds.drop_vars(name))
    with pytest.raises(MissingRepresentation, match="skipped"):
        metric.representation(ds.assign_attrs(analysis_skipped="diverged"))


def test_invalid_representations() -> None:
    metric = LinearisationDistance()
    good = metric.representation(single(0.9))
    with pytest.raises(ValueError, match="network 1: representation must be a Linearisation"):
        metric.pairwise([good, {"a": 1}])
    bad = Linearisation(good.condition, good.readout, good.eigenvalues * np.nan)
    with pytest.raises(ValueError, match="network 0: non-finite"):
        metric.pairwise([bad, good])
    other = Linearisation(good.condition, np.zeros((1, 3)), good.eigenvalues)
    with pytest.raises(ValueError, match="network 1: readout has 3 outputs"):
        metric.pairwise([good, other])
    short = Linearisation(good.condition, np.zeros((2, 2)), good.eigenvalues)
    with pytest.raises(ValueError, match="network 0: 1 conditions"):
        metric.pairwise([short, good])


def test_real_fixed_points() -> None:
    """Two independent bistable units: 9 fixed points, Jacobians diag(g (1 − tanh²))."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        found = [
            find_fixed_points(
                independent_units(gains),
                uniform_probe(2),
                zero_input(2),
                FixedPointParams(n_initial_states=64),
            )[0]
            for gains in ([2.0, 2.5], [2.0, 3.0])
        ]
    finally:
        torch.set_num_threads(before)
    metric = LinearisationDistance()
    a, b = (metric.representation(fp) for fp in found)
    assert len(a) == len(b) == 9
    # readouts are the states: the same sign pattern of points, other eigenvalues
    assert metric(a, a) == 0.0
    d = metric(a, b)
    assert 0.0 < d < 0.5
    reordered = found[0].isel(fixed_point=np.random.default_rng(0).permutation(9))
    assert metric(a, metric.representation(reordered)) == pytest.approx(0.0, abs=1e-12)
