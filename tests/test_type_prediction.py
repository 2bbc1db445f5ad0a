"""Predicting the solution type from training features (rnn_analysis.aggregate.type_prediction)."""

from __future__ import annotations

import numpy as np
import pytest
import xarray as xr

from rnn_analysis.aggregate.type_prediction import TypePredictionParams, predict_types

NAMES = ["signal", "noise_a", "noise_b", "noise_c"]


def table(x: np.ndarray, keys: list[str] | None = None) -> xr.DataArray:
    keys = keys or [f"net{i:03d}" for i in range(len(x))]
    return xr.DataArray(
        x,
        dims=("network", "neural_feature"),
        coords={"network_key": ("network", keys), "neural_feature": NAMES[: x.shape[1]]},
    )


def informative(seed: int = 0) -> tuple[xr.DataArray, np.ndarray]:
    """Three types (30, 15, 15 networks) told apart by the first feature alone."""
    rng = np.random.default_rng(seed)
    types = np.array(["A"] * 30 + ["B"] * 15 + ["C"] * 15)
    x = rng.normal(size=(60, 4))
    x[:, 0] = np.select([types == "A", types == "B"], [0.0, 5.0], 10.0) + 0.3 * x[:, 0]
    return table(x), types


def test_a_feature_that_determines_the_type_predicts_it() -> None:
    features, types = informative()
    result = predict_types(features, types)
    accuracy = result["type_prediction_accuracy"].item()
    baseline = result["type_prediction_baseline"].item()
    assert baseline == pytest.approx(0.5)
    assert accuracy >= 0.95 and accuracy > baseline + 0.4
    assert result["type_prediction_n_networks"].item() == 60
    assert result["type_prediction_n_types"].item() == 3
    assert result["type_prediction_n_splits"].item() == 5
    recall = result["type_prediction_recall"]
    assert recall.dims == ("solution_type",)
    assert recall["solution_type"].values.tolist() == ["A", "B", "C"]
    assert (recall.values >= 0.9).all()
    weights = result["type_prediction_coefficient"]
    assert weights.dims == ("neural_feature",)
    assert weights["neural_feature"].values.tolist() == NAMES
    assert weights.idxmax().item() == "signal"
    assert "type_prediction_reason" not in result.attrs
    assert result.attrs["type_prediction_C"] == 1.0


def test_random_features_predict_no_better_than_the_majority() -> None:
    for seed in range(3):
        rng = np.random.default_rng(100 + seed)
        types = np.array(["A"] * 120 + ["B"] * 80)
        result = predict_types(table(rng.normal(size=(200, 4))), rng.permutation(types))
        baseline = result["type_prediction_baseline"].item()
        assert baseline == pytest.approx(0.6)
        # null accuracy has a standard deviation of about 0.035 over 200 networks
        assert abs(result["type_prediction_accuracy"].item() - baseline) < 0.15


def test_the_order_of_the_networks_does_not_matter() -> None:
    features, types = informative(seed=1)
    features[:, 0] += np.random.default_rng(2).normal(scale=3.0, size=60)  # imperfect
    base = predict_types(features, types)
    order = np.random.default_rng(3).permutation(60)
    again = predict_types(features.isel(network=order), types[order])
    xr.testing.assert_identical(base, again)
    # a Dataset with one variable per feature gives the same
    as_dataset = features.to_dataset(dim="neural_feature")
    xr.testing.assert_identical(predict_types(as_dataset, types), base)


def test_untyped_other_rare_and_incomplete_networks_are_left_out_and_counted() -> None:
    features, types = informative()
    x = np.concatenate([features.values, np.ones((4, 4))])
    x[-1, 2] = np.nan
    types = np.concatenate([types, ["", "other", "D", "A"]])
    result = predict_types(table(x), types)
    assert result["type_prediction_n_networks"].item() == 60
    assert result["type_prediction_n_other"].item() == 1
    assert result["type_prediction_n_missing_features"].item() == 1
    assert result["type_prediction_n_dropped_types"].item() == 1  # D, alone
    assert result["type_prediction_n_dropped_networks"].item() == 1
    assert result["type_prediction_n_left_out"].item() == 3
    assert result["type_prediction_recall"]["solution_type"].values.tolist() == ["A", "B", "C"]


def test_too_few_types_or_networks_give_nan_with_a_reason() -> None:
    features, types = informative()
    one_type = predict_types(features, np.where(types == "A", "A", "other"))
    assert np.isnan(one_type["type_prediction_accuracy"].item())
    assert "1 type(s)" in one_type.attrs["type_prediction_reason"]
    assert one_type["type_prediction_accuracy"].attrs["type_prediction_reason"]
    assert np.isnan(one_type["type_prediction_coefficient"].values).all()
    few = predict_types(
        features.isel(network=[0, 1, 30, 31, 45, 46]), types[[0, 1, 30, 31, 45, 46]]
    )
    assert np.isnan(few["type_prediction_accuracy"].item())
    assert "min_networks" in few.attrs["type_prediction_reason"]
    assert few["type_prediction_n_networks"].item() == 6
    allowed = predict_types(
        features.isel(network=[0, 1, 30, 31, 45, 46]),
        types[[0, 1, 30, 31, 45, 46]],
        params=TypePredictionParams(min_networks=6),
    )
    assert allowed["type_prediction_n_splits"].item() == 2
    assert np.isfinite(allowed["type_prediction_accuracy"].item())
    empty = predict_types(xr.DataArray(np.zeros((0, 0)), dims=("network", "training_feature")), [])
    assert np.isnan(empty["type_prediction_accuracy"].item())
    with pytest.raises(ValueError, match="unique"):
        predict_types(table(np.zeros((2, 1)), ["a", "a"]), ["A", "B"])
    with pytest.raises(ValueError, match="min_members"):
        TypePredictionParams(min_members=1)
