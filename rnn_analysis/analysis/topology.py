"""The topology graph of one network: its fixed points and the transitions between them.

Nodes are the fixed points of the fixed-point dataset (slow points only with
``include_slow``), one set per static input (condition), each labelled by its stability
type (``"stable"``, or ``"saddle<k>"`` with ``k`` unstable modes) and by the sign pattern
of the readout at the point (``"+-+"``; an output within ``readout_dead_zone`` of 0 is
``"0"``). Edges are transitions found by simulating the network under the node's static
input:

- **heteroclinic**: from each point with unstable modes (``|λ| > 1``), the state starts
  at ``x ± ε v`` for each unstable mode's unit direction ``v`` (the real eigenvector of a
  real mode; the real and the imaginary part of a complex pair's eigenvector, each
  normalised, followed once per pair) and runs until it settles;
- **pulse**: from each stable point, each of the task's input pulses is added to the
  static input for its duration, after which the state runs under the static input
  until it settles.

A run has settled once one step moves the state by less than ``settle_speed``
(Euclidean norm of ``F(h, u*) − h``) under the static input; a heteroclinic run counts as
settled only after it has left its saddle's escape ball (radius: the saddle's match
tolerance, or half the distance to the nearest other node of its condition if less).
Runs stop at ``max_steps``. The end state, settled or not, is matched to the
nearest node of its condition if it lies within that condition's match tolerance (see
:class:`TopologyParams`); the outcome is then ``"attractor"`` or ``"saddle"`` (a run that
settles on another saddle's stable manifold, as in networks of independent units). A
heteroclinic run never ends at its own saddle. Otherwise the edge points nowhere (target
−1) and says why: ``"elsewhere"`` (settled away from every node) or ``"unresolved"`` (did
not settle within the budget, never left its saddle, or the state became non-finite).
Such edges are kept, never dropped.

All runs of all conditions start together as one ``[1, runs, S]`` batch, with each run's
static input and pulse as its ``u``; the result is one :class:`xarray.Dataset` of node
and edge tables (dimensions ``topology_node`` and ``topology_edge``), which
:func:`graph_signature` summarises as a canonical text independent of the order of the
points, of the signs of the eigenvectors and of the embedding, and which
:func:`to_networkx` turns into a :class:`networkx.MultiDiGraph`.
"""

from __future__ import annotations

import math
from collections import Counter
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal

import numpy as np
import torch
import xarray as xr
from numpy.typing import NDArray

from rnn_analysis.analysis.fixed_points import jacobian, net_copy
from rnn_analysis.architectures.base import Architecture
from rnn_analysis.hyperparameters import Hyperparameters
from rnn_analysis.tasks.base import InputPulses, StaticInputs

if TYPE_CHECKING:
    import networkx

__all__ = [
    "TopologyParams",
    "graph_signature",
    "readout_labels",
    "stability_labels",
    "to_networkx",
    "topology_graph",
]

_CHECK_EVERY = 16
OUTCOMES = ("attractor", "saddle", "elsewhere", "unresolved")


@dataclass(frozen=True)
class TopologyParams(Hyperparameters):
    """Hyperparameters of the topology graph.

    Attributes
    ----------
    epsilon : float, default 0.01
        Distance (in the units of the state, along a unit-norm direction) from a saddle
        at which a heteroclinic run starts. A heteroclinic run can settle only once it
        is farther from its saddle than the saddle's escape radius (its match tolerance,
        or half its distance to the nearest other node if less), so epsilon should be
        well below that; a run that never gets that far is ``unresolved``.
    settle_speed : float, default 1e-5
        A run has settled once one step under the static input moves the state by less
        than this (Euclidean norm of ``F(h, u*) − h``). Near an attractor whose slowest
        mode has eigenvalue ``λ`` this is a distance of about ``settle_speed / (1 − λ)``.
    max_steps : int, default 10000
        Step budget of every run (pulse steps included); a run that has not settled by
        then is ``unresolved`` unless its end state still matches a node.
    match_distance : float, default 0.25
        An end state matches the nearest node of its condition when it lies within
        ``match_distance`` times the condition's typical inter-point distance: the median,
        over the condition's nodes, of each node's distance to its nearest other node.
        A condition with a single node uses the median of those distances over all
        conditions of the network.
    isolated_match_distance : float, default 0.1
        Absolute match tolerance (units of the state) where no condition of the network
        has two nodes.
    readout_dead_zone : float, default 0.5
        An output with ``|readout| <= readout_dead_zone`` is labelled ``"0"``, otherwise
        ``"+"`` or ``"-"``.
    include_slow : bool, default False
        Also make nodes of the slow points (``kind == "slow"``).
    dtype : {"float64", "float32"}, default "float64"
        Precision of the simulations.
    """

    epsilon: float = 0.01
    settle_speed: float = 1e-5
    max_steps: int = 10000
    match_distance: float = 0.25
    isolated_match_distance: float = 0.1
    readout_dead_zone: float = 0.5
    include_slow: bool = False
    dtype: Literal["float64", "float32"] = "float64"

    def __post_init__(self) -> None:
        for name in ("epsilon", "settle_speed", "match_distance", "isolated_match_distance"):
            if not getattr(self, name) > 0:
                raise ValueError(f"{name} must be > 0, got {getattr(self, name)}")
        if not self.readout_dead_zone >= 0:
            raise ValueError(f"readout_dead_zone must be >= 0, got {self.readout_dead_zone}")
        if self.max_steps < 1:
            raise ValueError(f"max_steps must be >= 1, got {self.max_steps}")
        if self.dtype not in ("float64", "float32"):
            raise ValueError(f"dtype must be 'float64' or 'float32', got {self.dtype!r}")

    @property
    def torch_dtype(self) -> torch.dtype:
        return torch.float64 if self.dtype == "float64" else torch.float32


