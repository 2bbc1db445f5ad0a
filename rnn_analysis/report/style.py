"""The look shared by every figure of the report: sizes, fonts, colours, markers, saving.

Figures are :class:`matplotlib.figure.Figure` objects attached to the Agg canvas
directly: no pyplot state, no display, and the process-wide backend is left alone (so
importing this module in a notebook changes nothing there). They are saved as PNG or SVG
without time stamps or version metadata, so that rerunning a rule on the same data writes
the same bytes.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import matplotlib
import numpy as np
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.lines import Line2D

from rnn_analysis.config import format_noise

#: Matplotlib settings of every figure.
STYLE: dict[str, Any] = {
    "font.size": 9,
    "axes.titlesize": 9,
    "axes.labelsize": 9,
    "figure.titlesize": 11,
    "legend.fontsize": 8,
    "legend.title_fontsize": 8,
    "legend.frameon": False,
    "xtick.labelsize": 8,
    "ytick.labelsize": 8,
    "axes.spines.top": False,
    "axes.spines.right": False,
    "axes.grid": True,
    "grid.alpha": 0.25,
    "grid.linewidth": 0.6,
    "lines.linewidth": 1.2,
    "savefig.dpi": 150,
    "savefig.facecolor": "white",
    "svg.hashsalt": "rnn_analysis",
    "svg.fonttype": "none",
}

#: Width of one panel, inches.
PANEL_WIDTH = 3.6
#: Height of one panel, inches.
PANEL_HEIGHT = 3.0

#: Training statuses in the order legends list them.
STATUSES = ("converged", "not_converged", "trivial", "diverged", "failed")
#: How a network of each status is drawn in scatter plots: marker and whether it is filled.
STATUS_MARKERS: dict[str, tuple[str, bool]] = {
    "converged": ("o", True),
    "not_converged": ("o", False),
    "trivial": ("s", False),
    "diverged": ("X", True),
    "failed": ("P", True),
}
#: Readable status names.
STATUS_NAMES = {
    "converged": "converged",
    "not_converged": "did not converge",
    "trivial": "met the criterion untrained",
    "diverged": "diverged",
    "failed": "failed",
}
#: Readable names of the grid axes.
AXIS_NAMES = {
    "task": "task",
    "architecture": "architecture",
    "learning_rule": "learning rule",
    "noise": "input noise",
    "seed": "seed",
}
#: Colour of lines and points that carry no group (e.g. probe trajectories).
NEUTRAL = "0.55"

_QUALITATIVE = ("tab10", "tab20")
_SEQUENTIAL = "viridis"
_SAVE_METADATA = {
    ".png": {"Software": None},
    ".svg": {"Date": None, "Creator": None},
}


@contextlib.contextmanager
def styled() -> Iterator[None]:
    """Apply :data:`STYLE` while figures are built and saved."""
    with matplotlib.rc_context(STYLE):
        yield


def new_figure(
    n_rows: int = 1,
    n_cols: int = 1,
    *,
    height: float = PANEL_HEIGHT,
    width: float = PANEL_WIDTH,
) -> Figure:
    """A figure sized for a grid of ``n_rows`` × ``n_cols`` panels of ``width`` × ``height``
    inches, with constrained layout."""
    figure = Figure(figsize=(width * max(n_cols, 1), height * max(n_rows, 1)), layout="constrained")
    FigureCanvasAgg(figure)
    return figure


def save_figure(figure: Figure, path: str | Path) -> Path:
    """Save as PNG or SVG (by the suffix of ``path``), creating the folder.

    Raises
    ------
    ValueError
        If the suffix is neither ``.png`` nor ``.svg``.
    """
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix not in _SAVE_METADATA:
        raise ValueError(f"figure {path}: the suffix must be .png or .svg, got {suffix!r}")
    path.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(path, format=suffix[1:], metadata=_SAVE_METADATA[suffix])
    return path


def format_level(axis: str, value: Any) -> str:
    """A label as it is written in legends and titles (noise as in paths, floats by ``:g``)."""
    if axis == "noise":
        return format_noise(float(value))
    if isinstance(value, bytes):
        return value.decode()
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float):
        return f"{value:g}"
    return str(value)


def sorted_levels(values: Sequence[Any] | np.ndarray) -> list[Any]:
    """Distinct values in their natural order (numbers by value, anything else as text)."""
    distinct = list(dict.fromkeys(np.asarray(values).tolist()))
    if all(isinstance(v, int | float) and not isinstance(v, bool) for v in distinct):
        return sorted(distinct)
    return sorted(distinct, key=str)


def level_colours(axis: str, levels: Sequence[Any]) -> dict[Any, Any]:
    """One colour per level of a grid axis.

    Numeric axes (noise, seed) run along the sequential ``viridis`` map in increasing
    order, so that neighbouring levels have neighbouring colours; anything else gets
    the qualitative ``tab10`` colours (``tab20`` beyond ten levels, repeating beyond
    twenty).
    """
    levels = list(levels)
    numeric = axis in ("noise", "seed") or all(
        isinstance(v, int | float) and not isinstance(v, bool) for v in levels
    )
    if numeric and len(levels) > 1:
        cmap = matplotlib.colormaps[_SEQUENTIAL]
        positions = np.linspace(0.0, 0.9, len(levels))
        return {level: cmap(p) for level, p in zip(levels, positions, strict=True)}
    cmap = matplotlib.colormaps[_QUALITATIVE[0] if len(levels) <= 10 else _QUALITATIVE[1]]
    return {level: cmap(i % cmap.N) for i, level in enumerate(levels)}


def status_handles(statuses: Sequence[str], colour: Any = "0.3") -> list[Line2D]:
    """Legend entries explaining the status markers of the statuses present."""
    handles = []
    for status in STATUSES:
        if status not in statuses:
            continue
        marker, filled = STATUS_MARKERS[status]
        handles.append(
            Line2D(
                [],
                [],
                linestyle="",
                marker=marker,
                markersize=6,
                markerfacecolor=colour if filled else "none",
                markeredgecolor=colour,
                label=STATUS_NAMES[status],
            )
        )
    return handles


def empty_panel(ax: Any, message: str) -> None:
    """Show ``message`` in place of data on an axes without any."""
    ax.text(
        0.5,
        0.5,
        message,
        ha="center",
        va="center",
        transform=ax.transAxes,
        wrap=True,
        color="0.35",
    )
    ax.set_xticks([])
    ax.set_yticks([])
    ax.grid(False)
