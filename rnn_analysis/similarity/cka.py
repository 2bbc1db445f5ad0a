"""Linear centred kernel alignment distance."""

from __future__ import annotations

from typing import NamedTuple

import numpy as np
import torch
from numpy.typing import NDArray

from rnn_analysis.similarity.base import METRICS, SimilarityMetric, centre


class CKAPrepared(NamedTuple):
    """A centred representation and its feature-space Gram norm.

    Attributes
    ----------
    data
        Centred data [n_samples, k]; when n_units > n_samples it is replaced by
        an [n_samples, n_samples] factor with the same sample Gram matrix.
    self_norm
        ``||data.T @ data||_F``.
    """

    data: NDArray[np.float64]
    self_norm: float


@METRICS.register("cka")
class CKA(SimilarityMetric[CKAPrepared]):
    """Linear CKA distance, ``1 - CKA`` (Kornblith et al. 2019).

    On centred representations ``Ya``, ``Yb``::

        CKA = ||Ya.T @ Yb||_F**2 / (||Ya.T @ Ya||_F * ||Yb.T @ Yb||_F)

    The distance is invariant to per-unit offsets, orthogonal transforms and
    isotropic scaling of the units, but not to general invertible maps.

    The metric has no hyperparameters.
    """

    name = "cka"
    long_name = "linear CKA distance (1 - linear CKA)"
    units = "1"

    def prepare(self, x: NDArray[np.float64]) -> CKAPrepared:
        """Centre the data and compute ``||Y.T @ Y||_F``."""
        y = centre(x)
        if y.shape[1] > y.shape[0]:
            y = np.linalg.qr(y.T, mode="r").T
        return CKAPrepared(y, float(np.linalg.norm(y.T @ y)))

    def distance(self, a: CKAPrepared, b: CKAPrepared) -> float:
        cross = np.linalg.norm(a.data.T @ b.data) ** 2
        cka = cross / (a.self_norm * b.self_norm)
        return float(np.clip(1.0 - cka, 0.0, 1.0))

    def _upper_triangle(
        self, prepared: list[CKAPrepared], device: torch.device
    ) -> NDArray[np.float64]:
        n = len(prepared)
        widths = np.array([p.data.shape[1] for p in prepared])
        starts = np.concatenate([[0], np.cumsum(widths)[:-1]])
        stacked = np.concatenate([p.data for p in prepared], axis=1)
        norms = np.array([p.self_norm for p in prepared])
        out = np.zeros((n, n))
        for i in range(n - 1):
            cross = prepared[i].data.T @ stacked[:, starts[i + 1] :]
            block_sq = np.add.reduceat((cross**2).sum(axis=0), starts[i + 1 :] - starts[i + 1])
            out[i, i + 1 :] = 1.0 - block_sq / (norms[i] * norms[i + 1 :])
        return out
