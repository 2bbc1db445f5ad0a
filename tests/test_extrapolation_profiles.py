"""Extrapolation profiles of the timing tasks, on hand-built behaviour with known answers."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from rnn_analysis.tasks import TASKS
from rnn_analysis.tasks.extrapolation import DIM, profile_dataset, slope


def integrator_outputs(inputs: torch.Tensor, ceiling: float = np.inf) -> torch.Tensor:
    """A perfect timing integrator: x counts the steps from Ready's onset to Set's (up to
    ``ceiling``), y the steps since Set's onset; the output goes to 1 once y ≥ x."""
    steps = torch.arange(inputs.shape[1])
    ready = (inputs[..., 0] > 0.5).float().argmax(dim=1)
    set_onset = (inputs[..., 1] > 0.5).float().argmax(dim=1)
    measured = torch.clamp((set_onset - ready).float(), max=ceiling)
    since_set = steps[None] - set_onset[:, None]
    go = (since_set >= 0) & (since_set >= measured[:, None])
    return go.float().unsqueeze(-1)


@pytest.mark.parametrize(
    "name", ["time_reproduction", "interval_discrimination", "delayed_discrimination"]
)
def test_profiles_are_labelled_and_finite(name: str) -> None:
    task = TASKS[name]()
    batch = task.profile_set()
    ds = task.extrapolation_profile(torch.zeros(batch.targets.shape), batch)
    assert ds["extrapolation_profile"].dims == (DIM,)
    assert ds.sizes[DIM] == batch.batch_size
    assert np.isfinite(ds["extrapolation_profile"].values).all()
    inside = ds["extrapolation_condition_in_training_range"].values
    assert inside.any() and (~inside).any()
    for key in batch.conditions:
        assert f"extrapolation_condition_{key}" in ds.coords
    features = [v for v in ds.data_vars if str(v).startswith("extrapolation_feature_")]
    assert len(features) >= 3
    for v in features:
        assert ds[v].dims == () and ds[v].attrs["long_name"] and "units" in ds[v].attrs


def test_a_perfect_integrator_reproduces_every_interval_beyond_training() -> None:
    task = TASKS["time_reproduction"]()
    batch = task.profile_set()
    ts = batch.conditions["ts"]
    assert ts.min() == 20 and ts.max() == 120
    ds = task.extrapolation_profile(integrator_outputs(batch.inputs), batch)
    np.testing.assert_array_equal(ds["extrapolation_produced_interval"].values, ts)
    np.testing.assert_allclose(ds["extrapolation_profile"].values, 2.0)
    assert ds["extrapolation_feature_slope"].item() == pytest.approx(1.0)
    assert ds["extrapolation_feature_breakdown_ts"].item() == 121  # never breaks down
    assert ds["extrapolation_feature_fraction_answered"].item() == 1.0
    np.testing.assert_array_equal(ds["extrapolation_condition_in_training_range"].values, ts <= 50)


def test_a_saturating_integrator_breaks_down_where_its_ceiling_says() -> None:
    task = TASKS["time_reproduction"]()
    batch = task.profile_set()
    ts = batch.conditions["ts"]
    ds = task.extrapolation_profile(integrator_outputs(batch.inputs, ceiling=70), batch)
    produced = ds["extrapolation_produced_interval"].values
    np.testing.assert_array_equal(produced, np.minimum(ts, 70))
    # relative error 0.2 is first exceeded at ts = 88 (70 / 88 = 0.795)
    assert ds["extrapolation_feature_breakdown_ts"].item() == 88
    beyond = ts > 50
    assert ds["extrapolation_feature_slope"].item() == pytest.approx(
        np.polyfit(ts[beyond], np.minimum(ts[beyond], 70), 1)[0]
    )
    assert 0 < ds["extrapolation_feature_slope"].item() < 0.5
    np.testing.assert_allclose(ds["extrapolation_profile"].values, 2 * np.minimum(ts, 70) / ts)


def test_a_network_that_never_goes_has_a_zero_profile() -> None:
    task = TASKS["time_reproduction"]()
    batch = task.profile_set()
    ds = task.extrapolation_profile(torch.zeros(batch.targets.shape), batch)
    assert np.isnan(ds["extrapolation_produced_interval"].values).all()
    assert (ds["extrapolation_profile"].values == 0).all()
    assert ds["extrapolation_feature_breakdown_ts"].item() == 51
    assert ds["extrapolation_feature_fraction_answered"].item() == 0.0
    assert np.isnan(ds["extrapolation_feature_slope"].item())


@pytest.mark.parametrize("name", ["interval_discrimination", "delayed_discrimination"])
def test_decision_profiles_of_an_oracle_and_of_its_opposite(name: str) -> None:
    task = TASKS[name]()
    batch = task.profile_set()
    oracle = task.extrapolation_profile(batch.targets.clone(), batch)
    answer = np.sign(batch.targets[..., 0].sum(dim=1).numpy())
    np.testing.assert_array_equal(oracle["extrapolation_choice"].values, answer)
    np.testing.assert_array_equal(oracle["extrapolation_profile"].values, answer / 2)
    accuracies = [v for v in oracle.data_vars if "accuracy" in str(v)]
    assert len(accuracies) >= 2
    for v in accuracies:
        assert oracle[v].item() == 1.0
    opposite = task.extrapolation_profile(-batch.targets, batch)
    for v in accuracies:
        assert opposite[v].item() == 0.0
    if name == "interval_discrimination":
        # the oracle answers response_delay steps after the second pulse, whatever the pair
        rt = oracle["extrapolation_response_time"].values
        np.testing.assert_array_equal(rt, task.params.response_delay)
        assert oracle["extrapolation_feature_response_time_slope"].item() == pytest.approx(0.0)
        t1 = batch.conditions["t1"]
        assert (t1 < 10).any() and (t1 > 30).any()


def test_profile_dataset_rejects_a_profile_with_nan() -> None:
    batch = TASKS["time_reproduction"]().profile_set()
    with pytest.raises(ValueError, match="finite"):
        profile_dataset(
            batch, np.ones(batch.batch_size, bool), np.full(batch.batch_size, np.nan), "", {}, {}
        )
    assert np.isnan(slope(np.array([1.0]), np.array([2.0])))
