"""Interleaved timing: every contender runs in the same process, round after round.

Machines drift (frequency scaling, a neighbour's job, the allocator's state). Timing contender A
for ten seconds and then B for ten seconds puts that drift into the ratio. Here each round runs
one batch of calls of every contender, in an order rotated from round to round, and a ratio is
the median over rounds of ``t(contender) / t(baseline)`` measured in the same round.
Standard library only, so the HIPS autograd worker (another virtualenv) can use it too.
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable
from typing import Any

Clock = time.perf_counter


def calls_per_batch(fn: Callable[[], Any], target_seconds: float) -> int:
    """How many calls of ``fn`` make one batch of about ``target_seconds`` (at least one)."""
    start = Clock()
    fn()
    once = Clock() - start
    return max(1, int(target_seconds / max(once, 1e-9)))


def interleave(
    contenders: dict[str, Callable[[], Any]],
    rounds: int,
    target_seconds: float = 0.05,
    warmup: int = 2,
) -> dict[str, list[float]]:
    """Seconds per call of each contender, one value per round, rounds interleaved.

    Each contender is first called ``warmup`` times (JIT compilation, caches, allocator pools),
    then sized to batches of about ``target_seconds``.
    """
    names = list(contenders)
    for name in names:
        for _ in range(warmup):
            contenders[name]()
    sizes = {name: calls_per_batch(contenders[name], target_seconds) for name in names}
    times: dict[str, list[float]] = {name: [] for name in names}
    for r in range(rounds):
        order = names[r % len(names) :] + names[: r % len(names)]
        for name in order:
            fn, n = contenders[name], sizes[name]
            start = Clock()
            for _ in range(n):
                fn()
            times[name].append((Clock() - start) / n)
    return times


def median(values: list[float]) -> float:
    return statistics.median(values)


def paired_ratio(times: dict[str, list[float]], name: str, baseline: str) -> float:
    """Median over rounds of ``t(name) / t(baseline)`` within each round."""
    return statistics.median(a / b for a, b in zip(times[name], times[baseline]))
