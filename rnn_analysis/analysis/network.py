"""The ``analyze`` step of one network: behaviour, probe activity, fixed points and graphs."""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import numpy as np
import torch
import xarray as xr

from rnn_analysis.analysis.attractors import attractor_structure
from rnn_analysis.analysis.evaluation import evaluate, extrapolation, psychometric_curve, run_single
from rnn_analysis.analysis.fixed_points import find_fixed_points
from rnn_analysis.analysis.params import AnalysisParams
from rnn_analysis.analysis.psychometric_fit import psychometric_fit_dataset
from rnn_analysis.analysis.reduced_graph import reduced_dynamics_graph
from rnn_analysis.analysis.selection_summary import context_selection, describe
from rnn_analysis.analysis.topology import topology_graph
from rnn_analysis.architectures import Architecture
from rnn_analysis.grid import network_key
from rnn_analysis.hyperparameters import from_mapping
from rnn_analysis.io import META_FILE, MODEL_FILE, load_models, provenance, read_meta, write_netcdf
from rnn_analysis.tasks import TASKS, Task
from rnn_analysis.training.rule import FAILED


def probe_trajectories(model: Architecture, task: Task) -> tuple[xr.Dataset, torch.Tensor]:
    """Hidden activity and outputs on the task's probe set; also the full states."""
    probe = task.probe_set()
    states, outputs = run_single(model, probe)
    hidden = model.hidden(states[0])
    coords = {f"probe_{k}": ("probe_trial", np.asarray(v)) for k, v in probe.conditions.items()}
    ds = xr.Dataset(
        {
            "probe_hidden": (
                ("probe_trial", "time", "unit"),
                hidden.numpy(),
                {"long_name": "unit activity on the probe set", "units": "1"},
            ),
            "probe_output": (
                ("probe_trial", "time", "output"),
                outputs[0].numpy(),
                {"long_name": "readout on the probe set", "units": "1"},
            ),
            "probe_input": (
                ("probe_trial", "time", "input_channel"),
                probe.inputs.numpy(),
                {"long_name": "probe inputs", "units": "1"},
            ),
        },
        coords={"time": ("time", np.arange(probe.n_steps)), **coords},
    )
    return ds, states


