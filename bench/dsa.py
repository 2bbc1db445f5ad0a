"""DSA's pair search: the default search against the exhaustive one, on the same pairs.

    python bench/dsa.py                                  # rnn16 and attractors32, 30 networks each
    python bench/dsa.py --populations rnn16 rnn64 --networks 40 --pairs 300
    python bench/dsa.py --reference 0                    # without the 128-start reference

Populations (``--networks`` networks each, seeded: the same data on every run):

- ``rnn<units>`` (e.g. ``rnn16``): random leaky tanh networks, ``x ← 0.8 x + 0.2
  tanh(W x + b)`` with ``W`` Gaussian of gain 0.8–1.6 over √units and ``b`` of scale
  0.1, 10 trials × 200 steps from Gaussian initial states (the population of the
  accuracy figures in the :class:`~rnn_analysis.similarity.dsa.DSA` docstring).
- ``attractors<units>`` (e.g. ``attractors32``): leaky tanh networks of four kinds of
  dynamics, drawn with equal probability: a point attractor (weak random weights), a
  line attractor (a rank-one term of gain 1.0–1.3), a limit cycle ("ring": a rotating
  and expanding plane) and chaos (random weights of gain 1.5–2.5); leak 0.6–0.9,
  process noise 0.01, 10 trials × 200 steps. Their distances spread further than the
  random networks'.

Every network is prepared once (:meth:`DSA.prepare`, default embedding: 10 delays, rank
10). ``--pairs`` pairs (all pairs when there are fewer) are drawn at random from all
pairs and computed by each search through :meth:`DSA._pairs`, the path of
:meth:`SimilarityMetric.cross`, with one torch thread (and one BLAS thread for numpy):

- ``exhaustive``: ``DSA(**EXHAUSTIVE_SEARCH)``, 32 starts, step size 0.05, the best 4
  after 100 steps refined until their fourth stall;
- ``default``: ``DSA()``, 24 starts, step size 0.2, the best 4 after 75 steps refined
  until their first stall;
- ``reference`` (unless ``--reference 0``): 128 starts (``--reference``), step size
  0.2, the best 16 after 100 steps refined until their fourth stall.

The searches alternate over blocks of ``--block`` pairs, so that they share the
machine's load; only the search is timed.

Output, one row per population: the range of the exhaustive distances; milliseconds per
pair of each search and their ratio (speed-up of the default); the excess of the
default distance over the exhaustive one, ``default − exhaustive``: worst, median and
95th percentile, the fraction of pairs within 1e-6 and the fraction where the default
is lower by more than 1e-6. With the reference, for each of the two searches the
fraction of pairs within 1e-6 of the reference distance and the worst excess over it.
Last, the estimated time of all n(n − 1)/2 pairs of 1,000 and 10,000 networks at the
measured time per pair, spread over ``--cores`` cores (one process with one thread
each, e.g. one tile per cluster job).
"""

from __future__ import annotations

import argparse
import os
import time

import numpy as np
import torch
from numpy.typing import NDArray
from threadpoolctl import threadpool_limits

from rnn_analysis.similarity.dsa import DSA, EXHAUSTIVE_SEARCH, DSAPrepared

#: Hyperparameters of the reference search (``n_starts`` from ``--reference``).
REFERENCE_SEARCH = {
    "n_kept": 16,
    "screen_iterations": 100,
    "learning_rate": 0.2,
    "stalls": 4,
}


def leaky_tanh(
    rng: np.random.Generator, n_units: int, n_trials: int = 10, n_time: int = 200
) -> NDArray[np.float64]:
    """Trajectories [trial, time, unit] of a random leaky tanh network."""
    w = rng.standard_normal((n_units, n_units)) * rng.uniform(0.8, 1.6) / np.sqrt(n_units)
    bias = 0.1 * rng.standard_normal(n_units)
    x = rng.standard_normal((n_trials, n_units))
    out = np.empty((n_trials, n_time, n_units))
    for t in range(n_time):
        x = 0.8 * x + 0.2 * np.tanh(x @ w.T + bias)
        out[:, t] = x
    return out


def attractor_network(
    rng: np.random.Generator, n_units: int, n_trials: int = 10, n_time: int = 200
) -> NDArray[np.float64]:
    """Trajectories of a leaky tanh network with a point, line, ring or chaotic attractor."""
    kind = ("point", "line", "ring", "chaos")[rng.integers(4)]
    q, _ = np.linalg.qr(rng.standard_normal((n_units, n_units)))
    u, v = q[:, 0], q[:, 1]
    base = rng.standard_normal((n_units, n_units)) / np.sqrt(n_units)
    if kind == "point":
        w = rng.uniform(0.2, 0.8) * base
    elif kind == "line":
        w = 0.3 * base + rng.uniform(1.0, 1.3) * np.outer(u, u)
    elif kind == "ring":
        plane = np.outer(u, u) + np.outer(v, v)
        rotation = np.outer(u, v) - np.outer(v, u)
        w = 0.3 * base + rng.uniform(1.1, 1.6) * plane + rng.uniform(0.2, 1.0) * rotation
    else:
        w = rng.uniform(1.5, 2.5) * base
    bias = 0.1 * rng.standard_normal(n_units)
    leak = rng.uniform(0.6, 0.9)
    x = rng.standard_normal((n_trials, n_units))
    out = np.empty((n_trials, n_time, n_units))
    for t in range(n_time):
        drive = np.tanh(x @ w.T + bias)
        x = leak * x + (1 - leak) * drive + 0.01 * rng.standard_normal(x.shape)
        out[:, t] = x
    return out


