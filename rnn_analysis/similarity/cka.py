"""Linear centred kernel alignment distance."""

from __future__ import annotations

from typing import NamedTuple

import numpy as np
import torch
from numpy.typing import NDArray

from rnn_analysis.similarity.base import METRICS, SimilarityMetric, centre
from rnn_analysis.similarity.batched import pairwise_reduce, squared_frobenius
from rnn_analysis.similarity.factorisation import (
    Factorisation,
    FactorisedMetric,
    FactorTerms,
    unit_weights,
)


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
class CKA(SimilarityMetric[CKAPrepared], FactorisedMetric):
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
    factor_reduction = "squared_frobenius"

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
        norms = np.array([p.self_norm for p in prepared])
        cross = pairwise_reduce(
            [p.data for p in prepared], squared_frobenius, device, on_pairs=self._advance
        )
        return 1.0 - cross / (norms[:, None] * norms[None, :])

    def factor_terms(self, f: Factorisation) -> FactorTerms:
        """Weights ``s / ||s||`` (CKA is invariant to the scale); the scale is
        ``||weights²||``, the norm ``||Yᵀ Y||_F`` of the rescaled data."""
        weights = unit_weights(f)
        return FactorTerms(weights, float(np.linalg.norm(weights**2)))

    def factor_finish(
        self,
        reduced: NDArray[np.float64],
        scale_a: NDArray[np.float64],
        scale_b: NDArray[np.float64],
    ) -> NDArray[np.float64]:
        """``1 - ||Sa M Sb||_F² / (||sa²|| ||sb²||)``."""
        return 1.0 - reduced / (scale_a * scale_b)
