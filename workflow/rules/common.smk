import os
import sys
from pathlib import Path

# The package lives next to the Snakefile; jobs import it from there too.
sys.path.insert(0, workflow.basedir)
os.environ["PYTHONPATH"] = os.pathsep.join(
    p for p in (workflow.basedir, os.environ.get("PYTHONPATH")) if p
)


envvars:
    "PYTHONPATH",


from snakemake.exceptions import WorkflowError

from rnn_analysis.aggregate.blocks import block_pairs, block_slice, n_blocks
from rnn_analysis.config import Network, Sweep
from rnn_analysis.report.targets import example_candidates, has_psychometric_set
from rnn_analysis.errors import ConfigError

_config_source = ", ".join(str(p) for p in getattr(workflow, "configfiles", [])) or "config"
try:
    SWEEP = Sweep(config, source=_config_source)
except ConfigError as err:
    raise WorkflowError(f"invalid config: {err}") from None

RESULTS = SWEEP.results.rstrip("/")
# A cell's folder: <task>/<architecture>/<learning_rule>/noise<noise>[/<extra axes>]
CELL_PATTERN = "{cell}"
NETWORK_PATTERN = "{cell}/seed{seed}"
NETWORK_DIR = f"{RESULTS}/networks/{NETWORK_PATTERN}"
OVERVIEW = f"{RESULTS}/overview.txt"
# Used under --software-deployment-method conda (path relative to the rule files).
ENV = "../../envs/rnn_analysis.yaml"

_CELLS = {cell.key: cell for cell in SWEEP.cells}


wildcard_constraints:
    cell=r"[A-Za-z0-9_]+/[A-Za-z0-9_]+/[A-Za-z0-9_]+/noise[0-9.eE+-]+(?:/[A-Za-z0-9_.+=,-]+)?",
    seed="[0-9]+",
    task="[A-Za-z0-9_]+",
    block="[0-9]+",
    row="[0-9]+",
    column="[0-9]+",


def network_of(wildcards, seed=None):
    """The grid network that a job's wildcards name."""
    if wildcards.cell not in _CELLS:
        raise WorkflowError(f"{wildcards.cell} is not a cell of the configured grid")
    cell = _CELLS[wildcards.cell]
    return Network(*cell[:4], int(wildcards.seed if seed is None else seed), axes=cell.axes)


def network_folder(network):
    return f"{RESULTS}/networks/{network.key}"


_TASK_NETWORKS = {task: SWEEP.networks_of_task(task) for task in SWEEP.tasks}
TILE_NETWORKS = SWEEP.aggregate.tile_networks


def task_networks(task):
    """The networks of a task, in grid order."""
    if task not in _TASK_NETWORKS:
        raise WorkflowError(f"{task!r} is not a task of the configured grid")
    return _TASK_NETWORKS[task]


def task_blocks(task):
    """How many blocks of aggregate.tile_networks networks a task's comparison has."""
    return n_blocks(len(task_networks(task)), TILE_NETWORKS)


def task_tiles(task):
    """A task's tile files (none when its networks fit one block)."""
    count = task_blocks(task)
    if count == 1:
        return []
    return [f"{RESULTS}/aggregate/{task}/tiles/tile{i}-{j}.nc" for i, j in block_pairs(count)]


def task_block_rows(task):
    """A task's blocks' summary-row files (none when its networks fit one block)."""
    count = task_blocks(task)
    if count == 1:
        return []
    return [f"{RESULTS}/aggregate/{task}/blocks/rows{i}.pkl" for i in range(count)]


def merge_inputs(task, name):
    """The files ``name`` of every network of a task, when its comparison is one block."""
    if task_blocks(task) > 1:
        return []
    return [f"{network_folder(n)}/{name}" for n in task_networks(task)]


def _block_networks(wildcards):
    networks = task_networks(wildcards.task)
    block = int(wildcards.block)
    if not 0 <= block < n_blocks(len(networks), TILE_NETWORKS):
        raise WorkflowError(f"task {wildcards.task} has no block {block}")
    return networks[block_slice(block, TILE_NETWORKS)]


def block_analyses(wildcards):
    """The analyses of one block of a task's networks."""
    return [f"{network_folder(n)}/analysis.nc" for n in _block_networks(wildcards)]


def block_training(wildcards):
    """The training curves of one block of a task's networks."""
    return [f"{network_folder(n)}/training.nc" for n in _block_networks(wildcards)]


def print_overview():
    if os.path.exists(OVERVIEW):
        with open(OVERVIEW) as fh:
            print(fh.read())


# -- report figures (report.smk) ------------------------------------------------

FIGURES = f"{RESULTS}/figures/{{task}}"
# Requests of every figure job: they read small files and plot, so on a cluster they run
# on the submitting node (localrule) rather than queueing.
FIGURE_RESOURCES = {"mem_mb": 2000, "runtime": 30}
PSYCHOMETRIC_TASKS = [
    task for task in SWEEP.tasks if has_psychometric_set(task, SWEEP.task_params[task])
]
SOLUTION_TYPE_TASKS = [task for task in SWEEP.tasks if task in SWEEP.analysis.reduced_graph_tasks]


def report_figures(task):
    """Every report figure and table of one task."""
    folder = FIGURES.format(task=task)
    paths = [f"{folder}/mds_{metric}.png" for metric in SWEEP.aggregate.metrics]
    paths += [
        f"{folder}/factors.tsv",
        f"{folder}/factors.html",
        f"{folder}/factors.png",
        f"{folder}/fixed_points.png",
        f"{folder}/training.png",
    ]
    if task in PSYCHOMETRIC_TASKS:
        paths.append(f"{folder}/psychometric.png")
    if task in SOLUTION_TYPE_TASKS:
        paths += [f"{folder}/solution_types.png", f"{folder}/extrapolation.png"]
    return paths


REPORT_FIGURES = [path for task in SWEEP.tasks for path in report_figures(task)]
# The claims of the study a preset reproduces (config key `study`) open the report.
CLAIMS = [f"{RESULTS}/claims.html", f"{RESULTS}/claims.txt"] if SWEEP.study else []


def _psychometric_analyses(wildcards):
    if wildcards.task not in PSYCHOMETRIC_TASKS:
        raise WorkflowError(
            f"task {wildcards.task!r} has no psychometric set; psychometric curves exist for "
            f"{', '.join(PSYCHOMETRIC_TASKS) or 'no task of this sweep'}"
        )
    return [f"{network_folder(n)}/analysis.nc" for n in task_networks(wildcards.task)]


def _solution_type_analyses(wildcards):
    if wildcards.task not in SOLUTION_TYPE_TASKS:
        raise WorkflowError(
            f"task {wildcards.task!r} has no reduced-dynamics graphs (analysis.reduced_graph_tasks: "
            f"{', '.join(SWEEP.analysis.reduced_graph_tasks) or 'none'})"
        )
    return [f"{network_folder(n)}/analysis.nc" for n in task_networks(wildcards.task)]
