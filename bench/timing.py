"""Best-of-N timing: the least disturbed run on a shared machine is the honest one."""

from __future__ import annotations

import time
from collections.abc import Callable


def best_of(runs: int, function: Callable[[], object]) -> float:
    """Seconds of the fastest of ``runs`` calls."""
    best = float("inf")
    for _ in range(runs):
        started = time.perf_counter()
        function()
        best = min(best, time.perf_counter() - started)
    return best


def report(name: str, ours: float, baseline: float, unit: str, count: int) -> None:
    """One line: our rate, the baseline's rate, and ours as a share of it."""
    print(
        f"  {name:<46} {count / ours:>11,.0f} {unit}  baseline {count / baseline:>11,.0f} {unit}"
        f"  ratio {baseline / ours:5.2f}"
    )
