"""Report figures and tables: each function on small synthetic datasets; the report end to end."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest
import xarray as xr
from PIL import Image

from rnn_analysis.config import Network
from rnn_analysis.report.embedding import mds_figure, mds_figures
from rnn_analysis.report.factors import (
    COLUMNS,
    factor_figure,
    factor_html,
    factor_report,
    factor_rows,
    write_factor_tsv,
)
from rnn_analysis.report.fixed_points import (
    fixed_point_figure,
    fixed_point_report,
    principal_components,
)
from rnn_analysis.report.inputs import ReportInputError
from rnn_analysis.report.psychometric import (
    condition_axes,
    psychometric_figure,
    psychometric_report,
)
from rnn_analysis.report.targets import choose_examples, example_candidates, has_psychometric_set
from rnn_analysis.report.training import training_figure, training_report
from tests.conftest import snakemake

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
ARCHS = ("gru", "vanilla")
RULES = ("bptt", "hebbian")
NOISES = (0.0, 0.1)


def assert_png(path: Path, min_size: tuple[int, int] = (200, 150)) -> None:
    """The file exists, starts with the PNG signature and decodes to an image of some size."""
    assert path.is_file(), f"{path} was not written"
    assert path.read_bytes()[:8] == PNG_SIGNATURE
    with Image.open(path) as image:
        image.verify()
    with Image.open(path) as image:
        width, height = image.size
    assert width >= min_size[0] and height >= min_size[1], (width, height)


def grid_labels() -> list[dict]:
    return [
        {"architecture": a, "learning_rule": r, "noise": n, "seed": s}
        for a in ARCHS
        for r in RULES
        for n in NOISES
        for s in (0, 1)
    ]


def make_similarity(metrics=("cca", "topology"), seed: int = 0) -> xr.Dataset:
    rng = np.random.default_rng(seed)
    rows = grid_labels()
    n = len(rows)
    statuses = np.array(["converged"] * n, dtype="<U13")
    statuses[[1, 5]] = "not_converged"
    statuses[6] = "diverged"
    coords = {}
    for suffix, dim in (("", "network"), ("_b", "network_b")):
        for axis in ("architecture", "learning_rule", "noise", "seed"):
            coords[f"{axis}{suffix}"] = (dim, np.array([r[axis] for r in rows]))
        coords[f"task{suffix}"] = (dim, np.array(["rdm"] * n))
        coords[f"network_key{suffix}"] = (
            dim,
            np.array(
                [
                    f"rdm/{r['architecture']}/{r['learning_rule']}/noise{r['noise']:g}/"
                    f"seed{r['seed']}"
                    for r in rows
                ]
            ),
        )
        coords[f"status{suffix}"] = (dim, statuses)
        coords[f"solution_type{suffix}"] = (dim, np.array([""] * n))
    ds = xr.Dataset(coords=coords, attrs={"task": "rdm"})
    for m, metric in enumerate(metrics):
        points = rng.normal(size=(n, 2))
        d = np.sqrt(((points[:, None] - points[None]) ** 2).sum(-1))
        ds[metric] = (
            ("network", "network_b"),
            d,
            {"metric": metric, "long_name": f"{metric} distance", "family": "geometry"},
        )
        xy = points - points.mean(0)
        if m == 1:
            xy[[2, 3]] = np.nan
        ds[f"mds_{metric}"] = (("network", "mds_axis"), xy, {"stress": 0.05 * (m + 1)})
    ds.coords["mds_axis"] = [1, 2]
    return ds


def make_factors() -> xr.Dataset:
    silhouette = np.array([[0.5, 0.1, np.nan], [-0.2, 0.05, np.nan]])
    ci = np.stack([silhouette - 0.1, silhouette + 0.1], axis=-1)
    ratio = np.array([[2.0, 1.1, np.nan], [0.9, math.inf, np.nan]])
    ratio_ci = np.stack([ratio - 0.5, ratio + 0.5], axis=-1)
    return xr.Dataset(
        {
            "silhouette": (("metric", "factor"), silhouette),
            "silhouette_ci": (("metric", "factor", "bound"), ci),
            "between_within": (("metric", "factor"), ratio),
            "between_within_ci": (("metric", "factor", "bound"), ratio_ci),
            "n_groups": (("factor",), np.array([2, 2, 1])),
            "n_bootstrap_used": (("metric", "factor"), np.array([[100, 98, 0], [100, 97, 0]])),
        },
        coords={
            "metric": ["cca", "topology"],
            "factor": ["architecture", "learning_rule", "noise"],
            "bound": ["low", "high"],
            "family": ("metric", ["geometry", "topology"]),
        },
        attrs={"task": "rdm", "confidence": 0.95},
    )


def make_analysis(
    architecture="gru",
    learning_rule="bptt",
    noise=0.0,
    seed=0,
    status="converged",
    n_static=2,
    rng_seed=0,
) -> xr.Dataset:
    rng = np.random.default_rng(rng_seed)
    n_units, n_points = 6, 5
    hidden = np.cumsum(rng.normal(size=(4, 25, n_units)), axis=1).astype(np.float32)
    coherence = np.array([-0.2, -0.05, 0.05, 0.2, -0.2, -0.05, 0.05, 0.2])
    context = np.array([0, 0, 0, 0, 1, 1, 1, 1])
    p = 1 / (1 + np.exp(-coherence * (20 + seed)))
    return xr.Dataset(
        {
            "probe_hidden": (("probe_trial", "time", "unit"), hidden),
            "hidden_value": (("fixed_point", "unit"), rng.normal(size=(n_points, n_units))),
            "kind": (("fixed_point",), np.array(["fixed"] * 4 + ["slow"])),
            "n_unstable": (("fixed_point",), np.array([0, 0, 1, 2, 0])),
            "condition": (("fixed_point",), np.arange(n_points) % n_static),
            "n_fixed": (("static_input",), np.ones(n_static, dtype=int)),
            "psychometric_p_positive": (("psychometric_condition",), p),
        },
        coords={
            "static_input": np.arange(n_static),
            "static_input_level": ("static_input", np.linspace(-0.03, 0.03, n_static)),
            "psychometric_coherence": ("psychometric_condition", coherence),
            "psychometric_context": ("psychometric_condition", context),
        },
        attrs={
            "task": "rdm",
            "architecture": architecture,
            "learning_rule": learning_rule,
            "noise": noise,
            "seed": seed,
            "status": status,
            "network": f"rdm/{architecture}/{learning_rule}/noise{noise:g}/seed{seed}",
        },
    )


def make_curve(status="converged", n=60, seed=0) -> xr.Dataset:
    if status == "failed":
        return xr.Dataset(coords={"iteration": [], "validation": []}, attrs={"status": status})
    rng = np.random.default_rng(seed)
    loss = np.exp(-np.arange(n) / 20) * (1 + 0.1 * rng.random(n))
    if status == "diverged":
        loss[-5:] = np.inf
    return xr.Dataset(
        {
            "loss": ("iteration", loss),
            "validation_score": ("validation", np.linspace(0.4, 0.95, n // 20)),
        },
        coords={
            "iteration": np.arange(1, n + 1),
            "validation_iteration": ("validation", np.arange(20, n + 1, 20)),
        },
        attrs={"status": status, "unit": "iteration"},
    )


# -- MDS ----------------------------------------------------------------------------


def test_mds_figure_writes_png_per_metric(tmp_path):
    similarity = make_similarity()
    path = mds_figure(similarity, "cca", tmp_path / "mds_cca.png")
    assert_png(path, (600, 300))


def test_mds_figures_from_file_one_per_metric(tmp_path):
    source = tmp_path / "similarity.nc"
    make_similarity().to_netcdf(source)
    out = [tmp_path / "a.png", tmp_path / "b.svg"]
    written = mds_figures(source, ["cca", "topology"], out)
    assert written == out
    assert_png(out[0])
    assert out[1].read_text().lstrip().startswith("<?xml")


def test_mds_figure_is_reproducible(tmp_path):
    similarity = make_similarity()
    a = mds_figure(similarity, "topology", tmp_path / "a.png")
    b = mds_figure(similarity, "topology", tmp_path / "b.png")
    assert a.read_bytes() == b.read_bytes()


def test_mds_figure_without_embedded_networks_still_draws(tmp_path):
    similarity = make_similarity()
    similarity["mds_cca"][:] = np.nan
    assert_png(mds_figure(similarity, "cca", tmp_path / "empty.png"))


def test_mds_figure_names_missing_embedding(tmp_path):
    similarity = make_similarity().drop_vars("mds_topology")
    with pytest.raises(ReportInputError, match="mds_topology"):
        mds_figure(similarity, "topology", tmp_path / "x.png")


def test_mds_figure_names_missing_factor(tmp_path):
    similarity = make_similarity().drop_vars("noise")
    with pytest.raises(ReportInputError, match="'noise'"):
        mds_figure(similarity, "cca", tmp_path / "x.png")


def test_mds_figures_names_missing_file(tmp_path):
    missing = tmp_path / "nowhere" / "similarity.nc"
    with pytest.raises(FileNotFoundError, match="nowhere/similarity.nc"):
        mds_figures(missing, ["cca"], [tmp_path / "x.png"])


def test_figure_suffix_must_be_png_or_svg(tmp_path):
    with pytest.raises(ValueError, match=r"\.pdf"):
        mds_figure(make_similarity(), "cca", tmp_path / "x.pdf")


# -- factor summary -------------------------------------------------------------------


def test_factor_rows_hold_every_metric_and_factor():
    rows = factor_rows(make_factors())
    assert [(r["metric"], r["factor"]) for r in rows] == [
        ("cca", "architecture"),
        ("cca", "learning_rule"),
        ("cca", "noise"),
        ("topology", "architecture"),
        ("topology", "learning_rule"),
        ("topology", "noise"),
    ]
    first = rows[0]
    assert first["family"] == "geometry"
    assert first["n_groups"] == 2
    assert first["silhouette"] == pytest.approx(0.5)
    assert (first["silhouette_low"], first["silhouette_high"]) == pytest.approx((0.4, 0.6))
    assert (first["between_within_low"], first["between_within_high"]) == pytest.approx((1.5, 2.5))
    assert first["n_bootstrap_used"] == 100
    assert math.isnan(rows[2]["silhouette"]) and rows[2]["n_groups"] == 1
    assert math.isinf(rows[4]["between_within"])


def test_factor_tsv_round_trips(tmp_path):
    path = write_factor_tsv(make_factors(), tmp_path / "factors.tsv")
    lines = path.read_text().splitlines()
    assert lines[0].split("\t") == list(COLUMNS)
    assert len(lines) == 7
    row = dict(zip(COLUMNS, lines[4].split("\t"), strict=True))
    assert row["metric"] == "topology" and row["factor"] == "architecture"
    assert float(row["silhouette"]) == pytest.approx(-0.2)
    assert float(row["between_within_high"]) == pytest.approx(1.4)
    nan_row = dict(zip(COLUMNS, lines[3].split("\t"), strict=True))
    assert nan_row["silhouette"] == "NaN"


def test_factor_html_marks_separated_values():
    page = factor_html(make_factors())
    assert page.startswith("<!DOCTYPE html>")
    assert "Silhouette" in page and "Between/within" in page
    # cca separates architectures: the interval [0.4, 0.6] excludes 0, so the cell is bold.
    assert '<td class="sep">0.50 <span class="ci">[0.40, 0.60]</span></td>' in page
    # topology × architecture: silhouette -0.2 [-0.3, -0.1] does not separate.
    assert '<td>-0.20 <span class="ci">[-0.30, -0.10]</span></td>' in page
    # an infinite ratio (all within-group distances 0) is written as such
    assert '<td class="sep">∞ <span class="ci">[∞, ∞]</span></td>' in page
    # a single level: undefined, shown as a dash
    assert page.count('class="na"') == 4
    assert "learning rule<br><small>2 levels" in page
    assert "input noise<br><small>1 level<" in page


def test_factor_report_writes_three_files(tmp_path):
    source = tmp_path / "factors.nc"
    make_factors().to_netcdf(source)
    tsv, page, figure = factor_report(
        source, tmp_path / "t.tsv", tmp_path / "t.html", tmp_path / "t.png"
    )
    assert tsv.read_text().count("\n") == 7
    assert "</table>" in page.read_text()
    assert_png(figure)


def test_factor_figure_handles_infinite_and_undefined(tmp_path):
    assert_png(factor_figure(make_factors(), tmp_path / "f.png"))


def test_factor_table_names_missing_variable(tmp_path):
    factors = make_factors().drop_vars("between_within_ci")
    with pytest.raises(ReportInputError, match="between_within_ci"):
        factor_rows(factors)
    source = tmp_path / "factors.nc"
    factors.to_netcdf(source)
    with pytest.raises(ReportInputError, match=rf"{source}.*between_within_ci"):
        factor_report(source, tmp_path / "t.tsv", tmp_path / "t.html", tmp_path / "t.png")


def test_factor_report_names_missing_file(tmp_path):
    with pytest.raises(FileNotFoundError, match="factors.nc"):
        factor_report(tmp_path / "factors.nc", tmp_path / "a", tmp_path / "b", tmp_path / "c")


# -- fixed points ---------------------------------------------------------------------


def test_principal_components_of_a_plane():
    rng = np.random.default_rng(1)
    basis = np.linalg.qr(rng.normal(size=(5, 2)))[0]
    coefficients = rng.normal(size=(3, 40, 2)) * np.array([3.0, 1.0])
    trajectories = coefficients @ basis.T + 2.0
    mean, components, explained = principal_components(trajectories)
    assert mean == pytest.approx(trajectories.reshape(-1, 5).mean(0))
    assert components @ components.T == pytest.approx(np.eye(2), abs=1e-12)
    # the components span the plane of the data, which holds all the variance
    assert np.linalg.norm(components - components @ basis @ basis.T) < 1e-10
    assert explained.sum() == pytest.approx(1.0)
    assert explained[0] > explained[1]


def test_choose_examples_prefers_lowest_noise_converged_lowest_seed():
    candidates = [
        {"architecture": "gru", "learning_rule": "bptt", "noise": 0.0, "seed": 0,
         "status": "diverged"},
        {"architecture": "gru", "learning_rule": "bptt", "noise": 0.0, "seed": 2,
         "status": "converged"},
        {"architecture": "gru", "learning_rule": "bptt", "noise": 0.0, "seed": 1,
         "status": "converged"},
        {"architecture": "gru", "learning_rule": "bptt", "noise": 0.1, "seed": 0,
         "status": "converged"},
        {"architecture": "gru", "learning_rule": "force", "noise": 0.1, "seed": 3,
         "status": "not_converged"},
    ]  # fmt: skip
    chosen = choose_examples(candidates)
    assert [(c["learning_rule"], c["noise"], c["seed"]) for c in chosen] == [
        ("bptt", 0.0, 1),
        ("force", 0.1, 3),
    ]


def test_example_candidates_are_the_lowest_noise_of_each_cell():
    networks = [
        Network("rdm", a, r, n, s)
        for a in ARCHS
        for r in RULES
        for n in (0.05, 0.1)
        for s in (0, 1)
        if not (a == "vanilla" and r == "hebbian" and n == 0.05)
    ]
    chosen = example_candidates(networks)
    assert {(n.architecture, n.learning_rule, n.noise) for n in chosen} == {
        ("gru", "bptt", 0.05),
        ("gru", "hebbian", 0.05),
        ("vanilla", "bptt", 0.05),
        ("vanilla", "hebbian", 0.1),
    }
    assert len(chosen) == 8


def test_fixed_point_figure_grid(tmp_path):
    analyses = [
        make_analysis(a, r, rng_seed=i, n_static=3)
        for i, (a, r) in enumerate([("gru", "bptt"), ("gru", "hebbian"), ("vanilla", "bptt")])
    ]
    assert_png(fixed_point_figure(analyses, tmp_path / "fp.png"), (700, 500))


def test_fixed_point_figure_single_static_input_and_no_points(tmp_path):
    one = make_analysis(n_static=1)
    none = make_analysis("vanilla", n_static=1).isel(fixed_point=slice(0, 0))
    skipped = xr.Dataset(
        attrs={**make_analysis("lstm").attrs, "analysis_skipped": "non-finite weights"}
    )
    assert_png(fixed_point_figure([one, none, skipped], tmp_path / "fp.png"))


def test_fixed_point_report_picks_examples_from_files(tmp_path):
    paths = []
    for i, (seed, status) in enumerate([(0, "diverged"), (1, "converged")]):
        ds = make_analysis(seed=seed, status=status, rng_seed=i)
        if status == "diverged":
            ds = ds.drop_vars("hidden_value")  # would fail if it were chosen
        path = tmp_path / f"seed{seed}.nc"
        ds.to_netcdf(path)
        paths.append(path)
    assert_png(fixed_point_report(paths, tmp_path / "fp.png"))
    with pytest.raises(ReportInputError, match=rf"{paths[0]}.*hidden_value"):
        fixed_point_report(paths[:1], tmp_path / "bad.png")


def test_fixed_point_figure_names_missing_trajectories(tmp_path):
    ds = make_analysis().drop_vars("probe_hidden")
    with pytest.raises(ReportInputError, match="probe_hidden"):
        fixed_point_figure([ds], tmp_path / "fp.png")
    with pytest.raises(ReportInputError, match="status"):
        fixed_point_figure([make_analysis().drop_attrs()], tmp_path / "fp.png")
    wrong_units = make_analysis().isel(unit=slice(0, 3))
    wrong_units["hidden_value"] = (("fixed_point", "state"), np.zeros((5, 6)))
    with pytest.raises(ReportInputError, match="hidden_value has shape"):
        fixed_point_figure([wrong_units], tmp_path / "fp.png")


def test_fixed_point_report_names_missing_file(tmp_path):
    with pytest.raises(FileNotFoundError, match="seed7/analysis.nc"):
        fixed_point_report([tmp_path / "seed7" / "analysis.nc"], tmp_path / "fp.png")


# -- training curves ------------------------------------------------------------------


def test_training_figure_with_every_status(tmp_path):
    statuses = ["converged", "not_converged", "diverged", "failed"]
    curves, labels = [], []
    for i, (arch, rule, status) in enumerate(
        (a, r, s) for a in ARCHS for r in RULES for s in statuses
    ):
        curves.append(make_curve(status, seed=i))
        labels.append({"task": "rdm", "architecture": arch, "learning_rule": rule,
                       "noise": 0.0, "seed": i})  # fmt: skip
    assert_png(training_figure(curves, labels, tmp_path / "training.png"), (700, 400))


def test_training_report_from_files(tmp_path):
    paths = []
    for seed in range(2):
        path = tmp_path / f"seed{seed}" / "training.nc"
        path.parent.mkdir()
        make_curve(seed=seed).to_netcdf(path)
        paths.append(path)
    labels = [{"task": "rdm", "architecture": "gru", "learning_rule": "bptt", "noise": 0.1,
               "seed": s} for s in range(2)]  # fmt: skip
    assert_png(training_report(paths, labels, tmp_path / "training.png"))
    with pytest.raises(FileNotFoundError, match="seed5/training.nc"):
        training_report([tmp_path / "seed5" / "training.nc"], labels[:1], tmp_path / "x.png")


def test_training_figure_names_missing_loss(tmp_path):
    labels = [{"task": "rdm", "architecture": "gru", "learning_rule": "bptt", "noise": 0.0,
               "seed": 0}]  # fmt: skip
    curve = make_curve().drop_vars("loss")
    with pytest.raises(ReportInputError, match="'loss'"):
        training_figure([curve], labels, tmp_path / "x.png")
    with pytest.raises(ReportInputError, match="architecture"):
        training_figure([make_curve()], [{"task": "rdm"}], tmp_path / "x.png")
    with pytest.raises(ValueError, match="one label mapping per curve"):
        training_figure([make_curve()], [], tmp_path / "x.png")


# -- psychometric curves --------------------------------------------------------------


def test_condition_axes_pick_the_graded_variable():
    x, panels = condition_axes(make_analysis())
    assert x == "psychometric_coherence"
    assert panels == ["psychometric_context"]
    rate_only = make_analysis().drop_vars(["psychometric_context"])
    assert condition_axes(rate_only) == ("psychometric_coherence", [])


def test_psychometric_figure_per_cell_and_context(tmp_path):
    analyses = [
        make_analysis(a, r, n, s, status="diverged" if s == 2 else "converged")
        for a in ARCHS
        for r in RULES
        for n in NOISES
        for s in range(3)
    ]
    assert_png(psychometric_figure(analyses, tmp_path / "psy.png"), (700, 300))


def test_psychometric_report_from_files(tmp_path):
    paths = []
    for seed in range(2):
        path = tmp_path / f"seed{seed}.nc"
        make_analysis(seed=seed).to_netcdf(path)
        paths.append(path)
    assert_png(psychometric_report(paths, tmp_path / "psy.png"))


def test_psychometric_figure_names_missing_curve_and_mismatched_conditions(tmp_path):
    with pytest.raises(ReportInputError, match="psychometric_p_positive"):
        psychometric_figure(
            [make_analysis().drop_vars("psychometric_p_positive")], tmp_path / "x.png"
        )
    other = make_analysis(seed=1).assign_coords(
        psychometric_coherence=("psychometric_condition", np.linspace(-1, 1, 8))
    )
    with pytest.raises(ReportInputError, match="psychometric_coherence"):
        psychometric_figure([make_analysis(), other], tmp_path / "x.png")


def test_has_psychometric_set():
    assert has_psychometric_set("rdm")
    assert has_psychometric_set("multisensory")
    assert not has_psychometric_set("flipflop")
    with pytest.raises(KeyError, match="nosuchtask"):
        has_psychometric_set("nosuchtask")


# -- the report end to end ------------------------------------------------------------


@pytest.mark.slow
def test_snakemake_report_holds_every_figure(tiny_sweep, tmp_path):
    figures = tiny_sweep / "results" / "figures" / "flipflop"
    for name in ("fixed_points.png", "training.png", "factors.png", "mds_cca.png"):
        assert_png(figures / name)
    assert (figures / "factors.tsv").read_text().startswith("metric\t")
    assert not (figures / "psychometric.png").exists()  # flipflop has no psychometric set
    out = tmp_path / "report.html"
    snakemake(tiny_sweep, tiny_sweep / "config.yaml", "--report", str(out))
    assert out.is_file()
    page = out.read_text()
    for name in (
        "mds_cca.png",
        "mds_procrustes.png",
        "factors.html",
        "factors.png",
        "fixed_points.png",
        "training.png",
        "overview.txt",
    ):
        assert name in page, f"{name} is not in the report"
    assert "Metric MDS of the pairwise distances" in page  # a caption, rendered
    # self-contained: every PNG is embedded as a data URI (base64 of the PNG signature)
    n_png = len(list(figures.glob("*.png")))
    assert page.count("base64,iVBORw0KGgo") == n_png
