"""Command line (``python -m rnn_analysis``) and the logging set-up every job uses."""

from __future__ import annotations

import argparse
import contextlib
import logging
import sys
import traceback
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path

import torch
from threadpoolctl import threadpool_limits

LOGGER = logging.getLogger("rnn_analysis")


@contextlib.contextmanager
def run_logged(log_file: str | Path | None, threads: int = 1) -> Iterator[Callable[[str], None]]:
    """Log to ``log_file`` (and stderr), limit torch and BLAS to ``threads``, record any
    failure.

    Yields the function to call with one line of progress.
    """
    handlers: list[logging.Handler] = [logging.StreamHandler(sys.stderr)]
    if log_file is not None:
        Path(log_file).parent.mkdir(parents=True, exist_ok=True)
        handlers.append(logging.FileHandler(log_file, mode="w"))
    logging.basicConfig(
        level=logging.INFO,
        format="%(asctime)s %(levelname)s %(message)s",
        handlers=handlers,
        force=True,
    )
    threads = max(1, int(threads))
    torch.set_num_threads(threads)
    try:
        # numpy's and scipy's BLAS (eigendecompositions, least squares) would otherwise
        # start one thread per core of the node, oversubscribing a job's allocation.
        with threadpool_limits(limits=threads, user_api="blas"):
            yield LOGGER.info
    except BaseException:
        LOGGER.error("failed:\n%s", traceback.format_exc())
        raise
    finally:
        for handler in handlers:
            handler.flush()


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m rnn_analysis", description="Population studies of trained RNNs."
    )
    sub = parser.add_subparsers(dest="command", required=True)
    p = sub.add_parser("check-config", help="validate a config file and count its networks")
    p.add_argument("config")
    p = sub.add_parser("overview", help="print the overview of finished aggregates")
    p.add_argument("results", help="the results folder of a sweep")
    p = sub.add_parser(
        "launch-training",
        help="train the sweep's networks as a submitit job array (Snakemake does the rest)",
    )
    p.add_argument("config", help="the sweep's config file")
    p.add_argument("--workdir", default=".", help="where Snakemake runs (results/ is under it)")
    p.add_argument("--folder", default="submitit", help="submitit's own job files and logs")
    p.add_argument("--cluster", default=None, help="submitit cluster: slurm, local or debug")
    p.add_argument("--partition", default=None)
    p.add_argument("--account", default=None)
    p.add_argument("--parallelism", type=int, default=256, help="array tasks running at once")
    p.add_argument("--all", action="store_true", help="also resubmit finished training jobs")
    p.add_argument("--wait", action="store_true", help="wait for the jobs and print statuses")
    p.add_argument("--dry-run", action="store_true", help="list the jobs, submit nothing")
    p = sub.add_parser(
        "reproduce",
        help="print a study's claims beside the figures measured on a finished run",
    )
    p.add_argument(
        "preset", help="the study's preset: universality, learning_rules, space_of_solutions"
    )
    p.add_argument("results", help="the results folder of the preset's run")
    p.add_argument(
        "--format", choices=("text", "markdown", "html"), default="text", help="table format"
    )
    args = parser.parse_args(argv)

    if args.command == "check-config":
        from rnn_analysis.config import load_config
        from rnn_analysis.errors import ConfigError

        try:
            sweep = load_config(args.config)
        except ConfigError as err:
            print(f"invalid config: {err}", file=sys.stderr)
            return 2
        print(f"{args.config}: {len(sweep.networks)} networks in {len(sweep.cells)} grid cells")
    elif args.command == "launch-training":
        from rnn_analysis.config import load_config
        from rnn_analysis.errors import ConfigError
        from rnn_analysis.launch import launch_training, training_jobs, wait_for

        try:
            sweep = load_config(args.config)
        except ConfigError as err:
            print(f"invalid config: {err}", file=sys.stderr)
            return 2
        if args.dry_run:
            jobs = training_jobs(sweep, args.workdir)
            for job in jobs:
                print(f"{'done' if job.done() else 'todo'}  {job.name}")
            print(f"{sum(not j.done() for j in jobs)} of {len(jobs)} training jobs to submit")
            return 0
        submitted = launch_training(
            sweep,
            args.folder,
            workdir=args.workdir,
            cluster=args.cluster,
            partition=args.partition,
            account=args.account,
            only_missing=not args.all,
            slurm_array_parallelism=args.parallelism,
        )
        if args.wait:
            wait_for(submitted)
    elif args.command == "reproduce":
        from rnn_analysis.reproduce import (
            claims_html,
            claims_markdown,
            claims_text,
            reproduce,
            study_of,
        )

        try:
            study = study_of(args.preset)
            findings = reproduce(args.preset, args.results)
        except (KeyError, FileNotFoundError, ValueError) as err:
            print(f"reproduce: {err.args[0] if err.args else err}", file=sys.stderr)
            return 2
        writer = {"text": claims_text, "markdown": claims_markdown, "html": claims_html}
        print(writer[args.format](study, findings))
    elif args.command == "overview":
        from rnn_analysis.aggregate.overview import write_overview

        folder = Path(args.results) / "aggregate"
        summaries = sorted(str(p) for p in folder.glob("*/summary.nc"))
        factors = sorted(str(p) for p in folder.glob("*/factors.nc"))
        print(write_overview(summaries, factors, None))
    return 0
