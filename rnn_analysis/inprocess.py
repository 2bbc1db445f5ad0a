"""A whole sweep in this process: train, analyse and summarise, without Snakemake.

The same jobs as the workflow's ``train`` and ``analyze`` rules, run one after the other
with the same specs, writing the same files under ``<workdir>/<results>/`` (so that a
later ``snakemake`` run takes them as done), then each task's per-network summary. For
notebooks, scripts (``bench/science.py``) and tests that study a small population; the
similarity matrices, figures and report stay with the workflow.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import torch
import xarray as xr

from rnn_analysis.aggregate.summary import summarise
from rnn_analysis.analysis.network import analyze_network
from rnn_analysis.cli import run_logged
from rnn_analysis.config import Sweep
from rnn_analysis.io import ANALYSIS_FILE
from rnn_analysis.launch import run_training_job, training_jobs

__all__ = ["network_folders", "load_analyses", "run_in_process"]


def run_in_process(
    sweep: Sweep,
    workdir: str | Path,
    log: Callable[[str], None] = print,
    threads: int = 1,
) -> dict[str, xr.Dataset]:
    """Train and analyse every network of ``sweep`` under ``workdir``; summarise each task.

    Networks already trained or analysed (their files exist) are not redone. Each job
    logs into the workflow's log files; ``log`` gets one line per job. Returns the
    summary dataset of every task (see :func:`rnn_analysis.aggregate.summary.summarise`),
    with ``sweep.aggregate`` deciding which statuses enter the comparisons.
    """
    results = Path(workdir) / sweep.results.rstrip("/")
    before = torch.get_num_threads()
    try:
        jobs = training_jobs(sweep, workdir)
        for k, job in enumerate(jobs, start=1):
            if job.done():
                continue
            log(f"[{k}/{len(jobs)}] training {job.name}")
            statuses = run_training_job(job, threads)
            log(f"[{k}/{len(jobs)}] {job.name}: {', '.join(statuses)}")
        analyses: dict[str, list[Path]] = {task: [] for task in sweep.tasks}
        for k, network in enumerate(sweep.networks, start=1):
            folder = results / "networks" / network.key
            out = folder / "analysis.nc"
            analyses[network.task].append(out)
            if out.is_file():
                continue
            log(f"[{k}/{len(sweep.networks)}] analysing {network.key}")
            with run_logged(results / "logs" / "analyze" / f"{network.key}.log", threads) as job:
                analyze_network(sweep.analysis_spec(network), folder, out, log=job)
        return {
            task: summarise(task, paths, sweep.aggregate.to_dict(), log)
            for task, paths in analyses.items()
        }
    finally:
        torch.set_num_threads(before)


def network_folders(
    summary: xr.Dataset, workdir: str | Path, sweep: Sweep, status: str = "converged"
) -> list[Path]:
    """The folders of the networks of a task's ``summary`` with ``status``, in its order."""
    keys = summary["network_key"].values[summary["status"].values.astype(str) == status]
    results = Path(workdir) / sweep.results.rstrip("/")
    return [results / "networks" / str(key) for key in keys]


def load_analyses(
    summary: xr.Dataset, workdir: str | Path, sweep: Sweep, status: str = "converged"
) -> list[xr.Dataset]:
    """The analysis datasets (in memory) of the networks of ``summary`` with ``status``."""
    analyses = []
    for folder in network_folders(summary, workdir, sweep, status):
        with xr.open_dataset(folder / ANALYSIS_FILE) as ds:
            analyses.append(ds.load())
    return analyses
