"""Pairwise reductions of cross products ``X_iᵀ X_j`` over many networks, in batches.

CCA, SVCCA, CKA and the Procrustes metric all compare two networks through one small
matrix, ``X_iᵀ X_j`` [k_i, k_j], of their prepared representations (orthonormal bases,
or centred and scaled data) of shared ``n_samples`` rows. Here the prepared
representations of all networks are zero-padded to a common width ``k``, stacked into
one tensor, and the cross products of a tile of networks against another tile are one
matrix product ``[T·k, n_samples] @ [n_samples, T·k]``; a reduction (singular values,
Frobenius norm) then runs over the ``T²`` blocks of the tile at once. Zero padding only
adds zero rows and columns to each block, which changes neither its singular values
nor its norm. The tiles run on any torch device.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np
import torch
from numpy.typing import NDArray

#: Bytes of one tile's cross-product block that a batch may take (sets the tile size).
TILE_BYTES = 64 * 2**20

Reduction = Callable[[torch.Tensor], torch.Tensor]


def nuclear_norm(blocks: torch.Tensor) -> torch.Tensor:
    """Sum of the singular values of each block [..., k, k]."""
    return torch.linalg.svdvals(blocks).sum(dim=-1)


def squared_frobenius(blocks: torch.Tensor) -> torch.Tensor:
    """Sum of the squared entries of each block [..., k, k]."""
    return blocks.square().sum(dim=(-2, -1))


def tile_size(width: int, n: int, dtype: torch.dtype = torch.float64) -> int:
    """Networks per tile so that a [T·width, T·width] block fits :data:`TILE_BYTES`."""
    itemsize = torch.empty((), dtype=dtype).element_size()
    t = int(np.sqrt(TILE_BYTES / itemsize) // max(width, 1))
    return max(1, min(n, t))


def stack_padded(
    arrays: Sequence[NDArray[np.float64]], device: torch.device
) -> tuple[torch.Tensor, int]:
    """Stack [n_samples, k_i] arrays, transposed, into a zero-padded [n, k, n_samples]
    tensor (the rows of a tile of networks are then one contiguous block)."""
    width = max(a.shape[1] for a in arrays)
    stacked = torch.zeros(
        (len(arrays), width, arrays[0].shape[0]), dtype=torch.float64, device=device
    )
    for i, a in enumerate(arrays):
        stacked[i, : a.shape[1]] = torch.from_numpy(np.ascontiguousarray(a.T)).to(device)
    return stacked, width


def pairwise_reduce(
    arrays: Sequence[NDArray[np.float64]],
    reduce: Reduction,
    device: torch.device,
    *,
    tile: int | None = None,
    on_pairs: Callable[[int], None] | None = None,
) -> NDArray[np.float64]:
    """``reduce(X_iᵀ X_j)`` for every pair ``i < j`` of networks.

    Parameters
    ----------
    arrays
        One prepared representation [n_samples, k_i] per network.
    reduce
        Maps a batch of blocks [..., k, k] to one value per block [...].
    device
        Where the products and reductions run.
    tile
        Networks per tile; by default as many as fit :data:`TILE_BYTES`.
    on_pairs
        Called with the number of pairs of each tile once it is done.

    Returns
    -------
    ndarray
        float64 [n, n]; the strict upper triangle holds the values, the rest is 0.
    """
    n = len(arrays)
    out = np.zeros((n, n))
    if n < 2:
        return out
    rows, width = stack_padded(arrays, device)
    n_samples = rows.shape[2]
    t = tile or tile_size(width, n)
    for i0 in range(0, n, t):
        i1 = min(n, i0 + t)
        left = rows[i0:i1].reshape(-1, n_samples)
        for j0 in range(i0, n, t):
            j1 = min(n, j0 + t)
            right = rows[j0:j1].reshape(-1, n_samples)
            blocks = (left @ right.T).reshape(i1 - i0, width, j1 - j0, width).transpose(1, 2)
            if j0 == i0:
                ii, jj = torch.triu_indices(i1 - i0, j1 - j0, offset=1, device=device)
                values = reduce(blocks[ii, jj])
                out[i0 + ii.cpu().numpy(), j0 + jj.cpu().numpy()] = values.cpu().numpy()
            else:
                out[i0:i1, j0:j1] = reduce(blocks).cpu().numpy()
            if on_pairs is not None:
                on_pairs(len(values) if j0 == i0 else (i1 - i0) * (j1 - j0))
    return out
