"""The registry of architectures a config can name."""

from rnn_analysis.architectures.base import Architecture
from rnn_analysis.registry import Registry

ARCHITECTURES: Registry[type[Architecture]] = Registry("architecture")
