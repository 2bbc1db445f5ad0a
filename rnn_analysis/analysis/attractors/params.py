"""Hyperparameters of the attractor-structure analysis: every threshold in one place."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import torch

from rnn_analysis.hyperparameters import Hyperparameters

__all__ = ["AttractorParams"]


@dataclass(frozen=True)
class AttractorParams(Hyperparameters):
    """Hyperparameters of the attractor-structure analysis.

    The analysis measures continuous scores first and stores them; the yes/no verdicts
    (a line attractor, oscillating at the cued frequency) are these scores compared with
    the thresholds below.

    Attributes
    ----------
    complex_tol : float, default 1e-6
        An eigenvalue is complex when ``|Im λ| > complex_tol`` (a complex-conjugate pair
        is an oscillatory mode), real otherwise.
    line_tolerance : float, default 0.02
        Line candidates (points): the eigenvalue closest to 1 is real with
        ``|λ − 1| ≤ line_tolerance`` (a slow mode, time constant of at least about
        1 / line_tolerance steps).
    line_separation : float, default 1.0
        Line candidates: the eigenvalue next closest to 1 is at least this many times
        farther from 1 than the closest (distances below 1e-6 count as 1e-6); 1 requires
        nothing. The separation is always stored; it is not required by default because
        trained gated networks have several slow modes along their lines (units whose
        gates saturate hold their value): one slow eigenvector must follow the chain
        (``line_alignment``) and the chain must be a curve, not a sheet
        (``line_max_width``).
    line_max_other_unstable : int, default 0
        Line candidates have at most this many unstable modes besides their slow mode.
    line_max_probe_distance : float, default 1.0
        With probe trajectories, line candidates lie within this many times the probe
        states' RMS spread (RMS distance from their centroid) of the nearest probe state
        (the fixed-point search can end far outside the region the network visits);
        0 disables the rule.
    line_max_gap : float, default 0.25
        Chains: minimum-spanning-tree edges between candidates longer than this many
        times the reference scale (the probe states' RMS spread; without probe states,
        the RMS spread of the static input's candidates) are cut, which splits the
        candidates into chains. A quarter of the spread lies well above the gaps that
        sampling leaves between the points of one line (a tenth of the spread split
        lines of hand-built systems found from 128 initial states) and below the
        distance between separate clusters of slow points.
    line_window : float, default 0.1
        The local tangent of a chain at a point is the first principal axis of the chain
        points within this fraction of the chain's arc length on either side of it (at
        least its two neighbours).
    line_min_points : int, default 5
        A line attractor has at least this many points.
    line_min_extent : float, default 0.1
        A line attractor's extent (largest distance between two of its points) is at
        least this, in the units of the state.
    line_min_relative_extent : float, default 0.1
        With probe trajectories, a line attractor's extent is at least this many times
        the probe states' RMS spread (RMS distance from their centroid): a line the
        task's states use, not a short slow segment (the ghost of a saddle-node
        bifurcation, or the stretch beside a saddle where the local slow eigenvalue
        passes through 1). Relative to the RMS spread, not to the range of the probe
        states along the chain: on trained integrators the probe trajectories of strong
        evidence run past the ends of the line onto the decision attractors, and the
        transient from the initial state adds to that range, which is then 1.5–2 times
        the spread and set by the most extreme trials; at 0.25 of it, long, well
        aligned lines of trained GRUs were rejected. On trained CDI networks, aligned
        chains (alignment ≥ 0.8) shorter than 0.1 spreads carried at most 0.1 of
        readout range along them, longer ones mostly 0.1–2 (see the package's
        documentation).
    line_alignment : float, default 0.8
        A line attractor's slow eigenvectors follow it: the mean over the chain of the
        largest ``|cos|`` between a slow mode's eigenvector (one of the
        ``line_slow_modes`` eigenvalues closest to 1 within ``line_tolerance``) and the
        local tangent, each point weighted by the length of chain it stands for, is at
        least this.
    line_min_readout_range : float, default 0.25
        The network's output changes along a line attractor by at least this (largest
        range, max − min, of one output over the chain's points): a line the network
        reads out, such as an integrator's decision variable, not a slow direction the
        output ignores. On trained CDI networks (outputs ±1) integrating lines span
        0.5–2.2, slow segments off the decision axis 0–0.33. Not applied to networks
        without outputs; 0 disables it.
    line_slow_modes : int, default 3
        At most this many modes (the closest to 1 within ``line_tolerance``) count as a
        point's slow modes for the alignment.
    line_max_width : float, default 0.6
        A line attractor is a curve: the mean over the chain of its local width (second /
        first singular value of the chain's points around each point) is at most this.
        A plane of fixed points sampled by the search has a width of about 0.7; the
        chains of trained CDI networks (GRU, LSTM, UGRNN; 100-step trials) 0.0–0.54.
    line_relax_steps : int, default 100
        Besides the fixed and slow points of the search, line candidates are sampled on
        the slow manifold itself: probe states run this many steps under the static
        input (the fast directions decay, the slow ones stay), kept where the speed
        ``q = ½‖F(h, u*) − h‖²`` is at most ``line_relax_q``. This samples an approximate
        line attractor along its whole length, also where the search ends on its few
        true fixed points. 0 disables it.
    line_relax_states : int, default 256
        Probe states (evenly spaced over the probe trials and time steps) relaxed per
        static input.
    line_relax_q : float, default 1e-4
        Largest speed q of a relaxed state kept as a candidate (the finder's ``slow_q``).
    group_label : str, default "context"
        Static-input label whose values group static inputs (e.g. the integration tasks'
        contexts, each with its static sensory levels); without such a label all static
        inputs form one group ``"all"``.
    group_min_inputs : int, default 1
        A group has a line attractor when at least this many of its static inputs have
        one (the line of an integrator exists near zero sensory input; the other levels
        of a context may only have a stable point on it).
    cycle_initial_states : int, default 8
        Simulations per static input. Half start from the static input's fixed and slow
        points (all of them when no probe states are given), the rest from final probe
        states, each perturbed; with neither, from the zero state perturbed.
    cycle_perturbation : float, default 0.05
        Standard deviation of the Gaussian perturbation of each initial state, in the
        units of the state.
    cycle_transient_steps : int, default 2000
        Steps simulated before the observation window.
    cycle_window_steps : int, default 500
        Length of the observation window.
    cycle_min_period : int, default 2
        Shortest period of a limit cycle, in steps.
    cycle_max_period : int, default 250
        Longest lag at which a return is sought (must be below cycle_window_steps); a
        cycle whose period is longer is not found.
    cycle_min_speed : float, default 1e-4
        A run whose mean step length over the window is below this has stopped (a fixed
        point), in the units of the state.
    cycle_recurrence_tol : float, default 0.05
        A run is on a periodic orbit when its recurrence distance at some lag is at most
        this fraction of the orbit's diameter, and the orbit's size changes by at most
        this fraction over the window.
    cycle_fundamental_tol : float, default 0.5
        The first local minimum of the relative recurrence distance below this value is
        taken as one turn when counting the turns within the best lag.
    cue_label : str, default "omega"
        Static-input label holding the frequency (rad/step) each static input cues (the
        sine task's ``omega``); without such a label the comparisons with a cued
        frequency are left out.
    cue_tolerance : float, default 0.05
        A static input oscillates at its cued frequency when it has a limit cycle whose
        frequency is within this relative error of the cue.
    seed : int, default 0
        Seed of the choice and perturbation of the simulations' initial states.
    dtype : {"float64", "float32"}, default "float64"
        Precision of the simulations and Jacobians.
    """

    complex_tol: float = 1e-6
    line_tolerance: float = 0.02
    line_separation: float = 1.0
    line_max_other_unstable: int = 0
    line_max_probe_distance: float = 1.0
    line_max_gap: float = 0.25
    line_window: float = 0.1
    line_min_points: int = 5
    line_min_extent: float = 0.1
    line_min_relative_extent: float = 0.1
    line_alignment: float = 0.8
    line_min_readout_range: float = 0.25
    line_slow_modes: int = 3
    line_max_width: float = 0.6
    line_relax_steps: int = 100
    line_relax_states: int = 256
    line_relax_q: float = 1e-4
    group_label: str = "context"
    group_min_inputs: int = 1
    cycle_initial_states: int = 8
    cycle_perturbation: float = 0.05
    cycle_transient_steps: int = 2000
    cycle_window_steps: int = 500
    cycle_min_period: int = 2
    cycle_max_period: int = 250
    cycle_min_speed: float = 1e-4
    cycle_recurrence_tol: float = 0.05
    cycle_fundamental_tol: float = 0.5
    cue_label: str = "omega"
    cue_tolerance: float = 0.05
    seed: int = 0
    dtype: Literal["float64", "float32"] = "float64"

    def __post_init__(self) -> None:
        non_negative = (
            "complex_tol",
            "line_tolerance",
            "line_min_extent",
            "line_min_relative_extent",
            "line_max_probe_distance",
            "line_window",
            "line_max_other_unstable",
            "cycle_perturbation",
            "cycle_transient_steps",
            "cycle_min_speed",
            "cue_tolerance",
            "line_relax_steps",
            "line_relax_states",
            "line_relax_q",
            "line_min_readout_range",
        )
        for name in non_negative:
            if getattr(self, name) < 0:
                raise ValueError(f"{name} must be >= 0, got {getattr(self, name)}")
        if not 0 <= self.line_alignment <= 1:
            raise ValueError(f"line_alignment must be in [0, 1], got {self.line_alignment}")
        for name in ("line_max_gap", "cycle_recurrence_tol", "cycle_fundamental_tol"):
            if not getattr(self, name) > 0:
                raise ValueError(f"{name} must be > 0, got {getattr(self, name)}")
        if self.line_separation < 1:
            raise ValueError(f"line_separation must be >= 1, got {self.line_separation}")
        if self.group_min_inputs < 1:
            raise ValueError(f"group_min_inputs must be >= 1, got {self.group_min_inputs}")
        if self.line_slow_modes < 1:
            raise ValueError(f"line_slow_modes must be >= 1, got {self.line_slow_modes}")
        if not 0 < self.line_max_width <= 1:
            raise ValueError(f"line_max_width must be in (0, 1], got {self.line_max_width}")
        if self.line_min_points < 2:
            raise ValueError(f"line_min_points must be >= 2, got {self.line_min_points}")
        if self.cycle_initial_states < 1:
            raise ValueError(f"cycle_initial_states must be >= 1, got {self.cycle_initial_states}")
        if self.cycle_min_period < 1:
            raise ValueError(f"cycle_min_period must be >= 1, got {self.cycle_min_period}")
        if self.cycle_max_period < self.cycle_min_period:
            raise ValueError(
                f"cycle_max_period ({self.cycle_max_period}) must be >= cycle_min_period "
                f"({self.cycle_min_period})"
            )
        if self.cycle_window_steps <= self.cycle_max_period + 1:
            raise ValueError(
                f"cycle_window_steps ({self.cycle_window_steps}) must exceed "
                f"cycle_max_period + 1 ({self.cycle_max_period + 1})"
            )
        for name in ("group_label", "cue_label"):
            if not getattr(self, name):
                raise ValueError(f"{name} must be a non-empty string")
        if self.dtype not in ("float64", "float32"):
            raise ValueError(f"dtype must be 'float64' or 'float32', got {self.dtype!r}")

    @property
    def torch_dtype(self) -> torch.dtype:
        return torch.float64 if self.dtype == "float64" else torch.float32
