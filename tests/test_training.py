"""Tests of BPTT training of ensembles, the stop criterion and the files written per network."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch

from rnn_analysis import seeding
from rnn_analysis.architectures.gru import GRU
from rnn_analysis.io import load_models
from rnn_analysis.tasks.flipflop import FlipFlop
from rnn_analysis.training.run import train_ensemble
from rnn_analysis.training.stopping import StopCriterion, StoppingParams
from rnn_analysis.training.trials import stack_trials, validate

from .training_files import assert_same_training, curve, read_meta, train, weights

TASK = {"n_steps": 30, "pulse_probability": 0.1}
RULE = {"learning_rate": 0.01, "batch_size": 32, "max_iterations": 40}
STOPPING = {"validate_every": 10, "validation_trials": 64, "window": 2}


@pytest.fixture(autouse=True)
def one_thread():
    """Tiny tensors: intra-op threads only add overhead (and contention on busy runners)."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


def make_spec(
    seed: int,
    architecture: str = "gru",
    task: dict | None = None,
    arch_params: dict | None = None,
    rule: dict | None = None,
    stopping: dict | None = None,
    noise: float = 0.1,
) -> dict[str, Any]:
    return {
        "network": {
            "task": "flipflop",
            "architecture": architecture,
            "learning_rule": "bptt",
            "noise": noise,
            "seed": seed,
        },
        "task": copy.deepcopy(task if task is not None else TASK),
        "architecture": copy.deepcopy(arch_params or {"hidden_size": 16}),
        "learning_rule": copy.deepcopy(rule or RULE),
        "stopping": copy.deepcopy(stopping or STOPPING),
    }


# -- reproducibility and ensemble equivalence -----------------------------------------


def test_same_seed_trains_to_identical_weights(tmp_path: Path) -> None:
    spec = make_spec(3, rule={**RULE, "max_iterations": 30})
    (first,) = train(tmp_path, [spec], "first")
    (second,) = train(tmp_path, [spec], "second")
    wa, wb = weights(first), weights(second)
    assert wa.keys() == wb.keys() and wa
    for key in wa:
        assert torch.equal(wa[key], wb[key]), key
    np.testing.assert_array_equal(curve(first).loss, curve(second).loss)

    (other,) = train(tmp_path, [make_spec(4, rule={**RULE, "max_iterations": 30})], "other")
    assert not torch.equal(weights(other)["weight_hh"], wa["weight_hh"])


def test_ensemble_equals_networks_trained_alone(tmp_path: Path) -> None:
    stopping = {"validate_every": 5, "validation_trials": 64, "window": 2, "threshold": 0.5}
    seeds = [0, 1, 3]
    specs = [make_spec(s, stopping=stopping) for s in seeds]
    together = train(tmp_path, specs, "ensemble")
    alone = [train(tmp_path, [spec], f"alone{i}")[0] for i, spec in enumerate(specs)]
    for a, b in zip(together, alone, strict=True):
        assert_same_training(a, b)
    metas = [read_meta(f) for f in together]
    assert "converged" in {m["status"] for m in metas}
    assert len({m["iterations"] for m in metas}) >= 2
    for folder, meta in zip(together, metas, strict=True):
        ds = curve(folder)
        assert int(ds.validation_iteration[0]) == 0  # the untrained network
        ds = ds.isel(validation=slice(1, None))
        passed = ds.validation_score.values >= stopping["threshold"]
        window_passed = passed[1:] & passed[:-1]
        if meta["status"] == "converged":
            assert window_passed[-1] and not window_passed[:-1].any()
            assert meta["iterations"] == int(ds.validation_iteration[-1])
        else:
            assert meta["status"] == "not_converged"
            assert not window_passed.any()
            assert meta["iterations"] == RULE["max_iterations"]


