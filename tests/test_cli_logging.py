"""The set-up every job runs under (``run_logged``): its log file, its thread limits, and
the record of a failure."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from threadpoolctl import threadpool_info

from rnn_analysis.cli import run_logged


def blas_threads() -> list[int]:
    return [i["num_threads"] for i in threadpool_info() if i["user_api"] == "blas"]


def test_torch_and_blas_are_limited_to_the_job_threads(tmp_path: Path) -> None:
    np.linalg.eigvals(np.eye(4))  # BLAS loaded
    before = torch.get_num_threads()
    with run_logged(tmp_path / "job.log", threads=1) as log:
        assert torch.get_num_threads() == 1
        assert blas_threads() and set(blas_threads()) == {1}
        log("inside")
    torch.set_num_threads(before)
    assert "inside" in (tmp_path / "job.log").read_text()


def test_a_failure_is_written_to_the_log(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="bad value"):
        with run_logged(tmp_path / "job.log") as _:
            raise ValueError("bad value")
    text = (tmp_path / "job.log").read_text()
    assert "failed" in text and "ValueError: bad value" in text
