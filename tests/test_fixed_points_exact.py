"""The fixed-point finder on systems whose fixed points are known exactly, on LSTM states,
and on ensembles of architectures other than vanilla."""

from __future__ import annotations

import itertools
from pathlib import Path

import numpy as np
import pytest
import torch
import xarray as xr
from scipy.optimize import brentq

from rnn_analysis.analysis.fixed_points import FixedPointParams, find_fixed_points
from rnn_analysis.architectures import ARCHITECTURES, Architecture, ArchitectureParams
from rnn_analysis.architectures.base import bmm_bias, zeros
from rnn_analysis.io import load_models
from rnn_analysis.tasks import TASKS
from rnn_analysis.tasks.base import StaticInputs
from rnn_analysis.training.run import train_ensemble

#: With q ≤ 1e-16 the residual |F(h) − h| is at most 1.5e-8, so a point lies within
#: 1.5e-8 ‖(I − dF/dh)⁻¹‖ of the true fixed point: well inside 1e-6 for the systems below.
EXACT = FixedPointParams(n_initial_states=256, tol_q=1e-16)


class Linear(Architecture):
    """An exactly linear map ``h' = A h + B u + c`` (``weight_hh`` = Aᵀ, ``weight_ih`` = Bᵀ)."""

    name = "linear"

    def parameter_shapes(self):
        n, i = self.hidden_size, self.n_inputs
        return {
            "weight_hh": ((n, n), zeros),
            "weight_ih": ((i, n), zeros),
            "bias_h": ((n,), zeros),
            **self.readout_shapes(),
        }

    def step(self, h: torch.Tensor, u: torch.Tensor) -> torch.Tensor:
        return bmm_bias(h, self.weight_hh, self.bias_h) + torch.bmm(u, self.weight_ih)


class Cubic(Architecture):
    """Independent units ``h_i' = h_i + g_i (v_i + h_i − h_i³)`` with drive ``v = B u``."""

    name = "cubic"

    def parameter_shapes(self):
        n, i = self.hidden_size, self.n_inputs
        return {"gain": ((n,), zeros), "weight_ih": ((i, n), zeros), **self.readout_shapes()}

    def step(self, h: torch.Tensor, u: torch.Tensor) -> torch.Tensor:
        drive = torch.bmm(u, self.weight_ih)
        return h + self.gain.unsqueeze(1) * (drive + h - h**3)


def build(cls: type[Architecture], n_inputs: int, n_units: int, **values: np.ndarray):
    """A one-network float64 ensemble of ``cls`` whose parameters are ``values``."""
    model = cls(n_inputs, 2, ArchitectureParams(hidden_size=n_units), [torch.Generator()])
    model = model.double()
    with torch.no_grad():
        for name, value in values.items():
            getattr(model, name).copy_(torch.as_tensor(value)[None])
    return model


def box_probe(n_units: int, radius: float, seed: int = 0) -> torch.Tensor:
    """'Trajectories' filling the cube [-radius, radius]^n_units, [1, 8, 64, n_units]."""
    g = torch.Generator().manual_seed(seed)
    return (torch.rand(1, 8, 64, n_units, generator=g) * 2 - 1) * radius


def by_modulus(lam: np.ndarray) -> np.ndarray:
    """Eigenvalues ordered as the finder orders them: |λ| descending, positive imag first."""
    return lam[np.lexsort((-lam.imag, -np.abs(lam)))]


def eigenvalues(ds: xr.Dataset) -> np.ndarray:
    return ds.eigenvalue_real.values + 1j * ds.eigenvalue_imag.values