def test_divergence_is_recorded_and_isolated(tmp_path: Path) -> None:
    arch = {"hidden_size": 16, "activation": "relu", "recurrent_gain": 2.5}
    rule = {"learning_rate": 0.1, "batch_size": 32, "max_iterations": 20}
    task = {"n_steps": 60, "pulse_probability": 0.1}
    specs = [make_spec(s, "vanilla", task, arch, rule) for s in (0, 3, 11)]
    together = train(tmp_path, specs, "ensemble")
    metas = [read_meta(f) for f in together]
    statuses = [m["status"] for m in metas]
    assert "diverged" in statuses
    assert any(s != "diverged" for s in statuses)

    for spec, folder, meta in zip(specs, together, metas, strict=True):
        (single,) = train(tmp_path, [spec], f"alone{spec['network']['seed']}")
        assert_same_training(folder, single)
        assert {"model.pt", "training.nc", "meta.json"} <= {p.name for p in folder.iterdir()}
        if meta["status"] != "diverged":
            assert meta["iterations"] == rule["max_iterations"]
            assert np.isfinite(curve(folder).loss).all()
            continue
        assert "non-finite" in meta["reason"]
        assert f"iteration {meta['iterations']}" in meta["reason"]
        assert meta["iterations"] < rule["max_iterations"]
        saved = curve(folder)
        assert saved.attrs["status"] == "diverged"
        assert saved.sizes["iteration"] == meta["iterations"]
        if "loss" in meta["reason"]:
            assert not np.isfinite(saved.loss.values[-1])
        else:
            assert "gradient" in meta["reason"]
            assert np.isfinite(saved.loss.values[-1])
        for value in weights(folder).values():
            assert torch.isfinite(value).all()
        model = load_models([folder / "model.pt"])
        assert model.n_networks == 1


def test_forced_divergence_with_huge_learning_rate(tmp_path: Path) -> None:
    arch = {"hidden_size": 16, "activation": "relu", "recurrent_gain": 20.0}
    rule = {"learning_rate": 1e3, "batch_size": 16, "max_iterations": 20, "clip_norm": 0.0}
    (folder,) = train(tmp_path, [make_spec(1, "vanilla", {"n_steps": 10}, arch, rule)], "huge_lr")
    meta = read_meta(folder)
    assert meta["status"] == "diverged"
    assert meta["reason"]
    assert meta["iterations"] < rule["max_iterations"]
    assert (folder / "model.pt").exists() and (folder / "training.nc").exists()


def test_recurrent_only_training_keeps_other_weights(tmp_path: Path) -> None:
    rule = {**RULE, "max_iterations": 5, "trained_weights": "recurrent"}
    spec = make_spec(2, rule=rule)
    (folder,) = train(tmp_path, [spec], "recurrent")
    trained = weights(folder)
    initial = GRU(3, 3, GRU.Params(hidden_size=16), [seeding.generator(2, "init")])
    for key, value in trained.items():
        start = initial.network_state_dict(0)[key]
        if key == "weight_hh":
            assert not torch.equal(value, start)
        else:
            assert torch.equal(value, start), key


def test_seeding_streams_are_reproducible_and_distinct() -> None:
    draws = {
        stream: torch.rand(4, generator=seeding.generator(7, stream)) for stream in seeding.STREAMS
    }
    for stream, values in draws.items():
        assert torch.equal(values, torch.rand(4, generator=seeding.generator(7, stream)))
        assert not torch.equal(values, torch.rand(4, generator=seeding.generator(8, stream)))
    assert len({tuple(v.tolist()) for v in draws.values()}) == len(seeding.STREAMS)
    assert 0 <= seeding.stream_seed(7, "init") < 2**63
    with pytest.raises(ValueError, match="unknown random stream"):
        seeding.generator(7, "nope")


# -- files written --------------------------------------------------------------------


