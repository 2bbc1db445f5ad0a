"""Dry-run time of the workflow for grids of 1,000 and 10,000 networks.

    python bench/dag.py            # both sizes
    python bench/dag.py 1000       # one size

Prints the wall time of ``snakemake --dry-run`` (parsing, config validation and DAG
construction) and its ratio between the two sizes, measured side by side in one run.
"""

from __future__ import annotations

import subprocess
import sys
import tempfile
import time
from pathlib import Path

import yaml

REPO = Path(__file__).resolve().parent.parent
ARCHITECTURES = ["vanilla", "rate", "gru", "lstm", "ugrnn"]


def grid(n_networks: int, seeds_per_job: int = 10, noises: int | None = None) -> dict:
    """The default config over 5 architectures × ``noises`` noise levels × enough seeds."""
    if noises is None:
        noises = 10 if n_networks >= 10_000 else 2
    seeds = n_networks // (len(ARCHITECTURES) * noises)
    config = yaml.safe_load((REPO / "config" / "config.yaml").read_text())
    config["grid"].update(
        architecture=ARCHITECTURES, noise=[round(0.05 * i, 2) for i in range(noises)], seeds=seeds
    )
    config["jobs"] = {**config.get("jobs", {}), "seeds_per_job": seeds_per_job}
    return config


def snakemake_dry_run(config: dict, *args: str) -> subprocess.CompletedProcess:
    """``snakemake --dry-run *args`` of the workflow with ``config``, in a scratch folder."""
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "config.yaml"
        path.write_text(yaml.safe_dump(config))
        return subprocess.run(
            [
                sys.executable,
                "-m",
                "snakemake",
                "--snakefile",
                str(REPO / "Snakefile"),
                "--directory",
                tmp,
                "--configfile",
                str(path),
                "--dry-run",
                *args,
            ],
            capture_output=True,
            text=True,
            check=True,
        )


def dry_run(n_networks: int) -> tuple[float, int]:
    config = grid(n_networks)
    start = time.perf_counter()
    proc = snakemake_dry_run(config, "--quiet", "rules")
    elapsed = time.perf_counter() - start
    total = next(
        int(line.split()[1]) for line in proc.stdout.splitlines() if line.startswith("total")
    )
    return elapsed, total


def main() -> None:
    sizes = [int(a) for a in sys.argv[1:]] or [1_000, 10_000]
    times = {}
    for n in sizes:
        elapsed, jobs = dry_run(n)
        times[n] = elapsed
        print(f"{n:>6} networks: {jobs:>6} jobs, dry run {elapsed:6.1f} s")
    if len(times) == 2:
        (a, ta), (b, tb) = sorted(times.items())
        print(f"ratio {b}/{a} networks: time x{tb / ta:.1f} for x{b / a:.0f} networks")


if __name__ == "__main__":
    main()
