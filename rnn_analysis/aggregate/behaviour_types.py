"""Solution types from behaviour: clusters of extrapolation profiles.

The space-of-solutions study (Turner, Dabholkar & Barak 2021) saw its solution types
both in the reduced-dynamics graph and in how each network extrapolates beyond its
training range. Each analysed network of a timing task stores an extrapolation profile
(``extrapolation_profile`` along ``extrapolation_condition``, scaled by its task so that
every condition weighs alike). Here the profiles of a population are clustered:

1. The distance between two networks is the RMS difference of their profiles over the
   conditions (the Euclidean distance divided by √(number of conditions)), so that
   ``distance_threshold`` is in the profile's own units, where a qualitatively
   different behaviour at one condition is a difference of about 1 (a flipped choice,
   an error of half the demanded interval): two choice profiles at RMS distance 0.3
   differ in 9% of the conditions.
2. Agglomerative clustering (:func:`scipy.cluster.hierarchy.linkage`, ``linkage``) cut
   at ``distance_threshold``; the networks are sorted by their key first, so the result
   does not depend on their order.
3. Clusters with fewer than ``min_size`` networks or less than ``min_fraction`` of them
   are ``"other"``; the rest are named ``B1``, ``B2``, … by size (ties by their first
   network's key).

:func:`type_agreement` is the adjusted Rand index between two typings of the same
networks (scikit-learn), over the networks typed in both (``"other"`` left out).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

import numpy as np
import xarray as xr
from scipy.cluster.hierarchy import fcluster, linkage
from scipy.spatial.distance import pdist
from sklearn.metrics import adjusted_rand_score

from rnn_analysis.aggregate.solution_types import OTHER
from rnn_analysis.hyperparameters import Hyperparameters

__all__ = ["BehaviourTypeParams", "behaviour_types", "type_agreement"]


@dataclass(frozen=True)
class BehaviourTypeParams(Hyperparameters):
    """Clustering of extrapolation profiles into behaviour types.

    Attributes
    ----------
    linkage : {"average", "complete", "single", "ward"}, default "average"
        Linkage of the agglomerative clustering.
    distance_threshold : float, default 0.3
        Clusters are cut where the linkage distance (RMS profile difference) exceeds
        this: choice profiles differing in more than 9% of the conditions, or produced
        intervals differing by more than 15% of the demanded one, on average, are
        different behaviours.
    min_size : int, default 2
        Clusters with fewer networks are ``"other"``.
    min_fraction : float, default 0.05
        Clusters with less than this fraction of the networks are ``"other"``.
    """

    linkage: Literal["average", "complete", "single", "ward"] = "average"
    distance_threshold: float = 0.3
    min_size: int = 2
    min_fraction: float = 0.05

    def __post_init__(self) -> None:
        if self.linkage not in ("average", "complete", "single", "ward"):
            raise ValueError(
                f"linkage must be average, complete, single or ward, got {self.linkage!r}"
            )
        if not self.distance_threshold > 0:
            raise ValueError(f"distance_threshold must be > 0, got {self.distance_threshold}")
        if self.min_size < 1:
            raise ValueError(f"min_size must be >= 1, got {self.min_size}")
        if not 0 <= self.min_fraction < 1:
            raise ValueError(f"min_fraction must be in [0, 1), got {self.min_fraction}")


def behaviour_types(
    profiles: xr.DataArray,
    keys: Sequence[str],
    params: BehaviourTypeParams | None = None,
) -> xr.Dataset:
    """Behaviour type of every network from its extrapolation profile.

    Parameters
    ----------
    profiles : DataArray (network, extrapolation_condition)
        One profile per network, no NaN.
    keys : the networks' keys (e.g. ``task/architecture/rule/noise/seed``), one per row
    params : clustering hyperparameters (defaults: :class:`BehaviourTypeParams`)

    Returns
    -------
    xarray.Dataset
        ``behaviour_type`` along the profiles' first dimension (``B1``, … or
        ``"other"``), and attributes ``n_clusters``, ``n_behaviour_types``, ``coverage``
        and the hyperparameters.
    """
    params = params or BehaviourTypeParams()
    dim = profiles.dims[0]
    values = np.asarray(profiles.values, dtype=np.float64)
    n = values.shape[0]
    if len(keys) != n:
        raise ValueError(f"{len(keys)} keys for {n} profiles")
    if not np.isfinite(values).all():
        raise ValueError("extrapolation profiles must be finite")
    order = np.argsort(np.asarray(keys, dtype=str), kind="stable")
    if n >= 2:
        distances = pdist(values[order], "euclidean") / math.sqrt(max(values.shape[1], 1))
        tree = linkage(distances, method=params.linkage)
        cluster = np.empty(n, dtype=np.int64)
        cluster[order] = fcluster(tree, t=params.distance_threshold, criterion="distance")
    else:
        cluster = np.zeros(n, dtype=np.int64)
    needed = max(params.min_size, math.ceil(params.min_fraction * n - 1e-12))
    sizes = {c: int((cluster == c).sum()) for c in np.unique(cluster)}
    first = {c: min(str(keys[i]) for i in np.flatnonzero(cluster == c)) for c in sizes}
    kept = sorted((c for c in sizes if sizes[c] >= needed), key=lambda c: (-sizes[c], first[c]))
    name = {c: f"B{k + 1}" for k, c in enumerate(kept)}
    types = np.array([name.get(int(c), OTHER) for c in cluster], dtype=str)
    n_other = int((types == OTHER).sum())
    return xr.Dataset(
        {
            "behaviour_type": (
                dim,
                types,
                {"long_name": "behaviour type (cluster of extrapolation profiles; 'other': few)"},
            )
        },
        coords={dim: profiles[dim].values} if dim in profiles.coords else None,
        attrs={
            "n_clusters": len(sizes),
            "n_behaviour_types": len(kept),
            "coverage": float((n - n_other) / n) if n else float("nan"),
            **{f"param_{k}": v for k, v in params.to_dict().items()},
        },
    )


def type_agreement(a: Sequence[str], b: Sequence[str]) -> tuple[float, int]:
    """Adjusted Rand index between two typings, over networks typed in both.

    Networks whose type is empty or ``"other"`` in either typing are left out. Returns
    the index and the number of networks used; the index is NaN with fewer than 2
    networks left or where either typing has a single type among them (agreement is
    then undefined, not 0).
    """
    a, b = np.asarray(a, dtype=str), np.asarray(b, dtype=str)
    if a.shape != b.shape:
        raise ValueError(f"typings of {a.shape} and {b.shape} networks")
    keep = (a != "") & (a != OTHER) & (b != "") & (b != OTHER)
    if keep.sum() < 2 or len(set(a[keep])) < 2 or len(set(b[keep])) < 2:
        return float("nan"), int(keep.sum())
    return float(adjusted_rand_score(a[keep], b[keep])), int(keep.sum())
