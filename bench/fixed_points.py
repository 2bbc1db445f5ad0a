"""Fixed-point finder vs point-by-point scipy roots and FixedPointFinder's joint Adam.

    python bench/fixed_points.py                  # trains the networks first (fixed seeds)
    python bench/fixed_points.py --quick          # 2 GRUs, fewer initial states (~1 min)
    python bench/fixed_points.py --gru-models a/model.pt b/model.pt --cdi-model c/model.pt
    python bench/fixed_points.py --gru-initial-states 4096 --scipy-budget 120

Networks. Unless model files are given, the script trains them through
:func:`rnn_analysis.training.run.train_ensemble` into a temporary folder, one thread,
fixed seeds: an ensemble of ``--networks`` 64-unit GRUs on the 3-bit flip-flop (the
default sweep's task and BPTT settings: lr 5e-3, batch 128, up to 3000 updates;
validation every 25 updates on 256 trials, converged when the last 10 scores are all
≥ 0.95) and one 50-unit rate network on ``cdi`` (2 contexts, α 0.2, tanh, the study's
weak g/N initialisation, input noise 0.1, BPTT lr 1e-2, batch 64; trials shortened from
the study's 750 steps to 100 for training speed; converged when the last 5 validation
scores on 500 trials are all ≥ 0.9). Given model files, the task of each comes from the
training spec stored in it.

Part 1, one network at a time (the first GRU, every GRU with ``--compare-all``, then the
CDI network; ``--gru-initial-states`` 1024, ``--cdi-initial-states`` 256 per static
input, fewer than the finder's default 1024 to keep the references' time short). All
three methods start from the same initial states, drawn by
:func:`rnn_analysis.analysis.fixed_points.sample_initial_states` from the network's
probe trajectories with the finder's own seed and noise, the same states under every
static input of the task (1 for flip-flop, 42 for CDI), and count a point as fixed
when ``q = ½‖F(h, u) − h‖² ≤ tol_q`` (1e-12), in float64:

* **ours**: :func:`rnn_analysis.analysis.fixed_points.find_fixed_points` with the default
  :class:`~rnn_analysis.analysis.fixed_points.FixedPointParams` except
  ``n_initial_states`` (its fixed points, ``kind == "fixed"``).
* **(a) scipy**: ``scipy.optimize.root(method="hybr")`` on ``F(h, u) − h`` from each
  initial state in turn, with the analytic Jacobian ``dF/dh − I``. For ``gru`` and
  ``rate`` networks, F and its Jacobian are closed-form numpy functions of the network's
  float64 weights (checked against the network's own step and
  :func:`~rnn_analysis.analysis.fixed_points.jacobian` to 1e-10 first); for other
  architectures, the network's torch step and ``jacobian``. The loop visits the
  (static input, initial state) pairs in a fixed random order; once it has run for
  ``--scipy-budget`` seconds it stops, and the time of its loop is extrapolated
  linearly to all pairs (printed as such, with the number of points it is based on).
* **(b) joint Adam**: FixedPointFinder's ``joint`` method (Golub & Sussillo 2018) with
  its defaults (:class:`JointAdamParams`): one Adam optimisation of the mean q of all
  points of all static inputs, every point updated at every iteration until all have
  q ≤ tol_q (or all stop changing) or after 5000 iterations; run in float64 (the
  reference's default float32 cannot reach 1e-12).

Every method's points go through the same selection: points with q ≤ tol_q, minus
those farther from the initial states' centroid than ``outlier_distance_scale`` times
their mean distance from it, deduplicated per static input greedily by ascending q with
the Euclidean ``unique_tol`` (1e-3), as the finder does. The references' times include
this selection and the Jacobian and eigenvalues at the points they keep (the finder's
result holds both). Two sets are the same when every point of each lies within
``unique_tol`` of a point of the other under the same static input; the printout gives
the points left unmatched in each direction, the largest matched distance and, for
matched pairs, disagreements in the number of unstable modes.

Part 2, ensembles: the finder on the whole GRU ensemble in one call vs one network at
a time (all networks, the same parameters), the time ratio, and whether the results
are the same: the number, kind, static input and unstable-mode count of every point,
and the largest difference of the states and eigenvalues, for fixed and for slow
points (batched arithmetic rounds differently, and a slow point, or a fixed point with
an eigenvalue next to 1, sits on a nearly flat valley of q along which a rounding
difference can move its end point far).

Timings are wall-clock and process CPU seconds on ``--threads`` threads (default 1),
after one small warm-up call; on a shared machine the CPU times are the steadier
measure, and the load average is printed first. ``--quick`` trains 2 GRUs and uses
256 GRU and 32 CDI initial states and a 30 s scipy budget.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np
import scipy.optimize
import torch
import xarray as xr
from numpy.typing import NDArray

from rnn_analysis.analysis.fixed_points import (
    FixedPointParams,
    find_fixed_points,
    jacobian,
    net_copy,
    sample_initial_states,
)
from rnn_analysis.architectures import Architecture
from rnn_analysis.hyperparameters import Hyperparameters, from_mapping
from rnn_analysis.io import META_FILE, MODEL_FILE, load_models
from rnn_analysis.tasks import TASKS, Task
from rnn_analysis.tasks.base import StaticInputs
from rnn_analysis.training.run import train_ensemble

GRU_SPEC: dict[str, Any] = {
    "task": {"n_bits": 3, "n_steps": 100, "pulse_probability": 0.05},
    "architecture": {"hidden_size": 64},
    "learning_rule": {"learning_rate": 5e-3, "batch_size": 128, "max_iterations": 3000},
    "stopping": {"validate_every": 25, "validation_trials": 256, "window": 10},
}
CDI_SPEC: dict[str, Any] = {
    "task": {"n_contexts": 2, "n_steps": 100},
    "architecture": {"hidden_size": 50, "alpha": 0.2},
    "learning_rule": {"learning_rate": 1e-2, "batch_size": 64, "max_iterations": 1500},
    "stopping": {"validate_every": 25, "validation_trials": 500, "window": 5},
}


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

    def __post_init__(self) -> None:
        if self.max_iterations < 1:
            raise ValueError(f"max_iterations must be >= 1, got {self.max_iterations}")
        for name in ("tol_dq", "adam_epsilon"):
            if getattr(self, name) < 0:
                raise ValueError(f"{name} must be >= 0, got {getattr(self, name)}")
        for name in ("initial_rate", "initial_clip"):
            if not getattr(self, name) > 0:
                raise ValueError(f"{name} must be > 0, got {getattr(self, name)}")
        if not 0 < self.decrease_factor <= 1:
            raise ValueError(f"decrease_factor must be in (0, 1], got {self.decrease_factor}")
        if self.increase_factor < 1:
            raise ValueError(f"increase_factor must be >= 1, got {self.increase_factor}")
        for name in ("min_steps_per_decrease", "min_steps_per_increase", "clip_window"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be >= 1, got {getattr(self, name)}")
        for name in ("adam_beta1", "adam_beta2"):
            if not 0 <= getattr(self, name) < 1:
                raise ValueError(f"{name} must be in [0, 1), got {getattr(self, name)}")
        if not 0 < self.clip_percentile <= 100:
            raise ValueError(f"clip_percentile must be in (0, 100], got {self.clip_percentile}")


@dataclass
class Network:
    """Trained networks of one task, their probe trajectories and static inputs."""

    name: str
    paths: list[Path]
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

    def __mul__(self, factor: float) -> Clock:
        return Clock(self.wall * factor, self.cpu * factor)

    def __add__(self, other: Clock) -> Clock:
        return Clock(self.wall + other.wall, self.cpu + other.cpu)

    def __str__(self) -> str:
        return f"{self.wall:8.2f} s ({self.cpu:7.2f} s CPU)"

    def ratio(self, other: Clock) -> str:
        return f"{self.wall / other.wall:6.2f}x ({self.cpu / other.cpu:5.2f}x CPU)"


@dataclass
class Found:
    """One method's unique fixed points of one network, and what it cost."""

    method: str
    time: Clock
    points: NDArray
    condition: NDArray
    n_unstable: NDArray
    n_optimised: int
    n_converged: int
    extrapolated_from: int | None = None
    iterations: int | None = None
    stop: str = ""


