"""Tests of the reduced-dynamics graph and of solution types (Turner et al. 2021)."""

from __future__ import annotations

import dataclasses
import itertools
import json
import random
import time
from pathlib import Path

import numpy as np
import pytest
import torch
import xarray as xr

from rnn_analysis.analysis.network import probe_trajectories
from rnn_analysis.analysis.reduced_graph import (
    FLOW,
    LabelledGraph,
    ReducedGraphParams,
    assign_solution_types,
    canonical_form,
    compact_graph,
    graph_from_dataset,
    isomorphic,
    probe_events,
    reduced_dynamics_graph,
    solution_type_hash,
)
from rnn_analysis.errors import ConfigError
from rnn_analysis.hyperparameters import from_mapping
from rnn_analysis.io import load_models
from rnn_analysis.tasks import TASKS
from tests.training_files import read_meta, train_delayed_discrimination_grus

# -- hand-made labelled graphs ------------------------------------------------------------


def random_graph(rng: random.Random, n: int, n_edges: int) -> LabelledGraph:
    labels = tuple(rng.choice("+-0") for _ in range(n))
    edges = tuple(
        (rng.randrange(n), rng.randrange(n), rng.choice(["flow", "f1", "f2"]))
        for _ in range(n_edges)
    )
    return LabelledGraph(labels, edges)


def shuffled(graph: LabelledGraph, rng: random.Random) -> LabelledGraph:
    order = list(range(graph.n_nodes))
    rng.shuffle(order)
    return graph.permuted(order)


def cycles(lengths: list[int], label: str = "0", edge: str = "p") -> LabelledGraph:
    """Disjoint directed cycles of the given lengths, every node and edge labelled alike."""
    edges, start = [], 0
    for n in lengths:
        edges += [(start + i, start + (i + 1) % n, edge) for i in range(n)]
        start += n
    return LabelledGraph((label,) * start, tuple(edges))


def cayley_z4z4(generators: list[tuple[int, int]]) -> LabelledGraph:
    """Undirected Cayley graph on Z4 x Z4 (each undirected edge as two directed ones)."""
    nodes = [(i, j) for i in range(4) for j in range(4)]
    index = {v: k for k, v in enumerate(nodes)}
    edges = []
    for i, j in nodes:
        for a, b in generators:
            edges.append((index[(i, j)], index[((i + a) % 4, (j + b) % 4)], "e"))
    return LabelledGraph(("0",) * 16, tuple(edges))


def rook_graph() -> LabelledGraph:
    """4x4 rook's graph: strongly regular (16, 6, 2, 2)."""
    return cayley_z4z4([(a, 0) for a in (1, 2, 3)] + [(0, b) for b in (1, 2, 3)])


def shrikhande_graph() -> LabelledGraph:
    """Shrikhande graph: strongly regular (16, 6, 2, 2) but not the rook's graph."""
    return cayley_z4z4([(1, 0), (3, 0), (0, 1), (0, 3), (1, 1), (3, 3)])


def test_permuted_copies_hash_equal_and_are_isomorphic() -> None:
    rng = random.Random(0)
    for n, m in [(1, 0), (1, 2), (4, 6), (8, 14), (15, 30), (25, 60)]:
        graph = random_graph(rng, n, m)
        for _ in range(5):
            copy = shuffled(graph, rng)
            assert solution_type_hash(copy) == solution_type_hash(graph)
            assert isomorphic(graph, copy) and isomorphic(copy, graph)
            assert canonical_form(copy) == canonical_form(graph)


def test_parallel_edges_and_loops_count() -> None:
    base = LabelledGraph(("0", "+"), ((0, 1, "f1"), (0, 1, "f2"), (1, 1, "flow")))
    variants = [
        LabelledGraph(("0", "+"), ((0, 1, "f1"), (0, 1, "f1"), (1, 1, "flow"))),
        LabelledGraph(("0", "+"), ((0, 1, "f1"), (0, 1, "f2"))),
        LabelledGraph(("0", "+"), ((0, 1, "f1"), (0, 1, "f2"), (0, 0, "flow"))),
        LabelledGraph(("0", "+"), ((0, 1, "f1"), (1, 0, "f2"), (1, 1, "flow"))),
    ]
    for other in variants:
        assert solution_type_hash(other) != solution_type_hash(base)
        assert not isomorphic(base, other)
        assert canonical_form(other) != canonical_form(base)


