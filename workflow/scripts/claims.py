from pathlib import Path

from rnn_analysis.cli import run_logged
from rnn_analysis.reproduce import claims_html, claims_text, reproduce

with run_logged(snakemake.log[0], 1) as log:  # noqa: F821
    study = snakemake.params.study  # noqa: F821
    findings = reproduce(study, snakemake.params.results)  # noqa: F821
    text = claims_text(study, findings)
    Path(snakemake.output.text).write_text(text)  # noqa: F821
    Path(snakemake.output.html).write_text(claims_html(study, findings))  # noqa: F821
    log(text)
