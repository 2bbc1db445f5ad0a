"""Selection vectors of a context-dependent integration network, per point and per network.

In context-dependent integration (Mante, Sussillo, Shenoy & Newsome 2013) the network
must integrate the sensory channel that the context cues and ignore the others. Near an
approximate line attractor an input pulse moves the state along the line by
``lᵀ B δu / lᵀ r`` (:mod:`rnn_analysis.analysis.selection_vectors`), so the context can
select the relevant channel through the selection vector ``l``: ``l`` is aligned with the
cued channel's input direction and orthogonal to the others'. :func:`context_selection`
computes the slow mode and the selection vector at the points under each context's
static inputs and summarises, per network, how strongly the relevant channel is
selected over the irrelevant ones and how strongly the integrated direction reaches the
readout.

The layout is the integration tasks' (:class:`~rnn_analysis.tasks.cdi.CDI`): inputs
``0 … N − 1`` are the N sensory channels and ``N … 2N − 1`` the one-hot context channels;
the static inputs of context ``c`` carry the label ``context = c`` (a coordinate of the
fixed-point dataset along ``fixed_point``) and drive sensory channel ``c``.
"""

from __future__ import annotations

from typing import Any, Literal

import numpy as np
import xarray as xr
from numpy.typing import NDArray

from rnn_analysis.analysis.selection_vectors import selection_vectors
from rnn_analysis.architectures.base import Architecture
from rnn_analysis.tasks.base import Task

__all__ = [
    "SUMMARY_VARIABLES",
    "UnstablePoints",
    "context_selection",
    "describe",
    "selection_points",
    "selection_summary",
]

UnstablePoints = Literal["none", "weak", "all"]

#: The points evaluated under each choice of :func:`selection_points`, in words.
_EVALUATED = {
    "none": "stable and slow points",
    "weak": "stable, weakly unstable and slow points",
    "all": "every fixed and slow point",
}

#: The per-network scalars of :func:`selection_summary`, with their long names and units.
SUMMARY_VARIABLES: dict[str, tuple[str, str]] = {
    "selection_relevant_alignment": (
        "median over contexts of the median over the context's evaluated points of "
        "|cos| between the selection vector and the cued (relevant) sensory channel's "
        "input direction (NaN: no evaluated point)",
        "1",
    ),
    "selection_irrelevant_alignment": (
        "median over contexts of the median over the context's evaluated points of the "
        "mean |cos| between the selection vector and the uncued (irrelevant) sensory "
        "channels' input directions (NaN: no evaluated point or a single context)",
        "1",
    ),
    "slow_mode_readout_alignment": (
        "median over contexts of the median over the context's evaluated points of "
        "|cos| between the slow mode's right eigenvector and the readout gradient dy/dh "
        "(mean over outputs; NaN: no evaluated point)",
        "1",
    ),
    "selects_relevant_input": (
        "in every context the median alignment of the selection vector with the "
        "relevant sensory channel exceeds that with every irrelevant one (false: a "
        "context without an evaluated point, or a single context)",
        "1",
    ),
}


def selection_points(
    fixed_points: xr.Dataset, unstable: UnstablePoints = "weak", tolerance: float = 0.02
) -> NDArray[np.bool_]:
    """Which points of a fixed-point dataset get a selection vector.

    Every slow point and every stable fixed point is chosen; fixed points with unstable
    modes as ``unstable`` says.

    Parameters
    ----------
    fixed_points : xarray.Dataset
        A fixed-point dataset (:func:`rnn_analysis.analysis.fixed_points.
        find_fixed_points`): ``kind`` and ``n_unstable`` are read, and for ``"weak"``
        also ``eigenvalue_real`` and ``eigenvalue_imag`` (modes by ``|λ|`` descending).
    unstable : {"none", "weak", "all"}, default "weak"
        ``"none"``: no unstable fixed point; ``"weak"``: the weakly unstable fixed
        points of an approximate line attractor, with a single unstable mode whose
        eigenvalue lies within ``tolerance`` of the unit circle (``|λ| ≤ 1 +
        tolerance``), so that it is the slow mode itself; ``"all"``: every fixed point.
    tolerance : float, default 0.02
        The bound on ``|λ| − 1`` of a weakly unstable point's unstable mode (the
        attractor analysis' ``line_tolerance``).

    Returns
    -------
    numpy.ndarray of bool
        One flag per point, in the dataset's order.

    Raises
    ------
    ValueError
        If ``unstable`` is none of the three choices.
    """
    kind = np.asarray(fixed_points["kind"].values).astype(str).reshape(-1)
    n_unstable = np.asarray(fixed_points["n_unstable"].values, dtype=np.int64).reshape(-1)
    fixed = kind == "fixed"
    chosen = (kind == "slow") | (fixed & (n_unstable == 0))
    if unstable == "all":
        return chosen | fixed
    if unstable == "none":
        return chosen
    if unstable != "weak":
        raise ValueError(f"unstable must be 'none', 'weak' or 'all', got {unstable!r}")
    if fixed_points.sizes.get("mode", 0) == 0:
        return chosen
    top = np.hypot(
        fixed_points["eigenvalue_real"].transpose("fixed_point", "mode").values[:, 0],
        fixed_points["eigenvalue_imag"].transpose("fixed_point", "mode").values[:, 0],
    )
    return chosen | (fixed & (n_unstable == 1) & (top <= 1.0 + tolerance))


