"""Known results as rates over populations of trained networks (docs/science.md §7).

    python bench/science.py                       # every study below, 8 seeds each
    python bench/science.py --studies cdi sine --seeds 16
    python bench/science.py --workdir runs/science --threads 2

Each study is a small sweep config trained, analysed and summarised in this process by
:func:`rnn_analysis.inprocess.run_in_process` (the workflow's own jobs and files, under
``--workdir``; a rerun reuses what is there), then every known result of its task is
printed as a rate over the converged networks of each architecture × learning rule,
with its Clopper–Pearson 95% interval, next to the statuses and the untrained baseline
(networks whose untrained validation already met the criterion, status ``trivial``).
The tables in docs/benchmarks.md come from this script. Set ``ATEN_CPU_CAPABILITY``
and ``MKL_CBWR`` to rerun a study on another numeric path.

Studies (all BPTT unless named; hidden sizes 32, rate networks 50):

* ``flipflop``: 3-bit flip-flop, the five architectures, accuracy ≥ 0.99 over 5
  validations; corner attractors and the full 3-cube census.
* ``cdi``: context-dependent integration, 2 contexts, 100-step trials, input noise 0.3
  (an ideal observer scores 0.935, a network committing within 30 steps about 0.88: the
  criterion of 0.9 requires integration), the task's default criterion (accuracy ≥ 0.9,
  then as many updates again); rate (α 0.2, weak initialisation) and the gated
  architectures, and in ``cdi_vanilla`` vanilla networks at learning rate 1e-3.
* ``cdi_noise``: the same for GRUs at input noise 0.1, where committing early passes.
* ``cdi_rules``: rate networks (α 0.2, weak initialisation) as in ``cdi``, trained by
  BPTT, the genetic algorithm, full-FORCE and reward-modulated Hebbian learning (η 1;
  the study's η needs ~10× more trials, see "Rules too slow for the test suite").
* ``sine``: 6 cued frequencies, 100-step trials, the task's default criterion (score ≥ 0.9
  and validation loss ≤ 0.01), GRUs; limit-cycle frequency within 5% of every cue.
"""

from __future__ import annotations

import argparse
import copy
import time
from pathlib import Path
from typing import Any

import numpy as np
import torch
import xarray as xr

from rnn_analysis.aggregate.rates import population_rate, rate_table
from rnn_analysis.config import Sweep
from rnn_analysis.inprocess import load_analyses, run_in_process
from rnn_analysis.tasks import TASKS

GATED = ["gru", "lstm", "ugrnn"]
HIDDEN = {a: {"hidden_size": 32} for a in ["vanilla", *GATED]}
BPTT = {"learning_rate": 0.01, "batch_size": 64, "max_iterations": 3000}
VALIDATION = {"validate_every": 25, "validation_trials": 500, "window": 5}
FAST_FP = {"n_initial_states": 256, "max_iterations": 1000}

