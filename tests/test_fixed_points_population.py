"""On a population of trained GRUs, the finder's fixed points are the roots that an
independent float64 root solve from many starts finds, and nothing else."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.optimize
import torch

from rnn_analysis.analysis.fixed_points import FixedPointParams, find_fixed_points, jacobian
from rnn_analysis.io import load_models
from rnn_analysis.tasks import TASKS
from rnn_analysis.training.run import train_ensemble

FLIPFLOP = {"n_bits": 3, "n_steps": 100, "pulse_probability": 0.05}
SEEDS = [0, 1, 2, 3]
N_UNITS = 32
#: Starts of each kind (probe states, the box [−1, 1]^N, mixtures of two probe states).
N_STARTS = 400


@pytest.fixture(scope="module")
def population(tmp_path_factory: pytest.TempPathFactory):
    """Four 32-unit GRUs trained on the 3-bit flip-flop, their probe states and statuses."""
    folder = tmp_path_factory.mktemp("gru_flipflop")
    specs = [
        {
            "network": {
                "task": "flipflop",
                "architecture": "gru",
                "learning_rule": "bptt",
                "noise": 0.0,
                "seed": seed,
            },
            "task": FLIPFLOP,
            "architecture": {"hidden_size": N_UNITS},
            "learning_rule": {"learning_rate": 0.01, "batch_size": 64, "max_iterations": 1500},
            "stopping": {
                "validate_every": 25,
                "validation_trials": 200,
                "window": 5,
                "threshold": 0.99,
            },
        }
        for seed in SEEDS
    ]
    folders = [folder / f"gru{seed}" for seed in SEEDS]
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        statuses = train_ensemble(specs, folders, device="cpu", log=lambda _: None)
    finally:
        torch.set_num_threads(threads)
    model = load_models([f / "model.pt" for f in folders]).requires_grad_(False)
    task = TASKS["flipflop"](TASKS["flipflop"].Params(**FLIPFLOP))
    with torch.no_grad():
        states, _ = model(task.probe_set().inputs.unsqueeze(0).expand(len(SEEDS), -1, -1, -1))
    return model, states, task.static_inputs(), statuses


def gru_residual(weights: dict[str, np.ndarray]):
    """Closed-form n(h) − h of a GRU under zero input and its Jacobian, in numpy."""
    n = weights["weight_hh"].shape[0]
    w_hh, b_hh, b_ih = weights["weight_hh"], weights["bias_hh"], weights["bias_ih"]
    wr_t, wn_t = w_hh[:, :n].T, w_hh[:, 2 * n :].T

    def parts(h: np.ndarray):
        gh = h @ w_hh + b_hh
        r = 1 / (1 + np.exp(-(b_ih[:n] + gh[:n])))
        return r, np.tanh(b_ih[2 * n :] + r * gh[2 * n :]), gh[2 * n :]

    def residual(h: np.ndarray) -> np.ndarray:
        return parts(h)[1] - h

    def jac(h: np.ndarray) -> np.ndarray:
        r, cand, hn = parts(h)
        dr = (r * (1 - r))[:, None] * wr_t
        return (1 - cand**2)[:, None] * (r[:, None] * wn_t + hn[:, None] * dr) - np.eye(n)

    return residual, jac


def root_from(start: np.ndarray, residual, jac) -> np.ndarray | None:
    """The root scipy reaches from ``start``: tiny residual and Newton step, |h_i| < 1."""
    x = scipy.optimize.root(residual, start, jac=jac, method="hybr").x
    r = residual(x)
    if not np.all(np.isfinite(r)) or np.linalg.norm(r) > 1e-10 or np.abs(x).max() >= 1:
        return None
    if np.linalg.norm(np.linalg.solve(jac(x), -r)) > 1e-8:
        return None
    return x


def ground_truth(weights: dict[str, np.ndarray], probe: np.ndarray, seed: int) -> np.ndarray:
    residual, jac = gru_residual(weights)
    rng = np.random.default_rng(seed)
    n = probe.shape[1]
    a = probe[rng.integers(len(probe), size=N_STARTS)]
    b = probe[rng.integers(len(probe), size=N_STARTS)]
    w = rng.uniform(size=(N_STARTS, 1))
    starts = np.concatenate(
        [
            probe[rng.integers(len(probe), size=N_STARTS)],
            rng.uniform(-1, 1, size=(N_STARTS, n)),
            w * a + (1 - w) * b,
        ]
    )
    roots: list[np.ndarray] = []
    for start in starts:
        x = root_from(start, residual, jac)
        if x is not None and all(np.linalg.norm(x - r) > 1e-6 for r in roots):
            roots.append(x)
    return np.array(roots)


@pytest.mark.slow
def test_finder_recovers_every_fixed_point_of_trained_grus(population, one_thread) -> None:
    model, states, static_inputs, statuses = population
    assert statuses.count("converged") >= 3, statuses
    results = find_fixed_points(model, states, static_inputs, FixedPointParams())
    n_truth = n_found = 0
    for e, ds in enumerate(results):
        if statuses[e] != "converged":
            continue
        weights = {k: v.numpy().astype(np.float64) for k, v in model.network_state_dict(e).items()}
        residual, jac = gru_residual(weights)
        probe = states[e].reshape(-1, model.n_state).double().numpy()
        truth = ground_truth(weights, probe, seed=e)
        fixed = ds.where(ds.kind == "fixed", drop=True)
        points = fixed.state_value.values
        # Every fixed point is a root: |h_i| < 1, and a root solve from it stays there.
        assert (np.abs(points) < 1).all()
        for x in points:
            root = root_from(x, residual, jac)
            assert root is not None and np.linalg.norm(root - x) < 1e-8
        # Their stability is that of the root.
        h = torch.as_tensor(points)[None]
        u = torch.zeros(1, len(points), model.n_inputs, dtype=torch.float64)
        net = model.blank_like(1).double().requires_grad_(False)
        net.load_networks([model.network_state_dict(e)])
        lam = np.linalg.eigvals(jacobian(net, h, u)[0].numpy())
        np.testing.assert_array_equal(fixed.n_unstable.values, (np.abs(lam) > 1 + 1e-6).sum(1))
        # The 8 attractors, and saddles between them.
        assert int(fixed.stable.sum()) == 8
        assert (fixed.n_unstable.values == 1).sum() >= 1
        distance = np.linalg.norm(truth[:, None] - points[None], axis=-1)
        n_truth += len(truth)
        n_found += int((distance.min(axis=1) <= 1e-6).sum())
    assert n_found >= 0.95 * n_truth, (n_found, n_truth)