def _finite_median(values: NDArray[np.float64]) -> float:
    """The median of the finite values; NaN without any."""
    finite = values[np.isfinite(values)]
    return float(np.median(finite)) if len(finite) else np.nan


def selection_summary(
    selection: xr.Dataset, context: NDArray[np.integer[Any]], n_contexts: int
) -> xr.Dataset:
    """Per-context and per-network summaries of the selection vectors of one network.

    For each context ``c``, over the points evaluated under that context's static
    inputs: the median of ``|cos(l, B_k)|`` for each sensory channel ``k`` (``B_k`` the
    channel's input direction ``∂F/∂u_k``), whose entry ``k = c`` is the relevant
    alignment; the median of the mean over the irrelevant channels ``k ≠ c``; and the
    median of the readout alignment (mean over outputs). An alignment that is NaN at an
    evaluated point (an input or output that does not reach the state there) counts as
    0: that channel is not integrated, that output does not see the slow mode. The
    network's scalars are the medians over the contexts that have evaluated points;
    ``selects_relevant_input`` holds when every context has evaluated points and in
    every context the relevant median exceeds the median of every irrelevant channel
    (strictly); with one context there is nothing to select and it is false.

    Parameters
    ----------
    selection : xarray.Dataset
        The output of :func:`~rnn_analysis.analysis.selection_vectors.selection_vectors`
        (``input_alignment``, ``readout_alignment`` and ``selection_evaluated`` along
        ``fixed_point``).
    context : numpy.ndarray of int
        The context of each point's static input, one per point of ``selection``.
    n_contexts : int
        N: input channels ``0 … N − 1`` are the sensory channels, channel ``c`` the
        relevant one in context ``c``.

    Returns
    -------
    xarray.Dataset
        The scalars of :data:`SUMMARY_VARIABLES` and, along ``selection_context``,
        ``selection_context_points``, ``selection_context_relevant_alignment``,
        ``selection_context_irrelevant_alignment``,
        ``selection_context_readout_alignment`` and (with ``sensory_channel``)
        ``selection_context_input_alignment``.

    Raises
    ------
    ValueError
        If ``context`` does not have one value per point, or the network has fewer than
        ``n_contexts`` inputs.
    """
    n = int(n_contexts)
    evaluated = np.asarray(selection["selection_evaluated"].values, dtype=bool).reshape(-1)
    context = np.asarray(context).reshape(-1)
    if len(context) != len(evaluated):
        raise ValueError(f"{len(context)} context labels for {len(evaluated)} points")
    inputs = selection["input_alignment"].transpose("fixed_point", "input_channel").values
    if inputs.shape[1] < n:
        raise ValueError(f"{inputs.shape[1]} input channels cannot hold {n} sensory channels")
    inputs = np.nan_to_num(inputs[:, :n].astype(np.float64), nan=0.0)
    readout = selection["readout_alignment"].transpose("fixed_point", "output").values
    readout = np.nan_to_num(readout.astype(np.float64), nan=0.0)
    readout = readout.mean(axis=1) if readout.shape[1] else np.full(len(evaluated), np.nan)

    counts = np.zeros(n, dtype=np.int64)
    by_channel = np.full((n, n), np.nan)
    irrelevant = np.full(n, np.nan)
    reads = np.full(n, np.nan)
    for c in range(n):
        mask = evaluated & (context == c)
        counts[c] = int(mask.sum())
        if not counts[c]:
            continue
        by_channel[c] = np.median(inputs[mask], axis=0)
        others = np.delete(inputs[mask], c, axis=1)
        if others.shape[1]:
            irrelevant[c] = float(np.median(others.mean(axis=1)))
        reads[c] = float(np.median(readout[mask]))
    relevant = np.diagonal(by_channel).copy()
    selects = (
        n > 1
        and bool((counts > 0).all())
        and all(bool((relevant[c] > np.delete(by_channel[c], c)).all()) for c in range(n))
    )
    scalars = {
        "selection_relevant_alignment": _finite_median(relevant),
        "selection_irrelevant_alignment": _finite_median(irrelevant),
        "slow_mode_readout_alignment": _finite_median(reads),
        "selects_relevant_input": bool(selects),
    }
    cd = ("selection_context",)
    data: dict[str, Any] = {
        name: ((), value, {"long_name": SUMMARY_VARIABLES[name][0], "units": "1"})
        for name, value in scalars.items()
    }
    data.update(
        {
            "selection_context_points": (
                cd,
                counts,
                {
                    "long_name": "points of the context where the selection vector was computed",
                    "units": "1",
                },
            ),
            "selection_context_input_alignment": (
                ("selection_context", "sensory_channel"),
                by_channel,
                {
                    "long_name": "median over the context's evaluated points of |cos| between "
                    "the selection vector and the sensory channel's input direction",
                    "units": "1",
                },
            ),
            "selection_context_relevant_alignment": (
                cd,
                relevant,
                {
                    "long_name": "median over the context's evaluated points of |cos| between "
                    "the selection vector and the cued sensory channel's input direction",
                    "units": "1",
                },
            ),
            "selection_context_irrelevant_alignment": (
                cd,
                irrelevant,
                {
                    "long_name": "median over the context's evaluated points of the mean "
                    "|cos| between the selection vector and the uncued sensory channels' "
                    "input directions",
                    "units": "1",
                },
            ),
            "selection_context_readout_alignment": (
                cd,
                reads,
                {
                    "long_name": "median over the context's evaluated points of |cos| between "
                    "the slow mode's right eigenvector and the readout gradient (mean over "
                    "outputs)",
                    "units": "1",
                },
            ),
        }
    )
    return xr.Dataset(
        data,
        coords={
            "selection_context": ("selection_context", np.arange(n), {"long_name": "context"}),
            "sensory_channel": (
                "sensory_channel",
                np.arange(n),
                {"long_name": "sensory input channel (relevant in the context of that index)"},
            ),
        },
    )


