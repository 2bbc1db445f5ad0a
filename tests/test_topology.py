"""Tests of the topology graph: nodes, heteroclinic and pulse edges, signature, netCDF."""

from __future__ import annotations

import itertools
from pathlib import Path

import numpy as np
import pytest
import torch
import xarray as xr
from scipy.optimize import brentq

from rnn_analysis.analysis.fixed_points import FixedPointParams, find_fixed_points
from rnn_analysis.analysis.network import probe_trajectories
from rnn_analysis.analysis.topology import (
    TopologyParams,
    graph_signature,
    readout_labels,
    to_networkx,
    topology_graph,
)
from rnn_analysis.architectures import ARCHITECTURES, Architecture
from rnn_analysis.errors import ConfigError
from rnn_analysis.hyperparameters import from_mapping
from rnn_analysis.io import MODEL_FILE, load_models, write_netcdf
from rnn_analysis.tasks import TASKS
from rnn_analysis.tasks.base import InputPulses, StaticInputs
from rnn_analysis.training.run import train_ensemble

GAINS = [2.0, 2.5, 3.0]


def independent_units(gains: list[float], input_gain: float = 3.0) -> Architecture:
    """h' = tanh(g ⊙ h + input_gain · u): independent bistable units, readout = h."""
    k = len(gains)
    cls = ARCHITECTURES["vanilla"]
    model = cls(k, k, cls.Params(hidden_size=k), [torch.Generator().manual_seed(0)])
    with torch.no_grad():
        model.weight_hh.copy_(torch.diag(torch.tensor(gains))[None])
        model.weight_ih.copy_(input_gain * torch.eye(k)[None])
        model.bias_h.zero_()
        model.weight_out.copy_(torch.eye(k)[None])
        model.bias_out.zero_()
    return model.requires_grad_(False)


def uniform_probe(n_units: int, seed: int = 1) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    return (torch.rand(8, 64, n_units, generator=g) * 2.4 - 1.2)[None]


def zero_input(n_in: int) -> StaticInputs:
    return StaticInputs(torch.zeros(1, n_in), {"input": np.array(["zero"])})


def flip_pulses(k: int) -> InputPulses:
    """One-step ±1 pulses on each channel, as the flip-flop task's."""
    names = [f"+1 ch{c}" for c in range(k)] + [f"-1 ch{c}" for c in range(k)]
    return InputPulses(
        torch.cat([torch.eye(k), -torch.eye(k)]),
        np.ones(2 * k, dtype=np.int64),
        {
            "pulse": np.array(names),
            "pulse_channel": np.tile(np.arange(k), 2),
            "pulse_sign": np.repeat([1.0, -1.0], k),
        },
    )


def set_bit(pattern: str, k: int, sign: str) -> str:
    return pattern[:k] + sign + pattern[k + 1 :]


def edges_of(ds: xr.Dataset, kind: str) -> xr.Dataset:
    return ds.isel(topology_edge=np.flatnonzero(ds["edge_kind"].values == kind))


@pytest.fixture(scope="module")
def units() -> tuple[Architecture, xr.Dataset, xr.Dataset]:
    """The 3-unit network, its 27 fixed points as found, and the same points made exact.

    In the exact copy the coordinates of the units at their unstable zero state are 0,
    so that a run along one unit's mode stays exactly on the invariant plane of the
    others and ends on the saddle with one unstable mode fewer.
    """
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    model = independent_units(GAINS)
    (found,) = find_fixed_points(
        model, uniform_probe(3), zero_input(3), FixedPointParams(n_initial_states=512)
    )
    torch.set_num_threads(before)
    assert found.sizes["fixed_point"] == 27
    exact = found.copy(deep=True)
    roots = [brentq(lambda h, g=g: np.tanh(g * h) - h, 0.05, 1.5, xtol=1e-15) for g in GAINS]
    state = exact["state_value"].values
    snapped = np.where(np.abs(state) < 1e-3, 0.0, np.sign(state) * np.array(roots))
    assert np.abs(snapped - state).max() < 1e-6
    exact["state_value"].values[:] = snapped
    return model, found, exact


