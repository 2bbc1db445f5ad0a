"""Hyperparameters of the per-network analysis, in one place."""

from __future__ import annotations

from dataclasses import dataclass, field

from rnn_analysis.analysis.attractors import AttractorParams
from rnn_analysis.analysis.fixed_points import FixedPointParams
from rnn_analysis.analysis.reduced_graph import ReducedGraphParams
from rnn_analysis.analysis.selection_summary import UnstablePoints
from rnn_analysis.analysis.topology import TopologyParams
from rnn_analysis.hyperparameters import Hyperparameters


@dataclass(frozen=True)
class AnalysisParams(Hyperparameters):
    """Options of the ``analyze`` step.

    Attributes
    ----------
    evaluation_trials : int, default 2000
        Fresh trials for the noisy and the noise-free evaluation.
    psychometric_repeats : int, default 200
        Noisy repeats (at the network's input noise) of every condition of a decision
        task's psychometric set.
    fixed_points : FixedPointParams
        The fixed-point finder's hyperparameters (see its docstring for defaults).
    attractors : AttractorParams
        Attractor structure: line attractors, oscillations, limit cycles (see its
        docstring for defaults).
    topology : TopologyParams
        The topology graph's hyperparameters (see its docstring for defaults).
    reduced_graph : ReducedGraphParams
        The reduced-dynamics graph's hyperparameters (see its docstring for defaults).
    reduced_graph_tasks : tuple of str, default ("delayed_discrimination",
        "interval_discrimination", "time_reproduction")
        Tasks whose networks get a reduced-dynamics graph and a solution type (the
        space-of-solutions study's tasks; every task named must have input pulses).
    selection_vectors : bool, default True
        For tasks with context inputs (``cdi``), the slow mode and the selection vector
        at the fixed and slow points, and their per-network summary: how strongly each
        context's selection vector picks its relevant sensory channel over the others
        (:func:`~rnn_analysis.analysis.selection_summary.context_selection`). Tasks
        without a context cue (``rdm``, ``multisensory``, the others) get none.
    selection_unstable_points : {"none", "weak", "all"}, default "weak"
        Fixed points with unstable modes that get a selection vector besides the stable
        fixed points and the slow points: none; the weakly unstable ones, whose single
        unstable mode has ``|λ| ≤ 1 + attractors.line_tolerance`` (points along an
        approximate line attractor, whose only unstable mode is a slow one); or all
        (also the saddles between decision attractors, whose mode closest to 1 is not an
        integration mode).
    """

    evaluation_trials: int = 2000
    psychometric_repeats: int = 200
    fixed_points: FixedPointParams = field(default_factory=FixedPointParams)
    attractors: AttractorParams = field(default_factory=AttractorParams)
    topology: TopologyParams = field(default_factory=TopologyParams)
    reduced_graph: ReducedGraphParams = field(default_factory=ReducedGraphParams)
    reduced_graph_tasks: tuple[str, ...] = (
        "delayed_discrimination",
        "interval_discrimination",
        "time_reproduction",
    )
    selection_vectors: bool = True
    selection_unstable_points: UnstablePoints = "weak"

    def __post_init__(self) -> None:
        if self.evaluation_trials < 1:
            raise ValueError(f"evaluation_trials must be >= 1, got {self.evaluation_trials}")
        from rnn_analysis.tasks import TASKS

        for name in self.reduced_graph_tasks:
            if name not in TASKS:
                raise ValueError(
                    f"reduced_graph_tasks names an unknown task {name!r}; "
                    f"known: {', '.join(TASKS.names())}"
                )
            if TASKS[name]().input_pulses() is None:
                raise ValueError(
                    f"reduced_graph_tasks: task {name!r} has no input pulses, so no "
                    "reduced-dynamics graph"
                )
        if self.psychometric_repeats < 1:
            raise ValueError(f"psychometric_repeats must be >= 1, got {self.psychometric_repeats}")
