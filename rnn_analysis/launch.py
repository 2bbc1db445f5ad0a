"""Training a sweep's networks through submitit instead of the Snakemake executor.

Each job trains one grid cell's group of ``jobs.seeds_per_job`` seeds, exactly as the
workflow's ``train`` rule does, and writes the same files into the same folders
(``<results>/networks/<key>/{model.pt,training.nc,meta.json}``, log under
``<results>/logs/train/``). A later ``snakemake`` run with the same config therefore
takes these networks as trained and runs only what is missing (their analyses, the
aggregates and the report).

Pick it from a notebook or a login node without Snakemake, for a quick sweep on a
cluster; pick the Snakemake executor (``--profile workflow/profiles/slurm``) for the
whole pipeline with its reruns-on-change, groups and report.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from rnn_analysis.config import Network, Sweep
from rnn_analysis.grid import network_key
from rnn_analysis.io import META_FILE, MODEL_FILE

__all__ = [
    "TrainingJob",
    "TrainingTask",
    "launch_training",
    "run_training_job",
    "training_jobs",
    "wait_for",
]


@dataclass(frozen=True)
class TrainingJob:
    """One ``train`` job: the seeds of one grid cell trained together as an ensemble.

    Attributes
    ----------
    specs
        The training spec of every network (:meth:`Sweep.training_spec`).
    folders
        The folder of every network.
    log_file
        Where the job's log goes (the path the Snakemake rule uses).
    device
        ``jobs.device`` of the config.
    checkpoint_minutes
        ``jobs.checkpoint_minutes`` of the config.
    """

    specs: tuple[dict[str, Any], ...]
    folders: tuple[str, ...]
    log_file: str
    device: str
    checkpoint_minutes: float = 0.0

    @property
    def name(self) -> str:
        cell = network_key(self.specs[0]["network"]).rsplit("/", 1)[0]
        seeds = [spec["network"]["seed"] for spec in self.specs]
        return f"{cell}/seeds{seeds[0]}-{seeds[-1]}"

    def done(self) -> bool:
        """Whether every network of the job already has its model and meta file."""
        return all(
            (Path(folder) / MODEL_FILE).is_file() and (Path(folder) / META_FILE).is_file()
            for folder in self.folders
        )


def training_jobs(sweep: Sweep, workdir: str | Path = ".") -> list[TrainingJob]:
    """Every ``train`` job of the sweep, in grid order, with paths under ``workdir``."""
    results = Path(workdir) / sweep.results.rstrip("/")
    jobs = []
    for cell in sweep.cells:
        for seeds in sweep.seed_groups():
            networks = [Network(*cell[:4], s, axes=cell.axes) for s in seeds]
            jobs.append(
                TrainingJob(
                    specs=tuple(sweep.training_spec(n) for n in networks),
                    folders=tuple(str(results / "networks" / n.key) for n in networks),
                    log_file=str(
                        results / "logs" / "train" / cell.key / f"seeds{seeds[0]}-{seeds[-1]}.log"
                    ),
                    device=sweep.jobs.device,
                    checkpoint_minutes=sweep.jobs.checkpoint_minutes,
                )
            )
    return jobs


def run_training_job(job: TrainingJob, threads: int = 1) -> list[str]:
    """Train one job's networks (what runs on the compute node); returns their statuses."""
    from rnn_analysis.cli import run_logged
    from rnn_analysis.training.run import train_ensemble

    with run_logged(job.log_file, threads) as log:
        return train_ensemble(
            list(job.specs),
            list(job.folders),
            device=job.device,
            log=log,
            checkpoint_minutes=job.checkpoint_minutes,
        )


class TrainingTask:
    """What a submitit job runs: :func:`run_training_job`, requeued from its checkpoint.

    On a timeout or preemption submitit calls :meth:`checkpoint`, which resubmits the
    same job; it resumes from the checkpoint the training saved (see
    ``jobs.checkpoint_minutes``). Subclassing ``submitit.helpers.Checkpointable`` is
    avoided so that this module imports without submitit.
    """

    def __call__(self, job: TrainingJob, threads: int = 1) -> list[str]:
        return run_training_job(job, threads)

    def checkpoint(self, job: TrainingJob, threads: int = 1) -> Any:
        import submitit

        from rnn_analysis.training.run import PREEMPTED

        PREEMPTED.set()
        return submitit.helpers.DelayedSubmission(self, job, threads)


def launch_training(
    sweep: Sweep,
    folder: str | Path,
    *,
    workdir: str | Path = ".",
    cluster: str | None = None,
    partition: str | None = None,
    account: str | None = None,
    only_missing: bool = True,
    log: Callable[[str], None] = print,
    **parameters: Any,
) -> list[Any]:
    """Submit the sweep's training jobs as one submitit job array.

    Parameters
    ----------
    sweep
        The sweep (e.g. :func:`rnn_analysis.config.load_config`).
    folder
        submitit's folder for its own job files and logs.
    workdir
        The folder the Snakemake workflow runs in (``results`` is relative to it).
    cluster
        submitit's cluster: ``None`` picks SLURM when ``sbatch`` is found, ``"local"``
        runs on this machine, ``"debug"`` in this process.
    partition, account
        SLURM partition and account (``slurm_partition``, ``slurm_account``).
    only_missing
        Leave out jobs whose networks all have their model and meta files already.
    **parameters
        Further ``executor.update_parameters`` values, e.g. ``timeout_min``,
        ``mem_gb``, ``cpus_per_task``, ``gpus_per_node``, ``slurm_array_parallelism``.
        By default each task asks for ``jobs.train_threads`` CPUs,
        ``jobs.train_mem_mb`` memory, ``jobs.train_runtime`` minutes and
        ``jobs.train_gpus`` GPUs.

    Returns
    -------
    list of submitit.Job
        One per submitted training job.
    """
    import submitit

    jobs = training_jobs(sweep, workdir)
    todo = [job for job in jobs if not (only_missing and job.done())]
    log(f"{len(jobs)} training jobs in the sweep, {len(todo)} to submit")
    if not todo:
        return []
    executor = submitit.AutoExecutor(folder=str(folder), cluster=cluster)
    defaults: dict[str, Any] = {
        "name": "rnn_analysis_train",
        "timeout_min": sweep.jobs.train_runtime,
        "mem_gb": sweep.jobs.train_mem_mb / 1000,
        "cpus_per_task": sweep.jobs.train_threads,
    }
    if sweep.jobs.train_gpus:
        defaults["gpus_per_node"] = sweep.jobs.train_gpus
    if partition is not None:
        defaults["slurm_partition"] = partition
    if account is not None:
        defaults["slurm_account"] = account
    executor.update_parameters(**{**defaults, **parameters})
    threads = [sweep.jobs.train_threads] * len(todo)
    submitted = executor.map_array(TrainingTask(), todo, threads)
    for job, task in zip(todo, submitted, strict=True):
        log(f"{task.job_id}: {job.name}")
    return submitted


def wait_for(jobs: Sequence[Any], log: Callable[[str], None] = print) -> list[list[str]]:
    """Wait for submitted jobs; returns every job's statuses (raises if a job failed)."""
    results = []
    for job in jobs:
        results.append(job.result())
        log(f"{job.job_id}: {', '.join(results[-1])}")
    return results
