"""Fixed-point finder against an independent ground truth, next to the finder without
verification from probe samples only and FixedPointFinder's joint Adam.

    python bench/fixed_points.py                    # trains 4 gru-64 flip-flop networks first
    python bench/fixed_points.py --architectures gru lstm ugrnn --networks 2
    python bench/fixed_points.py --models a/model.pt b/model.pt
    python bench/fixed_points.py --quick            # 1 gru-64, 1,000 starts per kind

Networks. Unless model files are given, the script trains ``--networks`` 64-unit
networks of each of ``--architectures`` on the 3-bit flip-flop through
:func:`rnn_analysis.training.run.train_ensemble` into a temporary folder, one thread,
seeds 0, 1, ...: the default sweep's task and BPTT settings (lr 5e-3, batch 128, up to
3000 updates; validation every 50 updates on 256 trials, converged when the last 10
scores are all ≥ 0.95). Given model files, the task of each comes from the training
spec stored in it. Probe trajectories are the task's probe set.

Ground truth, per network and static input: ``scipy.optimize.root`` (``hybr``, analytic
Jacobian) in float64 on the architecture's saturation-free residual ``R(h, u)``
(:meth:`~rnn_analysis.architectures.base.Architecture.fixed_point_residual`: ``n − h``
for a GRU, the gate-weighted residual for an LSTM, in closed-form numpy, checked
against the network's own residual and its autograd Jacobian first; the network's
torch residual for other architectures) from
``--starts`` starts of each of three kinds: probe states, uniform random states in the
state box (``[−1, 1]`` in every coordinate bounded by a tanh: all of a GRU's, UGRNN's or
tanh network's, an LSTM's hidden half; elsewhere the probe states' range widened by half
of it on either side) and random convex combinations of two probe states. An end point
is a root when ``‖R‖ ≤ 1e-10``, the full Newton step there is ≤ 1e-8 (an isolated root)
and every tanh-bounded coordinate has ``|h_i| < 1`` (a GRU's fixed point is
``h* = n(h*) = tanh(·)``); roots closer than 1e-6 are one. Multi-start root finding can
miss roots, so every fixed point reported by a method that is not within 1e-3 of a root
is checked the same way (a root solve started at it must end within 1e-3); the roots
found so are added to the ground truth and counted separately. Stability is the number
of eigenvalues of ``dF/dh`` with ``|λ| > 1 + 1e-6``.

Methods, each timed (wall-clock and process CPU seconds, ``--threads`` threads, after a
small warm-up call):

* **finder**: :func:`rnn_analysis.analysis.fixed_points.find_fixed_points` with the
  default :class:`~rnn_analysis.analysis.fixed_points.FixedPointParams`; its points with
  ``kind == "fixed"``.
* **unverified, probe only**: the same with verification off, probe samples only
  (``initial_states_per_dimension=0, expanded_fraction=0, segment_points=0``) and
  ``unstable_tol=0``: fixed points are the points with q ≤ tol_q.
* **joint Adam**: FixedPointFinder's ``joint`` method (Golub & Sussillo 2018) with its
  defaults (:class:`JointAdamParams`), in float64, from 1024 probe samples plus noise
  0.05 per static input (the finder's own first draw); fixed points are the points
  with q ≤ 1e-12 after the finder's outlier rule and deduplication.

A ground-truth root is found by a method when one of its fixed points lies within 1e-3
(the finder's ``unique_tol``) under the same static input; a method's fixed point that
is neither within 1e-3 of a root nor a root itself is spurious. The printout gives, per
network and in total, found / missed (by the stability of the root: stable, 1, 2 and
3+ unstable modes) and spurious points (by the method's own count of unstable modes),
the largest coordinate of spurious points, and slow points.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import scipy.optimize
import scipy.special
import torch
from numpy.typing import NDArray

from rnn_analysis.analysis.fixed_points import (
    FixedPointParams,
    find_fixed_points,
    jacobian,
    net_copy,
    residual_jacobian,
    sample_initial_states,
)
from rnn_analysis.architectures import Architecture
from rnn_analysis.hyperparameters import Hyperparameters, from_mapping
from rnn_analysis.io import META_FILE, MODEL_FILE, load_models
from rnn_analysis.tasks import TASKS, Task
from rnn_analysis.tasks.base import StaticInputs
from rnn_analysis.training.run import train_ensemble

SPEC: dict[str, Any] = {
    "task": {"n_bits": 3, "n_steps": 100, "pulse_probability": 0.05},
    "architecture": {"hidden_size": 64},
    "learning_rule": {"learning_rate": 5e-3, "batch_size": 128, "max_iterations": 3000},
    "stopping": {"validate_every": 50, "validation_trials": 256, "window": 10},
}
UNVERIFIED = FixedPointParams(
    verify=False,
    initial_states_per_dimension=0,
    expanded_fraction=0.0,
    segment_points=0,
    unstable_tol=0.0,
)
#: A root: residual, Newton step, dedup distance; a method's point matches within MATCH.
ROOT_RESIDUAL, ROOT_STEP, ROOT_SAME, MATCH = 1e-10, 1e-8, 1e-6, 1e-3
UNSTABLE_TOL = 1e-6
CLASSES = ("stable", "1", "2", "3+")


@dataclass(frozen=True)
class JointAdamParams(Hyperparameters):
    """FixedPointFinder's ``joint`` optimisation, with its defaults.

    The objective is the mean of every point's q; Adam (TensorFlow 1's form, in which
    ``epsilon`` is added to the root of the uncorrected second moment) follows the
    gradient clipped to a global norm that adapts to recent norms, with one learning
    rate for all points that adapts to the objective.

    Attributes
    ----------
    max_iterations : int, default 5000
        Iteration budget (``max_iters``).
    tol_dq : float, default 1e-20
        Optimisation also ends when every point has q ≤ tol_q or changed its q by less
        than tol_dq times the learning rate in the last iteration.
    initial_rate : float, default 1.0
        Initial learning rate (``AdaptiveLearningRate.initial_rate``).
    decrease_factor : float, default 0.95
        The rate is multiplied by this when the objective exceeds each of its previous
        ``min_steps_per_decrease`` values.
    min_steps_per_decrease : int, default 5
        Window of that test, and the least number of iterations between two changes.
    increase_factor : float, default 1/0.95
        The rate is multiplied by this when the objective has fallen at each of the
        last ``min_steps_per_increase`` iterations.
    min_steps_per_increase : int, default 5
        Window of that test, and the least number of iterations between two changes.
    adam_beta1 : float, default 0.9
        Adam's first-moment decay.
    adam_beta2 : float, default 0.999
        Adam's second-moment decay.
    adam_epsilon : float, default 0.01
        Adam's epsilon (FixedPointFinder's ``adam_hps``; TensorFlow's default is 1e-8).
    clip_window : int, default 128
        The clipping norm is a percentile of the last clip_window global gradient norms
        (``AdaptiveGradNormClip.sliding_window_len``).
    clip_percentile : float, default 95.0
        That percentile.
    initial_clip : float, default 1e12
        Clipping norm before any gradient has been seen (and the largest one).
    """

    max_iterations: int = 5000
    tol_dq: float = 1e-20
    initial_rate: float = 1.0
    decrease_factor: float = 0.95
    min_steps_per_decrease: int = 5
    increase_factor: float = 1 / 0.95
    min_steps_per_increase: int = 5
    adam_beta1: float = 0.9
    adam_beta2: float = 0.999
    adam_epsilon: float = 0.01
    clip_window: int = 128
    clip_percentile: float = 95.0
    initial_clip: float = 1e12


@dataclass
class Network:
    """One trained network, its probe trajectories and static inputs."""

    name: str
    model: Architecture
    task: Task
    states: torch.Tensor
    static_inputs: StaticInputs


@dataclass(frozen=True)
class Clock:
    """Wall-clock and process CPU seconds (a start, or an elapsed time)."""

    wall: float
    cpu: float

    @classmethod
    def start(cls) -> Clock:
        return cls(time.perf_counter(), time.process_time())

    def elapsed(self) -> Clock:
        return Clock(time.perf_counter() - self.wall, time.process_time() - self.cpu)

    def __add__(self, other: Clock) -> Clock:
        return Clock(self.wall + other.wall, self.cpu + other.cpu)

    def __str__(self) -> str:
        return f"{self.wall:6.2f} s ({self.cpu:6.2f} s CPU)"


@dataclass
class Found:
    """One method's fixed points of one network ([P, S], [P], [P]), slow points and time."""

    method: str
    time: Clock
    points: NDArray
    condition: NDArray
    n_unstable: NDArray
    n_slow: int = 0


