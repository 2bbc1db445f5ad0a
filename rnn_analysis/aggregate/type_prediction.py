"""What predicts a network's solution type: neural features recorded during training.

Each network's ``training.nc`` holds ``neural_features`` along ``feature_update``
(:mod:`rnn_analysis.training.features`). :func:`training_features` reduces them to one
row per network: every feature at initialisation (``<name>_init``), at the end of
training (``<name>_final``) and its change (``<name>_change``). :func:`predict_types`
fits a cross-validated classifier from those rows to the solution type and reports its
accuracy against the majority-class baseline:

1. Networks without a type (``""``), of type ``"other"``, or with a non-finite feature
   are left out (counted); so are types with fewer than ``min_members`` networks.
2. The networks are sorted by their key, so the folds do not depend on their order.
3. A scikit-learn pipeline (standardisation, then multinomial logistic regression with
   inverse regularisation ``C``) is scored by stratified K-fold cross-validation,
   K = min(``max_splits``, the size of the smallest type), without shuffling.
4. The baseline is the accuracy of always answering the most common type.
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

__all__ = ["TypePredictionParams", "predict_types", "training_features"]


@dataclass(frozen=True)
class TypePredictionParams(Hyperparameters):
    """The classifier from training features to solution type.

    Attributes
    ----------
    max_splits : int, default 5
        Largest number of cross-validation folds.
    min_members : int, default 2
        Types with fewer networks are left out of the prediction.
    C : float, default 1.0
        Inverse regularisation strength of the logistic regression.
    max_iter : int, default 1000
        Iterations of its solver.
    """

    max_splits: int = 5
    min_members: int = 2
    C: float = 1.0
    max_iter: int = 1000

    def __post_init__(self) -> None:
        if self.max_splits < 2:
            raise ValueError(f"max_splits must be >= 2, got {self.max_splits}")
        if self.min_members < 2:
            raise ValueError(f"min_members must be >= 2, got {self.min_members}")
        if not self.C > 0:
            raise ValueError(f"C must be > 0, got {self.C}")
        if self.max_iter < 1:
            raise ValueError(f"max_iter must be >= 1, got {self.max_iter}")


def training_features(path: str | Path) -> dict[str, float]:
    """One network's features at initialisation, at the end, and their change.

    Reads ``neural_features`` of the ``training.nc`` at ``path``; an absent file or a
    file without features gives an empty mapping.
    """
    path = Path(path)
    if not path.is_file():
        return {}
    with xr.open_dataset(path) as curve:
        if "neural_features" not in curve:
            return {}
        features = curve["neural_features"].load()
    out: dict[str, float] = {}
    for name in features["neural_feature"].values.astype(str):
        values = features.sel(neural_feature=name).values
        finite = np.flatnonzero(np.isfinite(values))
        init = float(values[0]) if features["feature_update"].values[0] == 0 else np.nan
        final = float(values[finite[-1]]) if finite.size else np.nan
        out[f"{name}_init"] = init
        out[f"{name}_final"] = final
        out[f"{name}_change"] = final - init
    return out


def _nan_result(reason: str, n: int, baseline: float = np.nan) -> xr.Dataset:
    attrs = {"type_prediction_reason": reason}
    return xr.Dataset(
        {
            "type_prediction_accuracy": (
                (),
                np.nan,
                {"long_name": "cross-validated accuracy", **attrs},
            ),
            "type_prediction_baseline": ((), baseline, {"long_name": "majority-class accuracy"}),
            "type_prediction_n_networks": ((), n, {"long_name": "networks predicted"}),
            "type_prediction_n_types": ((), 0, {"long_name": "types predicted"}),
        },
        attrs=attrs,
    )


def predict_types(
    features: xr.DataArray,
    types: Sequence[str],
    keys: Sequence[str],
    params: TypePredictionParams | None = None,
) -> xr.Dataset:
    """Cross-validated prediction of the solution type from training features.

    Parameters
    ----------
    features : DataArray (network, training_feature)
        One row per network, the feature names as ``training_feature`` coordinate.
    types : the networks' solution types ("" or "other": left out)
    keys : the networks' keys (the order of the folds)
    params : classifier hyperparameters (defaults: :class:`TypePredictionParams`)

    Returns
    -------
    xarray.Dataset
        Scalars ``type_prediction_accuracy`` (cross-validated), ``type_prediction_baseline``
        (majority class), ``type_prediction_n_networks``, ``type_prediction_n_types``,
        ``type_prediction_n_left_out``; ``type_prediction_recall`` along
        ``predicted_type``; ``type_prediction_weight`` (mean |standardised coefficient|
        of a fit on every network) along ``training_feature``. Where no prediction is
        possible (fewer than two types with ``min_members`` networks) the accuracy is
        NaN and ``type_prediction_reason`` says why.
    """
    params = params or TypePredictionParams()
    x = np.asarray(features.values, dtype=np.float64)
    types = np.asarray(types, dtype=str)
    keys = np.asarray(keys, dtype=str)
    if not (len(x) == len(types) == len(keys)):
        raise ValueError(f"{len(x)} feature rows, {len(types)} types and {len(keys)} keys")
    usable = (
        (types != "") & (types != OTHER) & np.isfinite(x).all(axis=1) if x.size else types != ""
    )
    counts = Counter(types[usable].tolist())
    kept = {t for t, c in counts.items() if c >= params.min_members}
    chosen = usable & np.isin(types, list(kept))
    left_out = int((types != "").sum() - chosen.sum())
    if len(kept) < 2:
        return _nan_result(
            f"{len(kept)} type(s) with at least {params.min_members} networks with features",
            int(chosen.sum()),
        )
    order = np.flatnonzero(chosen)[np.argsort(keys[chosen], kind="stable")]
    xs, ys = x[order], types[order]
    splits = min(params.max_splits, min(Counter(ys.tolist()).values()))
    model = make_pipeline(
        StandardScaler(),
        LogisticRegression(C=params.C, max_iter=params.max_iter),
    )
    predicted = cross_val_predict(model, xs, ys, cv=StratifiedKFold(n_splits=splits))
    accuracy = float(np.mean(predicted == ys))
    majority = Counter(ys.tolist()).most_common(1)[0][1] / len(ys)
    labels = sorted(kept)
    recall = recall_score(ys, predicted, labels=labels, average=None, zero_division=0)
    fitted = model.fit(xs, ys)
    weight = np.abs(fitted[-1].coef_).mean(axis=0)
    dim = features.dims[1]
    return xr.Dataset(
        {
            "type_prediction_accuracy": (
                (),
                accuracy,
                {"long_name": f"cross-validated accuracy ({splits} folds)", "units": "1"},
            ),
            "type_prediction_baseline": (
                (),
                float(majority),
                {"long_name": "accuracy of always answering the most common type", "units": "1"},
            ),
            "type_prediction_n_networks": ((), len(ys), {"long_name": "networks predicted"}),
            "type_prediction_n_types": ((), len(labels), {"long_name": "types predicted"}),
            "type_prediction_n_left_out": (
                (),
                left_out,
                {"long_name": "typed networks left out (other, rare type, missing features)"},
            ),
            "type_prediction_recall": (
                "predicted_type",
                np.asarray(recall, dtype=np.float64),
                {"long_name": "cross-validated recall per type", "units": "1"},
            ),
            "type_prediction_weight": (
                dim,
                weight,
                {"long_name": "mean |standardised coefficient| of a fit on every network"},
            ),
        },
        coords={"predicted_type": labels, dim: features[dim].values},
        attrs={f"type_prediction_{k}": v for k, v in params.to_dict().items()},
    )
