"""Hyperparameters of the fixed-point search."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import torch

from rnn_analysis.hyperparameters import Hyperparameters


@dataclass(frozen=True)
class FixedPointParams(Hyperparameters):
    """Hyperparameters of the fixed-point search.

    Attributes
    ----------
    n_initial_states : int, default 1024
        Least number of first-pass probe samples per network and static input.
    initial_states_per_dimension : int, default 8
        The first pass starts from ``max(n_initial_states, initial_states_per_dimension
        × n_state)`` probe samples per static input: the default 1024 up to 128 state
        dimensions (a 64-unit LSTM's state is 128-dimensional), then 8 per dimension
        (2048 for a 256-unit GRU). 0: n_initial_states.
    initial_noise : float, default 0.05
        Standard deviation of the isotropic Gaussian noise added to each initial state
        sampled from the probe trajectories, in the units of the state (absolute, as
        FixedPointFinder's ``noise_scale``).
    expanded_fraction : float, default 0.25
        The first pass also starts from this many noise-expanded probe states per probe
        sample: probe states plus isotropic Gaussian noise of standard deviation
        ``expanded_noise`` times the probe states' spread (the root mean square over
        state dimensions of their standard deviation over all probe samples), which
        reach states between and beyond the probe trajectories. 0: none.
    expanded_noise : float, default 0.5
        See expanded_fraction.
    segment_points : int, default 3
        Second pass: per static input, ``segment_points`` seeds evenly spaced inside
        each segment joining two fixed points found by the first pass (at fractions
        k / (segment_points + 1)), where saddles between attractors lie; searched in
        one more batched call, its points merged with the first pass's before
        deduplication. 0: no second pass.
    segment_noise : float, default 0.05
        Standard deviation of the isotropic Gaussian noise added to each segment seed
        (absolute).
    segment_max_pairs : int, default 128
        At most this many segments per network and static input, the shortest first.
    tol_q : float, default 1e-12
        A point with q ≤ tol_q stops being optimised; with ``verify`` off, it is a
        fixed point.
    slow_q : float, default 1e-4
        Unconverged points with q ≤ slow_q are refined and, unless verified as fixed
        points, kept as slow points if they started from a probe sample (slow points are
        reported where the dynamics go; expanded and segment seeds are there to reach
        fixed points); points with larger q are discarded.
    max_iterations : int, default 5000
        Maximum number of Adam iterations.
    learning_rate : float, default 0.01
        Initial per-point Adam learning rate.
    learning_rate_increase : float, default 1.05
        Factor applied to a point's learning rate after an iteration that lowered its q.
    learning_rate_decrease : float, default 0.7
        Factor applied to a point's learning rate after an iteration that raised its q.
    max_learning_rate : float, default 1.0
        Upper bound of the per-point learning rate.
    adam_beta1 : float, default 0.9
        Adam's first-moment decay.
    adam_beta2 : float, default 0.999
        Adam's second-moment decay.
    adam_epsilon : float, default 1e-8
        Adam's denominator offset.
    max_grad_norm : float, default 10.0
        Each point's gradient of q is rescaled to at most this norm before Adam.
    stall_window : int, default 500
        Every stall_window Adam iterations, a point whose q has not fallen below
        ``stall_ratio`` times its value stall_window iterations earlier leaves Adam.
    stall_ratio : float, default 0.5
        See stall_window.
    refine_q : float, default 1e-4
        A point leaves Adam for the Levenberg–Marquardt refinement once q ≤ refine_q
        (0: only after Adam ends).
    refine_iterations : int, default 50
        Maximum number of Levenberg–Marquardt iterations (0 disables refinement).
    refine_damping : float, default 1e-3
        Initial damping μ of the refinement, relative to the mean squared singular value
        of the residual's Jacobian ``dF/dh − I``; divided by 3 after an accepted step and
        multiplied by 4 after a rejected one. A point whose relative damping exceeds
        1e12 has stalled and leaves the refinement.
    refine_geodesic_ratio : float, default 0.75
        Geodesic acceleration (Transtrum & Sethna 2012): each step adds half the
        second-order correction computed from a finite-difference directional second
        derivative of the residual, and is rejected when the correction's norm exceeds
        half this ratio times the step's; it speeds up progress along curved slow
        valleys. 0 disables it.
    refine_float32_jacobian : bool, default True
        Compute the Jacobians that set the refinement's step directions in float32
        (2-3x faster on a CPU). Steps are still accepted on q computed in ``dtype``, so
        this only changes the path, not the accuracy; reported Jacobians are in ``dtype``.
    refine_merge_tol : float, default 1e-4
        During refinement, a point within this distance of an active point of the same
        network and static input with lower q is merged into it: it stops being refined
        and ends where that point ends (they would be duplicates anyway). 0 disables.
    refine_stall_window : int, default 10
        A point whose q has not fallen below ``refine_stall_ratio`` times its value
        refine_stall_window refinement iterations earlier leaves the refinement (a slow
        point, or one still crawling along a slow manifold).
    refine_stall_ratio : float, default 0.5
        See refine_stall_window.
    verify : bool, default True
        Verify every candidate (unique point with q ≤ slow_q) in float64 before calling
        it fixed: damped Newton iterations on the architecture's saturation-free
        residual ``R(h, u)``
        (:meth:`~rnn_analysis.architectures.base.Architecture.fixed_point_residual`,
        whose zeros are exactly the fixed points of F). A candidate is fixed when the
        iteration converges (``‖R‖ ≤ verify_residual_tol``), the full Newton step at
        its end is at most ``verify_step_tol`` (a root, not a flat plateau of R; the
        step is the minimum-norm one where dR/dh is singular to working precision, so
        that the points of an exact continuum of fixed points pass) and it ends within
        ``verify_max_distance`` of the candidate; it is then reported at the root. A
        root reached farther away is kept as a fixed point of its own and the candidate
        is not fixed, nor is any candidate whose iteration does not converge (see
        slow_q). Off: fixed points are the points with q ≤ tol_q, unverified.
    verify_iterations : int, default 30
        Maximum number of Newton iterations per candidate.
    verify_residual_tol : float, default 1e-10
        See verify (absolute, in the units of the state).
    verify_step_tol : float, default 1e-8
        See verify.
    verify_max_distance : float, default 1e-3
        See verify (Euclidean distance in state space).
    unique_tol : float, default 1e-3
        Points of one network and static input closer than this (Euclidean distance
        on ``[h; u]``) are duplicates.
    outlier_distance_scale : float, default 10.0
        Points farther from the centroid of the first-pass probe samples than this many
        times their mean distance from it are dropped (not applied when the samples all
        coincide).
    unstable_tol : float, default 1e-6
        A mode is unstable when ``|λ| > 1 + unstable_tol`` and marginal when
        ``||λ| − 1| ≤ unstable_tol``: a mode growing by less than a factor e in 10^6
        steps is not counted as unstable, so that an eigenvalue at 1 up to rounding
        does not decide a point's stability.
    n_eigenvectors : int, default 8
        Right eigenvectors are stored for this many leading modes (largest |λ|, which
        include the unstable ones) per point.
    store_jacobian : bool, default False
        Also store each point's Jacobian in the dataset.
    seed : int, default 0
        Seed of the initial states and seeds' noise.
    dtype : {"float64", "float32"}, default "float64"
        Precision of the search (tol_q = 1e-12 needs float64). Verification is always
        in float64.
    """

    n_initial_states: int = 1024
    initial_states_per_dimension: int = 8
    initial_noise: float = 0.05
    expanded_fraction: float = 0.25
    expanded_noise: float = 0.5
    segment_points: int = 3
    segment_noise: float = 0.05
    segment_max_pairs: int = 128
    tol_q: float = 1e-12
    slow_q: float = 1e-4
    max_iterations: int = 5000
    learning_rate: float = 0.01
    learning_rate_increase: float = 1.05
    learning_rate_decrease: float = 0.7
    max_learning_rate: float = 1.0
    adam_beta1: float = 0.9
    adam_beta2: float = 0.999
    adam_epsilon: float = 1e-8
    max_grad_norm: float = 10.0
    stall_window: int = 500
    stall_ratio: float = 0.5
    refine_q: float = 1e-4
    refine_iterations: int = 50
    refine_damping: float = 1e-3
    refine_geodesic_ratio: float = 0.75
    refine_float32_jacobian: bool = True
    refine_merge_tol: float = 1e-4
    refine_stall_window: int = 10
    refine_stall_ratio: float = 0.5
    verify: bool = True
    verify_iterations: int = 30
    verify_residual_tol: float = 1e-10
    verify_step_tol: float = 1e-8
    verify_max_distance: float = 1e-3
    unique_tol: float = 1e-3
    outlier_distance_scale: float = 10.0
    unstable_tol: float = 1e-6
    n_eigenvectors: int = 8
    store_jacobian: bool = False
    seed: int = 0
    dtype: Literal["float64", "float32"] = "float64"

    def __post_init__(self) -> None:
        positive = (
            "learning_rate",
            "max_learning_rate",
            "tol_q",
            "refine_damping",
            "verify_residual_tol",
            "verify_step_tol",
            "verify_max_distance",
        )
        for name in positive:
            if not getattr(self, name) > 0:
                raise ValueError(f"{name} must be > 0, got {getattr(self, name)}")
        non_negative = (
            "initial_states_per_dimension",
            "initial_noise",
            "expanded_noise",
            "segment_points",
            "segment_noise",
            "segment_max_pairs",
            "max_iterations",
            "refine_iterations",
            "refine_q",
            "verify_iterations",
            "unique_tol",
            "unstable_tol",
            "adam_epsilon",
            "refine_geodesic_ratio",
            "n_eigenvectors",
            "refine_merge_tol",
        )
        for name in non_negative:
            if getattr(self, name) < 0:
                raise ValueError(f"{name} must be >= 0, got {getattr(self, name)}")
        if self.n_initial_states < 1:
            raise ValueError(f"n_initial_states must be >= 1, got {self.n_initial_states}")
        if self.expanded_fraction < 0:
            raise ValueError(f"expanded_fraction must be >= 0, got {self.expanded_fraction}")
        if self.slow_q < self.tol_q:
            raise ValueError(f"slow_q ({self.slow_q}) must be >= tol_q ({self.tol_q})")
        for name in ("adam_beta1", "adam_beta2"):
            if not 0 <= getattr(self, name) < 1:
                raise ValueError(f"{name} must be in [0, 1), got {getattr(self, name)}")
        if not self.max_grad_norm > 0:
            raise ValueError(f"max_grad_norm must be > 0, got {self.max_grad_norm}")
        if not self.outlier_distance_scale > 0:
            raise ValueError(
                f"outlier_distance_scale must be > 0, got {self.outlier_distance_scale}"
            )
        if self.learning_rate_increase < 1 or not 0 < self.learning_rate_decrease <= 1:
            raise ValueError(
                "learning_rate_increase must be >= 1 and learning_rate_decrease in (0, 1]"
            )
        for name in ("stall_window", "refine_stall_window"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be >= 1, got {getattr(self, name)}")
        for name in ("stall_ratio", "refine_stall_ratio"):
            if not 0 < getattr(self, name) <= 1:
                raise ValueError(f"{name} must be in (0, 1], got {getattr(self, name)}")
        if self.dtype not in ("float64", "float32"):
            raise ValueError(f"dtype must be 'float64' or 'float32', got {self.dtype!r}")

    @property
    def torch_dtype(self) -> torch.dtype:
        return torch.float64 if self.dtype == "float64" else torch.float32

    def n_first_pass(self, n_state: int) -> int:
        """First-pass probe samples per static input for an ``n_state``-dimensional state."""
        return max(self.n_initial_states, self.initial_states_per_dimension * n_state)