def test_independent_units_nodes_and_exact_edges(units, one_thread) -> None:
    model, _, fp = units
    ds = topology_graph(model, fp, zero_input(3), flip_pulses(3), TopologyParams())
    assert ds.sizes["topology_node"] == 27
    labels = ds["node_readout_label"].values
    np.testing.assert_array_equal(labels, readout_labels(np.sign(fp["state_value"].values), 0.5))
    np.testing.assert_array_equal(ds["node_n_unstable"].values, [lab.count("0") for lab in labels])
    stability = ds["node_stability"].values
    assert set(labels[stability == "stable"]) == {
        "".join(p) for p in itertools.product("+-", repeat=3)
    }
    assert set(stability) == {"stable", "saddle1", "saddle2", "saddle3"}
    np.testing.assert_array_equal(ds["node_point"].values, np.arange(27))
    assert (ds["node_kind"].values == "fixed").all()

    # One edge per direction of each unstable mode: 12 × 2 + 6 × 4 + 1 × 6.
    hetero = edges_of(ds, "heteroclinic")
    assert hetero.sizes["topology_edge"] == 54 == ds.attrs["n_heteroclinic"]
    assert ds.attrs["n_pulse"] == 48 and ds.attrs["n_edges"] == 102
    assert hetero["edge_settled"].values.all()
    for e in range(hetero.sizes["topology_edge"]):
        source = int(hetero["edge_source"][e])
        target = int(hetero["edge_target"][e])
        mode = int(hetero["edge_mode"][e])
        vector = fp["eigenvector_real"].values[source, :, mode]
        unit = int(np.argmax(np.abs(vector)))
        sign = "+" if hetero["edge_direction"].values[e] * vector[unit] > 0 else "-"
        assert labels[target] == set_bit(labels[source], unit, sign)
        assert ds["node_n_unstable"].values[target] == ds["node_n_unstable"].values[source] - 1
        expected = "attractor" if labels[target].count("0") == 0 else "saddle"
        assert hetero["edge_outcome"].values[e] == expected
        assert hetero["edge_label"].values[e] == f"mode{mode}{'+-'[e % 2]}"

    # Each saddle with one unstable mode connects exactly its two neighbouring attractors.
    for s in np.flatnonzero(stability == "saddle1"):
        mine = hetero["edge_source"].values == s
        reached = sorted(labels[hetero["edge_target"].values[mine]])
        zero = labels[s].index("0")
        assert reached == sorted([set_bit(labels[s], zero, "+"), set_bit(labels[s], zero, "-")])

    # A one-step pulse of ±1 (times input gain 3) flips unit c to the pulse's sign.
    pulse = edges_of(ds, "pulse")
    assert pulse.sizes["topology_edge"] == 8 * 6
    for e in range(pulse.sizes["topology_edge"]):
        source = int(pulse["edge_source"][e])
        channel = int(pulse["edge_pulse_channel"][e])
        sign = "+" if pulse["edge_pulse_sign"].values[e] > 0 else "-"
        assert stability[source] == "stable"
        assert labels[int(pulse["edge_target"][e])] == set_bit(labels[source], channel, sign)
        assert pulse["edge_label"].values[e] == pulse["edge_pulse"].values[e]
    assert pulse["edge_settled"].values.all()
    assert (pulse["edge_outcome"].values == "attractor").all()
    assert (pulse["edge_mode"].values == -1).all() and (pulse["edge_direction"].values == 0).all()
    assert (hetero["edge_pulse_index"].values == -1).all()
    assert (hetero["edge_pulse"].values == "").all()
    assert (hetero["edge_pulse_channel"].values == -1).all()
    assert np.isnan(hetero["edge_pulse_sign"].values).all()

    signature = ds.attrs["signature"]
    assert signature == graph_signature(ds)
    lines = signature.splitlines()
    assert "1x c0 heteroclinic saddle1 0++ -> {stable +++, stable -++}" in lines
    assert "1x c0 heteroclinic saddle3 000 -> {saddle2 +00, saddle2 -00}" in lines
    assert "1x c0 pulse stable +-- [+1 ch1] -> stable ++-" in lines
    assert "1x c0 node stable +++" in lines
    assert len(lines) == 27 + (12 + 12 + 3) + 48


