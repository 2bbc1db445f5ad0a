from rnn_analysis.cli import run_logged
from rnn_analysis.training.run import train_ensemble

with run_logged(snakemake.log[0], snakemake.threads) as log:  # noqa: F821
    train_ensemble(
        snakemake.params.specs,  # noqa: F821
        snakemake.params.folders,  # noqa: F821
        device=snakemake.params.device,  # noqa: F821
        log=log,
    )
