"""Tests of the slow modes and selection-vector alignments at fixed points."""

from __future__ import annotations

import numpy as np
import pytest
import torch
import xarray as xr
from numpy.typing import NDArray

from rnn_analysis.analysis.selection_vectors import selection_vectors
from rnn_analysis.architectures import ARCHITECTURES, Architecture

S, N_IN, N_OUT = 6, 3, 2


def model_with(name: str, **weights: NDArray) -> Architecture:
    """An ensemble of one network of ``name`` with the given weights (others random)."""
    cls = ARCHITECTURES[name]
    model = cls(N_IN, N_OUT, cls.Params(hidden_size=S), [torch.Generator().manual_seed(3)])
    with torch.no_grad():
        for key, value in weights.items():
            getattr(model, key).copy_(torch.as_tensor(value, dtype=torch.float32)[None])
    return model.requires_grad_(False)


def points(
    x: NDArray, u: NDArray, kind: list[str] | None = None, n_unstable: list[int] | None = None
) -> xr.Dataset:
    """The variables of a fixed-point dataset that :func:`selection_vectors` reads."""
    n = len(x)
    return xr.Dataset(
        {
            "state_value": (("fixed_point", "state"), np.asarray(x, dtype=np.float64)),
            "input_value": (("fixed_point", "input_channel"), np.asarray(u, dtype=np.float64)),
            "kind": ("fixed_point", np.array(kind or ["fixed"] * n, dtype="<U5")),
            "n_unstable": ("fixed_point", np.array(n_unstable or [0] * n, dtype=np.int64)),
        },
        coords={"fixed_point": np.arange(n)},
    )


def unit(v: NDArray) -> NDArray:
    return v / np.linalg.norm(v)


def line_attractor_jacobian(sel: NDArray, r: NDArray, slow: float, fast: float) -> NDArray:
    """``J`` with eigenvalue ``slow`` (right eigenvector r, left eigenvector sel) and
    ``fast`` on the complement: ``slow P + fast (I − P)`` with ``P = r lᵀ / lᵀ r``."""
    p = np.outer(r, sel) / (sel @ r)
    return slow * p + fast * (np.eye(len(sel)) - p)


@pytest.fixture
def vectors() -> dict[str, NDArray]:
    """A slow mode whose left and right eigenvectors differ, and directions orthogonal
    to each."""
    rng = np.random.default_rng(2)
    sel, r = unit(rng.standard_normal(S)), unit(rng.standard_normal(S))
    sel_perp = unit(rng.standard_normal(S))
    sel_perp = unit(sel_perp - (sel_perp @ sel) * sel)
    r_perp = unit(rng.standard_normal(S))
    r_perp = unit(r_perp - (r_perp @ r) * r)
    return {"sel": sel, "r": r, "sel_perp": sel_perp, "r_perp": r_perp}


def expected_alignments(vectors: dict[str, NDArray]) -> tuple[list[float], list[float]]:
    sel, r = vectors["sel"], vectors["r"]
    # input 0 along the selection vector, input 1 orthogonal to it, input 2 along r
    inputs = [1.0, 0.0, abs(sel @ r)]
    # output 0 reads r (with a negative weight), output 1 a direction orthogonal to r
    outputs = [1.0, 0.0]
    return inputs, outputs


def designed_weights(vectors: dict[str, NDArray]) -> dict[str, NDArray]:
    sel, r = vectors["sel"], vectors["r"]
    return {
        "weight_ih": np.stack([2.0 * sel, vectors["sel_perp"], r]),
        "weight_out": np.stack([-3.0 * r, vectors["r_perp"]], axis=1),
        "bias_h": np.zeros(S),
        "bias_out": np.zeros(N_OUT),
    }


def test_rate_network_with_a_line_attractor(vectors) -> None:
    # x' = (1 − α) x + α (W tanh x + U u): at x = 0, J = (1 − α) I + α Wᵀ = P + 0.9 (I − P)
    sel, r = vectors["sel"], vectors["r"]
    alpha = 0.1
    target = line_attractor_jacobian(sel, r, 1.0, 1.0 - alpha)
    w = ((target - (1.0 - alpha) * np.eye(S)) / alpha).T
    model = model_with("rate", weight_hh=w, **designed_weights(vectors))
    ds = selection_vectors(model, points(np.zeros((1, S)), np.zeros((1, N_IN))))
    inputs, outputs = expected_alignments(vectors)
    np.testing.assert_allclose(ds["input_alignment"].values[0], inputs, atol=1e-6)
    np.testing.assert_allclose(ds["readout_alignment"].values[0], outputs, atol=1e-6)
    assert ds["slow_mode_eigenvalue"].item() == pytest.approx(1.0, abs=1e-6)
    assert ds["slow_mode_eigenvalue_imag"].item() == 0.0
    assert ds["slow_mode_time_constant"].item() > 1e5
    assert ds["input_alignment"].dims == ("fixed_point", "input_channel")
    assert ds["readout_alignment"].dims == ("fixed_point", "output")
    for name in ("slow_mode_eigenvalue", "readout_alignment", "input_alignment"):
        assert {"long_name", "units"} <= set(ds[name].attrs)


