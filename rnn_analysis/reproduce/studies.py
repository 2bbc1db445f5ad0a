"""The claims of each study, measured on a finished run.

Each study is registered under the name of its preset (``config/<name>.yaml``; the
``_small`` variants share the claims) and maps the run's aggregates to
:class:`~rnn_analysis.reproduce.verdicts.Finding` rows, one per claim and task (or
subset of a task). Where the study gave a figure it is the reference of a rate verdict;
where it showed a claim qualitatively (an MDS plot, a topology figure) the verdict rule
of :mod:`rnn_analysis.reproduce.verdicts` says what our figure must show.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
from sklearn.metrics import adjusted_rand_score

from rnn_analysis.aggregate.behaviour_types import OTHER
from rnn_analysis.aggregate.rates import population_rate
from rnn_analysis.registry import Registry
from rnn_analysis.reproduce.results import RunResults, subset_factors
from rnn_analysis.reproduce.verdicts import (
    NOT_ASSESSABLE,
    NOT_REPRODUCED,
    REPRODUCED,
    Finding,
    VerdictParams,
    comparison_finding,
    not_assessable,
    rate_finding,
    separation_finding,
    shared_finding,
)

Study = Callable[[RunResults, VerdictParams], list[Finding]]
STUDIES: Registry[Study] = Registry("study")

GEOMETRY = ("svcca", "cca")
TOPOLOGY = ("topology", "neighbour_signature")


def _converged_rate(results: RunResults, task: str, column: str, where=None):
    summary = results.summary(task)
    if summary is None or column not in summary:
        return None
    keep = summary["status"].values.astype(str) == "converged"
    if where is not None:
        keep &= where(summary)
    return population_rate(summary[column].values.astype(bool)[keep])


def _rate_claim(
    results: RunResults,
    params: VerdictParams,
    claim: str,
    study: str,
    task: str,
    column: str,
    figure: float,
) -> Finding:
    if task not in results.tasks:
        return not_assessable(claim, study, task, f"task {task} not in this run")
    rate = _converged_rate(results, task, column)
    if rate is None:
        return not_assessable(claim, study, task, f"summary has no {column}")
    return rate_finding(claim, study, task, rate, figure, params)


@STUDIES.register("universality")
def universality(results: RunResults, params: VerdictParams) -> list[Finding]:
    """Maheswaranathan et al. 2019, on flip-flop, sine and CDI."""
    out = []
    for task in ("flipflop", "sine", "cdi"):
        factors = results.factors(task) if task in results.tasks else None
        for metric in GEOMETRY:
            out.append(
                separation_finding(
                    "geometry separates architectures",
                    "networks cluster by architecture in the MDS of SVCCA/CCA distances",
                    task,
                    factors,
                    metric,
                    "architecture",
                    params,
                )
            )
        out.append(
            shared_finding(
                "topology is shared across architectures",
                "the same fixed-point topology in every architecture",
                task,
                factors,
                "topology",
                "architecture",
                params,
            )
        )
        for metric in GEOMETRY:
            out.append(
                comparison_finding(
                    "geometry separates architectures more than topology does",
                    "individual geometry, universal topology",
                    task,
                    factors,
                    metric,
                    "topology",
                    "architecture",
                )
            )
        out.append(
            shared_finding(
                "linearised dynamics are shared across architectures",
                "similar eigenvalue spectra at matched fixed points",
                task,
                factors,
                "linearisation",
                "architecture",
                params,
            )
        )
    out.append(
        _rate_claim(
            results,
            params,
            "flip-flop: 8 stable fixed points at the corners of the output cube",
            "every network (>= 95%)",
            "flipflop",
            "known_corner_attractors",
            0.95,
        )
    )
    out.append(
        _rate_claim(
            results,
            params,
            "CDI: an approximate line attractor in each context",
            "every network (>= 90%)",
            "cdi",
            "known_line_attractor_every_context",
            0.90,
        )
    )
    out.append(
        _rate_claim(
            results,
            params,
            "CDI: the slow mode selects the context's relevant input (selection vectors)",
            "in every architecture (qualitative; >= 90% taken as reference)",
            "cdi",
            "selects_relevant_input",
            0.90,
        )
    )
    out.append(
        _rate_claim(
            results,
            params,
            "sine: a limit cycle at the cued frequency under every cue",
            "every network (>= 90%)",
            "sine",
            "known_cycles_at_cued_frequency",
            0.90,
        )
    )
    return out


def _by_contexts(results: RunResults, task: str) -> list[tuple[str, np.ndarray | None]]:
    """(scope, mask along the similarity's networks) per number of contexts (one scope
    for the whole task where the sweep has no ``n_contexts`` axis)."""
    similarity = results.similarity(task)
    if similarity is None or "n_contexts" not in similarity.coords:
        return [(task, None)]
    values = similarity["n_contexts"].values
    levels = sorted({float(v) for v in values if np.isfinite(v)})
    return [(f"{task}, n_contexts={level:g}", values == level) for level in levels]


@STUDIES.register("learning_rules")
def learning_rules(results: RunResults, params: VerdictParams) -> list[Finding]:
    """McMahan, Kleinman & Kao 2021, on the decision task and context-dependent integration."""
    out = []
    for task in ("rdm", "cdi"):
        factors = results.factors(task) if task in results.tasks else None
        for metric in GEOMETRY:
            out.append(
                separation_finding(
                    "geometry separates learning rules",
                    "representations differ by learning rule (CCA/SVCCA MDS)",
                    task,
                    factors,
                    metric,
                    "learning_rule",
                    params,
                )
            )
    claim = "topology is invariant to the learning rule (N >= 2 contexts)"
    study = "the same fixed-point topology for every rule"
    if "cdi" not in results.tasks:
        out.append(not_assessable(claim, study, "cdi", "task cdi not in this run"))
    else:
        for scope, keep in _by_contexts(results, "cdi"):
            if keep is None:
                factors = results.factors("cdi")
            else:
                factors = subset_factors(
                    results.similarity("cdi"), keep, TOPOLOGY, ["learning_rule"]
                )
            for metric in TOPOLOGY:
                out.append(
                    shared_finding(claim, study, scope, factors, metric, "learning_rule", params)
                )
    for metric in TOPOLOGY:
        out.append(
            separation_finding(
                "decision-task topology depends on input noise",
                "fixed-point topology changes with the noise level",
                "rdm",
                results.factors("rdm") if "rdm" in results.tasks else None,
                metric,
                "noise",
                params,
            )
        )
    summary = results.summary("cdi") if "cdi" in results.tasks else None
    rules = sorted(set(summary["learning_rule"].values.astype(str))) if summary is not None else []
    for rule in rules or ["(any)"]:
        claim = "CDI: a line attractor in each context, for every learning rule"
        study = "every rule (>= 90%)"
        rate = _converged_rate(
            results,
            "cdi",
            "known_line_attractor_every_context",
            lambda s, rule=rule: s["learning_rule"].values.astype(str) == rule,
        )
        if rate is None:
            out.append(not_assessable(claim, study, f"cdi, {rule}", "no CDI summary"))
        else:
            out.append(rate_finding(claim, study, f"cdi, {rule}", rate, 0.90, params))
    return out


def _handful(results: RunResults, task: str, params: VerdictParams) -> Finding:
    claim = "a handful of solution types per task"
    study = "a few reduced-dynamics graph types cover most networks"
    summary = results.summary(task) if task in results.tasks else None
    if summary is None or "solution_type" not in summary:
        return not_assessable(claim, study, task, "no solution types in this run")
    types = summary["solution_type"].values.astype(str)
    typed = types[types != ""]
    named = sorted(set(typed) - {OTHER})
    coverage = float(np.isin(typed, named).mean()) if len(typed) else float("nan")
    measured = (
        f"{len(named)} type(s) cover {coverage:.0%} of {len(typed)} typed networks "
        f"({summary.attrs.get('solution_space_n_classes', '?')} graph classes)"
    )
    rule = (
        f"2..{params.max_types} types cover >= {params.min_coverage:.0%} of "
        f">= {params.min_typed} networks"
    )
    if len(typed) < params.min_typed:
        verdict = NOT_ASSESSABLE
    elif 2 <= len(named) <= params.max_types and coverage >= params.min_coverage:
        verdict = REPRODUCED
    else:
        verdict = NOT_REPRODUCED
    return Finding(claim, study, task, measured, verdict, rule, float(len(named)))


def agreement_test(
    a: np.ndarray, b: np.ndarray, permutations: int, seed: int
) -> tuple[float, float, int]:
    """Adjusted Rand index of two typings over networks typed in both (not ``other``), and
    its permutation p-value (``(1 + #{ARI_perm >= ARI}) / (1 + permutations)``); NaN where
    either side has a single type."""
    a, b = np.asarray(a, dtype=str), np.asarray(b, dtype=str)
    keep = (a != "") & (a != OTHER) & (b != "") & (b != OTHER)
    a, b = a[keep], b[keep]
    if len(a) < 2 or len(set(a)) < 2 or len(set(b)) < 2:
        return float("nan"), float("nan"), int(len(a))
    observed = adjusted_rand_score(a, b)
    rng = np.random.default_rng(seed)
    null = np.array([adjusted_rand_score(a, rng.permutation(b)) for _ in range(permutations)])
    p = (1 + int((null >= observed - 1e-12).sum())) / (1 + permutations)
    return float(observed), float(p), int(len(a))


def _agreement(results: RunResults, task: str, params: VerdictParams) -> Finding:
    claim = "solution types are visible in extrapolation (graph and behaviour types agree)"
    study = "types of the reduced-dynamics graph predict extrapolation behaviour"
    summary = results.summary(task) if task in results.tasks else None
    if summary is None or "behaviour_type" not in summary:
        return not_assessable(claim, study, task, "no solution or behaviour types in this run")
    ari, p, n = agreement_test(
        summary["solution_type"].values,
        summary["behaviour_type"].values,
        params.permutations,
        params.seed,
    )
    rule = f"ARI > 0 at permutation p < {params.alpha:g}"
    if not np.isfinite(ari):
        return Finding(
            claim,
            study,
            task,
            f"undefined over {n} networks: a single graph or behaviour type",
            NOT_ASSESSABLE,
            rule,
        )
    verdict = REPRODUCED if ari > 0 and p < params.alpha else NOT_REPRODUCED
    return Finding(
        claim, study, task, f"ARI {ari:.2f} (p = {p:.3f}) over {n} networks", verdict, rule, ari
    )


@STUDIES.register("space_of_solutions")
def space_of_solutions(results: RunResults, params: VerdictParams) -> list[Finding]:
    """Turner, Dabholkar & Barak 2021, on the three timing tasks."""
    out = []
    for task in ("delayed_discrimination", "interval_discrimination", "time_reproduction"):
        out.append(_handful(results, task, params))
        out.append(_agreement(results, task, params))
    return out
