"""The concept of a representational distance between networks."""

from __future__ import annotations

import time
from abc import ABC, abstractmethod
from collections.abc import Callable, Sequence
from typing import Any, ClassVar, Generic, TypeVar

import numpy as np
import torch
import xarray as xr
from numpy.typing import ArrayLike, NDArray

from rnn_analysis.registry import Registry
from rnn_analysis.training.progress import format_seconds

P = TypeVar("P")
AttrValue = float | int | str


#: Axis names of a representation by its number of dimensions, for messages.
LAYOUTS = {2: "[n_samples, n_units]", 3: "[n_trials, n_time, n_units]"}
#: What all networks must share, by number of dimensions.
SHARED = {2: "n_samples", 3: "n_trials and n_time"}


def validate_representations(
    representations: Sequence[ArrayLike], ndim: int = 2
) -> list[NDArray[np.float64]]:
    """Convert representations to float64 arrays and check them.

    Parameters
    ----------
    representations
        One array per network: [n_samples, n_units] (``ndim`` 2) or
        [n_trials, n_time, n_units] (``ndim`` 3). n_units may differ between
        networks, the other axes may not.
    ndim
        2 or 3.

    Returns
    -------
    list of ndarray
        The representations as float64 arrays.

    Raises
    ------
    ValueError
        If a representation has another number of dimensions, fewer than 2
        samples (time steps for ``ndim`` 3) or an empty axis, other leading axes
        than network 0, or non-finite values. The message names the network
        index and shape.
    """
    layout = LAYOUTS[ndim]
    arrays: list[NDArray[np.float64]] = []
    for i, rep in enumerate(representations):
        try:
            x = np.asarray(rep, dtype=np.float64)
        except (TypeError, ValueError) as err:
            raise ValueError(f"network {i}: representation is not numeric: {err}") from err
        if x.ndim != ndim:
            raise ValueError(
                f"network {i}: representation must be {ndim}-D {layout}, got shape {x.shape}"
            )
        if x.shape[-2] < 2:
            raise ValueError(
                f"network {i}: representation of shape {x.shape} has fewer than 2 "
                f"{'samples' if ndim == 2 else 'time steps'}"
            )
        if min(x.shape) < 1:
            raise ValueError(f"network {i}: representation of shape {x.shape} has an empty axis")
        if arrays and x.shape[:-1] != arrays[0].shape[:-1]:
            raise ValueError(
                f"network {i}: representation has shape {x.shape} but network 0 has "
                f"shape {arrays[0].shape}; all networks need the same {SHARED[ndim]}"
            )
        n_bad = int(np.count_nonzero(~np.isfinite(x)))
        if n_bad:
            raise ValueError(
                f"network {i}: representation of shape {x.shape} has {n_bad} non-finite values"
            )
        arrays.append(x)
    return arrays


def centre(x: NDArray[np.float64]) -> NDArray[np.float64]:
    """Subtract the mean over samples from every unit.

    Raises
    ------
    ValueError
        If the centred data vanish to rounding precision, i.e. every unit is
        constant across samples.
    """
    centred = x - x.mean(axis=0)
    scale = float(np.abs(x).max())
    tol = np.finfo(np.float64).eps * x.shape[0] * np.sqrt(x.size) * scale
    if not np.linalg.norm(centred) > tol:
        raise ValueError(
            f"representation of shape {x.shape} has zero variance "
            "(every unit is constant across samples)"
        )
    return centred


class MissingRepresentation(LookupError):
    """A network's analysis dataset lacks what a metric compares (e.g. no topology graph)."""


def resolve_device(device: str | torch.device | None) -> torch.device:
    """``None``/``"cpu"`` → the CPU; ``"auto"`` → the GPU when one is visible."""
    if device is None:
        return torch.device("cpu")
    if isinstance(device, torch.device):
        return device
    if device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if device.startswith("cuda") and not torch.cuda.is_available():
        raise RuntimeError(f"device {device!r} was requested but no GPU is visible")
    return torch.device(device)


