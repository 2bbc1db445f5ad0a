"""Tests of the batched fixed-point finder."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
import torch
import xarray as xr
from scipy.optimize import brentq

from rnn_analysis.analysis.fixed_points import (
    FixedPointParams,
    find_fixed_points,
    jacobian,
    sample_initial_states,
)
from rnn_analysis.architectures import ARCHITECTURES, Architecture
from rnn_analysis.errors import ConfigError
from rnn_analysis.hyperparameters import from_mapping
from rnn_analysis.tasks.base import StaticInputs

FAST = FixedPointParams(n_initial_states=256)


def bistable(gains: list[list[float]], input_gain: float = 0.0, bias: float = 0.0) -> Architecture:
    """Vanilla tanh networks of independent units: h' = tanh(g h + input_gain u + bias)."""
    n_units = len(gains[0])
    cls = ARCHITECTURES["vanilla"]
    params = cls.Params(hidden_size=n_units)
    model = cls(1, 2, params, [torch.Generator().manual_seed(i) for i in range(len(gains))])
    with torch.no_grad():
        model.weight_hh.copy_(torch.stack([torch.diag(torch.tensor(g)) for g in gains]))
        model.weight_ih.fill_(input_gain)
        model.bias_h.fill_(bias)
    return model


def uniform_probe(n_networks: int, n_units: int, seed: int = 1) -> torch.Tensor:
    """Probe 'trajectories' covering [-1.2, 1.2]^n_units, [E, 8, 64, n_units]."""
    g = torch.Generator().manual_seed(seed)
    states = torch.rand(8, 64, n_units, generator=g) * 2.4 - 1.2
    return states.expand(n_networks, -1, -1, -1).clone()


def zero_input(n_in: int = 1) -> StaticInputs:
    return StaticInputs(torch.zeros(1, n_in), {"input": np.array(["zero"])})


def h_star(gain: float, drive: float = 0.0, bracket: tuple[float, float] = (0.05, 1.5)) -> float:
    """A root of h = tanh(gain h + drive) in ``bracket``."""
    return brentq(lambda h: np.tanh(gain * h + drive) - h, *bracket, xtol=1e-15)


def test_single_bistable_unit() -> None:
    model = bistable([[2.0]])
    (ds,) = find_fixed_points(model, uniform_probe(1, 1), zero_input())
    hs = h_star(2.0)
    assert ds.sizes["fixed_point"] == 3
    assert (ds.kind.values == "fixed").all()
    assert (ds.q.values <= 1e-12).all()
    order = np.argsort(ds.state_value.values[:, 0])
    np.testing.assert_allclose(ds.state_value.values[order, 0], [-hs, 0.0, hs], atol=1e-7)
    eig = ds.eigenvalue_real.values[order, 0]
    np.testing.assert_allclose(eig, [2 * (1 - hs**2), 2.0, 2 * (1 - hs**2)], rtol=1e-6)
    np.testing.assert_allclose(ds.eigenvalue_imag.values, 0.0, atol=1e-12)
    np.testing.assert_array_equal(ds.n_unstable.values[order], [0, 1, 0])
    np.testing.assert_array_equal(ds.stable.values[order], [True, False, True])
    w = model.weight_out.detach()[0].numpy()
    b = model.bias_out.detach()[0].numpy()
    np.testing.assert_allclose(ds.readout.values, ds.state_value.values @ w + b, atol=1e-6)
    # First pass: 1024 probe samples and 256 expanded states; second pass: the 3
    # segments between the 3 points, 3 seeds each.
    assert ds.attrs["n_initial_states"] == 1024 and ds.attrs["n_expanded_states"] == 256
    assert ds.attrs["n_segment_seeds"] == 9
    assert ds.attrs["n_points_optimised"] == 1024 + 256 + 9
    assert ds.attrs["n_converged"] > 1000
    assert ds.attrs["n_candidates"] >= 3 and ds.attrs["n_rejected"] == 0
    assert (ds.newton_residual.values <= FAST.verify_residual_tol).all()
    assert (ds.newton_step.values <= FAST.verify_step_tol).all()
    assert ds.attrs["n_fixed"] == 3 and ds.attrs["n_slow"] == 0
    assert list(ds.input.values) == ["zero"] * 3
    np.testing.assert_array_equal(ds.condition.values, 0)