@dataclass
class Tally:
    """found / missed by ground-truth class, spurious by the method's class."""

    found: NDArray = field(default_factory=lambda: np.zeros(4, np.int64))
    missed: NDArray = field(default_factory=lambda: np.zeros(4, np.int64))
    spurious: NDArray = field(default_factory=lambda: np.zeros(4, np.int64))
    spurious_max_coordinate: float = 0.0
    n_slow: int = 0
    time: Clock = Clock(0.0, 0.0)

    def add(self, other: Tally) -> None:
        self.found += other.found
        self.missed += other.missed
        self.spurious += other.spurious
        self.spurious_max_coordinate = max(
            self.spurious_max_coordinate, other.spurious_max_coordinate
        )
        self.n_slow += other.n_slow
        self.time = self.time + other.time


def stability_class(n_unstable: NDArray) -> NDArray:
    return np.minimum(np.asarray(n_unstable, dtype=np.int64), 3)


def counts(n_unstable: NDArray) -> NDArray:
    return np.bincount(stability_class(n_unstable), minlength=4)


def by_class(c: NDArray) -> str:
    return f"{int(c.sum()):3d} ({'/'.join(str(int(v)) for v in c)})"


# -- networks ----------------------------------------------------------------------


def train(folder: Path, architectures: Sequence[str], n: int) -> list[Path]:
    """Train ``n`` networks of each architecture into ``folder``; their model files."""
    paths = []
    for arch in architectures:
        specs = [
            {
                "network": {
                    "task": "flipflop",
                    "architecture": arch,
                    "learning_rule": "bptt",
                    "noise": 0.0,
                    "seed": seed,
                },
                **SPEC,
            }
            for seed in range(n)
        ]
        folders = [folder / f"{arch}{seed}" for seed in range(n)]
        start = Clock.start()
        statuses = train_ensemble(specs, folders, device="cpu", log=lambda _: None)
        updates = [json.loads((f / META_FILE).read_text())["iterations"] for f in folders]
        print(
            f"trained {n} {arch}-64 on flipflop in {start.elapsed().wall:.1f} s: "
            f"{', '.join(statuses)} after {', '.join(map(str, updates))} updates"
        )
        paths += [f / MODEL_FILE for f in folders]
    return paths


