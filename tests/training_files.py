"""Reading and comparing what ``train_ensemble`` writes, shared by the training tests."""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch
import xarray as xr

from rnn_analysis.training.run import train_ensemble


def train(root: Path, specs: Sequence[dict], name: str) -> list[Path]:
    """Train ``specs`` as one ensemble into ``root/name/seed<s>``; statuses match meta.json."""
    folders = [root / name / f"seed{s['network']['seed']}" for s in specs]
    statuses = train_ensemble(specs, folders, device="cpu", log=lambda _: None)
    assert statuses == [read_meta(f)["status"] for f in folders]
    return folders


def read_meta(folder: Path) -> dict[str, Any]:
    return json.loads((folder / "meta.json").read_text())


def weights(folder: Path) -> dict[str, torch.Tensor]:
    return torch.load(folder / "model.pt", weights_only=False)["state_dict"]


def curve(folder: Path) -> xr.Dataset:
    with xr.open_dataset(folder / "training.nc") as ds:
        return ds.load()


def assert_same_training(
    a: Path,
    b: Path,
    *,
    meta_keys: Sequence[str] = (),
    weight_atol: float = 1e-5,
    weight_rtol: float = 1e-4,
    loss_rtol: float = 1e-4,
    loss_atol: float = 1e-6,
    score_atol: float = 1e-3,
) -> None:
    """Two trainings ended alike: status, updates, reason (and ``meta_keys``), weights, curves."""
    meta_a, meta_b = read_meta(a), read_meta(b)
    for key in ("status", "iterations", "reason", *meta_keys):
        assert meta_a[key] == meta_b[key], key
    wa, wb = weights(a), weights(b)
    assert wa.keys() == wb.keys()
    for key in wa:
        torch.testing.assert_close(wa[key], wb[key], atol=weight_atol, rtol=weight_rtol, msg=key)
    ca, cb = curve(a), curve(b)
    np.testing.assert_array_equal(ca.iteration, cb.iteration)
    np.testing.assert_allclose(ca.loss, cb.loss, rtol=loss_rtol, atol=loss_atol)
    np.testing.assert_array_equal(ca.validation_iteration, cb.validation_iteration)
    np.testing.assert_allclose(ca.validation_score, cb.validation_score, atol=score_atol)


def train_delayed_discrimination_grus(
    folder: Path, seeds: Sequence[int], max_iterations: int
) -> list[Path]:
    """32-unit GRUs trained by BPTT on delayed discrimination at noise 0.1, one thread,
    into ``folder/seed<s>``; returns the folders (whatever the statuses)."""
    specs = [
        {
            "network": {
                "task": "delayed_discrimination",
                "architecture": "gru",
                "learning_rule": "bptt",
                "noise": 0.1,
                "seed": seed,
            },
            "task": {},
            "architecture": {"hidden_size": 32},
            "learning_rule": {
                "batch_size": 64,
                "learning_rate": 0.01,
                "max_iterations": max_iterations,
            },
            "stopping": {"validate_every": 25, "validation_trials": 300, "window": 3},
        }
        for seed in seeds
    ]
    folders = [folder / f"seed{s}" for s in seeds]
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        train_ensemble(specs, folders, device="cpu", log=lambda _: None)
    finally:
        torch.set_num_threads(before)
    return folders
