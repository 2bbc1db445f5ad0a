"""Recurrent architectures behind one step function F(h, u) and a linear readout."""

from rnn_analysis.architectures import gru, lstm, rate, ugrnn, vanilla  # noqa: F401
from rnn_analysis.architectures.base import Architecture, ArchitectureParams
from rnn_analysis.architectures.registry import ARCHITECTURES

__all__ = ["ARCHITECTURES", "Architecture", "ArchitectureParams"]
