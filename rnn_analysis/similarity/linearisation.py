"""Linearisation distance: the local dynamics at fixed points matched between networks.

After Maheswaranathan, Williams, Golub, Ganguli & Sussillo (2019), who compared the
linearised dynamics of many networks through the eigenvalue spectra of the Jacobians
at their fixed points, read as time constants ``τ = 1 / |log |λ||`` (steps) and
rotations ``arg λ`` per step. Here the fixed points of two networks are matched within
each static input by their readouts, and the leading eigenvalues of matched points are
compared. Eigenvalues do not change under any invertible change of coordinates of the
state space and readouts are what the network outputs, so the distance is invariant to
rotations (indeed to any linear re-embedding) of the state space and to the order of
the fixed points.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import xarray as xr
from numpy.typing import NDArray
from scipy.optimize import linear_sum_assignment
from scipy.spatial.distance import cdist

from rnn_analysis.similarity.base import METRICS, AttrValue, MissingRepresentation, SimilarityMetric
from rnn_analysis.similarity.neighbour_signature import skipped, static_input_keys

__all__ = [
    "Linearisation",
    "LinearisationDistance",
    "PreparedLinearisation",
    "leading_eigenvalues",
    "match_fixed_points",
    "spectral_distances",
    "spectral_features",
]

#: Variables of the fixed-point dataset that :func:`leading_eigenvalues` reads.
LINEARISATION_VARIABLES = ("kind", "input_value", "readout", "eigenvalue_real", "eigenvalue_imag")

#: Weight of the spectral distance in the matching cost, far below any readout
#: difference that matters: it only decides between assignments of equal readout cost.
TIE_BREAK = 1e-9


@dataclass(frozen=True)
class Linearisation:
    """What the linearisation distance compares of one network, per fixed point.

    Attributes
    ----------
    condition : ndarray of str
        [n_points] static input of each point, named by its values
        (:func:`~rnn_analysis.similarity.neighbour_signature.static_input_keys`).
    readout : ndarray of float
        [n_points, n_outputs] network output at the point.
    eigenvalues : ndarray of complex
        [n_points, n_modes] leading eigenvalues of the Jacobian ``dF/dh`` at the point,
        by ``|λ|`` descending.
    """

    condition: NDArray[np.str_]
    readout: NDArray[np.float64]
    eigenvalues: NDArray[np.complex128]

    def __len__(self) -> int:
        return len(self.condition)


@dataclass(frozen=True)
class PreparedLinearisation:
    """A network's points grouped by static input: readouts and spectral features.

    Attributes
    ----------
    groups : dict
        Static input key → (readout [n, n_outputs], features [n, n_modes, 2] of
        :func:`spectral_features`).
    """

    groups: dict[str, tuple[NDArray[np.float64], NDArray[np.float64]]]


def leading_eigenvalues(
    ds: xr.Dataset, n_modes: int = 3, include_slow: bool = False, input_decimals: int = 6
) -> Linearisation:
    """The static input, readout and ``n_modes`` largest-modulus eigenvalues of each point.

    Parameters
    ----------
    ds : xarray.Dataset
        A fixed-point dataset (alone or merged into a network's analysis dataset).
    n_modes : int, default 3
        Eigenvalues kept per point (all of them if the state has fewer).
    include_slow : bool, default False
        Whether slow points (``kind == "slow"``) are kept besides fixed points.
    input_decimals : int, default 6
        Decimals to which static inputs are rounded to identify them.
    """
    kind = np.asarray(ds["kind"].values).astype(str).reshape(-1)
    keep = np.flatnonzero((kind == "fixed") | (include_slow & (kind == "slow")))
    u = ds["input_value"].transpose("fixed_point", ...).values[keep]
    readout = ds["readout"].transpose("fixed_point", ...).values[keep]
    real = ds["eigenvalue_real"].transpose("fixed_point", ...).values[keep]
    imag = ds["eigenvalue_imag"].transpose("fixed_point", ...).values[keep]
    lam = real + 1j * imag
    order = np.argsort(-np.abs(lam), axis=1, kind="stable")[:, :n_modes]
    return Linearisation(
        condition=static_input_keys(u, input_decimals),
        readout=readout.astype(np.float64),
        eigenvalues=np.take_along_axis(lam, order, axis=1).astype(np.complex128),
    )


def spectral_features(
    eigenvalues: NDArray, tau_min: float = 1.0, tau_max: float = 1000.0
) -> NDArray[np.float64]:
    """Time-scale and rotation features of eigenvalues of the discrete-time map.

    Parameters
    ----------
    eigenvalues : ndarray of complex
        [n_points, n_modes].
    tau_min, tau_max : float, default 1 and 1000
        Time constants (in steps) mapped to time-scale feature 0 and 1.

    Returns
    -------
    ndarray
        [n_points, n_modes, 2]: per mode the log time constant
        ``log(τ / tau_min) / log(tau_max / tau_min)`` clipped to [0, 1], with
        ``τ = 1 / |log |λ||`` (growing and decaying modes alike; ``|λ| = 1`` gives 1,
        ``λ = 0`` gives 0), and the rotation ``|arg λ| / π`` in [0, 1] (0 for a positive
        real mode, 1 for a negative real one). The modes of each point are sorted by
        time-scale feature, then rotation, both descending, so that a conjugate pair's
        two members and modes of equal modulus are listed in the same order by every
        network.
    """
    lam = np.asarray(eigenvalues, dtype=np.complex128)
    with np.errstate(divide="ignore", invalid="ignore"):
        rate = np.abs(np.log(np.abs(lam)))
        timescale = -np.log(rate * tau_min) / np.log(tau_max / tau_min)
    timescale = np.clip(np.nan_to_num(timescale, nan=1.0), 0.0, 1.0)
    rotation = np.abs(np.angle(lam)) / np.pi
    order = np.lexsort((-rotation, -timescale), axis=-1)
    features = np.stack([timescale, rotation], axis=-1)
    return np.take_along_axis(features, order[..., None], axis=-2)


def spectral_distances(a: NDArray, b: NDArray) -> NDArray[np.float64]:
    """[n_a, n_b] spectral distance between the points of two feature arrays.

    The mean over modes of ``(|Δ time scale| + |Δ rotation|) / 2`` between features
    [n, n_modes, 2] of :func:`spectral_features`, modes compared in their sorted order;
    when the two arrays hold different numbers of modes, the first ones common to both.
    It lies in [0, 1].
    """
    m = min(a.shape[1], b.shape[1])
    if m == 0:
        return np.zeros((len(a), len(b)))
    diff = np.abs(a[:, None, :m] - b[None, :, :m])
    return diff.mean(axis=(-2, -1))


def match_fixed_points(
    readout_a: NDArray, readout_b: NDArray, spectral: NDArray | None = None
) -> tuple[NDArray[np.int64], NDArray[np.int64]]:
    """Pairs of points of two networks (of one static input) matched by their readouts.

    The Hungarian assignment (``scipy.optimize.linear_sum_assignment``) of least total
    Euclidean readout distance; ``min(n_a, n_b)`` pairs. Where ``spectral`` [n_a, n_b]
    is given it breaks ties between assignments of equal readout cost (added with weight
    :data:`TIE_BREAK`), so that the matched spectra do not depend on the order of points
    with equal readouts.

    Returns
    -------
    rows, cols : ndarray of int
        Point ``rows[i]`` of the first network is matched to point ``cols[i]`` of the
        second.
    """
    ra = np.asarray(readout_a, dtype=np.float64)
    rb = np.asarray(readout_b, dtype=np.float64)
    if len(ra) == 0 or len(rb) == 0:
        return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.int64)
    cost = cdist(ra.reshape(len(ra), -1), rb.reshape(len(rb), -1))
    if spectral is not None:
        cost = cost + TIE_BREAK * spectral
    rows, cols = linear_sum_assignment(cost)
    return rows.astype(np.int64), cols.astype(np.int64)


@METRICS.register("linearisation")
class LinearisationDistance(SimilarityMetric[PreparedLinearisation]):
    """Distance between the linearised dynamics at readout-matched fixed points.

    A network's representation is, per fixed point (:func:`leading_eigenvalues`), its
    static input (identified by the input's values), its readout and the ``n_modes``
    eigenvalues of largest modulus of the Jacobian ``dF/dh``. Each eigenvalue becomes
    two features in [0, 1] (:func:`spectral_features`): the log time constant
    ``τ = 1 / |log |λ||`` (the universality study's), scaled so that ``tau_min`` steps
    or faster is 0 and ``tau_max`` steps or slower (including marginal modes) is 1, and
    the rotation per step ``|arg λ| / π``. The spectral distance between two points is
    the mean over modes of ``(|Δ time scale| + |Δ rotation|) / 2`` (modes sorted by time
    scale, see :func:`spectral_distances`), in [0, 1]: 1 between a marginal
    non-rotating mode and a fast mode that flips sign every step.

    Within every static input, the points of the two networks are matched by least
    total Euclidean readout distance (Hungarian assignment, :func:`match_fixed_points`):
    points that produce the same output are taken to play the same role, whatever
    their coordinates. The distance is::

        (Σ_matched spectral distance + unmatched_cost × n_unmatched)
            / (n_matched + n_unmatched)

    where ``n_unmatched`` counts the points left without a partner: the surplus of one
    network over the other in each static input, and every point of a static input the
    other network has no point under. It lies in [0, 1], is 0 for two networks whose
    fixed points have identical leading spectra in the same static inputs with equal
    counts (the readouts then only decide the pairing), and is 0 between two networks
    without fixed points. Being a mean over matched pairs it is symmetric up to ties
    in the assignment (broken by the spectra, see :data:`TIE_BREAK`); it is not a
    metric in general (the matching can differ between pairs of networks).

    Parameters
    ----------
    n_modes : int, default 3
        Leading eigenvalues compared per point (by ``|λ|``); three cover the slow
        directions of the studies' line attractors, flip-flop saddles and oscillations
        (a complex pair plus one mode).
    tau_min : float, default 1.0
        Time constant (steps) at and below which a mode counts as fully fast
        (``|λ| <= e^{-1}`` for a decaying mode).
    tau_max : float, default 1000.0
        Time constant (steps) at and above which a mode counts as marginal; longer than
        the studies' trials (750 steps for context-dependent integration).
    unmatched_cost : float, default 1.0
        Cost of a point without a partner, in [0, 1]; 1 is the largest spectral
        distance, so a missing point costs at least as much as any mismatch.
    include_slow : bool, default False
        Whether slow points are compared too (by default only fixed points).
    input_decimals : int, default 6
        Decimals to which static input values are rounded to identify a static input.

    References
    ----------
    Maheswaranathan, N., Williams, A. H., Golub, M. D., Ganguli, S. & Sussillo, D.
    (2019). Universality and individuality in neural dynamics across large populations
    of recurrent networks. NeurIPS 32.
    """

    name = "linearisation"
    long_name = "spectral distance of leading Jacobian eigenvalues at readout-matched fixed points"
    units = "1"
    family = "dynamics"

    def __init__(
        self,
        *,
        n_modes: int = 3,
        tau_min: float = 1.0,
        tau_max: float = 1000.0,
        unmatched_cost: float = 1.0,
        include_slow: bool = False,
        input_decimals: int = 6,
    ) -> None:
        for param, value, minimum in (
            ("n_modes", n_modes, 1),
            ("input_decimals", input_decimals, 0),
        ):
            if (
                isinstance(value, bool)
                or not isinstance(value, int | np.integer)
                or value < minimum
            ):
                raise ValueError(f"{param} must be an integer >= {minimum}, got {value!r}")
        if not (np.isfinite(tau_min) and tau_min > 0.0):
            raise ValueError(f"tau_min must be finite and > 0, got {tau_min!r}")
        if not (np.isfinite(tau_max) and tau_max > tau_min):
            raise ValueError(f"tau_max must be finite and > tau_min={tau_min!r}, got {tau_max!r}")
        if not 0.0 <= unmatched_cost <= 1.0:
            raise ValueError(f"unmatched_cost must be in [0, 1], got {unmatched_cost!r}")
        if not isinstance(include_slow, bool | np.bool_):
            raise ValueError(f"include_slow must be true or false, got {include_slow!r}")
        self.n_modes = int(n_modes)
        self.tau_min = float(tau_min)
        self.tau_max = float(tau_max)
        self.unmatched_cost = float(unmatched_cost)
        self.include_slow = bool(include_slow)
        self.input_decimals = int(input_decimals)

    def hyperparameters(self) -> dict[str, AttrValue]:
        return {
            "n_modes": self.n_modes,
            "tau_min": self.tau_min,
            "tau_max": self.tau_max,
            "unmatched_cost": self.unmatched_cost,
            "include_slow": int(self.include_slow),
            "input_decimals": self.input_decimals,
        }

    def representation(self, analysis: xr.Dataset) -> Linearisation:
        """The points' static inputs, readouts and leading eigenvalues
        (:func:`leading_eigenvalues`).

        Raises
        ------
        MissingRepresentation
            If the analysis was skipped or the fixed points were not analysed.
        """
        skipped(analysis)
        missing = [name for name in LINEARISATION_VARIABLES if name not in analysis.variables]
        if missing:
            raise MissingRepresentation(f"fixed points not analysed (missing {', '.join(missing)})")
        return leading_eigenvalues(
            analysis,
            self.n_modes,
            include_slow=self.include_slow,
            input_decimals=self.input_decimals,
        )

    def validate(self, representations: Sequence[Any]) -> list[Linearisation]:
        """Check that every representation is a consistent, finite :class:`Linearisation`
        and that all networks have the same number of outputs.

        Raises
        ------
        ValueError
            Naming the network index, if one is not.
        """
        out: list[Linearisation] = []
        n_outputs: int | None = None
        for i, rep in enumerate(representations):
            if not isinstance(rep, Linearisation):
                raise ValueError(
                    f"network {i}: representation must be a Linearisation, got {type(rep).__name__}"
                )
            condition = np.asarray(rep.condition).astype(str).reshape(-1)
            n = len(condition)
            readout = np.asarray(rep.readout, dtype=np.float64)
            lam = np.asarray(rep.eigenvalues, dtype=np.complex128)
            if readout.ndim != 2 or lam.ndim != 2 or len(readout) != n or len(lam) != n:
                raise ValueError(
                    f"network {i}: {n} conditions but readout of shape {readout.shape} and "
                    f"eigenvalues of shape {lam.shape} (need [n_points, ...] 2-D arrays)"
                )
            if not (np.isfinite(readout).all() and np.isfinite(lam).all()):
                raise ValueError(f"network {i}: non-finite readouts or eigenvalues")
            if n and n_outputs is not None and readout.shape[1] != n_outputs:
                raise ValueError(
                    f"network {i}: readout has {readout.shape[1]} outputs, "
                    f"other networks have {n_outputs}"
                )
            if n:
                n_outputs = readout.shape[1]
            out.append(Linearisation(condition, readout, lam[:, : self.n_modes]))
        return out

    def prepare(self, x: Linearisation) -> PreparedLinearisation:
        """Spectral features of every point, grouped by static input."""
        features = spectral_features(x.eigenvalues, self.tau_min, self.tau_max)
        return PreparedLinearisation(
            {
                str(key): (x.readout[x.condition == key], features[x.condition == key])
                for key in np.unique(x.condition)
            }
        )

    def distance(self, a: PreparedLinearisation, b: PreparedLinearisation) -> float:
        total = 0.0
        count = 0
        for key in sorted(set(a.groups) | set(b.groups)):
            if key not in a.groups or key not in b.groups:
                n = len(a.groups[key][0] if key in a.groups else b.groups[key][0])
                total += self.unmatched_cost * n
                count += n
                continue
            (ra, fa), (rb, fb) = a.groups[key], b.groups[key]
            spectral = spectral_distances(fa, fb)
            rows, cols = match_fixed_points(ra, rb, spectral)
            unmatched = abs(len(ra) - len(rb))
            total += float(spectral[rows, cols].sum()) + self.unmatched_cost * unmatched
            count += len(rows) + unmatched
        return total / count if count else 0.0
