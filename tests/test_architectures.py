"""Tests of the recurrent architectures: update equations, ensembles, state dicts, init."""

from __future__ import annotations

import math

import pytest
import torch

from rnn_analysis.architectures import ARCHITECTURES, Architecture
from rnn_analysis.architectures.gru import GRU
from rnn_analysis.architectures.lstm import LSTM
from rnn_analysis.architectures.rate import Rate
from rnn_analysis.architectures.ugrnn import UGRNN
from rnn_analysis.architectures.vanilla import Vanilla

N_IN, N_OUT, N = 3, 2, 7
NAMES = ("vanilla", "rate", "gru", "lstm", "ugrnn")


def generators(seeds) -> list[torch.Generator]:
    return [torch.Generator().manual_seed(s) for s in seeds]


def build(name: str, seeds=(0, 1), n_in: int = N_IN, **params) -> Architecture:
    cls = ARCHITECTURES[name]
    return cls(n_in, N_OUT, cls.Params(hidden_size=N, **params), generators(seeds))


def randomise(model: Architecture, seed: int = 99, scale: float = 0.5) -> None:
    """Give every parameter (biases included) non-trivial random values."""
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for p in model.parameters():
            p.copy_(torch.randn(p.shape, generator=g) * scale)


def random_inputs(model: Architecture, batch: int = 5, seed: int = 7):
    g = torch.Generator().manual_seed(seed)
    h = torch.randn(model.n_networks, batch, model.n_state, generator=g)
    u = torch.randn(model.n_networks, batch, model.n_inputs, generator=g)
    return h, u


def test_registry_names_every_architecture() -> None:
    assert {Vanilla, Rate, GRU, LSTM, UGRNN} <= {ARCHITECTURES[name] for name in NAMES}


# -- update equations -------------------------------------------------------------------


def test_gru_step_equals_torch_gru_cell() -> None:
    model = build("gru")
    randomise(model)
    h, u = random_inputs(model)
    out = model.step(h, u)
    for e in range(model.n_networks):
        cell = torch.nn.GRUCell(N_IN, N)
        with torch.no_grad():
            cell.weight_ih.copy_(model.weight_ih[e].T)
            cell.weight_hh.copy_(model.weight_hh[e].T)
            cell.bias_ih.copy_(model.bias_ih[e])
            cell.bias_hh.copy_(model.bias_hh[e])
            expected = cell(u[e], h[e])
        torch.testing.assert_close(out[e], expected, atol=1e-6, rtol=1e-5)


def test_lstm_step_equals_torch_lstm_cell() -> None:
    model = build("lstm")
    randomise(model)
    state, u = random_inputs(model)
    out = model.step(state, u)
    for e in range(model.n_networks):
        cell = torch.nn.LSTMCell(N_IN, N)
        with torch.no_grad():
            cell.weight_ih.copy_(model.weight_ih[e].T)
            cell.weight_hh.copy_(model.weight_hh[e].T)
            cell.bias_ih.copy_(model.bias[e])
            cell.bias_hh.zero_()
            h_next, c_next = cell(u[e], (state[e, :, :N], state[e, :, N:]))
        torch.testing.assert_close(out[e, :, :N], h_next, atol=1e-6, rtol=1e-5)
        torch.testing.assert_close(out[e, :, N:], c_next, atol=1e-6, rtol=1e-5)


@pytest.mark.parametrize("activation", ["tanh", "relu"])
def test_vanilla_step_formula(activation: str) -> None:
    model = build("vanilla", activation=activation)
    randomise(model)
    h, u = random_inputs(model)
    out = model.step(h, u)
    phi = torch.tanh if activation == "tanh" else torch.relu
    for e in range(model.n_networks):
        w, wu, b = model.weight_hh[e].T, model.weight_ih[e].T, model.bias_h[e]
        for k in range(h.shape[1]):
            expected = phi(w @ h[e, k] + wu @ u[e, k] + b)
            torch.testing.assert_close(out[e, k], expected.detach(), atol=1e-6, rtol=1e-5)
    if activation == "relu":
        assert (out >= 0).all() and (out == 0).any()
    else:
        assert (out < 0).any()


