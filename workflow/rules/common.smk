import os
import sys

# The package lives next to the Snakefile; jobs import it from there too.
sys.path.insert(0, workflow.basedir)
os.environ["PYTHONPATH"] = os.pathsep.join(
    p for p in (workflow.basedir, os.environ.get("PYTHONPATH")) if p
)

from snakemake.exceptions import WorkflowError

from rnn_analysis.config import Network, Sweep, format_noise
from rnn_analysis.errors import ConfigError

_config_source = ", ".join(str(p) for p in getattr(workflow, "configfiles", [])) or "config"
try:
    SWEEP = Sweep(config, source=_config_source)
except ConfigError as err:
    raise WorkflowError(f"invalid config: {err}") from None

RESULTS = SWEEP.results.rstrip("/")
CELL_PATTERN = "{task}/{architecture}/{learning_rule}/noise{noise}"
NETWORK_PATTERN = CELL_PATTERN + "/seed{seed}"
NETWORK_DIR = f"{RESULTS}/networks/{NETWORK_PATTERN}"
OVERVIEW = f"{RESULTS}/overview.txt"
# Used under --software-deployment-method conda (path relative to the rule files).
ENV = "../../envs/rnn_analysis.yaml"

_CELLS = {
    (task, arch, rule, format_noise(noise)): (task, arch, rule, noise)
    for task, arch, rule, noise in SWEEP.cells
}


wildcard_constraints:
    task="[A-Za-z0-9_]+",
    architecture="[A-Za-z0-9_]+",
    learning_rule="[A-Za-z0-9_]+",
    noise="[0-9.eE+-]+",
    seed="[0-9]+",


def network_of(wildcards, seed=None):
    """The grid network that a job's wildcards name."""
    key = (wildcards.task, wildcards.architecture, wildcards.learning_rule, wildcards.noise)
    if key not in _CELLS:
        raise WorkflowError(f"{'/'.join(key)} is not a cell of the configured grid")
    return Network(*_CELLS[key], int(wildcards.seed if seed is None else seed))


def network_folder(network):
    return f"{RESULTS}/networks/{network.key}"


def print_overview():
    if os.path.exists(OVERVIEW):
        with open(OVERVIEW) as fh:
            print(fh.read())
