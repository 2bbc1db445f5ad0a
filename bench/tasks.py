"""Trial-generation speed of every registered task: vectorised ``generate`` vs per-step loop.

    python bench/tasks.py                     # every task in the registry, batch 512
    python bench/tasks.py flipflop sine       # some tasks
    python bench/tasks.py --batch 128 --seconds 1 --noise 0.5 --threads 2

For each task of :data:`rnn_analysis.tasks.TASKS` (at its default parameters) prints
trials generated per second by the task's vectorised ``generate``, and, where this
script has one, by a reference generator that builds the same trials one time step at
a time in a Python loop, as the studies' code did, together with the ratio of the two.
Both are timed side by side in one run, call after call in alternation, and each rate
is the batch size over the median time of a call. Before timing, the reference is
checked to give exactly the trials of ``generate`` for the same seed (inputs, targets,
mask and condition labels), with and without input noise. The references draw the same
random numbers in the same order as ``generate`` (whole-trial draws, then the noise),
so that they are the same trials; only the construction of the trials is per step.
Tasks without a reference print their vectorised rate and "no per-step reference".
Timings use one intra-op thread unless ``--threads`` says otherwise.
"""

from __future__ import annotations

import argparse
import statistics
import time
from collections.abc import Callable

import numpy as np
import torch

from rnn_analysis.tasks import TASKS, Task, TrialBatch
from rnn_analysis.tasks.multisensory import MODALITIES

Generate = Callable[[Task, int, torch.Generator, float], TrialBatch]


def flipflop_per_step(
    task: Task, batch_size: int, generator: torch.Generator, noise: float
) -> TrialBatch:
    """Flip-flop trials built step by step: draw pulses and signs, update the held bits."""
    p = task.params
    shape = (batch_size, p.n_steps, p.n_bits)
    pulse_draw = torch.rand(shape, generator=generator)
    sign_draw = torch.rand(shape, generator=generator)
    eps = torch.randn(shape, generator=generator) if noise > 0 else None
    inputs = torch.zeros(shape)
    targets = torch.zeros(shape)
    held = torch.zeros(batch_size, p.n_bits)
    n_pulses = torch.zeros(batch_size, dtype=torch.int64)
    for t in range(p.n_steps):
        pulse = pulse_draw[:, t] < p.pulse_probability
        if t == 0 and p.initial_pulses:
            pulse[:] = True
        sign = torch.where(sign_draw[:, t] < 0.5, -1.0, 1.0)
        u = pulse * sign
        held = torch.where(pulse, u, held)
        n_pulses += pulse.sum(dim=1)
        targets[:, t] = held
        inputs[:, t] = u if eps is None else u + noise * eps[:, t]
    mask = torch.ones(batch_size, p.n_steps)
    return TrialBatch(inputs, targets, mask, {"n_pulses": n_pulses.numpy()})


def sine_per_step(
    task: Task, batch_size: int, generator: torch.Generator, noise: float
) -> TrialBatch:
    """Sine trials built step by step: draw the cued frequency, then emit level and sin(ωt)."""
    p = task.params
    index = torch.randint(p.n_frequencies, (batch_size,), generator=generator)
    omega = torch.as_tensor(task.omegas)[index]
    level64 = torch.as_tensor(task.levels)[index]
    level = level64.float()
    shape = (batch_size, p.n_steps, 1)
    eps = torch.randn(shape, generator=generator) if noise > 0 else None
    inputs = torch.zeros(shape)
    targets = torch.zeros(shape)
    mask = torch.zeros(batch_size, p.n_steps)
    for t in range(p.n_steps):
        inputs[:, t, 0] = level if eps is None else level + noise * eps[:, t, 0]
        targets[:, t, 0] = torch.sin(omega * float(t)).float()
        mask[:, t] = float(t >= p.transient_steps)
    conditions = {
        "frequency_index": index.numpy().astype(np.int64),
        "omega": omega.numpy(),
        "level": level64.numpy(),
    }
    return TrialBatch(inputs, targets, mask, conditions)


