"""Neural features recorded during training (rnn_analysis.training.features)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
import xarray as xr

from rnn_analysis.aggregate.type_prediction import STAGES, training_features
from rnn_analysis.architectures import ARCHITECTURES
from rnn_analysis.hyperparameters import from_mapping
from rnn_analysis.tasks import TASKS
from rnn_analysis.training.checkpoint import Checkpointer
from rnn_analysis.training.features import (
    FEATURES,
    neural_features,
    participation_ratio,
    recurrent_matrix,
)
from rnn_analysis.training.run import train_ensemble
from rnn_analysis.training.stopping import StoppingParams
from rnn_analysis.training.tracker import EnsembleTracker
from tests.training_files import curve, train

W_REC = [f"w_rec_eig_{k}" for k in (1, 2, 3)]
JACOBIAN = [f"jacobian_eig_{k}" for k in (1, 2, 3)]


def test_participation_ratio_counts_the_dimensions_used() -> None:
    generator = torch.Generator().manual_seed(0)
    isotropic = torch.randn(1, 20000, 8, generator=generator, dtype=torch.float64)
    assert participation_ratio(isotropic).item() == pytest.approx(8, rel=0.02)
    basis = torch.linalg.qr(torch.randn(8, 3, generator=generator, dtype=torch.float64))[0]
    planar = torch.randn(1, 5000, 3, generator=generator, dtype=torch.float64) @ basis.T
    assert participation_ratio(planar).item() <= 3 + 1e-9
    line = torch.randn(1, 500, 1, generator=generator, dtype=torch.float64) * torch.ones(1, 1, 8)
    assert participation_ratio(line).item() == pytest.approx(1.0)


def vanilla(n: int, n_networks: int):
    task = TASKS["delayed_discrimination"]()
    cls = ARCHITECTURES["vanilla"]
    params = from_mapping(cls.Params, {"hidden_size": n}, "architecture")
    return task, cls(task.n_inputs, task.n_outputs, params, n_networks)


def test_features_of_a_vanilla_network_with_known_eigenvalues_and_a_k_dim_subspace() -> None:
    # W = blockdiag(A, D): A (3×3) has eigenvalues 0.6 e^{±0.5i} and 0.4, D (3×3) has 0.9,
    # 0.2, 0.1; the input drives the first k = 3 units only, so the other units stay 0
    n, k = 6, 3
    task, model = vanilla(n, 2)
    rng = np.random.default_rng(0)
    rotation = 0.6 * np.array([[np.cos(0.5), -np.sin(0.5)], [np.sin(0.5), np.cos(0.5)]])
    a = np.zeros((k, k))
    a[:2, :2], a[2, 2] = rotation, 0.4
    basis = np.linalg.qr(rng.standard_normal((k, k)))[0]
    a = basis @ a @ basis.T
    q = np.linalg.qr(rng.standard_normal((n - k, n - k)))[0]
    d = q @ np.diag([0.9, 0.2, 0.1]) @ q.T
    w = np.zeros((n, n))
    w[:k, :k], w[k:, k:] = a, d
    w_in = np.zeros((task.n_inputs, n))
    w_in[:, :k] = rng.standard_normal((task.n_inputs, k))
    with torch.no_grad():
        model.weight_hh.copy_(torch.as_tensor(np.stack([w, 2 * w]), dtype=torch.float32))
        model.weight_ih.copy_(torch.as_tensor(np.stack([w_in, w_in]), dtype=torch.float32))
        model.bias_h.zero_()
    features = neural_features(model, task.probe_set())
    assert features.dims == ("network", "neural_feature")
    assert features["neural_feature"].values.tolist() == list(FEATURES)
    assert len(FEATURES) == len(set(FEATURES)) == 8
    leading = np.array([0.9, 0.6, 0.6])
    np.testing.assert_allclose(features.sel(network=0, neural_feature=W_REC), leading, rtol=1e-5)
    np.testing.assert_allclose(
        features.sel(network=1, neural_feature=W_REC), 2 * leading, rtol=1e-5
    )
    # at the origin with zero bias, tanh' = 1: the Jacobian is the recurrent matrix
    np.testing.assert_allclose(
        features.sel(neural_feature=JACOBIAN).values, features.sel(neural_feature=W_REC).values
    )
    dims = features.sel(neural_feature="effective_dimensionality").values
    assert ((dims >= 1) & (dims <= k + 1e-9)).all()
    assert (features.sel(neural_feature="activity_rms").values > 0).all()
    with torch.no_grad():
        model.weight_hh[1] = float("nan")
    broken = neural_features(model, task.probe_set())
    assert np.isfinite(broken.sel(network=0)).all() and np.isnan(broken.sel(network=1)).all()


@pytest.mark.parametrize("architecture", sorted(ARCHITECTURES))
def test_every_architecture_has_finite_features(architecture: str) -> None:
    task = TASKS["delayed_discrimination"]()
    cls = ARCHITECTURES[architecture]
    model = cls(
        task.n_inputs,
        task.n_outputs,
        from_mapping(cls.Params, {"hidden_size": 5}, "architecture"),
        [torch.Generator().manual_seed(s) for s in range(2)],
    )
    features = neural_features(model, task.probe_set())
    assert features.shape == (2, len(FEATURES))
    assert np.isfinite(features.values).all()
    matrix = recurrent_matrix(model)
    assert matrix is not None and tuple(matrix.shape) == (2, 5, 5)
    if architecture == "gru":  # the candidate's block of (r, z, n)
        assert torch.equal(matrix, model.weight_hh[:, :, 10:15])


class Measure:
    """A stand-in for the features of an ensemble: each network's value is the count of
    measurements so far (a second feature is its negative)."""

    def __init__(self, n: int) -> None:
        self.calls = 0
        self.n = n

    def __call__(self) -> np.ndarray:
        self.calls += 1
        return np.tile(np.array([[self.calls, -self.calls]], dtype=float), (self.n, 1))


def tracker_run(features_every: int, stop_at: int = 7, budget: int = 12) -> EnsembleTracker:
    stopping = StoppingParams(
        validate_every=100, window=1, check_untrained=False, features_every=features_every
    )
    tracker = EnsembleTracker(2, budget, 0.9, stopping, lambda _: None)
    tracker.measure = Measure(2)
    tracker.baseline(lambda: np.zeros(2))
    for update in range(1, budget + 1):
        tracker.record_loss(update, np.zeros(2))
        if update == stop_at:
            tracker.stop(1, update, "diverged", "test")
        tracker.after_update(update)
    return tracker


def record(result) -> tuple[list[int], np.ndarray]:
    ds = result.curve
    return ds["feature_update"].values.tolist(), ds["neural_features"].values[:, 0]


def test_tracker_records_at_initialisation_on_schedule_and_at_each_final_update(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr("rnn_analysis.training.tracker.FEATURES", ("a", "b"))
    tracker = tracker_run(features_every=5)
    state = tracker.state_dict()
    first, second = tracker.results()
    # measurements: 0 (1st), 5 (2nd), 10 (3rd), the end (4th)
    assert record(first) == ([0, 5, 10, 12], pytest.approx([1, 2, 3, 4]))
    # network 1 stopped at update 7: its record ends there, with the final measurement
    assert record(second) == ([0, 5, 7], pytest.approx([1, 2, 4]))
    assert first.curve["neural_feature"].values.tolist() == ["a", "b"]
    # the record survives a checkpoint: a fresh tracker continues from the state
    resumed = EnsembleTracker(2, 12, 0.9, tracker.stopping, lambda _: None)
    resumed.load_state_dict(state)
    resumed.measure = Measure(2)
    again = resumed.results()
    assert record(again[0])[0] == [0, 5, 10, 12]
    np.testing.assert_array_equal(record(again[0])[1][:3], [1, 2, 3])
    # features_every 0: at initialisation and at the end only
    only = tracker_run(features_every=0).results()
    assert record(only[0])[0] == [0, 12] and record(only[1])[0] == [0, 7]
    # a rule that measures nothing writes no features
    silent = EnsembleTracker(1, 3, 0.9, StoppingParams(check_untrained=False), lambda _: None)
    silent.baseline(lambda: np.zeros(1))
    silent.record_loss(1, np.zeros(1))
    silent.after_update(1)
    assert "neural_features" not in silent.results()[0].curve


def specs(rule: str, rule_params: dict, stopping: dict | None = None) -> list[dict]:
    return [
        {
            "network": {
                "task": "flipflop",
                "architecture": "gru",
                "learning_rule": rule,
                "noise": 0.1,
                "seed": seed,
            },
            "task": {"n_steps": 30, "pulse_probability": 0.1, "probe_trials": 8},
            "architecture": {"hidden_size": 12},
            "learning_rule": rule_params,
            "stopping": {
                "validate_every": 10,
                "validation_trials": 32,
                "window": 2,
                "threshold": 2.0,
                "features_every": 15,
                **(stopping or {}),
            },
        }
        for seed in (0, 1)
    ]


BPTT = {"learning_rate": 0.01, "batch_size": 16, "max_iterations": 40}
GENETIC = {"population_size": 6, "batch_size": 16, "max_generations": 40}


@pytest.mark.usefixtures("one_thread")
@pytest.mark.parametrize("rule, params", [("bptt", BPTT), ("genetic", GENETIC)])
def test_training_writes_features_at_initialisation_on_schedule_and_at_the_end(
    tmp_path: Path, rule: str, params: dict
) -> None:
    folders = train(tmp_path, specs(rule, params), rule)
    for folder in folders:
        ds = curve(folder)
        assert ds.neural_features.dims == ("feature_update", "neural_feature")
        assert ds.neural_feature.values.tolist() == list(FEATURES)
        np.testing.assert_array_equal(ds.feature_update.values, [0, 15, 30, 40])
        assert np.isfinite(ds.neural_features.values).all()
        row = training_features(folder / "training.nc")
        assert list(row) == [f"{f}_{s}" for f in FEATURES for s in STAGES]
        for name in ("jacobian_eig_1", "w_rec_eig_1", "effective_dimensionality"):
            values = ds.neural_features.sel(neural_feature=name).values
            assert row[f"{name}_init"] == values[0]
            assert row[f"{name}_final"] == values[-1]
            assert row[f"{name}_change"] == pytest.approx(values[-1] - values[0])
    # training changed the networks, so their features moved
    first = curve(folders[0]).neural_features.values
    assert not np.allclose(first[0], first[-1])


@pytest.mark.usefixtures("one_thread")
def test_converged_networks_end_their_record_at_their_final_update(tmp_path: Path) -> None:
    # threshold 0: every network meets the criterion at its 2nd validation (update 20)
    stopping = {"threshold": 0.0, "check_untrained": False, "features_every": 0}
    folders = train(tmp_path, specs("bptt", BPTT, stopping), "converged")
    for folder in folders:
        ds = curve(folder)
        assert int(ds.iteration.values[-1]) == 20
        np.testing.assert_array_equal(ds.feature_update.values, [0, 20])
        assert np.isfinite(ds.neural_features.values).all()


def test_training_features_of_a_file_without_features_are_nan(tmp_path: Path) -> None:
    old = tmp_path / "training.nc"
    xr.Dataset({"loss": ("iteration", np.ones(3))}).to_netcdf(old)
    for path in (old, tmp_path / "missing.nc"):
        row = training_features(path)
        assert list(row) == [f"{f}_{s}" for f in FEATURES for s in STAGES]
        assert np.isnan(list(row.values())).all()
    # a file with some of the features: the others NaN, no row at update 0: init NaN
    partial = tmp_path / "partial.nc"
    xr.Dataset(
        {"neural_features": (("feature_update", "neural_feature"), [[1.0], [3.0]])},
        coords={"feature_update": [10, 20], "neural_feature": ["activity_rms"]},
    ).to_netcdf(partial)
    row = training_features(partial)
    assert row["activity_rms_final"] == 3.0
    assert np.isnan(row["activity_rms_init"]) and np.isnan(row["activity_rms_change"])
    assert np.isnan(row["w_rec_eig_1_final"])
    with pytest.raises(ValueError, match="features_every"):
        StoppingParams(features_every=-1)


class Killed(BaseException):
    """Stands for the job being killed."""


@pytest.mark.usefixtures("one_thread")
def test_resumed_training_keeps_the_features_recorded_before_the_checkpoint(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    jobs = specs("bptt", BPTT, {"features_every": 10})
    reference = train(tmp_path, jobs, "reference")
    folders = [tmp_path / "resumed" / f"seed{s['network']['seed']}" for s in jobs]
    original = Checkpointer.save
    saves = {"n": 0}

    def save(self, iteration, state):
        original(self, iteration, state)
        saves["n"] += 1
        if saves["n"] == 2:  # the checkpoint at update 20
            raise Killed

    monkeypatch.setattr(Checkpointer, "save", save)
    with pytest.raises(Killed):
        train_ensemble(jobs, folders, device="cpu", log=lambda _: None, checkpoint_minutes=1e-9)
    monkeypatch.setattr(Checkpointer, "save", original)
    lines: list[str] = []
    train_ensemble(jobs, folders, device="cpu", log=lines.append, checkpoint_minutes=1e-9)
    assert any("resuming from the checkpoint at update 20" in line for line in lines), lines
    for a, b in zip(reference, folders, strict=True):
        np.testing.assert_array_equal(curve(b).feature_update.values, [0, 10, 20, 30, 40])
        np.testing.assert_array_equal(curve(a).neural_features, curve(b).neural_features)