def load(path: Path) -> Network:
    """A trained network alone, with the task of its training spec and its probe states."""
    model = load_models([path])
    model.requires_grad_(False)
    spec = torch.load(path, map_location="cpu", weights_only=False)["spec"]
    labels = spec["network"]
    task_cls = TASKS[labels["task"]]
    task = task_cls(from_mapping(task_cls.Params, spec.get("task", {}), "task"))
    with torch.no_grad():
        states, _ = model(task.probe_set().inputs.unsqueeze(0))
    name = f"{labels['architecture']}-{model.hidden_size} {labels['task']} seed {labels['seed']}"
    return Network(name, model, task, states, task.static_inputs())


# -- ground truth --------------------------------------------------------------------

Residual = tuple[Callable[[NDArray], NDArray], Callable[[NDArray], NDArray]]


def bounded(net: Architecture) -> NDArray:
    """Coordinates of the state that are a tanh (or a gate times one) at a fixed point."""
    mask = np.zeros(net.n_state, dtype=bool)
    params = net.params
    if net.name in ("gru", "ugrnn") or getattr(params, "activation", "") == "tanh":
        mask[:] = net.name != "rate"
    if net.name == "lstm":
        mask[: net.hidden_size] = True
    return mask


def torch_residual(net: Architecture, u: NDArray) -> Residual:
    """R(h, u) and dR/dh of a one-network float64 model at one point, through torch."""
    ut = torch.as_tensor(u, dtype=torch.float64).view(1, 1, -1)

    def residual(h: NDArray) -> NDArray:
        with torch.no_grad():
            return net.fixed_point_residual(torch.from_numpy(h).view(1, 1, -1), ut).view(-1).numpy()

    def jac(h: NDArray) -> NDArray:
        return residual_jacobian(net, torch.from_numpy(h).view(1, 1, -1), ut)[0, 0].numpy()

    return residual, jac


