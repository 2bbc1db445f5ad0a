"""Cheap neural features of an ensemble, recorded while it trains.

The space-of-solutions study (Turner, Dabholkar & Barak 2021) found that features of a
network measured during training partly predict the solution type it ends in. At
initialisation and at every ``features_every``-th validation (``training.stopping``),
every learning rule records, per network (:func:`neural_features`):

- ``effective_dimensionality``: the participation ratio (Σλ)² / Σλ² of the covariance
  of the hidden activity over the probe trials' steps (1: activity on a line; the
  number of units: activity spread evenly);
- ``activity_rms``: the root-mean-square hidden activity on the probe trials;
- ``jacobian_eig_1`` .. ``jacobian_eig_3``: the moduli of the three leading eigenvalues
  of the Jacobian of the state update at the network's initial state under zero input
  (for a vanilla network at the origin, those of the recurrent weights scaled by the
  slope of the activation; > 1: an unstable origin).

They are stored in each network's ``training.nc`` as ``neural_features``
(``feature_update`` × ``neural_feature``), with the update number as coordinate.
"""

from __future__ import annotations

import numpy as np
import torch

from rnn_analysis.analysis.fixed_points.jacobians import jacobian
from rnn_analysis.architectures.base import Architecture
from rnn_analysis.tasks.base import TrialBatch

#: Names of the recorded features, in order.
FEATURES = (
    "effective_dimensionality",
    "activity_rms",
    "jacobian_eig_1",
    "jacobian_eig_2",
    "jacobian_eig_3",
)

#: Long name of each feature.
DESCRIPTIONS = {
    "effective_dimensionality": "participation ratio of the probe activity's covariance",
    "activity_rms": "RMS hidden activity on the probe trials",
    "jacobian_eig_1": "|leading eigenvalue| of the Jacobian at the initial state",
    "jacobian_eig_2": "|second eigenvalue| of the Jacobian at the initial state",
    "jacobian_eig_3": "|third eigenvalue| of the Jacobian at the initial state",
}


def participation_ratio(activity: torch.Tensor) -> torch.Tensor:
    """Participation ratio of the covariance of ``activity`` [E, samples, units] → [E]."""
    x = activity - activity.mean(dim=1, keepdim=True)
    cov = x.transpose(1, 2) @ x / max(x.shape[1] - 1, 1)
    eig = torch.linalg.eigvalsh(cov).clamp(min=0)
    total = eig.sum(dim=-1)
    return torch.where(total > 0, total**2 / (eig**2).sum(dim=-1).clamp(min=1e-300), 0.0)


def neural_features(model: Architecture, probe: TrialBatch) -> np.ndarray:
    """The :data:`FEATURES` of every network of ``model`` on the ``probe`` trials, [E, F].

    Non-finite activity gives NaN features for that network.
    """
    with torch.no_grad():
        inputs = probe.inputs.to(model.weight_out)
        states, _ = model(inputs.unsqueeze(0).expand(model.n_networks, *inputs.shape))
        hidden = model.hidden(states).double()
        e, b, t, n = hidden.shape
        flat = hidden.reshape(e, b * t, n)
        finite = torch.isfinite(flat).all(dim=(1, 2))
        flat = torch.where(finite[:, None, None], flat, torch.zeros_like(flat))
        dimensionality = participation_ratio(flat)
        rms = flat.pow(2).mean(dim=(1, 2)).sqrt()
    h0 = model.initial_state(1)
    u0 = torch.zeros(model.n_networks, 1, model.n_inputs, device=h0.device, dtype=h0.dtype)
    jac = jacobian(model, h0, u0)[:, 0].double()
    finite_jac = torch.isfinite(jac).all(dim=(1, 2))
    moduli = torch.linalg.eigvals(torch.where(finite_jac[:, None, None], jac, 0.0)).abs()
    leading = moduli.sort(dim=-1, descending=True).values
    k = min(3, leading.shape[-1])
    eigs = torch.full((e, 3), float("nan"), dtype=torch.float64)
    eigs[:, :k] = leading[:, :k].cpu()
    out = torch.cat([dimensionality[:, None].cpu(), rms[:, None].cpu(), eigs], dim=1).numpy()
    out[~finite.cpu().numpy(), :2] = np.nan
    out[~finite_jac.cpu().numpy(), 2:] = np.nan
    return out
