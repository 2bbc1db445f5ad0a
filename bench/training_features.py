"""Cost of recording neural features during training, side by side in one run.

    python bench/training_features.py                  # 4 GRUs, 300 updates, batch 64
    python bench/training_features.py --networks 16 --updates 500 --batch 500

Trains the same ensemble of 32-unit GRUs by BPTT on delayed discrimination (one thread,
a threshold that is never met, so every run spends the whole budget) with
``training.stopping.features_every`` 0 (initialisation and end only), 50 (the default)
and 1 (every update), each ``--repeats`` times, and prints the fastest time of each, the
cost of one recording in updates, and the overhead of the default against 0.
"""

from __future__ import annotations

import argparse
import shutil
import tempfile
import time
from pathlib import Path

import torch

from rnn_analysis.training.run import train_ensemble


def specs(networks: int, updates: int, batch: int, every: int) -> list[dict]:
    return [
        {
            "network": {
                "task": "delayed_discrimination",
                "architecture": "gru",
                "learning_rule": "bptt",
                "noise": 0.1,
                "seed": seed,
            },
            "task": {},
            "architecture": {"hidden_size": 32},
            "learning_rule": {"batch_size": batch, "max_iterations": updates},
            "stopping": {"threshold": 2.0, "features_every": every},
        }
        for seed in range(networks)
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--networks", type=int, default=4)
    parser.add_argument("--updates", type=int, default=300)
    parser.add_argument("--batch", type=int, default=64)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    torch.set_num_threads(1)
    times: dict[int, list[float]] = {0: [], 50: [], 1: []}
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        for _ in range(args.repeats):
            for every in times:
                shutil.rmtree(root / "run", ignore_errors=True)
                folders = [root / "run" / f"seed{s}" for s in range(args.networks)]
                start = time.perf_counter()
                train_ensemble(
                    specs(args.networks, args.updates, args.batch, every),
                    folders,
                    device="cpu",
                    log=lambda _: None,
                )
                times[every].append(time.perf_counter() - start)
    best = {every: min(ts) for every, ts in times.items()}
    print(
        f"{args.networks} GRU-32 on delayed discrimination, {args.updates} updates, batch "
        f"{args.batch}, one thread, fastest of {args.repeats}"
    )
    for every, seconds in best.items():
        print(f"  features_every={every:<3} {seconds:7.2f} s  ({seconds / best[0]:.3f} × off)")
    update = best[0] / args.updates
    recording = (best[1] - best[0]) / args.updates
    print(
        f"one recording: {recording * 1e3:.1f} ms = {recording / update:.2f} updates; "
        f"every 50 updates: {recording / update / 50:.2%} of training time"
    )


if __name__ == "__main__":
    main()
