"""The factor summary in the report: a TSV table, an HTML table and a figure.

The factor summary says, for every distance metric and grid axis, how well the axis
separates the networks: the silhouette of the axis's groups on the metric's distances
and the ratio of mean between-group to mean within-group distance, each with a
bootstrap confidence interval over networks.
"""

from __future__ import annotations

import html
import math
from pathlib import Path
from typing import Any

import numpy as np
import xarray as xr
from matplotlib.lines import Line2D

from rnn_analysis.report.inputs import ReportInputError, open_input, require, source_of
from rnn_analysis.report.style import (
    AXIS_NAMES,
    empty_panel,
    level_colours,
    new_figure,
    save_figure,
    styled,
)

#: Variables of a factor summary that the table and the figure read.
FACTOR_VARIABLES = (
    "silhouette",
    "silhouette_ci",
    "between_within",
    "between_within_ci",
    "n_groups",
    "n_bootstrap_used",
)
#: Columns of the factor table, in order.
COLUMNS = (
    "metric",
    "family",
    "factor",
    "n_groups",
    "silhouette",
    "silhouette_low",
    "silhouette_high",
    "between_within",
    "between_within_low",
    "between_within_high",
    "n_bootstrap_used",
)
#: Value beyond which a statistic means the factor separates the networks.
NULL_VALUES = {"silhouette": 0.0, "between_within": 1.0}

_READING = (
    "Silhouette: +1 means the factor's groups are compact and far apart, 0 that they "
    "overlap, negative that networks sit closer to other groups than to their own. "
    "Between/within: mean distance between networks of different groups over mean "
    "distance within groups; 1 means no separation. Intervals are bootstrap confidence "
    "intervals over networks; a value is shown in bold when its whole interval lies "
    "beyond the no-separation value (silhouette > 0, between/within > 1). A dash marks "
    "a factor with a single level among the networks, where neither statistic is defined."
)


def _check(factors: xr.Dataset) -> str:
    source = source_of(factors, "factor summary")
    require(factors, source, variables=FACTOR_VARIABLES, dims=("metric", "factor", "bound"))
    for name in ("silhouette", "between_within", "n_bootstrap_used"):
        if set(factors[name].dims) != {"metric", "factor"}:
            raise ReportInputError(
                f"{source}: {name} must have dims (metric, factor), got {factors[name].dims}"
            )
    for name in ("silhouette_ci", "between_within_ci"):
        if set(factors[name].dims) != {"metric", "factor", "bound"}:
            raise ReportInputError(
                f"{source}: {name} must have dims (metric, factor, bound), got {factors[name].dims}"
            )
    bounds = [str(b) for b in np.asarray(factors["bound"].values)] if "bound" in factors else []
    if bounds and sorted(bounds) != ["high", "low"]:
        raise ReportInputError(f"{source}: bound must be ['low', 'high'], got {bounds}")
    return source


def _labels(factors: xr.Dataset, dim: str) -> list[str]:
    if dim in factors.coords:
        return [str(v) for v in np.asarray(factors[dim].values)]
    return [str(i) for i in range(factors.sizes[dim])]


def factor_rows(factors: xr.Dataset) -> list[dict[str, Any]]:
    """The factor summary as one row per metric × factor (metric-major), keyed by :data:`COLUMNS`.

    ``family`` comes from a ``family`` coordinate along ``metric`` when present (else
    ""); statistics are floats (NaN where undefined), counts ints.

    Raises
    ------
    ReportInputError
        If a variable of :data:`FACTOR_VARIABLES` or a dimension is missing.
    """
    _check(factors)
    metrics = _labels(factors, "metric")
    names = _labels(factors, "factor")
    family = (
        [str(v) for v in np.asarray(factors["family"].values)]
        if "family" in factors.coords and factors["family"].dims == ("metric",)
        else [""] * len(metrics)
    )
    n_groups = factors["n_groups"]
    rows = []
    for m, metric in enumerate(metrics):
        for f, factor in enumerate(names):
            at = {"metric": m, "factor": f}
            row: dict[str, Any] = {
                "metric": metric,
                "family": family[m],
                "factor": factor,
                "n_groups": int(n_groups.isel(factor=f)) if "factor" in n_groups.dims else -1,
                "n_bootstrap_used": int(factors["n_bootstrap_used"].isel(at)),
            }
            for stat in ("silhouette", "between_within"):
                row[stat] = float(factors[stat].isel(at))
                interval = factors[f"{stat}_ci"].isel(at)
                row[f"{stat}_low"] = float(interval.sel(bound="low"))
                row[f"{stat}_high"] = float(interval.sel(bound="high"))
            rows.append(row)
    return rows


