from rnn_analysis.cli import run_logged
from rnn_analysis.report.solution_types import solution_type_report

with run_logged(snakemake.log[0], snakemake.threads) as log:  # noqa: F821
    written = solution_type_report(
        snakemake.input.summary,  # noqa: F821
        list(snakemake.input.analyses),  # noqa: F821
        snakemake.output.types,  # noqa: F821
        snakemake.output.extrapolation,  # noqa: F821
    )
    log(f"wrote {', '.join(str(p) for p in written)}")
