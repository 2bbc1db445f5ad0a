"""Limit cycles, the central fixed point's rotation, and the cued frequency, on hand-built
oscillators whose frequencies are known."""

from __future__ import annotations

import math

import numpy as np
import pytest

from rnn_analysis.analysis.attractors import AttractorParams, attractor_structure
from rnn_analysis.analysis.fixed_points import FixedPointParams, find_fixed_points
from tests.attractor_systems import (
    FAST,
    TWO_PI,
    ShearOscillator,
    linear_network,
    oscillator,
    static,
    uniform_probe,
)


def test_rotation_and_limit_cycles_of_an_oscillator() -> None:
    model = oscillator()
    theta = [TWO_PI / 12, 0.37, 0.5, 1.1]
    mu = [1.0, 0.5, -0.5, 0.25]
    inputs = static([[t, m] for t, m in zip(theta, mu, strict=True)], kind=list("abcd"))
    probe = uniform_probe(2)
    (fp,) = find_fixed_points(model, probe, inputs, FAST)
    assert fp.sizes["fixed_point"] == 4
    ds = attractor_structure(model, fp, inputs, probe_states=probe)

    # The origin under each input: eigenvalues (1 + 0.2 μ) e^{±iθ}.
    np.testing.assert_array_equal(fp.condition.values, [0, 1, 2, 3])
    np.testing.assert_allclose(ds.osc_rotation.values, theta, atol=1e-6)
    np.testing.assert_allclose(ds.osc_modulus.values, 1 + 0.2 * np.array(mu), atol=1e-6)
    np.testing.assert_array_equal(ds.osc_n_pairs.values, [1, 1, 1, 1])
    np.testing.assert_allclose(ds.osc_mode_rotation.values[:, 0], theta, atol=1e-6)
    assert np.isnan(ds.osc_mode_rotation.values[:, 1]).all()
    np.testing.assert_array_equal(ds.n_stable.values, [0, 0, 1, 0])
    np.testing.assert_array_equal(ds.n_saddle.values[:, -1], [1, 1, 0, 1])

    # Limit cycles: found where μ > 0, with period 2π/θ and radius √μ.
    np.testing.assert_array_equal(ds.cycle_found.values, [True, True, False, True])
    period = ds.cycle_period.values
    assert period[0] == pytest.approx(12.0, abs=1e-5)
    assert period[1] == pytest.approx(TWO_PI / 0.37, rel=1e-4)
    assert np.isnan(period[2])
    assert period[3] == pytest.approx(TWO_PI / 1.1, rel=1e-3)
    np.testing.assert_allclose(
        ds.cycle_frequency.values[[0, 1, 3]], [theta[0], 0.37, 1.1], rtol=1e-3
    )
    np.testing.assert_allclose(
        ds.cycle_amplitude.values[[0, 1, 3]], np.sqrt([1.0, 0.5, 0.25]), rtol=2e-3
    )
    np.testing.assert_array_equal(ds.cycle_n_runs.values, [8, 8, 0, 8])
    assert ds.cycle_run_found.values[[0, 1, 3]].all()
    assert int(ds.n_cycles) == 3
    assert list(ds.static_input_kind.values) == list("abcd")

    # The central fixed point is the origin: the cycle's centre where there is one, the
    # probe states' centroid (near the origin) under the stable focus.
    np.testing.assert_array_equal(ds.focus_point.values, [0, 1, 2, 3])
    np.testing.assert_array_equal(ds.focus_centre.values, ["cycle", "cycle", "probe", "cycle"])
    np.testing.assert_allclose(ds.focus_rotation.values, theta, atol=1e-6)
    np.testing.assert_allclose(ds.focus_modulus.values, 1 + 0.2 * np.array(mu), atol=1e-6)
    np.testing.assert_array_equal(ds.focus_n_unstable.values, [2, 2, 0, 2])
    assert (ds.focus_distance.values[[0, 1, 3]] < 0.01).all()
    # No cued-frequency label: no comparison with a cue.
    assert "oscillates_at_cue" not in ds and "cycle_frequency_error" not in ds