def readout_labels(readout: NDArray, dead_zone: float) -> NDArray:
    """Sign pattern of each row of ``readout`` [P, n_out]: ``"+"``, ``"-"`` or ``"0"`` per output.

    An output with ``|value| <= dead_zone`` (or a non-finite one) is ``"0"``.
    """
    readout = np.asarray(readout, dtype=np.float64)
    signs = np.where(readout > dead_zone, "+", np.where(readout < -dead_zone, "-", "0"))
    if readout.shape[0] == 0:
        return np.zeros(0, dtype="<U1")
    return np.array(["".join(row) for row in signs], dtype=str)


def stability_labels(n_unstable: NDArray) -> NDArray:
    """``"stable"`` for 0 unstable modes, ``"saddle<k>"`` for k."""
    n_unstable = np.asarray(n_unstable, dtype=np.int64)
    if n_unstable.size == 0:
        return np.zeros(0, dtype="<U6")
    return np.array(["stable" if k == 0 else f"saddle{k}" for k in n_unstable], dtype=str)


@dataclass
class _Runs:
    """Every simulation of one network, one row per run."""

    source: NDArray
    condition: NDArray
    start: NDArray
    origin: NDArray
    radius: NDArray
    pulse_value: NDArray
    pulse_steps: NDArray
    kind: NDArray
    mode: NDArray
    component: NDArray
    direction: NDArray
    pulse: NDArray
    label: NDArray


