"""Representational distances for the pairwise comparison of networks."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
from numpy.typing import ArrayLike, NDArray

from rnn_analysis.similarity import (
    cca,
    cka,
    dsa,
    linearisation,
    neighbour_signature,
    procrustes,
    svcca,
    topology,
)
from rnn_analysis.similarity.base import (
    METRICS,
    MissingRepresentation,
    SimilarityMetric,
    validate_representations,
)

__all__ = [
    "METRICS",
    "MissingRepresentation",
    "SimilarityMetric",
    "cca",
    "cka",
    "dsa",
    "linearisation",
    "neighbour_signature",
    "svcca",
    "topology",
    "get_metric",
    "pairwise_distances",
    "procrustes",
    "validate_representations",
]


def get_metric(metric: str, **options: Any) -> SimilarityMetric[Any]:
    """Instantiate the registered metric ``metric`` with hyperparameters ``options``.

    Raises
    ------
    KeyError
        If no metric of that name is registered.
    TypeError
        If ``options`` holds a name the metric does not accept.
    """
    cls = METRICS[metric]
    try:
        return cls(**options)
    except TypeError as err:
        raise TypeError(f"invalid options for similarity metric {metric!r}: {err}") from err


def pairwise_distances(
    representations: Sequence[ArrayLike],
    metric: str,
    *,
    device: str | None = None,
    **options: Any,
) -> NDArray[np.float64]:
    """Symmetric [n, n] distance matrix with a zero diagonal.

    Parameters
    ----------
    representations
        One array [n_samples, n_units] per network; all share n_samples.
    metric
        Registered metric name, see ``METRICS.names()``.
    device
        Where batched pair computations run (see :meth:`SimilarityMetric.pairwise`).
    **options
        Hyperparameters of the metric.

    Returns
    -------
    ndarray
        float64 [n, n] with entries in [0, 1].
    """
    return get_metric(metric, **options).pairwise(representations, device=device)
