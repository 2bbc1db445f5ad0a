"""Angular Procrustes shape distance (Williams, Kunz, Kornblith & Linderman 2021)."""

from __future__ import annotations

import numpy as np
import torch
from numpy.typing import NDArray

from rnn_analysis.similarity.base import METRICS, SimilarityMetric, centre
from rnn_analysis.similarity.batched import nuclear_norm, pairwise_reduce
from rnn_analysis.similarity.factorisation import (
    Factorisation,
    FactorisedMetric,
    FactorTerms,
    rotated,
    unit_weights,
)

#: Below this angle (radians) a batched distance is recomputed from the chord.
CHORD_BELOW = 1e-4
#: Below this angle (radians), by the dtype of the cross product it came from, a
#: distance from :func:`~rnn_analysis.similarity.geometry_pass.geometry_distances` is
#: recomputed: from float64 products when it came from float32 ones, by
#: :meth:`Procrustes.factor_exact` when it came from float64 ones. The angle from a
#: nuclear norm with error ``δ`` is off by ``δ / sin θ``; measured ``δ`` is at most
#: ``1.4e-7`` for float32 products of 500 to 30,000 samples and ``1.5e-9`` for float64
#: products of float32-rounded factors, so above these angles the distance is off by
#: less than ``4e-7`` and ``3e-8``.
FACTOR_EXACT_BELOW = {np.dtype(np.float32): 0.25, np.dtype(np.float64): 0.03}


@METRICS.register("procrustes")
class Procrustes(SimilarityMetric[NDArray[np.float64]], FactorisedMetric):
    """Angular Procrustes shape distance, a true metric on representations.

    Each representation is centred and scaled to unit Frobenius norm; the distance is
    the angle ``arccos max_Q tr(Xᵀ Y Q)`` over orthogonal maps ``Q`` (networks of
    different widths are compared as if zero-padded to the larger width), which is
    ``arccos`` of the nuclear norm of ``Xᵀ Y``. It is invariant to per-unit offsets,
    rotations and reflections and isotropic scaling of the units, and it satisfies
    the triangle inequality. The angle lies in [0, π/2]; it is reported divided by
    π/2, so that it lies in [0, 1] like every other metric (multiply by π/2 for
    radians).
    """

    name = "procrustes"
    long_name = "angular Procrustes shape distance (angle / (pi/2))"
    factor_reduction = "nuclear"

    def prepare(self, x: NDArray[np.float64]) -> NDArray[np.float64]:
        """The centred representation scaled to unit Frobenius norm."""
        centred = centre(x)
        return centred / np.linalg.norm(centred)

    def distance(self, a: NDArray[np.float64], b: NDArray[np.float64]) -> float:
        # The angle as 2·arcsin(‖XQ − Y‖ / 2) with the optimal Q = U Vᵀ: accurate
        # near 0, where arccos of the nuclear norm loses half the digits. With the
        # narrower representation as X, Q has orthonormal rows and keeps ‖XQ‖ = 1.
        if a.shape[1] > b.shape[1]:
            a, b = b, a
        u, _, vt = np.linalg.svd(a.T @ b, full_matrices=False)
        chord = np.linalg.norm(a @ (u @ vt) - b)
        return float(2.0 * np.arcsin(min(chord / 2.0, 1.0)) / (np.pi / 2))

    def _upper_triangle(
        self, prepared: list[NDArray[np.float64]], device: torch.device
    ) -> NDArray[np.float64]:
        nuclear = np.clip(
            pairwise_reduce(prepared, nuclear_norm, device, on_pairs=self._advance), -1.0, 1.0
        )
        out = np.arccos(nuclear) / (np.pi / 2)
        # arccos loses half the digits near 0: redo the few near-identical pairs exactly.
        close = np.triu(out < CHORD_BELOW / (np.pi / 2), k=1)
        for i, j in zip(*np.nonzero(close), strict=True):
            out[i, j] = self.distance(prepared[i], prepared[j])
        return out

    def factor_terms(self, f: Factorisation) -> FactorTerms:
        """Weights ``s / ||s||``: the block is the cross product of the normalised data
        in the bases of their right singular vectors."""
        return FactorTerms(unit_weights(f), 1.0)

    def factor_finish(
        self,
        reduced: NDArray[np.float64],
        scale_a: NDArray[np.float64],
        scale_b: NDArray[np.float64],
    ) -> NDArray[np.float64]:
        """``arccos`` of the nuclear norm, divided by π/2."""
        return np.arccos(np.clip(reduced, -1.0, 1.0)) / (np.pi / 2)

    def factor_inexact(self, distances: NDArray[np.float64], dtype: np.dtype) -> NDArray[np.bool_]:
        """Angles below :data:`FACTOR_EXACT_BELOW` for ``dtype``."""
        return distances < FACTOR_EXACT_BELOW[np.dtype(dtype)] / (np.pi / 2)

    def factor_exact(self, a: Factorisation, b: Factorisation) -> float:
        """:meth:`distance` of ``U S / ||s||`` in float64, a rotation of each normalised
        centred representation."""
        return self.distance(rotated(a), rotated(b))
