"""Periodic progress lines with iteration, loss, score and ETA."""

from __future__ import annotations

import math
import time
from collections.abc import Callable


def format_seconds(seconds: float) -> str:
    if not math.isfinite(seconds):
        return "?"
    seconds = int(round(seconds))
    hours, rest = divmod(seconds, 3600)
    minutes, secs = divmod(rest, 60)
    return f"{hours}h{minutes:02d}m{secs:02d}s" if hours else f"{minutes}m{secs:02d}s"


class Progress:
    """Writes one line per call to :meth:`update`, at most every ``min_interval`` seconds."""

    def __init__(self, total: int, log: Callable[[str], None], min_interval: float = 5.0) -> None:
        self.total = total
        self.log = log
        self.min_interval = min_interval
        self.start = time.perf_counter()
        self.last = -math.inf

    def update(self, iteration: int, **fields: object) -> None:
        now = time.perf_counter()
        if now - self.last < self.min_interval and iteration < self.total:
            return
        self.last = now
        elapsed = now - self.start
        rate = iteration / elapsed if elapsed > 0 else math.nan
        eta = (self.total - iteration) / rate if rate > 0 else math.inf
        parts = [f"iteration {iteration}/{self.total}"]
        for key, value in fields.items():
            parts.append(f"{key} {value:.4g}" if isinstance(value, float) else f"{key} {value}")
        parts.append(f"{rate:.1f} it/s")
        parts.append(f"elapsed {format_seconds(elapsed)}")
        parts.append(f"ETA(budget) {format_seconds(eta)}")
        self.log(" | ".join(parts))

    def done(self, iteration: int) -> None:
        elapsed = time.perf_counter() - self.start
        self.log(f"finished after {iteration} iterations in {format_seconds(elapsed)}")
