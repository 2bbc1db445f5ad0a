"""The aggregate step's handling of networks a metric cannot compare."""

from __future__ import annotations

import numpy as np
import pytest

from rnn_analysis.aggregate.task import pairwise_matrix
from rnn_analysis.similarity import get_metric


def test_networks_a_metric_cannot_compare_get_nan_and_a_reason() -> None:
    rng = np.random.default_rng(3)
    reps: list = [rng.standard_normal((50, 4)) for _ in range(4)]
    reps[1] = None
    reps[2] = np.ones((50, 4))  # a dead network: no variance
    keys = [f"net{i}" for i in range(4)]
    messages: list[str] = []
    metric = get_metric("cka")
    matrix, reasons = pairwise_matrix(metric, reps, keys, "cpu", messages.append)
    assert reasons[0] == reasons[3] == ""
    assert reasons[1] == "missing"
    assert "zero variance" in reasons[2]
    assert any("net2" in m and "zero variance" in m for m in messages)
    for i in (1, 2):
        assert np.isnan(matrix[i]).all() and np.isnan(matrix[:, i]).all()
    expected = metric.pairwise([reps[0], reps[3]])
    np.testing.assert_array_equal(matrix[np.ix_([0, 3], [0, 3])], expected)


def test_a_network_with_other_probe_samples_is_left_out_with_its_shape() -> None:
    rng = np.random.default_rng(4)
    reps = [
        rng.standard_normal((50, 3)),
        rng.standard_normal((40, 3)),
        rng.standard_normal((50, 5)),
    ]
    matrix, reasons = pairwise_matrix(
        get_metric("cca"), reps, ["a/seed0", "b/seed1", "c/seed2"], "cpu", lambda _: None
    )
    assert reasons[0] == reasons[2] == ""
    assert "(40, 3)" in reasons[1]
    assert np.isnan(matrix[1]).all()
    assert 0 < matrix[0, 2] < 1


def test_unreadable_analysis_names_its_file(tmp_path) -> None:
    from rnn_analysis.aggregate.task import aggregate_task

    bad = tmp_path / "analysis.nc"
    bad.write_text("not netCDF")
    with pytest.raises(ValueError, match=r"analysis\.nc: cannot read the analysis dataset"):
        aggregate_task(
            "flipflop", {}, [bad], tmp_path / "s.nc", tmp_path / "m.nc", log=lambda _: None
        )
