"""The fixed-point search of an ensemble: two passes of batched search, verification, datasets."""

from __future__ import annotations

from typing import Any

import numpy as np
import torch
import xarray as xr
from numpy.typing import NDArray

from rnn_analysis.analysis.fixed_points.dataset import datasets
from rnn_analysis.analysis.fixed_points.initial_states import (
    PROBE,
    SEGMENT,
    first_pass_states,
    segment_seeds,
)
from rnn_analysis.analysis.fixed_points.jacobians import jacobian, net_copy
from rnn_analysis.analysis.fixed_points.params import FixedPointParams
from rnn_analysis.analysis.fixed_points.points import (
    Points,
    candidates,
    canonical_order,
    select,
    verify,
)
from rnn_analysis.analysis.fixed_points.refine import refine
from rnn_analysis.analysis.fixed_points.search import (
    STATUS_CONVERGED,
    Search,
    adam,
    continue_adam,
)
from rnn_analysis.architectures.base import Architecture
from rnn_analysis.tasks.base import StaticInputs

__all__ = ["find_fixed_points"]

_DEFAULTS = FixedPointParams()


def find_fixed_points(
    model: Architecture,
    probe_states: torch.Tensor,
    static_inputs: StaticInputs,
    params: FixedPointParams = _DEFAULTS,
) -> list[xr.Dataset]:
    """Fixed and slow points of every network of an ensemble under each static input.

    Parameters
    ----------
    model : Architecture
        The ensemble; it is copied, never modified.
    probe_states : [E, B, T, S] tensor
        Each network's probe trajectories, from which initial states are sampled.
    static_inputs : StaticInputs
        The constant inputs ``u*`` ([n_conditions, n_in]) and their labels.
    params : FixedPointParams
        Hyperparameters of the search.

    Returns
    -------
    list of xarray.Dataset
        One per network of the ensemble, the points ordered by static input, kind
        (fixed first), number of unstable modes and q. Dimensions: ``fixed_point``,
        ``state`` (S), ``unit`` (hidden units), ``input_channel``, ``mode`` (S, by |λ|
        descending), ``leading_mode`` (the first ``n_eigenvectors`` modes), ``output``
        and, with ``store_jacobian``, ``state_b``. Variables: ``state_value``,
        ``hidden_value``, ``input_value``, ``condition`` (index of the static input; its
        labels are coordinates along ``fixed_point``, prefixed ``input_`` if a name is
        taken), ``q``, ``kind`` ("fixed" or "slow"), ``origin`` ("probe", "expanded" or
        "segment"), the verification scores ``newton_residual``, ``newton_step`` and
        ``newton_distance`` (NaN without verification), ``eigenvalue_real`` /
        ``eigenvalue_imag``, ``eigenvector_real`` / ``eigenvector_imag``,
        ``n_unstable``, ``n_marginal``, ``stable``, ``readout``, optionally
        ``jacobian``, and the continuous-time view of a rate network's stability
        (:func:`~.dataset.continuous_time_stability`): ``n_unstable_ct``,
        ``max_real_eig_ct`` and the scalar ``n_stability_disagreements`` (-1, NaN and -1
        for discrete-time architectures). Attributes: every hyperparameter as
        ``param_<name>``, the architecture, ``euler_alpha`` (continuous-time
        architectures only), and diagnostics: ``n_initial_states`` and ``n_expanded_states``
        (first pass: probe samples and noise-expanded probe states, per static input),
        ``n_conditions``, ``n_segment_seeds`` (second pass, all static inputs),
        ``n_points_optimised`` (both passes), ``adam_iterations``,
        ``n_adam_converged``, ``n_refined``, ``refine_iterations``,
        ``continue_iterations`` (first pass), ``segment_adam_iterations``,
        ``n_converged`` (end points, before deduplication, with q ≤ tol_q),
        ``n_slow_candidates``, the verification counts ``n_candidates`` (unique
        candidates verified), ``n_confirmed`` (fixed where found), ``n_relocated``
        (converged to a root farther away, kept as a fixed point of its own),
        ``n_rejected`` (q ≤ tol_q but not confirmed) and ``n_slow_off_probe`` (slow
        points from expanded or segment seeds, not kept: slow points are reported from
        probe samples only, where the dynamics go), ``n_outliers``, ``n_fixed`` and
        ``n_slow`` (after deduplication), and the number of first-pass points still
        being optimised at each iteration of the three steps (``active_history``,
        ``refine_active_history``, ``continue_active_history``).
    """
    dtype = params.torch_dtype
    device = model.weight_out.device
    e, s, n_in = model.n_networks, model.n_state, model.n_inputs
    if probe_states.ndim != 4 or probe_states.shape[0] != e or probe_states.shape[-1] != s:
        raise ValueError(
            f"probe_states must be [E={e}, B, T, S={s}], got {tuple(probe_states.shape)}"
        )
    values = torch.as_tensor(static_inputs.values)
    if values.ndim != 2 or values.shape[1] != n_in:
        raise ValueError(
            f"static input values must be [n_conditions, {n_in}], got {tuple(values.shape)}"
        )
    n_cond = values.shape[0]
    for key, label in static_inputs.labels.items():
        if len(label) != n_cond:
            raise ValueError(f"static input label {key!r} has {len(label)} values, not {n_cond}")

    net = net_copy(model, dtype)
    net64 = net if dtype == torch.float64 else net_copy(model, torch.float64)
    step_net = net_copy(model, torch.float32) if params.refine_float32_jacobian else net
    probe = probe_states.detach().to(dtype=dtype, device=device)
    generator = torch.Generator().manual_seed(params.seed)
    init, origin = first_pass_states(probe, params, generator)
    values = values.to(dtype=dtype, device=device)
    n_init = init.shape[1]
    # The outlier rule's reference: the probe samples (FixedPointFinder's initial states).
    probe_samples = torch.as_tensor(origin == PROBE, device=init.device)
    init_np = init[:, probe_samples].cpu().numpy().astype(np.float64)

    x0 = init.repeat(1, n_cond, 1)
    u = values.repeat_interleave(n_init, dim=0).unsqueeze(0).expand(e, -1, -1).contiguous()
    condition = np.tile(np.repeat(np.arange(n_cond), n_init), (e, 1))
    # Adam's third step only serves slow points, which are kept from probe samples only.
    from_probe = torch.as_tensor(np.tile(origin == PROBE, n_cond), device=device)
    search = _search(net, step_net, x0, u, condition, None, from_probe.expand(e, -1), params)
    found, counts = _verified(net64, search, condition, np.tile(origin, n_cond), None, params)
    diagnostics: list[dict[str, Any]] = []
    for i in range(e):
        points, n_outliers = select(found[i], init_np[i], params)
        found[i] = points
        diagnostics.append(
            {
                "n_initial_states": int((origin == PROBE).sum()),
                "n_expanded_states": int((origin != PROBE).sum()),
                "n_conditions": n_cond,
                **_search_diagnostics(search, i, params),
                **counts[i],
                "n_outliers": n_outliers,
            }
        )
    second = _segment_pass(net, net64, step_net, found, init_np, values, n_cond, params)
    for diagnostic, more in zip(diagnostics, second, strict=True):
        diagnostic["n_segment_seeds"] = more.pop("n_segment_seeds")
        diagnostic["segment_adam_iterations"] = more.pop("segment_adam_iterations")
        diagnostic["n_points_optimised"] = n_cond * n_init + diagnostic["n_segment_seeds"]
        for key, value in more.items():
            diagnostic[key] += value
    return datasets(net, found, static_inputs.labels, diagnostics, params)


