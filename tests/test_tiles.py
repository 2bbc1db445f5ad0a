"""A task's comparison in tiles: blocks prepared once, block pairs compared, tiles merged."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import xarray as xr

from rnn_analysis.aggregate.blocks import block_pairs, block_slice, n_blocks
from rnn_analysis.aggregate.params import AggregateParams
from rnn_analysis.aggregate.task import aggregate_task
from rnn_analysis.aggregate.tiles import (
    BlockBuilder,
    PreparedBlock,
    assemble,
    compare_block_files,
    compare_blocks,
    prepare_block,
)
from rnn_analysis.datasets import open_dataset
from rnn_analysis.similarity import get_metric

from .conftest import SNAKEFILE, write_config

METRICS = ("cca", "svcca", "cka", "procrustes", "dsa", "fixed_point_signature")
#: A short DSA search: tiles must reproduce whatever the search finds, however short.
QUICK_DSA = {"dsa": {"n_starts": 4, "n_kept": 1, "iterations": 60, "screen_iterations": 20}}


def synthetic(n: int, seed: int = 0) -> list[xr.Dataset]:
    """Probe activity [trial, time, unit] of ``n`` networks (widths 4 to 6) and their
    fixed-point counts."""
    rng = np.random.default_rng(seed)
    out = []
    for i in range(n):
        units = 4 + i % 3
        hidden = np.tanh(rng.standard_normal((3, 24, units)).cumsum(axis=1) / 4)
        out.append(
            xr.Dataset(
                {
                    "probe_hidden": (("trial", "time", "unit"), hidden),
                    "kind": ("fixed_point", ["fixed"] * (1 + i % 2)),
                    "n_unstable": ("fixed_point", [0, 1][: 1 + i % 2]),
                    "condition": ("fixed_point", [0] * (1 + i % 2)),
                }
            )
        )
    return out


def tiled(datasets: list[xr.Dataset], params: AggregateParams, size: int):
    """Blocks of ``size`` networks, every tile, and the assembled matrices."""
    keys = [f"net{i}" for i in range(len(datasets))]
    blocks = []
    for b in range(n_blocks(len(datasets), size)):
        builder = BlockBuilder("t", b, params, log=lambda _: None)
        part = block_slice(b, size)
        for key, ds in zip(keys[part], datasets[part], strict=True):
            builder.add(key, ds)
        blocks.append(builder.block)
    tiles = [
        compare_blocks(blocks[i], None if i == j else blocks[j], params, log=lambda _: None)
        for i, j in block_pairs(len(blocks))
    ]
    return assemble(tiles, list(params.metrics))


def test_blocks_and_tiles_cover_every_pair_once() -> None:
    assert n_blocks(0, 3) == n_blocks(3, 3) == 1 and n_blocks(4, 3) == 2
    assert block_pairs(3) == [(0, 0), (0, 1), (0, 2), (1, 1), (1, 2), (2, 2)]
    seen: list[tuple[int, int]] = []
    positions = np.arange(7)
    for i, j in block_pairs(n_blocks(7, 3)):
        for r in positions[block_slice(i, 3)]:
            seen += [(int(r), int(c)) for c in positions[block_slice(j, 3)] if i < j or c > r]
    assert sorted(seen) == [(r, c) for r in range(7) for c in range(r + 1, 7)]


@pytest.mark.parametrize("size", [2, 3])
def test_tiled_matrices_equal_the_untiled_ones(size: int) -> None:
    datasets = synthetic(7)
    params = AggregateParams(metrics=METRICS, metric_options=QUICK_DSA, factor_dtype="float64")
    whole = tiled(datasets, params, 7)
    parts = tiled(datasets, params, size)
    assert parts.keys == whole.keys
    for name in METRICS:
        assert np.isfinite(whole.matrices[name]).all()
        np.testing.assert_allclose(parts.matrices[name], whole.matrices[name], rtol=0, atol=1e-6)


def test_networks_left_out_in_any_block_get_nan_and_a_reason() -> None:
    datasets = synthetic(7)
    datasets[2]["probe_hidden"][:] = 1.0  # a dead network: no variance
    datasets[5] = datasets[5].isel(time=slice(0, 20))  # other probe samples
    datasets[4] = datasets[4].drop_vars("kind")  # no fixed points recorded
    params = AggregateParams(
        metrics=("cka", "dsa", "fixed_point_signature"), metric_options=QUICK_DSA
    )
    whole = tiled(datasets, params, 7)
    for size in (2, 3):
        parts = tiled(datasets, params, size)
        for name in params.metrics:
            out = np.array([bool(r) for r in whole.reasons[name]])
            assert [bool(r) for r in parts.reasons[name]] == out.tolist(), (size, name)
            assert np.isnan(parts.matrices[name][out]).all()
            np.testing.assert_allclose(
                parts.matrices[name], whole.matrices[name], rtol=0, atol=1e-6
            )
    kept = [i for i, r in enumerate(whole.reasons["cka"]) if not r]
    reps = [datasets[i]["probe_hidden"].values.reshape(-1, datasets[i].sizes["unit"]) for i in kept]
    np.testing.assert_allclose(
        whole.matrices["cka"][np.ix_(kept, kept)], get_metric("cka").pairwise(reps), atol=1e-6
    )
    assert "zero variance" in whole.reasons["cka"][2]
    assert "(60, 6)" in whole.reasons["cka"][5] and "net0" in whole.reasons["cka"][5]
    assert "n_trials and n_time" in whole.reasons["dsa"][5]
    assert whole.reasons["fixed_point_signature"][4] != ""
    assert whole.reasons["fixed_point_signature"][5] == ""


def test_a_block_whose_reference_does_not_match_the_tasks_is_left_out_whole() -> None:
    datasets = synthetic(6)
    for i in (4, 5):
        datasets[i] = datasets[i].isel(time=slice(0, 20))
    parts = tiled(datasets, AggregateParams(metrics=("cka",)), 2)
    reasons = parts.reasons["cka"]
    assert reasons[:4] == [""] * 4
    assert all("(60," in r and "net0" in r for r in reasons[4:]), reasons
    assert np.isnan(parts.matrices["cka"][4:]).all()
    assert np.isfinite(parts.matrices["cka"][:4, :4]).all()


def test_block_files_round_trip_and_name_their_problems(tmp_path: Path) -> None:
    params = AggregateParams(metrics=("cka", "dsa"), metric_options=QUICK_DSA)
    builder = BlockBuilder("t", 0, params, log=lambda _: None)
    for i, ds in enumerate(synthetic(3)):
        builder.add(f"net{i}", ds)
    path = tmp_path / "block0.pkl"
    builder.block.write(path)
    block = PreparedBlock.read(path)
    assert block.keys == ["net0", "net1", "net2"]
    tile = compare_block_files(path, path, params.to_dict(), tmp_path / "tile0-0.nc")
    expected = compare_blocks(builder.block, None, params, log=lambda _: None)
    for name in params.metrics:
        np.testing.assert_array_equal(tile[name].values, expected[name].values)
    assert (tmp_path / "tile0-0.nc").is_file()
    (tmp_path / "bad.pkl").write_bytes(b"not a pickle")
    with pytest.raises(ValueError, match=r"bad\.pkl: cannot read the prepared block"):
        PreparedBlock.read(tmp_path / "bad.pkl")
    other = AggregateParams(metrics=("cka", "dsa"), metric_options={"dsa": {"rank": 3}})
    assert other.metric("dsa").attrs() != params.metric("dsa").attrs()
    with pytest.raises(ValueError, match="block 0 of t was prepared with other options for dsa"):
        compare_blocks(block, None, other, log=lambda _: None)


def test_missing_or_out_of_date_tiles_are_named() -> None:
    params = AggregateParams(metrics=("cka",))
    datasets = synthetic(4)
    blocks = []
    for b in range(2):
        builder = BlockBuilder("t", b, params, log=lambda _: None)
        for i in (2 * b, 2 * b + 1):
            builder.add(f"net{i}", datasets[i])
        blocks.append(builder.block)
    tiles = {
        (i, j): compare_blocks(blocks[i], None if i == j else blocks[j], params, log=print)
        for i, j in block_pairs(2)
    }
    with pytest.raises(ValueError, match=r"missing tiles of block pairs \[\(0, 1\)\]"):
        assemble([tiles[(0, 0)], tiles[(1, 1)]], ["cka"])
    with pytest.raises(ValueError, match="two tiles of blocks 0-0"):
        assemble([tiles[(0, 0)], tiles[(0, 0)], tiles[(0, 1)], tiles[(1, 1)]], ["cka"])
    with pytest.raises(ValueError, match="holds the metrics"):
        assemble(list(tiles.values()), ["cca"])


# -- through the workflow ---------------------------------------------------------------


def _tiled_config(workdir: Path, tile_networks: int) -> Path:
    return write_config(workdir, {"aggregate": {"tile_networks": tile_networks}})


def _job_counts(stdout: str) -> dict[str, int]:
    counts: dict[str, int] = {}
    lines = stdout.split("Job stats:")[-1].splitlines()
    for line in lines[3:]:
        parts = line.split()
        if len(parts) != 2 or not parts[1].isdigit():
            break
        counts[parts[0]] = int(parts[1])
    return counts


def _command(workdir: Path, config: Path, *args: str) -> list[str]:
    return [
        sys.executable, "-m", "snakemake", "--snakefile", str(SNAKEFILE),
        "--directory", str(workdir), "--configfile", str(config), *args,
    ]  # fmt: skip


ENV = {**os.environ, "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}"}


def _run(workdir: Path, config: Path, *args: str) -> subprocess.CompletedProcess:
    cmd = _command(workdir, config, "--cores", "2", *args)
    return subprocess.run(cmd, capture_output=True, text=True, env=ENV, check=False)


@pytest.fixture(scope="module")
def tiled_sweep(tiny_sweep: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The tiny sweep's trained and analysed networks, in a fresh folder."""
    workdir = tmp_path_factory.mktemp("tiled")
    shutil.copytree(tiny_sweep / "results" / "networks", workdir / "results" / "networks")
    return workdir


