from rnn_analysis.cli import run_logged
from rnn_analysis.training.run import train_ensemble

with run_logged(snakemake.log[0], snakemake.threads) as log:  # noqa: F821
    train_ensemble(
        snakemake.params.specs,  # noqa: F821
        snakemake.params.folders,  # noqa: F821
        device=snakemake.params.device,  # noqa: F821
        log=log,
        # from the config rather than a param: changing it must not retrain anything
        checkpoint_minutes=float(
            snakemake.config.get("jobs", {}).get("checkpoint_minutes", 10.0)  # noqa: F821
        ),
    )
