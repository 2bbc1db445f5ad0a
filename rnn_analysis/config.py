"""The sweep config: validation, the grid of networks, and each network's resolved spec.

``Sweep.from_config`` is called when the workflow starts (after the JSON-schema
check) and by every job; it raises :class:`ConfigError` naming the key and value of
anything a run cannot use, before any job starts.
"""

from __future__ import annotations

__all__ = [
    "CELL_AXES",
    "NETWORK_AXES",
    "AggregateParams",
    "Cell",
    "JobParams",
    "Network",
    "Sweep",
    "format_noise",
    "load_config",
    "network_key",
]

import dataclasses
import functools
import itertools
import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from rnn_analysis.aggregate.params import AggregateParams
from rnn_analysis.architectures import ARCHITECTURES
from rnn_analysis.errors import ConfigError
from rnn_analysis.grid import (
    CELL_AXES,
    NETWORK_AXES,
    Cell,
    Network,
    axes_folder,
    cell_overrides,
    expand_axes,
    format_noise,
    format_value,
    network_key,
    parse_axes,
    parse_settings,
)
from rnn_analysis.hyperparameters import Hyperparameters, from_mapping
from rnn_analysis.tasks import TASKS
from rnn_analysis.training import LEARNING_RULES
from rnn_analysis.training.stopping import StoppingParams, resolve_stopping


@dataclass(frozen=True)
class JobParams(Hyperparameters):
    """How the work is split into jobs and what each asks of the scheduler.

    Attributes
    ----------
    seeds_per_job : int, default 2
        Seeds of one grid cell trained together, as one ensemble, by one ``train`` job.
        Changing it regroups the jobs and so retrains.
    device : {"auto", "cpu", "cuda"}, default "auto"
        Where training runs; "auto" uses a GPU when the job has one.
    train_threads : int, default 1
    train_mem_mb : int, default 2000
    train_runtime : int, default 120
        Minutes.
    train_gpus : int, default 0
        GPUs requested per ``train`` job.
    analyze_threads : int, default 1
    analyze_mem_mb : int, default 2000
    analyze_runtime : int, default 60
    aggregate_threads : int, default 1
    aggregate_mem_mb : int, default 4000
    aggregate_runtime : int, default 60
    checkpoint_minutes : float, default 10
        Least minutes between two checkpoints of a ``train`` job (saved at validation
        points); a restarted job (``--retries``, ``--slurm-requeue``, a submitit requeue,
        a rerun) resumes from its last checkpoint. 0 keeps none. Not part of any
        network's spec: changing it retrains nothing.
    aggregate_gpus : int, default 0
        GPUs requested per ``aggregate`` and ``aggregate_tile`` job (their batched pair
        computations use one when ``aggregate.device`` is "auto" or "cuda").
    tile_threads : int, default 1
    tile_mem_mb : int, default 4000
    tile_runtime : int, default 120
        Requests of each ``aggregate_tile`` job (one pair of blocks of
        ``aggregate.tile_networks`` networks: it holds the two blocks' factorisations,
        about n_samples × n_units × 4 bytes per network) and ``aggregate_block`` job
        (prepares one block). With tiles, the ``aggregate`` job only merges them: it
        holds the task's distance matrices, 8 bytes × networks² per metric.
    """

    seeds_per_job: int = 2
    device: str = "auto"
    train_threads: int = 1
    train_mem_mb: int = 2000
    train_runtime: int = 120
    train_gpus: int = 0
    analyze_threads: int = 1
    analyze_mem_mb: int = 2000
    analyze_runtime: int = 60
    aggregate_threads: int = 1
    aggregate_mem_mb: int = 4000
    aggregate_runtime: int = 60
    aggregate_gpus: int = 0
    tile_threads: int = 1
    tile_mem_mb: int = 4000
    tile_runtime: int = 120
    checkpoint_minutes: float = 10.0

    def __post_init__(self) -> None:
        if self.seeds_per_job < 1:
            raise ValueError(f"seeds_per_job must be >= 1, got {self.seeds_per_job}")
        if self.device not in ("auto", "cpu", "cuda"):
            raise ValueError(f"device must be auto, cpu or cuda, got {self.device!r}")
        if self.checkpoint_minutes < 0:
            raise ValueError(f"checkpoint_minutes must be >= 0, got {self.checkpoint_minutes}")


