"""A tiny sweep through the real SLURM executor on the private cluster."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from rnn_analysis.aggregate.task import aggregate_task
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


def test_sweep_through_slurm_in_arrays_groups_and_tiles(
    slurm_cluster: LocalSlurmCluster, tmp_path: Path
) -> None:
    """A tiny sweep through the profile: with the executor's job arrays the train jobs of
    a seed group are one submission, the analyses one group job; the task, compared in
    blocks of 2 networks, runs its 3 tiles as one group job, and the merged matrices equal
    those computed in one block. Figures and the overview run on the submitting side."""
    config = write_config(
        tmp_path,
        {
            "grid": {"architecture": ["vanilla"], "noise": [0.0, 0.1], "seeds": 2},
            "learning_rules": {"bptt": {"max_iterations": 25}},
            "jobs": {"seeds_per_job": 1},
            "aggregate": {
                "metrics": ["cka", "procrustes", "fixed_point_signature"],
                "tile_networks": 2,
            },
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
    for meta in metas:
        assert json.loads(meta.read_text())["status"] in {"converged", "not_converged"}
        assert (meta.parent / "analysis.nc").is_file(), log[-3000:]
    assert (tmp_path / "results" / "overview.txt").is_file()
    rows = rows_of_run(slurm_cluster, "JobID,State,Account", tmp_path)
    assert all(r.endswith(f"|COMPLETED|{slurm_cluster.account}") for r in rows), rows
    assert "analyses" in log, log[-3000:]
    job_ids = [r.split("|")[0] for r in rows]
    array_tasks = [j for j in job_ids if "_" in j]
    # four trainings as two arrays (one per seed group), one group job with the four
    # analyses, the two block jobs as one array, one group job with the three tiles and
    # the merge: six submissions in all
    assert len(array_tasks) == 6, rows
    assert len({j.split("_")[0] for j in array_tasks}) == 3, rows
    assert len(job_ids) - len(array_tasks) == 3, rows
    assert "tiles" in log, log[-3000:]
    folder = tmp_path / "results" / "aggregate" / "flipflop"
    assert sorted(p.name for p in (folder / "tiles").iterdir()) == [
        "tile0-0.nc",
        "tile0-1.nc",
        "tile1-1.nc",
    ]
    merged = open_dataset(folder / "similarity.nc")
    analyses = sorted((tmp_path / "results" / "networks").rglob("analysis.nc"))
    options = {"metrics": ["cka", "procrustes", "fixed_point_signature"]}
    whole, _, _ = aggregate_task(
        "flipflop",
        {**options, "include_not_converged": True},
        analyses,
        tmp_path / "s.nc",
        tmp_path / "m.nc",
        log=lambda _: None,
    )
    assert merged.sizes["network"] == whole.sizes["network"] == 4
    for name in options["metrics"]:
        np.testing.assert_allclose(merged[name].values, whole[name].values, rtol=0, atol=1e-6)
