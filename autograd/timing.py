"""Timing a run the way the comparisons report it: the best of a few, short runs only repeated."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any


def best_seconds(run: Callable[[], Any], repeats: int, budget: float = 0.05) -> float:
    """The best of up to ``repeats`` runs of ``run``; once a run takes longer than ``budget``
    seconds it is not repeated (noise matters for short runs only)."""
    best = float("inf")
    for _ in range(repeats):
        start = time.perf_counter()
        run()
        best = min(best, time.perf_counter() - start)
        if best > budget:
            break
    return best