# -- networks ----------------------------------------------------------------------


def train(folder: Path, n_gru: int, log: Callable[[str], None]) -> tuple[list[Path], Path]:
    """Train the GRU ensemble and the CDI rate network into ``folder``; their model files."""
    gru_specs = [
        {
            "network": {
                "task": "flipflop",
                "architecture": "gru",
                "learning_rule": "bptt",
                "noise": 0.0,
                "seed": seed,
            },
            **GRU_SPEC,
        }
        for seed in range(n_gru)
    ]
    cdi_spec = {
        "network": {
            "task": "cdi",
            "architecture": "rate",
            "learning_rule": "bptt",
            "noise": 0.1,
            "seed": 0,
        },
        **CDI_SPEC,
    }
    gru_folders = [folder / f"gru{seed}" for seed in range(n_gru)]
    for specs, folders in (([cdi_spec], [folder / "cdi0"]), (gru_specs, gru_folders)):
        start = Clock.start()
        statuses = train_ensemble(specs, folders, device="cpu", log=lambda _: None)
        iterations = [json.loads((f / META_FILE).read_text())["iterations"] for f in folders]
        labels = specs[0]["network"]
        log(
            f"trained {len(specs)} {labels['architecture']} on {labels['task']} in "
            f"{start.elapsed().wall:.1f} s: {', '.join(statuses)} after "
            f"{', '.join(map(str, iterations))} updates"
        )
    return [f / MODEL_FILE for f in gru_folders], folder / "cdi0" / MODEL_FILE


