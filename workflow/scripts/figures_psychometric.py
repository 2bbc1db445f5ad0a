from rnn_analysis.cli import run_logged
from rnn_analysis.report.psychometric import psychometric_report

with run_logged(snakemake.log[0], snakemake.threads) as log:  # noqa: F821
    written = psychometric_report(list(snakemake.input), snakemake.output[0])  # noqa: F821
    log(f"wrote {written}")
