"""Stability, readout and the self-describing dataset of each network's points."""

from __future__ import annotations

from typing import Any

import numpy as np
import torch
import xarray as xr
from numpy.typing import NDArray

from rnn_analysis.analysis.fixed_points.initial_states import ORIGINS
from rnn_analysis.analysis.fixed_points.jacobians import jacobian
from rnn_analysis.analysis.fixed_points.params import FixedPointParams
from rnn_analysis.analysis.fixed_points.points import Points, canonical_order
from rnn_analysis.architectures.base import Architecture

__all__ = ["continuous_time_stability", "datasets"]


def eig_sorted(jac: NDArray) -> tuple[NDArray, NDArray]:
    """Eigenvalues [P, S] and right eigenvectors [P, S(state), S(mode)], by |λ| descending.

    Complex-conjugate pairs are ordered with the positive imaginary part first.
    """
    if jac.shape[0] == 0:
        s = jac.shape[-1]
        return np.zeros((0, s), complex), np.zeros((0, s, s), complex)
    lam, vec = np.linalg.eig(jac)
    order = np.lexsort((-lam.imag, -np.abs(lam)), axis=-1)
    lam = np.take_along_axis(lam, order, axis=-1)
    vec = np.take_along_axis(vec, order[:, None, :], axis=-1)
    return lam, vec


def continuous_time_stability(
    lam: NDArray, alpha: float | None, unstable_tol: float = 1e-6
) -> tuple[NDArray, NDArray]:
    """Stability of each point as an equilibrium of the flow that an Euler step discretises.

    For a step ``F = h + α f`` the flow's Jacobian is ``J_ct = (dF/dh − I) / α`` (in
    units of 1/τ), whose eigenvalues are ``(λ − 1) / α`` for the eigenvalues λ of dF/dh.
    A flow mode is unstable when ``Re λ_ct > unstable_tol / α``, i.e. ``Re λ > 1 +
    unstable_tol``: the map's tolerance carried over, so that a real eigenvalue near 1
    gets the same verdict in both views.

    Parameters
    ----------
    lam : [P, S] complex array
        Eigenvalues of dF/dh at each point.
    alpha : float or None
        The architecture's :attr:`~rnn_analysis.architectures.base.Architecture.
        euler_alpha`; None for a discrete-time architecture.
    unstable_tol : float, default 1e-6
        The map's tolerance on ``|λ| − 1`` (``FixedPointParams.unstable_tol``).

    Returns
    -------
    n_unstable_ct : [P] int array
        Number of flow modes with ``Re λ_ct > unstable_tol / α``; -1 without α.
    max_real_eig_ct : [P] float array
        Largest ``Re λ_ct`` (1/τ); NaN without α or without modes.
    """
    lam = np.asarray(lam)
    n = lam.shape[0]
    if alpha is None:
        return np.full(n, -1, dtype=np.int64), np.full(n, np.nan)
    real = (lam.real - 1.0) / alpha
    n_unstable = (real > unstable_tol / alpha).sum(axis=1).astype(np.int64)
    top = real.max(axis=1) if lam.shape[1] else np.full(n, np.nan)
    return n_unstable, top.astype(np.float64)


def stability_disagreements(fixed: NDArray, n_unstable: NDArray, n_unstable_ct: NDArray) -> int:
    """Fixed points judged stable by one view and unstable by the other (map: no
    ``|λ| > 1``; flow: no ``Re λ_ct > 0``); -1 where ``n_unstable_ct`` is missing (-1)."""
    if (np.asarray(n_unstable_ct) < 0).any():
        return -1
    differ = (np.asarray(n_unstable) == 0) != (np.asarray(n_unstable_ct) == 0)
    return int((differ & np.asarray(fixed, dtype=bool)).sum())


