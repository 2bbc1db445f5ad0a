"""The comparison of a 1,000-network task through the workflow: one block vs tiles.

    python bench/aggregate_tiles.py                    # 1,000 networks, blocks of 500
    python bench/aggregate_tiles.py --networks 200 --tile-networks 100

Builds a finished sweep of ``--networks`` networks of 64 units (flip-flop × five
architectures × two noise levels × seeds) without training them: one network is
trained and analysed for real (a few seconds of training), and its files are copied
into every network's folder with the network's labels, status ``converged``, and the
probe activity [20 trials × 100 steps × 64 units, 2,000 samples] replaced by the
synthetic networks of ``bench/similarity.py`` (a shared latent trajectory through
each network's own mixing). Then, side by side in one run, the ``aggregate`` step of
that task under the four geometry metrics (``cca``, ``svcca``, ``cka``,
``procrustes``) is run twice through Snakemake (``--cores`` 2 by default):

- one block (``aggregate.tile_networks`` above the number of networks): one
  ``aggregate`` job prepares and compares every network itself;
- tiles (``--tile-networks``, 500): ``aggregate_block`` jobs, one ``aggregate_tile``
  job per pair of blocks, and the ``aggregate`` merge.

For each job the table gives the wall time and the peak resident memory (``s`` and
``max_rss`` of the Snakemake ``benchmark:`` files), then the wall time of each run
and their ratio, and the largest difference between the two runs' matrices. The
scratch folder is removed at the end unless ``--keep`` names where to keep it.
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd
import xarray as xr
import yaml
from similarity import synthetic_networks  # bench/ is the script's folder

REPO = Path(__file__).resolve().parent.parent
METRICS = ["cca", "svcca", "cka", "procrustes"]
TRIALS, STEPS, UNITS = 20, 100, 64


def config(n_networks: int, results: str, tile_networks: int) -> dict:
    seeds = n_networks // 10
    return {
        "results": results,
        "grid": {
            "task": ["flipflop"],
            "architecture": ["vanilla", "rate", "gru", "lstm", "ugrnn"],
            "learning_rule": ["bptt"],
            "noise": [0.0, 0.1],
            "seeds": seeds,
        },
        "tasks": {"flipflop": {"probe_trials": TRIALS, "n_steps": STEPS}},
        "architectures": {
            name: {"hidden_size": UNITS} for name in ("vanilla", "rate", "gru", "lstm", "ugrnn")
        },
        "learning_rules": {"bptt": {"max_iterations": 20}},
        "analysis": {"fixed_points": {"n_initial_states": 32, "max_iterations": 200}},
        "aggregate": {
            "metrics": METRICS,
            "include_not_converged": True,
            "tile_networks": tile_networks,
            "bootstrap_samples": 100,
        },
    }


def snakemake(workdir: Path, cfg: dict, *targets: str, cores: int) -> float:
    path = workdir / f"config_{cfg['aggregate']['tile_networks']}.yaml"
    path.write_text(yaml.safe_dump(cfg))
    start = time.perf_counter()
    proc = subprocess.run(
        [
            sys.executable, "-m", "snakemake", "--snakefile", str(REPO / "Snakefile"),
            "--directory", str(workdir), "--configfile", str(path),
            "--cores", str(cores), "--quiet", "rules", "--", *targets,
        ],
        capture_output=True,
        text=True,
    )  # fmt: skip
    if proc.returncode:
        raise SystemExit(f"snakemake failed:\n{proc.stdout[-3000:]}\n{proc.stderr[-5000:]}")
    return time.perf_counter() - start


def build_sweep(workdir: Path, n_networks: int, cores: int) -> list[str]:
    """Train and analyse one network, then copy it into every network's folder."""
    sys.path.insert(0, str(REPO))
    from rnn_analysis.config import Sweep

    sweep = Sweep(config(n_networks, "results", n_networks + 1))
    networks = sweep.networks_of_task("flipflop")
    first = f"results/networks/{networks[0].key}"
    snakemake(
        workdir, config(n_networks, "results", n_networks + 1), f"{first}/analysis.nc", cores=cores
    )
    source = workdir / first
    with xr.open_dataset(source / "analysis.nc") as ds:
        template = ds.load()
    assert template["probe_hidden"].shape == (TRIALS, STEPS, UNITS), template["probe_hidden"].shape
    activity = synthetic_networks(len(networks), UNITS, TRIALS * STEPS)
    for network, x in zip(networks, activity, strict=True):
        folder = workdir / "results" / "networks" / network.key
        folder.mkdir(parents=True, exist_ok=True)
        for name in ("model.pt", "training.nc", "meta.json"):
            if folder != source:
                shutil.copy2(source / name, folder / name)
        ds = template.copy()
        ds["probe_hidden"] = (template["probe_hidden"].dims, x.reshape(TRIALS, STEPS, UNITS))
        ds.attrs.update(
            {k: v for k, v in network.labels().items() if k != "axes"},
            network=network.key,
            status="converged",
        )
        ds.to_netcdf(folder / "analysis.nc.tmp")
        (folder / "analysis.nc.tmp").replace(folder / "analysis.nc")
    return [n.key for n in networks]


