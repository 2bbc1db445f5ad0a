"""Tests of the full-FORCE learning rule: convergence, restarts, ensembles, divergence."""

from __future__ import annotations

import copy
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch

from rnn_analysis import seeding
from rnn_analysis.architectures import ARCHITECTURES
from rnn_analysis.errors import ConfigError
from rnn_analysis.hyperparameters import from_mapping
from rnn_analysis.tasks import TASKS
from rnn_analysis.training.force import (
    Force,
    ForceParams,
    final_masked_targets,
    interpolate_masked_targets,
)
from rnn_analysis.training.rule import LEARNING_RULES, TrainingContext
from rnn_analysis.training.run import train_ensemble
from rnn_analysis.training.stopping import StoppingParams

from . import training_files
from .training_files import curve, read_meta, train, weights

pytestmark = pytest.mark.usefixtures("one_thread")

ARCH = {"hidden_size": 50, "alpha": 0.2}
# The score criterion alone (sine adds a validation-loss criterion by default).
STOPPING = {"validate_every": 5, "validation_trials": 200, "window": 3, "loss_threshold": 0.0}
NOISE = {"rdm": 0.1, "sine": 0.05}
RDM = {"n_steps": 60}
#: One cued frequency: FORCE's classic periodic target, every step in the mask.
SINE = {"n_frequencies": 1, "omega_min": 0.2, "omega_max": 0.2, "n_steps": 100}
#: Short attempts on ``SINE``: seeds 0 and 1 converge in the first, seeds 2 and 5 in the
#: second, seed 9 in the third, seed 3 never.
SINE_RULE = {"alpha": 1.0, "trials_per_attempt": 18, "max_attempts": 3}


def make_spec(
    seed: int,
    task: str = "rdm",
    task_params: dict | None = None,
    rule: dict | None = None,
    architecture: str = "rate",
    noise: float | None = None,
) -> dict[str, Any]:
    default_task = {"rdm": RDM, "sine": SINE}.get(task, {})
    return {
        "network": {
            "task": task,
            "architecture": architecture,
            "learning_rule": "force",
            "noise": noise if noise is not None else NOISE[task],
            "seed": seed,
        },
        "task": copy.deepcopy(task_params if task_params is not None else default_task),
        "architecture": copy.deepcopy(ARCH),
        "learning_rule": copy.deepcopy(rule or {}),
        "stopping": copy.deepcopy(STOPPING),
    }


def initial_weights(seed: int, task: str = "rdm") -> dict[str, torch.Tensor]:
    task_obj = TASKS[task](**(RDM if task == "rdm" else SINE))
    arch = ARCHITECTURES["rate"]
    model = arch(
        task_obj.n_inputs,
        task_obj.n_outputs,
        arch.Params(**ARCH),
        [seeding.generator(seed, "init")],
    )
    return model.network_state_dict(0)


def assert_same_training(a: Path, b: Path) -> None:
    training_files.assert_same_training(
        a, b, meta_keys=("attempts",), weight_atol=1e-4, score_atol=1e-2
    )


# -- learning ---------------------------------------------------------------------------


def test_rdm_converges_with_default_rule_settings(tmp_path: Path) -> None:
    (folder,) = train(tmp_path, [make_spec(0)], "rdm")
    meta = read_meta(folder)
    assert meta["status"] == "converged", meta["reason"]
    assert meta["attempts"] == 1
    assert meta["iterations"] <= 300
    assert meta["final_validation_score"] >= 0.9
    c = curve(folder)
    assert c.attrs["unit"] == "trial"
    assert c.sizes["iteration"] == meta["iterations"]
    assert np.isfinite(c.loss).all()

    trained, start = weights(folder), initial_weights(0)
    torch.testing.assert_close(trained["weight_ih"], start["weight_ih"])
    torch.testing.assert_close(trained["bias_h"], start["bias_h"])
    assert torch.count_nonzero(trained["bias_out"]) == 0
    assert trained["weight_hh"].abs().sum() > 0 and trained["weight_out"].abs().sum() > 0


def test_rdm_study_defaults_converge(tmp_path: Path) -> None:
    # 750-step trials, the rate network's and the rule's defaults.
    spec = make_spec(1, task_params={})
    spec["architecture"] = {}
    (folder,) = train(tmp_path, [spec], "defaults")
    meta = read_meta(folder)
    assert meta["status"] == "converged", meta["reason"]
    assert meta["iterations"] <= 100


def test_fully_masked_sine_converges(tmp_path: Path) -> None:
    (folder,) = train(tmp_path, [make_spec(0, "sine", rule={"alpha": 1.0})], "sine")
    meta = read_meta(folder)
    assert meta["status"] == "converged", meta["reason"]
    assert meta["iterations"] <= 100
    assert meta["final_validation_score"] >= 0.9


