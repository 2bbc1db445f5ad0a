"""Neighbour signature: which static inputs' fixed points lie next to which.

After McMahan, Kleinman & Kao (2021), who characterised the attractor structure of a
network by the static inputs of the nearest neighbours of each of its fixed points (in
their code, the inputs of each fixed point and of its two nearest other fixed points,
all static inputs pooled). Here a network's signature is the distribution of the
(own static input, neighbour static input) pairs over all its fixed points, and two
networks are compared by a distance between these distributions. Neither the order nor
the coordinates of the fixed points enter, only which static input's points are
nearest to which: the signature is unchanged by any rotation, reflection, translation
or isotropic scaling of the state space.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import torch
import xarray as xr
from numpy.typing import NDArray
from scipy.spatial.distance import cdist

from rnn_analysis.analysis.topology import stability_labels
from rnn_analysis.similarity.base import (
    METRICS,
    AttrValue,
    MissingRepresentation,
    SimilarityMetric,
)

__all__ = [
    "DIVERGENCES",
    "NeighbourSignature",
    "neighbour_signature",
    "neighbour_weights",
    "skipped",
    "static_input_keys",
]

#: Distances between distributions the metric offers (see :class:`NeighbourSignature`).
DIVERGENCES = ("total_variation", "jensen_shannon")

#: Variables of the fixed-point dataset that :func:`neighbour_signature` reads.
NEIGHBOUR_VARIABLES = ("state_value", "input_value", "kind")

#: Distances within this fraction of the k-th smallest one count as tied with it.
TIE_RTOL = 1e-9


def skipped(analysis: xr.Dataset) -> None:
    """Raise :class:`MissingRepresentation` if the network's analysis was skipped."""
    reason = analysis.attrs.get("analysis_skipped")
    if reason is not None:
        raise MissingRepresentation(f"analysis skipped ({reason})")


def static_input_keys(input_value: NDArray, decimals: int = 6) -> NDArray[np.str_]:
    """One text key per point naming its static input by the input's values.

    Parameters
    ----------
    input_value : ndarray
        Static input of every point [n_points, n_inputs].
    decimals : int, default 6
        Values are rounded to this many decimals (so that one static input stored in
        float32 and float64 gets one key).

    Returns
    -------
    ndarray of str
        [n_points] keys such as ``"(0, 0.02)"``; equal static inputs get equal keys
        whatever the index of their condition.
    """
    values = np.round(np.asarray(input_value, dtype=np.float64), decimals) + 0.0
    if values.ndim == 1:
        values = values[:, None]
    keys = [
        "(" + ", ".join(np.format_float_positional(v, trim="-") for v in row) + ")"
        for row in values
    ]
    return np.array(keys, dtype=str).reshape(-1)


def neighbour_weights(x: NDArray, k: int) -> NDArray[np.float64]:
    """Weight of every point as one of the ``k`` nearest other points of each point.

    Parameters
    ----------
    x : ndarray
        Points [n, d].
    k : int
        Neighbours per point; a point with fewer than ``k`` other points takes all of
        them.

    Returns
    -------
    ndarray
        [n, n]; row ``i`` holds weight 1 for each of the ``k`` points nearest to point
        ``i`` (Euclidean), 0 elsewhere and on the diagonal, and sums to ``min(k, n − 1)``.
        Points whose distance ties with the k-th smallest (within a relative
        :data:`TIE_RTOL`) share the weight left after the strictly nearer ones equally,
        so the weights do not depend on the order of the points.
    """
    x = np.asarray(x, dtype=np.float64)
    n = len(x)
    weights = np.zeros((n, n))
    kk = min(k, n - 1)
    if kk < 1:
        return weights
    d = cdist(x, x)
    np.fill_diagonal(d, np.inf)
    kth = np.partition(d, kk - 1, axis=1)[:, kk - 1 : kk]
    tol = TIE_RTOL * kth
    nearer = d < kth - tol
    tied = np.abs(d - kth) <= tol
    share = (kk - nearer.sum(axis=1, keepdims=True)) / tied.sum(axis=1, keepdims=True)
    weights[nearer] = 1.0
    weights += np.where(tied, share, 0.0)
    return weights


