"""Tests of the attractor-structure analysis: parameters, counts, the dataset as a whole.

Line attractors are tested in test_attractors_lines.py, oscillations and limit cycles in
test_attractors_oscillations.py, on the hand-built systems of attractor_systems.py.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest
import torch
import xarray as xr

from rnn_analysis.analysis.attractors import (
    AttractorParams,
    attractor_structure,
    oscillatory_modes,
    recurrence,
)
from rnn_analysis.analysis.fixed_points import FixedPointParams, find_fixed_points
from rnn_analysis.architectures import ARCHITECTURES
from rnn_analysis.errors import ConfigError
from rnn_analysis.hyperparameters import from_mapping
from tests.attractor_systems import FAST, oscillator, static, uniform_probe


def test_params_defaults_validation_and_config() -> None:
    p = AttractorParams()
    assert (p.line_tolerance, p.line_alignment, p.line_min_points) == (0.02, 0.8, 5)
    assert (p.line_min_relative_extent, p.line_max_gap, p.line_window) == (0.1, 0.25, 0.1)
    assert (p.cycle_transient_steps, p.cycle_window_steps, p.cycle_max_period) == (2000, 500, 250)
    assert p.complex_tol == 1e-6 and p.group_label == "context"
    assert (p.cue_label, p.cue_tolerance) == ("omega", 0.05)
    for bad, key in (
        ({"line_tolerance": -0.1}, "line_tolerance"),
        ({"line_alignment": 1.5}, "line_alignment"),
        ({"line_min_points": 1}, "line_min_points"),
        ({"line_max_gap": 0.0}, "line_max_gap"),
        ({"line_min_relative_extent": -1.0}, "line_min_relative_extent"),
        ({"cycle_initial_states": 0}, "cycle_initial_states"),
        ({"cycle_max_period": 600}, "cycle_window_steps"),
        ({"cycle_min_period": 0}, "cycle_min_period"),
        ({"group_min_inputs": 0}, "group_min_inputs"),
        ({"cue_tolerance": -0.01}, "cue_tolerance"),
        ({"cue_label": ""}, "cue_label"),
        ({"dtype": "float16"}, "dtype"),
    ):
        with pytest.raises(ValueError, match=key):
            AttractorParams(**bad)
    params = from_mapping(AttractorParams, {"line_tolerance": 0.01, "seed": 3}, "attractors")
    assert params.line_tolerance == 0.01 and params.seed == 3
    with pytest.raises(ConfigError, match="unknown key"):
        from_mapping(AttractorParams, {"tolerance": 0.1}, "attractors")


def test_counts_of_isolated_fixed_points() -> None:
    # tanh(W h) with W = diag(2, 2.5): 3 fixed points per unit, 9 in all: 4 stable
    # corners, 4 saddles with 1 unstable mode and the origin with 2.
    cls = ARCHITECTURES["vanilla"]
    model = cls(1, 1, cls.Params(hidden_size=2), [torch.Generator()])
    with torch.no_grad():
        model.weight_hh.copy_(torch.diag(torch.tensor([2.0, 2.5]))[None])
        model.weight_ih.zero_()
        model.bias_h.zero_()
    probe = uniform_probe(2, 1.2)
    inputs = static([[0.0]])
    (fp,) = find_fixed_points(model, probe, inputs, FAST)
    ds = attractor_structure(model, fp, inputs, probe_states=probe)
    assert int(ds.n_fixed_total) == 9 and int(ds.n_slow_total) == 0
    assert int(ds.n_stable[0]) == 4 and int(ds.n_stable_total) == 4
    np.testing.assert_array_equal(ds.unstable_modes.values, [1, 2])
    np.testing.assert_array_equal(ds.n_saddle.values, [[4, 1]])
    np.testing.assert_array_equal(ds.n_saddle_total.values, [4, 1])
    assert not bool(ds.cycle_found[0]) and int(ds.n_cycles) == 0
    # Real eigenvalues only: no oscillatory mode anywhere.
    assert (ds.osc_n_pairs.values == 0).all() and np.isnan(ds.osc_rotation.values).all()


def test_recurrence_and_oscillatory_modes_helpers() -> None:
    t = torch.arange(40, dtype=torch.float64)
    circle = torch.stack([torch.cos(2 * math.pi * t / 10), torch.sin(2 * math.pi * t / 10)], -1)
    dist = recurrence(circle[None], 15)
    assert dist.shape == (1, 15)
    assert float(dist[0, 9]) < 1e-12 and float(dist[0, 4]) == pytest.approx(2.0)
    with pytest.raises(ValueError, match="max_period"):
        recurrence(circle[None], 40)
    lam = np.array([[0.9 * np.exp(0.3j), 0.9 * np.exp(-0.3j), 0.5], [1.0, 0.5, -0.2]])
    osc = oscillatory_modes(lam)
    np.testing.assert_array_equal(osc["n_pairs"], [1, 0])
    np.testing.assert_allclose(osc["rotation"], [0.3, np.nan])
    np.testing.assert_allclose(osc["modulus"], [0.9, np.nan])


def test_merges_with_fixed_points_and_round_trips(tmp_path: Path) -> None:
    model = oscillator()
    inputs = static([[0.5, 1.0], [0.5, -1.0]], context=[0, 1], level=[0.1, 0.2], omega=[0.5, 0.5])
    probe = uniform_probe(2)
    (fp,) = find_fixed_points(model, probe, inputs, FAST)
    params = AttractorParams(cycle_transient_steps=300, cycle_window_steps=120, cycle_max_period=40)
    ds = attractor_structure(model, fp, inputs, params, probe_states=probe)
    merged = xr.merge([fp, ds], combine_attrs="drop")
    assert merged.sizes["fixed_point"] == fp.sizes["fixed_point"]
    assert merged.sizes["static_input"] == 2
    for name in ("static_input_context", "static_input_level", "static_input_value"):
        assert name in merged.coords
    for name in ds.data_vars:
        assert ds[name].attrs.get("long_name"), name
    # Measured scores and the verdicts derived from them are all in the dataset.
    for name in (
        "line_point_offset",
        "line_point_separation",
        "line_candidate",
        "line_length",
        "line_extent",
        "line_relative_extent",
        "line_alignment",
        "line_offset",
        "line_separation",
        "line_rejected_by",
        "group_line_length",
        "group_line_alignment",
        "group_line_fraction",
        "focus_rotation",
        "focus_modulus",
        "cycle_frequency_error",
        "focus_rotation_error",
        "oscillates_at_cue",
        "oscillates_at_cue_every_input",
    ):
        assert name in ds, name
    assert ds.attrs["param_line_tolerance"] == 0.02
    ds.to_netcdf(tmp_path / "attractors.nc")
    with xr.open_dataset(tmp_path / "attractors.nc") as back:
        xr.testing.assert_identical(back.load(), ds)


def test_empty_fixed_points_and_network_of_an_ensemble() -> None:
    cls = ARCHITECTURES["vanilla"]
    model = cls(1, 1, cls.Params(hidden_size=2), [torch.Generator().manual_seed(i) for i in (0, 1)])
    with torch.no_grad():
        model.weight_hh[1] = torch.diag(torch.tensor([2.0, 2.5]))
        model.weight_ih.zero_()
        model.bias_h.zero_()
    inputs = static([[0.0]])
    probe = uniform_probe(2, 1.2).expand(2, -1, -1, -1)
    impossible = FixedPointParams(
        n_initial_states=8, tol_q=1e-30, slow_q=1e-30, max_iterations=2, refine_iterations=0
    )
    (empty, _) = find_fixed_points(model, probe, inputs, impossible)
    params = AttractorParams(line_relax_steps=0)
    ds = attractor_structure(model, empty, inputs, params, probe_states=probe)
    assert ds.sizes["fixed_point"] == 0 and int(ds.n_fixed_total) == 0
    assert not bool(ds.line_attractor[0]) and not bool(ds.cycle_found[0])
    assert str(ds.line_rejected_by.values[0]) == "no_points"
    assert int(ds.focus_point[0]) == -1 and np.isnan(float(ds.focus_rotation[0]))
    # The second network of the ensemble, with the fixed points found for it.
    (_, second) = find_fixed_points(model, probe, inputs, FAST)
    ds = attractor_structure(model, second, inputs, probe_states=probe, network=1)
    assert int(ds.n_stable_total) == 4
    with pytest.raises(ValueError, match="network"):
        attractor_structure(model, second, inputs, network=2)
    with pytest.raises(ValueError, match="input_value"):
        attractor_structure(model, second, static([[0.5]]))
