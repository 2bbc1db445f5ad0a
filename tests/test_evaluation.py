"""Behaviour of trained networks: psychometric curves and extrapolation, in analysis.nc."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import xarray as xr

from rnn_analysis.analysis.evaluation import extrapolation, psychometric_curve
from rnn_analysis.analysis.network import analyze_network
from rnn_analysis.architectures.gru import GRU
from rnn_analysis.io import load_models
from rnn_analysis.tasks import TASKS
from rnn_analysis.training.run import train_ensemble


@pytest.fixture(scope="module")
def rdm_network(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A 50-unit rate network trained on short rdm trials (BPTT, about two seconds)."""
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(1)
    folder = tmp_path_factory.mktemp("rdm") / "seed0"
    spec = {
        "network": {
            "task": "rdm",
            "architecture": "rate",
            "learning_rule": "bptt",
            # At noise 0.1 about half of all untrained networks already meet the
            # criterion (status trivial); at 0.3 the evidence must be integrated.
            "noise": 0.3,
            "seed": 0,
        },
        "task": {"n_steps": 100},
        "architecture": {"hidden_size": 50, "alpha": 0.2},
        "learning_rule": {"learning_rate": 0.01, "batch_size": 64, "max_iterations": 1500},
        "stopping": {
            "validate_every": 10,
            "validation_trials": 200,
            "window": 3,
            "min_updates": 100,
        },
    }
    (status,) = train_ensemble([spec], [folder], "cpu", log=lambda _: None)
    torch.set_num_threads(before)
    assert status == "converged"
    return folder


def test_psychometric_curve_of_a_trained_decision_network(rdm_network: Path, one_thread) -> None:
    task = TASKS["rdm"](TASKS["rdm"].Params(n_steps=100))
    model = load_models([rdm_network / "model.pt"])
    curve = psychometric_curve(model, task, noise=0.3, repeats=100, seed=0)
    assert curve is not None
    coherence = curve["psychometric_coherence"].values
    p = curve["psychometric_p_positive"].values
    assert np.all(np.diff(coherence) > 0)
    assert p[0] < 0.1 and p[-1] > 0.9
    assert np.all(np.diff(p) >= -0.1), p  # monotone up to sampling noise
    # accuracy is P(+) for positive coherence and 1 − P(+) for negative coherence
    expected = np.where(coherence > 0, p, 1 - p)
    np.testing.assert_allclose(curve["psychometric_accuracy"].values, expected, atol=1e-12)
    # the weakest coherence is the hardest
    weakest = np.argmin(np.abs(coherence))
    assert curve["psychometric_accuracy"].values[weakest] <= expected.max()


def test_tasks_without_sets_give_none(one_thread) -> None:
    task = TASKS["flipflop"]()
    model = GRU(task.n_inputs, task.n_outputs, GRU.Params(hidden_size=8), 1)
    assert psychometric_curve(model, task, 0.1, 5, 0) is None
    assert extrapolation(model, task) is None


def test_extrapolation_scores_every_trial_of_the_set(one_thread) -> None:
    import torch

    task = TASKS["interval_discrimination"]()
    model = GRU(
        task.n_inputs, task.n_outputs, GRU.Params(hidden_size=8), [torch.Generator().manual_seed(0)]
    )
    ds = extrapolation(model, task)
    batch = task.extrapolation_set()
    assert ds is not None and batch is not None
    assert ds.sizes["extrapolation_trial"] == batch.batch_size
    np.testing.assert_array_equal(ds["extrapolation_t1"].values, batch.conditions["t1"])
    scores = ds["extrapolation_score"].values
    assert set(np.unique(scores)) <= {0.0, 1.0}
    assert ds["performance_extrapolation"].item() == pytest.approx(scores.mean())


def test_analysis_file_holds_psychometric_curve(rdm_network: Path, tmp_path: Path, one_thread):
    spec = {
        "network": {
            "task": "rdm",
            "architecture": "rate",
            "learning_rule": "bptt",
            "noise": 0.3,
            "seed": 0,
        },
        "task": {"n_steps": 100},
        "analysis": {
            "evaluation_trials": 64,
            "psychometric_repeats": 20,
            "fixed_points": {"n_initial_states": 16, "max_iterations": 300},
        },
    }
    analyze_network(spec, rdm_network, tmp_path / "analysis.nc", log=lambda _: None)
    with xr.open_dataset(tmp_path / "analysis.nc") as ds:
        assert ds.sizes["psychometric_condition"] == 8
        assert ds["psychometric_p_positive"].attrs["long_name"]
        assert ds.attrs["status"] == "converged"
        assert "performance_extrapolation" not in ds
