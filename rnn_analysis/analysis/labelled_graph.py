"""Labelled directed multigraphs: hashing, isomorphism, canonical form and compaction.

The reduced-dynamics graph of a network (:mod:`rnn_analysis.analysis.reduced_graph`) and
the topology graph (:mod:`rnn_analysis.analysis.topology`) are compared as
:class:`LabelledGraph` objects: :func:`solution_type_hash` is a Weisfeiler–Lehman hash
(equal for isomorphic graphs), :func:`isomorphic` an exact test, :func:`canonical_form`
an exact canonical string, :func:`assign_solution_types` names exact isomorphism classes
independently of the order of the graphs, and :func:`compact_graph` merges bisimilar
nodes with the autonomous flow as the silent step.
"""

from __future__ import annotations

import hashlib
import json
from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

__all__ = [
    "FLOW",
    "LabelledGraph",
    "adjacency",
    "assign_solution_types",
    "canonical_form",
    "compact_graph",
    "isomorphic",
    "label_colours",
    "refine_colours",
    "solution_type_hash",
]

#: Edge label of the autonomous flow under zero input (the silent step of compaction).
FLOW = "flow"


# -- labelled graphs --------------------------------------------------------------------


@dataclass(frozen=True)
class LabelledGraph:
    """A directed multigraph with labelled nodes and labelled edges.

    Attributes
    ----------
    node_labels : tuple of str
        Label of node ``i``.
    edges : tuple of (source, target, label)
        Labelled edges, sorted; parallel edges and loops are allowed.
    """

    node_labels: tuple[str, ...]
    edges: tuple[tuple[int, int, str], ...] = field(default=())

    def __post_init__(self) -> None:
        n = len(self.node_labels)
        edges = tuple(sorted((int(s), int(t), str(lab)) for s, t, lab in self.edges))
        for s, t, _ in edges:
            if not (0 <= s < n and 0 <= t < n):
                raise ValueError(f"edge ({s}, {t}) refers to a node outside 0..{n - 1}")
        object.__setattr__(self, "node_labels", tuple(str(lab) for lab in self.node_labels))
        object.__setattr__(self, "edges", edges)

    @property
    def n_nodes(self) -> int:
        return len(self.node_labels)

    def permuted(self, order: Sequence[int]) -> LabelledGraph:
        """The same graph with node ``order[i]`` renamed ``i``."""
        new = {int(old): i for i, old in enumerate(order)}
        if sorted(new) != list(range(self.n_nodes)):
            raise ValueError("order must be a permutation of the nodes")
        return LabelledGraph(
            tuple(self.node_labels[old] for old in order),
            tuple((new[s], new[t], lab) for s, t, lab in self.edges),
        )


def adjacency(graph: LabelledGraph) -> tuple[list[list[tuple[str, int]]], ...]:
    """Per node, its outgoing and its incoming ``(edge label, other node)`` pairs."""
    out: list[list[tuple[str, int]]] = [[] for _ in range(graph.n_nodes)]
    into: list[list[tuple[str, int]]] = [[] for _ in range(graph.n_nodes)]
    for s, t, lab in graph.edges:
        out[s].append((lab, t))
        into[t].append((lab, s))
    return out, into


def refine_colours(
    colours: list[int], out: list[list[tuple[str, int]]], into: list[list[tuple[str, int]]]
) -> list[int]:
    """Colour refinement to the coarsest equitable partition; colours stay ordered."""
    while True:
        signatures = [
            (
                colours[v],
                tuple(sorted((lab, colours[w]) for lab, w in out[v])),
                tuple(sorted((lab, colours[u]) for lab, u in into[v])),
            )
            for v in range(len(colours))
        ]
        ranks = {sig: i for i, sig in enumerate(sorted(set(signatures)))}
        refined = [ranks[sig] for sig in signatures]
        if len(ranks) == len(set(colours)):
            return refined
        colours = refined


