"""The ``aggregate`` step of one task: per-network summary and pairwise similarity."""

from __future__ import annotations

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
    SummaryRows,
    label_coords,
    provenance_attrs,
    read_rows,
    summary_dataset,
)
from rnn_analysis.aggregate.tiles import (
    BlockBuilder,
    assemble,
    compare_blocks,
    read_block_rows,
    read_tiles,
)
from rnn_analysis.hyperparameters import from_mapping
from rnn_analysis.io import write_netcdf


def aggregate_task(
    task: str,
    options: Mapping[str, Any],
    analyses: Sequence[str | Path],
    similarity_out: str | Path,
    summary_out: str | Path,
    factors_out: str | Path | None = None,
    log: Callable[[str], None] = print,
    tiles: Sequence[str | Path] | None = None,
    blocks: Sequence[str | Path] | None = None,
) -> tuple[xr.Dataset, xr.Dataset, xr.Dataset]:
    """Summarise and compare every analysed network of ``task``; write the datasets.

    Parameters
    ----------
    analyses
        The task's analysis files, in grid order (read when no ``tiles`` are given).
    tiles, blocks
        A task compared in tiles: its tile files
        (:func:`~rnn_analysis.aggregate.tiles.compare_block_files`, one per pair of
        blocks) and its blocks' summary-row files
        (:func:`~rnn_analysis.aggregate.tiles.prepare_block`), in block order. Without
        them the analyses are read here and compared as one block.

    Returns the similarity dataset (one (network, network_b) matrix and one 2-D MDS
    embedding per metric), the per-network summary and the factor summary.
    """
    params = from_mapping(AggregateParams, options, "aggregate")
    metrics = {name: params.metric(name) for name in params.metrics}
    if tiles is None:
        builder = BlockBuilder(task, 0, params, log)
        collected = read_rows(analyses, task, params, builder.add)
        for name, n in builder.missing.items():
            if n:
                log(f"{task}: {name}: {n} network(s) lack its input")
        tile_data = [compare_blocks(builder.block, None, params, log=log)]
    else:
        if not blocks:
            raise ValueError(f"{task}: tiles given without the blocks' summary rows")
        collected = SummaryRows()
        for path in blocks:
            collected.extend(read_block_rows(path))
        tile_data = read_tiles(tiles)
        log(f"{task}: {len(tile_data)} tiles of {len(blocks)} blocks read")
    rows, graphs, profiles = collected.rows, collected.graphs, collected.profiles
    chosen = [row for row in rows if row["in_similarity"]]
    log(f"{task}: {len(rows)} networks, {len(chosen)} in the similarity matrices")
    assembled = assemble(tile_data, list(metrics))
    keys = [row["network"] for row in chosen]
    if assembled.keys != keys:
        raise ValueError(
            f"{task}: the tiles hold {len(assembled.keys)} networks but {len(keys)} networks "
            "enter the comparisons; the tiles are out of date: delete them to compute them "
            "again"
        )
    types = type_population(rows, graphs, profiles, params, log)
    summary = summary_dataset(task, rows, params, types)
    meta = provenance_attrs(task, params)

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
        not_compared[m] = assembled.reasons[name]
        similarity[name] = (
            ("network", "network_b"),
            assembled.matrices[name],
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
