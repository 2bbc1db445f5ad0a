from rnn_analysis.cli import run_logged
from rnn_analysis.report.factors import factor_report

with run_logged(snakemake.log[0], snakemake.threads) as log:  # noqa: F821
    written = factor_report(
        snakemake.input.factors,  # noqa: F821
        snakemake.output.tsv,  # noqa: F821
        snakemake.output.html,  # noqa: F821
        snakemake.output.figure,  # noqa: F821
    )
    log(f"wrote {', '.join(map(str, written))}")
