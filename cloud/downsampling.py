"""Choosing the window a chart's series are aggregated in, so none exceeds ``max_points``.

Windows are aligned to the Unix epoch (as the historian aggregates) and come from a list
of durations people read at a glance on a time axis: 1, 2, 5 steps below a second, then
1 s, 2 s, 5 s, 10 s, 15 s, 30 s, 1 min, 2 min, 5 min, 10, 15, 30 min, 1, 2, 3, 6, 12 h,
1, 2, 7, 14, 30, 90, 180 and 365 days, then multiples of 365 days by 1, 2, 5, 10 ….
"""

from __future__ import annotations

from collections.abc import Iterator

MS = 1_000_000
SECOND = 1_000 * MS
MINUTE = 60 * SECOND
HOUR = 60 * MINUTE
DAY = 24 * HOUR
YEAR = 365 * DAY

NICE_WINDOWS_NS: tuple[int, ...] = (
    *(step * MS for step in (1, 2, 5, 10, 20, 50, 100, 200, 500)),
    *(step * SECOND for step in (1, 2, 5, 10, 15, 30)),
    *(step * MINUTE for step in (1, 2, 5, 10, 15, 30)),
    *(step * HOUR for step in (1, 2, 3, 6, 12)),
    *(step * DAY for step in (1, 2, 7, 14, 30, 90, 180)),
)


def window_count(start_ns: int, end_ns: int, window_ns: int) -> int:
    """How many epoch-aligned windows of ``window_ns`` meet [start_ns, end_ns)."""
    if start_ns >= end_ns:
        return 0
    return (end_ns - 1) // window_ns - start_ns // window_ns + 1


def _nice_windows() -> Iterator[int]:
    yield from NICE_WINDOWS_NS
    factor = 1
    while True:  # any range of int64 nanoseconds ends within 584 years
        for step in (1, 2, 5):
            yield step * factor * YEAR
        factor *= 10


def pick_window(start_ns: int, end_ns: int, max_points: int, at_least_ns: int = 1) -> int:
    """The smallest nice window, not below ``at_least_ns``, giving at most ``max_points``
    windows over [start_ns, end_ns)."""
    if max_points < 1:
        raise ValueError(f"max_points must be at least 1, got {max_points}")
    for window in _nice_windows():
        if window >= at_least_ns and window_count(start_ns, end_ns, window) <= max_points:
            return window
    raise AssertionError("unreachable: the windows grow without bound")


def format_window(window_ns: int) -> str:
    """The shortest exact spelling: ``500ms``, ``2m``, ``1h``, ``7d``; ``1500us`` or
    ``7ns`` for windows that are no whole number of milliseconds."""
    for unit, size in (("d", DAY), ("h", HOUR), ("m", MINUTE), ("s", SECOND), ("ms", MS)):
        if window_ns % size == 0:
            return f"{window_ns // size}{unit}"
    if window_ns % 1_000 == 0:
        return f"{window_ns // 1_000}us"
    return f"{window_ns}ns"
