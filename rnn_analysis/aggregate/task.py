"""The ``aggregate`` step of one task: per-network summary and pairwise similarity."""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import xarray as xr

from rnn_analysis.aggregate.embedding import metric_mds
from rnn_analysis.aggregate.factors import factor_summary, factor_table
from rnn_analysis.aggregate.params import AggregateParams
from rnn_analysis.aggregate.solution_space import predict_summary_types, type_population
from rnn_analysis.aggregate.summary import (
    label_coords,
    provenance_attrs,
    read_analysis,
    summary_dataset,
    summary_row,
    typing_inputs,
)
from rnn_analysis.analysis.labelled_graph import LabelledGraph
from rnn_analysis.hyperparameters import from_mapping
from rnn_analysis.io import write_netcdf
from rnn_analysis.similarity import MissingRepresentation, SimilarityMetric


def _network_keys_in(message: str, keys: Sequence[str]) -> str:
    """Replace ``network <i>`` (an index into ``keys``) by the network's key."""
    return re.sub(r"network (\d+)", lambda m: f"network {keys[int(m.group(1))]}", message)


def pairwise_matrix(
    metric: SimilarityMetric[Any],
    representations: Sequence[Any],
    keys: Sequence[str],
    device: str,
    log: Callable[[str], None] = print,
) -> tuple[np.ndarray, list[str]]:
    """All pairwise distances of one metric; networks it cannot compare get NaN.

    Parameters
    ----------
    metric
        The metric.
    representations
        One per network, ``None`` where the network lacks what the metric compares.
    keys
        The networks' keys, for messages.
    device
        Where batched pair computations run.

    Returns
    -------
    matrix : ndarray
        [n, n]; rows and columns of networks left out are NaN.
    reasons : list of str
        Per network, why it was left out ("" if compared).
    """
    n = len(representations)
    reasons = ["" if r is not None else "missing" for r in representations]
    while True:
        keep = [i for i in range(n) if not reasons[i]]
        try:
            sub = metric.pairwise([representations[i] for i in keep], device=device, log=log)
            break
        except ValueError as err:
            found = re.match(r"network (\d+): (.*)", str(err), flags=re.S)
            if found is None:
                raise ValueError(f"{metric.name}: {_network_keys_in(str(err), keys)}") from err
            bad = keep[int(found.group(1))]
            reasons[bad] = found.group(2)
            log(f"{metric.name}: leaving out {keys[bad]}: {found.group(2)}")
    matrix = np.full((n, n), np.nan)
    matrix[np.ix_(keep, keep)] = sub
    return matrix, reasons


def aggregate_task(
    task: str,
    options: Mapping[str, Any],
    analyses: Sequence[str | Path],
    similarity_out: str | Path,
    summary_out: str | Path,
    factors_out: str | Path | None = None,
    log: Callable[[str], None] = print,
) -> tuple[xr.Dataset, xr.Dataset, xr.Dataset]:
    """Summarise and compare every analysed network of ``task``; write the datasets.

    Returns the similarity dataset (one (network, network_b) matrix and one 2-D MDS
    embedding per metric), the per-network summary and the factor summary.
    """
    params = from_mapping(AggregateParams, options, "aggregate")
    metrics = {name: params.metric(name) for name in params.metrics}
    rows: list[dict[str, Any]] = []
    representations: dict[str, list[Any]] = {name: [] for name in metrics}
    missing: dict[str, dict[str, str]] = {name: {} for name in metrics}
    graphs: dict[int, LabelledGraph] = {}
    profiles: dict[int, xr.DataArray] = {}
    for path in analyses:
        ds = read_analysis(path, task)
        row = summary_row(ds, path, params)
        typing_inputs(ds, len(rows), graphs, profiles)
        if row["in_similarity"]:
            for name, metric in metrics.items():
                try:
                    representations[name].append(metric.representation(ds))
                except MissingRepresentation as err:
                    representations[name].append(None)
                    missing[name][row["network"]] = str(err)
        rows.append(row)
    chosen = [row for row in rows if row["in_similarity"]]
    log(f"{task}: {len(rows)} networks, {len(chosen)} in the similarity matrices")
    types = type_population(rows, graphs, profiles, params, log)
    summary = summary_dataset(task, rows, params, types)
    meta = provenance_attrs(task, params)

    keys = [row["network"] for row in chosen]
    similarity = xr.Dataset(
        coords={**label_coords(chosen, "network"), **label_coords(chosen, "network_b", "_b")}
    )
    for suffix, dim in (("", "network"), ("_b", "network_b")):
        similarity.coords[f"solution_type{suffix}"] = (
            dim,
            np.array([row["solution_type"] for row in chosen], dtype=str),
        )
    not_compared = np.full((len(metrics), len(chosen)), "", dtype=object)
    for m, (name, metric) in enumerate(metrics.items()):
        if missing[name]:
            log(f"{task}: {name}: {len(missing[name])} network(s) lack its input")
        log(f"{task}: {name} over {len(chosen)} networks")
        matrix, reasons = pairwise_matrix(metric, representations[name], keys, params.device, log)
        for i, reason in enumerate(reasons):
            not_compared[m, i] = missing[name].get(keys[i], reason)
        similarity[name] = (
            ("network", "network_b"),
            matrix,
            metric.attrs(),
        )
        similarity[f"mds_{name}"] = metric_mds(similarity[name])
    similarity["not_compared"] = (
        ("metric", "network"),
        not_compared.astype(str),
        {"long_name": "why a metric could not compare the network (empty: compared)"},
    )
    similarity.coords["metric"] = ("metric", list(metrics))
    similarity.attrs = {**meta, "title": f"pairwise distances between networks of task {task}"}

    factors = factor_summary(
        similarity,
        list(metrics),
        params.factors,
        n_bootstrap=params.bootstrap_samples,
        confidence=params.confidence,
        seed=params.bootstrap_seed,
    )
    prediction = predict_summary_types(summary, params, log)
    factors = factors.merge(prediction, combine_attrs="override")
    factors.attrs.update(
        {
            **meta,
            **prediction.attrs,
            **{k: v for k, v in summary.attrs.items() if k.startswith("solution_space_")},
            "title": f"how the grid axes separate the networks of {task}",
        }
    )
    for line in factor_table(factors):
        log(line)
    outputs = [(summary_out, summary), (similarity_out, similarity)]
    if factors_out is not None:
        outputs.append((factors_out, factors))
    for out, ds in outputs:
        Path(out).parent.mkdir(parents=True, exist_ok=True)
        write_netcdf(ds, Path(out))
    return similarity, summary, factors
