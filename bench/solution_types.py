"""Solution types of trained populations, as the space-of-solutions study charted them.

    python bench/solution_types.py                     # three tasks, default seeds
    python bench/solution_types.py --tasks delayed_discrimination --seeds gru=12 vanilla=12
    python bench/solution_types.py --workdir runs/solution_types --threads 2

For each of the study's tasks (delayed discrimination, interval discrimination, time
reproduction) GRU and vanilla networks of 32 units are trained by BPTT at input noise
0.1, one sweep per architecture because they learn at different rates (GRU: learning
rate 1e-2, 3,000 updates; vanilla: 3e-3, 8,000 updates; seeds per ``--seeds``). The
sweeps run the workflow's own jobs and files under ``--workdir``
(:func:`rnn_analysis.inprocess.run_in_process`; a rerun reuses what is there), and the
networks of both are summarised and typed together. Printed, over the converged
networks:

* the statuses per architecture;
* the reduced-graph isomorphism classes and the solution types they are grouped into,
  per architecture, with the share of the converged networks the five largest classes
  and the named types cover;
* the behaviour types (clusters of extrapolation profiles) and their agreement with the
  graph types (adjusted Rand index);
* how well a cross-validated classifier predicts the solution type from neural features
  recorded during training, against the majority-class baseline.

The tables in docs/benchmarks.md ("Solution types") come from this script. Set
``ATEN_CPU_CAPABILITY`` and ``MKL_CBWR`` to rerun on another numeric path.
"""

from __future__ import annotations

import argparse
import time
from collections import Counter
from pathlib import Path
from typing import Any

import numpy as np
import torch
import xarray as xr

from rnn_analysis.aggregate.solution_space import predict_summary_types
from rnn_analysis.aggregate.summary import summarise
from rnn_analysis.config import Sweep
from rnn_analysis.inprocess import run_in_process
from rnn_analysis.io import ANALYSIS_FILE

TASKS = ["delayed_discrimination", "interval_discrimination", "time_reproduction"]


#: Per architecture: BPTT learning rate and budget.
TRAINING = {"gru": (1e-2, 3000), "vanilla": (3e-3, 8000)}
#: Seeds per architecture and task (interval discrimination converges least often).
SEEDS = {
    "delayed_discrimination": {"gru": 24, "vanilla": 24},
    "interval_discrimination": {"gru": 32, "vanilla": 16},
    "time_reproduction": {"gru": 24, "vanilla": 16},
}


def config_of(task: str, architecture: str, seeds: int) -> dict[str, Any]:
    """The sweep of one task and architecture: 32 units, BPTT, noise 0.1."""
    learning_rate, budget = TRAINING[architecture]
    return {
        "grid": {
            "task": [task],
            "architecture": [architecture],
            "learning_rule": ["bptt"],
            "noise": [0.1],
            "seeds": seeds,
        },
        "architectures": {architecture: {"hidden_size": 32}},
        "learning_rules": {
            "bptt": {"learning_rate": learning_rate, "batch_size": 64, "max_iterations": budget}
        },
        "training": {"stopping": {"validate_every": 25, "validation_trials": 300, "window": 3}},
        "analysis": {
            "evaluation_trials": 500,
            "psychometric_repeats": 20,
            "fixed_points": {"n_initial_states": 128, "max_iterations": 1000},
        },
        "jobs": {"seeds_per_job": seeds, "checkpoint_minutes": 0},
    }