def test_one_changed_label_changes_the_type() -> None:
    rng = random.Random(1)
    for _ in range(20):
        graph = random_graph(rng, 10, 20)
        s, t, lab = graph.edges[0]
        new_lab = {"flow": "f1", "f1": "f2", "f2": "flow"}[lab]
        edge_changed = LabelledGraph(graph.node_labels, ((s, t, new_lab),) + graph.edges[1:])
        v = rng.randrange(graph.n_nodes)
        new_node = {"+": "-", "-": "0", "0": "+"}[graph.node_labels[v]]
        labels = graph.node_labels[:v] + (new_node,) + graph.node_labels[v + 1 :]
        node_changed = LabelledGraph(labels, graph.edges)
        for other in (edge_changed, node_changed):
            other = shuffled(other, rng)
            assert solution_type_hash(other) != solution_type_hash(graph)
            assert not isomorphic(graph, other)
            assert len(set(assign_solution_types([graph, other]))) == 2


@pytest.mark.parametrize(
    ("a", "b"),
    [
        (cycles([6]), cycles([3, 3])),
        (cycles([4, 4]), cycles([3, 5])),
        (rook_graph(), shrikhande_graph()),
    ],
    ids=["C6-vs-2C3", "2C4-vs-C3+C5", "rook-vs-shrikhande"],
)
def test_wl_indistinguishable_graphs_get_different_types(
    a: LabelledGraph, b: LabelledGraph
) -> None:
    assert solution_type_hash(a) == solution_type_hash(b)
    assert not isomorphic(a, b)
    assert canonical_form(a) != canonical_form(b)
    rng = random.Random(2)
    graphs = [a, shuffled(b, rng), shuffled(a, rng), b]
    names = assign_solution_types(graphs)
    assert names[0] == names[2] and names[1] == names[3] and names[0] != names[1]
    prefix = "T-" + solution_type_hash(a)[:8] + "-"
    assert all(name.startswith(prefix) and len(name) == len(prefix) + 6 for name in names)
    assert assign_solution_types([a])[0] == prefix[:-1]


def test_types_do_not_depend_on_the_order_of_the_graphs() -> None:
    rng = random.Random(3)
    bases = [random_graph(rng, rng.randint(2, 9), rng.randint(1, 18)) for _ in range(6)]
    bases += [cycles([6]), cycles([3, 3])]
    graphs = [shuffled(g, rng) for g in bases for _ in range(3)]
    which = [i for i in range(len(bases)) for _ in range(3)]
    reference = assign_solution_types(graphs)
    for _ in range(10):
        order = list(range(len(graphs)))
        rng.shuffle(order)
        names = assign_solution_types([graphs[i] for i in order])
        assert [names[order.index(i)] for i in range(len(graphs))] == reference
    for i, j in itertools.combinations(range(len(graphs)), 2):
        same = isomorphic(graphs[i], graphs[j])
        assert (reference[i] == reference[j]) == same
        assert same == (which[i] == which[j] or isomorphic(bases[which[i]], bases[which[j]]))


def test_isomorphism_agrees_with_networkx() -> None:
    nx = pytest.importorskip("networkx")

    def same_edges(a: dict, b: dict) -> bool:
        return sorted(d["label"] for d in a.values()) == sorted(d["label"] for d in b.values())

    def to_nx(graph: LabelledGraph):
        g = nx.MultiDiGraph()
        for v, lab in enumerate(graph.node_labels):
            g.add_node(v, label=lab)
        for s, t, lab in graph.edges:
            g.add_edge(s, t, label=lab)
        return g

    rng = random.Random(4)
    for _ in range(150):
        n = rng.randint(1, 7)
        a = random_graph(rng, n, rng.randint(0, 12))
        if rng.random() < 0.5:
            b = shuffled(a, rng)
        else:
            b = shuffled(random_graph(rng, n, len(a.edges)), rng)
        expected = nx.is_isomorphic(
            to_nx(a),
            to_nx(b),
            node_match=lambda x, y: x["label"] == y["label"],
            edge_match=same_edges,
        )
        assert isomorphic(a, b) == expected
        assert (canonical_form(a) == canonical_form(b)) == expected


# -- compaction ---------------------------------------------------------------------------