def test_task_target_equals_interpolation_on_fully_masked_tasks(tmp_path: Path) -> None:
    rule = {"alpha": 1.0, "trials_per_attempt": 10, "max_attempts": 1}
    spec = make_spec(0, "sine", rule=rule)
    raw = make_spec(0, "sine", rule={**rule, "unmasked_target": "task"})
    (a,) = train(tmp_path, [spec], "interpolate")
    (b,) = train(tmp_path, [raw], "task")
    wa, wb = weights(a), weights(b)
    for key in wa:
        assert torch.equal(wa[key], wb[key]), key


# -- restarts ---------------------------------------------------------------------------


def test_attempts_too_short_to_converge_use_the_whole_budget(tmp_path: Path) -> None:
    # 10 trials per attempt hold two validations, fewer than the window of 3.
    rule = {"trials_per_attempt": 10, "max_attempts": 3}
    (folder,) = train(tmp_path, [make_spec(0, rule=rule)], "short")
    meta = read_meta(folder)
    assert meta["status"] == "not_converged"
    assert meta["attempts"] == 3
    assert meta["iterations"] == 30
    assert "3 attempt(s) of 10 trials" in meta["reason"]
    c = curve(folder)
    assert c.sizes["iteration"] == 30
    np.testing.assert_array_equal(c.validation_iteration, [0, 5, 10, 15, 20, 25, 30])


def test_restart_then_convergence_counts_attempts(tmp_path: Path) -> None:
    specs = [make_spec(seed, "sine", rule=SINE_RULE) for seed in (2, 3)]
    later, never = train(tmp_path, specs, "restart")
    meta = read_meta(later)
    assert meta["status"] == "converged", meta["reason"]
    assert meta["attempts"] == 2
    assert SINE_RULE["trials_per_attempt"] < meta["iterations"] <= 36
    assert read_meta(never)["status"] == "not_converged"
    assert read_meta(never)["attempts"] == 3


# -- ensembles and reproducibility ------------------------------------------------------


def test_ensemble_equals_networks_trained_alone(tmp_path: Path) -> None:
    seeds = [0, 2, 9]  # converge after 1, 2 and 3 attempts, at different trials
    specs = [make_spec(s, "sine", rule=SINE_RULE) for s in seeds]
    together = train(tmp_path, specs, "ensemble")
    metas = [read_meta(f) for f in together]
    assert [m["attempts"] for m in metas] == [1, 2, 3]
    assert len({m["iterations"] for m in metas}) == 3
    for i, spec in enumerate(specs):
        (alone,) = train(tmp_path, [spec], f"alone{i}")
        assert_same_training(together[i], alone)


def test_same_seed_trains_to_identical_weights(tmp_path: Path) -> None:
    rule = {"trials_per_attempt": 12, "max_attempts": 2}
    (first,) = train(tmp_path, [make_spec(4, rule=rule)], "first")
    (second,) = train(tmp_path, [make_spec(4, rule=rule)], "second")
    wa, wb = weights(first), weights(second)
    for key in wa:
        assert torch.equal(wa[key], wb[key]), key
    np.testing.assert_array_equal(curve(first).loss, curve(second).loss)
    (other,) = train(tmp_path, [make_spec(5, rule=rule)], "other")
    assert not torch.equal(weights(other)["weight_hh"], wa["weight_hh"])


# -- divergence -------------------------------------------------------------------------


def test_huge_initial_p_diverges_and_writes_files(tmp_path: Path) -> None:
    # P0 = I / 1e-40 overflows float32: RLS gives non-finite values at once.
    rule = {"alpha": 1e-40, "precision": "float32"}
    folders = train(tmp_path, [make_spec(0, rule=rule), make_spec(1, rule=rule)], "diverged")
    for folder in folders:
        meta = read_meta(folder)
        assert meta["status"] == "diverged"
        assert meta["reason"].startswith("non-finite") and "trial 1" in meta["reason"]
        assert meta["iterations"] == 1
        assert meta["attempts"] == 1
        assert (folder / "model.pt").exists() and (folder / "training.nc").exists()


def direct_training(seeds: Sequence[int], corrupt: int | None = None):
    """Train ``seeds`` on ``SINE`` with :class:`Force` directly; optionally poison one network."""
    task = TASKS["sine"](**SINE)
    arch = ARCHITECTURES["rate"]
    model = arch(
        task.n_inputs,
        task.n_outputs,
        arch.Params(**ARCH),
        [seeding.generator(s, "init") for s in seeds],
    )
    if corrupt is not None:
        with torch.no_grad():
            model.weight_ih[corrupt] = float("inf")
    context = TrainingContext(
        task=task,
        noise=NOISE["sine"],
        stopping=StoppingParams(**STOPPING),
        trial_generators=[seeding.generator(s, "trials") for s in seeds],
        validation_generators=[seeding.generator(s, "validation") for s in seeds],
        rule_generators=[seeding.generator(s, "rule") for s in seeds],
        device=torch.device("cpu"),
        log=lambda _: None,
    )
    results = Force(ForceParams(**SINE_RULE)).train(model, context)
    return model, results


