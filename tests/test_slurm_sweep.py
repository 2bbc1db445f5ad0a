"""A tiny sweep through the real SLURM executor on the private cluster."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from rnn_analysis.datasets import open_dataset
from tests.slurm_cluster import LocalSlurmCluster

from .conftest import REPO, snakemake, write_config

pytestmark = [pytest.mark.slurm, pytest.mark.slow]


def sacct_rows(cluster: LocalSlurmCluster, fields: str) -> list[str]:
    """One ``|``-separated row per job (array tasks separately, no job steps)."""
    return cluster.run(["sacct", "-X", "-n", "-P", "-o", fields]).stdout.split()


def rows_of_run(cluster: LocalSlurmCluster, fields: str, folder: Path) -> list[str]:
    """The rows of the jobs submitted from ``folder`` (a Snakemake run's working
    directory), without that column: the cluster is shared by the session's tests, and a
    job of an earlier test can still change state while a later one runs."""
    rows = sacct_rows(cluster, f"{fields},WorkDir")
    return [r.rsplit("|", 1)[0] for r in rows if r.endswith(f"|{folder}")]


def test_tiny_sweep_through_slurm(slurm_cluster: LocalSlurmCluster, tmp_path: Path) -> None:
    fields = "JobID,State,Account,Partition"
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

    rows = rows_of_run(slurm_cluster, fields, tmp_path)
    completed = [r for r in rows if r.split("|")[1] == "COMPLETED"]
    # One training job (both seeds together), one group job with both analyses (the
    # profile groups analyze jobs), one aggregate; figures and overview run locally.
    assert len(completed) == 3, (rows, sacct_rows(slurm_cluster, f"{fields},WorkDir"))
    assert "analyses" in log, log[-3000:]
    assert all(r.split("|")[2] == slurm_cluster.account for r in completed)


def test_training_jobs_as_slurm_arrays(slurm_cluster: LocalSlurmCluster, tmp_path: Path) -> None:
    """With the executor's job arrays, the train jobs of a seed group are one submission."""
    config = write_config(
        tmp_path,
        {
            "grid": {"architecture": ["vanilla"], "noise": [0.0, 0.1], "seeds": 2},
            "learning_rules": {"bptt": {"max_iterations": 25}},
            "jobs": {"seeds_per_job": 1},
            "aggregate": {"metrics": ["cka"]},
        },
    )

    proc = snakemake(
        tmp_path,
        config,
        "--executor",
        "slurm",
        "--profile",
        str(REPO / "workflow" / "profiles" / "slurm"),
        "--slurm-array-jobs=all",
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
    metas = sorted((tmp_path / "results" / "networks").rglob("meta.json"))
    assert len(metas) == 4, log[-3000:]
    rows = rows_of_run(slurm_cluster, "JobID,State", tmp_path)
    assert all(r.endswith("|COMPLETED") for r in rows), rows
    job_ids = [r.split("|")[0] for r in rows]
    array_tasks = [j for j in job_ids if "_" in j]
    # four trainings as two arrays (one per seed group), then one group job with the
    # four analyses and one aggregate job: four submissions in all
    assert len(array_tasks) == 4, rows
    assert len({j.split("_")[0] for j in array_tasks}) == 2, rows
    assert len(job_ids) - len(array_tasks) == 2, rows
