"""Shared fixtures: a tiny sweep config, a Snakemake runner, and one finished tiny sweep."""

from __future__ import annotations

import copy
import os
import subprocess
import sys
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import pytest
import torch
import yaml
from threadpoolctl import threadpool_limits

from tests.slurm_cluster import LocalSlurmCluster, pid_alive, start_cluster_or_skip

# NumPy's BLAS would start one thread per core beside torch's; on a loaded machine the
# two oversubscribe the cores (an SVD of 2 ms then takes a second). Pipeline jobs limit
# BLAS to their threads (``cli.run_logged``); the tests' own process does the same.
_BLAS_THREADS = threadpool_limits(limits=1, user_api="blas")

REPO = Path(__file__).resolve().parent.parent
SNAKEFILE = REPO / "Snakefile"

#: A sweep small enough to train, analyse and aggregate in about a minute on 2 cores.
TINY_CONFIG: dict[str, Any] = {
    "results": "results",
    "grid": {
        "task": ["flipflop"],
        "architecture": ["gru", "vanilla"],
        "learning_rule": ["bptt"],
        "noise": [0.0, 0.1],
        "seeds": 2,
        "exclude": [],
        "include": [],
    },
    "tasks": {"flipflop": {"n_steps": 40, "pulse_probability": 0.1, "probe_trials": 8}},
    "architectures": {"gru": {"hidden_size": 16}, "vanilla": {"hidden_size": 16}},
    "learning_rules": {"bptt": {"learning_rate": 0.01, "batch_size": 32, "max_iterations": 150}},
    "training": {"stopping": {"validate_every": 25, "validation_trials": 64, "window": 2}},
    "analysis": {
        "evaluation_trials": 64,
        "fixed_points": {"n_initial_states": 64, "max_iterations": 500},
    },
    "jobs": {"seeds_per_job": 2},
    # Budgets too short to converge: compare every network that did not diverge.
    "aggregate": {"include_not_converged": True},
}


def deep_update(base: dict, changes: Mapping) -> dict:
    out = copy.deepcopy(base)
    for key, value in changes.items():
        if isinstance(value, Mapping) and isinstance(out.get(key), dict):
            out[key] = deep_update(out[key], value)
        else:
            out[key] = copy.deepcopy(value)
    return out


def write_config(folder: Path, changes: Mapping | None = None, name: str = "config.yaml") -> Path:
    path = folder / name
    path.write_text(yaml.safe_dump(deep_update(TINY_CONFIG, changes or {}), sort_keys=False))
    return path


def snakemake(
    workdir: Path,
    config: Path,
    *args: str,
    check: bool = True,
    env: Mapping[str, str] | None = None,
    timeout: float = 1200,
) -> subprocess.CompletedProcess:
    """Run the workflow in ``workdir`` with ``config``; returns the finished process."""
    cmd = [
        sys.executable,
        "-m",
        "snakemake",
        "--snakefile",
        str(SNAKEFILE),
        "--directory",
        str(workdir),
        "--configfile",
        str(config),
        *args,
    ]
    full_env = {**os.environ, **(env or {})}
    full_env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{full_env.get('PATH', '')}"
    proc = subprocess.run(
        cmd, capture_output=True, text=True, env=full_env, timeout=timeout, check=False
    )
    if check and proc.returncode != 0:
        raise AssertionError(
            f"snakemake failed ({proc.returncode}):\n{proc.stdout[-4000:]}\n{proc.stderr[-8000:]}"
        )
    return proc


@pytest.fixture
def one_thread() -> Iterator[None]:
    """Train on one intra-op thread, as a ``train`` job with ``threads: 1`` does."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


@pytest.fixture(scope="session")
def tiny_sweep(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A tiny sweep run once to completion; tests only read its outputs."""
    workdir = tmp_path_factory.mktemp("tiny_sweep")
    config = write_config(workdir)
    snakemake(workdir, config, "--cores", "2")
    return workdir


@pytest.fixture(scope="session")
def slurm_cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalSlurmCluster]:
    """A private single-node SLURM cluster (skipped where it cannot start, except on CI)."""
    cluster = start_cluster_or_skip(tmp_path_factory.mktemp("slurm"))
    try:
        yield cluster
    finally:
        pids = cluster.pids
        cluster.stop()
        alive = [pid for pid in pids if pid_alive(pid)]
        assert not alive, f"SLURM cluster processes still alive: {alive}"
