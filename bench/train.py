"""Training throughput of every learning rule: one ensemble of seeds vs the same seeds one by one.

    python bench/train.py                       # every case, 32 seeds, the study's settings
    python bench/train.py --cases gru-flipflop-bptt rate-cdi-force
    python bench/train.py --networks 8 --scale 0.5 --threads 1
    python bench/train.py --device cuda         # on a GPU

Two measurements, each printed as a ratio of two timings taken side by side in one run:

1. Networks per hour, per rule. For each case (a 64-unit ``gru`` on ``flipflop`` with
   ``bptt`` and ``genetic``; a 50-unit ``rate`` on ``cdi`` with all four rules) the same
   ``--networks`` seeds are trained through :func:`rnn_analysis.training.run.train_ensemble`
   as one ensemble (one job) and one after another (one job per seed), with the same
   number of updates each (iterations, generations or trials; validation once at the
   end, a threshold no network can reach). Rule hyperparameters are the studies'
   defaults (genetic population 50 on flip-flop, 20 on CDI) except the budgets and the
   batch of BPTT and the genetic algorithm, 128 trials instead of 500 (a 32-network
   BPTT ensemble at 500 trials holds gigabytes of activations for the backward pass).
   Networks per hour = networks / wall time × 3600 for that many updates; the ratio is
   ensemble over one-by-one. The two runs must end with the
   same weights (the largest difference is printed).
2. The floating-point rate of the BPTT inner loop (forward, backward, clipping, Adam) of
   the ``gru-flipflop-bptt`` ensemble: matmul FLOPs of one update counted by
   ``torch.utils.flop_counter`` times the updates per second, as a fraction of the
   machine's dense-matmul rate (a 2048 × 2048 float32 ``mm``, the physical limit) and
   of a batched matmul of the recurrent step's own shape, both measured in the same run.
"""

from __future__ import annotations

import argparse
import copy
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from rnn_analysis import seeding
from rnn_analysis.architectures import ARCHITECTURES
from rnn_analysis.io import MODEL_FILE
from rnn_analysis.tasks import TASKS
from rnn_analysis.training.bptt import BPTT, BPTTParams
from rnn_analysis.training.rule import TrainingContext
from rnn_analysis.training.run import pick_device, train_ensemble
from rnn_analysis.training.stopping import StoppingParams
from rnn_analysis.training.trials import masked_mse, stack_trials


@dataclass
class Case:
    """One benchmark case: a grid cell and the budget key and count of its rule."""

    name: str
    task: str
    architecture: str
    rule: str
    task_params: dict[str, Any]
    architecture_params: dict[str, Any]
    rule_params: dict[str, Any]
    budget_key: str
    updates: int


UNITS = {
    "max_iterations": "iterations",
    "max_generations": "generations",
    "trials_per_attempt": "trials",
    "max_trials": "trials",
}
GRU_64 = {"hidden_size": 64}
RATE_50 = {"hidden_size": 50}
BATCH = {"batch_size": 128}
CASES = [
    Case("gru-flipflop-bptt", "flipflop", "gru", "bptt", {}, GRU_64, BATCH, "max_iterations", 10),
    Case(
        "gru-flipflop-genetic",
        "flipflop",
        "gru",
        "genetic",
        {},
        GRU_64,
        BATCH,
        "max_generations",
        2,
    ),
    Case("rate-cdi-bptt", "cdi", "rate", "bptt", {}, RATE_50, BATCH, "max_iterations", 4),
    Case(
        "rate-cdi-genetic",
        "cdi",
        "rate",
        "genetic",
        {},
        RATE_50,
        {**BATCH, "population_size": 20},
        "max_generations",
        2,
    ),
    Case(
        "rate-cdi-force",
        "cdi",
        "rate",
        "force",
        {},
        RATE_50,
        {"max_attempts": 1},
        "trials_per_attempt",
        10,
    ),
    Case("rate-cdi-hebbian", "cdi", "rate", "hebbian", {}, RATE_50, {}, "max_trials", 20),
]


def spec(case: Case, seed: int, updates: int, validation_trials: int) -> dict[str, Any]:
    return {
        "network": {
            "task": case.task,
            "architecture": case.architecture,
            "learning_rule": case.rule,
            "noise": 0.1,
            "seed": seed,
        },
        "task": copy.deepcopy(case.task_params),
        "architecture": copy.deepcopy(case.architecture_params),
        "learning_rule": {**case.rule_params, case.budget_key: updates},
        "stopping": {
            "validate_every": updates,
            "validation_trials": validation_trials,
            "window": 1,
            "threshold": 1.5,
        },
    }


def timed(fn: Callable[[], object]) -> float:
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def max_weight_difference(a: list[Path], b: list[Path]) -> float:
    worst = 0.0
    for fa, fb in zip(a, b, strict=True):
        wa = torch.load(fa / MODEL_FILE, weights_only=False)["state_dict"]
        wb = torch.load(fb / MODEL_FILE, weights_only=False)["state_dict"]
        for key in wa:
            worst = max(worst, float((wa[key] - wb[key]).abs().max()))
    return worst