def test_compaction_merges_bisimilar_nodes() -> None:
    # 0 --f1--> 1 and 0 --f1--> 2: two copies of "wait (label 0), then f2 gives +";
    # 1 flows through 3 (label 0, f2 also gives +) into terminal 4 (label 0, f2 gives -).
    labels = ("0", "0", "0", "0", "0", "0", "+", "0", "-", "0")
    edges = (
        (0, 1, "f1"),
        (0, 2, "f1"),
        (1, 3, FLOW),
        (3, 4, FLOW),
        (2, 4, FLOW),
        (1, 5, "f2"),
        (3, 5, "f2"),
        (2, 5, "f2"),
        (4, 7, "f2"),
        (5, 6, FLOW),
        (6, 9, FLOW),
        (7, 8, FLOW),
        (8, 9, FLOW),
        (9, 9, FLOW),
    )
    compact, mapping, initial = compact_graph(LabelledGraph(labels, edges), 0)
    assert mapping[1] == mapping[2] == mapping[3]  # same label, same f2 outcome, same exit
    assert mapping[4] != mapping[1]  # f2 from the terminal leads elsewhere
    assert mapping[5] != mapping[7]  # "0 then +" differs from "0 then -"
    assert mapping[5] != mapping[6] and mapping[7] != mapping[8]
    assert mapping[6] != mapping[8]
    # the response chains end in the same leaf, but the leaf is not the terminal 4 (which
    # has an f2 edge) although it has the same label
    assert mapping[9] != mapping[4]
    assert compact.n_nodes == 8 and initial == 0 and mapping[0] == 0
    expected = LabelledGraph(
        ("0", "0", "0", "0", "0", "+", "-", "0"),
        (
            (0, 1, "f1"),
            (1, 2, "f2"),
            (1, 3, FLOW),
            (3, 4, "f2"),
            (2, 5, FLOW),
            (4, 6, FLOW),
            (5, 7, FLOW),
            (6, 7, FLOW),
        ),
    )
    assert isomorphic(compact, expected)


def test_compaction_absorbs_silent_runs_and_keeps_label_changes() -> None:
    # A long run of label 0 with the same pulse outcome becomes one node, whatever its
    # length; a + blip in the middle of a run is kept, with the 0s on both sides apart.
    for n in (1, 2, 5, 20):
        labels = ("0",) * n + ("0", "+")
        edges = [(i, i + 1, FLOW) for i in range(n - 1)] + [(n - 1, n, FLOW)]
        edges += [(i, n + 1, "p") for i in range(0, n, 2)] + [(n, n + 1, "p")]
        compact, mapping, _ = compact_graph(LabelledGraph(labels, tuple(edges)), 0)
        assert compact.n_nodes == 2 and len(set(mapping[: n + 1])) == 1
    chain = LabelledGraph(("0", "+", "0", "0"), ((0, 1, FLOW), (1, 2, FLOW), (2, 3, FLOW)))
    compact, mapping, _ = compact_graph(chain, 0)
    assert compact.n_nodes == 3 and mapping[2] == mapping[3] and mapping[0] != mapping[2]


def test_compaction_of_strong_bisimulation_and_reachability() -> None:
    # Without a silent label: the two subtrees below 0 are bisimilar; 5 is unreachable.
    labels = ("0", "+", "+", "-", "-", "0")
    edges = ((0, 1, "a"), (0, 2, "a"), (1, 3, "b"), (2, 4, "b"), (5, 0, "a"))
    compact, mapping, _ = compact_graph(LabelledGraph(labels, edges), 0, silent=None)
    assert list(mapping) == [0, 1, 1, 2, 2, -1]
    assert compact == LabelledGraph(("0", "+", "-"), ((0, 1, "a"), (1, 2, "b")))
    with pytest.raises(ValueError, match="cycle"):
        compact_graph(LabelledGraph(("0", "0"), ((0, 1, FLOW), (1, 0, FLOW))), 0)
    with pytest.raises(ValueError, match="more than one"):
        compact_graph(LabelledGraph(("0", "0", "+"), ((0, 1, FLOW), (0, 2, FLOW))), 0)


