"""Reward-modulated Hebbian learning by node perturbation (Miconi 2017) for rate networks.

Miconi, "Biologically plausible learning in recurrent neural networks reproduces neural
dynamics observed during cognitive tasks", eLife 6:e20899 (2017). Each unit's input is
perturbed now and then; every synapse accumulates over the trial an eligibility trace of
supralinear products of its presynaptic rate and its postsynaptic unit's deviation from a
running average; at the end of the trial the trace, times the reward minus its running
mean, changes the recurrent weight, clipped.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

import numpy as np
import torch

from rnn_analysis.architectures.base import Architecture
from rnn_analysis.hyperparameters import Hyperparameters
from rnn_analysis.tasks.base import TrialBatch
from rnn_analysis.training.rule import (
    LEARNING_RULES,
    LearningRule,
    NetworkResult,
    TrainingContext,
)
from rnn_analysis.training.tracker import EnsembleTracker
from rnn_analysis.training.trials import masked_mse, stack_trials, validate


@dataclass(frozen=True)
class HebbianParams(Hyperparameters):
    """Hyperparameters of reward-modulated Hebbian learning; defaults are the study's (Miconi's).

    Attributes
    ----------
    perturbation_probability : float, default 0.003
        Probability that a unit's input is perturbed at a time step, independently per
        unit, step and trial.
    perturbation_amplitude : float, default 16.0
        A perturbation ξ ~ U(−A, A) is added to the unit's input (drive), so that its
        activation gains α·ξ on that step (α = dt/τ of the rate network).
    learning_rate : float, default 0.01
        η of ΔW = η · e · (R − R̄).
    max_dw : float, default 1e-4
        Every entry of a trial's ΔW is clipped to ±max_dw; 0 disables the clipping.
    activity_trace : float, default 0.05
        a_tr of each unit's running average of its activation,
        x̄(t) = a_tr · x̄(t − 1) + (1 − a_tr) · x(t), which starts at the initial state.
        A unit's deviation at step t is x(t) − x̄(t − 1), the average before x(t) enters
        it (as in Miconi's code).
    reward_trace : float, default 0.33
        a_R of the running average of rewards, R̄ ← a_R · R̄ + (1 − a_R) · R (Miconi's
        published code uses 0.75).
    supralinear : {"cube", "signed_square"}, default "cube"
        S(y) = y³, or the sign-preserving square y·|y|, applied to every product of
        presynaptic rate and postsynaptic deviation.
    baseline : {"network", "target"}, default "network"
        R̄ is one running average per network, or one per network and distinct target
        of a trial (its targets on the masked steps; the decision tasks' choices), as
        Miconi keeps one per trial type. A baseline starts at the mean reward of the
        first update's trials of its kind, so that the first trial (of a kind) only sets
        it. "target" suits tasks with few distinct targets: where every trial's target
        is new (e.g. flip-flop, sine) no trial ever has a baseline to learn from.
    trials_per_update : int, default 1
        B independent trials per network per weight update (Miconi: one). Each trial has
        its own perturbations, trace, reward and clipped ΔW; the update is their mean, and
        the baseline then moves once, towards their mean reward.
    max_trials : int, default 50000
        Budget of training trials; a network gets ``max_trials // trials_per_update``
        updates at most, after which it is ``not_converged``.
    """

    perturbation_probability: float = 0.003
    perturbation_amplitude: float = 16.0
    learning_rate: float = 0.01
    max_dw: float = 1e-4
    activity_trace: float = 0.05
    reward_trace: float = 0.33
    supralinear: Literal["cube", "signed_square"] = "cube"
    baseline: Literal["network", "target"] = "network"
    trials_per_update: int = 1
    max_trials: int = 50000

    def __post_init__(self) -> None:
        if not 0 <= self.perturbation_probability <= 1:
            raise ValueError(
                f"perturbation_probability must be in [0, 1], got {self.perturbation_probability}"
            )
        for key in ("perturbation_amplitude", "learning_rate", "max_dw"):
            value = getattr(self, key)
            if not (math.isfinite(value) and value >= 0):
                raise ValueError(f"{key} must be a finite number >= 0, got {value}")
        if self.learning_rate == 0:
            raise ValueError("learning_rate must be > 0, got 0")
        for key in ("activity_trace", "reward_trace"):
            if not 0 <= getattr(self, key) < 1:
                raise ValueError(f"{key} must be in [0, 1), got {getattr(self, key)}")
        if self.supralinear not in ("cube", "signed_square"):
            raise ValueError(
                f"supralinear must be 'cube' or 'signed_square', got {self.supralinear!r}"
            )
        if self.baseline not in ("network", "target"):
            raise ValueError(f"baseline must be 'network' or 'target', got {self.baseline!r}")
        if self.trials_per_update < 1:
            raise ValueError(f"trials_per_update must be >= 1, got {self.trials_per_update}")
        if self.max_trials < self.trials_per_update:
            raise ValueError(
                f"max_trials must be >= trials_per_update ({self.trials_per_update}), "
                f"got {self.max_trials}"
            )

    @property
    def max_updates(self) -> int:
        return self.max_trials // self.trials_per_update


def supralinear(y: torch.Tensor, kind: str) -> torch.Tensor:
    """S(y) = y³ ("cube") or y·|y| ("signed_square")."""
    return y * y * y if kind == "cube" else y * y.abs()


@dataclass
class PerturbedTrials:
    """What one update needs from the perturbed trials of the active networks.

    Attributes
    ----------
    trace : [E, B, N, N] eligibility traces, ``trace[e, b, j, i]`` of the synapse j → i
    reward : [E, B] rewards, −(mean absolute error over the masked steps)
    loss : [E] masked MSE over the B trials
    final : [E, B, N] activations at the last step
    """

    trace: torch.Tensor
    reward: torch.Tensor
    loss: torch.Tensor
    final: torch.Tensor


def draw_perturbations(
    generators: Sequence[torch.Generator],
    n_steps: int,
    batch_size: int,
    n_units: int,
    probability: float,
    amplitude: float,
    device: torch.device | str,
) -> torch.Tensor:
    """Input perturbations of one update, one draw per network: [E, B, T, N].

    Each network draws ``[2, T, B, N]`` uniforms from its own generator: the first
    decides where a perturbation happens (< ``probability``), the second its value
    ``(2u − 1) · amplitude``.
    """
    out = []
    for g in generators:
        u = torch.rand(2, n_steps, batch_size, n_units, generator=g)
        out.append(torch.where(u[0] < probability, (2.0 * u[1] - 1.0) * amplitude, 0.0))
    return torch.stack(out).transpose(1, 2).to(device)


def run_perturbed(
    model: Architecture,
    index: torch.Tensor | slice,
    batch: TrialBatch,
    perturbations: torch.Tensor,
    params: HebbianParams,
) -> PerturbedTrials:
    """Run the networks ``index`` of the rate ensemble ``model`` on perturbed trials.

    Dynamics of :class:`~rnn_analysis.architectures.rate.Rate` with the perturbation ξ
    added to the input: x(t) = (1 − α) x(t − 1) + α (W φ(x(t − 1)) + U u(t) + b + ξ(t)),
    from the model's initial state x(0) = 0. The eligibility trace of the synapse j → i
    (entry ``W[j, i]``) is e_ij = Σ_t S(r_j(t − 1) · (x_i(t) − x̄_i(t − 1))), with
    r = φ(x) and x̄ the running average of x (updated after the increment, as in Miconi's
    code; with the updated average the deviation would only be a_tr times as large).
    Since S is multiplicative, S(r δ) = S(r) S(δ), and the sum over time is one matrix
    product per trial.

    Parameters
    ----------
    model : a rate ensemble
    index : the networks to run
    batch : their trials, [E, B, T, ...]
    perturbations : [E, B, T, N] input perturbations
    params : the rule's hyperparameters
    """
    weight = model.weight_hh.detach()[index]
    drive = torch.baddbmm(
        model.bias_h.detach()[index].unsqueeze(1),
        batch.inputs.flatten(1, 2),
        model.weight_ih.detach()[index],
    ).unflatten(1, batch.inputs.shape[1:3])
    drive = drive + perturbations
    alpha = model.params.alpha
    x = model.initial_state(batch.inputs.shape[1])[index]
    x_bar = x
    rate = model.hidden(x)
    rates = [rate]
    deviations = []
    for t in range(drive.shape[2]):
        x = torch.lerp(x, torch.baddbmm(drive[:, :, t], rate, weight), alpha)
        deviations.append(x - x_bar)
        x_bar = torch.lerp(x, x_bar, params.activity_trace)
        rate = model.hidden(x)
        rates.append(rate)
    states = torch.stack(rates, dim=2)
    pre = supralinear(states[:, :, :-1], params.supralinear).flatten(0, 1)
    post = supralinear(torch.stack(deviations, dim=2), params.supralinear).flatten(0, 1)
    trace = torch.bmm(pre.transpose(1, 2), post).unflatten(0, states.shape[:2])

    e, b, t, n = states[:, :, 1:].shape
    outputs = torch.baddbmm(
        model.bias_out.detach()[index].unsqueeze(1),
        states[:, :, 1:].reshape(e, b * t, n),
        model.weight_out.detach()[index],
    ).reshape(e, b, t, -1)
    mask = batch.mask.unsqueeze(-1)
    error = ((outputs - batch.targets).abs() * mask).sum(dim=(2, 3))
    reward = -error / (mask.sum(dim=(2, 3)) * outputs.shape[-1]).clamp(min=1)
    return PerturbedTrials(trace, reward, masked_mse(outputs, batch), x)


def weight_change(
    trace: torch.Tensor, advantage: torch.Tensor, learning_rate: float, max_dw: float
) -> torch.Tensor:
    """ΔW = mean over trials of clip(η · e · (R − R̄), ±max_dw): trace [E, B, N, N] → [E, N, N]."""
    dw = learning_rate * trace * advantage[:, :, None, None]
    if max_dw > 0:
        dw = dw.clamp(-max_dw, max_dw)
    return dw.mean(dim=1)


def target_keys(batch: TrialBatch) -> list[list[bytes]]:
    """One key per trial of each network: its targets on the masked steps."""
    keys = []
    for targets, mask in zip(batch.targets, batch.mask, strict=True):
        keys.append(
            [
                tgt[m != 0].double().numpy().round(6).tobytes()
                for tgt, m in zip(targets, mask, strict=True)
            ]
        )
    return keys


class RewardBaseline:
    """Running averages of past rewards R̄, per network (and per kind of trial), on the CPU."""

    def __init__(self, n_networks: int, decay: float) -> None:
        self.decay = decay
        self.values: list[dict[bytes, float]] = [{} for _ in range(n_networks)]

    def advantage(self, network: int, rewards: np.ndarray, keys: Sequence[bytes]) -> np.ndarray:
        """R − R̄ of one network's trials, then move R̄ towards their mean reward."""
        table = self.values[network]
        out = np.empty(len(rewards))
        for key in dict.fromkeys(keys):
            chosen = np.array([k == key for k in keys])
            mean = float(rewards[chosen].mean())
            before = table.get(key, mean)
            out[chosen] = rewards[chosen] - before
            table[key] = self.decay * before + (1.0 - self.decay) * mean
        return out


@LEARNING_RULES.register("hebbian")
class Hebbian(LearningRule):
    """Miconi's reward-modulated Hebbian rule, all networks of a rate ensemble at once.

    Every update, each active network runs ``trials_per_update`` trials of its own with
    perturbations drawn from its own ``context.rule_generators[i]`` (one draw of the whole
    update's perturbations, only while the network trains), accumulates the eligibility
    traces e_ij, gets the reward R = −(mean absolute error of the readout over the masked
    steps; for the decision tasks the first and the last step) at the end of each trial
    and changes its recurrent weights by
    clip(η · e · (R − R̄), ±max_dw) (the mean over its trials). Only ``weight_hh`` learns:
    the input weights, biases and the readout keep their initial values, as the output
    of Miconi's networks is read from fixed units. The recorded loss is the masked MSE of
    the perturbed training trials; validation runs the unperturbed networks.
    """

    name = "hebbian"
    Params = HebbianParams
    checkpoints = True
    architectures = ("rate",)
    params: HebbianParams

    def train(self, model: Architecture, context: TrainingContext) -> list[NetworkResult]:
        hp = self.params
        if len(context.rule_generators) != model.n_networks:
            raise ValueError("the hebbian rule needs one rule generator per network")
        model.to(context.device)
        tracker = EnsembleTracker(
            model.n_networks,
            hp.max_updates,
            context.threshold,
            context.stopping,
            context.log,
            unit="trial" if hp.trials_per_update == 1 else "update",
            loss_name="training loss (masked MSE of the perturbed trials)",
        )
        validation = context.validation_batch()
        context.record_features(tracker, model)
        baseline = RewardBaseline(model.n_networks, hp.reward_trace)
        first = 1
        resumed = context.checkpoint.load() if context.checkpoint is not None else None
        if resumed is not None:
            done, state = resumed
            model.load_state_dict(state["model"])
            baseline.values = [dict(v) for v in state["baseline"]]
            tracker.load_state_dict(state["tracker"])
            context.set_generator_states(state["generators"])
            first = done + 1
        else:
            tracker.baseline(lambda: validate(model, context.task, validation))

        for update in range(first, hp.max_updates + 1):
            if not tracker.active.any():
                break
            active = np.flatnonzero(tracker.active)
            loss, checks = self.update(model, context, active, baseline)
            full = np.full(model.n_networks, np.nan)
            full[active] = loss
            tracker.record_loss(update, full)
            for what, passed in checks.items():
                finite = np.ones(model.n_networks, dtype=bool)
                finite[active] = passed
                tracker.diverge(update, finite, what)
            tracker.after_update(update)
            if tracker.validation_due(update):
                tracker.validate(update, validate(model, context.task, validation))
                if context.checkpoint is not None and context.checkpoint.due():
                    context.checkpoint.save(
                        update,
                        {
                            "model": model.state_dict(),
                            "baseline": [dict(v) for v in baseline.values],
                            "tracker": tracker.state_dict(),
                            "generators": context.generator_states(),
                        },
                    )

        results = tracker.results([{"trials_per_update": hp.trials_per_update}] * model.n_networks)
        for result in results:
            result.extra["trials"] = result.iterations * hp.trials_per_update
        return results

    def update(
        self,
        model: Architecture,
        context: TrainingContext,
        active: np.ndarray,
        baseline: RewardBaseline,
    ) -> tuple[np.ndarray, dict[str, np.ndarray]]:
        """One weight update of the networks ``active``: their losses and finiteness checks.

        The checks, in the order a divergence is reported: whether each network's final
        states, rewards, loss and new weights are finite. A network whose states, rewards
        or new weights are not finite keeps its weights.
        """
        hp = self.params
        weight = model.weight_hh
        index = (
            slice(None)
            if len(active) == model.n_networks
            else torch.as_tensor(active, device=weight.device)
        )
        batch = stack_trials(
            context.task,
            hp.trials_per_update,
            [context.trial_generators[i] for i in active],
            context.noise,
            "cpu",
        )
        keys = (
            target_keys(batch)
            if hp.baseline == "target"
            else [[b""] * hp.trials_per_update] * len(active)
        )
        batch = batch.to(context.device)
        perturbations = draw_perturbations(
            [context.rule_generators[i] for i in active],
            batch.inputs.shape[2],
            hp.trials_per_update,
            model.hidden_size,
            hp.perturbation_probability,
            hp.perturbation_amplitude,
            context.device,
        )
        with torch.no_grad():
            run = run_perturbed(model, index, batch, perturbations, hp)
            dtype = run.loss.dtype
            summary = torch.cat(
                [
                    torch.isfinite(run.final).flatten(1).all(dim=1, keepdim=True).to(dtype),
                    torch.isfinite(run.reward).all(dim=1, keepdim=True).to(dtype),
                    run.loss[:, None],
                    run.reward,
                ],
                dim=1,
            )
            summary = summary.cpu().double().numpy()
            state_ok, reward_ok = summary[:, 0] > 0, summary[:, 1] > 0
            advantage = np.zeros_like(summary[:, 3:])
            for row, network in enumerate(active):
                if state_ok[row] and reward_ok[row]:
                    advantage[row] = baseline.advantage(network, summary[row, 3:], keys[row])
            dw = weight_change(
                run.trace,
                torch.as_tensor(advantage, dtype=run.trace.dtype, device=weight.device),
                hp.learning_rate,
                hp.max_dw,
            )
            updated = weight[index] + dw
            weight_ok = torch.isfinite(updated).flatten(1).all(dim=1)
            ok = weight_ok & torch.as_tensor(state_ok & reward_ok, device=weight.device)
            weight[index] = torch.where(ok[:, None, None], updated, weight[index])
        loss = summary[:, 2]
        return loss, {
            "state": state_ok,
            "reward": reward_ok,
            "loss": np.isfinite(loss),
            "weights": weight_ok.cpu().numpy(),
        }
