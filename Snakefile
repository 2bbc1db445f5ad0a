# rnn_analysis: train every network of the grid in config/config.yaml, analyse each
# network's dynamics, and compare the networks of every task.
import os

from snakemake.utils import min_version, validate

min_version("8.0")


configfile: os.path.join(workflow.basedir, "config", "config.yaml")


validate(config, "workflow/schemas/config.schema.yaml")


report: "workflow/report/workflow.rst"


include: "workflow/rules/common.smk"
include: "workflow/rules/train.smk"
include: "workflow/rules/analyze.smk"
include: "workflow/rules/aggregate.smk"
include: "workflow/rules/report.smk"


rule all:
    input:
        OVERVIEW,
        REPORT_FIGURES,
        CLAIMS,
    default_target: True


onsuccess:
    print_overview()
