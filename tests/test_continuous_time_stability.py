"""Stability of a rate network's fixed points under its Euler map and under its flow."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
import xarray as xr

from rnn_analysis.aggregate.summary import summarise
from rnn_analysis.analysis.fixed_points import FixedPointParams, find_fixed_points
from rnn_analysis.analysis.fixed_points.dataset import (
    continuous_time_stability,
    datasets,
    stability_disagreements,
)
from rnn_analysis.analysis.fixed_points.points import Points
from rnn_analysis.analysis.network import analyze_network
from rnn_analysis.architectures import ARCHITECTURES
from rnn_analysis.architectures.rate import Rate, RateParams
from rnn_analysis.tasks.base import StaticInputs
from rnn_analysis.training.run import train_ensemble

ZERO_INPUT = StaticInputs(torch.zeros(1, 1), {"level": np.zeros(1)})
PARAMS = FixedPointParams(n_initial_states=32)


def rate_network(jacobian_ct: np.ndarray, alpha: float = 0.1, activation: str = "tanh") -> Rate:
    """A one-network float64 rate ensemble with one input (weight 0) and no bias whose
    flow at x = 0 has the Jacobian ``jacobian_ct`` = −I + Wᵀ (with φ = tanh, φ'(0) = 1).

    ``weight_hh`` holds W with the step's row-vector convention ``φ(x) @ W``, so that
    ``d(drive)_i / dx_j = W[j, i] φ'(x_j)``.
    """
    n = jacobian_ct.shape[0]
    params = RateParams(hidden_size=n, alpha=alpha, activation=activation)
    model = Rate(1, 1, params, [torch.Generator().manual_seed(0)]).double()
    w_t = jacobian_ct + np.eye(n)
    with torch.no_grad():
        model.weight_hh.copy_(torch.as_tensor(w_t.T)[None])
        model.weight_ih.zero_()
        model.bias_h.zero_()
    return model


def box_probe(n_units: int, radius: float = 0.5) -> torch.Tensor:
    g = torch.Generator().manual_seed(0)
    return (torch.rand(1, 4, 32, n_units, generator=g, dtype=torch.float64) * 2 - 1) * radius


def search(model, radius: float = 0.5) -> xr.Dataset:
    probe = box_probe(model.n_state, radius)
    return find_fixed_points(model, probe, ZERO_INPUT, PARAMS)[0]


def test_only_the_rate_network_is_continuous_time() -> None:
    for name in ARCHITECTURES:
        cls = ARCHITECTURES[name]
        model = cls(2, 1, cls.Params(hidden_size=4), [torch.Generator().manual_seed(0)])
        if name == "rate":
            assert model.euler_alpha == pytest.approx(0.1)
        else:
            assert model.euler_alpha is None, name
    model = Rate(2, 1, RateParams(hidden_size=4, alpha=0.35), 1)
    assert model.euler_alpha == pytest.approx(0.35)


def test_a_fast_rotation_is_stable_as_a_flow_but_not_as_its_euler_map(one_thread) -> None:
    # λ_ct = −0.5 ± 25i: Re λ_ct < 0, but |1 + α λ_ct| = |0.95 ± 2.5i| ≈ 2.67 > 1
    ds = search(rate_network(np.array([[-0.5, -25.0], [25.0, -0.5]]), alpha=0.1))
    assert list(ds["kind"].values) == ["fixed"]
    np.testing.assert_allclose(ds["state_value"].values, 0.0, atol=1e-9)
    lam = ds["eigenvalue_real"].values[0] + 1j * ds["eigenvalue_imag"].values[0]
    np.testing.assert_allclose(lam, [0.95 + 2.5j, 0.95 - 2.5j], atol=1e-9)
    assert ds["n_unstable"].values[0] == 2 and not ds["stable"].values[0]
    assert ds["n_unstable_ct"].values[0] == 0
    assert ds["max_real_eig_ct"].values[0] == pytest.approx(-0.5, abs=1e-8)
    assert int(ds["n_stability_disagreements"]) == 1
    assert ds.attrs["euler_alpha"] == pytest.approx(0.1)
    for name in ("n_unstable_ct", "max_real_eig_ct", "n_stability_disagreements"):
        assert ds[name].attrs["long_name"] and ds[name].attrs["units"]
    assert ds["max_real_eig_ct"].attrs["units"] == "1/tau"


def test_a_smaller_step_brings_the_views_back_together(one_thread) -> None:
    # the same flow with α = 0.001: |1 + α λ_ct|² = 0.9990 + 0.000625 < 1
    ds = search(rate_network(np.array([[-0.5, -25.0], [25.0, -0.5]]), alpha=0.001))
    assert ds["n_unstable"].values[0] == 0 and ds["n_unstable_ct"].values[0] == 0
    assert int(ds["n_stability_disagreements"]) == 0


def test_views_agree_on_a_slow_rotation_and_on_a_saddle(one_thread) -> None:
    ds = search(rate_network(np.array([[-0.5, -0.2], [0.2, -0.5]]), alpha=0.1))
    assert list(ds["kind"].values) == ["fixed"]
    assert ds["n_unstable"].values[0] == 0 and ds["n_unstable_ct"].values[0] == 0
    assert ds["max_real_eig_ct"].values[0] == pytest.approx(-0.5, abs=1e-8)
    assert int(ds["n_stability_disagreements"]) == 0
    # x0' = −x0 + 1.5 tanh x0: a saddle at 0 between two stable points
    ds = search(rate_network(np.diag([0.5, -0.5]), alpha=0.1), radius=2.0)
    fixed = ds["kind"].values == "fixed"
    assert fixed.sum() == 3
    np.testing.assert_array_equal(ds["n_unstable"].values, ds["n_unstable_ct"].values)
    assert sorted(ds["n_unstable_ct"].values[fixed]) == [0, 0, 1]
    saddle = ds["n_unstable_ct"].values == 1
    assert ds["max_real_eig_ct"].values[saddle][0] == pytest.approx(0.5, abs=1e-8)
    assert int(ds["n_stability_disagreements"]) == 0


@pytest.mark.parametrize(("alpha", "activation"), [(0.1, "tanh"), (0.5, "shifted_tanh")])
def test_map_eigenvalues_are_one_plus_alpha_times_the_flows(alpha: float, activation: str) -> None:
    """At random states of a random rate network: the stored eigenvalues of dF/dh are
    1 + α λ for the eigenvalues λ of J_ct = −I + Wᵀ diag(φ'(x)), and the continuous-time
    variables are those of J_ct."""
    n, m = 12, 40
    rng = np.random.default_rng(0)
    w = rng.normal(0, 2.0 / np.sqrt(n), (n, n))
    model = Rate(1, 1, RateParams(hidden_size=n, alpha=alpha, activation=activation), 1).double()
    with torch.no_grad():
        model.weight_hh.copy_(torch.as_tensor(w)[None])
        model.bias_h.copy_(torch.as_tensor(rng.normal(0, 0.5, n))[None])
    x = rng.normal(0, 1.0, (m, n))
    nan = np.full(m, np.nan)
    points = Points(
        x=x,
        u=np.zeros((m, 1)),
        condition=np.zeros(m, dtype=np.int64),
        q=np.zeros(m),
        origin=np.zeros(m, dtype=np.int8),
        fixed=np.ones(m, dtype=bool),
        newton_residual=nan,
        newton_step=nan,
        newton_distance=nan,
    )
    p = FixedPointParams()
    (ds,) = datasets(model, [points], {"level": np.zeros(1)}, [{}], p)
    states = ds["state_value"].values
    lam_map = ds["eigenvalue_real"].values + 1j * ds["eigenvalue_imag"].values
    for i, state in enumerate(states):
        jac_ct = -np.eye(n) + w.T * (1 - np.tanh(state) ** 2)[None, :]
        lam_ct = np.linalg.eigvals(jac_ct)
        predicted = np.sort_complex(1 + alpha * lam_ct)
        np.testing.assert_allclose(np.sort_complex(lam_map[i]), predicted, atol=1e-10)
        assert ds["max_real_eig_ct"].values[i] == pytest.approx(lam_ct.real.max(), abs=1e-9)
        threshold = p.unstable_tol / alpha
        assert ds["n_unstable_ct"].values[i] == (lam_ct.real > threshold).sum()
    verdicts = (ds["n_unstable"].values == 0) != (ds["n_unstable_ct"].values == 0)
    assert int(ds["n_stability_disagreements"]) == verdicts.sum()


def test_the_tolerance_carries_over_so_real_modes_near_one_agree() -> None:
    lam = np.array([[1 + 5e-7, 0.5], [1 + 2e-6, 0.5], [-1.5, 0.2], [0.9 + 0.5j, 0.9 - 0.5j]])
    n_ct, top = continuous_time_stability(lam, 0.1, unstable_tol=1e-6)
    np.testing.assert_array_equal(n_ct, [0, 1, 0, 0])
    np.testing.assert_allclose(top, [5e-6, 2e-5, -8.0, -1.0])
    n_map = (np.abs(lam) > 1 + 1e-6).sum(axis=1)
    np.testing.assert_array_equal(n_map, [0, 1, 1, 2])
    # the third (λ_ct = −25: an overshooting Euler step) and fourth (a fast rotation)
    assert stability_disagreements(np.ones(4, bool), n_map, n_ct) == 2
    assert stability_disagreements(np.array([True, True, False, True]), n_map, n_ct) == 1
    missing, nan = continuous_time_stability(lam, None)
    np.testing.assert_array_equal(missing, -1)
    assert np.isnan(nan).all()
    assert stability_disagreements(np.ones(4, bool), n_map, missing) == -1


@pytest.mark.parametrize("name", ["vanilla", "gru"])
def test_discrete_time_architectures_get_the_missing_values(name: str, one_thread) -> None:
    cls = ARCHITECTURES[name]
    model = cls(1, 1, cls.Params(hidden_size=3), [torch.Generator().manual_seed(1)]).double()
    ds = search(model)
    assert ds.sizes["fixed_point"] >= 1
    assert (ds["n_unstable_ct"].values == -1).all()
    assert np.isnan(ds["max_real_eig_ct"].values).all()
    assert int(ds["n_stability_disagreements"]) == -1
    assert "euler_alpha" not in ds.attrs


# -- the summary ------------------------------------------------------------------------


def write_analysis(path: Path, fixed_points: xr.Dataset, architecture: str) -> Path:
    """An analysis.nc of a ``time_reproduction`` network holding ``fixed_points``."""
    ds = fixed_points.copy()
    ds.attrs = {
        "task": "time_reproduction",
        "architecture": architecture,
        "learning_rule": "bptt",
        "noise": 0.0,
        "seed": 0,
        "network": f"time_reproduction/{architecture}/bptt/noise0/seed0",
        "status": "converged",
        "iterations": 10,
    }
    path.parent.mkdir(parents=True, exist_ok=True)
    ds.to_netcdf(path)
    return path


def test_summary_counts_flow_stable_points_and_disagreements(tmp_path: Path, one_thread) -> None:
    rotation = search(rate_network(np.array([[-0.5, -25.0], [25.0, -0.5]]), alpha=0.1))
    saddle = search(rate_network(np.diag([0.5, -0.5]), alpha=0.1), radius=2.0)
    gru = ARCHITECTURES["gru"]
    discrete = search(gru(1, 1, gru.Params(hidden_size=3), [torch.Generator()]).double())
    paths = [
        write_analysis(tmp_path / "a" / "analysis.nc", rotation, "rate"),
        write_analysis(tmp_path / "b" / "analysis.nc", saddle, "rate"),
        write_analysis(tmp_path / "c" / "analysis.nc", discrete, "gru"),
    ]
    summary = summarise("time_reproduction", paths, log=lambda _: None)
    np.testing.assert_array_equal(summary["n_stable"].values[:2], [0, 2])  # the map's view
    np.testing.assert_array_equal(summary["n_stable_ct"].values, [1, 2, -1])
    np.testing.assert_array_equal(summary["n_stability_disagreements"].values, [1, 0, -1])
    for name in ("n_stable_ct", "n_stability_disagreements"):
        assert "-1" in summary[name].attrs["long_name"]
        assert summary[name].attrs["units"] == "1"


def test_an_analysed_rate_network_carries_both_views(tmp_path: Path, one_thread) -> None:
    spec = {
        "network": {
            "task": "rdm",
            "architecture": "rate",
            "learning_rule": "bptt",
            "noise": 0.3,
            "seed": 0,
        },
        "task": {"n_steps": 30},
        "architecture": {"hidden_size": 8, "recurrent_gain": 3.0, "recurrent_scaling": "sqrt"},
        "learning_rule": {"learning_rate": 0.01, "batch_size": 32, "max_iterations": 10},
        "stopping": {"validate_every": 10, "validation_trials": 32, "window": 2},
    }
    train_ensemble([spec], [tmp_path / "net"], "cpu", log=lambda _: None)
    analysis = {
        "evaluation_trials": 32,
        "psychometric_repeats": 10,
        "fixed_points": {"n_initial_states": 16, "max_iterations": 200},
    }
    out = tmp_path / "net" / "analysis.nc"
    analyze_network({**spec, "analysis": analysis}, tmp_path / "net", out, log=lambda _: None)
    with xr.open_dataset(out) as ds:
        ds = ds.load()
    assert ds.attrs["fixed_points_euler_alpha"] == pytest.approx(0.1)
    fixed = ds["kind"].values == "fixed"
    assert fixed.any()
    lam = ds["eigenvalue_real"].values
    np.testing.assert_allclose(
        ds["max_real_eig_ct"].values, (lam.max(axis=1) - 1) / 0.1, rtol=1e-12, atol=1e-12
    )
    assert (ds["n_unstable_ct"].values >= 0).all()
    summary = summarise("rdm", [out], log=lambda _: None)
    assert summary["n_stable_ct"].item() == int((fixed & (ds["n_unstable_ct"].values == 0)).sum())
    assert summary["n_stability_disagreements"].item() == int(ds["n_stability_disagreements"])
    assert summary["n_stable"].item() == int((fixed & (ds["n_unstable"].values == 0)).sum())
