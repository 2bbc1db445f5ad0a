"""Line attractors: chains of slow points along their slow eigenvector, measured then classified.

**Point scores** (every point): the eigenvalue closest to 1 is the point's slow mode;
``offset = |λ₁ − 1|``, and ``separation = |λ₂ − 1| / |λ₁ − 1|`` with λ₂ the eigenvalue
next closest to 1 (distances below 1e-6 count as 1e-6).

**Candidates** (per static input): the fixed and slow points of the search and, with
probe states, points of the slow manifold sampled by relaxing probe states under the
static input (:mod:`.relaxed`), whose slow mode is real with offset at most
``line_tolerance``, separation at least ``line_separation`` (not required by default),
at most ``line_max_other_unstable`` unstable modes besides it, and, with probe states,
within ``line_max_probe_distance`` probe RMS spreads of a probe state.

**Chains**: the candidates of a static input are split into chains and ordered along
them by nearest-neighbour continuation (:mod:`.chains`: a minimum spanning tree cut at
gaps longer than ``line_max_gap`` times the reference scale, each piece ordered along
its longest path), so that curved lines count as well as straight ones.

**Chain scores**: number of points; arc length; extent (largest distance between two of
its points), both in the units of the state; relative extent (extent divided by the
probe states' RMS spread, the reference scale); alignment (mean over the chain of the
largest ``|cos|`` between one of the point's slow eigenvectors and the chain's local
tangent); width (mean local second / first singular value: a curve or a sheet); offset
(mean ``|λ₁ − 1|``); separation (mean ``|λ₂ − 1|`` over mean ``|λ₁ − 1|``). Means are
weighted by the length of chain each point stands for.

**Verdict**: a chain is a line attractor when ``n_points ≥ line_min_points``,
``extent ≥ line_min_extent``, ``relative_extent ≥ line_min_relative_extent`` (with probe
states), ``readout_range ≥ line_min_readout_range`` (with outputs), ``alignment ≥
line_alignment`` and ``width ≤ line_max_width``; its offset and
separation meet ``line_tolerance`` and ``line_separation`` since every candidate does.
The best chain of a static input is the first by (is a line attractor, fewest criteria failed, arc
length); its scores are stored, and the criteria it fails are named. A group of static
inputs (sharing the ``group_label`` label) has a line attractor when at least
``group_min_inputs`` of its static inputs have one; its best chain is the best of its
static inputs' best chains.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from numpy.typing import NDArray
from scipy.spatial.distance import pdist

from rnn_analysis.analysis.attractors.chains import Chain, chains, principal_axis
from rnn_analysis.analysis.attractors.params import AttractorParams
from rnn_analysis.analysis.attractors.points import (
    Points,
    label_array,
    nearest_distance,
    rms_spread,
)
from rnn_analysis.analysis.attractors.relaxed import combine, relaxed_points, slow_eigenvectors
from rnn_analysis.architectures.base import Architecture

__all__ = ["CANDIDATE_CRITERIA", "CHAIN_CRITERIA", "ChainScores", "groups", "lines"]

#: Criteria a chain must meet to be a line attractor, in the order they are named.
CHAIN_CRITERIA = ("n_points", "extent", "relative_extent", "readout_range", "alignment", "width")
#: Criteria a point must meet to be a line candidate, applied in this order; a static
#: input without candidates names the first one that left no point.
CANDIDATE_CRITERIA = ("offset", "real", "separation", "other_unstable", "probe_distance")
_EIGEN_FLOOR = 1e-6


@dataclass
class PointScores:
    """Slow-mode scores of every point."""

    slow_mode: NDArray
    offset: NDArray
    next_offset: NDArray
    other_unstable: NDArray

    @property
    def separation(self) -> NDArray:
        return np.maximum(self.next_offset, _EIGEN_FLOOR) / np.maximum(self.offset, _EIGEN_FLOOR)


@dataclass
class ChainScores:
    """Scores of one chain of line candidates and the criteria it fails."""

    members: NDArray
    n_points: int
    length: float
    extent: float
    relative_extent: float
    alignment: float
    width: float
    offset: float
    separation: float
    readout_range: float
    direction: NDArray
    point_alignment: NDArray
    point_arc: NDArray
    failed: tuple[str, ...] = field(default=())

    @property
    def is_line(self) -> bool:
        return not self.failed

    def rank(self) -> tuple[bool, int, float, int]:
        """Sort key: larger is better."""
        return (self.is_line, -len(self.failed), self.length, self.n_points)


def point_scores(points: Points) -> PointScores:
    """The slow mode of every point and how slow and how isolated it is."""
    n, m = points.lam.shape
    if not n or not m:
        empty = np.full(n, np.nan)
        return PointScores(np.zeros(n, np.int64), empty, empty.copy(), np.zeros(n, np.int64))
    distance = np.abs(points.lam - 1.0)
    order = np.argsort(distance, axis=1, kind="stable")
    rows = np.arange(n)
    slow = order[:, 0]
    offset = distance[rows, slow]
    next_offset = distance[rows, order[:, 1]] if m > 1 else np.full(n, np.inf)
    unstable = np.abs(points.lam) > 1.0 + points.unstable_tol
    unstable[rows, slow] = False
    return PointScores(
        slow_mode=slow,
        offset=offset,
        next_offset=next_offset,
        other_unstable=unstable.sum(axis=1),
    )


def _candidate_masks(
    points: Points, scores: PointScores, probe: NDArray | None, p: AttractorParams
) -> list[NDArray]:
    """Cumulative masks of CANDIDATE_CRITERIA; the last one is the candidates."""
    rows = np.arange(len(points))
    real = np.abs(points.lam[rows, scores.slow_mode].imag) <= p.complex_tol
    masks = [scores.offset <= p.line_tolerance]
    masks.append(masks[-1] & real)
    masks.append(masks[-1] & (scores.separation >= p.line_separation))
    masks.append(masks[-1] & (scores.other_unstable <= p.line_max_other_unstable))
    near = masks[-1].copy()
    if probe is not None and p.line_max_probe_distance > 0 and near.any():
        limit = p.line_max_probe_distance * rms_spread(probe)
        near[near] = nearest_distance(points.x[near], probe) <= limit
    masks.append(near)
    return masks


def _score_chain(
    chain: Chain,
    x: NDArray,
    readout: NDArray,
    vectors: list[NDArray],
    offset: NDArray,
    next_offset: NDArray,
    reference: float,
    p: AttractorParams,
) -> ChainScores:
    """Scores of one chain; ``x``, ``readout``, ``vectors``, ``offset``, ``next_offset``
    are the candidates' (``chain.members`` indexes them)."""
    members = chain.members
    n = len(members)
    xs = x[members]
    weight = chain.weight if chain.weight.sum() > 0 else np.ones(n)
    point_alignment = np.array(
        [np.abs(vectors[m].T @ t).max() for m, t in zip(members, chain.tangent, strict=True)]
    )
    alignment = float(np.average(point_alignment, weights=weight)) if n > 1 else math.nan
    width = float(np.average(chain.width, weights=weight)) if n > 1 else math.nan
    extent = float(pdist(xs).max()) if n > 1 else 0.0
    relative = extent / reference if reference > 0 else math.nan
    d1 = float(np.average(np.maximum(offset[members], _EIGEN_FLOOR), weights=weight))
    d2 = float(np.average(np.maximum(next_offset[members], _EIGEN_FLOOR), weights=weight))
    readout_range = float(np.ptp(readout[members], axis=0).max()) if readout.shape[1] else math.nan
    failed = []
    if n < p.line_min_points:
        failed.append("n_points")
    if not extent >= p.line_min_extent:
        failed.append("extent")
    if math.isfinite(relative) and not relative >= p.line_min_relative_extent:
        failed.append("relative_extent")
    if math.isfinite(readout_range) and not readout_range >= p.line_min_readout_range:
        failed.append("readout_range")
    if not alignment >= p.line_alignment:
        failed.append("alignment")
    if not width <= p.line_max_width:
        failed.append("width")
    return ChainScores(
        members=members,
        n_points=n,
        length=chain.length,
        extent=extent,
        relative_extent=relative,
        alignment=alignment,
        width=width,
        offset=float(np.average(offset[members], weights=weight)),
        separation=d2 / d1,
        readout_range=readout_range,
        direction=principal_axis(xs) if n > 1 else np.full(x.shape[1], np.nan),
        point_alignment=point_alignment,
        point_arc=chain.arc,
        failed=tuple(failed),
    )


