"""Cheap neural features of an ensemble, recorded while it trains.

The space-of-solutions study (Turner, Dabholkar & Barak 2021) found that features of a
network measured during training partly predict the solution type it ends in. Every
learning rule records, per network (:func:`neural_features`), at initialisation (update
0), every ``features_every`` updates (``training.stopping``) and at the network's final
update:

- ``effective_dimensionality``: the participation ratio (Σλ)² / Σλ² of the eigenvalues
  λ of the covariance of the hidden activity (:meth:`Architecture.hidden`) over the
  probe trials × their steps (1: activity on a line; the number of units: activity
  spread evenly over all of them);
- ``activity_rms``: the root-mean-square hidden activity on the probe trials;
- ``w_rec_eig_1`` .. ``w_rec_eig_3``: the moduli of the three leading eigenvalues of the
  recurrent weight matrix (:func:`recurrent_matrix`: ``weight_hh`` of vanilla and rate
  networks; the candidate's block of a gated network's fused ``weight_hh``);
- ``jacobian_eig_1`` .. ``jacobian_eig_3``: the moduli of the three leading eigenvalues
  of the Jacobian ∂F/∂h of the state update at the network's initial state under zero
  input (for a vanilla tanh network with zero bias at the origin, those of the recurrent
  weights; > 1: an unstable initial state).

Eigenvalue moduli are sorted in decreasing order; a network with fewer than three
eigenvalues has NaN for the missing ones. Each network's ``training.nc`` stores them as
``neural_features`` (``feature_update`` × ``neural_feature``), the update number as
``feature_update`` coordinate (:class:`~rnn_analysis.training.tracker.EnsembleTracker`).
"""

from __future__ import annotations

import numpy as np
import torch
import xarray as xr

from rnn_analysis.analysis.fixed_points.jacobians import jacobian
from rnn_analysis.architectures.base import Architecture
from rnn_analysis.tasks.base import TrialBatch

__all__ = [
    "DESCRIPTIONS",
    "FEATURES",
    "RECURRENT_BLOCK",
    "neural_features",
    "participation_ratio",
    "recurrent_matrix",
]

#: Leading eigenvalues kept per matrix.
N_EIGENVALUES = 3

#: Names of the recorded features, in order (the ``neural_feature`` coordinate).
FEATURES = (
    "effective_dimensionality",
    "activity_rms",
    *(f"w_rec_eig_{k}" for k in range(1, N_EIGENVALUES + 1)),
    *(f"jacobian_eig_{k}" for k in range(1, N_EIGENVALUES + 1)),
)

_ORDINALS = ("leading", "second", "third")

#: Long name of each feature.
DESCRIPTIONS = {
    "effective_dimensionality": "participation ratio of the probe activity's covariance",
    "activity_rms": "RMS hidden activity on the probe trials",
    **{
        f"w_rec_eig_{k}": f"|{_ORDINALS[k - 1]} eigenvalue| of the recurrent weights"
        for k in range(1, N_EIGENVALUES + 1)
    },
    **{
        f"jacobian_eig_{k}": f"|{_ORDINALS[k - 1]} eigenvalue| of the Jacobian at the "
        "initial state under zero input"
        for k in range(1, N_EIGENVALUES + 1)
    },
}

#: For a gated architecture, which block of the fused ``weight_hh`` [E, n, k·n] is the
#: recurrent matrix of the features: the block acting on the candidate state (GRU: n of
#: (r, z, n); LSTM: g of (i, f, g, o); UGRNN: c of (c, g)), the one that carries the
#: state's own dynamics while the gates only scale it. Architectures whose
#: ``weight_hh`` is square (vanilla, rate) use it whole; others get NaN.
RECURRENT_BLOCK = {"gru": 2, "lstm": 2, "ugrnn": 0}