def population(name: str, n: int) -> list[NDArray[np.float64]]:
    """Trajectories of ``n`` networks of the population ``name`` (see the module docstring)."""
    for prefix, make in (("rnn", leaky_tanh), ("attractors", attractor_network)):
        if name.startswith(prefix) and name[len(prefix) :].isdigit():
            units = int(name[len(prefix) :])
            rng = np.random.default_rng([units, len(prefix)])
            return [make(rng, units) for _ in range(n)]
    raise SystemExit(f"unknown population {name!r}: use rnn<units> or attractors<units>")


def timed_pairs(
    searches: dict[str, DSA],
    prepared: list[DSAPrepared],
    rows: NDArray[np.int64],
    cols: NDArray[np.int64],
    block: int,
) -> tuple[dict[str, NDArray[np.float64]], dict[str, float]]:
    """Distances of every search on the pairs and its seconds, alternating over blocks."""
    cpu = torch.device("cpu")
    values = {name: np.empty(len(rows)) for name in searches}
    seconds = dict.fromkeys(searches, 0.0)
    for lo in range(0, len(rows), block):
        r, c = rows[lo : lo + block], cols[lo : lo + block]
        for name, metric in searches.items():
            start = time.perf_counter()
            values[name][lo : lo + block] = metric._pairs(prepared, r, c, cpu)
            seconds[name] += time.perf_counter() - start
    return values, seconds


def duration(seconds: float) -> str:
    """Minutes below an hour, hours below two days, days above."""
    if seconds < 3600:
        return f"{seconds / 60:.1f} min"
    if seconds < 2 * 86400:
        return f"{seconds / 3600:.1f} h"
    return f"{seconds / 86400:.1f} d"


def excess_row(excess: NDArray[np.float64]) -> str:
    """Worst, median, 95th percentile, fraction within 1e-6, fraction lower."""
    return (
        f"{excess.max():>9.1e}{np.median(excess):>9.1e}{np.quantile(excess, 0.95):>9.1e}"
        f"{np.mean(excess <= 1e-6):>8.3f}{np.mean(excess < -1e-6):>7.3f}"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--populations", nargs="+", default=["rnn16", "attractors32"])
    parser.add_argument("--networks", type=int, default=30)
    parser.add_argument("--pairs", type=int, default=435, help="pairs drawn per population")
    parser.add_argument("--reference", type=int, default=128, help="starts; 0: none")
    parser.add_argument("--block", type=int, default=50, help="pairs per alternation")
    parser.add_argument("--cores", type=int, default=os.cpu_count() or 1)
    args = parser.parse_args()
    torch.set_num_threads(1)
    searches = {"exhaustive": DSA(**EXHAUSTIVE_SEARCH), "default": DSA()}
    if args.reference:
        searches["reference"] = DSA(n_starts=args.reference, **REFERENCE_SEARCH)
    print("searches (one torch thread):")
    for name, search in searches.items():
        print(f"  {name:<11}{search!r}")
    print(f"load average before: {'/'.join(f'{x:.2f}' for x in os.getloadavg())}")
    header = (
        f"{'':<63}| default − exhaustive\n"
        f"{'population':<14}{'pairs':>6}{'distances':>15}{'exh. ms':>9}{'def. ms':>9}"
        f"{'speed-up':>9} |{'worst':>8}{'median':>9}{'p95':>9}{'≤1e-6':>8}{'lower':>7}"
    )
    rows_out, reference_rows, per_pair = [], [], {}
    rng = np.random.default_rng(0)
    for name in args.populations:
        metric = searches["default"]
        prepared = metric._prepare_all(metric.validate(population(name, args.networks)))
        all_rows, all_cols = np.triu_indices(args.networks, k=1)
        pick = np.sort(rng.permutation(len(all_rows))[: args.pairs])
        rows, cols = all_rows[pick], all_cols[pick]
        values, seconds = timed_pairs(searches, prepared, rows, cols, args.block)
        ms = {k: 1e3 * v / len(rows) for k, v in seconds.items()}
        per_pair[name] = ms
        exhaustive, default = values["exhaustive"], values["default"]
        rows_out.append(
            f"{name:<14}{len(rows):>6}{exhaustive.min():>7.3f}–{exhaustive.max():<7.3f}"
            f"{ms['exhaustive']:>9.2f}{ms['default']:>9.2f}"
            f"{ms['exhaustive'] / ms['default']:>8.2f}× |{excess_row(default - exhaustive)}"
        )
        if args.reference:
            reference = values["reference"]
            for search in ("exhaustive", "default"):
                gap = values[search] - reference
                reference_rows.append(
                    f"{name:<14}{search:<12}{np.mean(gap <= 1e-6):>10.3f}{gap.max():>10.1e}"
                    f"{ms['reference']:>12.2f}"
                )
        print(f"{name}: done", flush=True)
    print(f"\n{header}")
    print("\n".join(rows_out))
    if reference_rows:
        print(
            f"\nagainst the reference ({args.reference} starts):\n{'population':<14}"
            f"{'search':<12}{'≤1e-6':>10}{'worst':>10}{'ref. ms':>12}"
        )
        print("\n".join(reference_rows))
    print(f"\nestimated time of all pairs on {args.cores} cores:")
    print(f"{'population':<14}{'networks':>9}{'pairs':>13}{'exhaustive':>12}{'default':>12}")
    for name, ms in per_pair.items():
        for n in (1_000, 10_000):
            pairs = n * (n - 1) // 2
            exh, dflt = (pairs * ms[k] / 1e3 / args.cores for k in ("exhaustive", "default"))
            print(f"{name:<14}{n:>9,}{pairs:>13,}{duration(exh):>12}{duration(dflt):>12}")
    print(f"load average after: {'/'.join(f'{x:.2f}' for x in os.getloadavg())}")


if __name__ == "__main__":
    with threadpool_limits(limits=1, user_api="blas"):
        main()
