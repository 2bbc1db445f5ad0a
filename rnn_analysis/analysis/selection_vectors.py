"""Selection vectors: how the slow mode at each attracting point reads inputs and drives outputs.

At a fixed (or slow) point ``h*`` under static input ``u*`` the dynamics are, to first
order, ``δh_{t+1} = J δh_t + B δu_t`` with ``J = ∂F/∂h`` and ``B = ∂F/∂u``, and the output
changes by ``δy = C δh`` with ``C = ∂y/∂h``. Along a line attractor one eigenvalue of
``J`` is close to 1: its right eigenvector ``r`` is the direction the state integrates
along, and its left eigenvector ``l`` (``lᵀ J = λ lᵀ``) is the *selection vector*: an
input pulse ``δu`` moves the state along the line by ``lᵀ B δu / lᵀ r``, so only the input
directions that ``l`` overlaps are integrated (Mante, Sussillo, Shenoy & Newsome 2013;
compared across architectures by Maheswaranathan et al. 2019). The alignments
``|cos(r, C_o)|`` and ``|cos(l, B_k)|`` say how strongly the integrated direction reaches
output ``o`` and how strongly input channel ``k`` is selected for integration.

``B`` and ``C`` are taken from the model by automatic differentiation at each point, so
the function works for every architecture: for a rate network ``B = α Uᵀ`` (the input
weights) and ``C = W_outᵀ diag(φ'(h*))``; for a vanilla network ``B = diag(φ'(pre)) Uᵀ``
and ``C = W_outᵀ`` (the readout weights).
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import scipy.linalg
import torch
import xarray as xr
from numpy.typing import NDArray

from rnn_analysis.analysis.fixed_points.jacobians import jacobian, net_copy
from rnn_analysis.architectures.base import Architecture

__all__ = ["selection_vectors"]

#: Variables of the fixed-point dataset that :func:`selection_vectors` reads.
SELECTION_VARIABLES = ("state_value", "input_value", "kind", "n_unstable")

#: Rows of one batched backward pass (points × output dimensions).
_ROWS = 1 << 13


def _rows_jacobian(
    fn: Callable[[torch.Tensor, torch.Tensor], torch.Tensor],
    h: torch.Tensor,
    u: torch.Tensor,
    n_rows: int,
    wrt: int,
) -> torch.Tensor:
    """``d fn(h, u) / d(h or u)`` at every point, [P, n_rows, dim], in batched backward passes.

    ``fn`` maps ``[1, B, S]`` states and ``[1, B, n_in]`` inputs to ``[1, B, n_rows]``;
    ``wrt`` is 0 for the derivative with respect to ``h`` and 1 for ``u``.
    """
    p = h.shape[0]
    dim = (h, u)[wrt].shape[1]
    out = torch.empty(p, n_rows, dim, dtype=h.dtype, device=h.device)
    if p == 0 or n_rows == 0:
        return out
    eye = torch.eye(n_rows, dtype=h.dtype, device=h.device)
    chunk = max(1, _ROWS // n_rows)
    for start in range(0, p, chunk):
        stop = min(p, start + chunk)
        args = [t[start:stop].detach().repeat_interleave(n_rows, dim=0).clone() for t in (h, u)]
        args[wrt].requires_grad_(True)
        with torch.enable_grad():
            f = fn(args[0][None], args[1][None])[0]
            (rows,) = torch.autograd.grad(f, args[wrt], eye.repeat(stop - start, 1))
        out[start:stop] = rows.reshape(stop - start, n_rows, dim)
    return out


def _abs_cos(v: NDArray, w: NDArray) -> NDArray[np.float64]:
    """``|⟨v, w_k⟩| / (‖v‖ ‖w_k‖)`` for every row ``w_k`` of ``w`` (NaN for a zero row).

    ``v`` may be complex; the inner product is then the Hermitian one.
    """
    with np.errstate(divide="ignore", invalid="ignore"):
        norms = np.linalg.norm(w, axis=1) * np.linalg.norm(v)
        return np.abs(w @ np.conj(v)) / np.where(norms > 0, norms, np.nan)


def selection_vectors(
    model: Architecture, fixed_points: xr.Dataset, *, include_unstable: bool = False
) -> xr.Dataset:
    """Slow mode and selection-vector alignments at the attracting points of one network.

    At every stable fixed point (no unstable mode) and every slow point, the Jacobian
    ``J = ∂F/∂h`` is computed in float64 and eigen-decomposed; the slow mode is the
    eigenvalue ``λ`` closest to 1 (smallest ``|λ − 1|``), with right eigenvector ``r``
    (``J r = λ r``) and left eigenvector ``l`` (``lᵀ J = λ lᵀ``, the selection vector).
    Reported are ``λ``, its time constant ``1 / |log |λ||``, the alignment of ``r`` with
    each row ``C_o`` of the readout gradient ``∂y/∂h`` and of ``l`` with each column
    ``B_k`` of the input Jacobian ``∂F/∂u`` (see the module docstring), as ``|cos|``
    (Hermitian inner product for a complex slow mode). Both are invariant to the
    eigenvectors' scale and sign.

    Parameters
    ----------
    model : Architecture
        An ensemble of one network (``E = 1``); it is copied, never modified.
    fixed_points : xarray.Dataset
        That network's fixed-point dataset
        (:func:`rnn_analysis.analysis.fixed_points.find_fixed_points`), alone or merged
        into its analysis dataset: ``state_value``, ``input_value``, ``kind`` and
        ``n_unstable`` are read.
    include_unstable : bool, default False
        Also evaluate fixed points with unstable modes (e.g. the weakly unstable points
        along an approximate line attractor, whose slow mode has ``|λ|`` just above 1).

    Returns
    -------
    xarray.Dataset
        Along ``fixed_point`` (every point of ``fixed_points``, in its order; NaN at the
        points not evaluated): ``slow_mode_eigenvalue`` and ``slow_mode_eigenvalue_imag``
        (real and imaginary part of λ), ``slow_mode_time_constant`` (steps),
        ``readout_alignment`` [fixed_point, output] and ``input_alignment``
        [fixed_point, input_channel] (NaN for an output or input that does not
        change the state or the output at the point), and ``selection_evaluated``
        (whether the point was evaluated).

    Raises
    ------
    ValueError
        If the ensemble has more than one network, the dataset lacks a variable, or its
        states or inputs do not fit the model.
    """
    if model.n_networks != 1:
        raise ValueError(
            f"selection_vectors takes an ensemble of one network, got {model.n_networks}"
        )
    missing = [name for name in SELECTION_VARIABLES if name not in fixed_points.variables]
    if missing:
        raise ValueError(f"fixed-point dataset lacks {', '.join(missing)}")
    kind = np.asarray(fixed_points["kind"].values).astype(str).reshape(-1)
    n = len(kind)
    x = fixed_points["state_value"].transpose("fixed_point", ...).values
    u = fixed_points["input_value"].transpose("fixed_point", ...).values
    if x.shape[1] != model.n_state or u.shape[1] != model.n_inputs:
        raise ValueError(
            f"points of {x.shape[1]} states and {u.shape[1]} inputs do not fit a model of "
            f"{model.n_state} states and {model.n_inputs} inputs"
        )
    n_unstable = np.asarray(fixed_points["n_unstable"].values, dtype=np.int64).reshape(-1)
    evaluated = (kind == "slow") | ((kind == "fixed") & (include_unstable | (n_unstable == 0)))
    index = np.flatnonzero(evaluated)
    n_out, n_in = model.n_outputs, model.n_inputs

    net = net_copy(model, torch.float64)
    device = net.weight_out.device
    h = torch.as_tensor(x[index], dtype=torch.float64, device=device)
    v = torch.as_tensor(u[index], dtype=torch.float64, device=device)
    jac = jacobian(net, h[None], v[None])[0].cpu().numpy()
    b = _rows_jacobian(net.step, h, v, model.n_state, wrt=1).cpu().numpy()
    c = _rows_jacobian(lambda s, _: net.readout(s), h, v, n_out, wrt=0).cpu().numpy()

    lam = np.full(n, np.nan + 0j)
    readout_alignment = np.full((n, n_out), np.nan)
    input_alignment = np.full((n, n_in), np.nan)
    for j, point in enumerate(index):
        w, vl, vr = scipy.linalg.eig(jac[j], left=True, right=True)
        slow = int(np.argmin(np.abs(w - 1.0)))
        lam[point] = w[slow]
        readout_alignment[point] = _abs_cos(vr[:, slow], c[j])
        input_alignment[point] = _abs_cos(np.conj(vl[:, slow]), b[j].T)
    with np.errstate(divide="ignore", invalid="ignore"):
        time_constant = 1.0 / np.abs(np.log(np.abs(lam)))

    fp = ("fixed_point",)
    if "fixed_point" in fixed_points.coords:
        points = fixed_points["fixed_point"].values
    else:
        points = np.arange(n)
    return xr.Dataset(
        {
            "slow_mode_eigenvalue": (
                fp,
                lam.real,
                {
                    "long_name": "real part of the eigenvalue of dF/dh closest to 1 (slow mode)",
                    "units": "1",
                },
            ),
            "slow_mode_eigenvalue_imag": (
                fp,
                lam.imag,
                {"long_name": "imaginary part of the slow mode's eigenvalue", "units": "1"},
            ),
            "slow_mode_time_constant": (
                fp,
                time_constant,
                {"long_name": "time constant 1/|log|λ|| of the slow mode", "units": "steps"},
            ),
            "readout_alignment": (
                ("fixed_point", "output"),
                readout_alignment,
                {
                    "long_name": "|cos| between the slow mode's right eigenvector and the "
                    "readout gradient dy/dh of the output",
                    "units": "1",
                },
            ),
            "input_alignment": (
                ("fixed_point", "input_channel"),
                input_alignment,
                {
                    "long_name": "|cos| between the slow mode's left eigenvector (selection "
                    "vector) and the input direction dF/du of the channel",
                    "units": "1",
                },
            ),
            "selection_evaluated": (
                fp,
                evaluated,
                {
                    "long_name": "stable fixed point or slow point"
                    + (" or unstable fixed point" if include_unstable else "")
                    + " where the selection vectors were computed"
                },
            ),
        },
        coords={
            "fixed_point": ("fixed_point", points, {"long_name": "point index"}),
            "input_channel": ("input_channel", np.arange(n_in), {"long_name": "input"}),
            "output": ("output", np.arange(n_out), {"long_name": "output"}),
        },
        attrs={
            "title": "slow modes and selection vectors at fixed and slow points",
            "include_unstable": int(include_unstable),
        },
    )
