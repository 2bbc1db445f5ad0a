from rnn_analysis.aggregate.overview import write_overview
from rnn_analysis.cli import run_logged

with run_logged(snakemake.log[0], 1) as log:  # noqa: F821
    text = write_overview(
        list(snakemake.input.summaries),  # noqa: F821
        list(snakemake.input.factors),  # noqa: F821
        snakemake.output[0],  # noqa: F821
    )
    log(text)
