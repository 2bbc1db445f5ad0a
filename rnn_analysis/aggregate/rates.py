"""Population rates: how many of n networks show a property, with an exact interval.

A scientific statement of this package is a rate over a population ("28 of 30 converged
CDI networks have a line attractor in each context"), never one network. The interval is
the Clopper–Pearson (exact binomial) interval, which keeps its coverage for the small
populations and the rates near 0 or 1 that these statements usually have.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import xarray as xr
from scipy.stats import binomtest


@dataclass(frozen=True)
class Rate:
    """``k`` of ``n`` networks, the fraction and its Clopper–Pearson interval.

    Attributes
    ----------
    k : networks with the property
    n : networks in the population
    low, high : bounds of the interval at ``confidence`` (NaN for n = 0)
    confidence : level of the interval
    """

    k: int
    n: int
    low: float
    high: float
    confidence: float = 0.95

    @property
    def fraction(self) -> float:
        return self.k / self.n if self.n else float("nan")

    def at_least(self, fraction: float) -> bool:
        """Whether the observed fraction is at least ``fraction`` (and n > 0)."""
        return self.n > 0 and self.k >= fraction * self.n

    def __str__(self) -> str:
        if not self.n:
            return "0 of 0"
        return (
            f"{self.k} of {self.n} ({100 * self.fraction:.0f}%, "
            f"{100 * self.confidence:.0f}% CI {100 * self.low:.0f}–{100 * self.high:.0f}%)"
        )


def population_rate(flags: Sequence[bool] | np.ndarray, confidence: float = 0.95) -> Rate:
    """The rate of true ``flags`` with its Clopper–Pearson interval."""
    flags = np.asarray(flags, dtype=bool).ravel()
    k, n = int(flags.sum()), int(flags.size)
    if not 0 < confidence < 1:
        raise ValueError(f"confidence must be in (0, 1), got {confidence}")
    if n == 0:
        return Rate(0, 0, float("nan"), float("nan"), confidence)
    interval = binomtest(k, n).proportion_ci(confidence_level=confidence, method="exact")
    return Rate(k, n, float(interval.low), float(interval.high), confidence)


def rate_table(
    summary: xr.Dataset,
    column: str,
    by: Sequence[str] = ("architecture", "learning_rule"),
    statuses: Sequence[str] = ("converged",),
    confidence: float = 0.95,
) -> dict[tuple, Rate]:
    """Rate of a boolean ``column`` of a task's summary per group of the ``by`` axes.

    Only networks whose status is in ``statuses`` count; every group present among the
    networks appears, even when none of its networks counts (a 0-of-0 rate), so that a
    group without converged networks is visible rather than dropped.
    """
    status = summary["status"].values.astype(str)
    values = summary[column].values.astype(bool)
    keys = list(zip(*(summary[axis].values.tolist() for axis in by), strict=True))
    out: dict[tuple, Rate] = {}
    for key in sorted(set(keys), key=lambda k: tuple(map(str, k))):
        member = np.array([k == key for k in keys]) & np.isin(status, list(statuses))
        out[key] = population_rate(values[member], confidence)
    return out
