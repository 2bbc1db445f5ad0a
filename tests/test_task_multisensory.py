"""Tests of the multisensory rate-discrimination task."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch

from rnn_analysis import seeding
from rnn_analysis.architectures import ARCHITECTURES
from rnn_analysis.errors import ConfigError
from rnn_analysis.hyperparameters import from_mapping
from rnn_analysis.io import load_models
from rnn_analysis.tasks import TASKS
from rnn_analysis.tasks.multisensory import Multisensory
from rnn_analysis.training.run import train_ensemble

SHORT = {"stimulus_onset": 20, "stimulus_steps": 30, "response_steps": 10}


def gen(seed: int) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


# -- defaults and parameters ----------------------------------------------------------


def test_registered_with_study_defaults() -> None:
    task = TASKS["multisensory"]()
    assert isinstance(task, Multisensory)
    p = task.params
    assert p.stimulus_onset == 200
    assert (p.stimulus_steps, p.response_steps, p.n_steps) == (200, 100, 500)
    assert (p.rate_low, p.rate_high, p.rate_threshold, p.rate_scale) == (9, 16, 12.5, 16)
    assert task.n_inputs == 2 and task.n_outputs == 1
    assert task.success_threshold == 0.9
    assert task.extrapolation_set() is None


def test_invalid_params_are_refused() -> None:
    with pytest.raises(ValueError):
        Multisensory(rate_threshold=17.0)
    with pytest.raises(ValueError):
        Multisensory(response_steps=0)
    with pytest.raises(ValueError, match="probe_rates"):
        Multisensory(probe_rates=(10.0, 12.5))
    with pytest.raises(ConfigError, match="n_steps"):
        from_mapping(Multisensory.Params, {"n_steps": 100}, "tasks.multisensory")


# -- trial generation -------------------------------------------------------------------


def test_trial_structure_and_targets() -> None:
    task = Multisensory(**SHORT)
    batch = task.generate(3000, gen(0), noise=0.0)
    assert batch.inputs.shape == (3000, 60, 2)
    assert batch.targets.shape == (3000, 60, 1)
    assert batch.mask.shape == (3000, 60)
    inputs = batch.inputs.numpy()
    rate, modality = batch.conditions["rate"], batch.conditions["modality"]
    assert rate.dtype.kind == "f" and modality.dtype.kind == "U"
    # Silence before the stimulus and during the response period.
    assert (inputs[:, :20] == 0).all() and (inputs[:, 50:] == 0).all()
    stimulus = inputs[:, 20:50]
    np.testing.assert_array_equal(stimulus, np.broadcast_to(stimulus[:, :1], stimulus.shape))
    level = rate / 16
    auditory = np.where(np.isin(modality, ["auditory", "both"]), level, 0.0)
    visual = np.where(np.isin(modality, ["visual", "both"]), level, 0.0)
    np.testing.assert_allclose(stimulus[:, 0, 0], auditory, rtol=1e-6)
    np.testing.assert_allclose(stimulus[:, 0, 1], visual, rtol=1e-6)
    # Rates uniform on [9, 16]; trial types equally likely.
    assert rate.min() >= 9 and rate.max() <= 16
    assert rate.mean() == pytest.approx(12.5, abs=0.1)
    assert np.histogram(rate, bins=7, range=(9, 16))[0].min() > 350
    for name in ("auditory", "visual", "both"):
        assert (modality == name).mean() == pytest.approx(1 / 3, abs=0.03)
    assert set(np.unique(modality)) == {"auditory", "visual", "both"}
    # Target ±1 by the threshold in the response period, 0 elsewhere; loss only there.
    choice = np.where(rate > 12.5, 1.0, -1.0)
    targets = batch.targets.numpy()[..., 0]
    np.testing.assert_array_equal(targets[:, 50:], np.broadcast_to(choice[:, None], (3000, 10)))
    np.testing.assert_array_equal(targets[:, :50], 0.0)
    expected_mask = torch.zeros(3000, 60)
    expected_mask[:, 50:] = 1.0
    assert torch.equal(batch.mask, expected_mask)


def test_default_timing() -> None:
    batch = Multisensory().generate(50, gen(1), noise=0.0)
    on = (batch.inputs != 0).any(dim=(0, 2))
    assert on.nonzero().min().item() == 200 and on.nonzero().max().item() == 399
    assert torch.equal(batch.mask[0].nonzero()[:, 0], torch.arange(400, 500))


def test_noisy_trials_keep_clean_targets() -> None:
    task = Multisensory(**SHORT)
    noisy = task.generate(30, gen(4), noise=0.5)
    clean = task.generate(30, gen(4), noise=0.0)
    assert torch.equal(noisy.targets, clean.targets)
    assert torch.equal(noisy.mask, clean.mask)
    np.testing.assert_array_equal(noisy.conditions["rate"], clean.conditions["rate"])
    np.testing.assert_array_equal(noisy.conditions["modality"], clean.conditions["modality"])


def test_zero_noise_gives_clean_inputs() -> None:
    batch = Multisensory(**SHORT).generate(200, gen(5), noise=0.0)
    level = torch.tensor(batch.conditions["rate"] / 16, dtype=torch.float32).view(-1, 1, 1)
    assert ((batch.inputs == 0) | (batch.inputs == level)).all()
    assert (batch.inputs[:, 20:50] != 0).any(dim=-1).all()


# -- probe, psychometric and fixed-point sets -------------------------------------------


@pytest.mark.parametrize("name", ["probe_set", "psychometric_set"])
def test_fixed_sets_are_fixed_noise_free_and_labelled(name: str) -> None:
    task = Multisensory(**SHORT)
    torch.manual_seed(0)
    first = getattr(task, name)()
    torch.manual_seed(1)
    torch.rand(100)
    for other in (getattr(task, name)(), getattr(Multisensory(**SHORT), name)()):
        assert torch.equal(first.inputs, other.inputs)
        assert torch.equal(first.targets, other.targets)
        for key in first.conditions:
            np.testing.assert_array_equal(first.conditions[key], other.conditions[key])
    rates = np.arange(9.0, 17.0)
    assert first.batch_size == 24
    np.testing.assert_array_equal(first.conditions["rate"], np.tile(rates, 3))
    np.testing.assert_array_equal(
        first.conditions["modality"], np.repeat(["auditory", "visual", "both"], 8)
    )
    stimulus = first.inputs[:, 20:50].numpy()
    np.testing.assert_array_equal(stimulus, np.broadcast_to(stimulus[:, :1], stimulus.shape))
    level = np.tile(rates, 3) / 16
    np.testing.assert_allclose(stimulus[:, 0, 0], np.r_[rates / 16, 0 * rates, rates / 16])
    np.testing.assert_allclose(stimulus[:, 0, 1], np.r_[0 * rates, rates / 16, rates / 16])
    assert (first.inputs[:, :20] == 0).all() and (first.inputs[:, 50:] == 0).all()
    np.testing.assert_array_equal(first.targets[:, -1, 0].numpy(), np.sign(level - 12.5 / 16))


def test_static_inputs() -> None:
    static = Multisensory().static_inputs()
    levels = np.linspace(9, 16, 15)
    assert static.values.shape == (46, 2)
    assert torch.equal(static.values[0], torch.zeros(2))
    assert static.labels["modality"][0] == "none" and static.labels["rate"][0] == 0
    np.testing.assert_array_equal(static.labels["rate"][1:], np.tile(levels, 3))
    np.testing.assert_array_equal(
        static.labels["modality"][1:], np.repeat(["auditory", "visual", "both"], 15)
    )
    values = static.values[1:].numpy()
    np.testing.assert_allclose(values[:15], np.c_[levels / 16, 0 * levels])
    np.testing.assert_allclose(values[15:30], np.c_[0 * levels, levels / 16])
    np.testing.assert_allclose(values[30:], np.c_[levels / 16, levels / 16])
    assert 12.5 in static.labels["rate"]


# -- scoring ----------------------------------------------------------------------------


def test_score_is_the_sign_over_the_response_period() -> None:
    task = Multisensory(**SHORT)
    batch = task.generate(400, gen(9), noise=0.3)
    target = batch.targets
    assert torch.equal(task.score(target, batch), torch.ones(400))
    assert torch.equal(task.score(-target, batch), torch.zeros(400))
    assert torch.equal(task.score(torch.zeros_like(target), batch), torch.zeros(400))
    # Outside the response period the output does not count.
    choice = target[:, -1:]
    outputs = torch.randn(target.shape, generator=gen(10)) * 5
    outputs[:, 50:] = 0.2 * choice
    assert torch.equal(task.score(outputs, batch), torch.ones(400))
    # The decision is the mean over the response period.
    outputs[:, 50:] = -0.1 * choice
    outputs[:, 55] = 2.0 * choice[:, 0]
    assert torch.equal(task.score(outputs, batch), torch.ones(400))
    outputs[:, 55] = 0.5 * choice[:, 0]
    assert torch.equal(task.score(outputs, batch), torch.zeros(400))
    scores = task.score(torch.stack([target, -target]), batch)
    assert scores.shape == (2, 400)


# -- training ---------------------------------------------------------------------------

TRAIN_NOISE = 0.1


def train_and_rescore(tmp_path: Path, architecture: str, seed: int) -> dict[str, Any]:
    arch_params = {"hidden_size": 50 if architecture == "rate" else 32}
    spec = {
        "network": {
            "task": "multisensory",
            "architecture": architecture,
            "learning_rule": "bptt",
            "noise": TRAIN_NOISE,
            "seed": seed,
        },
        "task": dict(SHORT),
        "architecture": arch_params,
        "learning_rule": {"learning_rate": 0.01, "batch_size": 64, "max_iterations": 1500},
        "stopping": {"validate_every": 25, "validation_trials": 500, "window": 5},
    }
    task = Multisensory(**SHORT)
    cls = ARCHITECTURES[architecture]
    initial = cls(2, 1, cls.Params(**arch_params), [seeding.generator(seed, "init")])
    folder = tmp_path / architecture
    (status,) = train_ensemble([spec], [folder], device="cpu", log=lambda _: None)
    meta = json.loads((folder / "meta.json").read_text())
    held_out = task.generate(2000, gen(987654321), TRAIN_NOISE)
    scores = {}
    for key, model in (("untrained", initial), ("score", load_models([folder / "model.pt"]))):
        with torch.no_grad():
            _, outputs = model(held_out.inputs.unsqueeze(0))
        scores[key] = task.score(outputs[0], held_out).mean().item()
    return {"status": status, "threshold": task.success_threshold, **scores, **meta}


@pytest.mark.slow
@pytest.mark.parametrize("architecture", ["gru", "rate"])
def test_bptt_trains_to_criterion(tmp_path: Path, one_thread, architecture: str) -> None:
    result = train_and_rescore(tmp_path, architecture, seed=0)
    assert result["untrained"] < result["threshold"]
    assert result["status"] == "converged", result["reason"]
    assert result["score"] >= result["threshold"]
