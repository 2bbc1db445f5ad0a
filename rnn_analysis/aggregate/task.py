"""The ``aggregate`` step of one task: per-network summary and pairwise similarity."""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import xarray as xr

from rnn_analysis.aggregate.embedding import metric_mds
from rnn_analysis.aggregate.factors import factor_summary, factor_table
from rnn_analysis.analysis.reduced_graph import (
    LabelledGraph,
    assign_solution_types,
    graph_from_dataset,
)
from rnn_analysis.config import NETWORK_AXES, AggregateParams
from rnn_analysis.hyperparameters import from_mapping
from rnn_analysis.io import provenance, write_netcdf
from rnn_analysis.similarity import MissingRepresentation, SimilarityMetric
from rnn_analysis.tasks import TASKS, Task

#: Largest number of unstable modes counted separately in the summary; more are pooled.
MAX_UNSTABLE_MODES = 3


def _label_coords(rows: Sequence[Mapping[str, Any]], dim: str, suffix: str = "") -> dict:
    coords = {}
    for axis in NETWORK_AXES:
        values = [row[axis] for row in rows]
        dtype = float if axis == "noise" else (int if axis == "seed" else str)
        coords[f"{axis}{suffix}"] = (dim, np.array(values, dtype=dtype))
    coords[f"network_key{suffix}"] = (dim, np.array([row["network"] for row in rows], dtype=str))
    coords[f"status{suffix}"] = (dim, np.array([row["status"] for row in rows], dtype=str))
    return coords


def _fixed_point_counts(ds: xr.Dataset) -> dict[str, int]:
    if "kind" not in ds or ds.sizes.get("fixed_point", 0) == 0:
        n = 0 if "analysis_skipped" not in ds.attrs else -1
        counts = {"n_fixed_points": n, "n_stable": n, "n_slow_points": n}
        counts.update({f"n_saddles_{k}": n for k in range(1, MAX_UNSTABLE_MODES + 1)})
        return counts
    fixed = ds["kind"].values == "fixed"
    unstable = ds["n_unstable"].values
    counts = {
        "n_fixed_points": int(fixed.sum()),
        "n_stable": int((fixed & (unstable == 0)).sum()),
        "n_slow_points": int((~fixed).sum()),
    }
    for k in range(1, MAX_UNSTABLE_MODES + 1):
        match = unstable >= k if k == MAX_UNSTABLE_MODES else unstable == k
        counts[f"n_saddles_{k}"] = int((fixed & match).sum())
    return counts


_SUMMARY_ATTRS = {
    "status_reason": ("why training stopped", ""),
    "iterations": ("training updates", "1"),
    "untrained_validation_score": (
        "validation performance before training (NaN: not checked)",
        "1",
    ),
    "training_wall_time_s": ("training wall time of the job", "s"),
    "performance_noisy": ("performance on fresh noisy trials", "1"),
    "performance_noise_free": ("performance on noise-free trials", "1"),
    "n_fixed_points": ("fixed points found (-1: not analysed)", "1"),
    "n_stable": ("stable fixed points", "1"),
    "n_slow_points": ("slow points", "1"),
    **{
        f"n_saddles_{k}": (f"saddles with {k} unstable mode(s)", "1")
        for k in range(1, MAX_UNSTABLE_MODES)
    },
    f"n_saddles_{MAX_UNSTABLE_MODES}": (
        f"saddles with {MAX_UNSTABLE_MODES} or more unstable modes",
        "1",
    ),
    "in_similarity": (
        "network is part of the similarity matrices, MDS, factor summary and solution types",
        "1",
    ),
    "n_line_attractors": ("static inputs with a line attractor (-1: not analysed)", "1"),
    "line_attractor_every_group": (
        "a line attractor in every context (or input group)",
        "1",
    ),
    "n_limit_cycles": ("static inputs with a limit cycle (-1: not analysed)", "1"),
    "n_topology_nodes": ("nodes of the topology graph (-1: not analysed)", "1"),
    "n_topology_edges": ("edges of the topology graph (-1: not analysed)", "1"),
    "topology_signature": ("order-free description of the topology graph", ""),
    "solution_type": (
        "isomorphism class of the compacted reduced-dynamics graph (empty: none)",
        "",
    ),
}
_STRING_COLUMNS = ("status_reason", "topology_signature", "solution_type")


