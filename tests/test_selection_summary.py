"""Selection vectors of context-dependent integration networks, per network and per task."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
import xarray as xr
from numpy.typing import NDArray

from rnn_analysis.aggregate.summary import summarise
from rnn_analysis.analysis.network import analyze_network
from rnn_analysis.analysis.selection_summary import (
    SUMMARY_VARIABLES,
    context_selection,
    selection_points,
    selection_summary,
)
from rnn_analysis.architectures import ARCHITECTURES, Architecture
from rnn_analysis.tasks import TASKS
from rnn_analysis.training.run import train_ensemble

#: Units of the hand-built network: an integrator and one relay per sensory channel.
INTEGRATOR, RELAY_0, RELAY_1 = 0, 1, 2
#: Inputs of a two-context CDI network: sensory 0, sensory 1, context 0, context 1.
N_IN = 4
#: Gain from each relay onto the integrator, and the drive that saturates a relay.
GAIN, SATURATE = 3.0, 10.0
#: |cos| between the selection vector ``[1, g, 0]`` and the relevant relay's input.
RELEVANT = GAIN / np.sqrt(1.0 + GAIN**2)


def gated_integrator(wrong: bool = False) -> Architecture:
    """A two-context rate network whose context gates which channel is integrated.

    ``x' = (1 − α) x + α (W tanh x + U u)``: sensory channel ``k`` drives relay ``k``,
    both relays drive the integrator with gain ``g``, and the integrator excites
    itself with weight 1. Each context input saturates one relay (and cancels its drive
    onto the integrator): the irrelevant one, or with ``wrong`` the relevant one. At
    ``x = 0`` on the integrator and on the unsaturated relay, the Jacobian's slow mode
    (λ = 1) has right eigenvector the integrator and left eigenvector ``[1, g s_0,
    g s_1]`` (``s_k`` the relays' slopes ``1 − tanh² x``), which selects the
    unsaturated relay's channel.
    """
    cls = ARCHITECTURES["rate"]
    model = cls(N_IN, 1, cls.Params(hidden_size=3), [torch.Generator().manual_seed(0)])
    w = np.zeros((3, 3))
    w[INTEGRATOR, INTEGRATOR] = 1.0
    w[RELAY_0, INTEGRATOR] = w[RELAY_1, INTEGRATOR] = GAIN
    u = np.zeros((N_IN, 3))
    u[0, RELAY_0] = u[1, RELAY_1] = 1.0
    for context in (0, 1):
        saturated = RELAY_0 + (context if wrong else 1 - context)
        u[2 + context, saturated] = SATURATE
        u[2 + context, INTEGRATOR] = -GAIN
    weights = {
        "weight_hh": w,
        "weight_ih": u,
        "bias_h": np.zeros(3),
        "weight_out": np.eye(3)[:, :1],
        "bias_out": np.zeros(1),
    }
    with torch.no_grad():
        for key, value in weights.items():
            getattr(model, key).copy_(torch.as_tensor(value, dtype=torch.float32)[None])
    return model.requires_grad_(False)


def point_set(
    states: NDArray,
    inputs: NDArray,
    context: list[int],
    kind: list[str],
    n_unstable: list[int],
    top: list[float],
) -> xr.Dataset:
    """The variables of a fixed-point dataset that :func:`context_selection` reads
    (``top``: the modulus of each point's leading eigenvalue)."""
    n = len(states)
    modes = np.zeros((n, states.shape[1]))
    modes[:, 0] = top
    return xr.Dataset(
        {
            "state_value": (("fixed_point", "state"), np.asarray(states, dtype=np.float64)),
            "input_value": (("fixed_point", "input_channel"), np.asarray(inputs, np.float64)),
            "kind": ("fixed_point", np.array(kind, dtype="<U5")),
            "n_unstable": ("fixed_point", np.array(n_unstable, dtype=np.int64)),
            "eigenvalue_real": (("fixed_point", "mode"), modes),
            "eigenvalue_imag": (("fixed_point", "mode"), np.zeros_like(modes)),
        },
        coords={
            "fixed_point": np.arange(n),
            "context": ("fixed_point", np.array(context, dtype=np.int64)),
        },
    )


def context_points(wrong: bool = False) -> xr.Dataset:
    """Per context, points of :func:`gated_integrator` (``wrong`` alike): a stable
    point, a slow point and a weakly unstable point on the line (integrator at 0, the
    context's saturated relay at its drive), and a strongly unstable saddle placed where
    the other relay is saturated (it selects the other channel)."""
    states, inputs, context = [], [], []
    for c in (0, 1):
        saturated = RELAY_0 + (c if wrong else 1 - c)
        on_line = np.zeros(3)
        on_line[saturated] = SATURATE
        off_line = np.zeros(3)
        off_line[RELAY_0 + RELAY_1 - saturated] = SATURATE
        u = np.zeros(N_IN)
        u[2 + c] = 1.0
        states += [on_line, on_line, on_line, off_line]
        inputs += [u] * 4
        context += [c] * 4
    return point_set(
        np.array(states),
        np.array(inputs),
        context,
        kind=["fixed", "slow", "fixed", "fixed"] * 2,
        n_unstable=[0, 0, 1, 1] * 2,
        top=[0.999, 1.0, 1.01, 1.5] * 2,
    )


def cdi(n_contexts: int = 2):
    return TASKS["cdi"](TASKS["cdi"].Params(n_contexts=n_contexts))


def test_the_slow_mode_selects_the_relevant_channel() -> None:
    ds = context_selection(gated_integrator(), context_points(), cdi())
    assert ds is not None
    np.testing.assert_array_equal(ds["selection_evaluated"].values, [True, True, True, False] * 2)
    assert np.isnan(ds["input_alignment"].values[[3, 7]]).all()
    # every evaluated point: the relevant relay's channel at g / sqrt(1 + g²), the other 0
    relevant = ds["input_alignment"].values[[0, 1, 2], 0]
    np.testing.assert_allclose(relevant, RELEVANT, atol=1e-6)
    np.testing.assert_allclose(ds["input_alignment"].values[[4, 5, 6], 1], RELEVANT, atol=1e-6)
    np.testing.assert_allclose(ds["slow_mode_eigenvalue"].values[[0, 4]], 1.0, atol=1e-6)
    assert bool(ds["selects_relevant_input"])
    assert ds["selection_relevant_alignment"].item() == pytest.approx(RELEVANT, abs=1e-6)
    assert ds["selection_irrelevant_alignment"].item() == pytest.approx(0.0, abs=1e-6)
    assert ds["slow_mode_readout_alignment"].item() == pytest.approx(1.0, abs=1e-6)
    np.testing.assert_array_equal(ds["selection_context_points"].values, [3, 3])
    np.testing.assert_allclose(
        ds["selection_context_input_alignment"].values,
        [[RELEVANT, 0.0], [0.0, RELEVANT]],
        atol=1e-6,
    )
    for name in SUMMARY_VARIABLES:
        assert ds[name].dims == ()
        assert ds[name].attrs["long_name"] and ds[name].attrs["units"] == "1"
    assert ds.attrs["unstable_points"] == "weak"


def test_a_slow_mode_that_selects_the_wrong_channel() -> None:
    ds = context_selection(gated_integrator(wrong=True), context_points(wrong=True), cdi())
    assert ds is not None
    assert not bool(ds["selects_relevant_input"])
    assert ds["selection_relevant_alignment"].item() == pytest.approx(0.0, abs=1e-6)
    assert ds["selection_irrelevant_alignment"].item() == pytest.approx(RELEVANT, abs=1e-6)
    assert ds["slow_mode_readout_alignment"].item() == pytest.approx(1.0, abs=1e-6)


def test_every_unstable_point_can_be_included() -> None:
    # the strongly unstable saddles sit where the wrong relay is open: one of each
    # context's four points selects the wrong channel, the medians do not
    every = context_selection(gated_integrator(), context_points(), cdi(), unstable="all")
    assert every is not None and every["selection_evaluated"].values.all()
    np.testing.assert_allclose(
        every["input_alignment"].values[[3, 7], :2], [[0, RELEVANT], [RELEVANT, 0]], atol=1e-6
    )
    assert every["selection_context_points"].values.tolist() == [4, 4]
    assert bool(every["selects_relevant_input"])
    alone = context_selection(gated_integrator(), context_points(), cdi(), unstable="none")
    assert alone is not None
    np.testing.assert_array_equal(
        alone["selection_evaluated"].values, [True, True, False, False] * 2
    )
    assert bool(alone["selects_relevant_input"])


def test_which_points_are_chosen() -> None:
    fp = context_points()
    np.testing.assert_array_equal(selection_points(fp, "weak", 0.02), [1, 1, 1, 0] * 2)
    np.testing.assert_array_equal(selection_points(fp, "weak", 0.005), [1, 1, 0, 0] * 2)
    np.testing.assert_array_equal(selection_points(fp, "weak", 0.6), [1, 1, 1, 1] * 2)
    with pytest.raises(ValueError, match="unstable"):
        selection_points(fp, "some")  # type: ignore[arg-type]


def alignments(inputs: NDArray, evaluated: list[bool]) -> xr.Dataset:
    """A hand-made output of ``selection_vectors`` with one output aligned at 0.5."""
    n = len(inputs)
    return xr.Dataset(
        {
            "input_alignment": (("fixed_point", "input_channel"), np.asarray(inputs, float)),
            "readout_alignment": (("fixed_point", "output"), np.full((n, 1), 0.5)),
            "selection_evaluated": ("fixed_point", np.array(evaluated)),
        }
    )


def test_the_summary_rule() -> None:
    # three contexts, six inputs; a NaN alignment (channel 0 at point 4) counts as 0
    inputs = np.array(
        [
            [0.9, 0.1, 0.1, 1, 1, 1],
            [0.7, 0.3, 0.1, 1, 1, 1],
            [0.1, 0.8, 0.2, 1, 1, 1],
            [0.0, 0.5, 0.4, 1, 1, 1],
            [np.nan, 0.2, 0.9, 1, 1, 1],
        ]
    )
    ds = selection_summary(alignments(inputs, [True] * 5), np.array([0, 0, 1, 2, 2]), 3)
    np.testing.assert_allclose(ds["selection_context_relevant_alignment"].values, [0.8, 0.8, 0.65])
    np.testing.assert_allclose(
        ds["selection_context_irrelevant_alignment"].values, [0.15, 0.15, 0.175]
    )
    np.testing.assert_allclose(ds["selection_context_input_alignment"].values[2], [0, 0.35, 0.65])
    assert bool(ds["selects_relevant_input"])
    assert ds["selection_relevant_alignment"].item() == pytest.approx(0.8)
    assert ds["selection_irrelevant_alignment"].item() == pytest.approx(0.15)
    assert ds["slow_mode_readout_alignment"].item() == pytest.approx(0.5)

    # context 2: channel 1 now beats the relevant channel 2, the mean of the irrelevant
    # channels does not
    inputs[4, 1] = 0.9
    ds = selection_summary(alignments(inputs, [True] * 5), np.array([0, 0, 1, 2, 2]), 3)
    relevant = ds["selection_context_relevant_alignment"].values[2]
    assert relevant > ds["selection_context_irrelevant_alignment"].values[2]
    assert not bool(ds["selects_relevant_input"])

    # a context without evaluated points: no verdict for it, medians over the others
    ds = selection_summary(
        alignments(inputs, [True, True, False, True, True]), np.array([0, 0, 1, 2, 2]), 3
    )
    assert ds["selection_context_points"].values.tolist() == [2, 0, 2]
    assert np.isnan(ds["selection_context_relevant_alignment"].values[1])
    assert not bool(ds["selects_relevant_input"])
    assert np.isfinite(ds["selection_relevant_alignment"].item())

    # nothing evaluated anywhere
    ds = selection_summary(alignments(inputs, [False] * 5), np.array([0, 0, 1, 2, 2]), 3)
    assert np.isnan(ds["selection_relevant_alignment"].item())
    assert not bool(ds["selects_relevant_input"])

    # a single context: nothing to select between
    one = selection_summary(alignments(inputs[:, :2], [True] * 5), np.zeros(5, int), 1)
    assert not bool(one["selects_relevant_input"])
    assert np.isnan(one["selection_irrelevant_alignment"].item())

    with pytest.raises(ValueError, match="context labels"):
        selection_summary(alignments(inputs, [True] * 5), np.zeros(4, int), 3)


def test_tasks_without_a_context_cue_get_none() -> None:
    for name in ("rdm", "multisensory", "flipflop"):
        assert context_selection(gated_integrator(), context_points(), TASKS[name]()) is None
    with pytest.raises(ValueError, match="'context'"):
        context_selection(gated_integrator(), context_points().drop_vars("context"), cdi())


# -- tiny trained networks through analyze_network and the summary ---------------------


ANALYSIS = {
    "evaluation_trials": 32,
    "psychometric_repeats": 5,
    "fixed_points": {"n_initial_states": 16, "max_iterations": 100},
    "topology": {"max_steps": 200},
    "attractors": {"cycle_transient_steps": 100, "cycle_window_steps": 50, "cycle_max_period": 20},
}


def analysed(folder: Path, task: str, task_params: dict, analysis: dict) -> Path:
    spec = {
        "network": {
            "task": task,
            "architecture": "rate",
            "learning_rule": "bptt",
            "noise": 0.1,
            "seed": 0,
        },
        "task": task_params,
        "architecture": {"hidden_size": 8},
        "learning_rule": {"learning_rate": 0.01, "batch_size": 16, "max_iterations": 10},
        "stopping": {"validate_every": 10, "validation_trials": 16, "window": 2},
    }
    train_ensemble([spec], [folder], "cpu", log=lambda _: None)
    out = folder / "analysis.nc"
    lines: list[str] = []
    analyze_network({**spec, "analysis": analysis}, folder, out, log=lines.append)
    (folder / "log.txt").write_text("\n".join(lines))
    return out


CDI_TASK = {"n_steps": 20, "fixed_point_levels": 3, "probe_levels": 2}


def test_a_trained_cdi_network_carries_the_summary(tmp_path: Path, one_thread) -> None:
    out = analysed(tmp_path / "cdi", "cdi", CDI_TASK, ANALYSIS)
    with xr.open_dataset(out) as ds:
        ds = ds.load()
    for name in SUMMARY_VARIABLES:
        assert ds[name].dims == (), name
        assert ds[name].attrs["long_name"] and ds[name].attrs["units"] == "1"
    assert ds["selects_relevant_input"].dtype == bool
    assert ds["input_alignment"].dims == ("fixed_point", "input_channel")
    assert ds.sizes["input_channel"] == 4 and ds.sizes["selection_context"] == 2
    evaluated = ds["selection_evaluated"].values
    assert evaluated.dtype == bool and len(evaluated) == ds.sizes["fixed_point"]
    chosen = selection_points(ds, "weak", 0.02)
    np.testing.assert_array_equal(evaluated, chosen)
    assert np.isfinite(ds["slow_mode_eigenvalue"].values[evaluated]).all()
    assert np.isnan(ds["slow_mode_eigenvalue"].values[~evaluated]).all()
    counts = [int((evaluated & (ds["context"].values == c)).sum()) for c in (0, 1)]
    assert ds["selection_context_points"].values.tolist() == counts
    assert ds.attrs["selection_unstable_points"] == "weak"
    assert "selection vectors at" in (tmp_path / "cdi" / "log.txt").read_text()

    summary = summarise("cdi", [out], log=lambda _: None)
    for name in SUMMARY_VARIABLES:
        assert summary[name].dims == ("network",)
        assert summary[name].attrs["long_name"] and summary[name].attrs["units"] == "1"
        np.testing.assert_array_equal(summary[name].values, [ds[name].item()])


def test_other_tasks_have_no_selection_vectors(tmp_path: Path, one_thread) -> None:
    out = analysed(tmp_path / "rdm", "rdm", {"n_steps": 20, "fixed_point_levels": 3}, ANALYSIS)
    with xr.open_dataset(out) as ds:
        ds = ds.load()
    for name in (*SUMMARY_VARIABLES, "input_alignment", "selection_evaluated"):
        assert name not in ds, name
    summary = summarise("rdm", [out], log=lambda _: None)
    for name in SUMMARY_VARIABLES:
        assert summary[name].attrs["long_name"]
    assert not summary["selects_relevant_input"].values.any()
    for name in ("selection_relevant_alignment", "selection_irrelevant_alignment"):
        assert np.isnan(summary[name].values).all()
    assert np.isnan(summary["slow_mode_readout_alignment"].values).all()


def test_the_analysis_can_be_switched_off(tmp_path: Path, one_thread) -> None:
    out = analysed(tmp_path / "off", "cdi", CDI_TASK, {**ANALYSIS, "selection_vectors": False})
    with xr.open_dataset(out) as ds:
        assert not any(name in ds for name in SUMMARY_VARIABLES)
    summary = summarise("cdi", [out], log=lambda _: None)
    assert np.isnan(summary["selection_relevant_alignment"].values).all()
    assert not summary["selects_relevant_input"].values.any()
