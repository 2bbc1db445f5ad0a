"""Known results of the 3-bit flip-flop (docs/science.md §7), as rates over a population.

Four seeds of every architecture (32 units) are trained once for the module with BPTT
until the last 5 validation accuracies are all ≥ 0.99, analysed by the pipeline's own
analysis, and summarised; every claim below is a rate over the converged networks with
a stated tolerance, never a statement about one seed.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import xarray as xr

from rnn_analysis.aggregate.rates import population_rate, rate_table
from rnn_analysis.config import Sweep
from rnn_analysis.inprocess import load_analyses, run_in_process

pytestmark = [pytest.mark.slow, pytest.mark.science]

ARCHITECTURES = ["vanilla", "rate", "gru", "lstm", "ugrnn"]
SEEDS = 4
CONFIG = {
    "grid": {
        "task": ["flipflop"],
        "architecture": ARCHITECTURES,
        "learning_rule": ["bptt"],
        "noise": [0.0],
        "seeds": SEEDS,
    },
    "tasks": {"flipflop": {"n_steps": 100, "pulse_probability": 0.05}},
    "architectures": {
        **{a: {"hidden_size": 32} for a in ARCHITECTURES},
        # one-step pulses barely move a rate unit with the study's alpha 0.1
        "rate": {"hidden_size": 32, "alpha": 0.5, "recurrent_scaling": "sqrt"},
    },
    "learning_rules": {"bptt": {"learning_rate": 0.01, "batch_size": 64, "max_iterations": 1500}},
    "training": {
        "stopping": {"validate_every": 25, "validation_trials": 200, "window": 5, "threshold": 0.99}
    },
    "analysis": {"evaluation_trials": 200, "fixed_points": {"n_initial_states": 512}},
    "jobs": {"seeds_per_job": SEEDS},
}


@pytest.fixture(scope="module")
def population(tmp_path_factory: pytest.TempPathFactory) -> tuple[xr.Dataset, list[xr.Dataset]]:
    """The summary and the analysis datasets of the converged networks, trained once."""
    workdir = tmp_path_factory.mktemp("flipflop_population")
    sweep = Sweep(CONFIG)
    summary = run_in_process(sweep, workdir, log=lambda _: None)["flipflop"]
    return summary, load_analyses(summary, workdir, sweep)


def test_networks_train_and_none_is_trivial(population) -> None:
    summary, _ = population
    status = summary["status"].values.astype(str)
    assert "trivial" not in status
    assert (summary["untrained_validation_score"].values < 0.9).all()
    assert population_rate(status == "converged").at_least(0.9), status


def test_eight_stable_points_at_the_corners(population) -> None:
    """≥ 95% of converged networks (≥ 3 of 4 of each architecture) have exactly 8 stable
    fixed points, one at each corner of the output cube."""
    summary, _ = population
    overall = rate_table(summary, "known_corner_attractors", by=("task",))[("flipflop",)]
    assert overall.at_least(0.95), overall
    for (arch, _), rate in rate_table(summary, "known_corner_attractors").items():
        assert rate.n >= SEEDS - 1 and rate.at_least(0.75), (arch, str(rate))


def test_full_census_of_the_cube(population) -> None:
    """The fixed points of the 3-cube: 8 stable, 12, 6 and 1 saddles with 1, 2 and 3
    unstable modes, in ≥ 90% of converged networks."""
    summary, _ = population
    census = rate_table(summary, "known_cube_census", by=("task",))[("flipflop",)]
    assert census.at_least(0.9), census


def _pattern(label: str) -> str:
    return label.split()[-1]


def saddles_join_neighbouring_corners(ds: xr.Dataset) -> bool:
    """Each one-mode saddle leads, both ways along its unstable mode, to two stable points
    whose output patterns differ in exactly one bit."""
    stability = ds["node_stability"].values.astype(str)
    labels = ds["node_label"].values.astype(str)
    kind = ds["edge_kind"].values.astype(str)
    source, target = ds["edge_source"].values, ds["edge_target"].values
    one_mode = np.flatnonzero(stability == "saddle1")
    if not one_mode.size:
        return False
    for node in one_mode:
        ends = target[(kind == "heteroclinic") & (source == node)]
        if ends.size != 2 or (ends < 0).any() or any(stability[i] != "stable" for i in ends):
            return False
        a, b = (_pattern(labels[i]) for i in ends)
        if sum(x != y for x, y in zip(a, b, strict=True)) != 1:
            return False
    return True


def pulses_set_one_bit(ds: xr.Dataset) -> bool:
    """From every attractor, a ±1 pulse on channel k sets bit k and keeps the others."""
    labels = ds["node_label"].values.astype(str)
    kind = ds["edge_kind"].values.astype(str)
    pulse = ds["edge_label"].values.astype(str)
    source, target = ds["edge_source"].values, ds["edge_target"].values
    pulses = kind == "pulse"
    if pulses.sum() != 8 * 6:
        return False
    for src, tgt, name in zip(source[pulses], target[pulses], pulse[pulses], strict=True):
        sign, channel = name.split()
        expected = list(_pattern(labels[src]))
        expected[int(channel.removeprefix("ch"))] = sign[0]
        if tgt < 0 or _pattern(labels[tgt]) != "".join(expected):
            return False
    return True


def test_topology_graph_transitions(population) -> None:
    """Saddles join neighbouring corners and pulses flip single bits, in ≥ 90% of
    converged networks."""
    _, analyses = population
    saddles = population_rate([saddles_join_neighbouring_corners(ds) for ds in analyses])
    pulses = population_rate([pulses_set_one_bit(ds) for ds in analyses])
    assert saddles.at_least(0.9), saddles
    assert pulses.at_least(0.9), pulses


def test_geometry_separates_architectures_more_than_topology(population, tmp_path: Path) -> None:
    """Universality: networks of one architecture are closer in representational geometry
    than networks of different architectures, while the topology of their fixed points is
    shared. The architecture groups have a higher silhouette and between/within ratio
    under CCA and the Procrustes shape metric than under either topology distance, and
    CCA's intervals exclude no separation."""
    from rnn_analysis.aggregate.task import aggregate_task
    from rnn_analysis.io import write_netcdf

    _, analyses = population
    paths = []
    for i, ds in enumerate(analyses):
        paths.append(tmp_path / f"network{i}.nc")
        write_netcdf(ds, paths[-1])
    geometry, topology = ["cca", "procrustes"], ["topology", "fixed_point_signature"]
    similarity, _, factors = aggregate_task(
        "flipflop",
        {"metrics": geometry + topology, "factors": ["architecture"]},
        paths,
        tmp_path / "similarity.nc",
        tmp_path / "summary.nc",
        tmp_path / "factors.nc",
        log=lambda _: None,
    )
    assert similarity.sizes["network"] == len(analyses) >= 0.9 * SEEDS * len(ARCHITECTURES)
    by_architecture = factors.sel(factor="architecture")
    for statistic in ("silhouette", "between_within"):
        values = by_architecture[statistic]
        for g in geometry:
            for t in topology:
                assert values.sel(metric=g) > values.sel(metric=t), (statistic, values.values)
    assert by_architecture["silhouette_ci"].sel(metric="cca", bound="low") > 0
    assert by_architecture["between_within_ci"].sel(metric="cca", bound="low") > 1
