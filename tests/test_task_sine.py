"""Tests of the frequency-cued sine-wave task: cues, targets, seeding, probe set, noise, score."""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pytest
import torch

from rnn_analysis.tasks import TASKS, TrialBatch
from rnn_analysis.tasks.sine import Sine


def gen(seed: int) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


def reference_trial(j: int, n_steps: int) -> tuple[float, float, np.ndarray]:
    """Level, ω and target of frequency ``j`` at the study's defaults, one step at a time."""
    omega = 0.1 + j * (0.6 - 0.1) / 50
    level = j / 51 + 0.25
    return level, omega, np.array([math.sin(omega * t) for t in range(n_steps)])


def test_registered_with_defaults() -> None:
    task = TASKS["sine"]()
    assert isinstance(task, Sine)
    assert task.n_inputs == task.n_outputs == 1
    p = task.params
    assert (p.n_frequencies, p.omega_min, p.omega_max, p.level_offset) == (51, 0.1, 0.6, 0.25)
    assert p.n_steps == 100 and p.transient_steps == 0
    assert task.success_threshold == p.success_threshold == 0.9
    np.testing.assert_allclose(np.diff(task.omegas), 0.01, rtol=1e-9)
    np.testing.assert_allclose(task.levels, np.arange(51) / 51 + 0.25, rtol=0, atol=1e-15)
    assert task.levels[-1] == pytest.approx(50 / 51 + 0.25)


def test_targets_are_sines_of_the_cued_frequency() -> None:
    task = Sine()
    batch = task.generate(200, gen(0), noise=0.0)
    assert batch.inputs.shape == (200, 100, 1)
    assert batch.targets.shape == (200, 100, 1)
    assert batch.mask.shape == (200, 100)
    assert torch.equal(batch.mask, torch.ones(200, 100))
    index = batch.conditions["frequency_index"]
    assert index.shape == (200,) and index.dtype.kind == "i"
    for b in range(200):
        level, omega, target = reference_trial(int(index[b]), 100)
        assert batch.conditions["level"][b] == pytest.approx(level, abs=1e-12)
        assert batch.conditions["omega"][b] == pytest.approx(omega, abs=1e-12)
        np.testing.assert_allclose(batch.inputs[b, :, 0].numpy(), level, rtol=0, atol=1e-7)
        np.testing.assert_allclose(batch.targets[b, :, 0].numpy(), target, rtol=0, atol=1e-6)
    assert (batch.targets[:, 0] == 0).all()


def test_level_and_frequency_rise_together() -> None:
    task = Sine()
    levels, omegas = task.levels, task.omegas
    assert (np.diff(levels) > 0).all() and (np.diff(omegas) > 0).all()
    custom = Sine(n_frequencies=6, omega_min=0.2, omega_max=0.3, level_offset=0.0)
    np.testing.assert_allclose(custom.omegas, [0.2, 0.22, 0.24, 0.26, 0.28, 0.3])
    np.testing.assert_allclose(custom.levels, np.arange(6) / 6)


def test_frequencies_are_drawn_uniformly() -> None:
    index = Sine().generate(51 * 200, gen(1), noise=0.0).conditions["frequency_index"]
    counts = np.bincount(index, minlength=51)
    assert len(counts) == 51 and counts.min() > 0
    chi2 = ((counts - 200) ** 2 / 200).sum()
    assert chi2 < 90  # 50 degrees of freedom: p < 1e-3 above this


def test_transient_steps_leave_loss_and_score() -> None:
    task = Sine(transient_steps=7, n_steps=40)
    batch = task.generate(20, gen(2), noise=0.0)
    assert torch.equal(batch.mask[:, :7], torch.zeros(20, 7))
    assert torch.equal(batch.mask[:, 7:], torch.ones(20, 33))
    wrong_start = batch.targets.clone()
    wrong_start[:, :7] = 5.0
    assert torch.equal(task.score(wrong_start, batch), torch.ones(20))
    wrong_later = batch.targets.clone()
    wrong_later[:, 7:] = 0.0
    assert torch.equal(task.score(wrong_later, batch), torch.zeros(20))


def test_noisy_trials_keep_clean_targets_and_cues() -> None:
    task = Sine()
    noisy = task.generate(30, gen(4), noise=0.3)
    clean = task.generate(30, gen(4), noise=0.0)
    assert torch.equal(noisy.targets, clean.targets)
    for key in ("frequency_index", "omega", "level"):
        np.testing.assert_array_equal(noisy.conditions[key], clean.conditions[key])