def gru_residual(net: Architecture, u: NDArray) -> Residual:
    """Closed-form ``n(h, u) − h`` of a one-network GRU and its Jacobian, in numpy."""
    w = {name: p.detach()[0].double().numpy() for name, p in net.named_parameters()}
    n = net.hidden_size
    gi = u @ w["weight_ih"] + w["bias_ih"]
    w_hh, b_hh = w["weight_hh"], w["bias_hh"]
    wr_t, wn_t = w_hh[:, :n].T, w_hh[:, 2 * n :].T
    eye = np.eye(n)

    def parts(h: NDArray) -> tuple[NDArray, NDArray, NDArray]:
        gh = h @ w_hh + b_hh
        r = scipy.special.expit(gi[:n] + gh[:n])
        hn = gh[2 * n :]
        return r, np.tanh(gi[2 * n :] + r * hn), hn

    def residual(h: NDArray) -> NDArray:
        return parts(h)[1] - h

    def jac(h: NDArray) -> NDArray:
        r, cand, hn = parts(h)
        dr = (r * (1 - r))[:, None] * wr_t
        return (1 - cand**2)[:, None] * (r[:, None] * wn_t + hn[:, None] * dr) - eye

    return checked(net, u, residual, jac)


def lstm_residual(net: Architecture, u: NDArray) -> Residual:
    """Closed-form ``[o tanh(c') − h ; w_i g − w_c c]`` of a one-network LSTM and its
    Jacobian, in numpy (``w_i = σ(log i − log(1 − f))``, ``w_c = 1 − w_i``)."""
    w = {name: p.detach()[0].double().numpy() for name, p in net.named_parameters()}
    n = net.hidden_size
    drive = u @ w["weight_ih"] + w["bias"]
    w_t = [w["weight_hh"][:, k * n : (k + 1) * n].T for k in range(4)]  # i, f, g, o
    eye = np.eye(n)

    def log_sigmoid(x: NDArray) -> NDArray:
        return -np.logaddexp(0.0, -x)

    def parts(x: NDArray):
        hid, cell = x[:n], x[n:]
        a = hid @ w["weight_hh"] + drive
        a_i, a_f, a_g, a_o = (a[k * n : (k + 1) * n] for k in range(4))
        i, f, o = (scipy.special.expit(v) for v in (a_i, a_f, a_o))
        g = np.tanh(a_g)
        new_cell = f * cell + i * g
        weight_i = scipy.special.expit(log_sigmoid(a_i) - log_sigmoid(-a_f))
        return hid, cell, i, f, g, o, new_cell, weight_i

    def residual(x: NDArray) -> NDArray:
        hid, cell, _, _, g, o, new_cell, weight_i = parts(x)
        return np.concatenate([o * np.tanh(new_cell) - hid, weight_i * (g + cell) - cell])

    def jac(x: NDArray) -> NDArray:
        hid, cell, i, f, g, o, new_cell, weight_i = parts(x)
        wi_t, wf_t, wg_t, wo_t = w_t
        tanh_c = np.tanh(new_cell)
        dcell_dhid = (
            (cell * f * (1 - f))[:, None] * wf_t
            + (g * i * (1 - i))[:, None] * wi_t
            + (i * (1 - g**2))[:, None] * wg_t
        )
        dratio_dhid = (1 - i)[:, None] * wi_t + f[:, None] * wf_t
        out = np.empty((2 * n, 2 * n))
        out[:n, :n] = (
            (tanh_c * o * (1 - o))[:, None] * wo_t
            + (o * (1 - tanh_c**2))[:, None] * dcell_dhid
            - eye
        )
        out[:n, n:] = np.diag(o * (1 - tanh_c**2) * f)
        out[n:, :n] = ((g + cell) * weight_i * (1 - weight_i))[:, None] * dratio_dhid + (
            weight_i * (1 - g**2)
        )[:, None] * wg_t
        out[n:, n:] = np.diag(weight_i - 1)
        return out

    return checked(net, u, residual, jac)


