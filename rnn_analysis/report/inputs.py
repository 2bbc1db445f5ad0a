"""Opening the datasets that figures read, with errors that name the file and the variable."""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

import xarray as xr


class ReportInputError(ValueError):
    """A dataset given to a figure lacks a variable, coordinate or dimension it needs."""


def open_input(path: str | Path, what: str, variables: Iterable[str] | None = None) -> xr.Dataset:
    """Load a netCDF file into memory, optionally keeping only ``variables``.

    Parameters
    ----------
    path
        The file.
    what
        What the file is (e.g. "similarity dataset"), for error messages.
    variables
        Data variables to load (with their coordinates); None loads everything.
        Variables the file lacks are left out here and reported by :func:`require`.

    Raises
    ------
    FileNotFoundError
        If ``path`` does not exist; the message names it.
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"{what} {path} does not exist")
    with xr.open_dataset(path) as ds:
        if variables is not None:
            keep = [name for name in variables if name in ds.data_vars]
            ds = ds[keep]
        out = ds.load()
    out.encoding["source"] = str(path)
    return out


def source_of(ds: xr.Dataset, default: str) -> str:
    """Where a dataset came from (its file when read by :func:`open_input`), for messages."""
    return str(ds.encoding.get("source") or default)


def require(
    ds: xr.Dataset,
    source: str,
    variables: Iterable[str] = (),
    coords: Iterable[str] = (),
    dims: Iterable[str] = (),
) -> None:
    """Check that ``ds`` has the named data variables, coordinates and dimensions.

    Raises
    ------
    ReportInputError
        Naming ``source``, the first thing missing and what the dataset has instead.
    """
    for name in variables:
        if name not in ds.data_vars:
            have = ", ".join(sorted(map(str, ds.data_vars))) or "none"
            raise ReportInputError(
                f"{source}: variable {name!r} is missing (data variables: {have})"
            )
    for name in coords:
        if name not in ds.coords:
            have = ", ".join(sorted(map(str, ds.coords))) or "none"
            raise ReportInputError(
                f"{source}: coordinate {name!r} is missing (coordinates: {have})"
            )
    for name in dims:
        if name not in ds.dims:
            have = ", ".join(sorted(map(str, ds.dims))) or "none"
            raise ReportInputError(f"{source}: dimension {name!r} is missing (dimensions: {have})")