def topology_graph(
    model: Architecture,
    fixed_points: xr.Dataset,
    static_inputs: StaticInputs,
    pulses: InputPulses | None = None,
    params: TopologyParams = TopologyParams(),
) -> xr.Dataset:
    """Node and edge tables of the topology graph of one network.

    Parameters
    ----------
    model : Architecture
        An ensemble of one network (``E = 1``); it is copied, never modified.
    fixed_points : xarray.Dataset
        That network's fixed-point dataset
        (:func:`rnn_analysis.analysis.fixed_points.find_fixed_points`).
    static_inputs : StaticInputs
        The static inputs the points were searched under (``condition`` indexes them).
    pulses : InputPulses or None
        The task's input pulses (``Task.input_pulses()``); None gives heteroclinic edges
        only.
    params : TopologyParams
        Hyperparameters.

    Returns
    -------
    xarray.Dataset
        Dimensions ``topology_node`` and ``topology_edge``. Node variables:
        ``node_point`` (index along ``fixed_point``), ``node_condition``, ``node_kind``
        ("fixed"/"slow"), ``node_stability`` ("stable", "saddle<k>"), ``node_n_unstable``,
        ``node_readout_label``, ``node_label`` (stability and readout label, the label
        :func:`graph_signature` uses) and ``node_match_tolerance`` (the absolute distance
        within which an end state matches the node). Edge variables: ``edge_source`` and
        ``edge_target`` (node indices; −1 where the run reached no node),
        ``edge_kind`` ("heteroclinic"/"pulse"), ``edge_label`` ("mode<m><+|->" for a
        real mode, "mode<m><re|im><+|->" for a complex pair, or the pulse's name),
        ``edge_outcome`` ("attractor", "saddle", "elsewhere", "unresolved"),
        ``edge_condition``, ``edge_mode`` (−1 for pulses), ``edge_direction`` (±1, 0 for
        pulses), ``edge_pulse_index`` (−1 for heteroclinic edges), ``edge_steps`` (steps
        simulated until the run settled, pulse steps included; the budget if it never
        did), ``edge_settled``, ``edge_end_distance`` (from the end state to the nearest
        node of its condition) and ``edge_end_readout_label``. The static-input labels
        are coordinates ``node_<label>`` and ``edge_<label>``, the pulse labels
        ``edge_<label>`` (empty, −1 or NaN on heteroclinic edges). Attributes: every
        hyperparameter as ``param_<name>``, counts (``n_nodes``, ``n_stable``,
        ``n_saddles``, ``n_edges``, ``n_heteroclinic``, ``n_pulse`` and one
        ``n_<outcome>`` per outcome), ``simulation_steps`` and ``signature``
        (:func:`graph_signature`).
    """
    if model.n_networks != 1:
        raise ValueError(f"topology_graph takes an ensemble of one network, got {model.n_networks}")
    dtype = params.torch_dtype
    values = torch.as_tensor(static_inputs.values).detach().cpu().to(torch.float64).numpy()
    if values.ndim != 2 or values.shape[1] != model.n_inputs:
        raise ValueError(
            f"static input values must be [n_conditions, {model.n_inputs}], "
            f"got {tuple(values.shape)}"
        )
    if pulses is not None and pulses.values.shape[1] != model.n_inputs:
        raise ValueError(
            f"pulse values must be [n_pulses, {model.n_inputs}], got {tuple(pulses.values.shape)}"
        )

    nodes = _nodes(fixed_points, params)
    if len(nodes["point"]) and nodes["condition"].max() >= len(values):
        raise ValueError(
            f"fixed points refer to condition {nodes['condition'].max()}, but only "
            f"{len(values)} static inputs were given"
        )
    tolerance, nearest = _match_tolerance(nodes["state"], nodes["condition"], params)
    escape = np.minimum(tolerance, 0.5 * nearest)
    net = net_copy(model, dtype)
    runs = _runs(net, fixed_points, nodes, escape, values, pulses, params)
    end, settled, escaped, steps, n_simulated = _simulate(net, runs, values, params)
    with torch.no_grad():
        end_state = torch.as_tensor(end, dtype=dtype, device=net.weight_out.device)
        end_readout = net.readout(end_state[None])[0].cpu().numpy()
    target, end_distance = _match(end, runs.source, nodes, tolerance)
    target[~escaped | ((runs.kind == "heteroclinic") & (target == runs.source))] = -1
    stable = nodes["n_unstable"][target] == 0
    outcome = np.where(
        target >= 0,
        np.where(stable, "attractor", "saddle"),
        np.where(settled, "elsewhere", "unresolved"),
    ).astype("<U10")
    ds = _dataset(
        nodes=nodes,
        tolerance=tolerance,
        runs=runs,
        target=target,
        outcome=outcome,
        settled=settled,
        steps=steps,
        end_distance=end_distance,
        end_readout=end_readout,
        static_inputs=static_inputs,
        pulses=pulses,
        params=params,
    )
    ds.attrs["simulation_steps"] = int(n_simulated)
    ds.attrs["signature"] = graph_signature(ds)
    return ds


def _nodes(fp: xr.Dataset, p: TopologyParams) -> dict[str, NDArray]:
    n_points = fp.sizes.get("fixed_point", 0)
    if n_points:
        kind = np.asarray(fp["kind"].values).astype(str)
        keep = (kind == "fixed") | ((kind == "slow") & p.include_slow)
        point = np.flatnonzero(keep)
    else:
        kind = np.zeros(0, dtype="<U5")
        point = np.zeros(0, dtype=np.int64)
    n_state = fp.sizes.get("state", 0)
    n_out = fp.sizes.get("output", 0)
    if len(point):
        state = np.asarray(fp["state_value"].values, dtype=np.float64)[point]
        readout = np.asarray(fp["readout"].values, dtype=np.float64)[point]
        n_unstable = np.asarray(fp["n_unstable"].values, dtype=np.int64)[point]
        condition = np.asarray(fp["condition"].values, dtype=np.int64)[point]
    else:
        state = np.zeros((0, n_state))
        readout = np.zeros((0, n_out))
        n_unstable = np.zeros(0, dtype=np.int64)
        condition = np.zeros(0, dtype=np.int64)
    stability = stability_labels(n_unstable)
    readout_label = readout_labels(readout, p.readout_dead_zone)
    node_kind = kind[point].astype("<U5")
    prefix = np.where(node_kind == "slow", "slow ", "")
    label = np.array(
        [f"{a}{b} {c}" for a, b, c in zip(prefix, stability, readout_label, strict=True)],
        dtype=str,
    )
    return {
        "point": point.astype(np.int64),
        "state": state,
        "readout": readout,
        "n_unstable": n_unstable,
        "condition": condition,
        "kind": node_kind,
        "stability": stability,
        "readout_label": readout_label,
        "label": label if len(label) else np.zeros(0, dtype="<U1"),
    }


