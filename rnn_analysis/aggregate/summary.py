"""The per-network summary of one task: one row per network, whatever its status.

Every analysed network of a task becomes a row: its grid labels, training status and
why, behaviour, fixed-point counts, attractor structure, the task's known results
(``known_<name>``) and whether it enters the comparisons. :func:`summarise` builds the
summary dataset alone (for scripts and tests); :func:`~rnn_analysis.aggregate.task.
aggregate_task` builds it together with the similarity matrices.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import xarray as xr

from rnn_analysis.aggregate.params import AggregateParams
from rnn_analysis.aggregate.solution_space import TYPE_COLUMNS, type_population
from rnn_analysis.aggregate.type_prediction import training_features
from rnn_analysis.analysis.labelled_graph import LabelledGraph
from rnn_analysis.analysis.reduced_graph import graph_from_dataset
from rnn_analysis.analysis.selection_summary import SUMMARY_VARIABLES as SELECTION_COLUMNS
from rnn_analysis.config import NETWORK_AXES
from rnn_analysis.grid import format_value
from rnn_analysis.hyperparameters import from_mapping
from rnn_analysis.io import CURVE_FILE, provenance
from rnn_analysis.tasks import TASKS, Task

#: Largest number of unstable modes counted separately in the summary; more are pooled.
MAX_UNSTABLE_MODES = 3


def axis_values(values: Sequence[Any]) -> np.ndarray:
    """One extra axis's values over networks (None where the axis does not apply): floats
    with NaN where every value present is a number, else text with ``""``."""
    present = [v for v in values if v is not None]
    if all(isinstance(v, int | float) and not isinstance(v, bool) for v in present):
        return np.array([np.nan if v is None else float(v) for v in values], dtype=float)
    return np.array(["" if v is None else format_value(v) for v in values], dtype=str)


def label_coords(rows: Sequence[Mapping[str, Any]], dim: str, suffix: str = "") -> dict:
    """The grid labels of ``rows`` as coordinates along ``dim``: the network axes, the
    extra axes (:func:`axis_values`; missing where an axis does not apply to a network's
    cell), ``network_key`` and ``status``."""
    coords = {}
    for axis in NETWORK_AXES:
        values = [row[axis] for row in rows]
        dtype = float if axis == "noise" else (int if axis == "seed" else str)
        coords[f"{axis}{suffix}"] = (dim, np.array(values, dtype=dtype))
    names = sorted({name for row in rows for name in row.get("axes", {})})
    for name in names:
        values = axis_values([row.get("axes", {}).get(name) for row in rows])
        coords[f"{name}{suffix}"] = (
            dim,
            values,
            {
                "long_name": f"grid axis {name} (missing: does not apply to the cell)",
                "grid_axis": 1,
            },
        )
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


def _continuous_time_counts(ds: xr.Dataset) -> dict[str, int]:
    """Stable fixed points of the continuous-time flow and fixed points whose verdicts
    differ between the Euler map and the flow; -1 for both where the analysis has no
    continuous-time view (a discrete-time architecture, or no analysis)."""
    disagreements = ds.get("n_stability_disagreements")
    if disagreements is None or int(disagreements) < 0:
        return {"n_stable_ct": -1, "n_stability_disagreements": -1}
    fixed = ds["kind"].values == "fixed"
    return {
        "n_stable_ct": int((fixed & (ds["n_unstable_ct"].values == 0)).sum()),
        "n_stability_disagreements": int(disagreements),
    }


#: Per-network fits of the psychometric curve copied into the summary (NaN, and a note,
#: where the task has no psychometric set or the analysis did not run).
PSYCHOMETRIC_COLUMNS = (
    "psychometric_slope",
    "psychometric_bias",
    "psychometric_lapse",
    "psychometric_fit_rms",
)


def _psychometric_fit(ds: xr.Dataset) -> dict[str, Any]:
    if "psychometric_slope" not in ds:
        values: dict[str, Any] = dict.fromkeys(PSYCHOMETRIC_COLUMNS, np.nan)
        if "analysis_skipped" in ds.attrs:
            note = "not analysed"
        elif "psychometric_p_positive" in ds:
            note = "the analysis holds a psychometric curve but no fit"
        else:
            note = "no psychometric set"
        values["psychometric_fit_note"] = note
        return values
    values = {name: float(ds[name]) for name in PSYCHOMETRIC_COLUMNS}
    values["psychometric_fit_note"] = str(ds["psychometric_fit_note"].values)
    return values


def _selection(ds: xr.Dataset) -> dict[str, Any]:
    """The selection-vector summaries of a context task's network; NaN and False for a
    network without them (a task without context inputs, or no analysis)."""
    values: dict[str, Any] = {}
    for name in SELECTION_COLUMNS:
        if name == "selects_relevant_input":
            values[name] = bool(ds[name]) if name in ds else False
        else:
            values[name] = float(ds[name]) if name in ds else np.nan
    return values


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
    "n_stable_ct": (
        "fixed points stable as equilibria of the continuous-time flow of a rate network "
        "(no eigenvalue of (dF/dh - I)/alpha with real part > 0); -1: discrete-time "
        "architecture or not analysed",
        "1",
    ),
    "n_stability_disagreements": (
        "fixed points whose stability differs between the Euler map (|λ| > 1) and the "
        "continuous-time flow (Re λ_ct > 0); -1: discrete-time architecture or not analysed",
        "1",
    ),
    "psychometric_slope": (
        "slope of the logistic-with-lapse fit of the psychometric curve, all conditions "
        "pooled, per unit of the task's evidence (NaN: no psychometric set or no fit)",
        "1/evidence (the task's evidence units)",
    ),
    "psychometric_bias": (
        "evidence at which the fitted psychometric curve passes 0.5 (NaN: no fit)",
        "evidence (the task's evidence units)",
    ),
    "psychometric_lapse": ("symmetric lapse rate of the psychometric fit (NaN: no fit)", "1"),
    "psychometric_fit_rms": ("RMS residual of the psychometric fit (NaN: no fit)", "1"),
    "psychometric_fit_note": (
        "why the psychometric fit is missing or its slope capped (empty: an ordinary fit)",
        "",
    ),
    **{
        name: (
            f"{text}; NaN (false) without selection vectors: a task without context "
            "inputs, or not analysed",
            units,
        )
        for name, (text, units) in SELECTION_COLUMNS.items()
    },
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
    "n_probe_errors": (
        "probe trials answered wrongly, left out of the reduced-dynamics graph (-1: no graph)",
        "1",
    ),
    **{name: (text, "") for name, text in TYPE_COLUMNS.items()},
}
_STRING_COLUMNS = (
    "status_reason",
    "topology_signature",
    "psychometric_fit_note",
    *TYPE_COLUMNS,
)
#: Scalar variables of an analysis copied into the summary under their own name.
EXTRAPOLATION_FEATURE_PREFIX = "extrapolation_feature_"


def _task_of(ds: xr.Dataset, path: str | Path) -> Task:
    """The task of an analysed network, with the hyperparameters it was analysed with."""
    spec = json.loads(ds.attrs.get("analysis_spec", "{}"))
    name = ds.attrs["task"]
    return TASKS[name](from_mapping(TASKS[name].Params, spec.get("task"), f"{path}: task"))


def read_analysis(path: str | Path, task: str) -> xr.Dataset:
    """A network's analysis dataset, loaded; errors name the file."""
    try:
        with xr.open_dataset(path) as ds:
            ds = ds.load()
    except (OSError, ValueError) as err:
        raise ValueError(f"{path}: cannot read the analysis dataset: {err}") from err
    if ds.attrs.get("task") != task:
        raise ValueError(f"{path}: belongs to task {ds.attrs.get('task')!r}, not {task!r}")
    return ds


