"""Tests of context-dependent integration (cdi) and the random-dots decision (rdm)."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from rnn_analysis.errors import ConfigError
from rnn_analysis.hyperparameters import from_mapping
from rnn_analysis.tasks import TASKS, TrialBatch
from rnn_analysis.tasks.cdi import CDI, RDM

MAX_COHERENCE = 0.1857


def gen(seed: int) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


def cued_means(batch: TrialBatch, n: int) -> np.ndarray:
    """The cued channel's value at every step, read off the inputs: [batch, time]."""
    inputs = batch.inputs.numpy()
    if inputs.shape[-1] == n:
        return inputs[..., 0]
    context = inputs[:, 0, n:].argmax(axis=1)
    return inputs[np.arange(len(inputs)), :, context]


# -- defaults and parameters ----------------------------------------------------------


def test_registered_with_study_defaults() -> None:
    cdi = TASKS["cdi"]()
    assert isinstance(cdi, CDI) and not isinstance(cdi, RDM)
    p = cdi.params
    assert (p.n_contexts, p.n_steps, p.max_coherence) == (2, 750, MAX_COHERENCE)
    assert (p.fixed_point_levels, p.fixed_point_range) == (21, 0.02)
    assert p.probe_levels == 10
    assert p.psychometric_coherences == (0.018, 0.072, 0.18, 0.3)
    assert cdi.n_inputs == 4 and cdi.n_outputs == 1
    assert cdi.success_threshold == 0.9

    rdm = TASKS["rdm"]()
    assert isinstance(rdm, RDM)
    p = rdm.params
    assert (p.n_steps, p.max_coherence) == (750, MAX_COHERENCE)
    assert (p.fixed_point_levels, p.fixed_point_range) == (21, 0.03)
    assert rdm.n_inputs == 1 and rdm.n_outputs == 1
    assert rdm.success_threshold == 0.9
    assert not hasattr(p, "n_contexts")


@pytest.mark.parametrize("n", [1, 2, 3, 4, 5, 6])
def test_n_contexts_sets_channels(n: int) -> None:
    task = from_mapping(CDI.Params, {"n_contexts": n}, "tasks.cdi")
    assert CDI(task).n_inputs == 2 * n


def test_invalid_params_are_refused() -> None:
    for bad in (0, 7):
        with pytest.raises(ValueError, match="n_contexts"):
            CDI(n_contexts=bad)
    with pytest.raises(ValueError, match="probe_levels"):
        CDI(probe_levels=9)
    with pytest.raises(ValueError):
        CDI(n_steps=1)
    with pytest.raises(ValueError):
        RDM(max_coherence=0.0)
    with pytest.raises(ConfigError, match="n_contexts"):
        from_mapping(RDM.Params, {"n_contexts": 2}, "tasks.rdm")
    with pytest.raises(ConfigError, match="uncued_pattern"):
        from_mapping(CDI.Params, {"uncued_pattern": "random"}, "tasks.cdi")


# -- trial generation -------------------------------------------------------------------


