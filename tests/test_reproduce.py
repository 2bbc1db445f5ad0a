"""`reproduce`: every verdict from hand-made aggregates, and the command line."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import xarray as xr

from rnn_analysis.reproduce import claims_html, claims_markdown, claims_text, reproduce, study_of
from rnn_analysis.reproduce.studies import agreement_test
from rnn_analysis.reproduce.verdicts import NOT_ASSESSABLE, NOT_REPRODUCED, REPRODUCED

METRICS = ["svcca", "cca", "topology", "linearisation"]


def factors_dataset(silhouettes: dict[tuple[str, str], tuple[float, float, float]]) -> xr.Dataset:
    """A factor summary with the given (metric, factor) → (value, low, high) silhouettes."""
    factors = sorted({f for _, f in silhouettes})
    value = np.full((len(METRICS), len(factors)), np.nan)
    ci = np.full((len(METRICS), len(factors), 2), np.nan)
    for (metric, factor), (v, low, high) in silhouettes.items():
        i, j = METRICS.index(metric), factors.index(factor)
        value[i, j], ci[i, j] = v, (low, high)
    return xr.Dataset(
        {
            "silhouette": (("metric", "factor"), value),
            "silhouette_ci": (("metric", "factor", "bound"), ci),
            "n_networks": ("metric", np.full(len(METRICS), 20)),
            "n_groups": ("factor", np.full(len(factors), 4)),
        },
        coords={"metric": METRICS, "factor": factors, "bound": ["low", "high"]},
    )


def summary_dataset(columns: dict[str, np.ndarray], status: np.ndarray | None = None, **coords):
    n = len(next(iter(columns.values())))
    status = np.array(["converged"] * n) if status is None else status
    return xr.Dataset(
        {name: ("network", values) for name, values in columns.items()},
        coords={
            "status": ("network", status),
            "network_key": ("network", [f"n{i}" for i in range(n)]),
            **{k: ("network", v) for k, v in coords.items()},
        },
    )


def write(results: Path, task: str, **datasets: xr.Dataset) -> None:
    folder = results / "aggregate" / task
    folder.mkdir(parents=True, exist_ok=True)
    for name, ds in datasets.items():
        ds.to_netcdf(folder / f"{name}.nc")


@pytest.fixture(scope="module")
def universality_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """flip-flop: every verdict; CDI: a rate below the study's; sine: absent."""
    results = tmp_path_factory.mktemp("universality") / "results"
    corners = np.array([True] * 19 + [False])
    write(
        results,
        "flipflop",
        summary=summary_dataset({"known_corner_attractors": corners}),
        factors=factors_dataset(
            {
                ("svcca", "architecture"): (0.4, 0.2, 0.5),  # separates
                ("cca", "architecture"): (0.05, -0.1, 0.2),  # straddles 0
                ("topology", "architecture"): (0.05, 0.0, 0.1),  # shared
                ("linearisation", "architecture"): (0.5, 0.3, 0.6),  # structured
            }
        ),
    )
    line = np.array([True] * 5 + [False] * 15)
    selects = np.array([True] * 19 + [False])
    write(
        results,
        "cdi",
        summary=summary_dataset(
            {"known_line_attractor_every_context": line, "selects_relevant_input": selects}
        ),
        factors=factors_dataset(
            {
                ("svcca", "architecture"): (-0.2, -0.3, -0.1),  # does not separate
                ("cca", "architecture"): (0.1, 0.05, 0.2),
                ("topology", "architecture"): (0.3, 0.1, 0.4),  # straddles 0.25
                ("linearisation", "architecture"): (0.1, 0.0, 0.2),
            }
        ),
    )
    return results


def by_scope(findings, claim: str) -> dict[str, list[str]]:
    """Verdicts per scope of the claims that start with ``claim`` (exactly ``claim`` when
    it ends with ``$``)."""
    out: dict[str, list[str]] = {}
    for f in findings:
        if f.claim == claim.rstrip("$") or (not claim.endswith("$") and f.claim.startswith(claim)):
            out.setdefault(f.scope, []).append(f.verdict)
    return out


def test_universality_verdicts(universality_run: Path) -> None:
    findings = reproduce("universality_small", universality_run)
    geometry = by_scope(findings, "geometry separates architectures$")
    assert geometry["flipflop"][:2] == [REPRODUCED, NOT_ASSESSABLE]  # svcca, cca
    assert geometry["cdi"][0] == NOT_REPRODUCED
    assert geometry["sine"] == [NOT_ASSESSABLE, NOT_ASSESSABLE]
    shared = by_scope(findings, "topology is shared")
    assert shared == {"flipflop": [REPRODUCED], "sine": [NOT_ASSESSABLE], "cdi": [NOT_ASSESSABLE]}
    more = by_scope(findings, "geometry separates architectures more")
    assert more["flipflop"] == [REPRODUCED, NOT_ASSESSABLE]  # svcca, cca
    assert more["cdi"] == [NOT_REPRODUCED, NOT_ASSESSABLE]
    linear = by_scope(findings, "linearised dynamics")
    assert linear["flipflop"] == [NOT_REPRODUCED] and linear["cdi"] == [REPRODUCED]
    assert by_scope(findings, "flip-flop: 8 stable")["flipflop"] == [REPRODUCED]  # 19/20 vs 95%
    assert by_scope(findings, "CDI: an approximate line")["cdi"] == [NOT_REPRODUCED]  # 5/20
    assert by_scope(findings, "sine:")["sine"] == [NOT_ASSESSABLE]
    assert by_scope(findings, "CDI: the slow mode selects")["cdi"] == [REPRODUCED]  # 19/20
    # the measured figures carry their intervals
    rate = next(f for f in findings if f.claim.startswith("flip-flop"))
    assert rate.value == pytest.approx(0.95) and rate.low < 0.95 < rate.high + 1e-12


