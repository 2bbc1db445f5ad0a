"""Two-dimensional pictures of a distance matrix between networks: metric MDS by SMACOF."""

from __future__ import annotations

from collections.abc import Sequence
from typing import NamedTuple

import numpy as np
import scipy.linalg
import xarray as xr
from numpy.typing import ArrayLike, NDArray

#: Dimension of the networks in the similarity datasets.
NETWORK_DIM = "network"
#: Dimension of the embedding coordinates.
MDS_AXIS = "mds_axis"
#: Relative asymmetry tolerated in a distance matrix before it is rejected.
SYMMETRY_RTOL = 1e-9
#: SMACOF stops once stress-1 falls below this: the dissimilarities are reproduced exactly.
EXACT_FIT_STRESS = 1e-10

STRESS_DEFINITION = (
    "Kruskal stress-1 with the dissimilarities in the denominator: "
    "sqrt(sum_{i<j} (delta_ij - d_ij)^2 / sum_{i<j} delta_ij^2), delta the given distances, "
    "d the distances in the embedding; 0 is a perfect fit"
)
ORIENTATION = (
    "centred; axes are the principal axes of the configuration in order of decreasing "
    "variance; each axis is signed so that its largest-magnitude coordinate is positive "
    "(ties go to the first network in the order of the network coordinates)"
)


def check_distances(distances: ArrayLike, name: str = "distances") -> NDArray[np.float64]:
    """Validate a distance matrix and return it as float64 with an exact zero diagonal.

    Parameters
    ----------
    distances
        Square matrix [n, n] of non-negative distances; NaN marks a pair that
        could not be compared and must be NaN in both triangles.
    name
        How the matrix is named in error messages.

    Returns
    -------
    ndarray
        The matrix, symmetrised exactly ((D + D.T) / 2) and with zeros on the
        diagonal.

    Raises
    ------
    ValueError
        If the matrix is not square, holds infinite or negative values, has NaN
        in only one of (i, j) and (j, i), or is asymmetric beyond a relative
        1e-9 of its largest entry; the message names the first offending entry.
    """
    d = np.array(distances, dtype=np.float64)
    if d.ndim != 2 or d.shape[0] != d.shape[1]:
        raise ValueError(f"{name} must be a square matrix [n, n], got shape {d.shape}")
    np.fill_diagonal(d, 0.0)
    missing = np.isnan(d)
    bad = ~missing & (~np.isfinite(d) | (d < 0))
    if bad.any():
        i, j = np.argwhere(bad)[0]
        raise ValueError(
            f"{name}[{i}, {j}] = {float(d[i, j])!r}: distances must be finite and non-negative "
            "(NaN marks a pair that could not be compared)"
        )
    one_sided = missing != missing.T
    if one_sided.any():
        i, j = np.argwhere(one_sided)[0]
        raise ValueError(
            f"{name}[{i}, {j}] = {float(d[i, j])!r} but {name}[{j}, {i}] = {float(d[j, i])!r}: "
            "a missing pair must be NaN on both sides"
        )
    filled = np.where(missing, 0.0, d)
    scale = max(float(filled.max(initial=0.0)), np.finfo(float).tiny)
    asymmetry = np.abs(filled - filled.T)
    if asymmetry.max(initial=0.0) > SYMMETRY_RTOL * scale:
        i, j = np.unravel_index(np.argmax(asymmetry), asymmetry.shape)
        raise ValueError(
            f"{name} is not symmetric: [{i}, {j}] = {float(d[i, j])!r} "
            f"but [{j}, {i}] = {float(d[j, i])!r}"
        )
    return np.where(missing, np.nan, (filled + filled.T) / 2)