def load(name: str, paths: Sequence[Path]) -> Network:
    """Networks of identical shapes as one ensemble, with the task of their training spec."""
    model = load_models(paths)
    model.requires_grad_(False)
    spec = torch.load(paths[0], map_location="cpu", weights_only=False)["spec"]
    task_name = spec["network"]["task"]
    task_cls = TASKS[task_name]
    task = task_cls(from_mapping(task_cls.Params, spec.get("task", {}), "task"))
    probe = task.probe_set()
    with torch.no_grad():
        states, _ = model(probe.inputs.unsqueeze(0).expand(model.n_networks, -1, -1, -1))
    return Network(name, list(paths), model, task, states, task.static_inputs())


def single(network: Network, index: int) -> Network:
    """Network ``index`` of an ensemble, alone."""
    model = load_models([network.paths[index]])
    model.requires_grad_(False)
    states = network.states[index : index + 1]
    return replace(network, paths=[network.paths[index]], model=model, states=states)


def initial_states(network: Network, params: FixedPointParams) -> torch.Tensor:
    """[E, n_initial_states, S] float64: the states the finder itself starts from."""
    generator = torch.Generator().manual_seed(params.seed)
    probe = network.states.detach().to(torch.float64)
    return sample_initial_states(probe, params.n_initial_states, params.initial_noise, generator)


# -- selection and comparison --------------------------------------------------------


def unique_fixed_points(
    x: NDArray, q: NDArray, condition: NDArray, init: NDArray, params: FixedPointParams
) -> NDArray:
    """Indices of the unique fixed points among the end points ``x`` [P, S] of one network."""
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


def count_unstable(
    net: Architecture, points: NDArray, inputs: NDArray, params: FixedPointParams
) -> NDArray:
    """Number of eigenvalues of dF/dh with |λ| > 1 + unstable_tol at each point."""
    if len(points) == 0:
        return np.zeros(0, dtype=np.int64)
    h = torch.as_tensor(points, dtype=torch.float64)[None]
    u = torch.as_tensor(inputs, dtype=torch.float64)[None]
    jac = jacobian(net, h, u)[0].numpy()
    lam = np.linalg.eigvals(jac)
    return (np.abs(lam) > 1 + params.unstable_tol).sum(axis=1)


