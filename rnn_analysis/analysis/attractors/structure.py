"""The attractor structure of one network, as one dataset."""

from __future__ import annotations

from typing import Any

import numpy as np
import torch
import xarray as xr

from rnn_analysis.analysis.attractors.counts import counts, oscillations
from rnn_analysis.analysis.attractors.cycles import cycles
from rnn_analysis.analysis.attractors.lines import groups, lines
from rnn_analysis.analysis.attractors.oscillations import central_focus, cued_frequency
from rnn_analysis.analysis.attractors.params import AttractorParams
from rnn_analysis.analysis.attractors.points import (
    REQUIRED,
    label_array,
    points_of,
    probe_array,
    single_network,
)
from rnn_analysis.architectures.base import Architecture
from rnn_analysis.tasks.base import StaticInputs

__all__ = ["attractor_structure"]

_DEFAULTS = AttractorParams()


def attractor_structure(
    model: Architecture,
    fixed_points: xr.Dataset,
    static_inputs: StaticInputs,
    params: AttractorParams = _DEFAULTS,
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
        Probe trajectories: their RMS spread is the scale of ``line_max_gap``,
        ``line_min_relative_extent`` and ``line_max_probe_distance``, their centroid the
        centre of a static input without a limit cycle, and their final states are
        initial states of the limit-cycle simulations. Without them, relative extents
        are NaN and not required, no candidate is dropped for its distance from the
        probe states, and chains are cut relative to the candidates' own RMS spread.
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
        the member with ``Im λ > 0`` of each complex pair, NaN elsewhere);
        ``line_point_offset`` (``|λ − 1|`` of the eigenvalue closest to 1),
        ``line_point_separation``, ``line_candidate``, ``line_point_chain`` (rank of the
        point's chain in its static input, 0 the best, -1 not a candidate),
        ``line_point_arc`` (position along its chain), ``line_point_alignment`` and
        ``line_member`` (on its static input's line attractor).

        Per static input: ``n_fixed``, ``n_stable``, ``n_slow``, ``n_saddle``
        [static_input, unstable_modes]; ``line_attractor``, ``line_n_candidates``,
        ``line_rejected_by`` and the best chain's scores ``line_n_points``,
        ``line_length``, ``line_extent``, ``line_relative_extent``, ``line_alignment``,
        ``line_offset``, ``line_separation`` and ``line_direction`` [static_input, state];
        ``cycle_found``, ``cycle_n_runs``, and medians over the runs on a cycle of
        ``cycle_period`` (steps), ``cycle_frequency`` (2π / period, rad/step),
        ``cycle_amplitude`` (half the orbit's diameter in state space),
        ``cycle_output_amplitude`` [static_input, output] (half the readout's
        peak-to-peak range) and ``cycle_recurrence``; per run ``cycle_run_found``,
        ``cycle_run_period``, ``cycle_run_speed`` [static_input, cycle_run]; the central
        fixed point ``focus_point``, ``focus_centre``, ``focus_distance``,
        ``focus_n_unstable``, ``focus_rotation`` and ``focus_modulus``; with a
        ``cue_label`` label, ``cycle_frequency_error``, ``focus_rotation_error`` and
        ``oscillates_at_cue``.

        Overall: ``n_fixed_total``, ``n_stable_total``, ``n_slow_total``,
        ``n_saddle_total`` [unstable_modes], ``n_line_attractors``, ``n_cycles``; with a
        ``cue_label`` label, ``n_oscillates_at_cue``, ``oscillates_at_cue_every_input``,
        ``cycle_frequency_max_error`` and ``focus_rotation_max_error``.

        Per group of static inputs (sharing the ``group_label`` label):
        ``group_n_static_inputs``, ``group_n_line_attractors``, ``group_line_fraction``,
        ``group_line_attractor``, ``group_line_static_input``,
        ``group_line_rejected_by`` and the group's best chain's scores
        ``group_line_n_points``, ``group_line_length``, ``group_line_extent``,
        ``group_line_relative_extent``, ``group_line_alignment``, ``group_line_offset``,
        ``group_line_separation`` [input_group]; ``line_attractor_every_group``.

        Attributes: every hyperparameter as ``param_<name>``.
    """
    missing = [name for name in REQUIRED if name not in fixed_points]
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

    probe = probe_array(probe_states, network, model.n_state)
    net = single_network(model, network, params.torch_dtype)
    points = points_of(fixed_points, values)

    data: dict[str, Any] = {}
    data.update(counts(points, n_cond))
    data.update(oscillations(points.lam, params.complex_tol))
    line_data, best = lines(net, points, probe, values, params)
    data.update(line_data)
    data.update(groups(best, static_inputs.labels, n_cond, params))
    cycle_data, centre = cycles(net, points, values, probe, params)
    data.update(cycle_data)
    data.update(
        central_focus(points, centre, probe, data["osc_rotation"][1], data["osc_modulus"][1])
    )
    data.update(
        cued_frequency(
            static_inputs.labels,
            cycle_data["cycle_found"][1],
            cycle_data["cycle_frequency"][1],
            data["focus_rotation"][1],
            params,
        )
    )

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
            label_array(label),
            {"long_name": f"static input label {key!r}"},
        )
    attrs: dict[str, Any] = {
        "title": "attractor structure",
        "architecture": getattr(model, "name", type(model).__name__),
    }
    for key, value in params.to_dict().items():
        attrs[f"param_{key}"] = int(value) if isinstance(value, bool) else value
    return xr.Dataset(data, coords=coords, attrs=attrs)