@pytest.mark.slow
def test_the_workflow_compares_in_tiles_and_reruns_only_missing_ones(
    tiny_sweep: Path, tiled_sweep: Path
) -> None:
    """8 networks in blocks of 3: 3 blocks, 6 tiles; the merged matrices equal the untiled
    aggregate of the same networks; a run stopped after some tiles, and one killed in the
    middle of a tile, are finished by recomputing only the tiles that are missing."""
    workdir = tiled_sweep
    config = _tiled_config(workdir, 3)
    target = "results/aggregate/flipflop/similarity.nc"
    tiles = [f"results/aggregate/flipflop/tiles/tile{i}-{j}.nc" for i, j in block_pairs(3)]
    plan = _run(workdir, config, target, "--dry-run")
    assert plan.returncode == 0, plan.stderr[-3000:]
    counts = _job_counts(plan.stdout)
    assert counts == {"aggregate_block": 3, "aggregate_tile": 6, "aggregate": 1, "total": 10}

    first = _run(workdir, config, *tiles[:3])
    assert first.returncode == 0, first.stderr[-3000:]
    done = {t: (workdir / t).stat().st_mtime_ns for t in tiles[:3]}

    # a run killed while a tile job computes
    proc = subprocess.Popen(
        _command(workdir, config, "--cores", "1", target),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
        env=ENV,
    )
    logs = workdir / "results" / "logs" / "aggregate" / "flipflop"
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline and proc.poll() is None:
        if any((logs / f"tile{i}-{j}.log").exists() for i, j in block_pairs(3)[3:]):
            break
        time.sleep(0.05)
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()
    assert not (workdir / target).exists()

    assert _run(workdir, config, target, "--unlock").returncode == 0
    rest = _run(workdir, config, target, "--rerun-incomplete")
    assert rest.returncode == 0, rest.stderr[-3000:]
    counts = _job_counts(rest.stdout + rest.stderr)
    assert 1 <= counts.get("aggregate_tile", 0) <= 3, rest.stderr[-3000:]
    assert counts.get("aggregate_block", 0) == 0
    assert {t: (workdir / t).stat().st_mtime_ns for t in tiles[:3]} == done

    merged = open_dataset(workdir / target)
    untiled = open_dataset(tiny_sweep / target)
    assert merged.sizes["network"] == untiled.sizes["network"] == 8
    for name in untiled["metric"].values:
        np.testing.assert_allclose(
            merged[name].values, untiled[name].values, rtol=0, atol=1e-6, err_msg=str(name)
        )
    np.testing.assert_array_equal(merged["not_compared"].values, untiled["not_compared"].values)


