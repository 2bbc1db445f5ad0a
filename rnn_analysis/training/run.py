"""A ``train`` job: several seeds of one grid cell trained as one ensemble, saved per network."""

from __future__ import annotations

import threading
import time
import traceback
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

import torch
import xarray as xr

from rnn_analysis import seeding
from rnn_analysis.architectures import ARCHITECTURES, Architecture
from rnn_analysis.errors import ConfigError
from rnn_analysis.hyperparameters import from_mapping
from rnn_analysis.io import (
    CURVE_FILE,
    META_FILE,
    MODEL_FILE,
    provenance,
    save_model,
    write_json,
    write_netcdf,
)
from rnn_analysis.tasks import TASKS
from rnn_analysis.training.checkpoint import Checkpointer
from rnn_analysis.training.rule import (
    FAILED,
    LEARNING_RULES,
    LearningRule,
    NetworkResult,
    TrainingContext,
)
from rnn_analysis.training.stopping import StopCriterion, resolve_stopping
from rnn_analysis.training.trials import validate


def pick_device(device: str) -> torch.device:
    """``auto`` → the GPU when one is visible, else the CPU."""
    if device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if device == "cuda" and not torch.cuda.is_available():
        raise RuntimeError("device 'cuda' was requested but no GPU is visible to this job")
    return torch.device(device)


#: Set when the job is being preempted or timed out (by a requeue hook such as
#: :meth:`rnn_analysis.launch.TrainingTask.checkpoint`): an error raised from then on
#: (e.g. by the scheduler's signal handler) ends the job instead of being recorded as
#: a failed training, so that the requeued job resumes from its checkpoint.
PREEMPTED = threading.Event()


def checkpoint_path(specs: Sequence[Mapping[str, Any]], folders: Sequence[str | Path]) -> Path:
    """Where a training job keeps its checkpoint: next to its networks' seed folders."""
    seeds = [int(spec["network"]["seed"]) for spec in specs]
    return Path(folders[0]).parent / f"checkpoint_seeds{seeds[0]}-{seeds[-1]}.pt"


def build_ensemble(
    specs: Sequence[Mapping[str, Any]],
    device: str = "auto",
    log: Callable[[str], None] = print,
) -> tuple[LearningRule, Architecture, TrainingContext]:
    """The rule, the untrained ensemble and the training context of ``specs``.

    The networks must belong to one grid cell and share every hyperparameter; each
    seed's network is initialised from its own ``init`` stream and gets its own trial,
    validation and rule streams, exactly as :func:`train_ensemble` trains them.
    """
    first = dict(specs[0])
    for spec in specs[1:]:
        for key in ("task", "architecture", "learning_rule", "stopping"):
            if spec[key] != first[key]:
                raise ValueError(f"networks trained together must share {key!r}")
        if {k: v for k, v in spec["network"].items() if k != "seed"} != {
            k: v for k, v in first["network"].items() if k != "seed"
        }:
            raise ValueError("networks trained together must belong to one grid cell")

    labels = first["network"]
    task_cls = TASKS[labels["task"]]
    arch_cls = ARCHITECTURES[labels["architecture"]]
    rule_cls = LEARNING_RULES[labels["learning_rule"]]
    if not rule_cls.supports(labels["architecture"]):
        raise ConfigError(
            f"learning rule {labels['learning_rule']!r} cannot train {labels['architecture']!r}"
        )
    task = task_cls(from_mapping(task_cls.Params, first["task"], "tasks"))
    arch_params = from_mapping(arch_cls.Params, first["architecture"], "architectures")
    rule = rule_cls(from_mapping(rule_cls.Params, first["learning_rule"], "learning_rules"))
    stopping = resolve_stopping(
        task_cls.stopping_defaults, first["stopping"], None, "training.stopping"
    )
    seeds = [int(s["network"]["seed"]) for s in specs]
    model = arch_cls(
        task.n_inputs,
        task.n_outputs,
        arch_params,
        [seeding.generator(s, "init") for s in seeds],
    )
    context = TrainingContext(
        task=task,
        noise=float(labels["noise"]),
        stopping=stopping,
        trial_generators=[seeding.generator(s, "trials") for s in seeds],
        validation_generators=[seeding.generator(s, "validation") for s in seeds],
        rule_generators=[seeding.generator(s, "rule") for s in seeds],
        device=pick_device(device),
        log=log,
    )
    return rule, model, context


