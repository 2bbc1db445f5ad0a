"""Tests of the topology distances: graph edit distance bound and fixed-point signature."""

from __future__ import annotations

import networkx as nx
import numpy as np
import pytest
import torch
import xarray as xr

from rnn_analysis.analysis.fixed_points import FixedPointParams, find_fixed_points
from rnn_analysis.analysis.reduced_graph import LabelledGraph, isomorphic
from rnn_analysis.analysis.topology import TopologyParams, readout_labels, topology_graph
from rnn_analysis.similarity import METRICS, MissingRepresentation, SimilarityMetric, topology
from rnn_analysis.similarity.topology import (
    FixedPointSignature,
    PreparedGraph,
    TopologyDistance,
    edit_path_cost,
    fixed_point_signature,
    isomorphism_classes,
    topology_labelled_graph,
)
from tests.test_topology import flip_pulses, independent_units, uniform_probe, zero_input

EDGE_LABELS = ("heteroclinic", "pulse a", "pulse b")


def random_graph(
    rng: np.random.Generator, n: int, n_edges: int, n_labels: int = 3, loops: bool = True
) -> LabelledGraph:
    """Random labelled multigraph; parallel edges and loops allowed."""
    labels = tuple(f"c0 node{k}" for k in rng.integers(0, n_labels, n))
    edges = []
    while len(edges) < n_edges and n:
        s, t = (int(v) for v in rng.integers(0, n, 2))
        if s != t or loops:
            edges.append((s, t, str(rng.choice(EDGE_LABELS))))
    return LabelledGraph(labels, tuple(edges))


def shuffled(rng: np.random.Generator, graph: LabelledGraph) -> LabelledGraph:
    """The same graph with its nodes renumbered and its edges listed in another order."""
    permuted = graph.permuted(rng.permutation(graph.n_nodes).tolist())
    edges = list(permuted.edges)
    rng.shuffle(edges)
    return LabelledGraph(permuted.node_labels, tuple(edges))


def relabelled(graph: LabelledGraph, node: int, label: str) -> LabelledGraph:
    labels = list(graph.node_labels)
    labels[node] = label
    return LabelledGraph(tuple(labels), graph.edges)


def with_edge(graph: LabelledGraph, edge: tuple[int, int, str]) -> LabelledGraph:
    return LabelledGraph(graph.node_labels, graph.edges + (edge,))


def to_networkx(graph: LabelledGraph) -> nx.DiGraph:
    out = nx.DiGraph()
    for i, label in enumerate(graph.node_labels):
        out.add_node(i, label=label)
    for s, t, label in graph.edges:
        assert not out.has_edge(s, t), "networkx's graph edit distance needs simple graphs"
        out.add_edge(s, t, label=label)
    return out


def exact_ged(a: LabelledGraph, b: LabelledGraph) -> float:
    """Exact graph edit distance with unit costs (networkx, exponential)."""

    def differ(x: dict, y: dict) -> float:
        return float(x["label"] != y["label"])

    def one(_: dict) -> float:
        return 1.0

    return nx.graph_edit_distance(
        to_networkx(a),
        to_networkx(b),
        node_subst_cost=differ,
        node_del_cost=one,
        node_ins_cost=one,
        edge_subst_cost=differ,
        edge_del_cost=one,
        edge_ins_cost=one,
    )


def size(*graphs: LabelledGraph) -> int:
    return sum(g.n_nodes + len(g.edges) for g in graphs)


def simple_graph(rng: np.random.Generator, n: int, p: float, n_labels: int) -> LabelledGraph:
    labels = tuple(f"n{k}" for k in rng.integers(0, n_labels, n))
    edges = [
        (s, t, str(rng.choice(EDGE_LABELS[:2])))
        for s in range(n)
        for t in range(n)
        if rng.random() < p
    ]
    return LabelledGraph(labels, tuple(edges))


@pytest.fixture
def rng() -> np.random.Generator:
    return np.random.default_rng(6)