class PairProgress:
    """Progress lines of a pairwise computation: pairs done, rate, elapsed time, ETA.

    One line at most every ``min_interval`` seconds, and one when the last pair is done.
    """

    def __init__(
        self, name: str, total: int, log: Callable[[str], None], min_interval: float = 30.0
    ) -> None:
        self.name = name
        self.total = total
        self.log = log
        self.min_interval = min_interval
        self.done = 0
        self.start = time.perf_counter()
        self.last = self.start

    def advance(self, pairs: int) -> None:
        """Count ``pairs`` more pairs as done."""
        self.done += pairs
        now = time.perf_counter()
        if now - self.last < self.min_interval and self.done < self.total:
            return
        self.last = now
        elapsed = now - self.start
        rate = self.done / elapsed if elapsed > 0 else float("nan")
        eta = (self.total - self.done) / rate if rate > 0 else float("inf")
        self.log(
            f"{self.name}: {self.done}/{self.total} pairs ({100 * self.done / self.total:.0f}%) "
            f"| {rate:.1f} pairs/s | elapsed {format_seconds(elapsed)} | ETA {format_seconds(eta)}"
        )


class SimilarityMetric(ABC, Generic[P]):
    """A distance between two networks.

    By default a network's representation is an array [n_samples, n_units]:
    the probe trajectories with time points and conditions flattened together
    as samples and units as features. All networks share n_samples; n_units
    may differ. Metrics that compare something else (trajectories with their
    time axis, topology graphs, fixed-point counts) override
    :meth:`representation` and :meth:`validate`. Distances lie in [0, 1], are
    symmetric and are 0 between a representation and itself.

    Subclasses set the class attributes and implement :meth:`prepare`, which
    runs once per network, and :meth:`distance`, which compares two prepared
    items; :meth:`_upper_triangle` may compute many pairs at once.
    Hyperparameters are keyword-only constructor arguments, documented with
    their defaults in the subclass docstring and returned by
    :meth:`hyperparameters`.

    Attributes
    ----------
    name : str
        Registry name, e.g. ``"cca"``.
    long_name : str
        Human-readable name, used as the netCDF ``long_name`` attribute.
    units : str
        netCDF ``units`` attribute; ``"1"`` for dimensionless distances.
    family : {"geometry", "dynamics", "topology"}
        What the metric compares.
    """

    name: ClassVar[str]
    long_name: ClassVar[str]
    units: ClassVar[str] = "1"
    family: ClassVar[str] = "geometry"

    def representation(self, analysis: xr.Dataset) -> Any:
        """What this metric compares, taken from one network's analysis dataset.

        The default is the probe activity ``probe_hidden`` [trial, time, unit]
        flattened to [trial * time, unit].

        Raises
        ------
        MissingRepresentation
            If the dataset lacks it.
        """
        if "probe_hidden" not in analysis:
            raise MissingRepresentation("no probe activity (probe_hidden)")
        hidden = analysis["probe_hidden"].values
        return hidden.reshape(-1, hidden.shape[-1])

    def validate(self, representations: Sequence[Any]) -> list[Any]:
        """Check and convert the representations of all networks (see
        :func:`validate_representations`); errors name the network index."""
        return validate_representations(representations)

    @abstractmethod
    def prepare(self, x: NDArray[np.float64]) -> P:
        """Precompute what :meth:`distance` needs from one representation.

        Parameters
        ----------
        x
            Validated float64 representation [n_samples, n_units].
        """

    @abstractmethod
    def distance(self, a: P, b: P) -> float:
        """Distance in [0, 1] between two prepared representations."""

    def hyperparameters(self) -> dict[str, AttrValue]:
        """Hyperparameter values by name; empty if the metric has none."""
        return {}

    def attrs(self) -> dict[str, AttrValue]:
        """Attributes for netCDF describing distances computed by this metric."""
        attrs: dict[str, AttrValue] = {
            "metric": self.name,
            "long_name": self.long_name,
            "units": self.units,
            "family": self.family,
        }
        attrs.update({f"metric_{k}": v for k, v in self.hyperparameters().items()})
        return attrs

    def __repr__(self) -> str:
        params = ", ".join(f"{k}={v!r}" for k, v in self.hyperparameters().items())
        return f"{type(self).__name__}({params})"

    def __call__(self, x: Any, y: Any) -> float:
        """Distance between two raw representations."""
        a, b = self._prepare_all(self.validate([x, y]))
        return self.distance(a, b)

    _progress: PairProgress | None = None

    def pairwise(
        self,
        representations: Sequence[Any],
        *,
        device: str | torch.device | None = None,
        log: Callable[[str], None] | None = None,
    ) -> NDArray[np.float64]:
        """Symmetric [n, n] distance matrix between n representations.

        Each representation is validated and prepared once; pairs are computed
        in batches where the metric supports it.

        Parameters
        ----------
        representations
            One representation per network (see :meth:`representation`).
        device
            Where batched pair computations run: ``None`` or ``"cpu"``, ``"cuda"``,
            or ``"auto"`` (the GPU when one is visible).
        log
            Where progress lines of long computations go (see :class:`PairProgress`);
            none when not given.

        Returns
        -------
        ndarray
            float64 [n, n], zero diagonal, entries in [0, 1].
        """
        return self.cross(self._prepare_all(self.validate(representations)), device=device, log=log)

    def _prepare_all(self, arrays: list[NDArray[np.float64]]) -> list[P]:
        prepared = []
        for i, x in enumerate(arrays):
            try:
                prepared.append(self.prepare(x))
            except ValueError as err:
                raise ValueError(f"network {i}: {err}") from err
        return prepared

    def _advance(self, pairs: int) -> None:
        """Report ``pairs`` more pairs as done (implementations of
        :meth:`_upper_triangle` call it after each batch)."""
        if self._progress is not None:
            self._progress.advance(pairs)

    def cross(
        self,
        a: Sequence[P],
        b: Sequence[P] | None = None,
        *,
        device: str | torch.device | None = None,
        log: Callable[[str], None] | None = None,
    ) -> NDArray[np.float64]:
        """Distances between prepared items (see :meth:`prepare`): one tile of a matrix.

        Parameters
        ----------
        a, b
            Prepared items of two blocks of networks; ``b`` ``None`` compares ``a``
            with itself.
        device, log
            As for :meth:`pairwise`.

        Returns
        -------
        ndarray
            float64 in [0, 1]: [n_a, n_b] between the blocks, or, without ``b``, the
            symmetric [n_a, n_a] matrix with a zero diagonal.
        """
        a = list(a)
        n_a = len(a)
        n_b = n_a if b is None else len(b)
        total = n_a * (n_a - 1) // 2 if b is None else n_a * n_b
        if total == 0:
            return np.zeros((n_a, n_b))
        if log is not None:
            self._progress = PairProgress(self.name, total, log)
        dev = resolve_device(device)
        try:
            if b is None:
                values = self._upper_triangle(a, dev)
            elif type(self)._upper_triangle is not SimilarityMetric._upper_triangle:
                # a metric that batches whole matrices: the [a, b] block of a + b
                values = self._upper_triangle(a + list(b), dev)[:n_a, n_a:]
            else:
                rows, cols = np.divmod(np.arange(n_a * n_b), n_b)
                values = self._pairs(a + list(b), rows, cols + n_a, dev).reshape(n_a, n_b)
        finally:
            self._progress = None
        values = np.clip(values, 0.0, 1.0)
        if b is not None:
            return values
        upper = np.triu(values, k=1)
        return upper + upper.T

    def _pairs(
        self,
        prepared: list[P],
        rows: NDArray[np.int64],
        cols: NDArray[np.int64],
        device: torch.device,
    ) -> NDArray[np.float64]:
        """Distances between ``prepared[rows[k]]`` and ``prepared[cols[k]]`` for every k.

        The default calls :meth:`distance` per pair; metrics that compute lists of pairs
        at once override it (and get :meth:`_upper_triangle` and :meth:`cross` from it),
        metrics that compute whole matrices at once override :meth:`_upper_triangle`.
        """
        out = np.zeros(len(rows))
        done = 0
        for k, (i, j) in enumerate(zip(rows, cols, strict=True)):
            out[k] = self.distance(prepared[i], prepared[j])
            if k + 1 - done >= 1000:
                self._advance(k + 1 - done)
                done = k + 1
        self._advance(len(rows) - done)
        return out

    def _upper_triangle(self, prepared: list[P], device: torch.device) -> NDArray[np.float64]:
        """[n, n] array whose strict upper triangle holds the distances."""
        n = len(prepared)
        rows, cols = np.triu_indices(n, k=1)
        out = np.zeros((n, n))
        out[rows, cols] = self._pairs(prepared, rows, cols, device)
        return out


METRICS: Registry[type[SimilarityMetric[Any]]] = Registry("similarity metric")