def test_written_files(tmp_path: Path) -> None:
    specs = [make_spec(s) for s in (5, 6)]
    folders = train(tmp_path, specs, "files")
    task = FlipFlop(**TASK)
    model = load_models([f / "model.pt" for f in folders])
    assert model.n_networks == 2
    validation = stack_trials(
        task,
        STOPPING["validation_trials"],
        [seeding.generator(s["network"]["seed"], "validation") for s in specs],
        specs[0]["network"]["noise"],
        torch.device("cpu"),
    )
    rescored = validate(model, task, validation)
    with torch.no_grad():
        _, outputs = model(validation.inputs)

    for i, (spec, folder) in enumerate(zip(specs, folders, strict=True)):
        meta = read_meta(folder)
        assert meta["status"] == "not_converged"
        assert meta["iterations"] == RULE["max_iterations"]
        assert meta["wall_time_s"] > 0
        assert meta["versions"]["torch"] == torch.__version__
        assert meta["spec"] == json.loads(json.dumps(spec))
        assert meta["network"] == spec["network"]
        assert meta["reason"]

        ds = curve(folder)
        assert ds.loss.dims == ("iteration",)
        np.testing.assert_array_equal(ds.iteration, np.arange(1, RULE["max_iterations"] + 1))
        assert np.isfinite(ds.loss).all()
        assert ds.loss.values[-10:].mean() < ds.loss.values[:10].mean()
        np.testing.assert_array_equal(ds.validation_iteration, [0, 10, 20, 30, 40])
        assert ds.validation_score.dims == ("validation",)
        assert ((ds.validation_score >= 0) & (ds.validation_score <= 1)).all()
        assert (ds.validation_loss > 0).all()
        assert meta["final_validation_score"] == pytest.approx(float(ds.validation_score[-1]))
        assert meta["untrained_validation_score"] == pytest.approx(float(ds.validation_score[0]))
        assert meta["untrained_validation_loss"] == pytest.approx(float(ds.validation_loss[0]))
        assert meta["criterion_met_at"] is None
        assert ds.attrs["status"] == meta["status"]
        assert int(ds.attrs["iterations"]) == meta["iterations"]

        for key, value in weights(folder).items():
            assert torch.equal(getattr(model, key)[i].detach(), value), key
        assert rescored.scores[i] == pytest.approx(meta["final_validation_score"], abs=1e-6)
        assert rescored.losses[i] == pytest.approx(float(ds.validation_loss[-1]), rel=1e-5)

        single = load_models([folder / "model.pt"])
        with torch.no_grad():
            _, from_single = single(validation.inputs[i : i + 1])
        torch.testing.assert_close(from_single[0], outputs[i], atol=1e-5, rtol=1e-5)


def test_train_ensemble_refuses_mixed_cells(tmp_path: Path) -> None:
    a = make_spec(0)
    b = make_spec(1, noise=0.5)
    with pytest.raises(ValueError, match="grid cell"):
        train_ensemble([a, b], [tmp_path / "a", tmp_path / "b"], device="cpu")
    c = make_spec(1, rule={**RULE, "learning_rate": 0.02})
    with pytest.raises(ValueError, match="learning_rule"):
        train_ensemble([a, c], [tmp_path / "a", tmp_path / "c"], device="cpu")
    assert not (tmp_path / "a").exists()


# -- a real training run ------------------------------------------------------------


@pytest.mark.slow
def test_gru_learns_flipflop(tmp_path: Path) -> None:
    spec = make_spec(
        1,
        task={"n_steps": 60},
        arch_params={"hidden_size": 32},
        rule={"learning_rate": 0.01, "batch_size": 64, "max_iterations": 600},
        stopping={"validate_every": 20, "validation_trials": 128, "window": 2},
    )
    (folder,) = train(tmp_path, [spec], "gru")
    meta = read_meta(folder)
    assert meta["status"] == "converged", meta["reason"]
    assert meta["iterations"] < 600
    threshold = FlipFlop().success_threshold
    assert meta["final_validation_score"] >= threshold
    assert curve(folder).validation_score.values[-2:].min() >= threshold


def test_rate_learns_rdm_training_only_the_recurrent_weights(tmp_path: Path) -> None:
    """The learning-rules study's setting: 50 rate units, shifted tanh, only W_rec trained."""
    spec = make_spec(
        0,
        "rate",
        task={"n_steps": 100},
        arch_params={"hidden_size": 50, "alpha": 0.2, "activation": "shifted_tanh"},
        rule={
            "learning_rate": 0.005,
            "batch_size": 64,
            "max_iterations": 600,
            "trained_weights": "recurrent",
        },
        stopping={"validate_every": 10, "validation_trials": 200, "window": 3},
    )
    spec["network"]["task"] = "rdm"
    (folder,) = train(tmp_path, [spec], "rate_rdm")
    meta = read_meta(folder)
    assert meta["status"] == "converged", meta["reason"]
    assert curve(folder).validation_score.values[-3:].min() >= 0.9
    assert curve(folder).validation_score.values[0] < 0.9


