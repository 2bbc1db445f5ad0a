"""Tests of the genetic learning rule: learning, ensembles, reproducibility, divergence."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch

from rnn_analysis import seeding
from rnn_analysis.architectures import ARCHITECTURES
from rnn_analysis.architectures.rate import Rate
from rnn_analysis.errors import ConfigError
from rnn_analysis.hyperparameters import from_mapping
from rnn_analysis.tasks.base import TrialBatch
from rnn_analysis.tasks.cdi import RDM
from rnn_analysis.tasks.flipflop import FlipFlop
from rnn_analysis.training.genetic import GeneticParams, population_fitness
from rnn_analysis.training.trials import masked_mse, stack_trials, validate

from . import training_files
from .training_files import curve, read_meta, train, weights

pytestmark = pytest.mark.usefixtures("one_thread")

#: The learning-rules study's rdm setting (50-unit rate network, population 20 as the
#: study used for CDI), with 60-step trials and small batches so that it runs in seconds.
RDM_TASK = {"n_steps": 60}
RDM_RULE = {"population_size": 20, "batch_size": 64, "max_generations": 300}
RDM_STOPPING = {"validate_every": 10, "validation_trials": 200, "window": 3}

FLIPFLOP_TASK = {"n_steps": 30, "pulse_probability": 0.1}
SMALL_RULE = {"population_size": 10, "batch_size": 16, "max_generations": 2}
SMALL_STOPPING = {"validate_every": 1, "validation_trials": 32, "window": 2}


def make_spec(
    seed: int,
    task_name: str = "rdm",
    architecture: str = "rate",
    task: dict | None = None,
    arch_params: dict | None = None,
    rule: dict | None = None,
    stopping: dict | None = None,
    noise: float = 0.1,
) -> dict[str, Any]:
    return {
        "network": {
            "task": task_name,
            "architecture": architecture,
            "learning_rule": "genetic",
            "noise": noise,
            "seed": seed,
        },
        "task": copy.deepcopy(task if task is not None else RDM_TASK),
        "architecture": copy.deepcopy(arch_params or {"hidden_size": 50}),
        "learning_rule": copy.deepcopy(rule or RDM_RULE),
        "stopping": copy.deepcopy(stopping or RDM_STOPPING),
    }


def initial_weights(spec: dict) -> dict[str, torch.Tensor]:
    labels = spec["network"]
    arch_cls = ARCHITECTURES[labels["architecture"]]
    n_in, n_out = {"rdm": (1, 1), "flipflop": (3, 3)}[labels["task"]]
    params = from_mapping(arch_cls.Params, spec["architecture"], "architectures")
    model = arch_cls(n_in, n_out, params, [seeding.generator(labels["seed"], "init")])
    return model.network_state_dict(0)


def assert_same_training(a: Path, b: Path) -> None:
    training_files.assert_same_training(
        a,
        b,
        weight_atol=1e-6,
        weight_rtol=1e-5,
        loss_rtol=1e-5,
        loss_atol=1e-7,
        score_atol=1e-6,
    )


# -- learning -------------------------------------------------------------------------


def test_rate_network_learns_rdm(tmp_path: Path) -> None:
    spec = make_spec(3)
    task = RDM(RDM.Params(**RDM_TASK))
    model = Rate(1, 1, Rate.Params(hidden_size=50), [seeding.generator(3, "init")])
    validation = stack_trials(
        task, RDM_STOPPING["validation_trials"], [seeding.generator(3, "validation")], 0.1, "cpu"
    )
    assert validate(model, task, validation).scores[0] < 0.5  # this seed starts with the wrong sign

    (folder,) = train(tmp_path, [spec], "rdm")
    meta = read_meta(folder)
    assert meta["status"] == "converged", meta["reason"]
    assert meta["iterations"] < RDM_RULE["max_generations"]
    assert meta["population_size"] == RDM_RULE["population_size"]
    ds = curve(folder)
    assert ds.attrs["unit"] == "generation"
    assert ds.validation_score.values[-RDM_STOPPING["window"] :].min() >= task.success_threshold
    assert ds.loss.values[-10:].mean() < 0.8 * ds.loss.values[:10].mean()


def test_gru_learns_flipflop(tmp_path: Path) -> None:
    # σ = 0.02 rather than the study's 0.005: a 16-unit GRU's weights (std ~0.25) move
    # too slowly with 0.005 to show learning within a couple of hundred generations.
    rule = {"population_size": 20, "batch_size": 16, "max_generations": 200, "mutation_std": 0.02}
    stopping = {"validate_every": 25, "validation_trials": 64, "window": 2}
    spec = make_spec(0, "flipflop", "gru", FLIPFLOP_TASK, {"hidden_size": 16}, rule, stopping)
    (folder,) = train(tmp_path, [spec], "gru")
    loss = curve(folder).loss.values
    assert np.isfinite(loss).all()
    assert loss[-10:].mean() < 0.7 * loss[:10].mean()
    scores = curve(folder).validation_score.values
    assert scores[-1] > scores[0] + 0.2


@pytest.mark.parametrize("architecture", ["vanilla", "rate", "gru", "lstm", "ugrnn"])
def test_every_architecture_evolves(tmp_path: Path, architecture: str) -> None:
    spec = make_spec(
        1,
        "flipflop",
        architecture,
        FLIPFLOP_TASK,
        {"hidden_size": 8},
        SMALL_RULE,
        SMALL_STOPPING,
    )
    (folder,) = train(tmp_path, [spec], architecture)
    meta = read_meta(folder)
    assert meta["status"] == "not_converged"
    assert meta["iterations"] == SMALL_RULE["max_generations"]
    ds = curve(folder)
    assert np.isfinite(ds.loss).all() and ds.sizes["validation"] == 3  # with the untrained
    trained, start = weights(folder), initial_weights(spec)
    assert all(torch.isfinite(v).all() for v in trained.values())
    assert any(not torch.equal(trained[k], start[k]) for k in start)


def test_population_fitness_is_minus_masked_mse() -> None:
    task = FlipFlop(FlipFlop.Params(**FLIPFLOP_TASK))
    generators = [seeding.generator(s, "init") for s in range(6)]
    members = ARCHITECTURES["lstm"](3, 3, ARCHITECTURES["lstm"].Params(hidden_size=8), generators)
    batch = stack_trials(task, 8, [seeding.generator(s, "trials") for s in (0, 1)], 0.1, "cpu")
    with torch.no_grad():
        fitness = population_fitness(members, batch)
        _, outputs = members(batch.inputs.repeat_interleave(3, dim=0))
    expanded = TrialBatch(
        *(x.repeat_interleave(3, dim=0) for x in (batch.inputs, batch.targets, batch.mask))
    )
    expected = -masked_mse(outputs, expanded).view(2, 3)
    torch.testing.assert_close(fitness, expected, rtol=1e-5, atol=1e-7)


# -- ensembles and reproducibility ------------------------------------------------------


def test_ensemble_equals_networks_trained_alone(tmp_path: Path) -> None:
    rule = {**RDM_RULE, "max_generations": 50}
    specs = [make_spec(s, rule=rule) for s in (0, 3, 6)]
    together = train(tmp_path, specs, "ensemble")
    alone = [train(tmp_path, [spec], f"alone{i}")[0] for i, spec in enumerate(specs)]
    for a, b in zip(together, alone, strict=True):
        assert_same_training(a, b)
    metas = [read_meta(f) for f in together]
    assert {"converged", "trivial"} & {m["status"] for m in metas}
    assert len({m["iterations"] for m in metas}) >= 2
    for folder, meta in zip(together, metas, strict=True):
        if meta["status"] == "not_converged":
            assert meta["iterations"] == rule["max_generations"]
        else:
            assert meta["status"] in ("converged", "trivial")
            assert meta["iterations"] == int(curve(folder).validation_iteration[-1])


def test_same_seed_gives_identical_weights(tmp_path: Path) -> None:
    spec = make_spec(5, "flipflop", "gru", FLIPFLOP_TASK, {"hidden_size": 8}, SMALL_RULE)
    (first,) = train(tmp_path, [spec], "first")
    (second,) = train(tmp_path, [spec], "second")
    wa, wb = weights(first), weights(second)
    assert wa.keys() == wb.keys() and wa
    for key in wa:
        assert torch.equal(wa[key], wb[key]), key
    np.testing.assert_array_equal(curve(first).loss, curve(second).loss)
    other = make_spec(6, "flipflop", "gru", FLIPFLOP_TASK, {"hidden_size": 8}, SMALL_RULE)
    (third,) = train(tmp_path, [other], "other")
    assert not torch.equal(weights(third)["weight_hh"], wa["weight_hh"])


def test_recurrent_only_mutates_weight_hh(tmp_path: Path) -> None:
    rule = {**SMALL_RULE, "trained_weights": "recurrent"}
    spec = make_spec(2, "flipflop", "gru", FLIPFLOP_TASK, {"hidden_size": 8}, rule)
    (folder,) = train(tmp_path, [spec], "recurrent")
    trained, start = weights(folder), initial_weights(spec)
    assert trained.keys() == start.keys()
    for key, value in trained.items():
        if key == "weight_hh":
            assert not torch.equal(value, start[key])
        else:
            assert torch.equal(value, start[key]), key


# -- divergence -------------------------------------------------------------------------


def test_whole_population_non_finite_is_diverged(tmp_path: Path) -> None:
    rule = {**SMALL_RULE, "max_generations": 5, "n_elites": 0, "mutation_std": 1e30}
    arch = {"hidden_size": 8, "activation": "relu"}
    spec = make_spec(1, "flipflop", "vanilla", FLIPFLOP_TASK, arch, rule)
    (folder,) = train(tmp_path, [spec], "huge_mutation")
    meta = read_meta(folder)
    assert meta["status"] == "diverged"
    assert meta["reason"] == "non-finite fitness of every member at generation 2"
    assert meta["iterations"] == 2
    assert {"model.pt", "training.nc", "meta.json"} <= {p.name for p in folder.iterdir()}
    ds = curve(folder)
    assert ds.attrs["status"] == "diverged" and ds.sizes["iteration"] == 2
    assert np.isfinite(ds.loss.values[0]) and not np.isfinite(ds.loss.values[1])
    # generation 1's best member is the unmutated initial network, and it stays the result
    start = initial_weights(spec)
    for key, value in weights(folder).items():
        assert torch.equal(value, start[key]), key


def test_divergence_is_isolated_in_an_ensemble(tmp_path: Path) -> None:
    arch = {"hidden_size": 16, "activation": "relu", "recurrent_gain": 2.0}
    task = {"n_steps": 100, "pulse_probability": 0.1}
    rule = {"population_size": 10, "batch_size": 32, "max_generations": 6}
    stopping = {"validate_every": 3, "validation_trials": 32, "window": 2}
    specs = [make_spec(s, "flipflop", "vanilla", task, arch, rule, stopping) for s in (0, 3)]
    exploding, healthy = train(tmp_path, specs, "ensemble")
    meta = read_meta(exploding)
    assert meta["status"] == "diverged"
    assert meta["reason"] == "non-finite fitness of every member at generation 1"
    assert {"model.pt", "training.nc", "meta.json"} <= {p.name for p in exploding.iterdir()}
    assert read_meta(healthy)["status"] == "not_converged"
    assert read_meta(healthy)["iterations"] == rule["max_generations"]
    assert np.isfinite(curve(healthy).loss).all()
    for spec, folder in zip(specs, (exploding, healthy), strict=True):
        (single,) = train(tmp_path, [spec], f"alone{spec['network']['seed']}")
        assert_same_training(folder, single)


# -- hyperparameters --------------------------------------------------------------------


@pytest.mark.parametrize(
    ("values", "key"),
    [
        ({"population_size": 4, "n_parents": 5}, "n_parents"),
        ({"n_parents": 0}, "n_parents"),
        ({"n_parents": 2, "n_elites": 3}, "n_elites"),
        ({"population_size": 2, "n_parents": 2, "n_elites": 2}, "n_elites"),
        ({"population_size": 1, "n_parents": 1, "n_elites": 0}, "population_size"),
        ({"mutation_std": 0.0}, "mutation_std"),
        ({"mutation_std": float("inf")}, "mutation_std"),
        ({"max_generations": 0}, "max_generations"),
        ({"batch_size": 0}, "batch_size"),
        ({"trained_weights": "readout"}, "trained_weights"),
        ({"population_size": 20.5}, "population_size"),
    ],
)
def test_bad_hyperparameters_name_the_key(values: dict, key: str) -> None:
    with pytest.raises(ConfigError, match=key):
        from_mapping(GeneticParams, values, "learning_rules.genetic")


def test_defaults_are_the_studys() -> None:
    params = from_mapping(GeneticParams, {}, "learning_rules.genetic")
    assert (params.population_size, params.n_parents, params.n_elites) == (50, 5, 1)
    assert params.mutation_std == 0.005 and params.max_generations == 2000
