# A task's networks are compared in tiles when there are more of them than
# aggregate.tile_networks: each block of networks is read and prepared once
# (aggregate_block), each pair of blocks is one aggregate_tile job, and aggregate merges
# the tiles and the blocks' summary rows. With one block, aggregate reads and compares
# the networks itself.


rule aggregate_block:
    input:
        analyses=block_analyses,
        # read beside each analysis: the neural features recorded during training
        training=block_training,
    output:
        prepared=f"{RESULTS}/aggregate/{{task}}/blocks/block{{block}}.pkl",
        rows=f"{RESULTS}/aggregate/{{task}}/blocks/rows{{block}}.pkl",
    log:
        f"{RESULTS}/logs/aggregate/{{task}}/block{{block}}.log",
    benchmark:
        f"{RESULTS}/benchmarks/aggregate/{{task}}/block{{block}}.tsv"
    params:
        options=SWEEP.aggregate.to_dict(),
    threads: SWEEP.jobs.tile_threads
    resources:
        mem_mb=SWEEP.jobs.tile_mem_mb,
        runtime=SWEEP.jobs.tile_runtime,
    conda:
        ENV
    script:
        "../scripts/aggregate_block.py"


rule aggregate_tile:
    input:
        row=f"{RESULTS}/aggregate/{{task}}/blocks/block{{row}}.pkl",
        column=f"{RESULTS}/aggregate/{{task}}/blocks/block{{column}}.pkl",
    output:
        f"{RESULTS}/aggregate/{{task}}/tiles/tile{{row}}-{{column}}.nc",
    log:
        f"{RESULTS}/logs/aggregate/{{task}}/tile{{row}}-{{column}}.log",
    benchmark:
        f"{RESULTS}/benchmarks/aggregate/{{task}}/tile{{row}}-{{column}}.tsv"
    params:
        options=SWEEP.aggregate.to_dict(),
    threads: SWEEP.jobs.tile_threads
    resources:
        mem_mb=SWEEP.jobs.tile_mem_mb,
        runtime=SWEEP.jobs.tile_runtime,
        **({"gpu": SWEEP.jobs.aggregate_gpus} if SWEEP.jobs.aggregate_gpus > 0 else {}),
    conda:
        ENV
    script:
        "../scripts/aggregate_tile.py"


rule aggregate:
    input:
        # one block: the analyses themselves (and the neural features recorded during
        # training, read beside each); tiles: the tiles and the blocks' summary rows
        analyses=lambda w: merge_inputs(w.task, "analysis.nc"),
        training=lambda w: merge_inputs(w.task, "training.nc"),
        tiles=lambda w: task_tiles(w.task),
        blocks=lambda w: task_block_rows(w.task),
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
