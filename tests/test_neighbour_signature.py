"""Tests of the neighbour-signature distance (static inputs of nearest fixed points)."""

from __future__ import annotations

import numpy as np
import pytest
import torch
import xarray as xr
from numpy.typing import NDArray
from scipy.spatial.distance import jensenshannon

from rnn_analysis.aggregate.tiles import compare_analyses
from rnn_analysis.analysis.fixed_points import FixedPointParams, find_fixed_points
from rnn_analysis.similarity import METRICS, MissingRepresentation, get_metric
from rnn_analysis.similarity.neighbour_signature import (
    NeighbourSignature,
    neighbour_signature,
    neighbour_weights,
    static_input_keys,
)
from tests.test_topology import independent_units, uniform_probe, zero_input

#: Static inputs of the hand-made networks: one sensory level each, as in ``rdm``.
LEVELS = np.array([[-0.02], [0.0], [0.02]])


def fixed_points(
    x: NDArray,
    condition: NDArray,
    *,
    levels: NDArray = LEVELS,
    kind: NDArray | None = None,
    n_unstable: NDArray | None = None,
) -> xr.Dataset:
    """The variables of a fixed-point dataset that the metric reads."""
    x = np.asarray(x, dtype=np.float64)
    condition = np.asarray(condition, dtype=np.int64)
    n = len(x)
    kind = np.full(n, "fixed") if kind is None else np.asarray(kind)
    n_unstable = np.zeros(n, dtype=np.int64) if n_unstable is None else np.asarray(n_unstable)
    return xr.Dataset(
        {
            "state_value": (("fixed_point", "state"), x),
            "input_value": (("fixed_point", "input_channel"), levels[condition]),
            "condition": ("fixed_point", condition),
            "kind": ("fixed_point", kind.astype("<U5")),
            "n_unstable": ("fixed_point", n_unstable.astype(np.int64)),
        },
        coords={"fixed_point": np.arange(n)},
    )


def on_a_line(condition: list[int], dim: int = 2, spacing: NDArray | None = None) -> NDArray:
    """Points along the first axis of a ``dim``-D space, in the order of ``condition``."""
    gaps = np.ones(len(condition)) if spacing is None else spacing
    x = np.zeros((len(condition), dim))
    x[:, 0] = np.cumsum(gaps)
    return x


def separated() -> xr.Dataset:
    """Each static input's three points lie together, far from the other inputs' points."""
    condition = [0, 0, 0, 1, 1, 1, 2, 2, 2]
    spacing = np.array([0, 1, 1, 10, 1, 1, 10, 1, 1], dtype=float)
    return fixed_points(on_a_line(condition, spacing=spacing), np.array(condition))


def interleaved() -> xr.Dataset:
    """The static inputs alternate along the line: every neighbour has another input."""
    condition = [0, 1, 2, 0, 1, 2, 0, 1, 2]
    return fixed_points(on_a_line(condition), np.array(condition))


def random_orthogonal(rng: np.random.Generator, n: int) -> NDArray:
    q, r = np.linalg.qr(rng.standard_normal((n, n)))
    return q * np.sign(np.diag(r))


def moved(rng: np.random.Generator, ds: xr.Dataset, dim: int = 5) -> xr.Dataset:
    """The same points, embedded in ``dim`` dimensions, rotated, scaled, translated and
    listed in another order, with the conditions renumbered."""
    x = ds["state_value"].values
    x = np.concatenate([x, np.zeros((len(x), dim - x.shape[1]))], axis=1)
    x = 3.7 * x @ random_orthogonal(rng, dim) + rng.standard_normal(dim)
    order = rng.permutation(len(x))
    relabel = np.array([2, 0, 1])
    condition = relabel[ds["condition"].values]
    levels = np.empty_like(LEVELS)
    levels[relabel] = LEVELS
    return fixed_points(
        x[order],
        condition[order],
        levels=levels,
        kind=ds["kind"].values[order],
        n_unstable=ds["n_unstable"].values[order],
    )


