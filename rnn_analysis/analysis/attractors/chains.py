"""Chains of points ordered by nearest-neighbour continuation.

A set of points (the line candidates of one static input) is split into chains and
each chain ordered along itself, whatever its shape:

1. the minimum spanning tree of the points (Euclidean distances) joins every point to
   its nearest neighbours without loops;
2. tree edges longer than ``max_gap`` are cut; each connected piece left is a chain;
3. a chain's **backbone** is the longest path through its tree (the tree's weighted
   diameter, found by two Dijkstra sweeps): the order along the chain, which follows a
   curved line as well as a straight one;
4. points off the backbone (side branches of the tree, e.g. from the width of a noisy
   line) are attached to the backbone point their branch leaves from and take its
   position along the chain;
5. the local **tangent** at a backbone point is the first principal axis of the
   backbone points within ``window`` times the arc length on either side of it (at
   least its two neighbours, at most ``WINDOW_POINTS`` of them evenly spaced), the
   window measured along the backbone's edges; a point off the backbone takes the
   tangent of its attachment point;
6. the **arc length** adds up the backbone's steps along the local tangents (each step
   projected on the tangents at its two ends, averaged), so that the zigzag of a noisy
   line across its width does not lengthen it;
7. each backbone point stands for half the length of its two backbone edges (its
   **weight**), so that a dense cluster of points counts by the length it covers, not by
   its number of points; points off the backbone weigh nothing;
8. the local **width** at a backbone point is the ratio of the second to the first
   singular value of the chain's points (backbone or not) within ``window`` times the arc
   length of it, in Euclidean distance: near 0 where the points lie along a curve, near
   1 where they fill a sheet or a ball (a chain through a plane of fixed points).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray
from scipy.sparse import csr_matrix
from scipy.sparse.csgraph import connected_components, dijkstra, minimum_spanning_tree
from scipy.spatial.distance import pdist, squareform

__all__ = ["WINDOW_POINTS", "Chain", "chains", "principal_axis"]

#: Largest number of backbone points whose principal axis gives one local tangent.
WINDOW_POINTS = 32


@dataclass
class Chain:
    """One chain of a point set.

    Attributes
    ----------
    members : [n] int array
        Indices (into the point set) of the chain's points, backbone first, in order.
    n_backbone : int
        The first ``n_backbone`` members are the backbone, from one end to the other.
    arc : [n] float array
        Position along the chain (arc length from the backbone's first point) of each
        member; a point off the backbone has its attachment point's.
    tangent : [n, S] float array
        Unit local tangent at each member (NaN for a chain of one point).
    weight : [n] float array
        Length of chain each member stands for (0 off the backbone).
    length : float
        Arc length of the backbone.
    width : [n] float array
        Local width at each member (its attachment point's off the backbone).
    """

    members: NDArray
    n_backbone: int
    arc: NDArray
    tangent: NDArray
    weight: NDArray
    length: float
    width: NDArray

    def __len__(self) -> int:
        return len(self.members)


def principal_axis(x: NDArray) -> NDArray:
    """Unit first principal axis of the points ``x`` [n, S], its largest entry positive."""
    _, _, vt = np.linalg.svd(x - x.mean(axis=0), full_matrices=False)
    axis = vt[0]
    return axis * (1.0 if axis[int(np.argmax(np.abs(axis)))] >= 0 else -1.0)


def chains(x: NDArray, max_gap: float, window: float) -> list[Chain]:
    """Split the points ``x`` [n, S] into chains and order each along itself.

    Parameters
    ----------
    x : [n, S] array
        The points.
    max_gap : float
        Minimum-spanning-tree edges longer than this are cut (Euclidean distance).
    window : float
        Half-width of the window of a local tangent, as a fraction of the chain's arc
        length.

    Returns
    -------
    list of Chain, in the order of their first point in ``x``.
    """
    x = np.asarray(x, dtype=np.float64)
    n = len(x)
    if n == 0:
        return []
    if n == 1:
        return [_single(0, x.shape[1])]
    distance = squareform(pdist(x))
    # Coinciding points would read as a missing edge (0) in a dense graph.
    tiny = np.finfo(np.float64).tiny
    distance = np.where(distance > 0, distance, tiny)
    np.fill_diagonal(distance, 0.0)
    tree = minimum_spanning_tree(distance).tocsr()
    tree.data[tree.data > max_gap] = 0.0
    tree.eliminate_zeros()
    tree = (tree + tree.T).tocsr()
    n_pieces, label = connected_components(tree, directed=False)
    first = [int(np.flatnonzero(label == c)[0]) for c in range(n_pieces)]
    out = []
    for c in np.argsort(first, kind="stable"):
        nodes = np.flatnonzero(label == c)
        if len(nodes) == 1:
            out.append(_single(int(nodes[0]), x.shape[1]))
        else:
            out.append(_order(x, nodes, tree[nodes][:, nodes], window))
    return out


def _single(index: int, s: int) -> Chain:
    return Chain(
        members=np.array([index]),
        n_backbone=1,
        arc=np.zeros(1),
        tangent=np.full((1, s), np.nan),
        weight=np.ones(1),
        length=0.0,
        width=np.zeros(1),
    )


def _order(x: NDArray, nodes: NDArray, tree: csr_matrix, window: float) -> Chain:
    """The chain of the tree ``tree`` over the points ``nodes``."""
    start = dijkstra(tree, directed=False, indices=0)
    a = int(np.argmax(start))
    from_a, predecessor = dijkstra(tree, directed=False, indices=a, return_predecessors=True)
    b = int(np.argmax(from_a))
    path = [b]
    while path[-1] != a:
        path.append(int(predecessor[path[-1]]))
    path = np.asarray(path[::-1])
    backbone = x[nodes[path]]
    # One orientation whatever the order of the points: the backbone runs the way of
    # the chain's principal axis (largest entry positive).
    if (backbone[-1] - backbone[0]) @ principal_axis(x[nodes]) < 0:
        path = path[::-1]
        backbone = backbone[::-1]
    delta = np.diff(backbone, axis=0)
    raw = np.concatenate([[0.0], np.cumsum(np.linalg.norm(delta, axis=1))])
    tangent_backbone = _tangents(backbone, raw, window * raw[-1])
    # Steps along the local tangents: the zigzag of a noisy line across its width does
    # not add to its length.
    steps = 0.5 * (
        np.abs((delta * tangent_backbone[:-1]).sum(axis=1))
        + np.abs((delta * tangent_backbone[1:]).sum(axis=1))
    )
    arc_backbone = np.concatenate([[0.0], np.cumsum(steps)])
    length = float(arc_backbone[-1])
    weight_backbone = 0.5 * (np.concatenate([steps, [0.0]]) + np.concatenate([[0.0], steps]))

    _, _, source = dijkstra(
        tree, directed=False, indices=path, min_only=True, return_predecessors=True
    )
    position = np.empty(len(nodes), dtype=np.int64)
    position[path] = np.arange(len(path))
    off = np.setdiff1d(np.arange(len(nodes)), path)
    attach = position[source[off]]
    order = np.concatenate([path, off])
    width_backbone = _widths(backbone, x[nodes], window * max(length, raw[-1]))
    return Chain(
        members=nodes[order],
        n_backbone=len(path),
        arc=np.concatenate([arc_backbone, arc_backbone[attach]]),
        tangent=np.concatenate([tangent_backbone, tangent_backbone[attach]]),
        weight=np.concatenate([weight_backbone, np.zeros(len(off))]),
        length=length,
        width=np.concatenate([width_backbone, width_backbone[attach]]),
    )


def _widths(backbone: NDArray, points: NDArray, radius: float) -> NDArray:
    """Second / first singular value of the ``points`` within ``radius`` of each backbone
    point (0 with fewer than 3 of them)."""
    out = np.zeros(len(backbone))
    if not radius > 0:
        return out
    for i, centre in enumerate(backbone):
        near = points[np.linalg.norm(points - centre, axis=1) <= radius]
        if len(near) >= 3:
            near = near[:: max(1, len(near) // (4 * WINDOW_POINTS))]
            s = np.linalg.svd(near - near.mean(axis=0), compute_uv=False)
            out[i] = s[1] / s[0] if s[0] > 0 else 0.0
    return out


def _tangents(backbone: NDArray, arc: NDArray, width: float) -> NDArray:
    """Unit local tangent [n, S] at each point of an ordered backbone."""
    n = len(backbone)
    low = np.searchsorted(arc, arc - width, side="left")
    high = np.searchsorted(arc, arc + width, side="right")
    out = np.empty_like(backbone)
    for i in range(n):
        lo, hi = min(low[i], max(0, i - 1)), max(high[i], min(n, i + 2))
        index = np.unique(np.linspace(lo, hi - 1, min(hi - lo, WINDOW_POINTS)).round())
        out[i] = principal_axis(backbone[index.astype(np.int64)])
    return out
