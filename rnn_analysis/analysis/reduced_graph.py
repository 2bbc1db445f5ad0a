"""Reduced-dynamics graph of a network and its solution type (Turner, Dabholkar & Barak 2021).

The graph summarises what a network does with the brief input events of a task
(:meth:`Task.input_pulses`), in terms of its output alone: where the state goes under
the zero input between pulses, where each pulse sends it, and which sign the output
has on the way. It is built from simulations of the network only:

0. **Behaviourally relevant trials.** The network runs the task's probe trials
   (noise-free). A trial is answered when the task scores it correct and the output
   shows the answer (crosses the label threshold with the target's sign); with
   ``correct_only`` only answered trials are explored, and the others are recorded as
   errors (``probe_correct``, ``n_probe_errors``), not drawn as structure. The output
   labels are read relative to the network's own response amplitude (``output_scale``)
   and terminal states are merged relative to the spread of its probe states
   (``merge_tol`` × ``state_scale``), so that the graph does not depend on the scale of
   a network's outputs or states.
1. **Relaxations.** From a start state the network runs under zero input until it
   *settles* (a step moves the state by less than ``settle_speed``), for at most
   ``relax_steps`` steps (a state still moving then is a *slow* terminal, e.g. a ramp or
   a slow manifold; its last state stands for it), or until the state stops being
   finite (*divergent*). The output at every step is labelled ``+`` (≥ the threshold),
   ``-`` (≤ minus it) or ``0``, one symbol per output.
2. **Exploration**, breadth first by number of pulses, one ensemble call ``[1, B, S]``
   per step for all relaxations of a level. Level 0 is one relaxation from the
   network's initial state. A relaxation that follows fewer than ``max_pulses`` pulses
   (by default the number of pulses of a probe trial) is *branched*: pulses are applied
   to the state it reaches after each *wait* of the task (and, with
   ``terminal_pulses``, to its terminal state: an arbitrarily long wait); each starts a
   relaxation of the next level. With ``pulse_order="task"`` a path follows the
   explored probe trials read as sequences of (wait, pulse): after the events on the
   path so far, the pulses applied after a wait are those that come next, after that
   wait, in some explored trial; with ``"any"``, every pulse after every wait of the
   task.
3. **Raw graph.** Each relaxation is cut into *segments* at every change of output
   label and at every branch point; a segment is a node labelled by its output, with a
   ``flow`` edge to the next segment or to the relaxation's *terminal node* (its end
   state). A pulse applied at a branch point (or at a terminal) is an edge, typed by the
   pulse's group (``pulse_grouping``), to the first node of the relaxation it starts.
   Terminal states are told apart by behaviour alone, in the compaction; with
   ``merge_tol`` > 0 those closer than it are also one node from the start (single
   linkage), as in a collapse of converged runs by distance.
4. **Compaction** by branching bisimulation with ``flow`` as the silent step (signature
   refinement, Blom & Orzan 2005): nodes are merged when they have the same output
   label, reach the same classes through the same pulse types and flow into the same
   next class, time spent within one class not counting. A stretch of trajectory with
   one label and the same pulse outcomes thus becomes one node however long it lasts
   (the graph does not count time steps), a segment from which no pulse was tried is
   absorbed into the node it flows into when their labels agree, and the terminal
   states of different runs merge when they behave alike. Classes unreachable from the
   initial state are dropped. A class's *kind* is that of the terminal states it holds
   (``settled``, ``slow``, ``divergent``; comma-joined when several) or ``transient``.
5. **Solution type.** The compact graph is a directed multigraph whose node labels are
   the output label (and ``initial`` for the node of the initial state) and whose edge
   labels are ``flow`` or the pulse group; kinds are stored but are not part of it
   (whether a node is terminal shows in its lack of a ``flow`` edge; settled versus
   slow depends on the budget). :func:`solution_type_hash` is a Weisfeiler–Lehman
   colour-refinement hash of it (equal for isomorphic graphs), :func:`isomorphic` an
   exact test by backtracking over colour classes, :func:`canonical_form` an exact
   canonical string (individualisation–refinement), and :func:`assign_solution_types`
   names exact isomorphism classes from the hash, independently of the order of the
   graphs.

:func:`reduced_dynamics_graph` returns one self-describing :class:`xarray.Dataset`
per network; :func:`graph_from_dataset` rebuilds the labelled graph from it.
"""

