"""The pairwise comparison of a task in tiles.

A task's networks, in grid order, fall into blocks of ``aggregate.tile_networks``.
Each network's representations are read, checked and prepared once, into its block
(:class:`BlockBuilder`): the geometry metrics (CCA, SVCCA, CKA, Procrustes) share one
factorisation of the centred probe activity
(:func:`~rnn_analysis.similarity.factorisation.factorise`), every other metric keeps
what its :meth:`~rnn_analysis.similarity.SimilarityMetric.prepare` returns (e.g. DSA's
fitted operator). Comparing two blocks (:func:`compare_blocks`) gives one tile of every
metric's matrix: the geometry metrics from one cross product per pair
(:func:`~rnn_analysis.similarity.geometry_pass.geometry_distances`), the others through
:meth:`~rnn_analysis.similarity.SimilarityMetric.cross`. :func:`assemble` puts the tiles
of all block pairs (row block ≤ column block) together into the full matrices.

Networks a metric cannot compare get NaN rows and a reason: no input for the metric,
a representation that fails the metric's checks or preparation, or one that does not
match the task's reference (the first network the metric can compare, e.g. another
number of probe samples). Within a block every network is checked against the block's
reference; a tile checks the references of its two blocks against each other, and a
block whose reference does not match the task's is left out whole.

A workflow with several blocks writes two files per block, pickles read only by the
same version of this package: the prepared networks (``block{i}.pkl``, read by the
tiles) and the block's summary rows (``rows{i}.pkl``, read by the merge, which so never
reads the analyses), and one netCDF file per tile; with one block the ``aggregate`` job
does it all in memory.
"""

from __future__ import annotations

import pickle
import re
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import xarray as xr

from rnn_analysis.aggregate.blocks import block_pairs
from rnn_analysis.aggregate.params import AggregateParams
from rnn_analysis.aggregate.summary import SummaryRows, read_rows
from rnn_analysis.io import write_netcdf
from rnn_analysis.similarity import MissingRepresentation, SimilarityMetric
from rnn_analysis.similarity.base import PairProgress
from rnn_analysis.similarity.factorisation import factorise
from rnn_analysis.similarity.geometry_pass import geometry_distances, supports_factors
from rnn_analysis.training.progress import format_seconds

#: Version of the block-file layout; a block file of another version is not read.
BLOCK_FORMAT = 1


@dataclass
class MetricBlock:
    """One metric's prepared items of a block of networks.

    Attributes
    ----------
    items
        Per compared network of the block, what the metric compares (prepared), or
        ``None`` where it cannot compare the network.
    reasons
        Per compared network, why the metric cannot compare it ("" where it can).
    reference
        The checked representation of the block's first network the metric can
        compare (``None`` if there is none); the other networks of the block were
        checked against it.
    reference_key
        That network's key.
    """

    items: list[Any] = field(default_factory=list)
    reasons: list[str] = field(default_factory=list)
    reference: Any = None
    reference_key: str = ""


@dataclass
class PreparedBlock:
    """A block of networks of one task, read and prepared for every metric.

    Attributes
    ----------
    task
        The task.
    index
        The block's position in the task (0-based).
    keys
        The keys of the block's networks that enter the comparisons, in grid order.
    metrics
        Per metric name, its :class:`MetricBlock`.
    metric_attrs
        Per metric name, its netCDF attributes (name and hyperparameters), to check
        that the blocks of a tile were prepared alike.
    """

    task: str
    index: int
    keys: list[str] = field(default_factory=list)
    metrics: dict[str, MetricBlock] = field(default_factory=dict)
    metric_attrs: dict[str, dict[str, Any]] = field(default_factory=dict)

    def write(self, path: str | Path) -> None:
        """Pickle the block to ``path`` atomically."""
        _write_pickle(self, path)

    @classmethod
    def read(cls, path: str | Path) -> PreparedBlock:
        """A block written by :meth:`write`; errors name the file."""
        return _read_pickle(cls, path, "prepared block")