def test_probe_set_is_every_frequency_noise_free_and_fixed() -> None:
    task = Sine()
    torch.manual_seed(0)
    first = task.probe_set()
    torch.manual_seed(123)
    torch.rand(1000)
    second = task.probe_set()
    third = Sine().probe_set()
    for other in (second, third):
        assert torch.equal(first.inputs, other.inputs)
        assert torch.equal(first.targets, other.targets)
        assert torch.equal(first.mask, other.mask)
        for key, value in first.conditions.items():
            np.testing.assert_array_equal(value, other.conditions[key])
    assert first.batch_size == 51
    np.testing.assert_array_equal(first.conditions["frequency_index"], np.arange(51))
    np.testing.assert_allclose(first.conditions["omega"], np.linspace(0.1, 0.6, 51))
    np.testing.assert_allclose(first.conditions["level"], np.arange(51) / 51 + 0.25)
    for j in range(51):
        level, _, target = reference_trial(j, 100)
        assert torch.equal(first.inputs[j], torch.full((100, 1), first.inputs[j, 0, 0].item()))
        assert first.inputs[j, 0, 0].item() == pytest.approx(level, abs=1e-7)
        np.testing.assert_allclose(first.targets[j, :, 0].numpy(), target, rtol=0, atol=1e-6)
    for value in first.conditions.values():
        assert isinstance(value, np.ndarray) and value.shape == (51,)


def test_static_inputs_are_the_51_cue_levels() -> None:
    task = Sine()
    static = task.static_inputs()
    assert static.values.shape == (51, 1)
    assert set(static.labels) == {"level", "omega"}
    np.testing.assert_allclose(static.values[:, 0].numpy(), np.arange(51) / 51 + 0.25, atol=1e-7)
    np.testing.assert_allclose(static.labels["level"], np.arange(51) / 51 + 0.25)
    np.testing.assert_allclose(static.labels["omega"], np.linspace(0.1, 0.6, 51))
    assert torch.equal(static.values, task.probe_set().inputs[:, 0])


def test_zero_noise_gives_clean_inputs() -> None:
    task = Sine()
    batch = task.generate(20, gen(5), noise=0.0)
    assert torch.equal(batch.inputs, batch.inputs[:, :1].expand(-1, 100, -1))
    levels = torch.as_tensor(task.levels, dtype=torch.float32)
    assert torch.isin(batch.inputs[:, 0, 0], levels).all()


@pytest.mark.parametrize("sigma", [0.01, 0.1, 0.5, 1.0])
def test_noise_std_matches_sigma(sigma: float) -> None:
    task = Sine()
    noisy = task.generate(400, gen(6), noise=sigma)
    clean = task.generate(400, gen(6), noise=0.0)
    diff = (noisy.inputs - clean.inputs).double()
    assert (diff != 0).all()
    assert diff.std().item() == pytest.approx(sigma, rel=0.02)
    assert abs(diff.mean().item()) < 0.02 * sigma
    per_step = diff.std(dim=(0, 2))
    assert torch.allclose(per_step, torch.full_like(per_step, sigma), rtol=0.15)


@pytest.mark.parametrize(
    "params",
    [
        {"n_frequencies": 0},
        {"omega_min": 0.0},
        {"omega_min": 0.7, "omega_max": 0.6},
        {"omega_min": 0.3, "omega_max": 0.3},
        {"n_steps": 1},
        {"transient_steps": -1},
        {"n_steps": 10, "transient_steps": 9},
    ],
)
def test_invalid_params_are_refused(params: dict[str, Any]) -> None:
    with pytest.raises(ValueError):
        Sine(**params)


def test_score_is_one_minus_nmse_clipped() -> None:
    task = Sine()
    batch = task.generate(300, gen(9), noise=0.3)
    targets = batch.targets
    assert torch.equal(task.score(targets, batch), torch.ones(300))
    assert torch.allclose(task.score(0.9 * targets, batch), torch.full((300,), 0.99))
    assert torch.allclose(task.score(0.5 * targets, batch), torch.full((300,), 0.75))
    assert torch.equal(task.score(torch.zeros_like(targets), batch), torch.zeros(300))
    assert torch.equal(task.score(-targets, batch), torch.zeros(300))
    assert torch.equal(task.score(torch.full_like(targets, math.nan), batch), torch.zeros(300))


def test_score_by_hand() -> None:
    task = Sine(n_steps=4)
    targets = torch.tensor([[[0.0], [1.0], [-1.0], [0.5]]])
    batch = TrialBatch(torch.ones(1, 4, 1), targets, torch.ones(1, 4))
    outputs = torch.tensor([[[0.1], [0.8], [-1.0], [0.5]]])
    nmse = (0.01 + 0.04) / 2.25
    assert task.score(outputs, batch).tolist() == pytest.approx([1 - nmse])


def test_neighbouring_frequency_fails_the_criterion() -> None:
    task = Sine()
    probe = task.probe_set()
    shifted = torch.cat([probe.targets[1:], probe.targets[-2:-1]])
    scores = task.score(shifted, probe)
    assert scores.max().item() < task.success_threshold
    assert scores.min().item() > 0.3


def test_score_broadcasts_over_ensemble() -> None:
    task = Sine()
    batch = task.generate(10, gen(2), noise=0.0)
    outputs = torch.stack([batch.targets, -batch.targets, 0.5 * batch.targets])
    scores = task.score(outputs, batch)
    assert scores.shape == (3, 10)
    assert torch.equal(scores[0], torch.ones(10))
    assert torch.equal(scores[1], torch.zeros(10))
    assert torch.allclose(scores[2], torch.full((10,), 0.75))