@pytest.mark.parametrize("n", [1, 2, 3, 6])
def test_trial_structure(n: int) -> None:
    task = CDI(n_contexts=n, n_steps=30)
    batch = task.generate(4000, gen(0), noise=0.0)
    inputs = batch.inputs.numpy()
    assert inputs.shape == (4000, 30, 2 * n)
    assert batch.targets.shape == (4000, 30, 1)
    assert batch.mask.shape == (4000, 30)
    # Stimulus and context are on for the whole trial.
    np.testing.assert_array_equal(inputs, np.broadcast_to(inputs[:, :1], inputs.shape))
    sensory, context_inputs = inputs[:, 0, :n], inputs[:, 0, n:]
    np.testing.assert_array_equal(context_inputs.sum(axis=1), np.ones(4000))
    assert set(np.unique(context_inputs)) <= {0.0, 1.0}
    context = context_inputs.argmax(axis=1)
    np.testing.assert_array_equal(batch.conditions["context"], context)
    np.testing.assert_allclose(np.bincount(context, minlength=n) / 4000, 1 / n, atol=0.03)
    # One magnitude shared by all channels, uniform on [0, max_coherence].
    magnitude = np.abs(sensory)
    np.testing.assert_allclose(magnitude, magnitude[:, :1].repeat(n, axis=1), rtol=1e-6)
    assert magnitude.max() <= MAX_COHERENCE and magnitude.min() >= 0
    assert magnitude[:, 0].mean() == pytest.approx(MAX_COHERENCE / 2, rel=0.03)
    assert np.histogram(magnitude[:, 0], bins=4, range=(0, MAX_COHERENCE))[0].min() > 900
    # Independent signs.
    positive = sensory > 0
    np.testing.assert_allclose(positive.mean(axis=0), 0.5, atol=0.03)
    for j in range(1, n):
        assert (positive[:, 0] == positive[:, j]).mean() == pytest.approx(0.5, abs=0.03)


@pytest.mark.parametrize("n", [1, 2, 4])
def test_target_follows_only_the_cued_channel(n: int) -> None:
    task = CDI(n_contexts=n, n_steps=20)
    batch = task.generate(3000, gen(1), noise=0.0)
    cued = cued_means(batch, n)[:, 0]
    choice = np.sign(cued)
    np.testing.assert_allclose(batch.conditions["coherence"], cued, rtol=1e-6)
    targets = batch.targets.numpy()[..., 0]
    np.testing.assert_array_equal(targets[:, -1], choice)
    np.testing.assert_array_equal(targets[:, :-1], 0.0)
    # The target is independent of every channel that is not cued.
    sensory = batch.inputs.numpy()[:, 0, :n]
    context = batch.conditions["context"]
    for j in range(n):
        uncued = context != j
        if uncued.any():
            agree = np.sign(sensory[uncued, j]) == choice[uncued]
            assert agree.mean() == pytest.approx(0.5, abs=0.04)


def test_loss_covers_first_and_last_step() -> None:
    batch = CDI(n_steps=25).generate(50, gen(2), noise=0.3)
    expected = torch.zeros(50, 25)
    expected[:, [0, -1]] = 1.0
    assert torch.equal(batch.mask, expected)
    assert torch.equal(batch.targets[:, 0], torch.zeros(50, 1))


def test_rdm_is_one_channel_without_context() -> None:
    task = RDM(n_steps=20)
    batch = task.generate(2000, gen(3), noise=0.0)
    assert batch.inputs.shape == (2000, 20, 1)
    assert set(batch.conditions) == {"coherence"}
    mean = batch.inputs.numpy()[:, 0, 0]
    np.testing.assert_allclose(batch.conditions["coherence"], mean, rtol=1e-6)
    np.testing.assert_array_equal(batch.targets.numpy()[:, -1, 0], np.sign(mean))
    assert (mean > 0).mean() == pytest.approx(0.5, abs=0.04)
    assert np.abs(mean).max() <= MAX_COHERENCE


@pytest.mark.parametrize("task", [CDI(n_steps=40), CDI(n_contexts=3, n_steps=40), RDM(n_steps=40)])
def test_noisy_trials_keep_clean_targets(task: CDI) -> None:
    noisy = task.generate(30, gen(4), noise=0.5)
    clean = task.generate(30, gen(4), noise=0.0)
    assert torch.equal(noisy.targets, clean.targets)
    assert torch.equal(noisy.mask, clean.mask)
    np.testing.assert_array_equal(noisy.conditions["coherence"], clean.conditions["coherence"])


# -- input noise ------------------------------------------------------------------------


def test_zero_noise_gives_clean_inputs() -> None:
    batch = CDI(n_steps=50).generate(20, gen(5), noise=0.0)
    inputs = batch.inputs
    assert torch.equal(inputs, inputs[:, :1].expand_as(inputs))