def integration_per_step(
    task: Task, batch_size: int, generator: torch.Generator, noise: float
) -> TrialBatch:
    """CDI / RDM trials built step by step: draw means and context, emit them every step."""
    p = task.params
    n = task.n_contexts
    context_inputs = type(task).context_inputs
    magnitude = torch.rand(batch_size, 1, generator=generator) * p.max_coherence
    signs = torch.where(torch.rand(batch_size, n, generator=generator) < 0.5, -1.0, 1.0)
    context = torch.randint(n, (batch_size,), generator=generator)
    means = signs * magnitude
    eps = torch.randn(batch_size, p.n_steps, n, generator=generator) if noise > 0 else None
    n_in = 2 * n if context_inputs else n
    cue = torch.zeros(batch_size, n)
    cue[torch.arange(batch_size), context] = 1.0
    coherence = means[torch.arange(batch_size), context]
    choice = torch.where(coherence > 0, 1.0, -1.0)
    inputs = torch.zeros(batch_size, p.n_steps, n_in)
    targets = torch.zeros(batch_size, p.n_steps, 1)
    mask = torch.zeros(batch_size, p.n_steps)
    for t in range(p.n_steps):
        inputs[:, t, :n] = means if eps is None else means + noise * eps[:, t]
        if context_inputs:
            inputs[:, t, n:] = cue
        last = t == p.n_steps - 1
        if last:
            targets[:, t, 0] = choice
        mask[:, t] = float(t == 0 or last)
    conditions = {"coherence": coherence.double().numpy()}
    if context_inputs:
        conditions["context"] = context.numpy().astype(np.int64)
    return TrialBatch(inputs, targets, mask, conditions)


def multisensory_per_step(
    task: Task, batch_size: int, generator: torch.Generator, noise: float
) -> TrialBatch:
    """Multisensory trials built step by step: silence, stimulus on present channels, response."""
    p = task.params
    rate = p.rate_low + (p.rate_high - p.rate_low) * torch.rand(
        batch_size, generator=generator, dtype=torch.float64
    )
    modality = torch.randint(len(MODALITIES), (batch_size,), generator=generator)
    shape = (batch_size, p.n_steps, 2)
    eps = torch.randn(shape, generator=generator) if noise > 0 else None
    level = (rate / p.rate_scale).float()
    auditory = torch.where(modality != 1, level, 0.0)
    visual = torch.where(modality != 0, level, 0.0)
    choice = torch.where(rate > p.rate_threshold, 1.0, -1.0).float()
    stimulus_end = p.stimulus_onset + p.stimulus_steps
    response_start = p.n_steps - p.response_steps
    inputs = torch.zeros(shape)
    targets = torch.zeros(batch_size, p.n_steps, 1)
    mask = torch.zeros(batch_size, p.n_steps)
    for t in range(p.n_steps):
        if p.stimulus_onset <= t < stimulus_end:
            inputs[:, t, 0] = auditory
            inputs[:, t, 1] = visual
        if eps is not None:
            inputs[:, t] = inputs[:, t] + noise * eps[:, t]
        if t >= response_start:
            targets[:, t, 0] = choice
            mask[:, t] = 1.0
    conditions = {
        "rate": rate.numpy(),
        "modality": np.asarray(MODALITIES)[modality.numpy()],
    }
    return TrialBatch(inputs, targets, mask, conditions)


