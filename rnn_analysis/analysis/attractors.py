"""Attractor structure of one network, from its fixed and slow points and from simulation.

Given the fixed-point dataset of one network (the output of
:func:`~rnn_analysis.analysis.fixed_points.find_fixed_points`) and the network itself,
:func:`attractor_structure` computes:

1. **Counts** per static input and overall: fixed points, stable fixed points, saddles
   (fixed points with k ≥ 1 unstable modes) by k, and slow points.
2. **Line attractors** per static input. Candidates are the static input's fixed and
   slow points whose eigenvalue closest to 1 is real and near 1
   (``|λ₁ − 1| ≤ line_tolerance``) and stands out: the next closest is at least
   ``line_separation`` times farther from 1 (one slow mode, not the many marginal
   directions where a gated network's gates saturate), with no unstable mode besides
   it; given probe trajectories, candidates must also lie within
   ``line_max_probe_distance`` times the probe states' RMS spread of the nearest probe
   state (the fixed-point search can end far outside the region the network visits).
   Candidates are ordered along their first principal component and cut into chains
   wherever two neighbours are farther apart than ``line_max_gap`` times the candidates'
   spread along that component. A chain is a line attractor when it has at
   least ``line_min_points`` points, its extent (largest distance between two of its
   points) is at least ``line_min_extent``, and the slow modes' eigenvectors follow it:
   the mean along the chain of ``|cos|`` between the slow mode's eigenvector and the
   local chain direction (first principal axis of the chain points within
   ``line_window`` of the chain's extent along it, or at least the two neighbours) is
   at least ``line_alignment``; each point is weighted by half the distance to its
   neighbours, so that a dense cluster counts by its length, not by its number of
   points. Given probe trajectories, the extent must also be at least
   ``line_min_relative_extent`` times the range of the probe states along the chain's
   direction (a line the task's states use, not a short slow segment such as the ghost
   of a saddle-node). A group of static inputs sharing a label (the ``context`` of the
   integration tasks, with its static sensory levels) has a line attractor when at least
   ``group_min_inputs`` of its static inputs have one.
3. **Oscillatory modes** at every point: complex-conjugate pairs (``Im λ > complex_tol``),
   their rotation per step ``|arg λ|`` and modulus ``|λ|``; the leading pair's (largest
   ``|λ|``) rotation and modulus and the number of pairs.
4. **Limit cycles** by simulation. Under every static input the network is run, all
   static inputs and initial states in one batch, from perturbed fixed and slow points of
   that static input and perturbed final probe states, for ``cycle_transient_steps``
   steps, then observed for ``cycle_window_steps``. A run ended on a periodic orbit when
   it still moves (mean step length ≥ ``cycle_min_speed``) and returns close to where it
   was: the recurrence distance ``D(p) = max_t ‖x_t − x_{t−p}‖`` over the last
   ``cycle_window_steps − cycle_max_period`` steps, divided by the orbit's diameter (the
   largest ``D``), has a local minimum at some lag ``p`` in
   ``[cycle_min_period, cycle_max_period]`` below ``cycle_recurrence_tol``, and its size
   (RMS distance from the window's centroid over the first and the last such lag) changes
   by at most that fraction (a slowly decaying spiral is not a cycle). The best such
   lag may span several turns of an orbit whose period is not a whole number of steps (a
   rotation by an irrational angle per step). The period is that lag, located between
   whole steps from the V shape of ``D`` around it, divided by its number of turns,
   counted from the first local minimum of ``D`` below ``cycle_fundamental_tol`` (refined
   at each later one).

Results are one :class:`xarray.Dataset` that merges with the fixed-point dataset: per-point
variables along ``fixed_point``; per static input along ``static_input`` (its labels as
coordinates prefixed ``static_input_``); per group along ``input_group``; saddle counts
along ``unstable_modes``; simulation runs along ``cycle_run``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
import torch
import xarray as xr
from numpy.typing import NDArray
from scipy.spatial.distance import cdist, pdist

from rnn_analysis.analysis.fixed_points import jacobian, net_copy
from rnn_analysis.architectures.base import Architecture
from rnn_analysis.hyperparameters import Hyperparameters
from rnn_analysis.tasks.base import StaticInputs

__all__ = ["AttractorParams", "attractor_structure", "oscillatory_modes", "recurrence"]

_EIGEN_FLOOR = 1e-6
_MAX_PROBE_STATES = 4096
_WINDOW_POINTS = 32
_DISTANCE_CHUNK = 512
_REQUIRED = (
    "state_value",
    "input_value",
    "condition",
    "kind",
    "eigenvalue_real",
    "eigenvalue_imag",
    "eigenvector_real",
    "eigenvector_imag",
    "n_unstable",
    "stable",
)


@dataclass(frozen=True)
class AttractorParams(Hyperparameters):
    """Hyperparameters of the attractor-structure analysis.

    Attributes
    ----------
    complex_tol : float, default 1e-6
        An eigenvalue is complex when ``|Im λ| > complex_tol`` (a complex-conjugate pair
        is an oscillatory mode), real otherwise.
    line_tolerance : float, default 0.02
        A real eigenvalue with ``|λ − 1| ≤ line_tolerance`` is a slow mode (a time
        constant of at least about 1 / line_tolerance steps).
    line_alignment : float, default 0.8
        Minimal mean ``|cos|`` between the slow modes' eigenvectors and the local chain
        direction (weighted by the length of chain each point stands for) for a chain to
        be a line attractor.
    line_max_gap : float, default 0.25
        Chains are cut between neighbours (along the first principal component of one
        static input's candidates) farther apart than this fraction of the candidates'
        spread along that component.
    line_min_points : int, default 5
        Minimal number of points on a line attractor.
    line_min_extent : float, default 0.1
        Minimal extent of a line attractor: largest distance between two of its points,
        in the units of the state.
    line_min_relative_extent : float, default 0.25
        With probe trajectories, minimal extent of a line attractor as a fraction of the
        range (max − min) of all probe states projected on the chain's direction.
    line_max_probe_distance : float, default 1.0
        With probe trajectories, candidates farther from the nearest probe state than
        this many times the probe states' RMS distance from their centroid are left out
        (0 disables).
    line_window : float, default 0.25
        The local direction of a chain at a point is the first principal axis of the
        chain points within this fraction of the chain's extent along its first
        principal component (and at least the point's two neighbours).
    line_separation : float, default 2.0
        The slow mode must stand out: the eigenvalue next closest to 1 is at least this
        many times farther from 1 (distances below 1e-6 count as 1e-6).
    line_max_other_unstable : int, default 0
        Candidates have at most this many unstable modes besides their slow mode.
    group_label : str, default "context"
        Static-input label whose values group static inputs (e.g. the integration tasks'
        contexts, each with its static sensory levels); without such a label all static
        inputs form one group ``"all"``.
    group_min_inputs : int, default 1
        A group has a line attractor when at least this many of its static inputs have
        one (the line of an integrator exists near zero sensory input; the other levels
        of a context may only have a stable point on it).
    cycle_initial_states : int, default 8
        Simulations per static input. Half start from the static input's fixed and slow
        points (all of them when no probe states are given), the rest from final probe
        states, each perturbed; with neither, from the zero state perturbed.
    cycle_perturbation : float, default 0.05
        Standard deviation of the Gaussian perturbation of each initial state, in the
        units of the state.
    cycle_transient_steps : int, default 2000
        Steps simulated before the observation window.
    cycle_window_steps : int, default 500
        Length of the observation window.
    cycle_min_period : int, default 2
        Shortest period of a limit cycle, in steps.
    cycle_max_period : int, default 250
        Longest lag at which a return is sought (must be below cycle_window_steps); a
        cycle whose period is longer is not found.
    cycle_min_speed : float, default 1e-4
        A run whose mean step length over the window is below this has stopped (a fixed
        point), in the units of the state.
    cycle_recurrence_tol : float, default 0.05
        A run is on a periodic orbit when its recurrence distance at some lag is at most
        this fraction of the orbit's diameter, and the orbit's size changes by at most
        this fraction over the window.
    cycle_fundamental_tol : float, default 0.5
        The first local minimum of the relative recurrence distance below this value is
        taken as one turn when counting the turns within the best lag.
    seed : int, default 0
        Seed of the choice and perturbation of the simulations' initial states.
    dtype : {"float64", "float32"}, default "float64"
        Precision of the simulations and Jacobians.
    """

    complex_tol: float = 1e-6
    line_tolerance: float = 0.02
    line_alignment: float = 0.8
    line_max_gap: float = 0.25
    line_min_points: int = 5
    line_min_extent: float = 0.1
    line_min_relative_extent: float = 0.25
    line_max_probe_distance: float = 1.0
    line_window: float = 0.25
    line_separation: float = 2.0
    line_max_other_unstable: int = 0
    group_label: str = "context"
    group_min_inputs: int = 1
    cycle_initial_states: int = 8
    cycle_perturbation: float = 0.05
    cycle_transient_steps: int = 2000
    cycle_window_steps: int = 500
    cycle_min_period: int = 2
    cycle_max_period: int = 250
    cycle_min_speed: float = 1e-4
    cycle_recurrence_tol: float = 0.05
    cycle_fundamental_tol: float = 0.5
    seed: int = 0
    dtype: Literal["float64", "float32"] = "float64"

    def __post_init__(self) -> None:
        non_negative = (
            "complex_tol",
            "line_tolerance",
            "line_min_extent",
            "line_min_relative_extent",
            "line_max_probe_distance",
            "line_window",
            "line_max_other_unstable",
            "cycle_perturbation",
            "cycle_transient_steps",
            "cycle_min_speed",
        )
        for name in non_negative:
            if getattr(self, name) < 0:
                raise ValueError(f"{name} must be >= 0, got {getattr(self, name)}")
        if not 0 <= self.line_alignment <= 1:
            raise ValueError(f"line_alignment must be in [0, 1], got {self.line_alignment}")
        for name in ("line_max_gap", "cycle_recurrence_tol", "cycle_fundamental_tol"):
            if not getattr(self, name) > 0:
                raise ValueError(f"{name} must be > 0, got {getattr(self, name)}")
        if self.line_separation < 1:
            raise ValueError(f"line_separation must be >= 1, got {self.line_separation}")
        if self.group_min_inputs < 1:
            raise ValueError(f"group_min_inputs must be >= 1, got {self.group_min_inputs}")
        if self.line_min_points < 2:
            raise ValueError(f"line_min_points must be >= 2, got {self.line_min_points}")
        if self.cycle_initial_states < 1:
            raise ValueError(f"cycle_initial_states must be >= 1, got {self.cycle_initial_states}")
        if self.cycle_min_period < 1:
            raise ValueError(f"cycle_min_period must be >= 1, got {self.cycle_min_period}")
        if self.cycle_max_period < self.cycle_min_period:
            raise ValueError(
                f"cycle_max_period ({self.cycle_max_period}) must be >= cycle_min_period "
                f"({self.cycle_min_period})"
            )
        if self.cycle_window_steps <= self.cycle_max_period + 1:
            raise ValueError(
                f"cycle_window_steps ({self.cycle_window_steps}) must exceed "
                f"cycle_max_period + 1 ({self.cycle_max_period + 1})"
            )
        if not self.group_label:
            raise ValueError("group_label must be a non-empty string")
        if self.dtype not in ("float64", "float32"):
            raise ValueError(f"dtype must be 'float64' or 'float32', got {self.dtype!r}")

    @property
    def torch_dtype(self) -> torch.dtype:
        return torch.float64 if self.dtype == "float64" else torch.float32


def attractor_structure(
    model: Architecture,
    fixed_points: xr.Dataset,
    static_inputs: StaticInputs,
    params: AttractorParams = AttractorParams(),
    probe_states: torch.Tensor | None = None,
    network: int = 0,
) -> xr.Dataset:
    """Counts, line attractors, oscillatory modes and limit cycles of one network.

    Parameters
    ----------
    model : Architecture
        The ensemble holding the network; it is copied, never modified.
    fixed_points : xarray.Dataset
        The network's fixed-point dataset (one element of the list returned by
        :func:`~rnn_analysis.analysis.fixed_points.find_fixed_points`), searched under
        ``static_inputs``.
    static_inputs : StaticInputs
        The static inputs of the search; ``fixed_points.condition`` indexes them.
    params : AttractorParams
        Thresholds of the analysis.
    probe_states : [E, B, T, S] or [B, T, S] tensor, optional
        Probe trajectories: they set the scales of ``line_min_relative_extent`` and
        ``line_max_probe_distance``, and their final states are initial states of the
        limit-cycle simulations. Without them, those two criteria are not applied.
    network : int, default 0
        Which network of the ensemble the fixed points belong to.

    Returns
    -------
    xarray.Dataset
        Dimensions ``fixed_point`` and ``mode`` (as in ``fixed_points``), ``state``,
        ``output``, ``static_input`` (one per static input), ``unstable_modes`` (1 up to
        the largest number of unstable modes of a fixed point, at least 1),
        ``input_group`` and ``cycle_run``.

        Per point: ``osc_n_pairs``, ``osc_rotation`` and ``osc_modulus`` (leading complex
        pair; NaN without one), ``osc_mode_rotation`` [fixed_point, mode] (``|arg λ|`` of
        the member with ``Im λ > 0`` of each complex pair, NaN elsewhere),
        ``line_point_offset`` (``|λ − 1|`` of the slow mode, NaN if not a candidate),
        ``line_point_alignment`` (NaN off the evaluated chains) and ``line_member``.

        Per static input: ``n_fixed``, ``n_stable``, ``n_slow``, ``n_saddle``
        [static_input, unstable_modes]; ``line_attractor``, and of the best chain (the
        line attractor if there is one, else the longest candidate chain):
        ``line_n_points``, ``line_extent``, ``line_relative_extent`` (to the probe
        states' range along the chain; NaN without probe states), ``line_offset`` (mean
        ``|λ − 1|``), ``line_alignment`` (mean ``|cos|``), ``line_direction``
        [static_input, state];
        ``cycle_found``, ``cycle_n_runs``, and medians over the runs on a cycle of
        ``cycle_period`` (steps), ``cycle_frequency`` (2π / period, rad/step),
        ``cycle_amplitude`` (half the orbit's diameter in state space),
        ``cycle_output_amplitude`` [static_input, output] (half the readout's
        peak-to-peak range) and ``cycle_recurrence``; per run ``cycle_run_found``,
        ``cycle_run_period``, ``cycle_run_speed`` [static_input, cycle_run].

        Overall: ``n_fixed_total``, ``n_stable_total``, ``n_slow_total``,
        ``n_saddle_total`` [unstable_modes], ``n_line_attractors``, ``n_cycles``.

        Per group of static inputs (sharing the ``group_label`` label):
        ``group_n_static_inputs``, ``group_n_line_attractors``, ``group_line_fraction``
        and ``group_line_attractor`` [input_group]; ``line_attractor_every_group``.

        Attributes: every hyperparameter as ``param_<name>``.
    """
    missing = [name for name in _REQUIRED if name not in fixed_points]
    if missing:
        raise ValueError(f"fixed_points lacks the variable(s) {', '.join(missing)}")
    values = np.asarray(torch.as_tensor(static_inputs.values).detach().cpu(), dtype=np.float64)
    if values.ndim != 2 or values.shape[1] != model.n_inputs:
        raise ValueError(
            f"static input values must be [n_conditions, {model.n_inputs}], "
            f"got {tuple(values.shape)}"
        )
    n_cond = values.shape[0]
    for key, label in static_inputs.labels.items():
        if len(label) != n_cond:
            raise ValueError(f"static input label {key!r} has {len(label)} values, not {n_cond}")
    if not 0 <= network < model.n_networks:
        raise ValueError(f"network must be in [0, {model.n_networks}), got {network}")
    if fixed_points.sizes.get("state", model.n_state) != model.n_state:
        raise ValueError(
            f"fixed_points has {fixed_points.sizes['state']} state dimensions, "
            f"the model {model.n_state}"
        )
    condition = fixed_points["condition"].values.astype(np.int64)
    if condition.size and (condition.min() < 0 or condition.max() >= n_cond):
        raise ValueError(f"fixed_points.condition must index the {n_cond} static inputs")
    if condition.size and not np.allclose(
        fixed_points["input_value"].values, values[condition], rtol=1e-5, atol=1e-6
    ):
        raise ValueError("fixed_points.input_value does not match static_inputs.values")

    probe = _probe(probe_states, network, model.n_state)
    net = _single_network(model, network, params.torch_dtype)
    fp = fixed_points
    lam_dims = ("fixed_point", "mode")
    vec_dims = ("fixed_point", "state", "leading_mode")
    lam = (
        fp["eigenvalue_real"].transpose(*lam_dims).values
        + 1j * fp["eigenvalue_imag"].transpose(*lam_dims).values
    )
    vec = (
        fp["eigenvector_real"].transpose(*vec_dims).values
        + 1j * fp["eigenvector_imag"].transpose(*vec_dims).values
    )
    points = _Points(
        x=fp["state_value"].transpose("fixed_point", "state").values.astype(np.float64),
        u=values[condition] if condition.size else np.zeros((0, values.shape[1])),
        condition=condition,
        fixed=fixed_points["kind"].values.astype(str) == "fixed",
        n_unstable=fixed_points["n_unstable"].values.astype(np.int64),
        stable=fixed_points["stable"].values.astype(bool),
        lam=lam,
        vec=vec,
        unstable_tol=float(fixed_points.attrs.get("param_unstable_tol", 0.0)),
    )

    data: dict[str, Any] = {}
    data.update(_counts(points, n_cond))
    data.update(_oscillations(points.lam, params.complex_tol))
    data.update(_lines(net, points, probe, n_cond, params))
    data.update(_groups(data["line_attractor"][1], static_inputs.labels, n_cond, params))
    data.update(_cycles(net, points, values, probe, params))

    coords: dict[str, Any] = {
        "static_input": (
            "static_input",
            np.arange(n_cond),
            {"long_name": "index of the static input (fixed_points.condition)"},
        ),
        "static_input_value": (
            ("static_input", "input_channel"),
            values,
            {"long_name": "static input u*", "units": "1"},
        ),
    }
    for key, label in static_inputs.labels.items():
        coords[f"static_input_{key}"] = (
            "static_input",
            _label_array(label),
            {"long_name": f"static input label {key!r}"},
        )
    attrs: dict[str, Any] = {
        "title": "attractor structure",
        "architecture": getattr(model, "name", type(model).__name__),
    }
    for key, value in params.to_dict().items():
        attrs[f"param_{key}"] = int(value) if isinstance(value, bool) else value
    return xr.Dataset(data, coords=coords, attrs=attrs)


# -- inputs -------------------------------------------------------------------------------


@dataclass
class _Points:
    """The fixed-point dataset's points as arrays."""

    x: NDArray
    u: NDArray
    condition: NDArray
    fixed: NDArray
    n_unstable: NDArray
    stable: NDArray
    lam: NDArray
    vec: NDArray
    unstable_tol: float

    def __len__(self) -> int:
        return len(self.condition)


def _single_network(model: Architecture, network: int, dtype: torch.dtype) -> Architecture:
    """A gradient-free copy in ``dtype`` of network ``network`` of the ensemble, alone."""
    if model.n_networks == 1:
        return net_copy(model, dtype)
    single = model.blank_like(1)
    single.load_networks([model.network_state_dict(network)])
    return net_copy(single, dtype)


def _probe(probe_states: torch.Tensor | None, network: int, s: int) -> NDArray | None:
    """The network's probe states as a float64 [B, T, S] array, or None."""
    if probe_states is None:
        return None
    probe = torch.as_tensor(probe_states).detach().cpu()
    if probe.ndim == 4:
        probe = probe[network]
    if probe.ndim != 3 or probe.shape[-1] != s or probe.shape[0] * probe.shape[1] == 0:
        raise ValueError(
            f"probe_states must be [E, B, T, {s}] or [B, T, {s}] with at least one state, "
            f"got {tuple(torch.as_tensor(probe_states).shape)}"
        )
    return probe.numpy().astype(np.float64)


def _label_array(values: Any) -> NDArray:
    arr = np.asarray(values)
    if arr.dtype.kind in "OSU":
        arr = arr.astype(str)
    return arr


# -- counts -------------------------------------------------------------------------------


def _counts(points: _Points, n_cond: int) -> dict[str, Any]:
    cond = points.condition
    fixed = points.fixed
    max_unstable = int(points.n_unstable[fixed].max()) if fixed.any() else 0
    k = np.arange(1, max(1, max_unstable) + 1)

    def per_condition(mask: NDArray) -> NDArray:
        return np.bincount(cond[mask], minlength=n_cond).astype(np.int64)

    saddle = np.stack([per_condition(fixed & (points.n_unstable == j)) for j in k], axis=1)
    n_fixed = per_condition(fixed)
    n_stable = per_condition(fixed & points.stable)
    n_slow = per_condition(~fixed)
    si = ("static_input",)
    return {
        "unstable_modes": (
            "unstable_modes",
            k,
            {"long_name": "number of unstable modes of a saddle"},
        ),
        "n_fixed": (si, n_fixed, {"long_name": "fixed points per static input", "units": "1"}),
        "n_stable": (
            si,
            n_stable,
            {"long_name": "stable fixed points per static input", "units": "1"},
        ),
        "n_slow": (si, n_slow, {"long_name": "slow points per static input", "units": "1"}),
        "n_saddle": (
            ("static_input", "unstable_modes"),
            saddle,
            {
                "long_name": "fixed points with unstable_modes unstable modes per static input",
                "units": "1",
            },
        ),
        "n_fixed_total": ((), int(n_fixed.sum()), {"long_name": "fixed points", "units": "1"}),
        "n_stable_total": (
            (),
            int(n_stable.sum()),
            {"long_name": "stable fixed points", "units": "1"},
        ),
        "n_slow_total": ((), int(n_slow.sum()), {"long_name": "slow points", "units": "1"}),
        "n_saddle_total": (
            ("unstable_modes",),
            saddle.sum(axis=0),
            {"long_name": "fixed points with unstable_modes unstable modes", "units": "1"},
        ),
    }


# -- oscillatory modes --------------------------------------------------------------------


def oscillatory_modes(lam: NDArray, complex_tol: float = 1e-6) -> dict[str, NDArray]:
    """Complex-conjugate pairs of eigenvalues, point by point.

    Parameters
    ----------
    lam : [P, M] complex array
        Eigenvalues of each point.
    complex_tol : float
        ``|Im λ| > complex_tol`` makes an eigenvalue complex.

    Returns
    -------
    dict of arrays: ``mode_rotation`` [P, M] (``|arg λ|`` in rad/step of each pair's
    member with ``Im λ > 0``, NaN elsewhere), ``n_pairs`` [P], and ``rotation`` and
    ``modulus`` [P] of the leading pair (largest ``|λ|``), NaN without a pair.
    """
    lam = np.asarray(lam, dtype=complex)
    upper = lam.imag > complex_tol
    mode_rotation = np.where(upper, np.abs(np.angle(lam)), np.nan)
    n_pairs = upper.sum(axis=1).astype(np.int64)
    has = n_pairs > 0
    if lam.shape[1]:
        first = np.argmax(np.where(upper, np.abs(lam), -1.0), axis=1)
        lead = lam[np.arange(len(lam)), first]
    else:
        lead = np.zeros(len(lam), complex)
    return {
        "mode_rotation": mode_rotation,
        "n_pairs": n_pairs,
        "rotation": np.where(has, np.abs(np.angle(lead)), np.nan),
        "modulus": np.where(has, np.abs(lead), np.nan),
    }


def _oscillations(lam: NDArray, complex_tol: float) -> dict[str, Any]:
    osc = oscillatory_modes(lam, complex_tol)
    fp = ("fixed_point",)
    return {
        "osc_n_pairs": (
            fp,
            osc["n_pairs"],
            {"long_name": "number of complex-conjugate eigenvalue pairs", "units": "1"},
        ),
        "osc_rotation": (
            fp,
            osc["rotation"],
            {
                "long_name": "rotation |arg λ| of the leading complex pair",
                "units": "rad/step",
            },
        ),
        "osc_modulus": (
            fp,
            osc["modulus"],
            {"long_name": "modulus |λ| of the leading complex pair", "units": "1"},
        ),
        "osc_mode_rotation": (
            ("fixed_point", "mode"),
            osc["mode_rotation"],
            {
                "long_name": "rotation |arg λ| of each complex pair (at its Im λ > 0 member)",
                "units": "rad/step",
            },
        ),
    }


# -- line attractors ----------------------------------------------------------------------


@dataclass
class _Chain:
    members: NDArray
    n_points: int
    extent: float
    relative_extent: float
    offset: float
    alignment: float
    direction: NDArray
    is_line: bool


def _real_unit(v: NDArray) -> NDArray:
    """A real unit vector spanning the (numerically real) complex vector ``v``."""
    k = int(np.argmax(np.abs(v)))
    phase = v[k] / abs(v[k]) if abs(v[k]) > 0 else 1.0
    r = np.real(v / phase)
    norm = np.linalg.norm(r)
    return r / norm if norm > 0 else r


def _principal_axis(x: NDArray) -> NDArray:
    centered = x - x.mean(axis=0)
    _, _, vt = np.linalg.svd(centered, full_matrices=False)
    return vt[0]


def _slow_vectors(net: Architecture, points: _Points, index: NDArray, modes: NDArray) -> NDArray:
    """Real unit eigenvectors [n, S] of mode ``modes[k]`` of each point ``index[k]``.

    Eigenvectors the fixed-point dataset does not store (modes beyond its leading ones)
    come from the Jacobian, recomputed at the point.
    """
    n_stored = points.vec.shape[2]
    out = np.empty((len(index), points.x.shape[1]))
    missing = np.flatnonzero(modes >= n_stored)
    if len(missing):
        dtype, device = net.weight_out.dtype, net.weight_out.device
        h = torch.as_tensor(points.x[index[missing]], dtype=dtype, device=device)[None]
        u = torch.as_tensor(points.u[index[missing]], dtype=dtype, device=device)[None]
        jac = jacobian(net, h, u)[0].cpu().numpy().astype(np.float64)
        for k, j in zip(missing, jac, strict=True):
            w, vec = np.linalg.eig(j)
            target = points.lam[index[k], modes[k]]
            out[k] = _real_unit(vec[:, int(np.argmin(np.abs(w - target)))])
    for k in np.flatnonzero(modes < n_stored):
        out[k] = _real_unit(points.vec[index[k], :, modes[k]])
    return out


def _local_directions(x: NDArray, t: NDArray, window: float) -> NDArray:
    """Unit chain direction [n, S] at each point of a chain ordered by ``t``.

    The points within the window are thinned to at most ``_WINDOW_POINTS`` evenly spaced
    ones, which keeps long chains cheap without changing the principal axis much.
    """
    n = len(x)
    width = window * (t[-1] - t[0])
    low = np.searchsorted(t, t - width, side="left")
    high = np.searchsorted(t, t + width, side="right")
    out = np.empty_like(x)
    for i in range(n):
        lo, hi = min(low[i], max(0, i - 1)), max(high[i], min(n, i + 2))
        index = np.unique(np.linspace(lo, hi - 1, min(hi - lo, _WINDOW_POINTS)).round())
        out[i] = _principal_axis(x[index.astype(np.int64)])
    return out


def _evaluate_chain(
    x: NDArray,
    t: NDArray,
    offset: NDArray,
    vectors: NDArray,
    members: NDArray,
    probe: NDArray | None,
    p: AttractorParams,
) -> tuple[_Chain, NDArray]:
    """A chain's summary and the alignment of each of its points."""
    n = len(members)
    direction = _principal_axis(x)
    k = int(np.argmax(np.abs(direction)))
    direction = direction * np.sign(direction[k])
    local = _local_directions(x, t, p.line_window)
    alignment = np.abs((vectors * local).sum(axis=1))
    extent = float(pdist(x).max())
    relative = math.nan
    if probe is not None:
        along = probe.reshape(-1, probe.shape[-1]) @ direction
        span = float(along.max() - along.min())
        relative = extent / span if span > 0 else math.inf
    steps = np.linalg.norm(np.diff(x, axis=0), axis=1)
    weight = 0.5 * (np.concatenate([steps, [0.0]]) + np.concatenate([[0.0], steps]))
    if not weight.sum() > 0:
        weight = np.ones(n)
    mean_alignment = float(np.average(alignment, weights=weight))
    is_line = bool(
        n >= p.line_min_points
        and extent >= p.line_min_extent
        and (probe is None or relative >= p.line_min_relative_extent)
        and mean_alignment >= p.line_alignment
    )
    chain = _Chain(
        members=members,
        n_points=n,
        extent=extent,
        relative_extent=relative,
        offset=float(np.average(offset, weights=weight)),
        alignment=mean_alignment,
        direction=direction,
        is_line=is_line,
    )
    return chain, alignment


def _best_chain(
    net: Architecture,
    points: _Points,
    slow_mode: NDArray,
    offset: NDArray,
    index: NDArray,
    probe: NDArray | None,
    p: AttractorParams,
    alignment_out: NDArray,
) -> _Chain | None:
    """The best chain among the candidate points ``index``: a line attractor if any.

    ``slow_mode`` and ``offset`` give each point's slow mode and its ``|λ − 1|``. Chains
    are ranked by being a line attractor, then by their number of points. The alignment
    of every point of every evaluated chain goes into ``alignment_out``.
    """
    if len(index) < 2:
        return None
    x = points.x[index]
    t = (x - x.mean(axis=0)) @ _principal_axis(x)
    order = np.argsort(t, kind="stable")
    index, x, t = index[order], x[order], t[order]
    spread = t[-1] - t[0]
    gaps = np.linalg.norm(np.diff(x, axis=0), axis=1)
    cuts = np.flatnonzero(gaps > p.line_max_gap * spread) + 1
    vectors = _slow_vectors(net, points, index, slow_mode[index])
    best: _Chain | None = None
    for piece in np.split(np.arange(len(index)), cuts):
        if len(piece) < 2:
            continue
        chain, alignment = _evaluate_chain(
            x[piece],
            t[piece],
            offset[index[piece]],
            vectors[piece],
            index[piece],
            probe,
            p,
        )
        alignment_out[index[piece]] = alignment
        if best is None or (chain.is_line, chain.n_points) > (best.is_line, best.n_points):
            best = chain
    return best


def _near_probe(x: NDArray, probe: NDArray, scale: float) -> NDArray:
    """Whether each point of ``x`` [P, S] lies within ``scale`` RMS spreads of a probe state."""
    states = probe.reshape(-1, probe.shape[-1])
    spread = float(np.sqrt(((states - states.mean(axis=0)) ** 2).sum(axis=1).mean()))
    stride = max(1, len(states) // _MAX_PROBE_STATES)
    states = states[::stride]
    nearest = np.empty(len(x))
    for start in range(0, len(x), _DISTANCE_CHUNK):
        nearest[start : start + _DISTANCE_CHUNK] = cdist(
            x[start : start + _DISTANCE_CHUNK], states
        ).min(axis=1)
    return nearest <= scale * spread


def _lines(
    net: Architecture, points: _Points, probe: NDArray | None, n_cond: int, p: AttractorParams
) -> dict[str, Any]:
    n_points, s = len(points), points.x.shape[1]
    lam = points.lam
    slow_mode = np.zeros(n_points, dtype=np.int64)
    candidate = np.zeros(n_points, dtype=bool)
    point_offset = np.full(n_points, np.nan)
    if n_points and lam.shape[1]:
        distance = np.abs(lam - 1.0)
        order = np.argsort(distance, axis=1, kind="stable")
        rows = np.arange(n_points)
        slow_mode = order[:, 0]
        d1 = distance[rows, slow_mode]
        d2 = distance[rows, order[:, 1]] if lam.shape[1] > 1 else np.full(n_points, np.inf)
        real_slow = (d1 <= p.line_tolerance) & (np.abs(lam[rows, slow_mode].imag) <= p.complex_tol)
        floor_1, floor_2 = np.maximum(d1, _EIGEN_FLOOR), np.maximum(d2, _EIGEN_FLOOR)
        separated = floor_2 >= p.line_separation * floor_1
        unstable = np.abs(lam) > 1.0 + points.unstable_tol
        unstable[rows, slow_mode] = False
        other_unstable = unstable.sum(axis=1)
        candidate = real_slow & separated & (other_unstable <= p.line_max_other_unstable)
        if probe is not None and p.line_max_probe_distance > 0 and candidate.any():
            candidate &= _near_probe(points.x, probe, p.line_max_probe_distance)
        point_offset = np.where(candidate, d1, np.nan)

    point_alignment = np.full(n_points, np.nan)
    member = np.zeros(n_points, dtype=bool)
    found = np.zeros(n_cond, dtype=bool)
    count = np.zeros(n_cond, dtype=np.int64)
    extent, relative, offset, alignment = (np.full(n_cond, np.nan) for _ in range(4))
    direction = np.full((n_cond, s), np.nan)
    for c in range(n_cond):
        index = np.flatnonzero(candidate & (points.condition == c))
        count[c] = min(len(index), 1)
        chain = _best_chain(net, points, slow_mode, point_offset, index, probe, p, point_alignment)
        if chain is None:
            continue
        found[c] = chain.is_line
        count[c] = chain.n_points
        extent[c] = chain.extent
        relative[c] = chain.relative_extent
        offset[c] = chain.offset
        alignment[c] = chain.alignment
        direction[c] = chain.direction
        if chain.is_line:
            member[chain.members] = True

    fp, si = ("fixed_point",), ("static_input",)
    return {
        "line_point_offset": (
            fp,
            point_offset,
            {"long_name": "|λ - 1| of the slow mode of a line candidate"},
        ),
        "line_point_alignment": (
            fp,
            point_alignment,
            {"long_name": "|cos| between the slow mode and the local chain direction"},
        ),
        "line_member": (fp, member, {"long_name": "on the line attractor of its static input"}),
        "line_attractor": (si, found, {"long_name": "a line attractor under the static input"}),
        "line_n_points": (
            si,
            count,
            {"long_name": "points on the best chain of line candidates", "units": "1"},
        ),
        "line_extent": (
            si,
            extent,
            {"long_name": "largest distance between two points of the best chain", "units": "1"},
        ),
        "line_relative_extent": (
            si,
            relative,
            {
                "long_name": "extent of the best chain / range of the probe states along it",
                "units": "1",
            },
        ),
        "line_offset": (
            si,
            offset,
            {"long_name": "mean |λ - 1| of the slow mode along the best chain", "units": "1"},
        ),
        "line_alignment": (
            si,
            alignment,
            {"long_name": "mean |cos| between slow mode and chain direction", "units": "1"},
        ),
        "line_direction": (
            ("static_input", "state"),
            direction,
            {"long_name": "unit first principal axis of the best chain", "units": "1"},
        ),
        "n_line_attractors": (
            (),
            int(found.sum()),
            {"long_name": "static inputs with a line attractor", "units": "1"},
        ),
    }


def _groups(
    found: NDArray, labels: dict[str, Any], n_cond: int, p: AttractorParams
) -> dict[str, Any]:
    if p.group_label in labels:
        groups, inverse = np.unique(_label_array(labels[p.group_label]), return_inverse=True)
    else:
        groups, inverse = np.array(["all"]), np.zeros(n_cond, dtype=np.int64)
    size = np.bincount(inverse, minlength=len(groups)).astype(np.int64)
    n_lines = np.bincount(inverse[found], minlength=len(groups)).astype(np.int64)
    has = n_lines >= p.group_min_inputs
    g = ("input_group",)
    return {
        "input_group": (
            "input_group",
            groups,
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
        "line_attractor_every_group": (
            (),
            bool(has.all()) if len(has) else False,
            {"long_name": "every group of static inputs has a line attractor"},
        ),
    }


# -- limit cycles -------------------------------------------------------------------------


def recurrence(window: torch.Tensor, max_period: int) -> torch.Tensor:
    """Recurrence distance ``D(p) = max_t ‖x_t − x_{t−p}‖`` for ``p = 1 .. max_period``.

    Parameters
    ----------
    window : [R, W, S] tensor
        Trajectories; ``t`` runs over the last ``W − max_period`` steps.
    max_period : int
        Largest lag.

    Returns
    -------
    [R, max_period] tensor, column ``p − 1`` holding ``D(p)``.
    """
    r, w, _ = window.shape
    if not 0 < max_period < w:
        raise ValueError(f"max_period must be in [1, {w}), got {max_period}")
    end = window[:, max_period:]
    out = torch.empty(r, max_period, dtype=window.dtype, device=window.device)
    for lag in range(1, max_period + 1):
        out[:, lag - 1] = (end - window[:, max_period - lag : w - lag]).norm(dim=-1).amax(dim=1)
    return out


def _initial_states(
    points: _Points, n_cond: int, probe: NDArray | None, s: int, p: AttractorParams
) -> NDArray:
    """Initial states [n_cond, n, S] of the limit-cycle simulations."""
    rng = np.random.default_rng(p.seed)
    n = p.cycle_initial_states
    finals = np.zeros((0, s)) if probe is None else probe[:, -1]
    out = np.zeros((n_cond, n, s))
    for c in range(n_cond):
        own = points.x[points.condition == c]
        n_own = 0 if not len(own) else (n if not len(finals) else (n + 1) // 2)
        chosen = [own[rng.permutation(len(own))[np.arange(n_own) % len(own)]]] if n_own else []
        n_probe = n - n_own
        if n_probe and len(finals):
            chosen.append(finals[rng.permutation(len(finals))[np.arange(n_probe) % len(finals)]])
        elif n_probe:
            chosen.append(np.zeros((n_probe, s)))
        out[c] = np.concatenate(chosen, axis=0)
    return out + p.cycle_perturbation * rng.standard_normal(out.shape)


def _cycles(
    net: Architecture,
    points: _Points,
    values: NDArray,
    probe: NDArray | None,
    p: AttractorParams,
) -> dict[str, Any]:
    n_cond, s, n = values.shape[0], net.n_state, p.cycle_initial_states
    dtype, device = net.weight_out.dtype, net.weight_out.device
    x0 = _initial_states(points, n_cond, probe, s, p)
    h = torch.as_tensor(x0.reshape(1, n_cond * n, s), dtype=dtype, device=device)
    u = torch.as_tensor(values, dtype=dtype, device=device).repeat_interleave(n, dim=0)[None]
    w, n_runs = p.cycle_window_steps, n_cond * n
    window = torch.empty(n_runs, w, s, dtype=torch.float32, device=device)
    outputs = torch.empty(n_runs, w, net.n_outputs, dtype=torch.float32, device=device)
    path = torch.zeros(n_runs, dtype=dtype, device=device)
    with torch.no_grad():
        for _ in range(p.cycle_transient_steps):
            h = net.step(h, u)
        for t in range(w):
            previous, h = h, net.step(h, u)
            window[:, t] = h[0]
            outputs[:, t] = net.readout(h)[0]
            if t:
                path += (h - previous)[0].norm(dim=-1)
    speed = path / max(1, w - 1)
    finite = torch.isfinite(speed) & torch.isfinite(h[0]).all(dim=-1)
    window[~finite] = 0.0
    moving = finite & (speed >= p.cycle_min_speed)

    run_found = np.zeros(n_runs, dtype=bool)
    run_period = np.full(n_runs, np.nan)
    run_recurrence = np.full(n_runs, np.nan)
    diameter = np.full(n_runs, np.nan)
    idx = torch.nonzero(moving).flatten()
    if len(idx):
        dist = recurrence(window[idx], p.cycle_max_period).cpu().numpy().astype(np.float64)
        diameter[idx.cpu().numpy()] = dist.max(axis=1)
        rel = dist / dist.max(axis=1, keepdims=True)
        for j, run in enumerate(idx.cpu().numpy()):
            period, value, lag = _period(rel[j], p)
            run_recurrence[run] = value
            if period is not None and _steady(window[run], lag) <= p.cycle_recurrence_tol:
                run_found[run] = True
                run_period[run] = period

    speed_np = speed.cpu().numpy().astype(np.float64)
    speed_np[~finite.cpu().numpy()] = np.nan
    out_np = outputs.cpu().numpy().astype(np.float64)
    out_amp = 0.5 * (out_np.max(axis=1) - out_np.min(axis=1))

    shape = (n_cond, n)
    run_found_c = run_found.reshape(shape)
    n_on = run_found_c.sum(axis=1).astype(np.int64)

    def median(a: NDArray) -> NDArray:
        a = a.reshape(n_cond, n, *a.shape[1:])
        out = np.full((n_cond, *a.shape[2:]), np.nan)
        for c in range(n_cond):
            if n_on[c]:
                out[c] = np.median(a[c][run_found_c[c]], axis=0)
        return out

    period = median(run_period)
    si, runs = ("static_input",), ("static_input", "cycle_run")
    return {
        "cycle_run": ("cycle_run", np.arange(n), {"long_name": "limit-cycle simulation"}),
        "cycle_found": (si, n_on > 0, {"long_name": "a limit cycle under the static input"}),
        "cycle_n_runs": (
            si,
            n_on,
            {"long_name": "simulations that ended on a limit cycle", "units": "1"},
        ),
        "cycle_period": (si, period, {"long_name": "limit-cycle period", "units": "steps"}),
        "cycle_frequency": (
            si,
            2 * np.pi / period,
            {"long_name": "limit-cycle angular frequency 2π / period", "units": "rad/step"},
        ),
        "cycle_amplitude": (
            si,
            median(diameter / 2),
            {"long_name": "half the limit cycle's diameter in state space", "units": "1"},
        ),
        "cycle_output_amplitude": (
            ("static_input", "output"),
            median(out_amp),
            {"long_name": "half the peak-to-peak readout on the limit cycle", "units": "1"},
        ),
        "cycle_recurrence": (
            si,
            median(run_recurrence),
            {"long_name": "recurrence distance at the period / orbit diameter", "units": "1"},
        ),
        "cycle_run_found": (runs, run_found_c, {"long_name": "the run ended on a limit cycle"}),
        "cycle_run_period": (
            runs,
            run_period.reshape(shape),
            {"long_name": "period of the run's limit cycle", "units": "steps"},
        ),
        "cycle_run_speed": (
            runs,
            speed_np.reshape(shape),
            {"long_name": "mean step length over the observation window", "units": "1"},
        ),
        "n_cycles": (
            (),
            int((n_on > 0).sum()),
            {"long_name": "static inputs with a limit cycle", "units": "1"},
        ),
    }


def _vertex(rel: NDArray, i: int) -> float:
    """Fractional lag of the recurrence minimum at lag ``i + 1``.

    Near a return, ``D`` grows like ``|p − p₀|`` times the largest step length along the
    orbit on both sides of the true return lag ``p₀``; the vertex of that V through the
    neighbouring lags locates ``p₀`` between whole steps.
    """
    left, right = rel[i - 1], rel[i + 1]
    total = left + right
    shift = 0.0 if total <= 0 else float((left - right) / total)
    return i + 1 + min(0.5, max(-0.5, shift))


def _steady(x: torch.Tensor, lag: int) -> float:
    """Relative change of an orbit's size over the window [W, S]: its RMS distance from
    the window's centroid over the first and over the last ``lag`` steps."""
    centroid = x.mean(dim=0)
    first = float((x[:lag] - centroid).norm(dim=-1).square().mean().sqrt())
    last = float((x[-lag:] - centroid).norm(dim=-1).square().mean().sqrt())
    return abs(last - first) / max(first, last) if max(first, last) > 0 else 0.0


def _period(rel: NDArray, p: AttractorParams) -> tuple[float | None, float, int]:
    """Period of one run from its relative recurrence distances ``rel[lag − 1]``.

    The period estimate starts at the first local minimum of ``rel`` below
    ``cycle_fundamental_tol`` and is refined at each later such minimum (its fractional
    lag divided by its whole number of turns), so that rounding errors do not add up
    over many turns. Returns the period (None without a return), the relative
    recurrence distance at the best lag, and that lag.
    """
    lags = np.arange(1, len(rel) + 1)
    interior = np.zeros(len(rel), dtype=bool)
    interior[1:-1] = (rel[1:-1] <= rel[:-2]) & (rel[1:-1] <= rel[2:])
    interior &= lags >= p.cycle_min_period
    if not interior.any():
        return None, math.nan, 0
    minima = np.flatnonzero(interior)
    best = minima[int(np.argmin(rel[minima]))]
    value = float(rel[best])
    if value > p.cycle_recurrence_tol:
        return None, value, 0
    good = minima[(rel[minima] <= p.cycle_fundamental_tol) & (minima <= best)]
    estimate = _vertex(rel, good[0] if len(good) else best)
    for i in good[1:]:
        lag = _vertex(rel, i)
        estimate = lag / max(1, round(lag / estimate))
    lag = _vertex(rel, best)
    return lag / max(1, round(lag / estimate)), value, int(lags[best])
