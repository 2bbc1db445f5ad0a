"""A tiny sweep through the real SLURM executor on the private cluster."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from rnn_analysis.datasets import open_dataset
from tests.slurm_cluster import LocalSlurmCluster

from .conftest import REPO, snakemake, write_config

pytestmark = [pytest.mark.slurm, pytest.mark.slow]


def test_tiny_sweep_through_slurm(slurm_cluster: LocalSlurmCluster, tmp_path: Path) -> None:
    config = write_config(
        tmp_path,
        {
            "grid": {"architecture": ["vanilla"], "noise": [0.1], "seeds": 2},
            "learning_rules": {"bptt": {"max_iterations": 50}},
        },
    )
    proc = snakemake(
        tmp_path,
        config,
        "--executor",
        "slurm",
        "--profile",
        str(REPO / "workflow" / "profiles" / "slurm"),
        "--slurm-init-seconds-before-status-checks",
        "2",
        "--latency-wait",
        "5",
        "--retries",
        "0",
        env=slurm_cluster.env,
        timeout=600,
    )
    log = proc.stdout + proc.stderr
    results = tmp_path / "results"
    for seed in (0, 1):
        folder = results / "networks" / "flipflop" / "vanilla" / "bptt" / "noise0.1" / f"seed{seed}"
        meta = json.loads((folder / "meta.json").read_text())
        assert meta["status"] in {"converged", "not_converged"}
        assert (folder / "analysis.nc").is_file(), log[-3000:]
    summary = open_dataset(results / "aggregate" / "flipflop" / "summary.nc")
    assert sorted(summary["seed"].values.tolist()) == [0, 1]
    assert (results / "overview.txt").is_file()

    rows = slurm_cluster.run(
        ["sacct", "-X", "-n", "-P", "-o", "JobName,State,Account,Partition"]
    ).stdout.split()
    completed = [r for r in rows if r.split("|")[1] == "COMPLETED"]
    # One training job (both seeds together), two analyses, one aggregate.
    assert len(completed) >= 4, rows
    assert all(r.split("|")[2] == slurm_cluster.account for r in completed)