def _task_of(ds: xr.Dataset, path: str | Path) -> Task:
    """The task of an analysed network, with the hyperparameters it was analysed with."""
    spec = json.loads(ds.attrs.get("analysis_spec", "{}"))
    name = ds.attrs["task"]
    return TASKS[name](from_mapping(TASKS[name].Params, spec.get("task"), f"{path}: task"))


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
    known = TASKS[task].known_result_descriptions
    rows: list[dict[str, Any]] = []
    representations: dict[str, list[Any]] = {name: [] for name in metrics}
    missing: dict[str, dict[str, str]] = {name: {} for name in metrics}
    graphs: list[tuple[int, LabelledGraph]] = []
    for path in analyses:
        try:
            with xr.open_dataset(path) as ds:
                ds = ds.load()
        except (OSError, ValueError) as err:
            raise ValueError(f"{path}: cannot read the analysis dataset: {err}") from err
        if ds.attrs.get("task") != task:
            raise ValueError(f"{path}: belongs to task {ds.attrs.get('task')!r}, not {task!r}")
        row = {axis: ds.attrs[axis] for axis in NETWORK_AXES}
        row.update(
            network=ds.attrs["network"],
            status=ds.attrs["status"],
            status_reason=ds.attrs.get("status_reason", ""),
            iterations=int(ds.attrs["iterations"]),
            untrained_validation_score=float(ds.attrs.get("untrained_validation_score", np.nan)),
            training_wall_time_s=float(ds.attrs.get("training_wall_time_s", np.nan)),
            performance_noisy=float(ds["performance_noisy"])
            if "performance_noisy" in ds
            else np.nan,
            performance_noise_free=(
                float(ds["performance_noise_free"]) if "performance_noise_free" in ds else np.nan
            ),
            **_fixed_point_counts(ds),
        )
        analysed = "analysis_skipped" not in ds.attrs
        row["n_topology_nodes"] = int(ds.sizes.get("topology_node", 0)) if analysed else -1
        row["n_topology_edges"] = int(ds.sizes.get("topology_edge", 0)) if analysed else -1
        row["n_line_attractors"] = int(ds["n_line_attractors"]) if "n_line_attractors" in ds else -1
        row["line_attractor_every_group"] = (
            bool(ds["line_attractor_every_group"]) if "line_attractor_every_group" in ds else False
        )
        row["n_limit_cycles"] = int(ds["n_cycles"]) if "n_cycles" in ds else -1
        row["topology_signature"] = str(ds.attrs.get("topology_signature", ""))
        checks = _task_of(ds, path).known_results(ds) if analysed else {}
        for name in known:
            row[f"known_{name}"] = bool(checks.get(name, False))
        row["solution_type"] = ""
        usable = "probe_hidden" in ds and bool(np.isfinite(ds["probe_hidden"].values).all())
        wanted = params.includes(row["status"])
        row["in_similarity"] = bool(usable and wanted)
        if row["in_similarity"] and "solution_hash" in ds:
            graphs.append((len(rows), graph_from_dataset(ds)))
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
    if graphs:
        names = assign_solution_types([graph for _, graph in graphs])
        for (index, _), name in zip(graphs, names, strict=True):
            rows[index]["solution_type"] = name
        log(f"{task}: {len(set(names))} solution type(s) among {len(names)} networks")

    summary = xr.Dataset(coords=_label_coords(rows, "network"))
    columns = {
        **_SUMMARY_ATTRS,
        **{f"known_{name}": (f"known result: {text}", "1") for name, text in known.items()},
    }
    for key, (long_name, units) in columns.items():
        values = np.array([row[key] for row in rows])
        if key in _STRING_COLUMNS:
            values = values.astype(str)
        summary[key] = ("network", values, {"long_name": long_name, "units": units})
    meta = {
        "task": task,
        "aggregate_options": json.dumps(params.to_dict(), sort_keys=True),
        "provenance": json.dumps(provenance(), sort_keys=True),
    }
    summary.attrs = {**meta, "title": f"per-network summary of task {task}"}

    keys = [row["network"] for row in chosen]
    similarity = xr.Dataset(
        coords={**_label_coords(chosen, "network"), **_label_coords(chosen, "network_b", "_b")}
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
    factors.attrs.update({**meta, "title": f"how the grid axes separate the networks of {task}"})
    for line in factor_table(factors):
        log(line)
    outputs = [(summary_out, summary), (similarity_out, similarity)]
    if factors_out is not None:
        outputs.append((factors_out, factors))
    for out, ds in outputs:
        Path(out).parent.mkdir(parents=True, exist_ok=True)
        write_netcdf(ds, Path(out))
    return similarity, summary, factors
