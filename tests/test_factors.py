"""Tests of the factor summary: silhouette, between/within ratio and their bootstrap."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest
import xarray as xr
from numpy.typing import NDArray

from rnn_analysis.aggregate.factors import (
    between_within_ratio,
    bootstrap_weights,
    factor_summary,
    factor_table,
    percentile_interval,
    silhouette,
    weighted_scores,
)


def euclidean(points: NDArray) -> NDArray:
    return np.sqrt(((points[:, None, :] - points[None, :, :]) ** 2).sum(axis=-1))


def reference_silhouette(d: NDArray, labels: list, origin: list[int] | None = None) -> float:
    """Rousseeuw's silhouette by explicit loops over the items of a (resampled) set.

    ``origin[p]`` is the network that item p is a copy of; copies of one network are
    never compared with each other.
    """
    n = len(labels)
    origin = list(range(n)) if origin is None else origin
    values = []
    for p in range(n):
        own = [d[p, q] for q in range(n) if labels[q] == labels[p] and origin[q] != origin[p]]
        if not own:
            values.append(0.0)
            continue
        a = sum(own) / len(own)
        b = math.inf
        for level in set(labels) - {labels[p]}:
            other = [d[p, q] for q in range(n) if labels[q] == level]
            b = min(b, sum(other) / len(other))
        values.append((b - a) / max(a, b) if max(a, b) > 0 else 0.0)
    return sum(values) / n


def reference_ratio(d: NDArray, labels: list, origin: list[int] | None = None) -> float:
    """Mean between-group / mean within-group distance over pairs of distinct networks."""
    n = len(labels)
    origin = list(range(n)) if origin is None else origin
    within, between = [], []
    for p in range(n):
        for q in range(p + 1, n):
            if origin[p] == origin[q]:
                continue
            (within if labels[p] == labels[q] else between).append(d[p, q])
    return (sum(between) / len(between)) / (sum(within) / len(within))


def make_similarity(
    matrices: dict[str, NDArray],
    architecture: list[str],
    learning_rule: list[str],
    noise: list[float],
) -> xr.Dataset:
    n = len(architecture)
    keys = np.array([f"net{i:03d}" for i in range(n)])
    coords = {
        "architecture": ("network", np.array(architecture)),
        "learning_rule": ("network", np.array(learning_rule)),
        "noise": ("network", np.array(noise, dtype=float)),
        "network_key": ("network", keys),
        "network_key_b": ("network_b", keys),
    }
    families = {"geo": "geometry", "topo": "topology"}
    data_vars = {
        name: (
            ("network", "network_b"),
            matrix,
            {
                "metric": name,
                "long_name": f"{name} distance",
                "units": "1",
                "family": families.get(name, "geometry"),
            },
        )
        for name, matrix in matrices.items()
    }
    return xr.Dataset(data_vars, coords=coords, attrs={"task": "toy"})


def clustered(rng: np.random.Generator, labels: NDArray, spread: float) -> NDArray:
    centres = rng.standard_normal((labels.max() + 1, 5)) * 10
    return euclidean(centres[labels] + spread * rng.standard_normal((labels.size, 5)))


@pytest.fixture
def grid() -> xr.Dataset:
    """30 networks; geometry separates learning rules, topology separates nothing."""
    rng = np.random.default_rng(0)
    n = 30
    rule_codes = np.arange(n) % 3
    architecture = ["gru" if i % 2 else "vanilla" for i in range(n)]
    rules = [["bptt", "force", "hebbian"][c] for c in rule_codes]
    noise = [0.1 * (i % 5 == 0) for i in range(n)]
    geo = clustered(rng, rule_codes, spread=0.3)
    topo = euclidean(rng.standard_normal((n, 4)))
    return make_similarity({"geo": geo, "topo": topo}, architecture, rules, noise)


def test_silhouette_and_ratio_match_double_loops() -> None:
    rng = np.random.default_rng(1)
    points = rng.standard_normal((23, 4))
    d = euclidean(points)
    labels = list(rng.choice(["a", "b", "c"], size=22)) + ["lonely"]
    assert silhouette(d, labels) == pytest.approx(reference_silhouette(d, labels), abs=1e-12)
    assert between_within_ratio(d, labels) == pytest.approx(reference_ratio(d, labels), abs=1e-12)


def test_weights_equal_explicit_resampling_with_duplicates_kept_apart() -> None:
    rng = np.random.default_rng(2)
    n = 17
    d = euclidean(rng.standard_normal((n, 3)))
    labels = np.array(rng.choice(["x", "y", "z"], size=n))
    draws = rng.integers(0, n, size=n)
    assert len(set(draws)) < n
    weights = np.bincount(draws, minlength=n)
    scores = weighted_scores(d, labels, weights[None, :])
    resampled = d[np.ix_(draws, draws)]
    items = list(labels[draws])
    origin = list(draws)
    assert scores.valid[0]
    assert scores.silhouette[0] == pytest.approx(
        reference_silhouette(resampled, items, origin), abs=1e-12
    )
    assert scores.between_within[0] == pytest.approx(
        reference_ratio(resampled, items, origin), abs=1e-12
    )


def test_separated_groups_give_high_scores_with_intervals_away_from_the_null(
    grid: xr.Dataset,
) -> None:
    summary = factor_summary(grid, n_bootstrap=400)
    geo_rule = summary.sel(metric="geo", factor="learning_rule")
    assert float(geo_rule["silhouette"]) > 0.9
    assert float(geo_rule["silhouette_ci"].sel(bound="low")) > 0.8
    assert float(geo_rule["between_within"]) > 10
    assert float(geo_rule["between_within_ci"].sel(bound="low")) > 5
    topo_rule = summary.sel(metric="topo", factor="learning_rule")
    low, high = topo_rule["silhouette_ci"].values
    assert low < 0 < high
    low, high = topo_rule["between_within_ci"].values
    assert low < 1 < high


def test_random_labels_give_intervals_covering_the_null() -> None:
    rng = np.random.default_rng(3)
    n, trials = 40, 20
    covers_zero = covers_one = 0
    for trial in range(trials):
        d = euclidean(rng.standard_normal((n, 6)))
        architecture = list(rng.choice(["gru", "lstm"], size=n))
        similarity = make_similarity({"geo": d}, architecture, ["bptt"] * n, [0.0] * n)
        summary = factor_summary(similarity, factors=["architecture"], n_bootstrap=300, seed=trial)
        low, high = summary["silhouette_ci"].values[0, 0]
        covers_zero += low < 0 < high
        low, high = summary["between_within_ci"].values[0, 0]
        covers_one += low < 1 < high
    assert covers_zero >= 0.8 * trials
    assert covers_one >= 0.8 * trials


def test_bootstrap_is_reproducible_and_depends_on_the_seed(grid: xr.Dataset) -> None:
    first = factor_summary(grid, n_bootstrap=200, seed=5)
    again = factor_summary(grid, n_bootstrap=200, seed=5)
    other = factor_summary(grid, n_bootstrap=200, seed=6)
    xr.testing.assert_identical(first, again)
    xr.testing.assert_equal(first["silhouette"], other["silhouette"])
    assert not np.allclose(first["silhouette_ci"].values, other["silhouette_ci"].values)
    np.testing.assert_array_equal(bootstrap_weights(10, 4, seed=5), bootstrap_weights(10, 4, 5))
    assert bootstrap_weights(10, 4, seed=5).sum(axis=1).tolist() == [10] * 4


def test_result_does_not_depend_on_the_order_of_networks(grid: xr.Dataset) -> None:
    permutation = np.random.default_rng(4).permutation(grid.sizes["network"])
    shuffled = grid.isel(network=permutation, network_b=permutation)
    xr.testing.assert_identical(
        factor_summary(grid, n_bootstrap=100), factor_summary(shuffled, n_bootstrap=100)
    )


def test_single_level_factor_gives_nan(grid: xr.Dataset) -> None:
    one_rule = grid.assign_coords(learning_rule=("network", ["bptt"] * grid.sizes["network"]))
    summary = factor_summary(one_rule, n_bootstrap=50)
    rule = summary.sel(factor="learning_rule")
    assert np.isnan(rule["silhouette"]).all()
    assert np.isnan(rule["silhouette_ci"]).all()
    assert np.isnan(rule["between_within_ci"]).all()
    assert (rule["n_bootstrap_used"] == 0).all()
    assert int(summary["n_groups"].sel(factor="learning_rule")) == 1
    assert np.isfinite(summary["silhouette"].sel(factor="architecture")).all()
    assert "single level" in summary["silhouette"].attrs["note"]


def test_networks_with_missing_distances_are_left_out(grid: xr.Dataset) -> None:
    geo = grid["geo"].values.copy()
    geo[7, :] = geo[:, 7] = np.nan
    with_gap = grid.assign(geo=(("network", "network_b"), geo, grid["geo"].attrs))
    summary = factor_summary(with_gap, n_bootstrap=100)
    rest = [i for i in range(grid.sizes["network"]) if i != 7]
    reduced = factor_summary(grid.isel(network=rest, network_b=rest), n_bootstrap=100)
    assert int(summary["n_networks"].sel(metric="geo")) == 29
    assert int(summary["n_networks"].sel(metric="topo")) == 30
    assert str(summary["networks_left_out"].sel(metric="geo").values) == "net007"
    for name in ("silhouette", "silhouette_ci", "between_within", "between_within_ci"):
        xr.testing.assert_equal(summary[name].sel(metric="geo"), reduced[name].sel(metric="geo"))


def test_resamples_without_two_groups_are_dropped_and_counted() -> None:
    d = euclidean(np.random.default_rng(5).standard_normal((4, 2)))
    labels = ["gru", "gru", "lstm", "lstm"]
    similarity = make_similarity({"geo": d}, labels, ["bptt"] * 4, [0.0] * 4)
    summary = factor_summary(similarity, factors=["architecture"], n_bootstrap=500, seed=9)
    weights = bootstrap_weights(4, 500, seed=9)
    gru, lstm = weights[:, :2], weights[:, 2:]
    both_groups = (gru.sum(axis=1) > 0) & (lstm.sum(axis=1) > 0)
    a_pair = ((gru > 0).sum(axis=1) == 2) | ((lstm > 0).sum(axis=1) == 2)
    expected = int((both_groups & a_pair).sum())
    assert 0 < expected < 500
    assert int(summary["n_bootstrap_used"].values[0, 0]) == expected


def test_identical_groups_give_an_infinite_ratio() -> None:
    codes = np.array([0, 0, 0, 1, 1, 1])
    d = (codes[:, None] != codes[None, :]).astype(float)
    assert between_within_ratio(d, codes) == math.inf
    assert silhouette(d, codes) == 1.0
    similarity = make_similarity({"topo": d}, ["a"] * 3 + ["b"] * 3, ["bptt"] * 6, [0.0] * 6)
    summary = factor_summary(similarity, factors=["architecture"], n_bootstrap=50)
    assert summary["between_within_ci"].values[0, 0, 1] == math.inf
    assert any("inf" in line for line in factor_table(summary))


def test_identical_networks_are_not_separated() -> None:
    """Every distance 0 (e.g. one shared topology): no separation, not an undefined one."""
    codes = np.array([0, 0, 1, 1, 2, 2])
    d = np.zeros((6, 6))
    assert between_within_ratio(d, codes) == 1.0
    assert silhouette(d, codes) == 0.0
    similarity = make_similarity(
        {"topo": d}, ["a", "a", "b", "b", "c", "c"], ["bptt"] * 6, [0.0] * 6
    )
    summary = factor_summary(similarity, factors=["architecture"], n_bootstrap=50)
    assert summary["between_within"].item() == 1.0
    assert summary["between_within_ci"].values.ravel().tolist() == [1.0, 1.0]


def test_undefined_scores_are_nan() -> None:
    d = euclidean(np.arange(4.0)[:, None])
    assert math.isnan(silhouette(d, ["a"] * 4))
    assert math.isnan(between_within_ratio(d, ["a", "b", "c", "d"]))


def test_percentile_interval() -> None:
    values = np.random.default_rng(6).standard_normal(101)
    low, high = percentile_interval(values, 0.9)
    np.testing.assert_allclose([low, high], np.percentile(values, [5, 95]), rtol=1e-14)
    assert percentile_interval([1.0, 2.0, math.inf, math.inf], 0.5) == (1.75, math.inf)
    assert all(math.isnan(v) for v in percentile_interval([], 0.95))


def test_factor_table_shows_the_numbers_and_a_reading(grid: xr.Dataset) -> None:
    summary = factor_summary(grid, n_bootstrap=100)
    lines = factor_table(summary)
    text = "\n".join(lines)
    value = float(summary["silhouette"].sel(metric="geo", factor="learning_rule"))
    low, high = summary["silhouette_ci"].sel(metric="geo", factor="learning_rule").values
    assert f"{value:+.2f} [{low:+.2f}, {high:+.2f}]" in text
    ratio = float(summary["between_within"].sel(metric="topo", factor="noise"))
    assert f"{ratio:.2f} [" in text
    row = next(line for line in lines if line.startswith("geo (geometry)"))
    assert " 30 " in row
    for factor in ("architecture", "learning_rule", "noise"):
        assert factor in text
    assert "learning_rule: separated under geo; no clear separation under topo" in text
    assert "+1 = groups compact" in text


def test_factor_table_marks_single_levels() -> None:
    d = euclidean(np.random.default_rng(7).standard_normal((6, 2)))
    similarity = make_similarity({"geo": d}, ["a", "b"] * 3, ["bptt"] * 6, [0.0] * 6)
    text = "\n".join(factor_table(factor_summary(similarity, n_bootstrap=20)))
    assert "n/a" in text
    assert "not assessable for geo (single level)" in text


def test_summary_round_trips_through_netcdf(grid: xr.Dataset, tmp_path: Path) -> None:
    summary = factor_summary(grid, n_bootstrap=20)
    summary.to_netcdf(tmp_path / "factors.nc")
    with xr.open_dataset(tmp_path / "factors.nc") as loaded:
        xr.testing.assert_allclose(loaded.load(), summary)
        assert list(loaded["family"].values) == ["geometry", "topology"]


def test_invalid_arguments_are_rejected(grid: xr.Dataset) -> None:
    with pytest.raises(KeyError, match="'seed'"):
        factor_summary(grid, factors=["seed"])
    with pytest.raises(KeyError, match="'dsa'"):
        factor_summary(grid, metrics=["dsa"])
    with pytest.raises(ValueError, match="confidence"):
        factor_summary(grid, confidence=1.0)
    with pytest.raises(ValueError, match="labels must have one entry per network"):
        silhouette(np.zeros((3, 3)), ["a", "b"])
    with pytest.raises(ValueError, match=r"weights\[0, 1\] = -1.0"):
        weighted_scores(np.zeros((2, 2)), ["a", "b"], [[1, -1]])


@pytest.mark.parametrize("n", [0, 1])
def test_no_or_one_network_gives_nan_not_an_error(n: int) -> None:
    """A task whose networks all diverged still gets a (NaN) factor summary and table."""
    similarity = make_similarity({"geo": np.zeros((n, n))}, ["gru"] * n, ["bptt"] * n, [0.0] * n)
    summary = factor_summary(similarity, n_bootstrap=20)
    assert summary["silhouette"].isnull().all()
    assert summary["between_within_ci"].isnull().all()
    assert int(summary["n_networks"].sel(metric="geo")) == n
    assert any("geo" in line for line in factor_table(summary))