def test_product_of_bistable_units_counts_saddles() -> None:
    gains = [2.0, 2.5, 3.0]
    (ds,) = find_fixed_points(bistable([gains]), uniform_probe(1, 3), zero_input())
    assert ds.sizes["fixed_point"] == 27
    assert (ds.kind.values == "fixed").all()
    np.testing.assert_array_equal(np.bincount(ds.n_unstable.values), [8, 12, 6, 1])
    assert int(ds.stable.sum()) == 8
    expected = {tuple(p) for p in itertools.product(*[(-h_star(g), 0.0, h_star(g)) for g in gains])}
    found = ds.state_value.values
    for point in expected:
        assert np.abs(found - np.array(point)).max(axis=1).min() < 1e-7
    for k in range(ds.sizes["fixed_point"]):
        h = found[k]
        lam = np.array(gains) * (1 - np.tanh(np.array(gains) * h) ** 2)
        lam = lam[np.argsort(-np.abs(lam), kind="stable")]
        np.testing.assert_allclose(ds.eigenvalue_real.values[k], lam, rtol=1e-6, atol=1e-9)
        assert ds.n_unstable.values[k] == int((np.abs(lam) > 1).sum())
    modulus = np.hypot(ds.eigenvalue_real, ds.eigenvalue_imag).values
    assert (np.diff(modulus, axis=1) <= 1e-12).all()


def test_ensemble_matches_networks_one_at_a_time() -> None:
    gains = [[1.5, 2.0], [2.0, 3.0], [0.5, 2.5]]
    model = bistable(gains)
    probe = uniform_probe(3, 2)
    together = find_fixed_points(model, probe, zero_input(), FAST)
    assert len(together) == 3
    for e, ds in enumerate(together):
        single = bistable([gains[e]])
        single.load_networks([model.network_state_dict(e)])
        (alone,) = find_fixed_points(single, probe[e : e + 1], zero_input(), FAST)
        assert ds.sizes["fixed_point"] == alone.sizes["fixed_point"]
        np.testing.assert_array_equal(ds.kind.values, alone.kind.values)
        np.testing.assert_allclose(ds.state_value, alone.state_value, atol=1e-9)
        np.testing.assert_allclose(ds.eigenvalue_real, alone.eigenvalue_real, atol=1e-8)
        np.testing.assert_array_equal(ds.n_unstable, alone.n_unstable)
    n_expected = [9, 9, 3]
    assert [ds.sizes["fixed_point"] for ds in together] == n_expected