def report(task: str, summary: xr.Dataset, sweep: Sweep, seconds: float) -> None:
    status = summary["status"].values.astype(str)
    archs = summary["architecture"].values.astype(str)
    types = summary["solution_type"].values.astype(str)
    classes = summary["solution_class"].values.astype(str)
    behaviour = summary["behaviour_type"].values.astype(str)
    typed = types != ""
    print(f"\n== {task}: {summary.sizes['network']} networks, {seconds:.0f} s")
    for arch in sorted(set(archs)):
        mine = archs == arch
        counts = Counter(status[mine].tolist())
        print(f"  {arch:<9} " + ", ".join(f"{k} {v}" for k, v in sorted(counts.items())))
    n = int(typed.sum())
    if not n:
        print("  no typed network")
        return
    sizes = Counter(classes[typed].tolist()).most_common()
    top5 = sum(c for _, c in sizes[:5])
    attrs = summary.attrs
    print(
        f"  {n} typed networks: {len(sizes)} graph classes (sizes {[c for _, c in sizes]}); "
        f"the 5 largest cover {top5}/{n} ({top5 / n:.0%})"
    )
    print(
        f"  {attrs.get('solution_space_n_types')} types covering "
        f"{float(attrs.get('solution_space_type_coverage', np.nan)):.0%}:"
    )
    names = sorted(set(types[typed]), key=lambda t: (t == "other", len(t), t))
    print(f"    {'architecture':<13}" + "".join(f"{t:>8}" for t in names))
    for arch in sorted(set(archs[typed])):
        mine = typed & (archs == arch)
        print(f"    {arch:<13}" + "".join(f"{int((types[mine] == t).sum()):>8}" for t in names))
    b = Counter(behaviour[behaviour != ""].tolist())
    print(
        f"  behaviour types: {dict(sorted(b.items()))}; adjusted Rand index with the graph "
        f"types {float(attrs.get('solution_space_type_behaviour_ari', np.nan)):.2f} over "
        f"{attrs.get('solution_space_type_behaviour_n')} networks"
    )
    errors = summary["n_probe_errors"].values[typed]
    print(
        f"  probe trials answered wrongly (left out of the graphs): median "
        f"{np.median(errors):.0f}, range [{errors.min()}, {errors.max()}]"
    )
    prediction = predict_summary_types(summary, sweep.aggregate, log=lambda _: None)
    accuracy = float(prediction["type_prediction_accuracy"])
    reason = prediction["type_prediction_accuracy"].attrs.get("type_prediction_reason", "")
    print(
        f"  type from training features: cross-validated accuracy {accuracy:.2f} vs majority "
        f"baseline {float(prediction['type_prediction_baseline']):.2f} over "
        f"{int(prediction['type_prediction_n_networks'])} networks"
        + (f" ({reason})" if reason else "")
    )
    features = sorted(str(v) for v in summary.data_vars if str(v).startswith("extrapolation_f"))
    for name in features:
        values = summary[name].values[typed]
        print(
            f"  {name}: median {np.nanmedian(values):.3g}, "
            f"range [{np.nanmin(values):.3g}, {np.nanmax(values):.3g}]"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--tasks", nargs="+", default=TASKS, choices=TASKS)
    parser.add_argument(
        "--seeds", nargs="*", default=[], help="architecture=count, overriding SEEDS"
    )
    parser.add_argument("--workdir", type=Path, default=Path("runs/solution_types"))
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args()
    override = {k: int(v) for k, v in (item.split("=") for item in args.seeds)}
    torch.set_num_threads(args.threads)
    print(
        f"torch {torch.__version__}, CPU capability {torch.backends.cpu.get_cpu_capability()}, "
        f"{args.threads} thread(s)"
    )
    for task in args.tasks:
        start = time.perf_counter()
        analyses: list[Path] = []
        sweep = None
        for arch in TRAINING:
            seeds = override.get(arch, SEEDS[task][arch])
            workdir = args.workdir / f"{task}-{arch}-{seeds}"
            sweep = Sweep(config_of(task, arch, seeds))
            run_in_process(sweep, workdir, log=print, threads=args.threads)
            results = workdir / sweep.results.rstrip("/") / "networks"
            analyses += [results / n.key / ANALYSIS_FILE for n in sweep.networks]
        assert sweep is not None
        summary = summarise(task, analyses, sweep.aggregate.to_dict(), log=print)
        report(task, summary, sweep, time.perf_counter() - start)


if __name__ == "__main__":
    main()