def finish(
    method: str,
    start: Clock,
    net: Architecture,
    x: NDArray,
    q: NDArray,
    condition: NDArray,
    values: NDArray,
    init: NDArray,
    params: FixedPointParams,
    **extra: Any,
) -> Found:
    """Select, characterise and time the end points of a reference method."""
    kept = unique_fixed_points(x, q, condition, init, params)
    n_unstable = count_unstable(net, x[kept], values[condition[kept]], params)
    converged = int((q <= params.tol_q).sum())
    return Found(
        method, start.elapsed(), x[kept], condition[kept], n_unstable, len(q), converged, **extra
    )


@dataclass
class Match:
    """How two sets of fixed points of one network compare.

    ``only_a`` / ``only_b`` hold the number of unstable modes of each point of one set
    with no point of the other within the tolerance.
    """

    only_a: NDArray
    only_b: NDArray
    max_distance: float
    unstable_mismatch: int

    @property
    def same(self) -> bool:
        return len(self.only_a) == 0 and len(self.only_b) == 0


def compare(a: Found, b: Found, tol: float) -> Match:
    """Points of each set with no point of the other within ``tol`` (same static input)."""
    only: list[list[int]] = [[], []]
    max_distance = 0.0
    mismatch = 0
    for first, second, k in ((a, b, 0), (b, a, 1)):
        for i in range(len(first.points)):
            candidates = np.flatnonzero(second.condition == first.condition[i])
            d = np.linalg.norm(second.points[candidates] - first.points[i], axis=1)
            j = int(np.argmin(d)) if len(d) else -1
            if j < 0 or d[j] > tol:
                only[k].append(int(first.n_unstable[i]))
                continue
            max_distance = max(max_distance, float(d[j]))
            if k == 0 and first.n_unstable[i] != second.n_unstable[candidates[j]]:
                mismatch += 1
    return Match(np.array(only[0], int), np.array(only[1], int), max_distance, mismatch)


def by_stability(n_unstable: NDArray) -> str:
    """Count of points by number of unstable modes: '3 (2 stable, 1 with 1 unstable mode)'."""
    if len(n_unstable) == 0:
        return "0"
    counts = np.bincount(n_unstable)
    parts = [
        "stable" if k == 0 else f"with {k} unstable mode{'s' if k > 1 else ''}"
        for k in range(len(counts))
    ]
    detail = ", ".join(f"{c} {part}" for c, part in zip(counts, parts, strict=True) if c)
    return f"{len(n_unstable)} ({detail})"


# -- the three methods -----------------------------------------------------------------


def run_ours(network: Network, params: FixedPointParams) -> tuple[Clock, list[xr.Dataset]]:
    start = Clock.start()
    result = find_fixed_points(network.model, network.states, network.static_inputs, params)
    return start.elapsed(), result


def ours_found(elapsed: Clock, ds: xr.Dataset) -> Found:
    fixed = ds.where(ds.kind == "fixed", drop=True) if ds.sizes["fixed_point"] else ds
    return Found(
        "ours",
        elapsed,
        fixed.state_value.values.reshape(-1, ds.sizes["state"]),
        fixed.condition.values.astype(np.int64),
        fixed.n_unstable.values.astype(np.int64),
        int(ds.attrs["n_points_optimised"]),
        int(ds.attrs["n_converged"]),
        iterations=int(ds.attrs["adam_iterations"]),
    )


