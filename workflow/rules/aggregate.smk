rule aggregate:
    input:
        analyses=lambda w: [
            f"{network_folder(n)}/analysis.nc" for n in SWEEP.networks_of_task(w.task)
        ],
        # read beside each analysis: the neural features recorded during training
        training=lambda w: [
            f"{network_folder(n)}/training.nc" for n in SWEEP.networks_of_task(w.task)
        ],
    output:
        similarity=f"{RESULTS}/aggregate/{{task}}/similarity.nc",
        summary=f"{RESULTS}/aggregate/{{task}}/summary.nc",
        factors=f"{RESULTS}/aggregate/{{task}}/factors.nc",
    log:
        f"{RESULTS}/logs/aggregate/{{task}}.log",
    benchmark:
        f"{RESULTS}/benchmarks/aggregate/{{task}}.tsv"
    params:
        options=SWEEP.aggregate.to_dict(),
    threads: SWEEP.jobs.aggregate_threads
    resources:
        mem_mb=SWEEP.jobs.aggregate_mem_mb,
        runtime=SWEEP.jobs.aggregate_runtime,
        **({"gpu": SWEEP.jobs.aggregate_gpus} if SWEEP.jobs.aggregate_gpus > 0 else {}),
    conda:
        ENV
    script:
        "../scripts/aggregate.py"


rule overview:
    input:
        similarities=expand(f"{RESULTS}/aggregate/{{task}}/similarity.nc", task=SWEEP.tasks),
        summaries=expand(f"{RESULTS}/aggregate/{{task}}/summary.nc", task=SWEEP.tasks),
        factors=expand(f"{RESULTS}/aggregate/{{task}}/factors.nc", task=SWEEP.tasks),
    output:
        report(OVERVIEW, caption="../report/overview.rst", category="Overview"),
    log:
        f"{RESULTS}/logs/overview.log",
    benchmark:
        f"{RESULTS}/benchmarks/overview.tsv"
    localrule: True
    conda:
        ENV
    script:
        "../scripts/overview.py"
