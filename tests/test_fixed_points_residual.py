"""The saturation-free fixed-point residual R(h, u) of every architecture, against F(h, u) − h."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from rnn_analysis.analysis.fixed_points import jacobian, residual_jacobian
from rnn_analysis.architectures import ARCHITECTURES, Architecture


def random_model(arch: str, seed: int = 0, n_units: int = 5, gain: float = 1.5) -> Architecture:
    cls = ARCHITECTURES[arch]
    params = cls.Params(hidden_size=n_units, recurrent_gain=gain)
    generators = [torch.Generator().manual_seed(seed + k) for k in range(2)]
    model = cls(3, 2, params, generators).double().requires_grad_(False)
    with torch.no_grad():
        for p in model.parameters():
            p.add_(0.3 * torch.randn(p.shape, generator=generators[0], dtype=torch.float64))
    return model


def random_states(model: Architecture, n: int = 200, scale: float = 2.0, seed: int = 1):
    g = torch.Generator().manual_seed(seed)
    h = scale * torch.randn(model.n_networks, n, model.n_state, generator=g, dtype=torch.float64)
    u = torch.randn(model.n_networks, n, model.n_inputs, generator=g, dtype=torch.float64)
    return h, u


def gru_gates(model: Architecture, h: torch.Tensor, u: torch.Tensor):
    """(z, n) of a GRU written out from its weights."""
    n = model.hidden_size
    gi = torch.bmm(u, model.weight_ih) + model.bias_ih[:, None]
    gh = torch.bmm(h, model.weight_hh) + model.bias_hh[:, None]
    r = torch.sigmoid(gi[..., :n] + gh[..., :n])
    z = torch.sigmoid(gi[..., n : 2 * n] + gh[..., n : 2 * n])
    return z, torch.tanh(gi[..., 2 * n :] + r * gh[..., 2 * n :])


def lstm_gates(model: Architecture, h: torch.Tensor, u: torch.Tensor):
    """Pre-activations (a_i, a_f, a_g, a_o) of an LSTM written out from its weights."""
    hid = h[..., : model.hidden_size]
    gates = torch.bmm(hid, model.weight_hh) + model.bias[:, None] + torch.bmm(u, model.weight_ih)
    return gates.chunk(4, dim=-1)


@pytest.mark.parametrize("arch", ["vanilla", "rate"])
def test_default_residual_is_f_minus_h(arch: str) -> None:
    model = random_model(arch)
    h, u = random_states(model)
    torch.testing.assert_close(model.fixed_point_residual(h, u), model.step(h, u) - h)


def test_gru_residual_is_f_minus_h_over_one_minus_z() -> None:
    model = random_model("gru")
    h, u = random_states(model)
    z, n = gru_gates(model, h, u)
    residual = model.fixed_point_residual(h, u)
    torch.testing.assert_close(residual, n - h, rtol=0, atol=1e-14)
    torch.testing.assert_close((1 - z) * residual, model.step(h, u) - h, rtol=1e-12, atol=1e-14)


def test_ugrnn_residual_is_f_minus_h_over_one_minus_g() -> None:
    model = random_model("ugrnn")
    h, u = random_states(model)
    pre = torch.bmm(h, model.weight_hh) + model.bias[:, None] + torch.bmm(u, model.weight_ih)
    c_pre, g_pre = pre.chunk(2, dim=-1)
    g = torch.sigmoid(g_pre)
    residual = model.fixed_point_residual(h, u)
    torch.testing.assert_close(residual, torch.tanh(c_pre) - h, rtol=0, atol=1e-14)
    torch.testing.assert_close((1 - g) * residual, model.step(h, u) - h, rtol=1e-12, atol=1e-14)


def test_lstm_residual_is_f_minus_h_scaled_per_half() -> None:
    model = random_model("lstm")
    h, u = random_states(model)
    n = model.hidden_size
    a_i, a_f, a_g, _ = lstm_gates(model, h, u)
    residual = model.fixed_point_residual(h, u)
    difference = model.step(h, u) - h
    # Hidden half: F − h itself; cell half: (F − h) / (i + 1 − f), i + 1 − f ∈ (0, 2).
    torch.testing.assert_close(residual[..., :n], difference[..., :n], rtol=0, atol=0)
    scale = torch.sigmoid(a_i) + torch.sigmoid(-a_f)
    scaled = scale * residual[..., n:]
    torch.testing.assert_close(scaled, difference[..., n:], rtol=1e-12, atol=1e-14)
    cell = h[..., n:]
    weight_i = torch.sigmoid(a_i) / scale
    expected = weight_i * torch.tanh(a_g) - (1 - weight_i) * cell
    torch.testing.assert_close(residual[..., n:], expected, rtol=1e-12, atol=1e-14)


@pytest.mark.parametrize("arch", ["gru", "ugrnn", "lstm"])
def test_saturated_gates_leave_the_residual_alone(arch: str) -> None:
    """Gates driven to saturation make F(h) − h round to exactly 0 at states that are not
    fixed points; R stays of the size of the distance to the candidate state."""
    model = random_model(arch)
    n = model.hidden_size
    with torch.no_grad():
        if arch == "gru":
            model.bias_hh[:, n : 2 * n] = 200.0  # z = 1 in float64
        elif arch == "ugrnn":
            model.bias[:, n:] = 200.0  # g = 1
        else:
            model.bias[:, :n] = -200.0  # i = σ(−200): c' rounds to f c = c
            model.bias[:, n : 2 * n] = 200.0  # f = 1
    h, u = random_states(model, scale=3.0)
    gated = slice(n, 2 * n) if arch == "lstm" else slice(0, n)  # an LSTM's cell half
    difference = (model.step(h, u) - h)[..., gated]
    residual = model.fixed_point_residual(h, u)[..., gated]
    assert float(difference.abs().max()) == 0.0
    assert float(residual.norm(dim=-1).min()) > 0.1


@pytest.mark.parametrize("arch", ["vanilla", "rate", "gru", "ugrnn", "lstm"])
def test_residual_jacobian_matches_finite_differences(arch: str) -> None:
    model = random_model(arch, n_units=4)
    h, u = random_states(model, n=6, scale=1.0)
    jac = residual_jacobian(model, h, u)
    eps = 1e-6
    s = model.n_state
    numeric = torch.empty_like(jac)
    for j in range(s):
        d = torch.zeros(s, dtype=torch.float64)
        d[j] = eps
        plus = model.fixed_point_residual(h + d, u)
        minus = model.fixed_point_residual(h - d, u)
        numeric[..., j] = (plus - minus) / (2 * eps)
    torch.testing.assert_close(jac, numeric, rtol=0, atol=1e-7)
    if arch in ("vanilla", "rate"):
        eye = torch.eye(s, dtype=torch.float64)
        torch.testing.assert_close(jac, jacobian(model, h, u) - eye)


@pytest.mark.parametrize("arch", ["gru", "ugrnn", "lstm"])
def test_roots_of_the_residual_are_fixed_points(arch: str) -> None:
    """Newton on R from random states: every root it reaches is a fixed point of F."""
    from scipy.optimize import root

    model = random_model(arch, n_units=4, gain=2.0)
    single = model.blank_like(1).double()
    single.load_networks([model.network_state_dict(0)])
    single.requires_grad_(False)
    u = torch.zeros(1, 1, model.n_inputs, dtype=torch.float64)
    rng = np.random.default_rng(0)

    def residual(x: np.ndarray) -> np.ndarray:
        return single.fixed_point_residual(torch.as_tensor(x).view(1, 1, -1), u).view(-1).numpy()

    def jac(x: np.ndarray) -> np.ndarray:
        return residual_jacobian(single, torch.as_tensor(x).view(1, 1, -1), u)[0, 0].numpy()

    n_roots = 0
    for _ in range(40):
        start = rng.normal(0, 0.5, model.n_state)
        sol = root(residual, start, jac=jac, method="hybr", options={"xtol": 1e-14})
        if np.linalg.norm(residual(sol.x)) > 1e-12:
            continue
        n_roots += 1
        h = torch.as_tensor(sol.x).view(1, 1, -1)
        assert float((single.step(h, u) - h).norm()) < 1e-11
    assert n_roots >= 10