@pytest.mark.parametrize("activation", ["tanh", "shifted_tanh"])
@pytest.mark.parametrize("alpha", [0.1, 0.35, 1.0])
def test_rate_step_formula(activation: str, alpha: float) -> None:
    model = build("rate", activation=activation, alpha=alpha)
    randomise(model)
    x, u = random_inputs(model)
    out = model.step(x, u)

    def phi(v: torch.Tensor) -> torch.Tensor:
        return torch.tanh(v) + (1.0 if activation == "shifted_tanh" else 0.0)

    for e in range(model.n_networks):
        w, wu, b = model.weight_hh[e].T, model.weight_ih[e].T, model.bias_h[e]
        for k in range(x.shape[1]):
            drive = w @ phi(x[e, k]) + wu @ u[e, k] + b
            expected = (1 - alpha) * x[e, k] + alpha * drive
            torch.testing.assert_close(out[e, k], expected.detach(), atol=1e-6, rtol=1e-5)
    torch.testing.assert_close(model.hidden(x), phi(x))
    readout = phi(x) @ model.weight_out[0].detach() + model.bias_out[0].detach()
    torch.testing.assert_close(model.readout(x)[0].detach(), readout[0], atol=1e-6, rtol=1e-5)


def test_ugrnn_step_formula() -> None:
    model = build("ugrnn")
    randomise(model)
    h, u = random_inputs(model)
    out = model.step(h, u)
    for e in range(model.n_networks):
        w_all = torch.cat([model.weight_hh[e], model.weight_ih[e]]).T.detach()
        w_c, w_g = w_all[:N], w_all[N:]
        b_c, b_g = model.bias[e, :N].detach(), model.bias[e, N:].detach()
        for k in range(h.shape[1]):
            hu = torch.cat([h[e, k], u[e, k]])
            c = torch.tanh(w_c @ hu + b_c)
            g = torch.sigmoid(w_g @ hu + b_g)
            expected = g * h[e, k] + (1 - g) * c
            torch.testing.assert_close(out[e, k].detach(), expected, atol=1e-6, rtol=1e-5)


def test_gate_bias_initialisation() -> None:
    lstm = build("lstm", forget_bias=2.5)
    expected = torch.zeros(4 * N)
    expected[N : 2 * N] = 2.5
    for e in range(lstm.n_networks):
        assert torch.equal(lstm.bias[e].detach(), expected)
    ugrnn = build("ugrnn", gate_bias=-1.5)
    expected = torch.cat([torch.zeros(N), torch.full((N,), -1.5)])
    for e in range(ugrnn.n_networks):
        assert torch.equal(ugrnn.bias[e].detach(), expected)


# -- running, readout and the LSTM's state ---------------------------------------------


@pytest.mark.parametrize("name", NAMES)
def test_run_and_forward_iterate_step_and_readout(name: str) -> None:
    model = build(name)
    randomise(model, scale=0.4)
    g = torch.Generator().manual_seed(3)
    inputs = torch.randn(model.n_networks, 4, 6, N_IN, generator=g)
    h0 = torch.randn(model.n_networks, 4, model.n_state, generator=g)
    with torch.no_grad():
        states = model.run(inputs, h0)
        h = h0
        for t in range(inputs.shape[2]):
            h = model.step(h, inputs[:, :, t])
            torch.testing.assert_close(states[:, :, t], h)
        from_zero, outputs = model(inputs)
        h = torch.zeros(model.n_networks, 4, model.n_state)
        for t in range(inputs.shape[2]):
            h = model.step(h, inputs[:, :, t])
            torch.testing.assert_close(from_zero[:, :, t], h)
            torch.testing.assert_close(outputs[:, :, t], model.readout(h))
    assert states.shape == (model.n_networks, 4, 6, model.n_state)
    assert outputs.shape == (model.n_networks, 4, 6, N_OUT)


def test_lstm_state_is_h_and_c() -> None:
    model = build("lstm")
    randomise(model)
    assert model.n_state == 2 * N
    assert model.initial_state(3).shape == (model.n_networks, 3, 2 * N)
    state, _ = random_inputs(model)
    assert torch.equal(model.hidden(state), state[..., :N])
    changed_cell = state.clone()
    changed_cell[..., N:] += 10.0
    with torch.no_grad():
        assert torch.equal(model.readout(state), model.readout(changed_cell))
        expected = state[..., :N] @ model.weight_out + model.bias_out.unsqueeze(1)
        torch.testing.assert_close(model.readout(state), expected)
    states, _ = model(torch.zeros(model.n_networks, 2, 3, N_IN))
    assert states.shape[-1] == 2 * N


@pytest.mark.parametrize("name", ["vanilla", "rate", "gru", "ugrnn"])
def test_n_state_is_hidden_size(name: str) -> None:
    assert build(name).n_state == N


