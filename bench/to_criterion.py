"""Train one network to the stop criterion and print the updates and wall time it took.

    python bench/to_criterion.py                                   # hebbian, the study's setting
    python bench/to_criterion.py --rule '{"learning_rate": 1.0}'   # override rule values
    python bench/to_criterion.py --rule-name force --seed 3
    python bench/to_criterion.py --task-name cdi --rule-name genetic --rule '{"n_parents": 5}'

For rules too slow to reach the criterion inside the test suite. The default is the
learning-rules study's Hebbian setting: a 50-unit rate network (α 0.1, tanh, weak g/N
initialisation) on 750-step ``rdm`` trials with input noise 0.1; the rule's defaults
(perturbation probability 0.003, amplitude 16, η 0.01, max |Δw| 1e-4, one trial per
update); validation on 2000 noisy trials every ``--validate-every`` updates; converged
when the minimum of the last 10 validation accuracies is ≥ 0.9. ``--task``, ``--arch``,
``--rule`` and ``--stopping`` take JSON objects merged over those values. Progress lines
go to stderr; the last line on stdout is the result.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

import torch

from rnn_analysis.training.run import train_ensemble


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--task-name", default="rdm")
    parser.add_argument("--arch-name", default="rate")
    parser.add_argument("--rule-name", default="hebbian")
    parser.add_argument("--seed", type=int, default=2)
    parser.add_argument("--noise", type=float, default=0.1)
    parser.add_argument("--task", type=json.loads, default={})
    parser.add_argument("--arch", type=json.loads, default={})
    parser.add_argument("--rule", type=json.loads, default={})
    parser.add_argument("--stopping", type=json.loads, default={})
    parser.add_argument("--validate-every", type=int, default=50)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--device", default="auto")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)

    spec = {
        "network": {
            "task": args.task_name,
            "architecture": args.arch_name,
            "learning_rule": args.rule_name,
            "noise": args.noise,
            "seed": args.seed,
        },
        "task": {"n_steps": 750, **args.task},
        "architecture": {"hidden_size": 50, **args.arch},
        "learning_rule": dict(args.rule),
        "stopping": {
            "validate_every": args.validate_every,
            "validation_trials": 2000,
            "window": 10,
            "threshold": 0.9,
            **args.stopping,
        },
    }
    print(json.dumps(spec), flush=True)
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp) / "network"
        start = time.perf_counter()
        (status,) = train_ensemble(
            [spec], [folder], args.device, log=lambda m: print(m, file=sys.stderr, flush=True)
        )
        wall = time.perf_counter() - start
        meta = json.loads((folder / "meta.json").read_text())
    print(
        f"{status}: {meta['iterations']} updates in {wall:.1f} s "
        f"({meta['iterations'] / wall:.1f} updates/s), "
        f"final validation score {meta['final_validation_score']}"
    )
    sys.exit(0 if status == "converged" else 1)


if __name__ == "__main__":
    main()