def _match_tolerance(
    state: NDArray, condition: NDArray, p: TopologyParams
) -> tuple[NDArray, NDArray]:
    """Absolute match tolerance of every node, and its distance to the nearest other node.

    The tolerance comes from the condition's typical spacing; the distance is infinite
    for a node alone in its condition.
    """
    n = len(state)
    nearest = np.full(n, np.inf)
    for c in np.unique(condition):
        idx = np.flatnonzero(condition == c)
        if len(idx) < 2:
            continue
        d = np.linalg.norm(state[idx, None] - state[None, idx], axis=-1)
        np.fill_diagonal(d, np.inf)
        nearest[idx] = d.min(axis=1)
    finite = np.isfinite(nearest)
    fallback = float(np.median(nearest[finite])) if finite.any() else math.nan
    tolerance = np.empty(n)
    for c in np.unique(condition):
        idx = np.flatnonzero(condition == c)
        if np.isfinite(nearest[idx]).any():
            tolerance[idx] = p.match_distance * float(np.median(nearest[idx]))
        elif math.isfinite(fallback):
            tolerance[idx] = p.match_distance * fallback
        else:
            tolerance[idx] = p.isolated_match_distance
    return tolerance, nearest


def _eig_sorted(jac: NDArray) -> tuple[NDArray, NDArray]:
    """Eigenvalues [S] and right eigenvectors [S, S], by |λ| descending, +imag first."""
    lam, vec = np.linalg.eig(jac)
    order = np.lexsort((-lam.imag, -np.abs(lam)))
    return lam[order], vec[:, order]


def _unstable_modes(
    net: Architecture, fp: xr.Dataset, point: int, n_unstable: int, u: NDArray
) -> list[tuple[int, NDArray, NDArray, float]]:
    """(mode, real part, imaginary part, imaginary part of λ) of each unstable mode."""
    lam_imag = np.asarray(fp["eigenvalue_imag"].values[point], dtype=np.float64)
    n_stored = fp.sizes.get("leading_mode", 0)
    if n_unstable <= n_stored:
        vec_re = np.asarray(fp["eigenvector_real"].values[point], dtype=np.float64)
        vec_im = np.asarray(fp["eigenvector_imag"].values[point], dtype=np.float64)
    else:
        dtype = net.weight_out.dtype
        device = net.weight_out.device
        h = torch.as_tensor(fp["state_value"].values[point], dtype=dtype, device=device)
        jac = jacobian(
            net, h[None, None], torch.as_tensor(u, dtype=dtype, device=device)[None, None]
        )
        lam, vec = _eig_sorted(jac[0, 0].cpu().numpy().astype(np.float64))
        lam_imag, vec_re, vec_im = lam.imag, vec.real, vec.imag
    return [(m, vec_re[:, m], vec_im[:, m], float(lam_imag[m])) for m in range(n_unstable)]


def _unit(v: NDArray) -> NDArray | None:
    norm = float(np.linalg.norm(v))
    return v / norm if norm > 1e-12 else None


