"""Predicting the solution type from training features (rnn_analysis.aggregate.type_prediction)."""

from __future__ import annotations

import numpy as np
import pytest
import xarray as xr

from rnn_analysis.aggregate.type_prediction import TypePredictionParams, predict_types


def features(values: np.ndarray) -> xr.DataArray:
    names = [f"f{i}" for i in range(values.shape[1])]
    return xr.DataArray(
        values, dims=("network", "training_feature"), coords={"training_feature": names}
    )


def population(n: int = 60, seed: int = 0) -> tuple[np.ndarray, np.ndarray, list[str]]:
    rng = np.random.default_rng(seed)
    types = np.array(["T1"] * (n // 2) + ["T2"] * (n // 3) + ["T3"] * (n - n // 2 - n // 3))
    x = rng.standard_normal((n, 4))
    return x, types, [f"net{i:03d}" for i in range(n)]


def test_a_feature_that_sets_the_type_predicts_it() -> None:
    x, types, keys = population()
    code = {"T1": 0.0, "T2": 3.0, "T3": 6.0}
    x[:, 2] = [code[t] for t in types] + 0.3 * x[:, 2]
    result = predict_types(features(x), types, keys)
    assert result["type_prediction_accuracy"].item() >= 0.95
    assert result["type_prediction_baseline"].item() == pytest.approx(0.5)
    assert result["type_prediction_n_networks"].item() == 60
    assert result["type_prediction_n_types"].item() == 3
    assert result["type_prediction_recall"].dims == ("predicted_type",)
    assert result["predicted_type"].values.tolist() == ["T1", "T2", "T3"]
    weights = result["type_prediction_weight"]
    assert weights.dims == ("training_feature",)
    assert weights.sel(training_feature="f2").item() == weights.max().item()


def test_random_features_predict_no_better_than_the_majority() -> None:
    accuracies = []
    for seed in range(5):
        x, types, keys = population(90, seed)
        result = predict_types(features(x), types, keys)
        accuracies.append(result["type_prediction_accuracy"].item())
        assert result["type_prediction_baseline"].item() == pytest.approx(0.5)
    # chance for three classes is at most the majority share: never far above it
    assert np.mean(accuracies) <= 0.55


def test_the_order_of_the_networks_changes_nothing() -> None:
    x, types, keys = population()
    x[:, 0] += np.where(types == "T1", 1.0, 0.0)
    base = predict_types(features(x), types, keys)
    order = np.random.default_rng(3).permutation(len(types))
    again = predict_types(features(x[order]), types[order], [keys[i] for i in order])
    for name in ("type_prediction_accuracy", "type_prediction_baseline"):
        assert again[name].item() == base[name].item()
    np.testing.assert_array_equal(
        again["type_prediction_recall"].values, base["type_prediction_recall"].values
    )


def test_untyped_rare_and_incomplete_networks_are_left_out() -> None:
    x, types, keys = population(30)
    types = types.copy()
    types[0], types[1], types[2] = "", "other", "T9"
    x[3, 1] = np.nan
    result = predict_types(features(x), types, keys)
    assert result["type_prediction_n_networks"].item() == 26
    assert result["type_prediction_n_left_out"].item() == 3  # other, T9 (alone), NaN row
    one_type = predict_types(features(x[:10]), ["T1"] * 10, keys[:10])
    assert np.isnan(one_type["type_prediction_accuracy"].item())
    assert "type" in one_type.attrs["type_prediction_reason"]
    with pytest.raises(ValueError, match="max_splits"):
        TypePredictionParams(max_splits=1)
