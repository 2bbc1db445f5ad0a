"""Findings and how a measured figure becomes a verdict on a study's claim.

Every verdict follows one of four documented rules, each from a population statistic
with its interval (never one network):

- **rate** (:func:`rate_finding`): the study reports that a fraction ``f`` of its
  networks show a property. *Reproduced* when the Clopper–Pearson interval of our rate
  over converged networks reaches ``f`` (our population is consistent with the study's
  figure), *not reproduced* when the whole interval lies below ``f``; *not assessable*
  with fewer than :attr:`VerdictParams.min_networks` converged networks.
- **separates** (:func:`separation_finding`): a grid axis separates the networks under a
  distance. *Reproduced* when the bootstrap interval of the silhouette lies above
  :attr:`VerdictParams.separation` (0), *not reproduced* when it lies at or below it,
  *not assessable* when it straddles it or the silhouette is undefined (one level).
- **shared** (:func:`shared_finding`): the networks are *not* organised by an axis under a
  distance. *Reproduced* when the silhouette's interval lies below
  :attr:`VerdictParams.no_structure` (0.25, Kaufman & Rousseeuw's bound below which a
  clustering has no substantial structure), *not reproduced* when it lies at or above it,
  *not assessable* when it straddles it.
- **more than** (:func:`comparison_finding`): an axis separates the networks more under
  one distance than under another: *reproduced* when the intervals are disjoint in that
  order, *not reproduced* when they are disjoint the other way, *not assessable* when
  they overlap.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import xarray as xr

from rnn_analysis.aggregate.rates import Rate
from rnn_analysis.hyperparameters import Hyperparameters

REPRODUCED = "reproduced"
NOT_REPRODUCED = "not reproduced"
NOT_ASSESSABLE = "not assessable"
VERDICTS = (REPRODUCED, NOT_REPRODUCED, NOT_ASSESSABLE)


@dataclass(frozen=True)
class VerdictParams(Hyperparameters):
    """Thresholds of the verdicts.

    Attributes
    ----------
    min_networks : int, default 5
        Fewest converged networks for a rate verdict.
    separation : float, default 0.0
        Silhouette above which an axis separates the networks.
    no_structure : float, default 0.25
        Silhouette below which the networks have no substantial structure along an axis.
    min_typed : int, default 10
        Fewest typed (converged) networks for a verdict on solution types.
    max_types : int, default 5
        Most solution types that still count as "a handful".
    min_coverage : float, default 0.8
        Least fraction of the typed networks those types must cover.
    permutations : int, default 2000
        Label permutations of the agreement test between graph and behaviour types.
    alpha : float, default 0.05
        Level of that test.
    seed : int, default 0
        Seed of the permutations.
    """

    min_networks: int = 5
    separation: float = 0.0
    no_structure: float = 0.25
    min_typed: int = 10
    max_types: int = 5
    min_coverage: float = 0.8
    permutations: int = 2000
    alpha: float = 0.05
    seed: int = 0


@dataclass(frozen=True)
class Finding:
    """One claim measured on one task (or one subset of a task's networks).

    Attributes
    ----------
    claim : the study's statement
    study : the study's figure, or how it showed the claim
    scope : where it was measured, e.g. ``"flipflop"`` or ``"cdi, n_contexts=3"``
    measured : our figure with its interval, in words
    verdict : one of :data:`VERDICTS`
    rule : the verdict rule and its threshold, in words
    value, low, high : the figure and its interval (NaN where there is none)
    """

    claim: str
    study: str
    scope: str
    measured: str
    verdict: str
    rule: str
    value: float = float("nan")
    low: float = float("nan")
    high: float = float("nan")


def not_assessable(claim: str, study: str, scope: str, why: str) -> Finding:
    return Finding(claim, study, scope, why, NOT_ASSESSABLE, "")


def rate_finding(
    claim: str, study: str, scope: str, rate: Rate, figure: float, params: VerdictParams
) -> Finding:
    """The rate rule: is the study's fraction ``figure`` inside our rate's reach?"""
    rule = f"the interval reaches the study's {figure:.0%}"
    if rate.n < params.min_networks:
        verdict = NOT_ASSESSABLE
        rule = f"needs >= {params.min_networks} converged networks"
    else:
        verdict = REPRODUCED if rate.high >= figure else NOT_REPRODUCED
    return Finding(
        claim,
        study,
        scope,
        f"{rate} converged networks" if rate.n else "no converged network",
        verdict,
        rule,
        rate.fraction,
        rate.low,
        rate.high,
    )


def _silhouette(factors: xr.Dataset, metric: str, factor: str) -> tuple[float, float, float]:
    value = float(factors["silhouette"].sel(metric=metric, factor=factor))
    low, high = (float(v) for v in factors["silhouette_ci"].sel(metric=metric, factor=factor))
    return value, low, high


def _interval_text(metric: str, value: float, low: float, high: float, n: int) -> str:
    return f"silhouette ({metric}) {value:.2f} [{low:.2f}, {high:.2f}], {n} networks"


def _available(factors: xr.Dataset | None, metric: str, factor: str) -> str:
    """Why the factor summary cannot answer (empty: it can)."""
    if factors is None:
        return "no aggregate of this task in the run"
    if metric not in factors["metric"].values:
        return f"metric {metric} not computed (aggregate.metrics)"
    if factor not in factors["factor"].values:
        return f"{factor} is not a factor of this sweep"
    if int(factors["n_groups"].sel(factor=factor)) < 2:
        return f"{factor} has a single level"
    return ""


def _threshold_finding(
    claim: str,
    study: str,
    scope: str,
    factors: xr.Dataset | None,
    metric: str,
    factor: str,
    threshold: float,
    above: bool,
) -> Finding:
    """Reproduced when the silhouette's interval lies wholly above ``threshold`` (``above``)
    or wholly below it, not reproduced when it lies wholly on the other side, not
    assessable when it straddles it or is undefined."""
    why = _available(factors, metric, factor)
    if why:
        return not_assessable(claim, study, scope, why)
    value, low, high = _silhouette(factors, metric, factor)
    n = int(factors["n_networks"].sel(metric=metric))
    if not all(np.isfinite([value, low, high])):
        verdict = NOT_ASSESSABLE
    elif (low > threshold) if above else (high < threshold):
        verdict = REPRODUCED
    elif (high <= threshold) if above else (low >= threshold):
        verdict = NOT_REPRODUCED
    else:
        verdict = NOT_ASSESSABLE
    return Finding(
        claim,
        study,
        scope,
        _interval_text(metric, value, low, high, n),
        verdict,
        f"the interval lies {'above' if above else 'below'} {threshold:g}",
        value,
        low,
        high,
    )


def separation_finding(
    claim: str,
    study: str,
    scope: str,
    factors: xr.Dataset | None,
    metric: str,
    factor: str,
    params: VerdictParams,
) -> Finding:
    """The separates rule on the factor summary's silhouette of ``factor`` under ``metric``."""
    return _threshold_finding(
        claim, study, scope, factors, metric, factor, params.separation, above=True
    )


def shared_finding(
    claim: str,
    study: str,
    scope: str,
    factors: xr.Dataset | None,
    metric: str,
    factor: str,
    params: VerdictParams,
) -> Finding:
    """The shared rule: the silhouette of ``factor`` under ``metric`` shows no structure."""
    return _threshold_finding(
        claim, study, scope, factors, metric, factor, params.no_structure, above=False
    )


def comparison_finding(
    claim: str,
    study: str,
    scope: str,
    factors: xr.Dataset | None,
    more: str,
    less: str,
    factor: str,
) -> Finding:
    """The more-than rule: ``factor`` separates more under ``more`` than under ``less``."""
    why = _available(factors, more, factor) or _available(factors, less, factor)
    if why:
        return not_assessable(claim, study, scope, why)
    a, a_low, a_high = _silhouette(factors, more, factor)
    b, b_low, b_high = _silhouette(factors, less, factor)
    if not all(np.isfinite([a, a_low, a_high, b, b_low, b_high])):
        verdict = NOT_ASSESSABLE
    elif a_low > b_high:
        verdict = REPRODUCED
    elif a_high < b_low:
        verdict = NOT_REPRODUCED
    else:
        verdict = NOT_ASSESSABLE
    return Finding(
        claim,
        study,
        scope,
        f"silhouette {more} {a:.2f} [{a_low:.2f}, {a_high:.2f}] vs "
        f"{less} {b:.2f} [{b_low:.2f}, {b_high:.2f}]",
        verdict,
        "the intervals are disjoint in this order",
        a - b,
    )