def complete_networks(distances: NDArray[np.float64]) -> NDArray[np.bool_]:
    """Networks to keep so that no pair among them has a missing (NaN) distance.

    Networks whose distances to all others are missing are dropped first; then,
    while a missing pair remains, the network with the most missing pairs is
    dropped (the first such network on ties).

    Parameters
    ----------
    distances
        Square matrix [n, n] as returned by :func:`check_distances`.

    Returns
    -------
    ndarray of bool [n]
        True for the networks kept.
    """
    n = distances.shape[0]
    missing = np.isnan(distances)
    np.fill_diagonal(missing, False)
    keep = np.ones(n, dtype=bool)
    if n > 1:
        keep &= missing.sum(axis=1) < n - 1
    counts = (missing & keep[None, :]).sum(axis=1)
    counts[~keep] = -1
    while counts.max(initial=0) > 0:
        worst = int(np.argmax(counts))
        keep[worst] = False
        counts[worst] = -1
        counts[keep] -= missing[keep, worst]
    return keep


def canonical_order(obj: xr.DataArray | xr.Dataset, dim: str = NETWORK_DIM) -> NDArray[np.intp]:
    """Order of the networks sorted by their labels, so results do not depend on input order.

    Sorts by ``network_key`` first when that coordinate exists, then by every
    other coordinate along ``dim`` in alphabetical order of the coordinate
    names (values compared as text); networks with identical labels keep their
    input order.

    Parameters
    ----------
    obj
        Array or dataset with the dimension ``dim``.
    dim
        The network dimension.

    Returns
    -------
    ndarray of int [n]
        Indices that put the networks in canonical order.
    """
    names = sorted(name for name, coord in obj.coords.items() if coord.dims == (dim,))
    if "network_key" in names:
        names.remove("network_key")
        names.insert(0, "network_key")
    if not names:
        return np.arange(obj.sizes[dim])
    columns = [np.asarray(obj.coords[name].values).astype(str) for name in names]
    return np.lexsort(columns[::-1])


def _pairwise_euclidean(x: NDArray[np.float64]) -> NDArray[np.float64]:
    squared = np.zeros((x.shape[0], x.shape[0]))
    for column in x.T:
        squared += (column[:, None] - column[None, :]) ** 2
    return np.sqrt(squared)


def _raw_stress(delta: NDArray[np.float64], dist: NDArray[np.float64]) -> float:
    return float(((delta - dist) ** 2).sum() / 2)


def classical_mds(distances: NDArray[np.float64], n_components: int) -> NDArray[np.float64]:
    """Classical (Torgerson) MDS: top eigenvectors of the double-centred squared distances.

    Parameters
    ----------
    distances
        Complete symmetric matrix [n, n] with zero diagonal.
    n_components
        Number of coordinates; components beyond the positive eigenvalues are 0.

    Returns
    -------
    ndarray [n, n_components]
        Coordinates (defined up to rotation and reflection).
    """
    n = distances.shape[0]
    x = np.zeros((n, n_components))
    if n < 2:
        return x
    squared = distances**2
    centred = -0.5 * (
        squared - squared.mean(axis=0)[None, :] - squared.mean(axis=1)[:, None] + squared.mean()
    )
    k = min(n_components, n)
    values, vectors = scipy.linalg.eigh(centred, subset_by_index=[n - k, n - 1])
    values, vectors = values[::-1], vectors[:, ::-1]
    x[:, :k] = vectors * np.sqrt(np.clip(values, 0.0, None))
    return x


class SmacofResult(NamedTuple):
    """Outcome of :func:`smacof`."""

    coordinates: NDArray[np.float64]
    stress: float
    iterations: int
    converged: bool


