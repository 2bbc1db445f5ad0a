# Figures and tables of the Snakemake report (`snakemake --report report.html`), per task.
# Every figure is written by a rule and marked for the report with a caption; the
# plotting lives in rnn_analysis/report/.
# Their inputs and targets are computed in common.smk.


rule figures_mds:
    input:
        similarity=f"{RESULTS}/aggregate/{{task}}/similarity.nc",
    output:
        [
            report(
                f"{FIGURES}/mds_{metric}.png",
                caption="../report/mds.rst",
                category="{task}",
                subcategory="MDS embeddings",
                labels={"metric": metric},
            )
            for metric in SWEEP.aggregate.metrics
        ],
    log:
        f"{RESULTS}/logs/figures/{{task}}/mds.log",
    benchmark:
        f"{RESULTS}/benchmarks/figures/{{task}}/mds.tsv"
    params:
        metrics=list(SWEEP.aggregate.metrics),
        factors=list(SWEEP.aggregate.factors),
    resources:
        **FIGURE_RESOURCES,
    localrule: True
    conda:
        ENV
    script:
        "../scripts/figures_mds.py"


rule figures_factors:
    input:
        factors=f"{RESULTS}/aggregate/{{task}}/factors.nc",
    output:
        tsv=report(
            f"{FIGURES}/factors.tsv",
            caption="../report/factors_table.rst",
            category="{task}",
            subcategory="Factor summary",
            labels={"content": "table (TSV)"},
        ),
        html=report(
            f"{FIGURES}/factors.html",
            caption="../report/factors_table.rst",
            category="{task}",
            subcategory="Factor summary",
            labels={"content": "table"},
        ),
        figure=report(
            f"{FIGURES}/factors.png",
            caption="../report/factors_figure.rst",
            category="{task}",
            subcategory="Factor summary",
            labels={"content": "figure"},
        ),
    log:
        f"{RESULTS}/logs/figures/{{task}}/factors.log",
    benchmark:
        f"{RESULTS}/benchmarks/figures/{{task}}/factors.tsv"
    resources:
        **FIGURE_RESOURCES,
    localrule: True
    conda:
        ENV
    script:
        "../scripts/figures_factors.py"


rule figures_fixed_points:
    input:
        lambda w: [
            f"{network_folder(n)}/analysis.nc"
            for n in example_candidates(task_networks(w.task))
        ],
    output:
        report(
            f"{FIGURES}/fixed_points.png",
            caption="../report/fixed_points.rst",
            category="{task}",
            subcategory="Fixed points",
        ),
    log:
        f"{RESULTS}/logs/figures/{{task}}/fixed_points.log",
    benchmark:
        f"{RESULTS}/benchmarks/figures/{{task}}/fixed_points.tsv"
    resources:
        **FIGURE_RESOURCES,
    localrule: True
    conda:
        ENV
    script:
        "../scripts/figures_fixed_points.py"


rule figures_training:
    input:
        lambda w: [f"{network_folder(n)}/training.nc" for n in task_networks(w.task)],
    output:
        report(
            f"{FIGURES}/training.png",
            caption="../report/training.rst",
            category="{task}",
            subcategory="Training",
        ),
    log:
        f"{RESULTS}/logs/figures/{{task}}/training.log",
    benchmark:
        f"{RESULTS}/benchmarks/figures/{{task}}/training.tsv"
    params:
        networks=lambda w: [n.labels() for n in task_networks(w.task)],
    resources:
        **FIGURE_RESOURCES,
    localrule: True
    conda:
        ENV
    script:
        "../scripts/figures_training.py"


rule figures_psychometric:
    input:
        _psychometric_analyses,
    output:
        report(
            f"{FIGURES}/psychometric.png",
            caption="../report/psychometric.rst",
            category="{task}",
            subcategory="Psychometric curves",
        ),
    log:
        f"{RESULTS}/logs/figures/{{task}}/psychometric.log",
    benchmark:
        f"{RESULTS}/benchmarks/figures/{{task}}/psychometric.tsv"
    resources:
        **FIGURE_RESOURCES,
    localrule: True
    conda:
        ENV
    script:
        "../scripts/figures_psychometric.py"



rule figures_solution_types:
    input:
        summary=f"{RESULTS}/aggregate/{{task}}/summary.nc",
        analyses=_solution_type_analyses,
    output:
        types=report(
            f"{FIGURES}/solution_types.png",
            caption="../report/solution_types.rst",
            category="{task}",
            subcategory="Solution types",
            labels={"content": "types and example graphs"},
        ),
        extrapolation=report(
            f"{FIGURES}/extrapolation.png",
            caption="../report/extrapolation.rst",
            category="{task}",
            subcategory="Solution types",
            labels={"content": "extrapolation profiles"},
        ),
    log:
        f"{RESULTS}/logs/figures/{{task}}/solution_types.log",
    benchmark:
        f"{RESULTS}/benchmarks/figures/{{task}}/solution_types.tsv"
    resources:
        **FIGURE_RESOURCES,
    localrule: True
    conda:
        ENV
    script:
        "../scripts/figures_solution_types.py"


rule claims:
    input:
        summaries=expand(f"{RESULTS}/aggregate/{{task}}/summary.nc", task=SWEEP.tasks),
        factors=expand(f"{RESULTS}/aggregate/{{task}}/factors.nc", task=SWEEP.tasks),
        similarities=expand(f"{RESULTS}/aggregate/{{task}}/similarity.nc", task=SWEEP.tasks),
    output:
        html=report(
            f"{RESULTS}/claims.html",
            caption="../report/claims.rst",
            category="1. Claims of the study",
            labels={"content": "table"},
        ),
        text=f"{RESULTS}/claims.txt",
    log:
        f"{RESULTS}/logs/claims.log",
    benchmark:
        f"{RESULTS}/benchmarks/claims.tsv"
    params:
        study=SWEEP.study,
        results=lambda w, input: str(Path(input.summaries[0]).parents[2]),
    resources:
        **FIGURE_RESOURCES,
    localrule: True
    conda:
        ENV
    script:
        "../scripts/claims.py"
