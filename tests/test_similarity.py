"""Tests of the representational distance metrics."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.linalg
import torch
from numpy.typing import NDArray

from rnn_analysis.similarity import METRICS, get_metric, pairwise_distances
from rnn_analysis.similarity.cca import CCA
from rnn_analysis.similarity.cka import CKA

N_SAMPLES = 300


def random_rep(rng: np.random.Generator, n_units: int, n_samples: int = N_SAMPLES) -> NDArray:
    """Correlated, anisotropic data with a non-zero mean."""
    latent = rng.standard_normal((n_samples, n_units))
    mixing = rng.standard_normal((n_units, n_units)) * rng.uniform(0.2, 3.0, n_units)
    return np.tanh(latent @ mixing) + rng.standard_normal(n_units)


def random_invertible(rng: np.random.Generator, n: int) -> NDArray:
    q1 = scipy.linalg.qr(rng.standard_normal((n, n)))[0]
    q2 = scipy.linalg.qr(rng.standard_normal((n, n)))[0]
    return q1 @ np.diag(np.logspace(-1, 1, n)) @ q2


def random_orthogonal(rng: np.random.Generator, n: int) -> NDArray:
    return scipy.linalg.qr(rng.standard_normal((n, n)))[0]


def reference_cca(x: NDArray, y: NDArray) -> float:
    """1 - mean canonical correlation by explicit whitening of covariances."""
    xc = x - x.mean(axis=0)
    yc = y - y.mean(axis=0)
    cxx = xc.T @ xc
    cyy = yc.T @ yc
    cxy = xc.T @ yc
    whitened = scipy.linalg.inv(scipy.linalg.sqrtm(cxx)) @ cxy
    whitened = whitened @ scipy.linalg.inv(scipy.linalg.sqrtm(cyy))
    rho = scipy.linalg.svdvals(np.real(whitened))
    return 1.0 - rho[: min(x.shape[1], y.shape[1])].mean()


def reference_cca_angles(x: NDArray, y: NDArray) -> float:
    """1 - mean cosine of the principal angles between centred column spaces."""
    angles = scipy.linalg.subspace_angles(x - x.mean(axis=0), y - y.mean(axis=0))
    return 1.0 - np.cos(angles).mean()


def reference_cka(x: NDArray, y: NDArray) -> float:
    """1 - linear CKA via HSIC of n x n Gram matrices with centring matrix H."""
    n = x.shape[0]
    h = np.eye(n) - np.ones((n, n)) / n
    k = x @ x.T
    l_ = y @ y.T

    def hsic(a: NDArray, b: NDArray) -> float:
        return float(np.trace(a @ h @ b @ h))

    return 1.0 - hsic(k, l_) / np.sqrt(hsic(k, k) * hsic(l_, l_))


@pytest.fixture
def rng() -> np.random.Generator:
    return np.random.default_rng(20240611)


def test_registry_names() -> None:
    assert {"cca", "cka"} <= set(METRICS.names())
    assert METRICS["cca"] is CCA
    assert METRICS["cka"] is CKA


@pytest.mark.parametrize("metric", ["cca", "cka", "svcca", "procrustes"])
def test_distance_to_itself_is_zero(rng: np.random.Generator, metric: str) -> None:
    x = random_rep(rng, 12)
    assert get_metric(metric)(x, x) == pytest.approx(0.0, abs=1e-10)


def test_cca_invariant_to_invertible_map_and_offset(rng: np.random.Generator) -> None:
    x = random_rep(rng, 10)
    cca = CCA()
    assert cca(x, x @ random_invertible(rng, 10)) == pytest.approx(0.0, abs=1e-8)
    assert cca(x, x + 7.5) == pytest.approx(0.0, abs=1e-8)
    assert cca(x, x + rng.standard_normal(10) * 5) == pytest.approx(0.0, abs=1e-8)


def test_cka_invariant_to_scaled_orthogonal_map_and_offset(
    rng: np.random.Generator,
) -> None:
    x = random_rep(rng, 10)
    cka = CKA()
    assert cka(x, 3.7 * x @ random_orthogonal(rng, 10)) == pytest.approx(0.0, abs=1e-8)
    assert cka(x, 0.02 * x @ random_orthogonal(rng, 10)) == pytest.approx(0.0, abs=1e-8)
    assert cka(x, x + rng.standard_normal(10) * 5) == pytest.approx(0.0, abs=1e-8)


def test_cka_not_invariant_to_general_invertible_map(rng: np.random.Generator) -> None:
    x = rng.standard_normal((N_SAMPLES, 10))
    mapped = x @ random_invertible(rng, 10)
    assert CKA()(x, mapped) > 0.1
    assert CCA()(x, mapped) == pytest.approx(0.0, abs=1e-8)


@pytest.mark.parametrize("metric", ["cca", "cka", "svcca", "procrustes"])
def test_unrelated_representations_are_far(rng: np.random.Generator, metric: str) -> None:
    x = rng.standard_normal((4000, 8))
    y = rng.standard_normal((4000, 8))
    assert get_metric(metric)(x, y) > 0.8


@pytest.mark.parametrize("metric", ["cca", "cka", "svcca", "procrustes"])
def test_pairwise_matrix_properties(rng: np.random.Generator, metric: str) -> None:
    reps = [random_rep(rng, n) for n in (5, 8, 8, 13, 3)]
    reps.append(reps[1] @ random_orthogonal(rng, 8) + 1.0)
    d = pairwise_distances(reps, metric)
    assert d.shape == (6, 6)
    assert d.dtype == np.float64
    np.testing.assert_array_equal(d, d.T)
    np.testing.assert_array_equal(np.diag(d), 0.0)
    assert np.all((d >= 0.0) & (d <= 1.0))
    assert d[1, 5] == pytest.approx(0.0, abs=1e-8)
    off_diagonal = d[~np.eye(6, dtype=bool)]
    assert np.sum(off_diagonal > 1e-3) == 28


@pytest.mark.parametrize("metric", ["cca", "cka", "svcca", "procrustes"])
def test_pairwise_matches_pairs(rng: np.random.Generator, metric: str) -> None:
    reps = [random_rep(rng, n) for n in (4, 9, 6, 6)]
    m = get_metric(metric)
    d = m.pairwise(reps)
    for i in range(4):
        for j in range(4):
            expected = 0.0 if i == j else m(reps[i], reps[j])
            assert d[i, j] == pytest.approx(expected, abs=1e-12)


@pytest.mark.parametrize(("n_a", "n_b"), [(6, 6), (4, 11), (15, 7)])
def test_cca_matches_reference(rng: np.random.Generator, n_a: int, n_b: int) -> None:
    x = random_rep(rng, n_a)
    y = random_rep(rng, n_b) + 0.3 * x[:, :1]
    ours = CCA()(x, y)
    assert ours == pytest.approx(reference_cca(x, y), abs=1e-6)
    assert ours == pytest.approx(reference_cca_angles(x, y), abs=1e-6)
    assert 0.05 < ours < 1.0


@pytest.mark.parametrize(("n_a", "n_b"), [(6, 6), (4, 11), (15, 7), (40, 350)])
def test_cka_matches_reference(rng: np.random.Generator, n_a: int, n_b: int) -> None:
    x = random_rep(rng, n_a)
    y = random_rep(rng, n_b) + 0.3 * x[:, :1]
    ours = CKA()(x, y)
    assert ours == pytest.approx(reference_cka(x, y), abs=1e-6)
    assert 0.01 < ours < 1.0


def test_cca_rank_deficient(rng: np.random.Generator) -> None:
    base = random_rep(rng, 5)
    x = np.hstack([base, base[:, :2] * 2.0 - base[:, 3:4], np.full((N_SAMPLES, 1), 3.0)])
    cca = CCA()
    assert cca.prepare(x).shape == (N_SAMPLES, 5)
    assert cca(x, base @ random_invertible(rng, 5)) == pytest.approx(0.0, abs=1e-8)
    y = random_rep(rng, 7)
    assert cca(x, y) == pytest.approx(reference_cca_angles(x, y), abs=1e-6)


def test_cca_saturates_when_units_exceed_samples(rng: np.random.Generator) -> None:
    x = rng.standard_normal((20, 30))
    y = rng.standard_normal((20, 25))
    assert CCA()(x, y) == pytest.approx(0.0, abs=1e-8)


def test_single_and_no_networks(rng: np.random.Generator) -> None:
    np.testing.assert_array_equal(pairwise_distances([random_rep(rng, 3)], "cca"), [[0.0]])
    assert pairwise_distances([], "cka").shape == (0, 0)


def test_mismatched_samples_rejected(rng: np.random.Generator) -> None:
    reps = [random_rep(rng, 4), random_rep(rng, 4), random_rep(rng, 4, n_samples=200)]
    with pytest.raises(ValueError, match=r"network 2.*\(200, 4\).*network 0.*\(300, 4\)"):
        pairwise_distances(reps, "cca")


@pytest.mark.parametrize("bad", [np.nan, np.inf])
def test_non_finite_rejected(rng: np.random.Generator, bad: float) -> None:
    reps = [random_rep(rng, 4), random_rep(rng, 5)]
    reps[1][7, 2] = bad
    with pytest.raises(ValueError, match=r"network 1.*\(300, 5\).*1 non-finite"):
        pairwise_distances(reps, "cka")


def test_too_few_samples_rejected(rng: np.random.Generator) -> None:
    with pytest.raises(ValueError, match=r"network 0.*\(1, 4\).*fewer than 2 samples"):
        pairwise_distances([rng.standard_normal((1, 4))] * 2, "cca")


def test_wrong_ndim_rejected(rng: np.random.Generator) -> None:
    with pytest.raises(ValueError, match=r"network 1.*2-D.*\(300,\)"):
        pairwise_distances([random_rep(rng, 4), np.zeros(N_SAMPLES)], "cka")


@pytest.mark.parametrize("metric", ["cca", "cka", "svcca", "procrustes"])
def test_constant_representation_rejected(rng: np.random.Generator, metric: str) -> None:
    reps = [random_rep(rng, 4), np.full((N_SAMPLES, 3), 0.7)]
    with pytest.raises(ValueError, match=r"network 1.*zero variance"):
        pairwise_distances(reps, metric)


def test_options_and_attrs() -> None:
    assert CCA(rtol=1e-6).rtol == 1e-6
    assert get_metric("cca", rtol=1e-8).attrs() == {
        "metric": "cca",
        "long_name": CCA.long_name,
        "units": "1",
        "family": "geometry",
        "metric_rtol": 1e-8,
    }
    assert CKA().attrs()["metric"] == "cka"
    with pytest.raises(TypeError, match="cka"):
        get_metric("cka", rtol=1e-8)
    with pytest.raises(KeyError, match="similarity metric 'rsa'"):
        get_metric("rsa")
    with pytest.raises(ValueError, match="rtol"):
        CCA(rtol=-1.0)


def reference_svcca(x: NDArray, y: NDArray, fraction: float = 0.95) -> float:
    """PCA by eigen-decomposition of the covariance, then CCA by whitening."""

    def leading(z: NDArray) -> NDArray:
        zc = z - z.mean(axis=0)
        values, vectors = np.linalg.eigh(zc.T @ zc)
        order = np.argsort(values)[::-1]
        values, vectors = values[order], vectors[:, order]
        k = int(np.argmax(np.cumsum(values) / values.sum() >= fraction - 1e-12)) + 1
        return zc @ vectors[:, :k]

    return reference_cca(leading(x), leading(y))


@pytest.mark.parametrize(("n_a", "n_b"), [(8, 8), (6, 10)])
def test_svcca_matches_reference(rng: np.random.Generator, n_a: int, n_b: int) -> None:
    x, y = random_rep(rng, n_a), random_rep(rng, n_b)
    assert get_metric("svcca")(x, y) == pytest.approx(reference_svcca(x, y), abs=1e-6)


def test_svcca_invariances_and_limits(rng: np.random.Generator) -> None:
    x, y = random_rep(rng, 10), random_rep(rng, 10)
    metric = get_metric("svcca")
    assert metric(x, x) == pytest.approx(0.0, abs=1e-10)
    moved = 3.7 * x @ random_orthogonal(rng, 10) + rng.standard_normal(10)
    assert metric(moved, y) == pytest.approx(metric(x, y), abs=1e-8)
    assert metric(x, moved) == pytest.approx(0.0, abs=1e-8)
    # keeping every component is plain CCA
    assert get_metric("svcca", variance_fraction=1.0)(x, y) == pytest.approx(
        get_metric("cca")(x, y), abs=1e-10
    )
    # truncation keeps fewer components: a different, still symmetric distance
    d = pairwise_distances([x, y, moved], "svcca")
    np.testing.assert_allclose(d, d.T, atol=1e-12)
    assert d[0, 2] == pytest.approx(0.0, abs=1e-8)
    with pytest.raises(ValueError, match="variance_fraction"):
        get_metric("svcca", variance_fraction=0.0)


def test_svcca_invariance_to_invertible_maps_needs_every_component(
    rng: np.random.Generator,
) -> None:
    """Keeping every component, SVCCA is CCA and ignores any invertible map of the units;
    the 95% truncation depends on the variance spectrum, which such a map changes."""
    x, y = random_rep(rng, 10), random_rep(rng, 10)
    mixed = x @ random_invertible(rng, 10) + 2.0
    full = get_metric("svcca", variance_fraction=1.0)
    assert full(mixed, y) == pytest.approx(full(x, y), abs=1e-8)
    assert full(x, mixed) == pytest.approx(0.0, abs=1e-8)
    truncated = get_metric("svcca")
    assert truncated(x, mixed) > 1e-3


def reference_procrustes(x: NDArray, y: NDArray) -> float:
    """Angle after the optimal rotation of zero-padded, normalised representations."""
    width = max(x.shape[1], y.shape[1])

    def normalised(z: NDArray) -> NDArray:
        zc = np.pad(z - z.mean(axis=0), ((0, 0), (0, width - z.shape[1])))
        return zc / np.linalg.norm(zc)

    a, b = normalised(x), normalised(y)
    rotation, _ = scipy.linalg.orthogonal_procrustes(a, b)
    return float(np.arccos(np.clip(np.trace((a @ rotation).T @ b), -1, 1)) / (np.pi / 2))


@pytest.mark.parametrize(("n_a", "n_b"), [(8, 8), (6, 10)])
def test_procrustes_matches_reference(rng: np.random.Generator, n_a: int, n_b: int) -> None:
    x, y = random_rep(rng, n_a), random_rep(rng, n_b)
    assert get_metric("procrustes")(x, y) == pytest.approx(reference_procrustes(x, y), abs=1e-6)


def test_procrustes_invariances(rng: np.random.Generator) -> None:
    x, y = random_rep(rng, 10), random_rep(rng, 10)
    metric = get_metric("procrustes")
    moved = 0.3 * x @ random_orthogonal(rng, 10) + rng.standard_normal(10)
    assert metric(x, moved) == pytest.approx(0.0, abs=1e-6)
    assert metric(moved, y) == pytest.approx(metric(x, y), abs=1e-8)
    assert metric(x @ random_invertible(rng, 10), y) != pytest.approx(metric(x, y), abs=1e-3)


def test_procrustes_triangle_inequality(rng: np.random.Generator) -> None:
    reps = [random_rep(rng, int(rng.integers(4, 12))) for _ in range(12)]
    d = pairwise_distances(reps, "procrustes")
    for i in range(12):
        for j in range(12):
            for k in range(12):
                assert d[i, k] <= d[i, j] + d[j, k] + 1e-12


REFERENCES = {
    "cca": reference_cca,
    "svcca": reference_svcca,
    "cka": reference_cka,
    "procrustes": reference_procrustes,
}


@pytest.mark.parametrize("metric", sorted(REFERENCES))
def test_batched_tiles_match_reference(
    rng: np.random.Generator, metric: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Tiles of 1-2 networks (forced small) give the straightforward per-pair values."""
    from rnn_analysis.similarity import batched

    monkeypatch.setattr(batched, "TILE_BYTES", 8 * (2 * 12) ** 2)
    reps = [random_rep(rng, n) for n in (4, 9, 6, 12, 3, 7, 9)]
    assert batched.tile_size(12, len(reps)) == 2
    d = pairwise_distances(reps, metric)
    for i in range(len(reps)):
        for j in range(i + 1, len(reps)):
            expected = REFERENCES[metric](reps[i], reps[j])
            assert d[i, j] == pytest.approx(expected, abs=1e-6), (i, j)
            assert d[j, i] == d[i, j]