def _runs(
    net: Architecture,
    fp: xr.Dataset,
    nodes: dict[str, NDArray],
    escape: NDArray,
    values: NDArray,
    pulses: InputPulses | None,
    p: TopologyParams,
) -> _Runs:
    """Start states, inputs and labels of every heteroclinic and pulse run."""
    n_in = values.shape[1]
    rows: list[dict[str, Any]] = []
    for i, point in enumerate(nodes["point"]):
        k = int(nodes["n_unstable"][i])
        if k == 0:
            continue
        x = nodes["state"][i]
        u = values[nodes["condition"][i]]
        for mode, re, im, lam_imag in _unstable_modes(net, fp, int(point), k, u):
            if lam_imag < 0:
                continue
            parts = [("", re)] if lam_imag == 0 else [("re", re), ("im", im)]
            for component, part in parts:
                v = _unit(part)
                if v is None:
                    continue
                for sign, symbol in ((1, "+"), (-1, "-")):
                    rows.append(
                        {
                            "source": i,
                            "start": x + sign * p.epsilon * v,
                            "origin": x,
                            "radius": escape[i],
                            "pulse_value": np.zeros(n_in),
                            "pulse_steps": 0,
                            "kind": "heteroclinic",
                            "mode": mode,
                            "component": component,
                            "direction": sign,
                            "pulse": -1,
                            "label": f"mode{mode}{component}{symbol}",
                        }
                    )
    if pulses is not None:
        pulse_values = torch.as_tensor(pulses.values).detach().cpu().to(torch.float64).numpy()
        names = pulses.names
        for i in np.flatnonzero(nodes["n_unstable"] == 0):
            x = nodes["state"][i]
            for k in range(len(pulse_values)):
                rows.append(
                    {
                        "source": int(i),
                        "start": x,
                        "origin": x,
                        "radius": -1.0,
                        "pulse_value": pulse_values[k],
                        "pulse_steps": int(pulses.steps[k]),
                        "kind": "pulse",
                        "mode": -1,
                        "component": "",
                        "direction": 0,
                        "pulse": k,
                        "label": str(names[k]),
                    }
                )
    s = nodes["state"].shape[1]

    def column(key: str, dtype: Any, shape: tuple[int, ...] = ()) -> NDArray:
        if not rows:
            return np.zeros((0, *shape), dtype=dtype)
        return np.array([r[key] for r in rows], dtype=dtype)

    source = column("source", np.int64)
    return _Runs(
        source=source,
        condition=nodes["condition"][source],
        start=column("start", np.float64, (s,)),
        origin=column("origin", np.float64, (s,)),
        radius=column("radius", np.float64),
        pulse_value=column("pulse_value", np.float64, (n_in,)),
        pulse_steps=column("pulse_steps", np.int64),
        kind=column("kind", "<U12"),
        mode=column("mode", np.int64),
        component=column("component", "<U2"),
        direction=column("direction", np.int64),
        pulse=column("pulse", np.int64),
        label=column("label", str),
    )


def _simulate(
    net: Architecture, runs: _Runs, values: NDArray, p: TopologyParams
) -> tuple[NDArray, NDArray, NDArray, NDArray, int]:
    """Run every start together until each has settled.

    Runs that have stopped leave the batch once they are at least half of it. Returns
    the end states, whether each run settled, whether it escaped (always for pulse runs),
    the steps each run was simulated, and the steps of the longest run.
    """
    n = len(runs.source)
    if n == 0:
        empty = np.zeros(0, dtype=bool)
        return runs.start.copy(), empty, empty, np.zeros(0, np.int64), 0
    dtype = p.torch_dtype
    device = net.weight_out.device

    def tensor(a: NDArray, **kw: Any) -> torch.Tensor:
        return torch.as_tensor(a, device=device, **kw)

    u_static = tensor(values, dtype=dtype)[tensor(runs.condition)]
    w = {
        "h": tensor(runs.start, dtype=dtype),
        "origin": tensor(runs.origin, dtype=dtype),
        "radius": tensor(runs.radius, dtype=dtype),
        "pulse_steps": tensor(runs.pulse_steps),
        "u_static": u_static,
        "u_pulse": u_static + tensor(runs.pulse_value, dtype=dtype),
        "active": torch.ones(n, dtype=torch.bool, device=device),
        "escaped": tensor(runs.radius < 0),
        "settled": torch.zeros(n, dtype=torch.bool, device=device),
        "steps": torch.zeros(n, dtype=torch.int64, device=device),
    }
    out = {key: w[key].clone() for key in ("h", "escaped", "settled", "steps")}
    rows = torch.arange(n, device=device)

    def write_back() -> None:
        for key, value in out.items():
            value[rows] = w[key]

    t = 0
    with torch.no_grad():
        for t in range(p.max_steps):
            h, active = w["h"], w["active"]
            in_pulse = w["pulse_steps"] > t
            u = torch.where(in_pulse[:, None], w["u_pulse"], w["u_static"])
            h_next = net.step(h[None], u[None])[0]
            speed = (h_next - h).norm(dim=-1)
            finite = torch.isfinite(speed)
            move = active & finite
            h = w["h"] = torch.where(move[:, None], h_next, h)
            w["escaped"] |= (h - w["origin"]).norm(dim=-1) > w["radius"]
            now = move & w["escaped"] & ~in_pulse & (speed < p.settle_speed)
            w["steps"] = torch.where(active, t + 1, w["steps"])
            w["settled"] |= now
            active &= finite & ~now
            if (t + 1) % _CHECK_EVERY:
                continue
            n_active = int(active.sum())
            if n_active == 0:
                break
            if n_active <= len(rows) // 2:
                write_back()
                keep = active.nonzero().squeeze(1)
                rows = rows[keep]
                w = {key: value[keep] for key, value in w.items()}
    write_back()
    return (
        out["h"].cpu().numpy().astype(np.float64),
        out["settled"].cpu().numpy(),
        out["escaped"].cpu().numpy(),
        out["steps"].cpu().numpy(),
        t + 1,
    )