# -- ensembles ------------------------------------------------------------------------


@pytest.mark.parametrize("name", NAMES)
def test_ensemble_member_equals_single_network(name: str) -> None:
    seeds = (11, 12, 13)
    ensemble = build(name, seeds)
    g = torch.Generator().manual_seed(5)
    inputs = torch.randn(len(seeds), 4, 8, N_IN, generator=g)
    with torch.no_grad():
        states, outputs = ensemble(inputs)
    for i, seed in enumerate(seeds):
        single = build(name, (seed,))
        for key, value in single.named_parameters():
            assert torch.equal(getattr(ensemble, key)[i], value[0]), key
        with torch.no_grad():
            s_states, s_outputs = single(inputs[i : i + 1])
        torch.testing.assert_close(states[i], s_states[0], atol=1e-6, rtol=1e-6)
        torch.testing.assert_close(outputs[i], s_outputs[0], atol=1e-6, rtol=1e-6)
    assert not torch.equal(ensemble.weight_hh[0], ensemble.weight_hh[1])


@pytest.mark.parametrize("name", NAMES)
def test_network_state_dict_round_trip(name: str) -> None:
    source = build(name, (1, 2, 3))
    randomise(source)
    dicts = [source.network_state_dict(i) for i in range(3)]
    assert set(dicts[0]) == {k for k, _ in source.named_parameters()}
    for i, sd in enumerate(dicts):
        for key, value in sd.items():
            assert not value.requires_grad
            assert torch.equal(value, getattr(source, key)[i].detach())

    target = build(name, (7, 8, 9))
    target.load_networks(dicts[::-1])
    for i, sd in enumerate(dicts[::-1]):
        for key, value in sd.items():
            assert torch.equal(getattr(target, key)[i].detach(), value)

    single = build(name, (42,))
    single.load_networks([dicts[1]])
    inputs = torch.randn(1, 3, 5, N_IN, generator=torch.Generator().manual_seed(0))
    with torch.no_grad():
        _, from_source = source(inputs.expand(3, -1, -1, -1))
        _, from_single = single(inputs)
    torch.testing.assert_close(from_single[0], from_source[1], atol=1e-6, rtol=1e-6)


def test_network_state_dict_is_a_copy() -> None:
    model = build("gru")
    sd = model.network_state_dict(0)
    before = model.weight_hh[0].detach().clone()
    sd["weight_hh"].add_(1.0)
    assert torch.equal(model.weight_hh[0].detach(), before)


def test_load_networks_needs_one_dict_per_network() -> None:
    model = build("vanilla", (0, 1))
    with pytest.raises(ValueError, match="expected 2"):
        model.load_networks([model.network_state_dict(0)])


# -- initialisation -------------------------------------------------------------------


@pytest.mark.parametrize("name", NAMES)
@pytest.mark.parametrize(("scaling", "gain"), [("sqrt", 1.0), ("sqrt", 1.7), ("linear", 1.0)])
def test_initial_recurrent_std(name: str, scaling: str, gain: float) -> None:
    n = 400
    cls = ARCHITECTURES[name]
    params = cls.Params(hidden_size=n, recurrent_gain=gain, recurrent_scaling=scaling)
    model = cls(2, 1, params, generators([0]))
    expected = gain / (math.sqrt(n) if scaling == "sqrt" else n)
    weights = model.weight_hh.detach().double()
    assert weights.numel() >= n * n
    assert abs(weights.mean().item()) < 0.02 * expected
    assert weights.std().item() == pytest.approx(expected, rel=0.02)


def test_rate_defaults_to_weak_linear_scaling() -> None:
    model = Rate(2, 1, Rate.Params(), generators([0]))
    assert model.hidden_size == 50
    assert model.params.recurrent_scaling == "linear"
    assert model.params.recurrent_std == pytest.approx(1 / 50)
    assert model.params.alpha == 0.1


def test_input_and_readout_std() -> None:
    n, n_in = 300, 200
    params = Vanilla.Params(hidden_size=n, input_gain=2.0, readout_gain=0.5)
    model = Vanilla(n_in, 150, params, generators([0]))
    assert model.weight_ih.detach().std().item() == pytest.approx(2.0 / math.sqrt(n_in), rel=0.03)
    assert model.weight_out.detach().std().item() == pytest.approx(0.5 / math.sqrt(n), rel=0.03)
    assert torch.equal(model.bias_out.detach(), torch.zeros(1, 150))
