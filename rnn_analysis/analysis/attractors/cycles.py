"""Limit cycles found by simulation.

Under every static input the network is run, all static inputs and initial states in
one batch, from perturbed fixed and slow points of that static input and perturbed final
probe states, for ``cycle_transient_steps`` steps, then observed for
``cycle_window_steps``. A run ended on a periodic orbit when it still moves (mean step
length ≥ ``cycle_min_speed``) and returns close to where it was: the recurrence distance
``D(p) = max_t ‖x_t − x_{t−p}‖`` over the last ``cycle_window_steps − cycle_max_period``
steps, divided by the orbit's diameter (the largest ``D``), has a local minimum at some
lag ``p`` in ``[cycle_min_period, cycle_max_period]`` below ``cycle_recurrence_tol``, and
its size (RMS distance from the window's centroid over the first and the last such lag)
changes by at most that fraction (a slowly decaying spiral is not a cycle). The best
such lag may span several turns of an orbit whose period is not a whole number of steps
(a rotation by an irrational angle per step). The period is that lag, located between
whole steps from the V shape of ``D`` around it, divided by its number of turns, counted
from the first local minimum of ``D`` below ``cycle_fundamental_tol`` (refined at each
later one). The frequency is ``2π / period``; per static input, the medians over the
runs on a cycle are stored, and the cycle's centre (the median over those runs of the
window's centroid) locates the central fixed point (:mod:`.oscillations`).
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import torch
from numpy.typing import NDArray

from rnn_analysis.analysis.attractors.params import AttractorParams
from rnn_analysis.analysis.attractors.points import Points
from rnn_analysis.architectures.base import Architecture

__all__ = ["cycles", "recurrence"]


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
    points: Points, n_cond: int, probe: NDArray | None, s: int, p: AttractorParams
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


def cycles(
    net: Architecture,
    points: Points,
    values: NDArray,
    probe: NDArray | None,
    p: AttractorParams,
) -> tuple[dict[str, Any], NDArray]:
    """Limit-cycle variables per static input and run, and the centre [n_cond, S] of each
    static input's limit cycle (NaN without one)."""
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
    centre = median(window.mean(dim=1).cpu().numpy().astype(np.float64))
    si, runs = ("static_input",), ("static_input", "cycle_run")
    data = {
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
    return data, centre


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
