"""Attractor structure of one network, from its fixed and slow points and from simulation.

Given the fixed-point dataset of one network (the output of
:func:`~rnn_analysis.analysis.fixed_points.find_fixed_points`) and the network itself,
:func:`attractor_structure` measures continuous scores, stores them, and derives its
yes/no verdicts from them with the thresholds of :class:`AttractorParams`:

1. **Counts** (:mod:`.counts`) per static input and overall: fixed points, stable fixed
   points, saddles (fixed points with k ≥ 1 unstable modes) by k, and slow points; and
   the **oscillatory modes** of every point: complex-conjugate pairs
   (``Im λ > complex_tol``), their rotation per step ``|arg λ|`` and modulus ``|λ|``,
   the leading pair's (largest ``|λ|``) and the number of pairs.
2. **Line attractors** (:mod:`.lines`, :mod:`.chains`) per static input and per group of
   static inputs: chains of slow points, ordered by nearest-neighbour continuation
   (curved lines count), scored by their number of points, arc length, extent (absolute
   and relative to the probe states' RMS spread), alignment of the slow eigenvectors
   with the chain, slowness and separation of the slow mode; a line attractor is a chain
   whose scores pass the thresholds.
3. **Limit cycles** (:mod:`.cycles`) found by simulation under every static input: the
   primary measure of an oscillation, with its period and frequency.
4. **Oscillations per static input** (:mod:`.oscillations`): the central fixed point
   (nearest the limit cycle's centre) with its leading complex pair's rotation and
   modulus, as a diagnostic; where the static inputs cue a frequency (``cue_label``),
   the relative errors of the cycle's frequency and of the central rotation, and
   whether the network oscillates at the cued frequency (within ``cue_tolerance``).

Results are one :class:`xarray.Dataset` that merges with the fixed-point dataset:
per-point variables along ``fixed_point``; per static input along ``static_input`` (its
labels as coordinates prefixed ``static_input_``); per group along ``input_group``;
saddle counts along ``unstable_modes``; simulation runs along ``cycle_run``.

Thresholds on trained networks
------------------------------
Measured on context-dependent integration with 2 contexts (100-, 200- and 300-step
trials, input noise 0.3–0.5; 32-unit GRUs, LSTMs, UGRNNs and vanilla networks and
50-unit rate networks with α = 0.2, trained with BPTT; fixed points under zero sensory
input per context), 104 networks, 208 contexts:

- untrained networks (the same 104 initialisations) have no line candidate in any
  context: 209 points in 208 contexts, the eigenvalue closest to 1 a median 0.18 away
  (one slow point within 0.02, not separated from the next eigenvalue), so every
  line score is empty and no threshold can make a line of them;
- trained networks, best chain per context (at least 5 points): the alignment's
  quartiles are 0.63, 0.94 and 1.00. Among chains of at least 0.1 probe spreads,
  the alignment has a mode at ≥ 0.95 (40 of 93), a tail down to 0.2 (clouds of slow
  points where gates saturate) and a dip at 0.8–0.9 (5 chains), where
  ``line_alignment`` 0.8 sits. Aligned chains (≥ 0.8) shorter than 0.1 probe spreads
  (14) carried at most 0.1 of readout range along them (slow stretches beside a
  saddle); longer ones (52) a median of 0.54 and up to 2 (across the decision
  boundary), hence ``line_min_relative_extent`` 0.1;
- the 52 chains found to be lines had 5–803 points, alignment 0.81–1.00 (median
  0.99), relative extent 0.11–1.9, arc length 0.3–12 state units, offset ≤ 0.007 and
  separation 2.3–120. Of these, 24 fail when chains are ordered along their first
  principal axis and the extent must reach 0.25 of the probe states' range along the
  chain: 22 for that extent (21 of them at alignment ≥ 0.97), 2 for their alignment
  along principal-axis windows; 8 chains pass that rule and not these. Many trained
  networks at these trial lengths do not integrate along a line in every context:
  66 contexts have no candidate (a pair of attractors and a saddle whose
  eigenvalues lie 0.03–0.1 from 1, or slow points with several eigenvalues near 1),
  41 only short clusters, 41 unaligned clouds, 8 short aligned stretches.
"""

from rnn_analysis.analysis.attractors.counts import oscillatory_modes
from rnn_analysis.analysis.attractors.cycles import recurrence
from rnn_analysis.analysis.attractors.params import AttractorParams
from rnn_analysis.analysis.attractors.structure import attractor_structure

__all__ = ["AttractorParams", "attractor_structure", "oscillatory_modes", "recurrence"]