@pytest.mark.parametrize("sigma", [0.1, 0.5, 1.0])
@pytest.mark.parametrize("n", [1, 3])
def test_noise_only_on_sensory_channels_with_std_sigma(sigma: float, n: int) -> None:
    task = CDI(n_contexts=n, n_steps=100)
    noisy = task.generate(200, gen(6), noise=sigma)
    clean = task.generate(200, gen(6), noise=0.0)
    diff = (noisy.inputs - clean.inputs).double()
    assert torch.equal(diff[..., n:], torch.zeros_like(diff[..., n:]))
    sensory = diff[..., :n]
    assert (sensory != 0).all()
    assert sensory.std().item() == pytest.approx(sigma, rel=0.02)
    assert abs(sensory.mean().item()) < 0.02 * sigma
    per_channel = sensory.std(dim=(0, 1))
    assert torch.allclose(per_channel, torch.full_like(per_channel, sigma), rtol=0.03)


def test_rdm_noise_std_matches_sigma() -> None:
    task = RDM(n_steps=100)
    diff = task.generate(300, gen(6), 0.5).inputs - task.generate(300, gen(6), 0.0).inputs
    assert diff.double().std().item() == pytest.approx(0.5, rel=0.02)


# -- probe, psychometric and fixed-point sets -------------------------------------------


@pytest.mark.parametrize("n", [1, 2, 3])
def test_probe_set_is_fixed_noise_free_and_labelled(n: int) -> None:
    task = CDI(n_contexts=n, n_steps=60)
    torch.manual_seed(0)
    first = task.probe_set()
    torch.manual_seed(123)
    torch.rand(1000)
    for other in (task.probe_set(), CDI(n_contexts=n, n_steps=60).probe_set()):
        assert torch.equal(first.inputs, other.inputs)
        assert torch.equal(first.targets, other.targets)
        assert torch.equal(first.mask, other.mask)
        for key in first.conditions:
            np.testing.assert_array_equal(first.conditions[key], other.conditions[key])
    assert first.batch_size == 10 * n
    inputs = first.inputs
    assert torch.equal(inputs, inputs[:, :1].expand_as(inputs))
    levels = np.linspace(-MAX_COHERENCE, MAX_COHERENCE, 10)
    np.testing.assert_allclose(first.conditions["coherence"], np.tile(levels, n))
    np.testing.assert_array_equal(first.conditions["context"], np.repeat(np.arange(n), 10))
    np.testing.assert_allclose(cued_means(first, n)[:, 0], np.tile(levels, n), rtol=1e-6)
    np.testing.assert_array_equal(first.targets[:, -1, 0].numpy(), np.sign(np.tile(levels, n)))
    for key, values in first.conditions.items():
        assert isinstance(values, np.ndarray) and len(values) == 10 * n, key
        assert values.dtype.kind in "if", key


def test_probe_uncued_channels_make_context_matter() -> None:
    task = CDI(n_steps=10)
    probe = task.probe_set()
    sensory = probe.inputs[:, 0, :2]
    coherence = probe.conditions["coherence"]
    context = probe.conditions["context"]
    cued = sensory[torch.arange(20), torch.as_tensor(context)]
    uncued = sensory[torch.arange(20), torch.as_tensor(1 - context)]
    torch.testing.assert_close(uncued, -cued)
    # The same sensory evidence under the other context asks for the opposite answer.
    for i in range(10):
        j = 10 + int(np.flatnonzero(np.isclose(coherence[10:], -coherence[i]))[0])
        assert torch.equal(sensory[i], sensory[j])
        assert probe.targets[i, -1, 0] == -probe.targets[j, -1, 0]

    same = CDI(n_steps=10, uncued_pattern="same").probe_set().inputs[:, 0, :2]
    torch.testing.assert_close(same[:, 0], same[:, 1])
    zero = CDI(n_steps=10, uncued_pattern="zero").probe_set().inputs[:, 0, :2]
    assert ((zero != 0).sum(dim=1) == 1).all()