def test_edges_of_the_fixed_points_as_found(units, one_thread) -> None:
    """Without exact zeros the higher saddles' runs still end where the mode points."""
    model, fp, _ = units
    ds = topology_graph(model, fp, zero_input(3), None, TopologyParams())
    labels = ds["node_readout_label"].values
    assert ds.attrs["n_pulse"] == 0 and ds.attrs["n_unresolved"] == 0
    assert ds.attrs["n_elsewhere"] == 0
    for e in range(ds.sizes["topology_edge"]):
        source, target = int(ds["edge_source"][e]), int(ds["edge_target"][e])
        vector = fp["eigenvector_real"].values[source, :, int(ds["edge_mode"][e])]
        unit = int(np.argmax(np.abs(vector)))
        sign = "+" if ds["edge_direction"].values[e] * vector[unit] > 0 else "-"
        assert labels[target][unit] == sign
        for k, bit in enumerate(labels[source]):
            if bit != "0":
                assert labels[target][k] == bit
        if labels[source].count("0") == 1:
            assert ds["edge_outcome"].values[e] == "attractor"


def test_no_pulses_and_recomputed_eigenvectors(units, one_thread) -> None:
    model, _, fp = units
    full = topology_graph(model, fp, zero_input(3), None, TopologyParams())
    assert set(full["edge_kind"].values) == {"heteroclinic"}
    assert "edge_pulse" not in full.coords and full.attrs["n_pulse"] == 0
    # Only the leading eigenvector stored: the others are recomputed from the Jacobian.
    short = topology_graph(
        model, fp.isel(leading_mode=slice(0, 1)), zero_input(3), None, TopologyParams()
    )
    for name in ("edge_source", "edge_mode", "edge_label", "edge_outcome", "edge_target"):
        np.testing.assert_array_equal(short[name].values, full[name].values)
    assert short.attrs["signature"] == full.attrs["signature"]


def test_runs_that_reach_no_node_are_kept_and_labelled(units, one_thread) -> None:
    model, _, fp = units
    labels = readout_labels(fp["readout"].values, 0.5)
    missing = int(np.flatnonzero(labels == "+++")[0])
    keep = [i for i in range(fp.sizes["fixed_point"]) if i != missing]
    ds = topology_graph(model, fp.isel(fixed_point=keep), zero_input(3), flip_pulses(3))
    elsewhere = ds["edge_outcome"].values == "elsewhere"
    # Three saddles with one unstable mode and three pulses lead to the missing attractor.
    assert elsewhere.sum() == 6 == ds.attrs["n_elsewhere"]
    assert (ds["edge_target"].values[elsewhere] == -1).all()
    assert ds["edge_settled"].values[elsewhere].all()
    assert (ds["edge_end_readout_label"].values[elsewhere] == "+++").all()
    assert "1x c0 heteroclinic saddle1 0++ -> {elsewhere, stable -++}" in ds.attrs["signature"]

    # A start too close to its saddle to leave it within the budget is unresolved.
    tight = TopologyParams(epsilon=1e-9, max_steps=5)
    ds = topology_graph(model, fp, zero_input(3), None, tight)
    assert (ds["edge_outcome"].values == "unresolved").all()
    assert (ds["edge_target"].values == -1).all()
    assert not ds["edge_settled"].values.any()
    assert (ds["edge_steps"].values == 5).all()
    assert ds.attrs["simulation_steps"] == 5