def throughput(case: Case, n: int, scale: float, device: str, validation: int) -> None:
    updates = max(1, round(case.updates * scale))
    specs = [spec(case, seed, updates, validation) for seed in range(n)]
    quiet: Callable[[str], None] = lambda _: None  # noqa: E731
    with tempfile.TemporaryDirectory() as tmp:
        warmup = spec(case, n, 1, 8)
        train_ensemble(
            [warmup, {**warmup, "network": {**warmup["network"], "seed": n + 1}}],
            [Path(tmp, "warmup", "0"), Path(tmp, "warmup", "1")],
            device,
            quiet,
        )
        together = [Path(tmp, "ensemble", str(s)) for s in range(n)]
        alone = [Path(tmp, "alone", str(s)) for s in range(n)]
        t_ensemble = timed(lambda: train_ensemble(specs, together, device, quiet))
        t_alone = timed(
            lambda: [
                train_ensemble([sp], [f], device, quiet) for sp, f in zip(specs, alone, strict=True)
            ]
        )
        diff = max_weight_difference(together, alone)
    per_hour_e, per_hour_a = n / t_ensemble * 3600, n / t_alone * 3600
    print(
        f"{case.name:22s} {updates:5d} {UNITS[case.budget_key]:11s} "
        f"{t_ensemble:8.1f} s {t_alone:8.1f} s {per_hour_e:10.0f} {per_hour_a:10.0f} "
        f"{t_alone / t_ensemble:7.1f}×   {diff:.1e}"
    )


def matmul_rate(fn: Callable[[], torch.Tensor], flops: float, seconds: float = 2.0) -> float:
    """FLOP/s of ``fn`` (``flops`` per call), best of repeated timings over ``seconds``."""
    fn()
    best, deadline = float("inf"), time.perf_counter() + seconds
    while time.perf_counter() < deadline:
        start = time.perf_counter()
        for _ in range(5):
            out = fn()
        if out.is_cuda:
            torch.cuda.synchronize()
        best = min(best, (time.perf_counter() - start) / 5)
    return flops / best


def flop_rate(n: int, device: torch.device, iterations: int) -> None:
    """Achieved FLOP/s of the BPTT inner loop vs the machine's dense-matmul rate."""
    from torch.utils.flop_counter import FlopCounterMode

    task = TASKS["flipflop"](TASKS["flipflop"].Params())
    arch = ARCHITECTURES["gru"]
    params = BPTTParams(max_iterations=iterations, batch_size=BATCH["batch_size"])
    seeds = range(n)

    def build() -> tuple[torch.nn.Module, TrainingContext]:
        model = arch(
            task.n_inputs,
            task.n_outputs,
            arch.Params(hidden_size=64),
            [seeding.generator(s, "init") for s in seeds],
        ).to(device)
        context = TrainingContext(
            task=task,
            noise=0.1,
            stopping=StoppingParams(
                validate_every=iterations + 1, validation_trials=1, threshold=1.5
            ),
            trial_generators=[seeding.generator(s, "trials") for s in seeds],
            validation_generators=[seeding.generator(s, "validation") for s in seeds],
            device=device,
            log=lambda _: None,
            rule_generators=[seeding.generator(s, "rule") for s in seeds],
        )
        return model, context

    model, context = build()
    batch = stack_trials(task, params.batch_size, context.trial_generators, 0.1, device)
    counter = FlopCounterMode(display=False)
    with counter:
        _, outputs = model(batch.inputs)
        masked_mse(outputs, batch).sum().backward()
    flops_per_update = counter.get_total_flops()

    model, context = build()
    start = time.perf_counter()
    BPTT(params).train(model, context)
    if device.type == "cuda":
        torch.cuda.synchronize()
    elapsed = time.perf_counter() - start
    achieved = flops_per_update * iterations / elapsed

    size = 2048
    a = torch.randn(size, size, device=device)
    b = torch.randn(size, size, device=device)
    dense = matmul_rate(lambda: a @ b, 2 * size**3)
    h = torch.randn(n, params.batch_size, 64, device=device)
    w = torch.randn(n, 64, 3 * 64, device=device)
    step_rate = matmul_rate(lambda: torch.bmm(h, w), 2 * n * params.batch_size * 64 * 3 * 64)

    print(
        f"\nBPTT inner loop, {n} × gru-64 on flipflop (batch {params.batch_size}, "
        f"{task.params.n_steps} steps), {iterations} updates in {elapsed:.1f} s:"
    )
    print(f"  matmul FLOPs per update (forward + backward): {flops_per_update / 1e9:.2f} G")
    print(f"  achieved:                       {achieved / 1e9:8.1f} GFLOP/s")
    print(f"  dense matmul {size}² float32:    {dense / 1e9:8.1f} GFLOP/s")
    print(f"  bmm of the step's shape:        {step_rate / 1e9:8.1f} GFLOP/s")
    print(f"  fraction of dense-matmul rate:  {achieved / dense:8.1%}")
    print(f"  fraction of step-shape bmm rate:{achieved / step_rate:8.1%}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cases", nargs="*", default=[c.name for c in CASES])
    parser.add_argument("--networks", type=int, default=32, help="seeds per case")
    parser.add_argument("--scale", type=float, default=1.0, help="multiplies every budget")
    parser.add_argument("--validation-trials", type=int, default=256)
    parser.add_argument("--threads", type=int, default=torch.get_num_threads())
    parser.add_argument("--device", default="auto")
    parser.add_argument("--flop-iterations", type=int, default=10)
    parser.add_argument("--no-flops", action="store_true")
    args = parser.parse_args()
    unknown = set(args.cases) - {c.name for c in CASES}
    if unknown:
        parser.error(f"unknown case(s): {', '.join(sorted(unknown))}")

    torch.set_num_threads(args.threads)
    device = pick_device(args.device)
    print(f"{args.networks} networks per case, {args.threads} thread(s), device {device}")
    print(
        f"{'case':22s} {'updates':>17s} {'ensemble':>10s} {'one by one':>10s} "
        f"{'nets/h ens':>10s} {'nets/h 1by1':>10s} {'ratio':>8s}   max |Δw|"
    )
    for case in CASES:
        if case.name in args.cases:
            throughput(case, args.networks, args.scale, args.device, args.validation_trials)
    if not args.no_flops:
        flop_rate(args.networks, device, args.flop_iterations)


if __name__ == "__main__":
    main()
