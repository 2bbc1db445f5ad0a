"""Which report figures a task gets, and which networks the fixed-point figure shows.

Nothing here imports matplotlib: the workflow calls these functions while it is parsed.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from rnn_analysis.config import Network
from rnn_analysis.hyperparameters import Hyperparameters
from rnn_analysis.tasks import TASKS

#: Order in which example networks are preferred by training status.
EXAMPLE_STATUS_PREFERENCE = ("converged", "not_converged", "diverged", "failed")


def has_psychometric_set(task: str, params: Hyperparameters | None = None) -> bool:
    """Whether the task ``task`` (with ``params``) defines a psychometric set."""
    cls = TASKS[task]
    return cls(params if params is not None else cls.Params()).psychometric_set() is not None


def example_candidates(networks: Sequence[Network]) -> list[Network]:
    """Networks from which the fixed-point figure picks its examples.

    Per architecture × learning rule: every seed at the lowest noise level of that
    combination. :func:`choose_examples` picks one of them per combination once their
    training statuses are known.
    """
    lowest: dict[tuple[str, str], float] = {}
    for net in networks:
        key = (net.architecture, net.learning_rule)
        lowest[key] = min(lowest.get(key, net.noise), net.noise)
    return sorted(n for n in networks if n.noise == lowest[(n.architecture, n.learning_rule)])


def choose_examples(candidates: Sequence[Mapping[str, Any]]) -> list[Mapping[str, Any]]:
    """One example network per architecture × learning rule.

    Parameters
    ----------
    candidates
        Label mappings with at least ``architecture``, ``learning_rule``, ``noise``,
        ``seed`` and ``status`` (e.g. the attributes of analysis datasets).

    Returns
    -------
    list of mapping
        Per combination (sorted by architecture, then rule), the candidate at the
        lowest noise level with the best status (converged, then did not converge,
        then diverged, then failed) and, among those, the lowest seed.
    """
    best: dict[tuple[str, str], tuple[tuple[float, int, int], Mapping[str, Any]]] = {}
    for labels in candidates:
        for key in ("architecture", "learning_rule", "noise", "seed", "status"):
            if key not in labels:
                raise KeyError(f"example candidate {dict(labels)!r} has no {key!r} label")
        status = str(labels["status"])
        rank = (
            EXAMPLE_STATUS_PREFERENCE.index(status)
            if status in EXAMPLE_STATUS_PREFERENCE
            else len(EXAMPLE_STATUS_PREFERENCE)
        )
        order = (float(labels["noise"]), rank, int(labels["seed"]))
        cell = (str(labels["architecture"]), str(labels["learning_rule"]))
        if cell not in best or order < best[cell][0]:
            best[cell] = (order, labels)
    return [best[cell][1] for cell in sorted(best)]
