"""The untrained baseline of every task: which fraction of networks meets the stop
criterion before any update (docs/science.md §7: such a network proves nothing).

Thirty networks per setting, validated exactly as training validates them (same
initialisation, validation set and criterion) but without training.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest

from rnn_analysis.aggregate.rates import population_rate
from rnn_analysis.training.run import train_ensemble, untrained_validation

pytestmark = pytest.mark.science

N = 30
WEAK_RATE = {"hidden_size": 50, "alpha": 0.2, "recurrent_scaling": "linear"}


def specs(
    task: str, architecture: str, noise: float, task_params: dict, arch_params: dict, n: int = N
) -> list[dict[str, Any]]:
    return [
        {
            "network": {
                "task": task,
                "architecture": architecture,
                "learning_rule": "bptt",
                "noise": noise,
                "seed": seed,
            },
            "task": task_params,
            "architecture": arch_params,
            "learning_rule": {"learning_rate": 1e-3, "batch_size": 32, "max_iterations": 2},
            "stopping": {"validation_trials": 500, "validate_every": 1, "window": 1},
        }
        for seed in range(n)
    ]


@pytest.mark.parametrize(
    ("task", "architecture", "noise", "task_params", "arch_params"),
    [
        ("flipflop", "gru", 0.0, {}, {"hidden_size": 32}),
        ("flipflop", "vanilla", 0.0, {}, {"hidden_size": 32}),
        ("sine", "gru", 0.01, {"n_frequencies": 6}, {"hidden_size": 32}),
        ("cdi", "gru", 0.3, {"n_steps": 100}, {"hidden_size": 32}),
        ("cdi", "rate", 0.3, {"n_steps": 100}, WEAK_RATE),
    ],
)
def test_untrained_networks_do_not_solve_the_task(
    task: str, architecture: str, noise: float, task_params: dict, arch_params: dict, one_thread
) -> None:
    results = untrained_validation(specs(task, architecture, noise, task_params, arch_params))
    rate = population_rate([r["meets_criterion"] for r in results])
    assert rate.k == 0, rate


def test_weakly_initialised_rate_networks_solve_rdm_at_low_noise_untrained(one_thread) -> None:
    """The learning-rules study's random-dots setting at noise 0.1: a network that only
    passes the evidence's sign to its output (or its opposite) scores ~0.9 or ~0.1
    untrained, so about half meet the criterion before training; at noise 1.0 none do."""
    low = untrained_validation(specs("rdm", "rate", 0.1, {"n_steps": 100}, WEAK_RATE))
    rate = population_rate([r["meets_criterion"] for r in low])
    assert 0.25 <= rate.fraction <= 0.75, rate
    scores = np.array([r["score"] for r in low])
    assert ((scores > 0.8) | (scores < 0.2)).mean() >= 0.8, scores
    high = untrained_validation(specs("rdm", "rate", 1.0, {"n_steps": 100}, WEAK_RATE))
    assert not any(r["meets_criterion"] for r in high)


def test_training_flags_exactly_the_networks_that_met_the_criterion_untrained(
    tmp_path: Path, one_thread
) -> None:
    group = specs("rdm", "rate", 0.1, {"n_steps": 100}, WEAK_RATE, n=6)
    expected = [r["meets_criterion"] for r in untrained_validation(group)]
    assert any(expected) and not all(expected)
    folders = [tmp_path / f"seed{s}" for s in range(len(group))]
    statuses = train_ensemble(group, folders, device="cpu", log=lambda _: None)
    assert [s == "trivial" for s in statuses] == expected
