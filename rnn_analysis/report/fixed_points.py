"""Fixed points on the top principal components of the probe trajectories, per example network."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import matplotlib
import numpy as np
import xarray as xr
from matplotlib.cm import ScalarMappable
from matplotlib.colors import Normalize
from matplotlib.lines import Line2D

from rnn_analysis.report.inputs import ReportInputError, open_input, require, source_of
from rnn_analysis.report.style import (
    NEUTRAL,
    STATUS_NAMES,
    empty_panel,
    format_level,
    new_figure,
    save_figure,
    styled,
)
from rnn_analysis.report.targets import choose_examples

#: Labels every analysis dataset carries as attributes.
LABELS = ("task", "architecture", "learning_rule", "noise", "seed", "status")
#: Fixed points beyond this many times the trajectories' extent from their centre are
#: not drawn (the panel counts them), so that one far point does not hide the rest.
VIEW_MARGIN = 3.0
#: Narrowest figure, inches (room for the title, the legend and the colour bar).
MIN_FIGURE_WIDTH = 7.0
_CMAP = "viridis"


def principal_components(
    trajectories: np.ndarray, n_components: int = 2
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """PCA of trajectories [trial, time, unit] with samples = trial × time.

    Returns
    -------
    mean : [unit]
    components : [n_components, unit], unit rows, signed so that each row's
        largest-magnitude entry is positive
    explained : [n_components], fraction of the variance along each component
    """
    x = np.asarray(trajectories, dtype=np.float64).reshape(-1, trajectories.shape[-1])
    mean = x.mean(axis=0)
    _, singular, vt = np.linalg.svd(x - mean, full_matrices=False)
    k = min(n_components, vt.shape[0])
    components = np.zeros((n_components, x.shape[1]))
    components[:k] = vt[:k]
    for row in components:
        if row.any() and row[np.argmax(np.abs(row))] < 0:
            row *= -1.0
    variance = singular**2
    explained = np.zeros(n_components)
    total = variance.sum()
    if total > 0:
        explained[:k] = variance[:k] / total
    return mean, components, explained


def _static_input_names(analysis: xr.Dataset) -> list[str]:
    n = analysis.sizes.get("static_input", 0)
    labels = [
        name
        for name in sorted(map(str, analysis.coords))
        if name.startswith("static_input_")
        and name != "static_input_value"
        and analysis[name].dims == ("static_input",)
    ]
    names = []
    for k in range(n):
        parts = [
            f"{name.removeprefix('static_input_')} {format_level('', analysis[name].values[k])}"
            for name in labels
        ]
        names.append(", ".join(parts) if parts else f"static input {k}")
    return names


def _network_title(labels: Mapping[str, Any]) -> str:
    status = STATUS_NAMES.get(str(labels.get("status", "")), str(labels.get("status", "")))
    return (
        f"{labels.get('architecture', '?')} · {labels.get('learning_rule', '?')}\n"
        f"noise {format_level('noise', labels.get('noise', float('nan')))}, "
        f"seed {labels.get('seed', '?')} ({status})"
    )


def _draw_network(ax: Any, analysis: xr.Dataset, source: str, norm: Normalize) -> None:
    if "analysis_skipped" in analysis.attrs:
        empty_panel(ax, f"analysis skipped:\n{analysis.attrs['analysis_skipped']}")
        return
    require(analysis, source, variables=["probe_hidden"])
    hidden = np.asarray(analysis["probe_hidden"].values, dtype=np.float64)
    if hidden.ndim != 3:
        raise ReportInputError(
            f"{source}: probe_hidden must have dims (probe_trial, time, unit), "
            f"got {analysis['probe_hidden'].dims}"
        )
    if not np.isfinite(hidden).all():
        empty_panel(ax, "probe trajectories are not finite")
        return
    mean, components, explained = principal_components(hidden)
    projected = (hidden - mean) @ components.T
    for trial in projected:
        ax.plot(trial[:, 0], trial[:, 1], color=NEUTRAL, alpha=0.35, linewidth=0.8)
        ax.plot(trial[0, 0], trial[0, 1], "o", color=NEUTRAL, alpha=0.5, markersize=2)
    ax.set_xlabel(f"PC1 ({100 * explained[0]:.0f}% var.)")
    ax.set_ylabel(f"PC2 ({100 * explained[1]:.0f}% var.)")

    n_points = analysis.sizes.get("fixed_point", 0)
    if n_points == 0:
        ax.text(0.02, 0.02, "no fixed points", transform=ax.transAxes, fontsize=7, color="0.35")
        return
    require(analysis, source, variables=["hidden_value", "kind", "n_unstable"])
    kind = np.asarray(analysis["kind"].values).astype(str)
    fixed = kind == "fixed"
    values = np.asarray(analysis["hidden_value"].values, dtype=np.float64)
    if values.ndim != 2 or values.shape[1] != hidden.shape[2]:
        raise ReportInputError(
            f"{source}: hidden_value has shape {values.shape}, expected [fixed_point, "
            f"{hidden.shape[2]}] (the units of probe_hidden)"
        )
    points = (values - mean) @ components.T
    unstable = np.asarray(analysis["n_unstable"].values) > 0
    condition = (
        np.asarray(analysis["condition"].values)
        if "condition" in analysis
        else np.zeros(n_points, dtype=int)
    )
    centre = projected.reshape(-1, 2).mean(axis=0)
    extent = np.abs(projected.reshape(-1, 2) - centre).max()
    in_view = np.isfinite(points).all(axis=1) & (
        np.abs(points - centre).max(axis=1) <= VIEW_MARGIN * max(extent, 1e-12)
    )
    cmap = matplotlib.colormaps[_CMAP]
    single = norm.vmax <= norm.vmin
    colours = np.array(["k"] * n_points, dtype=object) if single else cmap(norm(condition))
    for stable_side in (False, True):
        pick = fixed & in_view & (unstable != stable_side)
        if not pick.any():
            continue
        c = list(colours[pick])
        ax.scatter(
            points[pick, 0],
            points[pick, 1],
            s=34,
            marker="o",
            facecolors=c if stable_side else "none",
            edgecolors=c,
            linewidths=1.3,
            zorder=3,
        )
    hidden_count = int((fixed & ~in_view).sum())
    note = f"{int(fixed.sum())} fixed points ({int((fixed & ~unstable).sum())} stable)"
    if hidden_count:
        note += f"; {hidden_count} outside view"
    ax.text(
        0.02,
        0.02,
        note,
        transform=ax.transAxes,
        fontsize=7,
        color="0.3",
        bbox={"facecolor": "white", "alpha": 0.7, "edgecolor": "none", "pad": 1.5},
        zorder=4,
    )


def fixed_point_figure(analyses: Sequence[xr.Dataset], path: str | Path) -> Path:
    """Fixed points of example networks on their probe trajectories' first two PCs.

    One panel per network, in a grid of architectures (rows) × learning rules
    (columns). In each panel the probe trajectories (faint grey lines, start dots)
    and the network's fixed points (``kind == "fixed"``; slow points are not shown)
    are projected on the first two principal components of that network's probe
    activity. Stable fixed points are filled circles, saddles (any unstable mode)
    open circles; with several static inputs a point's colour is its static input
    (colour bar), otherwise points are black.

    Parameters
    ----------
    analyses
        Analysis datasets (``analysis.nc``) with the attributes of :data:`LABELS`;
        datasets whose analysis was skipped get a panel saying so.
    path
        Output file, ``.png`` or ``.svg``.

    Raises
    ------
    ReportInputError
        If a dataset lacks a label attribute, ``probe_hidden`` or, when it has fixed
        points, ``hidden_value`` (with the units of ``probe_hidden``), ``kind`` or
        ``n_unstable``.
    ValueError
        If ``analyses`` is empty.
    """
    if not analyses:
        raise ValueError("fixed_point_figure needs at least one analysis dataset")
    sources = [source_of(ds, f"analysis dataset {i}") for i, ds in enumerate(analyses)]
    for ds, source in zip(analyses, sources, strict=True):
        missing = [key for key in LABELS if key not in ds.attrs]
        if missing:
            raise ReportInputError(f"{source}: attribute(s) {', '.join(missing)} missing")
    archs = sorted({str(ds.attrs["architecture"]) for ds in analyses})
    rules = sorted({str(ds.attrs["learning_rule"]) for ds in analyses})
    n_static = max(ds.sizes.get("static_input", 0) for ds in analyses)
    norm = Normalize(0, max(n_static - 1, 0))
    task = str(analyses[0].attrs["task"])
    with styled():
        width = max(3.4, MIN_FIGURE_WIDTH / len(rules))
        figure = new_figure(len(archs), len(rules), height=3.2, width=width)
        axes = figure.subplots(len(archs), len(rules), squeeze=False)
        used = np.zeros(axes.shape, dtype=bool)
        for ds, source in zip(analyses, sources, strict=True):
            r = archs.index(str(ds.attrs["architecture"]))
            c = rules.index(str(ds.attrs["learning_rule"]))
            ax = axes[r, c]
            if used[r, c]:
                raise ReportInputError(
                    f"{source}: a second example for {archs[r]} × {rules[c]}; give one each"
                )
            used[r, c] = True
            _draw_network(ax, ds, source, norm)
            ax.set_title(_network_title(ds.attrs))
        for ax in axes[~used]:
            ax.set_axis_off()
        handles = [
            Line2D([], [], color=NEUTRAL, alpha=0.6, label="probe trajectory"),
            Line2D([], [], linestyle="", marker="o", color="k", label="stable fixed point"),
            Line2D(
                [],
                [],
                linestyle="",
                marker="o",
                markerfacecolor="none",
                markeredgecolor="k",
                label="saddle (unstable modes)",
            ),
        ]
        figure.legend(handles=handles, loc="outside lower center", ncols=3)
        if n_static > 1:
            reference = max(analyses, key=lambda ds: ds.sizes.get("static_input", 0))
            names = _static_input_names(reference)
            ticks = sorted({0, n_static - 1, *np.linspace(0, n_static - 1, 5).round().astype(int)})
            bar = figure.colorbar(
                ScalarMappable(norm=norm, cmap=_CMAP),
                ax=axes,
                shrink=0.8,
                ticks=ticks,
            )
            bar.set_ticklabels([names[t] for t in ticks])
            bar.set_label("static input of the fixed point")
        figure.suptitle(f"{task}: fixed points on the top two PCs of the probe trajectories")
        return save_figure(figure, path)


def fixed_point_report(analysis_paths: Sequence[str | Path], path: str | Path) -> Path:
    """Pick one example per architecture × learning rule among ``analysis_paths``, and plot.

    The examples are chosen by :func:`rnn_analysis.report.targets.choose_examples`
    from the label attributes of the files (lowest noise, best training status,
    lowest seed); only the chosen files are loaded in full.

    Raises
    ------
    FileNotFoundError
        If a path does not exist.
    ReportInputError
        If a file lacks a label attribute or a variable the figure needs.
    """
    candidates = []
    for analysis_path in analysis_paths:
        analysis_path = Path(analysis_path)
        if not analysis_path.is_file():
            raise FileNotFoundError(f"analysis dataset {analysis_path} does not exist")
        with xr.open_dataset(analysis_path) as ds:
            attrs = dict(ds.attrs)
        missing = [key for key in LABELS if key not in attrs]
        if missing:
            raise ReportInputError(f"{analysis_path}: attribute(s) {', '.join(missing)} missing")
        candidates.append({**attrs, "path": str(analysis_path)})
    chosen = choose_examples(candidates)
    analyses = [open_input(c["path"], "analysis dataset") for c in chosen]
    return fixed_point_figure(analyses, path)
