"""Extrapolation profiles of the timing tasks, on hand-built behaviour with known answers."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
import xarray as xr

from rnn_analysis.analysis.evaluation import extrapolation
from rnn_analysis.analysis.network import analyze_network
from rnn_analysis.architectures.base import Architecture, ArchitectureParams
from rnn_analysis.tasks import TASKS
from rnn_analysis.tasks.extrapolation import DIM, profile_dataset, slope
from rnn_analysis.training.run import train_ensemble


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


# -- hand-built networks, run through evaluation.extrapolation ---------------------------


class HandBuilt(Architecture):
    """A hand-built one-network ensemble: the state holds ``n_state`` hand-updated values,
    :meth:`hidden` is one unit, and the readout multiplies it by ``gain``."""

    name = "hand_built"
    state_size = 1

    def __init__(self, gain: float = 1.0) -> None:
        super().__init__(2, 1, ArchitectureParams(hidden_size=1), 1)
        with torch.no_grad():
            self.weight_out.fill_(gain)

    def parameter_shapes(self):
        return self.readout_shapes()

    @property
    def n_state(self) -> int:
        return self.state_size


class RampIntegrator(HandBuilt):
    """Ready–set–go by a ramp: x rises at ``rate`` per step from Ready to Set (up to
    ``ceiling`` steps' worth), y at the same rate from Set on; the unit goes once y
    passes x. State: (Ready seen, Set seen, x, y)."""

    state_size = 4

    def __init__(self, rate: float = 0.02, ceiling: float = np.inf, gain: float = 1.0) -> None:
        super().__init__(gain)
        self.rate, self.ceiling = rate, ceiling

    def step(self, h: torch.Tensor, u: torch.Tensor) -> torch.Tensor:
        ready = torch.maximum(h[..., 0], (u[..., 0] > 0.5).to(h))
        set_ = torch.maximum(h[..., 1], (u[..., 1] > 0.5).to(h))
        x = torch.clamp(h[..., 2] + self.rate * ready * (1 - set_), max=self.rate * self.ceiling)
        y = h[..., 3] + self.rate * set_
        return torch.stack([ready, set_, x, y], dim=-1)

    def hidden(self, h: torch.Tensor) -> torch.Tensor:
        return (h[..., 1] * (h[..., 3] > h[..., 2] + self.rate / 2)).unsqueeze(-1)


class IntervalOracle(HandBuilt):
    """Counts both intervals and, ``delay`` steps after the second pulse's onset, answers
    sign(t1 − t2) and holds it. State: (t1 count, first seen, t2 count, second seen,
    steps since the second pulse)."""

    state_size = 5

    def __init__(self, delay: int, gain: float = 1.0) -> None:
        super().__init__(gain)
        self.delay = delay

    def step(self, h: torch.Tensor, u: torch.Tensor) -> torch.Tensor:
        first = torch.maximum(h[..., 1], (u[..., 0] > 0.5).to(h))
        second = torch.maximum(h[..., 3], (u[..., 1] > 0.5).to(h))
        c1 = h[..., 0] + (1 - first)
        c2 = h[..., 2] + first * (1 - second)
        return torch.stack([c1, first, c2, second, h[..., 4] + second], dim=-1)

    def hidden(self, h: torch.Tensor) -> torch.Tensor:
        return (torch.sign(h[..., 0] - h[..., 2]) * (h[..., 4] > self.delay)).unsqueeze(-1)


class AmplitudeOracle(HandBuilt):
    """Holds f1 for ``memory`` steps from its onset and, at f2's onset, latches
    sign(f1 − f2) (a forgotten f1 counts as 0). State: (f1, steps since f1, f2 seen,
    decision)."""

    state_size = 4

    def __init__(self, memory: float = np.inf, gain: float = 1.0) -> None:
        super().__init__(gain)
        self.memory = memory

    def step(self, h: torch.Tensor, u: torch.Tensor) -> torch.Tensor:
        f1 = torch.maximum(h[..., 0], u[..., 0])
        since = h[..., 1] + (f1 > 0).to(h)
        held = f1 * (since <= self.memory)
        onset = (u[..., 1] > 0) & (h[..., 2] == 0)
        decision = torch.where(onset, torch.sign(held - u[..., 1]), h[..., 3])
        seen = torch.maximum(h[..., 2], (u[..., 1] > 0).to(h))
        return torch.stack([f1, since, seen, decision], dim=-1)

    def hidden(self, h: torch.Tensor) -> torch.Tensor:
        return h[..., 3:4]


def test_a_ramp_network_reproduces_every_interval_in_the_analysis(one_thread) -> None:
    task = TASKS["time_reproduction"]()
    ds = extrapolation(RampIntegrator(), task)
    assert ds is not None
    ts = ds["extrapolation_condition_ts"].values
    np.testing.assert_array_equal(ts, np.arange(20, 121))
    assert ds["extrapolation_profile"].dims == (DIM,)
    np.testing.assert_array_equal(ds["extrapolation_produced_interval"].values, ts)
    np.testing.assert_allclose(ds["extrapolation_profile"].values, 2.0)
    assert ds["extrapolation_feature_slope"].item() == pytest.approx(1.0)
    assert ds["extrapolation_feature_breakdown_ts"].item() == 121
    assert ds["extrapolation_feature_fraction_answered"].item() == 1.0
    # the 0/1 extrapolation score per out-of-range trial is still there
    np.testing.assert_array_equal(ds["extrapolation_ts"].values, np.arange(51, 121))
    assert (ds["extrapolation_score"].values == 1).all()
    assert ds["performance_extrapolation"].item() == 1.0
    for name in ("extrapolation_produced_interval", "extrapolation_feature_slope"):
        assert ds[name].attrs["long_name"] and ds[name].attrs["units"]
    assert ds["extrapolation_profile"].attrs["description"]


def test_a_saturating_ramp_network_breaks_down_beyond_its_ceiling(one_thread) -> None:
    task = TASKS["time_reproduction"]()
    ds = extrapolation(RampIntegrator(ceiling=70), task)
    assert ds is not None
    ts = ds["extrapolation_condition_ts"].values
    np.testing.assert_array_equal(ds["extrapolation_produced_interval"].values, np.minimum(ts, 70))
    assert ds["extrapolation_feature_breakdown_ts"].item() == 88
    # within ± tolerance (10 steps) up to ts = 80
    np.testing.assert_array_equal(
        ds["extrapolation_score"].values, (ds["extrapolation_ts"].values <= 80).astype(float)
    )
    perfect = extrapolation(RampIntegrator(), task)
    assert perfect is not None
    distance = np.linalg.norm(ds["extrapolation_profile"] - perfect["extrapolation_profile"])
    assert distance == pytest.approx(np.linalg.norm(2 * (1 - np.minimum(ts, 70) / ts)))


def test_a_ramp_network_that_never_reaches_threshold_answers_nothing(one_thread) -> None:
    ds = extrapolation(RampIntegrator(gain=0.4), TASKS["time_reproduction"]())
    assert ds is not None
    assert np.isnan(ds["extrapolation_produced_interval"].values).all()
    assert (ds["extrapolation_profile"].values == 0).all()
    assert ds["extrapolation_feature_fraction_answered"].item() == 0.0
    assert ds["extrapolation_feature_breakdown_ts"].item() == 51


@pytest.mark.parametrize("gain", [1.0, -1.0])
def test_an_interval_oracle_network_and_its_opposite(gain: float, one_thread) -> None:
    task = TASKS["interval_discrimination"]()
    ds = extrapolation(IntervalOracle(task.params.response_delay, gain), task)
    assert ds is not None
    t1 = ds["extrapolation_condition_t1"].values
    t2 = ds["extrapolation_condition_t2"].values
    assert set(task.params.extrapolation_intervals) <= set(t1)
    assert set(range(10, 31, 2)) <= set(t1)
    answer = gain * np.sign(t1 - t2)
    np.testing.assert_array_equal(ds["extrapolation_choice"].values, answer)
    np.testing.assert_array_equal(ds["extrapolation_profile"].values, answer / 2)
    np.testing.assert_array_equal(ds["extrapolation_response_time"].values, 15)
    assert ds["extrapolation_feature_response_time_slope"].item() == pytest.approx(0.0)
    correct = 1.0 if gain > 0 else 0.0
    assert ds["extrapolation_feature_accuracy_in_range"].item() == correct
    assert ds["extrapolation_feature_accuracy_out_of_range"].item() == correct
    assert ds["performance_extrapolation"].item() == correct
    inside = ds["extrapolation_condition_in_training_range"].values
    np.testing.assert_array_equal(inside, (t1 >= 10) & (t1 <= 30) & (t2 >= 10) & (t2 <= 30))


def test_a_weak_interval_oracle_chooses_right_without_crossing_threshold(one_thread) -> None:
    task = TASKS["interval_discrimination"]()
    ds = extrapolation(IntervalOracle(task.params.response_delay, gain=0.4), task)
    assert ds is not None
    t1, t2 = ds["extrapolation_condition_t1"].values, ds["extrapolation_condition_t2"].values
    np.testing.assert_array_equal(ds["extrapolation_choice"].values, np.sign(t1 - t2))
    assert np.isnan(ds["extrapolation_response_time"].values).all()
    assert np.isnan(ds["extrapolation_feature_response_time_slope"].item())
    assert np.isfinite(ds["extrapolation_profile"].values).all()


def test_an_amplitude_oracle_network_answers_every_condition(one_thread) -> None:
    task = TASKS["delayed_discrimination"]()
    ds = extrapolation(AmplitudeOracle(), task)
    assert ds is not None
    f1, f2 = ds["extrapolation_condition_f1"].values, ds["extrapolation_condition_f2"].values
    delay = ds["extrapolation_condition_delay"].values
    assert set(delay) == {19, 20, 30, 40}
    assert {1.0, 11.0, 12.0} <= set(f1)
    np.testing.assert_array_equal(ds["extrapolation_choice"].values, np.sign(f1 - f2))
    for name in ("in_range", "long_delay", "new_amplitude"):
        assert ds[f"extrapolation_feature_accuracy_{name}"].item() == 1.0
    opposite = extrapolation(AmplitudeOracle(gain=-1.0), task)
    assert opposite is not None
    for name in ("in_range", "long_delay", "new_amplitude"):
        assert opposite[f"extrapolation_feature_accuracy_{name}"].item() == 0.0
    # a flipped choice is a distance of 1 at every condition
    distance = np.linalg.norm(ds["extrapolation_profile"] - opposite["extrapolation_profile"])
    assert distance == pytest.approx(np.sqrt(ds.sizes[DIM]))


def test_an_amplitude_oracle_that_forgets_fails_only_at_long_delays(one_thread) -> None:
    task = TASKS["delayed_discrimination"]()
    # at f2's onset f1 is 11 + delay steps old (its onset step counted): memory 30
    # covers every training delay and no longer one
    ds = extrapolation(AmplitudeOracle(memory=30), task)
    assert ds is not None
    assert ds["extrapolation_feature_accuracy_in_range"].item() == 1.0
    assert ds["extrapolation_feature_accuracy_new_amplitude"].item() == 1.0
    # a forgotten f1 always answers "f2 is larger": right on half of the pairs
    assert ds["extrapolation_feature_accuracy_long_delay"].item() == 0.5
    long = ds["extrapolation_condition_delay"].values > 19
    np.testing.assert_array_equal(ds["extrapolation_choice"].values[long], -1)


def test_the_analysis_file_holds_the_extrapolation_profile(tmp_path: Path, one_thread) -> None:
    spec = {
        "network": {
            "task": "time_reproduction",
            "architecture": "gru",
            "learning_rule": "bptt",
            "noise": 0.0,
            "seed": 0,
        },
        "task": {},
        "architecture": {"hidden_size": 8},
        "learning_rule": {"learning_rate": 0.01, "batch_size": 16, "max_iterations": 5},
        "stopping": {"validate_every": 5, "validation_trials": 16, "window": 2},
    }
    train_ensemble([spec], [tmp_path / "net"], "cpu", log=lambda _: None)
    analysis = {
        "evaluation_trials": 16,
        "fixed_points": {"n_initial_states": 16, "max_iterations": 100},
        "topology": {"max_steps": 200},
        "reduced_graph": {"relax_steps": 100},
    }
    out = tmp_path / "analysis.nc"
    analyze_network({**spec, "analysis": analysis}, tmp_path / "net", out, log=lambda _: None)
    with xr.open_dataset(out) as ds:
        ds = ds.load()
    assert ds["extrapolation_profile"].dims == (DIM,)
    assert ds.sizes[DIM] == 101 and np.isfinite(ds["extrapolation_profile"].values).all()
    assert ds["extrapolation_condition_in_training_range"].dtype == bool
    assert ds["extrapolation_produced_interval"].attrs["units"] == "steps"
    assert "extrapolation_score" in ds and "performance_extrapolation" in ds
    for name in ("slope", "breakdown_ts", "fraction_answered"):
        assert ds[f"extrapolation_feature_{name}"].dims == ()
