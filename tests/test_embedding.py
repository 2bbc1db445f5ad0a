"""Tests of the metric MDS embeddings of distance matrices."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.linalg
import xarray as xr
from numpy.typing import NDArray

from rnn_analysis.aggregate.embedding import (
    MDS_AXIS,
    check_distances,
    complete_networks,
    mds_embeddings,
    metric_mds,
)


def euclidean(points: NDArray) -> NDArray:
    return np.sqrt(((points[:, None, :] - points[None, :, :]) ** 2).sum(axis=-1))


def as_distances(matrix: NDArray, keys: list[str] | None = None, **attrs) -> xr.DataArray:
    n = matrix.shape[0]
    keys = keys if keys is not None else [f"net{i:03d}" for i in range(n)]
    return xr.DataArray(
        matrix,
        dims=("network", "network_b"),
        coords={
            "network_key": ("network", np.array(keys)),
            "seed": ("network", np.arange(n)),
            "network_key_b": ("network_b", np.array(keys)),
        },
        attrs={"metric": "toy", "long_name": "toy distance", "units": "1", **attrs},
        name="toy",
    )


def random_dissimilarities(rng: np.random.Generator, n: int) -> NDArray:
    d = rng.random((n, n))
    d = (d + d.T) / 2
    np.fill_diagonal(d, 0.0)
    return d


def test_recovers_planar_configuration() -> None:
    rng = np.random.default_rng(0)
    points = rng.standard_normal((15, 2)) * [3.0, 1.0]
    embedding = metric_mds(as_distances(euclidean(points)))
    x = embedding.values
    assert embedding.dims == ("network", MDS_AXIS)
    assert embedding.attrs["normalized_stress"] < 1e-8
    np.testing.assert_allclose(euclidean(x), euclidean(points), atol=1e-8)
    centred = points - points.mean(axis=0)
    rotation, _ = scipy.linalg.orthogonal_procrustes(x, centred)
    np.testing.assert_allclose(x @ rotation, centred, atol=1e-8)


def test_recovers_three_dimensional_configuration_with_three_components() -> None:
    rng = np.random.default_rng(1)
    points = rng.standard_normal((12, 3))
    embedding = metric_mds(as_distances(euclidean(points)), n_components=3)
    assert embedding.sizes[MDS_AXIS] == 3
    np.testing.assert_allclose(euclidean(embedding.values), euclidean(points), atol=1e-8)


def test_orientation_convention() -> None:
    rng = np.random.default_rng(2)
    points = rng.standard_normal((20, 4)) * [4.0, 2.0, 0.5, 0.2]
    x = metric_mds(as_distances(euclidean(points))).values
    np.testing.assert_allclose(x.mean(axis=0), 0.0, atol=1e-12)
    covariance = x.T @ x
    assert abs(covariance[0, 1]) < 1e-8 * covariance[0, 0]
    assert covariance[0, 0] > covariance[1, 1]
    for axis in range(2):
        assert x[np.argmax(np.abs(x[:, axis])), axis] > 0


def test_smacof_lowers_stress_of_the_classical_start() -> None:
    d = random_dissimilarities(np.random.default_rng(3), 25)
    classical = metric_mds(as_distances(d), max_iterations=0)
    refined = metric_mds(as_distances(d))
    assert classical.attrs["iterations"] == 0
    assert refined.attrs["converged"] == 1
    assert 0 < refined.attrs["iterations"] < 300
    assert refined.attrs["normalized_stress"] < classical.attrs["normalized_stress"] - 0.01
    fitted = euclidean(refined.values)
    upper = np.triu_indices(25, 1)
    stress = np.sqrt(((d - fitted)[upper] ** 2).sum() / (d[upper] ** 2).sum())
    assert refined.attrs["normalized_stress"] == pytest.approx(stress, rel=1e-10)


def test_deterministic_and_invariant_to_permuting_networks() -> None:
    rng = np.random.default_rng(4)
    n = 18
    d = random_dissimilarities(rng, n)
    first = metric_mds(as_distances(d))
    again = metric_mds(as_distances(d))
    np.testing.assert_array_equal(first.values, again.values)
    permutation = rng.permutation(n)
    keys = [f"net{i:03d}" for i in range(n)]
    permuted = metric_mds(
        as_distances(d[np.ix_(permutation, permutation)], [keys[i] for i in permutation])
    )
    np.testing.assert_array_equal(permuted.values, first.values[permutation])
    np.testing.assert_array_equal(permuted["network_key"].values, np.array(keys)[permutation])


def test_single_network() -> None:
    embedding = metric_mds(as_distances(np.zeros((1, 1))))
    np.testing.assert_array_equal(embedding.values, np.zeros((1, 2)))
    assert embedding.attrs["normalized_stress"] == 0.0


def test_two_networks_sit_on_the_first_axis() -> None:
    d = np.array([[0.0, 0.6], [0.6, 0.0]])
    embedding = metric_mds(as_distances(d, ["b", "a"]))
    np.testing.assert_allclose(embedding.values, [[-0.3, 0.0], [0.3, 0.0]], atol=1e-15)
    swapped = metric_mds(as_distances(d, ["a", "b"]))
    np.testing.assert_allclose(swapped.values, [[0.3, 0.0], [-0.3, 0.0]], atol=1e-15)


def test_all_zero_distances() -> None:
    embedding = metric_mds(as_distances(np.zeros((5, 5))))
    np.testing.assert_array_equal(embedding.values, np.zeros((5, 2)))
    assert embedding.attrs["normalized_stress"] == 0.0
    assert embedding.attrs["iterations"] == 0


def test_networks_with_missing_distances_are_left_out() -> None:
    rng = np.random.default_rng(5)
    points = rng.standard_normal((9, 2))
    d = euclidean(points)
    with_gap = d.copy()
    with_gap[4, :] = np.nan
    with_gap[:, 4] = np.nan
    embedding = metric_mds(as_distances(with_gap))
    assert np.isnan(embedding.values[4]).all()
    assert embedding.attrs["n_left_out"] == 1
    assert embedding.attrs["left_out"] == "net004"
    assert embedding.attrs["n_networks_embedded"] == 8
    rest = [i for i in range(9) if i != 4]
    keys = [f"net{i:03d}" for i in rest]
    reduced = metric_mds(as_distances(d[np.ix_(rest, rest)], keys))
    np.testing.assert_allclose(embedding.values[rest], reduced.values, atol=1e-12)


def test_complete_networks_drops_the_network_with_most_missing_pairs() -> None:
    d = np.ones((5, 5))
    np.fill_diagonal(d, 0.0)
    d[1, 3] = d[3, 1] = np.nan
    d[1, 4] = d[4, 1] = np.nan
    np.testing.assert_array_equal(complete_networks(d), [True, False, True, True, True])
    d[0, :] = d[:, 0] = np.nan
    np.testing.assert_array_equal(complete_networks(d), [False, False, True, True, True])


@pytest.mark.parametrize(
    ("matrix", "message"),
    [
        (np.array([[0.0, 1.0], [1.5, 0.0]]), r"not symmetric: \[0, 1\]"),
        (np.array([[0.0, -1.0], [-1.0, 0.0]]), r"\[0, 1\] = -1.0"),
        (np.array([[0.0, np.nan], [1.0, 0.0]]), "NaN on both sides"),
        (np.zeros((2, 3)), "square"),
    ],
)
def test_invalid_distances_are_rejected(matrix: NDArray, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        check_distances(matrix)


def test_invalid_parameters_are_rejected() -> None:
    d = as_distances(np.zeros((3, 3)))
    with pytest.raises(ValueError, match="n_components"):
        metric_mds(d, n_components=0)
    with pytest.raises(ValueError, match="max_iterations"):
        metric_mds(d, max_iterations=-1)


def test_embeddings_of_a_similarity_dataset() -> None:
    rng = np.random.default_rng(6)
    a = as_distances(euclidean(rng.standard_normal((6, 2))), family="geometry")
    b = as_distances(random_dissimilarities(rng, 6))
    dataset = xr.Dataset({"first": a, "second": b})
    embeddings = mds_embeddings(dataset)
    assert set(embeddings.data_vars) == {"first", "second"}
    assert "network_key_b" not in embeddings.coords
    np.testing.assert_array_equal(embeddings["first"].values, metric_mds(a).values)
    assert embeddings["first"].attrs["family"] == "geometry"
    with pytest.raises(KeyError, match="'third'"):
        mds_embeddings(dataset, ["third"])
