"""Neural features recorded during training (rnn_analysis.training.features)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from rnn_analysis.aggregate.type_prediction import training_features
from rnn_analysis.architectures import ARCHITECTURES
from rnn_analysis.hyperparameters import from_mapping
from rnn_analysis.tasks import TASKS
from rnn_analysis.training.features import FEATURES, neural_features, participation_ratio
from rnn_analysis.training.stopping import StoppingParams
from tests.training_files import curve, train


def test_participation_ratio_counts_the_dimensions_used() -> None:
    generator = torch.Generator().manual_seed(0)
    isotropic = torch.randn(1, 20000, 8, generator=generator, dtype=torch.float64)
    assert participation_ratio(isotropic).item() == pytest.approx(8, rel=0.02)
    basis = torch.linalg.qr(torch.randn(8, 3, generator=generator, dtype=torch.float64))[0]
    planar = torch.randn(1, 5000, 3, generator=generator, dtype=torch.float64) @ basis.T
    assert participation_ratio(planar).item() <= 3 + 1e-9
    line = torch.randn(1, 500, 1, generator=generator, dtype=torch.float64) * torch.ones(1, 1, 8)
    assert participation_ratio(line).item() == pytest.approx(1.0)


def test_features_of_a_vanilla_network_with_known_recurrent_eigenvalues() -> None:
    task = TASKS["delayed_discrimination"]()
    cls = ARCHITECTURES["vanilla"]
    model = cls(
        task.n_inputs,
        task.n_outputs,
        from_mapping(cls.Params, {"hidden_size": 6}, "architecture"),
        2,
    )
    eigenvalues = np.array([0.9, 0.5, 0.3, 0.2, 0.1, 0.05])
    rotation = np.linalg.qr(np.random.default_rng(0).standard_normal((6, 6)))[0]
    w = rotation @ np.diag(eigenvalues) @ rotation.T
    with torch.no_grad():
        model.weight_hh.copy_(torch.as_tensor(np.stack([w, 2 * w]), dtype=torch.float32))
        model.bias_h.zero_()
        model.weight_ih.copy_(
            torch.randn(model.weight_ih.shape, generator=torch.Generator().manual_seed(1))
        )
    features = neural_features(model, task.probe_set())
    assert features.shape == (2, len(FEATURES))
    # at the origin with zero bias, tanh' = 1: the Jacobian is the recurrent weight matrix
    jac = [FEATURES.index(f"jacobian_eig_{k}") for k in (1, 2, 3)]
    np.testing.assert_allclose(features[0, jac], eigenvalues[:3], rtol=1e-5)
    np.testing.assert_allclose(features[1, jac], 2 * eigenvalues[:3], rtol=1e-5)
    dim = features[:, FEATURES.index("effective_dimensionality")]
    assert ((dim >= 1) & (dim <= 6)).all()
    assert (features[:, FEATURES.index("activity_rms")] > 0).all()
    with torch.no_grad():
        model.weight_hh[1] = float("nan")
    broken = neural_features(model, task.probe_set())
    assert np.isfinite(broken[0]).all() and np.isnan(broken[1]).all()


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
                **(stopping or {}),
            },
        }
        for seed in (0, 1)
    ]


@pytest.mark.usefixtures("one_thread")
@pytest.mark.parametrize(
    "rule, params",
    [
        ("bptt", {"learning_rate": 0.01, "batch_size": 16, "max_iterations": 40}),
        ("genetic", {"population_size": 6, "batch_size": 16, "max_generations": 40}),
    ],
)
def test_training_records_features_at_initialisation_and_at_validations(
    tmp_path: Path, rule: str, params: dict
) -> None:
    folders = train(tmp_path, specs(rule, params), rule)
    for folder in folders:
        ds = curve(folder)
        assert ds.neural_features.dims == ("feature_update", "neural_feature")
        assert ds.neural_feature.values.tolist() == list(FEATURES)
        np.testing.assert_array_equal(ds.feature_update.values, [0, 10, 20, 30, 40])
        assert np.isfinite(ds.neural_features.values).all()
        row = training_features(folder / "training.nc")
        assert set(row) == {f"{f}_{s}" for f in FEATURES for s in ("init", "final", "change")}
        name = "jacobian_eig_1"
        assert row[f"{name}_init"] == ds.neural_features.sel(neural_feature=name).values[0]
        assert row[f"{name}_final"] == ds.neural_features.sel(neural_feature=name).values[-1]
    # training changed the networks, so their features moved
    first = curve(folders[0]).neural_features.values
    assert not np.allclose(first[0], first[-1])


@pytest.mark.usefixtures("one_thread")
def test_features_every_thins_the_record_and_zero_switches_it_off(tmp_path: Path) -> None:
    params = {"learning_rate": 0.01, "batch_size": 16, "max_iterations": 40}
    thinned = train(tmp_path, specs("bptt", params, {"features_every": 2}), "thinned")
    np.testing.assert_array_equal(curve(thinned[0]).feature_update.values, [0, 20, 40])
    off = train(tmp_path, specs("bptt", params, {"features_every": 0}), "off")
    assert "neural_features" not in curve(off[0])
    assert training_features(off[0] / "training.nc") == {}
    assert training_features(tmp_path / "missing.nc") == {}
    with pytest.raises(ValueError, match="features_every"):
        StoppingParams(features_every=-1)
