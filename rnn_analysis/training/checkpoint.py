"""Training checkpoints, so that a preempted or timed-out job resumes where it stopped.

A rule saves its whole state (weights, optimiser, random generators, the tracker's
curves and stop criterion) at validation points, at most every ``every_s`` seconds,
into one file per training job. A job that starts and finds a checkpoint of the same
networks (same training specs) resumes from it; a checkpoint of other specs is
ignored. On the CPU the resumed training ends with exactly the weights of an
uninterrupted one. The file is removed once the job's results are written.
"""

from __future__ import annotations

import hashlib
import json
import os
import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

import torch

__all__ = ["Checkpointer", "generator_states", "set_generator_states"]


def generator_states(generators: Sequence[torch.Generator]) -> list[torch.Tensor]:
    return [g.get_state() for g in generators]


def set_generator_states(
    generators: Sequence[torch.Generator], states: Sequence[torch.Tensor]
) -> None:
    for g, state in zip(generators, states, strict=True):
        g.set_state(state)


class Checkpointer:
    """Saves and loads one training job's checkpoint.

    Parameters
    ----------
    path
        The checkpoint file.
    specs
        The training specs of the job's networks; a checkpoint is only resumed by a
        job with the same specs.
    every_s
        Least time between two saves, in seconds; 0 saves at every validation point.
    log
        Where "saved"/"resuming" lines go.
    """

    def __init__(
        self,
        path: str | Path,
        specs: Sequence[Mapping[str, Any]],
        every_s: float = 600.0,
        log: Callable[[str], None] = print,
    ) -> None:
        if every_s < 0:
            raise ValueError(f"every_s must be >= 0, got {every_s!r}")
        self.path = Path(path)
        self.key = hashlib.sha256(
            json.dumps(list(specs), sort_keys=True, default=str).encode()
        ).hexdigest()
        self.every_s = float(every_s)
        self.log = log
        self.last_save = time.monotonic()

    def due(self) -> bool:
        """Whether enough time has passed since the last save (or the start)."""
        return time.monotonic() - self.last_save >= self.every_s

    def save(self, iteration: int, state: Mapping[str, Any]) -> None:
        """Write ``state`` (reached after ``iteration`` updates) atomically."""
        self.path.parent.mkdir(parents=True, exist_ok=True)
        tmp = self.path.with_suffix(self.path.suffix + ".tmp")
        torch.save({"key": self.key, "iteration": iteration, "state": dict(state)}, tmp)
        os.replace(tmp, self.path)
        self.last_save = time.monotonic()
        self.log(f"checkpoint saved at update {iteration}: {self.path}")

    def load(self) -> tuple[int, dict[str, Any]] | None:
        """``(iteration, state)`` of a checkpoint of these specs, or None."""
        if not self.path.is_file():
            return None
        try:
            saved = torch.load(self.path, map_location="cpu", weights_only=False)
        except Exception as err:  # a truncated file from a killed job: start over
            self.log(f"checkpoint {self.path} unreadable ({err}); starting over")
            return None
        if saved.get("key") != self.key:
            self.log(f"checkpoint {self.path} belongs to other training specs; starting over")
            return None
        self.log(f"resuming from the checkpoint at update {saved['iteration']}: {self.path}")
        return int(saved["iteration"]), saved["state"]

    def remove(self) -> None:
        """Delete the checkpoint (the job's results are written)."""
        self.path.unlink(missing_ok=True)