def reference_scale(probe: NDArray | None) -> float:
    """The scale of relative extents: the probe states' RMS spread (NaN without)."""
    return rms_spread(probe) if probe is not None else math.nan


def lines(
    net: Architecture,
    fixed: Points,
    probe: NDArray | None,
    values: NDArray,
    p: AttractorParams,
) -> tuple[dict[str, Any], list[ChainScores | None]]:
    """Line-attractor variables of every point and static input, and the best chain of
    each static input (None without candidates). ``fixed`` are the points of the
    fixed-point dataset; points relaxed onto the slow manifold join them as candidates
    (per-point variables are given for ``fixed`` only)."""
    n_cond = len(values)
    n_fixed, s = len(fixed), fixed.x.shape[1]
    relaxed = relaxed_points(net, probe, values, fixed.unstable_tol, p)
    points = combine(fixed, relaxed)
    n_points = len(points)
    scores = point_scores(points)
    masks = _candidate_masks(points, scores, probe, p)
    candidate = masks[-1]
    reference = reference_scale(probe)

    point_alignment = np.full(n_points, np.nan)
    point_arc = np.full(n_points, np.nan)
    point_chain = np.full(n_points, -1, dtype=np.int64)
    member = np.zeros(n_points, dtype=bool)
    best: list[ChainScores | None] = [None] * n_cond
    rejected = np.empty(n_cond, dtype=object)
    for c in range(n_cond):
        own = points.condition == c
        index = np.flatnonzero(candidate & own)
        if not len(index):
            left = [not (m & own).any() for m in masks]
            rejected[c] = "no_points" if not own.any() else CANDIDATE_CRITERIA[left.index(True)]
            continue
        x = points.x[index]
        gap = p.line_max_gap * (reference if math.isfinite(reference) else rms_spread(x))
        vectors = slow_eigenvectors(net, points, index, n_fixed, p)
        scored = [
            _score_chain(
                chain,
                x,
                points.readout[index],
                vectors,
                scores.offset[index],
                scores.next_offset[index],
                reference,
                p,
            )
            for chain in chains(x, gap, p.line_window)
        ]
        scored.sort(key=ChainScores.rank, reverse=True)
        for k, chain in enumerate(scored):
            at = index[chain.members]
            point_chain[at] = k
            point_alignment[at] = chain.point_alignment
            point_arc[at] = chain.point_arc
        best[c] = scored[0]
        rejected[c] = ",".join(scored[0].failed)
        if scored[0].is_line:
            member[index[scored[0].members]] = True

    found = np.array([b is not None and b.is_line for b in best], dtype=bool)
    on_fixed = slice(0, n_fixed)
    is_relaxed = np.arange(n_points) >= n_fixed
    fp, si = ("fixed_point",), ("static_input",)
    data: dict[str, Any] = {
        "line_point_offset": (
            fp,
            scores.offset[on_fixed],
            {"long_name": "|λ - 1| of the eigenvalue closest to 1", "units": "1"},
        ),
        "line_point_separation": (
            fp,
            scores.separation[on_fixed],
            {
                "long_name": "|λ - 1| of the eigenvalue next closest to 1 / that of the closest",
                "units": "1",
            },
        ),
        "line_candidate": (fp, candidate[on_fixed], {"long_name": "a line candidate (slow mode)"}),
        "line_point_chain": (
            fp,
            point_chain[on_fixed],
            {
                "long_name": "rank of the point's chain among its static input's chains "
                "(0: the best chain; -1: not a candidate)",
                "units": "1",
            },
        ),
        "line_point_arc": (
            fp,
            point_arc[on_fixed],
            {"long_name": "position along the point's chain (arc length)", "units": "1"},
        ),
        "line_point_alignment": (
            fp,
            point_alignment[on_fixed],
            {"long_name": "largest |cos| between a slow eigenvector and the chain's local tangent"},
        ),
        "line_member": (
            fp,
            member[on_fixed],
            {"long_name": "on the line attractor of its static input"},
        ),
        "line_attractor": (si, found, {"long_name": "a line attractor under the static input"}),
        "line_n_candidates": (
            si,
            np.bincount(points.condition[candidate], minlength=n_cond).astype(np.int64),
            {"long_name": "line candidates (fixed, slow and relaxed points)", "units": "1"},
        ),
        "line_n_relaxed": (
            si,
            np.bincount(points.condition[candidate & is_relaxed], minlength=n_cond).astype(
                np.int64
            ),
            {
                "long_name": "line candidates sampled by relaxing probe states onto the slow "
                "manifold",
                "units": "1",
            },
        ),
        "line_rejected_by": (
            si,
            rejected.astype(str),
            {
                "long_name": "criteria the best chain fails (comma-separated; empty: a line "
                "attractor), or, without candidates, the candidate criterion that left no point",
            },
        ),
        "n_line_attractors": (
            (),
            int(found.sum()),
            {"long_name": "static inputs with a line attractor", "units": "1"},
        ),
    }
    data.update(_chain_variables(best, si, "line", "the best chain"))
    data["line_direction"] = (
        ("static_input", "state"),
        np.stack([b.direction if b is not None else np.full(s, np.nan) for b in best])
        if n_cond
        else np.zeros((0, s)),
        {"long_name": "unit first principal axis of the best chain", "units": "1"},
    )
    return data, best


