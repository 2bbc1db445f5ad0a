"""Extra grid axes over any hyperparameter and per-cell settings: expansion, folder names,
resolved specs, errors, and a tiny sweep through the workflow (coordinates, factors,
figures, reruns)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import xarray as xr

from rnn_analysis.config import Sweep
from rnn_analysis.datasets import open_dataset
from rnn_analysis.errors import ConfigError
from rnn_analysis.grid import network_key
from tests.conftest import deep_update, snakemake, write_config
from tests.test_workflow import planned_jobs

BASE = {
    "grid": {
        "task": ["rdm", "cdi"],
        "architecture": ["rate", "gru"],
        "learning_rule": ["bptt", "genetic"],
        "noise": [0.1],
        "seeds": 2,
    }
}


def sweep(**grid) -> Sweep:
    return Sweep(deep_update(BASE, {"grid": grid}))


def keys(s: Sweep) -> set[str]:
    return {n.key for n in s.networks}


def test_axes_multiply_only_the_cells_they_apply_to() -> None:
    s = sweep(
        axes={
            "architectures.*.hidden_size": [8, 16],
            "learning_rules.bptt.learning_rate": [1.0e-3, 1.0e-2],
            "tasks.cdi.n_contexts": [2, 3],
        }
    )
    # per (task, architecture): bptt × 2 lr + genetic; × 2 sizes; cdi × 2 contexts
    cells_per_task = {"rdm": 2 * (2 + 1) * 2, "cdi": 2 * (2 + 1) * 2 * 2}
    assert len(s.cells) == sum(cells_per_task.values())
    assert len(s.networks) == 2 * len(s.cells)
    assert "rdm/gru/genetic/noise0.1/hidden_size=8/seed0" in keys(s)
    assert "cdi/rate/bptt/noise0.1/hidden_size=16,learning_rate=0.01,n_contexts=3/seed1" in keys(s)
    assert s.aggregate.factors == (
        "architecture",
        "learning_rule",
        "noise",
        "hidden_size",
        "learning_rate",
        "n_contexts",
    )


def test_resolved_spec_takes_the_cell_values() -> None:
    s = sweep(axes={"architectures.*.hidden_size": [8, 16], "tasks.cdi.n_contexts": [2, 3]})
    for network in s.networks:
        spec = s.training_spec(network)
        values = dict(network.axes)
        assert spec["architecture"]["hidden_size"] == values["hidden_size"]
        if network.task == "cdi":
            assert spec["task"]["n_contexts"] == values["n_contexts"]
            assert s.analysis_spec(network)["task"]["n_contexts"] == values["n_contexts"]
        assert network_key(spec["network"]) == network.key
        json.dumps(spec)  # the spec is what the rerun trigger compares


def test_folder_of_a_cell_is_stable_when_an_unrelated_axis_is_added() -> None:
    before = keys(sweep(axes={"learning_rules.bptt.learning_rate": [1.0e-3, 1.0e-2]}))
    after = keys(
        sweep(
            axes={
                "learning_rules.bptt.learning_rate": [1.0e-3, 1.0e-2],
                "learning_rules.genetic.population_size": [20, 50],
                "tasks.cdi.n_contexts": [2],
            }
        )
    )
    untouched = {k for k in before if k.startswith("rdm/") and "/bptt/" in k}
    assert untouched and untouched <= after
    # without axes, folders are those of a grid without the feature
    assert "rdm/rate/bptt/noise0.1/seed0" in keys(sweep())


def test_per_cell_settings_reproduce_the_learning_rules_split() -> None:
    s = sweep(
        settings=[
            {
                "where": {"learning_rule": ["bptt", "genetic"]},
                "set": {"architectures.rate.activation": "shifted_tanh"},
            },
            {"where": {"task": "rdm"}, "set": {"learning_rules.genetic.population_size": 50}},
            {"where": {"task": "cdi"}, "set": {"learning_rules.genetic.population_size": 20}},
        ],
        learning_rule=["bptt", "genetic", "force"],
        exclude=[{"architecture": "gru", "learning_rule": "force"}],
    )
    for network in s.networks:
        spec = s.training_spec(network)
        if network.architecture == "rate":
            want = "tanh" if network.learning_rule == "force" else "shifted_tanh"
            assert spec["architecture"]["activation"] == want
        if network.learning_rule == "genetic":
            assert spec["learning_rule"]["population_size"] == (50 if network.task == "rdm" else 20)
        assert "/" not in "".join(str(v) for _, v in network.axes)
    # settings are not axes: no folder or coordinate changes
    assert all(not n.axes for n in s.networks)


def test_exclude_can_name_an_extra_axis() -> None:
    s = sweep(
        axes={"architectures.*.hidden_size": [8, 16]},
        exclude=[{"architecture": "gru", "hidden_size": 16}],
    )
    assert not any(
        n.architecture == "gru" and dict(n.axes)["hidden_size"] == 16 for n in s.networks
    )
    assert any(n.architecture == "rate" and dict(n.axes)["hidden_size"] == 16 for n in s.networks)


def test_axis_names_shared_by_cells_that_never_meet() -> None:
    s = Sweep(
        deep_update(
            BASE,
            {
                "grid": {
                    "architecture": ["rate"],
                    "learning_rule": ["bptt", "hebbian"],
                    "axes": {
                        "learning_rules.bptt.learning_rate": [1.0e-3],
                        "learning_rules.hebbian.learning_rate": [0.01, 0.02],
                    },
                }
            },
        )
    )
    rates = {(n.learning_rule, dict(n.axes)["learning_rate"]) for n in s.networks}
    assert rates == {("bptt", 1.0e-3), ("hebbian", 0.01), ("hebbian", 0.02)}
    assert s.aggregate.factors.count("learning_rate") == 1


@pytest.mark.parametrize(
    ("grid", "fragments"),
    [
        (
            {"axes": {"architectures.*.hiden_size": [8]}},
            ["architectures.*.hiden_size", "hiden_size"],
        ),
        ({"axes": {"architectures.gru.activation": ["relu"]}}, ["gru", "activation"]),
        ({"axes": {"archs.gru.hidden_size": [8]}}, ["archs", "unknown section"]),
        ({"axes": {"hidden_size": [8]}}, ["hidden_size", "<section>"]),
        ({"axes": {"architectures.*.hidden_size": ["big"]}}, ["hidden_size", "'big'"]),
        ({"axes": {"architectures.*.hidden_size": [8.5]}}, ["hidden_size", "8.5"]),
        ({"axes": {"architectures.*.hidden_size": []}}, ["hidden_size", "non-empty"]),
        ({"axes": {"architectures.*.hidden_size": [8, 8]}}, ["hidden_size", "repeated"]),
        ({"axes": {"architectures.rate.activation": ["a/b"]}}, ["activation", "a/b"]),
        ({"axes": {"tasks.flipflop.n_bits": [2]}}, ["tasks.flipflop.n_bits", "no cell"]),
        ({"axes": {"learning_rules.bptt.learning_rate": [-1.0]}}, ["learning_rate", "-1.0"]),
        (
            {
                "axes": {
                    "architectures.*.hidden_size": [8],
                    "architectures.gru.hidden_size": [16],
                }
            },
            ["architectures.*.hidden_size", "architectures.gru.hidden_size", "both apply"],
        ),
        (
            {
                "axes": {"architectures.*.hidden_size": [8]},
                "settings": [{"set": {"architectures.gru.hidden_size": 4}}],
            },
            ["grid.settings[0]", "grid.axes.architectures.*.hidden_size", "both set"],
        ),
        (
            {"settings": [{"where": {"size": 3}, "set": {"architectures.gru.hidden_size": 4}}]},
            ["grid.settings[0].where", "size"],
        ),
        (
            {"settings": [{"set": {"architectures.rate.activation": "sigmoidal"}}]},
            ["grid.settings[0].set.architectures.rate.activation", "sigmoidal"],
        ),
        ({"exclude": [{"hidden_size": 8}]}, ["grid.exclude[0]", "hidden_size"]),
    ],
)
def test_bad_axes_and_settings_name_key_and_value(grid: dict, fragments: list[str]) -> None:
    with pytest.raises(ConfigError) as err:
        sweep(**grid)
    for fragment in fragments:
        assert fragment in str(err.value), str(err.value)


def test_factors_named_explicitly_are_checked_against_the_axes() -> None:
    config = deep_update(
        BASE,
        {
            "grid": {"axes": {"architectures.*.hidden_size": [8]}},
            "aggregate": {"factors": ["hidden_size"]},
        },
    )
    assert Sweep(config).aggregate.factors == ("hidden_size",)
    config["aggregate"]["factors"] = ["width"]
    with pytest.raises(ConfigError, match="aggregate.factors.*width"):
        Sweep(config)


# -- through the workflow -----------------------------------------------------------

AXES_SWEEP = {
    "grid": {
        "architecture": ["gru", "vanilla"],
        "noise": [0.1],
        "axes": {"architectures.*.hidden_size": [8, 12]},
    },
    "tasks": {"flipflop": {"n_steps": 30, "probe_trials": 8}},
    "learning_rules": {"bptt": {"max_iterations": 50}},
}


#: What the tests read: the aggregate and the MDS figures (not the other figures).
TARGETS = ("results/aggregate/flipflop/factors.nc", "results/figures/flipflop/mds_cca.png")


@pytest.fixture(scope="module")
def axes_sweep(tmp_path_factory: pytest.TempPathFactory) -> Path:
    workdir = tmp_path_factory.mktemp("axes_sweep")
    config = write_config(workdir, AXES_SWEEP)
    snakemake(workdir, config, "--cores", "2", *TARGETS)
    return workdir


@pytest.mark.slow
def test_extra_axes_become_folders_coordinates_and_factors(axes_sweep: Path) -> None:
    results = axes_sweep / "results"
    folders = sorted(p.parent.relative_to(results / "networks") for p in results.rglob("model.pt"))
    assert [str(f) for f in folders] == [
        f"flipflop/{arch}/bptt/noise0.1/hidden_size={size}/seed{seed}"
        for arch in ("gru", "vanilla")
        for size in (12, 8)
        for seed in (0, 1)
    ]
    with xr.open_dataset(results / "aggregate/flipflop/summary.nc") as summary:
        by_key = dict(
            zip(summary["network_key"].values, summary["hidden_size"].values, strict=True)
        )
    assert len(by_key) == 8
    for key, size in by_key.items():
        assert key.endswith(f"hidden_size={int(size)}/seed0") or key.endswith(
            f"hidden_size={int(size)}/seed1"
        )
    with xr.open_dataset(results / "aggregate/flipflop/similarity.nc") as similarity:
        assert "hidden_size" in similarity.coords and "hidden_size_b" in similarity.coords
        assert similarity["hidden_size"].dims == ("network",)
    with xr.open_dataset(results / "aggregate/flipflop/factors.nc") as factors:
        assert "hidden_size" in factors["factor"].values
        assert int(factors["n_groups"].sel(factor="hidden_size")) == 2
        assert np.isfinite(factors["silhouette"].sel(factor="hidden_size").values).any()
    assert (results / "figures/flipflop/mds_cca.png").is_file()
    indexed = open_dataset(results / "aggregate/flipflop/similarity.nc")
    assert "hidden_size" in indexed.indexes["network"].names
    picked = indexed.sel(network={"architecture": "gru", "hidden_size": 8.0})
    assert picked.sizes["network"] == 2


@pytest.mark.slow
def test_changing_one_axis_value_reruns_exactly_its_networks(
    axes_sweep: Path, tmp_path: Path
) -> None:
    same = write_config(tmp_path, AXES_SWEEP, name="same.yaml")
    assert planned_jobs(snakemake(axes_sweep, same, "--dry-run", *TARGETS).stdout) == []

    changed = write_config(
        tmp_path,
        deep_update(AXES_SWEEP, {"grid": {"axes": {"architectures.*.hidden_size": [8, 16]}}}),
        name="changed.yaml",
    )
    jobs = planned_jobs(snakemake(axes_sweep, changed, "--dry-run", *TARGETS).stdout)
    trained = [out for rule, out in jobs if rule.startswith("train")]
    analysed = [out for rule, out in jobs if rule == "analyze"]
    assert len(trained) == 2 and all("hidden_size=16" in out for out in trained)
    assert len(analysed) == 4 and all("hidden_size=16" in out for out in analysed)

    # an axis of the vanilla architecture only leaves the GRU networks alone
    unrelated = write_config(
        tmp_path,
        deep_update(
            AXES_SWEEP,
            {"grid": {"axes": {"architectures.vanilla.activation": ["tanh", "relu"]}}},
        ),
        name="unrelated.yaml",
    )
    jobs = planned_jobs(snakemake(axes_sweep, unrelated, "--dry-run", *TARGETS).stdout)
    trained = [out for rule, out in jobs if rule.startswith("train")]
    assert trained and all("/vanilla/" in out for out in trained)


def test_factor_of_an_axis_missing_on_some_networks_is_judged_on_the_others() -> None:
    from rnn_analysis.aggregate.factors import factor_summary

    rng = np.random.default_rng(0)
    points = rng.normal(size=(9, 3))
    points[:3] += 5.0  # hidden_size 8 apart from 16
    d = np.sqrt(((points[:, None] - points[None]) ** 2).sum(-1))
    size = np.array([8, 8, 8, 16, 16, 16, np.nan, np.nan, np.nan])
    rule = np.array(["bptt"] * 6 + ["genetic"] * 3)

    def dataset(idx: np.ndarray) -> xr.Dataset:
        return xr.Dataset(
            {"cca": (("network", "network_b"), d[np.ix_(idx, idx)])},
            coords={
                "network_key": ("network", np.array([f"n{i}" for i in idx])),
                "hidden_size": ("network", size[idx]),
                "learning_rule": ("network", rule[idx]),
            },
        )

    full = factor_summary(dataset(np.arange(9)), ["cca"], ["hidden_size", "learning_rule"])
    subset = factor_summary(dataset(np.arange(6)), ["cca"], ["hidden_size"])
    assert int(full["n_groups"].sel(factor="hidden_size")) == 2
    for name in ("silhouette", "between_within"):
        np.testing.assert_allclose(
            full[name].sel(factor="hidden_size").values, subset[name].sel(factor="hidden_size")
        )
    assert np.isfinite(full["silhouette"].sel(factor="learning_rule")).all()
