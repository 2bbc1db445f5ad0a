from rnn_analysis.aggregate.tiles import compare_block_files
from rnn_analysis.cli import run_logged

with run_logged(snakemake.log[0], snakemake.threads) as log:  # noqa: F821
    compare_block_files(
        snakemake.input.row,  # noqa: F821
        snakemake.input.column,  # noqa: F821
        snakemake.params.options,  # noqa: F821
        snakemake.output[0],  # noqa: F821
        threads=snakemake.threads,  # noqa: F821
        log=log,
    )