def _require_list(value: Any, where: str) -> list:
    if not isinstance(value, list):
        raise ConfigError(f"{where}: expected a list, got {value!r}")
    if not value:
        raise ConfigError(f"{where}: the axis is empty; name at least one value")
    return value


def _check_names(values: list, registry, where: str) -> list[str]:
    for value in values:
        if value not in registry:
            raise ConfigError(
                f"{where}: unknown {registry.kind} {value!r}; known: {', '.join(registry.names())}"
            )
    if len(set(values)) != len(values):
        raise ConfigError(f"{where}: repeated values in {values!r}")
    return values


def _noises(values: list, where: str) -> list[float]:
    out = []
    for value in values:
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise ConfigError(f"{where}: {value!r} is not a number")
        if not math.isfinite(value) or value < 0:
            raise ConfigError(f"{where}: noise must be a finite number >= 0, got {value!r}")
        out.append(float(value))
    if len({format_noise(v) for v in out}) != len(out):
        raise ConfigError(f"{where}: repeated noise levels in {values!r}")
    return out


def _seeds(value: Any, where: str) -> list[int]:
    if isinstance(value, int) and not isinstance(value, bool):
        if value < 1:
            raise ConfigError(f"{where}: the number of seeds must be >= 1, got {value}")
        return list(range(value))
    values = _require_list(value, where)
    for v in values:
        if isinstance(v, bool) or not isinstance(v, int) or v < 0:
            raise ConfigError(f"{where}: seeds must be integers >= 0, got {v!r}")
    if len(set(values)) != len(values):
        raise ConfigError(f"{where}: repeated seeds in {values!r}")
    return sorted(values)


def _match(cell: Cell, pattern: Mapping[str, Any]) -> bool:
    for axis, value in pattern.items():
        mine = cell.value(axis)
        if mine is None:
            return False
        if axis == "noise":
            if format_noise(float(value)) != format_noise(mine):
                return False
        elif format_value(mine) != format_value(value):
            return False
    return True


def _cell_order(cell: Cell) -> tuple:
    return (*cell[:4], axes_folder(cell.axes))