def test_vanilla_network_with_a_slow_mode(vectors) -> None:
    # h' = tanh(h W + u U): at h = 0, J = Wᵀ
    sel, r = vectors["sel"], vectors["r"]
    target = line_attractor_jacobian(sel, r, 0.99, 0.3)
    model = model_with("vanilla", weight_hh=target.T, **designed_weights(vectors))
    ds = selection_vectors(model, points(np.zeros((1, S)), np.zeros((1, N_IN))))
    inputs, outputs = expected_alignments(vectors)
    np.testing.assert_allclose(ds["input_alignment"].values[0], inputs, atol=1e-6)
    np.testing.assert_allclose(ds["readout_alignment"].values[0], outputs, atol=1e-6)
    assert ds["slow_mode_eigenvalue"].item() == pytest.approx(0.99, abs=1e-6)
    assert ds["slow_mode_time_constant"].item() == pytest.approx(-1 / np.log(0.99), rel=1e-4)


def reference(j: NDArray, b: NDArray, c: NDArray) -> tuple[complex, NDArray, NDArray]:
    """Slow eigenvalue, readout and input alignments computed with numpy's eig of J and Jᵀ."""
    w, right = np.linalg.eig(j)
    k = int(np.argmin(np.abs(w - 1)))
    w_left, left = np.linalg.eig(j.T)
    k_left = int(np.argmin(np.abs(w_left - w[k])))
    r, sel = right[:, k], left[:, k_left]

    def cos(v: NDArray, m: NDArray) -> NDArray:
        return np.abs(m @ v) / (np.linalg.norm(m, axis=1) * np.linalg.norm(v))

    return w[k], cos(r, c), cos(sel, b.T)


@pytest.mark.parametrize("name", ["vanilla", "rate"])
def test_away_from_the_origin_the_derivatives_enter(name: str) -> None:
    rng = np.random.default_rng(7)
    model = model_with(name)
    w, u_w, b_h, w_out = (
        getattr(model, k)[0].double().numpy()
        for k in ("weight_hh", "weight_ih", "bias_h", "weight_out")
    )
    x = rng.standard_normal((4, S))
    u = rng.standard_normal((4, N_IN))
    ds = selection_vectors(model, points(x, u))
    for i in range(4):
        if name == "vanilla":
            slope = 1 - np.tanh(x[i] @ w + u[i] @ u_w + b_h) ** 2
            j, b, c = slope[:, None] * w.T, slope[:, None] * u_w.T, w_out.T
        else:
            alpha = model.params.alpha
            slope = 1 - np.tanh(x[i]) ** 2
            j = (1 - alpha) * np.eye(S) + alpha * w.T * slope[None, :]
            b, c = alpha * u_w.T, w_out.T * slope[None, :]
        lam, readout, inputs = reference(j, b, c)
        assert ds["slow_mode_eigenvalue"].values[i] == pytest.approx(lam.real, abs=1e-6)
        assert abs(ds["slow_mode_eigenvalue_imag"].values[i]) == pytest.approx(
            abs(lam.imag), abs=1e-6
        )
        np.testing.assert_allclose(ds["readout_alignment"].values[i], readout, atol=1e-6)
        np.testing.assert_allclose(ds["input_alignment"].values[i], inputs, atol=1e-6)


def test_which_points_are_evaluated() -> None:
    model = model_with("vanilla")
    x = np.random.default_rng(1).standard_normal((4, S))
    fp = points(
        x,
        np.zeros((4, N_IN)),
        kind=["fixed", "fixed", "slow", "slow"],
        n_unstable=[0, 1, 0, 2],
    )
    ds = selection_vectors(model, fp)
    np.testing.assert_array_equal(ds["selection_evaluated"].values, [True, False, True, True])
    assert np.isnan(ds["input_alignment"].values[1]).all()
    assert np.isnan(ds["slow_mode_eigenvalue"].values[1])
    assert np.isfinite(ds["input_alignment"].values[[0, 2, 3]]).all()
    every = selection_vectors(model, fp, include_unstable=True)
    assert every["selection_evaluated"].values.all()
    np.testing.assert_allclose(
        every["input_alignment"].values[[0, 2, 3]], ds["input_alignment"].values[[0, 2, 3]]
    )
    # merges with the fixed-point dataset along its points
    merged = xr.merge([fp, ds])
    assert merged.sizes["fixed_point"] == 4
    empty = selection_vectors(model, fp.isel(fixed_point=[]))
    assert empty.sizes["fixed_point"] == 0 and empty.sizes["input_channel"] == N_IN


@pytest.mark.parametrize("name", ["gru", "lstm", "ugrnn"])
def test_every_architecture(name: str) -> None:
    model = model_with(name)
    rng = np.random.default_rng(4)
    x = 0.5 * rng.standard_normal((3, model.n_state))
    ds = selection_vectors(model, points(x, rng.standard_normal((3, N_IN))))
    for key in ("readout_alignment", "input_alignment"):
        values = ds[key].values
        assert np.isfinite(values).all() and ((values >= 0) & (values <= 1 + 1e-12)).all()
    assert ds["readout_alignment"].shape == (3, N_OUT)
    assert ds["input_alignment"].shape == (3, N_IN)


def test_errors() -> None:
    cls = ARCHITECTURES["vanilla"]
    two = cls(N_IN, N_OUT, cls.Params(hidden_size=S), 2)
    fp = points(np.zeros((1, S)), np.zeros((1, N_IN)))
    with pytest.raises(ValueError, match="one network"):
        selection_vectors(two, fp)
    model = model_with("vanilla")
    with pytest.raises(ValueError, match="n_unstable"):
        selection_vectors(model, fp.drop_vars("n_unstable"))
    with pytest.raises(ValueError, match="do not fit"):
        selection_vectors(model, points(np.zeros((1, S + 1)), np.zeros((1, N_IN))))
