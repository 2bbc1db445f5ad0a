"""CCA, SVCCA, CKA and Procrustes distances from one cross product per pair.

Every network is factorised once (:func:`~rnn_analysis.similarity.factorisation.factorise`:
the centred representation ``Y = U S Vᵀ``). For two networks ``i`` and ``j`` the four
metrics all follow from the small matrix ``M = Uᵢᵀ Uⱼ`` [rᵢ, rⱼ]:

* CCA: the canonical correlations are the singular values of ``M`` restricted to the
  columns with ``s > rtol · s₀``; the distance is ``1 - their sum / min(kᵢ, kⱼ)``.
* SVCCA: the same on the leading ``kᵢ × kⱼ`` block, ``k`` the number of components
  reaching ``variance_fraction`` of the variance.
* CKA: ``Yᵢᵀ Yⱼ = Vᵢ Sᵢ M Sⱼ Vⱼᵀ``, so ``CKA = ||Sᵢ M Sⱼ||²_F / (||sᵢ²|| ||sⱼ²||)``.
* Procrustes: the nuclear norm of ``Ŝᵢ M Ŝⱼ`` with ``Ŝ = S / ||s||`` is the cosine of
  the angle.

Each metric says how it reads ``M`` through the hooks of
:class:`~rnn_analysis.similarity.factorisation.FactorisedMetric` (column weights, a
reduction, a finishing formula). ``M`` is computed once per pair for all metrics, in
tiles of stacked matrix products ``[T·r, n_samples] @ [n_samples, T·r]`` in the storage
dtype of the factorisations, as in :mod:`rnn_analysis.similarity.batched`. The blocks
of a tile are then reduced in sub-tiles of :data:`SUBTILE_PAIRS` pairs in float64:
metrics with the same column weights (CKA and Procrustes) share their weighted block,
each block is cropped to the largest number of used columns in its sub-tile, and
sub-tiles run in parallel threads (torch releases the GIL).

Nuclear norms come from the eigenvalues of the Gram matrix of each block (about 1.5
times cheaper than its singular values): the singular values are ``sqrt(λ)``, of which
only the ``min(kᵢ, kⱼ)`` largest can be non-zero. The square root loses absolute
accuracy on singular values far below the largest, so blocks where that could matter
are recomputed with :func:`torch.linalg.svdvals` (see :func:`nuclear_norm`).

Procrustes angles near 0 come inaccurately from ``arccos``; the metric flags them
(``factor_inexact``): from float32 cross products they are recomputed from float64
products of the stored factors, and the smallest by the chord formula of
:meth:`~rnn_analysis.similarity.procrustes.Procrustes.distance` (see
:data:`~rnn_analysis.similarity.procrustes.FACTOR_EXACT_BELOW`).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from functools import partial
from typing import NamedTuple

import numpy as np
import torch
from numpy.typing import NDArray

from rnn_analysis.similarity.base import SimilarityMetric, resolve_device
from rnn_analysis.similarity.factorisation import Factorisation, FactorisedMetric

#: Bytes of one tile's block of cross products in the storage dtype (sets the number of
#: networks per tile: 64 networks of 64 units in float32).
TILE_BYTES = 64 * 2**20
#: Pairs whose blocks are reduced together, in one thread (one progress report each).
SUBTILE_PAIRS = 256
#: Error assumed for the Gram eigenvalues of a block, in units of ``eps · λ_max`` (the
#: largest error of the nuclear norms relative to their estimate with 1 was 3.85 over
#: about 4,000 CCA and Procrustes blocks of 64 networks, some rank-deficient).
GRAM_EIGEN_ERROR = 4.0
#: A nuclear norm comes from Gram eigenvalues unless the error that their square roots
#: may add (see :func:`nuclear_norm`) exceeds this fraction of the largest singular
#: value; then it comes from :func:`torch.linalg.svdvals`.
GRAM_ATOL = 1e-9
#: Pairs whose cross products are recomputed in float64 at once (see
#: :func:`geometry_distances`, notes).
REFINE_PAIRS = 32

Reducer = Callable[[torch.Tensor, torch.Tensor], torch.Tensor]


def nuclear_norm(blocks: torch.Tensor, rank: torch.Tensor) -> torch.Tensor:
    """Sum of the singular values of each block [P, p, q] whose rank is at most ``rank`` [P].

    The singular values are the square roots of the ``rank`` largest eigenvalues of the
    smaller Gram matrix of the block. An eigenvalue error ``δ`` moves ``σ = sqrt(λ)`` by
    at most ``min(sqrt(δ), δ / 2σ)``; with ``δ = GRAM_EIGEN_ERROR · eps · λ_max`` the sum
    of these over a block estimates its error, and blocks where it exceeds
    :data:`GRAM_ATOL` times the largest singular value (cross products of rank below
    ``rank``, steep spectra) are recomputed with :func:`torch.linalg.svdvals`.
    """
    rows, cols = blocks.shape[-2:]
    gram = blocks @ blocks.mT if rows <= cols else blocks.mT @ blocks
    n = gram.shape[-1]
    eigenvalues = torch.linalg.eigvalsh(gram).clamp_min(0.0)
    kept = torch.arange(n, device=blocks.device)[None, :] >= (n - rank)[:, None]
    sigma = eigenvalues.sqrt() * kept
    values = sigma.sum(dim=-1)
    delta = GRAM_EIGEN_ERROR * torch.finfo(blocks.dtype).eps * eigenvalues[:, -1:]
    tiny = torch.finfo(blocks.dtype).tiny
    error = (torch.minimum(delta.sqrt(), delta / (2.0 * sigma).clamp_min(tiny)) * kept).sum(-1)
    exact = error > GRAM_ATOL * sigma[:, -1]
    if bool(exact.any()):
        values[exact] = torch.linalg.svdvals(blocks[exact]).sum(dim=-1)
    return values


def squared_frobenius(blocks: torch.Tensor, rank: torch.Tensor) -> torch.Tensor:
    """Sum of the squared entries of each block [P, p, q]."""
    return blocks.square().sum(dim=(-2, -1))


#: Reductions a :class:`FactorisedMetric` may name in ``factor_reduction``.
REDUCERS: dict[str, Reducer] = {
    "nuclear": nuclear_norm,
    "squared_frobenius": squared_frobenius,
}


def supports_factors(metric: SimilarityMetric) -> bool:
    """Whether ``metric`` can be computed by :func:`geometry_distances` (CCA, SVCCA,
    CKA and Procrustes, with any hyperparameters)."""
    return isinstance(metric, FactorisedMetric)


class _Weights(NamedTuple):
    """Column weights shared by one or more metrics, for all networks."""

    table: torch.Tensor  # [n, r_max] float64 on the device
    widths: NDArray[np.int64]  # [n] number of non-zero (leading) weights
    ranks: torch.Tensor  # the same on the device
    reductions: tuple[str, ...]


def _check_samples(a: Sequence[Factorisation], b: Sequence[Factorisation] | None) -> int:
    n_samples = a[0].n_samples if a else b[0].n_samples if b else 0
    for label, block in (("", a), (" of b", b or [])):
        for i, f in enumerate(block):
            if f.n_samples != n_samples:
                raise ValueError(
                    f"network {i}{label}: factorisation has {f.n_samples} samples but "
                    f"network 0 has {n_samples}; all networks need the same n_samples"
                )
    return n_samples


def _weight_tables(
    metrics: Sequence[FactorisedMetric],
    networks: Sequence[Factorisation],
    r_max: int,
    device: torch.device,
) -> tuple[list[_Weights], list[int], list[NDArray[np.float64]]]:
    """The distinct weight tables, the table of each metric and each metric's scales."""
    tables: list[NDArray[np.float64]] = []
    reductions: list[list[str]] = []
    owner: list[int] = []
    scales: list[NDArray[np.float64]] = []
    for metric in metrics:
        table = np.zeros((len(networks), r_max))
        scale = np.zeros(len(networks))
        for i, f in enumerate(networks):
            terms = metric.factor_terms(f)
            table[i, : len(terms.weights)] = terms.weights
            scale[i] = terms.scale
        same = [k for k, existing in enumerate(tables) if np.array_equal(existing, table)]
        g = same[0] if same else len(tables)
        if not same:
            tables.append(table)
            reductions.append([])
        if metric.factor_reduction not in REDUCERS:
            raise ValueError(
                f"{metric!r}: unknown factor_reduction {metric.factor_reduction!r}; "
                f"expected one of {sorted(REDUCERS)}"
            )
        if metric.factor_reduction not in reductions[g]:
            reductions[g].append(metric.factor_reduction)
        owner.append(g)
        scales.append(scale)
    groups = []
    for table, names in zip(tables, reductions, strict=True):
        widths = np.count_nonzero(table, axis=1)
        if np.any(table[np.arange(r_max)[None, :] < widths[:, None]] == 0.0):
            raise ValueError("factor_terms weights must be a leading run of non-zero values")
        groups.append(
            _Weights(
                torch.from_numpy(table).to(device),
                widths,
                torch.from_numpy(widths).to(device),
                tuple(names),
            )
        )
    return groups, owner, scales


