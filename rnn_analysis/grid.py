"""The grid of a sweep: cells, networks, extra hyperparameter axes and per-cell settings.

A cell is one combination of task, architecture, learning rule and input noise, plus the
values of the extra axes that apply to it; a network is a cell and a seed.

Extra axes (``grid.axes``) sweep any hyperparameter of a task, architecture or learning
rule, or of the stop criterion, named by its config path::

    grid:
      axes:
        architectures.*.hidden_size: [16, 32, 64]    # every architecture that has it
        learning_rules.bptt.learning_rate: [1.0e-3, 1.0e-2]
        tasks.cdi.n_contexts: [2, 3, 4]
        training.stopping.threshold: [0.9, 0.95]

An axis applies to the cells whose task, architecture or learning rule it names (``*``:
every one whose hyperparameters include the parameter); it multiplies those cells only.
Its name (the parameter's name) becomes a coordinate of every dataset along ``network``
and part of the network's folder: ``rdm/rate/bptt/noise0.1/learning_rate=0.001,
n_contexts=2/seed0`` -- only the axes that apply to the cell appear there, so adding an
axis that does not apply to a cell leaves that cell's folders as they were. Two axes
of one name may coexist when no cell has both (``learning_rules.bptt.learning_rate``
and ``learning_rules.hebbian.learning_rate`` share the coordinate ``learning_rate``).

Per-cell settings (``grid.settings``) set hyperparameters that depend on the cell,
applied in order after the sections and before the axes::

    grid:
      settings:
        - where: {learning_rule: [bptt, genetic]}
          set: {architectures.rate.activation: shifted_tanh}
        - where: {task: rdm}
          set: {learning_rules.genetic.population_size: 50}

``where`` names cell axes (task, architecture, learning_rule, noise, or an extra axis)
with one value or a list; ``set`` names config paths as the axes do. A setting and an
axis may not set the same hyperparameter of one cell.
"""

from __future__ import annotations

import itertools
import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, NamedTuple

from rnn_analysis.architectures import ARCHITECTURES
from rnn_analysis.errors import ConfigError
from rnn_analysis.tasks import TASKS
from rnn_analysis.training import LEARNING_RULES
from rnn_analysis.training.stopping import StoppingParams

#: Grid axes of a cell, in the order used in paths and dataset coordinates.
CELL_AXES = ("task", "architecture", "learning_rule", "noise")
#: Grid axes of a network.
NETWORK_AXES = (*CELL_AXES, "seed")
#: Config sections an extra axis or a setting can name, and the cell axis each follows.
SECTIONS = {"tasks": "task", "architectures": "architecture", "learning_rules": "learning_rule"}
#: Names an extra axis may not take: they are coordinates of every dataset already.
RESERVED_NAMES = frozenset({*NETWORK_AXES, "network", "network_key", "status", "solution_type"})
_PATH_SAFE = re.compile(r"^[A-Za-z0-9_.+-]+$")


def format_noise(noise: float) -> str:
    """Noise level as it appears in paths: ``0.1`` → ``"0.1"``, ``0`` → ``"0"``."""
    return f"{noise:g}"


def format_value(value: Any) -> str:
    """An axis value as it appears in folder names: numbers with ``%g``
    (``0.001``, ``1e-05``, ``64``), booleans as ``true``/``false``, strings as given."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return f"{value:g}"
    return str(value)


def axes_folder(axes: Sequence[tuple[str, Any]]) -> str:
    """The folder name of a cell's extra-axis values: ``"hidden_size=32,learning_rate=0.001"``."""
    return ",".join(f"{name}={format_value(value)}" for name, value in axes)


def _registries() -> dict[str, Any]:
    return {"tasks": TASKS, "architectures": ARCHITECTURES, "learning_rules": LEARNING_RULES}


class Cell(NamedTuple):
    """One cell of the grid: the four cell axes and the extra-axis values that apply to it
    (``(name, value)`` pairs in name order)."""

    task: str
    architecture: str
    learning_rule: str
    noise: float
    axes: tuple[tuple[str, Any], ...] = ()

    @property
    def key(self) -> str:
        """Relative path of the cell's folder (the networks' folders without ``/seed<n>``)."""
        noise = format_noise(self.noise)
        key = f"{self.task}/{self.architecture}/{self.learning_rule}/noise{noise}"
        return f"{key}/{axes_folder(self.axes)}" if self.axes else key

    def value(self, axis: str) -> Any:
        """The cell's value on a cell axis or an extra axis (None: the axis does not apply)."""
        if axis in CELL_AXES:
            return getattr(self, axis)
        return dict(self.axes).get(axis)