def smacof(
    distances: NDArray[np.float64],
    initial: NDArray[np.float64],
    *,
    max_iterations: int = 300,
    tolerance: float = 1e-6,
) -> SmacofResult:
    """Minimise the raw stress of a configuration by Guttman transforms (unweighted SMACOF).

    Parameters
    ----------
    distances
        Complete symmetric dissimilarities [n, n] with zero diagonal.
    initial
        Starting configuration [n, n_components].
    max_iterations
        Most Guttman transforms (default 300).
    tolerance
        Stop once an iteration lowers the raw stress by less than this fraction
        of its previous value (default 1e-6); iteration also stops when stress-1
        falls below 1e-10.

    Returns
    -------
    SmacofResult
        Final configuration, its stress-1 (see ``STRESS_DEFINITION``), the
        number of transforms applied, and whether a stopping criterion was met
        before ``max_iterations``.
    """
    n = distances.shape[0]
    total = float((distances**2).sum() / 2)
    x = np.array(initial, dtype=np.float64)
    if n < 2 or total == 0.0:
        return SmacofResult(np.zeros_like(x), 0.0, 0, True)
    dist = _pairwise_euclidean(x)
    stress = _raw_stress(distances, dist)
    iterations = 0
    converged = stress <= EXACT_FIT_STRESS**2 * total
    while not converged and iterations < max_iterations:
        with np.errstate(divide="ignore", invalid="ignore"):
            ratio = np.where(dist > 0, distances / dist, 0.0)
        np.fill_diagonal(ratio, 0.0)
        x = (ratio.sum(axis=1)[:, None] * x - ratio @ x) / n
        dist = _pairwise_euclidean(x)
        previous, stress = stress, _raw_stress(distances, dist)
        iterations += 1
        converged = previous - stress <= tolerance * previous
        converged |= stress <= EXACT_FIT_STRESS**2 * total
    return SmacofResult(x, float(np.sqrt(stress / total)), iterations, bool(converged))


def orient(x: NDArray[np.float64], scale: float) -> NDArray[np.float64]:
    """Centre a configuration, rotate it to its principal axes and fix the sign of each axis.

    Parameters
    ----------
    x
        Configuration [n, n_components].
    scale
        Size of the distances; axes whose coordinates all stay below 1e-9 of it
        are set to exactly 0.

    Returns
    -------
    ndarray [n, n_components]
        The configuration oriented as described in ``ORIENTATION``.
    """
    n, k = x.shape
    out = np.zeros((n, k))
    if n == 0:
        return out
    centred = x - x.mean(axis=0)
    _, _, vt = np.linalg.svd(centred, full_matrices=False)
    rotated = centred @ vt.T
    out[:, : rotated.shape[1]] = rotated
    for axis in range(k):
        column = out[:, axis]
        largest = int(np.argmax(np.abs(column)))
        if abs(column[largest]) <= 1e-9 * scale:
            column[:] = 0.0
        elif column[largest] < 0:
            column *= -1.0
    return out


