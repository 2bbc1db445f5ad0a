"""A genetic algorithm: truncation selection, elitism and Gaussian mutation, no gradients."""

from __future__ import annotations

import math
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
from rnn_analysis.training.trials import stack_trials, validate


@dataclass(frozen=True)
class GeneticParams(Hyperparameters):
    """Genetic-algorithm hyperparameters; defaults are the learning-rules study's.

    Every network of an ensemble evolves its own population of ``population_size``
    flat parameter vectors. Generation 0 is the network's initial weights (member 0,
    unchanged) and ``population_size − 1`` mutated copies of them. Each generation
    evaluates every member on the same ``batch_size`` trials (drawn from the network's
    trial generator); the fitness is −(masked MSE) on those trials, and a member
    whose fitness or weights are not finite gets fitness −∞. Members are sorted by
    fitness (ties keep member order); the ``n_elites`` best are carried over
    unchanged, and each of the other ``population_size − n_elites`` members of the
    next generation is one of the ``n_parents`` best, chosen uniformly at random,
    plus ``mutation_std`` · N(0, I) on its trained parameters. The network's weights
    are the best member of the latest generation; that member is validated, and the
    recorded loss is its masked MSE. A network whose whole population is non-finite
    is diverged.

    Attributes
    ----------
    population_size : int, default 50
        Members per network (the study used 20 for the CDI task).
    n_parents : int, default 5
        The best members from which children are bred (truncation selection).
    mutation_std : float, default 0.005
        Standard deviation of the Gaussian mutation of every trained parameter.
    max_generations : int, default 2000
        Budget of generations; a network that has not converged by then is
        ``not_converged``.
    batch_size : int, default 500
        Trials per generation, shared by all members of one network's population (as
        BPTT's batch). Cost and memory per generation scale with
        ``population_size × batch_size``.
    n_elites : int, default 1
        The best members carried over to the next generation unchanged (0: none).
    trained_weights : {"all", "recurrent"}, default "all"
        Mutate every parameter, or only the recurrent matrix (as the learning-rules
        study trained only W_rec); other parameters keep their initial values.
    """

    population_size: int = 50
    n_parents: int = 5
    mutation_std: float = 0.005
    max_generations: int = 2000
    batch_size: int = 500
    n_elites: int = 1
    trained_weights: Literal["all", "recurrent"] = "all"

    def __post_init__(self) -> None:
        if self.population_size < 2:
            raise ValueError(f"population_size must be >= 2, got {self.population_size}")
        if not 1 <= self.n_parents <= self.population_size:
            raise ValueError(
                f"n_parents must be in 1..population_size ({self.population_size}), "
                f"got {self.n_parents}"
            )
        if not 0 <= self.n_elites <= self.n_parents or self.n_elites >= self.population_size:
            raise ValueError(
                f"n_elites must be in 0..n_parents ({self.n_parents}) and below "
                f"population_size ({self.population_size}), got {self.n_elites}"
            )
        if not (math.isfinite(self.mutation_std) and self.mutation_std > 0):
            raise ValueError(f"mutation_std must be a finite number > 0, got {self.mutation_std}")
        if self.max_generations < 1:
            raise ValueError(f"max_generations must be >= 1, got {self.max_generations}")
        if self.batch_size < 1:
            raise ValueError(f"batch_size must be >= 1, got {self.batch_size}")
        if self.trained_weights not in ("all", "recurrent"):
            raise ValueError(
                f"trained_weights must be 'all' or 'recurrent', got {self.trained_weights!r}"
            )


def population_fitness(population: Architecture, batch: TrialBatch) -> torch.Tensor:
    """−(masked MSE) of every member of every network's population: [E, P].

    ``population`` holds ``E × P`` networks, network ``e``'s members at
    ``e·P … e·P + P − 1``; ``batch`` holds each network's trials [E, B, T, ...], which
    all its members see. States are not stored, and the readout runs only at steps
    that some trial scores.
    """
    e, b, n_steps, n_in = batch.inputs.shape
    p = population.n_networks // e
    h = population.initial_state(b)
    error = torch.zeros(e, p, dtype=h.dtype, device=h.device)
    scored = batch.mask.flatten(0, 1).gt(0).any(dim=0).tolist()
    for t in range(n_steps):
        u = batch.inputs[:, None, :, t].expand(e, p, b, n_in).reshape(e * p, b, n_in)
        h = population.step(h, u)
        if scored[t]:
            out = population.readout(h).view(e, p, b, -1)
            diff = (out - batch.targets[:, None, :, t]) ** 2
            error += (diff * batch.mask[:, None, :, t, None]).sum(dim=(2, 3))
    count = (batch.mask.sum(dim=(1, 2)) * population.n_outputs).clamp(min=1)
    return -error / count[:, None]


