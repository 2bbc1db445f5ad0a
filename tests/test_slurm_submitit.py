"""Training through submitit job arrays on the private SLURM cluster, finished by Snakemake."""

from __future__ import annotations

import json
import os
import re
import signal
from pathlib import Path

import pytest
import yaml

from rnn_analysis.config import load_config
from rnn_analysis.launch import launch_training, training_jobs, wait_for
from tests.slurm_cluster import LocalSlurmCluster

from .conftest import deep_update, snakemake, write_config
from .test_workflow import planned_jobs

pytestmark = [pytest.mark.slurm, pytest.mark.slow]

SWEEP = {
    "grid": {"architecture": ["vanilla"], "noise": [0.0, 0.1], "seeds": 2},
    "learning_rules": {"bptt": {"max_iterations": 50}},
    "jobs": {"seeds_per_job": 1},
    "aggregate": {"metrics": ["cka"]},
}


def test_half_a_sweep_through_submitit_then_snakemake_retrains_nothing(
    slurm_cluster: LocalSlurmCluster, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    for key, value in slurm_cluster.env.items():
        monkeypatch.setenv(key, value)
    full = write_config(tmp_path, SWEEP)
    half = tmp_path / "half.yaml"
    half.write_text(
        yaml.safe_dump(deep_update(yaml.safe_load(full.read_text()), {"grid": {"noise": [0.0]}}))
    )

    sweep = load_config(half)
    jobs = launch_training(
        sweep,
        tmp_path / "submitit",
        workdir=tmp_path,
        cluster="slurm",
        partition=slurm_cluster.partition,
        account=slurm_cluster.account,
        timeout_min=10,
        log=lambda _: None,
    )
    assert len(jobs) == 2  # seeds 0 and 1 of the noise-0 cell, one array
    assert len({job.job_id.split("_")[0] for job in jobs}) == 1
    statuses = wait_for(jobs, log=lambda _: None)
    assert all(s in ("converged", "not_converged") for job in statuses for s in job)
    trained = {job.folders[0]: job for job in training_jobs(sweep, tmp_path)}
    assert all(job.done() for job in trained.values())
    meta_times = {f: (Path(f) / "meta.json").stat().st_mtime_ns for f in trained}
    log = Path(next(iter(trained.values())).log_file)
    assert "training 1 network(s)" in log.read_text()

    # nothing left to submit for the half; the full grid has the other cell to train
    assert launch_training(sweep, tmp_path / "submitit", workdir=tmp_path, log=print) == []
    planned = planned_jobs(snakemake(tmp_path, full, "--dry-run").stdout)
    trainings = [out for rule, out in planned if rule.startswith("train")]
    assert trainings and all("/noise0.1/" in out for out in trainings), trainings

    snakemake(tmp_path, full, "--cores", "2")
    for folder, before in meta_times.items():
        assert (Path(folder) / "meta.json").stat().st_mtime_ns == before, folder
    metas = sorted((tmp_path / "results" / "networks").rglob("meta.json"))
    assert len(metas) == 4
    assert all(json.loads(m.read_text())["status"] for m in metas)
    assert (tmp_path / "results" / "overview.txt").is_file()


def kill_processes_mentioning(text: str) -> int:
    """SIGKILL every process of this machine whose command line contains ``text`` (the
    local test cluster runs its jobs here); returns how many were killed."""
    killed = 0
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit() or int(entry.name) == os.getpid():
            continue
        try:
            cmdline = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode()
            if text in cmdline:
                os.kill(int(entry.name), signal.SIGKILL)
                killed += 1
        except (OSError, ProcessLookupError):
            continue
    return killed


def test_training_killed_on_slurm_resumes_from_its_checkpoint(
    slurm_cluster: LocalSlurmCluster, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A submitit training killed mid-way is launched again: it resumes
    from its checkpoint and ends with the weights of an uninterrupted training."""
    import time

    import torch

    from rnn_analysis.training.run import train_ensemble

    for key, value in slurm_cluster.env.items():
        monkeypatch.setenv(key, value)
    config = write_config(
        tmp_path,
        {
            "grid": {"architecture": ["vanilla"], "noise": [0.0], "seeds": 1},
            "learning_rules": {"bptt": {"max_iterations": 2000}},
            "training": {"stopping": {"threshold": 2.0}},
            "jobs": {"seeds_per_job": 1, "checkpoint_minutes": 1.0e-9},
        },
    )
    sweep = load_config(config)
    (job,) = training_jobs(sweep, tmp_path)
    options = {
        "workdir": tmp_path,
        "cluster": "slurm",
        "partition": slurm_cluster.partition,
        "account": slurm_cluster.account,
        "timeout_min": 10,
        "log": lambda _: None,
    }
    (first,) = launch_training(sweep, tmp_path / "submitit", **options)
    log = Path(job.log_file)
    deadline = time.monotonic() + 300
    while not (log.is_file() and "checkpoint saved at update 200" in log.read_text()):
        assert time.monotonic() < deadline, "no checkpoint in time"
        assert not first.done(), "the training ended before it could be cancelled"
        time.sleep(0.1)
    # The training process is killed outright (as on a node failure or at the end of
    # scancel's KillWait): scancel's SIGTERM alone leaves the step running for the
    # cluster's KillWait, in which a fast machine finishes this short training.
    assert kill_processes_mentioning(str(tmp_path / "submitit")) > 0
    first.cancel(check=False)
    while not first.done():
        assert time.monotonic() < deadline, "the cancelled job did not end"
        time.sleep(0.2)
    assert not job.done()

    (second,) = launch_training(sweep, tmp_path / "submitit", **options)
    (status,) = wait_for([second], log=lambda _: None)[0]
    text = log.read_text()
    resumed = re.search(r"resuming from the checkpoint at update (\d+)", text)
    assert resumed and int(resumed.group(1)) >= 200, text[-2000:]
    meta = json.loads((Path(job.folders[0]) / "meta.json").read_text())
    assert (status, meta["iterations"]) == ("not_converged", 2000)
    assert not (Path(job.folders[0]).parent / "checkpoint_seeds0-0.pt").exists()

    reference = tmp_path / "reference"
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # as the job did (jobs.train_threads)
    try:
        train_ensemble(list(job.specs), [reference], device="cpu", log=lambda _: None)
    finally:
        torch.set_num_threads(threads)
    a = torch.load(reference / "model.pt", weights_only=False)["state_dict"]
    b = torch.load(Path(job.folders[0]) / "model.pt", weights_only=False)["state_dict"]
    for key in a:
        assert torch.equal(a[key], b[key]), key