def random_network(rng: np.random.Generator, n: int = 12, dim: int = 4) -> xr.Dataset:
    return fixed_points(
        rng.standard_normal((n, dim)),
        rng.integers(0, 3, n),
        n_unstable=rng.integers(0, 2, n),
    )


@pytest.fixture
def rng() -> np.random.Generator:
    return np.random.default_rng(11)


def test_registered_in_the_topology_family() -> None:
    assert METRICS["neighbour_signature"] is NeighbourSignature
    metric = get_metric("neighbour_signature")
    assert metric.family == "topology"
    assert metric.attrs() == {
        "metric": "neighbour_signature",
        "long_name": NeighbourSignature.long_name,
        "units": "1",
        "family": "topology",
        "metric_k": 2,
        "metric_divergence": "total_variation",
        "metric_with_stability": 0,
        "metric_input_decimals": 6,
    }
    assert get_metric("neighbour_signature", k=3, with_stability=True).k == 3


@pytest.mark.parametrize(
    "options",
    [{"k": 0}, {"k": 1.5}, {"k": True}, {"divergence": "kl"}, {"input_decimals": -1}],
)
def test_invalid_options(options: dict) -> None:
    with pytest.raises(ValueError, match=next(iter(options))):
        NeighbourSignature(**options)


def test_static_inputs_are_named_by_their_values() -> None:
    values = np.array([[0.019999999552965164, 0.0], [-0.0, 1.0], [0.02, 0.0]])
    keys = static_input_keys(values)
    assert keys.tolist() == ["(0.02, 0)", "(0, 1)", "(0.02, 0)"]


def test_neighbour_weights_by_hand() -> None:
    x = np.array([[0.0], [1.0], [3.0], [7.0]])
    expected = np.array(
        [
            [0, 1, 1, 0],
            [1, 0, 1, 0],
            [1, 1, 0, 0],
            [0, 1, 1, 0],
        ],
        dtype=float,
    )
    np.testing.assert_array_equal(neighbour_weights(x, 2), expected)
    nearest = [[0, 1, 0, 0], [1, 0, 0, 0], [0, 1, 0, 0], [0, 0, 1, 0]]
    np.testing.assert_array_equal(neighbour_weights(x, 1), nearest)
    # fewer other points than k: all of them
    np.testing.assert_array_equal(neighbour_weights(x[:2], 5), [[0, 1], [1, 0]])
    assert neighbour_weights(x[:1], 2).tolist() == [[0.0]]


def test_ties_share_the_weight_whatever_the_order(rng) -> None:
    # the centre of a square has four neighbours at the same distance
    x = np.array([[0.0, 0.0], [1.0, 0.0], [0.0, 1.0], [-1.0, 0.0], [0.0, -1.0]])
    w = neighbour_weights(x, 2)
    np.testing.assert_allclose(w[0], [0, 0.5, 0.5, 0.5, 0.5])
    np.testing.assert_allclose(w.sum(axis=1), 2.0)
    order = rng.permutation(5)
    rotated = x[order] @ random_orthogonal(rng, 2)
    np.testing.assert_allclose(neighbour_weights(rotated, 2), w[np.ix_(order, order)])


def test_signature_of_separated_and_interleaved_inputs() -> None:
    inside = neighbour_signature(separated())
    assert inside == {
        "(-0.02) -> (-0.02)": pytest.approx(1 / 3),
        "(0) -> (0)": pytest.approx(1 / 3),
        "(0.02) -> (0.02)": pytest.approx(1 / 3),
    }
    # along 0, 1, 2, 0, 1, 2, ... every point's two nearest points have the two other inputs
    inputs = ("(-0.02)", "(0)", "(0.02)")
    assert neighbour_signature(interleaved()) == {
        f"{a} -> {b}": pytest.approx(1 / 6) for a in inputs for b in inputs if a != b
    }


def test_moved_points_are_at_distance_zero(rng) -> None:
    metric = NeighbourSignature()
    for ds in (separated(), interleaved(), random_network(rng), random_network(rng, 30, 8)):
        a = metric.representation(ds)
        b = metric.representation(moved(rng, ds, dim=ds.sizes["state"] + 3))
        assert a == b
        assert metric(a, b) == 0.0
    stability = NeighbourSignature(with_stability=True, divergence="jensen_shannon")
    ds = random_network(rng, 20)
    assert stability(stability.representation(ds), stability.representation(moved(rng, ds))) == 0