@dataclass(frozen=True, order=True)
class Network:
    """One network of the grid."""

    task: str
    architecture: str
    learning_rule: str
    noise: float
    seed: int
    axes: tuple[tuple[str, Any], ...] = ()

    @property
    def cell(self) -> Cell:
        return Cell(self.task, self.architecture, self.learning_rule, self.noise, self.axes)

    @property
    def key(self) -> str:
        """Relative path of the network's folder, also its label in datasets."""
        return f"{self.cell.key}/seed{self.seed}"

    def labels(self) -> dict[str, Any]:
        """The grid labels: the network axes, and ``axes`` (a mapping) where extra axes apply."""
        labels: dict[str, Any] = {axis: getattr(self, axis) for axis in NETWORK_AXES}
        if self.axes:
            labels["axes"] = dict(self.axes)
        return labels


def network_key(labels: Mapping[str, Any]) -> str:
    """The folder (and dataset label) of the network with grid ``labels``
    (:meth:`Network.labels`)."""
    axes = tuple(sorted((labels.get("axes") or {}).items()))
    return Network(*(labels[a] for a in NETWORK_AXES), axes=axes).key


@dataclass(frozen=True)
class ConfigPath:
    """A hyperparameter named by its config path, e.g. ``architectures.*.hidden_size``.

    ``section`` is ``tasks``, ``architectures``, ``learning_rules`` or ``training``;
    ``component`` a registered name, ``*`` or (for ``training``) ``stopping``.
    """

    path: str
    section: str
    component: str
    parameter: str

    @classmethod
    def parse(cls, path: Any, where: str) -> ConfigPath:
        if not isinstance(path, str):
            raise ConfigError(f"{where}: a hyperparameter path must be a string, got {path!r}")
        parts = path.split(".")
        if len(parts) != 3 or not all(parts):
            raise ConfigError(
                f"{where}: {path!r} is not a hyperparameter path; expected "
                "<section>.<name or *>.<parameter>, e.g. architectures.*.hidden_size, "
                "learning_rules.bptt.learning_rate or training.stopping.threshold"
            )
        section, component, parameter = parts
        if section == "training":
            if component != "stopping":
                raise ConfigError(
                    f"{where}: {path!r}: under training only training.stopping.<parameter> "
                    "can be swept"
                )
            if parameter not in StoppingParams.__dataclass_fields__:
                raise ConfigError(
                    f"{where}: {path!r}: unknown stop-criterion parameter {parameter!r}; "
                    f"known: {', '.join(sorted(StoppingParams.__dataclass_fields__))}"
                )
            return cls(path, section, component, parameter)
        registries = _registries()
        if section not in registries:
            raise ConfigError(
                f"{where}: {path!r}: unknown section {section!r}; known: "
                f"{', '.join([*registries, 'training'])}"
            )
        registry = registries[section]
        if component != "*" and component not in registry:
            raise ConfigError(
                f"{where}: {path!r}: unknown {registry.kind} {component!r}; "
                f"known: {', '.join(registry.names())} or *"
            )
        names = registry.names() if component == "*" else [component]
        if not any(parameter in registry[n].Params.__dataclass_fields__ for n in names):
            known = sorted({f for n in names for f in registry[n].Params.__dataclass_fields__})
            owner = (
                f"no {registry.kind} has"
                if component == "*"
                else f"{registry.kind} {component!r} has no"
            )
            raise ConfigError(
                f"{where}: {path!r}: {owner} parameter {parameter!r}; known: {', '.join(known)}"
            )
        return cls(path, section, component, parameter)

    def applies_to(self, cell: Cell) -> bool:
        """Whether the hyperparameter belongs to the cell's task, architecture or rule."""
        if self.section == "training":
            return True
        name = cell.value(SECTIONS[self.section])
        if self.component not in ("*", name):
            return False
        return self.parameter in _registries()[self.section][name].Params.__dataclass_fields__

    def target(self, cell: Cell) -> tuple[str, str]:
        """(section, component) the hyperparameter sets in ``cell``."""
        if self.section == "training":
            return ("training", "stopping")
        return (self.section, cell.value(SECTIONS[self.section]))


@dataclass(frozen=True)
class Axis:
    """An extra grid axis: a hyperparameter and the values it takes."""

    path: ConfigPath
    values: tuple[Any, ...]

    @property
    def name(self) -> str:
        return self.path.parameter


@dataclass(frozen=True)
class CellSetting:
    """Hyperparameters set in the cells that match ``where``."""

    where: Mapping[str, tuple[Any, ...]]
    values: Mapping[ConfigPath, Any]
    source: str

    def matches(self, cell: Cell) -> bool:
        return all(_same(cell.value(axis), allowed) for axis, allowed in self.where.items())


def _same(value: Any, allowed: Sequence[Any]) -> bool:
    if value is None:
        return False
    return format_value(value) in {format_value(v) for v in allowed}


def _axis_value(value: Any, where: str) -> Any:
    if isinstance(value, bool | int | str):
        text = format_value(value)
    elif isinstance(value, float):
        if not math.isfinite(value):
            raise ConfigError(f"{where}: {value!r} is not a finite number")
        text = format_value(value)
    else:
        raise ConfigError(
            f"{where}: {value!r} is not a number, string or boolean; an axis takes scalars"
        )
    if not _PATH_SAFE.match(text):
        raise ConfigError(
            f"{where}: {value!r} cannot name a folder; use letters, digits and _ . + - only"
        )
    return value