def untrained_validation(
    specs: Sequence[Mapping[str, Any]], device: str = "auto"
) -> list[dict[str, Any]]:
    """Validate each network of ``specs`` as initialised, before any update.

    Uses the same initialisation, validation set and stop criterion as training, so a
    network that meets the criterion here ends its training ``trivial``. (FORCE trains
    from zero recurrent and readout weights, not from this initialisation.) Returns per
    network its ``score``, ``loss`` and whether it ``meets_criterion``.
    """
    rule, model, context = build_ensemble(specs, device, log=lambda _: None)
    model.to(context.device)
    result = validate(model, context.task, context.validation_batch())
    criterion = StopCriterion(len(specs), context.threshold, context.stopping)
    return [
        {
            "score": float(score),
            "loss": float(loss),
            "meets_criterion": criterion.untrained(float(score), float(loss)),
        }
        for score, loss in zip(result.scores, result.losses, strict=True)
    ]


def train_ensemble(
    specs: Sequence[Mapping[str, Any]],
    folders: Sequence[str | Path],
    device: str = "auto",
    log: Callable[[str], None] = print,
    checkpoint_minutes: float = 0.0,
) -> list[str]:
    """Train the networks ``specs`` (one grid cell, several seeds) together.

    Each spec is :meth:`rnn_analysis.config.Sweep.training_spec` of one network. Writes
    ``model.pt``, ``training.nc`` and ``meta.json`` into each network's folder and
    returns the statuses. An error during training is recorded as status ``failed``
    (with the initial weights and the error as reason) rather than raised, so that the
    sweep and its aggregates go on; the traceback is logged.

    With ``checkpoint_minutes`` > 0, a rule that supports it saves a checkpoint
    (:func:`checkpoint_path`) at validation points at most that often, and a job that
    finds a checkpoint of the same specs resumes from it (see
    :mod:`rnn_analysis.training.checkpoint`); the checkpoint is removed at the end.
    """
    if len(specs) != len(folders) or not specs:
        raise ValueError("give one folder per spec, and at least one spec")
    rule, model, context = build_ensemble(specs, device, log)
    labels = specs[0]["network"]
    seeds = [int(s["network"]["seed"]) for s in specs]
    torch_device = context.device
    if checkpoint_minutes > 0:
        if rule.checkpoints:
            context.checkpoint = Checkpointer(
                checkpoint_path(specs, folders), specs, 60.0 * checkpoint_minutes, log
            )
        else:
            log(
                f"learning rule {labels['learning_rule']!r} keeps no checkpoints; "
                "a restarted job starts over"
            )
    log(
        f"training {len(seeds)} network(s) of {labels['task']} × {labels['architecture']} × "
        f"{labels['learning_rule']} × noise {labels['noise']} (seeds {seeds}) on {torch_device}"
    )
    start = time.perf_counter()
    try:
        results = rule.train(model, context)
    except Exception as err:  # recorded per network; the rest of the sweep goes on
        if PREEMPTED.is_set():
            raise
        log(f"training failed:\n{traceback.format_exc()}")
        reason = f"{type(err).__name__}: {err}"
        results = [
            NetworkResult(FAILED, 0, xr.Dataset(coords={"iteration": [], "validation": []}), reason)
            for _ in seeds
        ]
    wall = time.perf_counter() - start

    statuses = []
    for i, (spec, folder, result) in enumerate(zip(specs, folders, results, strict=True)):
        folder = Path(folder)
        folder.mkdir(parents=True, exist_ok=True)
        save_model(folder / MODEL_FILE, model, i, spec)
        curve = result.curve.assign_attrs(
            status=result.status, iterations=result.iterations, reason=result.reason
        )
        write_netcdf(curve, folder / CURVE_FILE)
        meta = {
            "network": spec["network"],
            "status": result.status,
            "reason": result.reason,
            "iterations": result.iterations,
            "wall_time_s": wall,
            "ensemble_size": len(specs),
            "device": str(torch_device),
            "final_validation_score": (
                float(curve.validation_score[-1]) if curve.sizes.get("validation") else None
            ),
            "spec": spec,
            "versions": provenance(),
            **result.extra,
        }
        write_json(folder / META_FILE, meta)
        statuses.append(result.status)
        log(f"{folder}: {result.status} after {result.iterations} iterations ({result.reason})")
    if context.checkpoint is not None:
        context.checkpoint.remove()
    return statuses