def _search(
    net: Architecture,
    step_net: Architecture,
    x0: torch.Tensor,
    u: torch.Tensor,
    condition: NDArray,
    active: torch.Tensor | None,
    continued: torch.Tensor,
    p: FixedPointParams,
) -> Search:
    """Adam, Levenberg–Marquardt refinement and Adam again (on the ``continued`` points)
    on the ``active`` points (all by default)."""
    search = adam(net, x0, u, p, active=active)
    refine(net, search, p, step_net, torch.as_tensor(condition, device=x0.device))
    continue_adam(net, search, p, continued)
    return search


def _verified(
    net64: Architecture,
    search: Search,
    condition: NDArray,
    origin: NDArray,
    valid: NDArray | None,
    p: FixedPointParams,
) -> tuple[list[Points], list[dict[str, int]]]:
    """Each network's unique candidates, verified (when ``verify``), and counts."""
    x = search.x.cpu().numpy().astype(np.float64)
    q = search.q.cpu().numpy().astype(np.float64)
    u = search.u.cpu().numpy().astype(np.float64)
    e = x.shape[0]
    origin = np.broadcast_to(origin, condition.shape)
    found, counts = [], []
    for i in range(e):
        keep = slice(None) if valid is None else valid[i]
        points, c = candidates(
            x[i][keep], u[i][keep], q[i][keep], condition[i][keep], origin[i][keep], p
        )
        found.append(points)
        counts.append(c)
    if p.verify and e:
        found, checks = verify(net64, found, p)
    else:
        checks = [
            {
                "n_candidates": len(points),
                "n_confirmed": 0,
                "n_relocated": 0,
                "n_rejected": 0,
            }
            for points in found
        ]
    # Slow points are kept where the dynamics go: from probe samples only. Expanded and
    # segment seeds start off the probe trajectories to reach fixed points there.
    off_probe = [~points.fixed & (points.origin != PROBE) for points in found]
    found = [
        points.take(np.flatnonzero(~off)) for points, off in zip(found, off_probe, strict=True)
    ]
    return found, [
        {**c, **v, "n_slow_off_probe": int(off.sum())}
        for c, v, off in zip(counts, checks, off_probe, strict=True)
    ]


