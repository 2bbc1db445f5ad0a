"""Training jobs for submitit: the same jobs, files and logs as the workflow's train rule."""

from __future__ import annotations

from pathlib import Path

from rnn_analysis.cli import main
from rnn_analysis.config import load_config
from rnn_analysis.launch import launch_training, training_jobs, wait_for

from .conftest import write_config

ONE_CELL = {
    "grid": {"architecture": ["vanilla"], "noise": [0.0], "seeds": 3},
    "learning_rules": {"bptt": {"max_iterations": 20}},
    "jobs": {"seeds_per_job": 2},
}


def test_jobs_follow_the_seed_groups_and_the_workflow_paths(tmp_path: Path) -> None:
    sweep = load_config(write_config(tmp_path, ONE_CELL))
    jobs = training_jobs(sweep, tmp_path)
    assert [len(job.specs) for job in jobs] == [2, 1]
    assert jobs[0].folders == tuple(
        str(tmp_path / "results" / "networks" / f"flipflop/vanilla/bptt/noise0/seed{s}")
        for s in (0, 1)
    )
    assert jobs[1].log_file == str(
        tmp_path / "results" / "logs" / "train" / "flipflop/vanilla/bptt/noise0/seeds2-2.log"
    )
    assert jobs[0].specs[1] == sweep.training_spec(sweep.networks[1])
    assert jobs[0].name == "flipflop/vanilla/bptt/noise0/seeds0-1"


def test_debug_executor_trains_and_finished_jobs_are_skipped(tmp_path: Path, capsys) -> None:
    config = write_config(tmp_path, ONE_CELL)
    sweep = load_config(config)
    submitted = launch_training(sweep, tmp_path / "submitit", workdir=tmp_path, cluster="debug")
    assert len(submitted) == 2
    statuses = wait_for(submitted, log=lambda _: None)
    assert [len(s) for s in statuses] == [2, 1]
    assert all(job.done() for job in training_jobs(sweep, tmp_path))
    assert "training 2 network(s)" in Path(training_jobs(sweep, tmp_path)[0].log_file).read_text()
    assert launch_training(sweep, tmp_path / "submitit", workdir=tmp_path, cluster="debug") == []
    capsys.readouterr()
    assert main(["launch-training", str(config), "--workdir", str(tmp_path), "--dry-run"]) == 0
    out = capsys.readouterr().out
    assert "done  flipflop/vanilla/bptt/noise0/seeds0-1" in out
    assert "0 of 2 training jobs to submit" in out


def test_bad_config_is_refused(tmp_path: Path, capsys) -> None:
    bad = write_config(tmp_path, {"grid": {"noise": [-1.0]}})
    assert main(["launch-training", str(bad), "--dry-run"]) == 2
    assert "grid.noise" in capsys.readouterr().err


def test_requeue_hook_resubmits_the_job_and_stops_recording_failures(tmp_path: Path) -> None:
    """On preemption submitit calls ``checkpoint``: the same job is resubmitted, and an
    error raised from then on ends the job rather than marking its networks failed."""
    from rnn_analysis.launch import TrainingTask
    from rnn_analysis.training import run

    (job,) = training_jobs(
        load_config(
            write_config(
                tmp_path,
                ONE_CELL | {"grid": {"architecture": ["vanilla"], "noise": [0.0], "seeds": 1}},
            )
        ),
        tmp_path,
    )
    try:
        delayed = TrainingTask().checkpoint(job, 1)
        assert delayed.args == (job, 1) and isinstance(delayed.function, TrainingTask)
        assert run.PREEMPTED.is_set()

        def interrupted(self, model, context):
            raise RuntimeError("scontrol requeue failed")

        import pytest

        from rnn_analysis.training.bptt import BPTT

        with pytest.MonkeyPatch.context() as patch:
            patch.setattr(BPTT, "train", interrupted)
            with pytest.raises(RuntimeError, match="scontrol"):
                run.train_ensemble(list(job.specs), list(job.folders), device="cpu", log=print)
        assert not job.done()
    finally:
        run.PREEMPTED.clear()
