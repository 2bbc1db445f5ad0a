"""Training curves of every network of a task."""

from __future__ import annotations

import textwrap
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import xarray as xr
from matplotlib.lines import Line2D

from rnn_analysis.report.inputs import ReportInputError, open_input, require, source_of
from rnn_analysis.report.style import (
    STATUS_MARKERS,
    STATUS_NAMES,
    empty_panel,
    level_colours,
    new_figure,
    save_figure,
    styled,
)

#: Labels each network needs besides its curve.
LABELS = ("task", "architecture", "learning_rule", "noise", "seed")
#: Statuses whose curves end with their status marker.
MARKED_STATUSES = ("diverged", "not_converged", "trivial")
#: Network keys listed by name in the note on failed networks; more are counted.
MAX_LISTED = 4
#: Characters of title text per inch of figure width, where the note is wrapped.
CHARACTERS_PER_INCH = 13


def cell_name(architecture: str, learning_rule: str) -> str:
    """How an architecture × learning rule combination is named in legends."""
    return f"{architecture} · {learning_rule}"


def _network_key(labels: Mapping[str, Any]) -> str:
    return (
        f"{labels['architecture']}/{labels['learning_rule']}/noise{labels['noise']:g}/"
        f"seed{labels['seed']}"
    )


def training_figure(
    curves: Sequence[xr.Dataset], networks: Sequence[Mapping[str, Any]], path: str | Path
) -> Path:
    """Loss (log scale) and validation performance against training updates.

    One column per learning rule (their updates and losses differ), the loss on top and
    the validation performance below; one line per network, coloured by architecture ×
    learning rule; lines are more transparent the more networks a combination has
    (opacity 3/√n within [0.25, 0.9]). Curves of diverged networks end in a cross at their
    last finite loss, those that did not converge in an open circle. Failed networks have
    no curve and are named in the title (the first :data:`MAX_LISTED`, then a count).

    Parameters
    ----------
    curves
        Training curves (``training.nc``): ``loss`` along ``iteration``,
        ``validation_score`` along ``validation`` with coordinate
        ``validation_iteration``, and the attribute ``status`` (``unit`` names the
        update). A failed network's curve may be empty.
    networks
        The grid labels of each curve (:data:`LABELS`), in the same order.
    path
        Output file, ``.png`` or ``.svg``.

    Raises
    ------
    ReportInputError
        If a curve lacks ``status`` or, unless failed, ``loss``; or a label is missing.
    ValueError
        If ``curves`` and ``networks`` differ in length or are empty.
    """
    if len(curves) != len(networks):
        raise ValueError(f"give one label mapping per curve: {len(curves)} vs {len(networks)}")
    if not curves:
        raise ValueError("training_figure needs at least one curve")
    entries = []
    for i, (curve, labels) in enumerate(zip(curves, networks, strict=True)):
        source = source_of(curve, f"training curve {i}")
        missing = [key for key in LABELS if key not in labels]
        if missing:
            raise ReportInputError(f"{source}: label(s) {', '.join(missing)} missing")
        if "status" not in curve.attrs:
            raise ReportInputError(f"{source}: attribute 'status' is missing")
        status = str(curve.attrs["status"])
        if status != "failed":
            require(curve, source, variables=["loss"])
        entries.append((curve, labels, status))

    rules = sorted({str(labels["learning_rule"]) for _, labels, _ in entries})
    cells = sorted({(str(n["architecture"]), str(n["learning_rule"])) for _, n, _ in entries})
    colours = level_colours("cell", [cell_name(*c) for c in cells])
    has_validation = any(
        "validation_score" in curve and curve.sizes.get("validation", 0) for curve, _, _ in entries
    )
    n_networks = {
        c: sum(1 for _, n, _ in entries if (n["architecture"], n["learning_rule"]) == c)
        for c in cells
    }
    alpha = float(np.clip(3.0 / np.sqrt(max(n_networks.values())), 0.25, 0.9))
    task = str(entries[0][1]["task"])
    failed = [_network_key(n) for _, n, status in entries if status == "failed"]
    statuses_drawn: set[str] = set()

    with styled():
        n_rows = 2 if has_validation else 1
        figure = new_figure(n_rows, len(rules), height=2.8, width=max(4.0, 7.0 / len(rules)))
        axes = figure.subplots(n_rows, len(rules), squeeze=False, sharex="col")
        for c, rule in enumerate(rules):
            loss_ax = axes[0, c]
            loss_ax.set_title(f"learning rule {rule}")
            unit = "update"
            positive = True
            drawn = False
            for curve, labels, status in entries:
                if str(labels["learning_rule"]) != rule or status == "failed":
                    continue
                unit = str(curve.attrs.get("unit", unit))
                colour = colours[cell_name(str(labels["architecture"]), rule)]
                x = np.asarray(curve["iteration"].values, dtype=float)
                y = np.asarray(curve["loss"].values, dtype=float)
                finite = np.isfinite(y)
                positive &= bool((y[finite] > 0).all())
                if finite.any():
                    loss_ax.plot(x, np.where(finite, y, np.nan), color=colour, alpha=alpha)
                    drawn = True
                    if status in MARKED_STATUSES:
                        last = np.flatnonzero(finite)[-1]
                        marker, filled = STATUS_MARKERS[status]
                        loss_ax.plot(
                            x[last],
                            y[last],
                            marker=marker,
                            markersize=7,
                            markerfacecolor=colour if filled else "none",
                            markeredgecolor=colour,
                            linestyle="",
                        )
                        statuses_drawn.add(status)
                if has_validation and "validation_score" in curve:
                    vx = np.asarray(curve["validation_iteration"].values, dtype=float)
                    vy = np.asarray(curve["validation_score"].values, dtype=float)
                    axes[1, c].plot(vx, vy, color=colour, alpha=alpha, marker=".", markersize=3)
            if not drawn:
                empty_panel(loss_ax, "no finite loss")
            elif positive:
                loss_ax.set_yscale("log")
            loss_ax.set_ylabel("training loss" + (" (log)" if drawn and positive else ""))
            axes[-1, c].set_xlabel(f"training {unit}")
            if has_validation:
                axes[1, c].set_ylabel("validation performance")
                axes[1, c].set_ylim(-0.02, 1.02)
        handles = [
            Line2D([], [], color=colours[cell_name(*cell)], label=cell_name(*cell))
            for cell in cells
        ]
        for status in MARKED_STATUSES:
            if status in statuses_drawn:
                marker, filled = STATUS_MARKERS[status]
                handles.append(
                    Line2D(
                        [],
                        [],
                        linestyle="",
                        marker=marker,
                        markerfacecolor="0.3" if filled else "none",
                        markeredgecolor="0.3",
                        label=f"end: {STATUS_NAMES[status]}",
                    )
                )
        figure.legend(handles=handles, loc="outside lower center", ncols=min(len(handles), 4))
        title = f"{task}: training curves of {len(entries)} networks"
        if failed:
            listed = ", ".join(failed[:MAX_LISTED])
            more = f" and {len(failed) - MAX_LISTED} more" if len(failed) > MAX_LISTED else ""
            chars = int(CHARACTERS_PER_INCH * figure.get_figwidth())
            title += "\n" + textwrap.fill(f"failed (no curve): {listed}{more}", chars)
        figure.suptitle(title)
        return save_figure(figure, path)


def training_report(
    curve_paths: Sequence[str | Path], networks: Sequence[Mapping[str, Any]], path: str | Path
) -> Path:
    """Read the ``training.nc`` files (one per label mapping in ``networks``) and plot them.

    Raises
    ------
    FileNotFoundError
        If a file does not exist.
    """
    curves = [open_input(p, "training curve") for p in curve_paths]
    return training_figure(curves, networks, path)
