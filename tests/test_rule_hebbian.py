"""Tests of the reward-modulated Hebbian rule (Miconi 2017) on rate-network ensembles."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch

from rnn_analysis import seeding
from rnn_analysis.architectures.rate import Rate, RateParams
from rnn_analysis.errors import ConfigError
from rnn_analysis.hyperparameters import from_mapping
from rnn_analysis.io import load_models
from rnn_analysis.tasks.base import TrialBatch
from rnn_analysis.tasks.cdi import RDM
from rnn_analysis.training.hebbian import (
    Hebbian,
    HebbianParams,
    RewardBaseline,
    draw_perturbations,
    run_perturbed,
    weight_change,
)
from rnn_analysis.training.rule import TrainingContext
from rnn_analysis.training.run import train_ensemble
from rnn_analysis.training.stopping import StoppingParams
from rnn_analysis.training.trials import stack_trials, validate

from . import training_files
from .training_files import curve, read_meta, train, weights

pytestmark = pytest.mark.usefixtures("one_thread")

#: Short trials and a small network: every test here trains in seconds. The step sizes
#: are those that make learning visible within hundreds of trials (see test_rdm_is_learned).
TASK = {"n_steps": 40}
ARCH = {"hidden_size": 20}
RULE = {"learning_rate": 1.0, "max_dw": 1e-2, "max_trials": 200}
STOPPING = {"validate_every": 20, "validation_trials": 100, "window": 2, "threshold": 0.8}


def make_spec(
    seed: int,
    task: dict | None = None,
    arch: dict | None = None,
    rule: dict | None = None,
    stopping: dict | None = None,
    noise: float = 0.1,
    architecture: str = "rate",
) -> dict[str, Any]:
    return {
        "network": {
            "task": "rdm",
            "architecture": architecture,
            "learning_rule": "hebbian",
            "noise": noise,
            "seed": seed,
        },
        "task": copy.deepcopy(task if task is not None else TASK),
        "architecture": copy.deepcopy(arch or ARCH),
        "learning_rule": copy.deepcopy(rule or RULE),
        "stopping": copy.deepcopy(stopping or STOPPING),
    }


def initial_weights(seed: int, arch: dict, n_in: int = 1, n_out: int = 1) -> dict:
    model = Rate(n_in, n_out, RateParams(**arch), [seeding.generator(seed, "init")])
    return model.network_state_dict(0)


def assert_same_training(a: Path, b: Path) -> None:
    training_files.assert_same_training(a, b, meta_keys=("trials_per_update",))


# -- learning ---------------------------------------------------------------------------


def test_rdm_is_learned_through_the_fixed_readout(tmp_path: Path) -> None:
    """A 50-unit rate network learns rdm to the study's criterion in about a thousand trials.

    The learning-rules study's setting (50 units, α = 0.1, tanh, weak g/N initialisation,
    noise 0.1, converged when the minimum of the last 10 validation accuracies is ≥ 0.9)
    with 100-step trials instead of 750. Seed 2's untrained network answers the opposite
    of the truth (validation accuracy ≈ 0.04): its fixed readout is anti-aligned with its
    fixed input weights, so only the recurrent weights can turn it round. With η = 0.01
    the weak initialisation keeps the rates, hence the traces, so small that almost no
    change reaches the clip and learning takes far more trials than a test can run;
    η = 1 makes the perturbed synapses' changes reach the clip, and max |Δw| = 3e-3 (30
    times the study's) makes up for trials 7.5 times shorter (fewer perturbations) and a
    budget of a few thousand trials. Converges after 1000 trials (about 3 s).
    """
    rule = {"learning_rate": 1.0, "max_dw": 3e-3, "max_trials": 3000}
    stopping = {"validate_every": 50, "validation_trials": 500, "window": 10}
    spec = make_spec(2, {"n_steps": 100}, {"hidden_size": 50}, rule, stopping)
    (folder,) = train(tmp_path, [spec], "learn")
    meta = read_meta(folder)
    scores = curve(folder).validation_score.values
    assert scores[0] < 0.2
    assert meta["status"] == "converged", (meta["reason"], scores)
    assert meta["iterations"] <= 2000
    assert scores[-10:].min() >= 0.9

    task = RDM(n_steps=100)
    held_out = stack_trials(task, 1000, [torch.Generator().manual_seed(12345)], 0.1, "cpu")
    assert validate(load_models([folder / "model.pt"]), task, held_out).scores[0] >= 0.9


# -- reproducibility and ensemble equivalence -------------------------------------------


@pytest.mark.parametrize(
    "extra",
    [{}, {"trials_per_update": 3, "baseline": "target", "max_trials": 300}],
    ids=["one-trial-per-update", "three-trials-per-update-target-baseline"],
)
def test_ensemble_equals_networks_trained_alone(tmp_path: Path, extra: dict) -> None:
    rule = {**RULE, **extra}
    specs = [make_spec(s, rule=rule) for s in (0, 1, 6)]
    together = train(tmp_path, specs, "ensemble")
    alone = [train(tmp_path, [spec], f"alone{i}")[0] for i, spec in enumerate(specs)]
    for a, b in zip(together, alone, strict=True):
        assert_same_training(a, b)
    metas = [read_meta(f) for f in together]
    assert {"converged", "trivial"} & {m["status"] for m in metas}
    assert len({m["iterations"] for m in metas}) >= 2
    for meta in metas:
        assert meta["trials_per_update"] == rule.get("trials_per_update", 1)
        assert meta["trials"] == meta["iterations"] * meta["trials_per_update"]


def test_same_seed_trains_to_identical_weights(tmp_path: Path) -> None:
    stopping = {**STOPPING, "threshold": 1.5}
    spec = make_spec(3, stopping=stopping)
    (first,) = train(tmp_path, [spec], "first")
    (second,) = train(tmp_path, [spec], "second")
    wa, wb = weights(first), weights(second)
    for key in wa:
        assert torch.equal(wa[key], wb[key]), key
    np.testing.assert_array_equal(curve(first).loss, curve(second).loss)
    (other,) = train(tmp_path, [make_spec(4, stopping=stopping)], "other")
    assert not torch.equal(weights(other)["weight_hh"], wa["weight_hh"])


def test_only_the_recurrent_weights_change(tmp_path: Path) -> None:
    stopping = {**STOPPING, "threshold": 1.5}
    (folder,) = train(tmp_path, [make_spec(2, stopping=stopping)], "recurrent")
    assert read_meta(folder)["iterations"] == RULE["max_trials"]
    start = initial_weights(2, ARCH)
    trained = weights(folder)
    assert trained.keys() == start.keys()
    for key, value in trained.items():
        if key == "weight_hh":
            assert (value - start[key]).abs().max() > 1e-2
        else:
            assert torch.equal(value, start[key]), key


# -- divergence ---------------------------------------------------------------------------


def test_divergence_is_recorded_and_isolated(tmp_path: Path) -> None:
    """Without clipping, η = 30 makes the weights overflow after tens of trials.

    Seed 5 diverges after about 20 trials; seeds 2 and 7 last about 100 and 120 trials,
    longer than the budget of 50.
    """
    rule = {"learning_rate": 30.0, "max_dw": 0.0, "max_trials": 50}
    stopping = {**STOPPING, "threshold": 1.5, "validate_every": 10}
    specs = [make_spec(s, task={"n_steps": 30}, rule=rule, stopping=stopping) for s in (2, 5, 7)]
    together = train(tmp_path, specs, "ensemble")
    statuses = [read_meta(f)["status"] for f in together]
    assert statuses == ["not_converged", "diverged", "not_converged"]
    for spec, folder in zip(specs, together, strict=True):
        (single,) = train(tmp_path, [spec], f"alone{spec['network']['seed']}")
        assert_same_training(folder, single)
        assert {"model.pt", "training.nc", "meta.json"} <= {p.name for p in folder.iterdir()}
        meta = read_meta(folder)
        saved = curve(folder)
        assert saved.attrs["status"] == meta["status"]
        assert saved.sizes["iteration"] == meta["iterations"]
        for value in weights(folder).values():
            assert torch.isfinite(value).all()
        if meta["status"] != "diverged":
            assert meta["iterations"] == rule["max_trials"]
            assert np.isfinite(saved.loss).all()
            continue
        assert meta["reason"] == f"non-finite weights at trial {meta['iterations']}"
        assert meta["iterations"] < rule["max_trials"]
        assert load_models([folder / "model.pt"]).n_networks == 1


# -- one update by hand ---------------------------------------------------------------


def reference_training(
    model: Rate, task: RDM, hp: HebbianParams, seed_trials: int, seed_rule: int, updates: int
) -> tuple[np.ndarray, list[float], list[np.ndarray]]:
    """The rule written synapse by synapse in float64.

    Returns the final W, the loss of every update and every update's unclipped changes
    η · e · (R − R̄) of its trials, [B, N, N].
    """
    sd = {k: v.double().numpy() for k, v in model.network_state_dict(0).items()}
    w, u_w, b = sd["weight_hh"].copy(), sd["weight_ih"], sd["bias_h"]
    w_out, b_out = sd["weight_out"], sd["bias_out"]
    alpha, a_tr = model.params.alpha, hp.activity_trace
    s = (lambda y: y**3) if hp.supralinear == "cube" else (lambda y: y * abs(y))
    g_trials = torch.Generator().manual_seed(seed_trials)
    g_rule = torch.Generator().manual_seed(seed_rule)
    n, n_batch = w.shape[0], hp.trials_per_update
    baseline = None
    losses, raw = [], []
    for _ in range(updates):
        batch = task.generate(n_batch, g_trials, 0.0)
        draws = torch.rand(2, task.params.n_steps, n_batch, n, generator=g_rule).double().numpy()
        xi = np.where(draws[0] < hp.perturbation_probability, (2 * draws[1] - 1), 0.0)
        xi = xi * hp.perturbation_amplitude
        traces, rewards, squared = [], [], []
        for k in range(n_batch):
            x = np.zeros(n)
            x_bar = x.copy()
            e = np.zeros((n, n))
            abs_err, sq_err = [], []
            for t in range(task.params.n_steps):
                r_prev = np.tanh(x)
                u = batch.inputs[k, t].double().numpy()
                x = (1 - alpha) * x + alpha * (r_prev @ w + u @ u_w + b + xi[t, k])
                dev = x - x_bar
                for j in range(n):
                    for i in range(n):
                        e[j, i] += s(r_prev[j] * dev[i])
                x_bar = a_tr * x_bar + (1 - a_tr) * x
                z = np.tanh(x) @ w_out + b_out
                err = z - batch.targets[k, t].double().numpy()
                if batch.mask[k, t] > 0:
                    abs_err.append(np.abs(err).mean())
                    sq_err.append((err**2).mean())
            traces.append(e)
            rewards.append(-np.mean(abs_err))
            squared.extend(sq_err)
        rewards = np.array(rewards)
        if baseline is None:
            baseline = rewards.mean()
        changes = [
            hp.learning_rate * e * (r - baseline) for e, r in zip(traces, rewards, strict=True)
        ]
        raw.append(np.array(changes))
        if hp.max_dw > 0:
            changes = [np.clip(c, -hp.max_dw, hp.max_dw) for c in changes]
        w = w + np.mean(changes, axis=0)
        baseline = hp.reward_trace * baseline + (1 - hp.reward_trace) * rewards.mean()
        losses.append(float(np.mean(squared)))
    return w, losses, raw


def tiny_model() -> Rate:
    model = Rate(1, 1, RateParams(hidden_size=2, alpha=0.5), [torch.Generator().manual_seed(0)])
    with torch.no_grad():
        model.weight_hh.copy_(torch.tensor([[[0.3, -0.2], [0.5, 0.1]]]))
        model.weight_ih.copy_(torch.tensor([[[1.0, -0.5]]]))
        model.bias_h.copy_(torch.tensor([[0.1, -0.1]]))
        model.weight_out.copy_(torch.tensor([[[1.0], [-2.0]]]))
        model.bias_out.copy_(torch.tensor([[0.05]]))
    return model


@pytest.mark.parametrize(
    ("supralinear", "per_update"), [("cube", 1), ("signed_square", 1), ("cube", 2)]
)
def test_updates_match_the_rule_written_by_hand(supralinear: str, per_update: int) -> None:
    """Two-unit network, 3-step trials, every unit perturbed at every step, 3 updates."""
    task = RDM(n_steps=3)
    updates = 3
    hp = HebbianParams(
        perturbation_probability=1.0,
        perturbation_amplitude=2.0,
        learning_rate=0.5,
        max_dw=0.0,
        activity_trace=0.25,
        reward_trace=0.5,
        supralinear=supralinear,
        trials_per_update=per_update,
        max_trials=updates * per_update,
    )
    initial = tiny_model().network_state_dict(0)["weight_hh"].double().numpy()
    free, _, raw = reference_training(tiny_model(), task, hp, 1, 3, updates)
    assert np.abs(free - initial).min() > 1e-3
    # The first update with a change: with one trial per update the second (the first
    # trial only sets the baseline). Clip its changes halfway between two of their sizes.
    first = next(k for k, r in enumerate(raw) if np.abs(r).max() > 0)
    assert first == (1 if per_update == 1 else 0)
    sizes = np.sort(np.abs(raw[first]).ravel())
    half = len(sizes) // 2
    max_dw = float(sizes[half - 1] + sizes[half]) / 2
    hp = HebbianParams(**{**hp.to_dict(), "max_dw": max_dw})
    expected, losses, clipped_raw = reference_training(tiny_model(), task, hp, 1, 3, updates)
    np.testing.assert_array_equal(clipped_raw[first], raw[first])
    assert np.abs(expected - free).max() > 1e-4
    assert (np.abs(raw[first]) > max_dw).sum() == len(sizes) - half

    model = tiny_model()
    context = TrainingContext(
        task=task,
        noise=0.0,
        stopping=StoppingParams(validate_every=1000, validation_trials=4, window=1),
        trial_generators=[torch.Generator().manual_seed(1)],
        validation_generators=[torch.Generator().manual_seed(2)],
        rule_generators=[torch.Generator().manual_seed(3)],
        device=torch.device("cpu"),
        log=lambda _: None,
    )
    (result,) = Hebbian(hp).train(model, context)
    assert result.iterations == updates
    np.testing.assert_allclose(
        model.network_state_dict(0)["weight_hh"].double().numpy(), expected, atol=1e-6
    )
    np.testing.assert_allclose(result.curve.loss.values, losses, rtol=1e-5)
    for key, value in tiny_model().network_state_dict(0).items():
        if key != "weight_hh":
            assert torch.equal(model.network_state_dict(0)[key], value), key


def test_unperturbed_dynamics_are_the_models_and_the_trace_is_separable() -> None:
    task = RDM(n_steps=25)
    model = Rate(
        1,
        1,
        RateParams(hidden_size=6, activation="shifted_tanh"),
        [seeding.generator(s, "init") for s in (0, 1)],
    )
    batch = stack_trials(task, 3, [torch.Generator().manual_seed(s) for s in (4, 5)], 0.2, "cpu")
    hp = HebbianParams(supralinear="signed_square", activity_trace=0.3)
    none = torch.zeros(2, 3, 25, 6)
    with torch.no_grad():
        run = run_perturbed(model, slice(None), batch, none, hp)
        states = model.run(batch.inputs)
    torch.testing.assert_close(run.final, states[:, :, -1], atol=1e-5, rtol=1e-5)

    gens = [torch.Generator().manual_seed(s) for s in (6, 7)]
    kicks = draw_perturbations(gens, 25, 3, 6, 0.1, 16.0, "cpu")
    assert kicks.shape == (2, 3, 25, 6)
    assert ((kicks != 0).float().mean() - 0.1).abs() < 0.05 and kicks.abs().max() <= 16.0
    with torch.no_grad():
        run = run_perturbed(model, torch.tensor([1]), batch_slice(batch, 1), kicks[1:], hp)
        x = torch.zeros(3, 6)
        x_bar = x.clone()
        trace = torch.zeros(3, 6, 6)
        for t in range(25):
            r = model.hidden(x)
            drive = r @ model.weight_hh[1] + batch.inputs[1, :, t] @ model.weight_ih[1]
            x = (1 - 0.1) * x + 0.1 * (drive + model.bias_h[1] + kicks[1, :, t])
            y = r[:, :, None] * (x - x_bar)[:, None, :]
            trace += y * y.abs()
            x_bar = 0.3 * x_bar + 0.7 * x
    torch.testing.assert_close(run.trace[0], trace, atol=1e-4, rtol=1e-4)


def batch_slice(batch: TrialBatch, index: int) -> TrialBatch:
    return TrialBatch(
        batch.inputs[index : index + 1],
        batch.targets[index : index + 1],
        batch.mask[index : index + 1],
    )


def test_weight_change_is_clipped_per_trial_then_averaged() -> None:
    trace = torch.tensor([[[[1.0, -4.0]], [[2.0, 0.5]]]])
    advantage = torch.tensor([[0.5, -1.0]])
    dw = weight_change(trace, advantage, learning_rate=1.0, max_dw=1.0)
    torch.testing.assert_close(dw, torch.tensor([[[(0.5 - 1.0) / 2, (-1.0 - 0.5) / 2]]]))
    unclipped = weight_change(trace, advantage, learning_rate=1.0, max_dw=0.0)
    torch.testing.assert_close(unclipped, torch.tensor([[[(0.5 - 2.0) / 2, (-2.0 - 0.5) / 2]]]))


def test_reward_baseline_per_network_and_per_target() -> None:
    baseline = RewardBaseline(2, decay=0.25)
    first = baseline.advantage(0, np.array([-1.0, -0.5, -0.3]), [b"a", b"b", b"a"])
    np.testing.assert_allclose(first, [-0.35, 0.0, 0.35])
    assert baseline.values[0] == {b"a": pytest.approx(-0.65), b"b": pytest.approx(-0.5)}
    second = baseline.advantage(0, np.array([-0.2]), [b"a"])
    np.testing.assert_allclose(second, [0.45])
    assert baseline.values[0][b"a"] == pytest.approx(0.25 * -0.65 + 0.75 * -0.2)
    assert baseline.values[1] == {}


# -- configuration --------------------------------------------------------------------


@pytest.mark.parametrize(
    ("values", "key"),
    [
        ({"perturbation_probability": 1.5}, "perturbation_probability"),
        ({"perturbation_amplitude": -1.0}, "perturbation_amplitude"),
        ({"learning_rate": 0.0}, "learning_rate"),
        ({"max_dw": float("inf")}, "max_dw"),
        ({"activity_trace": 1.0}, "activity_trace"),
        ({"reward_trace": -0.1}, "reward_trace"),
        ({"supralinear": "square"}, "supralinear"),
        ({"baseline": "trial_type"}, "baseline"),
        ({"trials_per_update": 0}, "trials_per_update"),
        ({"max_trials": 4, "trials_per_update": 8}, "max_trials"),
        ({"max_trials": 2.5}, "max_trials"),
        ({"eta": 0.1}, "eta"),
    ],
)
def test_bad_params_name_the_key(values: dict, key: str) -> None:
    with pytest.raises(ConfigError) as err:
        from_mapping(HebbianParams, values, "learning_rules.hebbian")
    assert str(err.value).startswith("learning_rules.hebbian")
    assert key in str(err.value)


def test_defaults_are_the_studys() -> None:
    hp = from_mapping(HebbianParams, {}, "learning_rules.hebbian")
    assert (hp.perturbation_probability, hp.perturbation_amplitude) == (0.003, 16.0)
    assert (hp.learning_rate, hp.max_dw) == (0.01, 1e-4)
    assert (hp.activity_trace, hp.reward_trace, hp.supralinear) == (0.05, 0.33, "cube")
    assert hp.trials_per_update == 1 and hp.max_updates == hp.max_trials


def test_other_architectures_are_refused(tmp_path: Path) -> None:
    spec = make_spec(0, arch={"hidden_size": 8}, architecture="gru")
    with pytest.raises(ConfigError, match="cannot train 'gru'"):
        train_ensemble([spec], [tmp_path / "gru"], device="cpu", log=lambda _: None)