def delayed_discrimination_per_step(
    task: Task, batch_size: int, generator: torch.Generator, noise: float
) -> TrialBatch:
    """Delayed-discrimination trials built step by step: f1, delay, f2, response window."""
    p = task.params
    levels = torch.arange(p.f_min, p.f_max + 1, dtype=torch.float32)
    n = len(levels)
    first = torch.randint(n, (batch_size,), generator=generator)
    second = (first + torch.randint(1, n, (batch_size,), generator=generator)) % n
    delay = torch.randint(p.delay_min, p.delay_max + 1, (batch_size,), generator=generator)
    shape = (batch_size, p.n_steps, 2)
    eps = torch.randn(shape, generator=generator) if noise > 0 else None
    f1, f2 = levels[first], levels[second]
    answer = torch.sign(f1 - f2)
    f2_start = p.f2_onset + delay
    response_start = p.response_onset + delay
    inputs = torch.zeros(shape)
    targets = torch.zeros(batch_size, p.n_steps, 1)
    for t in range(p.n_steps):
        if p.f1_onset <= t < p.f1_onset + p.stimulus_steps:
            inputs[:, t, 0] = f1 * p.amplitude_scale
        f2_on = (t >= f2_start) & (t < f2_start + p.stimulus_steps)
        inputs[:, t, 1] = torch.where(f2_on, f2 * p.amplitude_scale, 0.0)
        if eps is not None:
            inputs[:, t] = inputs[:, t] + noise * eps[:, t]
        respond = (t >= response_start) & (t < response_start + p.response_steps)
        targets[:, t, 0] = torch.where(respond, answer, 0.0)
    mask = torch.ones(batch_size, p.n_steps)
    conditions = {
        "f1": f1.double().numpy(),
        "f2": f2.double().numpy(),
        "delay": delay.numpy().astype(np.int64),
    }
    return TrialBatch(inputs, targets, mask, conditions)


def interval_discrimination_per_step(
    task: Task, batch_size: int, generator: torch.Generator, noise: float
) -> TrialBatch:
    """Interval-discrimination trials built step by step: pulse at t1, at t1 + t2, response."""
    p = task.params
    n = p.t_max - p.t_min + 1
    first = torch.randint(n, (batch_size,), generator=generator)
    second = (first + torch.randint(1, n, (batch_size,), generator=generator)) % n
    shape = (batch_size, p.n_steps, 2)
    eps = torch.randn(shape, generator=generator) if noise > 0 else None
    t1, t2 = p.t_min + first, p.t_min + second
    pulse2 = t1 + t2
    response_start = p.response_delay + pulse2
    answer = torch.sign(t1 - t2).float()
    inputs = torch.zeros(shape)
    targets = torch.zeros(batch_size, p.n_steps, 1)
    for t in range(p.n_steps):
        on1 = (t >= t1) & (t < t1 + p.pulse_steps)
        on2 = (t >= pulse2) & (t < pulse2 + p.pulse_steps)
        inputs[:, t, 0] = on1.float() * p.pulse_amplitude
        inputs[:, t, 1] = on2.float() * p.pulse_amplitude
        if eps is not None:
            inputs[:, t] = inputs[:, t] + noise * eps[:, t]
        respond = (t >= response_start) & (t < response_start + p.response_steps)
        targets[:, t, 0] = torch.where(respond, answer, 0.0)
    mask = torch.ones(batch_size, p.n_steps)
    conditions = {"t1": t1.numpy().astype(np.int64), "t2": t2.numpy().astype(np.int64)}
    return TrialBatch(inputs, targets, mask, conditions)


def time_reproduction_per_step(
    task: Task, batch_size: int, generator: torch.Generator, noise: float
) -> TrialBatch:
    """Ready-set-go trials built step by step: Ready, Set ts later, go ts after Set."""
    p = task.params
    ts = torch.randint(p.ts_min, p.ts_max + 1, (batch_size,), generator=generator)
    shape = (batch_size, p.n_steps, 2)
    eps = torch.randn(shape, generator=generator) if noise > 0 else None
    set_onset = p.ready_onset + ts
    go = set_onset + ts
    inputs = torch.zeros(shape)
    targets = torch.zeros(batch_size, p.n_steps, 1)
    for t in range(p.n_steps):
        if p.ready_onset <= t < p.ready_onset + p.pulse_steps:
            inputs[:, t, 0] = p.pulse_amplitude
        set_on = (t >= set_onset) & (t < set_onset + p.pulse_steps)
        inputs[:, t, 1] = set_on.float() * p.pulse_amplitude
        if eps is not None:
            inputs[:, t] = inputs[:, t] + noise * eps[:, t]
        going = t >= go
        if p.target_shape == "pulse":
            going &= t < go + p.go_steps
        targets[:, t, 0] = going.float()
    mask = torch.ones(batch_size, p.n_steps)
    conditions = {"ts": ts.numpy().astype(np.int64)}
    return TrialBatch(inputs, targets, mask, conditions)