def test_too_few_converged_networks_are_not_assessable(tmp_path: Path) -> None:
    status = np.array(["converged"] * 3 + ["not_converged"] * 10)
    write(
        tmp_path,
        "flipflop",
        summary=summary_dataset({"known_corner_attractors": np.ones(13, bool)}, status),
    )
    finding = next(
        f
        for f in reproduce("universality", tmp_path)
        if f.scope == "flipflop" and "8 stable" in f.claim
    )
    assert finding.verdict == NOT_ASSESSABLE and "3 of 3" in finding.measured


def timing_summary(types: list[str], behaviour: list[str]) -> xr.Dataset:
    ds = summary_dataset({"solution_type": np.array(types), "behaviour_type": np.array(behaviour)})
    ds.attrs["solution_space_n_classes"] = 3
    return ds


def test_space_of_solutions_verdicts(tmp_path: Path) -> None:
    rng = np.random.default_rng(0)
    # two types that match two behaviour types exactly: a handful, and they agree
    types = ["T1"] * 12 + ["T2"] * 8
    write(tmp_path, "delayed_discrimination", summary=timing_summary(types, types))
    # one type only: no diversity of solutions; agreement undefined
    write(tmp_path, "interval_discrimination", summary=timing_summary(["T1"] * 20, ["B1"] * 20))
    # three types, behaviour types independent of them
    types = list(rng.choice(["T1", "T2", "T3"], size=30))
    behaviour = list(rng.choice(["B1", "B2"], size=30))
    write(tmp_path, "time_reproduction", summary=timing_summary(types, behaviour))
    findings = reproduce("space_of_solutions", tmp_path)
    handful = by_scope(findings, "a handful")
    agree = by_scope(findings, "solution types are visible")
    assert handful["delayed_discrimination"] == [REPRODUCED]
    assert agree["delayed_discrimination"] == [REPRODUCED]
    assert handful["interval_discrimination"] == [NOT_REPRODUCED]
    assert agree["interval_discrimination"] == [NOT_ASSESSABLE]
    assert handful["time_reproduction"] == [REPRODUCED]
    assert agree["time_reproduction"] == [NOT_REPRODUCED]


def test_agreement_test_is_invariant_to_type_names_and_order() -> None:
    a = np.array(["T1"] * 6 + ["T2"] * 6 + ["other", ""])
    b = np.array(["B1"] * 5 + ["B2"] * 7 + ["B1", "B2"])
    ari, p, n = agreement_test(a, b, 500, 0)
    order = np.random.default_rng(1).permutation(len(a))
    renamed = np.where(a[order] == "T1", "X", np.where(a[order] == "T2", "Y", a[order]))
    ari2, _, n2 = agreement_test(renamed, b[order], 500, 0)
    assert n == n2 == 12 and ari == pytest.approx(ari2)
    assert 0 < p <= 1


def test_learning_rules_topology_is_judged_per_number_of_contexts(tmp_path: Path) -> None:
    rng = np.random.default_rng(0)
    n = 60
    rule = np.array(["bptt", "genetic"] * (n // 2))
    contexts = np.repeat([2.0, 3.0], n // 2)
    # topology differs by the number of contexts, not by the rule: within one number of
    # contexts the networks scatter without regard to their rule
    x = rng.normal(size=(n, 3)) + 10.0 * contexts[:, None]
    d = np.sqrt(((x[:, None] - x[None]) ** 2).sum(-1))
    similarity = xr.Dataset(
        {"topology": (("network", "network_b"), d)},
        coords={
            "learning_rule": ("network", rule),
            "n_contexts": ("network", contexts),
            "network_key": ("network", [f"n{i}" for i in range(n)]),
        },
    )
    write(
        tmp_path,
        "cdi",
        similarity=similarity,
        summary=summary_dataset(
            {"known_line_attractor_every_context": np.ones(n, bool)}, learning_rule=rule
        ),
        factors=factors_dataset({("topology", "learning_rule"): (0.5, 0.4, 0.6)}),
    )
    findings = reproduce("learning_rules", tmp_path)
    invariant = by_scope(findings, "topology is invariant")
    assert set(invariant) == {"cdi, n_contexts=2", "cdi, n_contexts=3"}
    assert all(v[0] == REPRODUCED for v in invariant.values())  # topology metric
    assert all(v[1] == NOT_ASSESSABLE for v in invariant.values())  # neighbour_signature absent
    rates = by_scope(findings, "CDI: a line attractor")
    assert rates == {"cdi, bptt": [REPRODUCED], "cdi, genetic": [REPRODUCED]}


def test_tables_and_command_line(universality_run: Path) -> None:
    findings = reproduce("universality", universality_run)
    text = claims_text("universality", findings)
    for verdict in (REPRODUCED, NOT_REPRODUCED, NOT_ASSESSABLE):
        assert verdict in text
        assert verdict in claims_markdown("universality", findings)
        assert verdict in claims_html("universality", findings)
    proc = subprocess.run(
        [sys.executable, "-m", "rnn_analysis", "reproduce", "universality", str(universality_run)],
        capture_output=True,
        text=True,
        check=True,
    )
    assert proc.stdout.strip() == text.strip()
    bad = subprocess.run(
        [sys.executable, "-m", "rnn_analysis", "reproduce", "nonsense", str(universality_run)],
        capture_output=True,
        text=True,
    )
    assert bad.returncode == 2 and "nonsense" in bad.stderr and "universality" in bad.stderr
    assert study_of("config/learning_rules_small.yaml") == "learning_rules"
