"""Slope, bias and lapse of psychometric curves: synthetic curves, an oracle, analysis.nc."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
import xarray as xr

from rnn_analysis.aggregate.summary import summarise
from rnn_analysis.analysis.evaluation import psychometric_curve
from rnn_analysis.analysis.network import analyze_network
from rnn_analysis.analysis.psychometric_fit import (
    GROUP_DIM,
    fit_psychometric,
    logistic_with_lapse,
    psychometric_fit_dataset,
)
from rnn_analysis.architectures.base import Architecture, ArchitectureParams
from rnn_analysis.tasks import TASKS
from rnn_analysis.training.run import train_ensemble

#: The signed coherences of the rdm/cdi psychometric set.
COHERENCES = np.array([-0.3, -0.18, -0.072, -0.018, 0.018, 0.072, 0.18, 0.3])
#: A denser design for recovery from sampled curves.
DENSE = np.linspace(-0.3, 0.3, 13)


@pytest.mark.parametrize(
    ("slope", "bias", "lapse"),
    [(20.0, 0.03, 0.05), (8.0, -0.05, 0.0), (40.0, 0.0, 0.15), (-15.0, 0.02, 0.02)],
)
def test_noise_free_curves_are_recovered(slope: float, bias: float, lapse: float) -> None:
    p = logistic_with_lapse(COHERENCES, slope, bias, lapse)
    fit = fit_psychometric(COHERENCES, p, 200)
    assert fit.fitted and fit.note == ""
    assert fit.slope == pytest.approx(slope, rel=1e-3)
    assert fit.bias == pytest.approx(bias, abs=1e-4)
    assert fit.lapse == pytest.approx(lapse, abs=1e-4)
    assert fit.rms < 1e-5
    assert fit.n_conditions == len(COHERENCES)


def test_binomially_sampled_curves_are_recovered_within_tolerance() -> None:
    rng = np.random.default_rng(1234)
    slope, bias, lapse, n = 15.0, 0.04, 0.05, 400
    truth = logistic_with_lapse(DENSE, slope, bias, lapse)
    fits = [fit_psychometric(DENSE, rng.binomial(n, truth) / n, n) for _ in range(20)]
    slopes = np.array([f.slope for f in fits])
    biases = np.array([f.bias for f in fits])
    lapses = np.array([f.lapse for f in fits])
    assert np.median(slopes) == pytest.approx(slope, rel=0.15)
    assert np.median(biases) == pytest.approx(bias, abs=0.01)
    assert np.median(lapses) == pytest.approx(lapse, abs=0.02)
    assert all(0 <= f.lapse < 0.5 for f in fits)
    # the residual is the sampling noise: about sqrt(p (1 - p) / n)
    assert all(0 < f.rms < 0.05 for f in fits)


def test_flat_and_underdetermined_curves_are_not_fitted() -> None:
    flat = fit_psychometric(COHERENCES, np.full(8, 0.7), 100)
    assert not flat.fitted and "flat" in flat.note
    assert np.isnan([flat.slope, flat.bias, flat.lapse, flat.rms]).all()
    two = fit_psychometric([-0.1, 0.1, -0.1, 0.1], [0.2, 0.8, 0.1, 0.9], 100)
    assert not two.fitted and "fewer than 3" in two.note
    with_nan = fit_psychometric([-0.1, 0.1, np.nan], [0.2, 0.8, 0.5], 100)
    assert not with_nan.fitted and with_nan.n_conditions == 2


def test_a_step_curve_has_its_slope_at_the_bound() -> None:
    step = (COHERENCES > 0).astype(float)
    fit = fit_psychometric(COHERENCES, step, 100, max_slope=50.0)
    assert "steeper than the conditions resolve" in fit.note
    assert fit.slope == pytest.approx(50.0 / np.diff(COHERENCES).min())
    assert -0.018 <= fit.bias <= 0.018
    assert fit.lapse < 1e-3 and fit.rms < 1e-3
    reversed_ = fit_psychometric(COHERENCES, 1 - step, 100, max_slope=20.0)
    assert reversed_.slope == pytest.approx(-20.0 / np.diff(COHERENCES).min())
    # a steep but resolved curve is an ordinary fit
    steep = fit_psychometric(COHERENCES, logistic_with_lapse(COHERENCES, 150.0, 0.0, 0.0), 100)
    assert steep.note == "" and steep.slope == pytest.approx(150.0, rel=1e-3)


@pytest.mark.parametrize("shift", [-2.0, 0.5, 7.0])
def test_shifting_the_evidence_shifts_the_bias(shift: float) -> None:
    rng = np.random.default_rng(7)
    p = rng.binomial(200, logistic_with_lapse(DENSE, 12.0, 0.03, 0.04)) / 200
    base = fit_psychometric(DENSE, p, 200)
    moved = fit_psychometric(DENSE + shift, p, 200)
    assert moved.bias == pytest.approx(base.bias + shift, abs=1e-4)
    assert moved.slope == pytest.approx(base.slope, rel=1e-3)
    assert moved.lapse == pytest.approx(base.lapse, abs=1e-4)
    assert moved.rms == pytest.approx(base.rms, rel=1e-3)


@pytest.mark.parametrize("scale", [0.01, 3.0, 100.0])
def test_scaling_the_evidence_scales_the_slope_inversely(scale: float) -> None:
    rng = np.random.default_rng(8)
    p = rng.binomial(200, logistic_with_lapse(DENSE, 12.0, 0.03, 0.04)) / 200
    base = fit_psychometric(DENSE, p, 200)
    scaled = fit_psychometric(DENSE * scale, p, 200)
    assert scaled.slope == pytest.approx(base.slope / scale, rel=1e-3)
    assert scaled.bias == pytest.approx(base.bias * scale, rel=1e-3, abs=1e-6 * scale)
    assert scaled.lapse == pytest.approx(base.lapse, abs=1e-4)


def test_tasks_declare_their_evidence() -> None:
    rdm, cdi, multi = TASKS["rdm"](), TASKS["cdi"](), TASKS["multisensory"]()
    for task in (rdm, cdi):
        batch = task.psychometric_set()
        np.testing.assert_array_equal(
            task.psychometric_evidence(batch.conditions), batch.conditions["coherence"]
        )
    assert rdm.psychometric_group is None and cdi.psychometric_group == "context"
    batch = multi.psychometric_set()
    evidence = multi.psychometric_evidence(batch.conditions)
    np.testing.assert_allclose(evidence, batch.conditions["rate"] - 12.5)
    # the evidence is signed like the target: positive evidence calls for +1
    choice = batch.targets[:, -1, 0].numpy()
    np.testing.assert_array_equal(np.sign(evidence), choice)
    assert multi.psychometric_group == "modality"
    assert TASKS["flipflop"]().psychometric_evidence({}) is None


# -- an integrating oracle, through the curve and the fit ------------------------------


class Integrator(Architecture):
    """Sums input channel 0 over the trial; the readout is the sum plus ``offset``."""

    name = "integrator"

    def __init__(self, n_inputs: int, offset: float = 0.0) -> None:
        super().__init__(n_inputs, 1, ArchitectureParams(hidden_size=1), 1)
        with torch.no_grad():
            self.weight_out.fill_(1.0)
            self.bias_out.fill_(offset)

    def parameter_shapes(self):
        return self.readout_shapes()

    def step(self, h: torch.Tensor, u: torch.Tensor) -> torch.Tensor:
        return h + u[..., :1]


def test_an_integrator_has_the_slope_and_bias_of_its_evidence(one_thread) -> None:
    """Summing T steps of coherence m plus noise σ chooses + with probability
    Φ(√T (m − b) / σ), b = −offset / T: about a logistic of slope 1.70 √T / σ."""
    n_steps, noise, bias = 100, 1.0, 0.05
    task = TASKS["rdm"](TASKS["rdm"].Params(n_steps=n_steps))
    model = Integrator(task.n_inputs, offset=-bias * n_steps)
    curve = psychometric_curve(model, task, noise=noise, repeats=400, seed=0)
    assert curve is not None
    ds = psychometric_fit_dataset(curve, task)
    expected = 1.702 * np.sqrt(n_steps) / noise
    assert ds["psychometric_slope"].item() == pytest.approx(expected, rel=0.25)
    assert ds["psychometric_bias"].item() == pytest.approx(bias, abs=0.02)
    assert ds["psychometric_lapse"].item() < 0.03
    assert ds["psychometric_fit_rms"].item() < 0.05
    assert ds["psychometric_fit_note"].item() == ""
    for name in ("psychometric_slope", "psychometric_bias", "psychometric_lapse"):
        assert ds[name].dims == () and ds[name].attrs["long_name"] and ds[name].attrs["units"]
    assert GROUP_DIM not in ds.dims  # rdm has one context


def test_cdi_gets_one_fit_per_context_and_a_pooled_one(one_thread) -> None:
    task = TASKS["cdi"](TASKS["cdi"].Params(n_steps=100, n_contexts=2))
    batch = task.psychometric_set()
    coherence = batch.conditions["coherence"]
    context = batch.conditions["context"]
    slopes = np.where(context == 0, 10.0, 30.0)
    p = logistic_with_lapse(coherence * slopes, 1.0, 0.0, 0.0)
    curve = xr.Dataset(
        {"psychometric_p_positive": ("psychometric_condition", p)},
        coords={
            "psychometric_coherence": ("psychometric_condition", coherence),
            "psychometric_context": ("psychometric_condition", context),
        },
        attrs={"psychometric_repeats": 100},
    )
    ds = psychometric_fit_dataset(curve, task)
    np.testing.assert_array_equal(ds[GROUP_DIM].values, [0, 1])
    np.testing.assert_allclose(ds["psychometric_group_slope"].values, [10.0, 30.0], rtol=1e-3)
    np.testing.assert_allclose(ds["psychometric_group_bias"].values, 0.0, atol=1e-4)
    assert 10.0 < ds["psychometric_slope"].item() < 30.0
    assert ds["psychometric_fit_rms"].item() > ds["psychometric_group_fit_rms"].max().item()


# -- a tiny analysed network: analysis.nc and the summary ------------------------------


def test_analysis_file_and_summary_carry_the_fit(tmp_path: Path, one_thread) -> None:
    spec = {
        "network": {
            "task": "rdm",
            "architecture": "rate",
            "learning_rule": "bptt",
            "noise": 0.3,
            "seed": 0,
        },
        "task": {"n_steps": 30},
        "architecture": {"hidden_size": 8},
        "learning_rule": {"learning_rate": 0.01, "batch_size": 32, "max_iterations": 20},
        "stopping": {"validate_every": 10, "validation_trials": 32, "window": 2},
    }
    train_ensemble([spec], [tmp_path / "net"], "cpu", log=lambda _: None)
    analysis = {
        "evaluation_trials": 32,
        "psychometric_repeats": 50,
        "fixed_points": {"n_initial_states": 16, "max_iterations": 100},
    }
    out = tmp_path / "net" / "analysis.nc"
    analyze_network({**spec, "analysis": analysis}, tmp_path / "net", out, log=lambda _: None)
    with xr.open_dataset(out) as ds:
        ds = ds.load()
    curve = ds[["psychometric_p_positive", "psychometric_coherence"]]
    refit = fit_psychometric(
        curve["psychometric_coherence"].values, curve["psychometric_p_positive"].values, 50
    )
    for name in ("slope", "bias", "lapse", "fit_rms"):
        var = ds[f"psychometric_{name}"]
        assert var.dims == () and var.attrs["long_name"] and "units" in var.attrs
    assert ds["psychometric_slope"].attrs["units"] == "1"
    np.testing.assert_allclose(
        [ds["psychometric_slope"].item(), ds["psychometric_lapse"].item()],
        [refit.slope, refit.lapse],
        equal_nan=True,
    )
    assert str(ds["psychometric_fit_note"].values) == refit.note

    summary = summarise("rdm", [out], log=lambda _: None)
    for name in ("psychometric_slope", "psychometric_bias", "psychometric_lapse"):
        assert summary[name].dims == ("network",)
        assert summary[name].attrs["long_name"]
        np.testing.assert_allclose(summary[name].values, [ds[name].item()], equal_nan=True)
    assert summary["psychometric_fit_rms"].attrs["units"] == "1"
    assert summary["psychometric_fit_note"].values[0] == refit.note


def write_analysis(path: Path, task: str, skipped: bool = False, **variables: float) -> Path:
    """A hand-written analysis.nc of one ``task`` network holding ``variables``."""
    attrs = {
        "task": task,
        "architecture": "gru",
        "learning_rule": "bptt",
        "noise": 0.1,
        "seed": 0,
        "network": f"{task}/gru/bptt/noise0.1/seed0",
        "status": "converged",
        "iterations": 10,
    }
    if skipped:
        attrs["analysis_skipped"] = "non-finite weights"
    ds = xr.Dataset({k: ((), v) for k, v in variables.items()}, attrs=attrs)
    path.parent.mkdir(parents=True, exist_ok=True)
    ds.to_netcdf(path)
    return path


def test_summary_has_missing_fits_for_tasks_without_a_psychometric_set(tmp_path: Path) -> None:
    paths = [
        write_analysis(tmp_path / "a" / "analysis.nc", "time_reproduction"),
        write_analysis(tmp_path / "b" / "analysis.nc", "time_reproduction", skipped=True),
    ]
    summary = summarise("time_reproduction", paths, log=lambda _: None)
    for name in ("psychometric_slope", "psychometric_bias", "psychometric_lapse"):
        assert np.isnan(summary[name].values).all()
        assert summary[name].attrs["long_name"] and summary[name].attrs["units"]
    notes = list(summary["psychometric_fit_note"].values)
    assert notes == ["no psychometric set", "not analysed"]


def test_summary_units_follow_the_task_evidence(tmp_path: Path) -> None:
    path = write_analysis(
        tmp_path / "a" / "analysis.nc",
        "multisensory",
        psychometric_slope=1.5,
        psychometric_bias=-0.25,
        psychometric_lapse=0.01,
        psychometric_fit_rms=0.02,
    )
    with xr.open_dataset(path) as ds:
        ds = ds.load()
    ds["psychometric_fit_note"] = ((), "")
    ds.to_netcdf(path)
    summary = summarise("multisensory", [path], log=lambda _: None)
    assert summary["psychometric_slope"].values[0] == 1.5
    assert summary["psychometric_bias"].values[0] == -0.25
    assert summary["psychometric_slope"].attrs["units"] == "1/(events/s)"
    assert summary["psychometric_bias"].attrs["units"] == "events/s"
