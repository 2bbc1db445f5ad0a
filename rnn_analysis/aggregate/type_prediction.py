"""What predicts a network's solution type: neural features recorded during training.

The space-of-solutions study (Turner, Dabholkar & Barak 2021) found that features
measured during training partly predict the solution type a network ends in. Each
network's ``training.nc`` holds ``neural_features`` along ``feature_update``
(:mod:`rnn_analysis.training.features`). :func:`training_features` reduces them to one
row per network: every feature at initialisation (``<name>_init``), at the end of
training (``<name>_final``) and its change (``<name>_change``). :func:`predict_types`
fits a cross-validated classifier from such rows to the solution type and reports its
accuracy against the majority-class baseline:

1. Networks without a type (``""``: not typed, e.g. not converged) are ignored; networks
   of type ``"other"`` (the small groups lumped together, no type of their own) are
   left out and counted; so are networks with a non-finite feature, and types with
   fewer than ``min_members`` networks (their networks and the types are counted).
2. The networks are sorted by their key, so that the folds do not depend on the order
   in which they come.
3. A scikit-learn pipeline (standardisation, then multinomial logistic regression with
   inverse regularisation ``C``) is scored by stratified K-fold cross-validation,
   K = min(``max_splits``, the size of the smallest type), folds shuffled with
   ``random_state``.
4. The baseline is the accuracy of always answering the most common type.
5. The per-feature weight is the mean over types of the absolute coefficient of a fit
   on every network (coefficients of standardised features, so comparable).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import xarray as xr
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import recall_score
from sklearn.model_selection import StratifiedKFold, cross_val_predict
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from rnn_analysis.aggregate.solution_types import OTHER
from rnn_analysis.hyperparameters import Hyperparameters
from rnn_analysis.training.features import FEATURES

__all__ = ["STAGES", "TypePredictionParams", "predict_types", "training_features"]

#: Suffixes of the columns of :func:`training_features`, per feature.
STAGES = ("init", "final", "change")


@dataclass(frozen=True)
class TypePredictionParams(Hyperparameters):
    """The classifier from training features to solution type.

    Attributes
    ----------
    max_splits : int, default 5
        Largest number of cross-validation folds; K = min(max_splits, size of the
        smallest type kept).
    min_members : int, default 2
        Types with fewer networks (with finite features) are left out of the
        prediction.
    min_networks : int, default 10
        Fewer networks left to predict: no prediction (NaN), as the cross-validated
        accuracy over so few would be mostly chance.
    C : float, default 1.0
        Inverse regularisation strength of the logistic regression.
    max_iter : int, default 1000
        Iterations of its solver (lbfgs).
    random_state : int, default 0
        Seed of the fold shuffling and of the logistic regression.
    """

    max_splits: int = 5
    min_members: int = 2
    min_networks: int = 10
    C: float = 1.0
    max_iter: int = 1000
    random_state: int = 0

    def __post_init__(self) -> None:
        if self.max_splits < 2:
            raise ValueError(f"max_splits must be >= 2, got {self.max_splits}")
        if self.min_members < 2:
            raise ValueError(f"min_members must be >= 2, got {self.min_members}")
        if self.min_networks < 1:
            raise ValueError(f"min_networks must be >= 1, got {self.min_networks}")
        if not self.C > 0:
            raise ValueError(f"C must be > 0, got {self.C}")
        if self.max_iter < 1:
            raise ValueError(f"max_iter must be >= 1, got {self.max_iter}")


def training_features(path: str | Path) -> dict[str, float]:
    """One network's neural features at initialisation, at the end, and their change.

    Parameters
    ----------
    path : the network's ``training.nc`` (its ``neural_features`` along
        ``feature_update`` × ``neural_feature``)

    Returns
    -------
    dict[str, float]
        For every feature of :data:`~rnn_analysis.training.features.FEATURES` (then any
        other feature the file holds), in that order: ``<feature>_init`` (the row at
        ``feature_update`` 0), ``<feature>_final`` (the last row: the network's final
        update) and ``<feature>_change`` (final − init). NaN where absent: a missing
        file, a file written without features, no row at update 0, or a feature the
        file does not have.
    """
    path = Path(path)
    features = None
    if path.is_file():
        with xr.open_dataset(path) as curve:
            if "neural_features" in curve and curve.sizes.get("feature_update", 0) > 0:
                features = curve["neural_features"].load()
    names = list(FEATURES)
    if features is not None:
        names += [n for n in features["neural_feature"].values.astype(str) if n not in names]
    out = {f"{name}_{stage}": np.nan for name in names for stage in STAGES}
    if features is None:
        return out
    updates = features["feature_update"].values
    for name in features["neural_feature"].values.astype(str):
        values = np.asarray(features.sel(neural_feature=name).values, dtype=float)
        init = float(values[0]) if updates[0] == 0 else np.nan
        final = float(values[-1])
        out[f"{name}_init"] = init
        out[f"{name}_final"] = final
        out[f"{name}_change"] = final - init
    return out


def _as_table(
    features: xr.DataArray | xr.Dataset,
) -> tuple[np.ndarray, list[str], xr.DataArray | xr.Dataset]:
    """The feature matrix [network, feature] and the feature names."""
    if isinstance(features, xr.Dataset):
        names = [str(n) for n, v in features.data_vars.items() if v.dims == ("network",)]
        x = np.stack([np.asarray(features[n].values, dtype=float) for n in names], axis=1)
        return x.reshape(features.sizes.get("network", 0), len(names)), names, features
    if features.ndim != 2 or "network" not in features.dims:
        raise ValueError(f"features must be 2-D along network, got dims {features.dims}")
    features = features.transpose("network", ...)
    dim = features.dims[1]
    names = (
        [str(n) for n in features[dim].values]
        if dim in features.coords
        else [str(i) for i in range(features.sizes[dim])]
    )
    return np.asarray(features.values, dtype=float), names, features


def _network_keys(features: xr.DataArray | xr.Dataset, n: int) -> np.ndarray:
    for name in ("network_key", "network"):
        if name in features.coords and features[name].dims == ("network",):
            return np.asarray(features[name].values).astype(str)
    if n == 0:
        return np.array([], dtype=str)
    raise ValueError("give keys, or features with a network_key or network coordinate")


def _result(
    names: list[str],
    labels: list[str],
    counts: dict[str, int],
    params: TypePredictionParams,
    accuracy: float = np.nan,
    baseline: float = np.nan,
    n_splits: int = 0,
    recall: np.ndarray | None = None,
    weight: np.ndarray | None = None,
    reason: str = "",
) -> xr.Dataset:
    reason_attrs = {"type_prediction_reason": reason} if reason else {}
    scalars = {
        "type_prediction_accuracy": (
            accuracy,
            {
                "long_name": f"cross-validated accuracy ({n_splits} stratified folds)",
                "units": "1",
                **reason_attrs,
            },
        ),
        "type_prediction_baseline": (
            baseline,
            {"long_name": "accuracy of always answering the most common type", "units": "1"},
        ),
        "type_prediction_n_splits": (n_splits, {"long_name": "cross-validation folds"}),
        "type_prediction_n_networks": (
            counts["networks"],
            {"long_name": "networks predicted"},
        ),
        "type_prediction_n_types": (len(labels), {"long_name": "types predicted"}),
        "type_prediction_n_other": (
            counts["other"],
            {"long_name": f"networks of type {OTHER!r}, left out"},
        ),
        "type_prediction_n_missing_features": (
            counts["missing"],
            {"long_name": "typed networks left out for a non-finite feature"},
        ),
        "type_prediction_n_dropped_types": (
            counts["dropped_types"],
            {"long_name": f"types left out for fewer than {params.min_members} networks"},
        ),
        "type_prediction_n_dropped_networks": (
            counts["dropped_networks"],
            {"long_name": "networks of the types left out"},
        ),
        "type_prediction_n_left_out": (
            counts["other"] + counts["missing"] + counts["dropped_networks"],
            {"long_name": "typed networks left out (other, non-finite feature, rare type)"},
        ),
    }
    data = {k: ((), v, attrs) for k, (v, attrs) in scalars.items()}
    data["type_prediction_recall"] = (
        "solution_type",
        np.full(len(labels), np.nan) if recall is None else np.asarray(recall, dtype=float),
        {"long_name": "cross-validated recall per type", "units": "1"},
    )
    data["type_prediction_coefficient"] = (
        "neural_feature",
        np.full(len(names), np.nan) if weight is None else weight,
        {
            "long_name": "mean over types of |coefficient| of the standardised feature, "
            "logistic regression fitted on every network"
        },
    )
    return xr.Dataset(
        data,
        coords={
            "solution_type": ("solution_type", np.array(labels, dtype=str)),
            "neural_feature": ("neural_feature", np.array(names, dtype=str)),
        },
        attrs={
            **{f"type_prediction_{k}": v for k, v in params.to_dict().items()},
            **reason_attrs,
        },
    )


def predict_types(
    features: xr.DataArray | xr.Dataset,
    types: Sequence[str] | np.ndarray | xr.DataArray,
    keys: Sequence[str] | np.ndarray | None = None,
    params: TypePredictionParams | None = None,
) -> xr.Dataset:
    """Cross-validated prediction of the solution type from training features.

    Parameters
    ----------
    features : DataArray (network, feature) or Dataset
        One row per network. A DataArray's second dimension is the feature dimension,
        whatever its name (``neural_feature``, or the summary's ``training_feature``),
        its coordinate the feature names; a Dataset gives one feature per data variable
        along ``network``, named after it. Non-finite values leave the network out.
    types : one solution type per network, in the order of ``network``
        ``""``: not typed (ignored, not counted); ``"other"``: no type of its own (left
        out, counted in ``type_prediction_n_other``).
    keys : one unique key per network (sorted to fix the order of the folds)
        Default: the ``network_key`` coordinate of ``features``, else ``network``.
    params : hyperparameters, default :class:`TypePredictionParams` ()

    Returns
    -------
    xarray.Dataset
        Scalars: ``type_prediction_accuracy`` (cross-validated accuracy),
        ``type_prediction_baseline`` (share of the most common type among the networks
        predicted), ``type_prediction_n_splits`` (folds), ``type_prediction_n_networks``,
        ``type_prediction_n_types``, and the networks left out:
        ``type_prediction_n_other``, ``type_prediction_n_missing_features``,
        ``type_prediction_n_dropped_networks`` (of the ``type_prediction_n_dropped_types``
        types with fewer than ``min_members`` networks) and their sum
        ``type_prediction_n_left_out``. ``type_prediction_recall`` along
        ``solution_type`` (the types kept, sorted): the cross-validated recall of each;
        ``type_prediction_coefficient`` along ``neural_feature`` (the input's feature
        names): the mean over types of the absolute standardised coefficient of a fit on
        every network predicted. The attributes hold the hyperparameters
        (``type_prediction_<name>``). Where there are fewer than two types with
        ``min_members`` networks, or fewer than ``min_networks`` networks, accuracy,
        baseline, recall and coefficients are NaN and the attribute
        ``type_prediction_reason`` (on the dataset and on the accuracy) says why.

    Raises
    ------
    ValueError
        Where features, types and keys differ in length, or keys repeat.
    """
    params = params or TypePredictionParams()
    x, names, table = _as_table(features)
    types = np.asarray(types).astype(str).reshape(-1)
    keys = _network_keys(table, len(x)) if keys is None else np.asarray(keys).astype(str)
    if not (len(x) == len(types) == len(keys)):
        raise ValueError(f"{len(x)} feature rows, {len(types)} types and {len(keys)} keys")
    if len(set(keys.tolist())) != len(keys):
        raise ValueError("network keys must be unique")
    finite = np.isfinite(x).all(axis=1)
    typed = (types != "") & (types != OTHER)
    usable = typed & finite
    sizes = Counter(types[usable].tolist())
    kept = sorted(t for t, c in sizes.items() if c >= params.min_members)
    chosen = usable & np.isin(types, kept)
    counts = {
        "networks": int(chosen.sum()),
        "other": int((types == OTHER).sum()),
        "missing": int((typed & ~finite).sum()),
        "dropped_types": len(sizes) - len(kept),
        "dropped_networks": int((usable & ~chosen).sum()),
    }
    if len(kept) < 2:
        return _result(
            names,
            kept,
            counts,
            params,
            reason=f"{len(kept)} type(s) with at least {params.min_members} typed networks "
            "with finite features: nothing to tell apart",
        )
    if counts["networks"] < params.min_networks:
        return _result(
            names,
            kept,
            counts,
            params,
            reason=f"only {counts['networks']} typed networks with finite features "
            f"(fewer than min_networks = {params.min_networks})",
        )
    order = np.flatnonzero(chosen)[np.argsort(keys[chosen], kind="stable")]
    xs, ys = x[order], types[order]
    n_splits = min(params.max_splits, min(Counter(ys.tolist()).values()))
    model = make_pipeline(
        StandardScaler(),
        LogisticRegression(C=params.C, max_iter=params.max_iter, random_state=params.random_state),
    )
    folds = StratifiedKFold(n_splits=n_splits, shuffle=True, random_state=params.random_state)
    predicted = cross_val_predict(model, xs, ys, cv=folds)
    recall = recall_score(ys, predicted, labels=kept, average=None, zero_division=0)
    fitted = model.fit(xs, ys)
    return _result(
        names,
        kept,
        counts,
        params,
        accuracy=float(np.mean(predicted == ys)),
        baseline=Counter(ys.tolist()).most_common(1)[0][1] / len(ys),
        n_splits=n_splits,
        recall=recall,
        weight=np.abs(fitted[-1].coef_).mean(axis=0),
    )