def analyze_network(
    spec: Mapping[str, Any],
    folder: str | Path,
    out: str | Path,
    log: Callable[[str], None] = print,
) -> xr.Dataset:
    """Analyse the trained network in ``folder``; write and return its dataset."""
    folder = Path(folder)
    meta = read_meta(folder)
    labels = spec["network"]
    task_cls = TASKS[labels["task"]]
    task = task_cls(from_mapping(task_cls.Params, spec["task"], "tasks"))
    params = from_mapping(AnalysisParams, spec["analysis"], "analysis")
    model = load_models([folder / MODEL_FILE])
    model.requires_grad_(False)

    attrs = {
        **{k: v for k, v in labels.items() if k != "axes"},
        **({"grid_axes": json.dumps(labels["axes"], sort_keys=True)} if labels.get("axes") else {}),
        "network": network_key(labels),
        "status": meta["status"],
        "status_reason": meta.get("reason", ""),
        "iterations": int(meta["iterations"]),
        "untrained_validation_score": float(
            np.nan
            if meta.get("untrained_validation_score") is None
            else meta["untrained_validation_score"]
        ),
        "training_wall_time_s": float(meta.get("wall_time_s", np.nan)),
        "training_spec": json.dumps(meta.get("spec", {}), sort_keys=True),
        "analysis_spec": json.dumps(dict(spec), sort_keys=True),
        "provenance": json.dumps(provenance(), sort_keys=True),
        "source": str(folder / META_FILE),
    }
    skipped = None
    if meta["status"] == FAILED:
        skipped = f"training failed: {meta.get('reason', '')}"
    elif not all(bool(torch.isfinite(p).all()) for p in model.parameters()):
        skipped = "non-finite weights"
    if skipped is not None:
        log(f"{folder}: analysis skipped ({skipped}); status {meta['status']}")
        ds = xr.Dataset(attrs={**attrs, "analysis_skipped": skipped})
        write_netcdf(ds, Path(out))
        return ds

    log(f"{folder}: evaluating on {params.evaluation_trials} trials")
    evaluation = evaluate(
        model, task, float(labels["noise"]), params.evaluation_trials, int(labels["seed"])
    )
    behaviour = [evaluation]
    psychometric = psychometric_curve(
        model, task, float(labels["noise"]), params.psychometric_repeats, int(labels["seed"])
    )
    if psychometric is not None:
        fit = psychometric_fit_dataset(psychometric, task)
        behaviour.extend([psychometric, fit])
        log(
            f"{folder}: psychometric curve over {psychometric.sizes['psychometric_condition']} "
            f"conditions × {params.psychometric_repeats} noisy repeats; slope "
            f"{fit.psychometric_slope.item():.4g}, bias {fit.psychometric_bias.item():.4g}, "
            f"lapse {fit.psychometric_lapse.item():.3g} {fit.psychometric_fit_note.item()}".rstrip()
        )
    extrapolated = extrapolation(model, task)
    if extrapolated is not None:
        behaviour.append(extrapolated)
        log(
            f"{folder}: extrapolation {task.performance_name} "
            f"{extrapolated.performance_extrapolation.item():.4f}"
        )
    probe, states = probe_trajectories(model, task)
    log(
        f"{folder}: {task.performance_name} noisy {evaluation.performance_noisy.item():.4f}, "
        f"noise-free {evaluation.performance_noise_free.item():.4f}"
    )
    fp_params = params.fixed_points
    log(f"{folder}: searching fixed points from {fp_params.n_initial_states} initial states")
    static_inputs = task.static_inputs()
    fixed_points = find_fixed_points(model, states, static_inputs, fp_params)[0]
    parts = [*behaviour, probe, fixed_points]
    extra_attrs = {f"fixed_points_{k}": v for k, v in fixed_points.attrs.items()}

    if params.selection_vectors:
        selection = context_selection(
            model,
            fixed_points,
            task,
            unstable=params.selection_unstable_points,
            tolerance=params.attractors.line_tolerance,
        )
        if selection is not None:
            parts.append(selection)
            extra_attrs.update({f"selection_{k}": v for k, v in selection.attrs.items()})
            log(f"{folder}: {describe(selection)}")

    attractors = attractor_structure(
        model, fixed_points, static_inputs, params.attractors, probe_states=states
    )
    parts.append(attractors)
    extra_attrs.update({f"attractors_{k}": v for k, v in attractors.attrs.items()})
    log(
        f"{folder}: {int(attractors['n_fixed_total'])} fixed points, "
        f"{int(attractors['n_stable_total'])} stable, "
        f"{int(attractors['n_line_attractors'])} line attractor(s), "
        f"{int(attractors['n_cycles'])} limit cycle(s)"
    )

    topology = topology_graph(
        model, fixed_points, static_inputs, task.input_pulses(), params.topology
    )
    parts.append(topology)
    extra_attrs.update({f"topology_{k}": v for k, v in topology.attrs.items()})
    log(
        f"{folder}: topology graph with {topology.sizes.get('topology_node', 0)} nodes and "
        f"{topology.sizes.get('topology_edge', 0)} edges"
    )

    if labels["task"] in params.reduced_graph_tasks:
        reduced = reduced_dynamics_graph(model, task, params.reduced_graph)
        parts.append(reduced)
        extra_attrs.update({f"reduced_graph_{k}": v for k, v in reduced.attrs.items()})
        log(
            f"{folder}: reduced-dynamics graph with {reduced.sizes.get('reduced_node', 0)} "
            f"nodes, solution hash {reduced['solution_hash'].item()}"
        )

    ds = xr.merge(parts, compat="equals", join="outer", combine_attrs="drop_conflicts")
    ds.attrs = {**attrs, **extra_attrs}
    write_netcdf(ds, Path(out))
    return ds
