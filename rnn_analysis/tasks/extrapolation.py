"""Extrapolation profiles: a network's behaviour per condition, inside and beyond training.

The space-of-solutions study (Turner, Dabholkar & Barak 2021) told solution types apart
by how networks extrapolate. A task with a profile set (:meth:`Task.profile_set`)
describes one network's behaviour on it with :meth:`Task.extrapolation_profile`, as a
dataset along :data:`DIM` built by :func:`profile_dataset`:

* raw behaviour per condition (``extrapolation_<name>``, e.g. the produced interval or
  the choice), with the conditions as coordinates ``extrapolation_condition_<name>``
  and ``extrapolation_condition_in_training_range``;
* ``extrapolation_profile``: one finite number per condition, scaled by the task so that
  a qualitatively different behaviour at a condition is a difference of about 1 (a
  flipped choice; an error of half the demanded interval), and the profiles of two
  networks compare by Euclidean distance;
* scalar features ``extrapolation_feature_<name>`` (dims ``()``).
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import torch
import xarray as xr

from rnn_analysis.tasks.base import TrialBatch

#: Dimension of the extrapolation profile.
DIM = "extrapolation_condition"

#: (values, long name, units) of one variable.
Variable = tuple[np.ndarray | float, str, str]


def profile_dataset(
    batch: TrialBatch,
    in_training_range: np.ndarray,
    profile: np.ndarray,
    description: str,
    raw: Mapping[str, Variable],
    features: Mapping[str, Variable],
) -> xr.Dataset:
    """The extrapolation dataset of one network (see the module docstring).

    Parameters
    ----------
    batch : the profile set; its conditions become coordinates
    in_training_range : per condition, whether it lies in the training range
    profile : per condition, the scaled behaviour (finite)
    description : how ``profile`` is scaled (its ``description`` attribute)
    raw : ``name → (values per condition, long name, units)``, as ``extrapolation_<name>``
    features : ``name → (value, long name, units)``, as ``extrapolation_feature_<name>``
    """
    profile = np.asarray(profile, dtype=np.float64)
    if not np.isfinite(profile).all():
        raise ValueError("an extrapolation profile must be finite")
    data = {
        "extrapolation_profile": (
            DIM,
            profile,
            {"long_name": "extrapolation profile (scaled behaviour)", "description": description},
        )
    }
    for name, (values, long_name, units) in raw.items():
        data[f"extrapolation_{name}"] = (
            DIM,
            np.asarray(values, dtype=np.float64),
            {"long_name": long_name, "units": units},
        )
    for name, (value, long_name, units) in features.items():
        data[f"extrapolation_feature_{name}"] = (
            (),
            float(value),
            {"long_name": long_name, "units": units},
        )
    coords = {
        f"extrapolation_condition_{k}": (DIM, np.asarray(v)) for k, v in batch.conditions.items()
    }
    coords["extrapolation_condition_in_training_range"] = (
        DIM,
        np.asarray(in_training_range, dtype=bool),
    )
    return xr.Dataset(data, coords=coords)


def decision_choice(outputs: torch.Tensor, targets: torch.Tensor) -> np.ndarray:
    """Choice per trial: the sign (−1, 0, +1) of the mean of output 0 over the response
    window (where target 0 is non-zero), as the decision tasks score it.

    ``outputs`` is [batch, time, n_out], ``targets`` [batch, time, n_out].
    """
    window = (targets[..., 0] != 0).to(outputs.dtype)
    mean = (outputs[..., 0] * window).sum(dim=-1) / window.sum(dim=-1).clamp(min=1)
    return torch.sign(mean).double().numpy()


def first_crossing(outputs: torch.Tensor, start: torch.Tensor, threshold: float) -> np.ndarray:
    """Steps from ``start`` [batch] to the first |output 0| ≥ ``threshold`` at or after it;
    NaN where it never comes."""
    steps = torch.arange(outputs.shape[-2])
    crossed = (outputs[..., 0].abs() >= threshold) & (steps >= start[:, None])
    first = crossed.float().argmax(dim=-1)
    time = (first - start).double()
    return torch.where(crossed.any(dim=-1), time, torch.nan).numpy()


def slope(x: np.ndarray, y: np.ndarray) -> float:
    """Least-squares slope of y on x over the finite pairs; NaN with fewer than 2 or no
    spread in x."""
    x, y = np.asarray(x, dtype=np.float64), np.asarray(y, dtype=np.float64)
    keep = np.isfinite(x) & np.isfinite(y)
    if keep.sum() < 2 or np.ptp(x[keep]) == 0:
        return float("nan")
    return float(np.polyfit(x[keep], y[keep], 1)[0])


def accuracy(correct: np.ndarray, where: np.ndarray) -> float:
    """Mean of ``correct`` over ``where``; NaN where empty."""
    where = np.asarray(where, dtype=bool)
    return float(np.mean(correct[where])) if where.any() else float("nan")