def numpy_step(
    net: Architecture, u: NDArray
) -> tuple[Callable[[NDArray], NDArray], Callable[[NDArray], NDArray]] | None:
    """Closed-form residual ``F(h, u) − h`` and its Jacobian of a one-network GRU or rate net."""
    w = {name: p.detach()[0].double().numpy() for name, p in net.named_parameters()}
    n = net.hidden_size
    eye = np.eye(n)
    if net.name == "gru":
        gi = u @ w["weight_ih"] + w["bias_ih"]
        w_hh, b_hh = w["weight_hh"], w["bias_hh"]
        wr_t, wz_t, wn_t = (w_hh[:, k * n : (k + 1) * n].T for k in range(3))

        def gates(h: NDArray) -> tuple[NDArray, NDArray, NDArray, NDArray]:
            gh = h @ w_hh + b_hh
            r = 1 / (1 + np.exp(-(gi[:n] + gh[:n])))
            z = 1 / (1 + np.exp(-(gi[n : 2 * n] + gh[n : 2 * n])))
            cand = np.tanh(gi[2 * n :] + r * gh[2 * n :])
            return r, z, cand, gh[2 * n :]

        def residual(h: NDArray) -> NDArray:
            _, z, cand, _ = gates(h)
            return (1 - z) * cand + z * h - h

        def jac(h: NDArray) -> NDArray:
            r, z, cand, hn = gates(h)
            dr = (r * (1 - r))[:, None] * wr_t
            dz = (z * (1 - z))[:, None] * wz_t
            dn = (1 - cand**2)[:, None] * (r[:, None] * wn_t + hn[:, None] * dr)
            return (1 - z)[:, None] * dn + (h - cand)[:, None] * dz + np.diag(z) - eye

        return residual, jac
    if net.name == "rate":
        alpha = float(net.params.alpha)
        shift = 1.0 if net.params.activation == "shifted_tanh" else 0.0
        drive0 = u @ w["weight_ih"] + w["bias_h"]
        w_t = w["weight_hh"].T

        def residual(h: NDArray) -> NDArray:
            drive = (np.tanh(h) + shift) @ w["weight_hh"] + drive0
            return alpha * (drive - h)

        def jac(h: NDArray) -> NDArray:
            return alpha * (w_t * (1 - np.tanh(h) ** 2)[None, :] - eye)

        return residual, jac
    return None


def torch_step(
    net: Architecture, u: NDArray
) -> tuple[Callable[[NDArray], NDArray], Callable[[NDArray], NDArray]]:
    """Residual and Jacobian through the network's own step, one point at a time."""
    ut = torch.as_tensor(u, dtype=torch.float64).view(1, 1, -1)
    eye = np.eye(net.n_state)

    def residual(h: NDArray) -> NDArray:
        ht = torch.from_numpy(h).view(1, 1, -1)
        with torch.no_grad():
            return (net.step(ht, ut) - ht).view(-1).numpy()

    def jac(h: NDArray) -> NDArray:
        return jacobian(net, torch.from_numpy(h).view(1, 1, -1), ut)[0, 0].numpy() - eye

    return residual, jac


def residual_functions(
    net: Architecture, u: NDArray, backend: str
) -> tuple[Callable[[NDArray], NDArray], Callable[[NDArray], NDArray], str]:
    closed = numpy_step(net, u) if backend == "numpy" else None
    if closed is None:
        return (*torch_step(net, u), "torch step + jacobian()")
    residual, jac = closed
    check_residual, check_jac = torch_step(net, u)
    h = np.random.default_rng(0).normal(0, 0.5, net.n_state)
    assert np.abs(residual(h) - check_residual(h)).max() < 1e-10
    assert np.abs(jac(h) - check_jac(h)).max() < 1e-10
    return residual, jac, "closed-form numpy"