def test_diverging_network_leaves_the_others_alone() -> None:
    model, results = direct_training([0, 2], corrupt=1)
    assert results[1].status == "diverged"
    assert results[1].reason == "non-finite student state at trial 1"
    assert results[1].iterations == 1
    alone_model, (alone,) = direct_training([0])
    assert results[0].status == alone.status == "converged"
    assert results[0].iterations == alone.iterations
    for name, value in alone_model.network_state_dict(0).items():
        torch.testing.assert_close(model.network_state_dict(0)[name], value, msg=name)
    np.testing.assert_allclose(results[0].curve.loss, alone.curve.loss, rtol=1e-5)


# -- helpers and configuration ----------------------------------------------------------


def test_interpolated_targets_exact_values() -> None:
    targets = torch.tensor(
        [
            [[9.0, 0.0], [2.0, 4.0], [9.0, 0.0], [9.0, 0.0], [5.0, -2.0], [9.0, 0.0]],
            [[0.0, 1.0], [7.0, 7.0], [7.0, 7.0], [7.0, 7.0], [7.0, 7.0], [-1.0, 3.0]],
            [[1.0, 1.0], [2.0, 2.0], [3.0, 3.0], [4.0, 4.0], [5.0, 5.0], [6.0, 6.0]],
        ]
    )
    mask = torch.tensor(
        [
            [0.0, 1.0, 0.0, 0.0, 1.0, 0.0],  # hold, interpolate, hold
            [1.0, 0.0, 0.0, 0.0, 0.0, 1.0],  # rdm: first and last step
            [0.0, 0.0, 0.0, 0.0, 0.0, 0.0],  # nothing masked: targets kept
        ]
    )
    expected = torch.tensor(
        [
            [[2.0, 4.0], [2.0, 4.0], [3.0, 2.0], [4.0, 0.0], [5.0, -2.0], [5.0, -2.0]],
            [[0.0, 1.0], [-0.2, 1.4], [-0.4, 1.8], [-0.6, 2.2], [-0.8, 2.6], [-1.0, 3.0]],
            targets[2].tolist(),
        ]
    )
    torch.testing.assert_close(interpolate_masked_targets(targets, mask), expected)
    # Every step masked (flip-flop, sine): the target itself; leading dimensions are kept.
    full = torch.ones(2, 3, 6)
    stacked = torch.stack([targets, targets])
    torch.testing.assert_close(interpolate_masked_targets(stacked, full), stacked)


def test_final_target_holds_the_answer_throughout_the_trial() -> None:
    batch = TASKS["cdi"](n_steps=6).generate(5, torch.Generator().manual_seed(0), 0.1)
    held = final_masked_targets(batch.targets, batch.mask)[..., 0]
    answer = batch.targets[:, -1, 0].unsqueeze(1)
    torch.testing.assert_close(held, answer.expand(-1, 6))
    # a trial without any masked step keeps its own targets
    targets = torch.arange(6.0).reshape(1, 6, 1)
    torch.testing.assert_close(final_masked_targets(targets, torch.zeros(1, 6)), targets)


def test_rdm_interpolated_target_is_a_ramp() -> None:
    batch = TASKS["rdm"](n_steps=5).generate(4, torch.Generator().manual_seed(0), 0.1)
    ramp = interpolate_masked_targets(batch.targets, batch.mask)[..., 0]
    sign = batch.targets[:, -1, 0].unsqueeze(1)
    torch.testing.assert_close(ramp, sign * torch.tensor([0.0, 0.25, 0.5, 0.75, 1.0]))


@pytest.mark.parametrize(
    ("key", "value"),
    [
        ("alpha", 0.0),
        ("alpha", -1e4),
        ("alpha", float("inf")),
        ("teacher_gain", -1.5),
        ("hint_gain", float("nan")),
        ("warmup_steps", -1),
        ("update_every", 0),
        ("trials_per_attempt", 0),
        ("max_attempts", 0),
        ("unmasked_target", "nearest"),
        ("precision", "float16"),
        ("alpha", "large"),
        ("max_attempts", 2.5),
    ],
)
def test_bad_params_name_the_key(key: str, value: Any) -> None:
    with pytest.raises(ConfigError, match=key):
        from_mapping(ForceParams, {key: value}, "learning_rules.force")


def test_params_defaults_and_other_architectures_refused(tmp_path: Path) -> None:
    params = from_mapping(ForceParams, {}, "learning_rules.force")
    assert 1e4 <= params.alpha <= 5e4
    assert LEARNING_RULES["force"] is Force
    assert Force.supports("rate") and not Force.supports("gru")
    with pytest.raises(ConfigError, match="gru"):
        train_ensemble([make_spec(0, architecture="gru")], [tmp_path / "gru"], device="cpu")
