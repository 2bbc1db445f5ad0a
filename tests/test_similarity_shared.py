"""Tests of the shared geometry pass: four metrics from one factorisation per network."""

from __future__ import annotations

import pickle

import numpy as np
import pytest
import scipy.linalg
import torch
from numpy.typing import NDArray

from rnn_analysis.similarity import geometry_pass, get_metric
from rnn_analysis.similarity.base import SimilarityMetric
from rnn_analysis.similarity.factorisation import Factorisation, factorise, factorise_all
from rnn_analysis.similarity.geometry_pass import (
    geometry_distances,
    nuclear_norm,
    supports_factors,
)
from rnn_analysis.similarity.procrustes import Procrustes

N_SAMPLES = 300
NAMES = ("cca", "svcca", "cka", "procrustes")


def random_rep(rng: np.random.Generator, n_units: int, n_samples: int = N_SAMPLES) -> NDArray:
    """Correlated, anisotropic data with a non-zero mean."""
    latent = rng.standard_normal((n_samples, n_units))
    mixing = rng.standard_normal((n_units, n_units)) * rng.uniform(0.2, 3.0, n_units)
    return np.tanh(latent @ mixing) + rng.standard_normal(n_units)


def random_orthogonal(rng: np.random.Generator, n: int) -> NDArray:
    return scipy.linalg.qr(rng.standard_normal((n, n)))[0]


def population(rng: np.random.Generator) -> list[NDArray]:
    """Networks of different widths, related and unrelated, some rank-deficient."""
    shared = rng.standard_normal((N_SAMPLES, 4))
    reps = [random_rep(rng, n) + 0.5 * shared @ rng.standard_normal((4, n)) for n in (5, 8, 12)]
    base = random_rep(rng, 6)
    reps.append(np.hstack([base, base[:, :3]]))  # duplicated units
    reps.append(np.hstack([random_rep(rng, 5), np.full((N_SAMPLES, 2), 1.5)]))  # constant units
    low = rng.standard_normal((N_SAMPLES, 3)) @ rng.standard_normal((3, 10))
    reps.append(low + 2.0)  # rank 3 in 10 units
    reps.append(2.5 * reps[1] @ random_orthogonal(rng, 8) - 1.0)  # rotated, scaled copy
    reps.append(reps[2] + 0.05 * rng.standard_normal(reps[2].shape))  # close to network 2
    return reps


def metrics() -> list[SimilarityMetric]:
    return [get_metric(name) for name in NAMES]


# Independent straightforward implementations -------------------------------------------


def basis(x: NDArray, rtol: float = 1e-10) -> NDArray:
    """Orthonormal basis of the centred column space by pivoted QR."""
    q, r, _ = scipy.linalg.qr(x - x.mean(axis=0), mode="economic", pivoting=True)
    diag = np.abs(np.diag(r))
    return q[:, diag > rtol * diag[0]]


def reference_cca(x: NDArray, y: NDArray) -> float:
    qa, qb = basis(x), basis(y)
    rho = scipy.linalg.svdvals(qa.T @ qb)
    return 1.0 - rho.sum() / min(qa.shape[1], qb.shape[1])


def reference_svcca(x: NDArray, y: NDArray, fraction: float = 0.95) -> float:
    """Principal components from the eigenvectors of the covariance, then CCA."""

    def leading(z: NDArray) -> NDArray:
        zc = z - z.mean(axis=0)
        values, vectors = np.linalg.eigh(zc.T @ zc)
        values, vectors = values[::-1], vectors[:, ::-1]
        values = np.clip(values, 0.0, None)
        k = int(np.argmax(np.cumsum(values) / values.sum() >= fraction * (1 - 1e-12))) + 1
        scores = zc @ vectors[:, :k]
        return scores / np.linalg.norm(scores, axis=0)

    qa, qb = leading(x), leading(y)
    rho = scipy.linalg.svdvals(qa.T @ qb)
    return 1.0 - rho.sum() / min(qa.shape[1], qb.shape[1])