@pytest.mark.parametrize("task", [CDI(n_steps=40), CDI(n_contexts=4, n_steps=40), RDM(n_steps=40)])
def test_psychometric_set(task: CDI) -> None:
    n = task.n_contexts
    batch = task.psychometric_set()
    assert batch is not None
    coherences = np.array([-0.3, -0.18, -0.072, -0.018, 0.018, 0.072, 0.18, 0.3])
    assert batch.batch_size == 8 * n
    np.testing.assert_allclose(batch.conditions["coherence"], np.tile(coherences, n))
    np.testing.assert_allclose(cued_means(batch, n)[:, 0], np.tile(coherences, n), rtol=1e-6)
    np.testing.assert_array_equal(batch.targets[:, -1, 0].numpy(), np.sign(np.tile(coherences, n)))
    assert torch.equal(batch.inputs, batch.inputs[:, :1].expand_as(batch.inputs))
    assert torch.equal(batch.inputs, task.psychometric_set().inputs)
    if n > 1:
        np.testing.assert_array_equal(batch.conditions["context"], np.repeat(np.arange(n), 8))
    assert task.extrapolation_set() is None


@pytest.mark.parametrize("n", [1, 2, 3])
def test_cdi_static_inputs_per_context(n: int) -> None:
    static = CDI(n_contexts=n).static_inputs()
    levels = np.linspace(-0.02, 0.02, 21)
    assert static.values.shape == (21 * n, 2 * n)
    np.testing.assert_allclose(static.labels["level"], np.tile(levels, n))
    np.testing.assert_array_equal(static.labels["context"], np.repeat(np.arange(n), 21))
    values = static.values.numpy()
    for row, (level, context) in enumerate(
        zip(np.tile(levels, n), static.labels["context"], strict=True)
    ):
        expected = np.zeros(2 * n)
        expected[context] = level
        expected[n + context] = 1.0
        np.testing.assert_allclose(values[row], expected, atol=1e-8)
    assert 0.0 in static.labels["level"]


def test_rdm_static_inputs() -> None:
    static = RDM().static_inputs()
    levels = np.linspace(-0.03, 0.03, 21)
    assert static.values.shape == (21, 1)
    np.testing.assert_allclose(static.values[:, 0].numpy(), levels, atol=1e-8)
    np.testing.assert_allclose(static.labels["level"], levels)
    assert set(static.labels) == {"level"}


# -- scoring ----------------------------------------------------------------------------


@pytest.mark.parametrize("task", [CDI(n_steps=30), RDM(n_steps=30)])
def test_score_is_the_sign_at_the_last_step(task: CDI) -> None:
    batch = task.generate(400, gen(9), noise=0.3)
    target = batch.targets
    assert torch.equal(task.score(target, batch), torch.ones(400))
    assert torch.equal(task.score(-target, batch), torch.zeros(400))
    assert torch.equal(task.score(torch.zeros_like(target), batch), torch.zeros(400))
    # Only the sign at the last step counts.
    outputs = torch.randn(target.shape, generator=gen(10)) * 5
    outputs[:, -1] = 0.01 * target[:, -1]
    assert torch.equal(task.score(outputs, batch), torch.ones(400))
    outputs[:, -1] = -3 * target[:, -1]
    assert torch.equal(task.score(outputs, batch), torch.zeros(400))
    coin = torch.randn(target.shape, generator=gen(11))
    assert task.score(coin, batch).mean().item() == pytest.approx(0.5, abs=0.08)


def test_score_broadcasts_over_ensemble() -> None:
    task = CDI(n_steps=20)
    batch = task.generate(10, gen(2), noise=0.0)
    scores = task.score(torch.stack([batch.targets, -batch.targets]), batch)
    assert scores.shape == (2, 10)
    assert torch.equal(scores, torch.stack([torch.ones(10), torch.zeros(10)]))
