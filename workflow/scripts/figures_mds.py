from rnn_analysis.cli import run_logged
from rnn_analysis.report.embedding import mds_figures

with run_logged(snakemake.log[0], snakemake.threads) as log:  # noqa: F821
    written = mds_figures(
        snakemake.input.similarity,  # noqa: F821
        snakemake.params.metrics,  # noqa: F821
        list(snakemake.output),  # noqa: F821
        snakemake.params.factors,  # noqa: F821
    )
    log(f"wrote {len(written)} MDS figure(s): {', '.join(map(str, written))}")
