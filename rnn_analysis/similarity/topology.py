"""Topology distances: topology graphs and fixed-point signatures of two networks.

Both compare what the dynamics analysis found, not where it lies in state space: the
order of the fixed points and their coordinates play no part.

- :class:`TopologyDistance` (``"topology"``) compares the topology graphs of
  :func:`rnn_analysis.analysis.topology.topology_graph` as labelled directed
  multigraphs (:class:`~rnn_analysis.analysis.labelled_graph.LabelledGraph`): 0 exactly
  for isomorphic graphs, otherwise a normalised graph edit distance, computed as the
  deterministic upper bound of the bipartite assignment method (Riesen & Bunke 2009).
- :class:`FixedPointSignature` (``"fixed_point_signature"``) compares the counts of
  fixed points per static-input condition and stability type with the Bray–Curtis
  dissimilarity.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, NamedTuple

import numpy as np
import torch
import xarray as xr
from numpy.typing import NDArray
from scipy.optimize import linear_sum_assignment

from rnn_analysis.analysis.labelled_graph import (
    LabelledGraph,
    adjacency,
    isomorphic,
    label_colours,
    refine_colours,
    solution_type_hash,
)
from rnn_analysis.analysis.topology import stability_labels
from rnn_analysis.similarity.base import METRICS, MissingRepresentation, SimilarityMetric

__all__ = [
    "FixedPointSignature",
    "PreparedGraph",
    "TopologyDistance",
    "edit_path_cost",
    "fixed_point_signature",
    "isomorphism_classes",
    "topology_labelled_graph",
]

#: Variables of the topology graph that :func:`topology_labelled_graph` reads.
GRAPH_VARIABLES = (
    "node_label",
    "node_condition",
    "edge_source",
    "edge_target",
    "edge_kind",
    "edge_label",
    "edge_outcome",
    "edge_condition",
)

#: Variables of the fixed-point dataset that :func:`fixed_point_signature` reads.
FIXED_POINT_VARIABLES = ("kind", "n_unstable", "condition")


def _skipped(analysis: xr.Dataset) -> None:
    reason = analysis.attrs.get("analysis_skipped")
    if reason is not None:
        raise MissingRepresentation(f"analysis skipped ({reason})")


def topology_labelled_graph(ds: xr.Dataset) -> LabelledGraph:
    """The topology graph of a dataset as a labelled directed multigraph.

    Node ``i`` of the topology graph keeps index ``i`` and is labelled
    ``"c<condition> <node_label>"``, e.g. ``"c0 stable +-+"`` or ``"c2 saddle1 0+"``.
    Runs that reached no node (``edge_target`` −1) end at one extra node per condition
    and outcome, labelled ``"c<condition> <outcome>"`` (``"c0 unresolved"``; the extra
    nodes of :func:`~rnn_analysis.analysis.topology.to_networkx`), numbered after the
    fixed points in order of (condition, outcome). A pulse edge is labelled
    ``"pulse <pulse name>"``; a heteroclinic edge ``"heteroclinic"``, without the mode
    index or the direction, which depend on the order and the signs of the eigenvectors
    (an edge of another kind is labelled by its kind).

    Parameters
    ----------
    ds : xarray.Dataset
        A dataset holding the variables of
        :func:`~rnn_analysis.analysis.topology.topology_graph` (alone or merged into a
        network's analysis dataset).

    Returns
    -------
    LabelledGraph
        Empty for an empty topology graph.

    Raises
    ------
    ValueError
        If an edge refers to a node that does not exist.
    """
    node_label = np.asarray(ds["node_label"].values).astype(str).reshape(-1)
    node_condition = np.asarray(ds["node_condition"].values, dtype=np.int64).reshape(-1)
    source = np.asarray(ds["edge_source"].values, dtype=np.int64).reshape(-1)
    target = np.asarray(ds["edge_target"].values, dtype=np.int64).reshape(-1)
    kind = np.asarray(ds["edge_kind"].values).astype(str).reshape(-1)
    edge_label = np.asarray(ds["edge_label"].values).astype(str).reshape(-1)
    outcome = np.asarray(ds["edge_outcome"].values).astype(str).reshape(-1)
    edge_condition = np.asarray(ds["edge_condition"].values, dtype=np.int64).reshape(-1)
    n = len(node_label)
    bad = np.flatnonzero((source < 0) | (source >= n) | (target < -1) | (target >= n))
    if len(bad):
        e = int(bad[0])
        raise ValueError(
            f"topology edge {e} joins node {source[e]} to node {target[e]}, "
            f"but the graph has {n} nodes"
        )
    labels = [f"c{c} {lab}" for c, lab in zip(node_condition, node_label, strict=True)]
    nowhere = sorted(
        {(int(c), str(o)) for c, o, t in zip(edge_condition, outcome, target, strict=True) if t < 0}
    )
    extra = {key: n + i for i, key in enumerate(nowhere)}
    labels += [f"c{c} {o}" for c, o in nowhere]
    edges = [
        (
            int(s),
            int(t) if t >= 0 else extra[(int(c), str(o))],
            f"pulse {lab}" if k == "pulse" else str(k),
        )
        for s, t, k, lab, o, c in zip(
            source, target, kind, edge_label, outcome, edge_condition, strict=True
        )
    ]
    return LabelledGraph(tuple(labels), tuple(edges))


@dataclass(frozen=True)
class PreparedGraph:
    """A topology graph ready for comparison.

    Attributes
    ----------
    graph : LabelledGraph
        The graph with its nodes sorted by their colour under colour refinement (an
        order that does not depend on the order of the input nodes, up to nodes that
        refinement cannot tell apart).
    hash : str
        :func:`~rnn_analysis.analysis.reduced_graph.solution_type_hash` of the graph.
    labels : ndarray of str
        Node labels [n_nodes].
    source, target : ndarray of int
        Edge end points [n_edges].
    edge_labels : ndarray of str
        Edge labels [n_edges].
    """

    graph: LabelledGraph
    hash: str
    labels: NDArray[np.str_]
    source: NDArray[np.int64]
    target: NDArray[np.int64]
    edge_labels: NDArray[np.str_]

    @property
    def n_nodes(self) -> int:
        return len(self.labels)

    @property
    def n_edges(self) -> int:
        return len(self.source)

    @classmethod
    def from_graph(cls, graph: LabelledGraph) -> PreparedGraph:
        out, into = adjacency(graph)
        colours = refine_colours(label_colours(graph.node_labels), out, into)
        graph = graph.permuted(np.argsort(colours, kind="stable").tolist())
        edges = np.array([(s, t) for s, t, _ in graph.edges], dtype=np.int64).reshape(-1, 2)
        return cls(
            graph=graph,
            hash=solution_type_hash(graph),
            labels=np.array(graph.node_labels, dtype=str).reshape(-1),
            source=edges[:, 0],
            target=edges[:, 1],
            edge_labels=np.array([lab for *_, lab in graph.edges], dtype=str).reshape(-1),
        )


class _Encoded(NamedTuple):
    """A graph with labels as integer codes of a vocabulary shared by the graphs compared.

    ``out_counts``/``in_counts`` [n_nodes, n_edge_labels] count each node's outgoing and
    incoming edges per label; ``token_node``/``token`` list each node's neighbourhood
    items (direction, edge label, label of the node at the other end) as integer codes.
    """

    labels: NDArray[np.int64]
    source: NDArray[np.int64]
    target: NDArray[np.int64]
    edge_labels: NDArray[np.int64]
    out_counts: NDArray[np.float64]
    in_counts: NDArray[np.float64]
    token_node: NDArray[np.int64]
    token: NDArray[np.int64]

    @property
    def n_nodes(self) -> int:
        return len(self.labels)

    @property
    def n_edges(self) -> int:
        return len(self.source)


def _codes(arrays: Sequence[NDArray]) -> tuple[list[NDArray[np.int64]], int]:
    """Integer codes of the values of several arrays over their joint vocabulary, and its size."""
    if not any(len(a) for a in arrays):
        return [np.zeros(0, dtype=np.int64) for _ in arrays], 0
    vocabulary, inverse = np.unique(np.concatenate(arrays), return_inverse=True)
    splits = np.cumsum([len(a) for a in arrays])[:-1]
    return [p.astype(np.int64) for p in np.split(inverse.reshape(-1), splits)], len(vocabulary)


def _counts(rows: NDArray[np.int64], codes: NDArray[np.int64], n: int, k: int) -> NDArray:
    """[n, k] how often each code occurs for each row."""
    out = np.zeros((n, k))
    np.add.at(out, (rows, codes), 1.0)
    return out


def _encode(graphs: Sequence[PreparedGraph]) -> tuple[list[_Encoded], int]:
    """The graphs over one vocabulary of node and edge labels, and the number of edge labels."""
    node_codes, n_node_labels = _codes([g.labels for g in graphs])
    edge_codes, n_edge_labels = _codes([g.edge_labels for g in graphs])
    out = []
    for g, labels, edges in zip(graphs, node_codes, edge_codes, strict=True):
        n = g.n_nodes
        forward = edges * n_node_labels + labels[g.target]
        backward = (n_edge_labels + edges) * n_node_labels + labels[g.source]
        out.append(
            _Encoded(
                labels=labels,
                source=g.source,
                target=g.target,
                edge_labels=edges,
                out_counts=_counts(g.source, edges, n, n_edge_labels),
                in_counts=_counts(g.target, edges, n, n_edge_labels),
                token_node=np.concatenate([g.source, g.target]),
                token=np.concatenate([forward, backward]),
            )
        )
    return out, n_edge_labels


def _overlap(a: NDArray, b: NDArray) -> NDArray:
    """[n_a, n_b] size of the multiset intersection ``Σ_k min(a_k, b_k)`` of count rows.

    For integer counts, ``min(x, y) = Σ_{l ≥ 1} [x ≥ l] [y ≥ l]``: one matrix product per
    count level.
    """
    out = np.zeros((len(a), len(b)))
    top = int(min(a.max(initial=0), b.max(initial=0)))
    for level in range(1, top + 1):
        out += (a >= level).astype(np.float64) @ (b >= level).T.astype(np.float64)
    return out


def _node_cost_matrix(a: _Encoded, b: _Encoded) -> NDArray[np.float64]:
    """The [n_a + n_b, n_b + n_a] cost matrix of the bipartite method.

    Substituting node ``u`` of ``a`` by node ``v`` of ``b`` costs their label difference
    plus half the edit cost between their out-edge label multisets and half that between
    their in-edge label multisets (each edge is shared by its two end nodes); the edit
    cost between multisets ``A`` and ``B`` of labels is ``max(|A|, |B|) − |A ∩ B|``. Deleting
    or inserting a node costs 1 plus half its degree. A tie-break below the resolution of
    these costs (multiples of 1/2) prefers, among equally cheap assignments, pairs whose
    neighbourhoods (edge label and neighbour label, per direction) agree.
    """
    na, nb = a.n_nodes, b.n_nodes
    out_a, in_a = a.out_counts.sum(axis=1), a.in_counts.sum(axis=1)
    out_b, in_b = b.out_counts.sum(axis=1), b.in_counts.sum(axis=1)
    larger = np.maximum(out_a[:, None], out_b[None, :]) + np.maximum(in_a[:, None], in_b[None, :])
    common = _overlap(
        np.concatenate([a.out_counts, a.in_counts], axis=1),
        np.concatenate([b.out_counts, b.in_counts], axis=1),
    )
    edge_cost = 0.5 * (larger - common)
    label_cost = (a.labels[:, None] != b.labels[None, :]).astype(np.float64)
    (ta, tb), k = _codes([a.token, b.token])
    nbh_a, nbh_b = _counts(a.token_node, ta, na, k), _counts(b.token_node, tb, nb, k)
    common = _overlap(nbh_a, nbh_b)
    larger = np.maximum(nbh_a.sum(axis=1)[:, None], nbh_b.sum(axis=1)[None, :])
    mismatch = 1.0 - common / np.maximum(larger, 1.0)
    tie_break = 0.25 / (na + nb + 1)

    cost = np.zeros((na + nb, nb + na))
    cost[:na, :nb] = label_cost + edge_cost + tie_break * mismatch
    deletion = np.full((na, na), np.inf)
    np.fill_diagonal(deletion, 1.0 + 0.5 * (out_a + in_a))
    insertion = np.full((nb, nb), np.inf)
    np.fill_diagonal(insertion, 1.0 + 0.5 * (out_b + in_b))
    cost[:na, nb:] = deletion
    cost[na:, :nb] = insertion
    return cost


def edit_path_cost(a: PreparedGraph, b: PreparedGraph, mapping: NDArray[np.int64]) -> int:
    """Exact cost of the cheapest edit path from ``a`` to ``b`` that maps nodes by ``mapping``.

    With unit costs: node ``u`` of ``a`` is substituted by node ``mapping[u]`` of ``b``
    (cost 1 if their labels differ) or deleted where ``mapping[u]`` is −1 (cost 1); nodes
    of ``b`` that no node maps to are inserted (cost 1). Edges of ``a`` with a deleted end
    are deleted and edges of ``b`` with an inserted end are inserted (cost 1 each). Between
    each ordered pair of mapped nodes, the multiset of edge labels of ``a`` becomes that of
    ``b`` at the least cost ``max(|A|, |B|) − |A ∩ B|`` (equal labels kept, others
    substituted, the rest inserted or deleted).

    Parameters
    ----------
    a, b : PreparedGraph
        The two graphs.
    mapping : ndarray of int
        [a.n_nodes] node of ``b`` each node of ``a`` maps to, −1 for deletion; the mapped
        nodes are distinct.

    Returns
    -------
    int
        The cost.
    """
    (ea, eb), n_edge_labels = _encode([a, b])
    return _edit_path_cost(ea, eb, np.asarray(mapping, dtype=np.int64), n_edge_labels)


def _edit_path_cost(
    a: _Encoded, b: _Encoded, mapping: NDArray[np.int64], n_edge_labels: int
) -> int:
    mapped = mapping >= 0
    n_mapped = int(np.count_nonzero(mapped))
    node_cost = int(np.count_nonzero(a.labels[mapped] != b.labels[mapping[mapped]]))
    node_cost += (a.n_nodes - n_mapped) + (b.n_nodes - n_mapped)
    src, tgt = mapping[a.source], mapping[a.target]
    kept = (src >= 0) & (tgt >= 0)
    pair_a = src[kept] * b.n_nodes + tgt[kept]
    pair_b = b.source * b.n_nodes + b.target
    # Edges per ordered pair of nodes of b, and per pair and label, on either side.
    n_pairs = b.n_nodes * b.n_nodes
    count_a = np.bincount(pair_a, minlength=n_pairs)
    count_b = np.bincount(pair_b, minlength=n_pairs)
    item_a = np.bincount(
        pair_a * n_edge_labels + a.edge_labels[kept], minlength=n_pairs * n_edge_labels
    )
    item_b = np.bincount(pair_b * n_edge_labels + b.edge_labels, minlength=n_pairs * n_edge_labels)
    edge_cost = int(np.count_nonzero(~kept))
    edge_cost += int(np.maximum(count_a, count_b).sum() - np.minimum(item_a, item_b).sum())
    return node_cost + edge_cost


def _assignment_bound(a: _Encoded, b: _Encoded, n_edge_labels: int) -> int:
    """Cost of the edit path from ``a`` to ``b`` induced by the bipartite assignment."""
    if a.n_nodes == 0 or b.n_nodes == 0:
        return a.n_nodes + a.n_edges + b.n_nodes + b.n_edges
    rows, cols = linear_sum_assignment(_node_cost_matrix(a, b))
    mapping = np.full(a.n_nodes, -1, dtype=np.int64)
    sub = (rows < a.n_nodes) & (cols < b.n_nodes)
    mapping[rows[sub]] = cols[sub]
    return _edit_path_cost(a, b, mapping, n_edge_labels)


def _normalised_bound(a: _Encoded, b: _Encoded, n_edge_labels: int) -> float:
    """The smaller bound of both directions over ``|V1| + |V2| + |E1| + |E2|`` (0 if empty)."""
    size = a.n_nodes + a.n_edges + b.n_nodes + b.n_edges
    if size == 0:
        return 0.0
    ab = _assignment_bound(a, b, n_edge_labels)
    ba = _assignment_bound(b, a, n_edge_labels)
    return min(ab, ba) / size


@METRICS.register("topology")
class TopologyDistance(SimilarityMetric[PreparedGraph]):
    """Normalised graph edit distance between topology graphs (an upper bound).

    A network's representation is its topology graph as a labelled directed multigraph
    (:func:`topology_labelled_graph`): one node per fixed point labelled by its condition,
    stability and readout sign pattern, one extra node per condition and outcome for runs
    that reached no fixed point, and one edge per heteroclinic or pulse run, labelled by
    its kind (and the pulse's name). Neither the order nor the coordinates of the fixed
    points enter, nor the order or signs of the eigenvectors.

    The distance is 0 exactly when the two labelled graphs are isomorphic (tested with
    :func:`~rnn_analysis.analysis.reduced_graph.solution_type_hash` and
    :func:`~rnn_analysis.analysis.reduced_graph.isomorphic`). Otherwise it is
    ``GED / (|V1| + |V2| + |E1| + |E2|)``, where GED is the graph edit distance with unit
    costs (inserting, deleting or relabelling a node or an edge costs 1). The denominator
    is the cost of deleting one graph and inserting the other, so the distance lies in
    [0, 1]; it is 1 between an empty and a non-empty graph and 0 between two empty ones.

    Exact GED is exponential in the number of nodes, so GED is replaced by a deterministic
    upper bound, the bipartite assignment method of Riesen & Bunke (2009): a cost matrix
    of node substitutions, deletions and insertions, each including the cost of the
    node's incident edges (half of it, since an edge has two ends), is solved as a linear
    assignment (``scipy.optimize.linear_sum_assignment``), and the exact cost of the edit
    path that this node mapping induces (:func:`edit_path_cost`) is the bound. It is
    computed in both directions and the smaller value kept, so the distance is symmetric.
    Being the cost of an actual edit path it is at least the true GED, hence positive for
    any two non-isomorphic graphs; it equals GED when the assignment finds an optimal
    node mapping (as for a single relabelled node or edge in graphs whose nodes are told
    apart by their labels and neighbourhoods), and may exceed it otherwise. The result
    is not a metric in general: dividing by the sizes of the two graphs can break the
    triangle inequality even for the exact GED, and the bound adds its own slack. Nodes
    are compared in an order fixed by colour refinement, so the bound does not depend on
    the order of the fixed points except where refinement cannot tell non-equivalent
    nodes apart.

    Pairwise matrices group the networks into isomorphism classes first and compute one
    distance per pair of classes (sweeps hold many networks but few distinct graphs), on
    the CPU whatever the device.

    The metric has no hyperparameters.

    References
    ----------
    Riesen, K. & Bunke, H. (2009). Approximate graph edit distance computation by means
    of bipartite graph matching. Image and Vision Computing 27(7), 950–959.
    """

    name = "topology"
    long_name = "normalised graph edit distance between topology graphs (bipartite upper bound)"
    units = "1"
    family = "topology"

    def representation(self, analysis: xr.Dataset) -> LabelledGraph:
        """The topology graph (:func:`topology_labelled_graph`).

        Raises
        ------
        MissingRepresentation
            If the analysis was skipped or the dataset holds no topology graph.
        """
        _skipped(analysis)
        missing = [name for name in GRAPH_VARIABLES if name not in analysis.variables]
        if missing:
            raise MissingRepresentation(f"no topology graph (missing {', '.join(missing)})")
        return topology_labelled_graph(analysis)

    def validate(self, representations: Sequence[Any]) -> list[LabelledGraph]:
        """Check that every representation is a :class:`LabelledGraph`.

        Raises
        ------
        ValueError
            Naming the network index, if one is not.
        """
        for i, graph in enumerate(representations):
            if not isinstance(graph, LabelledGraph):
                raise ValueError(
                    f"network {i}: representation must be a LabelledGraph, "
                    f"got {type(graph).__name__}"
                )
        return list(representations)

    def prepare(self, x: LabelledGraph) -> PreparedGraph:
        """Sort the nodes by colour refinement and hash the graph."""
        return PreparedGraph.from_graph(x)

    def distance(self, a: PreparedGraph, b: PreparedGraph) -> float:
        if a.hash == b.hash and isomorphic(a.graph, b.graph):
            return 0.0
        (ea, eb), n_edge_labels = _encode([a, b])
        return _normalised_bound(ea, eb, n_edge_labels)

    def _upper_triangle(
        self, prepared: list[PreparedGraph], device: torch.device
    ) -> NDArray[np.float64]:
        classes = isomorphism_classes([p.graph for p in prepared], [p.hash for p in prepared])
        first = [int(np.flatnonzero(classes == c)[0]) for c in range(int(classes.max()) + 1)]
        encoded, n_edge_labels = _encode([prepared[i] for i in first])
        sizes = np.bincount(classes)
        between = np.zeros((len(first), len(first)))
        for i, a in enumerate(encoded):
            for j in range(i + 1, len(first)):
                between[i, j] = between[j, i] = _normalised_bound(a, encoded[j], n_edge_labels)
            # network pairs settled by this class: with later classes and within itself
            self._advance(int(sizes[i] * sizes[i + 1 :].sum() + sizes[i] * (sizes[i] - 1) // 2))
        return between[np.ix_(classes, classes)]


def isomorphism_classes(
    graphs: Sequence[LabelledGraph], hashes: Sequence[str] | None = None
) -> NDArray[np.int64]:
    """Index of the isomorphism class of every graph, numbered by first occurrence.

    Graphs are grouped by :func:`~rnn_analysis.analysis.reduced_graph.solution_type_hash`
    (given as ``hashes`` or computed) and each group split with
    :func:`~rnn_analysis.analysis.reduced_graph.isomorphic`.
    """
    if hashes is None:
        hashes = [solution_type_hash(g) for g in graphs]
    classes = np.full(len(graphs), -1, dtype=np.int64)
    members: dict[str, list[int]] = {}
    n_classes = 0
    for i, (graph, h) in enumerate(zip(graphs, hashes, strict=True)):
        for first in members.get(h, []):
            if isomorphic(graphs[first], graph):
                classes[i] = classes[first]
                break
        else:
            members.setdefault(h, []).append(i)
            classes[i] = n_classes
            n_classes += 1
    return classes


def fixed_point_signature(ds: xr.Dataset) -> dict[str, int]:
    """Counts of fixed points per static-input condition and stability type.

    Slow points (``kind == "slow"``) are left out. Keys are ``"c<condition> <stability>"``
    with stability ``"stable"`` or ``"saddle<k>"`` (``k`` unstable modes), e.g.
    ``{"c0 stable": 8, "c0 saddle1": 6}``; absent keys count 0.
    """
    kind = np.asarray(ds["kind"].values).astype(str).reshape(-1)
    fixed = kind == "fixed"
    n_unstable = np.asarray(ds["n_unstable"].values, dtype=np.int64).reshape(-1)[fixed]
    condition = np.asarray(ds["condition"].values, dtype=np.int64).reshape(-1)[fixed]
    keys = (f"c{c} {s}" for c, s in zip(condition, stability_labels(n_unstable), strict=True))
    return dict(sorted(Counter(keys).items()))


@METRICS.register("fixed_point_signature")
class FixedPointSignature(SimilarityMetric[dict[str, int]]):
    """Bray–Curtis distance between fixed-point signatures.

    A network's representation is the number of its fixed points (slow points excluded)
    per static-input condition and stability type (:func:`fixed_point_signature`), e.g.
    ``{"c0 stable": 8, "c0 saddle1": 6, "c0 saddle2": 1}``. The distance between counts
    ``a`` and ``b`` over the union of their keys is::

        Σ_k |a_k − b_k| / Σ_k (a_k + b_k)

    (Bray–Curtis), 0 when both networks have no fixed point. It lies in [0, 1]; it is 1
    when the two networks share no (condition, stability) key and 0 only for equal
    counts. It ignores the order, coordinates and readouts of the points.

    The metric has no hyperparameters.
    """

    name = "fixed_point_signature"
    long_name = "Bray-Curtis distance between fixed-point counts by condition and stability"
    units = "1"
    family = "topology"

    def representation(self, analysis: xr.Dataset) -> dict[str, int]:
        """The fixed-point counts (:func:`fixed_point_signature`).

        Raises
        ------
        MissingRepresentation
            If the analysis was skipped or the fixed points were not analysed.
        """
        _skipped(analysis)
        missing = [name for name in FIXED_POINT_VARIABLES if name not in analysis.variables]
        if missing:
            raise MissingRepresentation(f"fixed points not analysed (missing {', '.join(missing)})")
        return fixed_point_signature(analysis)

    def validate(self, representations: Sequence[Any]) -> list[dict[str, int]]:
        """Check that every representation maps keys to non-negative integer counts.

        Raises
        ------
        ValueError
            Naming the network index and the bad key, if one is not.
        """
        out: list[dict[str, int]] = []
        for i, counts in enumerate(representations):
            if not isinstance(counts, Mapping):
                raise ValueError(
                    f"network {i}: representation must be a mapping of counts, "
                    f"got {type(counts).__name__}"
                )
            checked: dict[str, int] = {}
            for key, value in counts.items():
                number = float(value) if isinstance(value, int | float | np.number) else np.nan
                if not (np.isfinite(number) and number >= 0 and number == int(number)):
                    raise ValueError(
                        f"network {i}: count of {key!r} must be a non-negative integer, "
                        f"got {value!r}"
                    )
                checked[str(key)] = int(number)
            out.append(checked)
        return out

    def prepare(self, x: dict[str, int]) -> dict[str, int]:
        """The counts without zero entries."""
        return {key: n for key, n in x.items() if n > 0}

    def distance(self, a: dict[str, int], b: dict[str, int]) -> float:
        total = sum(a.values()) + sum(b.values())
        if total == 0:
            return 0.0
        diff = sum(abs(a.get(k, 0) - b.get(k, 0)) for k in set(a) | set(b))
        return diff / total

    def _upper_triangle(
        self, prepared: list[dict[str, int]], device: torch.device
    ) -> NDArray[np.float64]:
        keys = sorted({key for counts in prepared for key in counts})
        column = {key: j for j, key in enumerate(keys)}
        counts = np.zeros((len(prepared), max(len(keys), 1)))
        for i, item in enumerate(prepared):
            for key, n in item.items():
                counts[i, column[key]] = n
        x = torch.as_tensor(counts, dtype=torch.float64, device=device)
        diff = torch.cdist(x[None], x[None], p=1.0)[0]
        total = x.sum(dim=1)
        pair_total = total[:, None] + total[None, :]
        out = torch.where(pair_total > 0, diff / pair_total.clamp_min(1.0), 0.0)
        return out.cpu().numpy()
