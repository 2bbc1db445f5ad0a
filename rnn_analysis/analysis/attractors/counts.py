"""Counts of fixed, stable, saddle and slow points, and oscillatory modes of every point."""

from __future__ import annotations

from typing import Any

import numpy as np
from numpy.typing import NDArray

from rnn_analysis.analysis.attractors.points import Points

__all__ = ["counts", "oscillations", "oscillatory_modes"]


def counts(points: Points, n_cond: int) -> dict[str, Any]:
    cond = points.condition
    fixed = points.fixed
    max_unstable = int(points.n_unstable[fixed].max()) if fixed.any() else 0
    k = np.arange(1, max(1, max_unstable) + 1)

    def per_condition(mask: NDArray) -> NDArray:
        return np.bincount(cond[mask], minlength=n_cond).astype(np.int64)

    saddle = np.stack([per_condition(fixed & (points.n_unstable == j)) for j in k], axis=1)
    n_fixed = per_condition(fixed)
    n_stable = per_condition(fixed & points.stable)
    n_slow = per_condition(~fixed)
    si = ("static_input",)
    return {
        "unstable_modes": (
            "unstable_modes",
            k,
            {"long_name": "number of unstable modes of a saddle"},
        ),
        "n_fixed": (si, n_fixed, {"long_name": "fixed points per static input", "units": "1"}),
        "n_stable": (
            si,
            n_stable,
            {"long_name": "stable fixed points per static input", "units": "1"},
        ),
        "n_slow": (si, n_slow, {"long_name": "slow points per static input", "units": "1"}),
        "n_saddle": (
            ("static_input", "unstable_modes"),
            saddle,
            {
                "long_name": "fixed points with unstable_modes unstable modes per static input",
                "units": "1",
            },
        ),
        "n_fixed_total": ((), int(n_fixed.sum()), {"long_name": "fixed points", "units": "1"}),
        "n_stable_total": (
            (),
            int(n_stable.sum()),
            {"long_name": "stable fixed points", "units": "1"},
        ),
        "n_slow_total": ((), int(n_slow.sum()), {"long_name": "slow points", "units": "1"}),
        "n_saddle_total": (
            ("unstable_modes",),
            saddle.sum(axis=0),
            {"long_name": "fixed points with unstable_modes unstable modes", "units": "1"},
        ),
    }


# -- oscillatory modes --------------------------------------------------------------------


def oscillatory_modes(lam: NDArray, complex_tol: float = 1e-6) -> dict[str, NDArray]:
    """Complex-conjugate pairs of eigenvalues, point by point.

    Parameters
    ----------
    lam : [P, M] complex array
        Eigenvalues of each point.
    complex_tol : float
        ``|Im λ| > complex_tol`` makes an eigenvalue complex.

    Returns
    -------
    dict of arrays: ``mode_rotation`` [P, M] (``|arg λ|`` in rad/step of each pair's
    member with ``Im λ > 0``, NaN elsewhere), ``n_pairs`` [P], and ``rotation`` and
    ``modulus`` [P] of the leading pair (largest ``|λ|``), NaN without a pair.
    """
    lam = np.asarray(lam, dtype=complex)
    upper = lam.imag > complex_tol
    mode_rotation = np.where(upper, np.abs(np.angle(lam)), np.nan)
    n_pairs = upper.sum(axis=1).astype(np.int64)
    has = n_pairs > 0
    if lam.shape[1]:
        first = np.argmax(np.where(upper, np.abs(lam), -1.0), axis=1)
        lead = lam[np.arange(len(lam)), first]
    else:
        lead = np.zeros(len(lam), complex)
    return {
        "mode_rotation": mode_rotation,
        "n_pairs": n_pairs,
        "rotation": np.where(has, np.abs(np.angle(lead)), np.nan),
        "modulus": np.where(has, np.abs(lead), np.nan),
    }


def oscillations(lam: NDArray, complex_tol: float) -> dict[str, Any]:
    osc = oscillatory_modes(lam, complex_tol)
    fp = ("fixed_point",)
    return {
        "osc_n_pairs": (
            fp,
            osc["n_pairs"],
            {"long_name": "number of complex-conjugate eigenvalue pairs", "units": "1"},
        ),
        "osc_rotation": (
            fp,
            osc["rotation"],
            {
                "long_name": "rotation |arg λ| of the leading complex pair",
                "units": "rad/step",
            },
        ),
        "osc_modulus": (
            fp,
            osc["modulus"],
            {"long_name": "modulus |λ| of the leading complex pair", "units": "1"},
        ),
        "osc_mode_rotation": (
            ("fixed_point", "mode"),
            osc["mode_rotation"],
            {
                "long_name": "rotation |arg λ| of each complex pair (at its Im λ > 0 member)",
                "units": "rad/step",
            },
        ),
    }
