"""The sweep config: grid expansion and every kind of bad input, named by key and value."""

from __future__ import annotations

import copy
from pathlib import Path

import pytest
import yaml

from rnn_analysis.config import Sweep, load_config
from rnn_analysis.errors import ConfigError
from rnn_analysis.training.rule import LEARNING_RULES, LearningRule

from .conftest import REPO, TINY_CONFIG, deep_update


def sweep(changes: dict | None = None) -> Sweep:
    return Sweep(deep_update(TINY_CONFIG, changes or {}), source="test.yaml")


def test_default_config_is_valid() -> None:
    s = load_config(REPO / "config" / "config.yaml")
    assert len(s.networks) == 5 * 2 * 2
    assert {n.architecture for n in s.networks} == {"vanilla", "rate", "gru", "lstm", "ugrnn"}


def test_learning_rules_study_config_is_valid() -> None:
    s = load_config(REPO / "config" / "learning_rules.yaml")
    assert {n.learning_rule for n in s.networks} == {"bptt", "genetic", "force", "hebbian"}
    assert {n.architecture for n in s.networks} == {"rate"}
    # decision task: 4 rules × 3 noise levels; integration also × 5 numbers of contexts
    assert len(s.networks) == (4 * 3 + 4 * 3 * 5) * 10
    first = next(n for n in s.networks if n.learning_rule == "genetic" and n.task == "cdi")
    assert s.training_spec(first)["learning_rule"]["population_size"] == 20


def test_grid_expansion_and_seed_groups() -> None:
    s = sweep({"grid": {"seeds": [3, 1, 8]}, "jobs": {"seeds_per_job": 2}})
    assert len(s.networks) == 2 * 2 * 3
    assert s.seed_groups() == [(1, 3), (8,)]
    assert s.networks[0].key == "flipflop/gru/bptt/noise0/seed1"


def test_exclude_and_include() -> None:
    s = sweep(
        {
            "grid": {
                "exclude": [{"architecture": "vanilla", "noise": 0.1}],
                "include": [
                    {
                        "task": "flipflop",
                        "architecture": "lstm",
                        "learning_rule": "bptt",
                        "noise": 0.5,
                    }
                ],
            }
        }
    )
    cells = {cell[:4] for cell in s.cells}
    assert ("flipflop", "vanilla", "bptt", 0.1) not in cells
    assert ("flipflop", "vanilla", "bptt", 0.0) in cells
    assert ("flipflop", "lstm", "bptt", 0.5) in cells
    assert "lstm" in s.architecture_params


def test_resolved_spec_has_defaults_and_overrides() -> None:
    s = sweep()
    spec = s.training_spec(s.networks[0])
    assert spec["architecture"]["hidden_size"] == 16
    assert spec["task"]["n_bits"] == 3
    assert spec["learning_rule"]["clip_norm"] == 1.0
    assert spec["network"]["seed"] == 0


def test_hyperparameter_change_changes_only_that_architectures_spec() -> None:
    a, b = sweep(), sweep({"architectures": {"gru": {"hidden_size": 17}}})
    for net in a.networks:
        changed = a.training_spec(net) != b.training_spec(net)
        assert changed == (net.architecture == "gru")
        assert a.analysis_spec(net) == b.analysis_spec(net)


