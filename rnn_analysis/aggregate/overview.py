"""What a reader looks at first after a sweep: statuses, fixed points, similarity structure."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import xarray as xr

from rnn_analysis.aggregate.factors import factor_table
from rnn_analysis.aggregate.rates import rate_table


def fixed_point_table(summary: xr.Dataset) -> list[str]:
    """Statuses and stable fixed points (converged networks) per architecture × learning rule."""
    lines = [
        f"{'architecture':<14}{'rule':<9}{'networks':>9}{'converged':>10}{'not conv.':>10}"
        f"{'trivial':>8}{'diverged':>9}{'failed':>7}"
        f"{'stable FPs (converged: mean ± sd, range)':>44}"
    ]
    cells = sorted(
        {
            (str(a), str(r))
            for a, r in zip(
                summary["architecture"].values, summary["learning_rule"].values, strict=True
            )
        }
    )
    for arch, rule in cells:
        keep = (summary["architecture"] == arch) & (summary["learning_rule"] == rule)
        sub = summary.where(keep, drop=True)
        status = sub["status"].values
        ok = (status == "converged") & (sub["n_stable"].values >= 0)
        stable = sub["n_stable"].values[ok]
        stats = (
            f"{stable.mean():.2f} ± {stable.std():.2f}  [{int(stable.min())}, {int(stable.max())}]"
            if stable.size
            else "—"
        )
        lines.append(
            f"{arch:<14}{rule:<9}{status.size:>9}{int((status == 'converged').sum()):>10}"
            f"{int((status == 'not_converged').sum()):>10}{int((status == 'trivial').sum()):>8}"
            f"{int((status == 'diverged').sum()):>9}"
            f"{int((status == 'failed').sum()):>7}"
            f"{stats:>44}"
        )
    return lines


def known_result_table(summary: xr.Dataset) -> list[str]:
    """Each known result of the task as a rate over the converged networks of every
    architecture × learning rule, with its Clopper–Pearson interval; empty without any."""
    columns = [str(name) for name in summary.data_vars if str(name).startswith("known_")]
    lines = []
    for column in columns:
        lines += ["", f"{summary[column].attrs.get('long_name', column)}:"]
        lines.append(f"  {'architecture':<14}{'rule':<9}converged networks that show it")
        for (arch, rule), rate in rate_table(summary, column).items():
            lines.append(f"  {arch:<14}{rule:<9}{rate}")
        everyone = rate_table(summary, column, by=("task",))
        for rate in everyone.values():
            lines.append(f"  {'all':<23}{rate}")
    return lines


def solution_space_table(summary: xr.Dataset, factors: xr.Dataset) -> list[str]:
    """Solution types of the converged networks per architecture, their agreement with
    the behaviour types, and how well training features predict them; empty where the
    task has no typed network."""
    types = summary["solution_type"].values.astype(str) if "solution_type" in summary else []
    typed = [t for t in types if t]
    if not typed:
        return []
    attrs = summary.attrs
    names = sorted(set(typed), key=lambda t: (t == "other", len(t), t))
    lines = [
        "",
        f"solution types of the {len(typed)} typed (converged) networks: "
        f"{attrs.get('solution_space_n_classes', '?')} graph classes, "
        f"{attrs.get('solution_space_n_types', '?')} types covering "
        f"{float(attrs.get('solution_space_type_coverage', float('nan'))):.0%}",
        f"  {'architecture':<14}" + "".join(f"{t:>8}" for t in names),
    ]
    archs = summary["architecture"].values.astype(str)
    for arch in sorted(set(archs[types != ""])):
        mine = (archs == arch) & (types != "")
        lines.append(
            f"  {arch:<14}" + "".join(f"{int((types[mine] == t).sum()):>8}" for t in names)
        )
    ari = float(attrs.get("solution_space_type_behaviour_ari", float("nan")))
    n_ari = int(attrs.get("solution_space_type_behaviour_n", 0))
    n_behaviour = attrs.get("solution_space_n_behaviour_types", "?")
    agreement = (
        f"{ari:.2f} over {n_ari} networks"
        if ari == ari
        else f"undefined over {n_ari} networks (a single type on one side, or too few)"
    )
    lines.append(
        f"  behaviour types (extrapolation profiles): {n_behaviour}; agreement with the "
        f"graph types (adjusted Rand index) {agreement}"
    )
    if "type_prediction_accuracy" in factors:
        accuracy = float(factors["type_prediction_accuracy"])
        baseline = float(factors["type_prediction_baseline"])
        n = int(factors["type_prediction_n_networks"])
        reason = factors["type_prediction_accuracy"].attrs.get("type_prediction_reason", "")
        lines.append(
            f"  type predicted from training features: cross-validated accuracy {accuracy:.2f} "
            f"vs majority baseline {baseline:.2f} over {n} networks"
            + (f" ({reason})" if reason else "")
        )
    return lines


def write_overview(
    summaries: Sequence[str | Path], factors: Sequence[str | Path], out: str | Path | None
) -> str:
    """Text overview of every task; written to ``out`` when given.

    Parameters
    ----------
    summaries, factors
        The ``summary.nc`` and ``factors.nc`` of each task (paired after sorting).
    """
    blocks = []
    for summary_path, factors_path in zip(sorted(summaries), sorted(factors), strict=True):
        with xr.open_dataset(summary_path) as summary, xr.open_dataset(factors_path) as fac:
            summary, fac = summary.load(), fac.load()
        task = summary.attrs["task"]
        lines = [f"== task {task}: {summary.sizes['network']} networks ==", ""]
        lines += fixed_point_table(summary)
        lines += known_result_table(summary)
        lines += solution_space_table(summary, fac)
        failed = summary.where(summary["status"] != "converged", drop=True)
        if failed.sizes.get("network", 0):
            lines += ["", "networks that did not converge:"]
            for key, status, reason in zip(
                failed["network_key"].values,
                failed["status"].values,
                failed["status_reason"].values,
                strict=True,
            ):
                lines.append(f"  {key}: {status} ({reason})")
        in_similarity = int(summary["in_similarity"].values.sum())
        lines += ["", f"how the grid axes separate the {in_similarity} compared networks:"]
        lines += factor_table(fac)
        blocks.append("\n".join(lines))
    text = "\n\n".join(blocks) + "\n"
    if out is not None:
        Path(out).write_text(text)
    return text