STUDIES: dict[str, dict[str, Any]] = {
    "flipflop": {
        "grid": {
            "task": ["flipflop"],
            "architecture": ["vanilla", "rate", *GATED],
            "learning_rule": ["bptt"],
            "noise": [0.0],
        },
        "tasks": {"flipflop": {"n_steps": 100, "pulse_probability": 0.05}},
        "architectures": {
            **HIDDEN,
            "rate": {"hidden_size": 32, "alpha": 0.5, "recurrent_scaling": "sqrt"},
        },
        "learning_rules": {"bptt": {**BPTT, "max_iterations": 1500}},
        "training": {"stopping": {**VALIDATION, "validation_trials": 200, "threshold": 0.99}},
        "analysis": {"evaluation_trials": 200, "fixed_points": {"n_initial_states": 512}},
    },
    "cdi": {
        "grid": {
            "task": ["cdi"],
            "architecture": ["rate", *GATED],
            "learning_rule": ["bptt"],
            "noise": [0.3],
        },
        "tasks": {"cdi": {"n_steps": 100, "fixed_point_levels": 1}},
        "architectures": {
            **HIDDEN,
            "rate": {"hidden_size": 50, "alpha": 0.2, "recurrent_scaling": "linear"},
        },
        "learning_rules": {"bptt": BPTT},
        "training": {"stopping": VALIDATION},
        "analysis": {"evaluation_trials": 500, "fixed_points": FAST_FP},
    },
    "cdi_noise": {
        "grid": {
            "task": ["cdi"],
            "architecture": ["gru"],
            "learning_rule": ["bptt"],
            "noise": [0.1],
        },
        "tasks": {"cdi": {"n_steps": 100, "fixed_point_levels": 1}},
        "architectures": HIDDEN,
        "learning_rules": {"bptt": BPTT},
        "training": {"stopping": VALIDATION},
        "analysis": {"evaluation_trials": 500, "fixed_points": FAST_FP},
    },
    "cdi_rules": {
        "grid": {
            "task": ["cdi"],
            "architecture": ["rate"],
            "learning_rule": ["bptt", "genetic", "force", "hebbian"],
            "noise": [0.3],
        },
        "tasks": {"cdi": {"n_steps": 100, "fixed_point_levels": 1}},
        "architectures": {"rate": {"hidden_size": 50, "alpha": 0.2, "recurrent_scaling": "linear"}},
        "learning_rules": {
            "bptt": BPTT,
            "genetic": {"population_size": 20, "batch_size": 64, "max_generations": 1000},
            "force": {"trials_per_attempt": 2000, "max_attempts": 2},
            "hebbian": {"learning_rate": 1.0, "max_trials": 20000},
        },
        "training": {"stopping": VALIDATION},
        "analysis": {"evaluation_trials": 500, "fixed_points": FAST_FP},
    },
    "sine": {
        "grid": {
            "task": ["sine"],
            "architecture": ["gru"],
            "learning_rule": ["bptt"],
            "noise": [0.01],
        },
        "tasks": {"sine": {"n_frequencies": 6}},
        "architectures": HIDDEN,
        "learning_rules": {"bptt": {**BPTT, "max_iterations": 8000}},
        "training": {"stopping": {**VALIDATION, "validation_trials": 256}},
        "analysis": {"evaluation_trials": 256, "fixed_points": {"n_initial_states": 128}},
    },
}
# Vanilla networks do not learn the integration task at learning rate 1e-2 (0 of 8
# converged in 3,000 updates); at 1e-3 they do.
STUDIES["cdi_vanilla"] = copy.deepcopy(STUDIES["cdi"])
STUDIES["cdi_vanilla"]["grid"]["architecture"] = ["vanilla"]
STUDIES["cdi_vanilla"]["learning_rules"] = {
    "bptt": {**BPTT, "learning_rate": 1e-3, "max_iterations": 6000}
}


def config_of(name: str, seeds: int) -> dict[str, Any]:
    config = copy.deepcopy(STUDIES[name])
    config["grid"]["seeds"] = seeds
    config["jobs"] = {"seeds_per_job": seeds, "checkpoint_minutes": 0}
    return config


def report(name: str, summary: xr.Dataset, seconds: float) -> None:
    task = str(summary.attrs["task"])
    status = summary["status"].values.astype(str)
    print(f"\n== {name}: {task}, {summary.sizes['network']} networks, {seconds:.0f} s")
    cells = sorted(
        set(zip(summary["architecture"].values, summary["learning_rule"].values, strict=True))
    )
    print(
        f"  {'architecture':<13}{'rule':<9}{'converged':>10}{'not conv.':>10}"
        f"{'trivial':>8}{'diverged':>9}   untrained meeting the criterion"
    )
    for arch, rule in cells:
        mine = (summary["architecture"].values == arch) & (summary["learning_rule"].values == rule)
        counts = [
            int((status[mine] == s).sum())
            for s in ("converged", "not_converged", "trivial", "diverged")
        ]
        untrained = population_rate(status[mine] == "trivial")
        print(
            f"  {arch:<13}{rule:<9}{counts[0]:>10}{counts[1]:>10}{counts[2]:>8}"
            f"{counts[3]:>9}   {untrained}"
        )
    for column, text in TASKS[task].known_result_descriptions.items():
        print(f"  known result: {text}")
        for (arch, rule), rate in rate_table(summary, f"known_{column}").items():
            print(f"    {arch:<13}{rule:<9}{rate}")
        (overall,) = rate_table(summary, f"known_{column}", by=("task",)).values()
        print(f"    {'all':<22}{overall}")


