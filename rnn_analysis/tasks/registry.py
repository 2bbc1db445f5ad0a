"""The registry of tasks a config can name."""

from rnn_analysis.registry import Registry
from rnn_analysis.tasks.base import Task

TASKS: Registry[type[Task]] = Registry("task")