def _write_pickle(obj: Any, path: str | Path) -> None:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(path.suffix + ".tmp")
    with open(tmp, "wb") as fh:
        pickle.dump((BLOCK_FORMAT, obj), fh, protocol=pickle.HIGHEST_PROTOCOL)
    tmp.replace(path)


def _read_pickle(cls: type, path: str | Path, what: str) -> Any:
    try:
        with open(path, "rb") as fh:
            version, obj = pickle.load(fh)
    except (
        OSError,
        pickle.UnpicklingError,
        EOFError,
        AttributeError,
        TypeError,
        ValueError,
    ) as err:
        raise ValueError(f"{path}: cannot read the {what}: {err}") from err
    if version != BLOCK_FORMAT or not isinstance(obj, cls):
        raise ValueError(
            f"{path}: not a {what} of format {BLOCK_FORMAT}; delete it to prepare it again"
        )
    return obj


def read_block_rows(path: str | Path) -> SummaryRows:
    """The summary rows of a block's networks written by :func:`prepare_block`."""
    return _read_pickle(SummaryRows, path, "summary rows of a block")


def _message(err: ValueError, index: int, reference_key: str) -> str:
    """A check's error without its ``network <index>:`` prefix, naming the reference."""
    text = re.sub(rf"^network {index}: ", "", str(err))
    return re.sub(r"\bnetwork 0\b", f"network {reference_key}", text) if index else text


class BlockBuilder:
    """Reads networks one at a time into a :class:`PreparedBlock`.

    Parameters
    ----------
    task
        The task.
    index
        The block's position in the task.
    params
        The aggregate options (metrics, their hyperparameters, ``factor_dtype``).
    log
        Where messages about networks left out go.
    """

    def __init__(
        self,
        task: str,
        index: int,
        params: AggregateParams,
        log: Callable[[str], None] = print,
    ) -> None:
        self.params = params
        self.log = log
        self.instances: dict[str, SimilarityMetric[Any]] = {
            name: params.metric(name) for name in params.metrics
        }
        self.block = PreparedBlock(
            task,
            index,
            metrics={name: MetricBlock() for name in self.instances},
            metric_attrs={name: m.attrs() for name, m in self.instances.items()},
        )
        self.missing: dict[str, int] = dict.fromkeys(self.instances, 0)

    def add(self, key: str, ds: xr.Dataset) -> None:
        """Read, check and prepare network ``key``'s analysis dataset for every metric."""
        self.block.keys.append(key)
        factorised: tuple[np.ndarray, Any] | None = None
        for name, metric in self.instances.items():
            entry = self.block.metrics[name]
            item, reason = None, ""
            try:
                rep = metric.representation(ds)
            except MissingRepresentation as err:
                reason = str(err)
                self.missing[name] += 1
            else:
                try:
                    if entry.reference is None:
                        checked = metric.validate([rep])[0]
                    else:
                        checked = metric.validate([entry.reference, rep])[1]
                    if supports_factors(metric):
                        if factorised is None or not np.array_equal(factorised[0], checked):
                            factorised = (checked, factorise(checked, self.params.factor_dtype))
                        item = factorised[1]
                    else:
                        item = metric.prepare(checked)
                except ValueError as err:
                    index = 0 if entry.reference is None else 1
                    reason = _message(err, index, entry.reference_key)
                    self.log(f"{metric.name}: leaving out {key}: {reason}")
                else:
                    if entry.reference is None:
                        entry.reference, entry.reference_key = checked, key
            entry.items.append(item)
            entry.reasons.append(reason)


