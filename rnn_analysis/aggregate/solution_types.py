"""Solution types of a population: isomorphism classes of reduced graphs, grouped.

Every converged network of a task has a compact reduced-dynamics graph
(:mod:`rnn_analysis.analysis.reduced_graph`). Its *class* is the exact isomorphism class
of that graph (:func:`~rnn_analysis.analysis.labelled_graph.assign_solution_types`).
As in the space-of-solutions study (Turner, Dabholkar & Barak 2021), which merged
near-identical classes and kept the classes with enough members, the classes are then
grouped into *types*:

1. Classes are ordered by size, largest first (ties by the SHA-256 of the canonical form
   of their graph, so that the order does not depend on the order of the networks).
2. Each class in turn joins the first kept class whose graph is within ``merge_edits``
   edge edits of its own (:func:`within_one_edge_edit`: one edge inserted, deleted or
   relabelled; the node labels, i.e. the output labels, must agree), or is kept.
3. A kept group with fewer than ``min_size`` networks, or less than ``min_fraction`` of
   the typed networks, is ``"other"``.
4. The remaining groups are named ``T1``, ``T2``, … by size (ties as in 1).

:func:`group_solution_types` returns the labelled result as an :class:`xarray.Dataset`.
"""

from __future__ import annotations

import hashlib
import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import xarray as xr

from rnn_analysis.analysis.labelled_graph import (
    LabelledGraph,
    assign_solution_types,
    canonical_form,
    isomorphic,
    solution_type_hash,
)
from rnn_analysis.hyperparameters import Hyperparameters

__all__ = ["OTHER", "SolutionTypeParams", "group_solution_types", "within_one_edge_edit"]

#: Type of the networks whose group is too small to be a type of its own.
OTHER = "other"


@dataclass(frozen=True)
class SolutionTypeParams(Hyperparameters):
    """How isomorphism classes of reduced graphs are grouped into solution types.

    Attributes
    ----------
    merge_edits : {0, 1}, default 1
        A class joins a larger one whose graph is within this many edge edits (one edge
        inserted, deleted or relabelled; node labels equal). 0: every isomorphism class
        is its own group.
    min_size : int, default 2
        Groups with fewer networks are ``"other"``.
    min_fraction : float, default 0.05
        Groups with less than this fraction of the typed networks are ``"other"``.
    """

    merge_edits: int = 1
    min_size: int = 2
    min_fraction: float = 0.05

    def __post_init__(self) -> None:
        if self.merge_edits not in (0, 1):
            raise ValueError(f"merge_edits must be 0 or 1, got {self.merge_edits}")
        if self.min_size < 1:
            raise ValueError(f"min_size must be >= 1, got {self.min_size}")
        if not 0 <= self.min_fraction < 1:
            raise ValueError(f"min_fraction must be in [0, 1), got {self.min_fraction}")


def _same_class(a: LabelledGraph, b: LabelledGraph) -> bool:
    return solution_type_hash(a) == solution_type_hash(b) and isomorphic(a, b)


def within_one_edge_edit(a: LabelledGraph, b: LabelledGraph) -> bool:
    """Whether ``b`` is isomorphic to ``a`` after at most one edge edit of ``a``.

    An edit inserts, deletes or relabels one edge; nodes and their labels stay. The test
    is exact: every single edit of the graph with more edges (or of ``a`` when both have
    as many) is tried against the other with :func:`isomorphic`.
    """
    if sorted(a.node_labels) != sorted(b.node_labels):
        return False
    if len(a.edges) < len(b.edges):
        a, b = b, a
    if len(a.edges) - len(b.edges) > 1:
        return False
    if len(a.edges) == len(b.edges):
        if _same_class(a, b):
            return True
        labels = sorted({lab for *_, lab in b.edges})
        for i, (s, t, lab) in enumerate(a.edges):
            for other in labels:
                if other == lab:
                    continue
                edited = a.edges[:i] + ((s, t, other),) + a.edges[i + 1 :]
                if _same_class(LabelledGraph(a.node_labels, edited), b):
                    return True
        return False
    for i in range(len(a.edges)):
        if _same_class(LabelledGraph(a.node_labels, a.edges[:i] + a.edges[i + 1 :]), b):
            return True
    return False


