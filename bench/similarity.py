"""All four geometry metrics: today's per-metric path vs the shared pass, side by side.

    python bench/similarity.py                         # 1,000 networks (~12+ min on 2 cores)
    python bench/similarity.py --sizes 200             # a quick run
    python bench/similarity.py --sizes 1000 --skip-reference   # shared pass only
    python bench/similarity.py --device cuda --threads 4

Networks. ``n`` synthetic networks of ``--units`` (64) units × ``--samples`` (2,000)
samples, float64: every network reads a shared 12-dimensional latent trajectory through
its own random mixing, plus its own private latent dimensions and a non-zero mean, so
that distances spread over (0, 1) rather than all being ≈ 1. Seeded; the same data on
every run.

Paths, for CCA, SVCCA, linear CKA and Procrustes (default hyperparameters):

* per-metric: ``metric.pairwise(networks)`` for each of the four metrics, one after the
  other (each validates, centres and decomposes every network, then computes its own
  batched cross products); the time is the sum over the metrics.
* factorise: :func:`~rnn_analysis.similarity.factorisation.factorise_all` (one SVD per
  network), in float32 and float64 storage.
* shared: :func:`~rnn_analysis.similarity.geometry_pass.geometry_distances` for all
  four metrics at once from the factorisations, in each storage dtype.

What it prints, per size, while it runs: for each storage dtype the load average, the
matrix product rate measured just before its pass (best of 3 products
``[4096, samples] @ [samples, 4096]`` in that dtype on ``--device``) and the FLOP
floor (``pairs × 2 · units² · samples`` FLOP at that rate: the cross products alone),
then the times; then the per-metric times. At the end one table: per path its time in
seconds, the speed-up over the per-metric path (its time / this time; for the shared
pass without and with the factorisation), the ratio of its time to the FLOP floor of
its dtype, and the largest absolute difference of each metric's matrix from the
per-metric matrix (for float32 also from the float64 shared pass). ``--skip-reference``
leaves the per-metric path out (no speed-ups). The machine may be shared: the load
averages say how much else ran.
"""

from __future__ import annotations

import argparse
import os
import time
from collections.abc import Callable
from typing import Any, TypeVar

import numpy as np
import torch

from rnn_analysis.similarity import get_metric
from rnn_analysis.similarity.base import resolve_device
from rnn_analysis.similarity.factorisation import factorise_all
from rnn_analysis.similarity.geometry_pass import geometry_distances

T = TypeVar("T")

#: Metrics of the comparison.
NAMES = ("cca", "svcca", "cka", "procrustes")
#: Rows and columns of the square products that measure the matrix product rate.
RATE_SIZE = 4096
#: Products timed for the rate (the fastest counts).
RATE_REPEATS = 3


def synthetic_networks(
    n: int, units: int, samples: int, seed: int = 0, shared: int = 12
) -> list[np.ndarray]:
    """``n`` seeded networks [samples, units] sharing a ``shared``-dimensional latent."""
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


def matmul_rate(dtype: torch.dtype, samples: int, device: torch.device) -> float:
    """FLOP/s of ``[RATE_SIZE, samples] @ [samples, RATE_SIZE]`` in ``dtype``."""
    a = torch.randn(RATE_SIZE, samples, dtype=dtype, device=device)
    b = torch.randn(RATE_SIZE, samples, dtype=dtype, device=device)
    (a @ b.T).sum().item()
    best = np.inf
    for _ in range(RATE_REPEATS):
        start = time.perf_counter()
        (a @ b.T).sum().item()
        best = min(best, time.perf_counter() - start)
    return 2.0 * RATE_SIZE * RATE_SIZE * samples / best


def timed(fn: Callable[..., T], *args: Any, **kwargs: Any) -> tuple[T, float]:
    """``fn(*args, **kwargs)`` and its wall-clock time in seconds."""
    start = time.perf_counter()
    out = fn(*args, **kwargs)
    return out, time.perf_counter() - start