def participation_ratio(activity: torch.Tensor) -> torch.Tensor:
    """Participation ratio of the covariance of ``activity`` [E, samples, units] → [E].

    (Σλ)² / Σλ² of the covariance's eigenvalues λ; 0 for activity without variance.
    """
    x = activity - activity.mean(dim=1, keepdim=True)
    cov = x.transpose(1, 2) @ x / max(x.shape[1] - 1, 1)
    eig = torch.linalg.eigvalsh(cov).clamp(min=0)
    total = eig.sum(dim=-1)
    return torch.where(total > 0, total**2 / (eig**2).sum(dim=-1).clamp(min=1e-300), 0.0)


def recurrent_matrix(model: Architecture) -> torch.Tensor | None:
    """The recurrent weight matrix [E, n, n] of every network (see :data:`RECURRENT_BLOCK`).

    ``weight_hh`` multiplies the hidden activity from the right (``h @ W``); its
    eigenvalues are those of the matrix acting on column vectors. None where the
    architecture has no ``weight_hh`` or a non-square one that is not in
    :data:`RECURRENT_BLOCK`.
    """
    weight = getattr(model, "weight_hh", None)
    if weight is None:
        return None
    n = weight.shape[1]
    if weight.shape[2] == n:
        return weight
    block = RECURRENT_BLOCK.get(getattr(model, "name", ""))
    if block is None or weight.shape[2] < (block + 1) * n:
        return None
    return weight[:, :, block * n : (block + 1) * n]


def _leading_moduli(matrices: torch.Tensor | None, n_networks: int) -> np.ndarray:
    """Moduli of the leading :data:`N_EIGENVALUES` eigenvalues [E, 3] (NaN: none/non-finite)."""
    out = np.full((n_networks, N_EIGENVALUES), np.nan)
    if matrices is None:
        return out
    matrices = matrices.detach().double().cpu()
    finite = torch.isfinite(matrices).all(dim=(1, 2))
    safe = torch.where(finite[:, None, None], matrices, torch.zeros_like(matrices))
    moduli = torch.linalg.eigvals(safe).abs().sort(dim=-1, descending=True).values
    k = min(N_EIGENVALUES, moduli.shape[-1])
    out[:, :k] = moduli[:, :k].numpy()
    out[~finite.numpy()] = np.nan
    return out


def neural_features(model: Architecture, probe: TrialBatch) -> xr.DataArray:
    """The :data:`FEATURES` of every network of ``model`` on the ``probe`` trials.

    Parameters
    ----------
    model : Architecture
        The ensemble (its parameters are not changed; no gradient is kept).
    probe : TrialBatch
        The task's probe trials (``task.probe_set()``), run noise-free from the
        network's initial state.

    Returns
    -------
    xarray.DataArray ``neural_features`` (``network`` × ``neural_feature``), float64
        ``network``: the ensemble index; ``neural_feature``: the names of
        :data:`FEATURES`. Non-finite activity gives NaN activity features for that
        network, non-finite weights NaN eigenvalue moduli.
    """
    with torch.no_grad():
        inputs = probe.inputs.to(model.weight_out)
        states, _ = model(inputs.unsqueeze(0).expand(model.n_networks, *inputs.shape))
        hidden = model.hidden(states).double()
        e, b, t, n = hidden.shape
        flat = hidden.reshape(e, b * t, n)
        finite = torch.isfinite(flat).all(dim=(1, 2))
        flat = torch.where(finite[:, None, None], flat, torch.zeros_like(flat))
        activity = torch.stack([participation_ratio(flat), flat.pow(2).mean(dim=(1, 2)).sqrt()])
        activity = activity.T.cpu().numpy()
        activity[~finite.cpu().numpy()] = np.nan
        w_rec = _leading_moduli(recurrent_matrix(model), e)
    h0 = model.initial_state(1)
    u0 = torch.zeros(e, 1, model.n_inputs, device=h0.device, dtype=h0.dtype)
    jac = _leading_moduli(jacobian(model, h0, u0)[:, 0], e)
    return xr.DataArray(
        np.concatenate([activity, w_rec, jac], axis=1),
        dims=("network", "neural_feature"),
        coords={"network": np.arange(e), "neural_feature": list(FEATURES)},
        name="neural_features",
        attrs={"long_name": "neural features (see neural_feature)"},
    )