def test_linear_system_fixed_point_and_spectrum_are_exact(one_thread) -> None:
    rotation = np.array([[0.0, -1.0], [1.0, 0.0]])
    blocks = [
        np.array([[1.6]]),
        np.array([[-1.3]]),
        0.9 * np.eye(2) + 0.7 * rotation,  # 0.9 ± 0.7i, |λ| 1.14: unstable
        np.array([[0.7]]),
        0.5 * np.eye(2) + 0.6 * rotation,  # 0.5 ± 0.6i, |λ| 0.78
        np.array([[-0.4]]),
        np.array([[0.2]]),
    ]
    n = sum(len(b) for b in blocks)
    d = np.zeros((n, n))
    start = 0
    for b in blocks:
        d[start : start + len(b), start : start + len(b)] = b
        start += len(b)
    rng = np.random.default_rng(0)
    q1, _ = np.linalg.qr(rng.normal(size=(n, n)))
    q2, _ = np.linalg.qr(rng.normal(size=(n, n)))
    p = q1 @ np.diag(np.linspace(1.0, 1.5, n)) @ q2  # non-normal, condition number 1.5
    a = p @ d @ np.linalg.inv(p)
    b = rng.normal(size=(n, 2))
    c = rng.normal(size=n) * 0.5
    lam = by_modulus(np.linalg.eigvals(d))
    model = build(Linear, 2, n, weight_hh=a.T, weight_ih=b.T, bias_h=c)
    values = np.array([[0.0, 0.0], [1.0, -0.5], [-0.3, 0.8]])
    inputs = StaticInputs(torch.tensor(values), {"drive": np.array(["none", "a", "b"])})
    expected = np.linalg.solve(np.eye(n) - a, (values @ b.T + c).T).T
    probe = box_probe(n, 1.5 * np.abs(expected).max() + 1.0)

    (ds,) = find_fixed_points(model, probe, inputs, EXACT)

    assert ds.sizes["fixed_point"] == 3
    assert (ds.kind.values == "fixed").all()
    np.testing.assert_array_equal(ds.condition.values, [0, 1, 2])
    assert list(ds.drive.values) == ["none", "a", "b"]
    np.testing.assert_allclose(ds.state_value.values, expected, rtol=0, atol=1e-6)
    np.testing.assert_allclose(ds.input_value.values, values, atol=1e-12)
    for k in range(3):
        np.testing.assert_allclose(eigenvalues(ds)[k], lam, rtol=0, atol=1e-6)
    n_unstable = int((np.abs(lam) > 1).sum())
    assert n_unstable == 4
    np.testing.assert_array_equal(ds.n_unstable.values, n_unstable)
    assert not ds.stable.values.any()
    w = model.weight_out.detach()[0].double().numpy()
    bias = model.bias_out.detach()[0].double().numpy()
    np.testing.assert_allclose(ds.readout.values, expected @ w + bias, atol=1e-6)
    vec = ds.eigenvector_real.values + 1j * ds.eigenvector_imag.values
    lead = eigenvalues(ds)[:, : vec.shape[-1]]
    for k in range(3):
        np.testing.assert_allclose(a @ vec[k], vec[k] * lead[k], atol=1e-8)


def cubic_roots(drive: float) -> list[float]:
    """The three roots of v + h − h³ = 0 (|v| < 2 / 3^1.5), to machine precision."""
    edge = 1 / np.sqrt(3)
    brackets = [(-2.0, -edge), (-edge, edge), (edge, 2.0)]
    return [
        brentq(lambda h: drive + h - h**3, lo, hi, xtol=1e-15, rtol=1e-15) for lo, hi in brackets
    ]


def test_independent_cubic_units_have_every_product_of_roots(one_thread) -> None:
    gains = np.array([0.3, 0.5, 0.2])
    model = build(Cubic, 3, 3, gain=gains, weight_ih=np.eye(3))
    drives = np.array([[0.0, 0.0, 0.0], [0.1, -0.15, 0.05]])
    inputs = StaticInputs(torch.tensor(drives), {"level": np.array([0, 1])})

    (ds,) = find_fixed_points(model, box_probe(3, 1.6), inputs, EXACT)

    assert (ds.kind.values == "fixed").all()
    for c, drive in enumerate(drives):
        sel = ds.where(ds.condition == c, drop=True)
        assert sel.sizes["fixed_point"] == 27
        expected = np.array(list(itertools.product(*[cubic_roots(v) for v in drive])))
        found = sel.state_value.values
        distance = np.abs(found[:, None, :] - expected[None, :, :]).max(axis=-1)
        assert distance.min(axis=1).max() < 1e-6
        assert distance.min(axis=0).max() < 1e-6
        for k in range(27):
            h = expected[distance[k].argmin()]
            lam = by_modulus((1 + gains * (1 - 3 * h**2)).astype(complex))
            np.testing.assert_allclose(eigenvalues(sel)[k], lam, rtol=0, atol=1e-6)
            assert sel.n_unstable.values[k] == int((np.abs(lam) > 1).sum())
        # Each unit's middle root is unstable, its outer roots stable: 2³ attractors.
        np.testing.assert_array_equal(np.bincount(sel.n_unstable.values.astype(int)), [8, 12, 6, 1])
        assert int(sel.stable.sum()) == 8


