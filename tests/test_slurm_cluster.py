"""End-to-end tests against a private single-node SLURM cluster."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from tests.slurm_cluster import LocalSlurmCluster, pid_alive, start_cluster_or_skip

REPO_ROOT = Path(__file__).resolve().parents[1]
SLURM_PROFILE = REPO_ROOT / "workflow" / "profiles" / "slurm"

pytestmark = pytest.mark.slurm


def _wait_for_state(cluster: LocalSlurmCluster, job_id: str, timeout: float = 60.0) -> str:
    terminal = {"COMPLETED", "FAILED", "CANCELLED", "TIMEOUT", "OUT_OF_MEMORY"}
    state = ""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        out = cluster.run(["sacct", "-j", job_id, "-X", "-n", "-P", "-o", "State"]).stdout.split()
        state = out[0].split()[0] if out else ""
        if state in terminal:
            return state
        time.sleep(0.5)
    return state


def test_sbatch_job_completes(slurm_cluster: LocalSlurmCluster, tmp_path: Path) -> None:
    out_file = tmp_path / "job.out"
    submitted = slurm_cluster.run(
        [
            "sbatch",
            "--parsable",
            f"--account={slurm_cluster.account}",
            f"--partition={slurm_cluster.partition}",
            f"--output={out_file}",
            "--wrap",
            "echo hello from $SLURM_JOB_ID",
        ]
    )
    job_id = submitted.stdout.strip().split(";")[0]
    assert job_id.isdigit(), submitted.stdout

    assert _wait_for_state(slurm_cluster, job_id) == "COMPLETED"
    assert out_file.read_text().strip() == f"hello from {job_id}"
    account = slurm_cluster.run(
        ["sacct", "-j", job_id, "-X", "-n", "-P", "-o", "Account"]
    ).stdout.strip()
    assert account == slurm_cluster.account


def test_snakemake_workflow_through_profile(
    slurm_cluster: LocalSlurmCluster, tmp_path: Path
) -> None:
    workdir = tmp_path / "wf"
    workdir.mkdir()
    (workdir / "Snakefile").write_text(
        textwrap.dedent(
            """\
            rule all:
                input:
                    "b.txt",

            rule a:
                output:
                    "a.txt",
                shell:
                    "echo $SLURM_JOB_ID > {output}"

            rule b:
                input:
                    "a.txt",
                output:
                    "b.txt",
                shell:
                    "cat {input} > {output} && echo $SLURM_JOB_ID >> {output}"
            """
        )
    )
    env = {**os.environ, **slurm_cluster.env}
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "snakemake",
            "--executor",
            "slurm",
            "--profile",
            str(SLURM_PROFILE),
            "--directory",
            str(workdir),
            "--snakefile",
            str(workdir / "Snakefile"),
            "--slurm-init-seconds-before-status-checks",
            "2",
            "--latency-wait",
            "5",
        ],
        cwd=workdir,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    log = result.stdout + result.stderr
    assert result.returncode == 0, log
    a_ids = (workdir / "a.txt").read_text().split()
    b_ids = (workdir / "b.txt").read_text().split()
    assert len(a_ids) == 1 and a_ids[0].isdigit(), log
    assert b_ids[0] == a_ids[0] and b_ids[1].isdigit() and b_ids[1] != a_ids[0]

    for job_id in (a_ids[0], b_ids[1]):
        row = slurm_cluster.run(
            ["sacct", "-j", job_id, "-X", "-n", "-P", "-o", "State,Account,Partition"]
        ).stdout.strip()
        assert row == (f"COMPLETED|{slurm_cluster.account}|{slurm_cluster.partition}"), log


def test_stop_terminates_every_started_process(tmp_path: Path) -> None:
    cluster = start_cluster_or_skip(tmp_path / "own")
    pids = cluster.pids
    assert len(pids) >= 5
    assert all(pid_alive(pid) for pid in pids)
    cluster.run(["sbatch", "--wrap", "sleep 600"])
    cluster.stop()
    assert not [pid for pid in cluster.pids if pid_alive(pid)]
    assert not cluster.running