@pytest.fixture(scope="module")
def two_units() -> tuple:
    """Two independent bistable units: their fixed points and topology graph."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    model = independent_units([2.0, 2.5])
    (fp,) = find_fixed_points(
        model, uniform_probe(2), zero_input(2), FixedPointParams(n_initial_states=64)
    )
    ds = topology_graph(model, fp, zero_input(2), flip_pulses(2), TopologyParams())
    torch.set_num_threads(before)
    assert fp.sizes["fixed_point"] == 9
    return model, fp, ds


def reorder(ds: xr.Dataset, nodes: np.ndarray, edges: np.ndarray) -> xr.Dataset:
    """The topology dataset with node ``nodes[i]`` as node i and edges in order ``edges``."""
    new_index = np.argsort(nodes)
    out = ds.isel(topology_node=nodes, topology_edge=edges)
    target = out["edge_target"].values
    out["edge_source"].values[:] = new_index[out["edge_source"].values]
    out["edge_target"].values[:] = np.where(target >= 0, new_index[target], -1)
    return out


# -- the topology graph as a representation ---------------------------------------------


def test_registered_in_the_topology_family() -> None:
    assert METRICS["topology"] is TopologyDistance
    assert METRICS["fixed_point_signature"] is FixedPointSignature
    for cls in (TopologyDistance, FixedPointSignature):
        assert cls.family == "topology" and cls().attrs()["family"] == "topology"
        assert cls().hyperparameters() == {}


def test_representation_of_a_real_topology_graph(two_units) -> None:
    _, _, ds = two_units
    graph = TopologyDistance().representation(ds)
    assert graph.n_nodes == 9 and len(graph.edges) == ds.sizes["topology_edge"]
    labels = ds["node_label"].values
    assert list(graph.node_labels) == [f"c0 {lab}" for lab in labels]
    assert "c0 stable +-" in graph.node_labels and "c0 saddle2 00" in graph.node_labels
    edge_labels = {lab for *_, lab in graph.edges}
    assert edge_labels == {"heteroclinic"} | {f"pulse {p}" for p in flip_pulses(2).names}
    nodes = [
        f"c0 {labels[s]} -> c0 {labels[t]}"
        for s, t in ds[["edge_source", "edge_target"]].to_array().values.T
    ]
    graph_edges = [f"{graph.node_labels[s]} -> {graph.node_labels[t]}" for s, t, _ in graph.edges]
    assert sorted(nodes) == sorted(graph_edges)


def test_runs_that_reach_no_node_end_at_one_node_per_condition_and_outcome(two_units) -> None:
    model, fp, _ = two_units
    missing = int(np.flatnonzero(readout_labels(fp["readout"].values, 0.5) == "++")[0])
    keep = [i for i in range(fp.sizes["fixed_point"]) if i != missing]
    ds = topology_graph(model, fp.isel(fixed_point=keep), zero_input(2), flip_pulses(2))
    n_elsewhere = int((ds["edge_outcome"].values == "elsewhere").sum())
    assert n_elsewhere > 1
    graph = topology_labelled_graph(ds)
    assert graph.n_nodes == 8 + 1 and graph.node_labels[-1] == "c0 elsewhere"
    assert sum(t == 8 for _, t, _ in graph.edges) == n_elsewhere


def test_reordered_real_graph_is_at_distance_zero(two_units, rng) -> None:
    _, _, ds = two_units
    metric = TopologyDistance()
    nodes = rng.permutation(ds.sizes["topology_node"])
    edges = rng.permutation(ds.sizes["topology_edge"])
    other = reorder(ds, nodes, edges)
    assert not np.array_equal(other["node_label"].values, ds["node_label"].values)
    a, b = metric.representation(ds), metric.representation(other)
    assert a != b and isomorphic(a, b)
    assert metric(a, b) == 0.0
    # Flipping the sign of every eigenvector swaps the direction labels: still 0.
    flipped = ds.copy(deep=True)
    flipped["edge_label"].values[:] = [
        lab.translate(str.maketrans("+-", "-+")) if kind == "heteroclinic" else lab
        for lab, kind in zip(ds["edge_label"].values, ds["edge_kind"].values, strict=True)
    ]
    assert metric(a, metric.representation(flipped)) == 0.0
    # Moving one pulse edge to another target is not.
    e = int(np.flatnonzero(ds["edge_kind"].values == "pulse")[0])
    moved = ds.copy(deep=True)
    moved["edge_target"].values[e] = (int(ds["edge_target"].values[e]) + 1) % 4
    assert metric(a, metric.representation(moved)) > 0.0


def test_missing_and_empty_representations(two_units) -> None:
    model, fp, ds = two_units
    metric = TopologyDistance()
    skipped = xr.Dataset(attrs={"analysis_skipped": "non-finite weights"})
    with pytest.raises(MissingRepresentation, match="non-finite weights"):
        metric.representation(skipped)
    with pytest.raises(MissingRepresentation, match="edge_target"):
        metric.representation(ds.drop_vars("edge_target"))
    with pytest.raises(MissingRepresentation, match="node_label"):
        metric.representation(fp)
    empty = topology_graph(model, fp.isel(fixed_point=[]), zero_input(2), flip_pulses(2))
    graph = metric.representation(empty)
    assert graph == LabelledGraph(())
    assert metric(graph, graph) == 0.0
    assert metric(graph, metric.representation(ds)) == 1.0
    with pytest.raises(ValueError, match="network 1: .*LabelledGraph"):
        metric.pairwise([graph, "c0 stable"])


# -- the distance -------------------------------------------------------------------------


def test_permuted_nodes_and_edges_give_zero(rng) -> None:
    metric = TopologyDistance()
    for _ in range(20):
        graph = random_graph(rng, int(rng.integers(1, 12)), int(rng.integers(0, 30)))
        assert metric(graph, shuffled(rng, graph)) == 0.0
    # A symmetric graph: many identical isolated nodes and a ring of equal labels.
    ring = LabelledGraph(("c0 x",) * 8, tuple((i, (i + 1) % 8, "pulse a") for i in range(8)))
    assert metric(ring, shuffled(rng, ring)) == 0.0
    isolated = LabelledGraph(("c0 stable 0",) * 40)
    assert metric(isolated, shuffled(rng, isolated)) == 0.0
    assert metric(isolated, LabelledGraph(("c0 stable 0",) * 39)) == pytest.approx(1 / 79)


def test_one_edit_gives_the_exact_normalised_cost(rng) -> None:
    metric = TopologyDistance()
    graph = LabelledGraph(
        ("c0 stable +", "c0 stable -", "c0 saddle1 0", "c0 elsewhere"),
        (
            (2, 0, "heteroclinic"),
            (2, 1, "heteroclinic"),
            (0, 1, "pulse a"),
            (1, 0, "pulse b"),
            (0, 0, "pulse b"),
            (1, 3, "pulse a"),
        ),
    )
    n = size(graph)
    assert metric(graph, relabelled(graph, 3, "c0 unresolved")) == pytest.approx(1 / (2 * n))
    assert metric(graph, with_edge(graph, (3, 2, "pulse a"))) == pytest.approx(1 / (2 * n + 1))
    assert metric(graph, with_edge(graph, (0, 1, "pulse a"))) == pytest.approx(1 / (2 * n + 1))
    edges = list(graph.edges)
    edges[edges.index((0, 1, "pulse a"))] = (0, 1, "pulse b")
    assert metric(graph, LabelledGraph(graph.node_labels, tuple(edges))) == pytest.approx(
        1 / (2 * n)
    )
    # Deleting a node deletes its edges too.
    smaller = LabelledGraph(graph.node_labels[:3], tuple(e for e in graph.edges if 3 not in e))
    assert metric(graph, smaller) == pytest.approx(2 / (n + size(smaller)))
    # Shuffling either side changes nothing.
    assert metric(shuffled(rng, graph), shuffled(rng, smaller)) == metric(graph, smaller)


def test_multiset_overlap_by_count_levels(rng) -> None:
    a = rng.poisson(1.0, (7, 5)).astype(float)
    b = rng.poisson(1.5, (4, 5)).astype(float)
    assert a.max() > 1 and b.max() > 1
    expected = np.minimum(a[:, None, :], b[None, :, :]).sum(axis=-1)
    np.testing.assert_array_equal(topology._overlap(a, b), expected)
    assert topology._overlap(a[:, :0], b[:, :0]).shape == (7, 4)


def test_edit_path_cost_of_given_mappings() -> None:
    a = PreparedGraph.from_graph(
        LabelledGraph(("x", "y"), ((0, 1, "e"), (0, 1, "e"), (0, 1, "f"), (1, 1, "e")))
    )
    b = PreparedGraph.from_graph(LabelledGraph(("y", "x", "z"), ((1, 0, "e"), (1, 0, "g"))))
    ia, ib = list(a.labels), list(b.labels)
    mapping = np.array([ib.index("x"), ib.index("y")])
    if ia != ["x", "y"]:
        mapping = mapping[::-1]
    # {e, e, f} → {e, g}: keep e, substitute one, delete one (2); loop deleted (1); z in (1).
    assert edit_path_cost(a, b, mapping) == 4
    # Deleting both nodes and inserting all three: 2 + 4 + 3 + 2.
    assert edit_path_cost(a, b, np.array([-1, -1])) == 11


def test_bound_is_at_least_the_exact_distance_and_equal_on_easy_cases(rng) -> None:
    metric = TopologyDistance()
    for _ in range(25):
        a = simple_graph(rng, int(rng.integers(1, 6)), 0.3, 3)
        b = simple_graph(rng, int(rng.integers(1, 6)), 0.3, 3)
        exact = exact_ged(a, b) / size(a, b)
        assert metric(a, b) >= exact - 1e-12
        assert metric(a, b) > 0.0 or isomorphic(a, b)
    # One edge fewer between nodes of equal labels: the neighbourhoods pick the mapping.
    a = LabelledGraph(
        ("c", "c", "c", "a", "b"),
        ((0, 4, "y"), (1, 0, "y"), (3, 2, "x"), (4, 1, "y"), (4, 2, "x")),
    )
    b = LabelledGraph(a.node_labels, a.edges[:1] + a.edges[2:])
    assert exact_ged(a, b) == 1
    assert metric(a, b) == pytest.approx(1 / size(a, b))
    # One edit of a graph whose nodes all have their own label: the bound is exact.
    for _ in range(10):
        a = simple_graph(rng, 5, 0.3, 1)
        a = LabelledGraph(tuple(f"n{i}" for i in range(5)), a.edges)
        free = [
            (s, t) for s in range(5) for t in range(5) if (s, t) not in {e[:2] for e in a.edges}
        ]
        s, t = free[int(rng.integers(len(free)))]
        for b in (
            relabelled(a, int(rng.integers(5)), "n9"),
            with_edge(a, (s, t, "pulse a")),
            LabelledGraph(a.node_labels + ("n7",), a.edges + ((4, 5, "heteroclinic"),)),
        ):
            exact = exact_ged(a, b)
            assert exact >= 1
            assert metric(a, b) == pytest.approx(exact / size(a, b))


def test_pairwise_is_symmetric_bounded_and_zero_only_for_isomorphic_graphs(rng) -> None:
    metric = TopologyDistance()
    base = [random_graph(rng, int(rng.integers(0, 9)), int(rng.integers(0, 20))) for _ in range(8)]
    graphs = base + [shuffled(rng, g) for g in base[:4]]
    d = metric.pairwise(graphs)
    np.testing.assert_array_equal(d, d.T)
    np.testing.assert_array_equal(np.diag(d), 0.0)
    assert (d >= 0).all() and (d <= 1).all()
    for i in range(len(graphs)):
        for j in range(len(graphs)):
            assert (d[i, j] == 0.0) == isomorphic(graphs[i], graphs[j]), (i, j)
            assert metric(graphs[i], graphs[j]) == metric(graphs[j], graphs[i])


def test_classes_give_the_same_matrix_as_the_per_pair_loop(rng, monkeypatch) -> None:
    metric = TopologyDistance()
    base = [random_graph(rng, int(rng.integers(3, 10)), int(rng.integers(2, 25))) for _ in range(4)]
    graphs = [shuffled(rng, base[k]) for k in rng.integers(0, 4, 30)]
    classes = isomorphism_classes(graphs)
    assert classes.max() == 3
    prepared = [metric.prepare(g) for g in graphs]
    calls = []
    bound = topology._normalised_bound
    monkeypatch.setattr(topology, "_normalised_bound", lambda *a: calls.append(1) or bound(*a))
    batched = np.triu(metric._upper_triangle(prepared, torch.device("cpu")), k=1)
    assert len(calls) == 4 * 3 / 2
    loop = SimilarityMetric._upper_triangle(metric, prepared, torch.device("cpu"))
    np.testing.assert_array_equal(batched, loop)
    expected = np.array([[i != j for j in classes] for i in classes])
    np.testing.assert_array_equal(np.triu(batched > 0, k=1), np.triu(expected, k=1))


# -- the fixed-point signature -----------------------------------------------------------


def fixed_point_dataset(kind: list[str], n_unstable: list[int], condition: list[int]) -> xr.Dataset:
    fp = ("fixed_point",)
    return xr.Dataset(
        {
            "kind": (fp, np.array(kind, dtype=str)),
            "n_unstable": (fp, np.array(n_unstable, dtype=np.int64)),
            "condition": (fp, np.array(condition, dtype=np.int64)),
        }
    )


def test_signature_distance_by_hand() -> None:
    metric = FixedPointSignature()
    a = {"c0 stable": 8, "c0 saddle1": 2}
    b = {"c0 stable": 6, "c0 saddle2": 1, "c1 stable": 0}
    assert metric(a, b) == pytest.approx((2 + 2 + 1) / (10 + 7))
    assert metric(a, a) == 0.0
    assert metric({}, {}) == 0.0
    assert metric(a, {"c1 stable": 3}) == 1.0
    assert metric(a, {}) == 1.0
    d = metric.pairwise([a, b, {}, {"c1 stable": 3}])
    np.testing.assert_allclose(d[0], [0.0, 5 / 17, 1.0, 1.0])
    assert d[2, 2] == 0.0


def test_signature_batched_equals_the_loop(rng) -> None:
    metric = FixedPointSignature()
    keys = [f"c{c} {s}" for c in range(3) for s in ("stable", "saddle1", "saddle2")]
    counts = [
        {k: int(n) for k, n in zip(keys, rng.poisson(rng.uniform(0, 2), len(keys)), strict=True)}
        for _ in range(25)
    ] + [{}, {}]
    d = metric.pairwise(counts)
    prepared = [metric.prepare(c) for c in counts]
    loop = SimilarityMetric._upper_triangle(metric, prepared, torch.device("cpu"))
    np.testing.assert_allclose(np.triu(d, k=1), loop, rtol=0, atol=1e-15)
    np.testing.assert_array_equal(d, d.T)
    assert (d >= 0).all() and (d <= 1).all() and d[-1, -2] == 0.0


@pytest.mark.parametrize(
    "device",
    [
        "cpu",
        "auto",
        pytest.param(
            "cuda",
            marks=pytest.mark.skipif(not torch.cuda.is_available(), reason="no GPU visible"),
        ),
    ],
)
def test_signature_on_device(device: str) -> None:
    counts = [{"c0 stable": 8, "c0 saddle1": 2}, {"c0 stable": 6, "c0 saddle2": 1}, {}]
    d = FixedPointSignature().pairwise(counts, device=device)
    np.testing.assert_allclose(d, [[0, 5 / 17, 1], [5 / 17, 0, 1], [1, 1, 0]], atol=1e-15)


def test_signature_representation(two_units) -> None:
    metric = FixedPointSignature()
    _, fp, _ = two_units
    assert metric.representation(fp) == {"c0 saddle1": 4, "c0 saddle2": 1, "c0 stable": 4}
    ds = fixed_point_dataset(
        ["fixed", "fixed", "slow", "fixed", "fixed"], [0, 1, 0, 0, 3], [0, 0, 0, 2, 2]
    )
    assert fixed_point_signature(ds) == {
        "c0 saddle1": 1,
        "c0 stable": 1,
        "c2 saddle3": 1,
        "c2 stable": 1,
    }
    assert metric.representation(fixed_point_dataset([], [], [])) == {}
    with pytest.raises(MissingRepresentation, match="skipped"):
        metric.representation(xr.Dataset(attrs={"analysis_skipped": "training failed: x"}))
    with pytest.raises(MissingRepresentation, match="n_unstable"):
        metric.representation(ds.drop_vars("n_unstable"))
    with pytest.raises(ValueError, match="network 1: count of 'c0 stable'"):
        metric.pairwise([{"c0 stable": 1}, {"c0 stable": -1}])
    with pytest.raises(ValueError, match="network 0: count of 'c0 stable'"):
        metric.pairwise([{"c0 stable": 1.5}, {}])
    with pytest.raises(ValueError, match="network 2: .*mapping"):
        metric.pairwise([{}, {}, [1, 2]])