def prepare_block(
    task: str,
    options: Mapping[str, Any] | AggregateParams,
    analyses: Sequence[str | Path],
    index: int,
    out: str | Path | None = None,
    rows_out: str | Path | None = None,
    log: Callable[[str], None] = print,
) -> tuple[PreparedBlock, SummaryRows]:
    """Read the analyses of one block of ``task``'s networks: their summary rows, and
    the networks that enter the comparisons (see
    :func:`~rnn_analysis.aggregate.summary.in_similarity`) prepared for every metric.

    Writes the prepared block to ``out`` (read by the tiles) and the rows to
    ``rows_out`` (read by the merge) when given.
    """
    params = _params(options)
    builder = BlockBuilder(task, index, params, log)
    start = time.perf_counter()
    rows = read_rows(analyses, task, params, builder.add)
    block = builder.block
    log(
        f"{task}: block {index}: {len(block.keys)} of {len(analyses)} networks prepared in "
        f"{format_seconds(time.perf_counter() - start)}"
    )
    if out is not None:
        block.write(out)
    if rows_out is not None:
        _write_pickle(rows, rows_out)
    return block, rows


def _params(options: Mapping[str, Any] | AggregateParams) -> AggregateParams:
    if isinstance(options, AggregateParams):
        return options
    from rnn_analysis.hyperparameters import from_mapping

    return from_mapping(AggregateParams, options, "aggregate")


def _check_alike(a: PreparedBlock, b: PreparedBlock, attrs: Mapping[str, Any]) -> None:
    for block in (a, b):
        if block.task != a.task:
            raise ValueError(f"blocks of tasks {a.task!r} and {block.task!r} in one tile")
        for name, expected in attrs.items():
            if block.metric_attrs.get(name) != expected:
                raise ValueError(
                    f"block {block.index} of {block.task} was prepared with other options "
                    f"for {name} ({block.metric_attrs.get(name)} instead of {expected}); "
                    "delete its block file to prepare it again"
                )