def reference_cka(x: NDArray, y: NDArray) -> float:
    xc, yc = x - x.mean(axis=0), y - y.mean(axis=0)
    cross = np.sum((xc.T @ yc) ** 2)
    return 1.0 - cross / (np.linalg.norm(xc.T @ xc) * np.linalg.norm(yc.T @ yc))


def reference_procrustes(x: NDArray, y: NDArray) -> float:
    width = max(x.shape[1], y.shape[1])

    def normalised(z: NDArray) -> NDArray:
        zc = np.pad(z - z.mean(axis=0), ((0, 0), (0, width - z.shape[1])))
        return zc / np.linalg.norm(zc)

    a, b = normalised(x), normalised(y)
    rotation, _ = scipy.linalg.orthogonal_procrustes(a, b)
    return float(np.arccos(np.clip(np.sum((a @ rotation) * b), -1, 1)) / (np.pi / 2))


REFERENCES = {
    "cca": reference_cca,
    "svcca": reference_svcca,
    "cka": reference_cka,
    "procrustes": reference_procrustes,
}


@pytest.fixture
def rng() -> np.random.Generator:
    return np.random.default_rng(20250301)


@pytest.fixture
def reps(rng: np.random.Generator) -> list[NDArray]:
    return population(rng)


# Factorisation ---------------------------------------------------------------------------


def test_factorise(rng: np.random.Generator) -> None:
    x = random_rep(rng, 7)
    f64, f32 = factorise(x, "float64"), factorise(x)
    assert f64.u.dtype == np.float64 and f32.u.dtype == np.float32
    assert f64.s.dtype == np.float64 and f32.s.dtype == np.float64
    assert f64.u.shape == (N_SAMPLES, 7) and f64.n_samples == N_SAMPLES
    assert np.all(np.diff(f64.s) <= 0)
    centred = x - x.mean(axis=0)
    # U S is the centred data rotated: same Gram matrix over samples
    np.testing.assert_allclose((f64.u * f64.s) @ (f64.u * f64.s).T, centred @ centred.T, atol=1e-10)
    np.testing.assert_allclose(f32.u, f64.u, atol=1e-7)
    wide = factorise(rng.standard_normal((20, 30)), "float64")
    assert wide.u.shape == (20, 20) and wide.s.shape == (20,)
    restored = pickle.loads(pickle.dumps(f32))
    assert isinstance(restored, Factorisation)
    np.testing.assert_array_equal(restored.u, f32.u)
    np.testing.assert_array_equal(restored.s, f32.s)


def test_factorise_rejects(rng: np.random.Generator) -> None:
    with pytest.raises(ValueError, match="zero variance"):
        factorise(np.full((N_SAMPLES, 3), 0.7))
    with pytest.raises(ValueError, match="float16"):
        factorise(random_rep(rng, 3), "float16")
    with pytest.raises(ValueError, match="network 1.*zero variance"):
        factorise_all([random_rep(rng, 3), np.ones((N_SAMPLES, 2))])


def test_supports_factors() -> None:
    assert all(supports_factors(m) for m in metrics())
    assert supports_factors(get_metric("svcca", variance_fraction=0.5, rtol=1e-6))
    assert not supports_factors(get_metric("dsa"))
    with pytest.raises(TypeError, match="DSA"):
        geometry_distances([get_metric("dsa")], [])


# Agreement with the per-metric path and with straightforward implementations ------------


@pytest.mark.parametrize("name", NAMES)
def test_matches_pairwise_distance_and_reference(reps: list[NDArray], name: str) -> None:
    metric = get_metric(name)
    shared = geometry_distances([metric], factorise_all(reps, "float64"))[name]
    assert shared.shape == (len(reps), len(reps))
    np.testing.assert_array_equal(shared, shared.T)
    np.testing.assert_array_equal(np.diag(shared), 0.0)
    np.testing.assert_allclose(shared, metric.pairwise(reps), rtol=0, atol=1e-6)
    for i in range(len(reps)):
        for j in range(i + 1, len(reps)):
            assert shared[i, j] == pytest.approx(metric(reps[i], reps[j]), abs=1e-6), (i, j)
            expected = REFERENCES[name](reps[i], reps[j])
            assert shared[i, j] == pytest.approx(expected, abs=1e-6), (i, j)
    assert shared[1, 6] == pytest.approx(0.0, abs=1e-6)
    assert np.sum(shared > 1e-5) == len(reps) * (len(reps) - 1) - 2