def datasets(
    net: Architecture,
    networks: list[Points],
    labels: dict[str, Any],
    diagnostics: list[dict[str, Any]],
    p: FixedPointParams,
) -> list[xr.Dataset]:
    """One dataset per network: Jacobians (batched over networks), eigen-decompositions,
    unstable and marginal modes, readout; points ordered by static input, kind (fixed
    first), number of unstable modes and q. For a continuous-time architecture (one
    with an :attr:`~rnn_analysis.architectures.base.Architecture.euler_alpha`), also the
    stability of each point under the flow (:func:`continuous_time_stability`)."""
    e = len(networks)
    k = max((len(pts) for pts in networks), default=0)
    s = net.n_state
    n_in = net.n_inputs
    x = np.zeros((e, k, s))
    u = np.zeros((e, k, n_in))
    for i, pts in enumerate(networks):
        x[i, : len(pts)], u[i, : len(pts)] = pts.x, pts.u
    dtype, device = net.weight_out.dtype, net.weight_out.device
    xt = torch.as_tensor(x, dtype=dtype, device=device)
    ut = torch.as_tensor(u, dtype=dtype, device=device)
    jac = jacobian(net, xt, ut).cpu().numpy().astype(np.float64)
    with torch.no_grad():
        readout = net.readout(xt).cpu().numpy().astype(np.float64)
        hidden = net.hidden(xt).cpu().numpy().astype(np.float64)
    out = []
    for i, pts in enumerate(networks):
        m = len(pts)
        lam, vec = eig_sorted(jac[i, :m])
        modulus = np.abs(lam)
        n_unstable = (modulus > 1 + p.unstable_tol).sum(axis=1)
        n_marginal = (np.abs(modulus - 1) <= p.unstable_tol).sum(axis=1)
        n_unstable_ct, max_real_ct = continuous_time_stability(lam, net.euler_alpha, p.unstable_tol)
        order = canonical_order(pts, n_unstable)
        diag = dict(diagnostics[i])
        diag["n_fixed"] = int(pts.fixed.sum())
        diag["n_slow"] = int((~pts.fixed).sum())
        out.append(
            _dataset(
                net,
                pts.take(order),
                lam=lam[order],
                vec=vec[order],
                n_unstable=n_unstable[order],
                n_marginal=n_marginal[order],
                n_unstable_ct=n_unstable_ct[order],
                max_real_ct=max_real_ct[order],
                jac=jac[i, :m][order],
                readout=readout[i, :m][order],
                hidden=hidden[i, :m][order],
                labels=labels,
                diagnostics=diag,
                p=p,
            )
        )
    return out


def _label_array(values: Any) -> NDArray:
    arr = np.asarray(values)
    if arr.dtype.kind in "OSU":
        arr = arr.astype(str)
    return arr


