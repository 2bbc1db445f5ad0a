"""Dry-run time of the workflow for grids of 1,000 and 10,000 networks.

    python bench/dag.py            # both sizes, without and with two extra axes
    python bench/dag.py 1000       # one size

Prints the wall time of ``snakemake --dry-run`` (parsing, config validation and DAG
construction) and its ratio between the two sizes, measured side by side in one run;
then the same sizes with two extra axes (``architectures.*.hidden_size`` and
``learning_rules.bptt.learning_rate``) in place of the noise levels -- the same cells,
seeds and jobs -- and the ratio of the two grid shapes at each size.

All networks belong to one task (flip-flop), compared in tiles of
``aggregate.tile_networks`` (500 by default: 2 blocks and 3 tiles at 1,000 networks,
20 blocks and 210 tiles at 10,000); the last lines time the same grids with one block
(``tile_networks`` above the number of networks, no tile jobs) side by side, and give
the ratio.
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


LEARNING_RATES = [1.0e-3, 2.0e-3, 5.0e-3, 1.0e-2, 2.0e-2]


def grid(
    n_networks: int,
    seeds_per_job: int = 10,
    noises: int | None = None,
    axes: bool = False,
    tiles: bool = True,
) -> dict:
    """The default config over 5 architectures × ``noises`` noise levels × enough seeds.

    With ``axes``, the noise levels give way to two extra axes with as many cells:
    ``architectures.*.hidden_size`` (32, 64) × ``learning_rules.bptt.learning_rate``
    (``noises / 2`` values), one noise level; the seeds, cells and jobs stay the same.
    Without ``tiles``, the task is compared in one block (no tile jobs).
    """
    if noises is None:
        noises = 10 if n_networks >= 10_000 else 2
    seeds = n_networks // (len(ARCHITECTURES) * noises)
    config = yaml.safe_load((REPO / "config" / "config.yaml").read_text())
    config["grid"].update(
        architecture=ARCHITECTURES, noise=[round(0.05 * i, 2) for i in range(noises)], seeds=seeds
    )
    if axes:
        config["grid"]["noise"] = [0.1]
        config["grid"]["axes"] = {
            "architectures.*.hidden_size": [32, 64],
            "learning_rules.bptt.learning_rate": LEARNING_RATES[: max(1, noises // 2)],
        }
    config["jobs"] = {**config.get("jobs", {}), "seeds_per_job": seeds_per_job}
    if not tiles:
        config["aggregate"] = {**config.get("aggregate", {}), "tile_networks": n_networks + 1}
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


def dry_run(n_networks: int, axes: bool = False, tiles: bool = True) -> tuple[float, int]:
    config = grid(n_networks, axes=axes, tiles=tiles)
    start = time.perf_counter()
    proc = snakemake_dry_run(config, "--quiet", "rules")
    elapsed = time.perf_counter() - start
    total = next(
        int(line.split()[1]) for line in proc.stdout.splitlines() if line.startswith("total")
    )
    return elapsed, total


def main() -> None:
    sizes = [int(a) for a in sys.argv[1:]] or [1_000, 10_000]
    times: dict[tuple[int, bool], float] = {}
    for axes in (False, True):
        for n in sizes:
            elapsed, jobs = dry_run(n, axes)
            times[n, axes] = elapsed
            shape = "with 2 extra axes" if axes else "cell axes only  "
            print(f"{n:>6} networks, {shape}: {jobs:>6} jobs, dry run {elapsed:6.1f} s")
        if len(sizes) == 2:
            a, b = sorted(sizes)
            print(
                f"ratio {b}/{a} networks: time x{times[b, axes] / times[a, axes]:.1f} "
                f"for x{b / a:.0f} networks"
            )
    for n in sizes:
        print(f"{n} networks: extra axes / cell axes only: x{times[n, True] / times[n, False]:.2f}")
    for n in sizes:
        elapsed, jobs = dry_run(n, tiles=False)
        print(
            f"{n:>6} networks, one block (no tiles): {jobs:>6} jobs, dry run {elapsed:6.1f} s; "
            f"with tiles / without: x{times[n, False] / elapsed:.2f}"
        )


if __name__ == "__main__":
    main()