def test_all_metrics_in_one_pass(reps: list[NDArray]) -> None:
    out = geometry_distances(metrics(), factorise_all(reps, "float64"))
    assert sorted(out) == sorted(NAMES)
    for m in metrics():
        np.testing.assert_allclose(out[m.name], m.pairwise(reps), rtol=0, atol=1e-6)


def test_units_exceed_samples(rng: np.random.Generator) -> None:
    reps = [rng.standard_normal((40, n)) + 1.0 for n in (60, 45, 10)]
    reps.append(rng.standard_normal((40, 3)) @ rng.standard_normal((3, 50)))
    out = geometry_distances(metrics(), factorise_all(reps, "float64"))
    for m in metrics():
        np.testing.assert_allclose(out[m.name], m.pairwise(reps), rtol=0, atol=1e-6)
        for i, j in [(0, 2), (1, 3), (2, 3)]:
            expected = REFERENCES[m.name](reps[i], reps[j])
            assert out[m.name][i, j] == pytest.approx(expected, abs=1e-6)
    assert out["cca"][0, 1] == pytest.approx(0.0, abs=1e-8)


def test_nuclear_norm_exact_on_rank_deficient_blocks(rng: np.random.Generator) -> None:
    """Tiny singular values, where square roots of Gram eigenvalues lose accuracy."""
    u = np.linalg.qr(rng.standard_normal((12, 12)))[0]
    v = np.linalg.qr(rng.standard_normal((12, 12)))[0]
    spectra = [np.r_[np.ones(4), np.full(8, 1e-9)], np.r_[1.0, np.zeros(11)], np.ones(12)]
    blocks = torch.from_numpy(np.stack([u * s @ v.T for s in spectra]))
    values = nuclear_norm(blocks, torch.full((3,), 12))
    np.testing.assert_allclose(values.numpy(), [s.sum() for s in spectra], rtol=0, atol=1e-13)


