"""Tests of the flip-flop task: targets, pulse statistics, seeding, probe set, noise, score."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from rnn_analysis.tasks import TASKS, TrialBatch
from rnn_analysis.tasks.flipflop import FlipFlop


def gen(seed: int) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


def reference_targets(inputs: np.ndarray) -> np.ndarray:
    """Sign of the last pulse on each channel, 0 before the first, one step at a time."""
    batch, steps, channels = inputs.shape
    targets = np.zeros_like(inputs)
    for b in range(batch):
        for k in range(channels):
            held = 0.0
            for t in range(steps):
                if inputs[b, t, k] != 0:
                    held = float(np.sign(inputs[b, t, k]))
                targets[b, t, k] = held
    return targets


def test_registered_with_defaults() -> None:
    task = TASKS["flipflop"]()
    assert isinstance(task, FlipFlop)
    assert task.n_inputs == task.n_outputs == 3
    assert task.params.pulse_probability == 0.05
    assert task.success_threshold == task.params.success_threshold


@pytest.mark.parametrize("initial_pulses", [True, False])
@pytest.mark.parametrize("n_bits", [1, 3, 5])
def test_targets_hold_sign_of_last_pulse(n_bits: int, initial_pulses: bool) -> None:
    task = FlipFlop(
        n_bits=n_bits, n_steps=50, pulse_probability=0.08, initial_pulses=initial_pulses
    )
    batch = task.generate(40, gen(0), noise=0.0)
    assert batch.inputs.shape == (40, 50, n_bits)
    assert batch.targets.shape == (40, 50, n_bits)
    assert batch.mask.shape == (40, 50)
    assert torch.equal(batch.mask, torch.ones(40, 50))
    inputs = batch.inputs.numpy()
    assert set(np.unique(inputs)) == {-1.0, 0.0, 1.0}
    np.testing.assert_array_equal(batch.targets.numpy(), reference_targets(inputs))
    assert (batch.targets == 1).any() and (batch.targets == -1).any()
    # With initial pulses every output always has a sign to hold; without, it is 0
    # until the channel's first pulse.
    assert bool((batch.targets == 0).any()) is not initial_pulses
    assert bool((batch.inputs[:, 0] != 0).all()) is initial_pulses
    np.testing.assert_array_equal(batch.conditions["n_pulses"], (inputs != 0).sum(axis=(1, 2)))


def test_noisy_trials_keep_clean_targets() -> None:
    task = FlipFlop(n_steps=60)
    noisy = task.generate(30, gen(4), noise=0.5)
    clean = task.generate(30, gen(4), noise=0.0)
    assert torch.equal(noisy.targets, clean.targets)
    np.testing.assert_array_equal(noisy.targets.numpy(), reference_targets(clean.inputs.numpy()))


@pytest.mark.parametrize("p", [0.05, 0.2])
def test_pulse_rate_matches_probability(p: float) -> None:
    task = FlipFlop(n_steps=100, pulse_probability=p)
    inputs = task.generate(500, gen(1), noise=0.0).inputs
    assert bool((inputs[:, 0] != 0).all())  # the initial pulses
    inputs = inputs[:, 1:]
    pulses = inputs != 0
    assert pulses.float().mean().item() == pytest.approx(p, abs=0.005)
    positive = (inputs[pulses] > 0).float().mean().item()
    assert positive == pytest.approx(0.5, abs=0.03)
    per_channel = pulses.float().mean(dim=(0, 1))
    assert torch.allclose(per_channel, torch.full_like(per_channel, p), atol=0.01)


def test_probe_set_is_fixed_and_noise_free() -> None:
    task = FlipFlop(probe_trials=12)
    torch.manual_seed(0)
    first = task.probe_set()
    torch.manual_seed(123)
    torch.rand(1000)
    second = task.probe_set()
    third = FlipFlop(probe_trials=12).probe_set()
    for other in (second, third):
        assert torch.equal(first.inputs, other.inputs)
        assert torch.equal(first.targets, other.targets)
    assert first.batch_size == 12
    assert set(np.unique(first.inputs.numpy())) <= {-1.0, 0.0, 1.0}
    assert (first.inputs != 0).any()
    np.testing.assert_array_equal(first.targets.numpy(), reference_targets(first.inputs.numpy()))
    np.testing.assert_array_equal(first.conditions["trial"], np.arange(12))
    reseeded = FlipFlop(probe_trials=12, probe_seed=99).probe_set()
    assert not torch.equal(first.inputs, reseeded.inputs)


def test_zero_noise_gives_clean_inputs() -> None:
    task = FlipFlop()
    batch = task.generate(20, gen(5), noise=0.0)
    assert set(np.unique(batch.inputs.numpy())) <= {-1.0, 0.0, 1.0}


@pytest.mark.parametrize("sigma", [0.1, 0.5, 1.0])
def test_noise_std_matches_sigma(sigma: float) -> None:
    task = FlipFlop(n_steps=100)
    noisy = task.generate(200, gen(6), noise=sigma)
    clean = task.generate(200, gen(6), noise=0.0)
    diff = (noisy.inputs - clean.inputs).double()
    assert set(np.unique(clean.inputs.numpy())) <= {-1.0, 0.0, 1.0}
    assert (diff != 0).all()
    assert diff.std().item() == pytest.approx(sigma, rel=0.02)
    assert abs(diff.mean().item()) < 0.02 * sigma
    per_channel = diff.std(dim=(0, 1))
    assert torch.allclose(per_channel, torch.full_like(per_channel, sigma), rtol=0.03)


def test_invalid_params_are_refused() -> None:
    with pytest.raises(ValueError):
        FlipFlop(pulse_probability=0.0)
    with pytest.raises(ValueError):
        FlipFlop(n_bits=0)


def test_static_inputs_are_zero() -> None:
    static = FlipFlop(n_bits=4).static_inputs()
    assert torch.equal(static.values, torch.zeros(1, 4))


def test_score_perfect_zero_and_random() -> None:
    task = FlipFlop()
    batch = task.generate(300, gen(9), noise=0.3)
    assert torch.equal(task.score(batch.targets, batch), torch.ones(300))
    within = batch.targets + 0.45 * torch.where(batch.targets > 0, -1.0, 1.0)
    assert torch.equal(task.score(within, batch), torch.ones(300))
    assert torch.equal(task.score(torch.zeros_like(batch.targets), batch), torch.zeros(300))
    assert torch.equal(task.score(-batch.targets, batch), torch.zeros(300))
    coin = torch.where(torch.rand(batch.targets.shape, generator=gen(10)) < 0.5, -1.0, 1.0)
    assert task.score(coin, batch).mean().item() == pytest.approx(0.5, abs=0.03)


def test_score_counts_fraction_of_scored_entries() -> None:
    task = FlipFlop(n_bits=1, n_steps=4)
    targets = torch.tensor([[[0.0], [1.0], [1.0], [-1.0]]])
    batch = TrialBatch(targets.clone(), targets, torch.ones(1, 4))
    outputs = torch.tensor([[[5.0], [0.8], [-0.2], [-0.9]]])
    assert task.score(outputs, batch).tolist() == pytest.approx([2 / 3])


def test_score_broadcasts_over_ensemble() -> None:
    task = FlipFlop()
    batch = task.generate(10, gen(2), noise=0.0)
    outputs = torch.stack([batch.targets, -batch.targets])
    scores = task.score(outputs, batch)
    assert scores.shape == (2, 10)
    assert torch.equal(scores[0], torch.ones(10))
    assert torch.equal(scores[1], torch.zeros(10))


@pytest.mark.parametrize("name", TASKS.names())
def test_input_pulses_match_the_tasks_inputs(name: str) -> None:
    task = TASKS[name]()
    pulses = task.input_pulses()
    if name in ("cdi", "rdm", "sine", "multisensory"):
        assert pulses is None
        return
    assert pulses is not None
    assert pulses.values.shape[1] == task.n_inputs
    assert len(pulses.names) == len(pulses.steps) == pulses.values.shape[0]
    assert len(set(pulses.names.tolist())) == len(pulses.names)
    assert (pulses.values.abs().sum(dim=1) > 0).all()
    # every pulse is an input the task really gives: its value occurs in some trial
    batch = task.generate(256, torch.Generator().manual_seed(0), 0.0)
    seen = batch.inputs.reshape(-1, task.n_inputs)
    for value, steps in zip(pulses.values, pulses.steps, strict=True):
        hits = (seen == value).all(dim=1)
        assert hits.any(), (name, value)
        run = hits.reshape(batch.inputs.shape[:2]).int()
        longest = max(_longest_run(row) for row in run.tolist())
        assert longest >= steps
        if name != "flipflop":
            assert longest == steps, (name, value, longest)


def _longest_run(row: list[int]) -> int:
    best = current = 0
    for v in row:
        current = current + 1 if v else 0
        best = max(best, current)
    return best


# -- what every task of the registry shares ---------------------------------------------


@pytest.mark.parametrize("name", TASKS.names())
def test_same_seed_same_trials_whatever_the_global_rng(name: str) -> None:
    task = TASKS[name]()
    torch.manual_seed(0)
    a = task.generate(32, gen(7), noise=0.1)
    b = task.generate(32, gen(7), noise=0.1)
    c = task.generate(32, gen(8), noise=0.1)
    assert torch.equal(a.inputs, b.inputs)
    assert torch.equal(a.targets, b.targets)
    assert not torch.equal(a.inputs, c.inputs)
    assert not torch.equal(a.targets, c.targets)
    torch.manual_seed(1)
    np.random.seed(1)
    d = task.generate(32, gen(7), noise=0.1)
    assert torch.equal(a.inputs, d.inputs)


@pytest.mark.parametrize("name", TASKS.names())
def test_negative_noise_is_refused(name: str) -> None:
    with pytest.raises(ValueError, match="noise"):
        TASKS[name]().generate(4, gen(0), noise=-0.1)


@pytest.mark.parametrize("sigma", [0.1, 0.5, 1.0])
@pytest.mark.parametrize("name", TASKS.names())
def test_noise_has_std_sigma_on_the_stimulus_channels_only(name: str, sigma: float) -> None:
    task = TASKS[name]()
    noisy = task.generate(200, gen(6), noise=sigma)
    clean = task.generate(200, gen(6), noise=0.0)
    diff = (noisy.inputs - clean.inputs).double()
    stimulus = torch.zeros(task.n_inputs, dtype=torch.bool)
    stimulus[task.stimulus_channels] = True
    assert torch.equal(diff[..., ~stimulus], torch.zeros_like(diff[..., ~stimulus]))
    diff = diff[..., stimulus]
    assert (diff != 0).all()
    assert diff.std().item() == pytest.approx(sigma, rel=0.02)
    assert abs(diff.mean().item()) < 0.02 * sigma
    per_channel = diff.std(dim=(0, 1))
    assert torch.allclose(per_channel, torch.full_like(per_channel, sigma), rtol=0.03)
