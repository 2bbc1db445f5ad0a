"""The space of solutions of one task: type sizes, example graphs, extrapolation profiles.

Two figures per task with reduced-dynamics graphs (Turner, Dabholkar & Barak 2021):

* :func:`solution_type_figure`: the number of converged networks of every solution type
  (stacked by architecture, ``other`` last) and one example compact reduced graph per
  type, drawn with networkx: nodes by the fewest pulses that reach them (left to
  right), coloured by output label, the initial node ringed; flow edges grey and
  dashed, pulse edges coloured by pulse group.
* :func:`extrapolation_figure`: every typed network's extrapolation behaviour along the
  extrapolation conditions (the produced interval where the task has one, otherwise the
  scaled profile), coloured by solution type and, in a second panel, by behaviour type;
  the training range is shaded.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import networkx as nx
import numpy as np
import xarray as xr

from rnn_analysis.aggregate.solution_types import OTHER
from rnn_analysis.analysis.labelled_graph import FLOW
from rnn_analysis.report.inputs import open_input, require, source_of
from rnn_analysis.report.style import (
    PANEL_HEIGHT,
    PANEL_WIDTH,
    empty_panel,
    level_colours,
    new_figure,
    save_figure,
    sorted_levels,
    styled,
)

#: Colour of a reduced node by its output label (first output).
LABEL_COLOURS = {"+": "tab:red", "-": "tab:blue", "0": "0.85", "?": "black"}
#: Variables of an analysis dataset the figures read.
GRAPH_VARIABLES = (
    "reduced_node_label",
    "reduced_node_initial",
    "reduced_node_pulse_depth",
    "reduced_edge_source",
    "reduced_edge_target",
    "reduced_edge_pulse",
)
PROFILE_VARIABLES = ("extrapolation_profile", "extrapolation_produced_interval")


def _type_order(types: Sequence[str]) -> list[str]:
    named = sorted({t for t in types if t and t != OTHER}, key=lambda t: (len(t), t))
    return named + ([OTHER] if OTHER in types else [])


def draw_reduced_graph(ax: Any, analysis: xr.Dataset, title: str) -> None:
    """Draw the compact reduced graph of one analysis dataset on ``ax``."""
    labels = analysis["reduced_node_label"].values.astype(str)
    depth = analysis["reduced_node_pulse_depth"].values
    initial = analysis["reduced_node_initial"].values.astype(bool)
    graph = nx.MultiDiGraph()
    for v, (label, d) in enumerate(zip(labels, depth, strict=True)):
        graph.add_node(v, layer=int(max(d, 0)), label=label)
    pulses = analysis["reduced_edge_pulse"].values.astype(str)
    edges = list(
        zip(
            analysis["reduced_edge_source"].values.tolist(),
            analysis["reduced_edge_target"].values.tolist(),
            pulses,
            strict=True,
        )
    )
    for s, t, p in edges:
        graph.add_edge(s, t, pulse=p)
    # within a layer, nodes in order of their first flow distance from the layer's entry
    position = nx.multipartite_layout(graph, subset_key="layer", align="vertical")
    groups = sorted({p for p in pulses if p != FLOW})
    colours = level_colours("pulse", groups)
    nx.draw_networkx_nodes(
        graph,
        position,
        ax=ax,
        node_color=[LABEL_COLOURS.get(lab[:1], "0.6") for lab in labels],
        edgecolors=["black" if i else "0.4" for i in initial],
        linewidths=[2.0 if i else 0.6 for i in initial],
        node_size=220,
    )
    nx.draw_networkx_labels(
        graph, position, ax=ax, labels={v: lab for v, lab in enumerate(labels)}, font_size=7
    )
    seen: dict[tuple[int, int], int] = {}
    for s, t, p in edges:
        k = seen.get((s, t), 0)
        seen[(s, t)] = k + 1
        nx.draw_networkx_edges(
            graph,
            position,
            ax=ax,
            edgelist=[(s, t)],
            edge_color="0.5" if p == FLOW else colours[p],
            style="dashed" if p == FLOW else "solid",
            connectionstyle=f"arc3,rad={0.15 + 0.12 * k}",
            arrowsize=8,
            node_size=220,
        )
    handles = [ax.plot([], [], color=colours[g], label=g)[0] for g in groups] + [
        ax.plot([], [], color="0.5", linestyle="--", label=FLOW)[0]
    ]
    ax.legend(
        handles=handles,
        loc="upper center",
        bbox_to_anchor=(0.5, 0.0),
        ncols=len(handles),
        fontsize=6,
    )
    ax.set_title(title, fontsize=8)
    ax.set_axis_off()


def solution_type_figure(
    summary: xr.Dataset, examples: Mapping[str, xr.Dataset], path: str | Path
) -> Path:
    """Type sizes by architecture and one example graph per type.

    Parameters
    ----------
    summary : the task's summary (``solution_type``, ``architecture``, ``type_example``)
    examples : analysis dataset (with the reduced-graph variables) per network key
    path : where the figure goes (``.png`` or ``.svg``)
    """
    task = str(summary.attrs.get("task", ""))
    types = summary["solution_type"].values.astype(str)
    typed = types != ""
    order = _type_order(types[typed].tolist())
    example_of = {}
    if "type_example" in summary:
        example_of = dict(
            zip(
                summary["type"].values.astype(str),
                summary["type_example"].values.astype(str),
                strict=True,
            )
        )
    shown = [t for t in order if t in example_of and example_of[t] in examples]
    n_cols = min(max(len(shown), 2), 3)
    n_rows = 1 + int(np.ceil(len(shown) / n_cols)) if shown else 1
    with styled():
        figure = new_figure(n_rows, n_cols, width=PANEL_WIDTH * 1.1, height=PANEL_HEIGHT)
        grid = figure.add_gridspec(n_rows, n_cols)
        ax = figure.add_subplot(grid[0, :])
        if not typed.any():
            empty_panel(ax, "no converged network has a reduced-dynamics graph")
        else:
            architectures = sorted_levels(summary["architecture"].values[typed])
            colours = level_colours("architecture", architectures)
            bottom = np.zeros(len(order))
            for arch in architectures:
                mine = typed & (summary["architecture"].values == arch)
                counts = np.array([(types[mine] == t).sum() for t in order], dtype=float)
                ax.bar(order, counts, bottom=bottom, color=colours[arch], label=str(arch))
                bottom += counts
            ax.set_ylabel("converged networks")
            ax.legend(title="architecture", loc="upper right")
            coverage = summary.attrs.get("solution_space_type_coverage", np.nan)
            ari = summary.attrs.get("solution_space_type_behaviour_ari", np.nan)
            ax.set_title(
                f"{int(typed.sum())} typed networks, "
                f"{summary.attrs.get('solution_space_n_classes', '?')} graph classes, "
                f"{len([t for t in order if t != OTHER])} types covering {coverage:.0%}; "
                "agreement with behaviour types (ARI) "
                + (f"{ari:.2f}" if np.isfinite(ari) else "undefined")
            )
        for i, kind in enumerate(shown):
            sub = figure.add_subplot(grid[1 + i // n_cols, i % n_cols])
            size = int((types == kind).sum())
            draw_reduced_graph(
                sub, examples[example_of[kind]], f"{kind} ({size}): {example_of[kind]}"
            )
        figure.suptitle(f"{task}: solution types (reduced-dynamics graphs)")
        return save_figure(figure, path)


def _condition_axis(profile: xr.Dataset) -> tuple[np.ndarray, str, np.ndarray | None]:
    """x values, their name, and the in-training-range mask of the conditions."""
    dim = "extrapolation_condition"
    n = profile.sizes[dim]
    inside = None
    if "extrapolation_condition_in_training_range" in profile.coords:
        inside = profile["extrapolation_condition_in_training_range"].values.astype(bool)
    numeric = [
        name
        for name, coord in profile.coords.items()
        if coord.dims == (dim,)
        and name != "extrapolation_condition_in_training_range"
        and np.issubdtype(coord.dtype, np.number)
        and len(np.unique(coord.values)) == n
    ]
    if len(numeric) == 1:
        name = str(numeric[0])
        return profile[name].values, name.removeprefix("extrapolation_condition_"), inside
    return np.arange(n), "extrapolation condition", inside


def _draw_intervals(
    ax: Any, kept: list[tuple[str, str]], profiles: Mapping[str, xr.Dataset], colours: dict
) -> None:
    """Produced against demanded interval, one line per network, training range shaded."""
    x = inside = None
    for k, v in kept:
        ds = profiles[k]
        x, name, inside = _condition_axis(ds)
        sort = np.argsort(x, kind="stable")
        y = ds["extrapolation_produced_interval"].values
        ax.plot(x[sort], y[sort], color=colours[v], alpha=0.6, linewidth=0.9)
    if inside is not None and inside.any():
        ax.axvspan(x[inside].min(), x[inside].max(), color="0.9", zorder=0)
    ax.plot([x.min(), x.max()], [x.min(), x.max()], color="0.3", linestyle=":")
    ax.set_xlabel(name)
    ax.set_ylabel("produced interval")


def _draw_profile_rows(
    ax: Any, kept: list[tuple[str, str]], profiles: Mapping[str, xr.Dataset], order: list[str]
) -> None:
    """One row per network (grouped by type), one column per condition, coloured by the
    profile value; the boundaries of the training range drawn as vertical lines."""
    rank = {t: i for i, t in enumerate(order)}
    rows = sorted(kept, key=lambda kv: (rank[kv[1]], kv[0]))
    image = np.stack([profiles[k]["extrapolation_profile"].values for k, _ in rows])
    limit = float(np.abs(image).max()) or 1.0
    ax.imshow(
        image, aspect="auto", interpolation="nearest", cmap="coolwarm", vmin=-limit, vmax=limit
    )
    ax.grid(False)
    _, _, inside = _condition_axis(profiles[rows[0][0]])
    if inside is not None:
        for edge in np.flatnonzero(np.diff(inside.astype(int))):
            ax.axvline(edge + 0.5, color="black", linewidth=1.0)
    types = [v for _, v in rows]
    starts = [i for i in range(len(types)) if i == 0 or types[i] != types[i - 1]]
    for i in starts[1:]:
        ax.axhline(i - 0.5, color="black", linewidth=0.8)
    ends = starts[1:] + [len(types)]
    ax.set_yticks(
        [(a + b - 1) / 2 for a, b in zip(starts, ends, strict=True)],
        [f"{types[a]} ({b - a})" for a, b in zip(starts, ends, strict=True)],
    )
    ax.set_xlabel("extrapolation condition (training range left of the line)")


def extrapolation_figure(
    summary: xr.Dataset, profiles: Mapping[str, xr.Dataset], path: str | Path
) -> Path:
    """Extrapolation behaviour of every typed network, grouped by graph type and by
    behaviour type.

    Time reproduction: the produced against the demanded interval, one line per network
    coloured by type, the training range shaded. Other tasks: the profile (e.g. the
    choice) as one row per network and one column per condition, rows grouped by type.

    Parameters
    ----------
    summary : the task's summary (``network_key``, ``solution_type``, ``behaviour_type``)
    profiles : analysis dataset (with ``extrapolation_profile``) per network key
    path : where the figure goes
    """
    task = str(summary.attrs.get("task", ""))
    keys = summary["network_key"].values.astype(str)
    columns = ("solution_type", "behaviour_type")
    with styled():
        figure = new_figure(1, 2, width=PANEL_WIDTH * 1.3)
        for ax, column in zip(figure.subplots(1, 2), columns, strict=True):
            values = summary[column].values.astype(str)
            kept = [(k, v) for k, v in zip(keys, values, strict=True) if v and k in profiles]
            ax.set_title(f"by {column.replace('_', ' ')}")
            if not kept:
                empty_panel(ax, f"no network has a {column.replace('_', ' ')}")
                continue
            order = _type_order([v for _, v in kept])
            if "extrapolation_produced_interval" in profiles[kept[0][0]]:
                colours = level_colours(column, order)
                _draw_intervals(ax, kept, profiles, colours)
                handles = [
                    ax.plot(
                        [], [], color=colours[t], label=f"{t} ({sum(v == t for _, v in kept)})"
                    )[0]
                    for t in order
                ]
                ax.legend(handles=handles, loc="best")
            else:
                _draw_profile_rows(ax, kept, profiles, order)
        figure.suptitle(f"{task}: extrapolation profiles by type")
        return save_figure(figure, path)


def solution_type_report(
    summary_path: str | Path,
    analysis_paths: Sequence[str | Path],
    types_out: str | Path,
    extrapolation_out: str | Path,
) -> tuple[Path, Path]:
    """Read a task's summary and its networks' analyses; write both figures."""
    summary = open_input(summary_path, "summary dataset")
    require(summary, source_of(summary, str(summary_path)), ["solution_type", "behaviour_type"])
    wanted = set(summary["network_key"].values.astype(str)[summary["solution_type"].values != ""])
    wanted |= set(summary["network_key"].values.astype(str)[summary["behaviour_type"].values != ""])
    examples, profiles = {}, {}
    for p in analysis_paths:
        ds = open_input(p, "analysis dataset", [*GRAPH_VARIABLES, *PROFILE_VARIABLES])
        key = str(ds.attrs.get("network", ""))
        if key not in wanted:
            continue
        if "reduced_node_label" in ds:
            examples[key] = ds
        if "extrapolation_profile" in ds:
            profiles[key] = ds
    return (
        solution_type_figure(summary, examples, types_out),
        extrapolation_figure(summary, profiles, extrapolation_out),
    )