# -- LSTM: a briefly trained ensemble --------------------------------------------------

LSTM_FLIPFLOP = {"n_steps": 40, "pulse_probability": 0.1}


@pytest.fixture(scope="module")
def lstm_paths(tmp_path_factory: pytest.TempPathFactory) -> list[Path]:
    """Three 8-unit LSTMs trained together on a short 3-bit flip-flop (3-5 s, one thread)."""
    folder = tmp_path_factory.mktemp("lstm")
    specs = [
        {
            "network": {
                "task": "flipflop",
                "architecture": "lstm",
                "learning_rule": "bptt",
                "noise": 0.0,
                "seed": seed,
            },
            "task": LSTM_FLIPFLOP,
            "architecture": {"hidden_size": 8},
            "learning_rule": {"learning_rate": 0.02, "batch_size": 32, "max_iterations": 1500},
            "stopping": {"validate_every": 25, "validation_trials": 100, "window": 3},
        }
        for seed in range(3)
    ]
    folders = [folder / f"lstm{seed}" for seed in range(3)]
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        statuses = train_ensemble(specs, folders, device="cpu", log=lambda _: None)
    finally:
        torch.set_num_threads(before)
    assert statuses == ["converged"] * 3
    return [f / "model.pt" for f in folders]


def probe_states(model: Architecture) -> tuple[torch.Tensor, StaticInputs]:
    task = TASKS["flipflop"](**LSTM_FLIPFLOP)
    inputs = task.probe_set().inputs
    with torch.no_grad():
        states, _ = model(inputs.unsqueeze(0).expand(model.n_networks, -1, -1, -1))
    return states, task.static_inputs()


def test_lstm_fixed_points_hold_for_hidden_and_cell_state(lstm_paths, one_thread) -> None:
    model = load_models(lstm_paths[:1]).requires_grad_(False)
    n = model.hidden_size
    states, inputs = probe_states(model)
    params = FixedPointParams(n_initial_states=256, store_jacobian=True, n_eigenvectors=2 * n)

    (ds,) = find_fixed_points(model, states, inputs, params)

    assert model.n_state == 2 * n
    assert ds.sizes["state"] == ds.sizes["state_b"] == ds.sizes["mode"] == 2 * n
    assert ds.sizes["unit"] == n
    fixed = ds.where(ds.kind == "fixed", drop=True)
    assert int((fixed.n_unstable == 0).sum()) >= 2
    net = model.double()
    h = torch.as_tensor(fixed.state_value.values)[None]
    u = torch.as_tensor(fixed.input_value.values)[None]
    with torch.no_grad():
        residual = (net.step(h, u) - h)[0].numpy()
        hidden = net.hidden(h)[0].numpy()
        readout = net.readout(h)[0].numpy()
    bound = np.sqrt(2 * params.tol_q) * (1 + 1e-9)
    assert np.linalg.norm(residual, axis=1).max() <= bound
    assert np.linalg.norm(residual[:, n:], axis=1).max() <= bound
    np.testing.assert_allclose(
        0.5 * (residual**2).sum(axis=1), fixed.q.values, rtol=1e-6, atol=1e-30
    )
    # The cell state is a state of its own, not a copy of the hidden one.
    state = fixed.state_value.values
    assert np.abs(state[:, n:] - state[:, :n]).max() > 0.1
    np.testing.assert_array_equal(fixed.hidden_value.values, hidden)
    np.testing.assert_array_equal(fixed.hidden_value.values, fixed.state_value.values[:, :n])
    np.testing.assert_allclose(fixed.readout.values, readout, atol=1e-10)

    eps = 1e-6
    numeric = np.empty((h.shape[1], 2 * n, 2 * n))
    with torch.no_grad():
        for j in range(2 * n):
            d = torch.zeros(2 * n, dtype=torch.float64)
            d[j] = eps
            numeric[:, :, j] = ((net.step(h + d, u) - net.step(h - d, u)) / (2 * eps))[0].numpy()
    np.testing.assert_allclose(fixed.jacobian.values, numeric, atol=1e-7)
    # The cell block of dF/dh is not trivial: dc'/dc = diag(forget gate).
    assert np.abs(fixed.jacobian.values[:, n:, n:]).max() > 0.1
    for k in range(fixed.sizes["fixed_point"]):
        lam = by_modulus(np.linalg.eigvals(fixed.jacobian.values[k]))
        np.testing.assert_allclose(eigenvalues(fixed)[k], lam, atol=1e-8)
        vec = fixed.eigenvector_real.values[k] + 1j * fixed.eigenvector_imag.values[k]
        np.testing.assert_allclose(fixed.jacobian.values[k] @ vec, vec * lam, atol=1e-8)


