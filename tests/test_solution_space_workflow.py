"""The space of solutions through the pipeline: types in the summary, figures, overview."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import xarray as xr

from rnn_analysis.aggregate.overview import write_overview
from rnn_analysis.aggregate.task import aggregate_task
from rnn_analysis.config import Sweep
from rnn_analysis.inprocess import run_in_process
from rnn_analysis.report.solution_types import solution_type_report

from .conftest import snakemake, write_config
from .test_workflow import job_counts

DD_CONFIG = {
    "grid": {
        "task": ["delayed_discrimination"],
        "architecture": ["gru"],
        "learning_rule": ["bptt"],
        "noise": [0.1],
        "seeds": 5,
    },
    "architectures": {"gru": {"hidden_size": 32}},
    "learning_rules": {"bptt": {"learning_rate": 0.01, "batch_size": 64, "max_iterations": 600}},
    "training": {"stopping": {"validate_every": 25, "validation_trials": 300, "window": 3}},
    "analysis": {
        "evaluation_trials": 200,
        "psychometric_repeats": 5,
        "fixed_points": {"n_initial_states": 32, "max_iterations": 300},
    },
    "aggregate": {"metrics": ["cka", "topology"], "bootstrap_samples": 50},
    "jobs": {"seeds_per_job": 5, "checkpoint_minutes": 0},
}


@pytest.fixture(scope="module")
def dd_sweep(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Sweep, xr.Dataset]:
    """Five GRUs on delayed discrimination, trained, analysed and aggregated (~40 s)."""
    workdir = tmp_path_factory.mktemp("solution_space")
    sweep = Sweep(DD_CONFIG)
    run_in_process(sweep, workdir, log=lambda _: None)
    results = workdir / "results"
    analyses = sorted((results / "networks").rglob("analysis.nc"))
    out = results / "aggregate" / "delayed_discrimination"
    aggregate_task(
        "delayed_discrimination",
        sweep.aggregate.to_dict(),
        analyses,
        out / "similarity.nc",
        out / "summary.nc",
        out / "factors.nc",
        log=lambda _: None,
    )
    with xr.open_dataset(out / "summary.nc") as summary:
        return workdir, sweep, summary.load()


@pytest.mark.slow
@pytest.mark.usefixtures("one_thread")
def test_summary_types_converged_networks_and_has_extrapolation_features(
    dd_sweep: tuple[Path, Sweep, xr.Dataset],
) -> None:
    _, _, summary = dd_sweep
    status = summary["status"].values.astype(str)
    types = summary["solution_type"].values.astype(str)
    converged = status == "converged"
    assert converged.sum() >= 3
    assert (types[converged] != "").all() and (types[~converged] == "").all()
    assert (summary["solution_class"].values.astype(str)[converged] != "").all()
    assert (summary["behaviour_type"].values.astype(str)[converged] != "").all()
    assert (summary["n_probe_errors"].values[converged] >= 0).all()
    features = [str(v) for v in summary.data_vars if str(v).startswith("extrapolation_feature_")]
    assert features, "the summary has no extrapolation features"
    for name in features:
        assert summary[name].attrs["long_name"]
        assert np.isfinite(summary[name].values[converged]).any(), name
    assert summary.sizes["type"] >= 1
    assert int(summary["type_size"].sum()) <= int(converged.sum())
    assert set(summary["type_example"].values.astype(str)) <= set(
        summary["network_key"].values.astype(str)
    )
    for key in ("n_classes", "n_types", "type_coverage", "type_behaviour_ari"):
        assert f"solution_space_{key}" in summary.attrs
    # neural features recorded during training, at initialisation and at the end
    features = summary["training_features"]
    assert features.dims == ("network", "training_feature")
    names = features["training_feature"].values.tolist()
    assert "effective_dimensionality_init" in names and "jacobian_eig_1_final" in names
    assert np.isfinite(features.values[converged]).all()


@pytest.mark.slow
@pytest.mark.usefixtures("one_thread")
def test_factors_hold_the_type_prediction(dd_sweep: tuple[Path, Sweep, xr.Dataset]) -> None:
    workdir, _, summary = dd_sweep
    path = workdir / "results" / "aggregate" / "delayed_discrimination" / "factors.nc"
    with xr.open_dataset(path) as factors:
        factors = factors.load()
    for name in ("accuracy", "baseline", "n_networks", "n_types"):
        assert f"type_prediction_{name}" in factors
    accuracy = float(factors["type_prediction_accuracy"])
    if np.isnan(accuracy):  # a single type: nothing to predict, and it says so
        assert "type" in factors.attrs["type_prediction_reason"]
    else:
        assert 0 <= accuracy <= 1
    assert factors.attrs["solution_space_n_typed"] == int(
        (summary["solution_type"].values.astype(str) != "").sum()
    )


@pytest.mark.slow
@pytest.mark.usefixtures("one_thread")
def test_report_figures_and_overview_show_the_types(
    dd_sweep: tuple[Path, Sweep, xr.Dataset], tmp_path: Path
) -> None:
    workdir, _, summary = dd_sweep
    results = workdir / "results"
    analyses = sorted((results / "networks").rglob("analysis.nc"))
    out = results / "aggregate" / "delayed_discrimination"
    types, extrapolation = solution_type_report(
        out / "summary.nc", analyses, tmp_path / "types.png", tmp_path / "extrapolation.png"
    )
    assert types.stat().st_size > 10_000 and extrapolation.stat().st_size > 10_000
    text = write_overview([out / "summary.nc"], [out / "factors.nc"], None)
    assert "solution types of the" in text
    assert "adjusted Rand index" in text


def test_report_plans_solution_type_figures_for_timing_tasks(tmp_path: Path) -> None:
    config = write_config(
        tmp_path,
        {
            "grid": {
                "task": ["flipflop", "time_reproduction"],
                "architecture": ["gru"],
                "noise": [0.0],
            }
        },
    )
    counts = job_counts(snakemake(tmp_path, config, "--dry-run").stdout)
    assert counts["figures_solution_types"] == 1  # time reproduction only
    assert counts["aggregate"] == 2