def test_complex_unstable_pair_on_a_limit_cycle(one_thread) -> None:
    """An unstable focus inside a limit cycle: four runs per complex pair, none settles."""
    cls = ARCHITECTURES["vanilla"]
    model = cls(1, 2, cls.Params(hidden_size=2), [torch.Generator()]).requires_grad_(False)
    angle, radius = 0.5, 1.5
    rotation = radius * torch.tensor(
        [[np.cos(angle), np.sin(angle)], [-np.sin(angle), np.cos(angle)]]
    )
    with torch.no_grad():
        model.weight_hh.copy_(rotation[None])
        model.weight_ih.zero_()
        model.bias_h.zero_()
    (fp,) = find_fixed_points(
        model, uniform_probe(2), zero_input(1), FixedPointParams(n_initial_states=64)
    )
    fixed = fp.isel(fixed_point=np.flatnonzero(fp["kind"].values == "fixed"))
    assert fixed.sizes["fixed_point"] == 1 and int(fixed["n_unstable"][0]) == 2
    ds = topology_graph(model, fp, zero_input(1), None, TopologyParams(max_steps=300))
    assert ds.sizes["topology_node"] == 1
    assert sorted(ds["edge_label"].values) == ["mode0im+", "mode0im-", "mode0re+", "mode0re-"]
    assert (ds["edge_outcome"].values == "unresolved").all()
    assert (ds["edge_steps"].values == 300).all()
    assert (ds["node_stability"].values == "saddle2").all()
    graph = to_networkx(ds)
    assert set(graph.nodes) == {0, "unresolved:c0"}
    assert graph.number_of_edges() == 4


def test_slow_points_are_nodes_only_on_request(one_thread) -> None:
    """The ghost of a saddle-node bifurcation is a slow point next to the one attractor."""
    model = independent_units([2.0], input_gain=0.0)
    b_critical = np.arctanh(-1 / np.sqrt(2)) + np.sqrt(2)
    with torch.no_grad():
        model.bias_h.fill_(b_critical + 0.01)
    (fp,) = find_fixed_points(
        model, uniform_probe(1), zero_input(1), FixedPointParams(n_initial_states=256)
    )
    assert sorted(fp["kind"].values) == ["fixed", "slow"]
    plain = topology_graph(model, fp, zero_input(1), flip_pulses(1), TopologyParams())
    assert list(plain["node_kind"].values) == ["fixed"]
    assert plain.sizes["topology_edge"] == 2
    with_slow = topology_graph(
        model, fp, zero_input(1), flip_pulses(1), TopologyParams(include_slow=True)
    )
    assert sorted(with_slow["node_kind"].values) == ["fixed", "slow"]
    slow = int(np.flatnonzero(with_slow["node_kind"].values == "slow")[0])
    assert with_slow["node_label"].values[slow].startswith("slow ")


def test_empty_graph_and_netcdf_round_trip(units, tmp_path: Path, one_thread) -> None:
    model, _, fp = units
    empty = topology_graph(model, fp.isel(fixed_point=[]), zero_input(3), flip_pulses(3))
    assert empty.sizes["topology_node"] == 0 and empty.sizes["topology_edge"] == 0
    for name in ("node_point", "node_stability", "node_readout_label", "edge_target"):
        assert name in empty
    assert graph_signature(empty) == "" and to_networkx(empty).number_of_nodes() == 0
    full = topology_graph(model, fp, zero_input(3), flip_pulses(3))
    for ds, name in ((empty, "empty.nc"), (full, "full.nc")):
        for var in ds.variables.values():
            assert var.dtype.kind in "biufU", (var.name, var.dtype)
        write_netcdf(ds, tmp_path / name)
        with xr.open_dataset(tmp_path / name) as loaded:
            loaded = loaded.load()
        xr.testing.assert_identical(loaded, ds)
        assert graph_signature(loaded) == ds.attrs["signature"]
    merged = xr.merge([fp, full], combine_attrs="drop")
    assert graph_signature(merged) == full.attrs["signature"]
    graph = to_networkx(full)
    assert graph.number_of_nodes() == 27 and graph.number_of_edges() == 102