def context_selection(
    model: Architecture,
    fixed_points: xr.Dataset,
    task: Task,
    *,
    unstable: UnstablePoints = "weak",
    tolerance: float = 0.02,
    context_label: str = "context",
) -> xr.Dataset | None:
    """Selection vectors at one network's points and their summary, for a context task.

    Parameters
    ----------
    model : Architecture
        An ensemble of one network (``E = 1``); it is copied, never modified.
    fixed_points : xarray.Dataset
        The network's fixed-point dataset, with the static-input label ``context_label``
        as a coordinate along ``fixed_point``.
    task : Task
        The network's task; only a task with ``context_inputs`` (N sensory channels,
        then N context channels; ``n_contexts`` = N) is analysed.
    unstable : {"none", "weak", "all"}, default "weak"
        Which fixed points with unstable modes are evaluated (:func:`selection_points`).
    tolerance : float, default 0.02
        The bound on ``|λ| − 1`` of a weakly unstable point (:func:`selection_points`).
    context_label : str, default "context"
        The static-input label that names each point's context.

    Returns
    -------
    xarray.Dataset or None
        None for a task without context inputs; otherwise the per-point variables of
        :func:`~rnn_analysis.analysis.selection_vectors.selection_vectors` along
        ``fixed_point`` (every point of ``fixed_points``, NaN and
        ``selection_evaluated`` false where not evaluated) merged with
        :func:`selection_summary`, with attributes ``unstable_points`` and
        ``unstable_tolerance``.

    Raises
    ------
    ValueError
        If the fixed-point dataset lacks ``context_label``.
    """
    if not getattr(task, "context_inputs", False):
        return None
    if context_label not in fixed_points.variables:
        raise ValueError(f"fixed-point dataset lacks the static-input label {context_label!r}")
    chosen = selection_points(fixed_points, unstable, tolerance)
    subset = fixed_points.isel(fixed_point=np.flatnonzero(chosen))
    per_point = selection_vectors(model, subset, include_unstable=True)
    if "fixed_point" in fixed_points.coords:
        every = fixed_points["fixed_point"].values
    else:
        every = np.arange(len(chosen))
    per_point = per_point.reindex(fixed_point=every, fill_value={"selection_evaluated": False})
    rule = {
        "none": "stable fixed point or slow point",
        "weak": f"stable or weakly unstable (one unstable mode, |λ| <= 1 + {tolerance:g}) "
        "fixed point or slow point",
        "all": "fixed point or slow point",
    }[unstable]
    per_point["selection_evaluated"] = per_point["selection_evaluated"].astype(bool)
    per_point["selection_evaluated"].attrs = {
        "long_name": f"{rule} where the selection vectors were computed"
    }
    per_point["fixed_point"].attrs = {"long_name": "point index"}
    context = np.asarray(fixed_points[context_label].values)
    summary = selection_summary(per_point, context, int(task.n_contexts))  # type: ignore[attr-defined]
    ds = xr.merge([per_point, summary], combine_attrs="drop_conflicts")
    ds.attrs = {"unstable_points": unstable, "unstable_tolerance": float(tolerance)}
    return ds


def describe(selection: xr.Dataset) -> str:
    """One line on what :func:`context_selection` computed."""
    evaluated = int(np.asarray(selection["selection_evaluated"].values).sum())
    points = selection.sizes.get("fixed_point", 0)
    return (
        f"selection vectors at {evaluated} of {points} points "
        f"({_EVALUATED.get(selection.attrs.get('unstable_points', ''), 'chosen points')}); "
        f"relevant alignment {float(selection['selection_relevant_alignment']):.3g}, "
        f"irrelevant {float(selection['selection_irrelevant_alignment']):.3g}, readout "
        f"{float(selection['slow_mode_readout_alignment']):.3g}; selects the relevant "
        f"input: {'yes' if bool(selection['selects_relevant_input']) else 'no'}"
    )
