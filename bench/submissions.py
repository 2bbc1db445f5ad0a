"""SLURM submissions of a 10,000-network grid under each way of batching jobs.

    python bench/submissions.py               # 10,000 networks
    python bench/submissions.py --networks 1000

The grid: flip-flop × the five architectures × 10 input-noise levels × 200 seeds.
For each option the script runs ``snakemake --dry-run`` on that grid (nothing is
trained or submitted; no cluster is needed) and counts what would be submitted with
``sbatch``: every job of a rule that is not a ``localrule`` (figures and the overview
run on the submitting node), where a group job counts once. Job arrays cannot be seen
in a dry run; their count is computed from the dry run's jobs per rule, assuming all
jobs of a rule are submitted together (true for ``train`` and ``analyze``, whose
inputs are ready at once) in arrays of at most ``--array-limit`` tasks, as the
executor plugin's ``--slurm-array-jobs``/``--slurm-array-limit`` do.

Options (each adds to the previous one):

1. one seed per ``train`` job (``jobs.seeds_per_job: 1``);
2. ``jobs.seeds_per_job: 10`` — ten seeds of a cell trained together as one ensemble;
3. ``--groups analyze=analyses --group-components analyses=50`` — fifty ``analyze``
   jobs per submission (the SLURM profile's default);
4. ``--slurm-array-jobs=all --slurm-array-limit=1000`` — the ``train`` jobs of each
   seed group (one rule per group) as one job array.
"""

from __future__ import annotations

import argparse
import math
import re
from collections import Counter

from dag import grid, snakemake_dry_run  # bench/ is the script's folder

LOCAL_RULES = {"all", "overview"}


def dry_run(config: dict, *args: str) -> tuple[Counter, int]:
    """Jobs per rule, and the number of group jobs, of a dry run."""
    stdout = snakemake_dry_run(config, *args).stdout
    counts: Counter = Counter()
    for line in stdout.split("Job stats:", 1)[1].splitlines()[3:]:
        parts = line.split()
        if parts and parts[0] == "total":
            break
        if len(parts) == 2:
            counts[parts[0]] = int(parts[1])
    return counts, len(re.findall(r"^\[.*\] Group job ", stdout, flags=re.M))


def submitted(counts: Counter, grouped: dict[str, int]) -> dict[str, int]:
    """sbatch calls per kind of rule: train, analyze, aggregate."""
    out: Counter = Counter()
    for rule, n in counts.items():
        if rule in LOCAL_RULES or rule.startswith("figures_"):
            continue
        kind = "train" if rule.startswith("train_seeds") else rule
        out[kind] += grouped.get(rule, n)
    return dict(out)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--networks", type=int, default=10_000)
    parser.add_argument("--group-size", type=int, default=50)
    parser.add_argument("--array-limit", type=int, default=1000)
    args = parser.parse_args()
    n = args.networks
    rows = []
    counts, _ = dry_run(grid(n, 1, noises=10))
    rows.append(("1. one seed per train job", submitted(counts, {})))
    counts, _ = dry_run(grid(n, 10, noises=10))
    rows.append(("2. + seeds_per_job: 10", submitted(counts, {})))
    group_args = ["--groups", "analyze=analyses", "--group-components"]
    counts, groups = dry_run(grid(n, 10, noises=10), *group_args, f"analyses={args.group_size}")
    rows.append(
        (f"3. + analyze in groups of {args.group_size}", submitted(counts, {"analyze": groups}))
    )
    per_kind = dict(rows[-1][1])
    # One train rule per seed group; each rule's jobs are one array (split at the limit).
    # Group jobs are not submitted as arrays, and a rule with one job cannot be one.
    arrays = {
        "train": sum(
            math.ceil(v / args.array_limit) for k, v in counts.items() if k.startswith("train")
        ),
        "analyze": per_kind["analyze"],
        "aggregate": per_kind["aggregate"],
    }
    rows.append((f"4. + job arrays (limit {args.array_limit})", arrays))
    print(f"{n} networks (flip-flop × 5 architectures × 10 noise levels × {n // 50} seeds)")
    print(f"{'option':<38}{'train':>8}{'analyze':>9}{'aggregate':>10}{'total':>8}")
    for name, kinds in rows:
        total = sum(kinds.values())
        print(
            f"{name:<38}{kinds.get('train', 0):>8}{kinds.get('analyze', 0):>9}"
            f"{kinds.get('aggregate', 0):>10}{total:>8}"
        )


if __name__ == "__main__":
    main()
