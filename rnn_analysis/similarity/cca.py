"""Mean canonical correlation distance."""

from __future__ import annotations

import numpy as np
import torch
from numpy.typing import NDArray

from rnn_analysis.similarity.base import METRICS, AttrValue, SimilarityMetric, centre
from rnn_analysis.similarity.batched import nuclear_norm, pairwise_reduce
from rnn_analysis.similarity.factorisation import Factorisation, FactorisedMetric, FactorTerms


@METRICS.register("cca")
class CCA(SimilarityMetric[NDArray[np.float64]], FactorisedMetric):
    """CCA distance, ``1 - mean canonical correlation``.

    The canonical correlations of two centred representations are the cosines
    of the principal angles between their column spaces: the singular values
    of ``Qa.T @ Qb`` for orthonormal bases ``Qa``, ``Qb`` obtained by SVD. The
    mean runs over ``min(rank_a, rank_b)`` correlations. This is SVCCA
    (Raghu et al. 2017) without the SVD truncation step, as used by
    Maheswaranathan et al. (2019) and McMahan et al. (2021). The distance is
    invariant to per-unit offsets and to any invertible linear map of the
    units.

    Parameters
    ----------
    rtol : float, default 1e-10
        Singular directions of a centred representation whose singular value
        is at most ``rtol`` times the largest are dropped, which makes the
        metric robust to rank deficiency (e.g. duplicated or constant units).

    Notes
    -----
    When both ranks reach ``n_samples - 1`` the column spaces coincide and the
    distance is 0 whatever the data; n_samples should well exceed n_units.
    """

    name = "cca"
    long_name = "CCA distance (1 - mean canonical correlation)"
    units = "1"
    factor_reduction = "nuclear"

    def __init__(self, *, rtol: float = 1e-10) -> None:
        if not 0.0 <= rtol < 1.0:
            raise ValueError(f"rtol must be in [0, 1), got {rtol!r}")
        self.rtol = float(rtol)

    def hyperparameters(self) -> dict[str, AttrValue]:
        return {"rtol": self.rtol}

    def prepare(self, x: NDArray[np.float64]) -> NDArray[np.float64]:
        """Orthonormal basis [n_samples, rank] of the centred column space."""
        u, s, _ = np.linalg.svd(centre(x), full_matrices=False)
        return u[:, s > self.rtol * s[0]]

    def distance(self, a: NDArray[np.float64], b: NDArray[np.float64]) -> float:
        rho = np.clip(np.linalg.svd(a.T @ b, compute_uv=False), 0.0, 1.0)
        mean_rho = rho.sum() / min(a.shape[1], b.shape[1])
        return float(np.clip(1.0 - mean_rho, 0.0, 1.0))

    def _upper_triangle(
        self, prepared: list[NDArray[np.float64]], device: torch.device
    ) -> NDArray[np.float64]:
        ranks = np.array([q.shape[1] for q in prepared])
        rho_sum = pairwise_reduce(prepared, nuclear_norm, device, on_pairs=self._advance)
        return 1.0 - rho_sum / np.minimum(ranks[:, None], ranks[None, :])

    def factor_columns(self, s: NDArray[np.float64]) -> int:
        """Number of leading singular directions compared, from the singular values."""
        return int(np.count_nonzero(s > self.rtol * s[0]))

    def factor_terms(self, f: Factorisation) -> FactorTerms:
        """Weight 1 on the compared columns of ``f.u``; the scale is their number."""
        k = self.factor_columns(f.s)
        weights = np.zeros(len(f.s))
        weights[:k] = 1.0
        return FactorTerms(weights, float(k))

    def factor_finish(
        self,
        reduced: NDArray[np.float64],
        scale_a: NDArray[np.float64],
        scale_b: NDArray[np.float64],
    ) -> NDArray[np.float64]:
        """``1 - sum of canonical correlations / min(k_a, k_b)``."""
        return 1.0 - reduced / np.minimum(scale_a, scale_b)