def _tsv_value(value: Any) -> str:
    if isinstance(value, float):
        return "NaN" if math.isnan(value) else f"{value:.6g}"
    return str(value)


def write_factor_tsv(factors: xr.Dataset, path: str | Path) -> Path:
    """Write :func:`factor_rows` as a tab-separated table with a header row."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    lines = ["\t".join(COLUMNS)]
    lines += ["\t".join(_tsv_value(row[c]) for c in COLUMNS) for row in factor_rows(factors)]
    path.write_text("\n".join(lines) + "\n")
    return path


def _number(value: float) -> str:
    if math.isinf(value):
        return "∞" if value > 0 else "−∞"
    return f"{value:.2f}"


def _cell(value: float, low: float, high: float, null: float) -> str:
    if math.isnan(value):
        return '<td class="na" title="a single level: undefined">—</td>'
    text = _number(value)
    if not (math.isnan(low) or math.isnan(high)):
        text += f' <span class="ci">[{_number(low)}, {_number(high)}]</span>'
    separated = not math.isnan(low) and low > null
    return f'<td class="sep">{text}</td>' if separated else f"<td>{text}</td>"


def _html_table(rows: list[dict[str, Any]], stat: str, caption: str) -> str:
    metrics = list(dict.fromkeys(r["metric"] for r in rows))
    names = list(dict.fromkeys(r["factor"] for r in rows))
    by_key = {(r["metric"], r["factor"]): r for r in rows}
    groups = {r["factor"]: r["n_groups"] for r in rows}
    head = "".join(
        f"<th>{html.escape(AXIS_NAMES.get(f, f))}<br><small>{groups[f]} "
        f"level{'' if groups[f] == 1 else 's'}</small></th>"
        for f in names
    )
    body = []
    for metric in metrics:
        family = by_key[(metric, names[0])]["family"] if names else ""
        cells = "".join(
            _cell(
                by_key[(metric, f)][stat],
                by_key[(metric, f)][f"{stat}_low"],
                by_key[(metric, f)][f"{stat}_high"],
                NULL_VALUES[stat],
            )
            for f in names
        )
        body.append(
            f"<tr><th>{html.escape(metric)}</th><td class='family'>{html.escape(family)}</td>"
            f"{cells}</tr>"
        )
    return (
        f"<table><caption>{html.escape(caption)}</caption>"
        f"<thead><tr><th>metric</th><th>family</th>{head}</tr></thead>"
        f"<tbody>{''.join(body)}</tbody></table>"
    )


def factor_html(factors: xr.Dataset) -> str:
    """A self-contained HTML page with the silhouette and between/within tables.

    Rows are metrics, columns the grid axes; each cell holds the statistic and its
    confidence interval, in bold where the interval excludes no separation.
    """
    rows = factor_rows(factors)
    task = str(factors.attrs.get("task", ""))
    confidence = factors.attrs.get("confidence")
    level = f"{100 * float(confidence):g}% " if confidence is not None else ""
    title = f"How the grid axes separate the networks{f' of {task}' if task else ''}"
    style = (
        "body{font-family:sans-serif;font-size:13px;margin:1em;color:#222}"
        "table{border-collapse:collapse;margin:0 0 1.5em 0}"
        "caption{text-align:left;font-weight:bold;padding:0 0 .4em 0}"
        "th,td{border-bottom:1px solid #ddd;padding:.3em .7em;text-align:right}"
        "thead th{border-bottom:2px solid #888;text-align:center}"
        "tbody th,td.family{text-align:left}td.family{color:#666}"
        "td.sep{font-weight:bold}td.na{color:#999;text-align:center}"
        ".ci{color:#666;font-size:11px}p{max-width:60em}"
    )
    return (
        "<!DOCTYPE html>\n<html><head><meta charset='utf-8'>"
        f"<title>{html.escape(title)}</title><style>{style}</style></head><body>"
        f"<h3>{html.escape(title)}</h3>"
        + _html_table(rows, "silhouette", f"Silhouette [{level}CI]")
        + _html_table(rows, "between_within", f"Between/within distance ratio [{level}CI]")
        + f"<p>{html.escape(_READING)}</p></body></html>\n"
    )


def write_factor_html(factors: xr.Dataset, path: str | Path) -> Path:
    """Write :func:`factor_html` to ``path``."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(factor_html(factors))
    return path