def test_params_are_validated_and_ensembles_refused(units) -> None:
    with pytest.raises(ValueError, match="epsilon"):
        TopologyParams(epsilon=0.0)
    with pytest.raises(ValueError, match="max_steps"):
        TopologyParams(max_steps=0)
    with pytest.raises(ConfigError, match="settle"):
        from_mapping(TopologyParams, {"settle": 1e-5}, "analysis.topology")
    params = from_mapping(TopologyParams, {"max_steps": 100}, "analysis.topology")
    assert params.max_steps == 100
    _, _, fp = units
    two = ARCHITECTURES["vanilla"](3, 3, ARCHITECTURES["vanilla"].Params(hidden_size=3), 2)
    with pytest.raises(ValueError, match="one network"):
        topology_graph(two, fp, zero_input(3), None)


FLIPFLOP = {"n_steps": 50, "pulse_probability": 0.1}


@pytest.fixture(scope="module")
def flipflop_gru(tmp_path_factory: pytest.TempPathFactory) -> tuple[str, xr.Dataset]:
    """A converged 3-bit flip-flop GRU (32 units, BPTT, seed 0) and its topology graph."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    folder = tmp_path_factory.mktemp("flipflop_gru") / "gru0"
    spec = {
        "network": {
            "task": "flipflop",
            "architecture": "gru",
            "learning_rule": "bptt",
            "noise": 0.0,
            "seed": 0,
        },
        "task": FLIPFLOP,
        "architecture": {"hidden_size": 32},
        "learning_rule": {"learning_rate": 0.01, "batch_size": 64, "max_iterations": 600},
        "stopping": {
            "validate_every": 25,
            "validation_trials": 200,
            "window": 3,
            "threshold": 0.99,
        },
    }
    (status,) = train_ensemble([spec], [folder], device="cpu", log=lambda _: None)
    task = TASKS["flipflop"](**FLIPFLOP)
    model = load_models([folder / MODEL_FILE]).requires_grad_(False)
    _, states = probe_trajectories(model, task)
    (fp,) = find_fixed_points(
        model, states, task.static_inputs(), FixedPointParams(n_initial_states=256)
    )
    ds = topology_graph(model, fp, task.static_inputs(), task.input_pulses(), TopologyParams())
    torch.set_num_threads(before)
    return status, ds


def differing_bits(a: str, b: str) -> int:
    return sum(x != y for x, y in zip(a, b, strict=True))


def test_flipflop_topology_of_a_trained_network(flipflop_gru) -> None:
    status, ds = flipflop_gru
    assert status == "converged"
    labels = ds["node_readout_label"].values
    stability = ds["node_stability"].values
    corners = {"".join(p) for p in itertools.product("+-", repeat=3)}
    assert sorted(labels[stability == "stable"]) == sorted(corners)
    assert ds.attrs["n_unresolved"] == 0 and ds.attrs["n_elsewhere"] == 0

    # Every saddle with one unstable mode joins two attractors that differ in one bit,
    # the bit its own readout leaves undecided.
    target = ds["edge_target"].values
    source = ds["edge_source"].values
    hetero = ds["edge_kind"].values == "heteroclinic"
    saddles = np.flatnonzero(stability == "saddle1")
    assert len(saddles) >= 6
    for s in saddles:
        reached = target[hetero & (source == s)]
        assert len(reached) == 2 and (stability[reached] == "stable").all()
        assert differing_bits(labels[reached[0]], labels[reached[1]]) == 1
        bit = next(k for k in range(3) if labels[reached[0]][k] != labels[reached[1]][k])
        assert labels[s][bit] == "0"

    # The pulses implement the flip-flop: "±1 chK" sets bit K, the others stay.
    pulse = np.flatnonzero(ds["edge_kind"].values == "pulse")
    assert len(pulse) == 8 * 6
    for e in pulse:
        channel = int(ds["edge_pulse_channel"].values[e])
        sign = "+" if ds["edge_pulse_sign"].values[e] > 0 else "-"
        assert target[e] >= 0 and stability[target[e]] == "stable"
        assert labels[target[e]] == set_bit(labels[source[e]], channel, sign), e
