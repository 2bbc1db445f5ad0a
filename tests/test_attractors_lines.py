"""Line attractors on hand-built systems: what is a line, what is not, and which score says so."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from rnn_analysis.analysis.attractors import AttractorParams, attractor_structure
from rnn_analysis.analysis.attractors.chains import chains
from rnn_analysis.analysis.fixed_points import FixedPointParams, find_fixed_points
from rnn_analysis.architectures import ARCHITECTURES
from tests.attractor_systems import (
    FAST,
    arc_network,
    line_network,
    linear_network,
    static,
    uniform_probe,
)

DIRECTION = np.array([1.0, 2.0, -2.0]) / 3


def line_case() -> tuple:
    model = line_network(DIRECTION)
    probe = uniform_probe(3)
    inputs = static([[0.0]], context=[0])
    (fp,) = find_fixed_points(model, probe, inputs, FAST)
    return model, probe, inputs, fp


def test_chains_follow_a_curve_and_split_at_gaps() -> None:
    rng = np.random.default_rng(0)
    # A spiral arm (curving through 270°) and, far from it, a straight segment.
    theta = rng.permutation(np.linspace(0.0, 1.5 * math.pi, 120))
    radius = 1.0 + 0.1 * theta
    spiral = np.stack([radius * np.cos(theta), radius * np.sin(theta), 0 * theta], axis=1)
    segment = np.stack([np.linspace(0, 1, 20), np.zeros(20), np.full(20, 5.0)], axis=1)
    found = chains(np.concatenate([spiral, segment]), max_gap=0.5, window=0.1)
    assert [len(c) for c in found] == [120, 20]
    arm, straight = found
    # The spiral is ordered along itself, from one end to the other, with no point off
    # its backbone.
    assert arm.n_backbone == 120
    order = theta[arm.members]
    assert np.all(np.diff(order) > 0) or np.all(np.diff(order) < 0)
    fine = np.linspace(0.0, 1.5 * math.pi, 100_001)
    curve = (1.0 + 0.1 * fine) * np.stack([np.cos(fine), np.sin(fine)])
    exact = np.linalg.norm(np.diff(curve, axis=1), axis=0).sum()
    assert arm.length == pytest.approx(exact, rel=0.01)
    # Local tangents are the curve's (the derivative of the spiral at each point).
    t = order
    tangent = np.stack(
        [0.1 * np.cos(t) - (1 + 0.1 * t) * np.sin(t), 0.1 * np.sin(t) + (1 + 0.1 * t) * np.cos(t)],
        axis=1,
    )
    tangent /= np.linalg.norm(tangent, axis=1, keepdims=True)
    cos = np.abs((arm.tangent[:, :2] * tangent).sum(axis=1))
    assert np.median(cos) > 0.999 and cos.min() > 0.95
    assert straight.length == pytest.approx(1.0)
    np.testing.assert_allclose(np.abs(straight.tangent[:, 0]), 1.0, atol=1e-9)
    # Cut finer than the spacing of the points, every point is a chain of its own.
    assert len(chains(spiral[:10], max_gap=1e-3, window=0.1)) == 10


#: The fixed-point dataset's points alone, without points relaxed onto the slow manifold.
SEARCHED = AttractorParams(line_relax_steps=0)


def test_straight_line_of_fixed_points() -> None:
    model, probe, inputs, fp = line_case()
    assert fp.sizes["fixed_point"] > 50
    ds = attractor_structure(model, fp, inputs, SEARCHED, probe_states=probe)
    along = fp.state_value.values @ DIRECTION
    span = along.max() - along.min()
    assert bool(ds.line_attractor[0]) and str(ds.line_rejected_by.values[0]) == ""
    assert int(ds.line_n_points[0]) == fp.sizes["fixed_point"] == int(ds.line_n_candidates[0])
    assert ds.line_member.values.all() and ds.line_candidate.values.all()
    assert abs(float(ds.line_direction.values[0] @ DIRECTION)) == pytest.approx(1.0, abs=1e-9)
    assert float(ds.line_extent[0]) == pytest.approx(span, rel=1e-6)
    assert float(ds.line_length[0]) == pytest.approx(span, rel=1e-6)
    states = probe.reshape(-1, 3).numpy()
    spread = np.sqrt(((states - states.mean(axis=0)) ** 2).sum(axis=1).mean())
    assert float(ds.line_relative_extent[0]) == pytest.approx(span / spread, rel=1e-6)
    assert float(ds.line_offset[0]) < 1e-8
    assert float(ds.line_alignment[0]) > 1 - 1e-6
    assert float(ds.line_separation[0]) > 1e4
    np.testing.assert_allclose(ds.line_point_alignment.values, 1.0, atol=1e-6)
    # Positions along the line are the points' coordinates along it, from one end.
    arc = ds.line_point_arc.values
    np.testing.assert_allclose(arc, np.abs(along - along[np.argmin(arc)]), atol=1e-9)
    assert (ds.line_point_chain.values == 0).all()
    # No point of the line has an unstable mode.
    assert fp.stable.values.all()
    # The group of the static input ("context" 0) has the same best chain.
    assert list(ds.input_group.values) == [0]
    assert bool(ds.group_line_attractor[0]) and bool(ds.line_attractor_every_group)
    assert int(ds.group_line_static_input[0]) == 0
    assert float(ds.group_line_length[0]) == float(ds.line_length[0])
    assert float(ds.group_line_fraction[0]) == 1.0
    assert int(ds.n_line_attractors) == 1
    assert float(ds.line_width[0]) < 1e-6 and int(ds.line_n_relaxed[0]) == 0


def test_relaxed_probe_states_sample_the_line() -> None:
    """Probe states relaxed under the static input land on the line and join the chain:
    also a search that found a single point of the line finds the line."""
    model, probe, inputs, fp = line_case()
    one = fp.isel(fixed_point=[0])
    ds = attractor_structure(model, one, inputs, probe_states=probe)
    assert int(ds.line_n_relaxed[0]) > 50
    assert bool(ds.line_attractor[0]) and bool(ds.line_member.values[0])
    states = probe.reshape(-1, 3).numpy()
    span = np.ptp(states @ DIRECTION)
    assert float(ds.line_extent[0]) == pytest.approx(span, rel=0.05)
    assert float(ds.line_alignment[0]) > 1 - 1e-6
    assert not bool(attractor_structure(model, one, inputs, SEARCHED, probe).line_attractor[0])


def test_curved_line_of_fixed_points() -> None:
    # Fixed points on 229° of the unit circle: a line that folds back on any single axis.
    model = arc_network()
    probe = uniform_probe(3)
    inputs = static([[2.0]])
    (fp,) = find_fixed_points(model, probe, inputs, FAST)
    x = fp.state_value.values
    theta = np.arctan2(x[:, 1], x[:, 0])
    np.testing.assert_allclose(np.hypot(x[:, 0], x[:, 1]), 1.0, atol=1e-6)
    assert theta.min() < -1.9 and theta.max() > 1.9
    ds = attractor_structure(model, fp, inputs, SEARCHED, probe_states=probe)
    assert bool(ds.line_attractor[0])
    # The whole arc is one chain: every point, the arc's length, the circle's diameter.
    assert int(ds.line_n_points[0]) == fp.sizes["fixed_point"]
    assert float(ds.line_length[0]) == pytest.approx(theta.max() - theta.min(), rel=0.01)
    assert float(ds.line_extent[0]) == pytest.approx(2.0, rel=1e-3)
    assert float(ds.line_alignment[0]) > 0.99
    # Positions along the chain are the angles along the arc.
    arc = ds.line_point_arc.values
    start = theta[np.argmin(arc)]
    np.testing.assert_allclose(arc, np.abs(theta - start), atol=0.02)


def test_slow_eigenvectors_not_stored_are_recomputed() -> None:
    direction = np.array([2.0, -1.0, 2.0]) / 3
    model = line_network(direction, decay=0.3)
    probe = uniform_probe(3)
    inputs = static([[0.0]])
    (fp,) = find_fixed_points(
        model, probe, inputs, FixedPointParams(n_initial_states=128, n_eigenvectors=0)
    )
    assert fp.sizes["leading_mode"] == 0
    ds = attractor_structure(model, fp, inputs, probe_states=probe)
    assert bool(ds.line_attractor[0])
    assert abs(float(ds.line_direction.values[0] @ direction)) == pytest.approx(1.0, abs=1e-9)
    np.testing.assert_allclose(ds.line_point_alignment.values, 1.0, atol=1e-6)


def test_eigenvalue_not_near_one_is_no_line() -> None:
    model, probe, inputs, fp = line_case()
    # Pretend the slow eigenvalue were 0.9: offset 0.1, above line_tolerance (0.02).
    shifted = fp.copy(deep=True)
    shifted["eigenvalue_real"][:, 0] = 0.9
    ds = attractor_structure(model, shifted, inputs, SEARCHED, probe_states=probe)
    np.testing.assert_allclose(ds.line_point_offset.values, 0.1, atol=1e-9)
    assert not bool(ds.line_attractor[0]) and int(ds.line_n_candidates[0]) == 0
    assert str(ds.line_rejected_by.values[0]) == "offset"
    assert str(ds.group_line_rejected_by.values[0]) == "no_candidates"
    assert not ds.line_candidate.values.any() and (ds.line_point_chain.values == -1).all()
    loose = AttractorParams(line_tolerance=0.15, line_relax_steps=0)
    assert bool(attractor_structure(model, shifted, inputs, loose).line_attractor[0])


def test_misaligned_slow_eigenvectors_are_no_line() -> None:
    model, probe, inputs, fp = line_case()
    # The same chain of points with slow eigenvectors across it, not along it.
    across = np.array([2.0, 1.0, 2.0]) / 3
    assert abs(across @ DIRECTION) < 1e-12
    turned = fp.copy(deep=True)
    turned["eigenvector_real"][:, :, 0] = across
    turned["eigenvector_imag"][:, :, 0] = 0.0
    ds = attractor_structure(model, turned, inputs, SEARCHED, probe_states=probe)
    assert not bool(ds.line_attractor[0])
    assert str(ds.line_rejected_by.values[0]) == "alignment"
    assert float(ds.line_alignment[0]) < 1e-6
    assert float(ds.line_relative_extent[0]) > 1.0


def test_short_slow_segment_is_no_line() -> None:
    # The same line, but the probe states spread 30 times farther: the fixed points the
    # states use cover a small part of the space they visit.
    model, probe, inputs, fp = line_case()
    wide = 30 * probe
    params = AttractorParams(line_max_probe_distance=0.0, line_relax_steps=0)
    ds = attractor_structure(model, fp, inputs, params, probe_states=wide)
    assert not bool(ds.line_attractor[0])
    assert str(ds.line_rejected_by.values[0]) == "relative_extent"
    assert float(ds.line_relative_extent[0]) < AttractorParams().line_min_relative_extent
    assert float(ds.line_alignment[0]) > 1 - 1e-6


def test_isolated_stable_points_are_no_line() -> None:
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
    assert int(ds.n_fixed_total) == 9
    # Every eigenvalue is far from 1 (the slowest, at the stable corners, about 0.08).
    assert float(ds.line_point_offset.min()) > 0.5
    assert not bool(ds.line_attractor[0]) and int(ds.n_line_attractors) == 0
    assert str(ds.line_rejected_by.values[0]) == "offset"
    assert not bool(ds.line_attractor_every_group) and not ds.line_member.values.any()


def test_two_separated_slow_clusters_are_no_line() -> None:
    # Two tight clusters of points with λ = 1 along the line joining them: the gap
    # between the clusters cuts them into two chains, each too short to be a line.
    direction = np.array([1.0, 0.0])
    model = linear_network(np.diag([1.0, 0.5]))
    probe = uniform_probe(2)
    inputs = static([[0.0]])
    (fp,) = find_fixed_points(model, probe, inputs, FAST)
    centres = np.where(fp.state_value.values[:, :1] > 0, 1.0, -1.0)
    clustered = fp.copy(deep=True)
    clustered["state_value"][:] = centres * direction + 0.01 * fp.state_value.values
    ds = attractor_structure(model, clustered, inputs, SEARCHED, probe_states=probe)
    assert not bool(ds.line_attractor[0])
    assert int(ds.line_point_chain.max()) == 1
    assert str(ds.line_rejected_by.values[0]) == "extent,relative_extent"
    assert float(ds.line_extent[0]) < AttractorParams().line_min_extent
    assert float(ds.line_alignment[0]) > 0.99
    # Joined across the gap, they would be one long chain.
    joined = attractor_structure(
        model,
        clustered,
        inputs,
        AttractorParams(line_max_gap=3.0, line_relax_steps=0),
        probe_states=probe,
    )
    assert float(joined.line_extent[0]) > 1.9 and int(joined.line_point_chain.max()) == 0


def test_a_plane_of_fixed_points_is_no_line() -> None:
    # Two eigenvalues at 1: every point of a plane is fixed. Its slow eigenvectors follow
    # any chain through it, but the chain is a sheet, not a curve.
    model = linear_network(np.diag([1.0, 1.0, 0.5]))
    probe = uniform_probe(3)
    inputs = static([[0.0]])
    (fp,) = find_fixed_points(model, probe, inputs, FAST)
    assert fp.sizes["fixed_point"] > 50
    ds = attractor_structure(model, fp, inputs, probe_states=probe)
    assert (ds.line_point_offset.values < 1e-8).all()
    assert (ds.line_point_separation.values < 1 + 1e-6).all()
    assert not bool(ds.line_attractor[0])
    assert "width" in str(ds.line_rejected_by.values[0]).split(",")
    assert float(ds.line_width[0]) > AttractorParams().line_max_width
    # Requiring one isolated slow mode rejects every point instead.
    isolated = AttractorParams(line_separation=2.0)
    ds = attractor_structure(model, fp, inputs, isolated, probe_states=probe)
    assert int(ds.line_n_candidates[0]) == 0 and str(ds.line_rejected_by.values[0]) == "separation"


def test_groups_of_static_inputs() -> None:
    # Under u = 0 the points of the line are fixed; under u = 1 the input drives the
    # state along the line (0.05 per step): no fixed point, no line.
    model = line_network(DIRECTION)
    with torch.no_grad():
        model.weight_ih.copy_(torch.as_tensor(0.05 * DIRECTION)[None, None])
    probe = uniform_probe(3)
    inputs = static([[0.0], [1.0], [0.0]], context=[0, 1, 2])
    (fp,) = find_fixed_points(model, probe, inputs, FAST)
    ds = attractor_structure(model, fp, inputs, probe_states=probe)
    np.testing.assert_array_equal(ds.line_attractor.values, [True, False, True])
    assert str(ds.line_rejected_by.values[1]) == "no_points"
    np.testing.assert_array_equal(ds.input_group.values, [0, 1, 2])
    np.testing.assert_array_equal(ds.group_line_attractor.values, [True, False, True])
    np.testing.assert_array_equal(ds.group_line_fraction.values, [1.0, 0.0, 1.0])
    np.testing.assert_array_equal(ds.group_line_static_input.values, [0, -1, 2])
    assert np.isnan(float(ds.group_line_alignment[1]))
    assert int(ds.group_line_n_points[1]) == 0
    assert not bool(ds.line_attractor_every_group) and int(ds.n_line_attractors) == 2
    # One group of both: its best chain is the better of the two static inputs'.
    grouped = static([[0.0], [1.0]], context=[7, 7])
    (fp2,) = find_fixed_points(model, probe, grouped, FAST)
    ds2 = attractor_structure(model, fp2, grouped, probe_states=probe)
    assert bool(ds2.group_line_attractor[0]) and bool(ds2.line_attractor_every_group)
    assert float(ds2.group_line_fraction[0]) == 0.5
    assert int(ds2.group_line_static_input[0]) == 0
    # Requiring both static inputs of the group to have a line fails.
    strict = attractor_structure(
        model, fp2, grouped, AttractorParams(group_min_inputs=2), probe_states=probe
    )
    assert not bool(strict.group_line_attractor[0])


def test_a_line_the_output_ignores_is_no_line() -> None:
    model, probe, inputs, fp = line_case()
    across = np.array([2.0, 1.0, 2.0]) / 3
    with torch.no_grad():
        model.weight_out.copy_(torch.as_tensor(across, dtype=model.weight_out.dtype)[None, :, None])
    (fp,) = find_fixed_points(model, probe, inputs, FAST)
    ds = attractor_structure(model, fp, inputs, SEARCHED, probe_states=probe)
    assert not bool(ds.line_attractor[0])
    assert str(ds.line_rejected_by.values[0]) == "readout_range"
    assert float(ds.line_readout_range[0]) < 1e-4 and float(ds.line_alignment[0]) > 0.99
    free = AttractorParams(line_min_readout_range=0.0, line_relax_steps=0)
    assert bool(attractor_structure(model, fp, inputs, free, probe_states=probe).line_attractor[0])
