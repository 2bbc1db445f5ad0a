"""Batched pairwise distances vs a straightforward per-pair implementation.

    python bench/similarity.py                        # 200 and 1,000 networks, all 4 metrics
    python bench/similarity.py --sizes 200 --metrics cka procrustes
    python bench/similarity.py --device cuda          # batched part on the GPU

Networks. ``n`` synthetic networks of ``--units`` (64) units × ``--samples`` (2,000)
samples, float64: every network reads a shared 12-dimensional latent trajectory through
its own random mixing, plus its own private latent dimensions and a non-zero mean, so
that distances spread over (0, 1) rather than all being ≈ 1. Seeded; the same data on
every run.

Batched: :meth:`SimilarityMetric.pairwise`, the implementation the ``aggregate`` rule
uses — every network is centred and decomposed once, and pairs are computed in tiles
of stacked cross products (``rnn_analysis.similarity.batched``) on ``--device``.

Straightforward per pair: ``metric(x, y)`` for each pair, which validates, centres and
decomposes both networks again for every pair and then compares them — what a loop
over pairs costs without the per-network preprocessing. Running it over all 499,500
pairs of 1,000 networks would take hours, so it is timed on ``--pairs`` (300) pairs
drawn at random and extrapolated linearly to all pairs; the printout says so. Its
values on those pairs are checked against the batched matrix (largest difference).

The scaling line gives batched time(largest n) / time(smallest n) next to the ratio of
their numbers of pairs (24.9× from 200 to 1,000).
"""

from __future__ import annotations

import argparse
import time

import numpy as np
import torch

from rnn_analysis.similarity import get_metric


def synthetic_networks(
    n: int, units: int, samples: int, seed: int = 0, shared: int = 12
) -> list[np.ndarray]:
    rng = np.random.default_rng(seed)
    t = np.linspace(0, 8 * np.pi, samples)[:, None]
    latent = np.sin(t * rng.uniform(0.2, 2.0, shared) + rng.uniform(0, 2 * np.pi, shared))
    out = []
    for _ in range(n):
        private = rng.standard_normal((samples, 4))
        mixing = rng.standard_normal((shared + 4, units)) * rng.uniform(0.2, 2.0, (shared + 4, 1))
        x = np.tanh(np.concatenate([latent, 0.5 * private], axis=1) @ mixing)
        out.append(x + 0.05 * rng.standard_normal((samples, units)) + rng.standard_normal(units))
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[200, 1000])
    parser.add_argument("--metrics", nargs="+", default=["cca", "svcca", "cka", "procrustes"])
    parser.add_argument("--units", type=int, default=64)
    parser.add_argument("--samples", type=int, default=2000)
    parser.add_argument("--pairs", type=int, default=300)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--threads", type=int, default=0, help="torch threads (0: default)")
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    print(
        f"{args.units} units × {args.samples} samples per network; torch threads "
        f"{torch.get_num_threads()}; batched on {args.device}; per-pair timed on "
        f"{args.pairs} random pairs and extrapolated to all pairs"
    )
    print(
        f"{'n':>6} {'metric':<11}{'pairs':>9}{'batched s':>11}{'per-pair s (est.)':>19}"
        f"{'speed-up':>10}{'max |diff|':>12}"
    )
    batched_times: dict[tuple[str, int], float] = {}
    rng = np.random.default_rng(1)
    for n in args.sizes:
        networks = synthetic_networks(n, args.units, args.samples)
        n_pairs = n * (n - 1) // 2
        pairs = rng.choice(n_pairs, size=min(args.pairs, n_pairs), replace=False)
        rows, cols = np.triu_indices(n, k=1)
        for name in args.metrics:
            metric = get_metric(name)
            start = time.perf_counter()
            matrix = metric.pairwise(networks, device=args.device)
            batched = time.perf_counter() - start
            batched_times[(name, n)] = batched
            start = time.perf_counter()
            values = [metric(networks[rows[p]], networks[cols[p]]) for p in pairs]
            per_pair = (time.perf_counter() - start) / len(pairs) * n_pairs
            diff = float(np.max(np.abs(np.array(values) - matrix[rows[pairs], cols[pairs]])))
            print(
                f"{n:>6} {name:<11}{n_pairs:>9}{batched:>11.2f}{per_pair:>19.1f}"
                f"{per_pair / batched:>9.1f}×{diff:>12.1e}",
                flush=True,
            )
    if len(args.sizes) > 1:
        small, large = min(args.sizes), max(args.sizes)
        pair_ratio = (large * (large - 1)) / (small * (small - 1))
        for name in args.metrics:
            ratio = batched_times[(name, large)] / batched_times[(name, small)]
            print(
                f"scaling {name:<11} batched time ×{ratio:.1f} from {small} to {large} "
                f"networks (pairs ×{pair_ratio:.1f})"
            )


if __name__ == "__main__":
    main()
