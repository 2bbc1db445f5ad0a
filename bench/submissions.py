"""SLURM submissions of a 10,000-network grid under each way of batching jobs.

    python bench/submissions.py               # 10,000 networks
    python bench/submissions.py --networks 1000

The grid: flip-flop × the five architectures × 10 input-noise levels × 200 seeds, one
task, so that its comparison is one 10,000-network task: with ``aggregate.tile_networks``
500 (the default), 20 ``aggregate_block`` jobs, 210 ``aggregate_tile`` jobs and one
``aggregate`` merge. For each option the script runs ``snakemake --dry-run`` on that
grid (nothing is trained or submitted; no cluster is needed) and counts what would be
submitted with ``sbatch``: every job of a rule that is not a ``localrule`` (figures
and the overview run on the submitting node), where a group job counts once. Job
arrays cannot be seen in a dry run; their count is computed from the dry run's jobs
per rule, assuming all jobs of a rule are submitted together (true for ``train`` and
``analyze``, whose inputs are ready at once) in arrays of at most ``--array-limit``
tasks, as the executor plugin's ``--slurm-array-jobs``/``--slurm-array-limit`` do.

Options (each adds to the previous one):

1. one seed per ``train`` job (``jobs.seeds_per_job: 1``);
2. ``jobs.seeds_per_job: 10`` — ten seeds of a cell trained together as one ensemble;
3. ``--groups analyze=analyses aggregate_tile=tiles --group-components analyses=50
   tiles=10`` — fifty ``analyze`` jobs and ten tiles per submission (the SLURM
   profile's default);
4. ``--slurm-array-jobs=all --slurm-array-limit=1000`` — the ``train`` jobs of each
   seed group (one rule per group) as one job array, and the ``aggregate_block`` jobs
   of a task as one.

The ``compare`` column counts ``aggregate_block``, ``aggregate_tile`` and ``aggregate``
submissions together.
"""

from __future__ import annotations

import argparse
import math
import re
from collections import Counter

from dag import grid, snakemake_dry_run  # bench/ is the script's folder

LOCAL_RULES = {"all", "overview"}
#: Group names of the SLURM profile, by the rule they group.
GROUPS = {"analyze": "analyses", "aggregate_tile": "tiles"}
COMPARE = ("aggregate_block", "aggregate_tile", "aggregate")


def dry_run(config: dict, *args: str) -> tuple[Counter, Counter]:
    """Jobs per rule, and group jobs per group name, of a dry run."""
    stdout = snakemake_dry_run(config, *args).stdout
    counts: Counter = Counter()
    for line in stdout.split("Job stats:", 1)[1].splitlines()[3:]:
        parts = line.split()
        if parts and parts[0] == "total":
            break
        if len(parts) == 2:
            counts[parts[0]] = int(parts[1])
    groups = Counter(re.findall(r"^\[.*\] Group job (\w+) ", stdout, flags=re.M))
    return counts, groups


def submitted(counts: Counter, groups: Counter | None = None) -> dict[str, int]:
    """sbatch calls per kind of rule: train, analyze, compare."""
    out: Counter = Counter()
    for rule, n in counts.items():
        if rule in LOCAL_RULES or rule.startswith("figures_"):
            continue
        kind = "train" if rule.startswith("train_seeds") else rule
        kind = "compare" if kind in COMPARE else kind
        group = GROUPS.get(rule)
        out[kind] += groups[group] if groups and group in groups else n
    return dict(out)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--networks", type=int, default=10_000)
    parser.add_argument("--group-size", type=int, default=50)
    parser.add_argument("--tile-group-size", type=int, default=10)
    parser.add_argument("--array-limit", type=int, default=1000)
    args = parser.parse_args()
    n = args.networks
    rows = []
    counts, _ = dry_run(grid(n, 1, noises=10))
    rows.append(("1. one seed per train job", submitted(counts)))
    tiles = {r: v for r, v in counts.items() if r in COMPARE}
    counts, _ = dry_run(grid(n, 10, noises=10))
    rows.append(("2. + seeds_per_job: 10", submitted(counts)))
    group_args = [
        "--groups",
        "analyze=analyses",
        "aggregate_tile=tiles",
        "--group-components",
        f"analyses={args.group_size}",
        f"tiles={args.tile_group_size}",
    ]
    counts, groups = dry_run(grid(n, 10, noises=10), *group_args)
    rows.append(
        (
            f"3. + groups of {args.group_size} analyses, {args.tile_group_size} tiles",
            submitted(counts, groups),
        )
    )
    per_kind = dict(rows[-1][1])
    # One train rule per seed group; each rule's jobs are one array (split at the limit).
    # Group jobs are not submitted as arrays, and a rule with one job cannot be one.
    arrays = {
        "train": sum(
            math.ceil(v / args.array_limit) for k, v in counts.items() if k.startswith("train")
        ),
        "analyze": per_kind["analyze"],
        # the block jobs as one array; the tile group jobs and the merge as they are
        "compare": math.ceil(counts["aggregate_block"] / args.array_limit)
        + per_kind["compare"]
        - counts["aggregate_block"],
    }
    rows.append((f"4. + job arrays (limit {args.array_limit})", arrays))
    print(f"{n} networks (flip-flop × 5 architectures × 10 noise levels × {n // 50} seeds)")
    print("comparison jobs: " + ", ".join(f"{v} {r}" for r, v in tiles.items()))
    print(f"{'option':<44}{'train':>8}{'analyze':>9}{'compare':>9}{'total':>8}")
    for name, kinds in rows:
        total = sum(kinds.values())
        print(
            f"{name:<44}{kinds.get('train', 0):>8}{kinds.get('analyze', 0):>9}"
            f"{kinds.get('compare', 0):>9}{total:>8}"
        )


if __name__ == "__main__":
    main()