def _match(
    end: NDArray, source: NDArray, nodes: dict[str, NDArray], tolerance: NDArray
) -> tuple[NDArray, NDArray]:
    """Nearest node of the run's condition within tolerance (−1 if none), and its distance."""
    n = len(source)
    target = np.full(n, -1, dtype=np.int64)
    distance = np.full(n, np.inf)
    if n == 0:
        return target, distance
    run_condition = nodes["condition"][source]
    for c in np.unique(run_condition):
        runs = np.flatnonzero(run_condition == c)
        candidates = np.flatnonzero(nodes["condition"] == c)
        d = np.linalg.norm(end[runs, None] - nodes["state"][None, candidates], axis=-1)
        nearest = d.argmin(axis=1)
        distance[runs] = d[np.arange(len(runs)), nearest]
        node = candidates[nearest]
        target[runs] = np.where(distance[runs] <= tolerance[node], node, -1)
    return target, distance


def _label_array(values: Any) -> NDArray:
    arr = np.asarray(values)
    if arr.dtype.kind in "OSU":
        arr = arr.astype(str)
    return arr


def _take(values: Any, index: NDArray) -> NDArray:
    """``values[index]``, with a fill value of the right type where ``index`` is −1."""
    arr = _label_array(values)
    missing = index < 0
    taken = arr[np.where(missing, 0, index)] if len(arr) else np.zeros(len(index), arr.dtype)
    if not missing.any():
        return taken
    kind = arr.dtype.kind
    if kind == "U":
        fill: Any = ""
    elif kind == "b":
        fill = False
    elif kind in "iu":
        fill = -1
    elif kind == "f":
        fill = np.nan
    else:
        return _take(arr.astype(str), index)
    out = taken.copy()
    if kind in "iu":
        out = out.astype(np.int64)
    out[missing] = fill
    return out


def _name(base: str, taken: set[str]) -> str:
    name = base
    while name in taken:
        name = f"{name}_label"
    taken.add(name)
    return name