def factor_figure(factors: xr.Dataset, path: str | Path) -> Path:
    """Silhouette (top) and between/within ratio (bottom) per metric, grouped by factor.

    Each metric has one point per grid axis (colour) with its confidence interval as
    an error bar; the dashed line marks no separation (0 and 1). Undefined values
    (a factor with a single level) are left out; infinite ratios are drawn at the top
    edge with an upward arrow.

    Raises
    ------
    ReportInputError
        If a variable of :data:`FACTOR_VARIABLES` or a dimension is missing.
    """
    rows = factor_rows(factors)
    metrics = list(dict.fromkeys(r["metric"] for r in rows))
    names = list(dict.fromkeys(r["factor"] for r in rows))
    colours = level_colours("factor", names)
    task = str(factors.attrs.get("task", ""))
    width = 0.8 / max(len(names), 1)
    with styled():
        figure = new_figure(2, 1, height=2.6, width=max(7.0, 4.5 + 0.8 * len(metrics)))
        axes = figure.subplots(2, 1, sharex=True)
        for ax, stat, label in (
            (axes[0], "silhouette", "silhouette"),
            (axes[1], "between_within", "between / within distance"),
        ):
            ax.axhline(NULL_VALUES[stat], color="0.4", linestyle="--", linewidth=0.8)
            ax.set_ylabel(label)
            if not rows:
                empty_panel(ax, "no metric or factor")
                continue
            finite = [
                v
                for r in rows
                for v in (r[stat], r[f"{stat}_low"], r[f"{stat}_high"])
                if np.isfinite(v)
            ]
            top = max(finite) if finite else NULL_VALUES[stat] + 1
            for f, factor in enumerate(names):
                offset = (f - (len(names) - 1) / 2) * width
                for m in range(len(metrics)):
                    row = rows[m * len(names) + f]
                    value, low, high = row[stat], row[f"{stat}_low"], row[f"{stat}_high"]
                    x = m + offset
                    if math.isnan(value):
                        continue
                    if math.isinf(value):
                        ax.annotate(
                            "∞",
                            (x, top),
                            ha="center",
                            va="bottom",
                            color=colours[factor],
                            fontsize=8,
                        )
                        continue
                    err = None
                    if np.isfinite(low) and np.isfinite(high):
                        err = [[max(value - low, 0.0)], [max(high - value, 0.0)]]
                    ax.errorbar(
                        [x],
                        [value],
                        yerr=err,
                        fmt="o",
                        color=colours[factor],
                        markersize=5,
                        capsize=2.5,
                        linewidth=1.2,
                    )
            ax.set_xlim(-0.6, len(metrics) - 0.4)
            if stat == "silhouette":
                low_edge = min([*finite, 0.0]) if finite else -1
                ax.set_ylim(min(low_edge - 0.05, -0.1), max(top + 0.05, 0.1))
        axes[1].set_xticks(range(len(metrics)))
        axes[1].set_xticklabels(metrics, rotation=30, ha="right")
        n_groups = {r["factor"]: r["n_groups"] for r in rows}

        def legend_label(factor: str) -> str:
            count = n_groups[factor]
            levels = "1 level: undefined" if count == 1 else f"{count} levels"
            return f"{AXIS_NAMES.get(factor, factor)} ({levels})"

        handles = [
            Line2D(
                [],
                [],
                marker="o",
                color=colours[f],
                label=legend_label(f),
            )
            for f in names
        ]
        if handles:
            figure.legend(handles=handles, loc="outside lower center", ncols=min(len(handles), 3))
        confidence = factors.attrs.get("confidence")
        level = f" ({100 * float(confidence):g}% CI)" if confidence is not None else ""
        prefix = f"{task}: " if task else ""
        figure.suptitle(f"{prefix}how each grid axis separates the networks{level}")
        return save_figure(figure, path)


def factor_report(
    factors_path: str | Path,
    tsv: str | Path,
    html_path: str | Path,
    figure: str | Path,
) -> list[Path]:
    """Write the TSV table, the HTML table and the figure of a ``factors.nc`` file.

    Raises
    ------
    FileNotFoundError
        If ``factors_path`` does not exist.
    ReportInputError
        If it lacks a variable the table needs.
    """
    factors = open_input(factors_path, "factor summary")
    return [
        write_factor_tsv(factors, tsv),
        write_factor_html(factors, html_path),
        factor_figure(factors, figure),
    ]