def job_table(results: Path) -> pd.DataFrame:
    rows = []
    for path in sorted((results / "benchmarks" / "aggregate").rglob("*.tsv")):
        bench = pd.read_csv(path, sep="\t")
        rows.append(
            {
                "job": str(path.relative_to(results / "benchmarks" / "aggregate"))[:-4],
                "wall s": float(bench["s"].iloc[-1]),
                "max RSS MB": float(bench["max_rss"].iloc[-1]),
            }
        )
    return pd.DataFrame(rows)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--networks", type=int, default=1000)
    parser.add_argument("--tile-networks", type=int, default=500)
    parser.add_argument("--cores", type=int, default=2)
    parser.add_argument("--keep", type=Path, default=None)
    args = parser.parse_args()
    workdir = args.keep or Path(tempfile.mkdtemp(prefix="aggregate_tiles_"))
    workdir.mkdir(parents=True, exist_ok=True)
    start = time.perf_counter()
    build_sweep(workdir, args.networks, args.cores)
    print(
        f"{args.networks} networks of {UNITS} units × {TRIALS * STEPS} samples prepared in "
        f"{time.perf_counter() - start:.0f} s; metrics {', '.join(METRICS)}; "
        f"--cores {args.cores}"
    )
    walls = {}
    matrices = {}
    for label, tile in (("one block", args.networks + 1), ("tiles", args.tile_networks)):
        results = f"results_{tile}"
        for name in ("networks",):
            link = workdir / results / name
            link.parent.mkdir(parents=True, exist_ok=True)
            if not link.exists():
                link.symlink_to(workdir / "results" / name)
        cfg = config(args.networks, results, tile)
        walls[label] = snakemake(
            workdir, cfg, f"{results}/aggregate/flipflop/similarity.nc", cores=args.cores
        )
        with xr.open_dataset(workdir / results / "aggregate" / "flipflop" / "similarity.nc") as ds:
            matrices[label] = {m: ds[m].values for m in METRICS}
        table = job_table(workdir / results)
        print(f"\n{label} (tile_networks {tile}): {walls[label]:.0f} s for the run")
        print(table.to_string(index=False, float_format=lambda v: f"{v:.1f}"))
    diff = max(
        float(np.nanmax(np.abs(matrices["tiles"][m] - matrices["one block"][m]))) for m in METRICS
    )
    print(
        f"\ntiles / one block wall time: x{walls['tiles'] / walls['one block']:.2f}; "
        f"largest difference between the runs' matrices {diff:.1e}"
    )
    if args.keep is None:
        shutil.rmtree(workdir)


if __name__ == "__main__":
    main()