# -- the stop criterion -------------------------------------------------------------


def criterion(n: int, threshold: float, **params: Any) -> StopCriterion:
    return StopCriterion(n, threshold, StoppingParams(**params))


def test_stop_criterion_needs_window_consecutive_passes() -> None:
    crit = criterion(1, 0.9, window=3)
    active = np.array([True])
    sequence = [0.95, 0.91, 0.5, 0.92, 0.9, 0.99, 0.97]
    expected = [False, False, False, False, False, True, True]
    got = [bool(crit.update(np.array([s]), active)[0]) for s in sequence]
    assert got == expected


def test_stop_criterion_window_one_and_threshold_inclusive() -> None:
    crit = criterion(2, 0.8, window=1)
    out = crit.update(np.array([0.8, 0.79]), np.array([True, True]))
    assert out.tolist() == [True, False]


def test_stop_criterion_skips_inactive_networks() -> None:
    crit = criterion(3, 0.5, window=2)
    both = np.array([True, True, True])
    assert crit.update(np.array([0.9, 0.9, 0.1]), both).tolist() == [False] * 3
    only_first = np.array([True, False, False])
    out = crit.update(np.array([0.9, 0.9, 0.9]), only_first)
    assert out.tolist() == [True, False, False]
    assert crit.history[1] == [0.9] and crit.history[2] == [0.1]
    out = crit.update(np.array([0.0, 0.9, 0.9]), np.array([False, True, True]))
    assert out.tolist() == [False, True, False]
    out = crit.update(np.array([0.0, 0.0, 0.9]), np.array([False, False, True]))
    assert out.tolist() == [False, False, True]


def test_loss_threshold_needs_a_low_mean_loss_over_the_window() -> None:
    crit = criterion(1, 0.9, window=2, loss_threshold=0.1)
    active = np.array([True])
    steps = [(1.0, 0.3), (1.0, 0.15), (1.0, 0.04), (0.8, 0.01), (1.0, 0.02), (1.0, 0.01)]
    got = [bool(crit.update(np.array([s]), active, np.array([loss]))[0]) for s, loss in steps]
    # window means: -, 0.225, 0.095 (but the score window holds), score 0.8 fails,
    # 0.015 with 0.8 in the score window fails, then both hold.
    assert got == [False, False, True, False, False, True]


def test_plateau_needs_the_loss_to_stop_falling() -> None:
    crit = criterion(1, 0.5, window=1, plateau_window=2, plateau_tolerance=0.1)
    active = np.array([True])
    losses = [1.0, 0.5, 0.3, 0.29, 0.28, 0.2, 0.19, 0.2]
    got = [bool(crit.update(np.array([1.0]), active, np.array([loss]))[0]) for loss in losses]
    # best before the last two vs best of the last two: needs <10% improvement.
    assert got == [False, False, False, False, True, False, False, True]


def run_tracker(
    scores: list[list[float]],
    untrained: list[float] | None = None,
    budget: int = 100,
    **params: Any,
) -> list:
    """Drive a tracker with one validation every 10 updates; scores[k] is validation k+1."""
    from rnn_analysis.training.tracker import EnsembleTracker
    from rnn_analysis.training.trials import Validation

    stopping = StoppingParams(validate_every=10, **params)
    n = len(scores[0])
    tracker = EnsembleTracker(n, budget, 0.5, stopping, log=lambda _: None)
    if untrained is not None:
        tracker.baseline(lambda: Validation(np.array(untrained), np.ones(n)))
    for k, row in enumerate(scores):
        iteration = 10 * (k + 1)
        if iteration > budget or not tracker.active.any():
            break
        tracker.record_loss(iteration, np.zeros(n))
        tracker.validate(iteration, np.array(row, dtype=float))
    return tracker.results()


def test_min_updates_delays_convergence() -> None:
    good, bad = run_tracker([[1.0, 0.0]] * 10, window=2, threshold=0.5, min_updates=40)
    assert good.status == "converged" and good.iterations == 40
    assert bad.status == "not_converged" and bad.iterations == 100


