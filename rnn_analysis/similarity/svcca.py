"""SVCCA: CCA between the leading principal subspaces of two representations."""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray

from rnn_analysis.similarity.base import METRICS, AttrValue, centre
from rnn_analysis.similarity.cca import CCA


@METRICS.register("svcca")
class SVCCA(CCA):
    """SVCCA distance (Raghu et al. 2017), ``1 - mean canonical correlation``.

    Each centred representation is first reduced to its leading principal
    components that together explain ``variance_fraction`` of its variance (as the
    learning-rules study did, with 95%); the canonical correlations between the two
    reduced representations are the cosines of the principal angles between the
    spans of their leading left singular vectors, and the mean runs over
    ``min(k_a, k_b)`` of them. Invariant to per-unit offsets, rotations and
    isotropic scaling of the units (not to every invertible map: the truncation
    depends on the variance spectrum).

    Parameters
    ----------
    variance_fraction : float, default 0.95
        Fraction of the variance the kept principal components explain (the
        smallest number of components reaching it is kept).
    rtol : float, default 1e-10
        Singular directions at most ``rtol`` times the largest are dropped first.
    """

    name = "svcca"
    long_name = "SVCCA distance (1 - mean canonical correlation of leading PCs)"

    def __init__(self, *, variance_fraction: float = 0.95, rtol: float = 1e-10) -> None:
        super().__init__(rtol=rtol)
        if not 0.0 < variance_fraction <= 1.0:
            raise ValueError(f"variance_fraction must be in (0, 1], got {variance_fraction!r}")
        self.variance_fraction = float(variance_fraction)

    def hyperparameters(self) -> dict[str, AttrValue]:
        return {**super().hyperparameters(), "variance_fraction": self.variance_fraction}

    def prepare(self, x: NDArray[np.float64]) -> NDArray[np.float64]:
        """Orthonormal basis [n_samples, k] of the leading principal components."""
        u, s, _ = np.linalg.svd(centre(x), full_matrices=False)
        return u[:, : self.factor_columns(s)]

    def factor_columns(self, s: NDArray[np.float64]) -> int:
        """Number of leading principal components kept, from the singular values."""
        s = s[s > self.rtol * s[0]]
        explained = np.cumsum(s**2) / np.sum(s**2)
        k = int(np.searchsorted(explained, self.variance_fraction * (1 - 1e-12)) + 1)
        return min(k, len(s))
