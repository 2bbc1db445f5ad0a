"""Population rates with exact intervals, and the tasks' known results per network."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
import xarray as xr

from rnn_analysis.aggregate.overview import known_result_table
from rnn_analysis.aggregate.rates import population_rate, rate_table
from rnn_analysis.tasks import TASKS


def test_rate_has_the_clopper_pearson_interval() -> None:
    rate = population_rate([True] * 28 + [False] * 2)
    assert (rate.k, rate.n) == (28, 30)
    assert rate.fraction == pytest.approx(28 / 30)
    # Exact binomial interval of 28/30 (tables: 0.779 to 0.992).
    assert rate.low == pytest.approx(0.7793, abs=1e-4)
    assert rate.high == pytest.approx(0.9918, abs=1e-4)
    assert str(rate) == "28 of 30 (93%, 95% CI 78–99%)"
    assert rate.at_least(0.9) and not rate.at_least(0.95)


@pytest.mark.parametrize(("k", "n"), [(0, 5), (5, 5), (1, 1), (3, 7)])
def test_interval_holds_the_fraction_and_reaches_the_bounds(k: int, n: int) -> None:
    rate = population_rate([True] * k + [False] * (n - k), confidence=0.9)
    assert rate.low <= rate.fraction <= rate.high
    assert (rate.low == 0) == (k == 0)
    assert (rate.high == 1) == (k == n)
    wider = population_rate([True] * k + [False] * (n - k), confidence=0.99)
    assert wider.low <= rate.low and wider.high >= rate.high


def test_empty_population_and_bad_confidence() -> None:
    empty = population_rate([])
    assert empty.n == 0 and np.isnan(empty.fraction) and np.isnan(empty.low)
    assert str(empty) == "0 of 0" and not empty.at_least(0.0)
    with pytest.raises(ValueError, match="confidence"):
        population_rate([True], confidence=1.0)


def summary_of(rows: list[tuple[str, str, str, bool]]) -> xr.Dataset:
    arch, rule, status, flag = (np.array(column) for column in zip(*rows, strict=True))
    return xr.Dataset(
        {"known_x": ("network", flag.astype(bool), {"long_name": "known result: x"})},
        coords={
            "architecture": ("network", arch),
            "learning_rule": ("network", rule),
            "status": ("network", status),
            "task": ("network", np.full(len(rows), "cdi")),
        },
    )


def test_rate_table_counts_only_the_chosen_statuses_and_keeps_empty_groups() -> None:
    summary = summary_of(
        [
            ("gru", "bptt", "converged", True),
            ("gru", "bptt", "converged", False),
            ("gru", "bptt", "not_converged", True),
            ("gru", "bptt", "trivial", True),
            ("rate", "force", "not_converged", True),
            ("rate", "bptt", "converged", True),
        ]
    )
    table = rate_table(summary, "known_x")
    assert list(table) == [("gru", "bptt"), ("rate", "bptt"), ("rate", "force")]
    assert (table["gru", "bptt"].k, table["gru", "bptt"].n) == (1, 2)
    assert (table["rate", "force"].k, table["rate", "force"].n) == (0, 0)
    every = rate_table(summary, "known_x", by=("task",), statuses=("converged", "trivial"))
    assert (every["cdi",].k, every["cdi",].n) == (3, 4)
    lines = known_result_table(summary)
    assert "known result: x:" in lines[1]
    assert any(line.split()[:2] == ["rate", "force"] and "0 of 0" in line for line in lines[1:])
    assert any(line.split()[:1] == ["all"] and "2 of 3" in line for line in lines)


def flipflop_points(
    readouts: list[list[float]], stable: list[bool], n_unstable: list[int] | None = None
) -> xr.Dataset:
    n = len(readouts)
    n_unstable = n_unstable if n_unstable is not None else [0 if s else 1 for s in stable]
    return xr.Dataset(
        {
            "kind": ("fixed_point", np.full(n, "fixed")),
            "stable": ("fixed_point", np.array(stable, dtype=bool)),
            "n_unstable": ("fixed_point", np.array(n_unstable, dtype=np.int64)),
            "condition": ("fixed_point", np.zeros(n, dtype=np.int64)),
            "readout": (("fixed_point", "output"), np.array(readouts, dtype=float)),
        }
    )


def test_flipflop_corner_attractors() -> None:
    task = TASKS["flipflop"]()
    corners = [list(c) for c in itertools.product([-0.9, 0.95], repeat=3)]
    saddle = [[0.0, 0.9, 0.9]]
    good = flipflop_points(corners + saddle, [True] * 8 + [False])
    assert task.known_results(good)["corner_attractors"]
    # a missing corner, an extra stable point, a stable point away from the corners
    assert not task.known_results(flipflop_points(corners[:7], [True] * 7))["corner_attractors"]
    extra = flipflop_points(corners + saddle, [True] * 9)
    assert not task.known_results(extra)["corner_attractors"]
    off = [row[:] for row in corners]
    off[3][1] = 0.3
    assert not task.known_results(flipflop_points(off, [True] * 8))["corner_attractors"]
    slow = good.assign(kind=("fixed_point", np.array(["slow"] + ["fixed"] * 8)))
    assert not task.known_results(slow)["corner_attractors"]
    assert task.known_results(xr.Dataset()) == {"corner_attractors": False, "cube_census": False}


def test_flipflop_cube_census() -> None:
    task = TASKS["flipflop"]()
    corners = [list(c) for c in itertools.product([-0.9, 0.95], repeat=3)]
    modes = [0] * 8 + [1] * 12 + [2] * 6 + [3]
    readouts = corners + [[0.0, 0.0, 0.0]] * 19
    cube = flipflop_points(readouts, [m == 0 for m in modes], modes)
    assert task.known_results(cube) == {"corner_attractors": True, "cube_census": True}
    missing = flipflop_points(readouts[:-2], [m == 0 for m in modes[:-2]], modes[:-2])
    assert not task.known_results(missing)["cube_census"]
    extra = flipflop_points(readouts + [[0.0] * 3], [m == 0 for m in modes] + [False], modes + [4])
    assert not task.known_results(extra)["cube_census"]


def test_sine_known_result() -> None:
    sine = TASKS["sine"]()
    for every in (True, False):
        ds = xr.Dataset({"oscillates_at_cue_every_input": ((), every)})
        assert sine.known_results(ds) == {"cycles_at_cued_frequency": every}
    assert sine.known_results(xr.Dataset()) == {"cycles_at_cued_frequency": False}


def test_integration_known_results() -> None:
    cdi, rdm = TASKS["cdi"](), TASKS["rdm"]()
    for every in (True, False):
        ds = xr.Dataset({"line_attractor_every_group": ((), every)})
        assert cdi.known_results(ds) == {"line_attractor_every_context": every}
        assert rdm.known_results(ds) == {}
    assert cdi.known_results(xr.Dataset()) == {"line_attractor_every_context": False}