def extra_scores(name: str, workdir: Path, sweep: Sweep, summary: xr.Dataset) -> None:
    """Continuous scores behind the verdicts, over the converged networks."""
    datasets = load_analyses(summary, workdir, sweep)
    if not datasets:
        return
    if "group_line_relative_extent" in datasets[0]:
        for var in (
            "group_line_relative_extent",
            "group_line_alignment",
            "group_line_width",
            "group_line_readout_range",
            "group_line_offset",
        ):
            values = np.concatenate([ds[var].values for ds in datasets])
            print(
                f"  {var}: median {np.nanmedian(values):.3g}, "
                f"range [{np.nanmin(values):.3g}, {np.nanmax(values):.3g}]"
            )
        reasons = [
            r for ds in datasets for r in ds["group_line_rejected_by"].values.astype(str) if r
        ]
        if reasons:
            labels, counts = np.unique(reasons, return_counts=True)
            print(
                "  contexts without a line, by failed criteria: "
                + ", ".join(f"{lab} {c}" for lab, c in zip(labels, counts, strict=True))
            )
    if "cycle_frequency_error" in datasets[0]:
        cycle = np.concatenate([ds["cycle_frequency_error"].values for ds in datasets])
        focus = np.concatenate([ds["focus_rotation_error"].values for ds in datasets])
        modulus = np.concatenate([ds["focus_modulus"].values for ds in datasets])
        print(
            f"  limit-cycle frequency error (f/ω − 1) over {len(cycle)} cues: median "
            f"{np.nanmedian(np.abs(cycle)):.3f}, within 5% {np.mean(np.abs(cycle) <= 0.05):.0%}, "
            f"largest {np.nanmax(np.abs(cycle)):.3f}"
        )
        print(
            f"  leading pair at the central fixed point: rotation error median "
            f"{np.nanmedian(np.abs(focus)):.3f} (largest {np.nanmax(np.abs(focus)):.3f}), "
            f"|λ| median {np.nanmedian(modulus):.3f} (range {np.nanmin(modulus):.3f}–"
            f"{np.nanmax(modulus):.3f})"
        )
    if "n_unstable" in datasets[0] and name == "flipflop":
        census = {}
        for ds in datasets:
            fixed = ds["kind"].values.astype(str) == "fixed"
            key = tuple(
                int(c) for c in np.bincount(ds["n_unstable"].values[fixed], minlength=4)[:4]
            )
            census[key] = census.get(key, 0) + 1
        print(
            "  census (stable, 1-, 2-, 3-mode saddles): "
            + ", ".join(
                f"{list(k)} × {v}" for k, v in sorted(census.items(), key=lambda kv: -kv[1])
            )
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--studies", nargs="+", default=list(STUDIES), choices=list(STUDIES))
    parser.add_argument("--seeds", type=int, default=8)
    parser.add_argument("--workdir", type=Path, default=Path("runs/science"))
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    print(
        f"torch {torch.__version__}, CPU capability {torch.backends.cpu.get_cpu_capability()}, "
        f"{args.seeds} seeds per cell, {args.threads} thread(s)"
    )
    for name in args.studies:
        workdir = args.workdir / f"{name}-{args.seeds}"
        start = time.perf_counter()
        sweep = Sweep(config_of(name, args.seeds))
        summaries = run_in_process(sweep, workdir, log=print, threads=args.threads)
        for summary in summaries.values():
            report(name, summary, time.perf_counter() - start)
            extra_scores(name, workdir, sweep, summary)


if __name__ == "__main__":
    main()