def test_stop_criterion_resolved_per_task(monkeypatch: pytest.MonkeyPatch) -> None:
    """Task defaults, then training.stopping, then training.stopping_by_task.<task>."""
    from rnn_analysis.tasks import TASKS

    monkeypatch.setattr(TASKS["flipflop"], "stopping_defaults", {"extra_updates": 7, "window": 4})
    monkeypatch.setattr(TASKS["sine"], "stopping_defaults", {"loss_threshold": 0.5})
    grid = {"task": ["flipflop", "sine"]}
    s = sweep({"grid": grid, "training": {"stopping": {"window": 3}}})
    by_task = {n.task: s.training_spec(n)["stopping"] for n in s.networks}
    assert by_task["flipflop"]["extra_updates"] == 7 and by_task["flipflop"]["window"] == 3
    assert by_task["sine"]["loss_threshold"] == 0.5 and by_task["sine"]["window"] == 3
    assert by_task["sine"]["extra_updates"] == 0

    s = sweep(
        {
            "grid": grid,
            "training": {
                "stopping": {"window": 3},
                "stopping_by_task": {"sine": {"window": 6, "loss_threshold": 0.1}},
            },
        }
    )
    by_task = {n.task: s.training_spec(n)["stopping"] for n in s.networks}
    assert by_task["flipflop"]["window"] == 3
    assert by_task["sine"]["window"] == 6 and by_task["sine"]["loss_threshold"] == 0.1


@pytest.mark.parametrize(
    ("changes", "expected"),
    [
        (
            {"training": {"stopping_by_task": {"flipflip": {"window": 3}}}},
            ["training.stopping_by_task.flipflip", "unknown task"],
        ),
        (
            {"training": {"stopping_by_task": {"flipflop": {"extra_updatez": 3}}}},
            ["training.stopping_by_task.flipflop", "'extra_updatez'"],
        ),
        (
            {"training": {"stopping": {"extra_fraction": -1.0}}},
            ["training.stopping", "extra_fraction", "-1"],
        ),
        ({"training": {"stop": {}}}, ["under training: stop"]),
        (
            {"grid": {"architecture": ["gru", "transformer"]}},
            ["grid.architecture", "'transformer'"],
        ),
        ({"grid": {"task": ["flipflop", "flipflip"]}}, ["grid.task", "'flipflip'"]),
        ({"grid": {"learning_rule": ["backprop"]}}, ["grid.learning_rule", "'backprop'"]),
        ({"grid": {"noise": [0.1, -0.5]}}, ["grid.noise", "-0.5"]),
        ({"grid": {"noise": []}}, ["grid.noise", "empty"]),
        ({"grid": {"architecture": []}}, ["grid.architecture", "empty"]),
        ({"grid": {"seeds": 0}}, ["grid.seeds", "0"]),
        ({"grid": {"exclude": [{"architecture": "gru"}, {"architecture": "vanilla"}]}}, ["every"]),
        ({"grid": {"exclude": [{"arch": "gru"}]}}, ["grid.exclude[0]", "'arch'"]),
        ({"architectures": {"gru": {"hiden_size": 8}}}, ["architectures.gru", "'hiden_size'"]),
        (
            {"architectures": {"gru": {"hidden_size": "big"}}},
            ["architectures.gru.hidden_size", "'big'"],
        ),
        ({"architectures": {"vanilla": {"activation": "softplus"}}}, ["activation", "'softplus'"]),
        ({"learning_rules": {"bptt": {"learning_rate": -1.0}}}, ["learning_rules.bptt", "-1"]),
        ({"tasks": {"flipflop": {"n_bitz": 3}}}, ["tasks.flipflop", "'n_bitz'"]),
        ({"tasks": {"flipflopp": {}}}, ["tasks.flipflopp", "unknown task"]),
        ({"training": {"stopping": {"windw": 3}}}, ["training.stopping", "'windw'"]),
        ({"analysis": {"fixed_points": {"tol": 1}}}, ["analysis.fixed_points", "'tol'"]),
        ({"aggregate": {"metrics": ["cca", "rsa"]}}, ["aggregate.metrics", "'rsa'"]),
        (
            {"aggregate": {"metric_options": {"svcca": {"variance_fraction": 2.0}}}},
            ["aggregate.metric_options.svcca", "variance_fraction", "2.0"],
        ),
        (
            {"aggregate": {"metric_options": {"cka": {"rtol": 1e-6}}}},
            ["aggregate.metric_options.cka", "takes no arguments"],
        ),
        (
            {"aggregate": {"metrics": ["cca"], "metric_options": {"svcca": {}}}},
            ["metric_options.svcca", "'svcca' is not one of the metrics"],
        ),
        ({"aggregate": {"factors": ["architecture", "colour"]}}, ["factors", "'colour'"]),
        ({"aggregate": {"confidence": 1.5}}, ["confidence", "1.5"]),
        ({"jobs": {"seeds_per_job": 0}}, ["jobs", "seeds_per_job"]),
        ({"gird": {}}, ["'gird'"]),
    ],
)
def test_bad_config_is_refused_naming_key_and_value(changes: dict, expected: list[str]) -> None:
    with pytest.raises(ConfigError) as err:
        sweep(changes)
    message = str(err.value)
    assert message.startswith("test.yaml")
    for fragment in expected:
        assert fragment in message