def run_scipy(
    network: Network, params: FixedPointParams, budget: float, backend: str
) -> tuple[Found, str]:
    """(a): ``scipy.optimize.root`` from each initial state in turn."""
    start = Clock.start()
    net = net_copy(network.model, torch.float64)
    init = initial_states(network, params)[0].numpy()
    values = network.static_inputs.values.double().numpy()
    n_cond, n_init, s = len(values), len(init), init.shape[1]
    functions = [residual_functions(net, values[c], backend) for c in range(n_cond)]
    order = np.random.default_rng(params.seed).permutation(n_cond * n_init)
    x = np.full((n_cond * n_init, s), np.nan)
    q = np.full(n_cond * n_init, np.inf)
    visited = np.zeros(n_cond * n_init, dtype=bool)
    done = 0
    loop = Clock.start()
    for k in order:
        c, i = divmod(int(k), n_init)
        residual, jac, _ = functions[c]
        root = scipy.optimize.root(residual, init[i], jac=jac, method="hybr")
        x[k] = root.x
        q[k] = 0.5 * float(np.sum(residual(root.x) ** 2))
        visited[k] = True
        done += 1
        if time.perf_counter() - start.wall > budget:
            break
    loop_time = loop.elapsed()
    condition = np.repeat(np.arange(n_cond), n_init)
    found = finish(
        "scipy",
        start,
        net,
        x[visited],
        q[visited],
        condition[visited],
        values,
        init,
        params,
    )
    if done < len(order):
        found.extrapolated_from = done
        found.time = found.time + loop_time * (len(order) / done - 1)
    return found, functions[0][2]


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
    """(b): FixedPointFinder's joint Adam on all points of all static inputs of one network."""
    start = Clock.start()
    net = net_copy(network.model, torch.float64)
    init = initial_states(network, params)[0]
    values = network.static_inputs.values.double()
    n_cond, n_init = len(values), len(init)
    x = init.repeat(n_cond, 1).unsqueeze(0).clone()
    u = values.repeat_interleave(n_init, dim=0).unsqueeze(0)
    m, v = torch.zeros_like(x), torch.zeros_like(x)
    schedule = AdaptiveRate(ref)
    rate, clip = ref.initial_rate, ref.initial_clip
    norms: list[float] = []
    q_prev = None
    iterations, stop = 0, "iteration budget"
    for it in range(1, ref.max_iterations + 1):
        xg = x.detach().requires_grad_(True)
        with torch.enable_grad():
            q = 0.5 * (net.step(xg, u) - xg).square().sum(dim=-1)
            loss = q.mean()
            (grad,) = torch.autograd.grad(loss, xg)
        q = q.detach()
        iterations = it
        if q_prev is not None:
            done = (q < params.tol_q) | ((q - q_prev).abs() < ref.tol_dq * rate)
            if it > 1 and bool(done.all()):
                stop = "every point converged or stopped changing"
                break
        if it == ref.max_iterations:
            break
        norm = float(grad.norm())
        grad = grad * (clip / max(norm, clip))
        t = it
        m.mul_(ref.adam_beta1).add_(grad, alpha=1 - ref.adam_beta1)
        v.mul_(ref.adam_beta2).addcmul_(grad, grad, value=1 - ref.adam_beta2)
        step = rate * math.sqrt(1 - ref.adam_beta2**t) / (1 - ref.adam_beta1**t)
        x = x - step * m / (v.sqrt() + ref.adam_epsilon)
        q_prev = q
        rate = schedule.update(float(loss.detach()))
        norms = (norms + [norm])[-ref.clip_window :]
        clip = min(float(np.percentile(norms, ref.clip_percentile)), ref.initial_clip)
    condition = np.repeat(np.arange(n_cond), n_init)
    return finish(
        "joint Adam",
        start,
        net,
        x[0].numpy(),
        q[0].numpy(),
        condition,
        values.numpy(),
        init.numpy(),
        params,
        iterations=iterations,
        stop=stop,
    )


# -- reporting ---------------------------------------------------------------------------


def describe(found: Found, params: FixedPointParams) -> str:
    parts = [
        f"{found.time}{'*' if found.extrapolated_from else ' '}",
        f"{len(found.points):4d} unique fixed, {int((found.n_unstable == 0).sum()):3d} stable",
        f"{found.n_converged:6d}/{found.n_optimised} with q <= {params.tol_q:g}",
    ]
    return "  ".join(parts)