def neighbour_signature(
    ds: xr.Dataset, k: int = 2, with_stability: bool = False, input_decimals: int = 6
) -> dict[str, float]:
    """Distribution of (own static input, neighbour static input) pairs of the fixed points.

    Every fixed point (``kind == "fixed"``; slow points are left out) of every static
    input is paired with its ``k`` nearest other fixed points in state space, all static
    inputs pooled (:func:`neighbour_weights`). Each pair counts towards the key
    ``"<own input> -> <neighbour input>"``, the static inputs named by their values
    (:func:`static_input_keys`), e.g. ``"(0.02) -> (0.01)"``; with ``with_stability``
    each input is followed by the point's stability (``"stable"`` or ``"saddle<k>"``),
    e.g. ``"(0.02) stable -> (0.01) saddle1"``.

    Parameters
    ----------
    ds : xarray.Dataset
        A fixed-point dataset (alone or merged into a network's analysis dataset) with
        ``state_value``, ``input_value``, ``kind`` and, with ``with_stability``,
        ``n_unstable``.
    k : int, default 2
        Neighbours per point.
    with_stability : bool, default False
        Whether keys include the stability of both points.
    input_decimals : int, default 6
        Decimals to which static inputs are rounded before they are compared.

    Returns
    -------
    dict of str to float
        Probabilities summing to 1 over the keys present, in order of (own, neighbour)
        input; empty when the network has fewer than two fixed points.
    """
    kind = np.asarray(ds["kind"].values).astype(str).reshape(-1)
    fixed = np.flatnonzero(kind == "fixed")
    x = ds["state_value"].transpose("fixed_point", ...).values[fixed]
    u = ds["input_value"].transpose("fixed_point", ...).values[fixed]
    labels = static_input_keys(u, input_decimals)
    if with_stability:
        n_unstable = np.asarray(ds["n_unstable"].values, dtype=np.int64).reshape(-1)[fixed]
        labels = np.char.add(np.char.add(labels, " "), stability_labels(n_unstable))
    weights = neighbour_weights(x, k)
    total = weights.sum()
    if total == 0:
        return {}
    vocabulary, code = np.unique(labels, return_inverse=True)
    code = code.reshape(-1)
    n_labels = len(vocabulary)
    onehot = np.zeros((len(code), n_labels))
    onehot[np.arange(len(code)), code] = 1.0
    counts = onehot.T @ weights @ onehot
    return {
        f"{vocabulary[a]} -> {vocabulary[b]}": float(counts[a, b] / total)
        for a in range(n_labels)
        for b in range(n_labels)
        if counts[a, b] > 0
    }