def test_cycle_frequency_and_central_rotation_against_the_cue() -> None:
    # Rotation by θ + 0.05 |h|² per step: the limit cycle (|h|² = μ) turns by θ + 0.05 μ,
    # the linearisation at its centre by θ. A third unit adds fixed points at z = 2
    # (and z = 4) off the cycle's centre.
    model = oscillator(ShearOscillator, 3)
    theta = [0.4, 0.4, 0.25, 0.3]
    mu = [1.0, 1.0, 0.5, -0.5]
    cycle = [t + 0.05 * max(m, 0.0) for t, m in zip(theta, mu, strict=True)]
    # Cued frequencies: the cycle's, 10% above it, the cycle's, and a stable focus's.
    omega = [cycle[0], 1.1 * cycle[1], cycle[2], 0.3]
    inputs = static([[t, m] for t, m in zip(theta, mu, strict=True)], omega=omega)
    probe = uniform_probe(3)
    (fp,) = find_fixed_points(model, probe, inputs, FAST)
    z = fp.state_value.values[:, 2]
    assert (np.abs(z - 2.0) < 1e-6).sum() >= 3  # the decoys were found
    ds = attractor_structure(model, fp, inputs, probe_states=probe)

    np.testing.assert_array_equal(ds.cycle_found.values, [True, True, True, False])
    np.testing.assert_allclose(ds.cycle_frequency.values[:3], cycle[:3], rtol=1e-3)
    # The central fixed point is the origin of each static input, not the decoy at z = 2.
    focus = ds.focus_point.values
    assert (focus >= 0).all()
    np.testing.assert_allclose(fp.state_value.values[focus], 0.0, atol=1e-6)
    np.testing.assert_array_equal(fp.condition.values[focus], [0, 1, 2, 3])
    np.testing.assert_allclose(ds.focus_rotation.values, theta, atol=1e-6)
    np.testing.assert_allclose(ds.focus_modulus.values, [1.2, 1.2, 1.1, 0.9], atol=1e-6)

    # Relative errors against the cue: the cycle's frequency is the primary measure.
    cycle_error = ds.cycle_frequency_error.values
    np.testing.assert_allclose(cycle_error[[0, 2]], 0.0, atol=1e-3)
    assert cycle_error[1] == pytest.approx(1 / 1.1 - 1, abs=1e-3)
    assert np.isnan(cycle_error[3])
    focus_error = ds.focus_rotation_error.values
    np.testing.assert_allclose(focus_error, np.array(theta) / np.array(omega) - 1, atol=1e-6)
    assert focus_error[0] == pytest.approx(-0.05 / 0.45, abs=1e-6)
    np.testing.assert_array_equal(ds.oscillates_at_cue.values, [True, False, True, False])
    assert int(ds.n_oscillates_at_cue) == 2
    assert not bool(ds.oscillates_at_cue_every_input)
    assert math.isinf(float(ds.cycle_frequency_max_error))
    assert float(ds.focus_rotation_max_error) == pytest.approx(
        np.max(np.abs(focus_error)), rel=1e-9
    )
    # The tolerance decides: at 15% the mistuned input oscillates at its cue too.
    loose = attractor_structure(
        model, fp, inputs, AttractorParams(cue_tolerance=0.15), probe_states=probe
    )
    np.testing.assert_array_equal(loose.oscillates_at_cue.values, [True, True, True, False])
    # Where every static input oscillates at its cue, so does the network.
    tuned = static([[t, m] for t, m in zip(theta[:3], mu[:3], strict=True)], freq=cycle[:3])
    (fp3,) = find_fixed_points(model, probe, tuned, FAST)
    ds3 = attractor_structure(
        model, fp3, tuned, AttractorParams(cue_label="freq"), probe_states=probe
    )
    assert bool(ds3.oscillates_at_cue_every_input) and int(ds3.n_oscillates_at_cue) == 3
    assert float(ds3.cycle_frequency_max_error) < 1e-3


def test_drift_and_decaying_spirals_are_no_cycles() -> None:
    # A constant drift along a marginal direction keeps moving but never returns.
    drift = linear_network(np.diag([1.0, 0.5]), np.array([[0.02, 0.0]]))
    inputs = static([[1.0]])
    short = FixedPointParams(n_initial_states=16, max_iterations=100)
    (fp,) = find_fixed_points(drift, uniform_probe(2), inputs, short)
    assert fp.sizes["fixed_point"] == 0
    ds = attractor_structure(drift, fp, inputs, probe_states=uniform_probe(2))
    np.testing.assert_allclose(ds.cycle_run_speed.values, 0.02, rtol=1e-6)
    assert not bool(ds.cycle_found[0])
    assert int(ds.focus_point[0]) == -1 and str(ds.focus_centre.values[0]) == ""
    # A spiral whose radius shrinks by 0.1% per step: still moving after the transient,
    # returns close after each turn, but its size changes over the window.
    rotation = TWO_PI / 12
    c, s = math.cos(rotation), math.sin(rotation)
    spiral = linear_network(0.999 * np.array([[c, -s], [s, c]]))
    inputs = static([[0.0]])
    (fp,) = find_fixed_points(spiral, uniform_probe(2), inputs, FAST)
    ds = attractor_structure(spiral, fp, inputs, probe_states=uniform_probe(2))
    assert (ds.cycle_run_speed.values > AttractorParams().cycle_min_speed).all()
    assert not bool(ds.cycle_found[0])
    assert float(ds.osc_rotation[0]) == pytest.approx(rotation, abs=1e-6)
    assert float(ds.osc_modulus[0]) == pytest.approx(0.999, abs=1e-6)
    # Without a cycle the central fixed point is the one nearest the probe states'
    # centroid: the focus, with its rotation and modulus.
    assert str(ds.focus_centre.values[0]) == "probe"
    assert float(ds.focus_rotation[0]) == pytest.approx(rotation, abs=1e-6)
    assert float(ds.focus_modulus[0]) == pytest.approx(0.999, abs=1e-6)