def test_nuclear_norm_ignores_padding(
    rng: np.random.Generator, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Zero rows and columns padding a block to its sub-tile's width add nothing, even
    from the Gram eigenvalues alone (no singular value fallback)."""
    monkeypatch.setattr(geometry_pass, "GRAM_ATOL", np.inf)
    blocks = np.zeros((2, 12, 12))
    blocks[0, :5, :7] = rng.standard_normal((5, 7))
    blocks[1, :12, :3] = rng.standard_normal((12, 3))
    values = nuclear_norm(torch.from_numpy(blocks), torch.tensor([5, 3]))
    expected = [scipy.linalg.svdvals(b).sum() for b in blocks]
    np.testing.assert_allclose(values.numpy(), expected, rtol=1e-13, atol=0)


# float32 storage ----------------------------------------------------------------------------


def test_float32_agrees_with_float64(
    rng: np.random.Generator, reps: list[NDArray], monkeypatch: pytest.MonkeyPatch
) -> None:
    x = reps[2]
    near = [x + eps * rng.standard_normal(x.shape) for eps in (1e-6, 1e-4, 1e-3, 1e-2, 0.1, 0.2)]
    rotated = 3.0 * x @ random_orthogonal(rng, x.shape[1]) + 0.5
    all_reps = [*reps, *near, rotated, x.copy()]
    out64 = geometry_distances(metrics(), factorise_all(all_reps, "float64"))
    exact_calls: list[int] = []
    original = Procrustes.factor_exact

    def counted(self: Procrustes, a: Factorisation, b: Factorisation) -> float:
        exact_calls.append(1)
        return original(self, a, b)

    monkeypatch.setattr(Procrustes, "factor_exact", counted)
    out32 = geometry_distances(metrics(), factorise_all(all_reps, "float32"))
    # below 0.25 rad float32 values are redone from float64 products; only the pairs
    # below 0.03 rad need the chord
    angles = out64["procrustes"][np.triu_indices(len(all_reps), k=1)] * np.pi / 2
    assert np.any((angles > 0.03) & (angles < 0.25))
    assert len(exact_calls) == np.count_nonzero(angles < 0.03)
    for name in NAMES:
        np.testing.assert_allclose(out32[name], out64[name], rtol=0, atol=1e-5)
    procrustes = get_metric("procrustes")
    n = len(all_reps)
    for k in range(len(reps), n):
        # near-identical pairs: the exact distance, not arccos of a rounded cosine
        expected = procrustes(x, all_reps[k])
        assert out32["procrustes"][2, k] == pytest.approx(expected, abs=1e-6)
        assert out64["procrustes"][2, k] == pytest.approx(expected, abs=1e-8)
    assert out32["procrustes"][2, n - 1] < 1e-12
    assert out32["procrustes"][2, n - 2] < 1e-6
    assert 0 < out32["procrustes"][2, len(reps)] < 1e-5


# Blocks, tiles, threads, progress ---------------------------------------------------------


def test_block_equals_part_of_full_matrix(reps: list[NDArray]) -> None:
    factors = factorise_all(reps)
    full = geometry_distances(metrics(), factors)
    block = geometry_distances(metrics(), factors[:3], factors[3:])
    back = geometry_distances(metrics(), factors[3:], factors[:3])
    for name in NAMES:
        assert block[name].shape == (3, len(reps) - 3)
        np.testing.assert_allclose(block[name], full[name][:3, 3:], rtol=0, atol=1e-12)
        np.testing.assert_allclose(back[name], block[name].T, rtol=0, atol=1e-12)
    # mixed storage runs in float64
    mixed = geometry_distances(metrics(), factors[:3], factorise_all(reps[3:], "float64"))
    exact = geometry_distances(metrics(), factorise_all(reps, "float64"))
    for name in NAMES:
        np.testing.assert_allclose(mixed[name], exact[name][:3, 3:], rtol=0, atol=1e-7)


@pytest.mark.parametrize(("tile_networks", "subtile"), [(1, 1), (2, 3), (3, 5)])
def test_tiles_of_any_size(
    reps: list[NDArray], monkeypatch: pytest.MonkeyPatch, tile_networks: int, subtile: int
) -> None:
    factors = factorise_all(reps, "float64")
    whole = geometry_distances(metrics(), factors)
    width = max(f.u.shape[1] for f in factors)
    monkeypatch.setattr(geometry_pass, "TILE_BYTES", 8 * (tile_networks * width) ** 2)
    monkeypatch.setattr(geometry_pass, "SUBTILE_PAIRS", subtile)
    calls: list[int] = []
    tiled = geometry_distances(metrics(), factors, on_pairs=calls.append)
    starts = range(0, len(reps), tile_networks)
    sizes = [min(tile_networks, len(reps) - s) for s in starts]
    tile_pairs = [a * (a - 1) // 2 for a in sizes]
    tile_pairs += [a * b for k, a in enumerate(sizes) for b in sizes[k + 1 :]]
    assert sorted(calls) == sorted(
        min(subtile, p - c) for p in tile_pairs for c in range(0, p, subtile)
    )
    for name in NAMES:
        np.testing.assert_allclose(tiled[name], whole[name], rtol=0, atol=1e-12)
    block = geometry_distances(metrics(), factors[:5], factors[5:])
    for name in NAMES:
        np.testing.assert_allclose(block[name], whole[name][:5, 5:], rtol=0, atol=1e-12)


def test_threads_do_not_change_results(
    reps: list[NDArray], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(geometry_pass, "SUBTILE_PAIRS", 4)
    factors = factorise_all(reps)
    one = geometry_distances(metrics(), factors, threads=1)
    for threads in (2, 5):
        other = geometry_distances(metrics(), factors, threads=threads)
        for name in NAMES:
            np.testing.assert_array_equal(other[name], one[name])


def test_progress_counts_every_pair(reps: list[NDArray], monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(geometry_pass, "SUBTILE_PAIRS", 3)
    factors = factorise_all(reps)
    n = len(reps)
    calls: list[int] = []
    geometry_distances(metrics(), factors, on_pairs=calls.append)
    assert sum(calls) == n * (n - 1) // 2 and len(calls) > 1
    calls.clear()
    geometry_distances(metrics(), factors[:3], factors[3:], on_pairs=calls.append)
    assert sum(calls) == 3 * (n - 3)


def test_small_inputs(reps: list[NDArray]) -> None:
    factors = factorise_all(reps[:2])
    one = geometry_distances(metrics(), factors[:1])
    assert all(v.shape == (1, 1) and v[0, 0] == 0.0 for v in one.values())
    assert geometry_distances(metrics(), [])["cka"].shape == (0, 0)
    assert geometry_distances(metrics(), factors, [])["cca"].shape == (2, 0)


# Invariances and hyperparameters ------------------------------------------------------------


@pytest.mark.parametrize("dtype", ["float64", "float32"])
def test_invariances(rng: np.random.Generator, reps: list[NDArray], dtype: str) -> None:
    x, y = reps[2], reps[0]
    moved = 0.02 * x @ random_orthogonal(rng, x.shape[1]) + rng.standard_normal(x.shape[1]) * 5
    out = geometry_distances(metrics(), factorise_all([x, y, moved], dtype))
    tol = 1e-8 if dtype == "float64" else 1e-5
    for name in NAMES:
        assert out[name][0, 2] == pytest.approx(0.0, abs=tol), name
        assert out[name][1, 2] == pytest.approx(out[name][0, 1], abs=tol), name
        assert out[name][0, 1] > 0.05, name


def test_hyperparameters_respected(rng: np.random.Generator, reps: list[NDArray]) -> None:
    # a direction of small variance: dropped by a loose rtol
    x = reps[2] @ np.diag(np.r_[np.ones(11), 1e-3])
    all_reps = [x, *reps[:3]]
    factors = factorise_all(all_reps, "float64")
    for metric in [
        get_metric("cca", rtol=1e-2),
        get_metric("svcca", variance_fraction=0.5),
        get_metric("svcca", variance_fraction=1.0, rtol=1e-2),
    ]:
        out = geometry_distances([metric], factors)[metric.name]
        np.testing.assert_allclose(out, metric.pairwise(all_reps), rtol=0, atol=1e-6)
        default = get_metric(metric.name).pairwise(all_reps)
        assert np.max(np.abs(out - default)) > 1e-3, metric


def test_rejects_bad_input(rng: np.random.Generator) -> None:
    factors = factorise_all([random_rep(rng, 4), random_rep(rng, 4)])
    other = factorise(random_rep(rng, 4, n_samples=200))
    with pytest.raises(ValueError, match=r"network 2:.*200 samples.*300"):
        geometry_distances(metrics(), [*factors, other])
    with pytest.raises(ValueError, match=r"network 1 of b:.*200 samples"):
        geometry_distances(metrics(), factors, [factors[0], other])
    with pytest.raises(ValueError, match="distinct names"):
        geometry_distances([get_metric("cca"), get_metric("cca", rtol=1e-3)], factors)


@pytest.mark.skipif(not torch.cuda.is_available(), reason="no GPU visible")
@pytest.mark.parametrize("dtype", ["float64", "float32"])
def test_on_cuda(reps: list[NDArray], dtype: str) -> None:
    factors = factorise_all(reps, dtype)
    on_cpu = geometry_distances(metrics(), factors)
    on_gpu = geometry_distances(metrics(), factors, device="cuda")
    for name in NAMES:
        np.testing.assert_allclose(on_gpu[name], on_cpu[name], rtol=0, atol=1e-6)
