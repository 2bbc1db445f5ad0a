"""The study presets: every config under config/ plans, and a tiny override of each
laptop preset runs end to end to its claims table."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from rnn_analysis.config import Sweep
from rnn_analysis.reproduce import VERDICTS, study_of
from tests.conftest import REPO, deep_update, snakemake

CONFIGS = sorted((REPO / "config").glob("*.yaml"))
SMALL = ["universality_small", "learning_rules_small", "space_of_solutions_small"]
PRESETS = [*SMALL, *(name.removesuffix("_small") for name in SMALL)]


def merged(name: str) -> dict:
    """A preset merged over the default config, as Snakemake merges ``--configfile``."""
    default = yaml.safe_load((REPO / "config" / "config.yaml").read_text())
    return deep_update(default, yaml.safe_load((REPO / "config" / f"{name}.yaml").read_text()))


def test_every_study_has_a_full_and_a_small_preset() -> None:
    names = {path.stem for path in CONFIGS}
    assert set(PRESETS) <= names, sorted(names)
    for name in PRESETS:
        sweep = Sweep(merged(name), source=name)
        assert sweep.study == study_of(name)
        assert sweep.results == f"results/{name}"


@pytest.mark.parametrize("config", CONFIGS, ids=lambda p: p.stem)
def test_every_config_plans(config: Path, tmp_path: Path) -> None:
    proc = snakemake(tmp_path, config, "--dry-run", "--quiet", "rules")
    text = proc.stdout + proc.stderr
    assert "analyze" in text and "aggregate" in text, text[-2000:]
    if Sweep(merged(config.stem)).study:
        assert "claims" in text
    assert not (tmp_path / "results").exists()


def test_learning_rules_preset_follows_the_study_per_cell() -> None:
    sweep = Sweep(merged("learning_rules"))
    for network in sweep.networks:
        spec = sweep.training_spec(network)
        activation = spec["architecture"]["activation"]
        if network.learning_rule in ("bptt", "genetic"):
            assert activation == "shifted_tanh"
        else:
            assert activation == "tanh"
        if network.learning_rule == "genetic":
            assert spec["learning_rule"]["trained_weights"] == "all"
            assert spec["learning_rule"]["population_size"] == (50 if network.task == "rdm" else 20)
    contexts = {dict(n.axes).get("n_contexts") for n in sweep.networks if n.task == "cdi"}
    assert contexts == {2, 3, 4, 5, 6}


#: Budgets (and fewer cells) that make each laptop preset run in about a minute; nothing
#: converges. Every task and rule of the preset stays (its per-cell settings are checked
#: by the planning tests above).
TINY = {
    "universality_small": {
        "grid": {"seeds": 1, "architecture": ["gru"]},
        "tasks": {"flipflop": {"n_steps": 30}, "sine": {"n_steps": 40}, "cdi": {"n_steps": 30}},
        "learning_rules": {"bptt": {"max_iterations": 10}},
    },
    "learning_rules_small": {
        "grid": {"seeds": 1, "noise": [0.3]},
        "tasks": {"rdm": {"n_steps": 30}, "cdi": {"n_steps": 30}},
        "learning_rules": {
            "bptt": {"max_iterations": 10},
            "genetic": {"max_generations": 3, "batch_size": 16},
            "force": {"trials_per_attempt": 10, "max_attempts": 1},
            "hebbian": {"max_trials": 20},
        },
    },
    "space_of_solutions_small": {
        "grid": {"seeds": 1, "architecture": ["gru"]},
        "learning_rules": {"bptt": {"max_iterations": 10}},
    },
}
SHARED_TINY = {
    "training": {"stopping": {"validate_every": 5, "validation_trials": 32, "window": 1}},
    "analysis": {
        "evaluation_trials": 32,
        "psychometric_repeats": 2,
        "fixed_points": {"n_initial_states": 32, "max_iterations": 200},
    },
    "aggregate": {"include_not_converged": True, "bootstrap_samples": 50},
    "jobs": {"seeds_per_job": 1},
}


@pytest.mark.slow
@pytest.mark.parametrize("preset", SMALL)
def test_tiny_override_of_each_laptop_preset_runs_to_its_claims(
    preset: str, tmp_path: Path
) -> None:
    config = deep_update(
        yaml.safe_load((REPO / "config" / f"{preset}.yaml").read_text()), TINY[preset]
    )
    config = deep_update(config, SHARED_TINY)
    # settings of the preset that name the budget keys keep their own values: cut them too
    for setting in config["grid"].get("settings", []):
        for path in list(setting["set"]):
            if path.endswith(("max_iterations", "max_trials", "max_generations")):
                setting["set"][path] = 10
    path = tmp_path / "tiny.yaml"
    path.write_text(yaml.safe_dump(config, sort_keys=False))
    results = tmp_path / "results" / preset
    # the claims and what they read (train, analyze, aggregate); the figures are tested
    # elsewhere
    snakemake(tmp_path, path, "--cores", "2", f"results/{preset}/claims.txt")
    text = (results / "claims.txt").read_text()
    assert text.startswith(f"claims of the {study_of(preset).replace('_', ' ')} study")
    assert any(verdict in text for verdict in VERDICTS)
    assert (results / "claims.html").is_file()
    cli = subprocess.run(
        [sys.executable, "-m", "rnn_analysis", "reproduce", preset, str(results)],
        capture_output=True,
        text=True,
        check=True,
    )
    assert cli.stdout.strip() == text.strip()