def test_procrustes_batched_exact_near_zero(rng: np.random.Generator) -> None:
    """Near-identical pairs keep full precision in the batched path (no arccos near 1)."""
    x = random_rep(rng, 10)
    moved = 2.0 * x @ random_orthogonal(rng, 10) - 1.0
    d = pairwise_distances([x, moved, random_rep(rng, 10)], "procrustes")
    assert d[0, 1] < 1e-10
    assert d[0, 2] > 1e-3


@pytest.mark.parametrize(
    "device",
    [
        "cpu",
        "auto",
        pytest.param(
            "cuda",
            marks=pytest.mark.skipif(not torch.cuda.is_available(), reason="no GPU visible"),
        ),
    ],
)
@pytest.mark.parametrize("metric", sorted(REFERENCES))
def test_pairwise_on_device(rng: np.random.Generator, metric: str, device: str) -> None:
    reps = [random_rep(rng, n) for n in (5, 8, 6)]
    on_device = pairwise_distances(reps, metric, device=device)
    np.testing.assert_allclose(on_device, pairwise_distances(reps, metric), atol=1e-10)


def test_cuda_requested_without_gpu() -> None:
    if torch.cuda.is_available():
        pytest.skip("a GPU is visible")
    with pytest.raises(RuntimeError, match="'cuda'.*no GPU"):
        pairwise_distances([np.eye(3), np.eye(3)], "cka", device="cuda")


@pytest.mark.parametrize("metric", ["cca", "cka", "procrustes", "dsa", "topology"])
def test_pairwise_progress_counts_every_pair(
    rng: np.random.Generator, metric: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Progress lines reach the log and end at n(n-1)/2 pairs, whatever the batching."""
    from rnn_analysis.similarity import base, batched

    monkeypatch.setattr(batched, "TILE_BYTES", 8 * (2 * 12) ** 2)
    monkeypatch.setattr(base.PairProgress.__init__, "__defaults__", (0.0,))
    m = get_metric(metric)
    if metric == "dsa":
        reps = [rng.standard_normal((2, 30, 3)).cumsum(axis=1) for _ in range(5)]
    elif metric == "topology":
        from rnn_analysis.analysis.reduced_graph import LabelledGraph

        reps = [LabelledGraph(("a",) * (k + 1), ((0, k, "e"),)) for k in range(5)]
    else:
        reps = [random_rep(rng, n) for n in (4, 9, 6, 12, 3)]
    lines: list[str] = []
    m.pairwise(reps, log=lines.append)
    assert lines and lines[-1].startswith(f"{metric}: 10/10 pairs (100%)")
    assert "ETA" in lines[-1]
