"""Frequency-cued sine waves (docs/science.md §7): trained networks oscillate at the cued
frequency, as rates over a population.

Six 32-unit GRUs are trained once for the module on 6 cued frequencies (0.1 to 0.6
rad/step, 100-step trials, input noise 0.01) with the task's default criterion (mean
score ≥ 0.9 and validation loss ≤ 0.01). The primary measure is the frequency of the
limit cycle found by simulation (2,000 steps after the trial's horizon); the rotation of
the leading eigenvalue pair at the central fixed point is a diagnostic reported beside
it with its modulus.
"""

from __future__ import annotations

import numpy as np
import pytest

from rnn_analysis.aggregate.rates import population_rate, rate_table
from rnn_analysis.config import Sweep

pytestmark = [pytest.mark.slow, pytest.mark.science]

SEEDS = 6
CONFIG = {
    "grid": {
        "task": ["sine"],
        "architecture": ["gru"],
        "learning_rule": ["bptt"],
        "noise": [0.01],
        "seeds": SEEDS,
    },
    "tasks": {"sine": {"n_frequencies": 6}},
    "architectures": {"gru": {"hidden_size": 32}},
    "learning_rules": {"bptt": {"learning_rate": 0.01, "batch_size": 64, "max_iterations": 8000}},
    "training": {"stopping": {"validate_every": 25, "validation_trials": 256, "window": 5}},
    "analysis": {"evaluation_trials": 256, "fixed_points": {"n_initial_states": 128}},
    "jobs": {"seeds_per_job": SEEDS},
}


@pytest.fixture(scope="module")
def population(tmp_path_factory: pytest.TempPathFactory) -> dict:
    from rnn_analysis.inprocess import load_analyses, run_in_process

    workdir = tmp_path_factory.mktemp("sine_population")
    sweep = Sweep(CONFIG)
    summary = run_in_process(sweep, workdir, log=lambda _: None)["sine"]
    return {"summary": summary, "analyses": load_analyses(summary, workdir, sweep)}


def test_networks_learn_to_the_loss_criterion(population) -> None:
    summary = population["summary"]
    status = summary["status"].values.astype(str)
    assert population_rate(status == "converged").at_least(5 / 6), status
    assert (summary["untrained_validation_score"].values < 0.1).all()
    assert (summary["performance_noise_free"].values[status == "converged"] > 0.95).all()


def test_limit_cycles_at_the_cued_frequencies(population) -> None:
    """Every cue of every converged network has a limit cycle; over the (network, cue)
    pairs the frequency error is small: median ≤ 3%, ≥ 70% of pairs within 5%.

    The studies' claim (nearly every network within a few % at every cue) does not hold
    at this scale: trials are 100 steps long and the cycle is measured 2,000 steps past
    them, where one cue of a network may run 10–15% off. Measured on four numeric paths
    (default AVX-512, avx2 with MKL's AVX2 and compatible paths, ATen's default kernels):
    within 5% at every cue in 4, 4, 4 and 5 of 6 networks, and 5 of 8 in
    bench/science.py — 22 of 32 (69%); pairs within 5%: 89%, 89%, 86%, 92% (85% in the
    bench); largest error 0.072, 0.072, 0.147, 0.076. No bound is put on the largest
    error, only rates with room for another machine's rounding (at 69% per network, 2 or
    more of 6 fail to appear with probability ~1%); docs/benchmarks.md has the figures."""
    analyses = population["analyses"]
    errors = np.abs(np.concatenate([ds["cycle_frequency_error"].values for ds in analyses]))
    assert np.isfinite(errors).all(), errors
    assert np.median(errors) <= 0.03, np.round(errors, 3)
    assert population_rate(errors <= 0.05).at_least(0.7), np.round(errors, 3)
    (every,) = rate_table(
        population["summary"], "known_cycles_at_cued_frequency", by=("task",)
    ).values()
    assert every.at_least(2 / 6), every


def test_linearisation_rotates_near_the_cue_as_a_diagnostic(population) -> None:
    """Inside every cycle lies a fixed point whose leading pair is mostly complex, and
    mostly an unstable focus (|λ| > 1), but not always: a stable focus inside a cycle
    also occurs (|λ| 0.98 under one cue of one network on the compatible path). Far from a Hopf
    bifurcation its rotation is only a rough guide to the cycle's frequency, so these
    are rates over the (network, cue) pairs, not claims about each pair."""
    analyses = population["analyses"]
    for ds in analyses:
        assert (ds["focus_centre"].values.astype(str) == "cycle").all()
    modulus = np.concatenate([ds["focus_modulus"].values for ds in analyses])
    error = np.concatenate([ds["focus_rotation_error"].values for ds in analyses])
    assert np.isfinite(modulus).all() and np.isfinite(error).all()
    assert population_rate(error > -1).at_least(0.9), np.round(error, 3)  # complex pair
    assert population_rate(modulus > 1).at_least(0.75), np.round(modulus, 3)
    assert np.median(np.abs(error)) < 0.5, np.round(error, 3)