def compare_blocks(
    a: PreparedBlock,
    b: PreparedBlock | None,
    options: Mapping[str, Any] | AggregateParams,
    *,
    threads: int | None = None,
    log: Callable[[str], None] = print,
) -> xr.Dataset:
    """One tile: every metric's distances between the networks of blocks ``a`` and ``b``.

    Parameters
    ----------
    a, b
        The row and column blocks; ``b`` ``None`` compares ``a`` with itself.
    options
        The aggregate options (metrics, hyperparameters, device).
    threads
        Threads for the small decompositions of the geometry metrics (default: torch's).
    log
        Where progress lines go.

    Returns
    -------
    xr.Dataset
        One (network, network_b) variable per metric (NaN where a metric cannot compare
        a network); ``not_compared`` (metric, network): why, for the row block;
        ``mismatch`` (metric): "" or why the two blocks' references do not match.
    """
    params = _params(options)
    metrics = {name: params.metric(name) for name in params.metrics}
    attrs = {name: m.attrs() for name, m in metrics.items()}
    col = a if b is None else b
    _check_alike(a, col, attrs)
    label = f"{a.task}: tile {a.index}-{col.index}"
    n_a, n_b = len(a.keys), len(col.keys)
    ds = xr.Dataset(
        coords={
            "network": ("network", np.array(a.keys, dtype=str)),
            "network_b": ("network_b", np.array(col.keys, dtype=str)),
            "metric": ("metric", list(metrics)),
        },
        attrs={"task": a.task, "row_block": a.index, "column_block": col.index},
    )
    mismatch = dict.fromkeys(metrics, "")
    values = {name: np.full((n_a, n_b), np.nan) for name in metrics}
    rows = {
        name: [i for i, x in enumerate(a.metrics[name].items) if x is not None] for name in metrics
    }
    cols = {
        name: [i for i, x in enumerate(col.metrics[name].items) if x is not None]
        for name in metrics
    }
    for name, metric in metrics.items():
        ref_a, ref_b = a.metrics[name], col.metrics[name]
        if b is not None and ref_a.reference is not None and ref_b.reference is not None:
            try:
                metric.validate([ref_a.reference, ref_b.reference])
            except ValueError as err:
                mismatch[name] = _message(err, 1, ref_a.reference_key)
                log(f"{label}: {name}: the blocks do not match: {mismatch[name]}")
    device = params.device
    geometry = [
        metric
        for name, metric in metrics.items()
        if supports_factors(metric) and not mismatch[name]
    ]
    # the geometry metrics share their items; they are computed together where their
    # compared networks coincide (always, unless a metric-specific check left one out)
    groups: dict[tuple[tuple[int, ...], tuple[int, ...]], list[SimilarityMetric[Any]]] = {}
    for metric in geometry:
        key = (tuple(rows[metric.name]), tuple(cols[metric.name]))
        groups.setdefault(key, []).append(metric)
    start = time.perf_counter()
    for (r, c), group in groups.items():
        names = "+".join(m.name for m in group)
        total = len(r) * (len(r) - 1) // 2 if b is None else len(r) * len(c)
        progress = PairProgress(f"{label}: {names}", max(total, 1), log)
        result = geometry_distances(
            group,
            [a.metrics[group[0].name].items[i] for i in r],
            None if b is None else [col.metrics[group[0].name].items[j] for j in c],
            device=device,
            threads=threads,
            on_pairs=progress.advance,
        )
        for metric in group:
            values[metric.name][np.ix_(r, c)] = result[metric.name]
    for name, metric in metrics.items():
        if metric in geometry or mismatch[name]:
            continue
        r, c = rows[name], cols[name]
        items_a = [a.metrics[name].items[i] for i in r]
        items_b = None if b is None else [col.metrics[name].items[j] for j in c]
        values[name][np.ix_(r, c)] = metric.cross(
            items_a, items_b, device=device, log=lambda line, n=name: log(f"{label}: {line}")
        )
    for name, metric in metrics.items():
        ds[name] = (("network", "network_b"), values[name], metric.attrs())
    ds["not_compared"] = (
        ("metric", "network"),
        np.array([a.metrics[name].reasons for name in metrics], dtype=str).reshape(
            len(metrics), n_a
        ),
        {"long_name": "why a metric could not compare the network (empty: compared)"},
    )
    ds["mismatch"] = (
        ("metric",),
        np.array([mismatch[name] for name in metrics], dtype=str),
        {"long_name": "why the two blocks' reference networks do not match (empty: they do)"},
    )
    log(f"{label}: {n_a} × {n_b} networks in {format_seconds(time.perf_counter() - start)}")
    return ds


def compare_block_files(
    row: str | Path,
    column: str | Path,
    options: Mapping[str, Any],
    out: str | Path,
    *,
    threads: int | None = None,
    log: Callable[[str], None] = print,
) -> xr.Dataset:
    """:func:`compare_blocks` of two block files (the same file: a diagonal tile); writes
    the tile to ``out``."""
    a = PreparedBlock.read(row)
    b = None if Path(row) == Path(column) else PreparedBlock.read(column)
    tile = compare_blocks(a, b, options, threads=threads, log=log)
    Path(out).parent.mkdir(parents=True, exist_ok=True)
    write_netcdf(tile, Path(out))
    return tile


@dataclass
class Assembled:
    """The full matrices of a task, put together from its tiles.

    Attributes
    ----------
    keys
        The compared networks, in grid order.
    matrices
        Per metric, the symmetric [n, n] distances (NaN rows and columns for networks
        the metric cannot compare).
    reasons
        Per metric, per network, why it cannot compare it ("" where it can).
    """

    keys: list[str]
    matrices: dict[str, np.ndarray]
    reasons: dict[str, list[str]]