def label_colours(labels: Sequence[str]) -> list[int]:
    """Node colours from labels: the rank of each label among the distinct labels."""
    ranks = {lab: i for i, lab in enumerate(sorted(set(labels)))}
    return [ranks[lab] for lab in labels]


def _sha(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def solution_type_hash(graph: LabelledGraph) -> str:
    """Weisfeiler–Lehman hash of a labelled directed multigraph (hex SHA-256).

    Colours start as the node labels; each round a node's colour becomes the hash of
    its colour and the sorted multisets of (edge label, colour) of its out- and
    in-neighbours, until the partition into colours stops getting finer. The hash is
    that of the sorted multiset of final colours. Isomorphic graphs have equal hashes;
    rare non-isomorphic graphs do too (e.g. regular graphs with equal labels), which
    :func:`assign_solution_types` separates with :func:`isomorphic`.
    """
    out, into = adjacency(graph)
    colours = [_sha(json.dumps(["label", lab])) for lab in graph.node_labels]
    n_classes = len(set(colours))
    for _ in range(graph.n_nodes + 1):
        new = [
            _sha(
                json.dumps(
                    [
                        colours[v],
                        sorted([lab, colours[w]] for lab, w in out[v]),
                        sorted([lab, colours[u]] for lab, u in into[v]),
                    ]
                )
            )
            for v in range(graph.n_nodes)
        ]
        stable = len(set(new)) == n_classes
        colours, n_classes = new, len(set(new))
        if stable:
            break
    return _sha(json.dumps([graph.n_nodes, len(graph.edges), sorted(colours)]))


def _certificate(graph: LabelledGraph, colours: list[int]) -> tuple:
    """The graph relabelled by a discrete colouring, as a comparable tuple."""
    order = sorted(range(graph.n_nodes), key=lambda v: colours[v])
    labels = tuple(graph.node_labels[v] for v in order)
    edges = tuple(sorted((colours[s], colours[t], lab) for s, t, lab in graph.edges))
    return labels, edges


def canonical_form(graph: LabelledGraph) -> str:
    """An exact canonical string of the graph: equal exactly for isomorphic graphs.

    Individualisation–refinement: colour refinement from the labels, then, while a
    colour class has several nodes, each node of the first such class is in turn given
    a colour of its own and the colouring refined again; the smallest relabelled graph
    over all leaves of this search is the canonical form. Exponential in the worst case,
    quick for the small and mostly asymmetric graphs of reduced dynamics.
    """
    out, into = adjacency(graph)
    best: list[tuple | None] = [None]

    def search(colours: list[int]) -> None:
        colours = refine_colours(colours, out, into)
        counts: dict[int, int] = {}
        for c in colours:
            counts[c] = counts.get(c, 0) + 1
        split = [c for c, k in counts.items() if k > 1]
        if not split:
            cert = _certificate(graph, colours)
            if best[0] is None or cert < best[0]:
                best[0] = cert
            return
        target = min(split)
        for v in range(graph.n_nodes):
            if colours[v] == target:
                search(
                    [2 * c + (1 if c == target and u != v else 0) for u, c in enumerate(colours)]
                )

    search(label_colours(graph.node_labels))
    labels, edges = best[0] if best[0] is not None else ((), ())
    return json.dumps({"nodes": list(labels), "edges": [list(e) for e in edges]})


def _edge_multisets(graph: LabelledGraph) -> dict[tuple[int, int], tuple[str, ...]]:
    pairs: dict[tuple[int, int], list[str]] = {}
    for s, t, lab in graph.edges:
        pairs.setdefault((s, t), []).append(lab)
    return {k: tuple(sorted(v)) for k, v in pairs.items()}


def isomorphic(a: LabelledGraph, b: LabelledGraph) -> bool:
    """Whether two labelled directed multigraphs are isomorphic (exact).

    Both graphs are colour-refined together (on their disjoint union, so that colours
    are comparable); a bijection is then searched by backtracking, each node of ``a``
    (smallest colour classes first, neighbours of mapped nodes early) mapped to an
    unused node of ``b`` of the same colour whose labelled edges to, from and between
    the nodes mapped so far match.
    """
    n = a.n_nodes
    if n != b.n_nodes or len(a.edges) != len(b.edges):
        return False
    if sorted(a.node_labels) != sorted(b.node_labels):
        return False
    if sorted(lab for *_, lab in a.edges) != sorted(lab for *_, lab in b.edges):
        return False
    union = LabelledGraph(
        a.node_labels + b.node_labels,
        a.edges + tuple((s + n, t + n, lab) for s, t, lab in b.edges),
    )
    out, into = adjacency(union)
    colours = refine_colours(label_colours(union.node_labels), out, into)
    ca, cb = colours[:n], colours[n:]
    if sorted(ca) != sorted(cb):
        return False
    ea, eb = _edge_multisets(a), _edge_multisets(b)
    size = {c: ca.count(c) for c in set(ca)}
    neighbours = [set() for _ in range(n)]
    for s, t, _ in a.edges:
        neighbours[s].add(t)
        neighbours[t].add(s)
    order: list[int] = []
    placed: set[int] = set()
    while len(order) < n:
        frontier = [v for v in range(n) if v not in placed and neighbours[v] & placed]
        pool = frontier or [v for v in range(n) if v not in placed]
        v = min(pool, key=lambda x: (size[ca[x]], ca[x], x))
        order.append(v)
        placed.add(v)
    candidates = {c: [w for w in range(n) if cb[w] == c] for c in set(cb)}
    mapping: dict[int, int] = {}
    used: set[int] = set()

    def consistent(v: int, w: int) -> bool:
        if ea.get((v, v), ()) != eb.get((w, w), ()):
            return False
        for x, y in mapping.items():
            if ea.get((v, x), ()) != eb.get((w, y), ()) or ea.get((x, v), ()) != eb.get((y, w), ()):
                return False
        return True

    def extend(i: int) -> bool:
        if i == n:
            return True
        v = order[i]
        for w in candidates[ca[v]]:
            if w in used or not consistent(v, w):
                continue
            mapping[v] = w
            used.add(w)
            if extend(i + 1):
                return True
            del mapping[v]
            used.discard(w)
        return False

    return extend(0)


def assign_solution_types(graphs: Sequence[LabelledGraph]) -> list[str]:
    """Name the exact isomorphism class of every graph.

    Graphs are grouped by :func:`solution_type_hash`, and each group split into
    isomorphism classes with :func:`isomorphic`. A class is named ``"T-"`` + the first 8
    hex digits of its hash; where one hash holds several classes (a genuine collision),
    each is suffixed with ``"-"`` + the first 6 hex digits of the SHA-256 of its
    :func:`canonical_form`. Names depend on each graph alone (and on whether a colliding
    class is present), never on the order of the graphs.
    """
    hashes = [solution_type_hash(g) for g in graphs]
    names = [""] * len(graphs)
    groups: dict[str, list[int]] = {}
    for i, h in enumerate(hashes):
        groups.setdefault(h, []).append(i)
    for h, members in groups.items():
        classes: list[list[int]] = []
        for i in members:
            for cls in classes:
                if isomorphic(graphs[cls[0]], graphs[i]):
                    cls.append(i)
                    break
            else:
                classes.append([i])
        for cls in classes:
            name = f"T-{h[:8]}"
            if len(classes) > 1:
                name += "-" + _sha(canonical_form(graphs[cls[0]]))[:6]
            for i in cls:
                names[i] = name
    return names


# -- compaction ---------------------------------------------------------------------------


def compact_graph(
    graph: LabelledGraph, initial: int = 0, silent: str | None = FLOW
) -> tuple[LabelledGraph, np.ndarray, int]:
    """Merge bisimilar nodes and drop the nodes unreachable from ``initial``.

    Edges labelled ``silent`` are silent steps: every node has at most one, and they form
    no cycle other than loops (which are ignored). Nodes are merged by branching
    bisimulation (signature refinement, Blom & Orzan 2005): starting from the partition
    by node label, a node's signature is the set of (edge label, class of the target)
    of the non-silent edges of every node on its silent path while that path stays in
    the node's class, plus (``silent``, class) of the first node outside it; classes are
    split by signature until none changes. With ``silent=None`` this is plain (strong)
    bisimulation. The quotient has one node per class, labelled like its members, and
    the union of their signatures as edges.

    Returns
    -------
    (compact graph, class of each input node (-1 where dropped), index of the initial
    node in the compact graph). Compact nodes are numbered in breadth-first order from
    the initial node, edges visited by (label, target).
    """
    n = graph.n_nodes
    if not 0 <= initial < n:
        raise ValueError(f"initial node {initial} is not in the graph of {n} nodes")
    nxt = [-1] * n
    visible: list[list[tuple[str, int]]] = [[] for _ in range(n)]
    for s, t, lab in graph.edges:
        if silent is not None and lab == silent:
            if s == t:
                continue
            if nxt[s] not in (-1, t):
                raise ValueError(f"node {s} has more than one {silent!r} edge")
            nxt[s] = t
        else:
            visible[s].append((lab, t))
    order = _silent_order(nxt)

    block = label_colours(graph.node_labels)
    n_blocks = len(set(block))
    signature: list[frozenset] = [frozenset()] * n
    while True:
        for v in order:
            sig = {(lab, block[t]) for lab, t in visible[v]}
            w = nxt[v]
            if w >= 0:
                if block[w] == block[v]:
                    sig |= signature[w]
                else:
                    sig.add((silent, block[w]))
            signature[v] = frozenset(sig)
        keys = [(block[v], tuple(sorted(signature[v], key=repr))) for v in range(n)]
        ranks = {k: i for i, k in enumerate(sorted(set(keys), key=repr))}
        new = [ranks[k] for k in keys]
        if len(ranks) == n_blocks:
            block = new
            break
        block, n_blocks = new, len(ranks)
    for v in order:
        sig = {(lab, block[t]) for lab, t in visible[v]}
        w = nxt[v]
        if w >= 0:
            sig |= signature[w] if block[w] == block[v] else {(silent, block[w])}
        signature[v] = frozenset(sig)

    edges_of: dict[int, set[tuple[str, int]]] = {}
    label_of: dict[int, str] = {}
    for v in range(n):
        edges_of.setdefault(block[v], set()).update(signature[v])
        label_of.setdefault(block[v], graph.node_labels[v])
    number = {block[initial]: 0}
    queue = deque([block[initial]])
    while queue:
        b = queue.popleft()
        for _, t in sorted(edges_of[b], key=lambda e: (str(e[0]), e[1])):
            if t not in number:
                number[t] = len(number)
                queue.append(t)
    labels = [""] * len(number)
    edges = []
    for b, i in number.items():
        labels[i] = label_of[b]
        edges += [(i, number[t], str(lab)) for lab, t in edges_of[b]]
    mapping = np.array([number.get(block[v], -1) for v in range(n)], dtype=np.int64)
    return LabelledGraph(tuple(labels), tuple(edges)), mapping, 0


def _silent_order(nxt: list[int]) -> list[int]:
    """Nodes ordered so that every node comes after its silent successor."""
    n = len(nxt)
    state = [0] * n
    order: list[int] = []
    for start in range(n):
        path = []
        v = start
        while v >= 0 and state[v] == 0:
            state[v] = 1
            path.append(v)
            v = nxt[v]
        if v >= 0 and state[v] == 1:
            raise ValueError("the silent edges form a cycle")
        for u in reversed(path):
            state[u] = 2
            order.append(u)
    return order