def test_compact_graph_is_a_fixed_point() -> None:
    rng = random.Random(5)
    for _ in range(30):
        n = rng.randint(2, 12)
        nxt = [rng.randrange(i + 1, n + 1) if i < n - 1 else -1 for i in range(n)]
        edges = [(i, j, FLOW) for i, j in enumerate(nxt) if 0 <= j < n]
        edges += [(rng.randrange(n), rng.randrange(n), rng.choice("ab")) for _ in range(n)]
        graph = LabelledGraph(tuple(rng.choice("0+") for _ in range(n)), tuple(edges))
        compact, mapping, _ = compact_graph(graph, 0)
        again, mapping2, _ = compact_graph(compact, 0)
        assert again.n_nodes == compact.n_nodes
        assert isomorphic(again, compact)
        assert sorted(set(mapping2)) == list(range(compact.n_nodes))


# -- parameters and task events -------------------------------------------------------------


def test_params_defaults_and_validation() -> None:
    p = ReducedGraphParams()
    assert (p.relax_steps, p.settle_speed, p.merge_tol, p.output_threshold) == (
        500,
        1e-4,
        0.05,
        0.5,
    )
    assert (p.correct_only, p.terminal_pulses) == (True, False)
    assert (p.max_pulses, p.extra_pulses, p.extra_waits) == (0, 0, ())
    assert (p.pulse_grouping, p.pulse_order, p.max_relaxations, p.dtype) == (
        "channel",
        "task",
        50000,
        "float64",
    )
    config = from_mapping(
        ReducedGraphParams, {"extra_waits": [3, 4], "pulse_order": "any"}, "analysis.reduced"
    )
    assert config.extra_waits == (3, 4) and config.pulse_order == "any"
    for key, value in [
        ("relax_steps", 0),
        ("settle_speed", 0.0),
        ("merge_tol", -1.0),
        ("output_threshold", -0.5),
        ("extra_pulses", -1),
        ("max_relaxations", 0),
    ]:
        with pytest.raises(ValueError, match=key):
            ReducedGraphParams(**{key: value})
    with pytest.raises(ConfigError, match="pulse_grouping"):
        from_mapping(ReducedGraphParams, {"pulse_grouping": "amplitude"}, "analysis.reduced")


def test_probe_events_are_the_task_timings() -> None:
    dd = TASKS["delayed_discrimination"]()
    events = probe_events(dd, dd.input_pulses())
    names = dd.input_pulses().names
    probe = dd.probe_set()
    for trial, evs in enumerate(events):
        assert [g for g, _ in evs] == [5, 24]
        f1, f2 = probe.conditions["f1"][trial], probe.conditions["f2"][trial]
        assert [names[k] for _, k in evs] == [f"f1={f1:g}", f"f2={f2:g}"]

    interval = TASKS["interval_discrimination"]()
    events = probe_events(interval, interval.input_pulses())
    c = interval.probe_set().conditions
    assert events == [[(int(a), 0), (int(b) - 2, 1)] for a, b in zip(c["t1"], c["t2"], strict=True)]

    rsg = TASKS["time_reproduction"]()
    events = probe_events(rsg, rsg.input_pulses())
    ts = rsg.probe_set().conditions["ts"]
    assert events == [[(5, 0), (int(t) - 5, 1)] for t in ts]


# -- small real trainings -------------------------------------------------------------------

DD_SEEDS = [0, 1, 2]


@pytest.fixture(scope="module")
def dd_networks(tmp_path_factory: pytest.TempPathFactory) -> list[Path]:
    """Three 32-unit GRUs trained on delayed discrimination (about 20 s, one thread)."""
    folder = tmp_path_factory.mktemp("reduced_dd")
    folders = train_delayed_discrimination_grus(folder, DD_SEEDS, max_iterations=600)
    assert [read_meta(f)["status"] for f in folders] == ["converged"] * len(DD_SEEDS)
    return [f / "model.pt" for f in folders]


def runs(labels: list[str]) -> list[str]:
    """Run-length compression: one entry per run of equal labels."""
    return [lab for i, lab in enumerate(labels) if i == 0 or labels[i - 1] != lab]


def flow_labels(ds: xr.Dataset, node: int) -> list[str]:
    """Labels along the flow path from ``node`` (flow edges are deterministic)."""
    flow = {
        int(s): int(t)
        for s, t, p in zip(
            ds.reduced_edge_source.values,
            ds.reduced_edge_target.values,
            ds.reduced_edge_pulse.values,
            strict=True,
        )
        if p == FLOW
    }
    labels, seen = [], set()
    while node not in seen:
        seen.add(node)
        labels.append(str(ds.reduced_node_label.values[node]))
        if node not in flow:
            break
        node = flow[node]
    return labels


