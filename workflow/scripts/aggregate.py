from rnn_analysis.aggregate.task import aggregate_task
from rnn_analysis.cli import run_logged

with run_logged(snakemake.log[0], snakemake.threads) as log:  # noqa: F821
    aggregate_task(
        snakemake.wildcards.task,  # noqa: F821
        snakemake.params.options,  # noqa: F821
        list(snakemake.input.analyses),  # noqa: F821
        snakemake.output.similarity,  # noqa: F821
        snakemake.output.summary,  # noqa: F821
        snakemake.output.factors,  # noqa: F821
        log=log,
        tiles=list(snakemake.input.tiles) or None,  # noqa: F821
        blocks=list(snakemake.input.blocks) or None,  # noqa: F821
    )