def compare_methods(
    network: Network,
    params: FixedPointParams,
    ref: JointAdamParams,
    budget: float,
    backend: str,
) -> None:
    """Part 1 on one network: time and fixed-point set of each method."""
    s, n_cond = network.model.n_state, len(network.static_inputs.values)
    n_points = n_cond * params.n_initial_states
    print(
        f"\n== {network.name}: {network.model.name}, {s} state dims, {n_cond} static input(s) "
        f"x {params.n_initial_states} initial states = {n_points} points"
    )
    elapsed, (ds,) = run_ours(network, params)
    mine = ours_found(elapsed, ds)
    print(f"  {'ours':14s} {describe(mine, params)}")
    print(
        f"  {'':14s} {ds.attrs['adam_iterations']} Adam iterations, {ds.attrs['n_refined']} "
        f"points refined (Levenberg-Marquardt, {ds.attrs['refine_iterations']} iterations), "
        f"{ds.attrs['continue_iterations']} more Adam iterations; also "
        f"{ds.attrs['n_slow']} slow points"
    )
    scipy_found, how = run_scipy(network, params, budget, backend)
    print(f"  {'(a) scipy':14s} {describe(scipy_found, params)}   [{how}]")
    if scipy_found.extrapolated_from:
        print(
            f"  {'':14s} * EXTRAPOLATED from {scipy_found.extrapolated_from} of {n_points} "
            f"points ({budget:g} s budget); its set comes from those points only"
        )
    adam = run_joint_adam(network, params, ref)
    print(f"  {'(b) joint Adam':14s} {describe(adam, params)}")
    print(
        f"  {'':14s} {adam.n_optimised - adam.n_converged} of {adam.n_optimised} points left "
        f"with q > {params.tol_q:g} after {adam.iterations} of {ref.max_iterations} iterations "
        f"({adam.stop})"
    )
    for other, label in ((scipy_found, "a"), (adam, "b")):
        match = compare(mine, other, params.unique_tol)
        if match.same:
            verdict = "same set"
        elif other.extrapolated_from is not None and len(match.only_b) == 0:
            verdict = f"its points are all in ours (from {other.extrapolated_from} of {n_points})"
        else:
            verdict = "different sets"
        print(f"  ratio {label}/ours {other.time.ratio(mine.time)}   {verdict}")
        print(
            f"  {'':14s} ours not found by ({label}): {by_stability(match.only_a)}; "
            f"({label}) not in ours: {by_stability(match.only_b)}; matched pairs within "
            f"{match.max_distance:.1e}, {match.unstable_mismatch} with different stability"
        )