@pytest.mark.slow
@pytest.mark.usefixtures("one_thread")
def test_delayed_discrimination_graphs(dd_networks: list[Path], tmp_path: Path) -> None:
    task = TASKS["delayed_discrimination"]()
    probe = task.probe_set()
    answer = np.where(probe.conditions["f1"] > probe.conditions["f2"], "+", "-")
    pulses = task.input_pulses()
    (wait1, k1), (wait2, k2) = probe_events(task, pulses)[0]
    last_pulse_step = wait1 + pulses.steps[k1] + wait2 + pulses.steps[k2] - 1
    graphs, timings = [], []
    for path in dd_networks:
        model = load_models([path])
        with torch.no_grad():
            _, outputs = model(probe.inputs[None])
        correct = task.score(outputs[0], probe).numpy().astype(bool)
        assert correct.mean() >= 0.8
        n_answered = 0
        started = time.perf_counter()
        ds = reduced_dynamics_graph(model, task)
        timings.append(time.perf_counter() - started)
        assert ds.attrs["truncated"] == 0
        assert ds.attrs["waits"] == "[5, 24]"
        assert json.loads(ds.attrs["pulse_groups"]) == ["f1"] * 9 + ["f2"] * 9
        graph = graph_from_dataset(ds)
        graphs.append(graph)
        n = ds.sizes["reduced_node"]
        src, pulse = ds.reduced_edge_source.values, ds.reduced_edge_pulse.values
        depth, label = ds.reduced_node_pulse_depth.values, ds.reduced_node_label.values

        # one initial node, everything reachable, flow deterministic, terminals have none
        assert ds.reduced_node_initial.values.sum() == 1 and (depth >= 0).all()
        flow_out = np.bincount(src[pulse == FLOW], minlength=n)
        assert (flow_out <= 1).all()
        assert ((flow_out == 0) == (ds.reduced_node_kind.values != "transient")).all()
        assert set(pulse) <= {"f1", "f2", FLOW}
        # f1 from the initial node, f2 only after f1; the output is 0 until f2
        assert set(depth[src[pulse == "f1"]]) == {0} and set(depth[src[pulse == "f2"]]) == {1}
        assert set(label[depth < 2]) == {"0"}
        # both answers are reachable after the two pulses
        assert {"+", "-"} <= set(label[depth == 2])

        # the graph holds the trials answered correctly (a correct sign shown above the
        # output threshold); each of them is a path of the graph that ends in a node
        # whose flow passes through the right answer
        shown = (outputs[0, :, :, 0] * probe.targets[:, :, 0] >= 0.5).any(dim=1).numpy()
        explored = correct & shown
        np.testing.assert_array_equal(ds.probe_correct.values, explored)
        assert ds.attrs["n_probe_errors"] == int((~explored).sum())
        assert ds.attrs["n_probe_trials_explored"] == int(explored.sum())
        first, second = ds.probe_event_node.values[explored].T
        assert (first >= 0).all() and (second >= 0).all()
        assert (ds.probe_event_target.values[explored] >= 0).all()
        assert (depth[first] == 0).all() and (depth[second] == 1).all()
        # the flow after f2 replays the probe trial: its output labels, run-length
        # compressed, begin with those of the probe's output from the end of f2 on
        after_f2 = outputs[0, :, last_pulse_step:, 0].numpy()
        probe_labels = np.where(after_f2 >= 0.5, "+", np.where(after_f2 <= -0.5, "-", "0"))
        for trial in np.flatnonzero(explored):
            seen = runs(flow_labels(ds, int(ds.probe_event_target.values[trial, 1])))
            expected = runs(list(probe_labels[trial]))
            assert seen[: len(expected)] == expected, (trial, seen, expected)
            assert answer[trial] in expected, (trial, expected)
            n_answered += 1
        assert n_answered >= 0.75 * len(answer)
        assert ds.solution_hash.item() == solution_type_hash(graph)

        # the dataset merges with the network's probe trajectories and survives netCDF
        merged = xr.merge([probe_trajectories(model, task)[0], ds], compat="equals", join="outer")
        assert merged.sizes["probe_trial"] == len(answer)
        file = tmp_path / f"{path.parent.name}.nc"
        ds.to_netcdf(file)
        with xr.open_dataset(file) as back:
            assert isomorphic(graph_from_dataset(back), graph)
            assert back.reduced_node_state.dims == ("reduced_node", "state")
            assert back.probe_event_node.dims == ("probe_trial", "probe_event")

    print(
        f"\ndelayed discrimination, GRU-32 seeds {DD_SEEDS}: classes "
        f"{assign_solution_types(graphs)}, nodes {[g.n_nodes for g in graphs]}, "
        f"{', '.join(f'{t:.2f} s' for t in timings)}"
    )