from __future__ import annotations

import json
import math
import time
from collections import deque
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
import torch
import xarray as xr

from rnn_analysis.analysis.graph_exploration import (
    DIVERGENT_LABEL,
    Grammar,
    Relaxations,
    code_to_label,
    explore,
    probe_events,
)
from rnn_analysis.analysis.labelled_graph import (
    FLOW,
    LabelledGraph,
    assign_solution_types,
    canonical_form,
    compact_graph,
    isomorphic,
    solution_type_hash,
)
from rnn_analysis.architectures.base import Architecture
from rnn_analysis.hyperparameters import Hyperparameters
from rnn_analysis.tasks.base import InputPulses, Task

__all__ = [
    "FLOW",
    "LabelledGraph",
    "ReducedGraphParams",
    "assign_solution_types",
    "canonical_form",
    "compact_graph",
    "graph_from_dataset",
    "isomorphic",
    "probe_events",
    "reduced_dynamics_graph",
    "solution_type_hash",
]

_KIND_ORDER = ("settled", "slow", "divergent")


@dataclass(frozen=True)
class ReducedGraphParams(Hyperparameters):
    """Hyperparameters of the reduced-dynamics graph.

    Attributes
    ----------
    relax_steps : int, default 500
        Budget of zero-input steps of one relaxation; a state still moving after it is
        a slow terminal. It should exceed the task's longest wait between pulses.
    settle_speed : float, default 1e-4
        A relaxation has settled at the first state whose next step moves it by less
        than this (Euclidean norm, state units).
    correct_only : bool, default True
        Explore only the probe trials the network answers correctly (noise-free): the
        task scores the trial as correct, and wherever the target is at least half its
        largest magnitude, the output crosses the label threshold with the target's
        sign on one of those steps (a sub-threshold answer is no answer). A path then
        follows a probe trial's pulses after its waits, so the graph holds the
        behaviourally relevant runs; the trials answered wrongly are recorded
        (``probe_correct``, ``n_probe_errors``) rather than drawn as structure. False:
        every probe trial.
    terminal_pulses : bool, default False
        Apply the pulses also at the terminal state of a relaxation (a wait longer than
        any of the task's: the extrapolation to long delays), besides after the waits of
        the probe trials. Off by default: the graph describes the trained conditions,
        and behaviour beyond them is the extrapolation profile's.
    merge_tol : float, default 0.05
        Terminal states of one kind closer than ``merge_tol`` × the state-space scale
        (the RMS distance of the probe trials' states from their mean, attribute
        ``state_scale``) are one node (single linkage), and a terminal within it of one
        already branched (with the same pulses) is not branched again, as converged runs
        were collapsed by distance in the study. 0: every relaxation has its own
        terminal node, and terminal nodes are merged by compaction alone, i.e. by
        behaviour.
    output_threshold : float, default 0.5
        An output ≥ this × the output scale is ``+``, ≤ minus that ``-``, otherwise
        ``0`` (half the decision targets ±1, and the time-reproduction task's go
        threshold).
    output_scale : {"response", "target"}, default "response"
        Scale of the output labels, per output. "response": the network's own response
        amplitude, the median over the probe trials of the peak of the output (signed
        like the target) where the target is at least half its largest magnitude
        (attribute ``output_scale``), so that a network answering with ±0.7 throughout
        is read like one answering with ±1; "target": 1, i.e. the target's units.
    max_pulses : int, default 0
        Number of pulses a path may hold; relaxations after this many pulses are not
        branched. 0: the largest number of pulses in a probe trial of the task.
    extra_pulses : int, default 0
        Added to ``max_pulses`` (e.g. 1 to see what a further pulse does after a trial).
    extra_waits : tuple of int, default ()
        Waits (zero-input steps after a pulse, or after the start) after which pulses
        are applied besides those of the probe trials (waits beyond ``relax_steps``
        are the terminal state's).
    pulse_grouping : {"channel", "pulse"}, default "channel"
        Edge type of a pulse: its input channel (the pulses of one channel, e.g. the
        amplitudes f1 of delayed discrimination, are one type, named by what their
        names share) or each pulse on its own.
    pulse_order : {"task", "any"}, default "task"
        Which pulses are applied at a branch point: "task", those that come next in some
        probe trial after the pulses on the path so far (after a whole trial, those that
        start one; so f2 ≠ f1 in delayed discrimination); "any", every pulse.
    max_relaxations : int, default 50000
        Budget of relaxations per network; beyond it the exploration stops (the dataset
        says ``truncated``).
    dtype : {"float64", "float32"}, default "float64"
        Precision of the simulations.
    """

    relax_steps: int = 500
    settle_speed: float = 1e-4
    correct_only: bool = True
    terminal_pulses: bool = False
    merge_tol: float = 0.05
    output_threshold: float = 0.5
    output_scale: Literal["response", "target"] = "response"
    max_pulses: int = 0
    extra_pulses: int = 0
    extra_waits: tuple[int, ...] = ()
    pulse_grouping: Literal["channel", "pulse"] = "channel"
    pulse_order: Literal["task", "any"] = "task"
    max_relaxations: int = 50000
    dtype: Literal["float64", "float32"] = "float64"

    def __post_init__(self) -> None:
        for name in ("relax_steps", "max_relaxations"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be >= 1, got {getattr(self, name)}")
        for name in ("settle_speed", "output_threshold"):
            if not getattr(self, name) > 0:
                raise ValueError(f"{name} must be > 0, got {getattr(self, name)}")
        for name in ("merge_tol", "max_pulses", "extra_pulses"):
            if getattr(self, name) < 0:
                raise ValueError(f"{name} must be >= 0, got {getattr(self, name)}")
        if any(int(g) < 0 for g in self.extra_waits):
            raise ValueError(f"extra_waits must be >= 0, got {self.extra_waits}")
        if self.pulse_grouping not in ("channel", "pulse"):
            raise ValueError(
                f"pulse_grouping must be 'channel' or 'pulse', got {self.pulse_grouping!r}"
            )
        if self.output_scale not in ("response", "target"):
            raise ValueError(
                f"output_scale must be 'response' or 'target', got {self.output_scale!r}"
            )
        if self.pulse_order not in ("task", "any"):
            raise ValueError(f"pulse_order must be 'task' or 'any', got {self.pulse_order!r}")
        if self.dtype not in ("float64", "float32"):
            raise ValueError(f"dtype must be 'float64' or 'float32', got {self.dtype!r}")

    @property
    def torch_dtype(self) -> torch.dtype:
        return torch.float64 if self.dtype == "float64" else torch.float32


def _pulse_groups(pulses: InputPulses, grouping: str) -> list[str]:
    names = [str(s) for s in pulses.names]
    if grouping == "pulse":
        return names
    if "pulse_channel" in pulses.labels:
        channel = [int(c) for c in np.asarray(pulses.labels["pulse_channel"])]
    else:
        channel = [int(np.argmax(np.abs(v))) for v in pulses.values.double().numpy()]
    groups = []
    for k in range(len(names)):
        members = [names[j] for j in range(len(names)) if channel[j] == channel[k]]
        if len(members) == 1:
            groups.append(members[0])
            continue
        prefix = members[0]
        for m in members[1:]:
            while not m.startswith(prefix):
                prefix = prefix[:-1]
        cut = max(prefix.rfind("="), prefix.rfind(":"))
        prefix = (prefix[:cut] if cut >= 0 else prefix).rstrip("=:_ ")
        groups.append(prefix if prefix and prefix != FLOW else f"channel {channel[k]}")
    return groups


def _demanded(targets: torch.Tensor) -> torch.Tensor:
    """Steps where a target is at least half its largest magnitude (per output)."""
    peak = targets.abs().amax(dim=(0, 1), keepdim=True)
    return (targets.abs() >= 0.5 * peak) & (peak > 0)


def _response_scale(outputs: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
    """Per output, the median over trials of the peak signed output where demanded."""
    demanded = _demanded(targets)
    aligned = torch.where(demanded, outputs * torch.sign(targets), torch.tensor(-math.inf))
    peak = aligned.amax(dim=1)
    scale = torch.ones(outputs.shape[-1], dtype=torch.float64)
    for o in range(outputs.shape[-1]):
        values = peak[demanded[:, :, o].any(dim=1), o]
        if len(values):
            scale[o] = max(float(values.double().median()), 1e-3)
    return scale


def _answered(outputs: torch.Tensor, targets: torch.Tensor, threshold: torch.Tensor) -> np.ndarray:
    """Trials whose output shows the answer: wherever a target is demanded
    (:func:`_demanded`), the output reaches ``threshold`` with the target's sign on one
    of those steps (per output; trials without demanded steps count as answered)."""
    demanded = _demanded(targets)
    shown = (outputs * torch.sign(targets) >= threshold.to(outputs)) & demanded
    needed = demanded.any(dim=1)
    return (shown.any(dim=1) | ~needed).all(dim=-1).numpy()


def _single_network(model: Architecture, network: int, dtype: torch.dtype) -> Architecture:
    if not 0 <= network < model.n_networks:
        raise ValueError(f"network {network} is not in an ensemble of {model.n_networks}")
    net = model.blank_like(1)
    net.load_networks([model.network_state_dict(network)])
    net = net.to(dtype=dtype)
    net.requires_grad_(False)
    return net


class _UnionFind:
    def __init__(self, n: int) -> None:
        self.parent = list(range(n))

    def find(self, i: int) -> int:
        while self.parent[i] != i:
            self.parent[i] = self.parent[self.parent[i]]
            i = self.parent[i]
        return i

    def union(self, i: int, j: int) -> None:
        a, b = self.find(i), self.find(j)
        if a != b:
            self.parent[max(a, b)] = min(a, b)


def _close_pairs(x: torch.Tensor, tol: float, chunk: int = 2048) -> list[tuple[int, int]]:
    pairs = []
    for start in range(0, len(x), chunk):
        d = torch.cdist(x[start : start + chunk], x)
        i, j = (d < tol).nonzero(as_tuple=True)
        i = i + start
        keep = i < j
        pairs += list(zip(i[keep].tolist(), j[keep].tolist(), strict=True))
    return pairs


# -- the graph of one network ---------------------------------------------------------------


def reduced_dynamics_graph(
    model: Architecture,
    task: Task,
    params: ReducedGraphParams | None = None,
    network: int = 0,
) -> xr.Dataset:
    """The reduced-dynamics graph of one network and its solution hash.

    Parameters
    ----------
    model : Architecture
        The ensemble (never modified); ``network`` picks the network analysed.
    task : Task
        A task with input pulses whose probe trials are sequences of single pulses
        separated by zero input (delayed discrimination, interval discrimination, time
        reproduction); the probe trials give the order of the pulses and the waits.
    params : ReducedGraphParams
        Thresholds and budgets.
    network : int, default 0
        Index of the network in the ensemble.

    Returns
    -------
    xarray.Dataset
        Dimensions ``reduced_node`` and ``reduced_edge`` (the compact graph),
        ``state``, ``output``, ``probe_trial`` and ``probe_event``. Node variables:
        ``node_label`` (output sign(s): ``+``, ``-``, ``0``; ``?`` where divergent),
        ``node_kind`` (``transient``, ``settled``, ``slow``, ``divergent``, or several
        comma-joined), ``node_initial``, ``node_pulse_depth`` (fewest pulses from
        the initial node), ``node_n_raw`` (raw nodes merged), ``node_state`` and
        ``node_output`` (state and output at a representative: its first terminal, else
        the start of its first segment). Edge variables: ``edge_source``,
        ``edge_target``, ``edge_pulse`` (pulse group or ``flow``), ``edge_n_raw`` (raw
        edges behind it). Probe variables: ``probe_event_pulse`` (pulse name, ``""``
        after a trial's last pulse), ``probe_event_node`` (node just before the pulse)
        and ``probe_event_target`` (node just after it), -1 where none; the probe
        conditions are coordinates ``probe_<name>`` along ``probe_trial``. Scalar
        ``solution_hash`` (:func:`solution_type_hash` of :func:`graph_from_dataset`).
        Attributes: every hyperparameter as ``param_<name>``, the waits, the
        pulse names and groups, the number of pulses per path, and diagnostics
        (relaxations per level and kind, raw node count, truncation, wall time).
    """
    params = params or ReducedGraphParams()
    started = time.perf_counter()
    pulses = task.input_pulses()
    if pulses is None:
        raise ValueError(f"task {task.name!r} has no input pulses")
    dtype = params.torch_dtype
    net = _single_network(model, network, dtype)
    n_pulses, n_out = len(pulses.steps), net.n_outputs
    groups = _pulse_groups(pulses, params.pulse_grouping)
    events = probe_events(task, pulses)
    offsets = sorted({g for trial in events for g, _ in trial} | set(params.extra_waits))
    offsets_np = np.array([g for g in offsets if g <= params.relax_steps], dtype=np.int64)
    max_pulses = (params.max_pulses or max((len(e) for e in events), default=1)) + (
        params.extra_pulses
    )

    probe = task.probe_set()
    with torch.no_grad():
        x = probe.inputs[None].to(net.weight_out)
        probe_states = net.run(x, net.initial_state(x.shape[1]).to(x))
        probe_outputs = net.readout(probe_states.reshape(1, -1, net.n_state))
    probe_outputs = probe_outputs.reshape(*x.shape[1:3], n_out).cpu()
    if params.output_scale == "response":
        output_scale = _response_scale(probe_outputs, probe.targets)
    else:
        output_scale = torch.ones(n_out, dtype=torch.float64)
    threshold = params.output_threshold * output_scale
    correct = (task.score(probe_outputs, probe).numpy() > 0.5) & _answered(
        probe_outputs, probe.targets, threshold
    )
    flat = probe_states[0].reshape(-1, net.n_state)
    scale = float((flat - flat.mean(dim=0)).norm(dim=-1).pow(2).mean().sqrt())
    tol = params.merge_tol * scale
    explored = [e for e, ok in zip(events, correct, strict=True) if ok or not params.correct_only]
    grammar = Grammar(explored, len(pulses.steps), params.pulse_order, params.extra_waits)
    runs, run_offset, children, truncated = explore(
        net, pulses, offsets_np, max_pulses, grammar, params, tol, threshold.to(dtype)
    )
    graph = _raw_graph(runs, run_offset, children, offsets_np, groups, n_out, tol)
    compact, mapping, _ = compact_graph(
        LabelledGraph(tuple(graph.labels), tuple(graph.edges)), graph.initial
    )
    n_nodes = compact.n_nodes
    node_label = [""] * n_nodes
    kinds: list[set[str]] = [set() for _ in range(n_nodes)]
    rep = [-1] * n_nodes
    rep_terminal = [-1] * n_nodes
    n_raw = np.zeros(n_nodes, dtype=np.int64)
    for v in range(len(graph.labels)):
        c = int(mapping[v])
        if c < 0:
            continue
        n_raw[c] += 1
        node_label[c] = graph.labels[v]
        if graph.kinds[v] != "transient":
            kinds[c].add(graph.kinds[v])
            if rep_terminal[c] < 0:
                rep_terminal[c] = v
        if rep[c] < 0:
            rep[c] = v
    node_kind = [",".join(k for k in _KIND_ORDER if k in ks) if ks else "transient" for ks in kinds]
    rep_state = torch.stack(
        [graph.states[rep_terminal[c] if rep_terminal[c] >= 0 else rep[c]] for c in range(n_nodes)]
    )
    with torch.no_grad():
        node_output = net.readout(rep_state[None])[0]
    initial_node = int(mapping[graph.initial])
    node_initial = np.zeros(n_nodes, dtype=bool)
    node_initial[initial_node] = True

    edge_n_raw: dict[tuple[int, int, str], int] = {}
    for s, t, lab in graph.edges:
        cs, ct = int(mapping[s]), int(mapping[t])
        if cs < 0 or (lab == FLOW and cs == ct):
            continue
        key = (cs, ct, lab)
        edge_n_raw[key] = edge_n_raw.get(key, 0) + 1
    edges = list(compact.edges)
    n_raw_edges = [edge_n_raw.get(e, 0) for e in edges]
    pulse_depth = _pulse_depth(n_nodes, edges, initial_node)

    n_events = max((len(e) for e in events), default=0)
    ev_pulse = np.full((len(events), max(n_events, 1)), "", dtype=object)
    ev_node = np.full((len(events), max(n_events, 1)), -1, dtype=np.int64)
    ev_target = np.full((len(events), max(n_events, 1)), -1, dtype=np.int64)
    for trial, evs in enumerate(events):
        r = 0
        for e, (wait, k) in enumerate(evs):
            ev_pulse[trial, e] = str(pulses.names[k])
            source = graph.pulse_source(r, wait, offsets_np)
            if source is None:
                break
            node, key = source
            ev_node[trial, e] = int(mapping[node])
            r = children.get(key, [-1] * n_pulses)[k]
            if r < 0:
                break
            ev_target[trial, e] = int(mapping[graph.entry[r]])
    ds = xr.Dataset(
        {
            "reduced_node_label": (
                "reduced_node",
                np.array(node_label, dtype=object),
                {"long_name": "output sign at the node (+, -, 0 per output; ? divergent)"},
            ),
            "reduced_node_kind": (
                "reduced_node",
                np.array(node_kind, dtype=object),
                {"long_name": "transient, or the kinds of the terminal states it holds"},
            ),
            "reduced_node_initial": (
                "reduced_node",
                node_initial,
                {"long_name": "the node holds the network's initial state"},
            ),
            "reduced_node_pulse_depth": (
                "reduced_node",
                pulse_depth,
                {"long_name": "fewest pulses on a path from the initial node", "units": "1"},
            ),
            "reduced_node_n_raw": (
                "reduced_node",
                n_raw,
                {"long_name": "raw nodes (segments and terminal states) merged", "units": "1"},
            ),
            "reduced_node_state": (
                ("reduced_node", "state"),
                rep_state.double().cpu().numpy(),
                {"long_name": "state of a representative of the node", "units": "1"},
            ),
            "reduced_node_output": (
                ("reduced_node", "output"),
                node_output.double().cpu().numpy(),
                {"long_name": "network output at the representative state", "units": "1"},
            ),
            "reduced_edge_source": (
                "reduced_edge",
                np.array([e[0] for e in edges], dtype=np.int64),
                {"long_name": "source node of the edge"},
            ),
            "reduced_edge_target": (
                "reduced_edge",
                np.array([e[1] for e in edges], dtype=np.int64),
                {"long_name": "target node of the edge"},
            ),
            "reduced_edge_pulse": (
                "reduced_edge",
                np.array([e[2] for e in edges], dtype=object),
                {"long_name": f"pulse (group) of the edge, or {FLOW!r} under zero input"},
            ),
            "reduced_edge_n_raw": (
                "reduced_edge",
                np.array(n_raw_edges, dtype=np.int64),
                {"long_name": "raw edges merged into the edge", "units": "1"},
            ),
            "probe_correct": (
                "probe_trial",
                correct,
                {"long_name": "the network answers the probe trial correctly (noise-free)"},
            ),
            "probe_event_pulse": (
                ("probe_trial", "probe_event"),
                ev_pulse,
                {"long_name": "pulse of the probe trial's event ('' after its last)"},
            ),
            "probe_event_node": (
                ("probe_trial", "probe_event"),
                ev_node,
                {"long_name": "reduced node just before the pulse (-1: none)"},
            ),
            "probe_event_target": (
                ("probe_trial", "probe_event"),
                ev_target,
                {"long_name": "reduced node just after the pulse (-1: none)"},
            ),
        },
        coords={
            "reduced_node": ("reduced_node", np.arange(n_nodes), {"long_name": "reduced node"}),
            "reduced_edge": ("reduced_edge", np.arange(len(edges)), {"long_name": "reduced edge"}),
            "state": ("state", np.arange(net.n_state), {"long_name": "state dimension"}),
            "output": ("output", np.arange(n_out), {"long_name": "output"}),
            "probe_event": ("probe_event", np.arange(ev_node.shape[1]), {"long_name": "pulse"}),
            **{
                f"probe_{k}": ("probe_trial", np.asarray(v), {"long_name": f"probe condition {k}"})
                for k, v in probe.conditions.items()
            },
        },
    )
    kinds_all = [k for batch in runs for k in batch.kind]
    ds.attrs = {
        **{f"param_{k}": _attr(v) for k, v in params.to_dict().items()},
        "task": task.name,
        "architecture": getattr(model, "name", type(model).__name__),
        "pulse_names": json.dumps([str(s) for s in pulses.names]),
        "pulse_groups": json.dumps(groups),
        "waits": json.dumps([int(g) for g in offsets_np]),
        "max_pulses_per_path": int(max_pulses),
        "state_scale": scale,
        "output_scale": json.dumps([float(x) for x in output_scale]),
        "merge_distance": tol,
        "n_probe_errors": int((~correct).sum()),
        "n_probe_trials_explored": len(explored),
        "n_relaxations": int(sum(len(batch.length) for batch in runs)),
        "relaxations_per_level": json.dumps([len(batch.length) for batch in runs]),
        "n_settled": int(sum(k == "settled" for k in kinds_all)),
        "n_slow": int(sum(k == "slow" for k in kinds_all)),
        "n_divergent": int(sum(k == "divergent" for k in kinds_all)),
        "n_raw_nodes": len(graph.labels),
        "n_raw_edges": len(graph.edges),
        "n_terminal_nodes": int(sum(k != "transient" for k in graph.kinds)),
        "truncated": int(truncated),
        "wall_time_s": float(time.perf_counter() - started),
    }
    ds["solution_hash"] = xr.DataArray(
        solution_type_hash(graph_from_dataset(ds)),
        attrs={"long_name": "Weisfeiler-Lehman hash of the reduced graph (solution type)"},
    )
    return ds


def _attr(value: Any) -> Any:
    if isinstance(value, tuple | list):
        return json.dumps(list(value))
    if isinstance(value, bool):
        return int(value)
    return value


def _pulse_depth(n: int, edges: list[tuple[int, int, str]], initial: int) -> np.ndarray:
    """Fewest pulse edges on a path from ``initial`` (flow edges cost nothing); -1 if none."""
    best = [math.inf] * n
    best[initial] = 0
    queue: deque[int] = deque([initial])
    out: list[list[tuple[int, int]]] = [[] for _ in range(n)]
    for s, t, lab in edges:
        out[s].append((t, 0 if lab == FLOW else 1))
    while queue:
        v = queue.popleft()
        for t, w in out[v]:
            if best[v] + w < best[t]:
                best[t] = best[v] + w
                if w == 0:
                    queue.appendleft(t)
                else:
                    queue.append(t)
    return np.array([int(d) if d < math.inf else -1 for d in best], dtype=np.int64)


@dataclass
class _RawGraph:
    """Segments and terminal nodes of every relaxation, with flow and pulse edges."""

    labels: list[str]
    kinds: list[str]
    states: list[torch.Tensor]
    edges: list[tuple[int, int, str]]
    entry: list[int]  # first node of every relaxation
    segment_at: dict[tuple[int, int], int]  # (relaxation, step) -> segment starting there
    terminal_of: list[int]  # terminal node of every relaxation
    explored_rep: dict[int, int]  # terminal node -> relaxation whose end state was branched
    lengths: np.ndarray
    initial: int

    def pulse_source(
        self, r: int, wait: int, offsets: np.ndarray
    ) -> tuple[int, tuple[int, int]] | None:
        """(node, key of ``children``) of a pulse after ``wait`` steps of relaxation ``r``."""
        if wait < self.lengths[r]:
            node = self.segment_at.get((r, wait))
            if node is None:
                return None
            return node, (r, int(np.searchsorted(offsets, wait)))
        node = self.terminal_of[r]
        if node not in self.explored_rep:
            return None
        return node, (self.explored_rep[node], -1)


def _raw_graph(
    runs: list[Relaxations],
    run_offset: list[int],
    children: dict[tuple[int, int], list[int]],
    offsets: np.ndarray,
    groups: list[str],
    n_out: int,
    tol: float,
) -> _RawGraph:
    ends = torch.cat([batch.end for batch in runs])
    kinds = [k for batch in runs for k in batch.kind]
    lengths = np.concatenate([batch.length for batch in runs])
    n_runs = len(kinds)
    uf = _UnionFind(n_runs)
    for kind in _KIND_ORDER if tol > 0 else ():
        members = [r for r in range(n_runs) if kinds[r] == kind]
        if kind == "divergent":
            for r in members[1:]:
                uf.union(members[0], r)
        elif len(members) > 1:
            for i, j in _close_pairs(ends[members], tol):
                uf.union(members[i], members[j])

    labels: list[str] = []
    node_kinds: list[str] = []
    states: list[torch.Tensor] = []
    edges: list[tuple[int, int, str]] = []
    terminal_node: dict[int, int] = {}
    terminal_of = [-1] * n_runs
    for level, batch in enumerate(runs):
        for i in range(len(batch.length)):
            r = run_offset[level] + i
            root = uf.find(r)
            if root not in terminal_node:
                terminal_node[root] = len(labels)
                code = int(batch.labels[i, batch.length[i]])
                divergent = kinds[root] == "divergent"
                labels.append(DIVERGENT_LABEL if divergent else code_to_label(code, n_out))
                node_kinds.append(kinds[root])
                states.append(ends[root])
            terminal_of[r] = terminal_node[root]

    branched: dict[int, list[int]] = {}
    for r, j in children:
        if j >= 0:
            branched.setdefault(r, []).append(int(offsets[j]))
    entry = [-1] * n_runs
    segment_at: dict[tuple[int, int], int] = {}
    for level, batch in enumerate(runs):
        for i in range(len(batch.length)):
            r = run_offset[level] + i
            length = int(batch.length[i])
            lab = batch.labels[i, : length + 1]
            cuts = {0} if length > 0 else set()
            cuts |= {int(t) for t in np.flatnonzero(lab[1:length] != lab[: length - 1]) + 1}
            cuts |= set(branched.get(r, ()))
            previous = -1
            for t in sorted(cuts):
                v = len(labels)
                labels.append(code_to_label(int(lab[t]), n_out))
                node_kinds.append("transient")
                if t == 0:
                    states.append(batch.start[i])
                elif (i, t) in batch.change_states:
                    states.append(batch.change_states[(i, t)])
                else:
                    states.append(batch.branch[i, int(np.searchsorted(offsets, t))])
                segment_at[(r, t)] = v
                if previous >= 0:
                    edges.append((previous, v, FLOW))
                previous = v
            if previous >= 0:
                edges.append((previous, terminal_of[r], FLOW))
            entry[r] = segment_at.get((r, 0), terminal_of[r])

    explored_rep: dict[int, int] = {}
    for (r, j), kids in sorted(children.items()):
        if j >= 0:
            source = segment_at[(r, int(offsets[j]))]
        else:
            source = terminal_of[r]
            explored_rep.setdefault(source, r)
        for k, child in enumerate(kids):
            if child >= 0:
                edges.append((source, entry[child], groups[k]))
    return _RawGraph(
        labels,
        node_kinds,
        states,
        edges,
        entry,
        segment_at,
        terminal_of,
        explored_rep,
        lengths,
        entry[0],
    )


def _node_hash_label(label: str, initial: bool) -> str:
    return f"{label}|initial" if initial else label


def graph_from_dataset(ds: xr.Dataset) -> LabelledGraph:
    """The compact reduced graph stored in a dataset of :func:`reduced_dynamics_graph`.

    Node labels are the output labels, with ``"|initial"`` appended for the initial
    node; edge labels are the pulse groups and ``flow``.
    """
    labels = [
        _node_hash_label(str(lab), bool(init))
        for lab, init in zip(
            ds["reduced_node_label"].values, ds["reduced_node_initial"].values, strict=True
        )
    ]
    edges = zip(
        ds["reduced_edge_source"].values.tolist(),
        ds["reduced_edge_target"].values.tolist(),
        [str(p) for p in ds["reduced_edge_pulse"].values],
        strict=True,
    )
    return LabelledGraph(tuple(labels), tuple(edges))