def _reduce(
    cross: torch.Tensor,
    gi: NDArray[np.int64],
    gj: NDArray[np.int64],
    groups: Sequence[_Weights],
) -> list[dict[str, NDArray[np.float64]]]:
    """Reduce cross products [P, ≥wᵢ, ≥wⱼ] of the pairs of networks ``gi``, ``gj``.
    Returns, per weight group, the values of each of its reductions."""
    ni = torch.from_numpy(gi).to(cross.device)
    nj = torch.from_numpy(gj).to(cross.device)
    out = []
    for g in groups:
        ki, kj = int(g.widths[gi].max()), int(g.widths[gj].max())
        weighted = cross[:, :ki, :kj] * g.table[ni, :ki, None] * g.table[nj, None, :kj]
        rank = torch.minimum(g.ranks[ni], g.ranks[nj])
        out.append({name: REDUCERS[name](weighted, rank).cpu().numpy() for name in g.reductions})
    return out


def _reduce_subtile(
    block: torch.Tensor,
    groups: Sequence[_Weights],
    i0: int,
    j0: int,
    pairs: tuple[NDArray[np.int64], NDArray[np.int64]],
) -> list[dict[str, NDArray[np.float64]]]:
    """:func:`_reduce` the ``pairs`` (row and column indices within the tile) of a tile's
    blocks [Ti, r, Tj, r] whose first networks are ``i0`` and ``j0``."""
    li, lj = pairs
    gi, gj = li + i0, lj + j0
    wi = max(int(g.widths[gi].max()) for g in groups)
    wj = max(int(g.widths[gj].max()) for g in groups)
    ti = torch.from_numpy(li).to(block.device)
    tj = torch.from_numpy(lj).to(block.device)
    return _reduce(block[ti, :wi, tj, :wj].to(torch.float64), gi, gj, groups)


