"""Oscillations per static input: the central fixed point's rotation, and the cued frequency.

The primary measure of an oscillation is the limit cycle found by simulation
(:mod:`.cycles`). Beside it, as a diagnostic, the linearisation at the **central fixed
point** of each static input: the fixed point of that static input nearest the centre
of its limit cycle (the median over the runs on the cycle of the window's centroid) or,
without a cycle, nearest the centroid of the probe states (without probe states, of the
static input's points). Its leading complex pair's rotation ``|arg λ|`` per step and
modulus ``|λ|`` are stored with its distance from the centre: the farther ``|λ|`` is
from 1, the less the linear rotation need match the cycle's frequency.

Where the static inputs carry a cued-frequency label (``cue_label``, e.g. the sine
task's ``omega`` in rad/step), the relative errors ``(f − ω) / ω`` of the cycle's
frequency and of the central rotation are stored, and a static input *oscillates at its
cue* when it has a limit cycle whose frequency error is at most ``cue_tolerance`` in
absolute value; overall, every static input must.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
from numpy.typing import NDArray

from rnn_analysis.analysis.attractors.params import AttractorParams
from rnn_analysis.analysis.attractors.points import Points

__all__ = ["central_focus", "cued_frequency"]


def central_focus(
    points: Points,
    cycle_centre: NDArray,
    probe: NDArray | None,
    rotation: NDArray,
    modulus: NDArray,
) -> dict[str, Any]:
    """The central fixed point of every static input and its leading complex pair.

    ``cycle_centre`` [n_cond, S] holds each static input's limit-cycle centre (NaN rows
    without a cycle); ``rotation`` and ``modulus`` [P] are each point's leading pair's.
    """
    n_cond = len(cycle_centre)
    probe_centre = None if probe is None else probe.reshape(-1, probe.shape[-1]).mean(axis=0)
    index = np.full(n_cond, -1, dtype=np.int64)
    distance = np.full(n_cond, np.nan)
    source = np.full(n_cond, "", dtype=object)
    for c in range(n_cond):
        own = np.flatnonzero((points.condition == c) & points.fixed)
        if not len(own):
            continue
        if np.isfinite(cycle_centre[c]).all():
            centre, source[c] = cycle_centre[c], "cycle"
        elif probe_centre is not None:
            centre, source[c] = probe_centre, "probe"
        else:
            centre, source[c] = points.x[points.condition == c].mean(axis=0), "points"
        d = np.linalg.norm(points.x[own] - centre, axis=1)
        k = int(np.argmin(d))
        index[c], distance[c] = own[k], float(d[k])
    has = index >= 0

    def at_focus(values: NDArray, fill: float) -> NDArray:
        out = np.full(n_cond, fill, dtype=np.result_type(values, type(fill)))
        out[has] = values[index[has]]
        return out

    si = ("static_input",)
    return {
        "focus_point": (
            si,
            index,
            {
                "long_name": "the central fixed point: the fixed point nearest the centre of "
                "the limit cycle (or of the probe states) (-1: none)",
                "units": "1",
            },
        ),
        "focus_centre": (
            si,
            source.astype(str),
            {"long_name": "centre the central fixed point is nearest: cycle, probe or points"},
        ),
        "focus_distance": (
            si,
            distance,
            {"long_name": "distance from the centre to the central fixed point", "units": "1"},
        ),
        "focus_n_unstable": (
            si,
            at_focus(points.n_unstable, -1).astype(np.int64),
            {"long_name": "unstable modes of the central fixed point (-1: none)", "units": "1"},
        ),
        "focus_rotation": (
            si,
            at_focus(rotation, math.nan),
            {
                "long_name": "rotation |arg λ| of the central fixed point's leading complex pair",
                "units": "rad/step",
            },
        ),
        "focus_modulus": (
            si,
            at_focus(modulus, math.nan),
            {
                "long_name": "modulus |λ| of the central fixed point's leading complex pair",
                "units": "1",
            },
        ),
    }


def cued_frequency(
    labels: dict[str, Any],
    cycle_found: NDArray,
    cycle_frequency: NDArray,
    focus_rotation: NDArray,
    p: AttractorParams,
) -> dict[str, Any]:
    """Errors against the cued frequency, and whether each static input oscillates at it
    (empty without a ``cue_label`` label)."""
    if p.cue_label not in labels:
        return {}
    cue = np.asarray(labels[p.cue_label], dtype=np.float64)
    with np.errstate(divide="ignore", invalid="ignore"):
        cycle_error = (cycle_frequency - cue) / cue
        focus_error = (focus_rotation - cue) / cue
    at_cue = cycle_found & (np.abs(cycle_error) <= p.cue_tolerance)

    def worst(error: NDArray) -> float:
        if not len(error):
            return math.nan
        return float(np.max(np.where(np.isnan(error), np.inf, np.abs(error))))

    si = ("static_input",)
    label = repr(p.cue_label)
    return {
        "cycle_frequency_error": (
            si,
            cycle_error,
            {
                "long_name": f"(limit-cycle frequency - cued frequency {label}) / cued frequency",
                "units": "1",
            },
        ),
        "focus_rotation_error": (
            si,
            focus_error,
            {
                "long_name": f"(central rotation - cued frequency {label}) / cued frequency",
                "units": "1",
            },
        ),
        "oscillates_at_cue": (
            si,
            at_cue,
            {"long_name": "a limit cycle within cue_tolerance of the cued frequency"},
        ),
        "n_oscillates_at_cue": (
            (),
            int(at_cue.sum()),
            {"long_name": "static inputs oscillating at the cued frequency", "units": "1"},
        ),
        "oscillates_at_cue_every_input": (
            (),
            bool(at_cue.all()) if len(at_cue) else False,
            {"long_name": "every static input oscillates at its cued frequency"},
        ),
        "cycle_frequency_max_error": (
            (),
            worst(cycle_error),
            {
                "long_name": "largest |relative error| of the limit-cycle frequency over the "
                "static inputs (inf: one has no limit cycle)",
                "units": "1",
            },
        ),
        "focus_rotation_max_error": (
            (),
            worst(focus_error),
            {
                "long_name": "largest |relative error| of the central rotation over the static "
                "inputs (inf: one has no central complex pair)",
                "units": "1",
            },
        ),
    }