def _order_key(graph: LabelledGraph) -> str:
    return hashlib.sha256(canonical_form(graph).encode()).hexdigest()


def group_solution_types(
    graphs: Sequence[LabelledGraph],
    params: SolutionTypeParams | None = None,
    dim: str = "network",
) -> xr.Dataset:
    """Isomorphism class and solution type of every graph.

    Parameters
    ----------
    graphs : the compact reduced graphs of the typed networks, one per network
    params : grouping hyperparameters (defaults: :class:`SolutionTypeParams`)
    dim : name of the dimension along the graphs

    Returns
    -------
    xarray.Dataset
        Along ``dim``: ``solution_class`` (exact isomorphism class, ``T-<hash>``) and
        ``solution_type`` (``T1``, ``T2``, … by size, or ``"other"``). Along ``type``
        (coordinate: the type names): ``type_size`` (networks), ``type_n_classes`` (isomorphism
        classes merged into it) and ``type_representative`` (index along ``dim`` of a
        network of its largest class). Attributes: ``n_classes``, ``n_types``,
        ``n_other``, ``coverage`` (fraction of the networks in a type other than
        ``other``) and the hyperparameters.
    """
    params = params or SolutionTypeParams()
    classes = assign_solution_types(graphs)
    members: dict[str, list[int]] = {}
    for i, name in enumerate(classes):
        members.setdefault(name, []).append(i)
    keys = {name: _order_key(graphs[idx[0]]) for name, idx in members.items()}
    order = sorted(members, key=lambda c: (-len(members[c]), keys[c]))

    groups: list[list[str]] = []
    for cls in order:
        graph = graphs[members[cls][0]]
        for group in groups if params.merge_edits else ():
            if within_one_edge_edit(graphs[members[group[0]][0]], graph):
                group.append(cls)
                break
        else:
            groups.append([cls])

    n = len(graphs)
    needed = max(params.min_size, math.ceil(params.min_fraction * n - 1e-12))
    size = {id(g): sum(len(members[c]) for c in g) for g in groups}
    groups.sort(key=lambda g: (-size[id(g)], keys[g[0]]))
    kept = [g for g in groups if size[id(g)] >= needed]
    type_of = [OTHER] * n
    names = [f"T{k + 1}" for k in range(len(kept))]
    for name, group in zip(names, kept, strict=True):
        for cls in group:
            for i in members[cls]:
                type_of[i] = name
    n_other = sum(t == OTHER for t in type_of)
    return xr.Dataset(
        {
            "solution_class": (
                dim,
                np.array(classes, dtype=str),
                {"long_name": "isomorphism class of the compact reduced-dynamics graph"},
            ),
            "solution_type": (
                dim,
                np.array(type_of, dtype=str),
                {"long_name": "solution type (isomorphism classes grouped; 'other': too few)"},
            ),
            "type_size": (
                "type",
                np.array([size[id(g)] for g in kept], dtype=np.int64),
                {"long_name": "networks of the type", "units": "1"},
            ),
            "type_n_classes": (
                "type",
                np.array([len(g) for g in kept], dtype=np.int64),
                {"long_name": "isomorphism classes merged into the type", "units": "1"},
            ),
            "type_representative": (
                "type",
                np.array([members[g[0]][0] for g in kept], dtype=np.int64),
                {"long_name": f"index along {dim} of a network of the type's largest class"},
            ),
        },
        coords={"type": ("type", np.array(names, dtype=str))},
        attrs={
            "n_classes": len(members),
            "n_types": len(kept),
            "n_other": n_other,
            "coverage": float((n - n_other) / n) if n else float("nan"),
            "min_group_size": needed,
            **{f"param_{k}": v for k, v in params.to_dict().items()},
        },
    )
