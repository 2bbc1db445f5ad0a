"""The space of solutions of one task: graph types, behaviour types and their agreement.

Only networks that converged (and enter the comparisons) are typed; every other row
keeps empty types. :func:`type_population` fills the rows' ``solution_class``,
``solution_type`` and ``behaviour_type`` and returns a dataset along ``type`` (the
graph types with their sizes) whose attributes give the agreement between the two
typings (adjusted Rand index) and the coverage of each.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import numpy as np
import xarray as xr

from rnn_analysis.aggregate.behaviour_types import behaviour_types, type_agreement
from rnn_analysis.aggregate.params import AggregateParams
from rnn_analysis.aggregate.solution_types import group_solution_types
from rnn_analysis.aggregate.type_prediction import predict_types
from rnn_analysis.analysis.labelled_graph import LabelledGraph
from rnn_analysis.training.rule import CONVERGED

#: Summary columns filled by :func:`type_population` (empty: no type).
TYPE_COLUMNS = {
    "solution_class": "isomorphism class of the compact reduced-dynamics graph (empty: none)",
    "solution_type": "solution type: graph classes grouped, 'other' for small groups "
    "(empty: not typed, e.g. not converged)",
    "behaviour_type": "behaviour type: cluster of extrapolation profiles (empty: not typed)",
}


def typed(row: Mapping[str, Any]) -> bool:
    """Whether a summary row's network gets a type: converged and compared."""
    return bool(row["in_similarity"]) and row["status"] == CONVERGED


def type_population(
    rows: list[dict[str, Any]],
    graphs: Mapping[int, LabelledGraph],
    profiles: Mapping[int, xr.DataArray],
    params: AggregateParams,
    log: Callable[[str], None] = print,
) -> xr.Dataset:
    """Type the rows (indices of ``graphs`` and ``profiles``) that :func:`typed` admits.

    Parameters
    ----------
    rows : summary rows; their type columns are set in place
    graphs : compact reduced graph per row index
    profiles : extrapolation profile (along ``extrapolation_condition``) per row index
    params : the aggregate options (``solution_types``, ``behaviour_types``)
    log : where the counts go

    Returns
    -------
    xarray.Dataset along ``type``: ``type_size``, ``type_n_classes`` and
    ``type_example`` (key of a network of the type's largest class); attributes
    ``n_typed``, ``n_classes``, ``n_types``, ``type_coverage``, ``n_behaviour_types``,
    ``behaviour_coverage``, ``type_behaviour_ari`` and ``type_behaviour_n``.
    """
    for row in rows:
        for column in TYPE_COLUMNS:
            row[column] = ""
    task = rows[0]["task"] if rows else ""
    typed_graphs = {i: g for i, g in sorted(graphs.items()) if typed(rows[i])}
    attrs: dict[str, Any] = {"n_typed": len(typed_graphs)}
    table = xr.Dataset(coords={"type": ("type", np.array([], dtype=str))})
    if typed_graphs:
        grouped = group_solution_types(list(typed_graphs.values()), params.solution_types)
        for i, cls, kind in zip(
            typed_graphs,
            grouped["solution_class"].values,
            grouped["solution_type"].values,
            strict=True,
        ):
            rows[i]["solution_class"] = str(cls)
            rows[i]["solution_type"] = str(kind)
        index = list(typed_graphs)
        table = grouped[["type_size", "type_n_classes"]]
        table["type_example"] = (
            "type",
            np.array(
                [rows[index[int(r)]]["network"] for r in grouped["type_representative"].values],
                dtype=str,
            ),
            {"long_name": "a network of the type's largest isomorphism class"},
        )
        attrs.update(
            n_classes=grouped.attrs["n_classes"],
            n_types=grouped.attrs["n_types"],
            type_coverage=grouped.attrs["coverage"],
        )
        sizes = ", ".join(
            f"{t} {n}" for t, n in zip(table["type"].values, table["type_size"].values, strict=True)
        )
        log(
            f"{task}: {grouped.attrs['n_classes']} graph class(es) among {len(index)} "
            f"converged networks, grouped into {grouped.attrs['n_types']} type(s) "
            f"({sizes or 'none'}; other {grouped.attrs['n_other']})"
        )

    typed_profiles = {i: p for i, p in sorted(profiles.items()) if typed(rows[i])}
    if typed_profiles:
        try:
            stacked = xr.concat(list(typed_profiles.values()), dim="network", join="exact")
        except ValueError as err:
            log(f"{task}: no behaviour types: the extrapolation conditions differ ({err})")
        else:
            index = list(typed_profiles)
            keys = [rows[i]["network"] for i in index]
            behaviour = behaviour_types(stacked, keys, params.behaviour_types)
            for i, kind in zip(index, behaviour["behaviour_type"].values, strict=True):
                rows[i]["behaviour_type"] = str(kind)
            attrs.update(
                n_behaviour_types=behaviour.attrs["n_behaviour_types"],
                behaviour_coverage=behaviour.attrs["coverage"],
            )
            log(
                f"{task}: {behaviour.attrs['n_behaviour_types']} behaviour type(s) among "
                f"{len(index)} extrapolation profiles (coverage {behaviour.attrs['coverage']:.0%})"
            )
    ari, n_ari = type_agreement(
        [row["solution_type"] for row in rows], [row["behaviour_type"] for row in rows]
    )
    attrs.update(type_behaviour_ari=ari, type_behaviour_n=n_ari)
    if n_ari >= 2:
        log(f"{task}: graph types vs behaviour types: adjusted Rand index {ari:.3f} ({n_ari})")
    table.attrs = attrs
    return table


def predict_summary_types(
    summary: xr.Dataset, params: AggregateParams, log: Callable[[str], None] = print
) -> xr.Dataset:
    """Cross-validated prediction of the solution type from the training features of a
    task's summary (:func:`~rnn_analysis.aggregate.type_prediction.predict_types`);
    NaN with a reason where the summary has no training features."""
    task = str(summary.attrs.get("task", ""))
    if "training_features" not in summary or "solution_type" not in summary:
        result = predict_types(
            xr.DataArray(np.zeros((0, 0)), dims=("network", "training_feature")), [], []
        )
    else:
        result = predict_types(
            summary["training_features"],
            summary["solution_type"].values.astype(str),
            summary["network_key"].values.astype(str),
            params.type_prediction,
        )
    accuracy = float(result["type_prediction_accuracy"])
    if np.isfinite(accuracy):
        log(
            f"{task}: solution type from training features: cross-validated accuracy "
            f"{accuracy:.2f} vs majority baseline {float(result['type_prediction_baseline']):.2f} "
            f"({int(result['type_prediction_n_networks'])} networks, "
            f"{int(result['type_prediction_n_types'])} types)"
        )
    else:
        log(f"{task}: no type prediction: {result.attrs.get('type_prediction_reason', '')}")
    return result
