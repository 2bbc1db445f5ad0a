"""Psychometric curves of a decision task, per architecture × learning rule."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np
import xarray as xr
from matplotlib.lines import Line2D

from rnn_analysis.report.inputs import ReportInputError, open_input, require, source_of
from rnn_analysis.report.style import (
    format_level,
    level_colours,
    new_figure,
    save_figure,
    styled,
)
from rnn_analysis.report.training import cell_name

#: Dimension of the psychometric conditions in an analysis dataset.
CONDITION_DIM = "psychometric_condition"
#: Prefix of the condition coordinates along it.
PREFIX = "psychometric_"
#: The probability plotted.
VARIABLE = "psychometric_p_positive"
#: Networks with these statuses are left out (their choices carry no information).
EXCLUDED_STATUSES = ("diverged", "failed")
#: Labels every analysis dataset carries as attributes.
LABELS = ("task", "architecture", "learning_rule", "status")


def condition_axes(analysis: xr.Dataset) -> tuple[str, list[str]]:
    """The coordinate on the x axis and those that split the conditions into panels.

    Among the coordinates along ``psychometric_condition``, the numeric one with the
    most distinct values is the x axis (the signed coherence or the rate); the others
    (a context or a modality) give one panel per combination of their values.

    Raises
    ------
    ReportInputError
        If no numeric coordinate runs along ``psychometric_condition``.
    """
    source = source_of(analysis, "analysis dataset")
    names = sorted(
        str(name) for name, coord in analysis.coords.items() if coord.dims == (CONDITION_DIM,)
    )
    numeric = [n for n in names if np.asarray(analysis[n].values).dtype.kind in "fiu"]
    if not numeric:
        raise ReportInputError(
            f"{source}: no numeric coordinate along {CONDITION_DIM!r} to put on the x axis "
            f"(coordinates along it: {', '.join(names) or 'none'})"
        )
    x = max(numeric, key=lambda n: (len(np.unique(analysis[n].values)), -numeric.index(n)))
    return x, [n for n in names if n != x]


def _label(name: str) -> str:
    return name.removeprefix(PREFIX).replace("_", " ")


def psychometric_figure(analyses: Sequence[xr.Dataset], path: str | Path) -> Path:
    """P(positive choice) against the task's condition variable, per architecture × rule.

    For every architecture × learning rule, the mean over its networks (all seeds and
    noise levels; diverged and failed networks left out) with a band of ± one standard
    deviation. One panel per value of the conditions' other labels (e.g. per context).

    Parameters
    ----------
    analyses
        Analysis datasets with ``psychometric_p_positive`` along
        ``psychometric_condition``, its condition coordinates, and the attributes of
        :data:`LABELS`. Every dataset must have the same conditions.
    path
        Output file, ``.png`` or ``.svg``.

    Raises
    ------
    ReportInputError
        If a dataset lacks the variable, a label, or has other conditions than the first.
    ValueError
        If ``analyses`` is empty.
    """
    if not analyses:
        raise ValueError("psychometric_figure needs at least one analysis dataset")
    kept = []
    reference: xr.Dataset | None = None
    x_name, panel_names = "", []
    for i, ds in enumerate(analyses):
        source = source_of(ds, f"analysis dataset {i}")
        missing = [key for key in LABELS if key not in ds.attrs]
        if missing:
            raise ReportInputError(f"{source}: attribute(s) {', '.join(missing)} missing")
        if str(ds.attrs["status"]) in EXCLUDED_STATUSES or "analysis_skipped" in ds.attrs:
            continue
        require(ds, source, variables=[VARIABLE], dims=[CONDITION_DIM])
        if reference is None:
            reference = ds
            x_name, panel_names = condition_axes(ds)
        else:
            for name in (x_name, *panel_names):
                same = name in ds.coords and np.array_equal(
                    np.asarray(ds[name].values), np.asarray(reference[name].values)
                )
                if not same:
                    raise ReportInputError(
                        f"{source}: condition coordinate {name!r} differs from that of "
                        f"{source_of(reference, 'the first dataset')}"
                    )
        kept.append(ds)
    task = str(analyses[0].attrs["task"])

    with styled():
        if reference is None:
            figure = new_figure(1, 1, width=5.0)
            ax = figure.subplots()
            ax.text(0.5, 0.5, "no network to show (all diverged or failed)", ha="center")
            ax.set_axis_off()
            figure.suptitle(f"{task}: psychometric curves")
            return save_figure(figure, path)
        x_all = np.asarray(reference[x_name].values, dtype=float)
        panel_keys = [
            tuple(np.asarray(reference[n].values)[k] for n in panel_names)
            for k in range(x_all.size)
        ]
        panels = sorted(set(panel_keys), key=lambda key: tuple(str(v) for v in key))
        cells = sorted(
            {(str(ds.attrs["architecture"]), str(ds.attrs["learning_rule"])) for ds in kept}
        )
        colours = level_colours("cell", [cell_name(*c) for c in cells])
        curves: dict[tuple[str, str], list[np.ndarray]] = {c: [] for c in cells}
        for ds in kept:
            cell = (str(ds.attrs["architecture"]), str(ds.attrs["learning_rule"]))
            curves[cell].append(np.asarray(ds[VARIABLE].values, dtype=float))

        figure = new_figure(1, len(panels), width=max(3.6, 7.0 / len(panels)), height=3.2)
        axes = figure.subplots(1, len(panels), squeeze=False, sharey=True)[0]
        for ax, panel in zip(axes, panels, strict=True):
            members = np.array([key == panel for key in panel_keys])
            order = np.argsort(x_all[members], kind="stable")
            x = x_all[members][order]
            for cell in cells:
                stack = np.stack(curves[cell])[:, members][:, order]
                mean = np.nanmean(stack, axis=0)
                colour = colours[cell_name(*cell)]
                if stack.shape[0] > 1:
                    spread = np.nanstd(stack, axis=0)
                    ax.fill_between(
                        x,
                        np.clip(mean - spread, 0.0, 1.0),
                        np.clip(mean + spread, 0.0, 1.0),
                        color=colour,
                        alpha=0.2,
                    )
                ax.plot(x, mean, marker="o", markersize=3.5, color=colour)
            ax.axhline(0.5, color="0.5", linestyle=":", linewidth=0.8)
            ax.set_ylim(-0.03, 1.03)
            ax.set_xlabel(_label(x_name))
            if panel_names:
                ax.set_title(
                    ", ".join(
                        f"{_label(n)} {format_level('', v)}"
                        for n, v in zip(panel_names, panel, strict=True)
                    )
                )
        axes[0].set_ylabel("P(positive choice)")
        handles = [
            Line2D(
                [],
                [],
                color=colours[cell_name(*c)],
                marker="o",
                markersize=3.5,
                label=f"{cell_name(*c)} (n = {len(curves[c])})",
            )
            for c in cells
        ]
        figure.legend(handles=handles, loc="outside lower center", ncols=min(len(handles), 4))
        left_out = len(analyses) - len(kept)
        note = f"; {left_out} diverged/failed left out" if left_out else ""
        figure.suptitle(f"{task}: psychometric curves, mean ± SD over seeds and noise levels{note}")
        return save_figure(figure, path)


def psychometric_report(analysis_paths: Sequence[str | Path], path: str | Path) -> Path:
    """Read the psychometric curves of ``analysis_paths`` and plot them.

    Raises
    ------
    FileNotFoundError
        If a file does not exist.
    """
    analyses = [
        open_input(p, "analysis dataset", [VARIABLE, "psychometric_accuracy"])
        for p in analysis_paths
    ]
    return psychometric_figure(analyses, path)
