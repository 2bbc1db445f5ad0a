"""Known results reproduced on small real trainings (SPEC.md §7)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from rnn_analysis.analysis.network import analyze_network
from rnn_analysis.training.run import train_ensemble

FLIPFLOP = {"n_steps": 100, "pulse_probability": 0.05}
# As in the default sweep: one-step pulses barely move a rate unit with alpha 0.1.
ARCHITECTURE = {"rate": {"alpha": 0.5, "recurrent_scaling": "sqrt"}}


def train_and_analyze(folder: Path, architecture: str, seeds: list[int]) -> list:
    specs = [
        {
            "network": {
                "task": "flipflop",
                "architecture": architecture,
                "learning_rule": "bptt",
                "noise": 0.0,
                "seed": seed,
            },
            "task": FLIPFLOP,
            "architecture": {"hidden_size": 32, **ARCHITECTURE.get(architecture, {})},
            "learning_rule": {"learning_rate": 0.01, "batch_size": 64, "max_iterations": 1500},
            "stopping": {
                "validate_every": 25,
                "validation_trials": 200,
                "window": 5,
                "threshold": 0.99,
            },
        }
        for seed in seeds
    ]
    folders = [folder / f"{architecture}{s}" for s in seeds]
    torch.set_num_threads(1)
    statuses = train_ensemble(specs, folders, device="cpu", log=lambda _: None)
    analyses = []
    for spec, net_folder, status in zip(specs, folders, statuses, strict=True):
        analysis_spec = {
            "network": spec["network"],
            "task": FLIPFLOP,
            "analysis": {"evaluation_trials": 200, "fixed_points": {"n_initial_states": 512}},
        }
        ds = analyze_network(
            analysis_spec, net_folder, net_folder / "analysis.nc", log=lambda _: None
        )
        analyses.append((status, ds))
    return analyses


ARCHITECTURES = ["vanilla", "rate", "gru", "lstm", "ugrnn"]


@pytest.fixture(scope="module")
def flipflop_networks(tmp_path_factory: pytest.TempPathFactory) -> dict[str, list]:
    """Four seeds of every architecture trained on the flip-flop and analysed, once."""
    folder = tmp_path_factory.mktemp("flipflop_networks")
    threads = torch.get_num_threads()
    try:
        return {arch: train_and_analyze(folder, arch, [0, 1, 2, 3]) for arch in ARCHITECTURES}
    finally:
        torch.set_num_threads(threads)


@pytest.mark.slow
@pytest.mark.parametrize("architecture", ARCHITECTURES)
def test_flipflop_has_eight_stable_fixed_points(
    flipflop_networks: dict[str, list], architecture: str
) -> None:
    analyses = flipflop_networks[architecture]
    converged = [ds for status, ds in analyses if status == "converged"]
    assert converged, "no network converged"
    for ds in converged:
        fixed = ds["kind"].values == "fixed"
        stable = fixed & (ds["n_unstable"].values == 0)
        assert stable.sum() == 8, ds.attrs["network"]
        # The 8 attractors are the 8 corners of the output cube.
        readout = ds["readout"].values[stable]
        assert len({tuple(c) for c in np.sign(readout)}) == 8, readout
        assert (np.abs(readout) > 0.5).all(), readout
        # Saddles sit between attractors: in the topology graph, each saddle with one
        # unstable mode leads (both ways along that mode) to two attractors that
        # differ in exactly one bit.
        assert (fixed & (ds["n_unstable"].values >= 1)).sum() >= 1
        check_saddle_structure(ds)
        check_pulse_transitions(ds)


def _pattern(label: str) -> str:
    return label.split()[-1]


def check_saddle_structure(ds) -> None:
    stability = ds["node_stability"].values.astype(str)
    labels = ds["node_label"].values.astype(str)
    kind = ds["edge_kind"].values.astype(str)
    source = ds["edge_source"].values
    target = ds["edge_target"].values
    one_mode = np.flatnonzero(stability == "saddle1")
    assert one_mode.size >= 1, ds.attrs["network"]
    for node in one_mode:
        ends = target[(kind == "heteroclinic") & (source == node)]
        assert ends.size == 2 and (ends >= 0).all(), (ds.attrs["network"], labels[node])
        a, b = (_pattern(labels[i]) for i in ends)
        assert all(stability[i] == "stable" for i in ends), labels[ends]
        assert sum(x != y for x, y in zip(a, b, strict=True)) == 1, (a, b)


def check_pulse_transitions(ds) -> None:
    """From every attractor, a ±1 pulse on channel k sets bit k and keeps the others."""
    labels = ds["node_label"].values.astype(str)
    kind = ds["edge_kind"].values.astype(str)
    pulse = ds["edge_label"].values.astype(str)
    source, target = ds["edge_source"].values, ds["edge_target"].values
    pulses = kind == "pulse"
    assert pulses.sum() == 8 * 6
    for src, tgt, name in zip(source[pulses], target[pulses], pulse[pulses], strict=True):
        assert tgt >= 0
        sign, channel = name.split()
        expected = list(_pattern(labels[src]))
        expected[int(channel.removeprefix("ch"))] = sign[0]
        assert _pattern(labels[tgt]) == "".join(expected), (labels[src], name, labels[tgt])


@pytest.mark.slow
def test_geometry_separates_architectures_more_than_topology(
    flipflop_networks: dict[str, list], tmp_path: Path
) -> None:
    """SPEC §7: networks of one architecture are closer in representational geometry
    than networks of different architectures, while the topology of their fixed points
    is shared (universality). On 4 seeds × 5 architectures of 32 units, the
    architecture groups have a higher silhouette and between/within ratio under CCA
    (the universality study's measure) and the Procrustes shape metric than under
    either topology distance, and CCA separates them beyond the bootstrap interval."""
    from rnn_analysis.aggregate.task import aggregate_task
    from rnn_analysis.io import write_netcdf

    paths = []
    for arch, analyses in flipflop_networks.items():
        for i, (status, ds) in enumerate(analyses):
            assert status == "converged", (arch, ds.attrs["network"])
            paths.append(tmp_path / f"{arch}{i}.nc")
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
    assert similarity.sizes["network"] == 20
    by_architecture = factors.sel(factor="architecture")
    for statistic in ("silhouette", "between_within"):
        values = by_architecture[statistic]
        for g in geometry:
            for t in topology:
                assert values.sel(metric=g) > values.sel(metric=t), (statistic, values.values)
    assert by_architecture["silhouette_ci"].sel(metric="cca", bound="low") > 0
    assert by_architecture["between_within_ci"].sel(metric="cca", bound="low") > 1