def parse_axes(raw: Any, where: str = "grid.axes") -> list[Axis]:
    """The extra axes of ``grid.axes`` (a mapping from path to a list of values)."""
    if raw is None:
        return []
    if not isinstance(raw, Mapping):
        raise ConfigError(f"{where}: expected a mapping from hyperparameter path to values")
    axes = []
    for path, values in raw.items():
        here = f"{where}.{path}"
        parsed = ConfigPath.parse(path, where)
        if parsed.parameter in RESERVED_NAMES:
            raise ConfigError(f"{here}: {parsed.parameter!r} is a reserved coordinate name")
        if not isinstance(values, list) or not values:
            raise ConfigError(f"{here}: expected a non-empty list of values, got {values!r}")
        checked = tuple(_axis_value(v, f"{here}[{i}]") for i, v in enumerate(values))
        texts = [format_value(v) for v in checked]
        if len(set(texts)) != len(texts):
            raise ConfigError(f"{here}: repeated values in {values!r}")
        axes.append(Axis(parsed, checked))
    return axes


def parse_settings(
    raw: Any, axis_names: set[str], where: str = "grid.settings"
) -> list[CellSetting]:
    """The per-cell settings of ``grid.settings``."""
    if raw is None:
        return []
    if not isinstance(raw, list):
        raise ConfigError(f"{where}: expected a list of {{where, set}} mappings, got {raw!r}")
    out = []
    known = (*CELL_AXES, *sorted(axis_names))
    for i, item in enumerate(raw):
        here = f"{where}[{i}]"
        if not isinstance(item, Mapping) or set(item) - {"where", "set"} or "set" not in item:
            raise ConfigError(f"{here}: expected a mapping with keys where and set, got {item!r}")
        match = item.get("where") or {}
        if not isinstance(match, Mapping):
            raise ConfigError(f"{here}.where: expected a mapping of grid axes, got {match!r}")
        where_values = {}
        for axis, value in match.items():
            if axis not in known:
                raise ConfigError(f"{here}.where: unknown axis {axis!r}; known: {', '.join(known)}")
            values = value if isinstance(value, list) else [value]
            if not values:
                raise ConfigError(f"{here}.where.{axis}: empty list of values")
            where_values[axis] = tuple(values)
        values = item["set"]
        if not isinstance(values, Mapping) or not values:
            raise ConfigError(f"{here}.set: expected a mapping from path to value, got {values!r}")
        settings = {ConfigPath.parse(p, f"{here}.set"): v for p, v in values.items()}
        out.append(CellSetting(where_values, settings, here))
    return out


def expand_axes(
    cells: Sequence[Cell], axes: Sequence[Axis], where: str = "grid.axes"
) -> list[Cell]:
    """Every cell multiplied by the extra axes that apply to it (values in config order)."""
    for axis in axes:
        if not any(axis.path.applies_to(c) for c in cells):
            raise ConfigError(
                f"{where}.{axis.path.path}: applies to no cell of the grid "
                f"(tasks {sorted({c.task for c in cells})}, architectures "
                f"{sorted({c.architecture for c in cells})}, learning rules "
                f"{sorted({c.learning_rule for c in cells})})"
            )
    out = []
    for cell in cells:
        applying = sorted((a for a in axes if a.path.applies_to(cell)), key=lambda a: a.name)
        names = [a.name for a in applying]
        for name in set(names):
            if names.count(name) > 1:
                paths = [a.path.path for a in applying if a.name == name]
                raise ConfigError(
                    f"{where}: {' and '.join(paths)} both apply to cell {cell.key} under the "
                    f"name {name!r}; sweep one of them"
                )
        for values in itertools.product(*(a.values for a in applying)):
            out.append(cell._replace(axes=tuple(zip(names, values, strict=True))))
    return out


def cell_overrides(
    cell: Cell, axes: Sequence[Axis], settings: Sequence[CellSetting]
) -> dict[tuple[str, str], dict[str, tuple[Any, str]]]:
    """What the settings and axes set in ``cell``: (section, component) → parameter →
    (value, the config key it came from)."""
    out: dict[tuple[str, str], dict[str, tuple[Any, str]]] = {}
    for setting in settings:
        if not setting.matches(cell):
            continue
        for path, value in setting.values.items():
            if path.applies_to(cell):
                out.setdefault(path.target(cell), {})[path.parameter] = (
                    value,
                    f"{setting.source}.set.{path.path}",
                )
    values = dict(cell.axes)
    for axis in axes:
        if not axis.path.applies_to(cell) or axis.name not in values:
            continue
        target = out.setdefault(axis.path.target(cell), {})
        if axis.path.parameter in target:
            raise ConfigError(
                f"{target[axis.path.parameter][1]} and grid.axes.{axis.path.path} both set "
                f"{axis.path.parameter} of cell {cell.key}"
            )
        target[axis.path.parameter] = (values[axis.name], f"grid.axes.{axis.path.path}")
    return out