def checked(net: Architecture, u: NDArray, residual: Callable, jac: Callable) -> Residual:
    """``(residual, jac)`` after checking them against the network's torch residual and
    its autograd Jacobian at a random state."""
    check_residual, check_jac = torch_residual(net, u)
    h = np.random.default_rng(0).normal(0, 0.5, net.n_state)
    assert np.abs(residual(h) - check_residual(h)).max() < 1e-12
    assert np.abs(jac(h) - check_jac(h)).max() < 1e-12
    return residual, jac


def root_from(start: NDArray, fns: Residual, mask: NDArray) -> NDArray | None:
    """The root ``scipy.optimize.root`` reaches from ``start``, or None if it is not one."""
    residual, jac = fns
    x = scipy.optimize.root(residual, start, jac=jac, method="hybr").x
    r = residual(x)
    if not np.all(np.isfinite(r)) or np.linalg.norm(r) > ROOT_RESIDUAL:
        return None
    if np.any(np.abs(x[mask]) >= 1):
        return None
    try:
        step = np.linalg.solve(jac(x), -r)
    except np.linalg.LinAlgError:
        return None
    return x if np.linalg.norm(step) <= ROOT_STEP else None


def add_root(roots: list[NDArray], x: NDArray) -> bool:
    if any(np.linalg.norm(x - r) < ROOT_SAME for r in roots):
        return False
    roots.append(x)
    return True


def starts(network: Network, n: int, rng: np.random.Generator) -> dict[str, NDArray]:
    """[n, S] starts of each kind: probe states, the state box, combinations of two."""
    s = network.model.n_state
    probe = network.states[0].reshape(-1, s).double().numpy()
    lo, hi = probe.min(axis=0), probe.max(axis=0)
    lo, hi = lo - (hi - lo) / 2, hi + (hi - lo) / 2
    mask = bounded(network.model)
    lo[mask], hi[mask] = -1.0, 1.0
    a = probe[rng.integers(len(probe), size=n)]
    b = probe[rng.integers(len(probe), size=n)]
    w = rng.uniform(size=(n, 1))
    return {
        "probe": probe[rng.integers(len(probe), size=n)],
        "box": rng.uniform(lo, hi, size=(n, s)),
        "combination": w * a + (1 - w) * b,
    }


@dataclass
class Truth:
    """Ground-truth roots of one network: [P, S], [P] static input, [P] unstable modes."""

    points: NDArray
    condition: NDArray
    n_unstable: NDArray
    from_methods: int
    time: Clock
    n_starts: int