def _float64_products(
    stacked: torch.Tensor,
    gi: NDArray[np.int64],
    gj: NDArray[np.int64],
    group: _Weights,
    reduction: str,
) -> NDArray[np.float64]:
    """One reduction of the cross products of the pairs ``gi``, ``gj`` recomputed in
    float64 from the stored factors, :data:`REFINE_PAIRS` pairs at a time."""
    out = np.zeros(len(gi))
    for c in range(0, len(gi), REFINE_PAIRS):
        pi, pj = gi[c : c + REFINE_PAIRS], gj[c : c + REFINE_PAIRS]
        ti = torch.from_numpy(pi).to(stacked.device)
        tj = torch.from_numpy(pj).to(stacked.device)
        cross = stacked[ti].to(torch.float64) @ stacked[tj].to(torch.float64).mT
        out[c : c + REFINE_PAIRS] = _reduce(cross, pi, pj, [group])[0][reduction]
    return out


def _worker_pool(n_threads: int) -> ThreadPoolExecutor:
    """Threads for the sub-tiles. With several and torch's OpenMP backend, where the
    thread count is per thread, each worker runs its operations on one thread (not
    ``n_threads`` each, which would oversubscribe the cores)."""
    openmp = "parallel backend: OpenMP" in torch.__config__.parallel_info()
    if n_threads > 1 and openmp:
        return ThreadPoolExecutor(n_threads, initializer=torch.set_num_threads, initargs=(1,))
    return ThreadPoolExecutor(n_threads)


