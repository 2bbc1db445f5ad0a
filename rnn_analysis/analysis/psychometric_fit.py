"""Slope, bias and lapse of a psychometric curve: a logistic with a symmetric lapse.

The model of the probability of the positive choice at signed evidence x is

    p(x) = λ + (1 − 2λ) / (1 + exp(−k (x − b)))

with slope k (per unit of evidence), bias b (the evidence at which both choices are
equally likely, in units of evidence) and one lapse rate λ ∈ [0, 0.5) shared by both
ends: a lapse is a choice made at random, whichever the evidence, so that it lowers the
upper asymptote and raises the lower one by the same amount. One lapse rather than two
keeps three parameters for curves of eight conditions, the size of the tasks'
psychometric sets. The fit maximises the binomial likelihood of the observed
proportions (each the mean of ``n`` repeated trials) with bounded parameters
(:func:`scipy.optimize.minimize`, L-BFGS-B, from several starts).

:func:`psychometric_fit_dataset` applies the fit to a network's curve
(:func:`~rnn_analysis.analysis.evaluation.psychometric_curve`) with the evidence that
the task declares (:meth:`~rnn_analysis.tasks.base.Task.psychometric_evidence`): once
over all conditions pooled (the per-network scalars) and once per group of conditions
where the task names a grouping (:attr:`~rnn_analysis.tasks.base.Task.psychometric_group`:
the context of ``cdi``, the modality of ``multisensory``).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import xarray as xr
from numpy.typing import ArrayLike, NDArray
from scipy.optimize import minimize
from scipy.special import expit

from rnn_analysis.tasks.base import Task

__all__ = [
    "PsychometricFit",
    "fit_psychometric",
    "logistic_with_lapse",
    "psychometric_fit_dataset",
]

#: Dimension of the per-group fits in an analysis dataset.
GROUP_DIM = "psychometric_group"
#: Upper bound of the lapse rate (exclusive in the model, reached here up to this margin).
_MAX_LAPSE = 0.5 - 1e-6
#: Probabilities are kept this far from 0 and 1 in the log-likelihood.
_CLIP = 1e-12
#: A condition is on the rising part of the fit where |slope (x − bias)| is below this
#: (the logistic between 0.02 and 0.98).
_TRANSITION = float(np.log(0.98 / 0.02))


def logistic_with_lapse(x: ArrayLike, slope: float, bias: float, lapse: float) -> NDArray:
    """The model ``lapse + (1 − 2 lapse) / (1 + exp(−slope (x − bias)))``.

    Parameters
    ----------
    x : array_like
        Signed evidence.
    slope : float
        Slope k, per unit of evidence.
    bias : float
        Evidence b at which the curve passes 0.5.
    lapse : float
        Lapse rate λ in [0, 0.5).

    Returns
    -------
    numpy.ndarray
        The probability of the positive choice at each ``x``.
    """
    x = np.asarray(x, dtype=float)
    return lapse + (1.0 - 2.0 * lapse) * expit(slope * (x - bias))


@dataclass(frozen=True)
class PsychometricFit:
    """The fit of one psychometric curve.

    Attributes
    ----------
    slope : float
        Slope k per unit of evidence (NaN where not fitted).
    bias : float
        Evidence at which the fitted curve passes 0.5 (NaN where not fitted).
    lapse : float
        Symmetric lapse rate λ (NaN where not fitted).
    rms : float
        Root-mean-square difference between the curve and the fit, over conditions.
    n_conditions : int
        Number of conditions with a finite evidence and probability.
    note : str
        Why the curve was not fitted, or that it is steeper than its conditions resolve
        (every condition on an asymptote of the fit: the slope is then the cap of
        :func:`fit_psychometric`, not an estimate, and the bias is only known to lie
        between the conditions where the choice flips); empty for an ordinary fit.
    """

    slope: float
    bias: float
    lapse: float
    rms: float
    n_conditions: int
    note: str = ""

    @property
    def fitted(self) -> bool:
        return bool(np.isfinite(self.slope))


def _negative_log_likelihood(
    theta: NDArray, x: NDArray, p: NDArray, n: NDArray
) -> tuple[float, NDArray]:
    slope, bias, lapse = theta
    sigma = expit(slope * (x - bias))
    q = np.clip(lapse + (1.0 - 2.0 * lapse) * sigma, _CLIP, 1.0 - _CLIP)
    value = -np.sum(n * (p * np.log(q) + (1.0 - p) * np.log1p(-q)))
    dq = n * (q - p) / (q * (1.0 - q))
    shape = (1.0 - 2.0 * lapse) * sigma * (1.0 - sigma)
    grad = np.array(
        [
            np.sum(dq * shape * (x - bias)),
            -np.sum(dq * shape * slope),
            np.sum(dq * (1.0 - 2.0 * sigma)),
        ]
    )
    return float(value), grad


def fit_psychometric(
    x: ArrayLike,
    p_positive: ArrayLike,
    n_trials: ArrayLike = 1.0,
    max_slope: float = 50.0,
) -> PsychometricFit:
    """Fit :func:`logistic_with_lapse` to a psychometric curve by maximum likelihood.

    The evidence is first standardised (centred on the mean of its distinct values and
    divided by their standard deviation), so that the fit does not depend on its origin
    or units: shifting ``x`` shifts the bias by as much, scaling ``x`` divides the slope
    by as much.

    Parameters
    ----------
    x : array_like
        Signed evidence of each condition (repeated values allowed).
    p_positive : array_like
        Observed probability of the positive choice at each condition, in [0, 1].
    n_trials : array_like, default 1.0
        Trials behind each probability (the binomial n; a scalar or one per condition).
        Only relative values matter for the estimate.
    max_slope : float, default 50.0
        Cap on |slope| times the smallest spacing between distinct evidence values. A
        curve that goes from one asymptote to the other between two neighbouring
        conditions (no condition where the fitted logistic is between 0.02 and 0.98)
        determines no slope; it gets this cap and a note (:attr:`PsychometricFit.note`).

    Returns
    -------
    PsychometricFit
        NaN parameters, with a note, where fewer than 3 distinct evidence values or a
        flat curve (every probability equal) leave the model undetermined.
    """
    x = np.asarray(x, dtype=float).reshape(-1)
    p = np.asarray(p_positive, dtype=float).reshape(-1)
    n = np.broadcast_to(np.asarray(n_trials, dtype=float), p.shape).astype(float)
    if x.shape != p.shape:
        raise ValueError(f"x and p_positive differ in length: {x.size} and {p.size}")
    if max_slope <= 0:
        raise ValueError(f"max_slope must be > 0, got {max_slope}")
    keep = np.isfinite(x) & np.isfinite(p) & np.isfinite(n) & (n > 0)
    x, p, n = x[keep], np.clip(p[keep], 0.0, 1.0), n[keep]
    levels = np.unique(x)

    def missing(note: str) -> PsychometricFit:
        return PsychometricFit(np.nan, np.nan, np.nan, np.nan, int(x.size), note)

    if levels.size < 3:
        return missing(f"fewer than 3 distinct evidence values ({levels.size})")
    if np.ptp(p) == 0:
        return missing(f"flat curve: p_positive is {p[0]:g} at every condition")

    centre, scale = float(levels.mean()), float(levels.std())
    xs = (x - centre) / scale
    span = float(xs.max() - xs.min())
    slope_bound = max_slope * scale / float(np.diff(levels).min())
    bounds = [(-slope_bound, slope_bound), (xs.min() - span, xs.max() + span), (0.0, _MAX_LAPSE)]
    direction = 1.0 if np.cov(xs, p)[0, 1] >= 0 else -1.0
    half = np.argmin(np.abs(p - 0.5))
    lapse0 = float(min(0.1, max(0.0, min(p.min(), 1.0 - p.max()))))
    starts = [
        (direction * k, b0, lapse0)
        for k in (0.5, 2.0, 8.0, min(32.0, slope_bound))
        for b0 in (0.0, float(xs[half]))
    ]
    best = None
    for start in starts:
        result = minimize(
            _negative_log_likelihood,
            np.array(start),
            args=(xs, p, n),
            jac=True,
            method="L-BFGS-B",
            bounds=bounds,
        )
        if best is None or result.fun < best.fun:
            best = result
    assert best is not None
    slope_s, bias_s, lapse = (float(v) for v in best.x)
    note = ""
    z = np.abs(slope_s * (xs - bias_s))
    if abs(slope_s) >= slope_bound * (1 - 1e-6) or z.min() >= _TRANSITION:
        slope_s = float(np.sign(slope_s)) * slope_bound
        note = (
            "steeper than the conditions resolve: no condition on the rising part of "
            "the fit; slope set to its cap, max_slope / smallest evidence spacing"
        )
    slope, bias = slope_s / scale, centre + bias_s * scale
    rms = float(np.sqrt(np.mean((p - logistic_with_lapse(x, slope, bias, lapse)) ** 2)))
    return PsychometricFit(slope, bias, lapse, rms, int(x.size), note)


_VARIABLES = {
    "slope": ("slope of the logistic-with-lapse fit of the psychometric curve", "{inverse}"),
    "bias": ("evidence at which the fitted psychometric curve passes 0.5", "{units}"),
    "lapse": ("symmetric lapse rate of the fitted psychometric curve", "1"),
    "fit_rms": ("RMS residual of the psychometric fit", "1"),
}


def _conditions(curve: xr.Dataset, dim: str, prefix: str) -> dict[str, np.ndarray]:
    return {
        str(name).removeprefix(prefix): np.asarray(coord.values)
        for name, coord in curve.coords.items()
        if coord.dims == (dim,)
    }


def _variables(
    fits: list[PsychometricFit], dims: tuple[str, ...], units: str, scope: str
) -> dict[str, tuple]:
    values = {
        "slope": [f.slope for f in fits],
        "bias": [f.bias for f in fits],
        "lapse": [f.lapse for f in fits],
        "fit_rms": [f.rms for f in fits],
    }
    prefix = "psychometric_" if not dims else "psychometric_group_"
    out: dict[str, tuple] = {}
    inverse = "1" if units == "1" else f"1/({units})"
    for key, (long_name, unit) in _VARIABLES.items():
        data = np.asarray(values[key], dtype=float)
        out[f"{prefix}{key}"] = (
            dims,
            data if dims else data[0],
            {
                "long_name": f"{long_name} ({scope})",
                "units": unit.format(units=units, inverse=inverse),
            },
        )
    notes = np.asarray([f.note for f in fits], dtype=str)
    out[f"{prefix}fit_note"] = (
        dims,
        notes if dims else notes[0],
        {"long_name": f"why the psychometric fit is missing or bounded, empty if fitted ({scope})"},
    )
    return out


def psychometric_fit_dataset(
    curve: xr.Dataset,
    task: Task,
    max_slope: float = 50.0,
    dim: str = "psychometric_condition",
    prefix: str = "psychometric_",
) -> xr.Dataset:
    """The fits of one network's psychometric curve, as scalars and per group.

    Parameters
    ----------
    curve : xarray.Dataset
        The output of :func:`~rnn_analysis.analysis.evaluation.psychometric_curve`:
        ``psychometric_p_positive`` along ``dim``, the condition labels as coordinates
        named ``prefix + label``, and the attribute ``psychometric_repeats`` (the
        binomial n of every condition; 1 if absent).
    task : Task
        The task; its :meth:`~rnn_analysis.tasks.base.Task.psychometric_evidence` gives
        the x of the fit, :attr:`~rnn_analysis.tasks.base.Task.psychometric_evidence_units`
        its units, and :attr:`~rnn_analysis.tasks.base.Task.psychometric_group` the
        label that splits the conditions into separately fitted groups.
    max_slope : float, default 50.0
        As in :func:`fit_psychometric`.
    dim : str, default "psychometric_condition"
        The dimension of the conditions in ``curve``.
    prefix : str, default "psychometric_"
        The prefix of the condition coordinates in ``curve``.

    Returns
    -------
    xarray.Dataset
        Scalars ``psychometric_slope``, ``psychometric_bias``, ``psychometric_lapse``,
        ``psychometric_fit_rms`` and ``psychometric_fit_note`` from the fit to all
        conditions pooled (NaN and a note where the task declares no evidence or the
        curve cannot be fitted) and, where the task names a group, the same per group as
        ``psychometric_group_*`` along ``psychometric_group``.
    """
    conditions = _conditions(curve, dim, prefix)
    p = np.asarray(curve["psychometric_p_positive"].values, dtype=float)
    n = float(curve.attrs.get("psychometric_repeats", 1))
    evidence = task.psychometric_evidence(conditions)
    units = task.psychometric_evidence_units
    if evidence is None:
        pooled = PsychometricFit(
            np.nan, np.nan, np.nan, np.nan, 0, f"task {task.name!r} declares no evidence"
        )
        return xr.Dataset(_variables([pooled], (), units, "all conditions"))
    evidence = np.asarray(evidence, dtype=float)
    pooled = fit_psychometric(evidence, p, n, max_slope)
    ds = xr.Dataset(_variables([pooled], (), units, "all conditions"))
    group = task.psychometric_group
    if group is None or group not in conditions:
        return ds
    labels = np.asarray(conditions[group])
    names = np.unique(labels)
    fits = [fit_psychometric(evidence[labels == g], p[labels == g], n, max_slope) for g in names]
    per_group = xr.Dataset(
        _variables(fits, (GROUP_DIM,), units, f"per {group}"),
        coords={GROUP_DIM: (GROUP_DIM, names, {"long_name": f"psychometric group ({group})"})},
    )
    return xr.merge([ds, per_group])
