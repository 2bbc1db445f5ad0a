"""full-FORCE (DePasquale, Cueva, Rajan, Escola & Abbott 2018) for rate networks.

A teacher ("target-generating") network, driven by the task input and by the target
output, defines a target current for every unit of the student; recursive least squares
(RLS) trains the student's recurrent weights and its readout online, step by step, on one
trial per network at a time.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Literal

import numpy as np
import torch

from rnn_analysis.architectures.base import Architecture, bmm_bias
from rnn_analysis.hyperparameters import Hyperparameters
from rnn_analysis.training.rule import (
    LEARNING_RULES,
    LearningRule,
    NetworkResult,
    TrainingContext,
)
from rnn_analysis.training.tracker import EnsembleTracker
from rnn_analysis.training.trials import finite_networks, masked_mse, stack_trials, validate


@dataclass(frozen=True)
class ForceParams(Hyperparameters):
    """full-FORCE hyperparameters.

    ``alpha`` is in the learning-rules study's range, as are W and the readout starting
    at zero, RLS at every step after a warm-up and restarts from scratch; the other
    values are DePasquale et al.'s (``teacher_gain``) or this package's choices. A large
    alpha learns slowly on short trials: P0 = I/alpha weighs like alpha/⟨r²⟩ steps of
    activity, so alpha ~ 1 to 100 suits tasks of tens of steps per trial.

    Attributes
    ----------
    alpha : float, default 1e4
        RLS starts from P0 = I/alpha (the study: 1e4 to 5e4). A large alpha is a strong
        ridge penalty on the accumulated activity correlations: slower but more stable
        learning.
    teacher_gain : float, default 1.5
        g of the teacher's recurrent weights J^D ~ N(0, g²/N) (DePasquale et al.: 1.5).
    hint_gain : float, default 1.0
        The teacher receives the target f(t) through u_f with entries U(−1, 1) × hint_gain.
    warmup_steps : int, default 10
        Time steps at the start of every trial during which the networks run without RLS
        updates (the step's output still counts in the trial's loss).
    update_every : int, default 1
        After the warm-up, one RLS update every ``update_every`` time steps.
    trials_per_attempt : int, default 2000
        Training trials per attempt; a network that has not converged by then starts
        again from scratch (zero weights, P0, a new teacher).
    max_attempts : int, default 5
        Attempts per network; the budget is ``trials_per_attempt × max_attempts``
        trials, after which a network is ``not_converged``.
    unmasked_target : {"interpolate", "final", "task"}, default "interpolate"
        The target f(t) that drives the teacher and trains the readout. "interpolate":
        on masked steps the task's target; between two masked steps the linear
        interpolation of their targets; before the first and after the last masked step
        the nearest masked target (for ``rdm``: a ramp from 0 at the first step to ±1 at
        the last; a task masked everywhere keeps its target). "final": the target of the
        trial's last masked step on every step (for ``rdm`` and ``cdi``: the answer ±1
        held throughout the trial, the learning-rules study's full-FORCE target and
        hint). "task": the task's target array as it is, masked or not.
    precision : {"float64", "float32"}, default "float64"
        Floating-point type of the RLS matrices P, of the weights while they are trained
        and of the networks' states during training; the trained weights are stored in
        the model's own type. RLS stays stable in float32 (P remains symmetric positive
        definite over tens of thousands of updates), but online RLS amplifies rounding
        differences, e.g. between a network trained alone and in an ensemble, until
        their training paths part; float64 keeps them together, at about 1.4 times the
        cost for N = 200 and hardly more for N = 50.
    """

    alpha: float = 1e4
    teacher_gain: float = 1.5
    hint_gain: float = 1.0
    warmup_steps: int = 10
    update_every: int = 1
    trials_per_attempt: int = 2000
    max_attempts: int = 5
    unmasked_target: Literal["interpolate", "final", "task"] = "interpolate"
    precision: Literal["float64", "float32"] = "float64"

    def __post_init__(self) -> None:
        if not (math.isfinite(self.alpha) and self.alpha > 0):
            raise ValueError(f"alpha must be a finite number > 0, got {self.alpha}")
        if not (math.isfinite(self.teacher_gain) and self.teacher_gain >= 0):
            raise ValueError(f"teacher_gain must be a finite number >= 0, got {self.teacher_gain}")
        if not math.isfinite(self.hint_gain):
            raise ValueError(f"hint_gain must be a finite number, got {self.hint_gain}")
        if self.warmup_steps < 0:
            raise ValueError(f"warmup_steps must be >= 0, got {self.warmup_steps}")
        for key in ("update_every", "trials_per_attempt", "max_attempts"):
            if getattr(self, key) < 1:
                raise ValueError(f"{key} must be >= 1, got {getattr(self, key)}")
        if self.unmasked_target not in ("interpolate", "final", "task"):
            raise ValueError(
                "unmasked_target must be 'interpolate', 'final' or 'task', got "
                f"{self.unmasked_target!r}"
            )
        if self.precision not in ("float64", "float32"):
            raise ValueError(f"precision must be 'float64' or 'float32', got {self.precision!r}")


def final_masked_targets(targets: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """Every step's target set to the target of the trial's last masked step (the trial's
    answer held throughout); a trial without any masked step keeps its targets.

    Parameters
    ----------
    targets : [..., T, O] tensor
    mask : [..., T] tensor, nonzero where the target is defined

    Returns
    -------
    [..., T, O] tensor of the dtype of ``targets``
    """
    n_steps = targets.shape[-2]
    on = mask != 0
    steps = torch.arange(n_steps, device=targets.device).expand_as(on)
    last = torch.where(on, steps, -1).max(dim=-1, keepdim=True).values
    index = torch.where(last >= 0, last.expand_as(steps), steps)
    width = targets.shape[-1]
    return targets.gather(-2, index.unsqueeze(-1).expand(*index.shape, width))


def interpolate_masked_targets(targets: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """Targets on every step from those on the masked steps.

    Between two masked steps the target is linearly interpolated; before the first and
    after the last masked step it is held at that step's target. A trial without any
    masked step keeps its targets.

    Parameters
    ----------
    targets : [..., T, O] tensor
    mask : [..., T] tensor, nonzero where the target is defined

    Returns
    -------
    [..., T, O] tensor of the dtype of ``targets``
    """
    n_steps = targets.shape[-2]
    on = mask != 0
    steps = torch.arange(n_steps, device=targets.device).expand_as(on)
    before = torch.where(on, steps, -1).cummax(dim=-1).values
    after = torch.where(on, steps, n_steps).flip(-1).cummin(dim=-1).values.flip(-1)
    any_on = on.any(dim=-1, keepdim=True)
    before = torch.where(before >= 0, before, after)
    after = torch.where(after < n_steps, after, before)
    before = torch.where(any_on, before, steps)
    after = torch.where(any_on, after, steps)
    span = (after - before).clamp(min=1)
    weight = ((steps - before) / span).to(targets.dtype).unsqueeze(-1)
    width = targets.shape[-1]
    low = targets.gather(-2, before.unsqueeze(-1).expand(*before.shape, width))
    high = targets.gather(-2, after.unsqueeze(-1).expand(*after.shape, width))
    return low + weight * (high - low)


@LEARNING_RULES.register("force")
class Force(LearningRule):
    """full-FORCE training of rate networks, all networks of an ensemble at once.

    Every network i has a teacher with recurrent weights J^D (N × N, entries
    N(0, g²/N)) and hint weights u_f (O × N, entries U(−1, 1) × hint_gain) drawn from
    ``context.rule_generators[i]``, and the student's own, fixed input weights U. In a
    trial both start from the zero state and follow, with input u(t) and target f(t),

    - teacher: x_D ← (1 − α_dt) x_D + α_dt (φ(x_D) J^D + u(t) U + f(t) u_f)
    - student: the model's own step, x ← (1 − α_dt) x + α_dt (φ(x) W + u(t) U + b).

    At each step after the warm-up, with r = φ(x) the student's rates before the step
    (shared by every row), RLS moves the student's current r W + b towards the teacher's
    φ(x_D) J^D + f(t) u_f, and the readout r W_out towards the target of the state that
    r comes from, both with one P per network::

        k = P r / (1 + rᵀ P r);  W ← W − k eᵀ;  W_out ← W_out − k e_outᵀ;  P ← P − k (P r)ᵀ

    (errors e taken before the update). W and W_out start at zero and P at I/alpha;
    the input weights, ``bias_h`` and ``bias_out`` (set to 0) stay fixed. One update of
    the tracker is one trial; its loss is the masked MSE of the student's readout
    during the trial, each step's output read before that step's update. Validation
    runs the student alone. A network that has not converged after
    ``trials_per_attempt`` trials starts a new attempt from scratch with a new teacher,
    at most ``max_attempts`` times; ``attempts`` goes into each network's result.
    """

    name = "force"
    checkpoints = True
    Params = ForceParams
    params: ForceParams
    architectures = ("rate",)

    def train(self, model: Architecture, context: TrainingContext) -> list[NetworkResult]:
        hp, task = self.params, context.task
        model.to(context.device)
        device = model.weight_out.device
        dtype = torch.float64 if hp.precision == "float64" else torch.float32
        n_net, n, n_out = model.n_networks, model.hidden_size, model.n_outputs
        budget = hp.trials_per_attempt * hp.max_attempts
        tracker = EnsembleTracker(
            n_net,
            budget,
            context.threshold,
            context.stopping,
            context.log,
            unit="trial",
            loss_name="masked MSE of the student's readout during the training trial",
        )
        tracker.reasons = [
            f"no convergence in {hp.max_attempts} attempt(s) of {hp.trials_per_attempt} trials"
        ] * n_net
        validation = context.validation_batch()
        context.record_features(tracker, model)

        with torch.no_grad():
            model.bias_out.zero_()
            student = model.blank_like(n_net).to(dtype)
            student.load_networks(
                [
                    {k: v.to(dtype) for k, v in model.network_state_dict(i).items()}
                    for i in range(n_net)
                ]
            )
            student.requires_grad_(False)
            w_rec, w_out = student.weight_hh, student.weight_out
            p_mat = torch.zeros(n_net, n, n, dtype=dtype, device=device)
            teacher = torch.zeros(n_net, n, n, dtype=dtype, device=device)
            hint = torch.zeros(n_net, n_out, n, dtype=dtype, device=device)
        attempts = np.zeros(n_net, dtype=np.int64)
        generators = list(context.rule_generators)
        if len(generators) != n_net:
            raise ValueError(f"force needs one rule generator per network, got {len(generators)}")

        def start_attempt(i: int) -> None:
            w_rec[i] = 0.0
            w_out[i] = 0.0
            p_mat[i] = torch.eye(n, dtype=dtype, device=device) / hp.alpha
            j_d = torch.randn(n, n, generator=generators[i], dtype=torch.float64)
            u_f = torch.rand(n_out, n, generator=generators[i], dtype=torch.float64)
            teacher[i] = (j_d * (hp.teacher_gain / math.sqrt(n))).to(device, dtype)
            hint[i] = ((2.0 * u_f - 1.0) * hp.hint_gain).to(device, dtype)
            attempts[i] += 1
            tracker.restart(i)

        frozen: dict[int, tuple[torch.Tensor, torch.Tensor, torch.Tensor]] = {}

        def freeze(i: int) -> None:
            frozen.setdefault(i, (w_rec[i].clone(), w_out[i].clone(), p_mat[i].clone()))

        tracker.on_stop = freeze

        for i in range(n_net):
            start_attempt(i)
        first = 1
        resumed = context.checkpoint.load() if context.checkpoint is not None else None
        if resumed is not None:
            done, state = resumed
            with torch.no_grad():
                model.load_state_dict(state["model"])
                student.load_state_dict(state["student"])
                for saved, live in zip(state["rls"], (p_mat, teacher, hint), strict=True):
                    live.copy_(saved)
            attempts[:] = state["attempts"]
            frozen.update(state["frozen"])
            tracker.load_state_dict(state["tracker"])
            context.set_generator_states(state["generators"])
            first = done + 1
        else:
            with torch.no_grad():
                model.weight_hh.copy_(w_rec.to(model.weight_hh.dtype))
                model.weight_out.copy_(w_out.to(model.weight_out.dtype))
            tracker.baseline(lambda: validate(model, task, validation))

        for iteration in range(first, budget + 1):
            if not tracker.active.any():
                break
            batch = stack_trials(task, 1, context.trial_generators, context.noise, device)
            inputs = batch.inputs[:, 0].to(dtype)  # [E, T, n_in]
            target = batch.targets[:, 0].to(dtype)  # [E, T, O]
            if hp.unmasked_target == "interpolate":
                target = interpolate_masked_targets(target, batch.mask[:, 0])
            elif hp.unmasked_target == "final":
                target = final_masked_targets(target, batch.mask[:, 0])
            with torch.no_grad():
                outputs, state = self._trial(student, inputs, target, p_mat, teacher, hint)
                for i, (w_i, o_i, p_i) in frozen.items():
                    w_rec[i], w_out[i], p_mat[i] = w_i, o_i, p_i
                loss = masked_mse(outputs.unsqueeze(1).to(batch.targets.dtype), batch)
                loss_np = loss.cpu().double().numpy()
                tracker.record_loss(iteration, loss_np)
                tracker.diverge(iteration, finite_networks([state]), "student state")
                tracker.diverge(iteration, np.isfinite(loss_np), "training loss")
                tracker.diverge(iteration, finite_networks([w_rec]), "recurrent weights")
                tracker.diverge(iteration, finite_networks([w_out]), "readout weights")
                tracker.diverge(iteration, finite_networks([p_mat]), "RLS matrix P")
                model.weight_hh.copy_(w_rec.to(model.weight_hh.dtype))
                model.weight_out.copy_(w_out.to(model.weight_out.dtype))
            tracker.after_update(iteration)

            if tracker.validation_due(iteration):
                tracker.validate(iteration, validate(model, task, validation))

            if iteration % hp.trials_per_attempt == 0 and iteration < budget:
                for i in np.flatnonzero(tracker.active):
                    context.log(
                        f"network {i}: not converged after attempt {attempts[i]} of "
                        f"{hp.max_attempts} ({hp.trials_per_attempt} trials); starting again"
                    )
                    start_attempt(int(i))
            if (
                tracker.validation_due(iteration)
                and context.checkpoint is not None
                and context.checkpoint.due()
            ):
                context.checkpoint.save(
                    iteration,
                    {
                        "model": model.state_dict(),
                        "student": student.state_dict(),
                        "rls": (p_mat, teacher, hint),
                        "attempts": attempts.copy(),
                        "frozen": frozen,
                        "tracker": tracker.state_dict(),
                        "generators": context.generator_states(),
                    },
                )

        return tracker.results([{"attempts": int(a)} for a in attempts])

    def _trial(
        self,
        student: Architecture,
        inputs: torch.Tensor,
        target: torch.Tensor,
        p_mat: torch.Tensor,
        teacher: torch.Tensor,
        hint: torch.Tensor,
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """One training trial of every network; trains ``student`` and ``p_mat`` in place.

        ``inputs`` [E, T, n_in] and ``target`` [E, T, O] drive student and teacher.
        Returns the student's outputs [E, T, O], each read before its step's update, and
        its final state [E, 1, N].
        """
        hp = self.params
        dt = float(student.params.alpha)  # type: ignore[attr-defined]
        w_rec, w_out, bias_h = student.weight_hh, student.weight_out, student.bias_h
        n_steps = inputs.shape[1]
        input_drive = torch.bmm(inputs, student.weight_ih)  # u(t) U, [E, T, N]
        hint_drive = torch.bmm(target, hint)  # f(t) u_f, [E, T, N]
        x_s = student.initial_state(1).to(inputs.dtype)
        x_d = torch.zeros_like(x_s)
        outputs = []
        for t in range(n_steps + 1):
            r = student.hidden(x_s)  # rates of the state after step t - 1
            if t > 0:
                y = student.readout(x_s)  # output of step t - 1, before this update
                outputs.append(y)
            if t < n_steps:
                target_current = torch.bmm(student.hidden(x_d), teacher) + hint_drive[:, t : t + 1]
            if t >= hp.warmup_steps and (t - hp.warmup_steps) % hp.update_every == 0:
                p_r = torch.bmm(p_mat, r.transpose(1, 2))  # [E, N, 1]
                k = p_r / (1.0 + torch.bmm(r, p_r))
                if t < n_steps:
                    w_rec.sub_(torch.bmm(k, bmm_bias(r, w_rec, bias_h) - target_current))
                if t > 0:
                    w_out.sub_(torch.bmm(k, y - target[:, t - 1 : t]))
                p_mat.sub_(torch.bmm(k, p_r.transpose(1, 2)))
            if t < n_steps:
                x_s = student.step(x_s, inputs[:, None, t])
                x_d = (1.0 - dt) * x_d + dt * (target_current + input_drive[:, t : t + 1])
        return torch.cat(outputs, dim=1), x_s
