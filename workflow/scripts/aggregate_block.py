from rnn_analysis.aggregate.tiles import prepare_block
from rnn_analysis.cli import run_logged

with run_logged(snakemake.log[0], snakemake.threads) as log:  # noqa: F821
    prepare_block(
        snakemake.wildcards.task,  # noqa: F821
        snakemake.params.options,  # noqa: F821
        list(snakemake.input.analyses),  # noqa: F821
        int(snakemake.wildcards.block),  # noqa: F821
        snakemake.output.prepared,  # noqa: F821
        snakemake.output.rows,  # noqa: F821
        log=log,
    )
