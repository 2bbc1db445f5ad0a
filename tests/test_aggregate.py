"""The aggregate step's handling of unreadable analyses (networks a metric cannot compare:
test_tiles.py)."""

from __future__ import annotations

import pytest


def test_unreadable_analysis_names_its_file(tmp_path) -> None:
    from rnn_analysis.aggregate.task import aggregate_task

    bad = tmp_path / "analysis.nc"
    bad.write_text("not netCDF")
    with pytest.raises(ValueError, match=r"analysis\.nc: cannot read the analysis dataset"):
        aggregate_task(
            "flipflop", {}, [bad], tmp_path / "s.nc", tmp_path / "m.nc", log=lambda _: None
        )
