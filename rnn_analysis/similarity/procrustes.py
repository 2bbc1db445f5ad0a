"""Angular Procrustes shape distance (Williams, Kunz, Kornblith & Linderman 2021)."""

from __future__ import annotations

import numpy as np
import torch
from numpy.typing import NDArray

from rnn_analysis.similarity.base import METRICS, SimilarityMetric, centre
from rnn_analysis.similarity.batched import nuclear_norm, pairwise_reduce

#: Below this angle (radians) a batched distance is recomputed from the chord.
CHORD_BELOW = 1e-4


@METRICS.register("procrustes")
class Procrustes(SimilarityMetric[NDArray[np.float64]]):
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
