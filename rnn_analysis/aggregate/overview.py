"""What a reader looks at first after a sweep: statuses, fixed points, similarity structure."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np
import xarray as xr


def fixed_point_table(summary: xr.Dataset) -> list[str]:
    """Statuses and stable fixed points (converged networks) per architecture × learning rule."""
    lines = [
        f"{'architecture':<14}{'rule':<9}{'networks':>9}{'converged':>10}{'not conv.':>10}"
        f"{'diverged':>9}{'failed':>7}"
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
            f"{int((status == 'not_converged').sum()):>10}{int((status == 'diverged').sum()):>9}"
            f"{int((status == 'failed').sum()):>7}"
            f"{stats:>44}"
        )
    return lines


def within_across(similarity: xr.Dataset, axis: str) -> list[str]:
    """Mean distance between networks that share ``axis`` vs networks that differ in it."""
    lines = []
    labels = similarity[axis].values
    labels_b = similarity[f"{axis}_b"].values
    same = labels[:, None] == labels_b[None, :]
    off_diagonal = ~np.eye(labels.size, dtype=bool)
    for name, var in similarity.data_vars.items():
        d = var.values
        within = d[same & off_diagonal]
        across = d[~same]
        w = f"{within.mean():.3f}" if within.size else "—"
        a = f"{across.mean():.3f}" if across.size else "—"
        ratio = (
            f"{across.mean() / within.mean():.2f}"
            if within.size and across.size and within.mean() > 0
            else "—"
        )
        lines.append(
            f"{name:<8} within {axis}: {w:>7}   across: {a:>7}   across/within: {ratio:>6}"
        )
    return lines


def write_overview(
    summaries: Sequence[str | Path], similarities: Sequence[str | Path], out: str | Path | None
) -> str:
    """Text overview of every task; written to ``out`` when given."""
    blocks = []
    for summary_path, similarity_path in zip(sorted(summaries), sorted(similarities), strict=True):
        with xr.open_dataset(summary_path) as summary, xr.open_dataset(similarity_path) as sim:
            summary, sim = summary.load(), sim.load()
        task = summary.attrs["task"]
        lines = [f"== task {task}: {summary.sizes['network']} networks ==", ""]
        lines += fixed_point_table(summary)
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
        lines += ["", f"similarity over {sim.sizes.get('network', 0)} networks (distances):"]
        if sim.sizes.get("network", 0) > 1:
            for axis in ("architecture", "learning_rule", "noise"):
                if np.unique(sim[axis].values).size > 1:
                    lines += within_across(sim, axis)
        blocks.append("\n".join(lines))
    text = "\n\n".join(blocks) + "\n"
    if out is not None:
        Path(out).write_text(text)
    return text
