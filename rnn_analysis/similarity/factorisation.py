"""One singular value decomposition per network, shared by the geometry metrics.

CCA, SVCCA, linear CKA and the angular Procrustes distance all depend on a centred
representation ``Y = U S Vᵀ`` only through ``U`` and ``S``: each compares two networks
through the cross product ``M = Uᵢᵀ Uⱼ`` with columns selected or weighted by the
singular values (see :mod:`rnn_analysis.similarity.geometry_pass`). A
:class:`Factorisation` keeps these two factors, computed once per network; it is small
(``n_samples × min(n_samples, n_units)`` values) and picklable, so that it can be stored
between jobs.

:class:`FactorisedMetric` is the interface through which a metric says how it reads a
pair's cross product; CCA, SVCCA, CKA and Procrustes implement it.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import ClassVar, NamedTuple

import numpy as np
from numpy.typing import ArrayLike, NDArray

from rnn_analysis.similarity.base import centre

#: Storage dtypes of :attr:`Factorisation.u`.
STORAGE_DTYPES = (np.dtype(np.float32), np.dtype(np.float64))


class Factorisation(NamedTuple):
    """Thin SVD ``U S Vᵀ`` of one network's centred representation, without ``V``.

    Attributes
    ----------
    u
        Left singular vectors [n_samples, r], ``r = min(n_samples, n_units)``, in the
        storage dtype (``float32`` or ``float64``). Every column is kept, including
        those of zero or negligible singular value, so that nothing a metric uses is
        truncated.
    s
        Singular values [r], float64, in descending order.

    Notes
    -----
    ``float32`` storage rounds each entry of ``u`` to a 24-bit significand (relative
    error at most ``2**-24 ≈ 6e-8``), so the columns are orthonormal only to about
    ``1e-7``, and cross products ``Uᵢᵀ Uⱼ`` of stored factors are then summed in
    float32, with absolute errors of about ``1e-7``. ``s`` stays float64 in both
    storages: ranks, the number of SVCCA components and the normalisers are exactly
    those of a float64 factorisation. What the rounding does to each distance is
    described in :func:`~rnn_analysis.similarity.geometry_pass.geometry_distances`.
    """

    u: NDArray[np.floating]
    s: NDArray[np.float64]

    @property
    def n_samples(self) -> int:
        """Number of samples (rows of :attr:`u`)."""
        return int(self.u.shape[0])


def factorise(x: ArrayLike, dtype: str | np.dtype = "float32") -> Factorisation:
    """Centre a representation and take its thin SVD.

    Parameters
    ----------
    x
        Representation [n_samples, n_units]; converted to float64 first.
    dtype
        Storage dtype of the left singular vectors: ``"float32"`` (default, half the
        memory and twice the cross-product rate, see the notes of
        :class:`Factorisation`) or ``"float64"``.

    Returns
    -------
    Factorisation
        ``u`` [n_samples, min(n_samples, n_units)] and ``s``.

    Raises
    ------
    ValueError
        If ``x`` is not 2-D, if every unit is constant across samples (from
        :func:`~rnn_analysis.similarity.base.centre`), or if ``dtype`` is neither
        float32 nor float64.
    """
    storage = np.dtype(dtype)
    if storage not in STORAGE_DTYPES:
        raise ValueError(f"storage dtype must be float32 or float64, got {storage}")
    data = np.asarray(x, dtype=np.float64)
    if data.ndim != 2:
        raise ValueError(f"representation must be 2-D [n_samples, n_units], got {data.shape}")
    u, s, _ = np.linalg.svd(centre(data), full_matrices=False)
    return Factorisation(np.ascontiguousarray(u, dtype=storage), s)


def factorise_all(
    representations: Sequence[ArrayLike], dtype: str | np.dtype = "float32"
) -> list[Factorisation]:
    """:func:`factorise` every representation; errors name the network index."""
    out = []
    for i, x in enumerate(representations):
        try:
            out.append(factorise(x, dtype))
        except ValueError as err:
            raise ValueError(f"network {i}: {err}") from err
    return out


def numerical_rank(s: NDArray[np.float64], n_samples: int) -> int:
    """Number of singular values above rounding level.

    A singular value counts when it exceeds ``s[0] · max(n_samples, len(s)) · eps``, the
    tolerance of :func:`numpy.linalg.matrix_rank`: the directions below it are rounding
    noise of the decomposition, and a weight as small as theirs changes a cross product
    by less than its own rounding.
    """
    tol = s[0] * max(n_samples, len(s)) * np.finfo(np.float64).eps
    return int(np.count_nonzero(s > tol))


def unit_weights(f: Factorisation) -> NDArray[np.float64]:
    """``s / ||s||``, the singular values of the centred representation scaled to unit
    Frobenius norm, with those below :func:`numerical_rank` set to 0."""
    weights = f.s / np.linalg.norm(f.s)
    weights[numerical_rank(f.s, f.n_samples) :] = 0.0
    return weights


def rotated(f: Factorisation) -> NDArray[np.float64]:
    """``U S / ||s||`` in float64: the centred representation scaled to unit Frobenius
    norm and rotated by ``V`` (exactly so for float64 storage; float32 storage adds the
    rounding of ``U``, about ``6e-8`` relative per entry)."""
    return f.u.astype(np.float64) * (f.s / np.linalg.norm(f.s))


class FactorTerms(NamedTuple):
    """How one metric reads one network's factorisation.

    Attributes
    ----------
    weights
        [r] float64 column weights: the pair's block is ``diag(wᵢ) Uᵢᵀ Uⱼ diag(wⱼ)``.
        Non-zero weights form a leading run, zeros follow (columns not used).
    scale
        A per-network number that :meth:`FactorisedMetric.factor_finish` combines with
        the reduced block (a rank, a norm).
    """

    weights: NDArray[np.float64]
    scale: float


class FactorisedMetric:
    """A geometry metric that is a reduction of the weighted cross product of two
    :class:`Factorisation` objects.

    :func:`~rnn_analysis.similarity.geometry_pass.geometry_distances` computes, for each
    pair, ``B = diag(wᵢ) Uᵢᵀ Uⱼ diag(wⱼ)`` with the weights of :meth:`factor_terms`,
    reduces it as :attr:`factor_reduction` says, and turns the reduced values into
    distances with :meth:`factor_finish`; pairs that :meth:`factor_inexact` flags are
    then recomputed by :meth:`factor_exact`.

    Attributes
    ----------
    factor_reduction : {"nuclear", "squared_frobenius"}
        Sum of the singular values of ``B``, or sum of its squared entries.
    """

    factor_reduction: ClassVar[str]

    def factor_terms(self, f: Factorisation) -> FactorTerms:
        """Column weights and per-network scale of one factorisation."""
        raise NotImplementedError

    def factor_finish(
        self,
        reduced: NDArray[np.float64],
        scale_a: NDArray[np.float64],
        scale_b: NDArray[np.float64],
    ) -> NDArray[np.float64]:
        """Distances of pairs from their reduced blocks and the scales of both networks."""
        raise NotImplementedError

    def factor_inexact(self, distances: NDArray[np.float64], dtype: np.dtype) -> NDArray[np.bool_]:
        """Pairs whose distance from a cross product in ``dtype`` is not accurate to
        about ``1e-6``; none by default."""
        return np.zeros(distances.shape, dtype=bool)

    def factor_exact(self, a: Factorisation, b: Factorisation) -> float:
        """Distance of one pair computed without the shared cross product."""
        raise NotImplementedError(f"{type(self).__name__} flags no pair as inexact")