def summary_row(ds: xr.Dataset, path: str | Path, params: AggregateParams) -> dict[str, Any]:
    """One network's row of the summary (the type columns are filled in later).

    Scalar ``extrapolation_feature_*`` variables of the analysis become columns too, as
    (value, long name, units) under the row's ``"extrapolation"`` key, and the neural
    features recorded during training (the ``training.nc`` beside the analysis) go
    under ``"training"`` (:func:`~rnn_analysis.aggregate.type_prediction.
    training_features`).
    """
    row: dict[str, Any] = {axis: ds.attrs[axis] for axis in NETWORK_AXES}
    row["axes"] = json.loads(ds.attrs.get("grid_axes", "{}"))
    row.update(
        network=ds.attrs["network"],
        status=ds.attrs["status"],
        status_reason=ds.attrs.get("status_reason", ""),
        iterations=int(ds.attrs["iterations"]),
        untrained_validation_score=float(ds.attrs.get("untrained_validation_score", np.nan)),
        training_wall_time_s=float(ds.attrs.get("training_wall_time_s", np.nan)),
        performance_noisy=float(ds["performance_noisy"]) if "performance_noisy" in ds else np.nan,
        performance_noise_free=(
            float(ds["performance_noise_free"]) if "performance_noise_free" in ds else np.nan
        ),
        **_fixed_point_counts(ds),
        **_continuous_time_counts(ds),
        **_psychometric_fit(ds),
        **_selection(ds),
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
    row["n_probe_errors"] = int(ds.attrs.get("reduced_graph_n_probe_errors", -1))
    known = TASKS[ds.attrs["task"]].known_result_descriptions
    checks = _task_of(ds, path).known_results(ds) if analysed else {}
    for name in known:
        row[f"known_{name}"] = bool(checks.get(name, False))
    row["extrapolation"] = {
        name: (float(var), var.attrs.get("long_name", name), var.attrs.get("units", ""))
        for name, var in ds.data_vars.items()
        if str(name).startswith(EXTRAPOLATION_FEATURE_PREFIX) and var.ndim == 0
    }
    row["training"] = training_features(Path(path).parent / CURVE_FILE)
    row["in_similarity"] = in_similarity(ds, params)
    return row


def in_similarity(ds: xr.Dataset, params: AggregateParams) -> bool:
    """Whether a network's analysis enters the comparisons: finite probe activity and
    a training status that ``params`` includes (see :meth:`AggregateParams.includes`)."""
    usable = "probe_hidden" in ds and bool(np.isfinite(ds["probe_hidden"].values).all())
    return bool(usable and params.includes(ds.attrs["status"]))


@dataclass
class SummaryRows:
    """Summary rows of networks and what typing them needs.

    Attributes
    ----------
    rows
        One :func:`summary_row` per network, in grid order.
    graphs, profiles
        Reduced-dynamics graphs and extrapolation profiles by row index, where present
        (:func:`typing_inputs`).
    """

    rows: list[dict[str, Any]] = field(default_factory=list)
    graphs: dict[int, LabelledGraph] = field(default_factory=dict)
    profiles: dict[int, xr.DataArray] = field(default_factory=dict)

    def extend(self, other: SummaryRows) -> None:
        """Append ``other``'s networks after these."""
        offset = len(self.rows)
        self.rows.extend(other.rows)
        self.graphs.update({offset + i: g for i, g in other.graphs.items()})
        self.profiles.update({offset + i: p for i, p in other.profiles.items()})


def read_rows(
    analyses: Sequence[str | Path],
    task: str,
    params: AggregateParams,
    on_compared: Callable[[str, xr.Dataset], None] | None = None,
) -> SummaryRows:
    """Read every analysis into its summary row; ``on_compared(key, ds)`` is called for
    each network that enters the comparisons (:func:`in_similarity`)."""
    out = SummaryRows()
    for path in analyses:
        ds = read_analysis(path, task)
        row = summary_row(ds, path, params)
        typing_inputs(ds, len(out.rows), out.graphs, out.profiles)
        if row["in_similarity"] and on_compared is not None:
            on_compared(row["network"], ds)
        out.rows.append(row)
    return out


def typing_inputs(
    ds: xr.Dataset,
    index: int,
    graphs: dict[int, LabelledGraph],
    profiles: dict[int, xr.DataArray],
) -> None:
    """Collect row ``index``'s reduced graph and extrapolation profile, where present."""
    if "solution_hash" in ds:
        graphs[index] = graph_from_dataset(ds)
    if "extrapolation_profile" in ds:
        # without its condition coordinates: profiles of one task align by position
        profiles[index] = ds["extrapolation_profile"].reset_coords(drop=True)


def summary_dataset(
    task: str,
    rows: Sequence[Mapping[str, Any]],
    params: AggregateParams,
    types: xr.Dataset | None = None,
) -> xr.Dataset:
    """The summary dataset of ``task`` from its rows (and the type table of
    :func:`~rnn_analysis.aggregate.solution_space.type_population`)."""
    known = TASKS[task].known_result_descriptions
    summary = xr.Dataset(coords=label_coords(rows, "network"))
    columns = {
        **_SUMMARY_ATTRS,
        **{f"known_{name}": (f"known result: {text}", "1") for name, text in known.items()},
    }
    units = TASKS[task].psychometric_evidence_units
    for key, unit in (
        ("psychometric_slope", "1" if units == "1" else f"1/({units})"),
        ("psychometric_bias", units),
    ):
        columns[key] = (columns[key][0], unit)
    for key, (long_name, units) in columns.items():
        values = np.array([row[key] for row in rows])
        if key in _STRING_COLUMNS:
            values = values.astype(str)
        summary[key] = ("network", values, {"long_name": long_name, "units": units})
    features: dict[str, tuple[str, str]] = {}
    for row in rows:
        for name, (_, long_name, units) in row.get("extrapolation", {}).items():
            features.setdefault(name, (long_name, units))
    for name, (long_name, units) in sorted(features.items()):
        values = np.array([row.get("extrapolation", {}).get(name, (np.nan,))[0] for row in rows])
        summary[name] = ("network", values.astype(float), {"long_name": long_name, "units": units})
    names = list(dict.fromkeys(k for row in rows for k in row.get("training", {})))
    if names:
        summary["training_features"] = (
            ("network", "training_feature"),
            np.array(
                [[row.get("training", {}).get(k, np.nan) for k in names] for row in rows],
                dtype=float,
            ),
            {
                "long_name": "neural features recorded during training: at initialisation "
                "(_init), at the end (_final) and their change (_change)",
            },
        )
        summary.coords["training_feature"] = ("training_feature", names)
    if types is not None:
        summary = summary.merge(types, combine_attrs="override")
        summary.attrs = {}
        summary.attrs.update({f"solution_space_{k}": v for k, v in types.attrs.items()})
    summary.attrs.update(
        {
            **provenance_attrs(task, params),
            "title": f"per-network summary of task {task}",
        }
    )
    return summary


def provenance_attrs(task: str, params: AggregateParams) -> dict[str, str]:
    return {
        "task": task,
        "aggregate_options": json.dumps(params.to_dict(), sort_keys=True),
        "provenance": json.dumps(provenance(), sort_keys=True),
    }


def summarise(
    task: str,
    analyses: Sequence[str | Path],
    options: Mapping[str, Any] | None = None,
    log: Callable[[str], None] = print,
) -> xr.Dataset:
    """The summary of every analysed network of ``task`` (no similarity matrices)."""
    params = from_mapping(AggregateParams, options, "aggregate")
    rows: list[dict[str, Any]] = []
    graphs: dict[int, LabelledGraph] = {}
    profiles: dict[int, xr.DataArray] = {}
    for path in analyses:
        ds = read_analysis(path, task)
        row = summary_row(ds, path, params)
        typing_inputs(ds, len(rows), graphs, profiles)
        rows.append(row)
    types = type_population(rows, graphs, profiles, params, log)
    return summary_dataset(task, rows, params, types)
