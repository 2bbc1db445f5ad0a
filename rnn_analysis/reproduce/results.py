"""A finished run's aggregates, read lazily per task, and factor summaries of subsets."""

from __future__ import annotations

from collections.abc import Sequence
from functools import cache
from pathlib import Path

import numpy as np
import xarray as xr

from rnn_analysis.aggregate.factors import factor_summary


class RunResults:
    """The aggregates under ``<results>/aggregate/<task>/`` of a finished run.

    Each accessor returns None where the file is absent (a task not in the sweep, or
    an aggregate that has not run), so that a claim about it is *not assessable*
    rather than an error.
    """

    def __init__(self, folder: str | Path) -> None:
        self.folder = Path(folder)
        if not self.folder.is_dir():
            raise FileNotFoundError(f"results folder {self.folder} does not exist")

    @property
    def tasks(self) -> list[str]:
        """Tasks with a summary."""
        return sorted(p.parent.name for p in self.folder.glob("aggregate/*/summary.nc"))

    def _open(self, task: str, name: str) -> xr.Dataset | None:
        path = self.folder / "aggregate" / task / f"{name}.nc"
        if not path.is_file():
            return None
        try:
            with xr.open_dataset(path) as ds:
                return ds.load()
        except (OSError, ValueError) as err:
            raise ValueError(f"{path}: cannot read: {err}") from err

    @cache  # noqa: B019 -- one instance per command
    def summary(self, task: str) -> xr.Dataset | None:
        return self._open(task, "summary")

    @cache  # noqa: B019
    def factors(self, task: str) -> xr.Dataset | None:
        return self._open(task, "factors")

    @cache  # noqa: B019
    def similarity(self, task: str) -> xr.Dataset | None:
        return self._open(task, "similarity")


def subset_factors(
    similarity: xr.Dataset,
    keep: np.ndarray,
    metrics: Sequence[str],
    factors: Sequence[str],
    n_bootstrap: int = 1000,
    seed: int = 0,
) -> xr.Dataset | None:
    """The factor summary over the networks ``keep`` (a boolean mask along ``network``)
    of a similarity dataset, for the metrics it holds; None with fewer than 2 networks."""
    index = np.flatnonzero(keep)
    if len(index) < 2:
        return None
    sub = similarity.isel(network=index, network_b=index)
    present = [m for m in metrics if m in sub.data_vars]
    if not present:
        return None
    return factor_summary(sub, present, factors, n_bootstrap=n_bootstrap, seed=seed)