class Sweep:
    """A validated sweep: the grid of networks and every network's resolved hyperparameters."""

    def __init__(self, config: Mapping[str, Any], source: str = "config") -> None:
        self.source = source
        self.raw = dict(config)
        try:
            self._load()
        except ConfigError as err:
            message = str(err)
            if not message.startswith(source):
                message = f"{source}: {message}"
            raise ConfigError(message) from None

    def _load(self) -> None:
        source = self.source
        known = {
            "grid",
            "results",
            "tasks",
            "architectures",
            "learning_rules",
            "training",
            "analysis",
            "aggregate",
            "jobs",
            "study",
        }
        unknown = sorted(set(self.raw) - known)
        if unknown:
            raise ConfigError(
                f"{source}: unknown top-level key(s) {', '.join(map(repr, unknown))}; "
                f"known: {', '.join(sorted(known))}"
            )
        if "grid" not in self.raw:
            raise ConfigError(f"{source}: the 'grid' section is missing")
        grid = self.raw["grid"]
        if not isinstance(grid, Mapping):
            raise ConfigError(f"{source}: grid must be a mapping, got {grid!r}")
        grid_keys = {
            "task",
            "architecture",
            "learning_rule",
            "noise",
            "seeds",
            "include",
            "exclude",
            "axes",
            "settings",
        }
        unknown = sorted(set(grid) - grid_keys)
        if unknown:
            raise ConfigError(
                f"{source}: unknown key(s) grid.{', grid.'.join(unknown)}; "
                f"known: {', '.join(sorted(grid_keys))}"
            )
        for key in ("task", "architecture", "learning_rule", "noise", "seeds"):
            if key not in grid:
                raise ConfigError(f"{source}: grid.{key} is missing")

        tasks = _check_names(_require_list(grid["task"], "grid.task"), TASKS, "grid.task")
        archs = _check_names(
            _require_list(grid["architecture"], "grid.architecture"),
            ARCHITECTURES,
            "grid.architecture",
        )
        rules = _check_names(
            _require_list(grid["learning_rule"], "grid.learning_rule"),
            LEARNING_RULES,
            "grid.learning_rule",
        )
        noises = _noises(_require_list(grid["noise"], "grid.noise"), "grid.noise")
        self.seeds = _seeds(grid["seeds"], "grid.seeds")
        self.axes = parse_axes(grid.get("axes"))
        self.axis_names = sorted({axis.name for axis in self.axes})
        self.settings = parse_settings(grid.get("settings"), set(self.axis_names))

        core = [Cell(*c) for c in itertools.product(tasks, archs, rules, noises)]
        cells = expand_axes(core, self.axes)
        for i, pattern in enumerate(grid.get("exclude") or []):
            self._check_pattern(pattern, f"grid.exclude[{i}]", partial=True)
            cells = [c for c in cells if not _match(c, pattern)]
        for i, extra in enumerate(grid.get("include") or []):
            where = f"grid.include[{i}]"
            self._check_pattern(extra, where, partial=False)
            added = Cell(
                extra["task"], extra["architecture"], extra["learning_rule"], float(extra["noise"])
            )
            for cell in expand_axes([added], [a for a in self.axes if a.path.applies_to(added)]):
                if cell not in cells:
                    cells.append(cell)
        if not cells:
            raise ConfigError(f"{source}: grid.exclude removes every cell of the grid")

        for cell in cells:
            rule = LEARNING_RULES[cell.learning_rule]
            if not rule.supports(cell.architecture):
                raise ConfigError(
                    f"{source}: learning rule {cell.learning_rule!r} cannot train "
                    f"architecture {cell.architecture!r} (grid.learning_rule × "
                    f"grid.architecture); it trains: {', '.join(rule.architectures or ())}. "
                    "Exclude the combination with grid.exclude."
                )

        self.cells = sorted(cells, key=_cell_order)
        self.networks = [
            Network(*cell[:4], seed, axes=cell.axes) for cell in self.cells for seed in self.seeds
        ]

        self.task_params = self._section("tasks", TASKS, {c[0] for c in self.cells})
        self.architecture_params = self._section(
            "architectures", ARCHITECTURES, {c[1] for c in self.cells}
        )
        self.rule_params = self._section(
            "learning_rules", LEARNING_RULES, {c[2] for c in self.cells}
        )
        training = self.raw.get("training") or {}
        if not isinstance(training, Mapping):
            raise ConfigError(f"{source}: training must be a mapping, got {training!r}")
        unknown = sorted(set(training) - {"stopping", "stopping_by_task"})
        if unknown:
            raise ConfigError(
                f"{source}: unknown key(s) under training: {', '.join(unknown)}; "
                "known: stopping, stopping_by_task"
            )
        self.stopping = self._stopping(training, {c[0] for c in self.cells})
        self.jobs = from_mapping(JobParams, self.raw.get("jobs"), "jobs")
        self.aggregate = from_mapping(AggregateParams, self.raw.get("aggregate"), "aggregate")
        self.aggregate = self._factors(self.aggregate)
        for cell in self.cells:
            self._resolved(cell)
        from rnn_analysis.similarity import METRICS

        _check_names(list(self.aggregate.metrics), METRICS, "aggregate.metrics")
        for name in self.aggregate.metrics:
            try:
                self.aggregate.metric(name)
            except (TypeError, ValueError) as err:
                raise ConfigError(f"{source}: aggregate.metric_options.{name}: {err}") from err
        from rnn_analysis.analysis.params import AnalysisParams

        self.analysis = from_mapping(AnalysisParams, self.raw.get("analysis"), "analysis")
        results = self.raw.get("results", "results")
        if not isinstance(results, str) or not results:
            raise ConfigError(f"{source}: results must be a folder path, got {results!r}")
        self.results = results
        self.study = self.raw.get("study")
        if self.study is not None:
            from rnn_analysis.reproduce import STUDIES

            if self.study not in STUDIES:
                raise ConfigError(
                    f"{source}: study: unknown study {self.study!r}; "
                    f"known: {', '.join(STUDIES.names())}"
                )

    def _check_pattern(self, pattern: Any, where: str, partial: bool) -> None:
        if not isinstance(pattern, Mapping) or not pattern:
            raise ConfigError(f"{where}: expected a mapping of grid axes, got {pattern!r}")
        known = (*CELL_AXES, *(self.axis_names if partial else ()))
        unknown = sorted(set(pattern) - set(known))
        if unknown:
            raise ConfigError(
                f"{where}: unknown axis {', '.join(map(repr, unknown))}; known: {', '.join(known)}"
            )
        if not partial:
            missing = sorted(set(CELL_AXES) - set(pattern))
            if missing:
                raise ConfigError(f"{where}: an included cell must name {', '.join(missing)}")
        registries = {"task": TASKS, "architecture": ARCHITECTURES, "learning_rule": LEARNING_RULES}
        for axis, value in pattern.items():
            if axis == "noise":
                _noises([value], f"{where}.noise")
            elif axis in registries:
                _check_names([value], registries[axis], f"{where}.{axis}")

    def _stopping(
        self, training: Mapping[str, Any], used: Iterable[str]
    ) -> dict[str, StoppingParams]:
        """The stop criterion of every task in use: the task's own defaults, overridden by
        ``training.stopping``, then by ``training.stopping_by_task.<task>``."""
        shared = training.get("stopping") or {}
        by_task = training.get("stopping_by_task") or {}
        for key, value in (("training.stopping", shared), ("training.stopping_by_task", by_task)):
            if not isinstance(value, Mapping):
                raise ConfigError(f"{key}: expected a mapping, got {value!r}")
        for name, values in by_task.items():
            if name not in TASKS:
                raise ConfigError(
                    f"training.stopping_by_task.{name}: unknown task {name!r}; "
                    f"known: {', '.join(TASKS.names())}"
                )
            if not isinstance(values, Mapping):
                raise ConfigError(
                    f"training.stopping_by_task.{name}: expected a mapping, got {values!r}"
                )
        from_mapping(StoppingParams, shared, "training.stopping")
        out = {}
        for name in sorted(set(used) | set(by_task)):
            where = f"training.stopping_by_task.{name}" if name in by_task else "training.stopping"
            out[name] = resolve_stopping(
                TASKS[name].stopping_defaults, shared, by_task.get(name), where
            )
        return out

    def _section(self, key: str, registry, used: Iterable[str]) -> dict[str, Hyperparameters]:
        section = self.raw.get(key) or {}
        if not isinstance(section, Mapping):
            raise ConfigError(f"{self.source}: {key} must be a mapping, got {section!r}")
        for name in section:
            if name not in registry:
                raise ConfigError(
                    f"{key}.{name}: unknown {registry.kind} {name!r}; "
                    f"known: {', '.join(registry.names())}"
                )
        return {
            name: from_mapping(registry[name].Params, section.get(name), f"{key}.{name}")
            for name in registry.names()
            if name in section or name in used
        }

    # -- what jobs need -------------------------------------------------------
    def networks_of_task(self, task: str) -> list[Network]:
        return [n for n in self.networks if n.task == task]

    @property
    def tasks(self) -> list[str]:
        return sorted({c[0] for c in self.cells})

    def seed_groups(self) -> list[tuple[int, ...]]:
        """Seeds trained together by one job."""
        k = self.jobs.seeds_per_job
        return [tuple(self.seeds[i : i + k]) for i in range(0, len(self.seeds), k)]

    def _factors(self, params: AggregateParams) -> AggregateParams:
        """The factor summary's factors: validated names; the extra axes join the default."""
        given = "factors" in (self.raw.get("aggregate") or {})
        factors = list(params.factors) if given else [*params.factors, *self.axis_names]
        known = (*NETWORK_AXES[1:], *self.axis_names)
        for factor in factors:
            if factor not in known:
                raise ConfigError(
                    f"aggregate.factors: {factor!r} is not a grid axis ({', '.join(known)})"
                )
        return dataclasses.replace(params, factors=tuple(factors))

    @functools.cache  # noqa: B019 -- one Sweep per run, cells are few
    def _resolved(self, cell: Cell) -> dict[str, dict[str, Any]]:
        """The hyperparameters of one cell: the sections, then the per-cell settings, then
        the extra axes; a bad value raises :class:`ConfigError` naming where it came from."""
        overrides = cell_overrides(cell, self.axes, self.settings)
        out: dict[str, dict[str, Any]] = {}
        for section, name, registry, base in (
            ("tasks", cell.task, TASKS, self.task_params),
            ("architectures", cell.architecture, ARCHITECTURES, self.architecture_params),
            ("learning_rules", cell.learning_rule, LEARNING_RULES, self.rule_params),
        ):
            changes = overrides.get((section, name))
            if not changes:
                out[section] = base[name].to_dict()
                continue
            values = dict((self.raw.get(section) or {}).get(name) or {})
            for parameter, (value, where) in changes.items():
                values[parameter] = value
                try:
                    params = from_mapping(registry[name].Params, values, f"{section}.{name}")
                except ConfigError as err:
                    raise ConfigError(f"{where} = {value!r} (cell {cell.key}): {err}") from None
            out[section] = params.to_dict()
        changes = overrides.get(("training", "stopping"))
        if not changes:
            out["stopping"] = self.stopping[cell.task].to_dict()
        else:
            training = self.raw.get("training") or {}
            by_task = dict((training.get("stopping_by_task") or {}).get(cell.task) or {})
            for parameter, (value, where) in changes.items():
                by_task[parameter] = value
                try:
                    stopping = resolve_stopping(
                        TASKS[cell.task].stopping_defaults,
                        training.get("stopping") or {},
                        by_task,
                        f"training.stopping_by_task.{cell.task}",
                    )
                except ConfigError as err:
                    raise ConfigError(f"{where} = {value!r} (cell {cell.key}): {err}") from None
            out["stopping"] = stopping.to_dict()
        return out

    def training_spec(self, network: Network) -> dict[str, Any]:
        """Everything that determines a trained network; changing any of it retrains it."""
        resolved = self._resolved(network.cell)
        return {
            "network": network.labels(),
            "task": resolved["tasks"],
            "architecture": resolved["architectures"],
            "learning_rule": resolved["learning_rules"],
            "stopping": resolved["stopping"],
        }

    def analysis_spec(self, network: Network) -> dict[str, Any]:
        """Everything that determines a network's analysis besides its weights."""
        return {
            "network": network.labels(),
            "task": self._resolved(network.cell)["tasks"],
            "analysis": self.analysis.to_dict(),
        }


def load_config(path: str | Path) -> Sweep:
    """Read and validate a config file."""
    path = Path(path)
    try:
        with path.open() as fh:
            raw = yaml.safe_load(fh)
    except FileNotFoundError:
        raise ConfigError(f"config file {path} does not exist") from None
    except yaml.YAMLError as err:
        raise ConfigError(f"{path}: not valid YAML: {err}") from err
    if not isinstance(raw, Mapping):
        raise ConfigError(f"{path}: expected a mapping at the top level")
    return Sweep(raw, source=str(path))