def residuals(network: Network) -> list[Residual]:
    net = net_copy(network.model, torch.float64)
    values = network.static_inputs.values.double().numpy()
    make = {"gru": gru_residual, "lstm": lstm_residual}.get(net.name, torch_residual)
    return [make(net, u) for u in values]


def ground_truth(network: Network, n_starts: int, seed: int = 0) -> tuple[list[list], Clock, int]:
    """Roots per static input from ``n_starts`` starts of each kind."""
    start = Clock.start()
    mask = bounded(network.model)
    rng = np.random.default_rng(seed)
    roots: list[list[NDArray]] = []
    total = 0
    for fns in residuals(network):
        found: list[NDArray] = []
        for x0s in starts(network, n_starts, rng).values():
            for x0 in x0s:
                x = root_from(x0, fns, mask)
                if x is not None:
                    add_root(found, x)
            total += len(x0s)
        roots.append(found)
    return roots, start.elapsed(), total


def unstable_modes(network: Network, points: NDArray, condition: NDArray) -> NDArray:
    if len(points) == 0:
        return np.zeros(0, dtype=np.int64)
    net = net_copy(network.model, torch.float64)
    values = network.static_inputs.values.double().numpy()
    h = torch.as_tensor(points)[None]
    u = torch.as_tensor(values[condition])[None]
    lam = np.linalg.eigvals(jacobian(net, h, u)[0].numpy())
    return (np.abs(lam) > 1 + UNSTABLE_TOL).sum(axis=1)


def complete(network: Network, roots: list[list], methods: list[Found]) -> int:
    """Add every method's fixed point that is a root missing from ``roots``; the count."""
    mask = bounded(network.model)
    fns = residuals(network)
    added = 0
    for found in methods:
        for x, c in zip(found.points, found.condition, strict=True):
            if any(np.linalg.norm(x - r) <= MATCH for r in roots[c]):
                continue
            root = root_from(x, fns[c], mask)
            if root is not None and np.linalg.norm(root - x) <= MATCH:
                added += add_root(roots[c], root)
    return added


def tally(truth: Truth, found: Found) -> Tally:
    out = Tally(n_slow=found.n_slow, time=found.time)
    hit = np.zeros(len(truth.points), dtype=bool)
    for x, c, k in zip(found.points, found.condition, found.n_unstable, strict=True):
        same = truth.condition == c
        d = np.linalg.norm(truth.points[same] - x, axis=1)
        if len(d) and d.min() <= MATCH:
            hit[np.flatnonzero(same)[d <= MATCH]] = True
        else:
            out.spurious[min(int(k), 3)] += 1
            out.spurious_max_coordinate = max(out.spurious_max_coordinate, np.abs(x).max())
    out.found = counts(truth.n_unstable[hit])
    out.missed = counts(truth.n_unstable[~hit])
    return out


# -- methods ---------------------------------------------------------------------------


def run_finder(network: Network, params: FixedPointParams, name: str) -> Found:
    start = Clock.start()
    (ds,) = find_fixed_points(network.model, network.states, network.static_inputs, params)
    elapsed = start.elapsed()
    fixed = ds.kind.values == "fixed"
    return Found(
        name,
        elapsed,
        ds.state_value.values[fixed],
        ds.condition.values[fixed].astype(np.int64),
        ds.n_unstable.values[fixed].astype(np.int64),
        int((~fixed).sum()),
    )


