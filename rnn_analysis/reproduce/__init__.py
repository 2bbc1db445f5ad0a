"""Reproducing a study's claims from a finished run of its preset.

``python -m rnn_analysis reproduce PRESET RESULTS`` prints, per claim of the study whose
preset (``config/<PRESET>.yaml``) produced ``RESULTS``, the claim, the study's figure,
our measured figure with its interval and a verdict (reproduced / not reproduced / not
assessable), following the rules of :mod:`rnn_analysis.reproduce.verdicts`. The same
table opens the Snakemake report of a sweep whose config names its ``study``.
"""

from __future__ import annotations

import html
from collections.abc import Sequence
from pathlib import Path

from rnn_analysis.reproduce.results import RunResults
from rnn_analysis.reproduce.studies import STUDIES
from rnn_analysis.reproduce.verdicts import VERDICTS, Finding, VerdictParams

__all__ = [
    "STUDIES",
    "Finding",
    "VerdictParams",
    "claims_html",
    "claims_markdown",
    "claims_text",
    "reproduce",
    "study_of",
]

#: Column headers of the claims table.
COLUMNS = ("claim", "scope", "study", "measured", "verdict")


def study_of(preset: str) -> str:
    """The study a preset reproduces: its name without the ``_small`` suffix
    (``universality_small`` → ``universality``)."""
    name = Path(preset).stem if preset.endswith((".yaml", ".yml")) else preset
    study = name.removesuffix("_small")
    if study not in STUDIES:
        raise KeyError(
            f"{preset!r} is not a study preset; known: "
            f"{', '.join(n + '[_small]' for n in STUDIES.names())}"
        )
    return study


def reproduce(
    preset: str, results: str | Path, params: VerdictParams | None = None
) -> list[Finding]:
    """Every claim of the study of ``preset`` measured on the run in ``results``."""
    return STUDIES[study_of(preset)](RunResults(results), params or VerdictParams())


def _rows(findings: Sequence[Finding]) -> list[tuple[str, ...]]:
    return [(f.claim, f.scope, f.study, f.measured, f.verdict) for f in findings]


def _tally(findings: Sequence[Finding]) -> str:
    counts = {v: sum(f.verdict == v for f in findings) for v in VERDICTS}
    return ", ".join(f"{n} {v}" for v, n in counts.items())


def claims_text(study: str, findings: Sequence[Finding]) -> str:
    """The claims as an aligned text table, one block per claim."""
    lines = [f"claims of the {study.replace('_', ' ')} study: {_tally(findings)}", ""]
    for claim in dict.fromkeys(f.claim for f in findings):
        mine = [f for f in findings if f.claim == claim]
        lines.append(f"{claim}  [study: {mine[0].study}]")
        width = max(len(f.scope) for f in mine)
        for f in mine:
            rule = f"  [rule: {f.rule}]" if f.rule else ""
            lines.append(f"  {f.scope:<{width}}  {f.verdict:<15} {f.measured}{rule}")
        lines.append("")
    return "\n".join(lines)


def claims_markdown(study: str, findings: Sequence[Finding]) -> str:
    """The claims as a Markdown table."""
    lines = [
        f"Claims of the {study.replace('_', ' ')} study: {_tally(findings)}.",
        "",
        "| " + " | ".join(COLUMNS) + " |",
        "|" + "---|" * len(COLUMNS),
    ]
    for row in _rows(findings):
        lines.append("| " + " | ".join(cell.replace("|", "/") for cell in row) + " |")
    return "\n".join(lines) + "\n"


def claims_html(study: str, findings: Sequence[Finding]) -> str:
    """The claims as a standalone HTML page (the first section of the report)."""
    colour = {"reproduced": "#d8f0d8", "not reproduced": "#f6d5d5", "not assessable": "#eeeeee"}
    body = "".join(
        f'<tr style="background:{colour.get(row[-1], "#fff")}">'
        + "".join(f"<td>{html.escape(cell)}</td>" for cell in row)
        + "</tr>"
        for row in _rows(findings)
    )
    head = "".join(f"<th>{c}</th>" for c in COLUMNS)
    title = f"Claims of the {study.replace('_', ' ')} study"
    return (
        "<!DOCTYPE html><html><head><meta charset='utf-8'>"
        f"<title>{html.escape(title)}</title><style>"
        "body{font-family:sans-serif;font-size:13px}"
        "table{border-collapse:collapse}td,th{border:1px solid #bbb;padding:3px 6px;"
        "text-align:left;vertical-align:top}</style></head><body>"
        f"<h2>{html.escape(title)}</h2><p>{html.escape(_tally(findings))}</p>"
        f"<table><tr>{head}</tr>{body}</table></body></html>"
    )
