"""How well each grid axis separates the networks under each distance metric.

For every metric and every factor (architecture, learning rule, noise), the
networks are grouped by the factor's level and two statistics are computed on
the precomputed distances:

- the silhouette (Rousseeuw 1987), as scikit-learn's
  ``silhouette_score(D, labels, metric="precomputed")``: for network i,
  a = mean distance to the other networks of its group, b = smallest mean
  distance to the networks of another group, s = (b - a) / max(a, b), and
  s = 0 for a network alone in its group; the score is the mean of s;
- the between/within ratio: mean distance over pairs of networks in different
  groups divided by the mean over pairs in the same group.

Confidence intervals come from a percentile bootstrap over networks. A
resample is a vector of multinomial counts (how often each network was drawn);
copies of one network are one network drawn several times, so pairs of copies
never count as within-group pairs at distance 0.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import NamedTuple

import numpy as np
import xarray as xr
from numpy.typing import ArrayLike, NDArray

from rnn_analysis.aggregate.embedding import (
    NETWORK_DIM,
    canonical_order,
    check_distances,
    complete_networks,
    distance_variables,
)

#: Grid axes summarised by default.
DEFAULT_FACTORS = ("architecture", "learning_rule", "noise")
#: Upper bound on the float64 elements of one bootstrap chunk's [sample, network, group] array.
CHUNK_ELEMENTS = 4_000_000

SILHOUETTE_READING = (
    "silhouette: +1 = groups compact and far apart, 0 = groups overlap (no separation), "
    "-1 = networks closer to another group than to their own"
)
RATIO_READING = (
    "between/within: mean distance between groups / mean distance within groups; "
    "1 = no separation, > 1 = groups separated"
)
SINGLE_LEVEL_NOTE = (
    "NaN where the factor has a single level among the networks with distances for the metric "
    "(nothing to separate), or where no two networks share a level"
)


class WeightedScores(NamedTuple):
    """Statistics of a batch of weighted (resampled) network sets, one entry per set."""

    silhouette: NDArray[np.float64]
    between_within: NDArray[np.float64]
    valid: NDArray[np.bool_]


def _group_codes(labels: ArrayLike, n: int, name: str = "labels") -> tuple[NDArray[np.intp], int]:
    values = np.asarray(labels)
    if values.shape != (n,):
        raise ValueError(f"{name} must have one entry per network ({n}), got shape {values.shape}")
    levels, codes = np.unique(values, return_inverse=True)
    return codes.reshape(n), len(levels)


def _check_weights(weights: ArrayLike, n: int) -> NDArray[np.float64]:
    w = np.array(weights, dtype=np.float64, ndmin=2)
    if w.ndim != 2 or w.shape[1] != n:
        raise ValueError(f"weights must have shape [n_samples, {n}], got {np.shape(weights)}")
    bad = ~np.isfinite(w) | (w < 0)
    if bad.any():
        b, i = np.argwhere(bad)[0]
        raise ValueError(
            f"weights[{b}, {i}] = {float(w[b, i])!r}: weights must be finite and non-negative"
        )
    return w


def _scores(
    d: NDArray[np.float64], codes: NDArray[np.intp], n_groups: int, w: NDArray[np.float64]
) -> WeightedScores:
    n_samples, n = w.shape
    members = [np.flatnonzero(codes == g) for g in range(n_groups)]
    # to_group[s, i, g]: weighted sum of the distances from network i to group g.
    to_group = np.empty((n_samples, n, n_groups))
    for g, idx in enumerate(members):
        to_group[:, :, g] = w[:, idx] @ d[idx, :]
    group_weight = np.stack([w[:, idx].sum(axis=1) for idx in members], axis=1)
    rows = np.arange(n)
    own_sum = to_group[:, rows, codes]
    own_count = group_weight[:, codes] - w
    with np.errstate(divide="ignore", invalid="ignore"):
        mean_to = np.where(
            group_weight[:, None, :] > 0, to_group / group_weight[:, None, :], np.inf
        )
        mean_to[:, rows, codes] = np.inf
        nearest_other = mean_to.min(axis=2)
        within_own = np.where(own_count > 0, own_sum / own_count, 0.0)
        larger = np.maximum(within_own, nearest_other)
        s = np.where(
            (own_count > 0) & np.isfinite(nearest_other) & (larger > 0),
            (nearest_other - within_own) / larger,
            0.0,
        )
    total_weight = w.sum(axis=1)
    same_pairs = (group_weight**2).sum(axis=1)
    within_pairs = same_pairs - (w**2).sum(axis=1)
    between_pairs = total_weight**2 - same_pairs
    valid = ((group_weight > 0).sum(axis=1) >= 2) & (within_pairs > 0)
    within_sum = (w * own_sum).sum(axis=1)
    between_sum = (w * to_group.sum(axis=2)).sum(axis=1) - within_sum
    with np.errstate(divide="ignore", invalid="ignore"):
        silhouette = np.where(valid, (w * s).sum(axis=1) / total_weight, np.nan)
        within_mean = within_sum / within_pairs
        between_mean = between_sum / between_pairs
        ratio = np.where(
            within_mean > 0,
            between_mean / within_mean,
            np.where(between_mean > 0, np.inf, 1.0),
        )
    ratio = np.where(valid, ratio, np.nan)
    return WeightedScores(silhouette, ratio, valid)


def present_labels(labels: ArrayLike) -> NDArray[np.bool_]:
    """Which labels are present: not NaN (numbers) and not empty (text). An extra grid axis
    is missing on the networks of cells it does not apply to."""
    values = np.asarray(labels)
    if values.dtype.kind == "f":
        return ~np.isnan(values)
    if values.dtype.kind in "US":
        return values != ""
    return np.ones(values.shape, dtype=bool)


def weighted_scores(distances: ArrayLike, labels: ArrayLike, weights: ArrayLike) -> WeightedScores:
    """Silhouette and between/within ratio of weighted network sets, vectorised over the sets.

    A weight is the number of times a network appears in a resample. Within a
    set, a copy of network i has a = mean distance to the other networks of its
    group counted with their weights (its own copies excluded) and b = smallest
    weighted mean distance to another group; the silhouette is the weighted mean
    of s over networks, s = 0 for a network with no other network in its group.
    The ratio counts pairs of copies of different networks with weight
    w_i * w_j and never pairs of copies of one network. With all weights 1 both
    reduce to :func:`silhouette` and :func:`between_within_ratio`.

    Parameters
    ----------
    distances
        Complete symmetric distances [n, n] (no NaN).
    labels
        Group label of every network [n].
    weights
        Non-negative weights [n_sets, n] (or [n] for one set).

    Returns
    -------
    WeightedScores
        ``silhouette`` and ``between_within`` [n_sets], NaN for sets that are
        not ``valid``: fewer than 2 groups with positive weight, or no pair of
        distinct networks sharing a group. The ratio is inf when all
        within-group distances are 0 and some between-group distance is not, and 1
        (no separation; the silhouette is then 0) when every distance is 0, as when
        all networks share one fixed-point topology.

    Raises
    ------
    ValueError
        If the distances are invalid or contain NaN, or the shapes disagree.
    """
    d = check_distances(distances)
    if np.isnan(d).any():
        i, j = np.argwhere(np.isnan(d))[0]
        raise ValueError(f"distances[{i}, {j}] is NaN; leave out networks with missing distances")
    codes, n_groups = _group_codes(labels, d.shape[0])
    return _scores(d, codes, n_groups, _check_weights(weights, d.shape[0]))


def silhouette(distances: ArrayLike, labels: ArrayLike) -> float:
    """Mean silhouette of the groups given by ``labels`` on precomputed distances.

    Equals scikit-learn's ``silhouette_score(distances, labels, metric="precomputed")``
    (s = 0 for a network alone in its group).

    Parameters
    ----------
    distances
        Complete symmetric distances [n, n].
    labels
        Group label of every network [n].

    Returns
    -------
    float
        Silhouette in [-1, 1]; NaN with fewer than 2 groups or when every
        network is alone in its group.
    """
    n = np.shape(distances)[0]
    return float(weighted_scores(distances, labels, np.ones((1, n))).silhouette[0])


def between_within_ratio(distances: ArrayLike, labels: ArrayLike) -> float:
    """Mean distance over pairs in different groups / mean over pairs in the same group.

    Parameters
    ----------
    distances
        Complete symmetric distances [n, n].
    labels
        Group label of every network [n].

    Returns
    -------
    float
        The ratio; NaN with fewer than 2 groups or no pair within a group, inf
        when all within-group distances are 0 and a between-group one is not, 1 when
        every distance is 0.
    """
    n = np.shape(distances)[0]
    return float(weighted_scores(distances, labels, np.ones((1, n))).between_within[0])


def bootstrap_weights(n_networks: int, n_bootstrap: int, seed: int = 0) -> NDArray[np.int64]:
    """Resampling of networks with replacement as multinomial counts.

    Parameters
    ----------
    n_networks
        Networks in the original set.
    n_bootstrap
        Number of resamples.
    seed
        Seed of ``numpy.random.default_rng`` (default 0).

    Returns
    -------
    ndarray of int [n_bootstrap, n_networks]
        How often each network is drawn in each resample; rows sum to n_networks.
    """
    if n_networks < 1:
        return np.zeros((n_bootstrap, max(n_networks, 0)), dtype=np.int64)
    rng = np.random.default_rng(seed)
    return rng.multinomial(n_networks, np.full(n_networks, 1.0 / n_networks), size=n_bootstrap)


def percentile_interval(values: ArrayLike, confidence: float) -> tuple[float, float]:
    """Central percentile interval with linear interpolation; inf values are allowed.

    Parameters
    ----------
    values
        Bootstrap replicates; NaN entries are ignored.
    confidence
        Coverage of the interval, in (0, 1).

    Returns
    -------
    (float, float)
        The (1 - confidence) / 2 and (1 + confidence) / 2 quantiles, NaN when
        no value is left.
    """
    x = np.sort(np.asarray(values, dtype=np.float64).ravel())
    x = x[~np.isnan(x)]
    if x.size == 0:
        return math.nan, math.nan
    bounds = []
    for q in ((1 - confidence) / 2, (1 + confidence) / 2):
        position = q * (x.size - 1)
        lo = int(np.floor(position))
        hi = min(lo + 1, x.size - 1)
        t = position - lo
        if t == 0 or x[hi] == x[lo]:
            bounds.append(float(x[lo]))
        else:
            bounds.append(float(x[lo] + (x[hi] - x[lo]) * t))
    return bounds[0], bounds[1]


def _bootstrap(
    d: NDArray[np.float64],
    codes: NDArray[np.intp],
    n_groups: int,
    weights: NDArray[np.float64],
) -> WeightedScores:
    n = d.shape[0]
    chunk = max(1, CHUNK_ELEMENTS // max(1, n * n_groups))
    parts = [
        _scores(d, codes, n_groups, weights[start : start + chunk])
        for start in range(0, weights.shape[0], chunk)
    ]
    if not parts:
        empty = np.empty(0)
        return WeightedScores(empty, empty, np.empty(0, dtype=bool))
    return WeightedScores(*(np.concatenate(column) for column in zip(*parts, strict=True)))


def _metric_attr(similarity: xr.Dataset, metric: str, key: str, default: str) -> str:
    return str(similarity[metric].attrs.get(key, default))


def factor_summary(
    similarity: xr.Dataset,
    metrics: Sequence[str] | None = None,
    factors: Sequence[str] = DEFAULT_FACTORS,
    *,
    n_bootstrap: int = 1000,
    confidence: float = 0.95,
    seed: int = 0,
) -> xr.Dataset:
    """Silhouette and between/within ratio of every factor under every metric, with bootstrap CIs.

    Networks are taken in the order of their labels (so the result does not
    depend on the order of the networks in ``similarity``). For each metric,
    networks with missing (NaN) distances are left out
    (:func:`~rnn_analysis.aggregate.embedding.complete_networks`); the bootstrap
    resamples the remaining networks with replacement, drawing
    :func:`bootstrap_weights` from ``numpy.random.default_rng(seed)`` afresh for
    each metric, so metrics over the same networks share their resamples and all
    factors of a metric are judged on the same resamples. Resamples with fewer
    than 2 groups or no within-group pair are dropped and counted.

    Parameters
    ----------
    similarity
        A task's similarity dataset: dims (network, network_b), one distance
        matrix per metric, and the factors as coordinates along ``network``.
    metrics
        Metrics to summarise (default: every (network, network_b) variable).
    factors
        Coordinates along ``network`` that group the networks (default
        architecture, learning_rule, noise).
    n_bootstrap
        Bootstrap resamples of the networks (default 1000); 0 gives NaN intervals.
    confidence
        Coverage of the percentile intervals (default 0.95).
    seed
        Seed of the bootstrap (default 0).

    Returns
    -------
    xarray.Dataset
        Dims metric, factor, bound (low, high). Variables ``silhouette``,
        ``silhouette_ci``, ``between_within``, ``between_within_ci`` (metric,
        factor[, bound]); ``n_networks`` and ``networks_left_out`` (metric);
        ``n_groups`` (factor); ``n_bootstrap_used`` (metric, factor). Coordinates
        ``family`` and ``metric_long_name`` along metric come from the variables'
        attributes.

    Raises
    ------
    KeyError
        If a metric is not a variable of ``similarity`` or a factor is not a
        coordinate along ``network``.
    ValueError
        If a distance matrix is invalid, or ``n_bootstrap`` or ``confidence`` is
        out of range.
    """
    if NETWORK_DIM not in similarity.dims:
        raise ValueError(f"similarity dataset has no {NETWORK_DIM!r} dim: {dict(similarity.sizes)}")
    names = distance_variables(similarity) if metrics is None else [str(m) for m in metrics]
    for name in names:
        if name not in similarity.data_vars:
            raise KeyError(
                f"metric {name!r} is not in the similarity dataset; it has "
                f"{sorted(map(str, similarity.data_vars))}"
            )
        if similarity[name].ndim != 2 or similarity[name].dims[0] != NETWORK_DIM:
            raise ValueError(
                f"metric {name!r} has dims {similarity[name].dims}, expected (network, network_b)"
            )
    factors = [str(f) for f in factors]
    for factor in factors:
        if factor not in similarity.coords or similarity.coords[factor].dims != (NETWORK_DIM,):
            along = sorted(str(c) for c, v in similarity.coords.items() if v.dims == (NETWORK_DIM,))
            raise KeyError(
                f"factor {factor!r} is not a coordinate along {NETWORK_DIM!r}; available: {along}"
            )
    if int(n_bootstrap) != n_bootstrap or n_bootstrap < 0:
        raise ValueError(f"n_bootstrap must be a non-negative integer, got {n_bootstrap!r}")
    if not 0 < confidence < 1:
        raise ValueError(f"confidence must lie in (0, 1), got {confidence!r}")

    order = canonical_order(similarity, NETWORK_DIM)
    if "network_key" in similarity.coords:
        keys = np.asarray(similarity.coords["network_key"].values).astype(str)
    else:
        keys = np.arange(similarity.sizes[NETWORK_DIM]).astype(str)
    labels = {f: np.asarray(similarity.coords[f].values)[order] for f in factors}
    shape = (len(names), len(factors))
    stats = {name: np.full(shape, np.nan) for name in ("silhouette", "between_within")}
    cis = {name: np.full((*shape, 2), np.nan) for name in ("silhouette", "between_within")}
    used = np.zeros(shape, dtype=np.int64)
    n_networks = np.zeros(len(names), dtype=np.int64)
    left_out: list[str] = []

    for m, name in enumerate(names):
        matrix = check_distances(similarity[name].values, name=f"similarity[{name!r}]")
        matrix = matrix[np.ix_(order, order)]
        keep = complete_networks(matrix)
        d = matrix[np.ix_(keep, keep)]
        n = d.shape[0]
        n_networks[m] = n
        left_out.append(", ".join(np.sort(keys[order[~keep]])))
        weights = bootstrap_weights(n, int(n_bootstrap), seed).astype(np.float64)
        for f, factor in enumerate(factors):
            # an extra axis that does not apply to some cells: judged on the others
            sub = np.flatnonzero(present_labels(labels[factor][keep]))
            if len(sub) < 2:
                continue  # nothing to separate: NaN, as for a single level
            if len(sub) == n:
                d_f, weights_f = d, weights
            else:
                d_f = d[np.ix_(sub, sub)]
                weights_f = bootstrap_weights(len(sub), int(n_bootstrap), seed).astype(np.float64)
            codes, n_groups = _group_codes(labels[factor][keep][sub], len(sub), name=factor)
            point = _scores(d_f, codes, n_groups, np.ones((1, len(sub))))
            if not point.valid[0]:
                continue
            stats["silhouette"][m, f] = point.silhouette[0]
            stats["between_within"][m, f] = point.between_within[0]
            boot = _bootstrap(d_f, codes, n_groups, weights_f)
            used[m, f] = int(boot.valid.sum())
            cis["silhouette"][m, f] = percentile_interval(boot.silhouette[boot.valid], confidence)
            cis["between_within"][m, f] = percentile_interval(
                boot.between_within[boot.valid], confidence
            )

    n_groups = np.array(
        [len(np.unique(labels[f][present_labels(labels[f])])) for f in factors], dtype=np.int64
    )
    percent = f"{100 * confidence:g}%"
    ci_note = (
        f"{percent} percentile bootstrap interval over networks ({int(n_bootstrap)} resamples "
        f"with replacement, seed {seed}); resamples with fewer than 2 groups or no within-group "
        "pair are dropped (see n_bootstrap_used)"
    )
    data_vars = {
        "silhouette": (
            ("metric", "factor"),
            stats["silhouette"],
            {
                "long_name": "mean silhouette of the factor's groups on the metric's distances",
                "units": "1",
                "reading": SILHOUETTE_READING,
                "note": SINGLE_LEVEL_NOTE,
            },
        ),
        "silhouette_ci": (
            ("metric", "factor", "bound"),
            cis["silhouette"],
            {
                "long_name": f"{percent} bootstrap confidence interval of the silhouette",
                "units": "1",
                "method": ci_note,
            },
        ),
        "between_within": (
            ("metric", "factor"),
            stats["between_within"],
            {
                "long_name": "mean between-group distance / mean within-group distance",
                "units": "1",
                "reading": RATIO_READING,
                "note": SINGLE_LEVEL_NOTE + "; inf where all within-group distances are 0",
            },
        ),
        "between_within_ci": (
            ("metric", "factor", "bound"),
            cis["between_within"],
            {
                "long_name": f"{percent} bootstrap confidence interval of between/within",
                "units": "1",
                "method": ci_note,
            },
        ),
        "n_networks": (
            ("metric",),
            n_networks,
            {"long_name": "networks with distances for the metric (others left out)", "units": "1"},
        ),
        "networks_left_out": (
            ("metric",),
            np.array(left_out, dtype=str),
            {"long_name": "networks left out for missing distances (comma-separated keys)"},
        ),
        "n_groups": (
            ("factor",),
            n_groups,
            {"long_name": "levels of the factor among all networks", "units": "1"},
        ),
        "n_bootstrap_used": (
            ("metric", "factor"),
            used,
            {
                "long_name": "bootstrap resamples with at least 2 groups and a within-group pair",
                "units": "1",
            },
        ),
    }
    coords = {
        "metric": np.array(names, dtype=str),
        "factor": np.array(factors, dtype=str),
        "bound": np.array(["low", "high"]),
        "family": (
            "metric",
            np.array([_metric_attr(similarity, n, "family", "") for n in names], dtype=str),
        ),
        "metric_long_name": (
            "metric",
            np.array([_metric_attr(similarity, n, "long_name", n) for n in names], dtype=str),
        ),
    }
    attrs = {
        "title": "how well each grid factor separates the networks under each distance metric",
        "n_bootstrap": int(n_bootstrap),
        "confidence": float(confidence),
        "seed": int(seed),
        "ci_method": ci_note,
        "resampling": (
            "networks resampled with replacement as multinomial counts; copies of one network "
            "never form a within-group pair"
        ),
        "silhouette_definition": (
            "Rousseeuw 1987 on precomputed distances, as scikit-learn's silhouette_score with "
            "metric='precomputed'; s = 0 for a network alone in its group"
        ),
    }
    if "task" in similarity.attrs:
        attrs["task"] = similarity.attrs["task"]
    return xr.Dataset(data_vars, coords=coords, attrs=attrs)


def _format_interval(value: float, interval: Sequence[float], signed: bool) -> str:
    if math.isnan(value):
        return "n/a"
    spec = "+.2f" if signed else ".2f"

    def fmt(x: float) -> str:
        return "?" if math.isnan(x) else format(x, spec)

    return f"{fmt(value)} [{fmt(interval[0])}, {fmt(interval[1])}]"


def _verdicts(factors: xr.Dataset, factor: str) -> str:
    groups: dict[str, list[str]] = {
        "separated under": [],
        "partly separated (one interval clears its null) under": [],
        "no clear separation under": [],
    }
    single = []
    for metric in factors.coords["metric"].values:
        row = factors.sel(metric=metric, factor=factor)
        if math.isnan(float(row["silhouette"])):
            single.append(str(metric))
            continue
        sil_low = float(row["silhouette_ci"].sel(bound="low"))
        ratio_low = float(row["between_within_ci"].sel(bound="low"))
        votes = int(sil_low > 0) + int(ratio_low > 1)
        key = list(groups)[2 - votes]
        groups[key].append(str(metric))
    parts = [f"{key} {', '.join(ms)}" for key, ms in groups.items() if ms]
    if single:
        parts.append(f"not assessable for {', '.join(single)} (single level)")
    return f"  {factor}: " + "; ".join(parts)


def factor_table(factors: xr.Dataset) -> list[str]:
    """The factor summary as lines of text: reading guide, table, and a verdict per factor.

    Rows are metrics (with family and number of networks); each factor has a
    silhouette column and a between/within column, each "value [low, high]".
    Below the table, one line per factor lists the metrics that separate its
    levels (silhouette interval above 0 and between/within interval above 1),
    those where only one interval clears its null, and those with no clear separation.

    Parameters
    ----------
    factors
        Output of :func:`factor_summary`.

    Returns
    -------
    list of str
        Lines without trailing newlines.
    """
    metrics = [str(m) for m in factors.coords["metric"].values]
    names = [str(f) for f in factors.coords["factor"].values]
    percent = f"{100 * float(factors.attrs.get('confidence', 0.95)):g}%"
    lines = [
        "Factor summary: how well each grid factor separates the networks, per distance metric",
        f"  {SILHOUETTE_READING}",
        f"  {RATIO_READING}",
        f"  intervals: {percent} percentile bootstrap over networks "
        f"({factors.attrs.get('n_bootstrap', '?')} resamples, seed "
        f"{factors.attrs.get('seed', '?')}), shown as value [low, high]; "
        "n/a: the factor has a single level",
        "",
    ]
    families = (
        [str(f) for f in factors.coords["family"].values]
        if "family" in factors.coords
        else [""] * len(metrics)
    )
    row_names = [f"{m} ({fam})" if fam else m for m, fam in zip(metrics, families, strict=True)]
    cells = []
    for m, metric in enumerate(metrics):
        row = []
        for factor in names:
            sel = factors.sel(metric=metric, factor=factor)
            row.append(
                _format_interval(float(sel["silhouette"]), sel["silhouette_ci"].values, True)
            )
            row.append(
                _format_interval(
                    float(sel["between_within"]), sel["between_within_ci"].values, False
                )
            )
        cells.append((row_names[m], str(int(factors["n_networks"].values[m])), row))
    sub_headers = ["silhouette", "between/within"]
    widths = [
        max([len(sub_headers[c % 2])] + [len(cell[2][c]) for cell in cells])
        for c in range(2 * len(names))
    ]
    name_width = max([len("metric")] + [len(r) for r in row_names])
    n_width = max([len("n")] + [len(cell[1]) for cell in cells])
    gap = "   "
    header_factors = " " * (name_width + 2 + n_width + len(gap))
    header_stats = f"{'metric':<{name_width}}  {'n':>{n_width}}{gap}"
    for f, factor in enumerate(names):
        span = widths[2 * f] + 2 + widths[2 * f + 1]
        header_factors += f"{factor:^{span}}" + (gap if f < len(names) - 1 else "")
        header_stats += f"{sub_headers[0]:<{widths[2 * f]}}  {sub_headers[1]:<{widths[2 * f + 1]}}"
        header_stats += gap if f < len(names) - 1 else ""
    lines += [header_factors.rstrip(), header_stats.rstrip(), "-" * len(header_stats.rstrip())]
    for name, n, row in cells:
        text = f"{name:<{name_width}}  {n:>{n_width}}{gap}"
        for f in range(len(names)):
            text += f"{row[2 * f]:<{widths[2 * f]}}  {row[2 * f + 1]:<{widths[2 * f + 1]}}"
            text += gap if f < len(names) - 1 else ""
        lines.append(text.rstrip())
    lines += [
        "",
        "Reading (separated: silhouette interval above 0 and between/within interval above 1):",
    ]
    lines += [_verdicts(factors, factor) for factor in names]
    if "networks_left_out" in factors:
        for metric, v in zip(metrics, factors["networks_left_out"].values, strict=True):
            if str(v):
                lines.append(f"  {metric}: left out for missing distances: {v}")
    return lines