def _chain_variables(
    chains_: list[ChainScores | None], dims: tuple[str, ...], prefix: str, what: str
) -> dict[str, Any]:
    """The scores of ``chains_`` as variables along ``dims`` (NaN, 0 where None)."""

    def get(name: str, fill: float) -> NDArray:
        return np.array([getattr(c, name) if c is not None else fill for c in chains_])

    return {
        f"{prefix}_n_points": (
            dims,
            get("n_points", 0).astype(np.int64),
            {"long_name": f"points on {what}", "units": "1"},
        ),
        f"{prefix}_length": (
            dims,
            get("length", math.nan),
            {"long_name": f"arc length of {what}", "units": "1"},
        ),
        f"{prefix}_extent": (
            dims,
            get("extent", math.nan),
            {"long_name": f"largest distance between two points of {what}", "units": "1"},
        ),
        f"{prefix}_relative_extent": (
            dims,
            get("relative_extent", math.nan),
            {"long_name": f"extent of {what} / RMS spread of the probe states", "units": "1"},
        ),
        f"{prefix}_alignment": (
            dims,
            get("alignment", math.nan),
            {
                "long_name": f"mean largest |cos| between a slow eigenvector and the local "
                f"tangent on {what}",
                "units": "1",
            },
        ),
        f"{prefix}_width": (
            dims,
            get("width", math.nan),
            {
                "long_name": f"mean local width (second / first singular value) of {what}",
                "units": "1",
            },
        ),
        f"{prefix}_offset": (
            dims,
            get("offset", math.nan),
            {"long_name": f"mean |λ - 1| of the slow mode on {what}", "units": "1"},
        ),
        f"{prefix}_separation": (
            dims,
            get("separation", math.nan),
            {
                "long_name": f"mean |λ - 1| of the next eigenvalue / of the slow mode on {what}",
                "units": "1",
            },
        ),
        f"{prefix}_readout_range": (
            dims,
            get("readout_range", math.nan),
            {
                "long_name": f"largest range (max - min) of an output over {what}",
                "units": "1",
            },
        ),
    }


