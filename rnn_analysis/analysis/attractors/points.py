"""The inputs of the attractor-structure analysis as arrays: points, probe states, network."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
import xarray as xr
from numpy.typing import NDArray
from scipy.spatial.distance import cdist

from rnn_analysis.analysis.fixed_points import jacobian, net_copy
from rnn_analysis.architectures.base import Architecture

__all__ = [
    "REQUIRED",
    "Points",
    "label_array",
    "nearest_distance",
    "points_of",
    "probe_array",
    "rms_spread",
    "single_network",
    "slow_vectors",
]

#: Variables of the fixed-point dataset the analysis reads.
REQUIRED = (
    "state_value",
    "input_value",
    "condition",
    "kind",
    "eigenvalue_real",
    "eigenvalue_imag",
    "eigenvector_real",
    "eigenvector_imag",
    "n_unstable",
    "stable",
)
_MAX_PROBE_STATES = 4096
_DISTANCE_CHUNK = 512


@dataclass
class Points:
    """The fixed-point dataset's points as arrays.

    ``lam`` [P, M] are the eigenvalues of each point (sorted by ``|λ|``, descending),
    ``vec`` [P, S, K] the stored right eigenvectors of the first K of them, ``readout``
    [P, O] the network's output at each point (O = 0 when the dataset has none).
    """

    x: NDArray
    u: NDArray
    condition: NDArray
    fixed: NDArray
    n_unstable: NDArray
    stable: NDArray
    lam: NDArray
    vec: NDArray
    readout: NDArray
    unstable_tol: float

    def __len__(self) -> int:
        return len(self.condition)


def points_of(fixed_points: xr.Dataset, values: NDArray) -> Points:
    """The points of a fixed-point dataset searched under the static inputs ``values``."""
    fp = fixed_points
    condition = fp["condition"].values.astype(np.int64)
    lam_dims = ("fixed_point", "mode")
    vec_dims = ("fixed_point", "state", "leading_mode")
    lam = (
        fp["eigenvalue_real"].transpose(*lam_dims).values
        + 1j * fp["eigenvalue_imag"].transpose(*lam_dims).values
    )
    vec = (
        fp["eigenvector_real"].transpose(*vec_dims).values
        + 1j * fp["eigenvector_imag"].transpose(*vec_dims).values
    )
    return Points(
        x=fp["state_value"].transpose("fixed_point", "state").values.astype(np.float64),
        u=values[condition] if condition.size else np.zeros((0, values.shape[1])),
        condition=condition,
        fixed=fp["kind"].values.astype(str) == "fixed",
        n_unstable=fp["n_unstable"].values.astype(np.int64),
        stable=fp["stable"].values.astype(bool),
        lam=lam,
        vec=vec,
        readout=(
            fp["readout"].transpose("fixed_point", ...).values.astype(np.float64)
            if "readout" in fp
            else np.zeros((len(condition), 0))
        ),
        unstable_tol=float(fp.attrs.get("param_unstable_tol", 0.0)),
    )


def single_network(model: Architecture, network: int, dtype: torch.dtype) -> Architecture:
    """A gradient-free copy in ``dtype`` of network ``network`` of the ensemble, alone."""
    if model.n_networks == 1:
        return net_copy(model, dtype)
    single = model.blank_like(1)
    single.load_networks([model.network_state_dict(network)])
    return net_copy(single, dtype)


def probe_array(probe_states: torch.Tensor | None, network: int, s: int) -> NDArray | None:
    """The network's probe states as a float64 [B, T, S] array, or None."""
    if probe_states is None:
        return None
    probe = torch.as_tensor(probe_states).detach().cpu()
    if probe.ndim == 4:
        probe = probe[network]
    if probe.ndim != 3 or probe.shape[-1] != s or probe.shape[0] * probe.shape[1] == 0:
        raise ValueError(
            f"probe_states must be [E, B, T, {s}] or [B, T, {s}] with at least one state, "
            f"got {tuple(torch.as_tensor(probe_states).shape)}"
        )
    return probe.numpy().astype(np.float64)


def label_array(values: Any) -> NDArray:
    """A static-input label as an array (strings as str)."""
    arr = np.asarray(values)
    if arr.dtype.kind in "OSU":
        arr = arr.astype(str)
    return arr


def rms_spread(x: NDArray) -> float:
    """RMS distance of the points ``x`` [..., S] from their centroid."""
    flat = x.reshape(-1, x.shape[-1])
    if not len(flat):
        return float("nan")
    return float(np.sqrt(((flat - flat.mean(axis=0)) ** 2).sum(axis=1).mean()))


def nearest_distance(x: NDArray, probe: NDArray) -> NDArray:
    """Distance of each point of ``x`` [P, S] to the nearest probe state (at most
    4096 probe states, evenly strided, are compared)."""
    states = probe.reshape(-1, probe.shape[-1])
    states = states[:: max(1, len(states) // _MAX_PROBE_STATES)]
    nearest = np.empty(len(x))
    for start in range(0, len(x), _DISTANCE_CHUNK):
        nearest[start : start + _DISTANCE_CHUNK] = cdist(
            x[start : start + _DISTANCE_CHUNK], states
        ).min(axis=1)
    return nearest


def real_unit(v: NDArray) -> NDArray:
    """A real unit vector spanning the (numerically real) complex vector ``v``."""
    k = int(np.argmax(np.abs(v)))
    phase = v[k] / abs(v[k]) if abs(v[k]) > 0 else 1.0
    r = np.real(v / phase)
    norm = np.linalg.norm(r)
    return r / norm if norm > 0 else r


def slow_vectors(net: Architecture, points: Points, index: NDArray, modes: NDArray) -> NDArray:
    """Real unit eigenvectors [n, S] of mode ``modes[k]`` of each point ``index[k]``.

    Eigenvectors the fixed-point dataset does not store (modes beyond its leading ones)
    come from the Jacobian, recomputed at the point.
    """
    n_stored = points.vec.shape[2]
    out = np.empty((len(index), points.x.shape[1]))
    missing = np.flatnonzero(modes >= n_stored)
    if len(missing):
        dtype, device = net.weight_out.dtype, net.weight_out.device
        h = torch.as_tensor(points.x[index[missing]], dtype=dtype, device=device)[None]
        u = torch.as_tensor(points.u[index[missing]], dtype=dtype, device=device)[None]
        jac = jacobian(net, h, u)[0].cpu().numpy().astype(np.float64)
        for k, j in zip(missing, jac, strict=True):
            w, vec = np.linalg.eig(j)
            target = points.lam[index[k], modes[k]]
            out[k] = real_unit(vec[:, int(np.argmin(np.abs(w - target)))])
    for k in np.flatnonzero(modes < n_stored):
        out[k] = real_unit(points.vec[index[k], :, modes[k]])
    return out