@pytest.mark.slow
def test_tiled_aggregate_functions_equal_the_untiled_one(tiny_sweep: Path, tmp_path: Path) -> None:
    """The block, tile and merge steps on the tiny sweep's analyses, in blocks of 2 (4
    blocks, 10 tiles), give the matrices of the one-block aggregate to 1e-6, for every
    metric (blocks of 3 through the workflow above)."""
    size = 2
    params = AggregateParams(include_not_converged=True, metric_options=QUICK_DSA)
    analyses = sorted((tiny_sweep / "results" / "networks").rglob("analysis.nc"))
    count = n_blocks(len(analyses), size)
    blocks, rows = [], []
    for b in range(count):
        blocks.append(tmp_path / f"block{b}.pkl")
        rows.append(tmp_path / f"rows{b}.pkl")
        part = analyses[block_slice(b, size)]
        prepare_block("flipflop", params.to_dict(), part, b, blocks[-1], rows[-1], log=print)
    tiles = []
    for i, j in block_pairs(count):
        tiles.append(tmp_path / f"tile{i}-{j}.nc")
        compare_block_files(blocks[i], blocks[j], params.to_dict(), tiles[-1], log=lambda _: None)
    merged, merged_summary, _ = aggregate_task(
        "flipflop",
        params.to_dict(),
        [],
        tmp_path / "s.nc",
        tmp_path / "m.nc",
        log=lambda _: None,
        tiles=tiles,
        blocks=rows,
    )
    whole, whole_summary, _ = aggregate_task(
        "flipflop",
        params.to_dict(),
        analyses,
        tmp_path / "s1.nc",
        tmp_path / "m1.nc",
        log=lambda _: None,
    )
    assert list(merged["network"].values) == list(whole["network"].values)
    xr.testing.assert_identical(
        merged_summary.drop_attrs(deep=False), whole_summary.drop_attrs(deep=False)
    )
    for name in params.metrics:
        np.testing.assert_allclose(
            merged[name].values, whole[name].values, rtol=0, atol=1e-6, err_msg=name
        )


def test_a_block_with_no_compared_network_assembles_to_empty_matrices() -> None:
    params = AggregateParams(metrics=("cka", "fixed_point_signature"))
    empty = tiled([], params, 2)
    assert empty.keys == [] and empty.matrices["cka"].shape == (0, 0)