def _dataset(
    *,
    nodes: dict[str, NDArray],
    tolerance: NDArray,
    runs: _Runs,
    target: NDArray,
    outcome: NDArray,
    settled: NDArray,
    steps: NDArray,
    end_distance: NDArray,
    end_readout: NDArray,
    static_inputs: StaticInputs,
    pulses: InputPulses | None,
    params: TopologyParams,
) -> xr.Dataset:
    node = ("topology_node",)
    edge = ("topology_edge",)

    def text(a: NDArray) -> NDArray:
        return a.astype(str) if len(a) else np.zeros(0, dtype="<U1")

    data: dict[str, Any] = {
        "node_point": (node, nodes["point"], {"long_name": "index of the node along fixed_point"}),
        "node_condition": (
            node,
            nodes["condition"],
            {"long_name": "index of the static input of the node"},
        ),
        "node_kind": (node, text(nodes["kind"]), {"long_name": "fixed or slow point"}),
        "node_stability": (
            node,
            text(nodes["stability"]),
            {"long_name": "stable, or saddle<k> with k unstable modes"},
        ),
        "node_n_unstable": (
            node,
            nodes["n_unstable"],
            {"long_name": "number of unstable modes", "units": "1"},
        ),
        "node_readout_label": (
            node,
            text(nodes["readout_label"]),
            {
                "long_name": "sign of each output at the node (+, -, or 0 within "
                f"{params.readout_dead_zone:g} of 0)"
            },
        ),
        "node_label": (
            node,
            text(nodes["label"]),
            {"long_name": "node label: stability and readout label"},
        ),
        "node_match_tolerance": (
            node,
            tolerance,
            {"long_name": "distance within which an end state matches the node", "units": "1"},
        ),
        "edge_source": (edge, runs.source, {"long_name": "node the run starts from"}),
        "edge_target": (
            edge,
            target,
            {"long_name": "node the run ends at (-1: elsewhere or unresolved)"},
        ),
        "edge_kind": (
            edge,
            text(runs.kind),
            {"long_name": "heteroclinic (unstable mode of a saddle) or pulse (input pulse)"},
        ),
        "edge_label": (
            edge,
            text(runs.label),
            {"long_name": "mode<m>[re|im]<+|-> of a heteroclinic edge, or the pulse's name"},
        ),
        "edge_outcome": (
            edge,
            text(outcome),
            {
                "long_name": "where the run ended: attractor, saddle, elsewhere (settled at "
                "no node) or unresolved (not settled within the budget, or non-finite)"
            },
        ),
        "edge_condition": (
            edge,
            runs.condition,
            {"long_name": "index of the static input of the run"},
        ),
        "edge_mode": (
            edge,
            runs.mode,
            {"long_name": "unstable mode followed (by |λ| descending; -1 for pulses)"},
        ),
        "edge_direction": (
            edge,
            runs.direction,
            {"long_name": "sign of the displacement along the mode (0 for pulses)"},
        ),
        "edge_pulse_index": (
            edge,
            runs.pulse,
            {"long_name": "index of the input pulse (-1 for heteroclinic edges)"},
        ),
        "edge_steps": (
            edge,
            steps,
            {"long_name": "steps simulated until the run settled (pulse steps included)"},
        ),
        "edge_settled": (edge, settled.astype(bool), {"long_name": "the run settled"}),
        "edge_end_distance": (
            edge,
            end_distance,
            {"long_name": "distance from the end state to the nearest node", "units": "1"},
        ),
        "edge_end_readout_label": (
            edge,
            text(readout_labels(end_readout, params.readout_dead_zone)),
            {"long_name": "sign of each output at the end state"},
        ),
    }
    taken = set(data)
    coords: dict[str, Any] = {
        "topology_node": (
            "topology_node",
            np.arange(len(nodes["point"])),
            {"long_name": "node of the topology graph"},
        ),
        "topology_edge": (
            "topology_edge",
            np.arange(len(runs.source)),
            {"long_name": "edge of the topology graph"},
        ),
    }
    taken |= set(coords)
    for key, label in static_inputs.labels.items():
        coords[_name(f"node_{key}", taken)] = (
            node,
            _take(label, nodes["condition"]),
            {"long_name": f"static input label {key!r}"},
        )
        coords[_name(f"edge_{key}", taken)] = (
            edge,
            _take(label, runs.condition),
            {"long_name": f"static input label {key!r}"},
        )
    if pulses is not None:
        for key, label in pulses.labels.items():
            coords[_name(f"edge_{key}", taken)] = (
                edge,
                _take(label, runs.pulse),
                {"long_name": f"input pulse label {key!r}"},
            )
    n_stable = int((nodes["n_unstable"] == 0).sum())
    attrs: dict[str, Any] = {"title": "topology graph: fixed points and transitions"}
    for key, value in params.to_dict().items():
        attrs[f"param_{key}"] = int(value) if isinstance(value, bool) else value
    attrs.update(
        n_nodes=len(nodes["point"]),
        n_stable=n_stable,
        n_saddles=len(nodes["point"]) - n_stable,
        n_edges=len(runs.source),
        n_heteroclinic=int((runs.kind == "heteroclinic").sum()),
        n_pulse=int((runs.kind == "pulse").sum()),
        **{f"n_{o}": int((outcome == o).sum()) for o in OUTCOMES},
    )
    return xr.Dataset(data, coords=coords, attrs=attrs)


def _target_labels(ds: xr.Dataset) -> NDArray:
    labels = np.asarray(ds["node_label"].values).astype(str)
    target = np.asarray(ds["edge_target"].values, dtype=np.int64)
    outcome = np.asarray(ds["edge_outcome"].values).astype(str)
    if not len(target):
        return np.zeros(0, dtype="<U1")
    return np.where(
        target >= 0, labels[np.where(target >= 0, target, 0)] if len(labels) else "", outcome
    )