def test_inputs_that_neighbour_others_are_far_from_inputs_that_do_not() -> None:
    metric = NeighbourSignature()
    a, b = metric.representation(separated()), metric.representation(interleaved())
    # no (own, neighbour) pair in common
    assert metric(a, b) == 1.0
    assert NeighbourSignature(divergence="jensen_shannon")(a, b) == pytest.approx(1.0)
    # one point of input 0.02 moved next to the points of input -0.02
    x = separated()["state_value"].values.copy()
    x[8, 0] = x[2, 0] + 0.5
    c = metric.representation(fixed_points(x, np.array([0, 0, 0, 1, 1, 1, 2, 2, 2])))
    assert 0.05 < metric(a, c) < metric(b, c) < 1.0


def test_distances_by_hand() -> None:
    p, q = {"a": 0.5, "b": 0.5}, {"a": 1.0}
    assert NeighbourSignature()(p, q) == pytest.approx(0.5)
    js = NeighbourSignature(divergence="jensen_shannon")(p, q)
    assert js == pytest.approx(jensenshannon([0.5, 0.5], [1.0, 0.0], base=2))
    # counts are normalised
    assert NeighbourSignature()({"a": 2, "b": 2}, {"a": 3}) == pytest.approx(0.5)


@pytest.mark.parametrize("divergence", ["total_variation", "jensen_shannon"])
def test_empty_signatures(divergence: str) -> None:
    metric = NeighbourSignature(divergence=divergence)
    lone = neighbour_signature(fixed_points(np.zeros((1, 2)), np.array([0])))
    assert lone == {}
    assert neighbour_signature(fixed_points(np.zeros((0, 2)), np.zeros(0, dtype=int))) == {}
    other = neighbour_signature(separated())
    assert metric(lone, {}) == 0.0
    assert metric(lone, other) == metric(other, lone) == 1.0
    np.testing.assert_array_equal(
        metric.pairwise([{}, other, {}]), [[0, 1, 0], [1, 0, 1], [0, 1, 0]]
    )


@pytest.mark.parametrize("divergence", ["total_variation", "jensen_shannon"])
@pytest.mark.parametrize(
    "device",
    [
        "cpu",
        pytest.param(
            "cuda",
            marks=pytest.mark.skipif(not torch.cuda.is_available(), reason="no GPU visible"),
        ),
    ],
)
def test_pairwise_on_device(divergence: str, device: str) -> None:
    hists = [{"a": 0.5, "b": 0.5}, {"a": 1.0}, {}, {"c": 0.25, "a": 0.75}]
    metric = NeighbourSignature(divergence=divergence)
    d = metric.pairwise(hists, device=device)
    for i, p in enumerate(hists):
        for j, q in enumerate(hists):
            assert d[i, j] == pytest.approx(metric(p, q) if i != j else 0.0, abs=1e-12)
    assert d[0, 1] == pytest.approx(
        0.5 if divergence == "total_variation" else jensenshannon([1, 1], [1, 0], base=2)
    )


def test_slow_points_are_left_out(rng) -> None:
    ds = random_network(rng, 10)
    extra = fixed_points(
        np.concatenate([ds["state_value"].values, rng.standard_normal((4, 4))]),
        np.concatenate([ds["condition"].values, [0, 1, 2, 0]]),
        kind=np.array(["fixed"] * 10 + ["slow"] * 4),
    )
    assert neighbour_signature(extra) == neighbour_signature(ds)


def test_stability_enters_the_keys_when_asked() -> None:
    ds = fixed_points(
        np.array([[0.0], [1.0], [3.0]]), np.array([0, 1, 1]), n_unstable=np.array([0, 1, 0])
    )
    assert neighbour_signature(ds, k=1, with_stability=True) == {
        "(-0.02) stable -> (0) saddle1": pytest.approx(1 / 3),
        "(0) saddle1 -> (-0.02) stable": pytest.approx(1 / 3),
        "(0) stable -> (0) saddle1": pytest.approx(1 / 3),
    }
    assert neighbour_signature(ds, k=1) == {
        "(-0.02) -> (0)": pytest.approx(1 / 3),
        "(0) -> (-0.02)": pytest.approx(1 / 3),
        "(0) -> (0)": pytest.approx(1 / 3),
    }