@contextmanager
def _full_float32_precision() -> Iterator[None]:
    """Float32 matrix products in full float32 precision (no TF32 or bfloat16 passes)."""
    previous = torch.get_float32_matmul_precision()
    torch.set_float32_matmul_precision("highest")
    try:
        yield
    finally:
        torch.set_float32_matmul_precision(previous)


def _tiles(n: int, size: int, offset: int = 0) -> list[tuple[int, int]]:
    return [(offset + s, offset + min(n, s + size)) for s in range(0, n, size)]


class _Pass:
    """The stacked factors of all networks and what each metric reads from them."""

    def __init__(
        self,
        metrics: Sequence[FactorisedMetric],
        networks: Sequence[Factorisation],
        n_samples: int,
        device: torch.device,
    ) -> None:
        self.metrics = list(metrics)
        self.networks = list(networks)
        single = all(f.u.dtype == np.float32 for f in networks)
        self.storage = np.dtype(np.float32 if single else np.float64)
        dtype = torch.float32 if self.storage == np.float32 else torch.float64
        self.r_max = max(f.u.shape[1] for f in networks)
        self.stacked = torch.zeros(
            (len(networks), self.r_max, n_samples), dtype=dtype, device=device
        )
        for i, f in enumerate(networks):
            u = torch.from_numpy(np.ascontiguousarray(f.u.T))
            self.stacked[i, : f.u.shape[1]] = u.to(device=device, dtype=dtype)
        self.groups, self.owner, self.scales = _weight_tables(
            self.metrics, self.networks, self.r_max, device
        )

    def distances(
        self,
        reduced: list[dict[str, NDArray[np.float64]]],
        gi: NDArray[np.int64],
        gj: NDArray[np.int64],
    ) -> dict[str, NDArray[np.float64]]:
        """Each metric's distances of the pairs ``gi``, ``gj`` from their reduced blocks.

        Pairs a metric flags as inexact at float32 are recomputed from float64 cross
        products of the stored factors; those it still flags (or flags at float64
        storage) by the metric's own :meth:`~FactorisedMetric.factor_exact`.
        """
        out = {}
        for metric, g, scale in zip(self.metrics, self.owner, self.scales, strict=True):
            reduction = metric.factor_reduction
            values = metric.factor_finish(reduced[g][reduction], scale[gi], scale[gj])
            inexact = metric.factor_inexact(values, self.storage)
            if self.storage != np.float64 and inexact.any():
                fi, fj = gi[inexact], gj[inexact]
                again = _float64_products(self.stacked, fi, fj, self.groups[g], reduction)
                values[inexact] = metric.factor_finish(again, scale[fi], scale[fj])
                inexact = metric.factor_inexact(values, np.dtype(np.float64))
            for k in np.flatnonzero(inexact):
                values[k] = metric.factor_exact(self.networks[gi[k]], self.networks[gj[k]])
            out[metric.name] = values
        return out