def max_diff(a: dict[str, np.ndarray], b: dict[str, np.ndarray]) -> str:
    """Largest absolute difference per metric, as text."""
    return " ".join(f"{name}={np.max(np.abs(a[name] - b[name])):.1e}" for name in NAMES)


def load() -> str:
    """The load average over 1, 5 and 15 minutes."""
    return "(1/5/15 min) " + "/".join(f"{x:.2f}" for x in os.getloadavg())


def run(n: int, args: argparse.Namespace) -> None:
    """Time and compare every path on ``n`` networks and print the table."""
    device = resolve_device(args.device)
    networks = synthetic_networks(n, args.units, args.samples)
    metrics = [get_metric(name) for name in NAMES]
    pairs = n * (n - 1) // 2
    flop = pairs * 2.0 * min(args.units, args.samples) ** 2 * args.samples
    print(f"\n== {n} networks, {pairs} pairs, {flop / 1e12:.2f} TFLOP of cross products")
    shared: dict[str, dict[str, np.ndarray]] = {}
    rows: list[tuple[str, float, float | None, str]] = []
    for storage, dtype in (("float32", torch.float32), ("float64", torch.float64)):
        rate = matmul_rate(dtype, args.samples, device)
        floor = flop / rate
        print(
            f"{storage}: load {load()}; matmul rate {rate / 1e9:.0f} GFLOP/s, "
            f"FLOP floor {floor:.1f} s",
            flush=True,
        )
        factors, t_factor = timed(factorise_all, networks, storage)
        shared[storage], t_pass = timed(
            geometry_distances, metrics, factors, device=device, threads=args.threads or None
        )
        print(f"  factorise {t_factor:.1f} s, shared pass {t_pass:.1f} s", flush=True)
        rows.append((f"factorise {storage}", t_factor, None, ""))
        rows.append((f"shared pass {storage}", t_pass, floor, storage))
        rows.append(("  + factorise", t_factor + t_pass, floor, ""))
    reference: dict[str, np.ndarray] = {}
    today = np.nan
    if not args.skip_reference:
        print(f"per-metric path: load {load()}", flush=True)
        today = 0.0
        for metric in metrics:
            reference[metric.name], seconds = timed(metric.pairwise, networks, device=device)
            today += seconds
            rows.insert(len(reference) - 1, (f"per-metric {metric.name}", seconds, None, ""))
            print(f"  {metric.name} {seconds:.1f} s", flush=True)
        rows.insert(len(reference), ("per-metric, sum of 4", today, None, ""))
    print(f"load after: {load()}\n")
    print(f"{'path':<24}{'seconds':>9}{'speed-up':>10}{'× floor':>9}  max |diff|")
    for label, seconds, floor, storage in rows:
        line = f"{label:<24}{seconds:>9.1f}"
        if floor is not None or label.startswith("per-metric, sum"):
            line += f"{today / seconds:>9.1f}×"
        if floor is not None:
            line += f"{seconds / floor:>8.2f}×"
        if storage:
            diffs = []
            if reference:
                diffs.append("vs per-metric: " + max_diff(shared[storage], reference))
            if storage == "float32":
                diffs.append("vs float64 pass: " + max_diff(shared["float32"], shared["float64"]))
            line += "  " + "; ".join(diffs)
        print(line)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[1000])
    parser.add_argument("--units", type=int, default=64)
    parser.add_argument("--samples", type=int, default=2000)
    parser.add_argument("--device", default="cpu")
    parser.add_argument(
        "--threads", type=int, default=0, help="torch threads and pass threads (0: default)"
    )
    parser.add_argument("--skip-reference", action="store_true", help="skip the per-metric path")
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    print(
        f"{args.units} units × {args.samples} samples per network; torch threads "
        f"{torch.get_num_threads()}; device {args.device}; {os.cpu_count()} CPUs"
    )
    for n in args.sizes:
        run(n, args)


if __name__ == "__main__":
    main()
