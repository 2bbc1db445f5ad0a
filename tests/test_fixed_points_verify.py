"""Verification of candidates: q below tol_q through saturation, at a ghost or on a flat
plateau does not make a fixed point; marginal modes are not unstable."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import torch
from scipy.optimize import brentq

from rnn_analysis.analysis.fixed_points import FixedPointParams, find_fixed_points
from rnn_analysis.architectures import ARCHITECTURES, Architecture, ArchitectureParams
from rnn_analysis.architectures.base import zeros
from rnn_analysis.tasks.base import StaticInputs

#: The finder without verification, seeded from probe samples only, with unstable_tol 0.
UNVERIFIED = FixedPointParams(
    n_initial_states=256,
    verify=False,
    initial_states_per_dimension=0,
    expanded_fraction=0.0,
    segment_points=0,
    unstable_tol=0.0,
)
NEW = FixedPointParams(n_initial_states=256)


def zero_input(n_in: int = 1) -> StaticInputs:
    return StaticInputs(torch.zeros(1, n_in), {"input": np.array(["zero"])})


def box_probe(n_units: int, radius: float = 1.2, seed: int = 1) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    return (torch.rand(1, 8, 64, n_units, generator=g) * 2 - 1) * radius


def saturating_gru() -> Architecture:
    """A 2-unit GRU: unit 0 bistable, h0' = ½ h0 + ½ tanh(2 h0); unit 1 with update gate
    z1 = σ(4 h1 + 2) and candidate tanh(h1 / 2 − 1), whose only fixed point is h1 ≈ −0.895
    but whose F(h) − h = (1 − z1)(n1 − h1) falls below any tolerance as h1 grows."""
    cls = ARCHITECTURES["gru"]
    model = cls(1, 1, cls.Params(hidden_size=2), [torch.Generator()])
    with torch.no_grad():
        for p in model.parameters():
            p.zero_()
        # weight_hh columns: r0 r1 z0 z1 n0 n1
        model.bias_hh[0, 0:2] = 40.0  # reset gates open
        model.weight_hh[0, 1, 3], model.bias_hh[0, 3] = 4.0, 2.0
        model.weight_hh[0, 0, 4] = 2.0
        model.weight_hh[0, 1, 5], model.bias_hh[0, 5] = 0.5, -1.0
    return model


def test_saturated_update_gate_gives_slow_points_not_fixed_ones() -> None:
    model = saturating_gru()
    h_star = brentq(lambda h: np.tanh(2 * h) - h, 0.5, 1.5, xtol=1e-15)
    h1 = brentq(lambda h: np.tanh(0.5 * h - 1) - h, -1.0, 0.0, xtol=1e-15)
    expected = np.array([[-h_star, h1], [0.0, h1], [h_star, h1]])

    (unverified,) = find_fixed_points(model, box_probe(2), zero_input(), UNVERIFIED)
    (after,) = find_fixed_points(model, box_probe(2), zero_input(), NEW)

    # Without verification: points far out along h1, where z1 rounds towards 1, count as
    # fixed (q ≤ tol_q) although no GRU fixed point can have |h_i| ≥ 1.
    old_fixed = unverified.state_value.values[unverified.kind.values == "fixed"]
    spurious = np.abs(old_fixed).max(axis=1) >= 1
    assert spurious.sum() >= 5
    assert (unverified.q.values[unverified.kind.values == "fixed"] <= UNVERIFIED.tol_q).all()

    fixed = after.where(after.kind == "fixed", drop=True)
    found = fixed.state_value.values[np.argsort(fixed.state_value.values[:, 0])]
    np.testing.assert_allclose(found, expected, atol=1e-9)
    assert (np.abs(found) < 1).all()
    assert (fixed.newton_residual.values <= NEW.verify_residual_tol).all()
    assert (fixed.newton_step.values <= NEW.verify_step_tol).all()
    np.testing.assert_array_equal(np.sort(fixed.n_unstable.values), [0, 0, 1])
    # The plateau is still there, as slow points (from other initial states than the
    # unverified search's, so not at the same places).
    slow = after.state_value.values[after.kind.values == "slow"]
    assert len(slow) >= 5
    for point in old_fixed[spurious]:
        assert np.linalg.norm(slow - point, axis=1).min() <= 0.01
    assert after.attrs["n_rejected"] >= 5
    assert after.attrs["n_relocated"] >= 1
    far = after.kind.values == "slow"
    assert (after.newton_distance.values[far] > NEW.verify_max_distance).all()


def bistable(bias: float) -> Architecture:
    """One vanilla tanh unit h' = tanh(2 h + bias)."""
    cls = ARCHITECTURES["vanilla"]
    model = cls(1, 1, cls.Params(hidden_size=1), [torch.Generator()])
    with torch.no_grad():
        model.weight_hh.fill_(2.0)
        model.weight_ih.zero_()
        model.bias_h.fill_(bias)
    return model


