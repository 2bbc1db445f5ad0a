"""Simulating one network for its reduced-dynamics graph.

The exploration of :mod:`rnn_analysis.analysis.reduced_graph`: the probe trials read as
sequences of (wait, pulse) events (:func:`probe_events`), which pulses may follow a path
(:class:`Grammar`), relaxations under zero input with their output labels
(:func:`relax`), pulses applied to many states at once (:func:`apply_pulses`), and the
breadth-first exploration by number of pulses (:func:`explore`). The hyperparameters
are those of :class:`~rnn_analysis.analysis.reduced_graph.ReducedGraphParams`.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
import torch

from rnn_analysis.architectures.base import Architecture
from rnn_analysis.tasks.base import InputPulses, Task

if TYPE_CHECKING:
    from rnn_analysis.analysis.reduced_graph import ReducedGraphParams

__all__ = [
    "DIVERGENT_LABEL",
    "Grammar",
    "Relaxations",
    "apply_pulses",
    "code_to_label",
    "explore",
    "label_codes",
    "probe_events",
    "relax",
]

#: Output label symbols: zero, positive, negative (base-3 digits of a label code).
SYMBOLS = ("0", "+", "-")
#: Label of a node whose state stopped being finite.
DIVERGENT_LABEL = "?"


# -- task events ----------------------------------------------------------------------------


def probe_events(task: Task, pulses: InputPulses) -> list[list[tuple[int, int]]]:
    """The pulses of every probe trial as (wait, pulse index) pairs.

    The wait of a pulse is the number of zero-input steps before its onset since the end
    of the previous pulse (or since the trial start). Raises ``ValueError`` where a probe
    input is not a sequence of the task's pulses separated by zero input.
    """
    probe = task.probe_set()
    inputs = probe.inputs.double().numpy()
    values = pulses.values.double().numpy()
    steps = pulses.steps
    scale = max(1.0, float(np.abs(values).max(initial=0.0)))
    out = []
    for trial in range(inputs.shape[0]):
        x = inputs[trial]
        active = np.abs(x).max(axis=1) > 0
        events: list[tuple[int, int]] = []
        t, free = 0, 0
        while t < len(x):
            if not active[t]:
                t += 1
                continue
            for k in range(len(steps)):
                end = t + int(steps[k])
                if end <= len(x) and np.allclose(x[t:end], values[k], rtol=0, atol=1e-6 * scale):
                    if (
                        end == len(x)
                        or not active[end]
                        or not np.allclose(x[end], values[k], rtol=0, atol=1e-6 * scale)
                    ):
                        break
            else:
                raise ValueError(
                    f"probe trial {trial}: the input at step {t} is none of the task's pulses"
                )
            events.append((t - free, k))
            t = free = end
        out.append(events)
    return out


# -- simulation ----------------------------------------------------------------------------


@dataclass
class Relaxations:
    """Zero-input runs of one level."""

    labels: np.ndarray  # [B, relax_steps + 1] label codes, -1 after the end
    length: np.ndarray  # [B] steps before settling (relax_steps when slow)
    kind: list[str]  # per run: settled, slow or divergent
    end: torch.Tensor  # [B, S]
    start: torch.Tensor  # [B, S]
    branch: torch.Tensor  # [B, n_offsets, S] state after each branch offset
    change_states: dict[tuple[int, int], torch.Tensor]  # (run, step) -> state at a label change


def label_codes(outputs: torch.Tensor, threshold: torch.Tensor) -> torch.Tensor:
    """Output [B, n_out] → one integer per row (base-3 digits 0, +, -); -2 if not finite."""
    digit = torch.zeros(outputs.shape, dtype=torch.long, device=outputs.device)
    digit[outputs >= threshold] = 1
    digit[outputs <= -threshold] = 2
    weights = 3 ** torch.arange(outputs.shape[-1], device=outputs.device)
    code = (digit * weights).sum(-1)
    return torch.where(torch.isfinite(outputs).all(-1), code, torch.full_like(code, -2))


def code_to_label(code: int, n_out: int) -> str:
    if code < 0:
        return DIVERGENT_LABEL
    return "".join(SYMBOLS[(code // 3**j) % 3] for j in range(n_out))


def relax(
    net: Architecture,
    start: torch.Tensor,
    offsets: np.ndarray,
    params: ReducedGraphParams,
    threshold: torch.Tensor,
) -> Relaxations:
    b, s = start.shape
    n_in, steps = net.n_inputs, params.relax_steps
    labels = np.full((b, steps + 1), -1, dtype=np.int64)
    length = np.full(b, steps, dtype=np.int64)
    kind = ["slow"] * b
    end = start.clone()
    branch = torch.full((b, len(offsets), s), math.nan, dtype=start.dtype, device=start.device)
    offset_index = {int(g): i for i, g in enumerate(offsets)}
    change_states: dict[tuple[int, int], torch.Tensor] = {}
    rows = torch.arange(b, device=start.device)
    h = start
    previous = None
    for t in range(steps + 1):
        if len(rows) == 0:
            break
        code = label_codes(net.readout(h[None])[0], threshold)
        code_np = code.cpu().numpy()
        rows_np = rows.cpu().numpy()
        labels[rows_np, t] = code_np
        if previous is not None:
            for i in np.flatnonzero(code_np != previous):
                change_states[(int(rows_np[i]), t)] = h[i].clone()
        if t in offset_index:
            branch[rows, offset_index[t]] = h
        if t == steps:
            end[rows] = h
            break
        zero = torch.zeros(1, len(rows), n_in, dtype=h.dtype, device=h.device)
        h_next = net.step(h[None], zero)[0]
        speed = (h_next - h).norm(dim=-1)
        finite = torch.isfinite(h_next).all(-1) & torch.isfinite(h).all(-1)
        settled = finite & (speed < params.settle_speed)
        done = settled | ~finite
        if bool(done.any()):
            idx = done.nonzero()[:, 0]
            end[rows[idx]] = h[idx]
            for i in idx.cpu().numpy():
                r = int(rows_np[i])
                length[r] = t
                kind[r] = "settled" if bool(settled[i]) else "divergent"
            keep = ~done
            rows, h_next, code_np = rows[keep], h_next[keep], code_np[keep.cpu().numpy()]
        h = h_next
        previous = code_np
    return Relaxations(labels, length, kind, end, start, branch, change_states)


def apply_pulses(
    net: Architecture, states: torch.Tensor, pulse: np.ndarray, pulses: InputPulses
) -> torch.Tensor:
    """States after pulse ``pulse[i]`` (its values for its steps) from ``states[i]``."""
    if len(pulse) == 0:
        return states
    values = pulses.values.to(dtype=states.dtype, device=states.device)[torch.as_tensor(pulse)]
    duration = torch.as_tensor(pulses.steps[pulse], device=states.device)
    h = states
    for t in range(int(duration.max())):
        h_next = net.step(h[None], values[None])[0]
        h = torch.where((t < duration)[:, None], h_next, h)
    return h


class Grammar:
    """Which pulses may follow a path, and after which waits, as in the probe trials.

    A path's prefix is its (wait, pulse) events since the last whole trial; a wait of
    None (a pulse at a terminal state or after an extra wait) matches any wait.
    """

    def __init__(
        self, events: list[list[tuple[int, int]]], n_pulses: int, order: str, extra: Sequence[int]
    ):
        self.n_pulses = n_pulses
        self.any = order == "any"
        self.trials = {tuple((int(g), int(k)) for g, k in trial) for trial in events}
        self.extra = {int(g) for g in extra}
        self.all_waits = {g for trial in events for g, _ in trial} | self.extra

    def _next(self, prefix: tuple[tuple[int | None, int], ...]) -> list[tuple[int, int]]:
        d = len(prefix)
        return [
            t[d]
            for t in self.trials
            if len(t) > d
            and all(
                k == pk and (pg is None or g == pg)
                for (g, k), (pg, pk) in zip(t, prefix, strict=False)
            )
        ]

    def allowed(self, prefix: tuple[tuple[int | None, int], ...]) -> tuple[int, ...]:
        """Pulses that may come next after ``prefix``, after any wait."""
        if self.any:
            return tuple(range(self.n_pulses))
        return tuple(sorted({k for _, k in self._next(prefix)}))

    def allowed_at(self, prefix: tuple[tuple[int | None, int], ...], wait: int) -> tuple[int, ...]:
        """Pulses that may come next after ``prefix`` after ``wait`` zero-input steps."""
        if self.any:
            return tuple(range(self.n_pulses))
        pulses = {k for g, k in self._next(prefix) if g == wait}
        if wait in self.extra:
            pulses |= set(self.allowed(prefix))
        return tuple(sorted(pulses))

    def waits(self, prefix: tuple[tuple[int | None, int], ...]) -> set[int]:
        """Waits (zero-input steps) before the next pulse after ``prefix``."""
        if self.any:
            return self.all_waits
        return {g for g, _ in self._next(prefix)} | self.extra

    def after(
        self, prefix: tuple[tuple[int | None, int], ...], wait: int | None, k: int
    ) -> tuple[tuple[int | None, int], ...]:
        """The prefix after pulse ``k`` after ``wait``; () once it completes a trial."""
        if self.any:
            return ()
        new = prefix + ((wait, k),)
        if (
            wait is not None
            and not self._next(new)
            and not any(len(t) == len(new) and t[-1] == (wait, k) for t in self.trials)
        ):
            new = prefix + ((None, k),)
        return new if self.allowed(new) else ()


def explore(
    net: Architecture,
    pulses: InputPulses,
    offsets: np.ndarray,
    max_pulses: int,
    grammar: Grammar,
    params: ReducedGraphParams,
    tol: float,
    threshold: torch.Tensor,
) -> tuple[list[Relaxations], list[int], dict[tuple[int, int], list[int]], bool]:
    """Breadth-first exploration, one batch of relaxations per number of pulses.

    Returns the relaxations of every level, the index of each level's first relaxation,
    the children ``{(relaxation, offset index or -1 for its terminal): [relaxation started
    by pulse k, or -1 where pulse k was not applied]}`` and whether the budget cut the
    exploration short.
    """
    n_pulses = len(pulses.steps)
    start = net.initial_state(1)[0].to(net.weight_out.dtype)
    runs: list[Relaxations] = []
    run_offset: list[int] = []
    children: dict[tuple[int, int], list[int]] = {}
    reps: dict[tuple[int, ...], torch.Tensor] = {}
    prefix: list[tuple[tuple[int | None, int], ...]] = [()]
    sources: list[tuple[int, int]] = []
    applied: list[tuple[int, int]] = []  # (source, pulse) of each relaxation of the next level
    truncated = False
    total = 0
    for level in range(max_pulses + 1):
        batch = relax(net, start, offsets if level < max_pulses else offsets[:0], params, threshold)
        runs.append(batch)
        run_offset.append(total)
        for i, (src, k) in enumerate(applied):
            children.setdefault(sources[src], [-1] * n_pulses)[k] = total + i
        total += len(batch.length)
        if level == max_pulses:
            break
        candidates: list[tuple[tuple[int, int], torch.Tensor, tuple[int, ...]]] = []
        for i in range(len(batch.length)):
            r = run_offset[-1] + i
            waits = grammar.waits(prefix[r])
            for j, g in enumerate(offsets):
                allowed = grammar.allowed_at(prefix[r], int(g))
                if allowed and g in waits and g < batch.length[i]:
                    candidates.append(((r, j), batch.branch[i, j], allowed))
        for i in range(len(batch.length)):
            r, end = run_offset[-1] + i, batch.end[i]
            allowed = grammar.allowed(prefix[r])
            known = reps.get(allowed)
            if not params.terminal_pulses or not allowed or batch.kind[i] == "divergent":
                continue
            if tol > 0:
                if known is not None and float((known - end).norm(dim=-1).min()) < tol:
                    continue
                reps[allowed] = end[None] if known is None else torch.cat([known, end[None]])
            candidates.append(((r, -1), end, allowed))
        sources, states, applied = [], [], []
        for key, state, allowed in candidates:
            if total + len(applied) + len(allowed) > params.max_relaxations:
                truncated = True
                break
            applied += [(len(sources), k) for k in allowed]
            sources.append(key)
            states.append(state)
        if not applied:
            break
        rows = torch.as_tensor([src for src, _ in applied])
        which = np.array([k for _, k in applied], dtype=np.int64)
        start = apply_pulses(net, torch.stack(states)[rows], which, pulses)
        prefix += [
            grammar.after(
                prefix[sources[src][0]],
                None if sources[src][1] < 0 else int(offsets[sources[src][1]]),
                k,
            )
            for src, k in applied
        ]
    return runs, run_offset, children, truncated
