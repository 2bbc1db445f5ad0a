"""A sweep run in this process writes the workflow's files and each task's summary."""

from __future__ import annotations

from pathlib import Path

from rnn_analysis.config import Sweep
from rnn_analysis.inprocess import load_analyses, network_folders, run_in_process

from .conftest import TINY_CONFIG, deep_update


def test_sweep_in_process_trains_analyses_and_summarises(tmp_path: Path, one_thread) -> None:
    config = deep_update(
        TINY_CONFIG,
        {
            "grid": {"noise": [0.0], "seeds": 2},
            "learning_rules": {"bptt": {"max_iterations": 50}},
            "analysis": {"fixed_points": {"n_initial_states": 16, "max_iterations": 100}},
            "aggregate": {"include_not_converged": False},
        },
    )
    sweep = Sweep(config)
    lines: list[str] = []
    summaries = run_in_process(sweep, tmp_path, log=lines.append)
    summary = summaries["flipflop"]
    assert summary.sizes["network"] == len(sweep.networks) == 4
    assert set(summary["architecture"].values) == {"gru", "vanilla"}
    assert "known_corner_attractors" in summary
    assert not summary["in_similarity"].values[summary["status"].values != "converged"].any()
    results = tmp_path / "results"
    for network in sweep.networks:
        folder = results / "networks" / network.key
        assert (folder / "meta.json").is_file() and (folder / "analysis.nc").is_file()
        assert (results / "logs" / "analyze" / f"{network.key}.log").is_file()
    assert sum("training" in line for line in lines) == 2  # one job per architecture

    stamps = {p: p.stat().st_mtime_ns for p in results.rglob("*.nc")}
    lines.clear()
    again = run_in_process(sweep, tmp_path, log=lines.append)
    assert {p: p.stat().st_mtime_ns for p in results.rglob("*.nc")} == stamps
    assert not any("training" in line or "analysing" in line for line in lines)
    assert again["flipflop"]["status"].values.tolist() == summary["status"].values.tolist()

    statuses = summary["status"].values.astype(str)
    for status in ("converged", "not_converged"):
        keys = summary["network_key"].values[statuses == status]
        folders = network_folders(summary, tmp_path, sweep, status)
        assert folders == [results / "networks" / str(key) for key in keys]
        analyses = load_analyses(summary, tmp_path, sweep, status)
        assert [ds.attrs["status"] for ds in analyses] == [status] * len(keys)
    assert 0 < len(network_folders(summary, tmp_path, sweep, "not_converged")) <= 4
