"""The analyze step writes every analysis of a network into one self-describing file."""

from __future__ import annotations

from pathlib import Path

import pytest
import xarray as xr

from rnn_analysis.analysis.network import analyze_network
from rnn_analysis.analysis.params import AnalysisParams
from rnn_analysis.analysis.reduced_graph import graph_from_dataset, solution_type_hash
from rnn_analysis.analysis.topology import graph_signature
from rnn_analysis.hyperparameters import from_mapping
from rnn_analysis.training.run import train_ensemble


def _train(folder: Path, task: str, task_params: dict, iterations: int) -> dict:
    spec = {
        "network": {
            "task": task,
            "architecture": "gru",
            "learning_rule": "bptt",
            "noise": 0.0,
            "seed": 0,
        },
        "task": task_params,
        "architecture": {"hidden_size": 16},
        "learning_rule": {"learning_rate": 0.01, "batch_size": 32, "max_iterations": iterations},
        "stopping": {"validate_every": 10, "validation_trials": 32, "window": 2},
    }
    train_ensemble([spec], [folder], "cpu", log=lambda _: None)
    return spec


ANALYSIS = {
    "evaluation_trials": 32,
    "fixed_points": {"n_initial_states": 32, "max_iterations": 300},
    "topology": {"max_steps": 500},
    "reduced_graph": {"relax_steps": 200},
}


def test_timing_task_analysis_has_every_part(tmp_path: Path, one_thread) -> None:
    spec = _train(tmp_path / "net", "delayed_discrimination", {}, 20)
    analysis_spec = {"network": spec["network"], "task": {}, "analysis": ANALYSIS}
    analyze_network(analysis_spec, tmp_path / "net", tmp_path / "analysis.nc", log=lambda _: None)
    with xr.open_dataset(tmp_path / "analysis.nc") as ds:
        ds = ds.load()
    for name in (
        "performance_noisy",
        "extrapolation_score",
        "probe_hidden",
        "q",
        "osc_rotation",
        "line_attractor",
        "cycle_found",
        "n_stable_total",
    ):
        assert name in ds, name
    assert "topology_node" in ds.dims and "reduced_node" in ds.dims
    assert ds["node_stability"].dims == ("topology_node",)
    assert ds["reduced_node_label"].dims == ("reduced_node",)
    graph = graph_from_dataset(ds)
    assert solution_type_hash(graph) == ds["solution_hash"].item()
    assert graph_signature(ds) == ds.attrs["topology_signature"]
    assert ds.attrs["reduced_graph_param_relax_steps"] == 200


def test_tasks_outside_reduced_graph_tasks_get_none(tmp_path: Path, one_thread) -> None:
    task = {"n_steps": 30, "pulse_probability": 0.1, "probe_trials": 4}
    spec = _train(tmp_path / "net", "flipflop", task, 10)
    analysis_spec = {"network": spec["network"], "task": task, "analysis": ANALYSIS}
    ds = analyze_network(analysis_spec, tmp_path / "net", tmp_path / "a.nc", log=lambda _: None)
    assert "reduced_node" not in ds.dims and "solution_hash" not in ds
    assert "topology_edge" in ds.dims
    assert (ds["edge_kind"].values == "pulse").any() or ds.sizes["topology_node"] == 0


@pytest.mark.parametrize(
    ("tasks", "fragment"), [(["flipflip"], "'flipflip'"), (["cdi"], "no input pulses")]
)
def test_reduced_graph_tasks_are_checked(tasks: list[str], fragment: str) -> None:
    with pytest.raises(Exception, match=fragment) as err:
        from_mapping(AnalysisParams, {"reduced_graph_tasks": tasks}, "analysis")
    assert "analysis" in str(err.value)


def test_solution_types_in_the_summary_do_not_depend_on_order(tmp_path: Path, one_thread) -> None:
    from rnn_analysis.aggregate.task import aggregate_task

    paths = []
    for seed in (0, 1):
        spec = _train(tmp_path / f"net{seed}", "delayed_discrimination", {}, 20)
        spec["network"]["seed"] = seed
        analysis_spec = {"network": spec["network"], "task": {}, "analysis": ANALYSIS}
        out = tmp_path / f"analysis{seed}.nc"
        analyze_network(analysis_spec, tmp_path / f"net{seed}", out, log=lambda _: None)
        paths.append(out)
    # only converged networks are typed: mark these briefly trained ones converged
    for path in paths:
        with xr.open_dataset(path) as ds:
            marked = ds.load().assign_attrs(status="converged")
        marked.to_netcdf(path)
    # the same network under another name: the same solution type
    with xr.open_dataset(paths[0]) as ds:
        twin = ds.load().assign_attrs(
            seed=7, network="delayed_discrimination/gru/bptt/noise0/seed7"
        )
    twin.to_netcdf(tmp_path / "analysis7.nc")
    paths.append(tmp_path / "analysis7.nc")

    types = []
    for order in (paths, paths[::-1]):
        _, summary, _ = aggregate_task(
            "delayed_discrimination",
            {"metrics": ["cka"], "include_not_converged": True},
            order,
            tmp_path / "similarity.nc",
            tmp_path / "summary.nc",
            log=lambda _: None,
        )
        by_seed = {
            seed: (str(kind), str(cls))
            for seed, kind, cls in zip(
                summary["seed"].values.tolist(),
                summary["solution_type"].values,
                summary["solution_class"].values,
                strict=True,
            )
        }
        types.append(by_seed)
    assert types[0] == types[1]
    assert types[0][0] == types[0][7] and types[0][0][0] == "T1"
    assert all(cls.startswith("T-") for _, cls in types[0].values())
    assert (summary["n_topology_nodes"].values >= 0).all()
    assert (summary["n_line_attractors"].values >= 0).all()
    assert (summary["n_limit_cycles"].values >= 0).all()