def graph_signature(ds: xr.Dataset) -> str:
    """A canonical text description of a topology graph, for comparing networks.

    It does not depend on the order of the points, on the signs of the eigenvectors or on
    where the points lie in state space: one line per distinct item with its count,
    sorted. Items are, per condition ``c<k>``, the node labels; for every unstable mode of
    a saddle, the multiset of the labels its runs reached (both directions, and both the
    real and the imaginary part of a complex pair); and for every pulse edge, the source
    label, the pulse name and the target label. A run that reached no node contributes
    its outcome (``elsewhere`` or ``unresolved``) as the target label.

    Parameters
    ----------
    ds : xarray.Dataset
        The result of :func:`topology_graph` (alone or merged into a larger dataset).

    Returns
    -------
    str
        Lines ``"<count>x <item>"``, e.g. ``"2x c0 heteroclinic saddle1 0++ -> {stable +++,
        stable -++}"``; empty for an empty graph.
    """
    labels = np.asarray(ds["node_label"].values).astype(str)
    node_condition = np.asarray(ds["node_condition"].values, dtype=np.int64)
    items: list[str] = [
        f"c{c} node {label}" for c, label in zip(node_condition, labels, strict=True)
    ]
    source = np.asarray(ds["edge_source"].values, dtype=np.int64)
    kind = np.asarray(ds["edge_kind"].values).astype(str)
    edge_label = np.asarray(ds["edge_label"].values).astype(str)
    mode = np.asarray(ds["edge_mode"].values, dtype=np.int64)
    condition = np.asarray(ds["edge_condition"].values, dtype=np.int64)
    reached = _target_labels(ds)
    groups: dict[tuple[int, int], list[str]] = {}
    for e in np.flatnonzero(kind == "heteroclinic"):
        groups.setdefault((int(source[e]), int(mode[e])), []).append(str(reached[e]))
    for (s, _), targets in groups.items():
        items.append(
            f"c{node_condition[s]} heteroclinic {labels[s]} -> {{{', '.join(sorted(targets))}}}"
        )
    for e in np.flatnonzero(kind == "pulse"):
        items.append(f"c{condition[e]} pulse {labels[source[e]]} [{edge_label[e]}] -> {reached[e]}")
    counts = Counter(items)
    return "\n".join(f"{n}x {item}" for item, n in sorted(counts.items()))


def to_networkx(ds: xr.Dataset) -> networkx.MultiDiGraph:
    """The topology graph as a :class:`networkx.MultiDiGraph`.

    Nodes are the node indices, with the attributes ``condition``, ``point``, ``kind``,
    ``stability``, ``n_unstable``, ``readout_label`` and ``label``; runs that reached no
    node end at one extra node per condition and outcome, keyed ``"<outcome>:c<k>"``
    (``kind`` and ``label`` are the outcome). Edges are keyed by their index along
    ``topology_edge`` and carry ``kind``, ``label``, ``outcome``, ``mode``, ``direction``,
    ``pulse_index``, ``steps`` and ``settled``.
    """
    import networkx as nx

    graph = nx.MultiDiGraph()
    for i in range(ds.sizes.get("topology_node", 0)):
        graph.add_node(
            i,
            condition=int(ds["node_condition"].values[i]),
            point=int(ds["node_point"].values[i]),
            kind=str(ds["node_kind"].values[i]),
            stability=str(ds["node_stability"].values[i]),
            n_unstable=int(ds["node_n_unstable"].values[i]),
            readout_label=str(ds["node_readout_label"].values[i]),
            label=str(ds["node_label"].values[i]),
        )
    for e in range(ds.sizes.get("topology_edge", 0)):
        target: Any = int(ds["edge_target"].values[e])
        outcome = str(ds["edge_outcome"].values[e])
        condition = int(ds["edge_condition"].values[e])
        if target < 0:
            target = f"{outcome}:c{condition}"
            if target not in graph:
                graph.add_node(
                    target,
                    condition=condition,
                    point=-1,
                    kind=outcome,
                    stability=outcome,
                    n_unstable=-1,
                    readout_label="",
                    label=outcome,
                )
        graph.add_edge(
            int(ds["edge_source"].values[e]),
            target,
            key=e,
            kind=str(ds["edge_kind"].values[e]),
            label=str(ds["edge_label"].values[e]),
            outcome=outcome,
            mode=int(ds["edge_mode"].values[e]),
            direction=int(ds["edge_direction"].values[e]),
            pulse_index=int(ds["edge_pulse_index"].values[e]),
            steps=int(ds["edge_steps"].values[e]),
            settled=bool(ds["edge_settled"].values[e]),
        )
    return graph