def metric_mds(
    distances: xr.DataArray,
    n_components: int = 2,
    *,
    max_iterations: int = 300,
    tolerance: float = 1e-6,
) -> xr.DataArray:
    """Metric MDS of a precomputed distance matrix between networks.

    The configuration starts from classical (Torgerson) MDS and is refined by
    SMACOF (Guttman transforms), so no random seed is involved. The networks are
    processed in the order of their labels (:func:`canonical_order`), so
    permuting them in the input permutes the rows of the output and nothing
    else. Networks with missing (NaN) distances are left out
    (:func:`complete_networks`) and get NaN coordinates.

    Parameters
    ----------
    distances
        Matrix with dims (network, network_b), e.g. one data variable of a
        task's similarity dataset; coordinates along the first dimension are
        carried over to the result.
    n_components
        Embedding dimension (default 2).
    max_iterations
        Most SMACOF iterations (default 300); 0 returns the classical MDS
        configuration.
    tolerance
        SMACOF stops once an iteration lowers the raw stress by less than this
        fraction (default 1e-6).

    Returns
    -------
    xarray.DataArray
        Coordinates with dims (network, mds_axis), ``mds_axis`` = 1 ..
        n_components, oriented as in ``ORIENTATION``. Attributes give the
        metric, the stress-1 (``normalized_stress``), the iterations, whether
        SMACOF converged, and the networks left out.

    Raises
    ------
    ValueError
        If ``distances`` is not a square 2-D matrix of valid distances
        (:func:`check_distances`) or a parameter is out of range.
    """
    if distances.ndim != 2:
        raise ValueError(
            f"distances {distances.name!r} must have 2 dims (network, network_b), "
            f"got {distances.dims}"
        )
    if int(n_components) != n_components or n_components < 1:
        raise ValueError(f"n_components must be a positive integer, got {n_components!r}")
    if int(max_iterations) != max_iterations or max_iterations < 0:
        raise ValueError(f"max_iterations must be a non-negative integer, got {max_iterations!r}")
    if not tolerance >= 0:
        raise ValueError(f"tolerance must be non-negative, got {tolerance!r}")
    dim = distances.dims[0]
    matrix = check_distances(distances.values, name=f"distances {distances.name!r}")
    n = matrix.shape[0]
    order = canonical_order(distances, dim)
    ordered = matrix[np.ix_(order, order)]
    keep = complete_networks(ordered)
    complete = ordered[np.ix_(keep, keep)]
    scale = float(complete.max(initial=0.0))
    result = smacof(
        complete,
        classical_mds(complete, n_components),
        max_iterations=max_iterations,
        tolerance=tolerance,
    )
    coordinates = np.full((n, n_components), np.nan)
    coordinates[order[keep]] = orient(result.coordinates, scale)

    left_out = np.sort(order[~keep])
    if "network_key" in distances.coords and distances.coords["network_key"].dims == (dim,):
        left_out_names = [str(v) for v in distances.coords["network_key"].values[left_out]]
    else:
        left_out_names = [str(i) for i in left_out]
    metric = str(distances.attrs.get("metric", distances.name or ""))
    source = str(distances.attrs.get("long_name", metric))
    attrs = {
        "long_name": f"metric MDS embedding of {source}",
        "units": str(distances.attrs.get("units", "1")),
        "metric": metric,
        "normalized_stress": result.stress,
        "stress_definition": STRESS_DEFINITION,
        "iterations": result.iterations,
        "converged": int(result.converged),
        "max_iterations": int(max_iterations),
        "tolerance": float(tolerance),
        "initialisation": "classical (Torgerson) MDS",
        "orientation": ORIENTATION,
        "n_networks_embedded": int(keep.sum()),
        "n_left_out": len(left_out_names),
        "left_out": ", ".join(left_out_names),
    }
    if "family" in distances.attrs:
        attrs["family"] = str(distances.attrs["family"])
    coords = {name: coord for name, coord in distances.coords.items() if coord.dims == (dim,)}
    coords[MDS_AXIS] = np.arange(1, n_components + 1)
    name = f"{metric}_mds" if metric else "mds"
    return xr.DataArray(coordinates, dims=(dim, MDS_AXIS), coords=coords, attrs=attrs, name=name)


def mds_embeddings(
    similarity: xr.Dataset,
    metrics: Sequence[str] | None = None,
    n_components: int = 2,
    *,
    max_iterations: int = 300,
    tolerance: float = 1e-6,
) -> xr.Dataset:
    """Metric MDS of every distance matrix of a similarity dataset.

    Parameters
    ----------
    similarity
        A task's similarity dataset, one (network, network_b) variable per metric.
    metrics
        Variables to embed (default: every variable with dims (network, network_b)).
    n_components, max_iterations, tolerance
        As in :func:`metric_mds` (defaults 2, 300 and 1e-6).

    Returns
    -------
    xarray.Dataset
        One variable per metric, dims (network, mds_axis), named after the
        metric, with the attributes of :func:`metric_mds`.

    Raises
    ------
    KeyError
        If a requested metric is not a variable of ``similarity``.
    """
    names = distance_variables(similarity) if metrics is None else list(metrics)
    embeddings = {}
    for name in names:
        if name not in similarity.data_vars:
            raise KeyError(
                f"metric {name!r} is not in the similarity dataset; it has "
                f"{sorted(map(str, similarity.data_vars))}"
            )
        embeddings[name] = metric_mds(
            similarity[name],
            n_components,
            max_iterations=max_iterations,
            tolerance=tolerance,
        ).rename(name)
    attrs = {"title": "metric MDS embeddings of the pairwise distances between networks"}
    if "task" in similarity.attrs:
        attrs["task"] = similarity.attrs["task"]
    return xr.Dataset(embeddings, attrs=attrs)


def distance_variables(similarity: xr.Dataset) -> list[str]:
    """Names of the (network, network_b) distance matrices of a similarity dataset."""
    return [
        str(name)
        for name, var in similarity.data_vars.items()
        if var.ndim == 2 and var.dims[0] == NETWORK_DIM
    ]