@pytest.mark.parametrize("divergence", ["total_variation", "jensen_shannon"])
def test_pairwise_matrix_of_analyses(rng, divergence: str) -> None:
    metric = NeighbourSignature(divergence=divergence)
    analyses = [separated(), interleaved()] + [random_network(rng, 8 + i) for i in range(5)]
    analyses.append(moved(rng, analyses[2]))
    analyses.append(xr.Dataset(attrs={"analysis_skipped": "diverged"}))
    options = {
        "metrics": ["neighbour_signature"],
        "metric_options": {"neighbour_signature": {"divergence": divergence}},
    }
    compared = compare_analyses(analyses, options, log=lambda _: None)
    d, reasons = compared.matrices["neighbour_signature"], compared.reasons["neighbour_signature"]
    assert reasons[-1] != "" and np.isnan(d[-1]).all()
    reps = [metric.representation(ds) for ds in analyses[:-1]]
    d = d[:-1, :-1]
    np.testing.assert_array_equal(d, d.T)
    np.testing.assert_array_equal(np.diag(d), 0.0)
    assert ((d >= 0) & (d <= 1)).all()
    assert d[2, -1] == 0.0
    assert d[0, 1] == 1.0
    prepared = [metric.prepare(r) for r in metric.validate(reps)]
    for i in range(len(prepared)):
        for j in range(len(prepared)):
            assert d[i, j] == pytest.approx(metric.distance(prepared[i], prepared[j]), abs=1e-12)


def test_real_fixed_points() -> None:
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        (fp,) = find_fixed_points(
            independent_units([2.0, 2.5]),
            uniform_probe(2),
            zero_input(2),
            FixedPointParams(n_initial_states=64),
        )
    finally:
        torch.set_num_threads(before)
    assert fp.sizes["fixed_point"] == 9
    signature = NeighbourSignature(with_stability=True).representation(fp)
    # The 3 × 3 grid of two bistable units (fixed points 0 and ±a, ±b with a < b): each
    # stable corner's two nearest points are its edge saddles; the saddles (±a, 0) have
    # the central saddle nearest, then two corners tied at distance b (half weight each);
    # the saddles (0, ±b) have two corners at distance a; the centre the saddles (±a, 0).
    assert signature == {
        "(0, 0) saddle1 -> (0, 0) saddle2": pytest.approx(2 / 18),
        "(0, 0) saddle1 -> (0, 0) stable": pytest.approx(6 / 18),
        "(0, 0) saddle2 -> (0, 0) saddle1": pytest.approx(2 / 18),
        "(0, 0) stable -> (0, 0) saddle1": pytest.approx(8 / 18),
    }


def test_missing_fixed_points() -> None:
    metric = NeighbourSignature()
    ds = separated()
    with pytest.raises(MissingRepresentation, match="state_value"):
        metric.representation(ds.drop_vars("state_value"))
    with pytest.raises(MissingRepresentation, match="input_value"):
        metric.representation(ds.drop_vars("input_value"))
    with pytest.raises(MissingRepresentation, match="n_unstable"):
        NeighbourSignature(with_stability=True).representation(ds.drop_vars("n_unstable"))
    with pytest.raises(MissingRepresentation, match="skipped"):
        metric.representation(ds.assign_attrs(analysis_skipped="diverged"))


def test_invalid_representations() -> None:
    metric = NeighbourSignature()
    with pytest.raises(ValueError, match="network 1: representation must be a mapping"):
        metric.pairwise([{}, [0.5, 0.5]])
    with pytest.raises(ValueError, match="network 0: weight of 'a'"):
        metric.pairwise([{"a": -1.0}, {}])
    with pytest.raises(ValueError, match="network 0: weight of 'a'"):
        metric.pairwise([{"a": np.nan}, {}])
