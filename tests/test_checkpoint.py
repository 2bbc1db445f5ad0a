"""Checkpoints: a training interrupted mid-way resumes and ends exactly as if uninterrupted."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from rnn_analysis.training.checkpoint import Checkpointer
from rnn_analysis.training.run import checkpoint_path, train_ensemble
from rnn_analysis.training.tracker import EnsembleTracker
from tests.training_files import curve, read_meta, weights

pytestmark = pytest.mark.usefixtures("one_thread")

#: Never converges (threshold 2): every run spends its budget of 60 updates and crosses
#: the checkpoints saved at the validations of updates 10, 20, ...
STOPPING = {"validate_every": 10, "validation_trials": 32, "window": 2, "threshold": 2.0}
RDM = ("rdm", {"n_steps": 30}, "rate", {"hidden_size": 20})
FLIPFLOP = ("flipflop", {"n_steps": 30, "pulse_probability": 0.1}, "gru", {"hidden_size": 16})
RULES = {
    "bptt": (FLIPFLOP, {"learning_rate": 0.01, "batch_size": 16, "max_iterations": 60}),
    "genetic": (FLIPFLOP, {"population_size": 6, "batch_size": 16, "max_generations": 60}),
    # two attempts of 30 trials: the resumed part includes a restart
    "force": (RDM, {"trials_per_attempt": 30, "max_attempts": 2}),
    "hebbian": (RDM, {"learning_rate": 1.0, "max_dw": 1e-2, "max_trials": 60}),
}


class Killed(BaseException):
    """Stands for the job being killed: not an error that training records as failed."""


def specs(rule: str, seeds: list[int], **changes: float) -> list[dict]:
    (task, task_params, architecture, arch_params), rule_params = RULES[rule]
    return [
        {
            "network": {
                "task": task,
                "architecture": architecture,
                "learning_rule": rule,
                "noise": 0.1,
                "seed": s,
            },
            "task": dict(task_params),
            "architecture": dict(arch_params),
            "learning_rule": {**rule_params, **changes},
            "stopping": dict(STOPPING),
        }
        for s in seeds
    ]


def run(folder: Path, rule: str, seeds: list[int], lines: list[str] | None = None) -> list[Path]:
    folders = [folder / f"seed{s}" for s in seeds]
    log = lines.append if lines is not None else (lambda _: None)
    train_ensemble(specs(rule, seeds), folders, device="cpu", log=log, checkpoint_minutes=1e-9)
    return folders


@pytest.fixture
def kill_at_save(monkeypatch: pytest.MonkeyPatch):
    """Make the n-th checkpoint save (1-based) the last thing the job does."""
    original = Checkpointer.save

    def arm(n: int) -> None:
        calls = {"n": 0}

        def save(self, iteration, state):
            original(self, iteration, state)
            calls["n"] += 1
            if calls["n"] == n:
                raise Killed

        monkeypatch.setattr(Checkpointer, "save", save)

    yield arm
    monkeypatch.setattr(Checkpointer, "save", original)


@pytest.mark.parametrize("rule", sorted(RULES))
def test_resumed_training_ends_with_the_uninterrupted_weights(
    tmp_path: Path, kill_at_save, monkeypatch: pytest.MonkeyPatch, rule: str
) -> None:
    seeds = [0, 1]
    reference = run(tmp_path / "reference", rule, seeds)
    assert not checkpoint_path(specs(rule, seeds), reference).exists()

    kill_at_save(3)
    with pytest.raises(Killed):
        run(tmp_path / "resumed", rule, seeds)
    folders = [tmp_path / "resumed" / f"seed{s}" for s in seeds]
    path = checkpoint_path(specs(rule, seeds), folders)
    assert path.is_file() and not (folders[0] / "model.pt").exists()

    kill_at_save(10**6)
    updates = []
    record = EnsembleTracker.record_loss
    monkeypatch.setattr(
        EnsembleTracker,
        "record_loss",
        lambda self, i, losses: updates.append(i) or record(self, i, losses),
    )
    lines: list[str] = []
    run(tmp_path / "resumed", rule, seeds, lines)
    assert any("resuming from the checkpoint at update 30" in line for line in lines), lines
    assert updates == list(range(31, 61))  # nothing before the checkpoint is redone
    assert not path.exists()
    for a, b in zip(reference, folders, strict=True):
        wa, wb = weights(a), weights(b)
        for key in wa:
            assert torch.equal(wa[key], wb[key]), key
        np.testing.assert_array_equal(curve(a).loss, curve(b).loss)
        np.testing.assert_array_equal(curve(a).validation_score, curve(b).validation_score)
        # the neural features recorded before the checkpoint survive the restart
        np.testing.assert_array_equal(curve(a).neural_features, curve(b).neural_features)
        np.testing.assert_array_equal(curve(a).feature_update, curve(b).feature_update)
        assert curve(b).feature_update.values[0] == 0
        meta_a, meta_b = read_meta(a), read_meta(b)
        for key in ("status", "iterations", "reason", "attempts"):
            assert meta_a.get(key) == meta_b.get(key), key


def test_checkpoint_of_other_specs_is_not_resumed(tmp_path: Path, kill_at_save) -> None:
    kill_at_save(1)
    with pytest.raises(Killed):
        run(tmp_path / "a", "bptt", [0])
    folders = [tmp_path / "a" / "seed0"]
    kill_at_save(10**6)
    lines: list[str] = []
    changed = specs("bptt", [0], learning_rate=0.02)
    train_ensemble(changed, folders, device="cpu", log=lines.append, checkpoint_minutes=1e-9)
    assert any("other training specs; starting over" in line for line in lines), lines
    assert not any("resuming" in line for line in lines)


def test_truncated_checkpoint_starts_over(tmp_path: Path) -> None:
    folders = [tmp_path / "seed0"]
    path = checkpoint_path(specs("bptt", [0]), folders)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(b"\x80\x04 truncated")
    lines: list[str] = []
    train_ensemble(
        specs("bptt", [0]), folders, device="cpu", log=lines.append, checkpoint_minutes=1e-9
    )
    assert any("unreadable" in line for line in lines)
    assert read_meta(folders[0])["iterations"] == 60


def test_no_checkpoints_when_switched_off(tmp_path: Path) -> None:
    folders = [tmp_path / "seed0"]
    lines: list[str] = []
    train_ensemble(specs("bptt", [0]), folders, device="cpu", log=lines.append)
    assert not any("checkpoint saved" in line for line in lines)
    assert not list(tmp_path.glob("checkpoint_*"))
