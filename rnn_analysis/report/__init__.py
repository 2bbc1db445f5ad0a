"""Figures and tables of the Snakemake report, one module per kind.

- :mod:`~rnn_analysis.report.targets`: which figures a task gets and which networks are
  shown as examples (no plotting; imported when the workflow is parsed).
- :mod:`~rnn_analysis.report.style`: the look shared by every figure (Agg backend).
- :mod:`~rnn_analysis.report.inputs`: opening and checking the datasets figures read.
- :mod:`~rnn_analysis.report.embedding`: MDS scatter plots of the distance matrices.
- :mod:`~rnn_analysis.report.factors`: the factor summary as TSV and HTML tables and a figure.
- :mod:`~rnn_analysis.report.fixed_points`: fixed points on the probe trajectories' PCs.
- :mod:`~rnn_analysis.report.training`: training curves.
- :mod:`~rnn_analysis.report.psychometric`: psychometric curves of decision tasks.

The plotting modules import matplotlib; this package's ``__init__`` does not, so that
parsing the workflow stays fast.
"""
