from rnn_analysis.cli import run_logged
from rnn_analysis.report.training import training_report

with run_logged(snakemake.log[0], snakemake.threads) as log:  # noqa: F821
    written = training_report(
        list(snakemake.input),  # noqa: F821
        snakemake.params.networks,  # noqa: F821
        snakemake.output[0],  # noqa: F821
    )
    log(f"wrote {written}")
