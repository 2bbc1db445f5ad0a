"""Per-network files: weights, training curve and metadata, and their loaders."""

from __future__ import annotations

import json
import os
import platform
import subprocess
from collections.abc import Mapping, Sequence
from functools import cache
from pathlib import Path
from typing import Any

import torch
import xarray as xr

from rnn_analysis.architectures import ARCHITECTURES, Architecture
from rnn_analysis.hyperparameters import from_mapping

MODEL_FILE = "model.pt"
CURVE_FILE = "training.nc"
META_FILE = "meta.json"
ANALYSIS_FILE = "analysis.nc"


@cache
def provenance() -> dict[str, str]:
    """Package versions and the git revision of the code that ran."""
    import numpy
    import scipy

    import rnn_analysis

    info = {
        "rnn_analysis": rnn_analysis.__version__,
        "python": platform.python_version(),
        "torch": torch.__version__,
        "numpy": numpy.__version__,
        "scipy": scipy.__version__,
        "xarray": xr.__version__,
        "platform": platform.platform(),
    }
    try:
        root = Path(rnn_analysis.__file__).resolve().parent.parent
        rev = subprocess.run(
            ["git", "-C", str(root), "rev-parse", "HEAD"],
            capture_output=True,
            text=True,
            timeout=10,
            check=False,
        )
        dirty = subprocess.run(
            ["git", "-C", str(root), "status", "--porcelain", "--untracked-files=no"],
            capture_output=True,
            text=True,
            timeout=10,
            check=False,
        )
        if rev.returncode == 0:
            info["git_revision"] = rev.stdout.strip() + ("-dirty" if dirty.stdout.strip() else "")
    except (OSError, subprocess.SubprocessError):
        pass
    return info


def write_json(path: Path, data: Mapping[str, Any]) -> None:
    """Write JSON atomically (write to a temporary file, then rename)."""
    tmp = path.with_suffix(path.suffix + ".tmp")
    tmp.write_text(json.dumps(data, indent=2, sort_keys=True, default=str) + "\n")
    os.replace(tmp, path)


def write_netcdf(ds: xr.Dataset, path: Path) -> None:
    """Write a dataset atomically with compression."""
    tmp = path.with_suffix(path.suffix + ".tmp")
    encoding = {
        name: {"zlib": True, "complevel": 4}
        for name, var in ds.variables.items()
        if var.dtype.kind in "fiub" and var.ndim > 0
    }
    ds.to_netcdf(tmp, engine="netcdf4", encoding=encoding)
    os.replace(tmp, path)


def save_model(path: Path, model: Architecture, index: int, spec: Mapping[str, Any]) -> None:
    """Save network ``index`` of the ensemble ``model`` with what is needed to rebuild it."""
    payload = {
        "architecture": model.name,
        "architecture_params": model.params.to_dict(),
        "n_inputs": model.n_inputs,
        "n_outputs": model.n_outputs,
        "state_dict": model.network_state_dict(index),
        "spec": dict(spec),
    }
    tmp = path.with_suffix(path.suffix + ".tmp")
    torch.save(payload, tmp)
    os.replace(tmp, path)


def load_models(paths: Sequence[str | Path], device: str | torch.device = "cpu") -> Architecture:
    """Load networks of identical shapes as one ensemble (in the order given)."""
    payloads = [torch.load(p, map_location="cpu", weights_only=False) for p in paths]
    first = payloads[0]
    for path, payload in zip(paths, payloads, strict=True):
        same = (
            payload["architecture"] == first["architecture"]
            and payload["architecture_params"] == first["architecture_params"]
            and payload["n_inputs"] == first["n_inputs"]
        )
        if not same:
            raise ValueError(f"{path}: not the same architecture and shapes as {paths[0]}")
    cls = ARCHITECTURES[first["architecture"]]
    params = from_mapping(cls.Params, first["architecture_params"], str(paths[0]))
    generators = [torch.Generator().manual_seed(0) for _ in payloads]
    model = cls(first["n_inputs"], first["n_outputs"], params, generators)
    model.load_networks([p["state_dict"] for p in payloads])
    return model.to(device)


def read_meta(folder: str | Path) -> dict[str, Any]:
    return json.loads((Path(folder) / META_FILE).read_text())