def test_active_points_decrease_during_the_run() -> None:
    (ds,) = find_fixed_points(bistable([[2.0, 3.0]]), uniform_probe(1, 2), zero_input(), FAST)
    history = ds.attrs["active_history"]
    assert history[0] == 256 + 64
    assert (np.diff(history) <= 0).all()
    assert history[len(history) // 2] < history[0]
    assert history[-1] == 0
    assert ds.attrs["adam_iterations"] < FAST.max_iterations
    refine = ds.attrs["refine_active_history"]
    assert (np.diff(refine) <= 0).all() and refine[-1] == 0


def test_static_input_shifts_fixed_points() -> None:
    model = bistable([[2.0]], input_gain=1.0)
    inputs = StaticInputs(
        torch.tensor([[0.0], [0.3]]), {"level": np.array(["none", "weak"], dtype=object)}
    )
    (ds,) = find_fixed_points(model, uniform_probe(1, 1), inputs, FAST)
    for c, u in enumerate([0.0, 0.3]):
        grid = np.linspace(-1.5, 1.5, 3000)
        f = np.tanh(2 * grid + u) - grid
        roots = [
            h_star(2.0, u, (grid[i], grid[i + 1])) for i in np.flatnonzero(np.diff(np.sign(f)))
        ]
        sel = ds.where(ds.condition == c, drop=True)
        assert sel.sizes["fixed_point"] == len(roots) == 3
        np.testing.assert_allclose(np.sort(sel.state_value.values[:, 0]), roots, atol=1e-7)
        np.testing.assert_allclose(sel.input_value.values, u)
        assert set(sel.level.values) == {["none", "weak"][c]}
    assert ds.level.dtype.kind == "U"


def test_slow_point_of_a_ghost_is_kept_separately() -> None:
    b_critical = np.arctanh(-1 / np.sqrt(2)) + np.sqrt(2)
    model = bistable([[2.0]], bias=b_critical + 0.01)
    (ds,) = find_fixed_points(model, uniform_probe(1, 1), zero_input(), FAST)
    fixed = ds.where(ds.kind == "fixed", drop=True)
    slow = ds.where(ds.kind == "slow", drop=True)
    assert fixed.sizes["fixed_point"] == 1
    np.testing.assert_allclose(fixed.state_value.values[0, 0], h_star(2.0, b_critical + 0.01))
    assert bool(fixed.stable.values[0])
    assert slow.sizes["fixed_point"] == 1
    assert 1e-12 < float(slow.q[0]) <= FAST.slow_q
    assert abs(float(slow.state_value[0, 0]) + 1 / np.sqrt(2)) < 0.05
    assert abs(float(slow.eigenvalue_real[0, 0]) - 1.0) < 0.05


def test_outliers_are_dropped() -> None:
    params = FixedPointParams(n_initial_states=256, outlier_distance_scale=0.5)
    (ds,) = find_fixed_points(bistable([[2.0]]), uniform_probe(1, 1), zero_input(), params)
    np.testing.assert_allclose(ds.state_value.values, [[0.0]], atol=1e-7)
    assert ds.attrs["n_outliers"] > 0


@pytest.mark.parametrize("arch", ["gru", "lstm", "ugrnn", "rate"])
def test_gated_networks_points_are_fixed_and_jacobians_match(arch: str) -> None:
    cls = ARCHITECTURES[arch]
    model = cls(2, 2, cls.Params(hidden_size=6, recurrent_gain=1.5), [torch.Generator()])
    with torch.no_grad():
        probe = model.run(torch.randn(1, 8, 50, 2, generator=torch.Generator().manual_seed(3)))
    params = FixedPointParams(n_initial_states=128, store_jacobian=True, n_eigenvectors=100)
    (ds,) = find_fixed_points(model, probe, zero_input(2), params)
    assert ds.sizes["fixed_point"] >= 1
    assert ds.sizes["state"] == model.n_state
    fixed = ds.where(ds.kind == "fixed", drop=True)
    assert fixed.sizes["fixed_point"] >= 1
    net = model.double().requires_grad_(False)
    h = torch.as_tensor(fixed.state_value.values)[None]
    u = torch.as_tensor(fixed.input_value.values)[None]
    with torch.no_grad():
        residual = (net.step(h, u) - h).norm(dim=-1)
    assert float(residual.max()) <= np.sqrt(2 * params.tol_q) * 1.01
    eps = 1e-6
    s = model.n_state
    numeric = np.empty((h.shape[1], s, s))
    with torch.no_grad():
        for j in range(s):
            d = torch.zeros(s, dtype=torch.float64)
            d[j] = eps
            numeric[:, :, j] = ((net.step(h + d, u) - net.step(h - d, u)) / (2 * eps))[0].numpy()
    np.testing.assert_allclose(fixed.jacobian.values, numeric, atol=1e-7)
    lam = np.linalg.eigvals(fixed.jacobian.values)
    for k in range(len(lam)):
        found = fixed.eigenvalue_real.values[k] + 1j * fixed.eigenvalue_imag.values[k]
        np.testing.assert_allclose(np.sort_complex(lam[k]), np.sort_complex(found), atol=1e-8)
        vec = fixed.eigenvector_real.values[k] + 1j * fixed.eigenvector_imag.values[k]
        np.testing.assert_allclose(fixed.jacobian.values[k] @ vec, vec * found, atol=1e-8)
    modulus = np.hypot(fixed.eigenvalue_real, fixed.eigenvalue_imag)
    assert (fixed.n_unstable == (modulus > 1 + params.unstable_tol).sum("mode")).all()
    assert (fixed.n_marginal == (np.abs(modulus - 1) <= params.unstable_tol).sum("mode")).all()
    np.testing.assert_allclose(
        fixed.readout.values,
        net.readout(h).detach()[0].numpy(),
        atol=1e-10,
    )


def test_jacobian_of_an_ensemble() -> None:
    cls = ARCHITECTURES["lstm"]
    model = cls(2, 1, cls.Params(hidden_size=3), [torch.Generator().manual_seed(i) for i in (0, 1)])
    model = model.double()
    h = torch.randn(2, 5, 6, dtype=torch.float64)
    u = torch.randn(2, 5, 2, dtype=torch.float64)
    jac = jacobian(model, h, u)

    def step_at(x: torch.Tensor, e: int, p: int) -> torch.Tensor:
        states = h.clone()
        states[e, p] = x
        return model.step(states, u)[e, p]

    for e in range(2):
        for p in range(5):
            expected = torch.autograd.functional.jacobian(
                lambda x, e=e, p=p: step_at(x, e, p), h[e, p]
            )
            torch.testing.assert_close(jac[e, p], expected)


def test_empty_result_and_netcdf_roundtrip(tmp_path) -> None:
    impossible = FixedPointParams(
        n_initial_states=16, tol_q=1e-30, slow_q=1e-30, max_iterations=2, refine_iterations=0
    )
    model = bistable([[2.0]])
    (empty,) = find_fixed_points(model, uniform_probe(1, 1), zero_input(), impossible)
    assert empty.sizes["fixed_point"] == 0
    for name in ("state_value", "q", "kind", "eigenvalue_real", "n_unstable", "readout"):
        assert name in empty
    (full,) = find_fixed_points(model, uniform_probe(1, 1), zero_input(), FAST)
    for ds, name in ((empty, "empty.nc"), (full, "full.nc")):
        for var in ds.variables.values():
            assert var.dtype.kind in "biufUS", var.dtype
        ds.to_netcdf(tmp_path / name)
        with xr.open_dataset(tmp_path / name) as back:
            xr.testing.assert_identical(back.load(), ds)
    assert full.q.attrs["long_name"] and full.state_value.attrs["units"]
    assert full.attrs["param_tol_q"] == 1e-12
    assert full.attrs["param_n_initial_states"] == 256


def test_sample_initial_states() -> None:
    states = torch.randn(3, 4, 10, 5)
    samples = sample_initial_states(states, 50, 0.0, torch.Generator().manual_seed(0))
    assert samples.shape == (3, 50, 5)
    flat = states.reshape(3, 40, 5)
    match = (samples[:, :, None, :] == flat[:, None, :, :]).all(-1)
    assert match.any(-1).all()
    index = match.float().argmax(-1)
    assert (index == index[0]).all()
    noisy = sample_initial_states(states, 2000, 0.1, torch.Generator().manual_seed(0))
    exact = sample_initial_states(states, 2000, 0.0, torch.Generator().manual_seed(0))
    assert abs(float((noisy - exact).std()) - 0.1) < 0.01


def test_params_from_config() -> None:
    params = from_mapping(FixedPointParams, {"tol_q": 1e-10, "seed": 3}, "fixed_points")
    assert params.tol_q == 1e-10 and params.seed == 3
    with pytest.raises(ConfigError, match="unknown key"):
        from_mapping(FixedPointParams, {"tolerance": 1}, "fixed_points")
    with pytest.raises(ConfigError):
        from_mapping(FixedPointParams, {"slow_q": 1e-20}, "fixed_points")
    with pytest.raises(ValueError):
        FixedPointParams(n_initial_states=0)


def test_bad_shapes_are_refused() -> None:
    model = bistable([[2.0]])
    with pytest.raises(ValueError, match="probe_states"):
        find_fixed_points(model, torch.zeros(1, 4, 1), zero_input())
    with pytest.raises(ValueError, match="static input"):
        find_fixed_points(model, uniform_probe(1, 1), zero_input(2))
