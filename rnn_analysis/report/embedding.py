"""MDS scatter plots: one figure per distance metric, one panel per grid axis."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np
import xarray as xr

from rnn_analysis.aggregate.factors import present_labels
from rnn_analysis.report.inputs import ReportInputError, open_input, require, source_of
from rnn_analysis.report.style import (
    AXIS_NAMES,
    STATUS_MARKERS,
    STATUSES,
    empty_panel,
    format_level,
    level_colours,
    new_figure,
    save_figure,
    sorted_levels,
    status_handles,
    styled,
)

#: Grid axes that colour the panels unless told otherwise.
DEFAULT_FACTORS = ("architecture", "learning_rule", "noise")
#: Legend entry of networks whose cell an extra axis does not apply to.
NOT_APPLICABLE = "n/a"
#: Dimension of the embedding coordinates in the similarity dataset.
MDS_AXIS = "mds_axis"


def mds_stress(embedding: xr.DataArray) -> float:
    """Stress of an embedding: its ``stress`` attribute, else ``normalized_stress``, else NaN."""
    for key in ("stress", "normalized_stress"):
        if key in embedding.attrs:
            return float(embedding.attrs[key])
    return float("nan")


def mds_figure(
    similarity: xr.Dataset,
    metric: str,
    path: str | Path,
    factors: Sequence[str] = DEFAULT_FACTORS,
) -> Path:
    """Scatter the 2-D MDS embedding of one metric, one panel per grid axis.

    In the panel of an axis the points are coloured by that axis's level. Converged
    networks are filled circles, networks that did not converge open circles, diverged
    ones crosses (see :data:`rnn_analysis.report.style.STATUS_MARKERS`). Networks the
    metric could not compare (NaN coordinates) are left out and counted under the
    panels. The title names the task, the metric and the stress of the embedding.

    Parameters
    ----------
    similarity
        A task's similarity dataset: ``mds_<metric>`` with dims (network, mds_axis)
        and, along ``network``, the coordinates ``status`` and every factor.
    metric
        Name of the metric (its distance variable, if present, supplies the long name).
    path
        Output file, ``.png`` or ``.svg``.
    factors
        Grid axes, one panel each (default architecture, learning_rule, noise).

    Raises
    ------
    ReportInputError
        If ``mds_<metric>``, a factor coordinate or ``status`` is missing, or the
        embedding is not (network, mds_axis) with at least two axes.
    """
    source = source_of(similarity, "similarity dataset")
    name = f"mds_{metric}"
    require(similarity, source, variables=[name], coords=[*factors, "status"])
    embedding = similarity[name]
    if embedding.dims != ("network", MDS_AXIS) or embedding.sizes[MDS_AXIS] < 2:
        raise ReportInputError(
            f"{source}: {name} must have dims (network, {MDS_AXIS}) with at least 2 axes, "
            f"got {dict(embedding.sizes)}"
        )
    xy = np.asarray(embedding.values, dtype=float)[:, :2]
    embedded = np.isfinite(xy).all(axis=1)
    status = np.asarray(similarity["status"].values).astype(str)
    long_name = metric
    if metric in similarity.data_vars:
        long_name = str(similarity[metric].attrs.get("long_name", metric))
    task = str(similarity.attrs.get("task", ""))
    stress = mds_stress(embedding)
    stress_text = "n/a" if not np.isfinite(stress) else f"{stress:.3f}"

    with styled():
        figure = new_figure(1, len(factors))
        axes = figure.subplots(1, len(factors), squeeze=False)[0]
        for ax, factor in zip(axes, factors, strict=True):
            values = np.asarray(similarity[factor].values)
            ax.set_title(f"coloured by {AXIS_NAMES.get(factor, factor)}")
            if not embedded.any():
                empty_panel(ax, "no network could be embedded")
                continue
            # networks of cells an extra axis does not apply to: grey, labelled n/a
            present = present_labels(values)
            levels = sorted_levels(values[embedded & present])
            colours = level_colours(factor, levels)
            members = {level: values == level for level in levels}
            if (embedded & ~present).any():
                levels.append(NOT_APPLICABLE)
                colours[NOT_APPLICABLE] = "0.6"
                members[NOT_APPLICABLE] = ~present
            for level in levels:
                for state in [*STATUSES, *sorted(set(status) - set(STATUSES))]:
                    pick = embedded & members[level] & (status == state)
                    if not pick.any():
                        continue
                    marker, filled = STATUS_MARKERS.get(state, ("s", True))
                    ax.scatter(
                        xy[pick, 0],
                        xy[pick, 1],
                        s=36,
                        marker=marker,
                        facecolors=colours[level] if filled else "none",
                        edgecolors=colours[level],
                        linewidths=1.2,
                        alpha=0.85,
                    )
            handles = [
                ax.scatter([], [], s=36, color=colours[level], label=format_level(factor, level))
                for level in levels
            ]
            ax.legend(
                handles=handles,
                title=AXIS_NAMES.get(factor, factor),
                loc="best",
                fontsize=7,
                markerscale=0.9,
            )
            ax.set_xlabel("MDS 1")
            ax.set_ylabel("MDS 2")
            ax.set_aspect("equal", adjustable="datalim")
        present = sorted(set(status[embedded]))
        if present and present != ["converged"]:
            figure.legend(
                handles=status_handles(present),
                loc="outside lower center",
                ncols=len(present),
                title="training status",
            )
        missing = int((~embedded).sum())
        note = f"; {missing} network(s) not embedded" if missing else ""
        prefix = f"{task}: " if task else ""
        figure.suptitle(
            f"{prefix}MDS of {long_name} — {int(embedded.sum())} networks, "
            f"stress {stress_text}{note}"
        )
        return save_figure(figure, path)


def mds_figures(
    similarity_path: str | Path,
    metrics: Sequence[str],
    paths: Sequence[str | Path],
    factors: Sequence[str] = DEFAULT_FACTORS,
) -> list[Path]:
    """Write :func:`mds_figure` for every metric of a similarity file (``paths`` in order).

    Raises
    ------
    FileNotFoundError
        If ``similarity_path`` does not exist.
    ValueError
        If ``metrics`` and ``paths`` differ in length.
    """
    if len(metrics) != len(paths):
        raise ValueError(f"give one path per metric: {len(metrics)} metrics, {len(paths)} paths")
    similarity = open_input(similarity_path, "similarity dataset")
    return [
        mds_figure(similarity, metric, path, factors)
        for metric, path in zip(metrics, paths, strict=True)
    ]