@METRICS.register("neighbour_signature")
class NeighbourSignature(SimilarityMetric[dict[str, float]]):
    """Distance between the neighbour signatures of two networks' fixed points.

    A network's representation is the normalised histogram of (own static input,
    neighbour static input) pairs over its fixed points (:func:`neighbour_signature`):
    for each fixed point, found under any static input, its ``k`` nearest other fixed
    points in state space (Euclidean, all static inputs pooled) and their static inputs.
    This is the signature of McMahan, Kleinman & Kao (2021), who embedded each fixed
    point by its own input and the inputs of its two nearest neighbours; here the pairs
    are pooled into a distribution, which does not depend on the order of the fixed
    points or on the number of points found per input. Static inputs are identified by
    their input values, not by the index of their condition, and pairs are directed
    (the nearest-neighbour relation is not symmetric). A network with fewer than two
    fixed points has the empty signature. Slow points are left out.

    Only Euclidean distances between fixed points enter, and only through their ranks,
    so the representation is invariant to rotations, reflections, translations and
    isotropic scaling of the state space and to the order of the points. Points tied
    at the k-th distance share the remaining neighbour weight (:func:`neighbour_weights`).

    Two histograms ``p`` and ``q`` over the union of their keys are compared by:

    - ``"total_variation"`` (default): ``½ Σ_k |p_k − q_k|``, the fraction of
      neighbour pairs that must change key to turn one signature into the other. It is
      a metric, equals the Bray–Curtis dissimilarity of the normalised histograms (the
      fixed-point signature's distance), needs no smoothing of empty bins and is 1
      exactly when the two networks share no key.
    - ``"jensen_shannon"``: the Jensen–Shannon distance, the square root of the
      Jensen–Shannon divergence in bits; also a metric in [0, 1], 1 exactly for
      disjoint keys, more sensitive to changes in rare pairs.

    Both are 0 only for equal signatures, symmetric, and lie in [0, 1]. Two empty
    signatures are at distance 0, an empty and a non-empty one at distance 1.

    Parameters
    ----------
    k : int, default 2
        Nearest other fixed points per fixed point (the study's two).
    divergence : {"total_variation", "jensen_shannon"}, default "total_variation"
        Distance between the two distributions.
    with_stability : bool, default False
        Whether each static input in a key is followed by the point's stability type
        (``"stable"``, ``"saddle<k>"``); the study used inputs only.
    input_decimals : int, default 6
        Decimals to which static input values are rounded to identify a static input.

    References
    ----------
    McMahan, B., Kleinman, M. & Kao, J. C. (2021). Learning rule influences recurrent
    network representations but not attractor structure in decision-making tasks.
    NeurIPS 34.
    """

    name = "neighbour_signature"
    long_name = "distance between distributions of static inputs of nearest fixed points"
    units = "1"
    family = "topology"

    def __init__(
        self,
        *,
        k: int = 2,
        divergence: str = "total_variation",
        with_stability: bool = False,
        input_decimals: int = 6,
    ) -> None:
        for param, value, minimum in (("k", k, 1), ("input_decimals", input_decimals, 0)):
            if isinstance(value, bool) or not isinstance(value, int | np.integer):
                raise ValueError(f"{param} must be an integer >= {minimum}, got {value!r}")
            if value < minimum:
                raise ValueError(f"{param} must be an integer >= {minimum}, got {value!r}")
        if divergence not in DIVERGENCES:
            raise ValueError(f"divergence must be one of {DIVERGENCES}, got {divergence!r}")
        if not isinstance(with_stability, bool | np.bool_):
            raise ValueError(f"with_stability must be true or false, got {with_stability!r}")
        self.k = int(k)
        self.divergence = divergence
        self.with_stability = bool(with_stability)
        self.input_decimals = int(input_decimals)

    def hyperparameters(self) -> dict[str, AttrValue]:
        return {
            "k": self.k,
            "divergence": self.divergence,
            "with_stability": int(self.with_stability),
            "input_decimals": self.input_decimals,
        }

    def representation(self, analysis: xr.Dataset) -> dict[str, float]:
        """The neighbour signature (:func:`neighbour_signature`).

        Raises
        ------
        MissingRepresentation
            If the analysis was skipped or the fixed points were not analysed.
        """
        skipped(analysis)
        needed = NEIGHBOUR_VARIABLES + (("n_unstable",) if self.with_stability else ())
        missing = [name for name in needed if name not in analysis.variables]
        if missing:
            raise MissingRepresentation(f"fixed points not analysed (missing {', '.join(missing)})")
        return neighbour_signature(
            analysis, self.k, with_stability=self.with_stability, input_decimals=self.input_decimals
        )

    def validate(self, representations: Sequence[Any]) -> list[dict[str, float]]:
        """Check that every representation maps keys to finite non-negative weights.

        Raises
        ------
        ValueError
            Naming the network index and the bad key, if one does not.
        """
        out: list[dict[str, float]] = []
        for i, hist in enumerate(representations):
            if not isinstance(hist, Mapping):
                raise ValueError(
                    f"network {i}: representation must be a mapping of weights, "
                    f"got {type(hist).__name__}"
                )
            checked: dict[str, float] = {}
            for key, value in hist.items():
                number = float(value) if isinstance(value, int | float | np.number) else np.nan
                if not (np.isfinite(number) and number >= 0):
                    raise ValueError(
                        f"network {i}: weight of {key!r} must be finite and >= 0, got {value!r}"
                    )
                checked[str(key)] = number
            out.append(checked)
        return out

    def prepare(self, x: dict[str, float]) -> dict[str, float]:
        """The histogram without zero entries, normalised to sum 1 (empty stays empty)."""
        total = sum(x.values())
        return {key: w / total for key, w in x.items() if w > 0}

    def distance(self, a: dict[str, float], b: dict[str, float]) -> float:
        keys = sorted(set(a) | set(b))
        p = np.array([[a.get(key, 0.0) for key in keys]])
        q = np.array([[b.get(key, 0.0) for key in keys]])
        return float(self._distances(p, q)[0, 0])

    def _distances(self, p: NDArray, q: NDArray) -> NDArray[np.float64]:
        """[len(p), len(q)] distances between the rows of two histogram arrays."""
        pt = torch.as_tensor(p, dtype=torch.float64)
        qt = torch.as_tensor(q, dtype=torch.float64)
        return self._torch_distances(pt, qt).cpu().numpy()

    def _torch_distances(self, p: torch.Tensor, q: torch.Tensor) -> torch.Tensor:
        empty_p = p.sum(dim=1) == 0
        empty_q = q.sum(dim=1) == 0
        if self.divergence == "total_variation":
            out = 0.5 * torch.cdist(p[None], q[None], p=1.0)[0]
        else:
            out = torch.empty(len(p), len(q), dtype=p.dtype, device=p.device)
            for i in range(len(p)):
                m = 0.5 * (p[i][None, :] + q)
                kl_p = _xlogy(p[i][None, :].expand_as(m), p[i][None, :] / m).sum(dim=1)
                kl_q = _xlogy(q, q / m).sum(dim=1)
                jsd = 0.5 * (kl_p + kl_q) / np.log(2.0)
                out[i] = jsd.clamp(0.0, 1.0).sqrt()
        either = empty_p[:, None] ^ empty_q[None, :]
        both = empty_p[:, None] & empty_q[None, :]
        out = torch.where(either, 1.0, out)
        return torch.where(both, 0.0, out).clamp(0.0, 1.0)

    def _upper_triangle(
        self, prepared: list[dict[str, float]], device: torch.device
    ) -> NDArray[np.float64]:
        keys = sorted({key for hist in prepared for key in hist})
        column = {key: j for j, key in enumerate(keys)}
        hists = np.zeros((len(prepared), max(len(keys), 1)))
        for i, hist in enumerate(prepared):
            for key, w in hist.items():
                hists[i, column[key]] = w
        x = torch.as_tensor(hists, dtype=torch.float64, device=device)
        out = self._torch_distances(x, x).cpu().numpy()
        self._advance(len(prepared) * (len(prepared) - 1) // 2)
        return out


def _xlogy(x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """``x log y`` with 0 where ``x`` is 0 (also where ``y`` is 0 or NaN there)."""
    return torch.where(x > 0, x * torch.log(torch.where(x > 0, y, 1.0)), 0.0)
