"""The Snakemake workflow end to end: validation, dry runs, outputs, reruns and restarts."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import torch
import yaml

from rnn_analysis.datasets import open_dataset

from .conftest import REPO, SNAKEFILE, TINY_CONFIG, deep_update, snakemake, write_config


def planned_jobs(stdout: str) -> list[tuple[str, str]]:
    """(rule, output) of every job a dry run plans."""
    jobs = []
    rule = None
    for line in stdout.splitlines():
        m = re.match(r"^(?:local)?rule (\S+):$", line.strip())
        if m:
            rule = m.group(1)
        elif line.strip().startswith("output:") and rule is not None:
            jobs.append((rule, line.split(":", 1)[1].strip()))
            rule = None
        elif line.strip().startswith("jobid:") and rule is not None:
            jobs.append((rule, ""))
            rule = None
    return jobs


def job_counts(stdout: str) -> dict[str, int]:
    counts: dict[str, int] = {}
    for rule, _ in planned_jobs(stdout):
        counts[rule] = counts.get(rule, 0) + 1
    return counts


def test_dry_run_default_grid(tmp_path: Path) -> None:
    proc = snakemake(tmp_path, REPO / "config" / "config.yaml", "--dry-run")
    counts = job_counts(proc.stdout)
    assert counts["train_seeds_0_1"] == 5 * 2
    assert counts["analyze"] == 20
    assert counts["aggregate"] == 1
    assert not (tmp_path / "results").exists()


@pytest.mark.slow
def test_dry_run_large_grid(tmp_path: Path) -> None:
    config = write_config(
        tmp_path,
        {
            "grid": {
                "architecture": ["vanilla", "rate", "gru", "lstm", "ugrnn"],
                "noise": [round(0.05 * i, 2) for i in range(20)],
                "seeds": 100,
            },
            "jobs": {"seeds_per_job": 10},
        },
    )
    proc = snakemake(tmp_path, config, "--dry-run", "--quiet", "rules")
    text = proc.stdout + proc.stderr
    assert re.search(r"analyze\s+10000", text), text[-3000:]
    assert re.search(r"train_seeds_0_9\s+100", text)
    # the 10,000 networks of the task compared in blocks of 500: 20 blocks, 210 tiles
    assert re.search(r"aggregate_block\s+20\b", text)
    assert re.search(r"aggregate_tile\s+210\b", text)
    assert re.search(r"total\s+11237", text)


@pytest.mark.parametrize(
    ("changes", "fragments"),
    [
        ({"grid": {"architecture": ["gru", "transformer"]}}, ["grid.architecture", "transformer"]),
        ({"grid": {"noise": [-0.1]}}, ["noise", "-0.1"]),
        ({"grid": {"task": []}}, ["task"]),
        ({"architectures": {"gru": {"hiden_size": 4}}}, ["architectures.gru", "hiden_size"]),
        ({"trainnig": {}}, ["trainnig"]),
    ],
)
def test_bad_config_stops_before_any_job(tmp_path: Path, changes: dict, fragments: list) -> None:
    config = write_config(tmp_path, changes)
    proc = snakemake(tmp_path, config, "--cores", "1", check=False)
    assert proc.returncode != 0
    text = proc.stdout + proc.stderr
    for fragment in fragments:
        assert fragment in text, text[-3000:]
    assert not (tmp_path / "results").exists()


@pytest.mark.slow
def test_tiny_sweep_outputs_and_labels(tiny_sweep: Path) -> None:
    results = tiny_sweep / "results"
    networks = sorted((results / "networks").glob("flipflop/*/bptt/*/seed*"))
    assert len(networks) == 8
    for folder in networks:
        for name in ("model.pt", "training.nc", "meta.json", "analysis.nc"):
            assert (folder / name).is_file(), folder / name
    for kind in ("train", "analyze", "aggregate"):
        assert any((results / "logs" / kind).rglob("*.log"))
        assert any((results / "benchmarks" / kind).rglob("*.tsv"))

    summary = open_dataset(results / "aggregate" / "flipflop" / "summary.nc")
    assert summary.sizes["network"] == 8
    assert set(summary["architecture"].values) == {"gru", "vanilla"}
    assert set(summary["noise"].values) == {0.0, 0.1}
    assert set(summary["status"].values) <= {"converged", "not_converged", "diverged"}
    gru = summary.sel(architecture="gru", noise=0.1)
    assert gru.sizes["network"] == 2
    assert set(gru["seed"].values) == {0, 1}

    similarity = open_dataset(results / "aggregate" / "flipflop" / "similarity.nc")
    metrics = ("cca", "svcca", "cka", "procrustes", "dsa", "topology", "fixed_point_signature")
    assert list(similarity["metric"].values) == list(metrics)
    for metric in metrics:
        d = similarity[metric].values
        assert d.shape == (8, 8)
        np.testing.assert_allclose(d, d.T, atol=1e-12)
        np.testing.assert_allclose(np.diag(d), 0, atol=1e-8)
        assert ((d >= 0) & (d <= 1)).all(), metric
        assert similarity[metric].attrs["family"] in ("geometry", "dynamics", "topology")
        mds = similarity[f"mds_{metric}"]
        assert mds.dims == ("network", "mds_axis") and mds.sizes["mds_axis"] == 2
        assert np.isfinite(mds.values).all() and 0 <= mds.attrs["normalized_stress"] < 1
    for metric in ("cca", "svcca", "cka", "procrustes", "dsa"):
        assert (similarity[metric].values[~np.eye(8, dtype=bool)] > 0).all(), metric
    assert (similarity["not_compared"].values == "").all()
    assert "solution_type" in similarity.coords
    # topology distance is 0 exactly between networks with the same topology signature
    signature = dict(
        zip(summary["network_key"].values, summary["topology_signature"].values, strict=True)
    )
    keys = similarity["network_key"].values
    same = [signature[key] for key in keys]
    topo = similarity["topology"].values
    for i in range(8):
        for j in range(8):
            assert (topo[i, j] == 0) == (same[i] == same[j]), (keys[i], keys[j])
    one = similarity["cka"].sel(architecture="gru", seed=0, noise=0.0)
    assert one.sizes["network_b"] == 8
    assert one.sel(architecture_b="gru", seed_b=0, noise_b=0.0).item() == pytest.approx(0, abs=1e-8)

    factors = open_dataset(results / "aggregate" / "flipflop" / "factors.nc")
    assert list(factors["metric"].values) == list(metrics)
    assert list(factors["factor"].values) == ["architecture", "learning_rule", "noise"]
    assert np.isfinite(factors["silhouette"].sel(factor="architecture").values).all()
    assert np.isnan(factors["silhouette"].sel(factor="learning_rule").values).all()
    ci = factors["silhouette_ci"].sel(factor="architecture")
    assert (ci.sel(bound="low") <= ci.sel(bound="high")).all()
    overview = (results / "overview.txt").read_text()
    assert "stable FPs" in overview and "silhouette" in overview and "procrustes" in overview
    for name in ("mds_cca.png", "mds_topology.png", "factors.html", "fixed_points.png"):
        assert (results / "figures" / "flipflop" / name).stat().st_size > 0


@pytest.mark.slow
def test_rerun_triggers(tiny_sweep: Path, tmp_path: Path) -> None:
    nothing = snakemake(tiny_sweep, write_config(tmp_path, name="same.yaml"), "--dry-run")
    assert planned_jobs(nothing.stdout) == [], nothing.stdout[-2000:]

    unrelated = write_config(
        tmp_path,
        {"architectures": {"lstm": {"hidden_size": 99}}, "jobs": {"train_threads": 2}},
        name="unrelated.yaml",
    )
    assert planned_jobs(snakemake(tiny_sweep, unrelated, "--dry-run").stdout) == []

    changed = write_config(
        tmp_path, {"architectures": {"gru": {"hidden_size": 12}}}, name="changed.yaml"
    )
    jobs = planned_jobs(snakemake(tiny_sweep, changed, "--dry-run").stdout)
    trained = [out for rule, out in jobs if rule.startswith("train")]
    analysed = [out for rule, out in jobs if rule == "analyze"]
    assert len(trained) == 2 and all("/gru/" in out for out in trained)
    assert len(analysed) == 4 and all("/gru/" in out for out in analysed)
    assert {rule for rule, _ in jobs} == {
        "train_seeds_0_1",
        "analyze",
        "aggregate",
        "overview",
        "figures_mds",
        "figures_factors",
        "figures_fixed_points",
        "figures_training",
        "all",
    }

    analysis_only = write_config(
        tmp_path, {"analysis": {"evaluation_trials": 65}}, name="analysis.yaml"
    )
    rules = {
        rule for rule, _ in planned_jobs(snakemake(tiny_sweep, analysis_only, "--dry-run").stdout)
    }
    assert "analyze" in rules and not any(r.startswith("train") for r in rules)


@pytest.mark.slow
def test_killed_run_resumes_without_retraining(tmp_path: Path) -> None:
    config = write_config(
        tmp_path,
        {
            "grid": {"architecture": ["vanilla"], "noise": [0.0], "seeds": 4},
            "jobs": {"seeds_per_job": 1},
            "learning_rules": {"bptt": {"max_iterations": 400}},
            "training": {"stopping": {"threshold": 2.0}},
        },
    )
    cmd = [
        sys.executable,
        "-m",
        "snakemake",
        "--snakefile",
        str(SNAKEFILE),
        "--directory",
        str(tmp_path),
        "--configfile",
        str(config),
        "--cores",
        "1",
    ]
    env = {**os.environ, "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}"}
    proc = subprocess.Popen(
        cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env, start_new_session=True
    )
    metas = tmp_path / "results" / "networks"
    deadline = time.monotonic() + 300
    try:
        while time.monotonic() < deadline:
            # With one core, a second finished network means the first job has ended.
            if len(list(metas.rglob("meta.json"))) >= 2:
                break
            assert proc.poll() is None, "the run ended before it could be interrupted"
            time.sleep(0.2)
        else:
            pytest.fail("no network finished training in time")
    finally:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
    models = sorted(metas.rglob("model.pt"), key=lambda p: p.stat().st_mtime_ns)
    assert 2 <= len(models) < 4
    finished = {p: p.stat().st_mtime_ns for p in models[:-1]}
    assert not (tmp_path / "results" / "overview.txt").exists()

    snakemake(tmp_path, config, "--unlock")
    snakemake(tmp_path, config, "--cores", "2", "--rerun-incomplete")
    for path, mtime in finished.items():
        assert path.stat().st_mtime_ns == mtime, f"{path} was retrained"
    assert len(list(metas.rglob("analysis.nc"))) == 4
    assert (tmp_path / "results" / "overview.txt").is_file()
    for model in metas.rglob("model.pt"):
        state = torch.load(model, weights_only=False)["state_dict"]
        assert all(torch.isfinite(v).all() for v in state.values())


@pytest.mark.slow
def test_killed_training_resumes_from_its_checkpoint(tmp_path: Path, one_thread) -> None:
    """A train job killed mid-way resumes from its last checkpoint when rerun, and ends
    with exactly the weights of an uninterrupted training (CPU, one thread)."""
    from rnn_analysis.config import load_config
    from rnn_analysis.training.run import train_ensemble

    config = write_config(
        tmp_path,
        {
            "grid": {"architecture": ["vanilla"], "noise": [0.0], "seeds": 1},
            "learning_rules": {"bptt": {"max_iterations": 2000}},
            "training": {"stopping": {"threshold": 2.0}},
            "jobs": {"seeds_per_job": 1, "checkpoint_minutes": 1.0e-9},
        },
    )
    folder = tmp_path / "results" / "networks" / "flipflop" / "vanilla" / "bptt" / "noise0"
    target = "results/networks/flipflop/vanilla/bptt/noise0/seed0/model.pt"
    train_log = (
        tmp_path / "results" / "logs" / "train" / "flipflop/vanilla/bptt/noise0/seeds0-0.log"
    )
    cmd = [
        sys.executable, "-m", "snakemake", "--snakefile", str(SNAKEFILE), "--directory",
        str(tmp_path), "--configfile", str(config), "--cores", "1", target,
    ]  # fmt: skip
    env = {**os.environ, "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}"}
    proc = subprocess.Popen(
        cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env, start_new_session=True
    )
    deadline = time.monotonic() + 300
    try:
        while time.monotonic() < deadline:
            if train_log.is_file() and "checkpoint saved at update 200" in train_log.read_text():
                break
            assert proc.poll() is None, "the run ended before it could be interrupted"
            time.sleep(0.1)
        else:
            pytest.fail("no checkpoint was saved in time")
    finally:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
    assert (folder / "checkpoint_seeds0-0.pt").is_file()
    assert not (folder / "seed0" / "meta.json").exists()

    snakemake(tmp_path, config, "--unlock")
    snakemake(tmp_path, config, "--cores", "1", "--rerun-incomplete", target)
    resumed = re.search(r"resuming from the checkpoint at update (\d+)", train_log.read_text())
    assert resumed and int(resumed.group(1)) >= 200, train_log.read_text()[-2000:]
    assert not (folder / "checkpoint_seeds0-0.pt").exists()

    sweep = load_config(config)
    reference = tmp_path / "reference"
    train_ensemble(
        [sweep.training_spec(sweep.networks[0])], [reference], device="cpu", log=lambda _: None
    )
    a = torch.load(reference / "model.pt", weights_only=False)["state_dict"]
    b = torch.load(folder / "seed0" / "model.pt", weights_only=False)["state_dict"]
    for key in a:
        assert torch.equal(a[key], b[key]), key


def test_tiny_config_fixture_is_consistent() -> None:
    assert deep_update(TINY_CONFIG, {})["grid"]["seeds"] == 2
    yaml.safe_dump(TINY_CONFIG)


def test_gpu_request_reaches_train_and_aggregate_jobs(tmp_path: Path) -> None:
    config = write_config(tmp_path, {"jobs": {"train_gpus": 1, "aggregate_gpus": 2}})
    proc = snakemake(tmp_path, config, "--dry-run")
    blocks = proc.stdout.split("rule ")
    train = [b for b in blocks if b.startswith("train_seeds")]
    analyze = [b for b in blocks if b.startswith("analyze")]
    aggregate = [b for b in blocks if b.startswith("aggregate")]
    assert train and all("gpu=1" in b for b in train)
    assert aggregate and all("gpu=2" in b for b in aggregate)
    assert analyze and not any("gpu=" in b for b in analyze)


@pytest.mark.slow
def test_aggregate_leaves_networks_out_of_similarity_by_status(
    tiny_sweep: Path, tmp_path: Path
) -> None:
    """Converged networks are compared; not converged, diverged and trivial ones only when
    their ``include_*`` option says so; every network stays in the summary."""
    import xarray as xr

    from rnn_analysis.aggregate.task import aggregate_task

    statuses = ["converged", "not_converged", "diverged", "trivial"]
    analyses = sorted((tiny_sweep / "results" / "networks").rglob("analysis.nc"))
    copies = []
    for i, path in enumerate(analyses):
        with xr.open_dataset(path) as ds:
            ds = ds.load()
        ds.attrs["status"] = statuses[i % 4]
        ds.attrs["status_reason"] = f"set by the test ({i})"
        copy = tmp_path / f"analysis{i}.nc"
        ds.to_netcdf(copy)
        copies.append(copy)
    options = ("include_not_converged", "include_diverged", "include_trivial")
    for flags in ((False, False, False), (True, False, False), (False, True, True)):
        similarity, summary, _ = aggregate_task(
            "flipflop",
            {**dict(zip(options, flags, strict=True)), "metrics": ["cca", "topology"]},
            copies,
            tmp_path / "sim.nc",
            tmp_path / "sum.nc",
            log=lambda _: None,
        )
        wanted = {"converged": True, **dict(zip(statuses[1:], flags, strict=True))}
        status = summary["status"].values.astype(str)
        assert summary.sizes["network"] == len(copies)
        assert summary["in_similarity"].values.tolist() == [wanted[s] for s in status]
        assert similarity.sizes["network"] == sum(wanted[s] for s in status)
        assert set(similarity["status"].values.astype(str)) == {s for s in status if wanted[s]}


@pytest.mark.slow
def test_a_task_whose_networks_all_diverged_still_aggregates_and_plots(
    tiny_sweep: Path, tmp_path: Path
) -> None:
    import xarray as xr

    from rnn_analysis.aggregate.overview import write_overview
    from rnn_analysis.aggregate.task import aggregate_task
    from rnn_analysis.report.embedding import mds_figures
    from rnn_analysis.report.factors import factor_report

    copies = []
    for i, path in enumerate(sorted((tiny_sweep / "results" / "networks").rglob("analysis.nc"))):
        with xr.open_dataset(path) as ds:
            ds = ds.load()
        ds.attrs.update(status="diverged", status_reason="non-finite loss at iteration 3")
        copies.append(tmp_path / f"analysis{i}.nc")
        ds.to_netcdf(copies[-1])
    metrics = ["cca", "topology"]
    similarity, summary, factors = aggregate_task(
        "flipflop",
        {"metrics": metrics},
        copies,
        tmp_path / "similarity.nc",
        tmp_path / "summary.nc",
        tmp_path / "factors.nc",
        log=lambda _: None,
    )
    assert similarity.sizes["network"] == 0 and summary.sizes["network"] == len(copies)
    assert factors["silhouette"].isnull().all()
    pngs = [tmp_path / f"mds_{m}.png" for m in metrics]
    mds_figures(tmp_path / "similarity.nc", metrics, pngs, ["architecture", "noise"])
    factor_report(tmp_path / "factors.nc", *(tmp_path / f"f.{x}" for x in ("tsv", "html", "png")))
    assert all(p.stat().st_size > 0 for p in pngs)
    text = write_overview([tmp_path / "summary.nc"], [tmp_path / "factors.nc"], None)
    assert "diverged" in text and "non-finite loss" in text


#: A sweep over all four learning rules on the learning-rules study's decision task, in
#: which BPTT is forced to diverge (a huge step, no clipping).
FOUR_RULES = {
    "grid": {
        "task": ["rdm"],
        "architecture": ["rate"],
        "learning_rule": ["bptt", "genetic", "force", "hebbian"],
        "noise": [0.1],
        "seeds": [0, 1],
    },
    "tasks": {"rdm": {"n_steps": 60, "fixed_point_levels": 3}},
    "architectures": {"rate": {"hidden_size": 50, "alpha": 0.2}},
    "learning_rules": {
        "bptt": {"learning_rate": 1.0e30, "clip_norm": 0.0, "batch_size": 16},
        "genetic": {"population_size": 10, "batch_size": 32, "max_generations": 30},
        "force": {"trials_per_attempt": 30, "max_attempts": 2},
        "hebbian": {"max_trials": 40},
    },
    "training": {"stopping": {"validate_every": 10, "validation_trials": 64, "window": 2}},
    "analysis": {"evaluation_trials": 32, "fixed_points": {"n_initial_states": 32}},
    # Short budgets: compare every network that did not diverge.
    "aggregate": {"include_not_converged": True, "include_trivial": True},
}


@pytest.mark.slow
def test_sweep_over_four_learning_rules_survives_a_diverged_rule(tmp_path: Path) -> None:
    config = tmp_path / "config.yaml"
    config.write_text(yaml.safe_dump(deep_update(TINY_CONFIG, FOUR_RULES), sort_keys=False))
    snakemake(tmp_path, config, "--cores", "2")
    results = tmp_path / "results"
    summary = open_dataset(results / "aggregate" / "rdm" / "summary.nc")
    assert summary.sizes["network"] == 8
    status = dict(
        zip(
            zip(summary["learning_rule"].values, summary["seed"].values.tolist(), strict=True),
            summary["status"].values,
            strict=True,
        )
    )
    assert status[("bptt", 0)] == status[("bptt", 1)] == "diverged"
    for rule in ("genetic", "force", "hebbian"):
        for seed in (0, 1):
            assert status[(rule, seed)] in ("converged", "not_converged", "trivial"), (rule, seed)
    diverged = summary["status"].values == "diverged"
    assert not summary["in_similarity"].values[diverged].any()
    assert all("non-finite" in r for r in summary["status_reason"].values[diverged])

    similarity = open_dataset(results / "aggregate" / "rdm" / "similarity.nc")
    assert set(similarity["learning_rule"].values) == {"genetic", "force", "hebbian"}
    assert similarity.sizes["network"] == 6
    force_meta = sorted((results / "networks").glob("rdm/rate/force/*/*/meta.json"))
    assert len(force_meta) == 2
    for path in force_meta:
        meta = yaml.safe_load(path.read_text())
        assert meta["attempts"] >= 1
    overview = (results / "overview.txt").read_text()
    for rule in ("bptt", "genetic", "force", "hebbian"):
        assert f"rate          {rule}" in overview


def test_snakemake_lint_is_clean(tmp_path: Path) -> None:
    proc = snakemake(tmp_path, REPO / "config" / "config.yaml", "--lint", check=False)
    text = proc.stdout + proc.stderr
    assert proc.returncode == 0 and "Lints for" not in text, text[-4000:]
