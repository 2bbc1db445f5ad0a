"""Fixed and slow points of every network of an ensemble (after Golub & Sussillo's finder).

For each network, static input ``u*`` and initial state, the speed
``q(h) = ½‖F(h, u*) − h‖²`` is minimised, all points of all static inputs of all
networks together as one ``[E, points, S]`` tensor, with per-point convergence; the
points still being optimised are compacted as others leave, so finished points cost
nothing (:mod:`.search`, :mod:`.refine`):

1. **Adam** (as in FixedPointFinder) with a per-point adaptive learning rate and
   per-point gradient-norm clipping. A point leaves once q ≤ ``tol_q`` (converged),
   once q ≤ ``refine_q`` (handed to step 2), when its q stops falling (see
   ``stall_window``) or after ``max_iterations``.
2. **Levenberg–Marquardt refinement** of the handed-off points and of every other
   unconverged point with q ≤ ``slow_q``: damped Gauss–Newton steps on the residual
   ``F(h, u*) − h`` with geodesic acceleration, accepted only where they lower q. Near
   a fixed point this converges quadratically (first-order methods crawl along the
   nearly flat valleys of trained networks, where ``|1 − λ|`` of the slowest modes is
   1e-3 or less). A point leaves when q ≤ ``tol_q``, when its q stops falling (see
   ``refine_stall_window``), or when it comes within ``refine_merge_tol`` of a lower-q
   point, which it then follows. The refinement only polishes: a point it does not
   converge gets its step-1 result back, so that a slow point is not dragged far along
   a slow valley towards a distant minimum of q.
3. **Adam again** on the handed-off points that step 2 did not converge, from where
   they were handed off, without hand-off and with the iterations left; each keeps
   the lower-q of its two end points.

**Initial states** (:mod:`.initial_states`): a first pass starts from probe-trajectory
samples plus small noise (``max(n_initial_states, initial_states_per_dimension ×
n_state)`` per static input) and from noise-expanded probe states (``expanded_fraction``
as many); a second pass starts from
seeds along the segments joining the fixed points of the first pass (per static input),
where saddles between attractors lie.

**Verification** (:mod:`.verify`, :mod:`.points`): the end points with q ≤ ``slow_q``,
deduplicated, are candidates. q below ``tol_q`` does not make a fixed point: it also
vanishes where a gate saturates and nearly vanishes at ghosts. Each candidate is
verified in float64 by damped Newton iterations on the architecture's saturation-free
residual (:meth:`~rnn_analysis.architectures.base.Architecture.fixed_point_residual`):
it is a fixed point, reported at the root, only where the iteration converges (tiny
residual), the final full Newton step is tiny (a root, not a flat plateau) and the root lies
within ``verify_max_distance`` of the candidate; a root reached farther away is kept as
a fixed point of its own. Candidates that are not fixed are slow points, kept where they
started from probe samples (where the dynamics go).

Per network and static input, points farther from the first-pass probe samples'
centroid than ``outlier_distance_scale`` times their mean distance from it are dropped,
and the rest are deduplicated on ``[h; u]`` (fixed points first, then by q). At each
kept point the Jacobian ``dF/dh``, its eigen-decomposition (sorted by ``|λ|``,
descending), the number of unstable (``|λ| > 1 + unstable_tol``) and marginal
(``||λ| − 1| ≤ unstable_tol``) modes and the readout are computed
(:mod:`.dataset`). For a continuous-time architecture (the ``rate`` network, an Euler
step ``F = h + α f``) the stability of each point under the flow is reported beside the
map's: the flow's Jacobian ``(dF/dh − I) / α`` has eigenvalues ``(λ − 1) / α``, and
``|λ| > 1`` (the map) is not ``Re λ_ct > 0`` (the flow) unless α is small. Results
are one self-describing :class:`xarray.Dataset` per network.
"""

from rnn_analysis.analysis.fixed_points.finder import find_fixed_points
from rnn_analysis.analysis.fixed_points.initial_states import sample_initial_states
from rnn_analysis.analysis.fixed_points.jacobians import jacobian, net_copy, residual_jacobian
from rnn_analysis.analysis.fixed_points.params import FixedPointParams

__all__ = [
    "FixedPointParams",
    "find_fixed_points",
    "jacobian",
    "net_copy",
    "residual_jacobian",
    "sample_initial_states",
]