def groups(
    best: list[ChainScores | None], labels: dict[str, Any], n_cond: int, p: AttractorParams
) -> dict[str, Any]:
    """Per group of static inputs: lines, fraction, and the scores of the best chain."""
    if p.group_label in labels:
        names, inverse = np.unique(label_array(labels[p.group_label]), return_inverse=True)
    else:
        names, inverse = np.array(["all"]), np.zeros(n_cond, dtype=np.int64)
    found = np.array([b is not None and b.is_line for b in best], dtype=bool)
    size = np.bincount(inverse, minlength=len(names)).astype(np.int64)
    n_lines = np.bincount(inverse[found], minlength=len(names)).astype(np.int64)
    has = n_lines >= p.group_min_inputs
    group_best: list[ChainScores | None] = []
    which = np.full(len(names), -1, dtype=np.int64)
    rejected = np.empty(len(names), dtype=object)
    for g in range(len(names)):
        members = [c for c in np.flatnonzero(inverse == g) if best[c] is not None]
        if members:
            c = max(members, key=lambda c: best[c].rank())  # type: ignore[union-attr]
            which[g] = c
            group_best.append(best[c])
            rejected[g] = ",".join(best[c].failed)  # type: ignore[union-attr]
        else:
            group_best.append(None)
            rejected[g] = "no_candidates"
    g = ("input_group",)
    data: dict[str, Any] = {
        "input_group": (
            "input_group",
            names,
            {"long_name": f"value of the static-input label {p.group_label!r}"},
        ),
        "group_n_static_inputs": (g, size, {"long_name": "static inputs", "units": "1"}),
        "group_n_line_attractors": (
            g,
            n_lines,
            {"long_name": "static inputs with a line attractor", "units": "1"},
        ),
        "group_line_fraction": (
            g,
            n_lines / np.maximum(size, 1),
            {"long_name": "fraction of the static inputs with a line attractor", "units": "1"},
        ),
        "group_line_attractor": (
            g,
            has,
            {"long_name": "at least group_min_inputs static inputs have a line attractor"},
        ),
        "group_line_static_input": (
            g,
            which,
            {"long_name": "static input of the group's best chain (-1: none)", "units": "1"},
        ),
        "group_line_rejected_by": (
            g,
            rejected.astype(str),
            {
                "long_name": "criteria the group's best chain fails (comma-separated; empty: "
                "a line attractor; no_candidates: no static input has one)",
            },
        ),
        "line_attractor_every_group": (
            (),
            bool(has.all()) if len(has) else False,
            {"long_name": "every group of static inputs has a line attractor"},
        ),
    }
    data.update(_chain_variables(group_best, g, "group_line", "the group's best chain"))
    return data