def test_rule_that_cannot_train_an_architecture_is_refused() -> None:
    name = "rate_only_rule_for_test"

    class RateOnly(LearningRule):
        Params = LEARNING_RULES["bptt"].Params
        architectures = ("rate",)

    if name not in LEARNING_RULES:
        LEARNING_RULES.register(name)(RateOnly)
    with pytest.raises(ConfigError, match=rf"'{name}' cannot train architecture 'gru'"):
        sweep({"grid": {"learning_rule": [name]}})
    ok = sweep({"grid": {"learning_rule": [name], "architecture": ["rate"]}})
    assert {n.architecture for n in ok.networks} == {"rate"}
    excluded = sweep(
        {
            "grid": {
                "learning_rule": ["bptt", name],
                "exclude": [
                    {"learning_rule": name, "architecture": "gru"},
                    {"learning_rule": name, "architecture": "vanilla"},
                ],
            }
        }
    )
    assert {n.learning_rule for n in excluded.networks} == {"bptt"}


@pytest.mark.parametrize(
    ("rule", "architecture"),
    [("force", "gru"), ("hebbian", "lstm"), ("force", "vanilla"), ("hebbian", "ugrnn")],
)
def test_rate_only_rules_refuse_other_architectures_at_config_time(
    rule: str, architecture: str
) -> None:
    with pytest.raises(ConfigError) as err:
        sweep({"grid": {"learning_rule": [rule], "architecture": ["rate", architecture]}})
    message = str(err.value)
    assert message.startswith("test.yaml")
    assert f"{rule!r} cannot train architecture {architecture!r}" in message
    assert "grid.learning_rule × grid.architecture" in message


def test_every_rule_trains_rate_and_gradient_free_rules_train_everything() -> None:
    s = sweep(
        {
            "grid": {
                "learning_rule": ["bptt", "genetic", "force", "hebbian"],
                "architecture": ["rate", "gru", "lstm"],
                "exclude": [
                    {"learning_rule": "force", "architecture": "gru"},
                    {"learning_rule": "force", "architecture": "lstm"},
                    {"learning_rule": "hebbian", "architecture": "gru"},
                    {"learning_rule": "hebbian", "architecture": "lstm"},
                ],
            }
        }
    )
    cells = {(n.architecture, n.learning_rule) for n in s.networks}
    assert cells == {
        ("rate", "bptt"),
        ("rate", "genetic"),
        ("rate", "force"),
        ("rate", "hebbian"),
        ("gru", "bptt"),
        ("gru", "genetic"),
        ("lstm", "bptt"),
        ("lstm", "genetic"),
    }
    assert set(s.rule_params) == {"bptt", "genetic", "force", "hebbian"}


def test_load_config_names_the_file(tmp_path: Path) -> None:
    bad = copy.deepcopy(TINY_CONFIG)
    bad["grid"]["noise"] = [-1]
    path = tmp_path / "bad.yaml"
    path.write_text(yaml.safe_dump(bad))
    with pytest.raises(ConfigError, match=str(path)):
        load_config(path)
    with pytest.raises(ConfigError, match="does not exist"):
        load_config(tmp_path / "missing.yaml")