@LEARNING_RULES.register("genetic")
class Genetic(LearningRule):
    """A genetic algorithm for all networks of an ensemble at once.

    The populations of the active networks are evaluated as one batch of
    ``E × P`` networks (never one block-diagonal network). Each network draws its
    trials and its selections and mutations from its own generators, and only while
    it is active, so it follows the path it would follow if trained alone.
    """

    name = "genetic"
    checkpoints = True
    Params = GeneticParams
    params: GeneticParams

    def trained_names(self, model: Architecture) -> list[str]:
        names = [n for n, _ in model.named_parameters()]
        if self.params.trained_weights == "all":
            return names
        return [n for n in names if n in model.recurrent_parameters]

    def train(self, model: Architecture, context: TrainingContext) -> list[NetworkResult]:
        hp, task = self.params, context.task
        p, n_children = hp.population_size, hp.population_size - hp.n_elites
        device = context.device
        model.to(device)
        if len(context.rule_generators) != model.n_networks:
            raise ValueError("the genetic rule needs one rule generator per network")
        tracker = EnsembleTracker(
            model.n_networks,
            hp.max_generations,
            context.threshold,
            context.stopping,
            context.log,
            unit="generation",
            loss_name="masked MSE of the best member on the generation's trials",
        )
        validation = context.validation_batch()
        context.record_features(tracker, model)
        names = self.trained_names(model)
        layout = _Layout(model, names)

        with torch.no_grad():
            init = layout.flatten(model)
            noise = [torch.randn(p - 1, layout.size, generator=g) for g in context.rule_generators]
            population = init[:, None].repeat(1, p, 1)
            population[:, 1:] += hp.mutation_std * torch.stack(noise).to(device)
            cache: dict[tuple[int, ...], Architecture] = {}
            first = 1
            resumed = context.checkpoint.load() if context.checkpoint is not None else None
            if resumed is not None:
                done, state = resumed
                model.load_state_dict(state["model"])
                population = state["population"].to(device)
                tracker.load_state_dict(state["tracker"])
                context.set_generator_states(state["generators"])
                first = done + 1
            else:
                tracker.baseline(lambda: validate(model, task, validation))

            for generation in range(first, hp.max_generations + 1):
                if not tracker.active.any():
                    break
                idx = np.flatnonzero(tracker.active)
                rows = torch.as_tensor(idx, device=device)
                key = tuple(idx.tolist())
                if key not in cache:
                    cache.clear()
                    cache[key] = layout.population_model(model, rows, p)
                members = population[rows]
                layout.load(cache[key], members)
                batch = stack_trials(
                    task,
                    hp.batch_size,
                    [context.trial_generators[i] for i in idx],
                    context.noise,
                    device,
                )
                fitness = population_fitness(cache[key], batch)
                finite = torch.isfinite(fitness) & torch.isfinite(members).all(dim=2)
                fitness = torch.where(finite, fitness, -torch.inf)
                fitness, order = torch.sort(fitness, dim=1, descending=True, stable=True)

                losses = np.full(model.n_networks, np.nan)
                losses[idx] = -fitness[:, 0].cpu().double().numpy()
                tracker.record_loss(generation, losses)
                alive = np.ones(model.n_networks, dtype=bool)
                alive[idx] = np.isfinite(losses[idx])
                tracker.diverge(generation, alive, "fitness of every member")

                keep = alive[idx]
                best = members[torch.arange(len(idx), device=device), order[:, 0]]
                layout.write(model, rows[torch.as_tensor(keep, device=device)], best[keep])
                tracker.after_update(generation)

                if tracker.validation_due(generation):
                    tracker.validate(generation, validate(model, task, validation))
                if generation == hp.max_generations:
                    break

                breed = np.flatnonzero(tracker.active[idx])
                if len(breed) == 0:
                    continue
                choices, mutations = [], []
                for j in breed:
                    g = context.rule_generators[idx[j]]
                    choices.append(torch.randint(hp.n_parents, (n_children,), generator=g))
                    mutations.append(torch.randn(n_children, layout.size, generator=g))
                local = torch.as_tensor(breed, device=device)
                ranked = order[local]
                parents = ranked.gather(1, torch.stack(choices).to(device))
                chosen = torch.cat([ranked[:, : hp.n_elites], parents], dim=1)
                offspring = members[local[:, None], chosen]
                offspring[:, hp.n_elites :] += hp.mutation_std * torch.stack(mutations).to(device)
                population[rows[local]] = offspring
                if (
                    tracker.validation_due(generation)
                    and context.checkpoint is not None
                    and context.checkpoint.due()
                ):
                    context.checkpoint.save(
                        generation,
                        {
                            "model": model.state_dict(),
                            "population": population,
                            "tracker": tracker.state_dict(),
                            "generators": context.generator_states(),
                        },
                    )

        extra = [{"population_size": p}] * model.n_networks
        return tracker.results(extra)


class _Layout:
    """Where each trained parameter lies in a network's flat parameter vector."""

    def __init__(self, model: Architecture, names: list[str]) -> None:
        self.names = names
        self.shapes = {n: tuple(getattr(model, n).shape[1:]) for n in names}
        self.slices: dict[str, slice] = {}
        start = 0
        for n in names:
            size = math.prod(self.shapes[n])
            self.slices[n] = slice(start, start + size)
            start += size
        self.size = start

    def flatten(self, model: Architecture) -> torch.Tensor:
        """The trained parameters of every network of ``model``, flat: [E, D]."""
        return torch.cat([getattr(model, n).detach().flatten(1) for n in self.names], dim=1)

    def population_model(self, model: Architecture, rows: torch.Tensor, p: int) -> Architecture:
        """A blank ``len(rows) × p`` ensemble whose untrained parameters are those of ``rows``."""
        population = model.blank_like(len(rows) * p)
        population.requires_grad_(False)
        for name, param in population.named_parameters():
            if name not in self.slices:
                param.copy_(getattr(model, name).detach()[rows].repeat_interleave(p, dim=0))
        return population

    def load(self, population: Architecture, members: torch.Tensor) -> None:
        """Set the trained parameters of ``population`` from ``members`` [E, P, D]."""
        for name in self.names:
            values = members[:, :, self.slices[name]]
            getattr(population, name).copy_(values.reshape(-1, *self.shapes[name]))

    def write(self, model: Architecture, rows: torch.Tensor, flat: torch.Tensor) -> None:
        """Set the trained parameters of networks ``rows`` of ``model`` from ``flat`` [n, D]."""
        for name in self.names:
            values = flat[:, self.slices[name]].reshape(-1, *self.shapes[name])
            getattr(model, name)[rows] = values