def assemble(tiles: Sequence[xr.Dataset], metrics: Sequence[str]) -> Assembled:
    """Put the tiles of every block pair of a task together.

    Raises
    ------
    ValueError
        If a tile of a block pair is missing or repeated, or tiles disagree on a
        block's networks or metrics.
    """
    by_pair: dict[tuple[int, int], xr.Dataset] = {}
    for tile in tiles:
        pair = (int(tile.attrs["row_block"]), int(tile.attrs["column_block"]))
        if pair in by_pair:
            raise ValueError(f"two tiles of blocks {pair[0]}-{pair[1]}")
        if list(tile["metric"].values) != list(metrics):
            raise ValueError(
                f"tile {pair[0]}-{pair[1]} holds the metrics {list(tile['metric'].values)}, "
                f"not {list(metrics)}"
            )
        by_pair[pair] = tile
    n = max((max(p) for p in by_pair), default=-1) + 1
    missing = [p for p in block_pairs(n) if p not in by_pair]
    if missing:
        raise ValueError(f"missing tiles of block pairs {missing}")
    block_keys = [[str(k) for k in by_pair[(i, i)]["network"].values] for i in range(n)]
    offsets = np.concatenate([[0], np.cumsum([len(k) for k in block_keys])])
    keys = [k for block in block_keys for k in block]
    total = len(keys)
    matrices = {name: np.full((total, total), np.nan) for name in metrics}
    reasons = {name: [""] * total for name in metrics}
    for (i, j), tile in by_pair.items():
        if [str(k) for k in tile["network_b"].values] != block_keys[j] or [
            str(k) for k in tile["network"].values
        ] != block_keys[i]:
            raise ValueError(f"tile {i}-{j} holds other networks than blocks {i} and {j}")
        rows = slice(offsets[i], offsets[i + 1])
        cols = slice(offsets[j], offsets[j + 1])
        for name in metrics:
            block = tile[name].values
            matrices[name][rows, cols] = block
            matrices[name][cols, rows] = block.T
    for i in range(n):
        diagonal = by_pair[(i, i)]
        for m, name in enumerate(metrics):
            for k, reason in enumerate(diagonal["not_compared"].values[m]):
                reasons[name][offsets[i] + k] = str(reason)
    for m, name in enumerate(metrics):
        compared = [i for i in range(n) if any(not r for r in _block(reasons[name], offsets, i))]
        if not compared:
            continue
        first = compared[0]
        for j in compared[1:]:
            why = str(by_pair[(first, j)]["mismatch"].values[m])
            if why:
                for k in range(offsets[j], offsets[j + 1]):
                    if not reasons[name][k]:
                        reasons[name][k] = why
    for name in metrics:
        out = np.array([bool(r) for r in reasons[name]], dtype=bool)
        matrices[name][out, :] = np.nan
        matrices[name][:, out] = np.nan
        np.fill_diagonal(matrices[name], np.where(out, np.nan, 0.0))
    return Assembled(keys, matrices, reasons)


def _block(values: list[str], offsets: np.ndarray, i: int) -> list[str]:
    return values[offsets[i] : offsets[i + 1]]


def compare_analyses(
    datasets: Sequence[xr.Dataset],
    options: Mapping[str, Any] | AggregateParams,
    keys: Sequence[str] | None = None,
    log: Callable[[str], None] = print,
) -> Assembled:
    """Every metric's matrix between analysis datasets held in memory, as one block
    (what the ``aggregate`` step computes, without the summary and the files).

    ``keys`` name the networks in messages (default ``net0``, ``net1``, ...).
    """
    params = _params(options)
    builder = BlockBuilder("", 0, params, log)
    for i, ds in enumerate(datasets):
        builder.add(keys[i] if keys is not None else f"net{i}", ds)
    return assemble([compare_blocks(builder.block, None, params, log=log)], list(params.metrics))


def read_tiles(paths: Sequence[str | Path]) -> list[xr.Dataset]:
    """The tile files of a task, loaded; errors name the file."""
    tiles = []
    for path in paths:
        try:
            with xr.open_dataset(path) as ds:
                tiles.append(ds.load())
        except (OSError, ValueError) as err:
            raise ValueError(f"{path}: cannot read the tile: {err}") from err
    return tiles