def unique_fixed_points(
    x: NDArray, q: NDArray, condition: NDArray, init: NDArray, params: FixedPointParams
) -> NDArray:
    """Indices of the unique points with q ≤ tol_q, after the finder's outlier rule."""
    keep = np.isfinite(q) & np.all(np.isfinite(x), axis=1) & (q <= params.tol_q)
    centroid = init.mean(axis=0)
    mean_distance = float(np.linalg.norm(init - centroid, axis=1).mean())
    if mean_distance > 0:
        distance = np.linalg.norm(np.where(keep[:, None], x, 0.0) - centroid, axis=1)
        keep &= distance <= params.outlier_distance_scale * mean_distance
    kept = []
    for c in np.unique(condition):
        idx = np.flatnonzero(keep & (condition == c))
        idx = idx[np.argsort(q[idx], kind="stable")]
        alive = np.ones(len(idx), dtype=bool)
        for i in range(len(idx)):
            if alive[i]:
                kept.append(idx[i])
                far = np.linalg.norm(x[idx[i + 1 :]] - x[idx[i]], axis=1) > params.unique_tol
                alive[i + 1 :] &= far
    return np.asarray(kept, dtype=np.int64)


class AdaptiveRate:
    """FixedPointFinder's ``AdaptiveLearningRate`` (without warm-up)."""

    def __init__(self, params: JointAdamParams) -> None:
        self.params = params
        self.rate = params.initial_rate
        self.losses: list[float] = []
        self.last_change = 0

    def update(self, loss: float) -> float:
        """Record the objective of the step just taken; the rate for the next step."""
        p = self.params
        self.losses.append(loss)
        step = len(self.losses) - 1
        if step == 0:
            return self.rate
        window = self.losses[-(1 + p.min_steps_per_decrease) :]
        if step >= self.last_change + p.min_steps_per_decrease and all(
            window[-1] > w for w in window[:-1]
        ):
            self.rate *= p.decrease_factor
            self.last_change = step
            return self.rate
        window = self.losses[-(1 + p.min_steps_per_increase) :]
        if step >= self.last_change + p.min_steps_per_increase and all(
            b < a for a, b in zip(window[:-1], window[1:], strict=True)
        ):
            self.rate *= p.increase_factor
            self.last_change = step
        return self.rate


def run_joint_adam(network: Network, params: FixedPointParams, ref: JointAdamParams) -> Found:
    """FixedPointFinder's joint Adam on all points of all static inputs of one network."""
    start = Clock.start()
    net = net_copy(network.model, torch.float64)
    generator = torch.Generator().manual_seed(params.seed)
    probe = network.states.detach().to(torch.float64)
    init = sample_initial_states(probe, params.n_initial_states, params.initial_noise, generator)[0]
    values = network.static_inputs.values.double()
    n_cond, n_init = len(values), len(init)
    x = init.repeat(n_cond, 1).unsqueeze(0).clone()
    u = values.repeat_interleave(n_init, dim=0).unsqueeze(0)
    m, v = torch.zeros_like(x), torch.zeros_like(x)
    schedule = AdaptiveRate(ref)
    rate, clip = ref.initial_rate, ref.initial_clip
    norms: list[float] = []
    q_prev = None
    for it in range(1, ref.max_iterations + 1):
        xg = x.detach().requires_grad_(True)
        with torch.enable_grad():
            q = 0.5 * (net.step(xg, u) - xg).square().sum(dim=-1)
            loss = q.mean()
            (grad,) = torch.autograd.grad(loss, xg)
        q = q.detach()
        if q_prev is not None:
            done = (q < params.tol_q) | ((q - q_prev).abs() < ref.tol_dq * rate)
            if bool(done.all()):
                break
        if it == ref.max_iterations:
            break
        norm = float(grad.norm())
        grad = grad * (clip / max(norm, clip))
        m.mul_(ref.adam_beta1).add_(grad, alpha=1 - ref.adam_beta1)
        v.mul_(ref.adam_beta2).addcmul_(grad, grad, value=1 - ref.adam_beta2)
        step = rate * math.sqrt(1 - ref.adam_beta2**it) / (1 - ref.adam_beta1**it)
        x = x - step * m / (v.sqrt() + ref.adam_epsilon)
        q_prev = q
        rate = schedule.update(float(loss.detach()))
        norms = (norms + [norm])[-ref.clip_window :]
        clip = min(float(np.percentile(norms, ref.clip_percentile)), ref.initial_clip)
    condition = np.repeat(np.arange(n_cond), n_init)
    xs, qs = x[0].numpy(), q[0].numpy()
    kept = unique_fixed_points(xs, qs, condition, init.numpy(), params)
    points = xs[kept]
    n_unstable = unstable_modes(network, points, condition[kept])
    return Found("joint Adam", start.elapsed(), points, condition[kept], n_unstable)


