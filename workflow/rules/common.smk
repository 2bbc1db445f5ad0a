import os
import sys

# The package lives next to the Snakefile; jobs import it from there too.
sys.path.insert(0, workflow.basedir)
os.environ["PYTHONPATH"] = os.pathsep.join(
    p for p in (workflow.basedir, os.environ.get("PYTHONPATH")) if p
)

from snakemake.exceptions import WorkflowError

from rnn_analysis.config import Network, Sweep
from rnn_analysis.errors import ConfigError

_config_source = ", ".join(str(p) for p in getattr(workflow, "configfiles", [])) or "config"
try:
    SWEEP = Sweep(config, source=_config_source)
except ConfigError as err:
    raise WorkflowError(f"invalid config: {err}") from None

RESULTS = SWEEP.results.rstrip("/")
# A cell's folder: <task>/<architecture>/<learning_rule>/noise<noise>[/<extra axes>]
CELL_PATTERN = "{cell}"
NETWORK_PATTERN = CELL_PATTERN + "/seed{seed}"
NETWORK_DIR = f"{RESULTS}/networks/{NETWORK_PATTERN}"
OVERVIEW = f"{RESULTS}/overview.txt"
# Used under --software-deployment-method conda (path relative to the rule files).
ENV = "../../envs/rnn_analysis.yaml"

_CELLS = {cell.key: cell for cell in SWEEP.cells}


wildcard_constraints:
    cell=r"[A-Za-z0-9_]+/[A-Za-z0-9_]+/[A-Za-z0-9_]+/noise[0-9.eE+-]+(?:/[A-Za-z0-9_.+=,-]+)?",
    seed="[0-9]+",
    task="[A-Za-z0-9_]+",


def network_of(wildcards, seed=None):
    """The grid network that a job's wildcards name."""
    if wildcards.cell not in _CELLS:
        raise WorkflowError(f"{wildcards.cell} is not a cell of the configured grid")
    cell = _CELLS[wildcards.cell]
    return Network(*cell[:4], int(wildcards.seed if seed is None else seed), axes=cell.axes)


def network_folder(network):
    return f"{RESULTS}/networks/{network.key}"


def print_overview():
    if os.path.exists(OVERVIEW):
        with open(OVERVIEW) as fh:
            print(fh.read())