# -- ensembles of other architectures --------------------------------------------------


def rate_ensemble() -> tuple[Architecture, torch.Tensor, StaticInputs]:
    """Three random 6-unit rate networks with strong recurrence (several fixed points each)."""
    cls = ARCHITECTURES["rate"]
    params = cls.Params(hidden_size=6, recurrent_gain=2.5, recurrent_scaling="sqrt", alpha=0.5)
    model = cls(2, 1, params, [torch.Generator().manual_seed(s) for s in range(3)])
    with torch.no_grad():
        drive = torch.randn(3, 8, 60, 2, generator=torch.Generator().manual_seed(7))
        states = model.run(drive)
    inputs = StaticInputs(torch.tensor([[0.0, 0.0], [0.3, -0.2]]), {"level": np.array([0, 1])})
    return model, states, inputs


def lstm_ensemble(paths: list[Path]) -> tuple[Architecture, torch.Tensor, StaticInputs]:
    model = load_models(paths).requires_grad_(False)
    states, _ = probe_states(model)
    inputs = StaticInputs(
        torch.tensor([[0.0, 0.0, 0.0], [0.5, 0.0, -0.5]]), {"level": np.array([0, 1])}
    )
    return model, states, inputs


@pytest.mark.parametrize("arch", ["rate", "lstm"])
def test_ensemble_equals_one_network_at_a_time(arch: str, request, one_thread) -> None:
    if arch == "rate":
        model, states, inputs = rate_ensemble()
    else:
        model, states, inputs = lstm_ensemble(request.getfixturevalue("lstm_paths"))
    params = FixedPointParams(n_initial_states=128)

    together = find_fixed_points(model, states, inputs, params)

    assert len(together) == model.n_networks == 3
    counts = []
    for e, ds in enumerate(together):
        alone_model = model.blank_like(1)
        alone_model.load_networks([model.network_state_dict(e)])
        (alone,) = find_fixed_points(alone_model, states[e : e + 1], inputs, params)
        assert ds.sizes["fixed_point"] == alone.sizes["fixed_point"]
        for name in ("kind", "condition", "n_unstable", "level"):
            np.testing.assert_array_equal(ds[name].values, alone[name].values)
        np.testing.assert_allclose(ds.state_value, alone.state_value, atol=1e-9)
        np.testing.assert_allclose(ds.eigenvalue_real, alone.eigenvalue_real, atol=1e-8)
        np.testing.assert_allclose(ds.eigenvalue_imag, alone.eigenvalue_imag, atol=1e-8)
        np.testing.assert_allclose(ds.q, alone.q, rtol=1e-3, atol=1e-20)
        counts.append(int((ds.kind == "fixed").sum()))
    # The networks differ, and each has several fixed points under the two inputs.
    assert min(counts) >= 2
    states_0 = together[0].state_value.values
    assert any(
        ds.sizes["fixed_point"] != together[0].sizes["fixed_point"]
        or np.abs(ds.state_value.values - states_0).max() > 1e-3
        for ds in together[1:]
    )
