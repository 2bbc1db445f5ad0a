"""Independent, reproducible random streams per network and purpose."""

from __future__ import annotations

import zlib

import numpy as np
import torch

#: The named streams every network draws from.
STREAMS = ("init", "trials", "validation", "evaluation", "rule")


def stream_seed(seed: int, stream: str) -> int:
    """A 63-bit seed for ``stream`` of the network with grid seed ``seed``."""
    if stream not in STREAMS:
        raise ValueError(f"unknown random stream {stream!r}; known: {', '.join(STREAMS)}")
    sequence = np.random.SeedSequence([int(seed), zlib.crc32(stream.encode())])
    return int(sequence.generate_state(1, dtype=np.uint64)[0] >> np.uint64(1))


def generator(seed: int, stream: str) -> torch.Generator:
    """A CPU torch generator for ``stream`` of the network with grid seed ``seed``."""
    return torch.Generator().manual_seed(stream_seed(seed, stream))
