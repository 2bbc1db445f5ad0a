"""How a task's networks are cut into blocks, and blocks into tiles of its matrices."""

from __future__ import annotations


def n_blocks(n_networks: int, tile_networks: int) -> int:
    """Blocks of at most ``tile_networks`` networks that ``n_networks`` networks fill
    (at least one)."""
    return max(1, -(-n_networks // tile_networks))


def block_slice(block: int, tile_networks: int) -> slice:
    """The positions, in the task's grid order, of the networks of ``block``."""
    return slice(block * tile_networks, (block + 1) * tile_networks)


def block_pairs(n: int) -> list[tuple[int, int]]:
    """The tiles of ``n`` blocks: every pair of blocks ``(i, j)`` with ``i <= j``."""
    return [(i, j) for i in range(n) for j in range(i, n)]