def geometry_distances(
    metrics: Sequence[SimilarityMetric],
    a: Sequence[Factorisation],
    b: Sequence[Factorisation] | None = None,
    *,
    device: str | torch.device | None = None,
    threads: int | None = None,
    on_pairs: Callable[[int], None] | None = None,
) -> dict[str, NDArray[np.float64]]:
    """Distances of several geometry metrics from one cross product per pair.

    Parameters
    ----------
    metrics
        Metric instances with distinct names, each supported (see
        :func:`supports_factors`); their hyperparameters are respected.
    a, b
        Factorisations (:func:`~rnn_analysis.similarity.factorisation.factorise`) of two
        blocks of networks, all with the same n_samples; ``b`` ``None`` compares ``a``
        with itself. The cross products run in the storage dtype of the
        factorisations (float64 if they mix dtypes).
    device
        Where the cross products and reductions run: ``None`` or ``"cpu"``,
        ``"cuda"``, or ``"auto"`` (the GPU when one is visible).
    threads
        Threads reducing sub-tiles in parallel; default ``torch.get_num_threads()``.
        Results do not depend on it.
    on_pairs
        Called after each sub-tile with its number of pairs.

    Returns
    -------
    dict of str to ndarray
        For each metric name, float64 distances in [0, 1]: the symmetric [n_a, n_a]
        matrix with a zero diagonal, or the [n_a, n_b] block between ``a`` and ``b``.

    Raises
    ------
    ValueError
        If the factorisations differ in n_samples (the message names the network),
        or if two metrics share a name.
    TypeError
        If a metric is not supported.

    Notes
    -----
    With float64 storage the distances agree with each metric's
    :meth:`~rnn_analysis.similarity.base.SimilarityMetric.pairwise` to rounding
    (``1e-10`` or better). With float32 storage the cross products carry absolute
    errors of about ``1e-7``, which move CCA, SVCCA and CKA distances by about as
    much (at most ``3.3e-7``, for CKA, over 1,000 synthetic networks of 64 units). A
    Procrustes angle ``θ`` from a nuclear norm with error ``δ`` is off by
    ``δ / sin θ``: pairs below 0.25 rad are recomputed from float64 products of the
    stored factors, and those below 0.03 rad by the chord
    formula of :meth:`~rnn_analysis.similarity.procrustes.Procrustes.distance` on
    ``U S / ||s||`` in float64 (see
    :data:`~rnn_analysis.similarity.procrustes.FACTOR_EXACT_BELOW`), about 1 ms per
    pair; populations with many such close pairs are faster with float64 storage.

    The cross products run with float32 matrix products at full precision
    (``torch.set_float32_matmul_precision("highest")`` for the duration of the call).
    """
    metrics = list(metrics)
    for metric in metrics:
        if not supports_factors(metric):
            raise TypeError(f"{metric!r} cannot be computed from factorisations")
    names = [metric.name for metric in metrics]
    if len(set(names)) != len(names):
        raise ValueError(f"metrics must have distinct names, got {names}")
    factorised = [m for m in metrics if isinstance(m, FactorisedMetric)]
    a = list(a)
    b = None if b is None else list(b)
    n_samples = _check_samples(a, b)
    n_a = len(a)
    n_b = n_a if b is None else len(b)
    out = {name: np.zeros((n_a, n_b)) for name in names}
    if n_a == 0 or n_b == 0 or (b is None and n_a < 2) or not metrics:
        return out

    pass_ = _Pass(factorised, a + (b or []), n_samples, resolve_device(device))
    itemsize = torch.empty((), dtype=pass_.stacked.dtype).element_size()
    size = max(1, int(np.sqrt(TILE_BYTES / itemsize) // pass_.r_max))
    row_tiles = _tiles(n_a, size)
    col_tiles = row_tiles if b is None else _tiles(n_b, size, offset=n_a)
    column_offset = 0 if b is None else n_a
    n_threads = max(1, threads if threads is not None else torch.get_num_threads())
    with _worker_pool(n_threads) as pool, _full_float32_precision():
        for i0, i1 in row_tiles:
            left = pass_.stacked[i0:i1].reshape(-1, n_samples)
            for j0, j1 in col_tiles:
                if b is None and j0 < i0:
                    continue
                right = pass_.stacked[j0:j1].reshape(-1, n_samples)
                block = (left @ right.T).reshape(i1 - i0, pass_.r_max, j1 - j0, pass_.r_max)
                if b is None and j0 == i0:
                    li, lj = np.triu_indices(i1 - i0, k=1)
                else:
                    li, lj = np.divmod(np.arange((i1 - i0) * (j1 - j0)), j1 - j0)
                cuts = range(0, len(li), SUBTILE_PAIRS)
                parts = [(li[c : c + SUBTILE_PAIRS], lj[c : c + SUBTILE_PAIRS]) for c in cuts]
                reduce = partial(_reduce_subtile, block, pass_.groups, i0, j0)
                for (pi, pj), reduced in zip(parts, pool.map(reduce, parts), strict=True):
                    gi, gj = pi + i0, pj + j0
                    for name, values in pass_.distances(reduced, gi, gj).items():
                        out[name][gi, gj - column_offset] = values
                    if on_pairs is not None:
                        on_pairs(len(pi))
    for name in names:
        values = np.clip(out[name], 0.0, 1.0)
        if b is None:
            upper = np.triu(values, k=1)
            values = upper + upper.T
        out[name] = values
    return out