def _search_diagnostics(search: Search, i: int, p: FixedPointParams) -> dict[str, Any]:
    """Iteration counts and active-point histories of network ``i`` in one search."""
    adam_active = search.adam_history[:, i].numpy().astype(np.int64)
    refine_active = (
        search.refine_history[:, i].numpy().astype(np.int64)
        if search.refine_history.size
        else np.zeros(0, np.int64)
    )
    continue_active = (
        search.continue_history[:, i].numpy().astype(np.int64)
        if search.continue_history is not None
        else np.zeros(0, np.int64)
    )
    return {
        "adam_iterations": min(int((adam_active > 0).sum()), p.max_iterations),
        "n_adam_converged": int((search.status[i] == STATUS_CONVERGED).sum()),
        "n_refined": int(search.n_refined[i]),
        "refine_iterations": min(int((refine_active > 0).sum()), p.refine_iterations),
        "continue_iterations": int((continue_active > 0).sum()),
        "active_history": adam_active,
        "refine_active_history": refine_active,
        "continue_active_history": continue_active,
    }


def _stable(
    net64: Architecture, networks: list[Points], values: torch.Tensor, p: FixedPointParams
) -> list[NDArray]:
    """Whether each point has no eigenvalue of dF/dh with |λ| > 1 + unstable_tol."""
    k = max((len(points) for points in networks), default=0)
    x = np.zeros((len(networks), k, net64.n_state))
    condition = np.zeros((len(networks), k), dtype=np.int64)
    for i, points in enumerate(networks):
        x[i, : len(points)], condition[i, : len(points)] = points.x, points.condition
    device = values.device
    u = values.to(torch.float64)[torch.as_tensor(condition, device=device)]
    jac = jacobian(net64, torch.as_tensor(x, device=device), u).cpu().numpy()
    modulus = np.abs(np.linalg.eigvals(jac)) if k else np.zeros((len(networks), 0, 0))
    stable = (modulus <= 1 + p.unstable_tol).all(axis=-1)
    return [stable[i, : len(points)] for i, points in enumerate(networks)]


def _segment_pass(
    net: Architecture,
    net64: Architecture,
    step_net: Architecture,
    found: list[Points],
    init: NDArray,
    values: torch.Tensor,
    n_cond: int,
    p: FixedPointParams,
) -> list[dict[str, int]]:
    """Second pass from seeds along the segments between each network's fixed points;
    its verified points are merged into ``found`` (in place). Counts per network."""
    e = len(found)
    s = net.n_state
    ordered = [points.take(canonical_order(points)) for points in found]
    fixed = [points.take(np.flatnonzero(points.fixed)) for points in ordered]
    stable = _stable(net64, fixed, values, p) if p.segment_points > 0 else [None] * e
    seeds = [
        segment_seeds(points.x, points.condition, n_cond, p, is_stable)
        for points, is_stable in zip(fixed, stable, strict=True)
    ]
    m = max(len(c) for _, c in seeds) if seeds else 0
    zero = {
        "n_converged": 0,
        "n_slow_candidates": 0,
        "n_candidates": 0,
        "n_confirmed": 0,
        "n_relocated": 0,
        "n_rejected": 0,
        "n_slow_off_probe": 0,
        "n_outliers": 0,
    }
    counts = [{"n_segment_seeds": len(c), "segment_adam_iterations": 0, **zero} for _, c in seeds]
    if m == 0:
        return counts
    x0 = np.zeros((e, m, s))
    condition = np.zeros((e, m), dtype=np.int64)
    valid = np.zeros((e, m), dtype=bool)
    for i, (x, c) in enumerate(seeds):
        x0[i, : len(c)], condition[i, : len(c)], valid[i, : len(c)] = x, c, True
    dtype, device = values.dtype, values.device
    xt = torch.as_tensor(x0, dtype=dtype, device=device)
    u = values[torch.as_tensor(condition, device=device)]
    active = torch.as_tensor(valid, device=device)
    search = _search(net, step_net, xt, u, condition, active, torch.zeros_like(active), p)
    more, checks = _verified(net64, search, condition, np.int8(SEGMENT), valid, p)
    for i in range(e):
        merged, n_outliers = select(Points.concat([found[i], more[i]]), init[i], p)
        found[i] = merged
        adam_active = search.adam_history[:, i].numpy()
        counts[i].update(checks[i])
        counts[i]["n_outliers"] = n_outliers
        counts[i]["segment_adam_iterations"] = min(int((adam_active > 0).sum()), p.max_iterations)
    return counts