def compare_ensemble(network: Network, params: FixedPointParams) -> None:
    """Part 2: the whole ensemble in one call vs one network at a time."""
    e = network.model.n_networks
    print(
        f"\n== {network.name}: ensemble of {e} {network.model.name} networks, "
        f"{params.n_initial_states} initial states each"
    )
    together_time, together = run_ours(network, params)
    alone = [run_ours(single(network, i), params) for i in range(e)]
    alone_time = alone[0][0]
    for t, _ in alone[1:]:
        alone_time = alone_time + t
    print(f"  together     {together_time}")
    print(f"  one by one   {alone_time}   (wall: {', '.join(f'{t.wall:.2f}' for t, _ in alone)})")
    print(f"  ratio one-by-one/together {alone_time.ratio(together_time)}")
    same = True
    d_state = {"fixed": 0.0, "slow": 0.0}
    d_eig = {"fixed": 0.0, "slow": 0.0}
    bitwise = True
    for i, (_, (ds,)) in enumerate(alone):
        other = together[i]
        same_points = ds.sizes["fixed_point"] == other.sizes["fixed_point"] and all(
            np.array_equal(ds[name].values, other[name].values)
            for name in ("kind", "condition", "n_unstable")
        )
        if not same_points:
            same = False
            print(
                f"  network {i}: {other.sizes['fixed_point']} points together, "
                f"{ds.sizes['fixed_point']} alone"
            )
            continue
        bitwise &= bool(np.array_equal(ds.state_value.values, other.state_value.values))
        lam = ds.eigenvalue_real.values + 1j * ds.eigenvalue_imag.values
        lam_other = other.eigenvalue_real.values + 1j * other.eigenvalue_imag.values
        for kind in d_state:
            k = ds.kind.values == kind
            if k.any():
                step = np.abs(ds.state_value.values[k] - other.state_value.values[k]).max()
                d_state[kind] = max(d_state[kind], float(step))
                d_eig[kind] = max(d_eig[kind], float(np.abs(lam[k] - lam_other[k]).max()))
    counts = ", ".join(
        f"{int((ds.kind == 'fixed').sum())}/{int(((ds.kind == 'fixed') & ds.stable).sum())}/"
        f"{int((ds.kind == 'slow').sum())}"
        for ds in together
    )
    print(f"  fixed/stable/slow points per network: {counts}")
    verdict = "bitwise identical" if same and bitwise else "same" if same else "DIFFERENT"
    print(
        f"  {verdict} results: number, kind, static input and unstable-mode count of every "
        f"point; max |Δ state| {d_state['fixed']:.1e} (fixed), {d_state['slow']:.1e} (slow); "
        f"max |Δ eigenvalue| {d_eig['fixed']:.1e} (fixed), {d_eig['slow']:.1e} (slow)"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--gru-models", type=Path, nargs="*", help="model.pt files of GRUs")
    parser.add_argument("--cdi-model", type=Path, help="model.pt of a rate network on cdi")
    parser.add_argument("--networks", type=int, default=4, help="GRUs to train (ensemble)")
    parser.add_argument("--gru-initial-states", type=int, default=1024)
    parser.add_argument("--cdi-initial-states", type=int, default=256, help="per static input")
    parser.add_argument("--scipy-budget", type=float, default=300.0, help="seconds")
    parser.add_argument("--scipy-backend", choices=["numpy", "torch"], default="numpy")
    parser.add_argument("--compare-all", action="store_true", help="part 1 on every GRU")
    parser.add_argument("--quick", action="store_true", help="fewer states and networks")
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args()
    if args.quick:
        args.networks = min(args.networks, 2)
        args.gru_initial_states = min(args.gru_initial_states, 256)
        args.cdi_initial_states = min(args.cdi_initial_states, 32)
        args.scipy_budget = min(args.scipy_budget, 30.0)
    torch.set_num_threads(args.threads)
    load1, load5, _ = os.getloadavg()
    print(
        f"{args.threads} thread(s), {os.cpu_count()} cores, load average {load1:.2f} (1 min) "
        f"{load5:.2f} (5 min); torch {torch.__version__}, scipy {scipy.__version__}"
    )
    ref = JointAdamParams()
    print(f"(b) joint Adam: {ref.to_dict()}")
    with tempfile.TemporaryDirectory() as tmp:
        gru_paths, cdi_path = args.gru_models, args.cdi_model
        if not gru_paths or cdi_path is None:
            trained_gru, trained_cdi = train(Path(tmp), args.networks, print)
            gru_paths = gru_paths or trained_gru
            cdi_path = cdi_path or trained_cdi
        gru = load("gru-flipflop", gru_paths)
        cdi = load("rate-cdi", [cdi_path])
        warm = FixedPointParams(n_initial_states=8, max_iterations=10, refine_iterations=2)
        run_ours(single(gru, 0), warm)

        gru_params = FixedPointParams(n_initial_states=args.gru_initial_states)
        cdi_params = FixedPointParams(n_initial_states=args.cdi_initial_states)
        for i in range(gru.model.n_networks if args.compare_all else 1):
            net = replace(single(gru, i), name=f"gru-flipflop network {i}")
            compare_methods(net, gru_params, ref, args.scipy_budget, args.scipy_backend)
        compare_methods(cdi, cdi_params, ref, args.scipy_budget, args.scipy_backend)
        if gru.model.n_networks > 1:
            compare_ensemble(gru, gru_params)


if __name__ == "__main__":
    main()