# -- reporting ---------------------------------------------------------------------------


def print_table(rows: list[tuple[str, Tally]]) -> None:
    head = f"  {'method':22s} {'time':>24s}   {'found':14s} {'missed':14s} {'spurious':14s} slow"
    print(head)
    for name, t in rows:
        extra = f"  (largest |h_i| {t.spurious_max_coordinate:.3g})" if t.spurious.sum() else ""
        print(
            f"  {name:22s} {t.time!s:>24s}   {by_class(t.found):14s} {by_class(t.missed):14s} "
            f"{by_class(t.spurious):14s} {t.n_slow:4d}{extra}"
        )


def compare(network: Network, n_starts: int, ref: JointAdamParams) -> list[tuple[str, Tally]]:
    methods = [
        run_finder(network, FixedPointParams(), "finder"),
        run_finder(network, UNVERIFIED, "unverified, probe only"),
        run_joint_adam(network, FixedPointParams(), ref),
    ]
    roots, elapsed, total = ground_truth(network, n_starts)
    n_multistart = sum(len(r) for r in roots)
    added = complete(network, roots, methods)
    points = np.array([x for r in roots for x in r]).reshape(-1, network.model.n_state)
    condition = np.array([c for c, r in enumerate(roots) for _ in r], dtype=np.int64)
    truth = Truth(
        points,
        condition,
        unstable_modes(network, points, condition),
        added,
        elapsed,
        total,
    )
    print(
        f"\n== {network.name}: ground truth {by_class(counts(truth.n_unstable))} roots "
        f"(stable/1/2/3+ unstable modes); {n_multistart} from {total} scipy starts in "
        f"{elapsed.wall:.1f} s, {added} more found only by a method"
    )
    rows = [(found.method, tally(truth, found)) for found in methods]
    print_table(rows)
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", type=Path, nargs="*", help="model.pt files")
    parser.add_argument("--architectures", nargs="+", default=["gru"])
    parser.add_argument("--networks", type=int, default=4, help="per architecture")
    parser.add_argument("--starts", type=int, default=3000, help="per kind and static input")
    parser.add_argument("--quick", action="store_true", help="1 network, 1000 starts")
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args()
    if args.quick:
        args.networks, args.starts = 1, min(args.starts, 1000)
    torch.set_num_threads(args.threads)
    load1, load5, _ = os.getloadavg()
    print(
        f"{args.threads} thread(s), {os.cpu_count()} cores, load average {load1:.2f} (1 min) "
        f"{load5:.2f} (5 min); torch {torch.__version__}, scipy {scipy.__version__}"
    )
    ref = JointAdamParams()
    with tempfile.TemporaryDirectory() as tmp:
        paths = args.models or train(Path(tmp), args.architectures, args.networks)
        networks = [load(path) for path in paths]
        warm = FixedPointParams(n_initial_states=8, max_iterations=10, refine_iterations=2)
        run_finder(networks[0], warm, "warm-up")
        totals: dict[str, dict[str, Tally]] = {}
        for network in networks:
            arch = network.model.name
            for name, t in compare(network, args.starts, ref):
                totals.setdefault(arch, {}).setdefault(name, Tally()).add(t)
    for arch, rows in totals.items():
        n = sum(network.model.name == arch for network in networks)
        print(f"\n== total over {n} {arch} network(s)")
        print_table(list(rows.items()))


if __name__ == "__main__":
    main()
