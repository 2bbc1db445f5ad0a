"""Loading the pipeline's datasets with their grid index restored.

netCDF cannot store a pandas MultiIndex, so the grid labels are written as plain
coordinates along the ``network`` dimension (and ``<label>_b`` along ``network_b``).
:func:`open_dataset` puts the index back.
"""

from __future__ import annotations

from pathlib import Path

import xarray as xr

from rnn_analysis.config import NETWORK_AXES


def _extra_axes(ds: xr.Dataset, dim: str) -> list[str]:
    """Coordinates along ``dim`` marked as extra grid axes (``grid.axes``)."""
    return sorted(
        str(name)
        for name, coord in ds.coords.items()
        if coord.dims == (dim,) and coord.attrs.get("grid_axis")
    )


def with_grid_index(ds: xr.Dataset) -> xr.Dataset:
    """Turn the grid-label coordinates (the network axes, then any extra axes) into a
    MultiIndex on ``network`` (and ``network_b``)."""
    if "network" in ds.dims and all(a in ds.coords for a in NETWORK_AXES):
        ds = ds.set_xindex([*NETWORK_AXES, *_extra_axes(ds, "network")])
    b_axes = [f"{a}_b" for a in NETWORK_AXES]
    if "network_b" in ds.dims and all(a in ds.coords for a in b_axes):
        ds = ds.set_xindex([*b_axes, *_extra_axes(ds, "network_b")])
    return ds


def open_dataset(path: str | Path) -> xr.Dataset:
    """Open a similarity or summary dataset, loaded into memory, with the grid index."""
    with xr.open_dataset(path) as ds:
        return with_grid_index(ds.load())
