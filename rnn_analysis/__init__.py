"""Population studies of task-trained recurrent networks."""

__version__ = "0.1.0"
