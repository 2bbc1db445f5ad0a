from pathlib import Path

from rnn_analysis.analysis.network import analyze_network
from rnn_analysis.cli import run_logged

with run_logged(snakemake.log[0], snakemake.threads) as log:  # noqa: F821
    analyze_network(
        snakemake.params.spec,  # noqa: F821
        Path(snakemake.input.model).parent,  # noqa: F821
        snakemake.output[0],  # noqa: F821
        log=log,
    )