def test_ghost_with_q_below_tol_q_is_a_slow_point() -> None:
    """Just past the saddle-node at h = −1/√2 the lower pair of fixed points is gone; q
    keeps a minimum of about ε²/8 there, below tol_q for ε = 1e-6."""
    b_critical = np.arctanh(-1 / np.sqrt(2)) + np.sqrt(2)
    model = bistable(b_critical + 1e-6)
    root = brentq(lambda h: np.tanh(2 * h + b_critical + 1e-6) - h, 0.5, 1.5, xtol=1e-15)

    (unverified,) = find_fixed_points(model, box_probe(1), zero_input(), UNVERIFIED)
    (after,) = find_fixed_points(model, box_probe(1), zero_input(), NEW)

    ghost_unverified = np.abs(unverified.state_value.values[:, 0] + 1 / np.sqrt(2)) < 0.01
    assert (unverified.kind.values[ghost_unverified] == "fixed").any()
    fixed = after.where(after.kind == "fixed", drop=True)
    np.testing.assert_allclose(fixed.state_value.values[:, 0], [root], atol=1e-9)
    ghost = np.abs(after.state_value.values[:, 0] + 1 / np.sqrt(2)) < 0.01
    assert ghost.any()
    assert (after.kind.values[ghost] == "slow").all()
    assert (after.q.values[ghost] <= NEW.tol_q).any()
    assert after.attrs["n_rejected"] >= 1


class Plateau(Architecture):
    """``h' = h + 1e-11 (2 + tanh h)``: no fixed point, q below 1e-21 everywhere."""

    name = "plateau"

    def parameter_shapes(self):
        return {"unused": ((1,), zeros), **self.readout_shapes()}

    def step(self, h: torch.Tensor, u: torch.Tensor) -> torch.Tensor:
        return h + 1e-11 * (2 + torch.tanh(h))


def test_flat_plateau_is_not_a_fixed_point() -> None:
    model = Plateau(1, 1, ArchitectureParams(hidden_size=1), [torch.Generator()])
    (unverified,) = find_fixed_points(model, box_probe(1), zero_input(), UNVERIFIED)
    (after,) = find_fixed_points(model, box_probe(1), zero_input(), NEW)
    assert (unverified.kind.values == "fixed").sum() >= 10
    assert after.sizes["fixed_point"] >= 10
    assert (after.kind.values == "slow").all()
    # The residual is below tolerance, but the Newton step is not small: not a root.
    # (Far out, at |h| ≳ 1e5, h + 1e-11 rounds to h: a root in float64, but not near
    # any candidate.)
    assert (after.newton_residual.values <= NEW.verify_residual_tol).all()
    rejected = after.newton_step.values > 1.0
    relocated = after.newton_distance.values > 1e4
    assert (rejected | relocated).all() and rejected.sum() >= 10
    assert after.attrs["n_confirmed"] == 0
    assert after.attrs["n_rejected"] == after.attrs["n_candidates"]


class Linear(Architecture):
    """``h' = A h`` with ``weight_hh`` = Aᵀ."""

    name = "linear"

    def parameter_shapes(self):
        n = self.hidden_size
        return {"weight_hh": ((n, n), zeros), **self.readout_shapes()}

    def step(self, h: torch.Tensor, u: torch.Tensor) -> torch.Tensor:
        return torch.bmm(h, self.weight_hh)


def test_eigenvalue_at_one_within_unstable_tol_is_marginal_not_unstable() -> None:
    lam = np.array([1 + 1e-7, 0.5, 1.001, -0.3])
    model = Linear(1, 1, ArchitectureParams(hidden_size=4), [torch.Generator()]).double()
    rng = np.random.default_rng(0)
    basis = np.linalg.qr(rng.normal(size=(4, 4)))[0]
    a = basis @ np.diag(lam) @ basis.T
    with torch.no_grad():
        model.weight_hh.copy_(torch.as_tensor(a.T)[None])
    probe = box_probe(4, radius=0.5)

    (ds,) = find_fixed_points(model, probe, zero_input(), NEW)
    (strict,) = find_fixed_points(model, probe, zero_input(), replace(NEW, unstable_tol=0.0))

    for result, n_unstable, n_marginal in ((ds, 1, 1), (strict, 2, 0)):
        fixed = result.where(result.kind == "fixed", drop=True)
        assert fixed.sizes["fixed_point"] == 1
        np.testing.assert_allclose(fixed.state_value.values, 0.0, atol=1e-9)
        assert int(fixed.n_unstable[0]) == n_unstable
        assert int(fixed.n_marginal[0]) == n_marginal
        assert bool(fixed.stable[0]) is False