@pytest.mark.slow
@pytest.mark.usefixtures("one_thread")
def test_graph_is_deterministic_and_picks_the_network_of_an_ensemble(
    dd_networks: list[Path],
) -> None:
    task = TASKS["delayed_discrimination"]()
    ensemble = load_models(dd_networks)
    alone = reduced_dynamics_graph(load_models([dd_networks[1]]), task)
    picked = reduced_dynamics_graph(ensemble, task, network=1)
    again = reduced_dynamics_graph(load_models([dd_networks[1]]), task)
    for ds in (picked, again):
        assert ds.solution_hash.item() == alone.solution_hash.item()
        for name in (
            "reduced_node_label",
            "reduced_edge_source",
            "reduced_edge_target",
            "reduced_edge_pulse",
        ):
            np.testing.assert_array_equal(ds[name].values, alone[name].values)
        np.testing.assert_allclose(
            ds.reduced_node_state.values, alone.reduced_node_state.values, atol=1e-12
        )
    with pytest.raises(ValueError, match="network 3"):
        reduced_dynamics_graph(ensemble, task, network=3)


@pytest.mark.slow
@pytest.mark.usefixtures("one_thread")
def test_options_change_the_exploration_not_the_answers(dd_networks: list[Path]) -> None:
    task = TASKS["delayed_discrimination"]()
    model = load_models([dd_networks[0]])
    base = reduced_dynamics_graph(model, task)
    variants = {
        "any": dataclasses.replace(ReducedGraphParams(), pulse_order="any"),
        "pulse": dataclasses.replace(ReducedGraphParams(), pulse_grouping="pulse"),
        "unmerged": dataclasses.replace(ReducedGraphParams(), merge_tol=0.0),
        "all_trials": dataclasses.replace(ReducedGraphParams(), correct_only=False),
        "terminal": dataclasses.replace(ReducedGraphParams(), terminal_pulses=True),
        "waits": dataclasses.replace(ReducedGraphParams(), extra_waits=(10,)),
        "extra": dataclasses.replace(ReducedGraphParams(), extra_pulses=1, max_relaxations=300),
    }
    for name, params in variants.items():
        ds = reduced_dynamics_graph(model, task, params)
        label, depth = ds.reduced_node_label.values, ds.reduced_node_pulse_depth.values
        assert {"+", "-"} <= set(label), name
        assert (ds.probe_event_target.values[ds.probe_correct.values] >= 0).all(), name
        if name == "any":
            assert ds.attrs["n_relaxations"] > base.attrs["n_relaxations"]
            # f2 first, or f1 twice, is explored too
            assert (
                depth[ds.reduced_edge_source.values[ds.reduced_edge_pulse.values == "f2"]] == 0
            ).any()
        if name == "pulse":
            assert {p for p in ds.reduced_edge_pulse.values if p != FLOW} <= set(
                task.input_pulses().names
            )
        if name == "all_trials":
            assert ds.attrs["n_probe_trials_explored"] == ds.sizes["probe_trial"]
            assert (ds.probe_event_target.values >= 0).all()
        if name == "terminal":
            assert ds.attrs["n_relaxations"] > base.attrs["n_relaxations"]
        if name == "waits":
            assert ds.attrs["waits"] == "[5, 10, 24]"
            # f1 after the waits 5 and 10 (no pulses at terminal states by default)
            assert json.loads(ds.attrs["relaxations_per_level"])[1] == 2 * 9
        if name == "extra":
            # a new trial after the first: f1 again, until the budget runs out
            # (the state after it may join the nodes of the first trial's f1)
            assert ds.attrs["max_pulses_per_path"] == 3
            f1_sources = ds.reduced_edge_source.values[ds.reduced_edge_pulse.values == "f1"]
            assert (depth[f1_sources] == 2).any()
            assert ds.attrs["truncated"] == 1 and ds.attrs["n_relaxations"] <= 300
        else:
            assert ds.attrs["truncated"] == 0
    with pytest.raises(ValueError, match="no input pulses"):
        reduced_dynamics_graph(model, TASKS["cdi"]())