def test_extra_updates_train_on_after_the_criterion() -> None:
    # Network 0 meets the criterion at update 20 and trains on for 30 more updates;
    # network 1 meets it at 20 too but fails at 50, so with a window of 2 it stops at 70.
    scores = [[1.0, 1.0]] * 4 + [[1.0, 0.0]] + [[1.0, 1.0]] * 3
    first, second = run_tracker(scores, window=2, extra_updates=30)
    assert first.status == "converged" and first.iterations == 50
    assert first.extra["criterion_met_at"] == 20
    assert "first met at iteration 20" in first.reason
    assert second.status == "converged" and second.iterations == 70
    assert second.extra["criterion_met_at"] == 20


def test_extra_fraction_scales_with_the_updates_to_criterion() -> None:
    scores = [[0.0, 1.0]] * 3 + [[1.0, 1.0]] * 7
    late, early = run_tracker(scores, window=1, extra_fraction=1.0)
    assert early.extra["criterion_met_at"] == 10 and early.iterations == 20
    assert late.extra["criterion_met_at"] == 40 and late.iterations == 80


def test_budget_ending_during_the_extra_updates_is_not_converged() -> None:
    (result,) = run_tracker([[1.0]] * 10, budget=50, window=1, extra_updates=100)
    assert result.status == "not_converged"
    assert result.iterations == 50
    assert "after the criterion was first met at iteration 10" in result.reason


def test_untrained_network_meeting_the_criterion_is_trivial() -> None:
    scores = [[1.0, 1.0]] * 5
    trivial, learned = run_tracker(scores, untrained=[0.95, 0.2], window=2)
    assert trivial.status == "trivial" and learned.status == "converged"
    assert "before training" in trivial.reason and "0.95" in trivial.reason
    assert trivial.extra["untrained_validation_score"] == pytest.approx(0.95)
    assert learned.extra["untrained_validation_score"] == pytest.approx(0.2)
    for result in (trivial, learned):
        assert int(result.curve.validation_iteration[0]) == 0
        assert result.curve.sizes["validation"] == 3  # untrained + two validations
    unchecked = run_tracker(scores, untrained=[0.95, 0.2], window=2, check_untrained=False)
    assert [r.status for r in unchecked] == ["converged", "converged"]
    assert unchecked[0].extra["untrained_validation_score"] is None
    assert int(unchecked[0].curve.validation_iteration[0]) == 10


def test_trivial_network_through_train_ensemble(tmp_path: Path) -> None:
    """With a threshold every untrained network meets, training ends ``trivial``."""
    stopping = {**STOPPING, "threshold": 0.0}
    (folder,) = train(tmp_path, [make_spec(0, stopping=stopping)], "trivial")
    meta = read_meta(folder)
    assert meta["status"] == "trivial"
    assert meta["untrained_validation_score"] >= 0.0
    assert meta["criterion_met_at"] == STOPPING["validate_every"] * STOPPING["window"]
    assert curve(folder).attrs["status"] == "trivial"


def test_training_error_is_recorded_as_failed(tmp_path: Path, monkeypatch) -> None:
    from rnn_analysis.analysis.network import analyze_network
    from rnn_analysis.training.bptt import BPTT

    def broken(self, model, context):
        raise RuntimeError("CUDA out of memory (simulated)")

    monkeypatch.setattr(BPTT, "train", broken)
    specs = [make_spec(seed) for seed in (0, 1)]
    folders = train(tmp_path, specs, "failed")
    for folder in folders:
        meta = read_meta(folder)
        assert meta["status"] == "failed"
        assert "CUDA out of memory (simulated)" in meta["reason"]
        assert (folder / "model.pt").is_file() and (folder / "training.nc").is_file()
        analysis_spec = {
            "network": meta["network"],
            "task": meta["spec"]["task"],
            "analysis": {"evaluation_trials": 16},
        }
        ds = analyze_network(analysis_spec, folder, folder / "analysis.nc", log=lambda _: None)
        assert ds.attrs["status"] == "failed"
        assert "training failed" in ds.attrs["analysis_skipped"]
