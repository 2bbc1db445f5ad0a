"""Options of the per-task comparison (config section ``aggregate``)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from rnn_analysis.aggregate.behaviour_types import BehaviourTypeParams
from rnn_analysis.aggregate.solution_types import SolutionTypeParams
from rnn_analysis.aggregate.type_prediction import TypePredictionParams
from rnn_analysis.hyperparameters import Hyperparameters


@dataclass(frozen=True)
class AggregateParams(Hyperparameters):
    """Options of the per-task comparison.

    Attributes
    ----------
    metrics : list of str, default ["cca", "svcca", "cka", "procrustes", "dsa", "topology", \
"fixed_point_signature"]
        Distances computed between every pair of networks (names in
        :data:`rnn_analysis.similarity.METRICS`): geometry (CCA, SVCCA, linear CKA, angular
        Procrustes), dynamics (DSA) and topology (topology-graph edit distance,
        fixed-point signature).
    metric_options : mapping, default {}
        Hyperparameters per metric, e.g. ``{svcca: {variance_fraction: 0.99}}``; a metric
        not named takes the defaults documented in its class.
    include_diverged : bool, default False
        Keep diverged networks in the similarity matrices (they are always in the summary).
    include_not_converged : bool, default False
        Keep networks that did not reach the criterion in the similarity matrices, MDS,
        factor summary and solution types (they are always in the summary).
    include_trivial : bool, default False
        Keep networks that met the criterion before training (status ``trivial``) there.
    device : {"auto", "cpu", "cuda"}, default "auto"
        Where the batched pair computations run; "auto" uses a GPU when the job has one.
    tile_networks : int, default 500
        Networks per block of a task's pairwise comparison. A task of more networks is
        compared in tiles, one job per pair of blocks (``aggregate_block`` prepares each
        block once, ``aggregate_tile`` compares two blocks, ``aggregate`` merges the
        tiles); with at most this many networks the ``aggregate`` job compares them
        itself. Changing it reruns the comparison, not the analyses.
    factor_dtype : {"float32", "float64"}, default "float32"
        Precision in which each network's factorisation for the geometry metrics (CCA,
        SVCCA, CKA, Procrustes) is stored and multiplied; distances agree with float64
        to 1e-5 (see :mod:`rnn_analysis.similarity.factorisation`).
    factors : list of str, default ["architecture", "learning_rule", "noise"] and the extra axes
        Grid axes whose separation of the networks the factor summary measures (and
        that colour the MDS figures). Left out of the config, every extra axis of
        ``grid.axes`` is added to the default; named, exactly those (cell axes, ``seed``
        or extra axes).
    bootstrap_samples : int, default 1000
        Resamplings of the networks for the factor summary's confidence intervals.
    confidence : float, default 0.95
        Level of those (percentile) intervals.
    bootstrap_seed : int, default 0
    solution_types : SolutionTypeParams
        How isomorphism classes of the reduced-dynamics graphs of converged networks are
        grouped into solution types (merge near-duplicates, ``other`` for small groups;
        see its docstring for the defaults).
    behaviour_types : BehaviourTypeParams
        How extrapolation profiles are clustered into behaviour types (see its
        docstring for the defaults).
    type_prediction : TypePredictionParams
        The cross-validated classifier from training features to solution type (see
        its docstring for the defaults).
    """

    metrics: tuple[str, ...] = (
        "cca",
        "svcca",
        "cka",
        "procrustes",
        "dsa",
        "topology",
        "fixed_point_signature",
    )
    metric_options: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)
    include_diverged: bool = False
    include_not_converged: bool = False
    include_trivial: bool = False
    device: str = "auto"
    tile_networks: int = 500
    factor_dtype: str = "float32"
    factors: tuple[str, ...] = ("architecture", "learning_rule", "noise")
    bootstrap_samples: int = 1000
    confidence: float = 0.95
    bootstrap_seed: int = 0
    solution_types: SolutionTypeParams = field(default_factory=SolutionTypeParams)
    behaviour_types: BehaviourTypeParams = field(default_factory=BehaviourTypeParams)
    type_prediction: TypePredictionParams = field(default_factory=TypePredictionParams)

    def __post_init__(self) -> None:
        if len(set(self.metrics)) != len(self.metrics):
            raise ValueError(f"metrics: repeated names in {list(self.metrics)!r}")
        if self.device not in ("auto", "cpu", "cuda"):
            raise ValueError(f"device must be auto, cpu or cuda, got {self.device!r}")
        if isinstance(self.tile_networks, bool) or self.tile_networks < 2:
            raise ValueError(f"tile_networks must be an integer >= 2, got {self.tile_networks!r}")
        if self.factor_dtype not in ("float32", "float64"):
            raise ValueError(f"factor_dtype must be float32 or float64, got {self.factor_dtype!r}")
        for factor in self.factors:
            if not isinstance(factor, str) or not factor.isidentifier():
                raise ValueError(f"factors: {factor!r} is not the name of a grid axis")
        if self.bootstrap_samples < 1:
            raise ValueError(f"bootstrap_samples must be >= 1, got {self.bootstrap_samples}")
        if not 0.0 < self.confidence < 1.0:
            raise ValueError(f"confidence must be in (0, 1), got {self.confidence}")
        if not isinstance(self.metric_options, Mapping):
            raise ValueError(f"metric_options must be a mapping, got {self.metric_options!r}")
        for name, options in self.metric_options.items():
            if name not in self.metrics:
                raise ValueError(
                    f"metric_options.{name}: {name!r} is not one of the metrics "
                    f"{list(self.metrics)!r}"
                )
            if not isinstance(options, Mapping):
                raise ValueError(f"metric_options.{name}: expected a mapping, got {options!r}")

    def includes(self, status: str) -> bool:
        """Whether networks of training ``status`` enter the comparisons (similarity
        matrices, MDS, factor summary, solution types). Converged networks always do,
        failed ones never (they have no analysis)."""
        return {
            "converged": True,
            "not_converged": self.include_not_converged,
            "diverged": self.include_diverged,
            "trivial": self.include_trivial,
        }.get(status, False)

    def metric(self, name: str) -> Any:
        """The metric ``name`` with its configured options."""
        from rnn_analysis.similarity import get_metric

        return get_metric(name, **dict(self.metric_options.get(name, {})))