#: Per-step reference generators, by task name.
REFERENCES: dict[str, Generate] = {
    "flipflop": flipflop_per_step,
    "sine": sine_per_step,
    "cdi": integration_per_step,
    "rdm": integration_per_step,
    "multisensory": multisensory_per_step,
    "delayed_discrimination": delayed_discrimination_per_step,
    "interval_discrimination": interval_discrimination_per_step,
    "time_reproduction": time_reproduction_per_step,
}


def vectorised(task: Task, batch_size: int, generator: torch.Generator, noise: float) -> TrialBatch:
    return task.generate(batch_size, generator, noise)


def check_same_trials(task: Task, reference: Generate, batch_size: int = 16) -> None:
    """Assert that ``reference`` gives the trials of ``task.generate`` for the same seeds."""
    for seed, noise in ((0, 0.0), (1, 0.3), (2, 1.0)):
        want = task.generate(batch_size, torch.Generator().manual_seed(seed), noise)
        got = reference(task, batch_size, torch.Generator().manual_seed(seed), noise)
        for name in ("inputs", "targets", "mask"):
            a, b = getattr(got, name), getattr(want, name)
            assert a.shape == b.shape and a.dtype == b.dtype, f"{task.name}: {name} differ"
            torch.testing.assert_close(a, b, rtol=0, atol=1e-6, msg=f"{task.name}: {name} differ")
        assert set(got.conditions) == set(want.conditions), f"{task.name}: condition keys differ"
        for key, value in want.conditions.items():
            np.testing.assert_array_equal(got.conditions[key], value, err_msg=f"{task.name}: {key}")


def time_side_by_side(
    task: Task, generators: list[Generate], batch_size: int, noise: float, seconds: float
) -> list[float]:
    """Trials per second of each generator: batch over the median time of a call."""
    times: list[list[float]] = [[] for _ in generators]
    for fn in generators:
        fn(task, batch_size, torch.Generator().manual_seed(0), noise)
    start = time.perf_counter()
    rounds = 0
    while rounds < 3 or time.perf_counter() - start < seconds:
        for fn, record in zip(generators, times, strict=True):
            generator = torch.Generator().manual_seed(rounds)
            t0 = time.perf_counter()
            fn(task, batch_size, generator, noise)
            record.append(time.perf_counter() - t0)
        rounds += 1
    return [batch_size / statistics.median(record) for record in times]


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("tasks", nargs="*", help="task names (default: every registered task)")
    parser.add_argument("--batch", type=int, default=512, help="trials per call (512)")
    parser.add_argument("--noise", type=float, default=0.1, help="input noise σ (0.1)")
    parser.add_argument("--seconds", type=float, default=2.0, help="timing per task (2 s)")
    parser.add_argument("--threads", type=int, default=1, help="torch intra-op threads (1)")
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)

    names = args.tasks or TASKS.names()
    print(
        f"batch {args.batch}, noise {args.noise:g}, {torch.get_num_threads()} thread(s), "
        f"default parameters of each task; trials per second"
    )
    header = f"{'task':<26}{'steps':>6}{'vectorised':>14}{'per-step':>14}{'ratio':>9}"
    print(header)
    print("-" * len(header))
    for name in names:
        task = TASKS[name]()
        reference = REFERENCES.get(name)
        n_steps = task.generate(1, torch.Generator().manual_seed(0), 0.0).n_steps
        if reference is None:
            (rate,) = time_side_by_side(task, [vectorised], args.batch, args.noise, args.seconds)
            print(f"{name:<26}{n_steps:>6}{rate:>14,.0f}  no per-step reference")
            continue
        check_same_trials(task, reference)
        fast, slow = time_side_by_side(
            task, [vectorised, reference], args.batch, args.noise, args.seconds
        )
        print(f"{name:<26}{n_steps:>6}{fast:>14,.0f}{slow:>14,.0f}{fast / slow:>8.1f}×")


if __name__ == "__main__":
    main()