def _dataset(
    net: Architecture,
    pts: Points,
    *,
    lam: NDArray,
    vec: NDArray,
    n_unstable: NDArray,
    n_marginal: NDArray,
    n_unstable_ct: NDArray,
    max_real_ct: NDArray,
    jac: NDArray,
    readout: NDArray,
    hidden: NDArray,
    labels: dict[str, Any],
    diagnostics: dict[str, Any],
    p: FixedPointParams,
) -> xr.Dataset:
    s = pts.x.shape[1]
    n_vec = min(p.n_eigenvectors, s)
    fp = ("fixed_point",)
    kind = np.where(pts.fixed, "fixed", "slow").astype("<U5")
    origin = np.asarray(ORIGINS)[pts.origin.astype(np.int64)].astype("<U8")
    fixed_rule = "verified by Newton" if p.verify else "q <= tol_q"
    newton_note = (
        "Newton's iteration on the saturation-free residual R(h, u) from the point's "
        "candidate (for a fixed point: at the point)"
    )
    data: dict[str, Any] = {
        "state_value": (
            ("fixed_point", "state"),
            pts.x.astype(np.float64),
            {"long_name": "state h at the point", "units": "1"},
        ),
        "hidden_value": (
            ("fixed_point", "unit"),
            hidden,
            {"long_name": "unit activity (what the readout sees) at the point", "units": "1"},
        ),
        "input_value": (
            ("fixed_point", "input_channel"),
            pts.u.astype(np.float64),
            {"long_name": "static input u*", "units": "1"},
        ),
        "condition": (
            fp,
            pts.condition.astype(np.int64),
            {"long_name": "index of the static input", "units": "1"},
        ),
        "q": (fp, pts.q, {"long_name": "speed q = 1/2 |F(h, u) - h|^2", "units": "1"}),
        "kind": (
            fp,
            kind,
            {"long_name": f"fixed ({fixed_rule}) or slow (q <= slow_q, not fixed) point"},
        ),
        "origin": (
            fp,
            origin,
            {
                "long_name": "initial state the point was found from: probe sample, "
                "noise-expanded probe state or segment seed"
            },
        ),
        "newton_residual": (
            fp,
            pts.newton_residual.astype(np.float64),
            {"long_name": f"|R| at the end of {newton_note}", "units": "1"},
        ),
        "newton_step": (
            fp,
            pts.newton_step.astype(np.float64),
            {
                "long_name": f"length of the full Newton step at the end of {newton_note}",
                "units": "1",
            },
        ),
        "newton_distance": (
            fp,
            pts.newton_distance.astype(np.float64),
            {
                "long_name": f"distance from the candidate to the end of {newton_note}; a "
                "fixed point farther than verify_max_distance is a root reached from a "
                "candidate elsewhere",
                "units": "1",
            },
        ),
        "eigenvalue_real": (
            ("fixed_point", "mode"),
            lam.real.astype(np.float64),
            {"long_name": "real part of the eigenvalues of dF/dh, by |λ| descending", "units": "1"},
        ),
        "eigenvalue_imag": (
            ("fixed_point", "mode"),
            lam.imag.astype(np.float64),
            {"long_name": "imaginary part of the eigenvalues of dF/dh", "units": "1"},
        ),
        "eigenvector_real": (
            ("fixed_point", "state", "leading_mode"),
            vec.real[..., :n_vec],
            {
                "long_name": "real part of the unit-norm right eigenvectors of dF/dh "
                "of the leading modes",
                "units": "1",
            },
        ),
        "eigenvector_imag": (
            ("fixed_point", "state", "leading_mode"),
            vec.imag[..., :n_vec],
            {
                "long_name": "imaginary part of the right eigenvectors of the leading modes",
                "units": "1",
            },
        ),
        "n_unstable": (
            fp,
            n_unstable.astype(np.int64),
            {"long_name": "number of modes with |λ| > 1 + unstable_tol", "units": "1"},
        ),
        "n_marginal": (
            fp,
            n_marginal.astype(np.int64),
            {"long_name": "number of modes with ||λ| - 1| <= unstable_tol", "units": "1"},
        ),
        "stable": (fp, n_unstable == 0, {"long_name": "no unstable mode"}),
        "n_unstable_ct": (
            fp,
            n_unstable_ct.astype(np.int64),
            {
                "long_name": "number of modes of the continuous-time Jacobian "
                "(dF/dh - I) / euler_alpha with real part > unstable_tol / euler_alpha "
                "(-1: discrete-time architecture)",
                "units": "1",
            },
        ),
        "max_real_eig_ct": (
            fp,
            max_real_ct.astype(np.float64),
            {
                "long_name": "largest real part of the eigenvalues of the continuous-time "
                "Jacobian (dF/dh - I) / euler_alpha (NaN: discrete-time architecture)",
                "units": "1/tau",
            },
        ),
        "n_stability_disagreements": (
            (),
            stability_disagreements(pts.fixed, n_unstable, n_unstable_ct),
            {
                "long_name": "fixed points stable under the Euler map (no |λ| > 1) but not "
                "under the continuous-time flow (a Re λ_ct > 0), or the reverse "
                "(-1: discrete-time architecture)",
                "units": "1",
            },
        ),
        "readout": (
            ("fixed_point", "output"),
            readout,
            {"long_name": "network output at the point", "units": "1"},
        ),
    }
    coords: dict[str, Any] = {
        "fixed_point": ("fixed_point", np.arange(len(pts)), {"long_name": "point index"}),
        "state": ("state", np.arange(s), {"long_name": "state dimension"}),
        "unit": ("unit", np.arange(hidden.shape[1]), {"long_name": "unit"}),
        "mode": ("mode", np.arange(s), {"long_name": "eigenmode, by |λ| descending"}),
        "leading_mode": (
            "leading_mode",
            np.arange(n_vec),
            {"long_name": "eigenmode with a stored eigenvector (the first of mode)"},
        ),
        "input_channel": ("input_channel", np.arange(pts.u.shape[1]), {"long_name": "input"}),
        "output": ("output", np.arange(readout.shape[1]), {"long_name": "output"}),
    }
    if p.store_jacobian:
        coords["state_b"] = ("state_b", np.arange(s), {"long_name": "state dimension"})
        data["jacobian"] = (
            ("fixed_point", "state", "state_b"),
            jac,
            {"long_name": "Jacobian dF_state/dh_state_b", "units": "1"},
        )
    for key, label in labels.items():
        name = key if key not in data and key not in coords else f"input_{key}"
        coords[name] = (
            fp,
            _label_array(label)[pts.condition],
            {"long_name": f"static input label {key!r}"},
        )
    attrs: dict[str, Any] = {
        "title": "fixed and slow points",
        "architecture": getattr(net, "name", type(net).__name__),
    }
    if net.euler_alpha is not None:
        attrs["euler_alpha"] = float(net.euler_alpha)
    for key, value in p.to_dict().items():
        attrs[f"param_{key}"] = int(value) if isinstance(value, bool) else value
    attrs.update(diagnostics)
    return xr.Dataset(data, coords=coords, attrs=attrs)
